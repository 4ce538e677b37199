"""Background entry points for orders and the ledger (django-q2): each calls one service."""

from __future__ import annotations

import logging

from ims.audit import audit_origin
from ims.notify import notify_roles
from ims.roles import Role
from inventory.services.ledger import ledger_drift
from orders.models import WebhookDelivery
from orders.services.inbox import webhook_deliveries_replay
from orders.services.poll import orders_poll_all, pos_sales_read_quietly
from orders.services.queue import queues_drain_all
from orders.services.reservation import backorders_fill_due, reservations_expire

log = logging.getLogger("ims.orders")

INBOX_MAX_ATTEMPTS = 10


def ledger_check_task() -> int:
    """Recompute every level from the movements; log every drift (repair is a person's call:
    `manage.py ledger_check --repair`). Returns the number of drifts."""
    drifts = ledger_drift()
    for drift in drifts:
        log.error("ledger drift: %s", drift)
    if drifts:
        notify_roles(
            Role.ADMIN,
            kind="ledger_drift",
            subject=f"Ledger check: {len(drifts)} stock level(s) disagree with the ledger",
            body="\n".join(str(d) for d in drifts[:50]),
        )
    return len(drifts)


def inbox_retry_task() -> dict:
    with audit_origin("task inbox_retry"):
        return webhook_deliveries_replay(
            deliveries=WebhookDelivery.objects.filter(processed_at__isnull=True),
            max_attempts=INBOX_MAX_ATTEMPTS,
        )


def pos_sales_read_task(channel_id: int) -> str:
    """The channel said its counts changed (Square's inventory.count.updated): read the sales
    its own POS made, into the inbox."""
    from channels.models import Channel

    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return f"no channel {channel_id}"
    with audit_origin("task pos_sales_read"):
        read = pos_sales_read_quietly(channel=channel)
    if read is None:
        return f"{channel.code}: no POS sales read"
    return f"{channel.code}: {read.found} listed, {read.recorded} recorded" + (
        f"; {read.error}" if read.error else ""
    )


def orders_poll_task() -> list[str]:
    """Every channel's orders changed since its cursor, into the inbox (the safety net)."""
    with audit_origin("task orders_poll"):
        return [
            f"{r.channel}: {r.found} listed, {r.stored} new{'; ' + r.error if r.error else ''}"
            + (
                f"; POS sales {r.sales.found} listed, {r.sales.recorded} recorded"
                + (f"; {r.sales.error}" if r.sales.error else "")
                if r.sales
                else ""
            )
            for r in orders_poll_all()
        ]


def order_queues_task() -> list[str]:
    """Amazon's ORDER_CHANGE notifications from each channel's SQS queue, into the inbox;
    a message is deleted once its delivery is stored."""
    with audit_origin("task order_queues"):
        return [r.line for r in queues_drain_all()]


def reservations_expire_task() -> int:
    with audit_origin("task reservations_expire"):
        return reservations_expire()


def backorders_fill_task() -> int:
    with audit_origin("task backorders_fill"):
        return backorders_fill_due()
