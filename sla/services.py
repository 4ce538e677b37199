"""SLA clocks: started and stopped by the order's events, swept for warnings, breaches and
ladder steps (set-based, each point exactly once), and the actions people take on them.

The sweep locks the due clocks with SELECT … FOR UPDATE SKIP LOCKED (a second sweep running
at the same time takes other clocks), and records each fired point with
INSERT … ON CONFLICT (clock, key) DO NOTHING RETURNING: only a point this sweep inserted is
acted on, so nothing fires twice, and a sweep that dies before committing fired nothing.
In-app notifications are written in the same transaction; their emails leave after commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mass_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from channels.models import Channel
from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.audit import Change, audit_record, audit_record_many
from ims.models import Notification, OpsTask, TaskStatus
from ims.notify import notify_roles
from ims.permissions import require
from ims.roles import Role
from ims.services import ops_task_close
from inventory.models import Location, LocationKind
from orders.models import ChannelOrder, CustomerReturn
from sla.calendar import ROUND_THE_CLOCK, CalendarNeverOpen, calendars_for, clock_calendars
from sla.errors import SlaError
from sla.models import (
    Anchor,
    ClockStatus,
    EscalationStep,
    LocationStaff,
    Point,
    Recipient,
    SlaClock,
    SlaEscalation,
    SlaKind,
    SlaPolicy,
)
from sla.selectors import TASK_KIND, repeated_breaches
from sla.templatetags.sla_tags import duration  # as the SLA pages show a time span

log = logging.getLogger("ims.sla")

# Which order events start and stop which clocks (PRODUCT.md "Orders and SLAs").
STARTS: dict[str, tuple[str, ...]] = {
    "reserved": (SlaKind.ACKNOWLEDGEMENT, SlaKind.DISPATCH),
    "dispatched": (SlaKind.DELIVERY,),
    "return_requested": (SlaKind.RETURN,),
}
# Dispatching acknowledges the order too; the first units to leave meet the dispatch clock.
STOPS: dict[str, tuple[str, ...]] = {
    "dispatched": (SlaKind.ACKNOWLEDGEMENT, SlaKind.DISPATCH),
    "delivered": (SlaKind.DELIVERY,),
}


# ---------------------------------------------------------------------------
# Policies, calendars, the points of a clock


@dataclass(frozen=True)
class DuePoint:
    at: dt.datetime
    key: str
    point: str
    step: EscalationStep | None = None


def clock_points(
    *,
    started_at: dt.datetime,
    warn_at: dt.datetime,
    due_at: dt.datetime,
    steps: Sequence[EscalationStep],
    calendar,
) -> list[DuePoint]:
    """Every moment the sweep acts on for a clock, in time order: its warning, its breach, and
    each ladder step at its offset (counted in the clock's calendar) after its anchor."""
    anchors = {Anchor.START: started_at, Anchor.WARNING: warn_at, Anchor.BREACH: due_at}
    points = [
        DuePoint(warn_at, "warning", Point.WARNING),
        DuePoint(due_at, "breach", Point.BREACH),
        *(
            DuePoint(calendar.add(anchors[s.anchor], s.offset), f"step:{s.pk}", Point.STEP, s)
            for s in steps
        ),
    ]
    return sorted(points, key=lambda p: (p.at, p.point != Point.WARNING, p.key))


# ---------------------------------------------------------------------------
# Starting and stopping clocks (orders.signals.order_event, in the order's transaction: sla.apps)


def order_event_record(*, order: ChannelOrder, event: str, at: dt.datetime) -> None:
    """Start and stop the order's clocks for one event of its life."""
    if event == "cancelled":
        clocks_stop(order=order, at=at, cancelled=True)
        return
    if event in STOPS:
        clocks_stop(order=order, kinds=STOPS[event], at=at)
    if event in STARTS:
        customer_return = None
        if event == "return_requested":
            customer_return = (
                CustomerReturn.objects.filter(order=order)
                .exclude(sla_clocks__kind=SlaKind.RETURN)
                .order_by("-pk")
                .first()
            )
            if customer_return is None:
                return
        clocks_start(order=order, kinds=STARTS[event], at=at, customer_return=customer_return)


def clocks_start(
    *,
    order: ChannelOrder,
    kinds: Iterable[str],
    at: dt.datetime,
    customer_return: CustomerReturn | None = None,
) -> list[SlaClock]:
    """Start a clock per kind that has a policy (a clock already running for the same order,
    return and kind is left as it is). Reads the location's calendar only if a policy counts
    business hours."""
    policies, steps = policies_in_force(channel_id=order.channel_id, kinds=kinds)
    if not policies:
        return []
    location_id = customer_return.location_id if customer_return else order.location_id
    calendars = {}
    if location_id and any(p.business_hours for p in policies.values()):
        calendars = calendars_for([location_id])
    clocks = []
    for kind, policy in policies.items():
        calendar = calendars.get(location_id, ROUND_THE_CLOCK)
        if not policy.business_hours:
            calendar = ROUND_THE_CLOCK
        try:
            warn_at = calendar.add(at, policy.warning_after)
            due_at = calendar.add(at, policy.target)
        except CalendarNeverOpen as exc:  # a calendar that never opens cannot time anything
            log.warning("%s: order %s %s counts round the clock", exc, order.pk, kind)
            calendar = ROUND_THE_CLOCK
            warn_at = calendar.add(at, policy.warning_after)
            due_at = calendar.add(at, policy.target)
        points = clock_points(
            started_at=at,
            warn_at=warn_at,
            due_at=due_at,
            steps=steps.get(policy.pk, ()),
            calendar=calendar,
        )
        clocks.append(
            SlaClock(
                order=order,
                customer_return=customer_return,
                policy=policy,
                kind=kind,
                channel_id=order.channel_id,
                location_id=location_id,
                started_at=at,
                warn_at=warn_at,
                due_at=due_at,
                next_at=points[0].at,
                target=policy.target,
                business_hours=calendar is not ROUND_THE_CLOCK,
            )
        )
    SlaClock.objects.bulk_create(clocks, ignore_conflicts=True)
    return clocks


# The policies in force change rarely and every new order reads them, so each process keeps
# them in Django's cache for this long; a policy or step saved in the process drops them at
# once (sla.apps: policies_forget).
POLICY_SECONDS = 30


def policies_in_force(
    *, channel_id: int, kinds: Iterable[str]
) -> tuple[dict[str, SlaPolicy], dict[int, list[EscalationStep]]]:
    """The policy in force per kind on a channel (the channel's own, else the default; a
    channel's own policy that is inactive switches that kind off on that channel) and each
    policy's steps in position order."""
    kinds = sorted(kinds)
    version = cache.get_or_set("ims:sla-policies", 0)
    key = f"ims:sla-policies:{version}:{channel_id}:{'-'.join(kinds)}"
    kept = cache.get(key)
    if kept is not None:
        return kept
    found = SlaPolicy.objects.filter(
        Q(channel_id=channel_id) | Q(channel__isnull=True), kind__in=kinds
    ).prefetch_related(Prefetch("steps", EscalationStep.objects.order_by("position")))
    chosen: dict[str, SlaPolicy] = {}
    for policy in found:
        if policy.kind not in chosen or policy.channel_id is not None:
            chosen[policy.kind] = policy
    in_force = {kind: p for kind, p in chosen.items() if p.active}
    kept = (in_force, {p.pk: list(p.steps.all()) for p in in_force.values()})
    cache.set(key, kept, POLICY_SECONDS)
    return kept


def policies_forget(**kwargs) -> None:
    """Drop every kept set of policies (a policy or a step was saved or deleted)."""
    with contextlib.suppress(ValueError):  # nothing kept yet
        cache.incr("ims:sla-policies")


def breach_ref(*, external_id: str, kind: str, return_external_id: str = "") -> str:
    """How an SLA_Breach exception names its clock in the `sku_id` column."""
    ref = f"order:{external_id}:{kind}"
    return f"{ref}:{return_external_id}" if return_external_id else ref


def clocks_stop(
    *,
    order: ChannelOrder,
    at: dt.datetime,
    kinds: Iterable[str] | None = None,
    customer_return: CustomerReturn | None = None,
    cancelled: bool = False,
    actor=None,
) -> list[SlaClock]:
    """Stop the order's running clocks (of `kinds`, or all): met if on time, breached if late,
    or cancelled; with the counted duration. A breach's exception is resolved and its task
    closed, since the work is done now."""
    running = SlaClock.objects.select_for_update().filter(order=order, status=ClockStatus.RUNNING)
    if kinds is not None:
        running = running.filter(kind__in=list(kinds))
    if customer_return is not None:
        running = running.filter(customer_return=customer_return)
    clocks = list(running.order_by("pk"))
    if not clocks:
        return []
    calendars = clock_calendars(clocks)
    for clock in clocks:
        calendar = calendars[clock.pk]
        late = at > clock.due_at
        clock.stopped_at, clock.next_at = at, None
        clock.elapsed = max(calendar.between(clock.started_at, at), dt.timedelta(0))
        if cancelled:
            clock.status = ClockStatus.CANCELLED
        else:
            clock.status = ClockStatus.BREACHED if late else ClockStatus.MET
            if late and clock.breached_at is None:
                clock.breached_at = clock.due_at
    SlaClock.objects.bulk_update(
        clocks, ["status", "stopped_at", "next_at", "elapsed", "breached_at"]
    )
    _breach_followups_close(order=order, clocks=clocks, at=at, actor=actor)
    return clocks


def _breach_followups_close(*, order, clocks: Sequence[SlaClock], at, actor) -> None:
    breached = [c for c in clocks if c.breached_at is not None]
    if not breached:
        return
    returns = dict(
        CustomerReturn.objects.filter(
            pk__in={c.customer_return_id for c in breached if c.customer_return_id}
        ).values_list("pk", "external_id")
    )
    refs = {
        breach_ref(
            external_id=order.external_id,
            kind=c.kind,
            return_external_id=returns.get(c.customer_return_id, ""),
        ): c
        for c in breached
    }
    ops_exceptions_resolve(
        ids=OpsException.objects.open()
        .filter(
            discrepancy=Discrepancy.SLA_BREACH,
            source=ExceptionSource.SLA,
            channel_id=order.channel_id,
            sku_id__in=list(refs),
        )
        .values_list("pk", flat=True),
        now=at,
        actor=actor,
        reason="the work was done, late",
    )
    for task in OpsTask.objects.filter(
        kind=TASK_KIND, ref__in=[f"sla:{c.pk}" for c in breached], status=TaskStatus.OPEN
    ):
        clock = next(c for c in breached if task.ref == f"sla:{c.pk}")
        ops_task_close(
            task=task,
            actor=actor,
            resolution=f"{clock.get_kind_display()} {clock.status} at {at:%Y-%m-%d %H:%M} UTC",
            now=at,
        )


# ---------------------------------------------------------------------------
# What people do


def order_acknowledge(*, order: ChannelOrder, actor, now: dt.datetime | None = None) -> SlaClock:
    """The fulfilling store (or HQ) has taken the order on: its acknowledgement clock stops."""
    require(actor, "sla.act_slaclock", "acknowledge orders")
    now = now or timezone.now()
    with transaction.atomic():
        stopped = clocks_stop(order=order, kinds=[SlaKind.ACKNOWLEDGEMENT], at=now, actor=actor)
        if not stopped:
            raise SlaError(
                f"order {order.external_id} has no acknowledgement clock running",
                code="no_clock_running",
            )
        audit_record(
            actor=actor,
            action="order_acknowledge",
            obj=order,
            after={"clock": stopped[0].pk, "status": stopped[0].status},
            at=now,
        )
    return stopped[0]


def customer_return_processed(
    *, customer_return: CustomerReturn, actor, now: dt.datetime | None = None
) -> SlaClock:
    """The store has dealt with a customer return (inspected, released or written off)."""
    require(actor, "sla.act_slaclock", "mark returns processed")
    now = now or timezone.now()
    with transaction.atomic():
        stopped = clocks_stop(
            order=customer_return.order,
            kinds=[SlaKind.RETURN],
            customer_return=customer_return,
            at=now,
            actor=actor,
        )
        if not stopped:
            raise SlaError(
                f"return {customer_return.external_id} has no processing clock running",
                code="no_clock_running",
            )
        audit_record(
            actor=actor,
            action="return_processed",
            obj=customer_return,
            after={"clock": stopped[0].pk, "status": stopped[0].status},
            at=now,
        )
    return stopped[0]


def sla_task_acknowledge(*, task: OpsTask, actor, now: dt.datetime | None = None) -> OpsTask:
    """Someone takes a breach task on: it is assigned to them (it stays open until closed)."""
    require(actor, "sla.act_slaclock", "acknowledge SLA tasks")
    with transaction.atomic():
        task = OpsTask.objects.select_for_update().get(pk=task.pk)
        if task.kind != TASK_KIND or task.status != TaskStatus.OPEN:
            raise SlaError("only an open SLA task can be acknowledged", code="task_not_open")
        before = {"assignee": task.assignee.get_username() if task.assignee else None}
        task.assignee = actor
        task.save(update_fields=["assignee"])
        audit_record(
            actor=actor,
            action="task_acknowledge",
            obj=task,
            before=before,
            after={"assignee": actor.get_username()},
            at=now or timezone.now(),
        )
    return task


def sla_task_close(*, task: OpsTask, actor, resolution: str) -> OpsTask:
    require(actor, "sla.act_slaclock", "close SLA tasks")
    resolution = (resolution or "").strip()
    if not resolution:
        raise SlaError(
            "say what was done to close the task",
            code="resolution_required",
            extra={"fields": {"resolution": ["required"]}},
        )
    if task.kind != TASK_KIND or task.status != TaskStatus.OPEN:
        raise SlaError("only an open SLA task can be closed", code="task_not_open")
    with transaction.atomic():
        ops_task_close(task=task, actor=actor, resolution=resolution)
    return task


# ---------------------------------------------------------------------------
# The sweep


@dataclass
class SweepResult:
    clocks: int = 0
    warnings: int = 0
    breaches: int = 0
    steps: int = 0
    notified: int = 0
    flagged: list[str] = field(default_factory=list)


def sla_sweep(*, now: dt.datetime | None = None, batch_size: int = 1000) -> SweepResult:
    """Fire every warning, breach and ladder step that is due, in batches of clocks."""
    now = now or timezone.now()
    result = SweepResult()
    breached: list[SlaClock] = []
    while True:
        with transaction.atomic():
            clocks = list(
                SlaClock.objects.select_for_update(skip_locked=True)
                .filter(status=ClockStatus.RUNNING, next_at__lte=now)
                .order_by("next_at", "pk")[:batch_size]
            )
            if clocks:
                breached += _sweep_batch(clocks, now=now, result=result)
        if len(clocks) < batch_size:
            break
    if breached:
        result.flagged = repeated_breaches_flag(clocks=breached, now=now)
    return result


def _sweep_batch(clocks: list[SlaClock], *, now, result: SweepResult) -> list[SlaClock]:
    result.clocks += len(clocks)
    steps = defaultdict(list)
    for step in EscalationStep.objects.filter(policy_id__in={c.policy_id for c in clocks}).order_by(
        "position"
    ):
        steps[step.policy_id].append(step)
    calendars = clock_calendars(clocks)

    due: list[tuple[SlaClock, DuePoint]] = []
    for clock in clocks:
        points = clock_points(
            started_at=clock.started_at,
            warn_at=clock.warn_at,
            due_at=clock.due_at,
            steps=steps[clock.policy_id],
            calendar=calendars[clock.pk],
        )
        due += [(clock, p) for p in points if p.at <= now]
        clock.next_at = min((p.at for p in points if p.at > now), default=None)

    context = _ClockContext.load(clocks)
    recipients = _Recipients.load([p.step for _, p in due if p.step], context)
    rows = [
        (
            clock.pk,
            p.key,
            p.point,
            p.step.pk if p.step else None,
            p.at,
            now,
            ", ".join(sorted(u.username for u in recipients.of(p.step, clock)))[:2000]
            if p.step
            else "",
        )
        for clock, p in due
    ]
    fired = escalations_insert(rows)
    fired_points = [(clock, p) for clock, p in due if (clock.pk, p.key) in fired]

    breached = [clock for clock, p in fired_points if p.point == Point.BREACH]
    for clock in breached:
        clock.breached_at = clock.breached_at or clock.due_at
    clocks_advance(clocks)
    if breached:
        _breaches_raise(breached, context=context, now=now)
    result.notified += _ladder_notify(
        [(c, p) for c, p in fired_points if p.step], context=context, recipients=recipients, now=now
    )
    counts = Counter(p.point for _, p in fired_points)
    result.warnings += counts[Point.WARNING]
    result.breaches += counts[Point.BREACH]
    result.steps += counts[Point.STEP]
    return breached


def clocks_advance(clocks: Sequence[SlaClock]) -> None:
    """Write each clock's next_at and breached_at in one UPDATE … FROM (VALUES …) per
    thousand (Django's bulk_update builds a CASE per row, which costs more than the sweep)."""
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    table = quote(SlaClock._meta.db_table)
    cast = "::bigint", "::timestamptz"
    if connection.vendor != "postgresql":
        cast = "", ""
    with connection.cursor() as cursor:
        for start in range(0, len(clocks), 1000):
            chunk = clocks[start : start + 1000]
            marks = ", ".join(f"(%s{cast[0]}, %s{cast[1]}, %s{cast[1]})" for _ in chunk)
            cursor.execute(
                f"WITH v(id, next_at, breached_at) AS (VALUES {marks}) "
                f"UPDATE {table} SET {quote('next_at')} = v.next_at, "
                f"{quote('breached_at')} = v.breached_at "
                f"FROM v WHERE {table}.{quote('id')} = v.id",
                [v for c in chunk for v in (c.pk, adapt(c.next_at), adapt(c.breached_at))],
            )


def escalations_insert(rows: Sequence[tuple]) -> set[tuple[int, str]]:
    """Insert (clock_id, key, point, step_id, due_at, fired_at, recipients) rows, skipping
    those already there; returns the (clock_id, key) pairs this call inserted."""
    if not rows:
        return set()
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    columns = ("clock_id", "key", "point", "step_id", "due_at", "fired_at", "recipients")
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    inserted: set[tuple[int, str]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            params = [
                v
                for clock_id, key, point, step_id, due_at, fired_at, who in chunk
                for v in (clock_id, key, point, step_id, adapt(due_at), adapt(fired_at), who)
            ]
            cursor.execute(
                f"INSERT INTO {quote(SlaEscalation._meta.db_table)} "
                f"({', '.join(quote(c) for c in columns)}) VALUES {', '.join([marks] * len(chunk))} "
                f"ON CONFLICT ({quote('clock_id')}, {quote('key')}) DO NOTHING "
                f"RETURNING {quote('clock_id')}, {quote('key')}",
                params,
            )
            inserted.update((int(c), k) for c, k in cursor.fetchall())
    return inserted


@dataclass
class _ClockContext:
    """What messages and tasks say about a batch of clocks (a few queries for the batch)."""

    orders: dict[int, dict]
    locations: dict[int, tuple[str, str]]
    returns: dict[int, str]

    @classmethod
    def load(cls, clocks: Sequence[SlaClock]) -> _ClockContext:
        orders = {
            row["pk"]: row
            for row in ChannelOrder.objects.filter(pk__in={c.order_id for c in clocks}).values(
                "pk", "external_id", "name", "channel__code"
            )
        }
        locations = {
            pk: (code, kind)
            for pk, code, kind in Location.objects.filter(
                pk__in={c.location_id for c in clocks if c.location_id}
            ).values_list("pk", "code", "kind")
        }
        returns = dict(
            CustomerReturn.objects.filter(
                pk__in={c.customer_return_id for c in clocks if c.customer_return_id}
            ).values_list("pk", "external_id")
        )
        return cls(orders, locations, returns)

    def describe(self, clock: SlaClock) -> str:
        order = self.orders[clock.order_id]
        where = self.locations.get(clock.location_id, ("no location", ""))[0]
        what = SlaKind(clock.kind).label
        if clock.customer_return_id:
            what += f" of return {self.returns.get(clock.customer_return_id, '')}"
        return f"{what} of {order['channel__code']} order {order['name'] or order['external_id']} at {where}"

    def ref(self, clock: SlaClock) -> str:
        return breach_ref(
            external_id=self.orders[clock.order_id]["external_id"],
            kind=clock.kind,
            return_external_id=self.returns.get(clock.customer_return_id, ""),
        )


class _Recipients:
    """The people each ladder step tells, for a batch (three queries at most)."""

    def __init__(self, by_role, by_location, by_user):
        self.by_role, self.by_location, self.by_user = by_role, by_location, by_user

    @classmethod
    def load(cls, steps: Sequence[EscalationStep], context: _ClockContext) -> _Recipients:
        User = get_user_model()
        roles = {s.role for s in steps if s.recipient == Recipient.ROLE}
        if Role.ADMIN.value in roles:
            roles.add(Role.SUPERADMIN.value)  # superadmins hear what admins hear (ims.notify)
        wants_location = any(s.recipient == Recipient.LOCATION for s in steps)
        if wants_location:
            roles.add(Role.STORE_STAFF.value)  # a location nobody is named at tells all store staff
        by_role: dict[str, list] = defaultdict(list)
        if roles:
            for user in User.objects.filter(groups__name__in=roles, is_active=True).annotate(
                role=F("groups__name")
            ):
                by_role[user.role].append(user)
        by_location: dict[int, list] = defaultdict(list)
        if wants_location:
            for member in LocationStaff.objects.filter(
                location_id__in=list(context.locations), user__is_active=True
            ).select_related("user"):
                by_location[member.location_id].append(member.user)
        user_ids = {s.user_id for s in steps if s.recipient == Recipient.USER}
        by_user = User.objects.filter(pk__in=user_ids, is_active=True).in_bulk() if user_ids else {}
        return cls(by_role, by_location, by_user)

    def of(self, step: EscalationStep, clock: SlaClock) -> list:
        if step.recipient == Recipient.USER:
            user = self.by_user.get(step.user_id)
            return [user] if user else []
        if step.recipient == Recipient.LOCATION:
            return self.by_location.get(clock.location_id) or self.by_role[Role.STORE_STAFF.value]
        people = {u.pk: u for u in self.by_role[step.role]}
        if step.role == Role.ADMIN.value:
            people.update({u.pk: u for u in self.by_role[Role.SUPERADMIN.value]})
        return list(people.values())


def _ladder_notify(
    fired: Sequence[tuple[SlaClock, DuePoint]], *, context: _ClockContext, recipients, now
) -> int:
    """An in-app notification per (person, step) now, in the sweep's transaction; by email,
    one message per person listing everything this sweep tells them, once it commits."""
    notifications = []
    digests: dict[int, tuple[object, list[str]]] = {}
    for clock, point in fired:
        step = point.step
        stage = {Anchor.START: "SLA", Anchor.WARNING: "SLA warning", Anchor.BREACH: "SLA breach"}[
            step.anchor
        ]
        subject = f"{stage}: {context.describe(clock)}"[:255]
        state = "and not done yet" if clock.breached_at else ""
        body = f"Due {clock.due_at:%Y-%m-%d %H:%M} UTC {state}".strip() + "."
        body += f" Ladder step {step.position}: {step}."
        link = f"/sla/orders/{clock.order_id}/"
        for user in recipients.of(step, clock):
            notifications.append(
                Notification(
                    recipient=user,
                    kind="sla_" + step.anchor,
                    subject=subject,
                    body=body,
                    link=link,
                    created_at=now,
                    emailed=bool(user.email),
                )
            )
            if user.email:
                digests.setdefault(user.pk, (user, []))[1].append(f"{subject}\n  {body}\n  {link}")
    Notification.objects.bulk_create(notifications, batch_size=1000)
    emails = [
        (
            f"[IMS] {lines[0].splitlines()[0]}"
            if len(lines) == 1
            else f"[IMS] {len(lines)} SLA alerts need you",
            "\n\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
        for user, lines in digests.values()
    ]
    if emails:
        transaction.on_commit(lambda: _send_emails(emails))
    return len(notifications)


def _send_emails(messages: list[tuple]) -> None:
    try:
        send_mass_mail(messages, fail_silently=False)
    except OSError:
        log.exception("could not email %s SLA notification(s)", len(messages))


def _breaches_raise(clocks: Sequence[SlaClock], *, context: _ClockContext, now) -> None:
    """An SLA_Breach exception per breached clock and a task for whoever fulfils it: the store
    (Store Staff, at that location) or HQ (Ops) for a warehouse or an order without location."""
    findings = [
        Finding(
            context.ref(c),
            Discrepancy.SLA_BREACH,
            f"{SlaKind(c.kind).label} within {duration(c.target)}"
            f"{' business hours' if c.business_hours else ''} (due {c.due_at:%Y-%m-%d %H:%M} UTC)",
            f"not done at {now:%Y-%m-%d %H:%M} UTC",
            channel_id=c.channel_id,
            location_id=c.location_id,
        )
        for c in clocks
    ]
    for attempt in range(2):  # a twin opened meanwhile by another sweep is refreshed instead
        try:
            with transaction.atomic():
                ops_exceptions_record(findings=findings, source=ExceptionSource.SLA, now=now)
            break
        except IntegrityError:
            if attempt:
                raise
    tasks = []
    for c in clocks:
        kind = context.locations.get(c.location_id, ("", ""))[1]
        role = Role.STORE_STAFF if kind == LocationKind.STORE else Role.OPS
        tasks.append(
            OpsTask(
                kind=TASK_KIND,
                title=f"SLA breach: {context.describe(c)}"[:255],
                detail=f"Due {c.due_at:%Y-%m-%d %H:%M} UTC ({duration(c.target)}"
                f"{' business hours' if c.business_hours else ''}). Do the work, then close this task.",
                role=role.value,
                location_id=c.location_id,
                ref=f"sla:{c.pk}",
                created_at=now,
            )
        )
    OpsTask.objects.bulk_create(tasks, ignore_conflicts=True)
    opened = OpsTask.objects.filter(
        kind=TASK_KIND, ref__in=[t.ref for t in tasks], status=TaskStatus.OPEN, created_at=now
    ).values_list("pk", "title", "role")
    audit_record_many(
        actor=None,
        at=now,
        changes=[
            Change(
                "task_open",
                object_type="ims.opstask",
                object_id=str(pk),
                object_repr=title,
                after={"kind": TASK_KIND, "title": title, "role": role},
            )
            for pk, title, role in opened
        ],
    )


# ---------------------------------------------------------------------------
# Repeated breaches (a read-only insight: it tells, it changes nothing)


def repeated_breaches_flag(*, clocks: Sequence[SlaClock], now: dt.datetime) -> list[str]:
    """After a sweep: each store, channel or kind that these new breaches took to the
    threshold is flagged to the admins once (in the app and by email)."""
    threshold = settings.IMS_SLA_REPEAT_COUNT
    fresh = {
        "store": Counter(c.location_id for c in clocks if c.location_id),
        "channel": Counter(c.channel_id for c in clocks),
        "kind": Counter(c.kind for c in clocks),
    }
    codes = {
        "store": dict(
            Location.objects.filter(pk__in=list(fresh["store"])).values_list("pk", "code")
        ),
        "channel": dict(
            Channel.objects.filter(pk__in=list(fresh["channel"])).values_list("pk", "code")
        ),
        "kind": {k: k for k in fresh["kind"]},
    }
    flagged = []
    for repeated in repeated_breaches(now=now):
        by_code = {code: key for key, code in codes[repeated.dimension].items()}
        new = fresh[repeated.dimension].get(by_code.get(repeated.value), 0)
        if new and repeated.breaches - new < threshold:
            flagged.append(str(repeated))
    if flagged:
        notify_roles(
            Role.ADMIN,
            kind="sla_repeated",
            subject=f"Repeated SLA breaches: {'; '.join(flagged)}"[:255],
            body="\n".join(flagged) + "\n\nA read-only insight: nothing was changed.",
            link="/sla/",
        )
    return flagged
