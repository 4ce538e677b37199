"""Reservations after an order is received: cancelled (released), backordered lines decided
and filled when stock arrives, unconfirmed orders expired, and lines of a SKU IMS does not
know held until ops match them.

Lock order, everywhere: the order's row (order_lock), then its stock levels
(inventory.services.stock), then a channel's row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_resolve
from ims.audit import audit_record
from ims.permissions import require
from inventory.models import MovementReason, StockState
from inventory.services.stock import (
    StockMove,
    stock_levels_lock,
    stock_move,
    stock_reserve,
)
from orders.errors import InvalidLines, OrderError
from orders.models import BackorderDecision, ChannelOrder, OrderLine, OrderStatus
from orders.providers.base import LineIn, ReturnLineIn
from orders.services.state import (
    customer_notify,
    findings_record,
    lines_match,
    order_event_emit,
    order_lock,
    order_refresh,
    products_for_lines,
)

AVAILABLE, RESERVED = StockState.AVAILABLE, StockState.RESERVED


def order_cancel(
    *,
    order: ChannelOrder,
    reason: str,
    lines: Sequence[ReturnLineIn] | None = None,
    actor=None,
    now=None,
    movement_reason: str = MovementReason.CANCEL,
    only_backordered: bool = False,
) -> bool:
    """Cancel what is not shipped yet (the whole order, or some units of some lines):
    backordered units are dropped first, reserved units go back to available.
    Returns False when nothing was left to cancel."""
    require(actor, "orders.cancel_order", "cancel orders")
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = order_lock(order)
        if lines:
            plan, problems = lines_match(
                order_lines, lines, available=lambda ln: ln.reserved + ln.backordered
            )
            if problems:
                raise InvalidLines(problems)
        else:
            plan = {
                ln.pk: ln.backordered if only_backordered else ln.reserved + ln.backordered
                for ln in order_lines
            }
        plan = {pk: q for pk, q in plan.items() if q}
        if not plan:
            return False
        by_pk = {ln.pk: ln for ln in order_lines}
        releases = []
        for pk, quantity in plan.items():
            line = by_pk[pk]
            from_backorder = min(quantity, line.backordered)
            from_reserved = quantity - from_backorder
            line.backordered -= from_backorder
            line.reserved -= from_reserved
            line.cancelled += quantity
            if from_reserved:
                releases.append(
                    StockMove(line.product_id, line.location_id, RESERVED, AVAILABLE, from_reserved)
                )
        stock_move(
            moves=releases,
            reason=movement_reason,
            ref=f"order:{locked.pk}",
            actor=actor,
            now=now,
            note=reason,
            action=None,
        )
        OrderLine.objects.bulk_update(
            [by_pk[pk] for pk in plan], ["reserved", "backordered", "cancelled"]
        )
        if unknown := {by_pk[pk].sku for pk in plan if by_pk[pk].product_id is None}:
            unknown_skus_refresh(channel_id=locked.channel_id, skus=unknown, now=now)
        if all(ln.reserved == 0 and ln.backordered == 0 and ln.shipped == 0 for ln in order_lines):
            locked.cancelled_at, locked.cancel_reason = now, reason[:255]
            locked.hold_until = None
        order_refresh(locked, order_lines, now)
        audit_record(
            actor=actor,
            action="order_cancel",
            obj=locked,
            after={
                "cancelled": {by_pk[pk].sku: q for pk, q in plan.items()},
                "status": locked.status,
            },
            reason=reason,
            at=now,
        )
        if locked.status == OrderStatus.CANCELLED:
            order_event_emit(order=locked, event="cancelled", at=now)
        customer_notify(
            order=locked,
            kind="order_cancelled",
            ref=f"{now.timestamp():.6f}",
            context={
                "order": locked.external_id,
                "cancelled": {by_pk[pk].sku: q for pk, q in plan.items()},
            },
            now=now,
        )
    order.refresh_from_db()
    return True


def order_backorder_decide(
    *, order: ChannelOrder, decision: str, actor, reason: str = "", now=None
) -> None:
    require(actor, "orders.decide_backorder", "decide on backorders")
    now = now or timezone.now()
    if decision == "cancel":
        if not order_cancel(
            order=order,
            reason=reason or "backorder cancelled",
            actor=None,
            now=now,
            only_backordered=True,
        ):
            raise OrderError("nothing of this order is backordered", code="no_backorder")
        audit_record(actor=actor, action="backorder_cancel", obj=order, reason=reason, at=now)
        return
    if decision != BackorderDecision.FILL:
        raise InvalidLines({"decision": "one of fill, cancel"})
    with transaction.atomic():
        locked, lines = order_lock(order)
        waiting = [ln for ln in lines if ln.backordered]
        if not waiting:
            raise OrderError("nothing of this order is backordered", code="no_backorder")
        for line in waiting:
            line.backorder_decision = BackorderDecision.FILL
        OrderLine.objects.bulk_update(waiting, ["backorder_decision"])
        audit_record(actor=actor, action="backorder_fill", obj=locked, reason=reason, at=now)
    order_backorders_fill(order=order, now=now)


def order_backorders_fill(*, order: ChannelOrder, now=None) -> int:
    """Reserve the backordered lines an admin chose to fill, each fully or not at all, at the
    order's location. Returns how many lines were filled."""
    now = now or timezone.now()
    with transaction.atomic():
        locked, lines = order_lock(order)
        _unknown_lines_match(locked, lines, now=now)
        waiting = [
            ln
            for ln in lines
            if ln.backordered and ln.backorder_decision == BackorderDecision.FILL and ln.product_id
        ]
        if not waiting or locked.location_id is None:
            return 0
        location_id = locked.location_id
        levels = stock_levels_lock(pairs=[(ln.product_id, location_id) for ln in waiting])
        left = {pair: level.available for pair, level in levels.items()}
        moves, filled = [], []
        for line in waiting:
            pair = (line.product_id, location_id)
            if left[pair] >= line.backordered:
                left[pair] -= line.backordered
                moves.append((line.product_id, location_id, line.backordered))
                line.reserved += line.backordered
                line.backordered = 0
                line.location_id = location_id
                filled.append(line)
        if not filled:
            return 0
        stock_reserve(
            lines=moves, levels=levels, ref=f"order:{locked.pk}", now=now, note="backorder filled"
        )
        OrderLine.objects.bulk_update(filled, ["reserved", "backordered", "location"])
        order_refresh(locked, lines, now)
        audit_record(
            actor=None,
            action="backorder_filled",
            obj=locked,
            after={"lines": {ln.sku: ln.reserved for ln in filled}, "status": locked.status},
            at=now,
        )
        customer_notify(
            order=locked, kind="order_backorder_filled", ref=f"{now.timestamp():.6f}", now=now
        )
    return len(filled)


def _unknown_lines_match(order: ChannelOrder, lines: list[OrderLine], *, now) -> None:
    """Held lines of a SKU IMS did not know, to fill: matched again (ops may have added the
    product or an alias since); a line now matched waits for stock as any backorder, and its
    Unknown_SKU is resolved once no order holds that SKU unmatched."""
    held = [
        ln
        for ln in lines
        if ln.product_id is None
        and ln.backordered
        and ln.backorder_decision == BackorderDecision.FILL
    ]
    if not held:
        return
    found = products_for_lines(
        order.channel,
        [LineIn(external_id=ln.external_id, sku=ln.sku, item_id=ln.sku, quantity=1) for ln in held],
    )
    matched = []
    for line, product_id in zip(held, found, strict=True):
        if product_id is not None:
            line.product_id = product_id
            matched.append(line)
    if matched:
        OrderLine.objects.bulk_update(matched, ["product"])
        unknown_skus_refresh(channel_id=order.channel_id, skus={ln.sku for ln in matched}, now=now)


def backorders_fill_due(*, now=None) -> int:
    """Every order with backorders to fill: try again (stock may have arrived)."""
    ids = (
        OrderLine.objects.filter(backordered__gt=0, backorder_decision=BackorderDecision.FILL)
        .values_list("order_id", flat=True)
        .distinct()
    )
    return sum(
        order_backorders_fill(order=o, now=now)
        for o in ChannelOrder.objects.filter(pk__in=list(ids))
    )


def reservations_expire(*, now=None) -> int:
    """Orders never confirmed (paid) within their hold: their reservations go back."""
    now = now or timezone.now()
    due = ChannelOrder.objects.filter(
        confirmed_at__isnull=True,
        completed_at__isnull=True,
        cancelled_at__isnull=True,
        hold_until__lte=now,
    )
    count = 0
    for order in due:
        count += order_cancel(
            order=order,
            reason="not confirmed in time: reservation expired",
            now=now,
            movement_reason=MovementReason.EXPIRY,
        )
    return count


def unknown_skus_refresh(*, channel_id: int, skus, now) -> None:
    """One Unknown_SKU per (SKU, channel) while an order of the channel holds a line of that
    SKU with no product: expected `null` (no such product), actual the orders and units held.
    One no order holds any more (filled once matched, or cancelled) is resolved."""
    skus = sorted(skus)
    held: dict[str, list[str]] = defaultdict(list)
    rows = (
        OrderLine.objects.filter(
            order__channel_id=channel_id, product__isnull=True, sku__in=skus, backordered__gt=0
        )
        .order_by("order_id")
        .values_list("sku", "order__external_id", "backordered")
    )
    for sku, external_id, units in rows:
        held[sku].append(f"{external_id} × {units}")
    if held:
        findings_record(
            [
                Finding(
                    sku,
                    Discrepancy.UNKNOWN_SKU,
                    "null",
                    ("held in orders " + ", ".join(orders))[:500],
                    channel_id=channel_id,
                )
                for sku, orders in held.items()
            ],
            now=now,
        )
    gone = [sku for sku in skus if sku not in held]
    if gone:
        ids = (
            OpsException.objects.open()
            .filter(
                discrepancy=Discrepancy.UNKNOWN_SKU,
                source=ExceptionSource.ORDER,
                channel_id=channel_id,
                sku_id__in=gone,
            )
            .values_list("pk", flat=True)
        )
        ops_exceptions_resolve(ids=list(ids), now=now, reason="no order holds it any more")
