"""Sending the orders outbox: by WhatsApp with approved templates, or left to the channel;
retries on 429, and failures that persist raised as Sync_Failure exceptions."""

from __future__ import annotations

import datetime as dt

import pytest

from channels.models import Channel
from exceptions.models import Discrepancy, OpsException
from notifications.models import ChannelMessaging, MessageDelivery, Route, TemplateStatus
from notifications.services.outbox import customer_notifications_claim, customer_notifications_send
from orders.models import CustomerNotification
from tests.notifications.conftest import PHONE
from tests.sla.conftest import ny

pytestmark = pytest.mark.django_db

T0 = ny(2026, 11, 16, 10, 0)


def outbox(order):
    return CustomerNotification.objects.select_related("delivery").get(
        order=order, kind="order_received"
    )


def test_an_order_notice_goes_by_whatsapp_with_its_template(store, place, templates, cloud_api, wa):
    order = place("1001", T0, phone="+1 415 555 0100")
    summary = customer_notifications_send(now=T0, client=wa)
    assert (summary.sent, summary.failed) == (1, 0)
    message = outbox(order)
    assert message.status == "sent" and message.sent_at == T0
    assert message.delivery.provider_message_id.startswith("wamid.")
    assert message.delivery.to == PHONE
    (body,) = cloud_api.sent
    assert body["to"] == PHONE and body["template"]["name"] == "ims_order_received"
    assert [p["text"] for p in body["template"]["components"][0]["parameters"]] == [
        "Asha",
        "#1001",
    ]
    # Nothing is sent twice.
    assert customer_notifications_send(now=T0 + dt.timedelta(minutes=5), client=wa).sent == 0
    assert len(cloud_api.sent) == 1


def test_a_channel_that_tells_its_own_customers_gets_nothing_from_whatsapp(
    store, place, templates, cloud_api, wa
):
    ChannelMessaging.objects.create(channel=Channel.objects.get(code="local"), route=Route.CHANNEL)
    order = place("1002", T0, phone=PHONE)
    summary = customer_notifications_send(now=T0, client=wa)
    assert summary.handed_to_channel == 1
    message = outbox(order)
    assert message.status == "sent" and message.delivery.route == Route.CHANNEL
    assert cloud_api.requests == []


def test_a_template_rejected_by_whatsapp_fails_and_raises_a_sync_failure(
    store, place, templates, cloud_api, wa
):
    cloud_api.templates.clear()  # the business account lost the template
    first = place("1003", T0, phone=PHONE)
    summary = customer_notifications_send(now=T0, client=wa)
    assert summary.failed == 1
    message = outbox(first)
    assert message.status == "failed" and "132001" in message.error
    template = templates["order_received"]
    template.refresh_from_db()
    assert template.status == TemplateStatus.REJECTED
    failure = OpsException.objects.get(discrepancy=Discrepancy.SYNC_FAILURE)
    assert (failure.sku_id, failure.channel.code, failure.status, failure.source) == (
        "whatsapp:ims_order_received",
        "local",
        "open",
        "order",
    )
    assert failure.expected.startswith("order_received to …0100 by WhatsApp")
    assert "does not exist" in failure.actual
    # The channel itself is not paused for a message.
    assert Channel.objects.get(code="local").status == "active"

    # Until an admin approves it again, it is not even tried: one exception, refreshed.
    second = place("1004", T0, phone=PHONE)
    customer_notifications_send(now=T0, client=wa)
    assert outbox(second).status == "failed" and "not approved" in outbox(second).error
    assert len(cloud_api.requests) == 1
    assert OpsException.objects.filter(discrepancy=Discrepancy.SYNC_FAILURE).count() == 1

    # Registered again and approved: the next one goes, and the exception resolves.
    cloud_api.add_template("ims_order_received", body_params=2)
    template.status = TemplateStatus.APPROVED
    template.save()
    place("1005", T0, phone=PHONE)
    assert customer_notifications_send(now=T0, client=wa).sent == 1
    failure.refresh_from_db()
    assert failure.status == "resolved"


def test_429s_are_retried_later_and_fail_visibly_when_they_persist(
    store, place, templates, cloud_api, wa, settings
):
    settings.IMS_WHATSAPP_MAX_ATTEMPTS = 3
    order = place("1006", T0, phone=PHONE)
    cloud_api.answer_next(429, retry_after="120", times=20)  # longer than a worker waits
    now = T0
    summary = customer_notifications_send(now=now, client=wa)
    assert summary.retrying == 1
    delivery = MessageDelivery.objects.get(notification=outbox(order))
    assert delivery.attempts == 1 and delivery.next_attempt_at == now + dt.timedelta(seconds=120)
    assert "Rate limit" in delivery.last_error
    # Not due yet: left alone.
    assert customer_notifications_send(now=now + dt.timedelta(seconds=60), client=wa).retrying == 0
    now += dt.timedelta(seconds=120)
    assert customer_notifications_send(now=now, client=wa).retrying == 1
    delivery.refresh_from_db()
    now = delivery.next_attempt_at
    assert customer_notifications_send(now=now, client=wa).failed == 1
    message = outbox(order)
    assert message.status == "failed" and message.delivery.attempts == 3
    failure = OpsException.objects.get(discrepancy=Discrepancy.SYNC_FAILURE)
    assert "130429" in failure.actual


def test_a_429_that_clears_within_the_call_is_sent(store, place, templates, cloud_api, wa, waits):
    order = place("1007", T0, phone=PHONE)
    cloud_api.answer_next(429, retry_after="1")
    assert customer_notifications_send(now=T0, client=wa).sent == 1
    assert waits == [1.0] and outbox(order).status == "sent"


def test_a_customer_without_a_valid_number_is_failed_without_a_provider_exception(
    store, place, templates, cloud_api, wa
):
    order = place("1008", T0, phone="12")
    assert customer_notifications_send(now=T0, client=wa).failed == 1
    assert "no WhatsApp number" in outbox(order).error
    assert cloud_api.requests == []
    assert not OpsException.objects.filter(discrepancy=Discrepancy.SYNC_FAILURE).exists()


def test_without_whatsapp_configured_messages_wait(store, place, templates, settings):
    settings.IMS_WHATSAPP_PHONE_NUMBER_ID = ""
    order = place("1009", T0, phone=PHONE)
    summary = customer_notifications_send(now=T0)
    assert summary.waiting == 1
    message = outbox(order)
    assert message.status == "queued" and "not configured" in message.delivery.last_error


def test_a_second_sender_does_not_take_what_the_first_holds(store, place, templates):
    place("1010", T0, phone=PHONE)
    assert len(customer_notifications_claim(now=T0, limit=10)) == 1
    assert customer_notifications_claim(now=T0, limit=10) == []
    # A sender that died: its lease runs out and another takes the message.
    assert len(customer_notifications_claim(now=T0 + dt.timedelta(minutes=6), limit=10)) == 1
