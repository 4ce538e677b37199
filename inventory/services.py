"""Writes to inventory: locations, stock from files. Every level change is a movement."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Product
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, parse_int
from ims.errors import FileRejected
from ims.identifiers import parse_identifier
from ims.permissions import require
from ims.rows import Statement, build, insert_statement, rows_select, statements_run
from inventory.errors import InsufficientStock, Short
from inventory.models import (
    STATES,
    Location,
    LocationAlias,
    LocationKind,
    Movement,
    MovementReason,
    StockLevel,
    StockState,
)

log = logging.getLogger("ims.inventory")

LOCATIONS_COLUMNS = ("code", "name", "kind")
LOCATIONS_OPTIONAL = ("erp_code",)
INVENTORY_COLUMNS = ("sku_id", "location", "quantity")
ERP_SCOPE = "erp"


@dataclass(frozen=True)
class Shortfall:
    """Stock the file says is there is less than IMS holds reserved: a state would go negative."""

    product_id: int
    sku: str
    location_id: int
    wanted: int
    available: int


def location_resolver() -> dict[str, int]:
    """Location ids by IMS code and by ERP code (the IMS code wins a clash)."""
    codes = dict(LocationAlias.objects.filter(scope=ERP_SCOPE).values_list("code", "location_id"))
    codes.update(Location.objects.values_list("code", "id"))
    return codes


@transaction.atomic
def locations_ingest(*, path, label: str | None = None) -> IngestResult:
    source = CsvSource(
        path,
        required=LOCATIONS_COLUMNS,
        optional=LOCATIONS_OPTIONAL,
        label=label,
        lengths=column_lengths(Location, name="name"),
    )
    result = IngestResult()
    seen: dict[str, int] = {}
    seen_erp: dict[str, int] = {}
    parsed = []
    for line, values in source:
        row = Row(source, line, values)
        code = row.parse("code", parse_identifier)
        name = row.required("name")
        kind = row.parse("kind", _kind)
        erp_code = row.parse("erp_code", parse_identifier, required=False) or ""
        if code in seen:
            row.fail("code", f"duplicate of line {seen[code]}")
        elif code:
            seen[code] = line
        if erp_code in seen_erp:
            row.fail("erp_code", f"duplicate of line {seen_erp[erp_code]}")
        elif erp_code:
            seen_erp[erp_code] = line
        if row.ok:
            parsed.append((code, name, kind, erp_code))
    taken = dict(
        LocationAlias.objects.filter(scope=ERP_SCOPE, code__in=seen_erp)
        .exclude(location__code__in=seen)
        .values_list("code", "location__code")
    )
    for erp_code, owner in taken.items():
        source.error(seen_erp[erp_code], "erp_code", f"already the ERP code of location {owner}")
    if source.errors:
        raise FileRejected(source.errors)

    existing = {loc.code: loc for loc in Location.objects.filter(code__in=seen)}
    aliases = {
        a.location_id: a
        for a in LocationAlias.objects.filter(scope=ERP_SCOPE, location__in=existing.values())
    }
    for code, name, kind, erp_code in parsed:
        result.rows += 1
        location = existing.get(code)
        changed = False
        if location is None:
            location = Location.objects.create(code=code, name=name, kind=kind)
            result.created += 1
        elif (location.name, location.kind) != (name, kind):
            location.name, location.kind = name, kind
            location.save(update_fields=["name", "kind"])
            changed = True
        alias = aliases.get(location.id)
        if alias and alias.code != erp_code:
            alias.delete()
            changed = True
            alias = None
        if erp_code and alias is None:
            LocationAlias.objects.create(location=location, scope=ERP_SCOPE, code=erp_code)
            changed = changed or code in existing
        if code in existing:
            result.updated += changed
            result.unchanged += not changed
    return result


def _kind(text: str) -> str:
    value = text.strip().lower()
    if value not in LocationKind.values:
        raise ValueError(f"'{text}' is not one of {', '.join(LocationKind.values)}")
    return value


@transaction.atomic
def inventory_ingest(
    *, path, label: str | None = None, now: dt.datetime, ref: str, actor=None
) -> IngestResult:
    """Set the sellable count of each (sku, location) in the file.

    The file's quantity is what is physically sellable; units IMS holds reserved
    for open orders are on that shelf, so available = quantity − reserved. When
    that would go below zero, available is 0 and the shortfall is returned in
    `result.findings` (an Oversell_Risk for the caller to raise).
    """
    source = CsvSource(path, required=INVENTORY_COLUMNS, label=label)
    result = IngestResult()
    locations = location_resolver()
    seen: dict[tuple[str, str], int] = {}
    for chunk in source.chunks():
        rows = []
        for line, values in chunk:
            row = Row(source, line, values)
            quantity = row.parse("quantity", parse_int)
            row.check_contract(
                "Inventory",
                {"skuId": row.get("sku_id"), "location": row.get("location"), "quantity": quantity},
            )
            location_id = locations.get(row.get("location"))
            if row.get("location") and location_id is None:
                row.fail("location", f"unknown location '{row.get('location')}'")
            key = (row.get("sku_id"), row.get("location"))
            if key in seen:
                row.fail(
                    "sku_id", f"{key[0]} at {key[1]} appears twice (first on line {seen[key]})"
                )
            else:
                seen[key] = line
            rows.append((row, location_id, quantity))
        products = dict(
            Product.objects.filter(sku__in=[r.get("sku_id") for r, *_ in rows]).values_list(
                "sku", "id"
            )
        )
        for row, _, _ in rows:
            if row.get("sku_id") and row.get("sku_id") not in products:
                row.fail("sku_id", f"unknown SKU '{row.get('sku_id')}'")
        if source.errors:
            continue
        counts = [
            (products[row.get("sku_id")], location_id, quantity)
            for row, location_id, quantity in rows
        ]
        _set_sellable(
            counts,
            skus={products[r.get("sku_id")]: r.get("sku_id") for r, *_ in rows},
            now=now,
            ref=ref,
            reason=MovementReason.IMPORT,
            actor=actor,
            result=result,
        )
    if source.errors:
        raise FileRejected(source.errors)
    if result.created or result.updated:
        from ims.audit import audit_record

        audit_record(
            actor=actor,
            action="stock_ingest",
            object_type="inventory.movement",
            object_id=ref,
            object_repr=f"movements of {ref}",
            after={"ref": ref, "movements": result.created + result.updated, "rows": result.rows},
            reason=f"stock counts from {source.label}",
            at=now,
        )
    return result


def _set_sellable(counts, *, skus, now, ref, reason, actor, result: IngestResult) -> None:
    """Bring `available` of each (product, location) to quantity − reserved, through movements."""
    levels = {
        (level.product_id, level.location_id): level
        for level in StockLevel.objects.filter(
            product_id__in={p for p, _, _ in counts}, location_id__in={loc for _, loc, _ in counts}
        )
    }
    new_levels, changed, movements = [], [], []
    for product_id, location_id, quantity in counts:
        result.rows += 1
        level = levels.get((product_id, location_id))
        if level is None:
            level = StockLevel(product_id=product_id, location_id=location_id)
            new_levels.append(level)
        target = quantity - level.reserved
        if target < 0:
            result.findings.append(
                Shortfall(product_id, skus[product_id], location_id, level.reserved, quantity)
            )
            target = 0
        else:
            result.cleared.add(product_id)
        delta = target - level.available
        if delta == 0:
            result.unchanged += 1
            continue
        movements.append(
            Movement(
                product_id=product_id,
                location_id=location_id,
                from_state="" if delta > 0 else StockState.AVAILABLE,
                to_state=StockState.AVAILABLE if delta > 0 else "",
                quantity=abs(delta),
                reason=reason,
                ref=ref,
                actor=actor,
                created_at=now,
            )
        )
        level.available = target
        level.updated_at = now
        if level.pk:
            changed.append(level)
            result.updated += 1
        else:
            result.created += 1
    result.cleared -= {f.product_id for f in result.findings}
    StockLevel.objects.bulk_create(new_levels, batch_size=1000)
    StockLevel.objects.bulk_update(changed, ["available", "updated_at"], batch_size=1000)
    Movement.objects.bulk_create(movements, batch_size=1000)


# ---------------------------------------------------------------------------
# Stock changes: every one locks its levels, writes movements, and moves the levels
# by exactly those movements. Levels are never edited any other way.

Pair = tuple[int, int]  # (product_id, location_id)


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


def _levels_select_for_update(pairs: Sequence[Pair]) -> list[StockLevel]:
    """SELECT … FOR UPDATE of these pairs' level rows, ordered (so locked) by primary key."""
    quote = connection.ops.quote_name
    return rows_select(
        StockLevel,
        f"({quote('product_id')}, {quote('location_id')}) IN "
        f"(VALUES {', '.join(['(%s, %s)'] * len(pairs))})",
        [v for pair in pairs for v in pair],
        order_by=quote("id"),
        for_update=True,
    )


def stock_levels_lock(*, pairs: Iterable[Pair]) -> dict[Pair, StockLevel]:
    """Lock the level rows of these (product, location) pairs, creating missing ones.

    Rows are locked in primary-key order (SELECT … FOR UPDATE), so any two stock changes
    lock what they share in the same order and never deadlock. A missing row is inserted
    with ON CONFLICT DO NOTHING, so two requests creating it at once both end up locking
    the one row. Must run inside a transaction.
    """
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    levels = {(lv.product_id, lv.location_id): lv for lv in _levels_select_for_update(pairs)}
    missing = [pair for pair in pairs if pair not in levels]
    if missing:
        StockLevel.objects.bulk_create(
            [StockLevel(product_id=p, location_id=loc) for p, loc in missing],
            ignore_conflicts=True,
        )
        for level in _levels_select_for_update(missing):
            levels[(level.product_id, level.location_id)] = level
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
    """Write the movements and move the (already locked) levels by them.

    Raises InsufficientStock, writing nothing, when a state would go below zero.
    After commit, the channels hear that these products' stock changed (their ATP push).
    """
    statements, movements = stock_moves_statements(
        moves=moves, levels=levels, reason=reason, ref=ref, actor=actor, now=now, note=note
    )
    statements_run(statements)
    return movements


def _moving(moves: Sequence[StockMove]) -> list[StockMove]:
    """The moves that move something (a quantity of 0 is dropped; below 0 is refused)."""
    if any(m.quantity < 0 for m in moves):
        raise ValueError("a movement's quantity is positive")
    return [m for m in moves if m.quantity]


def stock_moves_statements(
    *,
    moves: Sequence[StockMove],
    levels: dict[Pair, StockLevel],
    reason: str,
    ref: str,
    actor=None,
    now: dt.datetime,
    note: str = "",
    queue_pushes: bool = False,
) -> tuple[list[Statement], list[Movement]]:
    """stock_moves_apply for a caller that sends its own writes with these: checks the moves
    (InsufficientStock, nothing changed), moves the locked levels in memory, and returns the
    statements that write them (one UPDATE of the levels, one INSERT of the movements) with
    the movements they insert. The caller runs them (ims.rows.statements_run) in the same
    transaction, so a whole reservation can go to the database in one round trip.

    `queue_pushes`: the channels' ATP pushes are queued by a third statement, in the
    transaction, instead of after commit (one round trip and commit fewer). Only for a
    transaction that queues pushes once (channels.services.stock_changed_statement)."""
    moves = _moving(moves)
    after: dict[Pair, dict[str, int]] = {}
    for move in moves:
        level = levels[move.pair]
        states = after.setdefault(move.pair, {s: getattr(level, s) for s in STATES})
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
    if not moves:
        return [], []
    changed = []
    for pair, states in after.items():
        level = levels[pair]
        for state, value in states.items():
            setattr(level, state, value)
        level.updated_at = now
        changed.append(level)
    statements, movements = _movements_statements(
        moves=moves, reason=reason, ref=ref, actor=actor, now=now, note=note, queue=queue_pushes
    )
    return [_levels_update(changed, now), *statements], movements


def stock_moves_guarded(
    *,
    moves: Sequence[StockMove],
    level_ids: Mapping[Pair, int],
    reason: str,
    ref: str,
    actor=None,
    now: dt.datetime,
    note: str = "",
    queue_pushes: bool = False,
) -> tuple[list[Statement], Statement | None]:
    """stock_moves_statements for levels read but not locked (their ids in `level_ids`):
    each level changes by what the moves add and take, in the database, and only if none of
    its states goes below zero then. Returns the statements and, among them, the levels'
    UPDATE (None when no move has a quantity): it returns the ids of the levels it changed.
    If that is fewer than it was given, a level no longer held enough and the caller must
    roll back (the other statements ran).

    The UPDATE locks its rows in primary-key order first (on PostgreSQL), as
    stock_levels_lock does, so it never deadlocks with another stock change. A caller that
    decided on levels it read without a lock sends this with its other writes: the rows stay
    locked only from that statement to the commit."""
    moves = _moving(moves)
    if not moves:
        return [], None
    deltas: dict[int, dict[str, int]] = {}
    for move in moves:
        states = deltas.setdefault(level_ids[move.pair], dict.fromkeys(STATES, 0))
        if move.from_state:
            states[move.from_state] -= move.quantity
        if move.to_state:
            states[move.to_state] += move.quantity
    update = Statement(
        _levels_guarded_sql(len(deltas), connection.vendor),
        [
            *(v for pk, states in sorted(deltas.items()) for v in (pk, *states.values())),
            StockLevel._meta.get_field("updated_at").get_db_prep_save(now, connection),
        ],
    )
    statements, _ = _movements_statements(
        moves=moves, reason=reason, ref=ref, actor=actor, now=now, note=note, queue=queue_pushes
    )
    return [update, *statements], update


@cache
def _levels_guarded_sql(rows: int, vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(StockLevel._meta.db_table)
    pk = quote("id")
    row = "(" + ", ".join(["%s"] * len(_LEVEL_COLUMNS)) + ")"
    values = (
        f"v ({', '.join(quote(c) for c in _LEVEL_COLUMNS)}) AS (VALUES {', '.join([row] * rows)})"
    )
    # Locked in key order by the CTE (a LockRows over the sort), before the UPDATE joins them.
    locked = (
        f", l AS (SELECT {pk} FROM {table} WHERE {pk} IN (SELECT {pk} FROM v) "
        f"ORDER BY {pk} FOR UPDATE)"
        if vendor == "postgresql"
        else ""
    )
    join = f" AND {table}.{pk} IN (SELECT {pk} FROM l)" if locked else ""
    return (
        f"WITH {values}{locked} UPDATE {table} SET "
        + ", ".join(f"{quote(s)} = {table}.{quote(s)} + v.{quote(s)}" for s in STATES)
        + f", {quote('updated_at')} = %s FROM v WHERE {table}.{pk} = v.{pk}{join} AND "
        + " AND ".join(f"{table}.{quote(s)} + v.{quote(s)} >= 0" for s in STATES)
        + f" RETURNING {table}.{pk}"
    )


def _movements_statements(
    *, moves: Sequence[StockMove], reason: str, ref: str, actor, now, note: str, queue: bool
) -> tuple[list[Statement], list[Movement]]:
    """The movements' INSERT and, with `queue`, the INSERT that queues the channels' ATP
    pushes; after commit the sync engine hears of the products (stock_changed_on_commit)."""
    person = actor if actor is not None and actor.is_authenticated else None
    movements = [
        build(
            Movement,
            product_id=m.product_id,
            location_id=m.location_id,
            from_state=m.from_state,
            to_state=m.to_state,
            quantity=m.quantity,
            reason=reason,
            ref=ref,
            note=note[:255],
            actor=person,
            created_at=now,
        )
        for m in moves
    ]
    product_ids = {m.product_id for m in moves}
    statements = [insert_statement(movements)]
    if queue:
        from channels.services import stock_changed_statement

        statements.append(stock_changed_statement(product_ids=product_ids, now=now))
    stock_changed_on_commit(product_ids=product_ids, queued=queue)
    return statements, movements


def _levels_update(levels: Sequence[StockLevel], now: dt.datetime) -> Statement:
    """Every state of these (locked) levels in one UPDATE … FROM (VALUES …)."""
    params = [getattr(level, c) for level in levels for c in _LEVEL_COLUMNS]
    params.append(StockLevel._meta.get_field("updated_at").get_db_prep_save(now, connection))
    return Statement(_levels_update_sql(len(levels), connection.vendor), params, returns_rows=False)


_LEVEL_COLUMNS = ("id", *STATES)


@cache
def _levels_update_sql(rows: int, vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(StockLevel._meta.db_table)
    cast = "CAST(v.{0} AS integer)" if vendor == "postgresql" else "v.{0}"
    row = "(" + ", ".join(["%s"] * len(_LEVEL_COLUMNS)) + ")"
    return (
        f"WITH v ({', '.join(quote(c) for c in _LEVEL_COLUMNS)}) AS (VALUES {', '.join([row] * rows)}) "
        f"UPDATE {table} SET "
        + ", ".join(f"{quote(s)} = {cast.format(quote(s))}" for s in STATES)
        + f", {quote('updated_at')} = %s FROM v WHERE {table}.{quote('id')} = v.{quote('id')}"
    )


def stock_changed_on_commit(*, product_ids: Iterable[int], queued: bool = False) -> None:
    """Once the transaction commits, tell the sync engine these products' ATP is due
    (`queued`: the transaction queued their pushes itself; only the in-process queue has
    anything left to do)."""
    from django.conf import settings

    from channels.services import stock_changed

    product_ids = sorted(set(product_ids))
    if product_ids and (not queued or settings.Q_CLUSTER.get("sync")):
        transaction.on_commit(lambda: stock_changed(product_ids=product_ids, queued=queued))


def _audit_moves(*, actor, action: str, ref: str, reason: str, moves: Sequence[StockMove], now):
    from ims.audit import audit_record

    kind, _, ident = ref.partition(":")
    audit_record(
        actor=actor,
        action=action,
        object_type=kind,
        object_id=ident,
        object_repr=ref,
        after={
            "moves": [
                [m.product_id, m.location_id, m.from_state, m.to_state, m.quantity] for m in moves
            ]
        },
        reason=reason,
        at=now,
    )


def stock_move(
    *,
    moves: Sequence[StockMove],
    reason: str,
    ref: str,
    actor=None,
    note: str = "",
    now: dt.datetime | None = None,
    action: str = "stock_move",
) -> list[Movement]:
    """Lock, check, and apply a set of moves at once (all or nothing), audited."""
    now = now or timezone.now()
    with transaction.atomic():
        levels = stock_levels_lock(pairs=[m.pair for m in moves])
        movements = stock_moves_apply(
            moves=moves, levels=levels, reason=reason, ref=ref, actor=actor, now=now, note=note
        )
        _audit_moves(
            actor=actor, action=action, ref=ref, reason=note or reason, moves=moves, now=now
        )
    return movements


def stock_receive(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    ref: str,
    actor=None,
    note: str = "",
    now: dt.datetime | None = None,
) -> list[Movement]:
    """Goods received at a location (a delivery from a supplier): into available."""
    return stock_move(
        moves=[StockMove(product_id, location_id, "", StockState.AVAILABLE, quantity)],
        reason=MovementReason.RECEIPT,
        ref=ref,
        actor=actor,
        note=note,
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
    """Quarantined units checked and fit to sell again: quarantined → available."""
    require(actor, "orders.release_quarantine", "release quarantined stock", person_only=True)
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
    """Quarantined units found unfit: quarantined → damaged."""
    require(actor, "orders.release_quarantine", "write off quarantined stock", person_only=True)
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


# ---------------------------------------------------------------------------
# The ledger check: every level recomputed from the movements


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
    from django.db import connection

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
    from ims.audit import Change, audit_record_many

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
