"""Sending the orders outbox (CustomerNotification): each due message goes by WhatsApp
(approved template, E.164 number) or is left to the order's channel. A message that cannot go
through is retried with backoff; one that still fails after IMS_WHATSAPP_MAX_ATTEMPTS, or that
WhatsApp refuses outright, fails (notifications.services.failures). Staff queue payment links
here too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ims.audit import audit_record
from ims.permissions import require
from notifications.errors import MessageError
from notifications.models import (
    ChannelMessaging,
    MessageDelivery,
    MessageTemplate,
    Route,
    TemplateStatus,
)
from notifications.services.failures import (
    customer_notification_fail,
    failure_resolve,
    message_template_refuse,
)
from notifications.whatsapp import (
    PhoneInvalid,
    TemplateMessage,
    WhatsAppClient,
    WhatsAppError,
    client_from_settings,
    e164,
)
from orders.models import ChannelOrder, CustomerNotification, NotificationStatus
from orders.services.state import customer_notify

LEASE = dt.timedelta(minutes=5)  # how long a sender holds a message it is sending
NOT_CONFIGURED_WAIT = dt.timedelta(hours=1)


@dataclass
class SendSummary:
    sent: int = 0
    handed_to_channel: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0  # WhatsApp not configured: left queued
    errors: list[str] = field(default_factory=list)


def _backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(minutes=1) * 4 ** max(attempts - 1, 0), dt.timedelta(hours=2))


def message_values(notification: CustomerNotification) -> dict[str, str]:
    """What a template's parameters may name: the order's, then the notification's context."""
    order = notification.order
    values = {
        "customer_name": order.customer_name or "customer",
        "status": order.status,
        "shop_url": settings.IMS_SHOP_URL,
    }
    values.update(
        {k: str(v) for k, v in (notification.context or {}).items() if v not in (None, "")}
    )
    values["order"] = order.name or order.external_id
    return values


def customer_notifications_claim(*, now: dt.datetime, limit: int) -> list[int]:
    """Take up to `limit` queued messages that are due (another sender skips them): each
    gets a lease of LEASE, after which a sender that died is replaced."""
    with transaction.atomic():
        ids = list(
            CustomerNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=NotificationStatus.QUEUED)
            .filter(Q(delivery__isnull=True) | Q(delivery__next_attempt_at__lte=now))
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        MessageDelivery.objects.bulk_create(
            [
                MessageDelivery(notification_id=pk, route=Route.WHATSAPP, updated_at=now)
                for pk in ids
            ],
            ignore_conflicts=True,
        )
        MessageDelivery.objects.filter(notification_id__in=ids).update(
            next_attempt_at=now + LEASE, updated_at=now
        )
    return ids


def customer_notifications_send(
    *, now: dt.datetime | None = None, limit: int = 200, client: WhatsAppClient | None = None
) -> SendSummary:
    """Work through the outbox: each due message goes by WhatsApp (approved template, E.164
    number) or is left to the order's channel; failures are retried, then raised."""
    now = now or timezone.now()
    summary = SendSummary()
    ids = customer_notifications_claim(now=now, limit=limit)
    if not ids:
        return summary
    notifications = list(
        CustomerNotification.objects.filter(pk__in=ids)
        .select_related("order", "order__channel", "delivery")
        .order_by("created_at", "pk")
    )
    routes = dict(
        ChannelMessaging.objects.filter(
            channel_id__in={n.order.channel_id for n in notifications}
        ).values_list("channel_id", "route")
    )
    templates = {t.kind: t for t in MessageTemplate.objects.all()}
    own_client = client is None
    client = client or client_from_settings()
    try:
        for notification in notifications:
            route = routes.get(notification.order.channel_id, Route.WHATSAPP)
            if route == Route.CHANNEL:
                _handed_to_channel(notification, now)
                summary.handed_to_channel += 1
                continue
            outcome = _send_one(notification, templates.get(notification.kind), client, now)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            if outcome in ("failed", "retrying"):
                summary.errors.append(f"{notification.pk}: {notification.delivery.last_error}")
    finally:
        if own_client and client is not None:
            client.close()
    return summary


def _handed_to_channel(notification: CustomerNotification, now) -> None:
    with transaction.atomic():
        MessageDelivery.objects.filter(notification=notification).update(
            route=Route.CHANNEL,
            next_attempt_at=None,
            provider_status="handed_over",
            updated_at=now,
        )
        CustomerNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENT, sent_at=now, error=""
        )


def _send_one(notification, template: MessageTemplate | None, client, now) -> str:
    delivery = notification.delivery
    order = notification.order
    if template is None or template.status != TemplateStatus.APPROVED:
        why = (
            f"no WhatsApp template for '{notification.kind}'"
            if template is None
            else f"template {template.name} is {template.status}, not approved"
        )
        customer_notification_fail(
            notification, why, now, template_name=template.name if template else notification.kind
        )
        return "failed"
    try:
        to = e164(order.customer_phone, settings.IMS_PHONE_REGION)
    except PhoneInvalid as exc:
        # The customer's own data, not the provider's failure: failed, with the reason shown.
        customer_notification_fail(
            notification, f"no WhatsApp number: {exc}", now, raise_exception=False
        )
        return "failed"
    if client is None:
        delivery.last_error = "WhatsApp is not configured (IMS_WHATSAPP_PHONE_NUMBER_ID, …)"
        delivery.next_attempt_at = now + NOT_CONFIGURED_WAIT
        delivery.updated_at = now
        delivery.save(update_fields=["last_error", "next_attempt_at", "updated_at"])
        return "waiting"
    values = message_values(notification)
    message = TemplateMessage(
        to=to,
        template=template.name,
        language=template.language,
        body=tuple(values.get(key, "—") for key in template.parameters),
        button=values.get(template.button_parameter, "—") if template.button_parameter else None,
    )
    delivery.to, delivery.template = to, template.name
    try:
        sent = client.send_template(message)
    except WhatsAppError as exc:
        delivery.attempts += 1
        if exc.template_status:
            message_template_refuse(template, exc)
        if exc.retryable and delivery.attempts < settings.IMS_WHATSAPP_MAX_ATTEMPTS:
            wait = _backoff(delivery.attempts)
            if exc.retry_after is not None:
                wait = max(wait, dt.timedelta(seconds=exc.retry_after))
            delivery.next_attempt_at = now + wait
            delivery.last_error = str(exc)[:2000]
            delivery.updated_at = now
            delivery.save()
            return "retrying"
        customer_notification_fail(notification, str(exc), now, template_name=template.name)
        return "failed"
    with transaction.atomic():
        delivery.attempts += 1
        delivery.provider_message_id = sent.message_id
        delivery.provider_status = "accepted"
        delivery.next_attempt_at = None
        delivery.last_error = ""
        delivery.updated_at = now
        delivery.save()
        CustomerNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENT, sent_at=now, error=""
        )
        failure_resolve(channel_id=order.channel_id, template_name=template.name, now=now)
    return "sent"


def payment_link_send(*, order: ChannelOrder, url: str, actor) -> CustomerNotification:
    """Queue a payment link to the customer (by the order's route, like every message)."""
    require(actor, "notifications.send_payment_link", "send payment links")
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https"])(url)
    except ValidationError as exc:
        raise MessageError(
            "a payment link must be an https:// address",
            code="invalid_url",
            extra={"fields": {"url": ["must be an https:// address"]}},
        ) from exc
    now = timezone.now()
    ref = f"{now.timestamp():.6f}"
    with transaction.atomic():
        customer_notify(
            order=order,
            kind="payment_link",
            ref=ref,
            context={"order": order.external_id, "url": url},
            now=now,
        )
        notification = CustomerNotification.objects.get(order=order, kind="payment_link", ref=ref)
        audit_record(actor=actor, action="payment_link_send", obj=order, after={"url": url}, at=now)
    return notification
