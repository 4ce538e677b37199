"""Amazon's order poll, the safety net for ORDER_CHANGE notifications that never arrived:
Orders API 2026-01-01 searchOrders on a fake SP-API served on 127.0.0.1 (real HTTP, answers
validated against Amazon's model) lands in the same inbox as the notifications. An order
listed by the poll means what its ORDER_CHANGE means."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from channels.models import Channel
from ims.http import _storage
from orders.models import ChannelOrder, OrderPoll, WebhookDelivery
from orders.providers import provider_for
from orders.providers.base import BadDelivery, Context, EventKind, event_of
from orders.services.poll import orders_poll
from tests.fakes.amazon import FakeAmazon, searched_order
from tests.fakes.served import served
from tests.fakes.specs import amazon_model, swagger_validator
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """searchOrders allows 20 calls an hour: each test starts with the window empty."""
    _storage().reset()
    yield
    _storage().reset()


@pytest.fixture
def amazon(channels, monkeypatch):
    fake = FakeAmazon(seller="A1SELLER")
    fake.orders_page_max = 1  # one order a page: the poll follows paginationToken
    with served(fake.handle) as url:
        for name, value in {
            "SELLER_ID": "A1SELLER",
            "LWA_CLIENT_ID": "amzn1.application-oa2-client.x",
            "LWA_CLIENT_SECRET": "secret-x",
            "REFRESH_TOKEN": "Atzr|refresh",
            "LWA_URL": f"{url}/auth/o2/token",
        }.items():
            monkeypatch.setenv(f"IMS_CHANNEL_MARKET_{name}", value)
        Channel.objects.filter(code="market").update(base_url=url)
        yield fake


def market() -> Channel:
    return Channel.objects.get(code="market")


def relayed(post, notification: dict):
    body = p.dumps(notification)
    response = post("market", body, p.ims_headers(body))
    assert response.status_code == 200, response.content
    return response.json()


def test_the_poll_recovers_a_dropped_order_change_exactly_once(amazon, post):
    now = dt.datetime.now(dt.UTC)
    known_at, lost_at = now - dt.timedelta(minutes=3), now - dt.timedelta(minutes=2)
    relayed(post, p.amazon_notification("111-0000001-0000001", [("A-1", 2)], at=known_at))
    lost = p.amazon_notification("111-0000002-0000002", [("A-1", 1), ("B-2", 4)], at=lost_at)
    amazon.add_order(searched_order("111-0000001-0000001", [("A-1", 2)], created=known_at))
    amazon.add_order(
        searched_order("111-0000002-0000002", [("A-1", 1), ("B-2", 4)], created=lost_at)
    )

    result = orders_poll(channel=market())

    assert (result.found, result.stored, result.received, result.error) == (2, 2, 1, "")
    assert ChannelOrder.objects.filter(channel__code="market").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    recovered = WebhookDelivery.objects.get(
        source="poll", delivery_id__startswith="poll:111-0000002-0000002@"
    )
    assert recovered.outcome.startswith("order ") and "received" in recovered.outcome
    order = ChannelOrder.objects.get(external_id="111-0000002-0000002")
    assert sorted(order.lines.values_list("external_id", "quantity")) == [
        ("OIID0", 1),
        ("OIID1", 4),
    ]
    known = WebhookDelivery.objects.get(
        source="poll", delivery_id__startswith="poll:111-0000001-0000001@"
    )
    assert known.outcome == "unchanged"
    first = amazon.order_requests[0]
    assert (first["marketplaceIds"], first["includedData"]) == ("ATVPDKIKX0DER", "FULFILLMENT")
    assert "lastUpdatedAfter" in first and "paginationToken" in amazon.order_requests[1]

    # Polled again, and the lost notification finally delivered: nothing changes twice.
    again = orders_poll(channel=market())
    assert (again.found, again.stored) == (2, 0)
    assert relayed(post, lost)["outcome"] == "unchanged"
    assert ChannelOrder.objects.filter(channel__code="market").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    assert OrderPoll.objects.get(channel__code="market").cursor == lost_at


def test_a_cancellation_found_by_the_poll_releases_the_order(amazon, post):
    now = dt.datetime.now(dt.UTC)
    placed_at = now - dt.timedelta(minutes=5)
    relayed(post, p.amazon_notification("111-0000003-0000003", [("A-1", 2)], at=placed_at))
    assert level("A-1", "WH").reserved == 2
    amazon.add_order(
        searched_order(
            "111-0000003-0000003", [("A-1", 2)], status="CANCELLED", created=placed_at, updated=now
        )
    )  # its ORDER_CHANGE (Canceled) was lost

    orders_poll(channel=market())

    assert level("A-1", "WH").reserved == 0
    assert ChannelOrder.objects.get(channel__code="market").status == "cancelled"


def test_an_order_fulfilled_by_amazon_found_by_the_poll_reserves_nothing(amazon):
    amazon.add_order(
        searched_order(
            "111-0000004-0000004",
            [("A-1", 2)],
            fulfilled_by="AMAZON",
            created=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        )
    )
    result = orders_poll(channel=market())
    assert (result.found, result.stored, result.received) == (1, 1, 0)
    row = WebhookDelivery.objects.get(source="poll")
    assert row.processed_at and "fulfilled by Amazon (AFN)" in row.outcome
    assert not ChannelOrder.objects.exists() and level("A-1", "WH").reserved == 0


def test_a_listed_order_without_its_fulfilment_cannot_be_read():
    order = searched_order("111-0000005-0000005", [("A-1", 1)], created=dt.datetime.now(dt.UTC))
    body = json.dumps({k: v for k, v in order.items() if k != "fulfillment"}).encode()
    provider = provider_for("amazon")
    with pytest.raises(BadDelivery, match="fulfillmentStatus is missing"):
        event_of(
            provider, headers={}, body=body, ctx=Context(now=dt.datetime.now(dt.UTC)), polled=True
        )


def _event(notification: dict | None = None, order: dict | None = None):
    ctx = Context(now=dt.datetime.now(dt.UTC))
    provider = provider_for("amazon")
    if notification is not None:
        return event_of(provider, headers={}, body=p.dumps(notification), ctx=ctx)
    return event_of(provider, headers={}, body=json.dumps(order).encode(), ctx=ctx, polled=True)


@pytest.mark.parametrize(
    ("notified", "listed"),
    [
        ({"status": "Unshipped"}, {"status": "UNSHIPPED"}),
        ({"status": "Pending"}, {"status": "PENDING"}),
        ({"status": "PendingAvailability"}, {"status": "PENDING_AVAILABILITY"}),
        ({"status": "Shipped"}, {"status": "SHIPPED"}),
        ({"status": "Unshipped", "fulfillment": "AFN"}, {"fulfilled_by": "AMAZON"}),
        ({"status": "Canceled"}, {"status": "CANCELLED"}),
    ],
)
def test_a_listed_order_means_what_its_order_change_means(notified, listed):
    """Same order, same event: line ids (OrderItemId), SellerSKUs, quantities, whether it is
    paid, AFN lines not stocked, Canceled cancels."""
    at = dt.datetime(2026, 11, 22, 9, 30, 15, 250000, tzinfo=dt.UTC)
    lines = [("A-1", 2), ("B-2", 1)]
    change = _event(
        notification=p.amazon_notification("111-0000006-0000006", lines, at=at, **notified)
    )
    order = searched_order("111-0000006-0000006", lines, created=at, **listed)
    assert not list(
        swagger_validator(amazon_model("orders_2026-01-01.json"), "Order").iter_errors(order)
    )
    polled = _event(order=order)
    assert polled.kind == change.kind and polled.order_external_id == change.order_external_id
    assert polled.order == change.order
    if change.kind == EventKind.ORDER:
        assert [(li.external_id, li.sku, li.quantity) for li in polled.order.lines] == [
            ("OIID0", "A-1", 2),
            ("OIID1", "B-2", 1),
        ]
        assert polled.order.confirmed == (
            listed.get("status") not in ("PENDING", "PENDING_AVAILABILITY")
        )
        assert all(bool(li.not_stocked) == ("fulfilled_by" in listed) for li in polled.order.lines)
