"""Two sweeps truly at once on PostgreSQL: the second skips the clocks the first holds
(SELECT … FOR UPDATE SKIP LOCKED), so every point fires exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

import sla.services
from ims.models import Notification
from sla.models import SlaEscalation
from sla.services import sla_sweep
from tests.sla.conftest import ny

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_overlapping_sweeps_fire_each_point_once(people, dispatch_policy, place, monkeypatch):
    for n in range(5):
        place(f"30{n}", ny(2026, 11, 13, 17, 55))
    inside, release = threading.Event(), threading.Event()
    real_notify = sla.services._ladder_notify

    def slow_notify(*args, **kwargs):
        inside.set()  # the first sweep holds its clocks, mid-transaction
        assert release.wait(30)
        return real_notify(*args, **kwargs)

    monkeypatch.setattr(sla.services, "_ladder_notify", slow_notify)
    results = {}

    def first():
        try:
            results["first"] = sla_sweep(now=ny(2026, 11, 16, 12, 0))
        finally:
            connection.close()

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(30)
    monkeypatch.setattr(sla.services, "_ladder_notify", real_notify)
    results["second"] = sla_sweep(now=ny(2026, 11, 16, 12, 0))  # runs while the first holds
    release.set()
    worker.join(30)

    assert results["second"].clocks == 0
    assert (results["first"].warnings, results["first"].breaches, results["first"].steps) == (
        5,
        5,
        15,
    )
    assert SlaEscalation.objects.count() == 5 * 5
    per_person = {
        name: Notification.objects.filter(
            recipient=user, kind__in=["sla_warning", "sla_breach"]
        ).count()
        for name, user in people.items()
    }
    assert per_person == {"clerk": 5, "other_clerk": 0, "ops": 5, "admin": 5}
    # Five breaches of one store: flagged to the admin once, as a read-only insight.
    assert Notification.objects.filter(recipient=people["admin"], kind="sla_repeated").count() == 1
    # A third sweep later finds nothing left.
    assert sla_sweep(now=ny(2026, 11, 16, 18, 0)).clocks == 0
