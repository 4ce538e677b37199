"""Writes to the catalog: price rules, the SKU master and prices from files; the price in force."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import connection, transaction

from catalog.gtin import gtin14
from catalog.models import Category, Price, PriceSource, PriceStatus, Product, ProductStatus, Style
from catalog.rules import PricePolicy, broken_rule, policy_of
from ims.csvio import CsvSource, IngestResult, Row, parse_bool, split_list
from ims.errors import ApplicationError, FileRejected, NotAllowed
from ims.money import parse_amount, parse_currency

CATALOG_COLUMNS = (
    "sku_id",
    "name",
    "barcode",
    "category",
    "uom",
    "cost",
    "mrp",
    "price",
    "currency",
)
CATALOG_OPTIONAL = ("status", "style", "attributes")
PRICES_COLUMNS = ("sku_id", "currency", "price")
PRICES_OPTIONAL = ("effective_date",)
PRICE_RULES_COLUMNS = (
    "category",
    "max_discount_pct",
    "min_margin_pct",
    "luxury",
    "excluded_channels",
)


@dataclass(frozen=True)
class KeptOutPrice:
    """A price refused by a rule: the previous price stays in force."""

    label: str
    line: int
    product_id: int
    sku: str
    rule: str
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.label}:{self.line}: price: {self.amount} {self.currency} for {self.sku} breaks {self.rule}"


# ---------------------------------------------------------------------------
# The price in force


def prices_refresh(*, now: dt.datetime) -> int:
    """Set every product's offer price to the one in force at `now`; return how many changed.

    Two set-based statements (PostgreSQL and SQLite alike): rank each product's accepted
    prices by start (latest first, then the later-ingested) and take the first; clear the
    price of a product with none in force.
    """
    products, prices = Product._meta.db_table, Price._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {products} SET price = ranked.amount
            FROM (
                SELECT product_id, amount, ROW_NUMBER() OVER (
                    PARTITION BY product_id ORDER BY effective_from DESC, id DESC
                ) AS position
                FROM {prices} WHERE status = %s AND effective_from <= %s
            ) ranked
            WHERE ranked.position = 1 AND ranked.product_id = {products}.id
              AND ({products}.price IS NULL OR {products}.price <> ranked.amount)
            """,
            [PriceStatus.ACCEPTED, at],
        )
        changed = cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {products} SET price = NULL
            WHERE price IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {prices} p
                WHERE p.product_id = {products}.id AND p.status = %s AND p.effective_from <= %s
            )
            """,
            [PriceStatus.ACCEPTED, at],
        )
        return changed + cursor.rowcount


def business_day_start(day: dt.date) -> dt.datetime:
    """The instant a date begins in the business time zone."""
    tz = zoneinfo.ZoneInfo(settings.IMS_BUSINESS_TZ)
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)


class _Policies:
    """Category policies, looked up lazily and kept for one ingest."""

    def __init__(self):
        self._categories = {c.id: c for c in Category.objects.all()}
        self._default = next(
            (c for c in self._categories.values() if c.name == Category.DEFAULT), None
        )
        self._cache: dict[int, PricePolicy] = {}

    def of(self, category: Category) -> PricePolicy:
        if category.id not in self._cache:
            self._cache[category.id] = policy_of(category, self._default)
        return self._cache[category.id]


def _last_prices(product_ids, source: str) -> dict[tuple[int, dt.date | None], tuple[Decimal, str]]:
    """The latest (amount, status) from `source` per (product, effective date as written)."""
    latest: dict[tuple[int, dt.date | None], tuple[Decimal, str]] = {}
    rows = (
        Price.objects.filter(product_id__in=product_ids, source=source)
        .order_by("id")
        .values_list("product_id", "effective_date", "amount", "status")
    )
    for product_id, effective_date, amount, status in rows:
        latest[(product_id, effective_date)] = (amount, status)
    return latest


def _price_record(
    *,
    product: Product,
    amount: Decimal,
    effective_date: dt.date | None,
    source: str,
    policy: PricePolicy,
    now: dt.datetime,
    label: str,
    line: int,
    result: IngestResult,
    actor=None,
) -> Price:
    """A Price for a file row, accepted or kept out by the rules (recorded in `result`)."""
    rule = broken_rule(offer=amount, mrp=product.mrp, cost=product.cost, policy=policy)
    if rule:
        result.kept_out.append(
            KeptOutPrice(label, line, product.id, product.sku, rule, amount, product.currency)
        )
        result.cleared.discard(product.id)
    else:
        result.cleared.add(product.id)
    return Price(
        product=product,
        amount=amount,
        currency=product.currency,
        effective_from=business_day_start(effective_date) if effective_date else now,
        effective_date=effective_date,
        source=source,
        status=PriceStatus.REJECTED if rule else PriceStatus.ACCEPTED,
        rule=rule or "",
        created_by=actor,
    )


# ---------------------------------------------------------------------------
# Price rules


def _percentage(text: str) -> Decimal:
    value = Decimal(text) if text.replace(".", "", 1).isdigit() else None
    if value is None or value > 100:
        raise ValueError(f"'{text}' is not a percentage from 0 to 100")
    return value


@transaction.atomic
def price_rules_ingest(*, path, label: str | None = None, known_channels: set[str]) -> IngestResult:
    source = CsvSource(path, required=PRICE_RULES_COLUMNS, label=label)
    result = IngestResult()
    seen: dict[str, int] = {}
    parsed = []
    for line, values in source:
        row = Row(source, line, values)
        name = row.required("category")
        if name in seen:
            row.fail("category", f"duplicate of line {seen[name]}")
        elif name:
            seen[name] = line
        fields = {
            "max_discount_pct": row.parse("max_discount_pct", _percentage, required=False),
            "min_margin_pct": row.parse("min_margin_pct", _percentage, required=False),
            "luxury": row.parse("luxury", parse_bool, required=False),
            "excluded_channels": row.parse("excluded_channels", split_list, required=False),
        }
        for code in fields["excluded_channels"] or []:
            if code not in known_channels:
                row.fail("excluded_channels", f"unknown channel '{code}'")
        if row.ok:
            parsed.append((name, fields))
    if source.errors:
        raise FileRejected(source.errors)
    existing = {c.name: c for c in Category.objects.filter(name__in=[name for name, _ in parsed])}
    for name, fields in parsed:
        result.rows += 1
        category = existing.get(name)
        if category is None:
            Category.objects.create(name=name, **fields)
            result.created += 1
        elif any(getattr(category, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(category, key, value)
            category.save()
            result.updated += 1
        else:
            result.unchanged += 1
    return result


# ---------------------------------------------------------------------------
# The catalog


@dataclass
class _CatalogRecord:
    line: int
    sku: str
    name: str
    barcode: str
    gtin: str
    category: str
    uom: str
    cost: Decimal
    mrp: Decimal
    price: Decimal
    currency: str
    status: str
    style: str
    attributes: dict = field(default_factory=dict)


def _attributes(text: str) -> dict:
    pairs = {}
    for part in split_list(text):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"'{part}' is not key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def _status(text: str) -> str:
    value = text.strip().lower()
    if value not in ProductStatus.values:
        raise ValueError(f"'{text}' is not one of {', '.join(ProductStatus.values)}")
    return value


def _catalog_row(row: Row, seen_sku: dict, seen_gtin: dict) -> _CatalogRecord | None:
    record = {
        key: row.get(column)
        for key, column in (
            ("skuId", "sku_id"),
            ("name", "name"),
            ("barcode", "barcode"),
            ("category", "category"),
            ("uom", "uom"),
        )
    }
    row.check_contract("SKU", record)
    currency = row.parse("currency", parse_currency)
    amounts = {}
    for column in ("cost", "mrp", "price"):
        if currency:
            amounts[column] = row.parse(column, partial(_amount, currency=currency))
    gtin = row.parse("barcode", gtin14, required=False) if row.get("barcode") else None
    category = row.required("category")
    status = row.parse("status", _status, required=False) or ProductStatus.ACTIVE
    attributes = row.parse("attributes", _attributes, required=False) or {}
    sku = row.get("sku_id")
    if sku:
        if sku in seen_sku:
            row.fail("sku_id", f"duplicate SKU '{sku}' (first on line {seen_sku[sku]})")
        else:
            seen_sku[sku] = row.line
    if gtin and sku:
        other = seen_gtin.get(gtin)
        if other and other[0] != sku:
            row.fail("barcode", f"same GTIN as {other[0]} on line {other[1]}")
        else:
            seen_gtin[gtin] = (sku, row.line)
    if not row.ok:
        return None
    return _CatalogRecord(
        line=row.line,
        sku=sku,
        name=row.get("name"),
        barcode=row.get("barcode"),
        gtin=gtin,
        category=category,
        uom=row.get("uom"),
        cost=amounts["cost"],
        mrp=amounts["mrp"],
        price=amounts["price"],
        currency=currency,
        status=status,
        style=row.get("style"),
        attributes=attributes,
    )


def _amount(text: str, currency: str) -> Decimal:
    value = parse_amount(text, currency)
    if value < 0:
        raise ValueError(f"'{text}' is negative")
    return value


@transaction.atomic
def catalog_ingest(*, path, label: str | None = None, now: dt.datetime, actor=None) -> IngestResult:
    """Create or update products from a catalog file; its price goes through the rules."""
    source = CsvSource(path, required=CATALOG_COLUMNS, optional=CATALOG_OPTIONAL, label=label)
    result = IngestResult()
    seen_sku: dict[str, int] = {}
    seen_gtin: dict[str, tuple[str, int]] = {}
    categories = {c.name: c for c in Category.objects.all()}
    styles: dict[str, Style] = {}
    policies = _Policies()
    for chunk in source.chunks():
        records = [
            rec
            for line, values in chunk
            if (rec := _catalog_row(Row(source, line, values), seen_sku, seen_gtin))
        ]
        _check_gtins_free(source, records)
        if source.errors:
            continue  # keep reading to report every bad row; nothing will be applied
        _catalog_apply(records, categories, styles, policies, now, source.label, result, actor)
    if source.errors:
        raise FileRejected(source.errors)
    prices_refresh(now=now)
    return result


def _check_gtins_free(source: CsvSource, records: list[_CatalogRecord]) -> None:
    taken = dict(
        Product.objects.filter(gtin__in=[r.gtin for r in records if r.gtin])
        .exclude(sku__in=[r.sku for r in records])
        .values_list("gtin", "sku")
    )
    for record in records:
        if record.gtin in taken:
            source.error(
                record.line, "barcode", f"GTIN already belongs to SKU {taken[record.gtin]}"
            )


def _catalog_apply(records, categories, styles, policies, now, label, result, actor) -> None:
    existing = {p.sku: p for p in Product.objects.filter(sku__in=[r.sku for r in records])}
    last_catalog = _last_prices([p.id for p in existing.values()], PriceSource.CATALOG)
    for name in {r.category for r in records} - categories.keys():
        categories[name] = Category.objects.create(name=name)
    style_codes = {r.style for r in records if r.style} - styles.keys()
    if style_codes:
        for style in Style.objects.filter(code__in=style_codes):
            styles[style.code] = style
        for code in style_codes - styles.keys():
            styles[code] = Style.objects.create(code=code)

    new, changed, prices = [], [], []
    compared = (
        "name",
        "barcode",
        "gtin",
        "category_id",
        "uom",
        "cost",
        "mrp",
        "currency",
        "status",
        "style_id",
        "attributes",
    )
    for record in records:
        result.rows += 1
        values = {
            "name": record.name,
            "barcode": record.barcode,
            "gtin": record.gtin,
            "category_id": categories[record.category].id,
            "uom": record.uom,
            "cost": record.cost,
            "mrp": record.mrp,
            "currency": record.currency,
            "status": record.status,
            "style_id": styles[record.style].id if record.style else None,
            "attributes": record.attributes,
        }
        product = existing.get(record.sku)
        if product is None:
            product = Product(sku=record.sku, **values)
            new.append((product, record))
            result.created += 1
            continue
        if any(getattr(product, key) != values[key] for key in compared):
            for key in compared:
                setattr(product, key, values[key])
            changed.append(product)
            result.updated += 1
        else:
            result.unchanged += 1
        last = last_catalog.get((product.id, None))
        if last is None or last[0] != record.price:
            prices.append((product, record))

    Product.objects.bulk_create([product for product, _ in new], batch_size=1000)
    if changed:
        Product.objects.bulk_update(changed, [*compared], batch_size=1000)
    price_rows = [
        _price_record(
            product=product,
            amount=record.price,
            effective_date=None,
            source=PriceSource.CATALOG,
            policy=policies.of(categories[record.category]),
            now=now,
            label=label,
            line=record.line,
            result=result,
            actor=actor,
        )
        for product, record in [*new, *prices]
    ]
    Price.objects.bulk_create(price_rows, batch_size=1000)


# ---------------------------------------------------------------------------
# Products entered by a person (catalog managers, admins, superadmins)

PRODUCT_FIELDS = (
    "name",
    "barcode",
    "category",
    "uom",
    "cost",
    "mrp",
    "currency",
    "status",
    "style",
    "attributes",
)


# MRP and offer price belong to Pricing (HQ): they change through price_change.
EDITABLE_FIELDS = tuple(name for name in PRODUCT_FIELDS if name != "mrp")


class ProductRefused(ApplicationError):
    code = "product_refused"


def _check_product(*, sku: str, barcode: str, exclude_pk=None) -> str:
    """The barcode's GTIN-14, refusing a bad check digit or a GTIN another product holds."""
    try:
        gtin = gtin14(barcode)
    except ValueError as exc:
        raise ProductRefused(str(exc), extra={"fields": {"barcode": [str(exc)]}}) from None
    holder = (
        Product.objects.filter(gtin=gtin)
        .exclude(pk=exclude_pk)
        .values_list("sku", flat=True)
        .first()
    )
    if holder:
        message = f"GTIN already belongs to SKU {holder}"
        raise ProductRefused(message, extra={"fields": {"barcode": [message]}})
    return gtin


@transaction.atomic
def product_create(
    *,
    sku: str,
    name: str,
    barcode: str,
    category: Category,
    uom: str,
    cost: Decimal,
    mrp: Decimal,
    price: Decimal,
    currency: str,
    status: str = ProductStatus.ACTIVE,
    style: Style | None = None,
    attributes: dict | None = None,
    actor,
) -> Product:
    """Create a product in IMS (never from a channel). Its first offer price goes through the rules;
    in a luxury category it waits for a superadmin's approval."""
    from ims.audit import audit_record, snapshot

    if actor is None or not actor.has_perm("catalog.add_product"):
        raise NotAllowed("only catalog managers, admins and superadmins may create a product")
    if Product.objects.filter(sku=sku).exists():
        raise ProductRefused(
            f"SKU {sku} already exists", extra={"fields": {"sku": ["already exists"]}}
        )
    gtin = _check_product(sku=sku, barcode=barcode)
    policy = _Policies().of(category)
    rule = broken_rule(offer=price, mrp=mrp, cost=cost, policy=policy)
    if rule:
        message = f"the offer price {price} {currency} breaks {rule}"
        raise ProductRefused(
            message, code="price_rule", extra={"rule": rule, "fields": {"price": [message]}}
        )
    now = dt.datetime.now(dt.UTC)
    product = Product.objects.create(
        sku=sku,
        name=name,
        barcode=barcode,
        gtin=gtin,
        category=category,
        uom=uom,
        cost=cost,
        mrp=mrp,
        currency=currency,
        status=status,
        style=style,
        attributes=attributes or {},
    )
    Price.objects.create(
        product=product,
        amount=price,
        currency=currency,
        effective_from=now,
        source=PriceSource.HQ,
        status=PriceStatus.PENDING if policy.luxury else PriceStatus.ACCEPTED,
        created_by=actor,
        reason="initial price",
    )
    prices_refresh(now=now)
    product.refresh_from_db()
    audit_record(
        actor=actor,
        action="product_create",
        obj=product,
        after=snapshot(product, (*PRODUCT_FIELDS, "price")),
        at=now,
    )
    return product


@transaction.atomic
def product_update(*, product: Product, actor, reason: str = "", **changes) -> Product:
    """Edit a product's master data (prices change through price_change, not here)."""
    from ims.audit import audit_record, snapshot

    if actor is None or not actor.has_perm("catalog.change_product"):
        raise NotAllowed("only catalog managers, admins and superadmins may edit a product")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ProductRefused(
            f"cannot change {', '.join(sorted(unknown))} here (MRP and prices are set by Pricing)"
        )
    locked = Product.objects.select_for_update().get(pk=product.pk)
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    before = snapshot(locked, changed)
    if "barcode" in changed:
        locked.gtin = _check_product(
            sku=locked.sku, barcode=changes["barcode"], exclude_pk=locked.pk
        )
        changed.append("gtin")
    for name in changed:
        if name != "gtin":
            setattr(locked, name, changes[name])
    locked.save()
    audit_record(
        actor=actor,
        action="product_update",
        obj=locked,
        before=before,
        after=snapshot(locked, [n for n in changed if n != "gtin"]),
        reason=reason,
    )
    return locked


# ---------------------------------------------------------------------------
# Prices


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO date (YYYY-MM-DD)") from None


@transaction.atomic
def prices_ingest(*, path, label: str | None = None, now: dt.datetime, actor=None) -> IngestResult:
    """ERP prices: a row that breaks a rule is kept out (the rest apply); a bad file is refused."""
    source = CsvSource(path, required=PRICES_COLUMNS, optional=PRICES_OPTIONAL, label=label)
    result = IngestResult()
    policies = _Policies()
    seen: dict[tuple[str, dt.date | None], int] = {}
    prices_refresh(now=now)
    for chunk in source.chunks():
        rows = []
        for line, values in chunk:
            row = Row(source, line, values)
            currency = row.parse("currency", parse_currency)
            amount = row.parse("price", partial(_amount, currency=currency)) if currency else None
            effective = row.parse("effective_date", _date, required=False)
            # The contract sees the parsed values; cells that did not parse were reported above.
            record = {
                "skuId": row.get("sku_id"),
                "currency": currency,
                "price": amount,
                "effectiveDate": effective.isoformat() if effective else None,
            }
            row.check_contract("Price", record)
            key = (row.get("sku_id"), effective)
            if key in seen:
                row.fail("sku_id", f"second price for {key[0]} on one date (line {seen[key]})")
            else:
                seen[key] = line
            rows.append((row, currency, amount, effective))
        products = {
            p.sku: p
            for p in Product.objects.filter(
                sku__in=[r.get("sku_id") for r, *_ in rows]
            ).select_related("category")
        }
        for row, currency, _, _ in rows:
            product = products.get(row.get("sku_id"))
            if row.get("sku_id") and product is None:
                row.fail("sku_id", f"unknown SKU '{row.get('sku_id')}'")
            elif product and currency and currency != product.currency:
                row.fail(
                    "currency",
                    f"{currency} differs from {product.sku}'s currency {product.currency}",
                )
        if source.errors:
            continue
        last = _last_prices([p.id for p in products.values()], PriceSource.ERP)
        new = []
        for row, _, amount, effective in rows:
            product = products[row.get("sku_id")]
            result.rows += 1
            price = _price_record(
                product=product,
                amount=amount,
                effective_date=effective,
                source=PriceSource.ERP,
                policy=policies.of(product.category),
                now=now,
                label=source.label,
                line=row.line,
                result=result,
                actor=actor,
            )
            if last.get((product.id, effective)) == (amount, price.status):
                result.unchanged += 1
                continue
            last[(product.id, effective)] = (amount, price.status)
            new.append(price)
            result.created += 1
        Price.objects.bulk_create(new, batch_size=1000)
    if source.errors:
        raise FileRejected(source.errors)
    prices_refresh(now=now)
    return result
