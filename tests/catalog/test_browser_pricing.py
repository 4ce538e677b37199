"""The pricing pages in a real browser: a refused change names the rule; an admin edits a rule."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.models import Category, Product
from ims.roles import Role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_pricing_is_refused_with_the_rule_then_sets_a_valid_price(
    world, user_with_role, page, login
):
    user_with_role(Role.PRICING, "priya")
    login("priya")
    page.click("nav >> text=Prices")
    page.fill("#id_sku", "A-1")
    page.fill("#id_offer", "19.99")
    page.fill("#id_reason", "flash sale")
    page.click("#price-change button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert (
        page.locator("[data-error=rule]")
        .inner_text()
        .startswith("Refused by the price rule max_discount: discount 50.02 % from MRP 40.00")
    )
    page.fill("#id_offer", "20.00")
    page.click("#price-change button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#messages .toast.success")).to_contain_text("A-1: 20.00 is in force.")
    assert page.locator('[data-figure="price"]').inner_text() == "20.00 USD"
    assert Product.objects.get(sku="A-1").price == Decimal("20.00")


def test_an_admin_edits_a_rule_in_its_row(world, user_with_role, page, login):
    user_with_role(Role.ADMIN, "adam")
    login("adam")
    page.click("nav >> text=Price rules")
    row = page.locator('tr[data-category="watches"]')
    row.locator("input[name=max_discount_pct]").fill("7.5")
    row.locator("input[name=reason]").fill("holidays")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#messages .toast.success")).to_contain_text(
        "Price rules of watches saved."
    )
    assert Category.objects.get(name="watches").max_discount_pct == Decimal("7.5")
    assert Category.objects.get(name="*").max_discount_pct == Decimal(50)
