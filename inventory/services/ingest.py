"""Locations and stock counts from files (`ingest locations`, `ingest inventory`). Every level
change is a movement."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from catalog.models import Product
from ims.audit import audit_record
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, parse_int
from ims.errors import FileRejected
from ims.identifiers import parse_identifier
from inventory.models import (
    Location,
    LocationAlias,
    LocationKind,
    Movement,
    MovementReason,
    StockLevel,
    StockState,
)

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
