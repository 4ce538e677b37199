"""The audit trail as a person reads it: object types and actions in words, and an event's
before/after as rows of field → before → after, money as money (the `money` template filter
over `ims.money`, the one formatter) and times as times, never raw JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.utils.dateparse import parse_date, parse_datetime

from ims.templatetags.ims import money

# Keys whose values are amounts of money in the trail's before/after.
MONEY_KEYS = frozenset({"price", "offered", "mrp", "cost", "amount", "regular_price", "sale_price"})


# Where the model's verbose name reads ambiguously among every type in the trail.
_TYPE_WORDS = {"exceptions.opsexception": "ops exception"}


def object_type_label(object_type: str) -> str:
    """`catalog.price` → "Price" (the model's verbose name), `exceptions.opsexception` → "Ops
    exception"; a type that names no model → its last part in words."""
    try:
        name = _TYPE_WORDS.get(object_type) or ""
        if not name:
            name = str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        name = object_type.rpartition(".")[2].replace("_", " ")
    return name[:1].upper() + name[1:]


_WORDS = {"sku": "SKU", "sku_id": "SKU", "mrp": "MRP", "gtin": "GTIN", "uom": "Unit"}


def words(name: str) -> str:
    """`price_change` → "Price change", `effective_from` → "Effective from", `mrp` → "MRP"."""
    text = _WORDS.get(name) or name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _is_money(key: str) -> bool:
    return key in MONEY_KEYS or key.endswith("_price")


def _time(text: str) -> str | None:
    """An ISO date or time as a person reads it (times in UTC); None for any other text."""
    if len(text) < 10 or text[4:5] != "-" or text[7:8] != "-":
        return None
    try:
        if len(text) == 10:
            day = parse_date(text)
            return f"{day:%-d %b %Y}" if day else None
        moment = parse_datetime(text)
    except ValueError:  # well formed but no such day or time: shown as it is
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        return f"{moment:%-d %b %Y %H:%M}"
    return f"{moment.astimezone(dt.UTC):%-d %b %Y %H:%M} UTC"


def value_text(key: str, value, currency: str = "") -> str:
    """One before/after value for the page: money to its currency's minor unit with the
    currency, times humanised, lists and mappings as short text, nothing as "—"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_money(key) and isinstance(value, str | int | float | Decimal):
        try:
            return money(Decimal(str(value)), currency)
        except (InvalidOperation, ValueError):
            return str(value)
    if isinstance(value, str):
        return _time(value) or value
    if isinstance(value, list):
        return ", ".join(value_text("", v, currency) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(k, v, currency)}" for k, v in value.items()) or "—"
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str
    changed: bool


def event_currency(event, default: str = "") -> str:
    """The currency an event names in its after (or before), else `default` (its object's)."""
    for side in (event.after, event.before):
        if isinstance(side, dict) and isinstance(side.get("currency"), str):
            return side["currency"]
    return default


def field_changes(event, *, currency: str = "") -> list[FieldChange]:
    """An event's before/after as rows; a field is changed when both sides are recorded and
    differ (a creation has only an after, a removal only a before)."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    if event.before is not None and not isinstance(event.before, dict):
        before = {"value": event.before}
    if event.after is not None and not isinstance(event.after, dict):
        after = {"value": event.after}
    both = bool(before) and bool(after)
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        was = value_text(key, before.get(key), currency) if key in before else "—"
        now = value_text(key, after.get(key), currency) if key in after else "—"
        changed = both and key in before and key in after and was != now
        rows.append(FieldChange(words(key), was, now, changed))
    return rows
