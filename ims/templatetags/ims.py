from django import template

from ims.money import money as money_cell

register = template.Library()


@register.filter
def money(value, currency: str = "") -> str:
    """An amount to its currency's minor unit, with the currency: `12.50 USD`."""
    if value is None or value == "":
        return "—"
    return f"{money_cell(value, currency)} {currency}".strip()


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
