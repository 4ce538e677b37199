"""Reconcile's tests: run it and read back the open exceptions."""

import pytest

from exceptions.models import OpsException
from ims.money import money
from reconcile.reconcile import reconcile


@pytest.fixture
def run(tmp_path, now):
    """Reconcile and return the open exceptions as {(sku, channel, discrepancy): (expected, actual, exposure)}."""

    def go(at=None, **kwargs):
        reconcile(out_dir=tmp_path / "reports", now=at or now, **kwargs)
        return {
            (e.sku_id, e.channel.code if e.channel else "", e.discrepancy): (
                e.expected,
                e.actual,
                money(e.exposure, e.currency),
            )
            for e in OpsException.objects.filter(
                status__in=["open", "acknowledged"]
            ).select_related("channel")
        }

    return go
