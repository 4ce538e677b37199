"""GTIN parsing, for any text at all: a GTIN-14 with a right check digit, or a ValueError that
names the barcode and what is wrong with it; never another exception."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from stdnum import ean

from catalog.gtin import gtin14, gtin14_or_none

DIGITS = st.text(alphabet="0123456789", min_size=7, max_size=13)


@given(st.text(max_size=20) | DIGITS)
@example("²²²²²²²²")  # digits to str.isdigit, not to a barcode scanner
@example("١٢٣٤٥٦٧٨")  # Arabic-Indic digits
@example(" 4006381333931 ")
def test_any_text_is_a_gtin_or_a_precise_error(text):
    try:
        code = gtin14(text)
    except ValueError as error:
        assert text in str(error)
        assert gtin14_or_none(text) is None
        return
    assert len(code) == 14 and code.isascii() and code.isdigit()
    assert ean.is_valid(code)
    assert code.lstrip("0") == text.strip().lstrip("0")


@given(DIGITS.filter(lambda d: len(d) in (7, 11, 12, 13)))
def test_every_code_with_its_check_digit_is_read(body):
    code = body + ean.calc_check_digit(body)
    assert gtin14(code) == code.zfill(14)
