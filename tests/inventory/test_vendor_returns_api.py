"""The vendor-return API (/api/stock/vendor-returns/): Store Staff ship goods back with a
tracking number, Finance record the vendor's credit note and the return closes; every refusal
names its field (400) or is a 403 that is audited."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Product
from ims.models import AuditEvent
from ims.roles import Role
from inventory.models import CreditNote, Location, StockLevel, VendorReturn
from inventory.services.stock import StockMove, stock_move

pytestmark = pytest.mark.django_db

URL = "/api/stock/vendor-returns/"
SHIP = {
    "vendor": "Acme",
    "location": "WH",
    "tracking_number": "1Z999",
    "reason": "faulty batch",
    "lines": [{"sku_id": "A-1", "quantity": 2}],
}
NOTE = {"number": "CN-7", "amount": "49.90", "currency": "USD", "issued_on": "2026-12-01"}


@pytest.fixture
def api(user_with_role):
    clients = {}

    def make(role):
        if role in clients:
            return clients[role]
        client = clients[role] = APIClient()
        token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def damaged(world):
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(moves=[StockMove(a1.pk, wh.pk, "", "damaged", 3)], reason="count", ref="t")
    return StockLevel.objects.get(product=a1, location=wh)


def test_store_staff_ship_a_return_and_finance_record_the_credit_note_which_closes_it(damaged, api):
    shipped = api(Role.STORE_STAFF).post(URL, SHIP, format="json")
    assert shipped.status_code == 201
    body = shipped.json()
    assert (body["status"], body["tracking_number"], body["credit_note"]) == (
        "shipped",
        "1Z999",
        None,
    )
    assert body["lines"] == [{"sku_id": "A-1", "from_state": "damaged", "quantity": 2}]
    damaged.refresh_from_db()
    assert damaged.damaged == 1

    finance = api(Role.FINANCE)
    closed = finance.post(f"{URL}{body['id']}/credit-note/", NOTE, format="json")
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["credit_note"]["amount"] == "49.9000"
    listed = finance.get(f"{URL}?status=closed").json()["results"]
    assert [r["id"] for r in listed] == [body["id"]]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"vendor_return", "credit_note", "vendor_return_close"} <= actions


def test_a_return_without_a_tracking_number_is_refused_naming_the_field(damaged, api):
    refused = api(Role.STORE_STAFF).post(URL, {**SHIP, "tracking_number": " "}, format="json")
    assert refused.status_code == 400
    assert "tracking_number" in refused.json()["extra"]["fields"]
    assert not VendorReturn.objects.exists()
    unknown = api(Role.STORE_STAFF).post(
        URL, {**SHIP, "location": "XX", "lines": [{"sku_id": "NOPE", "quantity": 1}]}, format="json"
    )
    assert unknown.status_code == 400
    assert set(unknown.json()["extra"]["fields"]) == {"location", "lines"}


def test_more_units_than_are_damaged_is_a_conflict_and_nothing_leaves(damaged, api):
    over = api(Role.STORE_STAFF).post(
        URL, {**SHIP, "lines": [{"sku_id": "A-1", "quantity": 9}]}, format="json"
    )
    assert over.status_code == 409
    damaged.refresh_from_db()
    assert damaged.damaged == 3 and not VendorReturn.objects.exists()


def test_close_links_a_recorded_credit_note_of_the_same_vendor_once(damaged, api, user_with_role):
    vr = api(Role.STORE_STAFF).post(URL, SHIP, format="json").json()
    finance = api(Role.FINANCE)
    other = CreditNote.objects.create(
        vendor="Other",
        number="X1",
        amount=1,
        currency="USD",
        issued_on="2026-12-01",
        created_at="2026-12-01T00:00Z",
    )
    wrong = finance.post(f"{URL}{vr['id']}/close/", {"credit_note": other.pk}, format="json")
    assert wrong.status_code == 400 and "credit_note" in wrong.json()["extra"]["fields"]
    note = CreditNote.objects.create(
        vendor="Acme",
        number="CN-1",
        amount=10,
        currency="USD",
        issued_on="2026-12-01",
        created_at="2026-12-01T00:00Z",
    )
    ok = finance.post(f"{URL}{vr['id']}/close/", {"credit_note": note.pk}, format="json")
    assert ok.status_code == 200 and ok.json()["credit_note"]["number"] == "CN-1"
    again = finance.post(f"{URL}{vr['id']}/close/", {"credit_note": note.pk}, format="json")
    assert again.status_code == 409


def test_a_credit_note_number_recorded_twice_is_refused(damaged, api):
    staff, finance = api(Role.STORE_STAFF), api(Role.FINANCE)
    first = staff.post(URL, {**SHIP, "lines": [{"sku_id": "A-1", "quantity": 1}]}, format="json")
    second = staff.post(URL, {**SHIP, "lines": [{"sku_id": "A-1", "quantity": 1}]}, format="json")
    finance.post(f"{URL}{first.json()['id']}/credit-note/", NOTE, format="json")
    twice = finance.post(f"{URL}{second.json()['id']}/credit-note/", NOTE, format="json")
    assert twice.status_code == 400 and "number" in twice.json()["extra"]["fields"]
    assert VendorReturn.objects.get(pk=second.json()["id"]).status == "shipped"


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_ship_returns_get_403_audited(damaged, api, role):
    response = api(role).post(URL, SHIP, format="json")
    assert response.status_code == 403
    assert AuditEvent.objects.get(action="access_denied").object_repr == f"POST {URL}"
    damaged.refresh_from_db()
    assert damaged.damaged == 3


@pytest.mark.parametrize("role", [Role.OPS, Role.STORE_STAFF, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_record_credit_notes_get_403_audited(damaged, api, role):
    vr = api(Role.STORE_STAFF).post(URL, SHIP, format="json").json()
    response = api(role).post(f"{URL}{vr['id']}/credit-note/", NOTE, format="json")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access_denied").exists()
    assert VendorReturn.objects.get(pk=vr["id"]).status == "shipped"
    assert not CreditNote.objects.exists()


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_list_vendor_returns(damaged, api, role):
    assert api(role).get(URL).status_code == 200
