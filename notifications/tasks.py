"""Background entry points for customer messages (django-q2): each calls one service."""

from __future__ import annotations

from dataclasses import asdict

from ims.audit import audit_origin
from notifications.models import InboundMessage
from notifications.services.outbox import customer_notifications_send
from notifications.services.webhook import inbound_reply


def customer_notifications_send_task() -> dict:
    with audit_origin("task customer_notifications_send"):
        return asdict(customer_notifications_send())


def inbound_reply_task(message_id: int) -> str:
    message = InboundMessage.objects.filter(pk=message_id).first()
    if message is None:
        return "gone"
    with audit_origin("task inbound_reply"):
        return inbound_reply(message=message)
