"""Square: the order poll, and the sales Square's own POS makes.

A fake Square served on 127.0.0.1 (real HTTP; tests/fakes/square.py) validates every request
and answer against Square's OpenAPI spec. The order poll (`POST /v2/orders/search`, updated
since the cursor, oldest first, cursor pages) recovers a dropped webhook exactly once. A sale
at Square's POS (no order IMS takes: its order is completed at the till) is read from
Square's inventory adjustments IN_STOCK → SOLD and recorded once as an IMS POS sale, so the
counts IMS pushes never write the sold units back (issue 17, defect 7)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from catalog.models import Product, ProductAlias
from channels.models import Channel
from channels.sync.engine import sync_channel
from orders.models import ChannelOrder, OrderPoll, PosSale, WebhookDelivery
from orders.services.inbox import webhook_deliveries_replay
from orders.services.poll import orders_poll, pos_sales_read
from tests.fakes.served import served
from tests.fakes.square import API_APP, FakeSquare, check, iso
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

SQUARE_URL = "https://ims.example.com/webhooks/sq/"


@pytest.fixture
def square(channels, monkeypatch):
    """Channel `sq` (Square, push, NYC) live on a fake Square at location L1 whose counts
    match IMS's stock: A-1 3 (IMS: 3 at NYC), B-2 0, W-3 0, each at IMS's price."""
    monkeypatch.setenv("IMS_CHANNEL_SQ_LOCATION_ID", "L1")
    monkeypatch.setenv("IMS_CHANNEL_SQ_WEBHOOK_URL", SQUARE_URL)
    fake = FakeSquare(token="token-sq", location="L1")
    fake.add("A-1", 3, "30.00")
    fake.add("B-2", 0, "8.00")
    fake.add("W-3", 0, "480.00")
    # Square's order lines name their variation: IMS maps it through an alias.
    ProductAlias.objects.create(
        product=Product.objects.get(sku="A-1"), scope="sq", value=fake.by_sku("A-1")
    )
    with served(fake.handle) as url:
        Channel.objects.filter(code="sq").update(base_url=url)
        yield fake


def sq() -> Channel:
    return Channel.objects.get(code="sq")


def online_order(fake: FakeSquare, order_id: str, lines, *, at, state="OPEN") -> dict:
    """An order placed online (Square's own Retrieve shape), updated at `at`."""
    order = {
        "id": order_id,
        "location_id": fake.location,
        "source": {"name": "Square Online"},
        "state": state,
        "version": 2,
        "created_at": iso(at - dt.timedelta(minutes=1)),
        "updated_at": iso(at),
        "line_items": [
            {
                "uid": f"{order_id}-{i}",
                "catalog_object_id": fake.by_sku(sku),
                "name": sku,
                "quantity": str(quantity),
                "base_price_money": {"amount": 3000, "currency": "USD"},
            }
            for i, (sku, quantity) in enumerate(lines)
        ],
    }
    fake.add_order(order)
    return order


def order_webhook(order_id: str, kind="order.created"):
    body = p.dumps(p.square_event(kind, order_id))
    return body, p.square_headers(body, SQUARE_URL)


def counts_webhook(fake: FakeSquare, sku: str):
    event = {
        "merchant_id": "6SSW7HV8K2ST5",
        "type": "inventory.count.updated",
        "event_id": str(uuid.uuid4()),
        "created_at": iso(dt.datetime.now(dt.UTC)),
        "data": {
            "type": "inventory_counts",
            "id": str(uuid.uuid4()),
            "object": {
                "inventory_counts": [
                    {
                        "calculated_at": iso(dt.datetime.now(dt.UTC)),
                        "catalog_object_id": fake.by_sku(sku),
                        "catalog_object_type": "ITEM_VARIATION",
                        "location_id": fake.location,
                        "quantity": str(fake.count(fake.by_sku(sku))),
                        "state": "IN_STOCK",
                    }
                ]
            },
        },
    }
    check("InventoryCountUpdatedEvent", event)
    body = p.dumps(event)
    return body, p.square_headers(body, SQUARE_URL)


# -- the order poll --------------------------------------------------------------------------


def test_the_poll_recovers_a_dropped_square_webhook_exactly_once(square, post, ingest):
    ingest("inventory", "sku_id,location,quantity\nA-1,NYC,6\n")
    now = dt.datetime.now(dt.UTC)
    online_order(square, "ORDKNOWN", [("A-1", 1)], at=now - dt.timedelta(minutes=3))
    lost = online_order(square, "ORDLOST", [("A-1", 2)], at=now - dt.timedelta(minutes=2))
    body, headers = order_webhook("ORDKNOWN")
    assert post("sq", body, headers).json()["processed"] is True  # ORDLOST's webhook is lost
    assert level("A-1", "NYC").reserved == 1
    # A sale at the till: its order is completed, no order to poll; its units are a POS sale.
    square.pos_sale([(square.by_sku("A-1"), 1)], at=now - dt.timedelta(minutes=1))
    square.page = 1  # one order an answer: the poll follows the cursor

    result = orders_poll(channel=sq())

    assert (result.found, result.stored, result.received, result.error) == (2, 2, 1, "")
    assert (result.sales.found, result.sales.recorded) == (1, 1)
    assert ChannelOrder.objects.filter(channel__code="sq").count() == 2
    assert level("A-1", "NYC").reserved == 3
    polled = WebhookDelivery.objects.get(source="poll", delivery_id__startswith="poll:ORDLOST@")
    assert polled.outcome.startswith("order ") and "received" in polled.outcome
    known = WebhookDelivery.objects.get(source="poll", delivery_id__startswith="poll:ORDKNOWN@")
    assert known.outcome == "unchanged"
    assert square.calls.count(("POST", "/v2/orders/search")) == 2

    # Polled again, and the lost webhook finally delivered: nothing changes twice.
    again = orders_poll(channel=sq())
    late, late_headers = order_webhook("ORDLOST")
    assert post("sq", late, late_headers).json()["outcome"] == "unchanged"
    assert (again.found, again.stored) == (2, 0)
    assert ChannelOrder.objects.filter(channel__code="sq").count() == 2
    assert level("A-1", "NYC").reserved == 3
    assert (again.sales.found, again.sales.stored, PosSale.objects.count()) == (1, 0, 1)
    assert level("A-1", "NYC").available == 2  # 6, less 3 reserved and 1 sold at the till
    cursor = OrderPoll.objects.get(channel__code="sq").cursor
    assert cursor == dt.datetime.fromisoformat(lost["updated_at"].replace("Z", "+00:00"))


def test_a_cancellation_found_by_the_square_poll_releases_the_order(square, post):
    now = dt.datetime.now(dt.UTC)
    placed = online_order(square, "ORDGONE", [("A-1", 2)], at=now - dt.timedelta(minutes=5))
    body, headers = order_webhook("ORDGONE")
    post("sq", body, headers)
    assert level("A-1", "NYC").reserved == 2
    square.add_order({**placed, "state": "CANCELED", "version": 3, "updated_at": iso(now)})

    orders_poll(channel=sq())  # order.updated (canceled) was lost

    assert level("A-1", "NYC").reserved == 0
    assert ChannelOrder.objects.get(channel__code="sq").status == "cancelled"


def test_the_square_order_search_is_the_documented_request(square):
    since = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    from channels.adapters import adapter_for

    adapter = adapter_for(sq())
    requests = []
    original = adapter._post
    adapter._post = lambda url, body: (requests.append((url, body)), original(url, body))[1]
    try:
        assert list(adapter.orders_changed(since=since)) == []
    finally:
        adapter.close()
    url, body = requests[0]
    check("SearchOrdersRequest", body)
    assert url == "/v2/orders/search"
    assert body["location_ids"] == ["L1"]
    assert body["query"] == {
        "filter": {
            "date_time_filter": {"updated_at": {"start_at": "2026-12-01T09:30:00.000000Z"}},
            "state_filter": {"states": ["OPEN", "CANCELED", "DRAFT"]},
        },
        "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
    }


# -- sales at Square's own POS (defect 7) -----------------------------------------------------


def test_a_pos_sale_is_recorded_once_and_the_next_push_does_not_write_it_back(square, ingest):
    a1 = square.by_sku("A-1")
    ingest("inventory", "sku_id,location,quantity\nA-1,NYC,8\n")  # a delivery: IMS has 8
    _, (adjustment,) = square.pos_sale([(a1, 2)])  # 2 sold at the till: Square shows 1
    assert square.count(a1) == 1

    run = sync_channel(channel=sq())

    sale = PosSale.objects.get()
    assert (sale.external_id, sale.status, sale.location.code) == (adjustment, "completed", "NYC")
    assert [(line.product.sku, line.quantity) for line in sale.lines.all()] == [("A-1", 2)]
    assert level("A-1", "NYC").available == 6
    # The push sent IMS's 6 (8 received, 2 sold at the POS), not the 8 that would undo the sale.
    assert run.status == "succeeded"
    assert [(ln.sku_id, ln.current, ln.target) for ln in run.lines.all()] == [("A-1", "1", "6")]
    assert square.count(a1) == 6
    delivery = WebhookDelivery.objects.get(delivery_id=f"pos:{adjustment}")
    assert (delivery.source, delivery.topic) == ("poll", "pos_sale")
    assert delivery.outcome == f"POS sale {adjustment} completed"

    # Read again, replayed, polled, synced again: the sale is recorded once, nothing moves.
    read = pos_sales_read(channel=sq())
    assert (read.found, read.stored, read.recorded) == (1, 0, 0)
    assert webhook_deliveries_replay(deliveries=WebhookDelivery.objects.all())["already"] >= 1
    orders_poll(channel=sq())
    again = sync_channel(channel=sq())
    assert again.planned == 0
    assert PosSale.objects.count() == 1 and level("A-1", "NYC").available == 6
    assert square.count(a1) == 6


def test_a_pos_sale_made_while_ims_syncs_is_applied_on_top_of_the_count(square, ingest):
    """The count is stamped with the time up to which IMS's stock includes Square's sales (the
    read just before the plan): a sale after it, not yet in IMS, is not written over, even
    when the channel already shows it as the plan is made."""
    a1 = square.by_sku("A-1")
    ingest("inventory", "sku_id,location,quantity\nA-1,NYC,8\n")
    handle = square.handle
    sold = []

    def sale_at_the_till_as_ims_reads_the_counts(request):
        if request.url.path == "/v2/inventory/counts/batch-retrieve" and not sold:
            sold.append(square.pos_sale([(a1, 2)]))
        return handle(request)

    with served(sale_at_the_till_as_ims_reads_the_counts) as url:
        Channel.objects.filter(code="sq").update(base_url=url)
        run = sync_channel(channel=sq())
        # Square showed 1 (3, less the 2 just sold); IMS, not knowing that sale yet, 8.
        assert [(ln.sku_id, ln.current, ln.target, ln.state) for ln in run.lines.all()] == [
            ("A-1", "1", "8", "sent")
        ]
        assert sold and square.count(a1) == 6  # 8 as of the read, then the sale on top

        # The next sync records the sale: IMS and Square agree, nothing is pushed.
        again = sync_channel(channel=sq())
    assert PosSale.objects.get().external_id == sold[0][1][0]
    assert level("A-1", "NYC").available == 6
    assert again.planned == 0 and square.count(a1) == 6


def test_square_says_its_counts_changed_and_the_pos_sale_is_recorded_at_once(
    square, post, django_capture_on_commit_callbacks
):
    a1 = square.by_sku("A-1")
    _, (adjustment,) = square.pos_sale([(a1, 1)])
    body, headers = counts_webhook(square, "A-1")

    with django_capture_on_commit_callbacks(execute=True):
        answer = post("sq", body, headers).json()

    assert answer["processed"] is True and answer["outcome"].startswith("read the channel's sales")
    assert PosSale.objects.get().external_id == adjustment
    assert level("A-1", "NYC").available == 2
    # Square sends it again (a retry) and once more for the next change: recorded once.
    with django_capture_on_commit_callbacks(execute=True):
        assert post("sq", body, headers).json()["status"] == "duplicate"
        post("sq", *counts_webhook(square, "A-1"))
    assert PosSale.objects.count() == 1 and level("A-1", "NYC").available == 2


def test_only_sales_square_pos_made_without_an_order_ims_takes_are_pos_sales(square, post):
    a1, b2 = square.by_sku("A-1"), square.by_sku("B-2")
    now = dt.datetime.now(dt.UTC)
    # An online order IMS received (webhook), then paid: Square sells its units (its API).
    online_order(square, "ORDWEB", [("A-1", 1)], at=now - dt.timedelta(minutes=4))
    body, headers = order_webhook("ORDWEB")
    post("sq", body, headers)
    square._record(
        "ADJUSTMENT",
        {
            "from_state": "IN_STOCK",
            "to_state": "SOLD",
            "location_id": "L1",
            "catalog_object_id": a1,
            "catalog_object_type": "ITEM_VARIATION",
            "quantity": "1",
            "occurred_at": iso(now - dt.timedelta(minutes=3)),
            "source": API_APP,
            "transaction_id": "ORDWEB",
        },
        now - dt.timedelta(minutes=3),
    )
    # Taken at the till for pickup later: the order is open, IMS takes it as an order.
    square.pos_sale([(a1, 1)], state="OPEN")
    # Units thrown away at the till: no sale.
    square._record(
        "ADJUSTMENT",
        {
            "from_state": "IN_STOCK",
            "to_state": "WASTE",
            "location_id": "L1",
            "catalog_object_id": a1,
            "catalog_object_type": "ITEM_VARIATION",
            "quantity": "1",
            "occurred_at": iso(now),
            "source": {"product": "SQUARE_POS", "name": "Square Point of Sale 6.40"},
        },
        now,
    )
    # Two sales at the till: A-1 (IMS has it at NYC) and B-2 (IMS has none there).
    _, (sold_a1,) = square.pos_sale([(a1, 1)])
    _, (sold_b2,) = square.pos_sale([(b2, 1)])

    read = pos_sales_read(channel=sq())

    assert (read.found, read.stored, read.recorded, read.failed) == (4, 4, 2, 0)
    outcomes = dict(
        WebhookDelivery.objects.filter(topic="pos_sale").values_list("delivery_id", "outcome")
    )
    assert sum("made by EXTERNAL_API" in o for o in outcomes.values()) == 1
    assert sum("open on Square: IMS takes it as an order" in o for o in outcomes.values()) == 1
    assert not any("WASTE" in o for o in outcomes.values())  # never listed as a sale
    sales = dict(PosSale.objects.values_list("external_id", "status"))
    # B-2's needs units IMS does not hold at NYC: the existing POS flow holds it for an admin.
    assert sales == {sold_a1: "completed", sold_b2: "held"}
    assert level("A-1", "NYC").available == 1  # 3, less ORDWEB's 1 reserved and 1 at the till
    assert (
        json.loads(bytes(WebhookDelivery.objects.get(delivery_id=f"pos:{sold_b2}").body))[
            "catalog_object"
        ]["item_variation_data"]["sku"]
        == "B-2"
    )


def test_a_sale_of_an_order_ims_received_is_not_taken_again(square, post):
    """A POS sale whose order reached IMS as an order (it was open when IMS took it): its units
    move with that order, once."""
    a1 = square.by_sku("A-1")
    order_id, (adjustment,) = square.pos_sale([(a1, 2)], state="OPEN")
    square.orders[order_id]["source"] = {"name": "Square Point of Sale 6.40"}
    body, headers = order_webhook(order_id)
    assert post("sq", body, headers).json()["processed"] is True
    assert level("A-1", "NYC").reserved == 2
    square.orders[order_id] = {**square.orders[order_id], "state": "COMPLETED"}  # picked up

    read = pos_sales_read(channel=sq())

    assert (read.found, read.recorded) == (1, 0)
    delivery = WebhookDelivery.objects.get(delivery_id=f"pos:{adjustment}")
    assert delivery.outcome.startswith(f"ignored: sale {adjustment} is of order {order_id}")
    assert not PosSale.objects.exists()
    assert (level("A-1", "NYC").reserved, level("A-1", "NYC").available) == (2, 1)


def test_a_polled_square_order_is_read_as_its_webhook_reads_it(square):
    """The same order by its webhook (read back with RetrieveOrder) and by the poll: one event."""
    from orders.providers.base import Context
    from orders.providers.square import Square
    from orders.services.inbox import channel_http_client

    order = online_order(square, "ORDSAME", [("A-1", 2)], at=dt.datetime.now(dt.UTC))
    provider = Square()
    client = channel_http_client(sq())
    try:
        by_webhook = provider.parse(
            headers={},
            body=order_webhook("ORDSAME", "order.updated")[0],
            ctx=Context(now=None, client=client),
        )
    finally:
        client.close()
    polled = provider.polled(body=p.dumps({"order": order}), ctx=Context(now=None))
    assert polled == by_webhook and polled.order.lines[0].quantity == 2


def test_poll_orders_prints_what_square_pos_sold(square, capsys):
    from django.core.management import call_command

    square.pos_sale([(square.by_sku("A-1"), 1)])
    call_command("poll_orders", "--channel", "sq")
    out = capsys.readouterr().out
    assert "sq: 0 listed, 0 new, 0 order(s) received" in out
    assert "its own POS: 1 sale(s) listed, 1 new, 1 recorded" in out
