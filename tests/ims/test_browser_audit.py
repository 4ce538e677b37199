"""The Superadmin's audit trail in a real browser (Debian Chromium via Playwright)."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.models import Product
from catalog.services.prices import price_change
from ims.audit import audit_record
from ims.roles import Role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_superadmin_filters_the_trail_opens_a_history_and_exports_it(
    world, user_with_role, page, login
):
    priya = user_with_role(Role.PRICING, "priya")
    shirt = Product.objects.get(sku="A-1")
    at = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    for n in range(55):  # more than a page
        audit_record(
            actor=priya,
            action="price_change",
            obj=shirt,
            before={"price": "30.00"},
            after={"price": f"{29 - n / 100:.2f}"},
            reason=f"change {n}",
            at=at + dt.timedelta(minutes=n),
        )
    user_with_role(Role.SUPERADMIN, "sam")
    login("sam")
    page.click("nav >> text=Audit")
    page.select_option("#id_actor", "priya")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator('[data-figure="events"]').inner_text() == "55"
    assert page.locator("#totals").inner_text().startswith("1–50 of 55 events")
    rows = page.locator("#events > tbody > tr")
    assert rows.count() == 50
    assert rows.first.locator('td[data-label="Reason"]').inner_text() == "change 54"
    page.click("a[rel=next]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#events > tbody > tr").count() == 5
    assert page.locator("#totals").inner_text().startswith("51–55 of 55 events")
    assert "actor=priya" in page.url  # the filter survives paging

    href = page.locator("#export").get_attribute("href")
    assert href.startswith("/audit/export.csv?") and "actor=priya" in href
    csv_text = page.request.get(href).text()
    assert csv_text.splitlines()[0] == (
        "at,actor,action,object_type,object_id,object_repr,before,after,reason,origin"
    )
    assert len(csv_text.splitlines()) == 56

    page.locator("#events > tbody > tr").first.locator('td[data-label="Object"] a').click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "History of Product A-1"
    from ims.models import AuditEvent

    history = AuditEvent.objects.filter(object_type="catalog.product", object_id=str(shirt.pk))
    assert page.locator('[data-figure="events"]').inner_text() == str(history.count())
    objects = page.locator('#events > tbody > tr > td[data-label="Object"]').all_inner_texts()
    assert set(objects) == {"Product A-1"}


def test_a_superadmin_finds_a_skus_price_change_by_whom_and_reads_it_as_money(
    world, user_with_role, page, login
):
    """Filter by SKU and user, read the change as Price 49.99 USD → 54.99 USD (marked as
    changed), and on a 390 px phone the page does not scroll sideways."""
    priya = user_with_role(Role.PRICING, "priya")
    paul = user_with_role(Role.PRICING, "paul")
    shirt, mug = Product.objects.get(sku="A-1"), Product.objects.get(sku="B-2")
    price_change(
        product=shirt, offer=Decimal("49.99"), mrp=Decimal("60.00"), reason="up", actor=paul
    )
    price_change(product=shirt, offer=Decimal("54.99"), reason="summer", actor=priya)
    price_change(product=mug, offer=Decimal("9.00"), reason="mug", actor=priya)
    user_with_role(Role.SUPERADMIN, "sam")
    login("sam")
    page.goto("/audit/")
    page.fill("#id_sku", "A-1")
    page.select_option("#id_actor", "priya")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_load_state("networkidle")

    assert "sku=A-1" in page.url and "actor=priya" in page.url
    rows = page.locator("#events > tbody > tr")
    expect(rows).to_have_count(1)  # not paul's change of A-1, not priya's of the mug
    row = rows.first
    assert row.locator('td[data-label="User"]').inner_text() == "priya"
    assert row.locator('td[data-label="Action"]').inner_text() == "Price change"
    assert row.locator('td[data-label="Object"]').inner_text() == "Product A-1"
    price = row.locator("table.changes tr", has=page.locator("th", has_text="Price")).first
    assert price.locator("td.before").inner_text() == "49.99 USD"
    assert price.locator("td.after").inner_text() == "54.99 USD"
    assert price.get_attribute("class") == "changed"
    assert "49.9900" not in row.inner_text() and "{" not in row.inner_text()
    assert page.locator("#totals").inner_text().startswith("1–1 of 1 event ·")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#events table.changes").first).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = page.locator("#events > tbody > tr").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_someone_else_is_refused(world, user_with_role, page, login):
    user_with_role(Role.ADMIN, "adam")
    login("adam")
    assert page.locator("nav >> text=Audit").count() == 0
    response = page.goto("/audit/")
    assert response.status == 403
