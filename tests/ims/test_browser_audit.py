"""The Superadmin's audit trail in a real browser (Debian Chromium via Playwright)."""

import datetime as dt

import pytest

from catalog.models import Product
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
    page.fill("#id_actor", "priya")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator('[data-figure="events"]').inner_text() == "55"
    assert page.locator("#events tbody tr").count() == 50
    assert page.locator("#events tbody tr").first.locator("td").nth(6).inner_text() == "change 54"
    page.click("a[rel=next]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#events tbody tr").count() == 5
    assert "actor=priya" in page.url  # the filter survives paging

    href = page.locator("#export").get_attribute("href")
    assert href.startswith("/audit/export.csv?") and "actor=priya" in href
    csv_text = page.request.get(href).text()
    assert csv_text.splitlines()[0] == (
        "at,actor,action,object_type,object_id,object_repr,before,after,reason,origin"
    )
    assert len(csv_text.splitlines()) == 56

    page.locator("#events tbody tr").first.locator("td").nth(3).locator("a").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == f"History of catalog.product {shirt.pk} · A-1"
    from ims.models import AuditEvent

    history = AuditEvent.objects.filter(object_type="catalog.product", object_id=str(shirt.pk))
    assert page.locator('[data-figure="events"]').inner_text() == str(history.count())
    objects = page.locator("#events tbody tr td:nth-child(4)").all_inner_texts()
    assert set(objects) == {"catalog.product A-1"}


def test_someone_else_is_refused(world, user_with_role, page, login):
    user_with_role(Role.ADMIN, "adam")
    login("adam")
    assert page.locator("nav >> text=Audit").count() == 0
    response = page.goto("/audit/")
    assert response.status == 403
