"""Shopify's order poll, the safety net for lost webhooks: `orders(sortKey: UPDATED_AT, query:
"updated_at:>='…'")` over the Admin GraphQL API (2026-04), read by the provider's `polled`
into the same order its webhook gives. The fake Shopify keeps each order as its REST body
(what the webhook carries) and answers the GraphQL query by executing it against the 2026-04
schema, so every answer has the schema's types; it is served on 127.0.0.1 (real HTTP)."""

from __future__ import annotations

import copy
import datetime as dt
import json

import httpx
import pytest

from channels.adapters.base import AdapterConfig
from channels.adapters.shopify import (
    LINE_PAGE,
    ORDER_LINES_QUERY,
    ORDER_PAGE,
    ORDERS_QUERY,
    ShopifyAdapter,
)
from channels.models import Channel
from orders.models import ChannelOrder, OrderPoll, WebhookDelivery
from orders.providers.base import BadDelivery, Context, EventKind
from orders.providers.shopify import Shopify
from orders.services.poll import orders_poll
from standins.shopify import FakeShopify
from tests.fakes.clock import VirtualClock
from tests.fakes.specs import shopify_errors, specs_dir
from tests.orders import payloads as p
from tests.orders.conftest import level

TOKEN = "token-shop"  # the `secrets` fixture's IMS_CHANNEL_SHOP_ACCESS_TOKEN


def rest_sample() -> dict:
    """Shopify's own REST 2026-04 order (450789469): three lines, partially refunded."""
    path = specs_dir() / "shopify" / "samples" / "rest-2026-04-order-get-response.json"
    return json.loads(path.read_text())["order"]


def adapter_over(fake: FakeShopify, clock: VirtualClock | None = None) -> ShopifyAdapter:
    clock = clock or VirtualClock()
    config = AdapterConfig(
        code="shop",
        kind="shopify",
        base_url="https://shop.test",
        currency="USD",
        env_prefix="IMS_CHANNEL_SHOP_",
        environ={"IMS_CHANNEL_SHOP_ACCESS_TOKEN": TOKEN},
    )
    return ShopifyAdapter(
        config, transport=httpx.MockTransport(fake.handle), sleep=clock.sleep, clock=clock.now
    )


def listed(order: dict) -> bytes:
    """The order as the poll hands it over: the GraphQL node the adapter read from the fake."""
    fake = FakeShopify(token=TOKEN)
    fake.add_order(order)
    [change] = adapter_over(fake).orders_changed(since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert change.external_id == str(order["id"])
    return change.body


def both(order: dict):
    """(the webhook's event, the poll's event) of one order."""
    body = json.dumps(order).encode()
    headers = {"X-Shopify-Topic": "orders/updated"}
    webhook = Shopify().parse(headers=headers, body=body, ctx=Context(now=None))
    polled = Shopify().polled(body=listed(order), ctx=Context(now=None))
    return webhook, polled


def test_the_documents_are_valid_against_2026_04():
    assert shopify_errors(ORDERS_QUERY, "2026-04") == []
    assert shopify_errors(ORDER_LINES_QUERY, "2026-04") == []


def test_shopifys_rest_sample_and_its_graphql_view_are_the_same_order():
    """Shopify's own sample order read from its REST body (the webhook) and from the GraphQL
    node the poll lists: the same OrderIn, with the REST numeric ids (not gids)."""
    webhook, polled = both(rest_sample())
    assert webhook == polled
    assert polled.kind == EventKind.ORDER and polled.order_external_id == "450789469"
    order = polled.order
    assert [line.external_id for line in order.lines] == ["466157049", "518995019", "703073504"]
    assert [line.item_id for line in order.lines] == ["39072856", "49148385", "457924702"]
    assert [line.quantity for line in order.lines] == [1, 1, 1]  # `quantity`, as the webhook
    assert order.name == "#1001" and order.confirmed and order.customer_name == "Bob Norman"
    assert str(order.lines[0].unit_price) == "199.00"


def line_variant(order: dict, index: int, **changes) -> dict:
    order["line_items"][index].update(changes)
    return order


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda o: line_variant(o, 0, gift_card=True), "gift card"),
        (lambda o: line_variant(o, 1, requires_shipping=False), "needs no shipping"),
        (lambda o: line_variant(o, 2, sku="", variant_id=None), "no SKU and no variant"),
    ],
)
def test_lines_not_stocked_are_read_alike(change, why):
    webhook, polled = both(change(rest_sample()))
    assert webhook == polled
    assert why in [line.not_stocked for line in polled.order.lines]


def test_pending_payment_cancellation_and_a_customer_without_contact_are_read_alike():
    pending = {**rest_sample(), "financial_status": "pending"}
    webhook, polled = both(pending)
    assert webhook == polled and polled.order.confirmed is False

    cancelled = {
        **rest_sample(),
        "cancelled_at": "2008-01-10T12:00:00-05:00",
        "cancel_reason": "inventory",
    }
    webhook, polled = both(cancelled)
    assert webhook == polled
    assert (polled.kind, polled.reason, polled.order.cancelled) == (
        EventKind.CANCEL,
        "inventory",
        True,
    )

    anonymous = {**rest_sample(), "email": None, "phone": None}
    anonymous["customer"] = {**anonymous["customer"], "first_name": None}
    webhook, polled = both(anonymous)
    assert webhook == polled
    assert (polled.order.customer_email, polled.order.customer_phone) == (
        "bob.norman@mail.example.com",
        "+16136120707",
    )


def test_a_listed_order_that_is_not_an_order_is_refused():
    with pytest.raises(BadDelivery, match="LineItem"):
        node = json.loads(listed(rest_sample()))
        node["lineItems"]["nodes"][0]["id"] = "gid://shopify/Product/1"
        Shopify().polled(body=json.dumps(node).encode(), ctx=Context(now=None))
    with pytest.raises(BadDelivery):
        Shopify().polled(body=b'{"id": "gid://shopify/Order/1"}', ctx=Context(now=None))


def test_the_poll_reads_every_page_of_orders_and_every_line_paced_by_the_cost_bucket():
    """ORDER_PAGE + 2 orders and one with more lines than a page: the orders are listed
    oldest change first over two pages, the big order's lines are read to the end, and the
    cost bucket (here a small one) is waited for, so Shopify throttles nothing."""
    clock = VirtualClock()
    fake = FakeShopify(token=TOKEN, clock=clock.now, maximum=1000, restore_rate=50)
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    count = ORDER_PAGE + 2
    for n in range(count):
        at = start + dt.timedelta(minutes=count - n)  # the newest order has the lowest id
        fake.add_order(p.shopify_order(5000 + n, [("A-1", 1)], at=at))
    big = p.shopify_order(6000, [(f"S-{i}", 1) for i in range(LINE_PAGE + 5)], at=start)
    fake.add_order(big)
    fake.add_order(p.shopify_order(4000, [("A-1", 1)], at=start - dt.timedelta(hours=1)))

    changes = list(adapter_over(fake, clock).orders_changed(since=start))

    assert [c.external_id for c in changes] == ["6000"] + [
        str(5000 + n) for n in reversed(range(count))
    ]
    assert [c.changed_at for c in changes] == sorted(c.changed_at for c in changes)
    lines = Shopify().polled(body=changes[0].body, ctx=Context(now=None)).order.lines
    assert [line.sku for line in lines] == [f"S-{i}" for i in range(LINE_PAGE + 5)]
    assert fake.requests == ["Orders", "OrderLines", "Orders"]
    assert fake.throttled == 0 and clock.slept > 0


# --- over real HTTP, through orders_poll ---------------------------------------------------


@pytest.fixture
def shopify(channels):
    fake = FakeShopify(token=TOKEN)
    with fake.serve() as url:
        Channel.objects.filter(code="shop").update(base_url=url)
        yield fake


def webhook(post, order: dict, topic: str = "orders/create"):
    body = p.dumps(order)
    return post("shop", body, p.shopify_headers(body, topic))


@pytest.mark.django_db
def test_the_poll_recovers_a_dropped_shopify_webhook_exactly_once(shopify, post):
    now = dt.datetime.now(dt.UTC)
    known = p.shopify_order(7001, [("A-1", 2)], at=now - dt.timedelta(minutes=3))
    lost = p.shopify_order(7002, [("A-1", 1), ("B-2", 4)], at=now - dt.timedelta(minutes=2))
    shopify.add_order(known)
    shopify.add_order(lost)
    assert webhook(post, known).json()["processed"]  # 7002's orders/create is dropped

    result = orders_poll(channel=Channel.objects.get(code="shop"))

    assert (result.found, result.stored, result.received, result.error) == (2, 2, 1, "")
    assert ChannelOrder.objects.filter(channel__code="shop").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    polled = WebhookDelivery.objects.get(source="poll", delivery_id__startswith="poll:7002@")
    assert polled.outcome.startswith("order ") and "received" in polled.outcome
    order = ChannelOrder.objects.get(channel__code="shop", external_id="7002")
    assert sorted(order.lines.values_list("external_id", flat=True)) == ["700200", "700201"]
    assert WebhookDelivery.objects.get(
        source="poll", delivery_id__startswith="poll:7001@"
    ).outcome == ("unchanged")
    assert set(shopify.versions) == {"2026-04"} and shopify.requests == ["Orders"]

    # Polled again, and the lost webhook finally delivered: nothing changes twice.
    again = orders_poll(channel=Channel.objects.get(code="shop"))
    assert (again.found, again.stored) == (2, 0)
    assert webhook(post, lost).json()["outcome"] == "unchanged"
    assert ChannelOrder.objects.filter(channel__code="shop").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    cursor = OrderPoll.objects.get(channel__code="shop").cursor
    assert cursor == dt.datetime.fromisoformat(lost["updated_at"]).replace(microsecond=0)


@pytest.mark.django_db
def test_a_cancellation_found_only_by_the_poll_releases_the_stock(shopify, post):
    now = dt.datetime.now(dt.UTC)
    placed = p.shopify_order(7010, [("A-1", 2)], at=now - dt.timedelta(minutes=5))
    assert webhook(post, placed).json()["processed"]
    assert level("A-1", "WH").reserved == 2
    cancelled = copy.deepcopy(placed)
    cancelled.update(
        updated_at=now.isoformat(), cancelled_at=now.isoformat(), cancel_reason="customer"
    )
    shopify.add_order(cancelled)  # its orders/cancelled webhook was lost

    orders_poll(channel=Channel.objects.get(code="shop"))

    assert level("A-1", "WH").reserved == 0
    assert ChannelOrder.objects.get(channel__code="shop").status == "cancelled"
    row = WebhookDelivery.objects.get(source="poll")
    assert "cancelled" in row.outcome, row.outcome


@pytest.mark.django_db
def test_a_shop_that_refuses_the_token_keeps_the_cursor(shopify, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_ACCESS_TOKEN", "wrong")
    result = orders_poll(channel=Channel.objects.get(code="shop"))
    assert "HTTP 401" in result.error
    assert OrderPoll.objects.get(channel__code="shop").cursor is None
