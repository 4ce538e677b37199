from django import template

from ims.money import money as money_cell

register = template.Library()


@register.filter
def money(value, currency: str) -> str:
    """An amount to its currency's minor unit: `29.00`, `''` for none."""
    return money_cell(value, currency) if value is not None else ""


@register.filter
def as_json(value) -> str:
    """before/after of an audit event as JSON text (`null` shown as nothing)."""
    import json

    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)
