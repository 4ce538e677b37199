"""MRP parity (PRODUCT.md "Channel assortment and quantity policy"): where a channel shows an
MRP beside the price, it must be the product's; a channel that shows none is not compared.

The `world` fixture (tests/conftest.py): A-1 has MRP 40.00 and offer 30.00, B-2 MRP 10.00 and
offer 8.00; `shop` (push, no live connection: its pushes go to its file drop) sells from WH
and NYC, `market` from WH with a 2-unit buffer."""

import csv

import pytest

from channels.models import Channel, ChannelListing
from channels.sync.engine import sync
from ims.errors import FileRejected
from tests.reconcile.test_reconcile import shows, stock

pytestmark = pytest.mark.django_db

HEADER = "channel,sku_id,quantity,price,currency,mrp"


def test_another_mrp_shown_is_an_mrp_mismatch_in_money_with_no_exposure(world, ingest, run):
    stock(ingest, ["A-1,WH,10", "B-2,WH,3"])
    shows(ingest, ["shop,A-1,10,30.00,USD,45.00", "shop,B-2,3,8.00,USD,10.00"], header=HEADER)
    assert run(channel=Channel.objects.get(code="shop")) == {
        ("A-1", "shop", "MRP_Mismatch"): ("40.00", "45.00", "0.00"),
        ("W-3", "shop", "Missing_SKU"): ("present", "null", "0.00"),
    }


def test_a_channel_that_shows_no_mrp_is_not_compared(world, ingest, run):
    stock(ingest, ["A-1,WH,10", "B-2,WH,3"])
    shows(
        ingest,
        ["shop,A-1,10,30.00,USD,", "shop,B-2,3,8.00,USD,", "shop,W-3,0,480.00,USD,"],
        header=HEADER,
    )
    assert run(channel=Channel.objects.get(code="shop")) == {}


def test_one_listing_may_carry_a_price_and_an_mrp_mismatch_at_once(world, ingest, run):
    stock(ingest, ["A-1,WH,10"])
    shows(ingest, ["market,A-1,8,35.00,USD,50.00", "market,B-2,0,8.00,USD,"], header=HEADER)
    found = run(channel=Channel.objects.get(code="market"))
    assert found == {
        ("A-1", "market", "Price_Mismatch"): ("30.00", "35.00", "40.00"),
        ("A-1", "market", "MRP_Mismatch"): ("40.00", "50.00", "0.00"),
    }


def test_a_bad_mrp_cell_names_its_place_and_nothing_is_applied(world, ingest):
    with pytest.raises(FileRejected) as rejected:
        shows(ingest, ["shop,A-1,10,30.00,USD,40.00", "shop,B-2,3,8.00,USD,-1"], header=HEADER)
    assert [str(e).rsplit("/", 1)[-1] for e in rejected.value.errors] == [
        "snapshot.csv:3: mrp: '-1' is negative"
    ]
    assert not ChannelListing.objects.exists()


def test_sync_pushes_hqs_mrp_with_the_offer_price_and_the_mismatch_resolves(
    world, ingest, run, tmp_path, monkeypatch
):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    stock(ingest, ["A-1,WH,10", "B-2,WH,3", "W-3,WH,0"])
    shows(
        ingest,
        ["shop,A-1,10,30.00,USD,45.00", "shop,B-2,3,7.00,USD,10.00", "shop,W-3,0,480.00,USD,"],
        header=HEADER,
    )
    shop = Channel.objects.get(code="shop")
    assert set(run(channel=shop)) == {
        ("A-1", "shop", "MRP_Mismatch"),
        ("B-2", "shop", "Price_Mismatch"),
    }
    outcome = sync(channel=shop, out_dir=tmp_path)
    with (tmp_path / "sync-plan.csv").open(newline="") as handle:
        assert list(csv.reader(handle))[1:] == [
            ["shop", "A-1", "mrp", "45.00", "40.00", "yes"],
            ["shop", "B-2", "price", "7.00", "8.00", "yes"],
        ]
    assert outcome.runs[0].sent == 2
    # One price file: A-1 keeps its offer and gets HQ's MRP, B-2 its new offer with its MRP.
    (sent,) = (tmp_path / "outbox").glob("shop-price-*.csv")
    with sent.open(newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["channel", "sku_id", "quantity", "price", "currency", "mrp"],
            ["shop", "A-1", "", "30.00", "USD", "40.00"],
            ["shop", "B-2", "", "8.00", "USD", "10.00"],
        ]
    # What the channel accepted is what it shows now: the next reconcile finds it aligned.
    assert run(channel=shop) == {}
