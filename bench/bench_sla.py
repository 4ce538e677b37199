"""The SLA sweep over 100,000 open clocks (IMS_BENCH_CLOCKS), of which about 1 % have a
warning, breach or ladder step due (IMS_BENCH_DUE), across 10 stores with business hours.

Measured: the sweep's time and its query count (an execute wrapper) at two moments with
different numbers of due clocks — the count stays the same, it does not grow per clock — and
an idle sweep; beside the reference, the bare SQL that selects the due clocks, in the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from contextlib import contextmanager

from benchmarks import _insert

STORES = 10
NOW = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)  # a Wednesday, 15:00 in New York


def build(clocks: int, due: int, *, seed: int = 5) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from channels.models import Channel
    from ims.roles import Role
    from inventory.models import Location
    from orders.models import ChannelOrder
    from sla.calendar import ROUND_THE_CLOCK, calendars_for
    from sla.models import (
        BusinessCalendar,
        EscalationStep,
        LocationStaff,
        OpeningHours,
        SlaClock,
        SlaKind,
        SlaPolicy,
    )
    from sla.services import clock_points

    rng = random.Random(seed)
    User = get_user_model()
    sqlite = connection.vendor == "sqlite"

    def at(value):  # SQLite's executemany gets Django's own text form of an instant
        return connection.ops.adapt_datetimefield_value(value) if sqlite else value

    with transaction.atomic():
        stores = []
        for n in range(STORES):
            location = Location.objects.create(code=f"S{n:02d}", name=f"Store {n}", kind="store")
            calendar = BusinessCalendar.objects.create(
                location=location, timezone="America/New_York", holiday_country="US"
            )
            OpeningHours.objects.bulk_create(
                OpeningHours(calendar=calendar, weekday=d, opens=dt.time(9), closes=dt.time(18))
                for d in range(5)
            )
            clerk = User.objects.create_user(f"clerk{n}", email=f"clerk{n}@example.com")
            clerk.groups.add(Group.objects.get(name=Role.STORE_STAFF.value))
            LocationStaff.objects.create(location=location, user=clerk)
            stores.append(location.pk)
        for n, role in enumerate([Role.OPS] * 3 + [Role.ADMIN] * 2):
            user = User.objects.create_user(f"hq{n}", email=f"hq{n}@example.com")
            user.groups.add(Group.objects.get(name=role.value))
        channels = [
            Channel.objects.create(code=c, name=c, kind="file", currency="USD").pk
            for c in ("amazon", "pos", "shopify", "woo")
        ]
        SlaPolicy.objects.all().delete()
        policies = {
            SlaKind.ACKNOWLEDGEMENT: SlaPolicy.objects.create(
                kind=SlaKind.ACKNOWLEDGEMENT, target=dt.timedelta(hours=2)
            ),
            SlaKind.DISPATCH: SlaPolicy.objects.create(
                kind=SlaKind.DISPATCH, target=dt.timedelta(hours=8), business_hours=True
            ),
        }
        steps = {}
        for policy in policies.values():
            steps[policy.pk] = EscalationStep.objects.bulk_create(
                [
                    EscalationStep(
                        policy=policy, position=1, anchor="warning", recipient="location"
                    ),
                    EscalationStep(
                        policy=policy, position=2, anchor="breach", recipient="role", role="Ops"
                    ),
                    EscalationStep(
                        policy=policy,
                        position=3,
                        anchor="breach",
                        offset=dt.timedelta(hours=1),
                        recipient="role",
                        role="Admin",
                    ),
                ]
            )
        orders = clocks // 2
        placed = []
        for _ in range(orders):
            if rng.random() < due / clocks:
                placed.append(NOW - dt.timedelta(minutes=rng.uniform(100, 30 * 60)))
            else:
                placed.append(NOW - dt.timedelta(minutes=rng.uniform(0, 80)))
        order_rows = [
            (
                channels[i % len(channels)],
                f"B{i:07d}",
                f"#{i}",
                "reserved",
                stores[i % STORES],
                "USD",
                "",
                "",
                "",
                at(placed[i]),
                at(placed[i]),
                "",
                "[]",
            )
            for i in range(orders)
        ]
        _insert(
            ChannelOrder._meta.db_table,
            (
                "channel_id",
                "external_id",
                "name",
                "status",
                "location_id",
                "currency",
                "customer_name",
                "customer_email",
                "customer_phone",
                "placed_at",
                "received_at",
                "cancel_reason",
                "not_stocked",
            ),
            order_rows,
        )
        ids = dict(ChannelOrder.objects.values_list("external_id", "pk"))
        calendars = calendars_for(stores)

        def rows():
            for i in range(orders):
                for kind, policy in policies.items():
                    start = placed[i]
                    location = stores[i % STORES]
                    calendar = calendars[location] if policy.business_hours else ROUND_THE_CLOCK
                    warn_at = calendar.add(start, policy.warning_after)
                    due_at = calendar.add(start, policy.target)
                    points = clock_points(
                        started_at=start,
                        warn_at=warn_at,
                        due_at=due_at,
                        steps=steps[policy.pk],
                        calendar=calendar,
                    )
                    yield (
                        ids[f"B{i:07d}"],
                        policy.pk,
                        kind,
                        channels[i % len(channels)],
                        location,
                        "running",
                        at(start),
                        at(warn_at),
                        at(due_at),
                        at(points[0].at),
                        int(policy.target / dt.timedelta(microseconds=1))
                        if sqlite
                        else policy.target,
                        policy.business_hours,
                    )

        _insert(
            SlaClock._meta.db_table,
            (
                "order_id",
                "policy_id",
                "kind",
                "channel_id",
                "location_id",
                "status",
                "started_at",
                "warn_at",
                "due_at",
                "next_at",
                "target",
                "business_hours",
            ),
            rows(),
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"orders": orders, "clocks": SlaClock.objects.count()}


def reference_due(now: dt.datetime) -> int:
    """The bare SQL that selects the due clocks (what the sweep must find), fetched."""
    from django.db import connection

    from sla.models import SlaClock

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, policy_id, location_id, started_at, warn_at, due_at, next_at "
            f"FROM {SlaClock._meta.db_table} WHERE status = 'running' AND next_at <= %s "
            f"ORDER BY next_at, id",
            [connection.ops.adapt_datetimefield_value(now)],
        )
        return len(cursor.fetchall())


@contextmanager
def statements_counted(connection):
    """The statements run inside, counted by an execute wrapper (CaptureQueriesContext would
    switch Django's debug cursor on, which renders every statement with its values)."""
    run: list[str] = []

    def wrapper(execute, sql, params, many, context):
        run.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield run


def sla_bench(args, *, table, timed) -> None:
    from django.db import connection
    from django.test.utils import override_settings

    from sla.services import sla_sweep

    clocks = int(os.environ.get("IMS_BENCH_CLOCKS", "100000"))
    due = int(os.environ.get("IMS_BENCH_DUE", "1000"))
    seconds, built = timed(lambda: build(clocks, due))
    print(f"built {built['clocks']:,} open clocks on {built['orders']:,} orders in {seconds:.1f} s")

    earlier = NOW - dt.timedelta(hours=14)
    rows = []

    def sweep(at):
        with statements_counted(connection) as queries:
            result = sla_sweep(now=at)
        return result, len(queries)

    # DEBUG off, as production runs the sweep: the development default logs every statement
    # with its values rendered in (psycopg's mogrify), a fifth of the sweep's time once
    # parameters are bound server-side, and no part of IMS's work.
    with override_settings(
        DEBUG=False,
        MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}},
    ):
        for label, at in (("14 h earlier", earlier), ("now", NOW)):
            ref_time, ref_rows = timed(lambda at=at: reference_due(at), repeat=3)
            with statements_counted(connection) as ref_queries:
                reference_due(at)
            sweep_time, (result, queries) = timed(lambda at=at: sweep(at))
            rows.append(
                (
                    f"reference: bare SQL selecting the due clocks ({label})",
                    f"{ref_time:.3f}",
                    str(len(ref_queries)),
                    f"{ref_rows:,} due clocks",
                    "1.00×",
                )
            )
            rows.append(
                (
                    f"sweep ({label})",
                    f"{sweep_time:.3f}",
                    str(queries),
                    f"{result.clocks:,} clocks: {result.warnings:,} warnings, "
                    f"{result.breaches:,} breaches, {result.steps:,} steps, "
                    f"{result.notified:,} notified",
                    f"{sweep_time / ref_time:.1f}×" if ref_time else "—",
                )
            )
        idle_time, (result, queries) = timed(lambda: sweep(NOW))
        rows.append(
            (
                "sweep again, nothing due",
                f"{idle_time:.3f}",
                str(queries),
                f"{result.clocks} clocks",
                "—",
            )
        )
    table(
        f"SLA sweep over {built['clocks']:,} open clocks "
        f"(target: under 2 s on PostgreSQL, queries constant, not per clock)",
        rows,
        ("what", "seconds", "queries", "work", "vs reference"),
    )
