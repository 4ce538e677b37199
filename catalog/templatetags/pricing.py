from django import template

from ims.money import money as money_cell

register = template.Library()


@register.filter
def money(value, currency: str) -> str:
    """An amount to its currency's minor unit: `29.00`, `''` for none."""
    return money_cell(value, currency) if value is not None else ""
