"""Lightspeed X-Series `sale.update` webhooks: form-encoded, the sale as a JSON string in
`payload`, signed `X-Signature: signature=…,algorithm=HMAC-SHA256`; a sale on a register is a
store sale (its units leave the store at once), recorded once whatever its updates; the
order poll (`GET /api/2.0/sales`, by version, from a fake served on 127.0.0.1) recovers a
sale whose webhook was lost, exactly once."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest

from channels.adapters.base import ListingState
from channels.models import Channel
from channels.sync.read import listings_apply_live
from inventory.models import Movement
from orders.models import OrderPoll, PosSale, WebhookDelivery
from orders.providers.lightspeed import sign
from orders.services.poll import orders_poll
from tests.fakes.served import served
from tests.orders.conftest import level
from tests.orders.payloads import SECRET

pytestmark = pytest.mark.django_db

OUTLET = "0624dbcd-ef95-11e6-e986-ecd5a64d7fa9"
REGISTER = "b1e198a9-f019-11e3-a0f5-b8ca3a64f8f4"
PRODUCT_A1 = "b1d87b58-f019-11e3-a0f5-b8ca3a64f8f4"  # Lightspeed names products by UUID
PRODUCT_B2 = "0624dbcd-ef13-11e6-e986-fcc1c366e772"


def vend_time(moment: dt.datetime) -> str:
    """API 1.0's form of a time: `2016-05-05 23:35:34` (UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def sale_10(sale_id: str, lines, *, status="CLOSED", at: dt.datetime | None = None) -> dict:
    """A register sale in its API 1.0 shape, the shape a `sale.update` webhook carries: the
    "Full payload" of docs.vendhq.com/docs/sales_101 (register_id, customer_id, user_id,
    sale_date, note, status, short_code, invoice_number, invoice_sequence,
    register_sale_products with product_id, register_id, sequence, quantity, price, cost,
    price_set, discount, loyalty_value, tax, tax_id, status; register_sale_payments) with
    what a stored sale has besides: its `id` and `updated_at`. lines: (product id, quantity)."""
    at = at or dt.datetime.now(dt.UTC)
    return {
        "id": sale_id,
        "register_id": REGISTER,
        "customer_id": "06e35f89-3783-11e6-ec7e-13193f7bd2ed",
        "user_id": "b1ed6158-f019-11e3-a0f5-b8ca3a64f8f4",
        "sale_date": vend_time(at - dt.timedelta(minutes=1)),
        "updated_at": vend_time(at),
        "note": "",
        "status": status,
        "short_code": "mlzs94",
        "invoice_number": "MR-1484-NZ",
        "invoice_sequence": 1484,
        "register_sale_products": [
            {
                "id": f"{sale_id[:8]}-line-{i}",
                "product_id": product,
                "register_id": REGISTER,
                "sequence": str(i),
                "quantity": quantity,
                "price": 22,
                "cost": 20,
                "price_set": 0,
                "discount": 0,
                "loyalty_value": 0,
                "tax": 3.3,
                "tax_id": "b1d192bc-f019-11e3-a0f5-b8ca3a64f8f4",
                "status": "CONFIRMED",
            }
            for i, (product, quantity) in enumerate(lines)
        ],
        "register_sale_payments": [
            {
                "register_id": REGISTER,
                "retailer_payment_type_id": "b1e1d70e-f019-11e3-a0f5-b8ca3a64f8f4",
                "payment_date": vend_time(at),
                "amount": 25.3,
            }
        ],
    }


def form(payload, **extra) -> bytes:
    """The delivery as Lightspeed posts it: UTF-8, form-urlencoded, the object as a JSON
    string in `payload` (other fields may come)."""
    fields = {"payload": payload if isinstance(payload, str) else json.dumps(payload)}
    fields.update({"environment": "prod", "domain_prefix": "imsstore", **extra})
    return urlencode(fields).encode()


def signed(body: bytes, secret: str = SECRET) -> dict:
    return {"X-Signature": sign(secret=secret, body=body)}


@pytest.fixture
def lightspeed(channels, ingest, monkeypatch):
    """Channel `ls` (Lightspeed, the NYC store), its listings as the adapter reads them
    (the product UUID as external id), and stock at NYC: A-1 3, B-2 4."""
    ingest(
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        ls,Lightspeed store,lightspeed,push,NYC,0,USD
        """,
    )
    ingest("inventory", "sku_id,location,quantity\nB-2,NYC,4\n")
    monkeypatch.setenv("IMS_CHANNEL_LS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("IMS_CHANNEL_LS_ACCESS_TOKEN", "ls-token")
    monkeypatch.setenv("IMS_CHANNEL_LS_OUTLET_ID", OUTLET)
    listings_apply_live(
        channel=Channel.objects.get(code="ls"),
        states=[
            ListingState(
                sku=sku,
                quantity=0,
                price=Decimal("22"),
                currency="USD",
                external_id=product,
                ref={"product_id": product},
            )
            for sku, product in (("A-1", PRODUCT_A1), ("B-2", PRODUCT_B2))
        ],
        now=dt.datetime.now(dt.UTC),
    )


@pytest.fixture
def send(client):
    def post(body: bytes, headers: dict):
        return client.post(
            "/webhooks/ls/",
            data=body,
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    return post


def nyc(sku: str):
    return level(sku, "NYC")


def test_a_sale_update_reaches_ims_and_moves_stock_once(lightspeed, send):
    body = form(sale_10("5c1a0e3a-0001", [(PRODUCT_A1, 2), (PRODUCT_B2, 1)]))

    answer = send(body, signed(body))

    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "stored"
    assert answer.json()["outcome"] == "POS sale 5c1a0e3a-0001 completed"
    sale = PosSale.objects.get(external_id="5c1a0e3a-0001")
    assert (sale.channel.code, sale.location.code) == ("ls", "NYC")
    assert {(ln.product.sku, ln.quantity) for ln in sale.lines.all()} == {("A-1", 2), ("B-2", 1)}
    assert (nyc("A-1").available, nyc("B-2").available) == (1, 3)
    row = WebhookDelivery.objects.get(channel__code="ls")
    assert row.delivery_id.startswith("sale:5c1a0e3a-0001@") and row.topic == "sale.update"
    assert row.headers == {"content-type": "application/x-www-form-urlencoded"}

    # Lightspeed retries (no 2xx in time): a duplicate, nothing moves again.
    again = send(body, signed(body))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert (nyc("A-1").available, nyc("B-2").available) == (1, 3)
    assert WebhookDelivery.objects.filter(channel__code="ls").count() == 1


def test_later_updates_of_a_known_sale_change_nothing(lightspeed, send):
    now = dt.datetime.now(dt.UTC)
    on_account = sale_10("5c1a0e3a-0002", [(PRODUCT_A1, 1)], status="ONACCOUNT", at=now)
    first = form(on_account)
    assert send(first, signed(first)).json()["outcome"] == "POS sale 5c1a0e3a-0002 completed"
    paid = {
        **on_account,
        "status": "ONACCOUNT_CLOSED",
        "updated_at": vend_time(now + dt.timedelta(minutes=5)),
    }
    later = form(paid)

    answer = send(later, signed(later))

    assert answer.json()["status"] == "stored"
    assert answer.json()["outcome"] == "POS sale 5c1a0e3a-0002 completed (known)"
    assert nyc("A-1").available == 2
    assert Movement.objects.filter(ref__startswith="pos:").count() == 1


def test_a_line_naming_its_sku_needs_no_listing(lightspeed, send):
    sale = sale_10("5c1a0e3a-0003", [("3f2504e0-4f89-41d3-9a0c-0305e82c3301", 1)])
    sale["register_sale_products"][0]["sku"] = "B-2"  # a product no listing names yet
    body = form(sale)
    send(body, signed(body))
    assert nyc("B-2").available == 3


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature": "signature=,algorithm=HMAC-SHA256"},
        "wrong secret",
        "other algorithm",
        "tampered",
    ],
)
def test_a_forged_or_missing_signature_is_refused_and_nothing_is_stored(lightspeed, send, headers):
    body = form(sale_10("5c1a0e3a-0004", [(PRODUCT_A1, 3)]))
    if headers == "wrong secret":
        headers = signed(body, secret="not-the-secret")
    elif headers == "other algorithm":
        headers = {"X-Signature": signed(body)["X-Signature"].replace("SHA256", "SHA1")}
    elif headers == "tampered":
        headers = signed(body)
        body = form(sale_10("5c1a0e3a-0004", [(PRODUCT_A1, 1)]))

    answer = send(body, headers)

    assert answer.status_code == 401
    assert answer.json()["code"] == "signature_refused"
    assert not WebhookDelivery.objects.exists()
    assert not PosSale.objects.exists()
    assert nyc("A-1").available == 3


def test_a_stale_sale_replayed_days_later_is_refused_and_nothing_is_stored(lightspeed, send):
    """A captured delivery resent four days on: its signed updated_at is older than any
    Lightspeed retry (48 h), so it is refused as stale, however valid its signature."""
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
    body = form(sale_10("5c1a0e3a-0005", [(PRODUCT_A1, 1)], at=old))

    answer = send(body, signed(body))

    assert answer.status_code == 401 and "stale" in answer.json()["message"]
    assert not WebhookDelivery.objects.exists() and nyc("A-1").available == 3


def test_a_base64_signature_of_the_body_is_accepted_too(lightspeed, send):
    import base64
    import hashlib
    import hmac

    body = form(sale_10("5c1a0e3a-0005", [(PRODUCT_A1, 1)]))
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    answer = send(body, {"X-Signature": f"signature={digest},algorithm=HMAC-SHA256"})
    assert answer.status_code == 200 and nyc("A-1").available == 2


@pytest.mark.parametrize(
    ("body", "why"),
    [
        # A product.update payload (x-series-api.lightspeedhq.com/docs/webhooks_example_payloads,
        # its opening) sent to the sales URL: no sale lines.
        (
            form(
                {
                    "active": True,
                    "base_name": "Post Shave Balm",
                    "handle": "postshavebalm",
                    "id": "0624dbcd-ef13-11e6-e986-fcc1c366e772",
                    "sku": "10107",
                    "supply_price": "4.00",
                }
            ),
            "not a sale",
        ),
        (form("[1, 2, 3]"), "not a JSON object"),
        (form('{"id": '), "not JSON"),
        (urlencode({"environment": "prod"}).encode(), "no `payload`"),
        (b"payload=%FF%FE", "not a UTF-8 form"),
    ],
)
def test_a_signed_body_that_is_not_a_sale_is_kept_with_its_error(lightspeed, send, body, why):
    answer = send(body, signed(body))

    assert answer.status_code == 400
    row = WebhookDelivery.objects.get(channel__code="ls")
    assert row.processed_at is None and why in row.error
    assert answer.json()["extra"]["delivery"] == row.pk
    assert not PosSale.objects.exists()


def test_a_sale_with_a_quantity_that_is_no_whole_number_is_kept_with_its_error(lightspeed, send):
    body = form(sale_10("5c1a0e3a-0006", [(PRODUCT_A1, 0.5)]))
    answer = send(body, signed(body))
    assert answer.status_code == 400
    assert "quantity '0.5'" in WebhookDelivery.objects.get().error
    assert nyc("A-1").available == 3


def test_a_parked_sale_moves_nothing_until_it_is_completed(lightspeed, send):
    now = dt.datetime.now(dt.UTC)
    parked = sale_10("5c1a0e3a-0007", [(PRODUCT_A1, 1)], status="SAVED", at=now)
    body = form(parked)
    assert (
        send(body, signed(body))
        .json()["outcome"]
        .startswith("ignored: sale 5c1a0e3a-0007 is saved")
    )
    assert nyc("A-1").available == 3

    closed = form(
        {**parked, "status": "CLOSED", "updated_at": vend_time(now + dt.timedelta(minutes=1))}
    )
    assert send(closed, signed(closed)).json()["outcome"] == "POS sale 5c1a0e3a-0007 completed"
    assert nyc("A-1").available == 2


def test_a_voided_sale_gives_back_what_it_took(lightspeed, send):
    now = dt.datetime.now(dt.UTC)
    sale = sale_10("5c1a0e3a-0008", [(PRODUCT_A1, 2), (PRODUCT_B2, 1)], at=now)
    body = form(sale)
    send(body, signed(body))
    assert (nyc("A-1").available, nyc("B-2").available) == (1, 3)
    voided = form(
        {**sale, "status": "VOIDED", "updated_at": vend_time(now + dt.timedelta(minutes=2))}
    )

    answer = send(voided, signed(voided))

    assert answer.json()["outcome"] == "POS sale 5c1a0e3a-0008 voided: 3 unit(s) back to available"
    assert (nyc("A-1").available, nyc("B-2").available) == (3, 4)
    assert PosSale.objects.get(external_id="5c1a0e3a-0008").status == "voided"
    again = send(voided, signed(voided))
    assert again.json()["status"] == "duplicate"
    assert (nyc("A-1").available, nyc("B-2").available) == (3, 4)


def test_a_sale_voided_before_ims_saw_it_takes_nothing_even_when_its_sale_comes_late(
    lightspeed, send
):
    now = dt.datetime.now(dt.UTC)
    sale = sale_10("5c1a0e3a-0009", [(PRODUCT_A1, 2)], at=now)
    voided = form(
        {**sale, "status": "VOIDED", "updated_at": vend_time(now + dt.timedelta(minutes=2))}
    )
    assert send(voided, signed(voided)).json()["outcome"] == (
        "POS sale 5c1a0e3a-0009 voided before IMS saw it: nothing moved"
    )
    late = form(sale)  # the completed sale's delivery, retried after the void

    answer = send(late, signed(late))

    assert answer.json()["outcome"] == "POS sale 5c1a0e3a-0009 voided (known)"
    assert nyc("A-1").available == 3


def test_a_sale_at_another_outlet_is_not_this_stores(lightspeed, send):
    sale = {
        **sale_10("5c1a0e3a-0010", [(PRODUCT_A1, 1)]),
        "outlet_id": "0624dbcd-ef13-11e6-e986-ed89c9e5529a",
    }
    body = form(sale)
    assert (
        send(body, signed(body))
        .json()["outcome"]
        .startswith("ignored: sale 5c1a0e3a-0010 is at outlet")
    )
    assert nyc("A-1").available == 3


def test_a_return_line_is_told_to_ops_not_counted_back(lightspeed, send, user_with_role):
    from ims.models import Notification
    from ims.roles import Role

    user_with_role(Role.OPS)

    body = form(sale_10("5c1a0e3a-0011", [(PRODUCT_A1, 1), (PRODUCT_B2, -1)]))
    outcome = send(body, signed(body)).json()["outcome"]
    assert outcome.startswith("POS sale 5c1a0e3a-0011 completed; return lines not counted back")
    assert (nyc("A-1").available, nyc("B-2").available) == (2, 4)
    note = Notification.objects.get(kind="pos_return")
    assert "5c1a0e3a-0011" in note.subject and "B-2 × 1" in note.body


# --- the poll: GET /api/2.0/sales by version -----------------------------------------


def sale_20(sale_id: str, lines, *, version: int, at: dt.datetime, status="CLOSED") -> dict:
    """A sale as API 2.0 lists it (`GET /api/2.0/sales`): `line_items` in place of 1.0's
    register_sale_products, its outlet, its `version`."""
    return {
        "id": sale_id,
        "outlet_id": OUTLET,
        "register_id": REGISTER,
        "user_id": "b1ed6158-f019-11e3-a0f5-b8ca3a64f8f4",
        "customer_id": None,
        "invoice_number": f"INV-{version}",
        "source": "USER",
        "status": status,
        "state": "closed",
        "sale_date": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": version,
        "total_price": 22,
        "total_tax": 3.3,
        "line_items": [
            {
                "id": f"{sale_id[:8]}-li-{i}",
                "product_id": product,
                "quantity": quantity,
                "price": 22,
                "tax": 3.3,
                "status": "CONFIRMED",
            }
            for i, (product, quantity) in enumerate(lines)
        ],
    }


class FakeLightspeedSales:
    """`GET /api/2.0/sales?after=<version>&page_size=…`, Bearer token: the sales whose
    version follows `after`, in version order, with `version: {min, max}`; an empty page ends."""

    def __init__(self):
        self.sales: list[dict] = []
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != "Bearer ls-token":
            return httpx.Response(401, json={"error": "Unauthorized"})
        if request.url.path != "/api/2.0/sales" or request.method != "GET":
            return httpx.Response(404, json={"error": "Not Found"})
        after = int(request.url.params.get("after", 0))
        size = min(int(request.url.params.get("page_size", 200)), 2)  # small pages
        page = sorted((s for s in self.sales if s["version"] > after), key=lambda s: s["version"])
        page = page[:size]
        versions = {"min": page[0]["version"], "max": page[-1]["version"]} if page else None
        return httpx.Response(200, json={"data": page, "version": versions})


@pytest.fixture
def ls_api(lightspeed):
    fake = FakeLightspeedSales()
    with served(fake.handle) as url:
        Channel.objects.filter(code="ls").update(base_url=url)
        yield fake


def test_the_poll_recovers_a_dropped_sale_exactly_once(ls_api, send):
    now = dt.datetime.now(dt.UTC)
    old = sale_20("5c1a0e3a-0100", [(PRODUCT_A1, 1)], version=7001, at=now - dt.timedelta(days=3))
    taken = sale_20(
        "5c1a0e3a-0101", [(PRODUCT_B2, 1)], version=7002, at=now - dt.timedelta(minutes=4)
    )
    lost = sale_20(
        "5c1a0e3a-0102", [(PRODUCT_A1, 2)], version=7003, at=now - dt.timedelta(minutes=3)
    )
    parked = sale_20(
        "5c1a0e3a-0103",
        [(PRODUCT_A1, 1)],
        version=7004,
        at=now - dt.timedelta(minutes=2),
        status="SAVED",
    )
    ls_api.sales = [old, taken, lost, parked]
    # 0101's webhook arrived; 0102's was lost; 0100 is history from before IMS polled.
    delivered = form(sale_10("5c1a0e3a-0101", [(PRODUCT_B2, 1)], at=now - dt.timedelta(minutes=4)))
    assert send(delivered, signed(delivered)).status_code == 200
    assert (nyc("A-1").available, nyc("B-2").available) == (3, 3)

    result = orders_poll(channel=Channel.objects.get(code="ls"))

    assert (result.found, result.stored, result.received, result.error) == (3, 3, 1, "")
    assert (nyc("A-1").available, nyc("B-2").available) == (1, 3)
    assert set(PosSale.objects.values_list("external_id", flat=True)) == {
        "5c1a0e3a-0101",
        "5c1a0e3a-0102",
    }
    recovered = WebhookDelivery.objects.get(source="poll", delivery_id="poll:5c1a0e3a-0102@v7003")
    assert recovered.outcome == "POS sale 5c1a0e3a-0102 completed"
    assert OrderPoll.objects.get(channel__code="ls").position == "7004"

    # Polled again: it asks for what follows version 7004, and nothing changed.
    again = orders_poll(channel=Channel.objects.get(code="ls"))
    assert (again.found, again.stored) == (0, 0)
    assert ls_api.requests[-1].url.params["after"] == "7004"
    # The lost webhook, delivered at last: the sale is known, nothing moves twice.
    late = form(sale_10("5c1a0e3a-0102", [(PRODUCT_A1, 2)], at=now - dt.timedelta(minutes=3)))
    assert send(late, signed(late)).json()["outcome"] == "POS sale 5c1a0e3a-0102 completed (known)"
    assert (nyc("A-1").available, nyc("B-2").available) == (1, 3)

    # A later change (the sale voided) is found by its new version and gives the units back.
    ls_api.sales.append({**lost, "status": "VOIDED", "state": "voided", "version": 7005})
    orders_poll(channel=Channel.objects.get(code="ls"))
    assert nyc("A-1").available == 3
    assert OrderPoll.objects.get(channel__code="ls").position == "7005"


def test_a_lightspeed_poll_that_is_refused_keeps_its_position(ls_api, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_LS_ACCESS_TOKEN", "expired")
    result = orders_poll(channel=Channel.objects.get(code="ls"))
    assert "HTTP 401" in result.error
    state = OrderPoll.objects.get(channel__code="ls")
    assert (state.position, state.cursor) == ("", None)


def test_another_webhook_type_sent_here_is_recorded_and_ignored(lightspeed, send):
    body = form({"id": PRODUCT_A1, "sku": "A-1", "active": True}, type="product.update")
    answer = send(body, signed(body))
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored: webhook type product.update is not sale.update"
    assert nyc("A-1").available == 3
