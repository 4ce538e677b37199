"""Prices from files: the rules keep bad ones out one by one; the price in force follows effective dates."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.models import Category, Product
from catalog.rules import PricePolicy, policies, price_rule_check
from exceptions.models import OpsException
from reconcile.reconcile import reconcile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "offer, rule",
    [
        ("40.00", None),  # offer = MRP
        ("40.01", "above_mrp"),  # one cent above MRP
        ("20.00", None),  # discount exactly at the 50 % cap
        ("19.99", "max_discount"),  # one cent beyond it
        (
            "11.00",
            "max_discount",
        ),  # margin floor met exactly (10 × 1.10) but the discount is 72.5 %
    ],
)
def test_rule_boundaries_are_inclusive(offer, rule):
    policy = PricePolicy(max_discount_pct=Decimal(50), min_margin_pct=Decimal(10))
    assert (
        price_rule_check(
            offer=Decimal(offer), mrp=Decimal("40.00"), cost=Decimal("10.00"), policy=policy
        )
        == rule
    )


def test_the_margin_floor_is_inclusive_and_checked_before_the_discount():
    policy = PricePolicy(max_discount_pct=Decimal(50), min_margin_pct=Decimal(10))
    assert (
        price_rule_check(
            offer=Decimal("10.99"), mrp=Decimal("40"), cost=Decimal("10"), policy=policy
        )
        == "min_margin"
    )
    assert (
        price_rule_check(
            offer=Decimal("11.00"), mrp=Decimal("20"), cost=Decimal("10"), policy=policy
        )
        is None
    )


def test_a_category_overrides_the_default_field_by_field_and_blank_inherits(world):
    by_id = policies()
    watches = by_id[Category.objects.get(name="watches").id]
    apparel = by_id[Category.objects.get(name="apparel").id]
    assert (watches.max_discount_pct, watches.min_margin_pct, watches.luxury) == (10, 10, True)
    assert watches.withholds("market") and not watches.withholds("shop")
    assert (apparel.max_discount_pct, apparel.min_margin_pct, apparel.luxury) == (50, 10, False)


def test_an_erp_price_breaking_a_rule_is_kept_out_and_raises_one_violation_per_sku(
    world, ingest, now
):
    _, result = ingest(
        "prices",
        """
        sku_id,currency,price,effective_date
        A-1,USD,45.00,
        A-1,USD,44.00,2026-12-01
        B-2,USD,7.00,
    """,
    )
    assert [k.rule for k in result.kept_out] == ["above_mrp", "above_mrp"]
    assert Product.objects.get(sku="A-1").price == Decimal("30.00")  # the old price stays in force
    assert Product.objects.get(sku="B-2").price == Decimal("7.00")  # the rest applied
    violation = OpsException.objects.get()
    assert (violation.sku_id, violation.channel, violation.expected, violation.actual) == (
        "A-1",
        None,
        "above_mrp",
        "44.00",
    )


def test_reconcile_never_resolves_a_price_violation_but_a_later_valid_price_does(
    world, ingest, now, tmp_path
):
    ingest("prices", "sku_id,currency,price\nA-1,USD,5.00\n")
    reconcile(out_dir=tmp_path, now=now + dt.timedelta(minutes=1))
    assert OpsException.objects.get(discrepancy="Price_Rule_Violation").status == "open"
    ingest("prices", "sku_id,currency,price\nA-1,USD,29.00\n", at=now + dt.timedelta(minutes=2))
    assert OpsException.objects.get(discrepancy="Price_Rule_Violation").status == "resolved"
    assert Product.objects.get(sku="A-1").price == Decimal("29.00")


def test_a_catalog_price_breaking_a_rule_is_kept_out_too(world, ingest):
    _, result = ingest(
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        C-4,Cap,96385074,apparel,EA,5.00,20.00,25.00,USD
    """,
    )
    assert [str(k).split("/")[-1] for k in result.kept_out] == [
        "catalog.csv:2: price: 25.00 USD for C-4 breaks above_mrp"
    ]
    assert Product.objects.get(sku="C-4").price is None
    assert OpsException.objects.get().expected == "above_mrp"


def test_the_latest_start_wins_and_a_tie_goes_to_the_later_ingested(world, ingest, now):
    ingest("prices", "sku_id,currency,price,effective_date\nA-1,USD,25.00,2026-12-01\n")
    ingest(
        "prices",
        "sku_id,currency,price,effective_date\nA-1,USD,26.00,2026-12-01\n",
        at=now + dt.timedelta(minutes=1),
    )
    from catalog.services.prices import prices_refresh

    prices_refresh(now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert Product.objects.get(sku="A-1").price == Decimal("26.00")
    prices_refresh(now=dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC))
    assert Product.objects.get(sku="A-1").price == Decimal("30.00")


def test_effective_dates_begin_in_the_business_time_zone(world, ingest, now, settings):
    settings.IMS_BUSINESS_TZ = "Asia/Kolkata"
    ingest("prices", "sku_id,currency,price,effective_date\nA-1,USD,25.00,2026-12-01\n")
    from catalog.services.prices import prices_refresh

    # Midnight in Kolkata is 18:30 UTC the day before.
    prices_refresh(now=dt.datetime(2026, 11, 30, 18, 29, tzinfo=dt.UTC))
    assert Product.objects.get(sku="A-1").price == Decimal("30.00")
    prices_refresh(now=dt.datetime(2026, 11, 30, 18, 30, tzinfo=dt.UTC))
    assert Product.objects.get(sku="A-1").price == Decimal("25.00")
