"""What a hostile or broken delivery can do: nothing. A signed body resent under another topic
does only what the body itself says; a body IMS cannot read is kept with its error and
answered 4xx; one such delivery never stops the inbox's retries; text IMS cannot store is
cleaned (display text) or refused (identity); an oversized or malformed request is a JSON 4xx.
"""

from __future__ import annotations

import json

import pytest

from channels.models import Channel
from ims.models import Notification
from orders.models import ChannelOrder, WebhookDelivery
from orders.tasks import inbox_retry_task
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

SQUARE_URL = "https://ims.example.com/webhooks/sq/"


def shopify_create(post, order_id=4701, lines=(("A-1", 2),)):
    body = p.dumps(p.shopify_order(order_id, list(lines)))
    assert post("shop", body, p.shopify_headers(body, "orders/create")).status_code == 200
    return body


def woo_create(post, order_id=727, lines=(("A-1", 2),)):
    body = p.dumps(p.woo_order(order_id, list(lines)))
    assert post("woo", body, p.woo_headers(body)).status_code == 200
    return body


# --- 1. The topic header is not signed: the body decides ---------------------------------


def test_a_shopify_order_resent_as_orders_cancelled_is_refused_and_recorded(channels, post):
    body = shopify_create(post)
    response = post("shop", body, p.shopify_headers(body, "orders/cancelled"))
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "bad_delivery"
    assert "cancelled_at" in answer["message"]
    stored = WebhookDelivery.objects.get(pk=answer["extra"]["delivery"])
    assert stored.topic == "orders/cancelled" and stored.processed_at is None
    assert "cancelled_at" in stored.error
    assert ChannelOrder.objects.get().status == "reserved"
    assert level("A-1", "WH").reserved == 2


def test_a_shopify_body_that_says_cancelled_cancels_whatever_the_topic(channels, post):
    shopify_create(post)
    body = p.dumps(p.shopify_order(4701, [("A-1", 2)], cancelled=True))
    response = post("shop", body, p.shopify_headers(body, "orders/updated"))
    assert response.status_code == 200 and response.json()["outcome"].endswith("cancelled")
    assert ChannelOrder.objects.get().status == "cancelled"
    assert level("A-1", "WH").reserved == 0


def test_a_woocommerce_order_resent_as_order_deleted_is_refused_and_recorded(channels, post):
    body = woo_create(post)
    response = post("woo", body, p.woo_headers(body, "order.deleted"))
    assert response.status_code == 400
    assert "status" in response.json()["message"]
    assert "processing" in WebhookDelivery.objects.get(topic="order.deleted").error
    assert ChannelOrder.objects.get().status == "reserved"
    assert level("A-1", "WH").reserved == 2


def test_a_woocommerce_body_whose_status_is_cancelled_cancels(channels, post):
    woo_create(post)
    body = p.dumps(p.woo_order(727, [("A-1", 2)], status="cancelled"))
    assert post("woo", body, p.woo_headers(body, "order.updated")).status_code == 200
    assert ChannelOrder.objects.get().status == "cancelled"
    assert level("A-1", "WH").reserved == 0


def test_a_woocommerce_deletion_naming_only_the_id_releases_nothing_and_tells_ops(
    channels, post, user_with_role
):
    """WooCommerce's order.deleted body is `{"id": N}`: no status, no time. It proves
    nothing a replay could not, so the stock stays held and ops are told to check."""
    from ims.roles import Role

    user_with_role(Role.OPS)
    woo_create(post)
    body = p.dumps({"id": 727})
    response = post("woo", body, p.woo_headers(body, "order.deleted"))
    assert response.status_code == 200, response.content
    assert response.json()["processed"] is True
    assert "nothing released" in response.json()["outcome"]
    assert ChannelOrder.objects.get().status == "reserved"
    assert level("A-1", "WH").reserved == 2
    note = Notification.objects.get(kind="webhook_unproven")
    assert "727" in note.subject


# --- 3. A body IMS cannot read: stored with its error, 4xx, never a crash ----------------


@pytest.mark.parametrize("quantity", ["Infinity", "NaN", "1e20", "-Infinity"])
def test_a_shopify_quantity_that_is_no_number_of_units_is_stored_with_its_error(
    quantity, channels, post
):
    order = p.shopify_order(4702, [("A-1", 2)])
    order["line_items"][0]["quantity"] = quantity
    body = p.dumps(order)
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 400
    assert "line_items[0]" in response.json()["message"]
    stored = WebhookDelivery.objects.get()
    assert stored.processed_at is None and "quantity" in stored.error and stored.attempts == 1
    assert not ChannelOrder.objects.exists()


@pytest.mark.parametrize("updated_at", ["1e20", "NaN", "-1e300", "Infinity"])
def test_a_shopify_time_that_is_no_time_is_stored_with_its_error(updated_at, channels, post):
    order = p.shopify_order(4703, [("A-1", 2)])
    body = json.dumps(order).replace(
        f'"updated_at": "{order["updated_at"]}"', f'"updated_at": {updated_at}'
    )
    body = body.encode()
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 400
    assert "updated_at" in response.json()["message"]
    assert "updated_at" in WebhookDelivery.objects.get().error
    inbox_retry_task()  # retried from the inbox, it is refused the same way
    stored = WebhookDelivery.objects.get()
    assert stored.processed_at is None and stored.attempts == 2 and "updated_at" in stored.error
    assert not ChannelOrder.objects.exists()


@pytest.fixture
def square_api(channels, fake_api, monkeypatch):
    Channel.objects.filter(code="sq").update(base_url=fake_api.url)
    monkeypatch.setenv("IMS_CHANNEL_SQ_WEBHOOK_URL", SQUARE_URL)
    from catalog.models import Product, ProductAlias

    ProductAlias.objects.create(product=Product.objects.get(sku="A-1"), scope="sq", value="VAR-A1")
    return fake_api


def square_post(post, api, order_id, quantity):
    api.routes[f"/v2/orders/{order_id}"] = p.square_order(order_id, [("VAR-A1", 1)])
    api.routes[f"/v2/orders/{order_id}"]["order"]["line_items"][0]["quantity"] = quantity
    body = p.dumps(p.square_event("order.created", order_id))
    return post("sq", body, p.square_headers(body, SQUARE_URL))


def test_a_square_order_read_back_with_an_infinite_quantity_is_stored_with_its_error(
    square_api, post
):
    response = square_post(post, square_api, "SQ-INF", "Infinity")
    assert response.status_code == 400
    stored = WebhookDelivery.objects.get()
    assert stored.processed_at is None and "quantity" in stored.error and stored.attempts == 1


def test_one_poisoned_delivery_never_stops_the_inbox_retrying_the_others(
    square_api, post, monkeypatch
):
    """Two deliveries kept because the channels' APIs were down. Replaying the first raises
    something nobody foresaw (making its channel's HTTP client fails): it keeps that error,
    and the retry task goes on to the second."""
    Channel.objects.filter(code="bc").update(base_url=square_api.url)
    body = p.dumps(p.bigcommerce_event(251))
    assert post("bc", body, p.bigcommerce_headers(body)).status_code == 200  # API: 404
    body = p.dumps(p.square_event("order.created", "SQ-GOOD"))
    assert post("sq", body, p.square_headers(body, SQUARE_URL)).status_code == 200  # 404
    square_api.routes["/v2/orders/SQ-GOOD"] = p.square_order("SQ-GOOD", [("VAR-A1", 1)])

    from orders.services import inbox

    real = inbox.channel_http_client

    def client(channel):
        if channel.kind == "bigcommerce":
            raise RuntimeError("no client for this channel")
        return real(channel)

    monkeypatch.setattr(inbox, "channel_http_client", client)
    counts = inbox_retry_task()
    assert counts["processed"] == 1 and counts["failed"] == 1
    bad = WebhookDelivery.objects.get(channel__code="bc")
    assert bad.processed_at is None and "no client" in bad.error and bad.attempts == 2
    assert WebhookDelivery.objects.get(channel__code="sq").processed_at is not None
    assert ChannelOrder.objects.get().external_id == "SQ-GOOD"


def test_a_signed_body_ims_cannot_read_is_400_and_kept_with_its_error(channels, post):
    body = b'{"event_id": "e1", "type": "order.created", "occurred_at": "2026-01-01T00:00:00Z", "order": {"id": "X"}}'
    response = post("fk", body, p.ims_headers(body))
    assert response.status_code == 400
    assert "lines" in response.json()["message"]
    stored = WebhookDelivery.objects.get()
    assert bytes(stored.body) == body and "lines" in stored.error
    assert stored.processed_at is None


def test_a_signed_square_body_without_its_event_id_is_kept_and_stays_refused(square_api, post):
    square_api.routes["/v2/orders/SQ-NOID"] = p.square_order("SQ-NOID", [("VAR-A1", 1)])
    event = p.square_event("order.created", "SQ-NOID")
    del event["event_id"]
    body = p.dumps(event)
    response = post("sq", body, p.square_headers(body, SQUARE_URL))
    assert response.status_code == 400 and "event_id" in response.json()["message"]
    stored = WebhookDelivery.objects.get()
    assert stored.delivery_id.startswith("sha256:") and stored.topic == ""
    inbox_retry_task()
    stored.refresh_from_db()
    assert stored.processed_at is None and stored.attempts == 2 and "event_id" in stored.error
    assert not ChannelOrder.objects.exists()


# --- 5. Unauthenticated requests never make a server error -------------------------------


def test_an_ims_signature_with_a_huge_timestamp_is_refused(channels, post):
    body = p.dumps(p.ims_order_event("OD9", [("A-1", 1)]))
    response = post("fk", body, {"X-IMS-Signature": f"t={'9' * 5000},v1=00"})
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "extra"}
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("url", ["/webhooks/shop/", "/whatsapp/webhook/"])
def test_a_body_too_large_is_a_json_413(url, channels, client):
    response = client.post(
        url, data=b"{" + b" " * (5 * 1024 * 1024) + b"}", content_type="application/json"
    )
    assert response.status_code == 413
    answer = response.json()
    assert answer["code"] == "body_too_large"
    assert "bytes" in answer["message"] and answer["extra"]["limit"] > 0
    assert not WebhookDelivery.objects.exists()


# --- 10. Text IMS cannot store: cleaned when it is display text, refused when identity ---


def test_a_nul_or_lone_surrogate_in_display_text_is_cleaned_and_the_order_reserved(channels, post):
    order = p.shopify_order(4704, [("A-1", 2)])
    order["customer"]["first_name"] = "Jo\x00hn"
    order["customer"]["last_name"] = "Sm\ud800ith"
    order["name"] = "#47\x0004"
    body = json.dumps(order).encode()  # "\\u0000" and "\\ud800" escapes, as JSON sends them
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 200 and response.json()["processed"] is True
    stored = ChannelOrder.objects.get()
    assert stored.status == "reserved"
    assert stored.customer_name == "John Sm\ufffdith" and stored.name == "#4704"


def test_a_nul_in_a_sku_is_refused_with_the_delivery_kept(channels, post):
    order = p.shopify_order(4705, [("A-1\x00", 2)])
    body = json.dumps(order).encode()
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 400
    assert "sku" in response.json()["message"] and "NUL" in response.json()["message"]
    stored = WebhookDelivery.objects.get()
    assert "sku" in stored.error and "\x00" not in stored.error
    assert not ChannelOrder.objects.exists()
    assert Channel.objects.get(code="shop").status == "active"


def test_a_lone_surrogate_in_an_order_id_is_refused(channels, post):
    body = p.dumps(p.ims_order_event("OD\ud800", [("A-1", 1)]))
    response = post("fk", body, p.ims_headers(body))
    assert response.status_code == 400
    assert "surrogate" in response.json()["message"]
    assert WebhookDelivery.objects.get().processed_at is None
    assert not ChannelOrder.objects.exists()
