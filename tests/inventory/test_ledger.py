"""The stock services lock, move and record; the ledger check proves the levels are the
ledger's running total, reports drift and repairs it with a logged correction."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from ims.models import AuditEvent
from inventory.errors import InsufficientStock
from inventory.models import Location, Movement, StockLevel
from inventory.services.ledger import ledger_drift
from inventory.services.stock import StockMove, stock_move, stock_receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(world, ingest):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,5\n")
    return (
        Product.objects.get(sku="A-1"),
        Location.objects.get(code="WH"),
        Location.objects.get(code="NYC"),
    )


def test_a_move_that_would_go_negative_writes_nothing(stocked):
    a1, wh, _ = stocked
    before = Movement.objects.count()
    with pytest.raises(InsufficientStock) as refused:
        stock_move(
            moves=[
                StockMove(a1.pk, wh.pk, "available", "reserved", 3),
                StockMove(a1.pk, wh.pk, "available", "", 3),
            ],
            reason="adjustment",
            ref="test:1",
        )
    assert refused.value.extra["shortfalls"][0] == {
        "product_id": a1.pk,
        "location_id": wh.pk,
        "state": "available",
        "wanted": 6,
        "have": 5,
    }
    assert Movement.objects.count() == before
    assert StockLevel.objects.get(product=a1, location=wh).available == 5


def test_a_missing_level_row_is_created_and_the_move_recorded(stocked):
    a1, _, nyc = stocked
    assert not StockLevel.objects.filter(product=a1, location=nyc).exists()
    stock_receive(
        product_id=a1.pk, location_id=nyc.pk, quantity=4, reference="po-1", note="supplier delivery"
    )
    assert StockLevel.objects.get(product=a1, location=nyc).available == 4
    movement = Movement.objects.get(ref="receipt:po-1")
    assert (movement.from_state, movement.to_state, movement.reason) == ("", "available", "receipt")
    assert AuditEvent.objects.filter(action="stock_receive").exists()


def test_ledger_check_reports_drift_and_repairs_it_with_a_logged_correction(stocked, capsys):
    a1, wh, _ = stocked
    call_command("ledger_check")
    assert "agrees" in capsys.readouterr().out
    StockLevel.objects.filter(product=a1, location=wh).update(
        available=7
    )  # edited behind IMS's back
    (drift,) = ledger_drift()
    assert (drift.sku, drift.location, drift.state, drift.level, drift.ledger) == (
        "A-1",
        "WH",
        "available",
        7,
        5,
    )
    with pytest.raises(CommandError, match="1 level"):
        call_command("ledger_check")
    assert "A-1 at WH: available is 7, the ledger says 5 (+2)" in capsys.readouterr().err
    call_command("ledger_check", "--repair")
    assert "1 correction(s) recorded" in capsys.readouterr().out
    correction = Movement.objects.get(reason="correction")
    assert (correction.from_state, correction.to_state, correction.quantity) == ("", "available", 2)
    assert AuditEvent.objects.get(action="ledger_correction").after == {"available": 7}
    assert ledger_drift() == []


def test_the_scheduled_ledger_check_alerts_admins(stocked, user_with_role):
    from ims.models import Notification
    from ims.roles import Role
    from orders.tasks import ledger_check_task

    admin = user_with_role(Role.ADMIN)
    a1, wh, _ = stocked
    assert ledger_check_task() == 0
    StockLevel.objects.filter(product=a1, location=wh).update(reserved=1)
    assert ledger_check_task() == 1
    assert Notification.objects.get(recipient=admin).kind == "ledger_drift"
    call_command("ledger_check", "--repair")
