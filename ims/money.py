"""Money: Decimal amounts carried to the currency's minor unit (ISO 4217, via Babel)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # ASCII digits: regex \d also takes '٣'
# Every money column: 14 digits, 4 of them decimals (MONEY, the DecimalField keywords).
MAX_DIGITS, DECIMAL_PLACES = 14, 4
MAX_WHOLE_DIGITS = MAX_DIGITS - DECIMAL_PLACES
MONEY = {"max_digits": MAX_DIGITS, "decimal_places": DECIMAL_PLACES}


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def minor_units(currency: str) -> int:
    return get_currency_precision(currency) if currency in known_currencies() else 2


@cache
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def from_minor(amount, currency: str | None) -> Decimal | None:
    """An amount given in the currency's smallest unit (cents; USD's when no currency is
    named) as Decimal; None for none."""
    if amount is None:
        return None
    return Decimal(int(amount)).scaleb(-minor_units(currency or "USD"))


def parse_amount(text: str, currency: str) -> Decimal:
    """Parse a decimal written with `.`; refuse floats' exponents and sub-minor-unit digits."""
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"'{text}' is not a decimal amount")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules it out
        raise ValueError(f"'{text}' is not a decimal amount") from exc
    if value.adjusted() >= MAX_WHOLE_DIGITS:
        raise ValueError(
            f"'{text}' is too large; at most {MAX_WHOLE_DIGITS} digits before the decimal point"
        )
    places = -value.as_tuple().exponent
    if places > minor_units(currency):
        raise ValueError(
            f"'{text}' has more decimals than {currency} allows ({minor_units(currency)})"
        )
    return value


def money(value: Decimal | None, currency: str) -> str:
    """The cell form of an amount: the currency's minor-unit decimals, '' for none."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(value)
    return _money_cell(value, currency)


@lru_cache(maxsize=1 << 16)
def _money_cell(value: Decimal, currency: str) -> str:
    # Reports write the same prices again and again (reconcile's roll-up: one per channel cell).
    return str(value.quantize(quantum(currency), rounding=ROUND_HALF_UP))


def money_label(value: Decimal, currency: str) -> str:
    """The scorecard form: `269.03 USD`, with thousands separators."""
    q = Decimal(value).quantize(quantum(currency), rounding=ROUND_HALF_UP)
    places = minor_units(currency)
    return f"{q:,.{places}f} {currency}"


def percent(numerator: int, denominator: int) -> Decimal:
    """A share as a percentage rounded half-up to one decimal (0 when nothing to count)."""
    if not denominator:
        return Decimal("0.0")
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def percent_label(value: Decimal) -> str:
    return f"{value} %"


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if code not in known_currencies():
        raise ValueError(f"'{text}' is not an ISO 4217 currency code")
    return code
