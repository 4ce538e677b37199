"""BigCommerce's order poll: the store's orders modified since the cursor (`GET /v2/orders`,
`min_date_modified`, `sort=date_modified:asc`, `page`, `limit`) with each order's products,
from a fake of the store served on 127.0.0.1 (real HTTP) that keeps to BigCommerce's Orders v2
document (../shared/specs/bigcommerce/reference/orders.v2.oas2.yml.gz): its query parameters
are the documented ones, and every order and product it answers validates against the
document's schemas. A dropped webhook's order is received exactly once; an order whose
webhook arrived, or one polled again, changes nothing."""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json

import httpx
import pytest

from channels.models import Channel
from orders.models import ChannelOrder, OrderPoll, WebhookDelivery
from orders.services.poll import orders_poll
from tests.fakes.served import served
from tests.fakes.specs import bigcommerce_orders_spec, openapi_validator
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

STORE = "/stores/abc123"


def documented(name: str) -> dict:
    """The example of one of the document's responses (its first value)."""
    content = bigcommerce_orders_spec()["components"]["responses"][name]["content"]
    example = next(iter(content["application/json"]["examples"].values()))["value"]
    return copy.deepcopy(example[0] if isinstance(example, list) else example)


def rfc2822(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0))


def check(component: str, body) -> None:
    errors = list(openapi_validator(bigcommerce_orders_spec(), component).iter_errors(body))
    assert not errors, f"{component}: {errors[0].message} at {list(errors[0].path)}"


class FakeBigCommerceOrders:
    """The store's Orders v2 as documented: `GET /v2/orders` (filters by min_date_modified,
    RFC 2822 or ISO 8601, inclusive; sort `<field>:<asc|desc>`; page; limit, default 50;
    204 with no body when nothing matches), `GET /v2/orders/{id}`, `GET
    /v2/orders/{id}/products` (page, limit); `X-Auth-Token`. `touched` is called after each
    page of orders is answered (a shopper changing an order while IMS reads the pages)."""

    def __init__(self, token: str):
        self.token = token
        self.orders: dict[int, dict] = {}
        self.products: dict[int, list[dict]] = {}
        self.requests: list[httpx.Request] = []
        self.touched = None
        spec = bigcommerce_orders_spec()
        self.params = {
            resolved["name"]
            for param in spec["paths"]["/orders"]["get"]["parameters"]
            if (
                resolved := spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
                if "$ref" in param
                else param
            )["in"]
            == "query"
        }

    def add(self, order_id: int, lines, *, at: dt.datetime, status_id: int = 11) -> dict:
        """An order (the document's own example, renumbered) with these (sku, quantity) lines,
        last modified at `at`."""
        order = documented("orderCollection_Resp")
        order.update(
            id=order_id,
            date_created=rfc2822(at - dt.timedelta(minutes=1)),
            date_modified=rfc2822(at),
            status_id=status_id,
            status={11: "Awaiting Fulfillment", 5: "Cancelled"}.get(status_id, "Pending"),
            items_total=sum(q for _, q in lines),
        )
        order["products"]["resource"] = f"/orders/{order_id}/products"
        check("order_Resp", order)
        self.orders[order_id] = order
        item = documented("orderProductsCollection_Resp")
        self.products[order_id] = [
            {**item, "id": order_id * 100 + i, "order_id": order_id, "sku": sku, "quantity": q}
            for i, (sku, q) in enumerate(lines)
        ]
        for product in self.products[order_id]:
            check("orderProducts", product)
        return order

    def modify(self, order_id: int, at: dt.datetime, **fields) -> None:
        self.orders[order_id].update(date_modified=rfc2822(at), **fields)
        check("order_Resp", self.orders[order_id])

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("x-auth-token") != self.token:
            return httpx.Response(401, json=[{"status": 401, "message": "no valid token"}])
        path = request.url.path.removeprefix(STORE)
        params = request.url.params
        if path == "/v2/orders":
            assert set(params) <= self.params, (
                f"undocumented parameters {set(params) - self.params}"
            )
            field, _, direction = params.get("sort", "id:asc").partition(":")
            assert field in {"id", "date_modified", "date_created"} and direction in ("asc", "desc")
            start = params.get("min_date_modified")
            floor = _when(start) if start else None
            rows = sorted(
                (
                    o
                    for o in self.orders.values()
                    if floor is None
                    or email.utils.parsedate_to_datetime(o["date_modified"]) >= floor
                ),
                key=lambda o: (
                    email.utils.parsedate_to_datetime(o[field]) if field != "id" else 0,
                    o["id"],
                ),
                reverse=direction == "desc",
            )
            page = self._page(rows, params)
            if not page:
                return httpx.Response(204)
            answer = httpx.Response(200, json=page)
            if self.touched:
                self.touched(self)
            return answer
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v2", "orders"] and parts[2].isdigit():
            order_id = int(parts[2])
            if order_id not in self.orders:
                return httpx.Response(404, json=[{"status": 404, "message": "not found"}])
            if len(parts) == 3:
                return httpx.Response(200, json=self.orders[order_id])
            if parts[3:] == ["products"]:
                return httpx.Response(200, json=self._page(self.products[order_id], params))
        return httpx.Response(404, json=[{"status": 404, "message": "no route"}])

    @staticmethod
    def _page(rows: list, params) -> list:
        limit, page = int(params.get("limit", 50)), int(params.get("page", 1))
        return rows[(page - 1) * limit : page * limit]


def _when(text: str) -> dt.datetime:
    """min_date_modified as documented: RFC 2822 (`Thu, 20 Apr 2017 11:32:00 -0400`) or ISO
    8601 (`2017-04-20T11:32:00.000-04:00`)."""
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return dt.datetime.fromisoformat(text)


@pytest.fixture
def store(channels):
    """Channel `bc` (BigCommerce, push, WH) live on the fake store."""
    fake = FakeBigCommerceOrders("token-bc")
    with served(fake.handle) as url:
        Channel.objects.filter(code="bc").update(base_url=url + STORE)
        yield fake


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of two (orders and products): a short page is one of fewer than two."""
    monkeypatch.setattr("channels.adapters.bigcommerce.V2_LIMIT", 2)
    monkeypatch.setattr("channels.adapters.bigcommerce.V2_DEFAULT", 2)


def webhook(order_id: int, scope="store/order/created"):
    body = p.dumps(p.bigcommerce_event(order_id, scope))
    return body, p.bigcommerce_headers(body)


def bc() -> Channel:
    return Channel.objects.get(code="bc")


def test_the_poll_recovers_a_dropped_bigcommerce_webhook_exactly_once(store, post, small_pages):
    now = dt.datetime.now(dt.UTC)
    store.add(501, [("A-1", 2)], at=now - dt.timedelta(minutes=4))
    store.add(502, [("B-2", 1)], at=now - dt.timedelta(minutes=3))
    lost = store.add(503, [("A-1", 1), ("B-2", 4)], at=now - dt.timedelta(minutes=2))
    for order_id in (501, 502):  # 503's webhook is lost
        assert post("bc", *webhook(order_id)).json()["processed"] is True
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (2, 1)

    result = orders_poll(channel=bc())

    assert (result.found, result.stored, result.received, result.error) == (3, 3, 1, "")
    assert ChannelOrder.objects.filter(channel__code="bc").count() == 3
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 5)
    polled = WebhookDelivery.objects.get(source="poll", delivery_id__startswith="poll:503@")
    assert polled.outcome.startswith("order ") and "received" in polled.outcome
    body = json.loads(bytes(polled.body))
    assert body["order"]["id"] == 503 and [x["sku"] for x in body["products"]] == ["A-1", "B-2"]
    for known in (501, 502):
        row = WebhookDelivery.objects.get(source="poll", delivery_id__startswith=f"poll:{known}@")
        assert row.outcome == "unchanged"
    # The documented request: RFC 2822 start, oldest change first, paged.
    listed = [r.url.params for r in store.requests if r.url.path == f"{STORE}/v2/orders"]
    assert [q["sort"] for q in listed] == ["date_modified:asc"] * len(listed)
    assert all(email.utils.parsedate_to_datetime(q["min_date_modified"]) for q in listed)
    assert len(listed) >= 2

    # Polled again, and the lost webhook finally delivered: nothing changes twice.
    again = orders_poll(channel=bc())
    assert post("bc", *webhook(503, "store/order/updated")).json()["outcome"] == "unchanged"
    assert (again.found, again.stored) == (3, 0)
    assert ChannelOrder.objects.filter(channel__code="bc").count() == 3
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 5)
    cursor = OrderPoll.objects.get(channel__code="bc").cursor
    assert cursor == email.utils.parsedate_to_datetime(lost["date_modified"])


def test_an_order_changed_while_the_pages_are_read_shifts_no_order_out_of_the_poll(
    store, small_pages
):
    """Sorted by date_modified, an order changed after its page was read moves to the end
    and every later order one place up: read by page number, the next page would start one
    order too late. The poll starts again after the last order it read instead."""
    now = dt.datetime.now(dt.UTC)
    for n in range(5):
        store.add(601 + n, [("A-1", 1)], at=now - dt.timedelta(minutes=10 - n))

    def shopper_edits_601_once(fake):
        if fake.orders[601]["status_id"] == 11:
            fake.modify(601, now, status_id=9, status="Awaiting Shipment")
            fake.touched = None

    store.touched = shopper_edits_601_once

    result = orders_poll(channel=bc())

    polled = set(
        WebhookDelivery.objects.filter(source="poll").values_list("delivery_id", flat=True)
    )
    assert {d.partition("@")[0] for d in polled} == {f"poll:{601 + n}" for n in range(5)}
    assert (result.found, result.received) == (6, 5)  # 601 twice: before and after its edit
    assert ChannelOrder.objects.filter(channel__code="bc").count() == 5
    assert level("A-1", "WH").reserved == 5


def test_every_product_of_a_large_order_is_read(store, small_pages):
    store.add(
        700,
        [("A-1", 1), ("B-2", 2), ("A-1", 1), ("B-2", 1), ("W-3", 1)],
        at=dt.datetime.now(dt.UTC),
    )
    orders_poll(channel=bc())
    order = ChannelOrder.objects.get(channel__code="bc")
    assert order.lines.count() == 5
    pages = [
        r.url.params["page"]
        for r in store.requests
        if r.url.path == f"{STORE}/v2/orders/700/products"
    ]
    assert pages == ["1", "2", "3"]


def test_a_cancellation_found_by_the_bigcommerce_poll_releases_the_order(store, post):
    now = dt.datetime.now(dt.UTC)
    store.add(710, [("A-1", 2)], at=now - dt.timedelta(minutes=5))
    post("bc", *webhook(710))
    assert level("A-1", "WH").reserved == 2
    store.modify(710, now, status_id=5, status="Cancelled")  # statusUpdated was lost

    orders_poll(channel=bc())

    assert level("A-1", "WH").reserved == 0
    assert ChannelOrder.objects.get(channel__code="bc").status == "cancelled"


def test_a_store_with_nothing_changed_answers_204_and_the_poll_finds_nothing(store):
    result = orders_poll(channel=bc())
    assert (result.found, result.stored, result.error) == (0, 0, "")
    assert store.requests[-1].url.params["sort"] == "date_modified:asc"


def test_a_polled_order_is_read_as_its_webhook_reads_it(store, post):
    """The same order reaches IMS by its webhook (read back) and by the poll: one event."""
    from orders.providers.base import Context
    from orders.providers.bigcommerce import BigCommerce
    from orders.services.inbox import channel_http_client

    store.add(720, [("A-1", 2), ("B-2", 1)], at=dt.datetime.now(dt.UTC))
    provider = BigCommerce()
    client = channel_http_client(bc())
    try:
        webhook_event = provider.parse(
            headers={}, body=webhook(720)[0], ctx=Context(now=None, client=client)
        )
    finally:
        client.close()
    body = json.dumps({"order": store.orders[720], "products": store.products[720]}).encode()
    assert provider.polled(body=body, ctx=Context(now=None)) == webhook_event
