"""Moving stock: every change locks its levels, writes its movements, and moves the levels by
exactly those movements. Levels are never edited any other way.

Lock order, everywhere: an order's row (orders), then stock levels by primary key
(stock_levels_lock), then a channel's row. Two changes that share levels lock them in the same
order and never deadlock.

    stock_move(moves=…, reason=…, ref=…)       lock, check, write, audit: most flows
    stock_levels_lock(pairs=…) + stock_moves_apply(moves=…, levels=…)
                                               a flow that decides on the locked levels first
                                               (an order choosing its fulfilment location);
                                               stock_reserve(lines=…, levels=…) holds an
                                               order's units that way

Once the movements are written, `inventory.signals.stock_changed` is sent in the same
transaction: the channels queue their ATP push there (a lower layer never calls a higher one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ims.audit import audit_record
from ims.csvio import INT_MAX
from ims.permissions import person, require
from inventory.errors import InsufficientStock, InvalidLines, Short, StockTooLarge
from inventory.models import STATES, Movement, MovementReason, StockLevel, StockState
from inventory.signals import stock_changed

Pair = tuple[int, int]  # (product_id, location_id)
RECEIPT_REF_MAX = Movement._meta.get_field("ref").max_length


@dataclass(frozen=True)
class StockMove:
    """`quantity` units of a product at a location leave `from_state` for `to_state`
    (a blank state is outside IMS: received from, or gone to, the world)."""

    product_id: int
    location_id: int
    from_state: str
    to_state: str
    quantity: int

    @property
    def pair(self) -> Pair:
        return (self.product_id, self.location_id)


def _levels_locked(pairs: Sequence[Pair]) -> list[StockLevel]:
    """SELECT … FOR UPDATE of these pairs' level rows, in primary-key order (of the products
    at the locations named: for one order, every product at each of its channel's
    locations, which is what it decides on)."""
    found = StockLevel.objects.select_for_update().filter(
        product_id__in={p for p, _ in pairs}, location_id__in={loc for _, loc in pairs}
    )
    return list(found.order_by("pk"))


def stock_levels_lock(*, pairs: Iterable[Pair]) -> dict[Pair, StockLevel]:
    """Lock the level rows of these (product, location) pairs, creating missing ones.

    Rows are locked in primary-key order (SELECT … FOR UPDATE). A missing row is inserted
    with ON CONFLICT DO NOTHING, so two requests creating it at once both end up locking the
    one row. Must run inside a transaction.
    """
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    levels = {(lv.product_id, lv.location_id): lv for lv in _levels_locked(pairs)}
    missing = [pair for pair in pairs if pair not in levels]
    if missing:
        StockLevel.objects.bulk_create(
            [StockLevel(product_id=p, location_id=loc) for p, loc in missing],
            ignore_conflicts=True,
        )
        levels.update({(lv.product_id, lv.location_id): lv for lv in _levels_locked(missing)})
    return levels


def stock_moves_apply(
    *,
    moves: Sequence[StockMove],
    levels: dict[Pair, StockLevel],
    reason: str,
    ref: str,
    actor=None,
    now: dt.datetime,
    note: str = "",
) -> list[Movement]:
    """Write the movements and move the (already locked) levels by them: an UPDATE per level,
    one INSERT of the movements. Raises InsufficientStock, writing nothing, when a
    state would go below zero."""
    if any(m.quantity < 0 for m in moves):
        raise ValueError("a movement's quantity is positive")
    moves = [m for m in moves if m.quantity]
    after: dict[Pair, dict[str, int]] = {}
    for move in moves:
        states = after.setdefault(move.pair, {s: getattr(levels[move.pair], s) for s in STATES})
        if move.from_state:
            states[move.from_state] -= move.quantity
        if move.to_state:
            states[move.to_state] += move.quantity
    short = [
        Short(pair[0], pair[1], state, have - value, have)
        for pair, states in after.items()
        for state, value in states.items()
        if value < 0
        for have in [getattr(levels[pair], state)]
    ]
    if short:
        raise InsufficientStock(short)
    over = [
        (pair, state)
        for pair, states in after.items()
        for state, v in states.items()
        if v > INT_MAX
    ]
    if over:  # a level column holds a 32-bit whole number
        (product_id, location_id), state = over[0]
        raise StockTooLarge(product_id=product_id, location_id=location_id, state=state)
    if not moves:
        return []
    for pair, states in after.items():
        level = levels[pair]
        for state, value in states.items():
            setattr(level, state, value)
        level.updated_at = now
        StockLevel.objects.filter(pk=level.pk).update(**states, updated_at=now)
    movements = Movement.objects.bulk_create(
        Movement(
            product_id=m.product_id,
            location_id=m.location_id,
            from_state=m.from_state,
            to_state=m.to_state,
            quantity=m.quantity,
            reason=reason,
            ref=ref,
            note=note[:255],
            actor=person(actor),
            created_at=now,
        )
        for m in moves
    )
    stock_changed.send(StockLevel, product_ids={m.product_id for m in moves}, now=now)
    return movements


def stock_reserve(
    *,
    lines: Iterable[tuple[int, int, int]],
    levels: dict[Pair, StockLevel],
    ref: str,
    now: dt.datetime,
    actor=None,
    note: str = "",
) -> list[Movement]:
    """Hold units for an order: each (product, location, units) moves available → reserved on
    levels locked already (stock_levels_lock); InsufficientStock, nothing written, if one
    has too few."""
    return stock_moves_apply(
        moves=[
            StockMove(p, loc, StockState.AVAILABLE, StockState.RESERVED, q) for p, loc, q in lines
        ],
        levels=levels,
        reason=MovementReason.ORDER,
        ref=ref,
        actor=actor,
        now=now,
        note=note,
    )


def stock_move(
    *,
    moves: Sequence[StockMove],
    reason: str,
    ref: str,
    actor=None,
    note: str = "",
    now: dt.datetime | None = None,
    action: str | None = "stock_move",
) -> list[Movement]:
    """Lock, check, and apply a set of moves at once (all or nothing); audited as `action`
    unless it is None (a caller that records its own audit event)."""
    now = now or timezone.now()
    with transaction.atomic():
        levels = stock_levels_lock(pairs=[m.pair for m in moves])
        movements = stock_moves_apply(
            moves=moves, levels=levels, reason=reason, ref=ref, actor=actor, now=now, note=note
        )
        if action:
            kind, _, ident = ref.partition(":")
            audit_record(
                actor=actor,
                action=action,
                object_type=kind,
                object_id=ident,
                object_repr=ref,
                after={
                    "moves": [
                        [m.product_id, m.location_id, m.from_state, m.to_state, m.quantity]
                        for m in moves
                    ]
                },
                reason=note or reason,
                at=now,
            )
    return movements


RECEIPT_REF = "receipt"


def _flow_checked(*, quantity: int, reason: str, reason_field: str = "reason") -> str:
    """A person's stock flow names a positive whole quantity and a reason: InvalidLines naming
    each field otherwise (nothing is written). The reason, trimmed, is returned."""
    problems = {}
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        problems["quantity"] = "a whole number of units, at least 1"
    elif quantity > INT_MAX:
        problems["quantity"] = f"at most {INT_MAX}"
    reason = (reason or "").strip()
    if not reason:
        problems[reason_field] = "required"
    elif "\x00" in reason:
        problems[reason_field] = "no NUL character"
    if problems:
        raise InvalidLines(problems)
    return reason


def stock_receive(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reference: str,
    actor=None,
    note: str = "",
    now: dt.datetime | None = None,
) -> list[Movement]:
    """Goods received at a location (a supplier's delivery): `quantity` units into available,
    one `receipt` movement with ref `receipt:<reference>` (the delivery note or purchase
    order), audited as `stock_receive`. A person needs inventory.receive_stock; IMS itself (a
    command, an integration) may always."""
    require(actor, "inventory.receive_stock", "receive stock")
    reference = _flow_checked(quantity=quantity, reason=reference, reason_field="reference")
    limit = RECEIPT_REF_MAX - len(RECEIPT_REF) - 1
    if len(reference) > limit:
        raise InvalidLines({"reference": f"at most {limit} characters"})
    return stock_move(
        moves=[StockMove(product_id, location_id, "", StockState.AVAILABLE, quantity)],
        reason=MovementReason.RECEIPT,
        ref=f"{RECEIPT_REF}:{reference}",
        actor=actor,
        note=note.strip(),
        now=now,
        action="stock_receive",
    )


def stock_quarantine_release(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    actor,
    reason: str,
    now: dt.datetime | None = None,
) -> list[Movement]:
    """Quarantined units checked and fit to sell again: quarantined → available. A person's
    decision (orders.release_quarantine), with a reason."""
    require(actor, "orders.release_quarantine", "release quarantined stock", person_only=True)
    reason = _flow_checked(quantity=quantity, reason=reason)
    return stock_move(
        moves=[
            StockMove(
                product_id, location_id, StockState.QUARANTINED, StockState.AVAILABLE, quantity
            )
        ],
        reason=MovementReason.QUARANTINE_RELEASE,
        ref=f"quarantine:{location_id}",
        actor=actor,
        note=reason,
        now=now,
        action="quarantine_release",
    )


def stock_write_off(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    actor,
    reason: str,
    now: dt.datetime | None = None,
) -> list[Movement]:
    """Quarantined units found unfit: quarantined → damaged. A person's decision
    (orders.release_quarantine), with a reason."""
    require(actor, "orders.release_quarantine", "write off quarantined stock", person_only=True)
    reason = _flow_checked(quantity=quantity, reason=reason)
    return stock_move(
        moves=[
            StockMove(product_id, location_id, StockState.QUARANTINED, StockState.DAMAGED, quantity)
        ],
        reason=MovementReason.WRITE_OFF,
        ref=f"quarantine:{location_id}",
        actor=actor,
        note=reason,
        now=now,
        action="quarantine_write_off",
    )
