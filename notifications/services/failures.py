"""A customer message that cannot go through: the message `failed`, and a `Sync_Failure`
exception per (template, channel) — `sku_id` `whatsapp:<template name>`, source `order` —
refreshed by each new failure and resolved when that template next goes through on that
channel. PRODUCT.md defines Sync_Failure as "what was to be sent / the provider's error",
which is exactly this, so no new discrepancy is needed; a stock or price sync never resolves
it, and a sales channel is never paused for a failed WhatsApp message. A template WhatsApp
refuses itself is not sent again until an admin approves it."""

from __future__ import annotations

import logging

from django.db import transaction

from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_resolve
from ims.audit import audit_record
from notifications.models import MessageTemplate
from notifications.whatsapp import WhatsAppError, mask
from orders.models import CustomerNotification, NotificationStatus
from orders.services.state import findings_record

log = logging.getLogger("ims.notifications")


def customer_notification_fail(
    notification: CustomerNotification,
    error: str,
    now,
    *,
    template_name: str = "",
    raise_exception: bool = True,
) -> None:
    delivery = notification.delivery
    with transaction.atomic():
        delivery.next_attempt_at = None
        delivery.last_error = error[:2000]
        delivery.updated_at = now
        delivery.save()
        CustomerNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.FAILED, error=error[:2000]
        )
        notification.status, notification.error = NotificationStatus.FAILED, error
        if raise_exception:
            failure_raise(
                channel_id=notification.order.channel_id,
                template_name=template_name,
                what=f"{notification.kind} to {mask(notification.order.customer_phone)} by WhatsApp",
                error=error,
                now=now,
            )
    log.warning("customer message %s failed: %s", notification.pk, error)


def failure_ref(template_name: str) -> str:
    return f"whatsapp:{template_name}"[:255]


def failure_raise(
    *, channel_id: int | None, template_name: str, what: str, error: str, now
) -> None:
    """A Sync_Failure for this template on this channel: opened, or refreshed if open."""
    finding = Finding(
        failure_ref(template_name),
        Discrepancy.SYNC_FAILURE,
        what[:255],
        error[:500],
        channel_id=channel_id,
    )
    findings_record([finding], now=now)  # a twin opened meanwhile is refreshed instead


def failure_resolve(*, channel_id: int | None, template_name: str, now) -> None:
    ids = list(
        OpsException.objects.open()
        .filter(
            sku_id=failure_ref(template_name),
            discrepancy=Discrepancy.SYNC_FAILURE,
            source=ExceptionSource.ORDER,
            channel_id=channel_id,
        )
        .values_list("pk", flat=True)
    )
    if ids:
        ops_exceptions_resolve(ids=ids, now=now, reason="the template went through again")


def message_template_refuse(template: MessageTemplate, exc: WhatsAppError) -> None:
    """WhatsApp refused the template itself: it is not sent again until an admin approves it."""
    before = {"status": template.status}
    template.status, template.status_reason = exc.template_status, str(exc)[:500]
    template.save(update_fields=["status", "status_reason", "updated_at"])
    audit_record(
        actor=None,
        action="template_refused",
        obj=template,
        before=before,
        after={"status": template.status},
        reason=template.status_reason,
    )
