"""Triage in a real browser: Debian's Chromium driven by Playwright against the live server."""

import pytest
from playwright.sync_api import expect

from exceptions.models import OpsException
from ims.roles import Role
from reconcile.reconcile import reconcile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def mismatched(world, ingest, tmp_path):
    """Three price mismatches: two on shop, one on market."""
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\nB-2,WH,3\nW-3,WH,1\n")
    ingest(
        "snapshot",
        """
        channel,sku_id,quantity,price,currency
        shop,A-1,10,24.99,USD
        shop,B-2,3,7.00,USD
        shop,W-3,1,480.00,USD
        market,A-1,8,29.00,USD
        market,B-2,1,8.00,USD
    """,
    )
    reconcile(out_dir=tmp_path)


def test_an_ops_user_filters_by_channel_acknowledges_one_and_pushes_another(
    mismatched, user_with_role, page, login, ingest, tmp_path, monkeypatch
):
    user_with_role(Role.OPS, "olivia")
    login("olivia")
    page.click("text=Exceptions")
    page.click('[data-tab="Price_Mismatch"]')
    page.wait_for_selector('[data-count="Price_Mismatch"]')
    assert page.locator('[data-count="Price_Mismatch"]').inner_text() == "3"
    page.select_option("select[name=channel]", "shop")
    # (Playwright's expect, not wait_for_function: that evaluates a string, which the CSP forbids)
    expect(page.locator("#results tr[data-sku]")).to_have_count(2)
    # the tab counts follow the filter (their own request)
    expect(page.locator('[data-count="Price_Mismatch"]')).to_have_text("2")
    assert "channel=shop" in page.url

    row = page.locator('tr[data-sku="A-1"]')
    row.locator("summary", has_text="Acknowledge").click()
    row.locator("input[name=reason]").fill("promo price agreed with the shop team")
    row.locator("button", has_text="Acknowledge").click()
    page.wait_for_selector("text=Acknowledged 1 exception.")
    assert "acknowledged" in page.locator('tr[data-sku="A-1"] [data-status]').inner_text()
    exception = OpsException.objects.get(
        sku_id="A-1", channel__code="shop", discrepancy="Price_Mismatch"
    )
    assert (exception.status, exception.acknowledged_by.username, exception.acknowledge_reason) == (
        "acknowledged",
        "olivia",
        "promo price agreed with the shop team",
    )

    # Push HQ's price for B-2 to shop (a file channel here: its CSV goes to the outbox).
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    page.locator('tr[data-sku="B-2"]').locator("button", has_text="Push correction").click()
    page.wait_for_selector("text=Pushed 1 correction.")  # the in-process queue ran it
    assert page.locator('tr[data-sku="B-2"] [data-push]').inner_text() == "pushed"
    sent = "".join(p.read_text() for p in (tmp_path / "outbox").glob("*.csv"))
    assert "B-2" in sent and "8.00" in sent

    # The channel's next snapshot shows HQ's price: reconcile resolves it and the push is verified.
    ingest(
        "snapshot",
        """
        channel,sku_id,quantity,price,currency
        shop,A-1,10,24.99,USD
        shop,B-2,3,8.00,USD
        shop,W-3,1,480.00,USD
        """,
    )
    reconcile(out_dir=tmp_path)
    page.goto("/exceptions/?discrepancy=Price_Mismatch&channel=shop&status=resolved")
    assert page.locator('tr[data-sku="B-2"] [data-push]').inner_text() == "verified"


def test_an_ops_user_is_refused_product_creation_and_a_catalog_manager_creates_one(
    world, user_with_role, page, login
):
    user_with_role(Role.OPS, "olivia")
    login("olivia")
    assert page.locator("text=New product").count() == 0
    response = page.goto("/products/new/")
    assert response.status == 403

    user_with_role(Role.CATALOG_MANAGER, "carla")
    page.context.clear_cookies()
    login("carla")
    page.click("text=Products")
    page.click("text=New product")
    page.fill("input[name=sku]", "C-9")
    page.fill("input[name=name]", "Cap")
    page.fill("input[name=barcode]", "96385075")  # a wrong check digit first
    page.select_option("select[name=category]", label="apparel")
    page.fill("input[name=cost]", "5.00")
    page.fill("input[name=mrp]", "20.00")
    page.fill("input[name=price]", "15.00")
    page.click("button:has-text('Create product')")
    assert (
        "wrong check digit (expected 4)" in page.locator('[data-error-for="barcode"]').inner_text()
    )
    page.fill("input[name=barcode]", "96385074")
    page.click("button:has-text('Create product')")
    page.wait_for_url("**/products/C-9/")
    assert page.locator('[data-figure="price"]').inner_text() == "15.00 USD"
