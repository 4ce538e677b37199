"""Flipkart's orders come by polling (it has no webhooks IMS can receive): the Orders/Shipments
API v3, `POST /sellers/v3/shipments/filter` and the `nextPageUrl` pages, read from a fake
Flipkart served on 127.0.0.1 (real HTTP) into the same inbox and the same order_receive as
every channel's webhooks. Each shipment is an IMS order."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json

import httpx
import pytest

from channels.models import Channel
from orders.models import ChannelOrder, OrderPoll, WebhookDelivery
from orders.services.poll import orders_poll
from tests.fakes.served import served
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
PRE_DISPATCH = {"APPROVED", "PACKING_IN_PROGRESS", "FORM_FAILED", "PACKED", "READY_TO_DISPATCH"}
CANCELLATION_TYPES = {"sellerCancellation", "buyerCancellation", "marketplaceCancellation"}


def fk_time(moment: dt.datetime) -> str:
    """Flipkart's own form: IST with milliseconds, `2023-06-07T06:03:45.000+05:30`."""
    return moment.astimezone(IST).isoformat(timespec="milliseconds")


def shipment(shipment_id: str, order_id: str, lines, *, at: dt.datetime) -> dict:
    """A shipment as Flipkart lists it: the fields of the SDK's `docs/Shipment.md` and
    `docs/OrderItem.md` (JSON names from its model classes), in the shape a seller
    integration logged from `POST /v3/shipments/filter` (auperator.atlassian.net, "Flipkart
    Partial Cancellation Doc": quantity written `1.0`, IST times). lines: (sku, quantity)."""
    return {
        "shipmentId": shipment_id,
        "dispatchByDate": fk_time(at + dt.timedelta(hours=10)),
        "dispatchAfterDate": fk_time(at + dt.timedelta(minutes=1)),
        "updatedAt": fk_time(at),
        "locationId": "LOC01189f32db684bde949e36a36361d181",
        "hold": False,
        "mps": False,
        "packagingPolicy": "DEFAULT",
        "subShipments": [{"subShipmentId": "SS-1", "packages": []}],
        "orderItems": [
            {
                "orderItemId": f"{order_id[2:]}{i}",
                "orderId": order_id,
                "cancellationGroupId": f"grp{order_id[2:]}{i}",
                "orderDate": fk_time(at - dt.timedelta(minutes=2)),
                "paymentType": "COD",
                "status": "APPROVED",
                "quantity": float(quantity),
                "fsn": f"FSN{sku.replace('-', '')}",
                "sku": sku,
                "listingId": f"LST{sku.replace('-', '')}",
                "hsn": "34011919",
                "title": f"Product {sku}",
                "packageIds": [f"PKG{sku.replace('-', '')}"],
                "priceComponents": {
                    "sellingPrice": 156.0 * quantity,
                    "totalPrice": 159.0 * quantity,
                    "shippingCharge": 3.0,
                    "customerPrice": 159.0 * quantity,
                    "flipkartDiscount": 0.0,
                },
                "serviceProfile": "Seller_Fulfilment",
                "is_replacement": False,
            }
            for i, (sku, quantity) in enumerate(lines)
        ],
        "forms": [],
        "shipmentType": "NORMAL",
    }


def cancel(listed: dict, *, items=None, at: dt.datetime, kind: str = "buyerCancellation"):
    """The shipment with its items (indexes; all by default) cancelled at `at`."""
    listed = json.loads(json.dumps(listed))
    for i, item in enumerate(listed["orderItems"]):
        if items is None or i in items:
            item.update(
                status="CANCELLED",
                cancellationDate=fk_time(at),
                cancellationReason="cancellation_requested",
                cancellationSubReason="order_placed_by_mistake",
            )
    listed["updatedAt"] = fk_time(at)
    listed["cancellationType"] = kind  # the fake's own note: which search finds it
    return listed


class FakeFlipkart:
    """The token at the host's root (`GET /oauth-service/oauth/token`, Basic client id and
    secret) and the v3 shipment search under `/sellers`: `POST /v3/shipments/filter` (filter
    type and states required; preDispatch by `modifiedDate`, cancelled by `cancellationDate`
    with one `cancellationType`; `pagination.pageSize` at most 20), further pages by
    `GET /v3/shipments/filter?next_token=…` as the answer's `nextPageUrl` says."""

    def __init__(self, page_size_max: int = 20):
        self.shipments: dict[str, dict] = {}
        self.page_size_max = page_size_max
        self.requests: list[httpx.Request] = []
        self.searches: list[dict] = []
        self.tokens = 0
        self.valid: set[str] = set()
        self.pages: dict[str, tuple[list[dict], int, int]] = {}
        self.counter = itertools.count(1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/oauth-service/oauth/token":
            return self._token(request)
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401, json={"error": "invalid_token"})
        if path != "/sellers/v3/shipments/filter":
            return httpx.Response(404, json={"errors": [{"description": "no such resource"}]})
        if request.method == "POST":
            return self._search(json.loads(request.content))
        if request.method == "GET":
            token = request.url.params.get("next_token", "")
            if token not in self.pages:
                return httpx.Response(400, json={"errors": [{"description": "bad next_token"}]})
            found, start, size = self.pages.pop(token)
            return self._page(found, start, size)
        return httpx.Response(405)

    def _token(self, request):
        assert request.method == "GET"
        assert request.url.params["grant_type"] == "client_credentials"
        assert request.url.params["scope"] == "Seller_Api"
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme != "Basic" or base64.b64decode(given) != b"app-1:secret-1":
            return httpx.Response(
                401, json={"error": "unauthorized", "error_description": "Bad credentials"}
            )
        self.tokens += 1
        self.valid = {f"tok{self.tokens}"}
        return httpx.Response(
            200,
            json={
                "access_token": f"tok{self.tokens}",
                "token_type": "bearer",
                "expires_in": 3600,
                "scope": "Seller_Api",
            },
        )

    def _search(self, body: dict) -> httpx.Response:
        self.searches.append(body)
        wanted = body.get("filter") or {}
        kind, states = wanted.get("type"), set(wanted.get("states") or [])
        size = (body.get("pagination") or {}).get("pageSize", 20)
        if not states or size > 20:
            return httpx.Response(400, json={"errors": [{"description": "invalid filter"}]})
        if kind == "preDispatch":
            if not states <= PRE_DISPATCH:
                return httpx.Response(400, json={"errors": [{"description": "invalid states"}]})
            frm, to = _window(wanted["modifiedDate"])
            found = [
                s
                for s in self.shipments.values()
                if frm <= _when(s["updatedAt"]) <= to
                and any(i["status"] in states for i in s["orderItems"])
            ]
            found.sort(key=lambda s: _when(s["updatedAt"]))
        elif kind == "cancelled":
            if wanted.get("cancellationType") not in CANCELLATION_TYPES or states != {"CANCELLED"}:
                return httpx.Response(400, json={"errors": [{"description": "invalid filter"}]})
            frm, to = _window(wanted["cancellationDate"])
            found = [
                s
                for s in self.shipments.values()
                if s.get("cancellationType") == wanted["cancellationType"]
                and any(
                    i["status"] == "CANCELLED" and frm <= _when(i["cancellationDate"]) <= to
                    for i in s["orderItems"]
                )
            ]
        else:
            return httpx.Response(400, json={"errors": [{"description": "invalid type"}]})
        listed = [{k: v for k, v in s.items() if k != "cancellationType"} for s in found]
        return self._page(listed, 0, min(size, self.page_size_max))

    def _page(self, found: list[dict], start: int, size: int) -> httpx.Response:
        page = found[start : start + size]
        more = start + size < len(found)
        answer = {"hasMore": more, "shipments": page}
        if more:
            token = f"nt{next(self.counter)}"
            self.pages[token] = (found, start + size, size)
            answer["nextPageUrl"] = f"/v3/shipments/filter?next_token={token}"
        return httpx.Response(200, json=answer)


def _window(dates: dict) -> tuple[dt.datetime, dt.datetime]:
    return _when(dates["from"]), _when(dates["to"])


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def flipkart(channels, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_FK_APP_ID", "app-1")
    monkeypatch.setenv("IMS_CHANNEL_FK_APP_SECRET", "secret-1")
    fake = FakeFlipkart(page_size_max=1)  # one shipment a page: the poll follows nextPageUrl
    with served(fake.handle) as url:
        Channel.objects.filter(code="fk").update(base_url=url + "/sellers")
        yield fake


def poll():
    return orders_poll(channel=Channel.objects.get(code="fk"))


def test_two_new_shipments_are_received_and_reserved_once(flipkart):
    now = dt.datetime.now(dt.UTC)
    flipkart.shipments = {
        "S1": shipment("S1", "OD1001", [("A-1", 2)], at=now - dt.timedelta(minutes=3)),
        "S2": shipment("S2", "OD1002", [("A-1", 1), ("B-2", 4)], at=now - dt.timedelta(minutes=2)),
    }

    result = poll()

    assert (result.found, result.stored, result.received, result.error) == (2, 2, 2, "")
    orders = {o.external_id: o for o in ChannelOrder.objects.filter(channel__code="fk")}
    assert set(orders) == {"S1", "S2"}
    assert (orders["S1"].name, orders["S1"].currency, orders["S1"].status) == (
        "OD1001",
        "INR",
        "reserved",
    )
    assert [
        (ln.external_id, ln.sku, ln.quantity) for ln in orders["S2"].lines.order_by("position")
    ] == [
        ("10020", "A-1", 1),
        ("10021", "B-2", 4),
    ]
    assert orders["S1"].lines.get().unit_price is None  # 2 units: per unit or in all, unsaid
    assert orders["S2"].lines.get(sku="A-1").unit_price == 156  # one unit: its selling price
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    # The search Flipkart's docs define: preDispatch by modifiedDate, and each cancellation type.
    pre = flipkart.searches[0]
    assert pre["filter"]["type"] == "preDispatch"
    assert set(pre["filter"]["states"]) == PRE_DISPATCH
    assert set(pre["filter"]["modifiedDate"]) == {"from", "to"}
    assert {
        s["filter"].get("cancellationType") for s in flipkart.searches[1:]
    } == CANCELLATION_TYPES
    assert any("next_token" in str(r.url) for r in flipkart.requests)  # the second page
    assert flipkart.tokens == 1

    again = poll()

    assert (again.found, again.stored, again.received, again.error) == (2, 0, 0, "")
    assert ChannelOrder.objects.filter(channel__code="fk").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    assert WebhookDelivery.objects.filter(channel__code="fk", source="poll").count() == 2


def test_a_shipment_changed_on_flipkart_is_stored_once_more_and_changes_nothing(flipkart):
    now = dt.datetime.now(dt.UTC)
    placed = shipment("S3", "OD1003", [("B-2", 2)], at=now - dt.timedelta(minutes=9))
    flipkart.shipments = {"S3": placed}
    poll()
    packed = json.loads(json.dumps(placed))
    packed["orderItems"][0]["status"] = "PACKED"
    packed["updatedAt"] = fk_time(now - dt.timedelta(minutes=1))
    flipkart.shipments = {"S3": packed}

    result = poll()

    assert (result.found, result.stored, result.received) == (1, 1, 0)
    row = WebhookDelivery.objects.filter(channel__code="fk").latest("pk")
    assert row.outcome == "unchanged"
    assert level("B-2", "WH").reserved == 2


def test_a_cancelled_shipment_releases_its_stock(flipkart):
    now = dt.datetime.now(dt.UTC)
    placed = shipment("S4", "OD1004", [("A-1", 2), ("B-2", 3)], at=now - dt.timedelta(minutes=8))
    flipkart.shipments = {"S4": placed}
    poll()
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (2, 3)
    flipkart.shipments = {"S4": cancel(placed, at=now - dt.timedelta(minutes=1))}

    result = poll()

    assert (result.found, result.stored, result.error) == (1, 1, "")
    order = ChannelOrder.objects.get(channel__code="fk", external_id="S4")
    assert order.status == "cancelled"
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (0, 0)
    assert (level("A-1", "WH").available, level("B-2", "WH").available) == (5, 10)
    assert poll().stored == 0


def test_an_item_cancelled_alone_releases_only_its_units_and_once(flipkart):
    now = dt.datetime.now(dt.UTC)
    placed = shipment("S5", "OD1005", [("A-1", 1), ("B-2", 2)], at=now - dt.timedelta(minutes=8))
    flipkart.shipments = {"S5": placed}
    poll()
    part = cancel(placed, items={1}, at=now - dt.timedelta(minutes=4), kind="sellerCancellation")
    flipkart.shipments = {"S5": part}
    poll()
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (1, 0)

    # Listed again after another change (the live item packed): its cancelled item again.
    packed = json.loads(json.dumps(part))
    packed["orderItems"][0]["status"] = "PACKED"
    packed["updatedAt"] = fk_time(now - dt.timedelta(minutes=1))
    flipkart.shipments = {"S5": packed}
    result = poll()

    assert (result.stored, result.failed) == (1, 0)
    assert WebhookDelivery.objects.filter(channel__code="fk").latest("pk").outcome == (
        "nothing left to cancel"
    )
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (1, 0)
    line = ChannelOrder.objects.get(external_id="S5").lines.get(sku="B-2")
    assert (line.cancelled, line.reserved) == (2, 0)


def test_a_shipment_cancelled_before_ims_saw_it_takes_nothing(flipkart):
    now = dt.datetime.now(dt.UTC)
    placed = shipment("S6", "OD1006", [("A-1", 1), ("B-2", 1)], at=now - dt.timedelta(minutes=8))
    flipkart.shipments = {
        "S6": cancel(placed, items={0}, at=now - dt.timedelta(minutes=2)),
        "S7": cancel(
            shipment("S7", "OD1007", [("A-1", 4)], at=now - dt.timedelta(minutes=7)),
            at=now - dt.timedelta(minutes=2),
            kind="marketplaceCancellation",
        ),
    }

    poll()

    partly = ChannelOrder.objects.get(external_id="S6")
    assert [ln.sku for ln in partly.lines.all()] == ["B-2"]  # received without its cancelled item
    assert ChannelOrder.objects.get(external_id="S7").status == "cancelled"
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (0, 1)


def test_a_token_flipkart_refuses_is_kept_as_the_polls_error(flipkart, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_FK_APP_SECRET", "wrong")
    flipkart.shipments = {
        "S8": shipment("S8", "OD1008", [("A-1", 1)], at=dt.datetime.now(dt.UTC)),
    }

    result = poll()

    assert "Flipkart refused a token" in result.error and "HTTP 401" in result.error
    assert "IMS_CHANNEL_FK_APP_SECRET" in result.error and "wrong" not in result.error
    state = OrderPoll.objects.get(channel__code="fk")
    assert state.cursor is None and state.error == result.error
    assert not ChannelOrder.objects.filter(channel__code="fk").exists()
    assert not any(r.url.path.startswith("/sellers") for r in flipkart.requests)

    monkeypatch.setenv("IMS_CHANNEL_FK_APP_SECRET", "secret-1")
    assert poll().error == ""
    assert OrderPoll.objects.get(channel__code="fk").error == ""
    assert ChannelOrder.objects.filter(channel__code="fk").count() == 1


def test_a_listed_shipment_that_cannot_be_read_is_kept_with_why(flipkart):
    broken = shipment("S9", "OD1009", [("A-1", 1)], at=dt.datetime.now(dt.UTC))
    broken["orderItems"][0]["quantity"] = 1.5
    flipkart.shipments = {"S9": broken}

    result = poll()

    assert (result.found, result.stored, result.failed) == (1, 1, 1)
    row = WebhookDelivery.objects.get(channel__code="fk")
    assert row.processed_at is None and "quantity '1.5'" in row.error


def test_a_channel_whose_orders_a_relay_posts_can_turn_the_poll_off(flipkart, monkeypatch):
    from orders.services.poll import NoOrderPoll, orders_poll_all

    monkeypatch.setenv("IMS_CHANNEL_FK_ORDER_POLL", "off")
    flipkart.shipments = {
        "S10": shipment("S10", "OD1010", [("A-1", 1)], at=dt.datetime.now(dt.UTC))
    }
    with pytest.raises(NoOrderPoll):
        poll()
    assert "fk" not in [r.channel for r in orders_poll_all()]
    assert not flipkart.requests
