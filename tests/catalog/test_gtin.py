import pytest

from catalog.gtin import gtin14


@pytest.mark.parametrize(
    "barcode, normal",
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # UPC-A (GTIN-12)
        ("0036000291452", "00036000291452"),  # the same item as EAN-13
        ("00036000291452", "00036000291452"),  # and as GTIN-14
        ("4006381333931", "04006381333931"),  # EAN-13
        ("10614141000415", "10614141000415"),  # GTIN-14 with a packaging indicator
    ],
)
def test_every_gtin_length_is_one_normal_form(barcode, normal):
    assert gtin14(barcode) == normal


@pytest.mark.parametrize(
    "barcode, reason",
    [
        ("036000291453", "wrong check digit (expected 2)"),
        ("4006381333932", "wrong check digit (expected 1)"),
        ("12345", "5 digits"),
        ("40063813339A1", "digits only"),
    ],
)
def test_a_bad_gtin_says_why(barcode, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        gtin14(barcode)
