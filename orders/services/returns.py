"""Customer returns.

Reported by the channel (customer_return_record): shipped units sent back land in
`quarantined` at the line's location and Finance is told; units of the return not shipped
yet are cancelled instead.

Handed in at a store counter (customer_return_receive): the units go into `returned` at the
store and wait there; an inspector then decides each unit (customer_return_inspect):
`available`, `damaged` or `quarantined`. A marketplace's order (MARKETPLACE_KINDS) is the
marketplace's return: its units go to `quarantined` (or `damaged`), never straight to
`available` (the channel-governance rule: a marketplace return is quarantined)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from channels.models import ChannelKind
from ims.audit import audit_record
from ims.csvio import INT_MAX
from ims.notify import notify_roles
from ims.permissions import person, require
from ims.roles import Role
from inventory.models import Location, MovementReason, StockState
from inventory.services.stock import StockMove, stock_move
from orders.errors import InvalidLines, OrderError
from orders.models import (
    ChannelOrder,
    CustomerReturn,
    CustomerReturnLine,
    CustomerReturnStatus,
    OrderLine,
)
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
                status=CustomerReturnStatus.QUARANTINED,
                created_at=now,
                created_by=person(actor),
            )
            _units_back(
                customer_return=result,
                back=back,
                lines=by_pk,
                state=QUARANTINED,
                location_of=lambda line: line.location_id or location_id,
                actor=actor,
                now=now,
                reason=reason,
            )
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
            _return_told(
                order=locked,
                customer_return=result,
                lines={by_pk[pk].sku: q for pk, q in back.items()},
                where="quarantined",
                reason=reason,
                link=f"/api/orders/{locked.pk}/",
                now=now,
            )
        if unshipped:
            order_cancel(
                order=locked, reason=reason or "refunded before shipping", lines=unshipped, now=now
            )
    return result


def _units_back(
    *, customer_return, back: dict[int, int], lines: dict, state, location_of, actor, now, reason
) -> None:
    """The units a customer sent back (`back`: order line id → units) enter `state` where
    `location_of(line)` says, one movement per product and location (ref return:<id>; the
    caller audits the return); the return's lines are written and each order line counts
    them returned."""
    units: dict[tuple[int, int], int] = defaultdict(int)
    for pk, quantity in back.items():
        if lines[pk].product_id:
            units[(lines[pk].product_id, location_of(lines[pk]))] += quantity
    stock_move(
        moves=[StockMove(p, loc, "", state, q) for (p, loc), q in units.items()],
        action=None,
        reason=MovementReason.CUSTOMER_RETURN,
        ref=f"return:{customer_return.pk}",
        actor=actor,
        now=now,
        note=reason,
    )
    CustomerReturnLine.objects.bulk_create(
        CustomerReturnLine(
            customer_return=customer_return,
            line_id=pk,
            product_id=lines[pk].product_id,
            quantity=q,
        )
        for pk, q in back.items()
        if lines[pk].product_id
    )
    for pk, quantity in back.items():
        lines[pk].returned += quantity
    OrderLine.objects.bulk_update([lines[pk] for pk in back], ["returned"])


def _return_told(
    *, order, customer_return, lines: dict[str, int], where: str, reason: str, link: str, now
) -> None:
    """A return recorded: Finance is told, the order's return clock starts, the customer hears."""
    notify_roles(
        Role.FINANCE,
        kind="customer_return",
        subject=f"Customer return on {order.channel.code} order {order.external_id}",
        body=", ".join(f"{sku} × {q}" for sku, q in lines.items())
        + f" {where}. Reason: {reason or '—'}",
        link=link,
    )
    order_event_emit(order=order, event="return_requested", at=now)
    customer_notify(
        order=order, kind="return_received", ref=f"return:{customer_return.pk}", now=now
    )


# ---------------------------------------------------------------------------
# Returns handed in at a store counter, then inspected.

# Channels that are marketplaces (the channel-governance seed: "Amazon, Flipkart, etc."): a
# return of their order is the marketplace's, and its units are quarantined, not resold at once.
MARKETPLACE_KINDS = (ChannelKind.AMAZON, ChannelKind.FLIPKART)
STORE_REF_PREFIX = "store-"
# The states an inspector sends units to, in the order a line's units are spread over them.
OUTCOMES = (StockState.AVAILABLE, StockState.DAMAGED, StockState.QUARANTINED)


@dataclass(frozen=True)
class Inspection:
    """An inspector's decision for the units of one SKU of a return: how many go to each
    state (they add up to the units of that SKU on the return)."""

    sku: str
    available: int = 0
    damaged: int = 0
    quarantined: int = 0

    @property
    def total(self) -> int:
        return self.available + self.damaged + self.quarantined


def _whole(value, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= INT_MAX


def _sku(line: OrderLine) -> str:
    return line.product.sku if line.product else line.sku


def customer_return_receive(
    *,
    order: ChannelOrder,
    location: Location,
    lines: Sequence[tuple[str, int]],
    reference: str = "",
    reason: str = "",
    actor=None,
    now=None,
) -> tuple[CustomerReturn, bool]:
    """A customer hands shipped units back at a store counter: for each (SKU, units) of the
    order, never more than shipped and not yet returned, the units go into `returned` at
    `location` and wait for inspection; Finance is told. `reference` (the store's return slip)
    makes it idempotent: the same slip for the same order gives the return made before
    (created False), and the same slip with other lines is refused. Without one IMS makes one.
    """
    require(actor, "orders.add_customerreturn", "receive customer returns")
    reference, reason = (reference or "").strip(), (reason or "").strip()
    problems: dict[str, str] = {}
    if len(reference) > 128:
        problems["reference"] = "at most 128 characters"
    elif "\x00" in reference:
        problems["reference"] = "no NUL character"
    if len(reason) > 255:
        problems["reason"] = "at most 255 characters"
    elif "\x00" in reason:
        problems["reason"] = "no NUL character"
    if not lines:
        problems["lines"] = "name at least one SKU and its units"
    wanted: dict[str, int] = {}
    first_index: dict[str, int] = {}
    for index, (sku, quantity) in enumerate(lines):
        if not _whole(quantity, minimum=1):
            problems[f"lines[{index}].quantity"] = "a whole number of units, at least 1"
            continue
        first_index.setdefault(sku, index)
        wanted[sku] = wanted.get(sku, 0) + quantity
    if problems:
        raise InvalidLines(problems)
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = order_lock(order)
        back: dict[int, int] = {}
        for sku, quantity in wanted.items():
            index = first_index[sku]
            candidates = [ln for ln in order_lines if sku in (ln.sku, _sku(ln)) and ln.product_id]
            if not candidates:
                problems[f"lines[{index}].sku_id"] = (
                    f"{sku} is not a line of order {locked.external_id}"
                )
                continue
            left = sum(ln.shipped - ln.returned for ln in candidates)
            if quantity > left:
                problems[f"lines[{index}].quantity"] = (
                    f"{quantity} {sku} handed back, but only {left} shipped and not yet returned"
                )
                continue
            for line in candidates:
                give = min(quantity, line.shipped - line.returned)
                if give > 0:
                    back[line.pk] = give
                    quantity -= give
        if reference:
            existing = CustomerReturn.objects.filter(order=locked, external_id=reference).first()
            if existing:
                had = {
                    line.product.sku: line.quantity
                    for line in existing.lines.select_related("product")
                }
                if had == wanted and existing.location_id == location.pk:
                    return existing, False
                raise InvalidLines(
                    {
                        "reference": f"{reference} is return {existing.pk} of order "
                        f"{locked.external_id} already, with other lines or another location"
                    }
                )
        if problems:
            raise InvalidLines(problems)
        by_pk = {ln.pk: ln for ln in order_lines}
        received = CustomerReturn.objects.create(
            order=locked,
            external_id=reference or f"{STORE_REF_PREFIX}{uuid.uuid4().hex[:12]}",
            location=location,
            reason=reason,
            status=CustomerReturnStatus.RECEIVED,
            created_at=now,
            created_by=person(actor),
        )
        _units_back(
            customer_return=received,
            back=back,
            lines=by_pk,
            state=StockState.RETURNED,
            location_of=lambda line: location.pk,
            actor=actor,
            now=now,
            reason=reason,
        )
        audit_record(
            actor=actor,
            action="customer_return_receive",
            obj=received,
            after={
                "order": locked.external_id,
                "channel": locked.channel.code,
                "location": location.code,
                "status": received.status,
                "lines": wanted,
            },
            reason=reason,
            at=now,
        )
        _return_told(
            order=locked,
            customer_return=received,
            lines=wanted,
            where=f"received at {location.code}, awaiting inspection",
            reason=reason,
            link=f"/stock/returns/?q={locked.external_id}",
            now=now,
        )
    return received, True


def customer_return_inspect(
    *,
    customer_return: CustomerReturn,
    decisions: Sequence[Inspection],
    actor,
    note: str = "",
    now=None,
) -> CustomerReturn:
    """An inspector decides every unit of a return received at a store: per SKU, how many go
    `returned` → `available`, → `damaged`, → `quarantined` (adding up to its units). A
    marketplace's order may send none to available. A person's decision
    (orders.inspect_customerreturn); the return becomes inspected."""
    require(actor, "orders.inspect_customerreturn", "inspect customer returns", person_only=True)
    note = (note or "").strip()
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            CustomerReturn.objects.select_for_update(of=("self",))
            .select_related("order__channel", "location")
            .get(pk=customer_return.pk)
        )
        if locked.status != CustomerReturnStatus.RECEIVED:
            raise OrderError(
                f"return {locked.pk} is {locked.get_status_display()}, not awaiting inspection",
                code="return_not_awaiting_inspection",
            )
        lines = list(locked.lines.select_related("product").order_by("pk"))
        by_sku: dict[str, list[CustomerReturnLine]] = defaultdict(list)
        for line in lines:
            by_sku[line.product.sku].append(line)
        marketplace = locked.order.channel.kind in MARKETPLACE_KINDS
        problems: dict[str, str] = {}
        decided: dict[str, Inspection] = {}
        for index, decision in enumerate(decisions):
            field = f"lines[{index}]"
            if decision.sku not in by_sku:
                problems[f"{field}.sku_id"] = f"{decision.sku} is not on return {locked.pk}"
                continue
            if decision.sku in decided:
                problems[f"{field}.sku_id"] = f"{decision.sku} is named twice"
                continue
            bad = [s for s in OUTCOMES if not _whole(getattr(decision, s), minimum=0)]
            for state in bad:
                problems[f"{field}.{state}"] = "a whole number of units, 0 or more"
            if bad:
                continue
            units = sum(line.quantity for line in by_sku[decision.sku])
            if decision.total != units:
                problems[field] = (
                    f"{decision.sku}: {units} units came back, {decision.total} decided "
                    "(every unit goes to available, damaged or quarantined)"
                )
            elif marketplace and decision.available:
                problems[f"{field}.available"] = (
                    f"a return of a marketplace order ({locked.order.channel.get_kind_display()}"
                    ") goes to quarantined or damaged, never straight to available"
                )
            decided[decision.sku] = decision
        missing = [sku for sku in by_sku if sku not in decided]
        if missing and not problems:
            problems["lines"] = f"decide every SKU of the return: {', '.join(missing)} left"
        if problems:
            raise InvalidLines(problems)
        moves = [
            StockMove(
                by_sku[sku][0].product_id,
                locked.location_id,
                StockState.RETURNED,
                state,
                getattr(decision, state),
            )
            for sku, decision in decided.items()
            for state in OUTCOMES
            if getattr(decision, state)
        ]
        stock_move(
            moves=moves,
            action=None,  # audited below, as the inspection
            reason=MovementReason.CUSTOMER_RETURN,
            ref=f"return:{locked.pk}",
            actor=actor,
            now=now,
            note=note or "inspected",
        )
        for sku, decision in decided.items():
            left = {state: getattr(decision, state) for state in OUTCOMES}
            for line in by_sku[sku]:
                need = line.quantity
                for state in OUTCOMES:
                    give = min(need, left[state])
                    setattr(line, f"to_{state}", give)
                    left[state] -= give
                    need -= give
        CustomerReturnLine.objects.bulk_update(
            lines, ["to_available", "to_damaged", "to_quarantined"]
        )
        locked.status = CustomerReturnStatus.INSPECTED
        locked.inspected_at, locked.inspected_by = now, person(actor)
        locked.save(update_fields=["status", "inspected_at", "inspected_by"])
        audit_record(
            actor=actor,
            action="customer_return_inspect",
            obj=locked,
            before={"status": CustomerReturnStatus.RECEIVED},
            after={
                "status": locked.status,
                "lines": {
                    sku: {state: getattr(d, state) for state in OUTCOMES}
                    for sku, d in decided.items()
                },
            },
            reason=note,
            at=now,
        )
    customer_return.refresh_from_db()
    return customer_return
