"""The order API (find, dispatch, cancel, backorder decisions) with the role rules, and the
orders and movements exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import Channel
from ims.roles import Role
from orders.models import ChannelOrder
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user_with_role):
    def as_role(role: Role) -> APIClient:
        client = APIClient()
        token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return as_role


def order(post, order_id, lines):
    body = p.dumps(p.shopify_order(order_id, lines))
    assert post("shop", body, p.shopify_headers(body, "orders/create")).status_code == 200
    return ChannelOrder.objects.get(external_id=str(order_id))


def test_orders_are_found_by_channel_and_the_providers_own_id(channels, post, api):
    placed = order(post, 820, [("A-1", 1)])
    order(post, 821, [("B-2", 1)])
    response = api(Role.FINANCE).get("/api/orders/", {"channel": "shop", "external_id": "820"})
    assert response.status_code == 200
    (found,) = response.json()["results"]
    assert (found["id"], found["external_id"], found["status"], found["location"]) == (
        placed.pk,
        "820",
        "reserved",
        "WH",
    )
    assert found["lines"][0]["sku_id"] == "A-1" and found["lines"][0]["reserved"] == 1
    assert APIClient().get("/api/orders/").status_code in (401, 403)


def test_dispatch_and_cancel_through_the_api(channels, post, api):
    placed = order(post, 822, [("A-1", 3), ("B-2", 2)])
    ops = api(Role.OPS)
    response = ops.post(
        f"/api/orders/{placed.pk}/dispatch/",
        {"lines": [{"sku_id": "A-1", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "partially_shipped"
    response = ops.post(f"/api/orders/{placed.pk}/cancel/", {"reason": "customer"}, format="json")
    assert response.status_code == 200
    lines = {ln["sku_id"]: ln for ln in response.json()["lines"]}
    assert (lines["A-1"]["shipped"], lines["A-1"]["cancelled"], lines["A-1"]["status"]) == (
        1,
        2,
        "shipped",
    )
    assert lines["B-2"]["status"] == "cancelled"
    assert (level("A-1", "WH").available, level("A-1", "WH").reserved) == (4, 0)
    again = ops.post(f"/api/orders/{placed.pk}/cancel/", format="json")
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_cancel"


def test_a_bad_dispatch_names_the_field_and_changes_nothing(channels, post, api):
    placed = order(post, 823, [("A-1", 2)])
    ops = api(Role.OPS)
    response = ops.post(
        f"/api/orders/{placed.pk}/dispatch/",
        {"lines": [{"sku_id": "B-2", "quantity": 1}, {"sku_id": "A-1", "quantity": 5}]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_lines"
    assert set(body["extra"]["fields"]) == {"lines[0]", "lines[1].quantity"}
    assert level("A-1", "WH").reserved == 2
    missing = ops.post(f"/api/orders/{placed.pk}/dispatch/", {"lines": []}, format="json")
    assert missing.status_code == 400 and "lines" in missing.json()["extra"]["fields"]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OPS, True),
        (Role.STORE_STAFF, True),
        (Role.ADMIN, True),
        (Role.SUPERADMIN, True),
        (Role.FINANCE, False),
        (Role.CATALOG_MANAGER, False),
        (Role.PRICING, False),
    ],
)
def test_who_may_dispatch_and_cancel(channels, post, api, role, allowed):
    placed = order(post, 824, [("A-1", 2)])
    client = api(role)
    dispatch = client.post(
        f"/api/orders/{placed.pk}/dispatch/",
        {"lines": [{"sku_id": "A-1", "quantity": 1}]},
        format="json",
    )
    cancel = client.post(f"/api/orders/{placed.pk}/cancel/", format="json")
    assert (dispatch.status_code, cancel.status_code) == ((200, 200) if allowed else (403, 403))
    assert level("A-1", "WH").reserved == (0 if allowed else 2)


def test_only_an_admin_decides_a_backorder_and_fill_reserves_when_stock_arrives(
    channels, post, api, ingest
):
    placed = order(post, 825, [("A-1", 6)])
    assert placed.status == "backordered"
    assert (
        api(Role.OPS)
        .post(f"/api/orders/{placed.pk}/backorder/", {"decision": "fill"}, format="json")
        .status_code
        == 403
    )
    response = api(Role.ADMIN).post(
        f"/api/orders/{placed.pk}/backorder/", {"decision": "fill"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "backordered"
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,7\n")  # stock arrives
    from orders.tasks import backorders_fill_task

    assert backorders_fill_task() == 1
    placed.refresh_from_db()
    assert placed.status == "reserved" and level("A-1", "WH").reserved == 6
    # Resuming the paused channel stays an admin's act.
    assert Channel.objects.get(code="shop").status == "paused"


def test_export_orders_has_one_row_per_line(channels, post, capsys):
    first = order(post, 826, [("A-1", 2), ("B-2", 1)])
    order(post, 827, [("A-1", 9)])
    from orders.services.fulfilment import order_dispatch

    order_dispatch(order=first, items=[("A-1", 1)])
    call_command("export", "orders")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        [
            "channel",
            "external_id",
            "status",
            "location",
            "sku_id",
            "quantity",
            "reserved",
            "shipped",
        ],
        ["shop", "826", "partially_shipped", "WH", "A-1", "2", "1", "1"],
        ["shop", "826", "reserved", "WH", "B-2", "1", "1", "0"],
        ["shop", "827", "backordered", "WH", "A-1", "9", "0", "0"],
    ]


def test_export_movements_lists_the_ledger(channels, post, capsys):
    order(post, 828, [("A-1", 2)])
    call_command("export", "movements")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    reserved = [r for r in rows if r["reason"] == "order"]
    assert [
        (r["sku_id"], r["location"], r["from_state"], r["to_state"], r["quantity"])
        for r in reserved
    ] == [("A-1", "WH", "available", "reserved", "2")]
    assert {r["reason"] for r in rows} == {"import", "order"}
