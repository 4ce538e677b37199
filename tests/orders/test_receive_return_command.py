"""`manage.py receive_return`: a store's till scripts a customer's return; the units wait in
returned for a person's inspection; a bad one exits 1, unchanged."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ims.models import AuditEvent
from orders.models import CustomerReturn
from tests.orders.conftest import level
from tests.orders.customer_returns import shipped_order

pytestmark = pytest.mark.django_db

ARGS = ["--location", "NYC", "--channel", "shop", "--order", "9001"]


def test_a_scripted_return_waits_in_returned_and_is_audited_as_the_command(channels, capsys):
    shipped_order("shop", "9001", [("A-1", 2), ("B-2", 1)])
    call_command(
        "receive_return", *ARGS, "--line", "A-1=2", "--line", "B-2=1", "--reference", "T-5"
    )
    assert (
        "3 unit(s) of shop order 9001 in returned, awaiting inspection" in capsys.readouterr().out
    )
    back = CustomerReturn.objects.get()
    assert (back.status, back.external_id, back.created_by) == ("received", "T-5", None)
    assert (level("A-1", "NYC").returned, level("B-2", "NYC").returned) == (2, 1)
    event = AuditEvent.objects.get(action="customer_return_receive")
    assert event.origin == "command receive_return"
    call_command(
        "receive_return", *ARGS, "--line", "A-1=2", "--line", "B-2=1", "--reference", "T-5"
    )
    assert "received already; nothing changed" in capsys.readouterr().out
    assert CustomerReturn.objects.count() == 1 and level("A-1", "NYC").returned == 2


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--location", "MARS", "--channel", "shop", "--order", "9001"], "location: no location"),
        (["--location", "NYC", "--channel", "nope", "--order", "9001"], "channel: no channel"),
        (["--location", "NYC", "--channel", "shop", "--order", "404"], "order: no order 404"),
    ],
)
def test_a_return_ims_cannot_take_exits_1_and_changes_nothing(channels, args, problem):
    shipped_order("shop", "9001", [("A-1", 2)])
    with pytest.raises(CommandError, match=problem):
        call_command("receive_return", *args, "--line", "A-1=1")
    with pytest.raises(CommandError, match="only 2 shipped and not yet returned"):
        call_command("receive_return", *ARGS, "--line", "A-1=3")
    with pytest.raises(CommandError, match="is not SKU=UNITS"):
        call_command("receive_return", *ARGS, "--line", "A-1")
    assert not CustomerReturn.objects.exists() and level("A-1", "NYC").returned == 0
