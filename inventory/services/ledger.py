"""The ledger check (`ledger_check`): every level recomputed from its movements, and a drift
made good by a logged correction movement, never by rewriting history."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Product
from ims.audit import Change, audit_record_many
from inventory.models import STATES, Location, Movement, MovementReason, StockLevel
from inventory.services.stock import stock_levels_lock

log = logging.getLogger("ims.inventory")


@dataclass(frozen=True)
class Drift:
    product_id: int
    sku: str
    location_id: int
    location: str
    state: str
    level: int
    ledger: int

    @property
    def difference(self) -> int:
        return self.level - self.ledger

    def __str__(self) -> str:
        return (
            f"{self.sku} at {self.location}: {self.state} is {self.level}, "
            f"the ledger says {self.ledger} ({self.difference:+d})"
        )


def ledger_drift() -> list[Drift]:
    """Every (product, location, state) whose level differs from the sum of its movements."""
    level_table = StockLevel._meta.db_table
    movement_table = Movement._meta.db_table
    named = ", ".join(
        f"COALESCE(SUM(CASE WHEN to_state = %s THEN quantity ELSE 0 END), 0)"
        f" - COALESCE(SUM(CASE WHEN from_state = %s THEN quantity ELSE 0 END), 0) AS s_{s}"
        for s in STATES
    )
    params = [v for s in STATES for v in (s, s)]
    ledger_sql = f"SELECT product_id, location_id, {named} FROM {movement_table} GROUP BY product_id, location_id"
    with connection.cursor() as cursor:
        cursor.execute(ledger_sql, params)
        ledger = {(row[0], row[1]): row[2:] for row in cursor.fetchall()}
        cursor.execute(f"SELECT product_id, location_id, {', '.join(STATES)} FROM {level_table}")
        levels = {(row[0], row[1]): row[2:] for row in cursor.fetchall()}
    zeros = (0,) * len(STATES)
    found = []
    for pair in levels.keys() | ledger.keys():
        have, should = levels.get(pair, zeros), ledger.get(pair, zeros)
        for state, level, total in zip(STATES, have, should, strict=True):
            if level != total:
                found.append((pair, state, level, int(total)))
    if not found:
        return []
    products = dict(
        Product.objects.filter(pk__in={f[0][0] for f in found}).values_list("pk", "sku")
    )
    locations = dict(
        Location.objects.filter(pk__in={f[0][1] for f in found}).values_list("pk", "code")
    )
    drifts = [
        Drift(p, products[p], loc, locations[loc], state, level, total)
        for (p, loc), state, level, total in found
    ]
    drifts.sort(key=lambda d: (d.sku, d.location, STATES.index(d.state)))
    return drifts


def ledger_repair(*, drifts: Sequence[Drift], actor=None, now: dt.datetime | None = None) -> int:
    """Make the ledger agree with the levels by a logged correction movement per drift.

    The ledger is append-only, so a drift is never hidden by rewriting history: a
    `correction` movement records the difference (the level is what was counted on the
    shelf), and an audit event names each one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        levels = stock_levels_lock(pairs=[(d.product_id, d.location_id) for d in drifts])
        current = [
            d for d in drifts if getattr(levels[(d.product_id, d.location_id)], d.state) == d.level
        ]
        Movement.objects.bulk_create(
            Movement(
                product_id=d.product_id,
                location_id=d.location_id,
                from_state="" if d.difference > 0 else d.state,
                to_state=d.state if d.difference > 0 else "",
                quantity=abs(d.difference),
                reason=MovementReason.CORRECTION,
                ref="ledger_check",
                note=str(d)[:255],
                actor=actor,
                created_at=now,
            )
            for d in current
        )
        audit_record_many(
            actor=actor,
            changes=[
                Change(
                    "ledger_correction",
                    object_type="inventory.stocklevel",
                    object_id=f"{d.product_id}@{d.location_id}",
                    object_repr=f"{d.sku}@{d.location}",
                    before={d.state: d.ledger},
                    after={d.state: d.level},
                    reason=str(d),
                )
                for d in current
            ],
            at=now,
        )
    log.warning("ledger check: %s correction(s) written", len(current))
    for d in current:
        log.warning("ledger correction: %s", d)
    return len(current)
