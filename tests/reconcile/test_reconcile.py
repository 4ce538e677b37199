"""Reconcile: what each channel shows against IMS's ATP and price in force, on small hand-made worlds.

The `world` fixture (tests/conftest.py): `shop` sells from WH then NYC with no
buffer; `market` sells from WH with a 2-unit buffer; watches are luxury and
withheld from `market`. A-1 (EAN-13) costs 10, MRP 40, offer 30; B-2 (UPC-A)
offer 8; W-3 is a watch at 480.
"""

import datetime as dt

import pytest

from catalog.models import Product
from exceptions.models import ExceptionStatus, OpsException

pytestmark = pytest.mark.django_db


def stock(ingest, rows):
    ingest("inventory", "sku_id,location,quantity\n" + "\n".join(rows) + "\n")


def shows(ingest, rows, header="channel,sku_id,quantity,price,currency", at=None):
    ingest("snapshot", header + "\n" + "\n".join(rows) + "\n", at=at)


def aligned_world(ingest):
    """Stock everywhere and both channels showing exactly what IMS expects."""
    stock(ingest, ["A-1,WH,10", "A-1,NYC,5", "B-2,WH,3", "W-3,WH,1"])
    shows(
        ingest,
        [
            "shop,A-1,15,30.00,USD",
            "shop,B-2,3,8.00,USD",
            "shop,W-3,1,480.00,USD",
            "market,A-1,8,30.00,USD",
            "market,B-2,1,8.00,USD",
        ],
    )


def test_an_aligned_world_has_no_exceptions(world, ingest, run):
    aligned_world(ingest)
    assert run() == {}


def test_stock_shown_above_atp_is_a_stock_mismatch_exposed_at_the_expected_price(
    world, ingest, run
):
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,20,30.00,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    found = run()
    # shop sells from WH (10) and NYC (5): ATP 15, shown 20 → 5 × 30.00 at risk.
    assert found == {("A-1", "shop", "Stock_Mismatch"): ("15", "20", "150.00")}
    assert OpsException.objects.get().oversell is True


def test_stock_shown_below_atp_is_a_stock_mismatch_with_no_exposure(world, ingest, run):
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,4,30.00,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    assert run() == {("A-1", "shop", "Stock_Mismatch"): ("15", "4", "0.00")}
    assert OpsException.objects.get().oversell is False


def test_a_unit_buffer_is_taken_off_and_atp_never_goes_below_zero(world, ingest, run):
    stock(ingest, ["A-1,WH,10", "B-2,WH,1"])
    shows(ingest, ["market,A-1,10,30.00,USD", "market,B-2,1,8.00,USD"])
    found = run()
    assert found[("A-1", "market", "Stock_Mismatch")] == ("8", "10", "60.00")
    assert found[("B-2", "market", "Stock_Mismatch")] == ("0", "1", "8.00")


def test_a_percentage_buffer_is_rounded_up_per_product(world, ingest, run):
    ingest(
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        shop,Shop,shopify,push,WH;NYC,0,USD
        market,Market,amazon,read_only,WH,10%,USD
    """,
    )
    stock(ingest, ["A-1,WH,15", "B-2,WH,100"])
    shows(ingest, ["market,A-1,15,30.00,USD", "market,B-2,90,8.00,USD"])
    found = run()
    # ceil(10% × 15) = 2 → 13;  10% × 100 = 10 exactly → 90 (aligned).
    assert found[("A-1", "market", "Stock_Mismatch")] == ("13", "15", "60.00")
    assert ("B-2", "market", "Stock_Mismatch") not in found


def test_a_channel_selling_from_two_locations_sums_them_and_ignores_others(world, ingest, run):
    ingest("locations", "code,name,kind\nSF,San Francisco store,store\n")
    stock(ingest, ["A-1,WH,2", "A-1,NYC,3", "A-1,SF,50"])
    shows(ingest, ["shop,A-1,5,30.00,USD"])
    assert ("A-1", "shop", "Stock_Mismatch") not in run()


def test_a_price_mismatch_is_exposed_by_the_difference_times_the_shown_quantity(world, ingest, run):
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,15,24.99,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    assert run() == {("A-1", "shop", "Price_Mismatch"): ("30.00", "24.99", "75.15")}


def test_a_price_in_another_currency_is_a_currency_mismatch_and_not_compared(world, ingest, run):
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,16,25.00,EUR", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    assert run() == {
        ("A-1", "shop", "Currency_Mismatch"): ("USD", "EUR", "0.00"),
        ("A-1", "shop", "Stock_Mismatch"): ("15", "16", "30.00"),
    }


def test_a_product_the_channel_does_not_list_is_missing_unless_withheld_from_it(world, ingest, run):
    stock(ingest, ["A-1,WH,1"])
    shows(ingest, ["shop,A-1,1,30.00,USD", "shop,W-3,0,480.00,USD", "market,B-2,0,8.00,USD"])
    found = run()
    assert found == {
        ("B-2", "shop", "Missing_SKU"): ("present", "null", "0.00"),
        ("A-1", "market", "Missing_SKU"): ("present", "null", "0.00"),
        # W-3 is a watch, withheld from market: not missing there.
    }


def test_a_listing_ims_does_not_know_is_channel_only_named_as_the_channel_named_it(
    world, ingest, run
):
    aligned_world(ingest)
    shows(
        ingest,
        [
            "shop,A-1,15,30.00,USD,,",
            "shop,B-2,3,8.00,USD,,",
            "shop,W-3,1,480.00,USD,,",
            "shop,GIFT-CARD,3,25.00,USD,,",
            "shop,,2,10.50,USD,gid-77,",
            "shop,,1,5.00,USD,,96385074",
        ],
        header="channel,sku_id,quantity,price,currency,external_id,barcode",
    )
    assert run() == {
        ("GIFT-CARD", "shop", "Channel_Only_SKU"): ("null", "present", "75.00"),
        ("gid-77", "shop", "Channel_Only_SKU"): ("null", "present", "21.00"),
        ("96385074", "shop", "Channel_Only_SKU"): ("null", "present", "5.00"),
    }
    assert not Product.objects.filter(sku__in=["GIFT-CARD", "gid-77", "96385074"]).exists()


def test_upc_a_and_ean_13_of_one_item_match_the_same_product(world, ingest, run):
    aligned_world(ingest)
    # B-2 is held as UPC-A 036000291452; the channel lists it by its EAN-13 (and A-1 as a GTIN-14).
    shows(
        ingest,
        [
            "shop,,3,8.00,USD,0036000291452",
            "shop,,15,30.00,USD,04006381333931",
            "shop,W-3,1,480.00,USD,",
        ],
        header="channel,sku_id,quantity,price,currency,barcode",
    )
    assert run() == {}


def test_a_channel_alias_names_the_product(world, ingest, run):
    from catalog.models import ProductAlias

    ProductAlias.objects.create(
        product=Product.objects.get(sku="B-2"), scope="shop", value="MUG-BLUE"
    )
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,15,30.00,USD", "shop,MUG-BLUE,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    assert run() == {}


def test_the_expected_price_respects_effective_dates(world, ingest, run, now):
    aligned_world(ingest)
    ingest(
        "prices",
        """
        sku_id,currency,price,effective_date
        A-1,USD,28.00,2026-12-01
        B-2,USD,7.00,2026-11-20
    """,
        at=now + dt.timedelta(minutes=1),
    )
    # B-2's price is dated before the catalog price was ingested: the catalog price stays in force.
    assert run() == {}
    found = run(at=dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC))
    assert found == {
        ("A-1", "shop", "Price_Mismatch"): ("28.00", "30.00", "30.00"),
        ("A-1", "market", "Price_Mismatch"): ("28.00", "30.00", "16.00"),
    }


def test_a_price_without_a_date_is_in_force_from_when_it_is_ingested(world, ingest, run, now):
    aligned_world(ingest)
    ingest("prices", "sku_id,currency,price\nB-2,USD,7.50\n", at=now + dt.timedelta(minutes=1))
    found = run(at=now + dt.timedelta(minutes=2))
    assert found[("B-2", "shop", "Price_Mismatch")] == ("7.50", "8.00", "1.50")


def test_the_next_run_updates_the_open_exception_and_resolves_it_once_aligned(
    world, ingest, run, now
):
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,20,30.00,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    run()
    first = OpsException.objects.get()
    shows(ingest, ["shop,A-1,18,30.00,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    later = now + dt.timedelta(hours=1)
    assert run(at=later) == {("A-1", "shop", "Stock_Mismatch"): ("15", "18", "90.00")}
    again = OpsException.objects.get()
    assert (again.pk, again.first_seen, again.last_seen) == (first.pk, now, later)

    shows(ingest, ["shop,A-1,15,30.00,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    assert run(at=later + dt.timedelta(hours=1)) == {}
    resolved = OpsException.objects.get()
    assert resolved.status == ExceptionStatus.RESOLVED
    assert resolved.resolved_at == later + dt.timedelta(hours=1)


def test_an_acknowledged_exception_stays_acknowledged_until_the_channel_is_aligned(
    world, ingest, run
):
    aligned_world(ingest)
    shows(ingest, ["shop,A-1,20,30.00,USD", "shop,B-2,3,8.00,USD", "shop,W-3,1,480.00,USD"])
    run()
    OpsException.objects.update(status=ExceptionStatus.ACKNOWLEDGED)
    assert len(run()) == 1
    assert OpsException.objects.get().status == ExceptionStatus.ACKNOWLEDGED
    aligned_world(ingest)
    assert run() == {}
    assert OpsException.objects.get().status == ExceptionStatus.RESOLVED


def test_a_luxury_item_showing_stock_where_it_is_withheld_breaks_the_luxury_rule(
    world, ingest, run
):
    aligned_world(ingest)
    shows(ingest, ["market,A-1,8,30.00,USD", "market,B-2,1,8.00,USD", "market,W-3,1,480.00,USD"])
    assert run() == {
        ("W-3", "market", "Price_Rule_Violation"): ("luxury_channel", "480.00", "0.00")
    }
    shows(ingest, ["market,A-1,8,30.00,USD", "market,B-2,1,8.00,USD", "market,W-3,0,480.00,USD"])
    assert run() == {}


def test_a_deactivated_product_still_showing_stock_is_expected_at_zero(world, ingest, run):
    aligned_world(ingest)
    Product.objects.filter(sku="B-2").update(status="inactive")
    found = run()
    assert found == {
        ("B-2", "shop", "Stock_Mismatch"): ("0", "3", "24.00"),
        ("B-2", "market", "Stock_Mismatch"): ("0", "1", "8.00"),
    }


def test_reconciling_one_channel_leaves_the_others_exceptions_alone(world, ingest, run):
    from channels.models import Channel

    stock(ingest, ["A-1,WH,10"])
    shows(ingest, ["market,A-1,8,30.00,USD"])
    before = run()
    assert ("B-2", "shop", "Missing_SKU") in before
    aligned_world(ingest)
    after = run(channel=Channel.objects.get(code="market"))
    assert ("B-2", "shop", "Missing_SKU") in after  # shop was not reconciled
    assert not any(key[1] == "market" for key in after)


def test_a_snapshot_replaces_exactly_the_channels_in_it(world, ingest, run):
    aligned_world(ingest)
    shows(ingest, ["market,A-1,8,30.00,USD"])  # market no longer lists B-2; shop is untouched
    assert run() == {("B-2", "market", "Missing_SKU"): ("present", "null", "0.00")}
