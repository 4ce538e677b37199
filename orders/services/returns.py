"""Customer returns: shipped units sent back land in `quarantined` at the line's location and
Finance is told; units of the return not shipped yet are cancelled instead."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from ims.audit import audit_record
from ims.notify import notify_roles
from ims.permissions import person, require
from ims.roles import Role
from inventory.models import MovementReason, StockState
from inventory.services.stock import StockMove, stock_move
from orders.errors import InvalidLines
from orders.models import ChannelOrder, CustomerReturn, CustomerReturnLine, OrderLine
from orders.providers.base import ReturnLineIn
from orders.services.reservation import order_cancel
from orders.services.state import customer_notify, lines_match, order_event_emit, order_lock

QUARANTINED = StockState.QUARANTINED


def customer_return_record(
    *,
    order: ChannelOrder,
    external_id: str,
    lines: Sequence[ReturnLineIn],
    reason: str = "",
    whole_order: bool = False,
    actor=None,
    now=None,
) -> CustomerReturn | None:
    """Shipped units a customer sends back land in `quarantined` at the line's location and
    Finance is told. Units of the return not shipped yet are cancelled instead."""
    require(actor, "orders.add_customerreturn", "record customer returns")
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = order_lock(order)
        existing = CustomerReturn.objects.filter(order=locked, external_id=external_id).first()
        if existing:
            return existing
        if whole_order:
            back = {ln.pk: ln.shipped - ln.returned for ln in order_lines}
            unshipped = [
                ReturnLineIn(quantity=ln.reserved + ln.backordered, line_external_id=ln.external_id)
                for ln in order_lines
                if ln.reserved + ln.backordered
            ]
        else:
            back, problems = lines_match(
                order_lines,
                lines,
                available=lambda ln: ln.shipped - ln.returned + ln.reserved + ln.backordered,
            )
            if problems:
                raise InvalidLines(problems)
            unshipped = []
            by_pk = {ln.pk: ln for ln in order_lines}
            for pk, quantity in list(back.items()):
                line = by_pk[pk]
                shipped_left = line.shipped - line.returned
                if quantity > shipped_left:
                    unshipped.append(
                        ReturnLineIn(
                            quantity=quantity - shipped_left,
                            line_external_id=line.external_id,
                            sku=line.sku,
                        )
                    )
                    back[pk] = shipped_left
        back = {pk: q for pk, q in back.items() if q > 0}
        result = None
        if back:
            by_pk = {ln.pk: ln for ln in order_lines}
            location_id = next(
                (by_pk[pk].location_id for pk in back if by_pk[pk].location_id), locked.location_id
            )
            result = CustomerReturn.objects.create(
                order=locked,
                external_id=external_id[:128],
                location_id=location_id,
                reason=reason[:255],
                created_at=now,
                created_by=person(actor),
            )
            moves = [
                StockMove(
                    by_pk[pk].product_id, by_pk[pk].location_id or location_id, "", QUARANTINED, q
                )
                for pk, q in back.items()
                if by_pk[pk].product_id
            ]
            stock_move(
                moves=moves,
                action=None,
                reason=MovementReason.CUSTOMER_RETURN,
                ref=f"return:{result.pk}",
                actor=actor,
                now=now,
                note=reason,
            )
            CustomerReturnLine.objects.bulk_create(
                CustomerReturnLine(
                    customer_return=result, line_id=pk, product_id=by_pk[pk].product_id, quantity=q
                )
                for pk, q in back.items()
                if by_pk[pk].product_id
            )
            for pk, q in back.items():
                by_pk[pk].returned += q
            OrderLine.objects.bulk_update([by_pk[pk] for pk in back], ["returned"])
            audit_record(
                actor=actor,
                action="customer_return",
                obj=result,
                after={
                    "order": locked.external_id,
                    "lines": {by_pk[pk].sku: q for pk, q in back.items()},
                },
                reason=reason,
                at=now,
            )
            notify_roles(
                Role.FINANCE,
                kind="customer_return",
                subject=f"Customer return on {locked.channel.code} order {locked.external_id}",
                body=", ".join(f"{by_pk[pk].sku} × {q}" for pk, q in back.items())
                + f" quarantined. Reason: {reason or '—'}",
                link=f"/api/orders/{locked.pk}/",
            )
            order_event_emit(order=locked, event="return_requested", at=now)
            customer_notify(
                order=locked, kind="return_received", ref=f"return:{result.pk}", now=now
            )
        if unshipped:
            order_cancel(
                order=locked, reason=reason or "refunded before shipping", lines=unshipped, now=now
            )
    return result
