"""What a channel offers, seen in Chromium: Ops open the market's assortment from the sync runs
page, withhold the whole `home` category there (the message in view, the rows read withheld,
the totals move, the CSV lists them), are told beside the list when nothing is ticked, and cap
one ticked product; Finance see the list without the form; the page fits a 390 px phone."""

import csv

import pytest
from playwright.sync_api import expect

from channels.models import ChannelAssortment
from ims.roles import Role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def shelf(world, ingest, user_with_role):
    """The world's A-1 (apparel), B-2 (home), W-3 (watches), two more in home (H-4, H-5);
    Olga (Ops) and Fay (Finance)."""
    ingest(
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        H-4,Bowl,4006381333948,home,EA,2.00,10.00,8.00,USD
        H-5,Plate,4006381333955,home,EA,2.00,10.00,8.00,USD
    """,
        name="more.csv",
    )
    user_with_role(Role.OPS, "olga")
    user_with_role(Role.FINANCE, "fay")


def _totals(page) -> tuple[str, str, str]:
    return tuple(
        page.locator(f"[data-total={name}]").inner_text()
        for name in ("products", "offered", "withheld")
    )


def _dismiss(page):
    for dismiss in page.locator("#messages [data-dismiss]").all():
        dismiss.click()


def test_ops_withhold_a_whole_category_on_a_channel_and_cap_one_product(shelf, login):
    page = login("olga")
    page.goto("/channels/runs/")
    page.locator("#assortments a", has_text="market").click()
    page.wait_for_url("**/channels/market/assortment/")
    assert _totals(page) == ("5", "5", "0")
    expect(page.locator("tr[data-sku=B-2] [data-state]")).to_have_text("offered")

    page.locator("#filters select[name=category]").select_option("home")
    page.locator("#filters button", has_text="Filter").click()
    expect(page.locator("[data-position]")).to_have_text("1–3 of 3")
    form = page.locator("#assortment-bulk")
    form.locator("select[name=publish]").select_option("no")
    form.locator("input[name=reason]").fill("online only")
    form.get_by_role("button", name="Apply to all 3 matching the filter").click()

    toast = page.locator("#messages .toast.success", has_text="market: withheld — 3 products")
    expect(toast).to_be_in_viewport()
    for sku in ("B-2", "H-4", "H-5"):
        expect(page.locator(f"tr[data-sku={sku}] [data-state]")).to_have_text("withheld")
    assert _totals(page) == ("3", "0", "3")
    assert sorted(
        ChannelAssortment.objects.filter(channel__code="market", publish=False).values_list(
            "product__sku", flat=True
        )
    ) == ["B-2", "H-4", "H-5"]

    with page.expect_download() as download:
        page.locator("#export").click()
    rows = list(csv.DictReader(download.value.path().read_text(encoding="utf-8").splitlines()))
    assert [(r["channel"], r["sku_id"], r["category"], r["publish"]) for r in rows] == [
        ("market", "B-2", "home", "no"),
        ("market", "H-4", "home", "no"),
        ("market", "H-5", "home", "no"),
    ]

    _dismiss(page)
    page.goto("/channels/market/assortment/")
    assert _totals(page) == ("5", "2", "3")
    expect(page.locator("tr[data-sku=A-1] [data-state]")).to_have_text("offered")
    form = page.locator("#assortment-bulk")
    form.locator("input[name=set_cap]").check()
    form.locator("input[name=max_units]").fill("7")
    form.get_by_role("button", name="Apply to ticked products").click()
    refused = page.locator("#messages .toast.error", has_text="Nothing changed on market")
    expect(refused).to_be_in_viewport()
    expect(page.locator("[data-error-for=sku]")).to_contain_text("Tick the products")

    _dismiss(page)
    page.locator("tr[data-sku=A-1] input[type=checkbox]").check()
    page.locator("#assortment-bulk").get_by_role("button", name="Apply to ticked products").click()
    toast = page.locator("#messages .toast.success", has_text="market: product cap 7 — 1 product")
    expect(toast).to_be_in_viewport()
    expect(page.locator("tr[data-sku=A-1] [data-cap]")).to_have_text("7")
    expect(page.locator("tr[data-sku=A-1] [data-state]")).to_have_text("offered")
    assert _totals(page) == ("5", "2", "3")


def test_a_viewer_sees_what_a_channel_offers_without_the_form(shelf, login):
    ChannelAssortment.objects.create(
        channel_id=shelf_channel("shop"), product_id=product("B-2"), publish=False
    )
    page = login("fay")
    page.goto("/channels/shop/assortment/")
    expect(page.locator("tr[data-sku=B-2] [data-state]")).to_have_text("withheld")
    assert _totals(page) == ("5", "4", "1")
    expect(page.locator("#assortment-bulk")).to_have_count(0)
    expect(page.locator("table.assortment input[type=checkbox]")).to_have_count(0)

    page.goto("/channels/shop/assortment/?sku=zz")
    expect(page.locator(".empty-state")).to_contain_text("None match")


def test_the_assortment_on_a_390_px_phone_does_not_scroll_sideways(shelf, login):
    page = login("olga")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/channels/shop/assortment/")
    row = page.locator("table.grid tbody tr").first
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390


def shelf_channel(code: str) -> int:
    from channels.models import Channel

    return Channel.objects.get(code=code).pk


def product(sku: str) -> int:
    from catalog.models import Product

    return Product.objects.get(sku=sku).pk
