"""Instant reservation at the one fulfilment location, backorders, oversell handling, and the
seed's order flow end to end."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from channels.models import Channel, PendingPush
from exceptions.models import OpsException
from ims.models import Notification, OpsTask
from ims.roles import Role
from inventory.models import Movement
from orders.models import ChannelOrder, CustomerNotification
from sla.models import SlaClock
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db


def shop_order(post, order_id, lines, **kwargs):
    body = p.dumps(p.shopify_order(order_id, lines, **kwargs))
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 200, response.content
    return ChannelOrder.objects.get(channel__code="shop", external_id=str(order_id))


def test_the_seed_order_flow_placed_webhook_reserved_location_sla_notified(channels, post):
    order = shop_order(post, 9001, [("A-1", 2), ("B-2", 1)])
    assert order.status == "reserved"
    assert order.location.code == "WH"
    assert [(ln.product.sku, ln.reserved, ln.location.code) for ln in order.lines.all()] == [
        ("A-1", 2, "WH"),
        ("B-2", 1, "WH"),
    ]
    assert (level("A-1", "WH").available, level("A-1", "WH").reserved) == (3, 2)
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (9, 1)
    # The SLA seam: reservation started the acknowledgement and dispatch clocks (the default
    # policies), timed from the order's arrival at its fulfilment location.
    clocks = SlaClock.objects.filter(order=order).order_by("kind")
    assert [(c.kind, c.status, c.location.code, c.started_at) for c in clocks] == [
        ("acknowledgement", "running", "WH", order.received_at),
        ("dispatch", "running", "WH", order.received_at),
    ]
    assert [c.due_at - c.started_at for c in clocks] == [
        dt.timedelta(hours=2),
        dt.timedelta(hours=24),
    ]
    note = CustomerNotification.objects.get()
    assert (note.order, note.kind, note.status) == (order, "order_received", "queued")
    movements = Movement.objects.filter(ref=f"order:{order.pk}")
    assert sorted(movements.values_list("from_state", "to_state", "quantity")) == [
        ("available", "reserved", 1),
        ("available", "reserved", 2),
    ]
    assert Channel.objects.get(code="shop").status == "active"


def test_the_location_covering_the_most_lines_wins_ties_go_to_the_earlier(channels, post, ingest):
    ingest("inventory", "sku_id,location,quantity\nW-3,NYC,1\n")
    # NYC covers A-1 × 3 and W-3; WH covers A-1 × 3 only: NYC wins though it comes second.
    order = shop_order(post, 1, [("A-1", 3), ("W-3", 1)])
    assert order.location.code == "NYC"
    assert order.status == "reserved"
    # Both cover the one line: the tie goes to WH, first in the channel's list.
    tie = shop_order(post, 2, [("A-1", 1)])
    assert tie.location.code == "WH"


def test_a_line_is_reserved_fully_or_not_at_all_and_waits_as_a_backorder(
    channels, post, user_with_role
):
    """IMS 2.0 failure mode 1, channel overselling: auto-pause, and escalate to the admins."""
    admin = user_with_role(Role.ADMIN)
    order = shop_order(post, 3, [("B-2", 4), ("A-1", 6)])  # 5 at WH, 3 at NYC
    a, b = order.lines.get(sku="A-1"), order.lines.get(sku="B-2")
    assert (b.reserved, b.backordered) == (4, 0)
    assert (a.reserved, a.backordered) == (0, 6)
    assert order.status == "backordered" and order.location.code == "WH"
    assert level("A-1", "WH").available == 5  # nothing of A-1 was taken
    # Oversell_Risk: units wanted / units available at the channel's locations.
    risk = OpsException.objects.get(discrepancy="Oversell_Risk")
    assert (risk.sku_id, risk.channel.code, risk.expected, risk.actual, risk.oversell) == (
        "A-1",
        "shop",
        "6",
        "8",
        True,
    )
    shop = Channel.objects.get(code="shop")
    assert shop.status == "paused" and "order 3" in shop.pause_reason
    assert Notification.objects.filter(recipient=admin, kind="channel_paused").exists()
    assert admin.email in [m.to[0] for m in mail.outbox]
    task = OpsTask.objects.get(kind="backorder")
    assert task.ref == f"order:{order.pk}" and task.role == Role.ADMIN.value


def test_an_unknown_sku_is_held_for_ops_without_pausing_the_channel(channels, post):
    order = shop_order(post, 4, [("NOPE-9", 1)])
    line = order.lines.get()
    assert (line.product, line.backordered) == (None, 1)
    raised = OpsException.objects.get()
    assert (raised.sku_id, raised.discrepancy) == ("NOPE-9", "Unknown_SKU")
    assert Channel.objects.get(code="shop").status == "active"


def test_the_seeds_retail_pro_example_reserves_a_and_b_in_new_york(ingest, secrets, post):
    ingest("locations", "code,name,kind\nNY,New York,store\nNSH,Nashville,store\n")
    ingest(
        "channels",
        "code,name,kind,sync_mode,locations,safety_buffer,currency\nshop,Shop,shopify,push,NY;NSH,0,USD\n",
    )
    ingest(
        "catalog",
        "sku_id,name,barcode,category,uom,cost,mrp,price,currency\n"
        "A,A,4006381333900,x,EA,1.00,9.00,5.00,USD\n"
        "B,B,4006381333917,x,EA,1.00,9.00,5.00,USD\n"
        "C,C,4006381333924,x,EA,1.00,9.00,5.00,USD\n",
    )
    ingest(
        "inventory",
        "sku_id,location,quantity\nA,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,0\nC,NSH,0\n",
    )
    order = shop_order(post, 830, [("A", 2), ("B", 2), ("C", 2)])
    assert order.location.code == "NY"
    assert {ln.sku: (ln.reserved, ln.backordered) for ln in order.lines.all()} == {
        "A": (2, 0),
        "B": (2, 0),
        "C": (0, 2),
    }


def test_a_reservation_queues_its_skus_atp_push_on_every_channel_that_sends(
    channels, post, django_capture_on_commit_callbacks
):
    """The reservation's own transaction queues the push (one row per channel and SKU);
    the in-process queue flushes it once committed."""
    with django_capture_on_commit_callbacks(execute=False) as flush:
        order = shop_order(post, 5, [("A-1", 1), ("B-2", 1)])
    ids = sorted(ln.product_id for ln in order.lines.all())
    sending = Channel.objects.exclude(sync_mode="read_only").order_by("code")
    assert sending.exists()
    assert sorted(PendingPush.objects.values_list("channel__code", "product_id")) == [
        (channel.code, pid) for channel in sending for pid in ids
    ]
    assert len(flush) == 1


def test_an_unpaid_order_is_held_then_confirmed_or_expired(channels, post, now):
    import datetime as dt

    from orders.services.reservation import reservations_expire

    unpaid = shop_order(post, 6, [("A-1", 2)], financial_status="pending")
    assert unpaid.confirmed_at is None and unpaid.hold_until is not None
    paid_later = shop_order(post, 7, [("A-1", 1)], financial_status="pending")
    body = p.dumps(p.shopify_order(7, [("A-1", 1)], financial_status="paid"))
    post("shop", body, p.shopify_headers(body, "orders/paid"))
    paid_later.refresh_from_db()
    assert paid_later.confirmed_at is not None and paid_later.hold_until is None

    assert reservations_expire(now=unpaid.hold_until - dt.timedelta(minutes=1)) == 0
    assert reservations_expire(now=unpaid.hold_until + dt.timedelta(minutes=1)) == 1
    unpaid.refresh_from_db()
    assert unpaid.status == "cancelled"
    assert level("A-1", "WH").reserved == 1  # only the paid order still holds stock
    assert Movement.objects.filter(reason="expiry", quantity=2).exists()


def test_a_policy_changed_between_two_orders_times_the_second_by_the_new_target(channels, post):
    from sla.models import SlaPolicy

    first = shop_order(post, 9101, [("A-1", 1)])
    policy = SlaPolicy.objects.get(channel__isnull=True, kind="acknowledgement")
    policy.target = dt.timedelta(hours=1)
    policy.save()  # as the SLA page saves it
    second = shop_order(post, 9102, [("A-1", 1)])

    def due(order):
        clock = SlaClock.objects.get(order=order, kind="acknowledgement")
        return clock.due_at - clock.started_at

    assert (due(first), due(second)) == (dt.timedelta(hours=2), dt.timedelta(hours=1))
