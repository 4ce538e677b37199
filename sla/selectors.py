"""Reads for the SLA pages, charts and insights: clocks at risk and breached with their time
left and ladder, breach rates and time to dispatch, repeated breaches."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet

from ims.models import OpsTask, TaskStatus
from sla.calendar import clock_calendars
from sla.models import ClockStatus, SlaClock, SlaEscalation, SlaKind

TASK_KIND = "sla_breach"


def clock_list() -> QuerySet[SlaClock]:
    return SlaClock.objects.select_related(
        "order", "order__channel", "location", "customer_return"
    ).order_by("due_at", "pk")


def clocks_in_state(queryset: QuerySet[SlaClock], state: str, now: dt.datetime) -> QuerySet:
    """`attention`: running and past the warning (at risk or overdue); `at_risk`: running,
    past the warning, not yet due; `breached`: passed its due time (running or stopped late);
    `running`; `stopped`; anything else: all."""
    if state == "attention":
        return queryset.filter(status=ClockStatus.RUNNING, warn_at__lte=now)
    if state == "at_risk":
        return queryset.filter(status=ClockStatus.RUNNING, warn_at__lte=now, due_at__gt=now)
    if state == "breached":
        return queryset.filter(
            Q(breached_at__isnull=False) | Q(status=ClockStatus.RUNNING, due_at__lte=now)
        )
    if state == "running":
        return queryset.filter(status=ClockStatus.RUNNING)
    if state == "stopped":
        return queryset.exclude(status=ClockStatus.RUNNING)
    return queryset


@dataclass
class ClockRow:
    clock: SlaClock
    time_left: dt.timedelta | None  # counted in the clock's calendar; negative when overdue
    ladder: str  # the last point reached: warning, breach, step N …
    task: OpsTask | None

    @property
    def overdue(self) -> bool:
        return self.time_left is not None and self.time_left < dt.timedelta(0)


def clock_rows(clocks: list[SlaClock], *, now: dt.datetime) -> list[ClockRow]:
    """Time left, ladder reached and open task of a page of clocks (three queries)."""
    calendars = clock_calendars(clocks)
    reached: dict[int, str] = {}
    for esc in (
        SlaEscalation.objects.filter(clock__in=clocks)
        .select_related("step")
        .order_by("clock_id", "due_at", "id")
    ):
        if esc.step:
            reached[esc.clock_id] = f"step {esc.step.position}: {esc.step.recipient_label}"
        else:
            reached[esc.clock_id] = esc.point
    tasks = {
        t.ref: t
        for t in OpsTask.objects.filter(
            kind=TASK_KIND, ref__in=[f"sla:{c.pk}" for c in clocks], status=TaskStatus.OPEN
        ).select_related("assignee")
    }
    rows = []
    for clock in clocks:
        left = None
        if clock.status == ClockStatus.RUNNING:
            left = calendars[clock.pk].between(now, clock.due_at)
        rows.append(ClockRow(clock, left, reached.get(clock.pk, ""), tasks.get(f"sla:{clock.pk}")))
    return rows


def sla_tasks_open() -> QuerySet[OpsTask]:
    return (
        OpsTask.objects.filter(kind=TASK_KIND, status=TaskStatus.OPEN)
        .select_related("location", "assignee")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class BreachStat:
    label: str
    clocks: int
    breached: int
    dispatch_hours: float | None  # mean counted time to dispatch, for stopped dispatch clocks

    @property
    def rate(self) -> float:
        return round(100 * self.breached / self.clocks, 1) if self.clocks else 0.0


def breach_stats(*, by: str, since: dt.datetime, now: dt.datetime) -> list[BreachStat]:
    """Per store (`location`) or `channel`: clocks decided since `since` (stopped, or past due
    while running), how many breached, and the mean time to dispatch."""
    column = {"location": "location__code", "channel": "channel__code"}[by]
    decided = SlaClock.objects.filter(started_at__gte=since, started_at__lte=now).filter(
        ~Q(status=ClockStatus.RUNNING) | Q(due_at__lte=now)
    )
    rows = (
        decided.exclude(**{f"{column}__isnull": True})
        .values(column)
        .annotate(
            clocks=Count(
                "pk", filter=~Q(status=ClockStatus.CANCELLED) | Q(breached_at__isnull=False)
            ),
            breached=Count(
                "pk",
                filter=Q(breached_at__isnull=False)
                | Q(due_at__lte=now, status=ClockStatus.RUNNING),
            ),
        )
        .order_by(column)
    )
    dispatch = dict(
        decided.filter(kind=SlaKind.DISPATCH, elapsed__isnull=False)
        .exclude(status=ClockStatus.CANCELLED)
        .values(column)
        .annotate(mean=Avg("elapsed"))
        .values_list(column, "mean")
    )
    return [
        BreachStat(
            row[column],
            row["clocks"],
            row["breached"],
            round(dispatch[row[column]].total_seconds() / 3600, 2)
            if dispatch.get(row[column]) is not None
            else None,
        )
        for row in rows
        if row["clocks"]
    ]


@dataclass(frozen=True)
class RepeatedBreach:
    dimension: str  # store, channel or kind
    value: str
    breaches: int
    since: dt.datetime

    def __str__(self) -> str:
        return f"{self.dimension} {self.value}: {self.breaches} SLA breaches since {self.since:%Y-%m-%d %H:%M} UTC"


_DIMENSIONS = (("store", "location__code"), ("channel", "channel__code"), ("kind", "kind"))


def repeated_breaches(*, now: dt.datetime) -> list[RepeatedBreach]:
    """Stores, channels and kinds with IMS_SLA_REPEAT_COUNT or more breaches within the last
    IMS_SLA_REPEAT_WINDOW_HOURS."""
    threshold = settings.IMS_SLA_REPEAT_COUNT
    since = now - dt.timedelta(hours=settings.IMS_SLA_REPEAT_WINDOW_HOURS)
    found = []
    base = SlaClock.objects.filter(breached_at__gt=since, breached_at__lte=now)
    for dimension, column in _DIMENSIONS:
        rows = (
            base.exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(n=Count("pk"))
            .filter(n__gte=threshold)
            .order_by("-n", column)
        )
        found += [RepeatedBreach(dimension, row[column], row["n"], since) for row in rows]
    return found
