"""Ingest: every file kind validated row by row; a bad file names each bad row and changes nothing."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Category, Price, PriceStatus, Product
from channels.models import Channel, ChannelListing
from exceptions.models import OpsException
from ims.errors import FileRejected
from ims.models import IngestRun, IngestStatus
from inventory.models import Location, Movement, StockLevel

pytestmark = pytest.mark.django_db


def snapshot_of_database():
    """Everything an ingest could change, as comparable values."""
    return {
        "products": list(Product.objects.order_by("sku").values()),
        "prices": list(Price.objects.order_by("pk").values()),
        "categories": list(Category.objects.order_by("name").values()),
        "locations": list(Location.objects.order_by("code").values()),
        "channels": list(Channel.objects.order_by("code").values()),
        "levels": list(
            StockLevel.objects.order_by("pk").values_list("product_id", "location_id", "available")
        ),
        "movements": Movement.objects.count(),
        "listings": list(ChannelListing.objects.order_by("pk").values()),
        "exceptions": list(OpsException.objects.order_by("pk").values()),
    }


def rejected(ingest, kind, text):
    with pytest.raises(FileRejected) as info:
        ingest(kind, text, name="bad.csv")
    return [str(e).split("/")[-1] for e in info.value.errors]


def test_a_missing_column_is_named_with_its_line_and_nothing_is_applied(world, ingest):
    before = snapshot_of_database()
    errors = rejected(
        ingest,
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,currency
        C-9,Cap,96385074,apparel,EA,1.00,9.00,USD
    """,
    )
    assert errors == ["bad.csv:1: price: required column is missing from the header"]
    assert snapshot_of_database() == before


def test_a_non_numeric_quantity_names_the_row_and_column(world, ingest):
    before = snapshot_of_database()
    errors = rejected(
        ingest,
        "inventory",
        """
        sku_id,location,quantity
        A-1,WH,10
        B-2,WH,ten
        A-1,NYC,2.5
    """,
    )
    assert errors == [
        "bad.csv:3: quantity: 'ten' is not a number",
        "bad.csv:4: quantity: '2.5' is not a whole number",
    ]
    assert snapshot_of_database() == before


def test_a_bad_gtin_check_digit_is_refused_with_the_expected_digit(world, ingest):
    before = snapshot_of_database()
    errors = rejected(
        ingest,
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        C-9,Cap,96385075,apparel,EA,1.00,9.00,5.00,USD
        C-10,Hat,12345,apparel,EA,1.00,9.00,5.00,USD
    """,
    )
    assert errors == [
        "bad.csv:2: barcode: '96385075' has a wrong check digit (expected 4)",
        "bad.csv:3: barcode: '12345' is not a GTIN: 5 digits (8, 12, 13 or 14 expected)",
    ]
    assert snapshot_of_database() == before


def test_an_unknown_location_is_refused(world, ingest):
    before = snapshot_of_database()
    errors = rejected(
        ingest,
        "inventory",
        """
        sku_id,location,quantity
        A-1,WH,10
        A-1,LAX,4
    """,
    )
    assert errors == ["bad.csv:3: location: unknown location 'LAX'"]
    assert snapshot_of_database() == before


def test_a_duplicate_sku_names_both_lines(world, ingest):
    before = snapshot_of_database()
    errors = rejected(
        ingest,
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        C-9,Cap,96385074,apparel,EA,1.00,9.00,5.00,USD
        C-9,Cap again,,apparel,EA,1.00,9.00,5.00,USD
    """,
    )
    assert errors == [
        "bad.csv:3: barcode: is required",
        "bad.csv:3: sku_id: duplicate SKU 'C-9' (first on line 2)",
    ]
    assert snapshot_of_database() == before


def test_a_file_not_in_utf8_is_refused_at_the_line_that_is_not(world, ingest, csv_file, now):
    before = snapshot_of_database()
    path = csv_file(
        "sku_id,name,barcode,category,uom,cost,mrp,price,currency\n"
        "C-9,Café crème,96385074,apparel,EA,1.00,9.00,5.00,USD\n",
        name="latin1.csv",
        encoding="latin-1",
    )
    from orchestration.ingest import ingest_file

    with pytest.raises(FileRejected) as info:
        ingest_file(kind="catalog", path=path, now=now)
    assert [str(e) for e in info.value.errors] == [
        f"{path}:2: encoding: not valid UTF-8 (byte 0xe9 at character 8); save the file as UTF-8"
    ]
    assert snapshot_of_database() == before


def test_every_bad_row_is_listed_not_only_the_first(world, ingest):
    lines = "\n".join(f"X-{i},WH,{'x' if i % 2 else 1}" for i in range(6))
    errors = rejected(ingest, "inventory", "sku_id,location,quantity\n" + lines)
    assert len(errors) == 9  # six unknown SKUs, three of them with a bad quantity too
    assert "bad.csv:3: quantity: 'x' is not a number" in errors
    assert "bad.csv:2: sku_id: unknown SKU 'X-0'" in errors


def test_a_refused_file_is_logged_with_its_problems(world, ingest):
    rejected(ingest, "inventory", "sku_id,location,quantity\nA-1,WH,-\n")
    run = IngestRun.objects.latest("pk")
    assert run.status == IngestStatus.REJECTED
    assert [m.split("/")[-1] for m in run.messages] == ["bad.csv:2: quantity: '-' is not a number"]


def test_columns_match_by_name_in_any_order_and_a_bom_is_tolerated(world, csv_file, now):
    from orchestration.ingest import ingest_file

    path = csv_file("\ufeffquantity,location,sku_id\n7,W1,A-1\n")
    ingest_file(kind="inventory", path=path, now=now)
    level = StockLevel.objects.get(product__sku="A-1", location__code="WH")
    assert level.available == 7  # W1 is the warehouse's ERP code


@pytest.mark.parametrize(
    "kind, text",
    [
        (
            "locations",
            "code,name,kind,erp_code\nWH,Warehouse,warehouse,W1\nNYC,New York store,store,S1\n",
        ),
        (
            "channels",
            "code,name,kind,sync_mode,locations,safety_buffer,currency\n"
            "shop,Shop,shopify,push,WH;NYC,0,USD\nmarket,Market,amazon,read_only,WH,2,USD\n",
        ),
        (
            "price_rules",
            "category,max_discount_pct,min_margin_pct,luxury,excluded_channels\n*,50,10,false,\n",
        ),
        (
            "catalog",
            "sku_id,name,barcode,category,uom,cost,mrp,price,currency\n"
            "A-1,Shirt,4006381333931,apparel,EA,10.00,40.00,30.00,USD\n",
        ),
        ("inventory", "sku_id,location,quantity\nA-1,WH,5\nB-2,NYC,3\n"),
        (
            "prices",
            "sku_id,currency,price,effective_date\nA-1,USD,29.00,\nB-2,USD,7.50,2026-12-01\n"
            "B-2,USD,1.00,\n",
        ),
        (
            "snapshot",
            "channel,sku_id,quantity,price,currency\nshop,A-1,5,30.00,USD\nshop,ZZZ,1,3.00,USD\n",
        ),
    ],
)
def test_a_reingest_of_the_same_file_changes_nothing(world, ingest, now, kind, text):
    import datetime as dt

    ingest(kind, text)
    before = snapshot_of_database()
    _, result = ingest(kind, text, at=now + dt.timedelta(hours=1))
    assert result.created == 0 and result.updated == 0
    after = snapshot_of_database()
    for state in (before, after):  # when IMS last saw something is not a change of it
        for exception in state["exceptions"]:
            exception.pop("last_seen")
        for channel in state["channels"]:
            channel.pop("last_snapshot_at")
    assert after == before


def test_the_ingest_command_prints_each_problem_and_exits_non_zero(world, csv_file, capsys):
    path = csv_file("sku_id,location,quantity\nA-1,WH,x\nQ,WH,1\n", name="stock.csv")
    with pytest.raises(CommandError) as info:
        call_command("ingest", "inventory", str(path))
    assert info.value.returncode == 1
    err = capsys.readouterr().err
    assert f"{path}:2: quantity: 'x' is not a number" in err
    assert f"{path}:3: sku_id: unknown SKU 'Q'" in err


def test_the_ingest_command_lists_prices_kept_out_and_exits_zero(world, csv_file, capsys):
    path = csv_file("sku_id,currency,price\nA-1,USD,41.00\nB-2,USD,9.00\n", name="prices.csv")
    call_command("ingest", "prices", str(path))
    out = capsys.readouterr().out
    assert f"kept out: {path}:2: price: 41.00 USD for A-1 breaks above_mrp" in out
    assert "2 rows, 1 created" not in out  # the kept-out one is recorded too
    assert Product.objects.get(sku="B-2").price == 9
    assert Product.objects.get(sku="A-1").price == 30
    assert Price.objects.filter(
        product__sku="A-1", status=PriceStatus.REJECTED, rule="above_mrp"
    ).exists()


def test_locations_channels_and_rules_refuse_bad_values(world, ingest):
    assert rejected(ingest, "locations", "code,name,kind\nX,Somewhere,moon\n") == [
        "bad.csv:2: kind: 'moon' is not one of warehouse, store, online"
    ]
    assert rejected(
        ingest,
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        web,Web,shopify,sometimes,WH;MARS,lots,EURO
    """,
    ) == [
        "bad.csv:2: sync_mode: 'sometimes' is not one of read_only, dry_run, push",
        "bad.csv:2: currency: 'EURO' is not an ISO 4217 currency code",
        "bad.csv:2: safety_buffer: 'lots' is not a number of units or a percentage like 10%",
        "bad.csv:2: locations: unknown location 'MARS'",
    ]
    assert rejected(
        ingest,
        "price_rules",
        """
        category,max_discount_pct,min_margin_pct,luxury,excluded_channels
        toys,120,,maybe,nowhere
    """,
    ) == [
        "bad.csv:2: max_discount_pct: '120' is not a percentage from 0 to 100",
        "bad.csv:2: luxury: 'maybe' is not true or false",
        "bad.csv:2: excluded_channels: unknown channel 'nowhere'",
    ]


def test_a_snapshot_naming_one_product_twice_on_a_channel_is_refused(world, ingest):
    errors = rejected(
        ingest,
        "snapshot",
        """
        channel,sku_id,barcode,quantity,price,currency
        shop,A-1,,5,30.00,USD
        shop,,04006381333931,5,30.00,USD
    """,
    )
    assert errors == ["bad.csv:3: sku_id: names the same product as line 2 on shop"]


def test_prices_against_the_contract_and_the_catalog(world, ingest):
    assert rejected(
        ingest,
        "prices",
        """
        sku_id,currency,price,effective_date
        ,USD,1.00,
        A-1,EUR,30.00,
        B-2,USD,30.001,
        Q-0,USD,3.00,2026-13-01
    """,
    ) == [
        "bad.csv:2: sku_id: is required",
        "bad.csv:4: price: '30.001' has more decimals than USD allows (2)",
        "bad.csv:5: effective_date: '2026-13-01' is not an ISO date (YYYY-MM-DD)",
        "bad.csv:3: currency: EUR differs from A-1's currency USD",
        "bad.csv:5: sku_id: unknown SKU 'Q-0'",
    ]
