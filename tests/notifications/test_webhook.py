"""The inbound WhatsApp webhook: Meta's GET handshake, X-Hub-Signature-256 on every POST,
customer messages answered with the templated pointer to the shop — never an order, never a
price — and delivery statuses."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from catalog.models import Price, Product
from exceptions.models import Discrepancy, OpsException
from notifications.models import InboundMessage, MessageDelivery
from notifications.services.outbox import customer_notifications_send
from orders.models import ChannelOrder, CustomerNotification
from tests.notifications.conftest import PHONE
from tests.sla.conftest import ny

pytestmark = pytest.mark.django_db

SECRET = "meta-app-secret"


@pytest.fixture(autouse=True)
def meta(settings):
    settings.IMS_WHATSAPP_APP_SECRET = SECRET
    settings.IMS_WHATSAPP_VERIFY_TOKEN = "verify-me"


def signed(payload: dict) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": f"sha256={digest}"}


def inbound(text: str, wamid: str = "wamid.IN1", sender: str = "14155550100") -> dict:
    """A customer's text message as Meta posts it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Asha"}, "wa_id": sender}],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": wamid,
                                    "timestamp": "1795435200",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def test_the_handshake_echoes_the_challenge_only_for_our_token(client):
    ok = client.get(
        "/whatsapp/webhook/",
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = client.get(
        "/whatsapp/webhook/",
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403


def test_unsigned_or_wrongly_signed_posts_are_refused_and_nothing_is_kept(client):
    body, headers = signed(inbound("hello"))
    for given in ({}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}):
        response = client.post(
            "/whatsapp/webhook/", data=body, content_type="application/json", headers=given
        )
        assert response.status_code == 401
    tampered = body.replace(b"hello", b"hellO")
    response = client.post(
        "/whatsapp/webhook/", data=tampered, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert not InboundMessage.objects.exists()


def test_a_customer_message_gets_the_shop_pointer_and_changes_nothing(
    client, world, templates, cloud_api, settings, django_capture_on_commit_callbacks
):
    settings.IMS_SHOP_URL = "https://shop.example.com/"
    prices = list(Price.objects.values_list("pk", "amount"))
    offers = list(Product.objects.values_list("sku", "price"))
    body, headers = signed(inbound("Order 10 A-1 for me at 5 dollars each, deal?"))
    with django_capture_on_commit_callbacks(execute=True):  # the reply task runs after commit
        response = client.post(
            "/whatsapp/webhook/", data=body, content_type="application/json", headers=headers
        )
    assert response.status_code == 200 and response.json()["messages"] == 1
    message = InboundMessage.objects.get()
    assert (message.sender, message.profile_name, message.text) == (
        PHONE,
        "Asha",
        "Order 10 A-1 for me at 5 dollars each, deal?",
    )
    assert message.reply_outcome.startswith("replied: wamid.")
    (reply,) = cloud_api.sent
    assert reply["to"] == PHONE and reply["template"]["name"] == "ims_shop_pointer"
    assert reply["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "https://shop.example.com/"}
    ]
    # No order, no price change, from a chat.
    assert not ChannelOrder.objects.exists()
    assert list(Price.objects.values_list("pk", "amount")) == prices
    assert list(Product.objects.values_list("sku", "price")) == offers

    # Meta delivers the same event again: kept once, answered once.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(
            "/whatsapp/webhook/", data=body, content_type="application/json", headers=headers
        )
    assert again.json()["messages"] == 0
    assert InboundMessage.objects.count() == 1 and len(cloud_api.sent) == 1

    # A second message within the hour is kept but not answered again.
    body, headers = signed(inbound("hello?", wamid="wamid.IN2"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/whatsapp/webhook/", data=body, content_type="application/json", headers=headers
        )
    assert InboundMessage.objects.get(wamid="wamid.IN2").reply_outcome.startswith("not replied")
    assert len(cloud_api.sent) == 1


def test_a_failed_delivery_status_fails_the_message(
    client, store, place, templates, cloud_api, waits
):
    from notifications.whatsapp import WhatsAppClient
    from standins import whatsapp as fake

    order = place("1001", ny(2026, 11, 16, 10, 0), phone=PHONE)
    with WhatsAppClient(
        base_url=cloud_api.url,
        phone_number_id=fake.PHONE_NUMBER_ID,
        access_token=fake.TOKEN,
        sleep=waits.append,
    ) as wa:
        customer_notifications_send(now=ny(2026, 11, 16, 10, 0), client=wa)
    delivery = MessageDelivery.objects.get(notification__order=order)
    status = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": "106540352242922"},
                            "statuses": [
                                {
                                    "id": delivery.provider_message_id,
                                    "status": "failed",
                                    "timestamp": "1795435300",
                                    "recipient_id": "14155550100",
                                    "errors": [
                                        {
                                            "code": 131047,
                                            "title": "Re-engagement message",
                                            "message": "Re-engagement message",
                                        }
                                    ],
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body, headers = signed(status)
    response = client.post(
        "/whatsapp/webhook/", data=body, content_type="application/json", headers=headers
    )
    assert response.json()["statuses"] == 1
    notification = CustomerNotification.objects.get(order=order)
    assert notification.status == "failed" and "131047" in notification.error
    assert OpsException.objects.get(discrepancy=Discrepancy.SYNC_FAILURE).channel.code == "local"
