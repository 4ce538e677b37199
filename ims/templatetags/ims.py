from django import template

from ims.money import money as money_cell

register = template.Library()


@register.filter
def money(value, currency: str = "") -> str:
    """An amount to its currency's minor unit, with the currency: `12.50 USD`."""
    if value is None or value == "":
        return "—"
    return f"{money_cell(value, currency)} {currency}".strip()
