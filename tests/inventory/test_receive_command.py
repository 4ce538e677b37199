"""`manage.py receive_stock`: an integrator scripts a delivery; a bad one exits 1, unchanged."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ims.models import AuditEvent
from inventory.models import Movement, StockLevel

pytestmark = pytest.mark.django_db


def test_a_scripted_delivery_is_received_and_audited_as_the_command(world, capsys):
    call_command("receive_stock", "A-1", "WH", "12", "--reference", "ASN-31", "--note", "pallet 2")
    assert "available now 12" in capsys.readouterr().out
    assert StockLevel.objects.get(product__sku="A-1", location__code="WH").available == 12
    movement = Movement.objects.get(reason="receipt")
    assert (movement.ref, movement.note, movement.actor) == ("receipt:ASN-31", "pallet 2", None)
    assert AuditEvent.objects.get(action="stock_receive").origin == "command receive_stock"


@pytest.mark.parametrize(
    "args, problem",
    [
        (["NOPE", "WH", "1"], "sku: no product NOPE"),
        (["A-1", "MARS", "1"], "location: no location MARS"),
        (["A-1", "WH", "0"], "quantity"),
    ],
)
def test_a_delivery_ims_cannot_take_exits_1_and_changes_nothing(world, args, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("receive_stock", *args, "--reference", "ASN-1")
    assert not Movement.objects.filter(reason="receipt").exists()
