"""Writes to the catalog: price rules, the SKU master and prices from files, HQ price changes
and their approval; the price in force. Every change is recorded in the audit trail."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.errors import ApprovalNotPending, PriceChangeInvalid, PriceRuleBroken, PriceRuleInvalid
from catalog.governance import KeptOut, price_audit_tasks, price_violations_raise
from catalog.gtin import gtin14
from catalog.models import Category, Price, PriceSource, PriceStatus, Product, ProductStatus, Style
from catalog.rules import PricePolicy, broken_rule, explain, policy_of
from ims.audit import Change, audit_record, audit_record_many
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, parse_bool, split_list
from ims.errors import ApplicationError, FileRejected, NotAllowed
from ims.identifiers import identifier_problem, parse_identifier
from ims.money import money, parse_amount, parse_currency, quantum
from ims.roles import Role

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


def prices_refresh(*, now: dt.datetime, product_ids: list[int] | None = None) -> int:
    """Set every product's offer price to the one in force at `now`; return how many changed.

    Scheduled prices that became due are applied first (their MRP too), checked against the
    rules in force now, and recorded in the audit trail (scheduled_prices_apply).

    Two set-based statements (PostgreSQL and SQLite alike): rank each product's accepted
    prices by start (latest first, then the later-ingested) and take the first; clear the
    price of a product with none in force. `product_ids` limits both to those products.
    """
    due = scheduled_prices_apply(now=now, product_ids=product_ids)
    changed = _prices_in_force(now=now, product_ids=product_ids)
    if due:
        _record_applied(due, now)
    return changed


def _prices_in_force(*, now: dt.datetime, product_ids: list[int] | None) -> int:
    products, prices = Product._meta.db_table, Price._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    scope = ""
    if product_ids is not None:
        scope = f" AND {products}.id IN ({', '.join(str(int(pk)) for pk in product_ids) or 'NULL'})"
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
              AND ({products}.price IS NULL OR {products}.price <> ranked.amount){scope}
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
            ){scope}
            """,
            [PriceStatus.ACCEPTED, at],
        )
        return changed + cursor.rowcount


@dataclass
class _Due:
    """Scheduled prices of one product that came due, and the product's figures before."""

    product: Product
    prices: list[Price]
    before: dict


def scheduled_prices_apply(*, now: dt.datetime, product_ids: list[int] | None = None) -> list[_Due]:
    """Bring in the scheduled prices whose start has come: each is checked against the rules
    in force now (one that breaks a rule is kept out, raising a Price_Rule_Violation and an
    audit task), the MRP it carries becomes the product's, and it stops being scheduled."""
    queryset = Price.objects.filter(
        scheduled=True, status=PriceStatus.ACCEPTED, effective_from__lte=now
    )
    if product_ids is not None:
        queryset = queryset.filter(product_id__in=product_ids)
    due_prices = list(
        queryset.select_related("product", "product__category").order_by(
            "product_id", "effective_from", "id"
        )
    )
    if not due_prices:
        return []
    policies = _Policies()
    by_product: dict[int, _Due] = {}
    kept_out: list[KeptOut] = []
    for price in due_prices:
        product = price.product
        due = by_product.setdefault(
            product.id, _Due(product, [], {"price": product.price, "mrp": product.mrp})
        )
        mrp = price.mrp if price.mrp is not None else product.mrp
        rule = broken_rule(
            offer=price.amount, mrp=mrp, cost=product.cost, policy=policies.of(product.category)
        )
        price.scheduled = False
        if rule:
            price.status, price.rule = PriceStatus.REJECTED, rule
            kept_out.append(KeptOut(product.id, product.sku, rule, price.amount, price.currency))
        elif price.mrp is not None:
            product.mrp = price.mrp
        due.prices.append(price)
    Price.objects.bulk_update(due_prices, ["scheduled", "status", "rule"], batch_size=1000)
    Product.objects.bulk_update([d.product for d in by_product.values()], ["mrp"], batch_size=1000)
    if kept_out:
        price_violations_raise(kept_out=kept_out, cleared=(), now=now)
    return list(by_product.values())


def _record_applied(due: list[_Due], now: dt.datetime) -> None:
    after = {
        pk: {"price": price, "mrp": mrp}
        for pk, price, mrp in Product.objects.filter(
            pk__in=[d.product.id for d in due]
        ).values_list("pk", "price", "mrp")
    }
    audit_record_many(
        actor=None,
        at=now,
        changes=[
            Change(
                "price_apply" if price.status == PriceStatus.ACCEPTED else "price_kept_out",
                d.product,
                before=d.before,
                after={
                    **after[d.product.id],
                    "price_id": price.pk,
                    "offered": price.amount,
                    "effective_from": price.effective_from,
                    "status": price.status,
                },
                reason=(
                    f"scheduled {price.source} price from {price.effective_from:%Y-%m-%d %H:%M} UTC"
                    + (f" breaks {price.rule}" if price.rule else " is in force")
                ),
            )
            for d in due
            for price in d.prices
        ],
    )


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


# ---------------------------------------------------------------------------
# Price rules


_PERCENTAGE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")


def _percentage(text: str) -> Decimal:
    value = Decimal(text) if _PERCENTAGE.fullmatch(text) else None
    if value is None or value > 100:
        raise ValueError(f"'{text}' is not a percentage from 0 to 100")
    return value


@transaction.atomic
def price_rules_ingest(
    *, path, label: str | None = None, known_channels: set[str], actor=None
) -> IngestResult:
    source = CsvSource(
        path,
        required=PRICE_RULES_COLUMNS,
        label=label,
        lengths=column_lengths(Category, category="name"),
    )
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
    changes = []
    for name, fields in parsed:
        result.rows += 1
        category = existing.get(name)
        if category is None:
            category = Category.objects.create(name=name, **fields)
            changes.append(Change("price_rule_create", category, after=_rule_fields(category)))
            result.created += 1
        elif any(getattr(category, key) != value for key, value in fields.items()):
            before = _rule_fields(category)
            for key, value in fields.items():
                setattr(category, key, value)
            category.save()
            changes.append(
                Change("price_rule_update", category, before=before, after=_rule_fields(category))
            )
            result.updated += 1
        else:
            result.unchanged += 1
    audit_record_many(actor=actor, changes=changes)
    return result


RULE_FIELDS = ("max_discount_pct", "min_margin_pct", "luxury", "excluded_channels")


def _rule_fields(category: Category) -> dict:
    return {name: getattr(category, name) for name in RULE_FIELDS}


def _rule_pct(value, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        value = Decimal(str(value))
    except ArithmeticError:
        raise PriceRuleInvalid(f"{field}: '{value}' is not a number", field=field) from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise PriceRuleInvalid(f"{field}: {value} is not a percentage from 0 to 100", field=field)
    if value != value.quantize(Decimal("0.01")):
        raise PriceRuleInvalid(f"{field}: {value} has more than two decimals", field=field)
    return value


@transaction.atomic
def price_rule_update(
    *,
    name: str,
    max_discount_pct: Decimal | None,
    min_margin_pct: Decimal | None,
    luxury: bool | None,
    excluded_channels: list[str] | None,
    known_channels: set[str],
    actor,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Category:
    """Set a category's price rules (the `*` row is the default; None inherits it), as an admin.

    The in-force prices of the products the change reaches are checked against the new rules:
    one that breaks them raises a Price_Rule_Violation, which blocks its price sync.
    """
    now = now or timezone.now()
    if actor is None or not actor.has_perm("catalog.change_category"):
        raise NotAllowed("only an Admin or Superadmin may change price rules")
    name = (name or "").strip()
    if not name:
        raise PriceRuleInvalid("category: a name is required", field="category")
    fields = {
        "max_discount_pct": _rule_pct(max_discount_pct, "max_discount_pct"),
        "min_margin_pct": _rule_pct(min_margin_pct, "min_margin_pct"),
        "luxury": luxury,
        "excluded_channels": list(excluded_channels) if excluded_channels is not None else None,
    }
    for code in fields["excluded_channels"] or []:
        if code not in known_channels:
            raise PriceRuleInvalid(
                f"excluded_channels: unknown channel '{code}'", field="excluded_channels"
            )
    category = Category.objects.select_for_update().filter(name=name).first()
    if category is None:
        category = Category.objects.create(name=name, **fields)
        audit_record(
            actor=actor,
            action="price_rule_create",
            obj=category,
            after=_rule_fields(category),
            reason=reason,
            at=now,
        )
    else:
        before = _rule_fields(category)
        if before == fields:
            return category
        for key, value in fields.items():
            setattr(category, key, value)
        category.save()
        audit_record(
            actor=actor,
            action="price_rule_update",
            obj=category,
            before=before,
            after=_rule_fields(category),
            reason=reason,
            at=now,
        )
    from catalog.selectors import prices_breaking_rules

    scope = Product.objects.filter(price__isnull=False)
    if name != Category.DEFAULT:
        scope = scope.filter(category=category)
    broken = prices_breaking_rules(products=scope)
    if broken:
        price_violations_raise(kept_out=broken, cleared=(), now=now)
    return category


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
    problem = identifier_problem(sku)
    if problem:
        raise ProductRefused(f"SKU {problem}", extra={"fields": {"sku": [problem]}})
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
    first_price = Price.objects.create(
        product=product,
        amount=price,
        currency=currency,
        effective_from=now,
        source=PriceSource.HQ,
        status=PriceStatus.PENDING if policy.luxury else PriceStatus.ACCEPTED,
        created_by=actor,
        reason="initial price",
    )
    if policy.luxury:
        _approval_requested(price=first_price, actor=actor, now=now)
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


# ---------------------------------------------------------------------------
# HQ price changes (Pricing, Admin, Superadmin) and their approval

APPROVAL_TASK = "price_approval"


def _entered_amount(value, currency: str, field: str) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise PriceChangeInvalid(f"{field}: '{value}' is not an amount", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise PriceChangeInvalid(f"{field}: {value} is not an amount of 0 or more", field=field)
    if amount != amount.quantize(quantum(currency)):
        raise PriceChangeInvalid(
            f"{field}: {value} has more decimals than {currency} allows", field=field
        )
    return amount


def _business_today(now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(settings.IMS_BUSINESS_TZ)).date()


def _policy(category: Category) -> PricePolicy:
    default = Category.objects.filter(name=Category.DEFAULT).first()
    return policy_of(category, default)


def _refuse_if_broken(
    *, product: Product, offer: Decimal, mrp: Decimal, policy: PricePolicy
) -> None:
    rule = broken_rule(offer=offer, mrp=mrp, cost=product.cost, policy=policy)
    if rule:
        raise PriceRuleBroken(
            rule=rule,
            explanation=explain(
                rule,
                offer=offer,
                mrp=mrp,
                cost=product.cost,
                policy=policy,
                currency=product.currency,
            ),
            sku=product.sku,
            offer=money(offer, product.currency),
            mrp=money(mrp, product.currency),
        )


def _price_figures(product: Product) -> dict:
    return {"price": product.price, "mrp": product.mrp}


def _bring_in_force(*, product: Product, price: Price, now: dt.datetime) -> None:
    """A change in force from now: its MRP becomes the product's and the price in force follows."""
    if price.mrp is not None and price.mrp != product.mrp:
        product.mrp = price.mrp
        product.save(update_fields=["mrp", "updated_at"])
    prices_refresh(now=now, product_ids=[product.id])


@transaction.atomic
def price_change(
    *,
    product: Product,
    offer: Decimal,
    mrp: Decimal | None = None,
    effective_date: dt.date | None = None,
    reason: str,
    actor,
    source: str = PriceSource.HQ,
    now: dt.datetime | None = None,
) -> Price:
    """HQ sets a product's offer price (and optionally its MRP), from now or from a later date.

    Refused with the rule named (PriceRuleBroken) when it breaks a price rule; nothing is
    written then. A change for a luxury category waits for a Superadmin's approval
    (pending_approval); any other is accepted: in force at once, or scheduled for the start of
    its effective date (prices_refresh brings it in). A valid change resolves the SKU's open
    Price_Rule_Violation. Recorded in the audit trail with before, after and the reason.
    """
    now = now or timezone.now()
    if actor is None or not actor.has_perm("catalog.add_price"):
        raise NotAllowed("only Pricing (HQ), an Admin or a Superadmin may change a price")
    reason = (reason or "").strip()
    if not reason:
        raise PriceChangeInvalid("reason: a reason is required", field="reason")
    product = Product.objects.select_for_update().select_related("category").get(pk=product.pk)
    offer = _entered_amount(offer, product.currency, "offer")
    if mrp is not None:
        mrp = _entered_amount(mrp, product.currency, "mrp")
    today = _business_today(now)
    if effective_date is not None and effective_date < today:
        raise PriceChangeInvalid(
            f"effective_date: {effective_date} is in the past (today is {today})",
            field="effective_date",
        )
    later = effective_date is not None and effective_date > today
    policy = _policy(product.category)
    _refuse_if_broken(
        product=product, offer=offer, mrp=mrp if mrp is not None else product.mrp, policy=policy
    )
    needs_approval = policy.luxury
    price = Price.objects.create(
        product=product,
        amount=offer,
        mrp=mrp,
        currency=product.currency,
        effective_from=business_day_start(effective_date) if later else now,
        effective_date=effective_date,
        source=source,
        status=PriceStatus.PENDING if needs_approval else PriceStatus.ACCEPTED,
        reason=reason[:255],
        created_by=actor,
        scheduled=later and not needs_approval,
    )
    before = _price_figures(product)
    asked = {
        "price_id": price.pk,
        "offered": offer,
        "mrp": mrp if mrp is not None else product.mrp,
        "effective_from": price.effective_from,
        "status": price.status,
    }
    if needs_approval:
        audit_record(
            actor=actor,
            action="price_change_request",
            obj=product,
            before=before,
            after=asked,
            reason=reason,
            at=now,
        )
        _approval_requested(price=price, actor=actor, now=now)
        return price
    if not later:
        _bring_in_force(product=product, price=price, now=now)
        product.refresh_from_db(fields=["price", "mrp"])
    audit_record(
        actor=actor,
        action="price_schedule" if later else "price_change",
        obj=product,
        before=before,
        after={**asked, **({} if later else _price_figures(product))},
        reason=reason,
        at=now,
    )
    price_violations_raise(kept_out=(), cleared=[product.id], now=now)
    return price


def _approval_requested(*, price: Price, actor, now: dt.datetime) -> None:
    from ims.notify import notify_roles
    from ims.services import ops_task_open

    product = price.product
    title = (
        f"Approve {money(price.amount, price.currency)} {price.currency} for {product.sku} "
        f"(luxury category {product.category.name})"
    )
    ops_task_open(
        kind=APPROVAL_TASK,
        title=title,
        ref=f"price:{price.pk}",
        detail=f"Asked by {actor.get_username()}: {price.reason}",
        role=Role.SUPERADMIN.value,
        now=now,
    )
    notify_roles(
        Role.SUPERADMIN,
        kind="price_approval",
        subject=title,
        body=f"Asked by {actor.get_username()}: {price.reason}",
        link="/pricing/governance/",
    )


def _pending(price: Price) -> Price:
    locked = (
        Price.objects.select_for_update()
        .select_related("product", "product__category")
        .get(pk=price.pk)
    )
    if locked.status != PriceStatus.PENDING:
        raise ApprovalNotPending(
            f"price #{locked.pk} for {locked.product.sku} is {locked.status}, not waiting for approval"
        )
    return locked


def _close_approval_task(*, price: Price, actor, resolution: str, now: dt.datetime) -> None:
    from ims.models import OpsTask, TaskStatus
    from ims.services import ops_task_close

    task = OpsTask.objects.filter(
        kind=APPROVAL_TASK, ref=f"price:{price.pk}", status=TaskStatus.OPEN
    ).first()
    if task:
        ops_task_close(task=task, actor=actor, resolution=resolution, now=now)


@transaction.atomic
def price_approve(*, price: Price, actor, note: str = "", now: dt.datetime | None = None) -> Price:
    """A Superadmin approves a change waiting for approval; it takes effect from then (or at its
    later effective date). Checked again against the rules in force now; refused if it breaks
    one. Whoever asked for a change cannot approve it."""
    now = now or timezone.now()
    if actor is None or not actor.has_perm("catalog.approve_price"):
        raise NotAllowed("only a Superadmin may approve a price change")
    price = _pending(price)
    if price.created_by_id == actor.pk:
        raise NotAllowed("a price change must be approved by someone other than who asked for it")
    product = (
        Product.objects.select_for_update().select_related("category").get(pk=price.product_id)
    )
    _refuse_if_broken(
        product=product,
        offer=price.amount,
        mrp=price.mrp if price.mrp is not None else product.mrp,
        policy=_policy(product.category),
    )
    before = _price_figures(product)
    later = price.effective_from > now
    price.status, price.decided_by, price.decided_at = PriceStatus.ACCEPTED, actor, now
    price.effective_from, price.scheduled = max(price.effective_from, now), later
    price.save(update_fields=["status", "decided_by", "decided_at", "effective_from", "scheduled"])
    if not later:
        _bring_in_force(product=product, price=price, now=now)
        product.refresh_from_db(fields=["price", "mrp"])
    audit_record(
        actor=actor,
        action="price_approve",
        obj=product,
        before={**before, "status": PriceStatus.PENDING},
        after={
            **_price_figures(product),
            "price_id": price.pk,
            "offered": price.amount,
            "effective_from": price.effective_from,
            "status": price.status,
        },
        reason=note or price.reason,
        at=now,
    )
    _close_approval_task(price=price, actor=actor, resolution=f"approved: {note}".strip(), now=now)
    price_violations_raise(kept_out=(), cleared=[product.id], now=now)
    return price


@transaction.atomic
def price_reject(*, price: Price, actor, reason: str, now: dt.datetime | None = None) -> Price:
    """A Superadmin refuses a change waiting for approval: it never takes effect."""
    now = now or timezone.now()
    if actor is None or not actor.has_perm("catalog.approve_price"):
        raise NotAllowed("only a Superadmin may refuse a price change")
    reason = (reason or "").strip()
    if not reason:
        raise PriceChangeInvalid("reason: a reason is required", field="reason")
    price = _pending(price)
    price.status, price.decided_by, price.decided_at = PriceStatus.REJECTED, actor, now
    price.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="price_reject",
        obj=price.product,
        before={"price_id": price.pk, "offered": price.amount, "status": PriceStatus.PENDING},
        after={"price_id": price.pk, "status": price.status},
        reason=reason,
        at=now,
    )
    _close_approval_task(price=price, actor=actor, resolution=f"refused: {reason}", now=now)
    return price
