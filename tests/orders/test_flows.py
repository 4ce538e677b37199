"""The rest of the ledger: dispatch, cancellation, returns, transfers, POS sales with their
approval, quarantine, vendor returns — each a service with an actor and a reason that writes
movements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from catalog.models import Product
from exceptions.models import OpsException
from ims.errors import NotAllowed
from ims.models import AuditEvent, Notification, OpsTask
from ims.roles import Role
from inventory.errors import InsufficientStock, InvalidLines
from inventory.models import Location, Movement, VendorReturn
from inventory.services.stock import stock_quarantine_release, stock_write_off
from inventory.services.transfers import transfer_receive, transfer_send
from inventory.services.vendor_returns import (
    credit_note_record,
    vendor_return_close,
    vendor_return_create,
)
from orders.models import ChannelOrder, CustomerReturn
from orders.providers.base import LineIn, PosSaleIn
from orders.services.fulfilment import order_dispatch
from orders.services.pos import pos_sale_approve, pos_sale_record, pos_sale_reject
from orders.services.reservation import order_cancel
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db


def shop_order(post, order_id, lines):
    body = p.dumps(p.shopify_order(order_id, lines))
    assert post("shop", body, p.shopify_headers(body, "orders/create")).status_code == 200
    return ChannelOrder.objects.get(external_id=str(order_id))


def test_partial_dispatch_then_the_rest_ships_the_order(channels, post, user_with_role):
    store = user_with_role(Role.STORE_STAFF)
    order = shop_order(post, 11, [("A-1", 3), ("B-2", 2)])
    order_dispatch(order=order, items=[("A-1", 1)], actor=store)
    order.refresh_from_db()
    a = order.lines.get(sku="A-1")
    assert (a.reserved, a.shipped, a.status, order.status) == (
        2,
        1,
        "partially_shipped",
        "partially_shipped",
    )
    assert (level("A-1", "WH").available, level("A-1", "WH").reserved) == (2, 2)
    order_dispatch(order=order, items=[("A-1", 2), ("B-2", 2)], actor=store)
    order.refresh_from_db()
    assert order.status == "shipped" and order.completed_at is not None
    assert level("A-1", "WH").reserved == 0 and level("B-2", "WH").reserved == 0
    assert Movement.objects.filter(reason="dispatch").count() == 3
    assert order.customer_notifications.filter(kind="order_dispatched").count() == 2


def test_dispatching_more_than_is_reserved_changes_nothing(channels, post, user_with_role):
    order = shop_order(post, 12, [("A-1", 2)])
    with pytest.raises(InvalidLines) as refused:
        order_dispatch(order=order, items=[("A-1", 3)], actor=user_with_role(Role.OPS))
    assert "lines[0].quantity" in refused.value.extra["fields"]
    assert order.lines.get().reserved == 2 and level("A-1", "WH").reserved == 2
    assert not Movement.objects.filter(reason="dispatch").exists()


def test_finance_may_not_dispatch(channels, post, user_with_role):
    order = shop_order(post, 13, [("A-1", 1)])
    with pytest.raises(NotAllowed):
        order_dispatch(order=order, items=[("A-1", 1)], actor=user_with_role(Role.FINANCE))
    assert order.lines.get().shipped == 0


def test_cancelling_releases_what_is_reserved(channels, post, user_with_role):
    order = shop_order(post, 14, [("A-1", 2)])
    assert order_cancel(order=order, reason="customer asked", actor=user_with_role(Role.OPS))
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancelled_at is not None
    assert (level("A-1", "WH").available, level("A-1", "WH").reserved) == (5, 0)
    assert order_cancel(order=order, reason="again") is False  # nothing left


def test_a_channel_cancellation_webhook_releases_the_reservation(channels, post):
    order = shop_order(post, 15, [("A-1", 2)])
    body = p.dumps(p.shopify_order(15, [("A-1", 2)], cancelled=True))
    assert post("shop", body, p.shopify_headers(body, "orders/cancelled")).status_code == 200
    order.refresh_from_db()
    assert order.status == "cancelled" and level("A-1", "WH").reserved == 0


def test_a_customer_return_is_quarantined_and_finance_is_told(channels, post, user_with_role):
    finance = user_with_role(Role.FINANCE)
    order = shop_order(post, 16, [("A-1", 2)])
    order_dispatch(order=order, items=[("A-1", 2)])
    payload = p.shopify_order(16, [("A-1", 2)])
    body = p.dumps(p.shopify_refund(77, payload, [(0, 1, "return")]))
    assert post("shop", body, p.shopify_headers(body, "refunds/create")).status_code == 200
    returned = CustomerReturn.objects.get()
    assert (returned.external_id, returned.location.code) == ("77", "WH")
    assert level("A-1", "WH").quarantined == 1
    assert order.lines.get().returned == 1
    assert Notification.objects.filter(recipient=finance, kind="customer_return").exists()
    # The same refund again changes nothing.
    post("shop", body, p.shopify_headers(body, "refunds/create"))
    assert level("A-1", "WH").quarantined == 1 and CustomerReturn.objects.count() == 1


def test_quarantine_release_and_write_off_need_an_authorised_person(channels, post, user_with_role):
    order = shop_order(post, 17, [("A-1", 2)])
    order_dispatch(order=order, items=[("A-1", 2)])
    payload = p.shopify_order(17, [("A-1", 2)])
    body = p.dumps(p.shopify_refund(78, payload, [(0, 2, "return")]))
    post("shop", body, p.shopify_headers(body, "refunds/create"))
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    with pytest.raises(NotAllowed):
        stock_quarantine_release(
            product_id=a1.pk,
            location_id=wh.pk,
            quantity=1,
            actor=user_with_role(Role.FINANCE),
            reason="ok",
        )
    store = user_with_role(Role.STORE_STAFF)
    stock_quarantine_release(
        product_id=a1.pk, location_id=wh.pk, quantity=1, actor=store, reason="inspected, fine"
    )
    stock_write_off(product_id=a1.pk, location_id=wh.pk, quantity=1, actor=store, reason="torn")
    assert (
        level("A-1", "WH").quarantined,
        level("A-1", "WH").available,
        level("A-1", "WH").damaged,
    ) == (0, 4, 1)
    with pytest.raises(InsufficientStock):
        stock_write_off(
            product_id=a1.pk, location_id=wh.pk, quantity=1, actor=store, reason="none left"
        )
    assert AuditEvent.objects.filter(action="quarantine_write_off").count() == 1


def test_a_transfer_goes_through_in_transit(channels, user_with_role):
    ops = user_with_role(Role.OPS)
    wh, nyc = Location.objects.get(code="WH"), Location.objects.get(code="NYC")
    a1 = Product.objects.get(sku="A-1")
    transfer = transfer_send(
        source=wh, destination=nyc, lines=[(a1.pk, 2)], actor=ops, reason="restock store"
    )
    assert level("A-1", "WH").available == 3
    assert (level("A-1", "NYC").in_transit, level("A-1", "NYC").available) == (2, 3)
    transfer_receive(transfer=transfer, actor=ops)
    assert (level("A-1", "NYC").in_transit, level("A-1", "NYC").available) == (0, 5)
    with pytest.raises(InsufficientStock):
        transfer_send(source=wh, destination=nyc, lines=[(a1.pk, 4)], actor=ops, reason="too many")
    assert level("A-1", "WH").available == 3


def test_a_pos_sale_takes_available_stock(channels, user_with_role):
    sale, created = pos_sale_record(
        channel=None,
        incoming=PosSaleIn("R-1", "NYC", (LineIn("1", "A-1", 2),)),
        actor=user_with_role(Role.STORE_STAFF),
    )
    assert created and sale.status == "completed"
    assert level("A-1", "NYC").available == 1


def test_a_pos_sale_of_reserved_stock_is_held_tasked_and_flagged(channels, post, user_with_role):
    """IMS 2.0 failure mode 2: staff diverting online stock."""
    store, admin = user_with_role(Role.STORE_STAFF), user_with_role(Role.ADMIN)
    online = shop_order(post, 19, [("B-2", 8)])
    assert online.location.code == "WH"
    sale, _ = pos_sale_record(
        channel=None, incoming=PosSaleIn("R-2", "WH", (LineIn("1", "B-2", 4),)), actor=store
    )
    assert sale.status == "held"
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (2, 8)  # nothing moved
    task = OpsTask.objects.get(kind="pos_override")
    assert (task.ref, task.role, task.status) == (f"pos:{sale.pk}", Role.ADMIN.value, "open")
    leak = OpsException.objects.get(discrepancy="Leakage")
    assert (leak.sku_id, leak.expected, leak.actual) == ("B-2", "2", "4")
    with pytest.raises(NotAllowed):
        pos_sale_approve(sale=sale, actor=store, reason="customer waiting")

    pos_sale_approve(sale=sale, actor=admin, reason="walk-in VIP")
    sale.refresh_from_db()
    assert sale.status == "completed" and sale.decided_by == admin
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (0, 6)
    online.refresh_from_db()
    line = online.lines.get()
    assert (line.reserved, line.backordered, online.status) == (6, 2, "backordered")
    task.refresh_from_db()
    assert task.status == "done"


def test_a_rejected_pos_override_moves_nothing(channels, post, user_with_role):
    shop_order(post, 20, [("B-2", 9)])
    sale, _ = pos_sale_record(
        channel=None, incoming=PosSaleIn("R-3", "WH", (LineIn("1", "B-2", 2),))
    )
    pos_sale_reject(sale=sale, actor=user_with_role(Role.ADMIN), reason="online order first")
    sale.refresh_from_db()
    assert sale.status == "rejected"
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (1, 9)


def test_a_vendor_return_needs_tracking_and_closes_only_with_a_credit_note(
    channels, user_with_role
):
    store, finance = user_with_role(Role.STORE_STAFF), user_with_role(Role.FINANCE)
    wh, b2 = Location.objects.get(code="WH"), Product.objects.get(sku="B-2")
    with pytest.raises(InvalidLines) as refused:
        vendor_return_create(
            vendor="Acme",
            location=wh,
            tracking_number=" ",
            lines=[(b2.pk, 2)],
            actor=store,
            reason="faulty batch",
            from_state="available",
        )
    assert refused.value.extra["fields"] == {"tracking_number": "is required"}
    assert not VendorReturn.objects.exists() and level("B-2", "WH").available == 10
    vr = vendor_return_create(
        vendor="Acme",
        location=wh,
        tracking_number="1Z999",
        lines=[(b2.pk, 2)],
        actor=store,
        reason="faulty batch",
        from_state="available",
    )
    assert (vr.status, level("B-2", "WH").available) == ("shipped", 8)
    note = credit_note_record(
        vendor="Acme",
        number="CN-7",
        amount=Decimal("16.00"),
        currency="USD",
        issued_on=dt.date(2026, 11, 20),
        actor=finance,
    )
    with pytest.raises(NotAllowed):
        vendor_return_close(vendor_return=vr, credit_note=note, actor=store)
    vendor_return_close(vendor_return=vr, credit_note=note, actor=finance)
    assert (vr.status, vr.credit_note) == ("closed", note)
    from django.db import IntegrityError, transaction

    other = vendor_return_create(
        vendor="Acme",
        location=wh,
        tracking_number="1Z998",
        lines=[(b2.pk, 1)],
        actor=store,
        reason="more",
        from_state="available",
    )
    with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses it too
        VendorReturn.objects.filter(pk=other.pk).update(status="closed")
