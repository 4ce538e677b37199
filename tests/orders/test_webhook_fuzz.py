"""Properties of every provider's webhook parsing, over arbitrary and mutated bodies: a
correctly signed body is either refused with a precise error (SignatureRefused, BadDelivery)
or read into an event IMS can store; never another exception. Bounded: a few seconds each."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.providers import PROVIDERS
from orders.providers.base import (
    MAX_QUANTITY,
    BadDelivery,
    Context,
    Delivery,
    Event,
    SignatureRefused,
    event_of,
    unstorable,
)
from tests.orders import payloads as p

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = dt.datetime.now(dt.UTC)
SQUARE_URL = "https://ims.example.com/webhooks/sq/"

# Values an attacker or a broken sender puts where a field is expected.
NASTY = st.sampled_from(
    [
        "Infinity",
        "-Infinity",
        "NaN",
        "sNaN",
        "1e20",
        "1e999999",
        "-1",
        "0",
        "2.5",
        "",
        "\x00",
        "A-1\x00",
        "\ud800",
        "9" * 5000,
        "2026-13-45T99:99:99Z",
        float("inf"),
        float("nan"),
        1e20,
        -1e300,
        10**30,
        True,
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | NASTY
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)


def paths(value, prefix=()):
    """Every path into a JSON value (dict keys and list indexes)."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from paths(inner, (*prefix, i))


def mutated(data, sample):
    """The sample with one to three of its values replaced by arbitrary ones, or removed."""
    value = copy.deepcopy(sample)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(list(paths(value))))
        replacement = data.draw(JSON_VALUES)
        if not where:
            value = replacement
            continue
        parent = value
        try:
            for step in where[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(where[-1], None)
            else:
                parent[where[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape under this path
    return value


def body_of(data, sample) -> bytes:
    """A body: mutated JSON, arbitrary JSON, or arbitrary bytes."""
    choice = data.draw(st.integers(0, 9))
    if choice == 0:
        return data.draw(st.binary(max_size=64))
    value = data.draw(JSON_VALUES) if choice == 1 else mutated(data, sample)
    return json.dumps(value).encode("utf-8", "surrogatepass")


def storable(event: Event) -> None:
    """Every text of the event can be stored; every quantity is a number of units."""

    def walk(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, str):
                assert not unstorable(value), (f.name, value)
            elif f.name == "quantity":
                assert type(value) is int and 1 <= value <= MAX_QUANTITY, value
            elif dataclasses.is_dataclass(value):
                walk(value)
            elif isinstance(value, tuple):
                for item in value:
                    if dataclasses.is_dataclass(item):
                        walk(item)

    walk(event)


def check(provider, *, headers, body, client=None, url=""):
    """The property: verify, delivery and parse each give a result or a precise error."""
    with contextlib.suppress(SignatureRefused, BadDelivery):
        provider.verify(headers=headers, body=body, secret=p.SECRET, ctx=Context(now=NOW, url=url))
    with contextlib.suppress(BadDelivery):
        assert isinstance(provider.delivery(headers=headers, body=body), Delivery)
    try:
        event = event_of(provider, headers=headers, body=body, ctx=Context(now=NOW, client=client))
    except BadDelivery as exc:
        assert str(exc)
        return
    except httpx.HTTPError:  # reading the order back failed: kept, tried again later
        return
    assert isinstance(event, Event)
    storable(event)


def api_client(data, routes: dict) -> httpx.Client:
    """A channel API answering each read-back with a mutated sample (or garbage)."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for prefix, sample in routes.items():
            if path.endswith(prefix):
                return httpx.Response(200, content=body_of(data, sample))
        return httpx.Response(404, json={"error": "not found"})

    return httpx.Client(base_url="https://api.example.com/", transport=httpx.MockTransport(handler))


# Valid samples of each provider's bodies (and read-back answers), built once.
SHOPIFY_ORDER = p.shopify_order(4501, [("A-1", 2), ("B-2", 1)])
SHOPIFY = [SHOPIFY_ORDER, p.shopify_refund(9, SHOPIFY_ORDER, [(0, 1, "return")])]
WOO = [p.woo_order(727, [("A-1", 2)]), {"id": 727}]
BIGCOMMERCE_API = {
    "/v2/orders/250": p.bigcommerce_order(250),
    "/v2/orders/250/products": p.bigcommerce_products(250, [("A-1", 2)]),
    "/payment_actions/refunds": {
        "data": [{"id": 5, "items": [{"item_type": "PRODUCT", "item_id": 2500, "quantity": 1}]}]
    },
}
SQUARE_REFUND = {
    "id": "R1",
    "order_id": "O1",
    "status": "PENDING",
    "location_id": "L",
    "amount_money": {"amount": 100, "currency": "USD"},
}
SQUARE = [
    p.square_event("order.created", "O1"),
    p.square_event("order.updated", "O1"),
    p.square_event("refund.created", "O1", refund=SQUARE_REFUND),
]
SQUARE_RETURNS = [
    {
        "uid": "r",
        "source_order_id": "O1",
        "return_line_items": [
            {
                "uid": "rl",
                "source_line_item_uid": "O1-0",
                "catalog_object_id": "V1",
                "quantity": "1",
            }
        ],
    }
]
SQUARE_API = {"/v2/orders/O1": p.square_order("O1", [("V1", 2)], returns=SQUARE_RETURNS)}
AMAZON = p.amazon_notification("903-1", [("A-1", 2)])
IMS = [
    p.ims_order_event("OD1", [("A-1", 2)]),
    p.ims_order_event("OD1", [("A-1", 2)], kind="order.cancelled"),
    {
        "event_id": "e2",
        "type": "pos.sale",
        "occurred_at": p.iso(NOW),
        "sale": {"id": "S1", "location": "NYC", "lines": [{"sku": "A-1", "quantity": 1}]},
    },
]
SHOPIFY_TOPICS = ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"]
WOO_TOPICS = ["order.created", "order.updated", "order.deleted", "order.restored"]
BIGCOMMERCE_SCOPES = [
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/refund/created",
    "store/product/updated",
]


@FUZZ
@given(data=st.data(), topic=st.sampled_from([*SHOPIFY_TOPICS, "refunds/create", "x"]))
def test_shopify(data, topic):
    body = body_of(data, data.draw(st.sampled_from(SHOPIFY)))
    check(PROVIDERS["shopify"], headers=p.shopify_headers(body, topic), body=body)


@FUZZ
@given(data=st.data(), topic=st.sampled_from([*WOO_TOPICS, "product.updated"]))
def test_woocommerce(data, topic):
    body = body_of(data, data.draw(st.sampled_from(WOO)))
    check(PROVIDERS["woocommerce"], headers=p.woo_headers(body, topic), body=body)


@FUZZ
@given(data=st.data(), scope=st.sampled_from(BIGCOMMERCE_SCOPES))
def test_bigcommerce(data, scope):
    body = body_of(data, p.bigcommerce_event(250, scope, refund={"refund_id": 5}))
    with api_client(data, BIGCOMMERCE_API) as client:
        check(
            PROVIDERS["bigcommerce"], headers=p.bigcommerce_headers(body), body=body, client=client
        )


@FUZZ
@given(data=st.data())
def test_square(data):
    body = body_of(data, data.draw(st.sampled_from(SQUARE)))
    with api_client(data, SQUARE_API) as client:
        check(
            PROVIDERS["square"],
            headers=p.square_headers(body, SQUARE_URL),
            body=body,
            client=client,
            url=SQUARE_URL,
        )


@FUZZ
@given(data=st.data())
def test_amazon(data):
    body = body_of(data, AMAZON)
    check(PROVIDERS["amazon"], headers=p.ims_headers(body), body=body)


@FUZZ
@given(data=st.data())
def test_ims_own_form(data):
    body = body_of(data, data.draw(st.sampled_from(IMS)))
    check(PROVIDERS["flipkart"], headers=p.ims_headers(body), body=body)


@FUZZ
@given(
    signature=st.text(max_size=80) | st.builds(lambda n: f"t={'9' * n},v1=00", st.integers(0, 6000))
)
@pytest.mark.parametrize("kind", ["flipkart", "bigcommerce"])
def test_signature_headers_are_refused_or_accepted_never_a_crash(kind, signature):
    body = p.dumps(p.ims_order_event("OD1", [("A-1", 1)]))
    headers = (
        {"X-IMS-Signature": signature}
        if kind == "flipkart"
        else {"webhook-id": "m", "webhook-timestamp": signature, "webhook-signature": signature}
    )
    with contextlib.suppress(SignatureRefused):
        PROVIDERS[kind].verify(headers=headers, body=body, secret=p.SECRET, ctx=Context(now=NOW))


# --- Lightspeed (form-encoded, the sale as a JSON string) and polled bodies ---------------


def lightspeed_samples():
    from tests.orders import test_lightspeed_webhooks as ls

    return [
        ls.sale_10("5c1a0e3a-0001", [(ls.PRODUCT_A1, 2), (ls.PRODUCT_B2, -1)], at=NOW),
        ls.sale_10("5c1a0e3a-0002", [(ls.PRODUCT_A1, 1)], status="VOIDED", at=NOW),
        ls.sale_20("5c1a0e3a-0003", [(ls.PRODUCT_A1, 1)], version=7, at=NOW),
    ]


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["", "sale.update", "product.update"]))
def test_lightspeed(data, kind):
    from urllib.parse import quote_from_bytes

    from orders.providers.lightspeed import sign

    raw = body_of(data, data.draw(st.sampled_from(lightspeed_samples())))
    if data.draw(st.booleans()):  # as Lightspeed sends it: the JSON in the form's `payload`
        body = b"payload=" + quote_from_bytes(raw).encode() + b"&environment=prod"
        if kind:
            body += b"&type=" + kind.encode()
    else:
        body = raw
    check(
        PROVIDERS["lightspeed"],
        headers={"X-Signature": sign(secret=p.SECRET, body=body)},
        body=body,
    )


def check_polled(provider, body: bytes) -> None:
    try:
        event = event_of(provider, headers={}, body=body, ctx=Context(now=NOW), polled=True)
    except BadDelivery as exc:
        assert str(exc)
        return
    assert isinstance(event, Event)
    storable(event)


@FUZZ
@given(data=st.data())
def test_polled_lightspeed_sales(data):
    check_polled(
        PROVIDERS["lightspeed"], body_of(data, data.draw(st.sampled_from(lightspeed_samples())))
    )


@FUZZ
@given(data=st.data())
def test_polled_flipkart_shipments(data):
    from tests.orders import test_poll_flipkart as fk

    placed = fk.shipment("S1", "OD1", [("A-1", 2), ("B-2", 1)], at=NOW)
    samples = [placed, fk.cancel(placed, items={1}, at=NOW), fk.cancel(placed, at=NOW)]
    check_polled(PROVIDERS["flipkart"], body_of(data, data.draw(st.sampled_from(samples))))


@FUZZ
@given(signature=st.text(max_size=120))
def test_lightspeed_signature_headers_are_refused_or_accepted_never_a_crash(signature):
    body = b"payload=%7B%7D"
    with contextlib.suppress(SignatureRefused, BadDelivery):
        PROVIDERS["lightspeed"].verify(
            headers={"X-Signature": signature}, body=body, secret=p.SECRET, ctx=Context(now=NOW)
        )
