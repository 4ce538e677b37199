"""A vendor return from shipping to its credit note, seen in Chromium: Store Staff are refused
without a tracking number (the message in view), ship 2 damaged units with one, and see the
row awaiting its credit note; Finance link the vendor's credit note, see the row closed and the
note on the Finance page beside the customer returns. Both pages fit a 390 px phone."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import Product
from channels.models import Channel
from ims.roles import Role
from inventory.models import Location, StockLevel, VendorReturn
from inventory.services.stock import StockMove, stock_move
from orders.models import CustomerReturn, CustomerReturnLine
from orders.providers.base import LineIn, OrderIn
from orders.services.intake import order_receive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def shop_floor(world, user_with_role):
    """3 damaged units of A-1 at WH, a customer's return of order 9001, Sam (Store Staff) and
    Fay (Finance)."""
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(moves=[StockMove(a1.pk, wh.pk, "", "damaged", 3)], reason="count", ref="t")
    now = timezone.now()
    order, *_ = order_receive(
        channel=Channel.objects.get(code="shop"),
        incoming=OrderIn(
            external_id="9001",
            name="#9001",
            placed_at=now,
            lines=(LineIn(external_id="1", sku="A-1", quantity=1),),
        ),
        now=now,
    )
    back = CustomerReturn.objects.create(
        order=order, external_id="R-55", location=wh, reason="too small", created_at=now
    )
    CustomerReturnLine.objects.create(
        customer_return=back, line=order.lines.get(), product=a1, quantity=1
    )
    user_with_role(Role.STORE_STAFF, "sam")
    user_with_role(Role.FINANCE, "fay")


def _log_out(page):
    for dismiss in page.locator("#messages [data-dismiss]").all():  # the toast covers the bar
        dismiss.click()
    page.locator("form.whoami button", has_text="Log out").click()
    page.wait_for_url("**/accounts/login/**")


def test_a_vendor_return_ships_with_a_tracking_number_and_closes_with_its_credit_note(
    shop_floor, login
):
    page = login("sam")
    page.goto("/stock/vendor-returns/")
    expect(page.locator(".empty-state")).to_contain_text("Nothing has been sent back")
    page.locator("summary", has_text="New vendor return").click()
    form = page.locator("#vendor-return-new")
    form.locator("input[name=sku]").fill("A-1")
    form.locator("select[name=location]").select_option("WH")
    form.locator("input[name=quantity]").fill("2")
    form.locator("input[name=vendor]").fill("Acme")
    form.locator("input[name=reason]").fill("faulty batch")
    form.locator("button", has_text="Ship to vendor").click()
    refused = page.locator("#messages .toast.error", has_text="Tracking number: is required")
    expect(refused).to_be_in_viewport()
    expect(page.locator("[data-error-for=tracking_number]")).to_be_visible()
    assert not VendorReturn.objects.exists()

    form = page.locator("#vendor-return-new")
    form.locator("input[name=tracking_number]").fill("1Z999")
    form.locator("button", has_text="Ship to vendor").click()
    vr = VendorReturn.objects.get()
    toast = page.locator("#messages .toast.success", has_text="tracking 1Z999")
    expect(toast).to_be_in_viewport()
    row = page.locator(f"#vr-{vr.pk}")
    expect(row).to_be_in_viewport()
    expect(row.locator("[data-state]")).to_have_text("shipped, awaiting credit note")
    expect(page.locator("[data-position]")).to_have_text("1–1 of 1")
    assert StockLevel.objects.get(product__sku="A-1", location__code="WH").damaged == 1
    expect(row.locator("button", has_text="Link credit note")).to_have_count(0)
    _log_out(page)

    login("fay")
    page.goto("/stock/vendor-returns/")
    row = page.locator(f"#vr-{vr.pk}")
    row.locator("input[name=number]").fill("CN-7")
    row.locator("input[name=amount]").fill("49.90")
    row.locator("input[name=issued_on]").fill("2026-12-01")
    row.locator("button", has_text="Link credit note").click()
    toast = page.locator("#messages .toast.success", has_text="closed with credit note CN-7")
    expect(toast).to_be_in_viewport()
    expect(row).to_be_in_viewport()
    expect(row.locator("[data-state]")).to_have_text("closed")
    expect(row.locator("[data-credit-note]")).to_contain_text("CN-7 · 49.90 USD · 2026-12-01")

    for dismiss in page.locator("#messages [data-dismiss]").all():  # the toast covers the bar
        dismiss.click()
    page.locator("nav a", has_text="Finance").click()
    note = page.locator("#credit-notes tr[data-credit-note='CN-7']")
    expect(note).to_contain_text("Acme")
    expect(note).to_contain_text("49.90 USD")
    expect(page.locator("#customer-returns tbody tr")).to_contain_text("R-55")
    vr.refresh_from_db()
    assert vr.status == "closed"


@pytest.mark.parametrize(
    "path", ["/stock/vendor-returns/", "/finance/"], ids=["vendor-returns", "finance"]
)
def test_vendor_returns_and_finance_on_a_390_px_phone_do_not_scroll_sideways(
    shop_floor, login, path
):
    from inventory.services.vendor_returns import vendor_return_create

    vendor_return_create(
        vendor="Acme Industrial Supplies International",
        location=Location.objects.get(code="WH"),
        tracking_number="1Z999AA10123456784",
        lines=[(Product.objects.get(sku="A-1").pk, 1)],
        actor=None,
        reason="faulty batch from the spring delivery",
    )
    page = login("fay")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(path)
    row = page.locator("table.grid tbody tr").first
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
