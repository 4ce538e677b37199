"""GTIN-8/12/13/14 barcodes: check digits, and one form for UPC-A and EAN-13 of an item."""

from stdnum import ean
from stdnum.exceptions import ValidationError

GTIN_LENGTHS = (8, 12, 13, 14)


def gtin14(barcode: str) -> str:
    """The barcode as a GTIN-14 (zero-padded), or ValueError naming what is wrong."""
    code = barcode.strip()
    if not (code.isascii() and code.isdigit()):  # str.isdigit also takes '²' and '٣'
        raise ValueError(f"'{barcode}' is not a GTIN: digits only")
    if len(code) not in GTIN_LENGTHS:
        raise ValueError(
            f"'{barcode}' is not a GTIN: {len(code)} digits (8, 12, 13 or 14 expected)"
        )
    try:
        ean.validate(code)
    except ValidationError:
        raise ValueError(
            f"'{barcode}' has a wrong check digit (expected {ean.calc_check_digit(code[:-1])})"
        ) from None
    return code.zfill(14)


def gtin14_or_none(barcode: str) -> str | None:
    try:
        return gtin14(barcode)
    except ValueError:
        return None
