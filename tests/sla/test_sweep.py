"""The sweep with a controlled clock: warning, breach and ladder steps, each exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from exceptions.models import Discrepancy, OpsException
from ims.models import Notification, OpsTask
from sla.models import ClockStatus, SlaClock, SlaEscalation, SlaKind
from sla.services import sla_sweep
from tests.sla.conftest import ny

pytestmark = pytest.mark.django_db


def told(user) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user, kind__startswith="sla_").values_list(
            "kind", flat=True
        )
    )


@pytest.fixture
def sweep_twice(django_capture_on_commit_callbacks):
    """Two sweeps at the same moment (the second overlaps the first's work); emails leave
    when each commits."""

    def run(at):
        results = []
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                results.append(sla_sweep(now=at))
        return results

    return run


@pytest.mark.parametrize(
    "placed, warning, breach, admin_at",
    [
        # An ordinary weekend …
        (
            ny(2026, 11, 13, 17, 55),
            ny(2026, 11, 16, 10, 25),
            ny(2026, 11, 16, 10, 55),
            ny(2026, 11, 16, 11, 55),
        ),
        # … and the weekend US clocks go back (Sunday 1 November 2026).
        (
            ny(2026, 10, 30, 17, 55),
            ny(2026, 11, 2, 10, 25),
            ny(2026, 11, 2, 10, 55),
            ny(2026, 11, 2, 11, 55),
        ),
    ],
    ids=["weekend", "weekend-with-dst-change"],
)
def test_friday_evening_order_breaches_monday_and_the_ladder_fires_once_each(
    people, dispatch_policy, place, sweep_twice, placed, warning, breach, admin_at
):
    mail.outbox.clear()
    order = place("1001", placed)
    clock = SlaClock.objects.get(order=order, kind=SlaKind.DISPATCH)
    assert (clock.warn_at, clock.due_at, clock.next_at) == (warning, breach, warning)

    # Over the weekend nothing is due.
    assert (
        sweep_twice(
            ny(2026, 11, 1, 12, 0) if placed.month == 10 else placed + dt.timedelta(days=1)
        )[0].clocks
        == 0
    )

    # A minute before the warning: nothing; at the warning: the store's own staff, once.
    first, second = sweep_twice(warning - dt.timedelta(minutes=1))
    assert first.clocks == second.clocks == 0
    first, second = sweep_twice(warning)
    assert (first.warnings, first.steps, second.warnings, second.steps) == (1, 1, 0, 0)
    assert told(people["clerk"]) == ["sla_warning"]
    assert told(people["other_clerk"]) == []  # a clerk of another store hears nothing
    assert told(people["ops"]) == [] and told(people["admin"]) == []

    # At the breach: HQ ops, an SLA_Breach exception and a task for the store — once.
    first, second = sweep_twice(breach)
    assert (first.breaches, first.steps, second.breaches, second.steps) == (1, 1, 0, 0)
    assert told(people["ops"]) == ["sla_breach"]
    assert told(people["admin"]) == []
    clock.refresh_from_db()
    assert clock.breached_at == breach and clock.status == ClockStatus.RUNNING
    exception = OpsException.objects.get(discrepancy=Discrepancy.SLA_BREACH)
    assert (exception.sku_id, exception.channel.code, exception.location.code) == (
        "order:1001:dispatch",
        "local",
        "NYC",
    )
    assert exception.expected.startswith("dispatch within 2:00 business hours (due ")
    task = OpsTask.objects.get(kind="sla_breach")
    assert (task.ref, task.role, task.location.code) == (f"sla:{clock.pk}", "Store Staff", "NYC")

    # One business hour after the breach: the admin, once; then the ladder is done.
    first, second = sweep_twice(admin_at - dt.timedelta(seconds=1))
    assert first.steps == 0
    first, second = sweep_twice(admin_at)
    assert (first.steps, second.steps) == (1, 0)
    assert told(people["admin"]) == ["sla_breach"]
    clock.refresh_from_db()
    assert clock.next_at is None
    assert sorted(SlaEscalation.objects.filter(clock=clock).values_list("key", flat=True)) == [
        "breach",
        *sorted(f"step:{s.pk}" for s in dispatch_policy.steps.all()),
        "warning",
    ]
    assert [len(told(p)) for p in people.values()] == [1, 0, 1, 1]
    assert OpsException.objects.filter(discrepancy=Discrepancy.SLA_BREACH).count() == 1
    assert OpsTask.objects.filter(kind="sla_breach").count() == 1
    # Everyone told had an email too.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [people["clerk"].email, people["ops"].email, people["admin"].email]
    )


def test_dispatch_on_time_meets_the_clock_and_nothing_fires(people, dispatch_policy, place):
    from orders.services.fulfilment import order_dispatch

    order = place("1002", ny(2026, 11, 16, 9, 0))
    order_dispatch(order=order, items=[("A-1", 1)], now=ny(2026, 11, 16, 10, 30))
    clock = SlaClock.objects.get(order=order, kind=SlaKind.DISPATCH)
    assert clock.status == ClockStatus.MET
    assert clock.elapsed == dt.timedelta(hours=1, minutes=30)
    assert sla_sweep(now=ny(2026, 11, 17, 12, 0)).clocks == 0
    assert not Notification.objects.filter(kind__startswith="sla_").exists()


def test_late_dispatch_stops_breached_and_clears_the_breach(people, dispatch_policy, place):
    from orders.services.fulfilment import order_dispatch

    order = place("1003", ny(2026, 11, 13, 17, 55))
    sla_sweep(now=ny(2026, 11, 16, 11, 0))
    assert OpsException.objects.get(discrepancy=Discrepancy.SLA_BREACH).status == "open"
    order_dispatch(order=order, items=[("A-1", 1)], now=ny(2026, 11, 16, 12, 5))
    clock = SlaClock.objects.get(order=order, kind=SlaKind.DISPATCH)
    assert clock.status == ClockStatus.BREACHED
    # Friday 17:55–18:00 and Monday 9:00–12:05 of open time.
    assert clock.elapsed == dt.timedelta(hours=3, minutes=10)
    assert OpsException.objects.get(discrepancy=Discrepancy.SLA_BREACH).status == "resolved"
    task = OpsTask.objects.get(kind="sla_breach")
    assert task.status == "done" and "breached" in task.resolution
    # The admin rung would have been due at 11:55 Monday business time; the clock stopped.
    assert sla_sweep(now=ny(2026, 11, 16, 13, 0)).clocks == 0


def test_cancelling_stops_every_clock(people, dispatch_policy, place):
    from orders.services.reservation import order_cancel

    order = place("1004", ny(2026, 11, 16, 9, 0))
    order_cancel(order=order, reason="customer changed their mind", now=ny(2026, 11, 16, 9, 30))
    clock = SlaClock.objects.get(order=order)
    assert (clock.status, clock.elapsed, clock.next_at) == (
        ClockStatus.CANCELLED,
        dt.timedelta(minutes=30),
        None,
    )


def test_a_sweep_that_dies_midway_fires_nothing_and_the_next_fires_all(
    people, dispatch_policy, place, monkeypatch
):
    import sla.services

    place("1005", ny(2026, 11, 13, 17, 55))

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(sla.services, "_breaches_raise", crash)
    with pytest.raises(RuntimeError):
        sla_sweep(now=ny(2026, 11, 16, 12, 0))
    assert not SlaEscalation.objects.exists()
    assert not Notification.objects.exists()
    monkeypatch.undo()
    result = sla_sweep(now=ny(2026, 11, 16, 12, 0))
    assert (result.warnings, result.breaches, result.steps) == (1, 1, 3)
    assert [len(told(p)) for p in people.values()] == [1, 0, 1, 1]


def test_repeated_breaches_by_a_store_are_flagged_once(people, dispatch_policy, place, settings):
    settings.IMS_SLA_REPEAT_COUNT = 3
    for n in range(4):
        place(f"20{n}", ny(2026, 11, 13, 17, 55) + dt.timedelta(minutes=n))
    result = sla_sweep(now=ny(2026, 11, 16, 11, 30))
    assert result.breaches == 4
    assert "store NYC: 4 SLA breaches" in " ".join(result.flagged)
    assert "channel local: 4 SLA breaches" in " ".join(result.flagged)
    flags = Notification.objects.filter(recipient=people["admin"], kind="sla_repeated")
    assert flags.count() == 1
    # A later breach of the same store is not flagged again.
    place("209", ny(2026, 11, 16, 11, 0))
    assert sla_sweep(now=ny(2026, 11, 16, 14, 0)).flagged == []
    assert flags.count() == 1


def test_the_command_sweeps_as_of_a_given_instant(people, dispatch_policy, place, capsys):
    from django.core.management import CommandError, call_command

    place("4001", ny(2026, 11, 13, 17, 55))
    call_command("sla_sweep", "--at", "2026-11-16T16:00Z")  # 11:00 in New York
    assert "1 clocks due: 1 warnings, 1 breaches, 2 ladder steps" in capsys.readouterr().out
    with pytest.raises(CommandError, match="time zone"):
        call_command("sla_sweep", "--at", "2026-11-16T16:00")
