"""The stock API (/api/stock/): list the quarantine, release or write off units with a reason,
receive a delivery; the same role rules as the pages, refusals answered 403 and audited."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Product
from ims.models import AuditEvent
from ims.roles import Role
from inventory.models import Location, Movement, StockLevel
from inventory.services.stock import StockMove, stock_move

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user_with_role):
    def make(role):
        client = APIClient()
        token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def returned(world):
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(
        moves=[StockMove(a1.pk, wh.pk, "", "quarantined", 3)],
        reason="customer_return",
        ref="return:1",
    )
    return StockLevel.objects.get(product=a1, location=wh)


def test_the_quarantine_is_listed_and_filtered(returned, api):
    client = api(Role.FINANCE)
    body = client.get("/api/stock/quarantine/").json()
    assert [(r["sku_id"], r["location"], r["quarantined"]) for r in body["results"]] == [
        ("A-1", "WH", 3)
    ]
    assert client.get("/api/stock/quarantine/?sku_id=B").json()["results"] == []


def test_store_staff_release_and_write_off_through_the_api(returned, api):
    client = api(Role.STORE_STAFF)
    body = {"sku_id": "A-1", "location": "WH", "quantity": 2, "reason": "inspected"}
    released = client.post("/api/stock/quarantine/release/", body, format="json")
    assert released.status_code == 200
    assert (released.json()["quarantined"], released.json()["available"]) == (1, 2)
    written = client.post(
        "/api/stock/quarantine/write-off/", {**body, "quantity": 1, "reason": "torn"}, format="json"
    )
    assert (written.json()["quarantined"], written.json()["damaged"]) == (0, 1)
    actions = AuditEvent.objects.filter(origin__startswith="api").values_list("action", flat=True)
    assert set(actions) == {"quarantine_release", "quarantine_write_off"}


def test_more_than_is_quarantined_is_a_409_and_changes_nothing(returned, api):
    response = api(Role.ADMIN).post(
        "/api/stock/quarantine/write-off/",
        {"sku_id": "A-1", "location": "WH", "quantity": 4, "reason": "all of it"},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    returned.refresh_from_db()
    assert returned.quarantined == 3


def test_a_missing_reason_or_an_unknown_sku_is_a_400_naming_the_field(returned, api):
    client = api(Role.STORE_STAFF)
    blank = client.post(
        "/api/stock/quarantine/release/",
        {"sku_id": "A-1", "location": "WH", "quantity": 1, "reason": "  "},
        format="json",
    )
    assert blank.status_code == 400 and "reason" in blank.json()["extra"]["fields"]
    unknown = client.post(
        "/api/stock/quarantine/release/",
        {"sku_id": "Z-0", "location": "MARS", "quantity": 1, "reason": "ok"},
        format="json",
    )
    assert unknown.status_code == 400
    assert set(unknown.json()["extra"]["fields"]) == {"sku_id", "location"}


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_decide_get_403_and_the_refusal_is_audited(returned, api, role):
    response = api(role).post(
        "/api/stock/quarantine/release/",
        {"sku_id": "A-1", "location": "WH", "quantity": 1, "reason": "ok"},
        format="json",
    )
    assert response.status_code == 403
    refused = AuditEvent.objects.get(action="access_denied")
    assert refused.object_repr == "POST /api/stock/quarantine/release/"
    returned.refresh_from_db()
    assert returned.quarantined == 3


def test_ops_receive_a_delivery_through_the_api(world, api):
    response = api(Role.OPS).post(
        "/api/stock/receive/",
        {"sku_id": "B-2", "location": "NYC", "quantity": 5, "reference": "PO-4411"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["sku_id"], response.json()["available"]) == ("B-2", 5)
    assert Movement.objects.get(reason="receipt").ref == "receipt:PO-4411"
    assert AuditEvent.objects.get(action="stock_receive").origin.startswith("api")


@pytest.mark.parametrize("role", [Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_receive_get_403_and_nothing_moves(world, api, role):
    response = api(role).post(
        "/api/stock/receive/",
        {"sku_id": "B-2", "location": "NYC", "quantity": 5, "reference": "PO-1"},
        format="json",
    )
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access_denied").exists()
    assert not Movement.objects.filter(reason="receipt").exists()
