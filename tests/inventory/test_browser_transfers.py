"""A transfer between locations, seen in Chromium: a Store Staff member sends 3 units of A-1
from WH to NYC, sees them in transit on the transfers page and on the product page (WH
available down, NYC in transit up), receives them and sees NYC's available rise; the page does
not scroll sideways on a 390 px phone."""

import pytest
from playwright.sync_api import expect

from catalog.models import Product
from ims.roles import Role
from inventory.models import Location, StockLevel
from inventory.services.stock import StockMove, stock_move

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def sam(world, user_with_role, login):
    """Store Staff, with 10 units of A-1 available at WH."""
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(moves=[StockMove(a1.pk, wh.pk, "", "available", 10)], reason="receipt", ref="r:1")
    user_with_role(Role.STORE_STAFF, "sam")
    return login("sam")


def test_store_staff_send_3_units_wh_to_nyc_then_receive_them(sam):
    page = sam
    page.goto("/stock/transfers/")
    expect(page.locator(".empty-state")).to_contain_text("Nothing in transit")
    send = page.locator("form#send")
    send.locator("input[name=sku]").fill("A-1")
    send.locator("select[name=source]").select_option("WH")
    send.locator("select[name=destination]").select_option("NYC")
    send.locator("input[name=quantity]").fill("3")
    send.locator("input[name=reason]").fill("TR-100 restock NYC")
    send.locator("button", has_text="Send").click()
    toast = page.locator("#messages .toast.success", has_text="Sent 3 units of A-1 from WH to NYC")
    expect(toast).to_be_in_viewport()
    expect(send.locator("input[name=sku]")).to_have_value("")  # ready for the next one
    row = page.locator("#results tr[data-sku='A-1']")
    expect(row).to_have_attribute("data-status", "in_transit")
    expect(row.locator("[data-units]")).to_have_text("3")
    expect(row).to_contain_text("by sam")
    expect(page.locator("[data-position]")).to_have_text("1–1 of 1")
    expect(page.locator("[data-total=units]")).to_have_text("3")

    page.goto("/products/A-1/")
    expect(page.locator("#stock tr[data-location='WH'] [data-state=available]")).to_have_text("7")
    expect(page.locator("#stock tr[data-location='NYC'] [data-state=in_transit]")).to_have_text("3")

    page.goto("/stock/transfers/")
    row.locator("button", has_text="Receive all at NYC").click()
    toast = page.locator("#messages .toast.success", has_text="3 units now available at NYC")
    expect(toast).to_be_in_viewport()
    expect(row).to_be_in_viewport()  # the row stays, with what became of it
    expect(row).to_have_attribute("data-status", "received")
    expect(row.locator("[data-state]")).to_contain_text("received")
    expect(page.locator("[data-total=units]")).to_have_text("0")

    page.goto("/products/A-1/")
    nyc = page.locator("#stock tr[data-location='NYC']")
    expect(nyc.locator("[data-state=available]")).to_have_text("3")
    expect(nyc.locator("[data-state=in_transit]")).to_have_text("0")
    level = StockLevel.objects.get(product__sku="A-1", location__code="WH")
    assert level.available == 7


def test_the_transfers_page_on_a_390_px_phone_does_not_scroll_sideways(sam):
    page = sam
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/stock/transfers/")
    send = page.locator("form#send")
    send.locator("input[name=sku]").fill("A-1")
    send.locator("select[name=source]").select_option("WH")
    send.locator("select[name=destination]").select_option("NYC")
    send.locator("input[name=quantity]").fill("2")
    send.locator("input[name=reason]").fill("TR-101")
    send.locator("button", has_text="Send").click()
    row = page.locator("table.grid tbody tr").first
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(row.locator("button", has_text="Receive all at NYC")).to_be_visible()
