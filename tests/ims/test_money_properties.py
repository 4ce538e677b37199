"""Money parsing, for any text and currency: an exact Decimal within the currency's minor
unit, or a ValueError naming the text; never another exception."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from ims.money import MAX_WHOLE_DIGITS, minor_units, money, parse_amount, parse_currency

CURRENCIES = st.sampled_from(["USD", "JPY", "BHD", "INR", "EUR", "XXX", "usd", ""])
AMOUNT_TEXT = st.from_regex(r"\A-?[0-9]{1,12}(\.[0-9]{0,4})?\Z")


@given(st.text(max_size=30) | AMOUNT_TEXT, CURRENCIES)
@example("١٢", "USD")  # Arabic-Indic digits: a number to Python, not an amount in a file
@example("1e3", "USD")
@example("NaN", "USD")
@example("Infinity", "USD")
@example("0.001", "USD")
@example("5.", "USD")
def test_any_text_is_an_amount_or_a_precise_error(text, currency):
    try:
        value = parse_amount(text, currency)
    except ValueError as error:
        assert text.strip() in str(error)
        return
    assert isinstance(value, Decimal) and value.is_finite()
    assert text.strip().isascii()
    assert -value.as_tuple().exponent <= minor_units(currency)
    assert value == Decimal(text.strip())


# The largest amount a money column holds: MAX_WHOLE_DIGITS digits before the point.
LARGEST = Decimal(10) ** MAX_WHOLE_DIGITS - Decimal("0.01")


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, max_value=LARGEST, min_value=-LARGEST
    )
)
@example(LARGEST)
@example(-LARGEST)
def test_an_amount_written_in_its_cell_form_reads_back_the_same(value):
    assert parse_amount(money(value, "USD"), "USD") == value


@given(st.text(max_size=6))
@example("usd")
def test_any_text_is_a_currency_or_a_precise_error(text):
    try:
        code = parse_currency(text)
    except ValueError as error:
        assert text in str(error)
        return
    assert code == text.strip().upper() and len(code) == 3
