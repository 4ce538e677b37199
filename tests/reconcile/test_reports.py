"""The report files and the scorecard figures, cell by cell, on a small world worked out by hand."""

import csv
import re

import pytest
from django.db import IntegrityError, transaction

from exceptions.models import ExceptionStatus, OpsException
from inventory.models import StockLevel
from reconcile.reconcile import reconcile
from reconcile.selectors import scorecard_summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def mismatched(world, ingest):
    """A-1: shop shows 20 of 15 (stock) at 24.99 (price); B-2 missing on market;
    W-3 listed on market where it is withheld; one channel-only listing; one ERP price kept out."""
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\nA-1,NYC,5\nB-2,WH,3\nW-3,WH,1\n")
    ingest(
        "snapshot",
        """
        channel,sku_id,quantity,price,currency
        shop,A-1,20,24.99,USD
        shop,B-2,3,8.00,USD
        shop,W-3,1,480.00,USD
        shop,GIFT,2,10.00,USD
        market,A-1,8,30.00,USD
        market,W-3,1,480.00,USD
    """,
    )
    ingest("prices", "sku_id,currency,price\nB-2,USD,1.00\n")


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_exceptions_csv_lists_every_open_exception_sorted_with_the_seed_columns_first(
    mismatched, tmp_path, now
):
    reconcile(out_dir=tmp_path, now=now)
    rows = read_csv(tmp_path / "exceptions.csv")
    assert rows[0][:6] == ["sku_id", "channel", "discrepancy", "expected", "actual", "status"]
    assert rows[0][6:] == ["location", "exposure", "currency", "first_seen", "last_seen", "source"]
    assert [r[:8] for r in rows[1:]] == [
        ["A-1", "shop", "Price_Mismatch", "30.00", "24.99", "open", "", "100.20"],
        ["A-1", "shop", "Stock_Mismatch", "15", "20", "open", "", "150.00"],
        ["B-2", "", "Price_Rule_Violation", "min_margin", "1.00", "open", "", "0.00"],
        ["B-2", "market", "Missing_SKU", "present", "null", "open", "", "0.00"],
        ["GIFT", "shop", "Channel_Only_SKU", "null", "present", "open", "", "20.00"],
        ["W-3", "market", "Price_Rule_Violation", "luxury_channel", "480.00", "open", "", "0.00"],
    ]
    assert rows[1][9] == "2026-11-22T12:00:00Z"


def test_sku_rollup_has_one_row_per_sku_with_each_channel_in_code_order(mismatched, tmp_path, now):
    reconcile(out_dir=tmp_path, now=now)
    assert read_csv(tmp_path / "sku-rollup.csv") == [
        [
            "sku_id",
            "name",
            "available",
            "price",
            "market_quantity",
            "market_price",
            "market_aligned",
            "shop_quantity",
            "shop_price",
            "shop_aligned",
        ],
        ["A-1", "Shirt", "15", "30.00", "8", "30.00", "yes", "20", "24.99", "no"],
        ["B-2", "Mug", "3", "8.00", "", "", "no", "3", "8.00", "yes"],
        ["W-3", "Watch", "1", "480.00", "1", "480.00", "no", "1", "480.00", "yes"],
    ]


def test_the_scorecard_figures_follow_the_definitions(mismatched, now, tmp_path):
    reconcile(out_dir=tmp_path, now=now)
    card = scorecard_summary()
    # 3 active SKUs; pairs: shop × 3 + market × 2 (W-3 is withheld from market) = 5, and
    # W-3 on market, which shows it anyway: a withheld product listed with stock is a pair
    # checked, with its exception (PRODUCT.md, "Assortment") = 6.
    assert (card.skus_checked, card.pairs_checked) == (3, 6)
    # Unaligned SKUs: A-1 (shop), B-2 (market), W-3 (market, withheld but listed). B-2's ERP
    # price violation has no channel and does not count against a channel.
    assert (card.skus_aligned, str(card.accuracy)) == (0, "0.0")
    # Pairs with an exception among the 6 checked: (A-1, shop), (B-2, market), (W-3, market).
    assert (card.pairs_with_exception, str(card.exception_rate)) == (3, "50.0")
    assert card.exceptions == 6
    assert card.exposure_label == "270.20 USD"
    # Oversell risk: A-1 shown above ATP on shop, W-3 shown where it may not be sold.
    assert card.oversell_skus == 2
    (shop,) = [c for c in card.channels if c.code == "shop"]
    assert (shop.pairs_checked, shop.pairs_with_exception, shop.accuracy_label) == (3, 1, "66.7 %")


def test_the_scorecard_file_is_self_contained_and_shows_the_figures(mismatched, tmp_path, now):
    reconcile(out_dir=tmp_path, now=now)
    html = (tmp_path / "scorecard.html").read_text(encoding="utf-8")
    assert re.search(r'data-figure="accuracy">0\.0 %<', html)
    assert re.search(r'data-figure="exposure">270\.20 USD<', html)
    assert re.search(r'data-figure="exception_rate">50\.0 %<', html)
    assert (
        "Plotly.newPlot" in html
        and "chart-exposure-by-channel" in html
        and "appears after the second reconcile" in html  # one run: no trend yet
        and 'href="/' not in html  # no drill-down links: the file has no site to open
    )
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html), "must open offline"


def test_a_failed_run_leaves_no_partial_report(mismatched, tmp_path, now, monkeypatch):
    from reconcile import reconcile as module

    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "ops_exceptions_record", boom)
    with pytest.raises(RuntimeError):
        reconcile(out_dir=tmp_path, now=now)
    assert not (tmp_path / "sku-rollup.csv").exists()
    assert list(tmp_path.glob(".*tmp")) == []
    assert not OpsException.objects.filter(source="reconcile").exists()


def test_the_database_refuses_a_negative_stock_state(world, ingest):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,1\n")
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(product__sku="A-1").update(available=-1)


def test_the_database_refuses_a_second_open_exception_for_one_sku_channel_and_discrepancy(
    mismatched, now, tmp_path
):
    reconcile(out_dir=tmp_path, now=now)
    first = OpsException.objects.get(sku_id="A-1", discrepancy="Stock_Mismatch")
    twin = dict(
        sku_id="A-1",
        channel=first.channel,
        discrepancy="Stock_Mismatch",
        source="reconcile",
        first_seen=now,
        last_seen=now,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        OpsException.objects.create(**twin)
    # …also with no channel (an ERP price violation):
    with pytest.raises(IntegrityError), transaction.atomic():
        OpsException.objects.create(
            sku_id="B-2",
            discrepancy="Price_Rule_Violation",
            source="ingest",
            first_seen=now,
            last_seen=now,
        )
    # A resolved one may sit beside an open one.
    first.status, first.resolved_at = ExceptionStatus.RESOLVED, now
    first.save()
    OpsException.objects.create(**twin)
