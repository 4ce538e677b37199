"""The stock pages: the quarantine (totals, position, search, export, release and write off
with a reason) and receiving a delivery, as each role sees them."""

from __future__ import annotations

import pytest

from catalog.models import Product
from ims.models import AuditEvent
from ims.roles import Role
from inventory.models import Location, StockLevel
from inventory.services.stock import StockMove, stock_move

pytestmark = pytest.mark.django_db


def quarantine(sku, location, units):
    product, place = Product.objects.get(sku=sku), Location.objects.get(code=location)
    stock_move(
        moves=[StockMove(product.pk, place.pk, "", "quarantined", units)],
        reason="customer_return",
        ref="return:1",
    )
    return StockLevel.objects.get(product=product, location=place)


@pytest.fixture
def returns(world):
    return [quarantine("A-1", "WH", 3), quarantine("A-1", "NYC", 1), quarantine("B-2", "WH", 4)]


def signed_in(client, user_with_role, role):
    client.force_login(user_with_role(role))
    return client


def test_the_quarantine_lists_units_by_product_and_location_with_totals(
    returns, client, user_with_role
):
    page = signed_in(client, user_with_role, Role.FINANCE).get("/stock/quarantine/")
    html = page.content.decode()
    assert page.status_code == 200
    assert [(lv.product.sku, lv.location.code) for lv in page.context["page"]] == [
        ("A-1", "NYC"),
        ("A-1", "WH"),
        ("B-2", "WH"),
    ]
    assert page.context["totals"] == {"rows": 3, "skus": 2, "locations": 2, "units": 8}
    assert "1–3 of 3" in html
    assert "Release to available" not in html  # Finance sees, does not decide
    found = client.get("/stock/quarantine/?q=B-")
    assert [lv.product.sku for lv in found.context["page"]] == ["B-2"]
    assert found.context["totals"]["units"] == 4


def test_the_export_holds_every_row_of_the_search(returns, client, user_with_role):
    signed_in(client, user_with_role, Role.OPS)
    response = client.get("/stock/quarantine/export.csv?q=A-")
    rows = b"".join(response.streaming_content).decode().strip().splitlines()
    assert rows == [
        "sku_id,name,location,quarantined,available,damaged",
        "A-1,Shirt,NYC,1,0,0",
        "A-1,Shirt,WH,3,0,0",
    ]


def test_store_staff_release_and_write_off_with_a_reason(returns, client, user_with_role):
    signed_in(client, user_with_role, Role.STORE_STAFF)
    a1_wh = returns[0]
    released = client.post(
        "/stock/quarantine/release/",
        {"level": a1_wh.pk, "quantity": 2, "reason": "checked, sealed", "query": "q=A-"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert released.status_code == 200
    html = released.content.decode()
    assert "Released to available 2 units of A-1 at WH." in html and 'id="messages"' in html
    a1_wh.refresh_from_db()
    assert (a1_wh.quarantined, a1_wh.available) == (1, 2)
    written = client.post(
        "/stock/quarantine/write-off/",
        {"level": a1_wh.pk, "quantity": 1, "reason": "torn", "query": ""},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    a1_wh.refresh_from_db()
    assert (a1_wh.quarantined, a1_wh.damaged) == (0, 1)
    # The row acted on stays in view with what became of it.
    assert f'id="level-{a1_wh.pk}"' in written.content.decode()
    assert "Wrote off as damaged 1 unit of A-1 at WH." in written.content.decode()
    assert AuditEvent.objects.filter(action="quarantine_write_off", reason="torn").exists()


def test_without_a_reason_nothing_changes_and_the_page_says_why(returns, client, user_with_role):
    signed_in(client, user_with_role, Role.STORE_STAFF)
    response = client.post(
        "/stock/quarantine/release/",
        {"level": returns[0].pk, "quantity": 1, "reason": ""},
        follow=True,
    )
    assert "Nothing changed. Check reason" in response.content.decode()
    returns[0].refresh_from_db()
    assert returns[0].quarantined == 3
    too_many = client.post(
        "/stock/quarantine/write-off/",
        {"level": returns[1].pk, "quantity": 5, "reason": "x"},
        follow=True,
    )
    assert "not enough quarantined stock" in too_many.content.decode()


def test_ops_may_not_decide_on_quarantine_and_the_refusal_is_audited(
    returns, client, user_with_role
):
    signed_in(client, user_with_role, Role.OPS)
    response = client.post(
        "/stock/quarantine/release/", {"level": returns[0].pk, "quantity": 1, "reason": "ok"}
    )
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access_denied", object_id="stock:quarantine_release")
    returns[0].refresh_from_db()
    assert returns[0].quarantined == 3


def test_receiving_a_delivery_raises_the_level_on_the_product_page(world, client, user_with_role):
    signed_in(client, user_with_role, Role.OPS)
    product_page = client.get("/products/A-1/").content.decode()
    assert 'href="/stock/receive/?sku=A-1"' in product_page
    form = client.get("/stock/receive/?sku=A-1")
    assert form.context["form"]["sku"].value() == "A-1"
    response = client.post(
        "/stock/receive/",
        {"sku": "A-1", "location": "NYC", "quantity": 5, "reference": "DN-881", "note": ""},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/products/A-1/"
    html = response.content.decode()
    assert "Received 5 units of A-1 at NYC (DN-881)." in html
    nyc = next(lv for lv in response.context["detail"].stock if lv.location.code == "NYC")
    assert nyc.available == 5


def test_a_receipt_of_an_unknown_sku_or_no_units_is_refused_on_the_form(
    world, client, user_with_role
):
    signed_in(client, user_with_role, Role.STORE_STAFF)
    response = client.post(
        "/stock/receive/", {"sku": "NOPE", "location": "WH", "quantity": 0, "reference": "r"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "sku" in errors and "quantity" in errors
    assert not StockLevel.objects.filter(available__gt=0).exists()


def test_finance_is_offered_no_receipt_and_is_refused_one(world, client, user_with_role):
    signed_in(client, user_with_role, Role.FINANCE)
    assert "Receive stock" not in client.get("/products/A-1/").content.decode()
    assert client.get("/stock/receive/").status_code == 403
