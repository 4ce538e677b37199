"""The WhatsApp webhook: delivery statuses of messages IMS sent, and customer messages in
(stored, never acted on, each answered with the reply template)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ims.tasks import enqueue
from notifications.models import InboundMessage, MessageDelivery, MessageTemplate, TemplateStatus
from notifications.services.failures import (
    customer_notification_fail,
    failure_raise,
    message_template_refuse,
)
from notifications.whatsapp import (
    PhoneInvalid,
    TemplateMessage,
    WhatsAppClient,
    WhatsAppError,
    client_from_settings,
    e164,
    mask,
)

log = logging.getLogger("ims.notifications")


def whatsapp_statuses_record(*, statuses: list[dict], now: dt.datetime | None = None) -> int:
    """Meta's later word on messages we sent: `failed` fails the message (and raises the
    Sync_Failure); sent, delivered and read are kept on its delivery."""
    now = now or timezone.now()
    by_id = {s.get("id"): s for s in statuses if s.get("id")}
    deliveries = MessageDelivery.objects.filter(provider_message_id__in=list(by_id)).select_related(
        "notification", "notification__order"
    )
    count = 0
    for delivery in deliveries:
        status = by_id[delivery.provider_message_id]
        state = str(status.get("status", ""))[:16]
        if state == "failed":
            error = (status.get("errors") or [{}])[0]
            text = f"{error.get('title') or error.get('message') or 'failed'} (code {error.get('code')})"
            customer_notification_fail(
                delivery.notification, text, now, template_name=delivery.template
            )
        else:
            delivery.provider_status = state
            delivery.updated_at = now
            delivery.save(update_fields=["provider_status", "updated_at"])
        count += 1
    return count


def whatsapp_inbound_record(*, messages: list[dict], now: dt.datetime | None = None) -> list[int]:
    """Store customer messages (idempotent on Meta's message id). Nothing in them is acted
    on: no order is created and no price changes; each gets the templated reply (queued)."""
    now = now or timezone.now()
    rows = []
    for message in messages:
        try:
            sender = e164("+" + str(message.get("from", "")).lstrip("+"))
        except PhoneInvalid:
            log.warning("inbound WhatsApp message %s from an invalid number", message.get("id"))
            continue
        try:
            sent_at = dt.datetime.fromtimestamp(int(message.get("timestamp")), tz=dt.UTC)
        except (TypeError, ValueError):
            sent_at = now
        rows.append(
            InboundMessage(
                wamid=str(message.get("id", ""))[:128],
                sender=sender,
                profile_name=str(message.get("profile_name", ""))[:255],
                type=str(message.get("type", ""))[:20],
                text=str((message.get("text") or {}).get("body", ""))[:4000],
                sent_at=sent_at,
                received_at=now,
            )
        )
    rows = [r for r in rows if r.wamid]
    with transaction.atomic():
        known = set(
            InboundMessage.objects.filter(wamid__in=[r.wamid for r in rows]).values_list(
                "wamid", flat=True
            )
        )
        fresh = [r for r in rows if r.wamid not in known]
        InboundMessage.objects.bulk_create(fresh, ignore_conflicts=True)
        new_ids = list(
            InboundMessage.objects.filter(
                wamid__in=[r.wamid for r in fresh], received_at=now
            ).values_list("pk", flat=True)
        )
        for pk in new_ids:
            enqueue("notifications.tasks.inbound_reply_task", pk)
    return new_ids


def inbound_reply(
    *, message: InboundMessage, client: WhatsAppClient | None = None, now=None
) -> str:
    """Answer a customer's message with the approved reply template pointing to the shop
    (once an hour per number at most). Returns what happened."""
    now = now or timezone.now()
    if message.replied_at:
        return message.reply_outcome
    recent = InboundMessage.objects.filter(
        sender=message.sender, replied_at__gt=now - dt.timedelta(hours=1)
    ).exclude(pk=message.pk)
    template = MessageTemplate.objects.filter(kind="inbound_reply").first()
    own_client = client is None
    if recent.exists():
        outcome = "not replied: this number had the reply within the hour"
    elif template is None or template.status != TemplateStatus.APPROVED:
        outcome = "not replied: no approved inbound_reply template"
    elif (client := client or client_from_settings()) is None:
        outcome = "not replied: WhatsApp is not configured"
    else:
        try:
            values = {"shop_url": settings.IMS_SHOP_URL, "customer_name": message.profile_name}
            sent = client.send_template(
                TemplateMessage(
                    to=message.sender,
                    template=template.name,
                    language=template.language,
                    body=tuple(values.get(k, "—") for k in template.parameters),
                )
            )
            outcome = f"replied: {sent.message_id}"
        except WhatsAppError as exc:
            outcome = f"reply failed: {exc}"[:255]
            if exc.template_status:
                message_template_refuse(template, exc)
            failure_raise(
                channel_id=None,
                template_name=template.name,
                what=f"reply to {mask(message.sender)} by WhatsApp",
                error=str(exc),
                now=now,
            )
        finally:
            if own_client:
                client.close()
    InboundMessage.objects.filter(pk=message.pk).update(
        replied_at=now if outcome.startswith("replied") else None, reply_outcome=outcome[:255]
    )
    return outcome
