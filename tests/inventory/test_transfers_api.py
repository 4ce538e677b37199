"""The transfers API (/api/stock/transfers/): list (status, SKU, location), send, receive; the
role rules of the services, refusals answered 403 and audited, field messages on a 400, a 409
when the source has too few units or the transfer was received already."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Product
from ims.models import AuditEvent
from ims.roles import Role
from inventory.models import Location, StockLevel, Transfer
from inventory.services.stock import StockMove, stock_move

pytestmark = pytest.mark.django_db

SEND = {"sku_id": "A-1", "source": "WH", "destination": "NYC", "quantity": 3, "reason": "TR-7"}


@pytest.fixture
def api(user_with_role):
    def make(role):
        client = APIClient()
        token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def stocked(world):
    """10 units of A-1 available at WH."""
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(moves=[StockMove(a1.pk, wh.pk, "", "available", 10)], reason="receipt", ref="r:1")


def level(sku, code):
    return StockLevel.objects.get(product__sku=sku, location__code=code)


@pytest.mark.parametrize("role", [Role.OPS, Role.STORE_STAFF, Role.ADMIN, Role.SUPERADMIN])
def test_ops_store_staff_and_admins_send_and_receive_a_transfer(stocked, api, role):
    client = api(role)
    sent = client.post("/api/stock/transfers/send/", SEND, format="json")
    assert sent.status_code == 201, sent.json()
    body = sent.json()
    assert (body["status"], body["source"], body["destination"]) == ("in_transit", "WH", "NYC")
    assert body["lines"] == [{"sku_id": "A-1", "quantity": 3}]
    assert body["created_by"] == f"api-{role.name.lower()}"
    assert level("A-1", "WH").available == 7 and level("A-1", "NYC").in_transit == 3

    received = client.post(f"/api/stock/transfers/{body['id']}/receive/", {}, format="json")
    assert received.status_code == 200
    assert received.json()["status"] == "received"
    nyc = level("A-1", "NYC")
    assert (nyc.in_transit, nyc.available) == (0, 3)
    audited = AuditEvent.objects.filter(origin__startswith="api").values_list("action", flat=True)
    assert set(audited) == {"transfer_send", "transfer_receive"}


def test_transfers_are_listed_and_filtered_by_status_sku_and_location(stocked, api):
    client = api(Role.OPS)
    first = client.post("/api/stock/transfers/send/", SEND, format="json").json()
    client.post("/api/stock/transfers/send/", {**SEND, "quantity": 1}, format="json")
    client.post(f"/api/stock/transfers/{first['id']}/receive/", {}, format="json")
    reader = api(Role.FINANCE)
    listed = reader.get("/api/stock/transfers/").json()["results"]
    assert [t["status"] for t in listed] == ["in_transit", "received"]  # newest first
    in_transit = reader.get("/api/stock/transfers/?status=in_transit").json()["results"]
    assert [t["lines"][0]["quantity"] for t in in_transit] == [1]
    assert len(reader.get("/api/stock/transfers/?location=NYC").json()["results"]) == 2
    assert reader.get("/api/stock/transfers/?sku_id=B").json()["results"] == []
    refused = reader.get("/api/stock/transfers/?status=lost")
    assert refused.status_code == 400 and "status" in refused.json()["extra"]["fields"]


def test_more_units_than_are_available_is_a_409_and_nothing_moves(stocked, api):
    response = api(Role.OPS).post(
        "/api/stock/transfers/send/", {**SEND, "quantity": 11}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert level("A-1", "WH").available == 10
    assert not Transfer.objects.exists()


def test_receiving_a_transfer_twice_is_a_409(stocked, api):
    client = api(Role.STORE_STAFF)
    sent = client.post("/api/stock/transfers/send/", SEND, format="json").json()
    client.post(f"/api/stock/transfers/{sent['id']}/receive/", {}, format="json")
    again = client.post(f"/api/stock/transfers/{sent['id']}/receive/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "transfer_received"
    assert level("A-1", "NYC").available == 3
    assert client.post("/api/stock/transfers/999999/receive/", {}, format="json").status_code == 404


def test_unknown_names_a_blank_reason_or_one_place_are_400s_naming_the_field(stocked, api):
    client = api(Role.OPS)
    unknown = client.post(
        "/api/stock/transfers/send/",
        {**SEND, "sku_id": "Z-0", "source": "MARS", "destination": "MOON"},
        format="json",
    )
    assert unknown.status_code == 400
    assert set(unknown.json()["extra"]["fields"]) == {"sku_id", "source", "destination"}
    same = client.post("/api/stock/transfers/send/", {**SEND, "destination": "WH"}, format="json")
    assert same.status_code == 400 and "destination" in same.json()["extra"]["fields"]
    blank = client.post("/api/stock/transfers/send/", {**SEND, "reason": " "}, format="json")
    assert blank.status_code == 400 and "reason" in blank.json()["extra"]["fields"]
    zero = client.post("/api/stock/transfers/send/", {**SEND, "quantity": 0}, format="json")
    assert zero.status_code == 400 and "quantity" in zero.json()["extra"]["fields"]
    assert not Transfer.objects.exists()


@pytest.mark.parametrize("role", [Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_send_or_receive_get_403_audited_and_nothing_moves(stocked, api, role):
    refused_role = api(role)
    response = refused_role.post("/api/stock/transfers/send/", SEND, format="json")
    assert response.status_code == 403
    refused = AuditEvent.objects.get(action="access_denied")
    assert refused.object_repr == "POST /api/stock/transfers/send/"
    assert level("A-1", "WH").available == 10

    sent = api(Role.OPS).post("/api/stock/transfers/send/", SEND, format="json").json()
    receive = refused_role.post(f"/api/stock/transfers/{sent['id']}/receive/", {}, format="json")
    assert receive.status_code == 403
    assert AuditEvent.objects.filter(action="access_denied").count() == 2
    assert level("A-1", "NYC").in_transit == 3
