"""Shopify's "Send test notification": a made-up sample order (820982911946154508, `"test":
true`), signed with the store's own webhook key (Settings → Notifications), not the app's
secret. IMS answers it 200 and records it, processed, as ignored; it reserves nothing and
makes no order. A forged body is still refused, and the store key proves nothing else."""

from __future__ import annotations

import logging

import pytest

from exceptions.models import OpsException
from orders.models import ChannelOrder, WebhookDelivery
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db


@pytest.fixture
def store_key(channels, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_STORE_WEBHOOK_SECRET", p.STORE_SECRET)


def nothing_changed():
    assert not ChannelOrder.objects.exists()
    assert (level("A-1", "WH").reserved, level("A-1", "NYC").reserved) == (0, 0)
    assert level("B-2", "WH").reserved == 0
    assert not OpsException.objects.exists()


@pytest.mark.parametrize("cancelled", [True, False], ids=["orders/create", "orders/paid"])
def test_a_test_notification_signed_with_the_store_key_is_answered_and_recorded(
    store_key, post, cancelled
):
    """orders/create's sample is cancelled (an order IMS would record as cancelled); another
    topic's may not be (an order IMS would reserve, here A-1 and B-2 the shop sells)."""
    topic = "orders/create" if cancelled else "orders/paid"
    body = p.dumps(p.shopify_test_notification([("A-1", 1), ("B-2", 2)], cancelled=cancelled))
    answer = post("shop", body, p.shopify_headers(body, topic, secret=p.STORE_SECRET, test=True))

    assert answer.status_code == 200, answer.content
    assert answer.json()["processed"] and answer.json()["status"] == "stored"
    row = WebhookDelivery.objects.get()
    assert row.outcome.startswith("ignored: Shopify test notification"), row.outcome
    assert row.headers["x-shopify-test"] == "true" and row.error == ""
    nothing_changed()


def test_one_signed_with_the_app_secret_is_ignored_too(channels, post):
    """The CLI's `app webhook trigger` signs its samples with the app's secret."""
    body = p.dumps(p.shopify_test_notification(cancelled=False))
    answer = post("shop", body, p.shopify_headers(body, "orders/updated"))
    assert answer.status_code == 200
    assert answer.json()["outcome"].startswith("ignored: Shopify test notification")
    nothing_changed()


def test_one_without_a_webhook_id_is_kept_by_its_digest_and_once(store_key, post):
    """Published captures of test notifications carry no X-Shopify-Webhook-Id."""
    body = p.dumps(p.shopify_test_notification())
    headers = p.shopify_headers(body, "orders/create", secret=p.STORE_SECRET, no_id=True)
    first = post("shop", body, headers)
    again = post("shop", body, headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate")
    assert WebhookDelivery.objects.get().delivery_id.startswith("test:sha256:")
    nothing_changed()


def test_a_forged_test_notification_is_refused(store_key, post, caplog):
    body = p.dumps(p.shopify_test_notification())
    with caplog.at_level(logging.WARNING, logger="ims.webhooks"):
        answer = post("shop", body, p.shopify_headers(body, "orders/create", secret="guess"))
    assert answer.status_code == 401
    assert not WebhookDelivery.objects.exists()
    assert "signature does not match" in caplog.text


def test_the_store_key_proves_a_test_notification_only(store_key, post, caplog):
    """A real order signed with the store's key (shown to the shop's staff) is refused like a
    forged one: IMS's webhooks are signed with the app's secret."""
    body = p.dumps(p.shopify_order(4601, [("A-1", 2)]))
    with caplog.at_level(logging.WARNING, logger="ims.webhooks"):
        answer = post("shop", body, p.shopify_headers(body, "orders/create", secret=p.STORE_SECRET))
    assert answer.status_code == 401
    assert "STORE_WEBHOOK_SECRET" in caplog.text and "no test notification" in caplog.text
    nothing_changed()
    assert not WebhookDelivery.objects.exists()


def test_without_the_store_key_set_a_store_signed_notification_is_refused(channels, post):
    body = p.dumps(p.shopify_test_notification())
    answer = post("shop", body, p.shopify_headers(body, "orders/create", secret=p.STORE_SECRET))
    assert answer.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_the_unsigned_test_header_proves_nothing(store_key, post):
    """X-Shopify-Test is a header, which the signature does not cover: a real order sent
    with it is an order (and one placed in test mode, `"test": true` with its own id, too:
    Shopify holds its stock)."""
    body = p.dumps(p.shopify_order(4602, [("A-1", 2)]))
    answer = post("shop", body, p.shopify_headers(body, "orders/create", test=True))
    assert answer.json()["outcome"].startswith("order "), answer.json()
    test_mode = p.shopify_order(4603, [("B-2", 1)])
    test_mode["test"] = True
    body = p.dumps(test_mode)
    assert post("shop", body, p.shopify_headers(body, "orders/create")).json()["processed"]
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (2, 1)
    assert ChannelOrder.objects.count() == 2


def test_a_test_refund_naming_the_sample_order_is_ignored(store_key, post):
    sample = p.shopify_test_notification()
    body = p.dumps(p.shopify_refund(890088186047892319, sample, [(0, 1, "return")]))
    answer = post("shop", body, p.shopify_headers(body, "refunds/create", secret=p.STORE_SECRET))
    assert answer.status_code == 200
    assert answer.json()["outcome"].startswith("ignored: Shopify test notification")
    nothing_changed()


def test_a_stale_test_notification_is_refused(store_key, post):
    import datetime as dt

    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
    body = p.dumps(p.shopify_test_notification(at=old))
    answer = post("shop", body, p.shopify_headers(body, "orders/create", secret=p.STORE_SECRET))
    assert answer.status_code == 401
