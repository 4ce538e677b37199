"""A customer's return at a store, seen in Chromium: Store Staff receive 3 units of a shipped
order at the NYC counter (refused first for more than was shipped, the message in view), see the
row awaiting inspection, inspect it (1 to available, 2 to quarantined), then release the 2 from
the quarantine page and see the level available. The page fits a 390 px phone."""

import pytest
from playwright.sync_api import expect

from ims.roles import Role
from inventory.models import StockLevel
from orders.models import CustomerReturn
from tests.conftest import ARTIFACTS
from tests.orders.customer_returns import shipped_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _shot(page, name):
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"customer-returns_{name}.png"))


@pytest.fixture
def sam(channels, user_with_role, login):
    """Store Staff; order 9101 of shop, 3 × A-1 shipped from WH."""
    shipped_order("shop", "9101", [("A-1", 3)])
    user_with_role(Role.STORE_STAFF, "sam")
    return login("sam")


def _receive(page, units):
    form = page.locator("#return-receive")
    form.locator("select[name=channel]").select_option("shop")
    form.locator("input[name=order]").fill("9101")
    form.locator("select[name=location]").select_option("NYC")
    form.locator("input[name=sku]").fill("A-1")
    form.locator("input[name=quantity]").fill(units)
    form.locator("input[name=reference]").fill("SLIP-1")
    form.locator("input[name=reason]").fill("wrong size")
    form.locator("button", has_text="Receive return").click()


def test_a_return_received_at_the_store_is_inspected_and_its_quarantined_units_released(sam):
    page = sam
    page.locator("nav a", has_text="Customer returns").click()
    expect(page.locator(".empty-state")).to_contain_text("No customer has sent anything back")
    page.locator("summary", has_text="Receive a return").click()
    _receive(page, "4")
    refused = page.locator("#messages .toast.error", has_text="only 3 shipped and not yet returned")
    expect(refused).to_be_in_viewport()
    expect(page.locator("[data-error-for=quantity]")).to_be_visible()
    assert not CustomerReturn.objects.exists()

    _receive(page, "3")
    back = CustomerReturn.objects.get()
    toast = page.locator("#messages .toast.success", has_text="awaiting inspection")
    expect(toast).to_be_in_viewport()
    row = page.locator(f"#cr-{back.pk}")
    expect(row).to_be_in_viewport()
    expect(row.locator("[data-status]")).to_have_text("received, awaiting inspection")
    expect(row).to_contain_text("9101")
    expect(page.locator("[data-total=awaiting]")).to_have_text("1")
    expect(page.locator("[data-position]")).to_have_text("1–1 of 1")
    _shot(page, "1-received")

    inspect = row.locator("form.inspect-act")
    inspect.locator("input[name=available]").fill("1")
    inspect.locator("input[name=quarantined]").fill("2")
    inspect.locator("button", has_text="Inspect").click()
    toast = page.locator(
        "#messages .toast.success", has_text="inspected: 1 available, 2 quarantined"
    )
    expect(toast).to_be_in_viewport()
    expect(row).to_be_in_viewport()
    expect(row.locator("[data-status]")).to_have_text("inspected")
    expect(row.locator("[data-lines]")).to_contain_text("1 available, 0 damaged, 2 quarantined")
    _shot(page, "2-inspected")
    level = StockLevel.objects.get(product__sku="A-1", location__code="NYC")
    assert (level.returned, level.available, level.quarantined) == (0, 4, 2)

    for dismiss in page.locator("#messages [data-dismiss]").all():  # the toast covers the bar
        dismiss.click()
    page.locator("nav a", has_text="Quarantine").click()
    held = page.locator("#results tr[data-sku='A-1'][data-location='NYC']")
    expect(held.locator("[data-state=quarantined]")).to_have_text("2")
    held.locator("input[name=quantity]").fill("2")
    held.locator("input[name=reason]").fill("inspected again, sealed")
    held.locator("button", has_text="Release to available").click()
    toast = page.locator("#messages .toast.success", has_text="Released to available 2 units")
    expect(toast).to_be_in_viewport()
    expect(held.locator("[data-state=available]")).to_have_text("6")
    expect(held.locator("[data-state=quarantined]")).to_have_text("0")
    _shot(page, "3-released")


def test_customer_returns_on_a_390_px_phone_do_not_scroll_sideways(sam):
    from inventory.models import Location
    from orders.services.returns import customer_return_receive

    order = shipped_order("shop", "9102", [("A-1", 2)])
    customer_return_receive(
        order=order,
        location=Location.objects.get(code="NYC"),
        lines=[("A-1", 2)],
        reason="the customer changed their mind after the party",
    )
    page = sam
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/stock/returns/")
    row = page.locator("table.grid tbody tr").first
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for element in (row, row.locator("button", has_text="Inspect"), page.locator(".pager")):
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    _shot(page, "phone-390")
