"""Webhook intake: every provider's signature is checked over the raw body (forged, missing
and stale ones refused with 401, logged, nothing stored); an accepted delivery is stored raw
once, processed once, and a replay changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.core.management import call_command

from channels.models import Channel
from orders.models import ChannelOrder, OrderLine, WebhookDelivery
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
SQUARE_URL = "https://ims.example.com/webhooks/sq/"


def shopify(at=None, secret=p.SECRET):
    body = p.dumps(p.shopify_order(4501, [("A-1", 2)], at=at))
    return "shop", body, p.shopify_headers(body, "orders/create", secret=secret)


def woo(at=None, secret=p.SECRET):
    body = p.dumps(p.woo_order(727, [("A-1", 2)], at=at))
    return "woo", body, p.woo_headers(body, secret=secret)


def bigcommerce(at=None, secret=p.SECRET):
    body = p.dumps(p.bigcommerce_event(250, at=at))
    return "bc", body, p.bigcommerce_headers(body, secret=secret, at=at)


def square(at=None, secret=p.SECRET):
    body = p.dumps(p.square_event("order.created", "eA3vssLHKJrv9H0IdJCM3gNqfdcZY", at=at))
    return "sq", body, p.square_headers(body, SQUARE_URL, secret=secret)


def amazon(at=None, secret=p.SECRET):
    body = p.dumps(p.amazon_notification("903-8868176-2219830", [("A-1", 2)]))
    return "market", body, p.ims_headers(body, secret=secret, at=at)


def flipkart(at=None, secret=p.SECRET):
    body = p.dumps(p.ims_order_event("OD1234", [("A-1", 2)]))
    return "fk", body, p.ims_headers(body, secret=secret, at=at)


PROVIDERS = [shopify, woo, bigcommerce, square, amazon, flipkart]
SIGNATURE_HEADERS = {
    "shop": "X-Shopify-Hmac-Sha256",
    "woo": "X-WC-Webhook-Signature",
    "bc": "webhook-signature",
    "sq": "x-square-hmacsha256-signature",
    "market": "X-IMS-Signature",
    "fk": "X-IMS-Signature",
}


@pytest.fixture
def apis(channels, fake_api, monkeypatch):
    """BigCommerce and Square read the order back from their API (a local fake)."""
    Channel.objects.filter(code__in=["bc", "sq"]).update(base_url=fake_api.url)
    monkeypatch.setenv("IMS_CHANNEL_SQ_WEBHOOK_URL", SQUARE_URL)
    fake_api.routes["/v2/orders/250"] = p.bigcommerce_order(250)
    fake_api.routes["/v2/orders/250/products"] = p.bigcommerce_products(250, [("A-1", 2)])
    from catalog.models import Product, ProductAlias

    ProductAlias.objects.create(
        product=Product.objects.get(sku="A-1"), scope="sq", value="W62UWFY35CWMYGVWK6TWJDNI"
    )
    fake_api.routes["/v2/orders/eA3vssLHKJrv9H0IdJCM3gNqfdcZY"] = p.square_order(
        "eA3vssLHKJrv9H0IdJCM3gNqfdcZY", [("W62UWFY35CWMYGVWK6TWJDNI", 2)]
    )
    return fake_api


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda f: f.__name__)
def test_a_signed_order_is_stored_and_reserved_once(make, apis, post):
    code, body, headers = make()
    response = post(code, body, headers)
    assert response.status_code == 200, response.content
    assert response.json()["processed"] is True
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == body
    assert delivery.channel.code == code and delivery.error == ""
    order = ChannelOrder.objects.get()
    assert order.status == "reserved"
    line = order.lines.get()
    assert (line.product.sku, line.quantity, line.reserved) == ("A-1", 2, 2)
    held_at = order.location.code
    assert level("A-1", held_at).reserved == 2

    again = post(code, body, headers)  # the provider retries the same delivery
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert WebhookDelivery.objects.count() == 1
    assert ChannelOrder.objects.count() == 1
    assert level("A-1", held_at).reserved == 2


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("fault", ["forged", "missing", "stale", "tampered"])
def test_a_bad_signature_is_refused_logged_and_nothing_is_stored(make, fault, apis, post, caplog):
    if fault == "forged":
        code, body, headers = make(secret="not-the-secret")
    elif fault == "stale":
        code, body, headers = make(at=OLD)
    else:
        code, body, headers = make()
    if fault == "missing":
        del headers[SIGNATURE_HEADERS[code]]
    if fault == "tampered":
        body = body[:-1] + b', "x": 1}'  # one more field after signing
    with caplog.at_level("WARNING", logger="ims.webhooks"):
        response = post(code, body, headers)
    assert response.status_code == 401
    assert response.json()["code"] == "signature_refused"
    assert f"webhook refused: channel {code}" in caplog.text
    assert not WebhookDelivery.objects.exists()
    assert not ChannelOrder.objects.exists()
    assert not OrderLine.objects.exists()


def test_a_channel_without_a_configured_secret_accepts_nothing(channels, post, monkeypatch):
    monkeypatch.delenv("IMS_CHANNEL_SHOP_WEBHOOK_SECRET")
    code, body, headers = shopify()
    assert post(code, body, headers).status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_square_signs_the_notification_url_too(apis, post, monkeypatch):
    _, body, _ = square()
    wrong_url = p.square_headers(body, "https://elsewhere.example.com/hook")
    assert post("sq", body, wrong_url).status_code == 401
    # Without a configured URL, the request's own URL is the one signed.
    monkeypatch.delenv("IMS_CHANNEL_SQ_WEBHOOK_URL")
    own = p.square_headers(body, "http://testserver/webhooks/sq/")
    assert post("sq", body, own).status_code == 200
    assert ChannelOrder.objects.get().lines.get().reserved == 2
    assert ("/v2/orders/eA3vssLHKJrv9H0IdJCM3gNqfdcZY") in [path for path, _ in apis.requests]
    authorization = dict(apis.requests[-1][1])["Authorization"]
    assert authorization == "Bearer token-sq"


def test_a_square_order_id_is_read_back_at_its_own_url_whatever_it_holds(apis, post):
    """The order id comes from the signed body: one holding a space, `#`, `?` or `/` is
    percent-encoded into the read-back's path (it made no URL at all before, and the delivery
    failed with an error that was no HTTP error)."""
    odd = "a b#c?d/e"
    body = p.dumps(p.square_event("order.created", odd))
    response = post("sq", body, p.square_headers(body, SQUARE_URL))
    assert response.status_code == 200
    assert "/v2/orders/a%20b%23c%3Fd%2Fe" in [path for path, _ in apis.requests]
    assert "404" in WebhookDelivery.objects.get().error  # the fake has no such order


def test_a_delivery_that_fails_to_process_is_kept_and_replayed_from_the_inbox(apis, post, capsys):
    """A BigCommerce order whose API is down: stored with its error, 200 to the provider;
    replayed once the API answers, reserved exactly once."""
    del apis.routes["/v2/orders/250/products"]
    code, body, headers = bigcommerce()
    response = post(code, body, headers)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at is None and "404" in delivery.error and delivery.attempts == 1
    assert not ChannelOrder.objects.exists()

    apis.routes["/v2/orders/250/products"] = p.bigcommerce_products(250, [("A-1", 2)])
    call_command("replay_inbox")
    assert "1 processed" in capsys.readouterr().out
    delivery.refresh_from_db()
    assert delivery.processed_at and delivery.error == "" and delivery.attempts == 2
    assert level("A-1", "WH").reserved == 2
    call_command("replay_inbox", "--all")  # replaying everything again changes nothing
    assert level("A-1", "WH").reserved == 2
    assert ChannelOrder.objects.count() == 1


def test_woocommerce_ping_on_webhook_creation_is_answered_and_not_stored(channels, post, client):
    response = client.post(
        "/webhooks/woo/", data=b"webhook_id=7", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and response.json()["status"] == "ping"
    assert not WebhookDelivery.objects.exists()


def test_woocommerce_orders_sent_within_one_second_share_a_delivery_id_and_are_both_received(
    channels, post
):
    """WooCommerce's X-WC-Webhook-Delivery-ID is a hash of the webhook id and the current
    second (../shared/specs/README.md, WooCommerce, "Delivery id"): two orders placed within
    one second arrive under the same one. Both are received and reserved, each known by its
    topic, order id and date_modified_gmt; the delivery id stays with the headers; the first
    order sent again changes nothing. The bodies are WooCommerce's own "Retrieve an order"
    sample (its product "Bar3" is A-1 on this store)."""
    from catalog.models import Product, ProductAlias
    from tests.fakes.specs import specs_dir

    ProductAlias.objects.create(product=Product.objects.get(sku="A-1"), scope="woo", value="Bar3")
    sample = json.loads(
        (specs_dir() / "woocommerce/samples/order-retrieve-response.json").read_text()
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat()
    bodies = [
        json.dumps(
            {**sample, "id": order_id, "date_created_gmt": now, "date_modified_gmt": now}
        ).encode()
        for order_id in (727, 728)
    ]
    shared = "5c3c7b2b0e5e2f1d0f1e8d8b8a2a6c3f4e1d2c3b"
    answers = [post("woo", body, p.woo_headers(body, delivery_id=shared)).json() for body in bodies]

    assert [a["status"] for a in answers] == ["stored", "stored"]
    assert sorted(ChannelOrder.objects.values_list("external_id", flat=True)) == ["727", "728"]
    assert level("A-1", "WH").reserved == 2  # each order's "Bar3" × 1
    deliveries = WebhookDelivery.objects.order_by("pk")
    assert [d.delivery_id for d in deliveries] == [
        f"order.created:727@{now}",
        f"order.created:728@{now}",
    ]
    assert {d.headers["x-wc-webhook-delivery-id"] for d in deliveries} == {shared}
    again = post("woo", bodies[0], p.woo_headers(bodies[0], delivery_id=shared)).json()
    assert again["status"] == "duplicate" and level("A-1", "WH").reserved == 2


def test_unknown_channel_is_404_and_a_get_is_405(channels, client):
    assert (
        client.post("/webhooks/nope/", data=b"{}", content_type="application/json").status_code
        == 404
    )
    assert client.get("/webhooks/shop/").status_code == 405


def test_a_channel_is_read_once_for_many_deliveries_and_a_change_to_it_is_seen(
    channels, monkeypatch, django_assert_num_queries
):
    """Each process keeps the channel a webhook URL names for a few seconds (Django's cache);
    a channel saved or deleted in it is read afresh at once, and a code that names none is
    never kept."""
    from django.core.cache import cache

    from orders import selectors

    cache.clear()
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    with django_assert_num_queries(1):
        first = selectors.webhook_channel("shop")
        again = selectors.webhook_channel("shop")
    assert first == again and first is not again  # a copy each time: never shared
    shop = Channel.objects.get(code="shop")
    shop.kind = "woocommerce"
    shop.save()
    with django_assert_num_queries(1):
        assert selectors.webhook_channel("shop").kind == "woocommerce"
    Channel.objects.filter(code="shop").update(name="Changed elsewhere")  # another process
    with django_assert_num_queries(0):
        assert selectors.webhook_channel("shop").name != "Changed elsewhere"
    clock[0] += selectors.CHANNEL_SECONDS + 1
    with django_assert_num_queries(1):
        assert selectors.webhook_channel("shop").name == "Changed elsewhere"
    with django_assert_num_queries(2):
        assert selectors.webhook_channel("nope") is None
        assert selectors.webhook_channel("nope") is None


def test_the_inbox_keeps_headers_but_never_the_signature(apis, post):
    code, body, headers = shopify()
    post(code, body, headers)
    kept = WebhookDelivery.objects.get().headers
    assert kept["x-shopify-topic"] == "orders/create"
    assert "x-shopify-hmac-sha256" not in kept
    assert json.loads(bytes(WebhookDelivery.objects.get().body))["id"] == 4501


def test_a_shopify_refund_with_legacy_restock_cancels_the_unshipped_units(channels, post):
    """Shopify's own 2026-04 samples: order 450789469, then its refund 509562969 whose lines
    are `restock_type: legacy_restock` with their units unshipped (fulfillable_quantity 1):
    those units are cancelled and go back to available (the refund was ignored before)."""
    from catalog.models import Product, ProductAlias
    from tests.fakes.specs import specs_dir

    samples = specs_dir() / "shopify" / "samples"
    for sku, name in (("A-1", "IPOD2008GREEN"), ("B-2", "IPOD2008BLACK")):
        ProductAlias.objects.create(product=Product.objects.get(sku=sku), scope="shop", value=name)
    now = p.iso(p.utc())
    order = json.loads((samples / "rest-2026-04-order-get-response.json").read_text())["order"]
    order.update(created_at=now, updated_at=now)
    body = json.dumps(order).encode()
    assert post("shop", body, p.shopify_headers(body, "orders/create")).json()["processed"]
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (1, 1)

    refund = json.loads((samples / "rest-2026-04-refund-get-response.json").read_text())["refund"]
    refund["created_at"] = now
    body = json.dumps(refund).encode()
    answer = post("shop", body, p.shopify_headers(body, "refunds/create")).json()
    assert answer["processed"] and "cancelled" in answer["outcome"], answer
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (0, 0)
    lines = {ln.sku: ln.cancelled for ln in ChannelOrder.objects.get().lines.all()}
    assert (lines["IPOD2008GREEN"], lines["IPOD2008BLACK"]) == (1, 1)
