"""Customer returns handed in at a store and inspected: the units wait in `returned` at the
store, then each goes to available, damaged or quarantined; a marketplace's return never goes
straight to available; never more comes back than was shipped; only the roles that may act."""

from __future__ import annotations

import pytest

from ims.errors import NotAllowed
from ims.models import AuditEvent, Notification
from ims.roles import Role
from inventory.models import Location, Movement
from inventory.signals import stock_changed
from orders.errors import InvalidLines, OrderError
from orders.models import CustomerReturn
from orders.services.returns import Inspection, customer_return_inspect, customer_return_receive
from tests.orders.conftest import level
from tests.orders.customer_returns import shipped_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def nyc():
    return Location.objects.get(code="NYC")


@pytest.fixture
def store(user_with_role):
    return user_with_role(Role.STORE_STAFF, "sam")


def test_units_handed_in_at_a_store_wait_in_returned_and_finance_is_told(
    channels, nyc, store, user_with_role
):
    finance = user_with_role(Role.FINANCE)
    order = shipped_order("shop", "5001", [("A-1", 3)])
    assert level("A-1", "NYC").returned == 0
    back, created = customer_return_receive(
        order=order, location=nyc, lines=[("A-1", 3)], reference="SLIP-1", actor=store
    )
    assert (
        created
        and back.status == "received"
        and back.get_status_display() == ("received, awaiting inspection")
    )
    assert (back.location.code, back.external_id, back.created_by) == ("NYC", "SLIP-1", store)
    assert level("A-1", "NYC").returned == 3
    assert level("A-1", "WH").quarantined == 0
    assert order.lines.get().returned == 3
    move = Movement.objects.get(ref=f"return:{back.pk}")
    assert (move.from_state, move.to_state, move.quantity, move.reason) == (
        "",
        "returned",
        3,
        "customer_return",
    )
    note = Notification.objects.get(recipient=finance, kind="customer_return")
    assert "awaiting inspection" in note.body and "A-1 × 3" in note.body
    assert AuditEvent.objects.filter(action="customer_return_receive", actor=store).exists()
    # The same slip again changes nothing.
    again, created = customer_return_receive(
        order=order, location=nyc, lines=[("A-1", 3)], reference="SLIP-1", actor=store
    )
    assert (again.pk, created) == (back.pk, False)
    assert level("A-1", "NYC").returned == 3 and CustomerReturn.objects.count() == 1


def test_an_inspection_splits_the_units_one_to_each_state_with_a_ledger_row_each(
    channels, nyc, store
):
    order = shipped_order("shop", "5002", [("A-1", 3)])
    back, _ = customer_return_receive(order=order, location=nyc, lines=[("A-1", 3)], actor=store)
    available_before = level("A-1", "NYC").available
    pushed = []

    def heard(sender, product_ids, **kwargs):
        pushed.append(set(product_ids))

    stock_changed.connect(heard)
    try:
        inspected = customer_return_inspect(
            customer_return=back,
            decisions=[Inspection("A-1", available=1, damaged=1, quarantined=1)],
            actor=store,
            note="box opened, one scratched",
        )
    finally:
        stock_changed.disconnect(heard)
    assert inspected.status == "inspected" and inspected.inspected_by == store
    after = level("A-1", "NYC")
    assert (after.returned, after.damaged, after.quarantined) == (0, 1, 1)
    assert after.available == available_before + 1
    rows = Movement.objects.filter(ref=f"return:{back.pk}", from_state="returned")
    assert sorted((m.to_state, m.quantity) for m in rows) == [
        ("available", 1),
        ("damaged", 1),
        ("quarantined", 1),
    ]
    assert pushed and order.lines.get().product_id in pushed[0]  # the channels' ATP push
    line = inspected.lines.get()
    assert (line.to_available, line.to_damaged, line.to_quarantined) == (1, 1, 1)
    event = AuditEvent.objects.get(action="customer_return_inspect")
    assert event.after["lines"] == {"A-1": {"available": 1, "damaged": 1, "quarantined": 1}}
    # Inspected once: a second inspection is refused.
    with pytest.raises(OrderError, match="not awaiting inspection"):
        customer_return_inspect(
            customer_return=back, decisions=[Inspection("A-1", damaged=3)], actor=store
        )


def test_a_marketplace_return_may_not_go_straight_to_available(channels, nyc, store):
    order = shipped_order("market", "AMZ-1", [("A-1", 2)])
    back, _ = customer_return_receive(order=order, location=nyc, lines=[("A-1", 2)], actor=store)
    with pytest.raises(InvalidLines) as refused:
        customer_return_inspect(
            customer_return=back, decisions=[Inspection("A-1", available=2)], actor=store
        )
    assert "marketplace order (Amazon)" in refused.value.extra["fields"]["lines[0].available"]
    assert level("A-1", "NYC").returned == 2
    assert CustomerReturn.objects.get().status == "received"
    customer_return_inspect(
        customer_return=back, decisions=[Inspection("A-1", quarantined=2)], actor=store
    )
    assert (level("A-1", "NYC").returned, level("A-1", "NYC").quarantined) == (0, 2)


def test_never_more_than_shipped_and_not_yet_returned_comes_back(channels, nyc, store):
    order = shipped_order("shop", "5003", [("A-1", 2)])
    with pytest.raises(InvalidLines) as refused:
        customer_return_receive(order=order, location=nyc, lines=[("A-1", 3)], actor=store)
    assert refused.value.extra["fields"] == {
        "lines[0].quantity": "3 A-1 handed back, but only 2 shipped and not yet returned"
    }
    customer_return_receive(order=order, location=nyc, lines=[("A-1", 2)], actor=store)
    with pytest.raises(InvalidLines, match="only 0 shipped and not yet returned"):
        customer_return_receive(order=order, location=nyc, lines=[("A-1", 1)], actor=store)
    with pytest.raises(InvalidLines, match="B-2 is not a line of order 5003"):
        customer_return_receive(order=order, location=nyc, lines=[("B-2", 1)], actor=store)
    assert level("A-1", "NYC").returned == 2 and CustomerReturn.objects.count() == 1


def test_every_unit_is_decided_before_anything_moves(channels, nyc, store):
    order = shipped_order("shop", "5004", [("A-1", 3)])
    back, _ = customer_return_receive(order=order, location=nyc, lines=[("A-1", 3)], actor=store)
    with pytest.raises(InvalidLines) as refused:
        customer_return_inspect(
            customer_return=back, decisions=[Inspection("A-1", available=1)], actor=store
        )
    assert refused.value.extra["fields"] == {
        "lines[0]": "A-1: 3 units came back, 1 decided "
        "(every unit goes to available, damaged or quarantined)"
    }
    with pytest.raises(InvalidLines, match="A-1 left"):
        customer_return_inspect(customer_return=back, decisions=[], actor=store)
    assert level("A-1", "NYC").returned == 3


def test_only_the_roles_that_may_receive_and_inspect(channels, nyc, store, user_with_role):
    finance, ops = user_with_role(Role.FINANCE), user_with_role(Role.OPS)
    order = shipped_order("shop", "5005", [("A-1", 1)])
    with pytest.raises(NotAllowed):
        customer_return_receive(order=order, location=nyc, lines=[("A-1", 1)], actor=finance)
    back, _ = customer_return_receive(order=order, location=nyc, lines=[("A-1", 1)], actor=store)
    for refused in (finance, ops, None):  # inspecting is a person's decision
        with pytest.raises(NotAllowed):
            customer_return_inspect(
                customer_return=back, decisions=[Inspection("A-1", damaged=1)], actor=refused
            )
    assert level("A-1", "NYC").returned == 1


def test_a_return_the_channel_reports_is_quarantined_with_no_inspection(channels, post):
    from orders.services.fulfilment import order_dispatch
    from tests.orders import payloads as p
    from tests.orders.test_flows import shop_order

    order = shop_order(post, 5006, [("A-1", 1)])
    order_dispatch(order=order, items=[("A-1", 1)])
    body = p.dumps(p.shopify_refund(79, p.shopify_order(5006, [("A-1", 1)]), [(0, 1, "return")]))
    post("shop", body, p.shopify_headers(body, "refunds/create"))
    assert CustomerReturn.objects.get().status == "quarantined"
    assert level("A-1", "WH").quarantined == 1 and level("A-1", "WH").returned == 0
