"""Returned stock leaves quarantine and deliveries come in, seen in Chromium: a Store Staff
member releases 2 of 3 returned units and writes off the last, the message in view and the row
updated each time; then receives 5 units from the product page and sees its level rise."""

import pytest
from playwright.sync_api import expect

from catalog.models import Product
from ims.roles import Role
from inventory.models import Location, StockLevel
from inventory.services.stock import StockMove, stock_move

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def sam(world, user_with_role, login):
    """Store Staff, with 3 units of A-1 back from customers at WH and 2 on the shelf there."""
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(
        moves=[
            StockMove(a1.pk, wh.pk, "", "quarantined", 3),
            StockMove(a1.pk, wh.pk, "", "available", 2),
        ],
        reason="customer_return",
        ref="return:1",
    )
    user_with_role(Role.STORE_STAFF, "sam")
    return login("sam")


def test_store_staff_release_and_write_off_returns_then_receive_a_delivery(sam):
    page = sam
    page.goto("/stock/quarantine/")
    expect(page.locator("[data-position]")).to_have_text("1–1 of 1")
    expect(page.locator("[data-total=units]")).to_have_text("3")
    row = page.locator("#results tr[data-sku='A-1'][data-location='WH']")

    row.locator("input[name=quantity]").fill("2")
    row.locator("input[name=reason]").fill("inspected, sealed")
    row.locator("button", has_text="Release to available").click()
    toast = page.locator("#messages .toast.success", has_text="Released to available 2 units")
    expect(toast).to_be_in_viewport()
    expect(row.locator("[data-state=quarantined]")).to_have_text("1")
    expect(row.locator("[data-state=available]")).to_have_text("4")
    expect(page.locator("[data-total=units]")).to_have_text("1")

    row.locator("input[name=quantity]").fill("1")
    row.locator("input[name=reason]").fill("box crushed")
    row.locator("button", has_text="Write off (damaged)").click()
    toast = page.locator("#messages .toast.success", has_text="Wrote off as damaged 1 unit")
    expect(toast).to_be_in_viewport()
    expect(row).to_be_in_viewport()  # the row stays, with what became of it
    expect(row.locator("[data-state=quarantined]")).to_have_text("0")
    expect(row.locator("[data-state=damaged]")).to_have_text("1")
    expect(row).to_contain_text("none left")
    level = StockLevel.objects.get(product__sku="A-1", location__code="WH")
    assert (level.quarantined, level.available, level.damaged) == (0, 4, 1)

    page.goto("/products/A-1/")
    stock = page.locator("#stock tr[data-location='WH'] [data-state=available]")
    expect(stock).to_have_text("4")
    page.locator("a.button", has_text="Receive stock").click()
    expect(page.locator("input[name=sku]")).to_have_value("A-1")
    page.select_option("select[name=location]", "WH")
    page.fill("input[name=quantity]", "5")
    page.fill("input[name=reference]", "DN-881")
    page.locator("button", has_text="Receive").click()
    page.wait_for_url("**/products/A-1/")
    expect(page.locator("#messages .toast.success")).to_contain_text(
        "Received 5 units of A-1 at WH (DN-881)."
    )
    expect(stock).to_have_text("9")


def test_the_quarantine_on_a_390_px_phone_does_not_scroll_sideways(sam):
    page = sam
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/stock/quarantine/")
    row = page.locator("table.grid tbody tr").first
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(row.locator("button", has_text="Release to available")).to_be_visible()
