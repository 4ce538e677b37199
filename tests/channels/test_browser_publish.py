"""Publishing seen in Chromium: Olga (Ops) publishes a missing SKU to the Shopify stand-in from
its triage row (the message in view, the row's Push column says pushed, the shop lists it);
Carl (catalog manager) goes from a product page to the publish page, publishes another and
sees it under "Published lately" with the shop's id and the call that was sent; the page fits a
390 px phone."""

import pytest
from playwright.sync_api import expect

from channels.models import Channel
from channels.sync.engine import sync
from ims.roles import Role
from reconcile.reconcile import reconcile
from standins.shopify import FakeShopify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def shop(world, ingest, monkeypatch, settings, tmp_path, user_with_role):
    """`shop` served by the Shopify stand-in, which lists only A-1; B-2 and W-3 are missing."""
    settings.IMS_HTTP_BACKOFF_SECONDS = 0.001
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,12\nB-2,WH,5\nW-3,NYC,2\n")
    fake = FakeShopify(maximum=20000, restore_rate=5000)
    fake.add("A-1", 12, "30.00", mrp="40.00")
    monkeypatch.setenv("IMS_CHANNEL_SHOP_ACCESS_TOKEN", "shpat_test")
    user_with_role(Role.OPS, "olga")
    user_with_role(Role.CATALOG_MANAGER, "carl")
    with fake.serve() as url:
        Channel.objects.filter(code="shop").update(base_url=url)
        sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
        reconcile(out_dir=tmp_path)
        yield fake


def test_ops_publish_a_missing_sku_from_its_triage_row(shop, login):
    page = login("olga")
    page.goto("/exceptions/?discrepancy=Missing_SKU&channel=shop")
    row = page.locator("tr[data-sku=B-2][data-channel=shop]")
    row.get_by_role("button", name="Publish to shop").click()
    expect(
        page.locator("#messages .toast.success", has_text="1 published to shop.")
    ).to_be_in_viewport()
    expect(page.locator("tr[data-sku=B-2][data-channel=shop] [data-push]")).to_have_text("pushed")
    assert shop.variant("B-2")["available"] == 5


def test_a_catalog_manager_publishes_from_the_product_page(shop, login):
    page = login("carl")
    page.goto("/products/W-3/")
    page.get_by_role("link", name="Publish to channels").click()
    page.wait_for_url("**/channels/publish/?sku=W-3")
    shop_row = page.locator("#channels tr[data-channel=shop]")
    expect(shop_row.locator("[data-ready]")).to_have_text("1")
    expect(page.locator("#channels tr[data-channel=market] [data-left-out]")).to_contain_text(
        "its category (watches) is withheld from market"
    )
    shop_row.get_by_role("button", name="Publish 1 to shop").click()
    expect(
        page.locator("#messages .toast.success", has_text="1 published to shop.")
    ).to_be_in_viewport()
    published = page.locator("#publications tr[data-sku=W-3][data-channel=shop]")
    expect(published).to_have_attribute("data-status", "published")
    expect(published).to_contain_text(shop.variant("W-3")["id"])
    published.locator("summary", has_text="Sent 1 write").click()
    expect(published.locator("pre")).to_contain_text("productSet")
    expect(shop_row).to_contain_text("the channel's next read confirms it")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
