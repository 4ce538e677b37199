"""Cells no column can hold (a NUL, a number beyond the column's range, text longer than the
column, a location code with odd characters) are refused as `file:line: column: reason`, the
refused run is logged, and nothing is applied, on SQLite and PostgreSQL alike."""

import pytest

from ims.errors import FileRejected
from ims.models import IngestRun, IngestStatus
from inventory.models import Location

pytestmark = pytest.mark.django_db

HUGE = "1" + "0" * 20  # 10^20
BUFFER = "1" + "0" * 23  # 10^23
HEADERS = {
    "locations": "code,name,kind,erp_code",
    "channels": "code,name,kind,sync_mode,locations,safety_buffer,currency",
    "price_rules": "category,max_discount_pct,min_margin_pct,luxury,excluded_channels",
    "catalog": "sku_id,name,barcode,category,uom,cost,mrp,price,currency",
    "inventory": "sku_id,location,quantity",
    "prices": "sku_id,currency,price",
    "snapshot": "channel,sku_id,quantity,price,currency,external_id",
}

CASES = [
    # kind, row, column, reason
    ("locations", "W\x00H,Warehouse,warehouse,", "code", "a NUL character"),
    ("locations", "WH,Ware\x00house,warehouse,", "name", "a NUL character"),
    ("locations", "W H/1,Warehouse,warehouse,", "code", "may hold only letters"),
    ("locations", "=cmd,Warehouse,warehouse,", "code", "may hold only letters"),
    ("locations", "WH,Warehouse,warehouse,W 1", "erp_code", "may hold only letters"),
    ("locations", "WH," + "n" * 256 + ",warehouse,", "name", "at most 255"),
    ("channels", "web,W\x00eb,shopify,push,WH,0,USD", "name", "a NUL character"),
    ("channels", f"web,Web,shopify,push,WH,{BUFFER},USD", "safety_buffer", "too large"),
    ("channels", "web,Web,shopify,push,WH,²,USD", "safety_buffer", "not a number"),
    ("price_rules", "lux\x00,10,,true,", "category", "a NUL character"),
    ("price_rules", "lux,²,,true,", "max_discount_pct", "percentage"),
    ("price_rules", "c" * 121 + ",10,,true,", "category", "at most 120"),
    ("catalog", "C-9,Ca\x00p,96385074,apparel,EA,1.00,9.00,5.00,USD", "name", "a NUL character"),
    ("catalog", f"C-9,Cap,96385074,apparel,EA,{HUGE},{HUGE},5.00,USD", "cost", "too large"),
    ("catalog", f"C-9,Cap,96385074,apparel,EA,1.00,9.00,{HUGE}.00,USD", "price", "too large"),
    (
        "catalog",
        "C-9,Cap,96385074,apparel," + "u" * 17 + ",1.00,9.00,5.00,USD",
        "uom",
        "at most 16",
    ),
    ("catalog", "C-9,Cap,96385074,apparel,EA,1.00,9.00,٥,USD", "price", "not a decimal"),
    ("inventory", f"A-1,WH,{HUGE}", "quantity", "too large"),
    ("inventory", "A-1,WH,-" + HUGE, "quantity", "too"),
    ("inventory", "A-1,W\x00H,3", "location", "a NUL character"),
    ("prices", f"A-1,USD,{HUGE}", "price", "too large"),
    ("prices", "A-1\x00,USD,3.00", "sku_id", "a NUL character"),
    ("snapshot", f"shop,A-1,{HUGE},30.00,USD,", "quantity", "too large"),
    ("snapshot", f"shop,A-1,1,{HUGE},USD,", "price", "too large"),
    ("snapshot", "shop,A-1,1,30.00,USD,x\x00y", "external_id", "a NUL character"),
]


@pytest.mark.parametrize("kind, row, column, reason", CASES)
def test_a_cell_no_column_can_hold_is_refused_with_file_line_column(
    world, ingest, kind, row, column, reason
):
    runs = IngestRun.objects.count()
    with pytest.raises(FileRejected) as refused:
        ingest(kind, f"{HEADERS[kind]}\n{row}\n", name="bad.csv")
    errors = [(e.line, e.column) for e in refused.value.errors]
    assert (2, column) in errors, refused.value.errors
    message = next(str(e) for e in refused.value.errors if (e.line, e.column) == (2, column))
    assert f"bad.csv:2: {column}: " in message and reason in message
    assert "\x00" not in message
    run = IngestRun.objects.latest("pk")
    assert (IngestRun.objects.count(), run.status) == (runs + 1, IngestStatus.REJECTED)
    assert message in run.messages


def test_a_nul_in_the_header_is_refused(world, ingest):
    with pytest.raises(FileRejected) as refused:
        ingest("inventory", "sku_id,loca\x00tion,quantity\nA-1,WH,3\n", name="bad.csv")
    assert [str(e).rsplit("/", 1)[-1] for e in refused.value.errors] == [
        "bad.csv:1: header: column 2 holds a NUL character (0x00); remove it",
        "bad.csv:1: location: required column is missing from the header",
    ]


def test_the_largest_quantity_a_column_holds_is_taken(world, ingest):
    run, _ = ingest("inventory", "sku_id,location,quantity\nA-1,WH,2147483647\n")
    assert run.status == IngestStatus.APPLIED


def test_location_codes_with_dots_and_underscores_are_taken(ingest):
    ingest("locations", "code,name,kind,erp_code\nWH_2.b,Annex,warehouse,W-2.b\n")
    assert Location.objects.filter(code="WH_2.b").exists()
