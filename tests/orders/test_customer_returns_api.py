"""The customer-return API (/api/orders/returns/): Store Staff receive a return handed in at a
store and inspect it; every refusal names its field (400), is a 409 for a return not awaiting
inspection, or a 403 that is audited."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ims.models import AuditEvent
from ims.roles import Role
from orders.models import CustomerReturn
from tests.orders.conftest import level
from tests.orders.customer_returns import shipped_order

pytestmark = pytest.mark.django_db

URL = "/api/orders/returns/"
RECEIVE = {
    "channel": "shop",
    "order": "8001",
    "location": "NYC",
    "reference": "SLIP-1",
    "reason": "too small",
    "lines": [{"sku_id": "A-1", "quantity": 3}],
}


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
def shipped(channels):
    return shipped_order("shop", "8001", [("A-1", 3)])


def test_store_staff_receive_a_return_then_inspect_it_unit_by_unit(shipped, api):
    store = api(Role.STORE_STAFF)
    made = store.post(URL, RECEIVE, format="json")
    assert made.status_code == 201
    body = made.json()
    assert (body["status"], body["order"], body["channel"], body["location"], body["units"]) == (
        "received",
        "8001",
        "shop",
        "NYC",
        3,
    )
    assert level("A-1", "NYC").returned == 3
    again = store.post(URL, RECEIVE, format="json")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    listed = store.get(URL, {"status": "received", "location": "NYC", "sku_id": "A"}).json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]
    assert store.get(URL, {"location": "WH"}).json()["count"] == 0

    inspected = store.post(
        f"{URL}{body['id']}/inspect/",
        {"lines": [{"sku_id": "A-1", "available": 1, "damaged": 1, "quarantined": 1}]},
        format="json",
    )
    assert inspected.status_code == 200
    line = inspected.json()["lines"][0]
    assert inspected.json()["status"] == "inspected"
    assert (line["to_available"], line["to_damaged"], line["to_quarantined"]) == (1, 1, 1)
    after = level("A-1", "NYC")
    assert (after.returned, after.damaged, after.quarantined) == (0, 1, 1)
    twice = store.post(
        f"{URL}{body['id']}/inspect/", {"lines": [{"sku_id": "A-1", "damaged": 3}]}, format="json"
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "return_not_awaiting_inspection")


def test_each_refusal_names_its_field(shipped, api):
    store = api(Role.STORE_STAFF)
    for change, field in [
        ({"channel": "nope"}, "channel"),
        ({"order": "nope"}, "order"),
        ({"location": "nope"}, "location"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku_id": "A-1", "quantity": "3"}]}, "lines"),
    ]:
        refused = store.post(URL, {**RECEIVE, **change}, format="json")
        assert refused.status_code == 400, change
        assert field in refused.json()["extra"]["fields"], change
    over = store.post(URL, {**RECEIVE, "lines": [{"sku_id": "A-1", "quantity": 4}]}, format="json")
    assert over.status_code == 400
    assert over.json()["extra"]["fields"] == {
        "lines[0].quantity": "4 A-1 handed back, but only 3 shipped and not yet returned"
    }
    assert not CustomerReturn.objects.exists() and level("A-1", "NYC").returned == 0


def test_a_marketplace_return_is_refused_to_available_with_the_field_named(channels, api):
    shipped_order("market", "AMZ-9", [("A-1", 1)])
    store = api(Role.STORE_STAFF)
    made = store.post(
        URL,
        {
            **RECEIVE,
            "channel": "market",
            "order": "AMZ-9",
            "lines": [{"sku_id": "A-1", "quantity": 1}],
        },
        format="json",
    )
    refused = store.post(
        f"{URL}{made.json()['id']}/inspect/",
        {"lines": [{"sku_id": "A-1", "available": 1}]},
        format="json",
    )
    assert refused.status_code == 400
    assert "never straight to available" in refused.json()["extra"]["fields"]["lines[0].available"]
    assert level("A-1", "NYC").returned == 1


def test_finance_may_read_but_not_receive_or_inspect_and_the_refusal_is_audited(shipped, api):
    finance = api(Role.FINANCE)
    assert finance.get(URL).status_code == 200
    assert finance.post(URL, RECEIVE, format="json").status_code == 403
    made = api(Role.STORE_STAFF).post(URL, RECEIVE, format="json").json()
    refused = finance.post(
        f"{URL}{made['id']}/inspect/", {"lines": [{"sku_id": "A-1", "damaged": 3}]}, format="json"
    )
    assert refused.status_code == 403
    denied = AuditEvent.objects.filter(action="access_denied").values_list("object_repr", flat=True)
    assert set(denied) == {f"POST {URL}", f"POST {URL}{made['id']}/inspect/"}
    assert level("A-1", "NYC").returned == 3
