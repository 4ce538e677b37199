"""Stock from files: every change is a movement; the file's count is what is sellable."""

import pytest
from django.db.models import Q, Sum

from catalog.models import Product
from exceptions.models import OpsException
from inventory.models import Movement, StockLevel

pytestmark = pytest.mark.django_db


def ledger_total(product_sku, location_code, state="available"):
    movements = Movement.objects.filter(product__sku=product_sku, location__code=location_code)
    into = movements.filter(to_state=state).aggregate(n=Sum("quantity"))["n"] or 0
    out = movements.filter(from_state=state).aggregate(n=Sum("quantity"))["n"] or 0
    return into - out


def test_each_change_of_stock_is_a_movement_and_the_ledger_explains_the_level(world, ingest):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\nA-1,NYC,4\n")
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,7\n")
    level = StockLevel.objects.get(product__sku="A-1", location__code="WH")
    assert level.available == 7 == ledger_total("A-1", "WH")
    assert list(
        Movement.objects.filter(product__sku="A-1", location__code="WH")
        .order_by("pk")
        .values_list("from_state", "to_state", "quantity", "reason")
    ) == [("", "available", 10, "import"), ("available", "", 3, "import")]
    assert Movement.objects.filter(~Q(ref__startswith="ingest:")).count() == 0


def reserve(sku: str, location: str, quantity: int) -> None:
    from inventory.models import Location
    from inventory.services.stock import StockMove, stock_move

    product = Product.objects.get(sku=sku)
    stock_move(
        moves=[
            StockMove(
                product.pk,
                Location.objects.get(code=location).pk,
                "available",
                "reserved",
                quantity,
            )
        ],
        reason="order",
        ref="order:test",
    )


def test_units_held_reserved_are_on_the_shelf_the_file_counts(world, ingest):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\n")
    reserve("A-1", "WH", 3)  # an order holds 3 of them
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\n")
    level = StockLevel.objects.get(product__sku="A-1", location__code="WH")
    assert (level.available, level.reserved) == (7, 3)


def test_a_count_below_what_is_reserved_holds_zero_and_raises_an_oversell_risk(world, ingest):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\n")
    reserve("A-1", "WH", 4)
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,1\n")
    level = StockLevel.objects.get(product__sku="A-1", location__code="WH")
    assert (level.available, level.reserved) == (0, 4)
    risk = OpsException.objects.get()
    assert (risk.discrepancy, risk.channel, risk.expected, risk.actual, risk.location.code) == (
        "Oversell_Risk",
        None,
        "4",
        "1",
        "WH",
    )
    # A later count that covers the reservations resolves it.
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,9\n")
    risk.refresh_from_db()
    assert risk.status == "resolved"
    assert StockLevel.objects.get(product__sku="A-1", location__code="WH").available == 5


def test_an_erp_count_below_zero_is_held_at_zero_with_an_oversell_risk(world, ingest):
    ingest("inventory", "sku_id,location,quantity\nB-2,NYC,-2\n")
    assert StockLevel.objects.get(product__sku="B-2").available == 0
    risk = OpsException.objects.get()
    assert (risk.expected, risk.actual, risk.oversell) == ("0", "-2", True)
