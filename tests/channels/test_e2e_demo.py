"""End to end: the demo, its Shopify channel pointed at a fake Shopify on 127.0.0.1 (real HTTP),
`sync`, then `reconcile`: the 50 price mismatches are gone. A dry run sends nothing."""

import csv

import pytest
from django.core.management import call_command

from channels.models import Channel, ChannelListing
from exceptions.models import OpsException
from standins.shopify import FakeShopify

# serialized_rollback: the role groups the migrations made are back for the tests after these.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def demo_shop(tmp_path, monkeypatch, settings):
    """load_demo, then a fake Shopify holding exactly what the demo's Shopify snapshot shows."""
    from django.apps import apps

    from ims.roles import sync_groups

    sync_groups(apps)  # load_demo makes one user per role; a flushed database has no groups
    settings.IMS_REPORTS_DIR = tmp_path / "reports"
    call_command("load_demo", "--dir", str(tmp_path / "demo"))
    call_command("reconcile", "--channel", "shopify", "--out", str(tmp_path / "before"))
    fake = FakeShopify(maximum=100_000, restore_rate=50_000)  # a Plus-sized bucket: tests are quick
    for listing in ChannelListing.objects.filter(channel__code="shopify").order_by("identifier"):
        fake.add(listing.identifier, listing.quantity, listing.price, barcode=listing.barcode)
    monkeypatch.setenv("IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN", "shpat_test")
    with fake.serve() as url:
        yield fake, url


def open_on_shopify(discrepancy):
    return OpsException.objects.filter(
        channel__code="shopify", discrepancy=discrepancy, status__in=("open", "acknowledged")
    ).count()


def test_push_to_the_fake_shopify_clears_the_50_price_mismatches(demo_shop, tmp_path):
    fake, url = demo_shop
    assert open_on_shopify("Price_Mismatch") == 50
    stock_before = open_on_shopify("Stock_Mismatch")
    Channel.objects.filter(code="shopify").update(sync_mode="push", base_url=url)
    call_command("sync", "--channel", "shopify", "--out", str(tmp_path / "out"))
    with (tmp_path / "out" / "sync-plan.csv").open() as handle:
        plan = list(csv.DictReader(handle))
    prices = [row for row in plan if row["field"] == "price"]
    assert len(prices) == 50 and all(row["sent"] == "yes" for row in plan)
    assert sum(1 for (_sku, field), n in fake.writes.items() if field == "price" and n) == 50
    call_command("reconcile", "--channel", "shopify", "--out", str(tmp_path / "after"))
    assert open_on_shopify("Price_Mismatch") == 0
    # Every stock mismatch of an active product went too; the deactivated item showing stock
    # is for a person (sync never touches an inactive product's listing).
    assert stock_before > 1 and open_on_shopify("Stock_Mismatch") == 1
    assert open_on_shopify("Missing_SKU") == 8  # sync never creates a listing
    assert open_on_shopify("Channel_Only_SKU") == 3


def test_a_dry_run_against_the_same_shop_sends_nothing_and_writes_the_plan(demo_shop, tmp_path):
    fake, url = demo_shop
    Channel.objects.filter(code="shopify").update(base_url=url)  # the demo's own mode: dry_run
    call_command("sync", "--channel", "shopify", "--out", str(tmp_path / "out"))
    with (tmp_path / "out" / "sync-plan.csv").open() as handle:
        plan = list(csv.DictReader(handle))
    assert sum(1 for row in plan if row["field"] == "price") == 50
    assert {row["sent"] for row in plan} == {"no"}
    assert not fake.writes
    assert fake.requests and set(fake.requests) <= {"FirstLocation", "Variants"}
    call_command("reconcile", "--channel", "shopify", "--out", str(tmp_path / "after"))
    assert open_on_shopify("Price_Mismatch") == 50
