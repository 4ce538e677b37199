"""Files into the catalog: the SKU master (catalog file) and the ERP's prices (prices file).
A price a row brings goes through the rules: one that breaks a rule is kept out and the
previous price stays in force; a bad file is refused whole."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.db import transaction

from catalog.governance import KeptOut, price_audit_tasks
from catalog.gtin import gtin14
from catalog.models import Category, Price, PriceSource, PriceStatus, Product, ProductStatus, Style
from catalog.rules import PricePolicy, price_rule_check
from catalog.services.prices import Policies, business_day_start, prices_refresh
from ims.audit import Change, audit_record_many
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, split_list
from ims.errors import FileRejected
from ims.identifiers import parse_identifier
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


@dataclass(frozen=True)
class KeptOutPrice(KeptOut):
    """A file's price refused by a rule, with the file and line it came from."""

    label: str
    line: int

    def __str__(self) -> str:
        return f"{self.label}:{self.line}: price: {self.amount} {self.currency} for {self.sku} breaks {self.rule}"


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
    rule = price_rule_check(offer=amount, mrp=product.mrp, cost=product.cost, policy=policy)
    if rule:
        result.kept_out.append(
            KeptOutPrice(product.id, product.sku, rule, amount, product.currency, label, line)
        )
        result.cleared.discard(product.id)
    else:
        result.cleared.add(product.id)
    effective_from = business_day_start(effective_date) if effective_date else now
    return Price(
        product=product,
        amount=amount,
        currency=product.currency,
        effective_from=effective_from,
        effective_date=effective_date,
        source=source,
        status=PriceStatus.REJECTED if rule else PriceStatus.ACCEPTED,
        rule=rule or "",
        created_by=actor,
        scheduled=not rule and effective_from > now,
    )


def _price_changes(prices: list[Price], before: dict[int, Decimal | None]) -> list[Change]:
    """One audit event per price a file brought: accepted (in force or scheduled) or kept out."""
    changes = []
    for price in prices:
        if price.status == PriceStatus.REJECTED:
            action, reason = "price_kept_out", f"breaks {price.rule}; the previous price stays"
        elif price.scheduled:
            action, reason = "price_schedule", f"in force from {price.effective_from:%Y-%m-%d}"
        else:
            action, reason = "price_accept", ""
        changes.append(
            Change(
                action,
                price.product,
                before={"price": before.get(price.product_id)},
                after={
                    "offered": price.amount,
                    "currency": price.currency,
                    "effective_date": price.effective_date,
                    "source": price.source,
                    "status": price.status,
                    "rule": price.rule,
                },
                reason=reason,
            )
        )
    return changes


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


def parse_attributes(text: str) -> dict:
    """Variant attributes written `size=M;colour=red` (a catalog file's column, the product form)."""
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
        "skuId": row.get("sku_id"),
        "name": row.get("name"),
        "barcode": row.get("barcode"),
        "category": row.get("category"),
        "uom": row.get("uom"),
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
    attributes = row.parse("attributes", parse_attributes, required=False) or {}
    sku = row.get("sku_id")
    if sku and "sku_id" not in row.failed:
        row.parse("sku_id", parse_identifier)
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
    source = CsvSource(
        path,
        required=CATALOG_COLUMNS,
        optional=CATALOG_OPTIONAL,
        label=label,
        lengths=column_lengths(Product, sku_id="sku", name="name", barcode="barcode", uom="uom")
        | column_lengths(Category, category="name")
        | column_lengths(Style, style="code"),
    )
    result = IngestResult()
    seen_sku: dict[str, int] = {}
    seen_gtin: dict[str, tuple[str, int]] = {}
    categories = {c.name: c for c in Category.objects.all()}
    styles: dict[str, Style] = {}
    policies = Policies()
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
    price_audit_tasks(kept_out=result.kept_out, cleared=result.cleared, now=now)
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
    changes: list[Change] = []
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
        differs = [key for key in compared if getattr(product, key) != values[key]]
        if differs:
            before = {key: getattr(product, key) for key in differs}
            for key in compared:
                setattr(product, key, values[key])
            changed.append(product)
            changes.append(
                Change(
                    "product_update",
                    product,
                    before=_named(before, categories, styles),
                    after=_named({key: values[key] for key in differs}, categories, styles),
                )
            )
            result.updated += 1
        else:
            result.unchanged += 1
        last = last_catalog.get((product.id, None))
        if last is None or last[0] != record.price:
            prices.append((product, record))

    Product.objects.bulk_create([product for product, _ in new], batch_size=1000)
    if changed:
        Product.objects.bulk_update(changed, [*compared], batch_size=1000)
    changes[:0] = [
        Change(
            "product_create",
            product,
            after=_named(
                {"sku": product.sku, **{key: getattr(product, key) for key in compared}},
                categories,
                styles,
            ),
        )
        for product, _ in new
    ]
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
    changes.extend(_price_changes(price_rows, {p.id: p.price for p, _ in prices}))
    audit_record_many(actor=actor, changes=changes, at=now)


def _named(values: dict, categories: dict[str, Category], styles: dict[str, Style]) -> dict:
    """Product fields for the audit trail, with the category and style by name."""
    names = {c.id: c.name for c in categories.values()}
    codes = {s.id: s.code for s in styles.values()}
    shown = {}
    for key, value in values.items():
        if key == "category_id":
            shown["category"] = names.get(value, value)
        elif key == "style_id":
            shown["style"] = codes.get(value, value)
        else:
            shown[key] = value
    return shown


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
    policies = Policies()
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
        audit_record_many(
            actor=actor,
            changes=_price_changes(new, {p.id: p.price for p in products.values()}),
            at=now,
        )
    if source.errors:
        raise FileRejected(source.errors)
    prices_refresh(now=now)
    price_audit_tasks(kept_out=result.kept_out, cleared=result.cleared, now=now)
    return result
