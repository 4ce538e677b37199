"""Price rules, the category policy every price is checked against (catalog.rules): from a
file, or set by an admin; a change re-checks the prices in force it reaches."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.errors import PriceRuleInvalid
from catalog.governance import price_violations_raise
from catalog.models import Category, Product
from catalog.selectors import prices_breaking_rules
from ims.audit import Change, audit_record_many
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, parse_bool, split_list
from ims.errors import FileRejected
from ims.permissions import require

PRICE_RULES_COLUMNS = (
    "category",
    "max_discount_pct",
    "min_margin_pct",
    "luxury",
    "excluded_channels",
)


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
        _category, change = _rules_set(existing.get(name), name, fields)
        if change is None:
            result.unchanged += 1
            continue
        changes.append(change)
        if change.action == "price_rule_create":
            result.created += 1
        else:
            result.updated += 1
    audit_record_many(actor=actor, changes=changes)
    return result


RULE_FIELDS = ("max_discount_pct", "min_margin_pct", "luxury", "excluded_channels")


def _rule_fields(category: Category) -> dict:
    return {name: getattr(category, name) for name in RULE_FIELDS}


def _rules_set(
    category: Category | None, name: str, fields: dict, reason: str = ""
) -> tuple[Category, Change | None]:
    """The category created with these rules, or its rules set: with the audit trail's Change,
    None when they were already so."""
    if category is None:
        category = Category.objects.create(name=name, **fields)
        return category, Change(
            "price_rule_create", category, after=_rule_fields(category), reason=reason
        )
    before = _rule_fields(category)
    if before == fields:
        return category, None
    for key, value in fields.items():
        setattr(category, key, value)
    category.save()
    after = _rule_fields(category)
    return category, Change(
        "price_rule_update", category, before=before, after=after, reason=reason
    )


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
    require(actor, "catalog.change_category", "change price rules", person_only=True)
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
    category, change = _rules_set(
        Category.objects.select_for_update().filter(name=name).first(), name, fields, reason
    )
    if change is None:
        return category
    audit_record_many(actor=actor, changes=[change], at=now)
    scope = Product.objects.filter(price__isnull=False)
    if name != Category.DEFAULT:
        scope = scope.filter(category=category)
    broken = prices_breaking_rules(products=scope)
    if broken:
        price_violations_raise(kept_out=broken, cleared=(), now=now)
    return category
