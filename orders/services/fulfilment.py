"""Fulfilment: reserved units shipped (partial lines and partial orders allowed), and the
delivery the carrier or the channel confirms."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from ims.audit import audit_record
from ims.permissions import person, require
from inventory.models import MovementReason, StockState
from inventory.services.stock import StockMove, stock_move
from orders.errors import InvalidLines, OrderError
from orders.models import ChannelOrder, OrderLine, Shipment, ShipmentLine
from orders.providers.base import ReturnLineIn
from orders.services.state import (
    customer_notify,
    lines_match,
    order_event_emit,
    order_lock,
    order_refresh,
)

RESERVED = StockState.RESERVED


def order_dispatch(
    *,
    order: ChannelOrder,
    items: Sequence[tuple[str, int]],
    actor=None,
    now=None,
    tracking_number: str = "",
) -> Shipment:
    """Ship reserved units (partial lines and partial orders allowed): reserved → out."""
    require(actor, "orders.dispatch_order", "dispatch orders")
    now = now or timezone.now()
    if not items:
        raise InvalidLines({"lines": "name at least one line to dispatch"})
    with transaction.atomic():
        locked, order_lines = order_lock(order)
        if locked.cancelled_at:
            raise OrderError(f"order {locked.external_id} is cancelled", code="order_cancelled")
        plan, problems = lines_match(
            order_lines,
            [ReturnLineIn(quantity=q, sku=sku) for sku, q in items],
            available=lambda ln: ln.reserved,
        )
        for index, (_, quantity) in enumerate(items):
            if quantity <= 0:
                problems[f"lines[{index}].quantity"] = "must be a positive whole number"
        if problems:
            raise InvalidLines(problems)
        by_pk = {ln.pk: ln for ln in order_lines}
        moves = [
            StockMove(by_pk[pk].product_id, by_pk[pk].location_id, RESERVED, "", q)
            for pk, q in plan.items()
        ]
        shipment = Shipment.objects.create(
            order=locked,
            created_at=now,
            actor=person(actor),
            tracking_number=tracking_number[:128],
        )
        stock_move(
            moves=moves,
            action=None,
            reason=MovementReason.DISPATCH,
            ref=f"order:{locked.pk}",
            actor=actor,
            now=now,
            note=f"shipment {shipment.pk}",
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, line_id=pk, quantity=q) for pk, q in plan.items()
        )
        for pk, quantity in plan.items():
            by_pk[pk].reserved -= quantity
            by_pk[pk].shipped += quantity
        OrderLine.objects.bulk_update([by_pk[pk] for pk in plan], ["reserved", "shipped"])
        order_refresh(locked, order_lines, now)
        audit_record(
            actor=actor,
            action="order_dispatch",
            obj=locked,
            after={
                "shipment": shipment.pk,
                "lines": {by_pk[pk].sku: q for pk, q in plan.items()},
                "status": locked.status,
            },
            at=now,
        )
        order_event_emit(order=locked, event="dispatched", at=now)
        customer_notify(
            order=locked,
            kind="order_dispatched",
            ref=f"shipment:{shipment.pk}",
            context={
                "order": locked.external_id,
                "lines": {by_pk[pk].sku: q for pk, q in plan.items()},
                "tracking_number": tracking_number,
            },
            now=now,
        )
    order.refresh_from_db()
    return shipment


def order_deliver(*, order: ChannelOrder, actor=None, now=None) -> ChannelOrder:
    """The carrier or the channel confirmed that the shipped units reached the customer."""
    require(actor, "orders.dispatch_order", "confirm deliveries")
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = order_lock(order)
        if not any(line.shipped for line in order_lines):
            raise OrderError(
                f"order {locked.external_id} has shipped nothing yet", code="nothing_shipped"
            )
        if locked.delivered_at:
            return locked
        locked.delivered_at = now
        locked.save(update_fields=["delivered_at"])
        audit_record(
            actor=actor, action="order_deliver", obj=locked, after={"delivered_at": now}, at=now
        )
        order_event_emit(order=locked, event="delivered", at=now)
        customer_notify(order=locked, kind="order_delivered", now=now)
    order.refresh_from_db()
    return locked
