import json

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from ims.money import money as money_cell
from ims.money import money_label
from ims.selectors import notifications_unread_count

register = template.Library()


@register.filter
def money(value, currency: str = "") -> str:
    """Money as every page shows it (the one formatter, ims.money.money_label): the currency's
    minor unit, thousands separated, with the currency: `1,234.50 USD`; `—` for none."""
    if value is None or value == "":
        return "—"
    if not currency:
        return money_cell(value, currency)
    return money_label(value, currency)


# The words the exceptions file uses for a side that has a listing or has none (PRODUCT.md),
# as a person reads them on a page.
_SIDE_WORDS = {
    "Unknown_SKU": {"null": "not in IMS's catalog"},
    "Missing_SKU": {"present": "listed", "null": "not listed"},
    "Channel_Only_SKU": {"present": "listed", "null": "not in IMS's catalog"},
}


@register.filter
def exception_value(value, discrepancy: str = "") -> str:
    """An exception's expected or actual value for the page: `present`/`null` in words."""
    words = _SIDE_WORDS.get(discrepancy, {})
    if value in words:
        return words[value]
    return "—" if value in ("", None, "null") else value


@register.filter
def pretty_json(value) -> str:
    """A request body as a person reads it: indented JSON, keys in the order sent."""
    if value is None or value == "":
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def ago(value) -> str:
    """How long ago `value` was, as a person says it: `just now`, `5 minutes ago`."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value)} ago"


@register.inclusion_tag("inbox/bell.html", takes_context=True)
def notification_bell(context) -> dict:
    """The bell in the top bar with the person's unread count (one COUNT; the inbox page
    passes the count it has read as `notifications_unread`)."""
    request = context.get("request")
    unread = context.get("notifications_unread")
    if unread is None:
        unread = notifications_unread_count(user=getattr(request, "user", None))
    return {"unread": unread, "request": request, "oob": context.get("bell_oob", False)}
