"""The OpenAPI schema at /api/schema/ says what the API really takes and answers."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ims.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(world, user_with_role):
    client = APIClient()
    token = Token.objects.create(user=user_with_role(Role.SUPERADMIN, "schema-root"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", {"format": "json"}).json()


def test_the_schema_is_drawn_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yaml")


def test_every_order_action_is_in_the_schema_with_its_body_and_answer(schema):
    for action, body in [
        ("dispatch", "DispatchInRequest"),
        ("cancel", "ReasonInRequest"),
        ("backorder", "BackorderInRequest"),
    ]:
        post = schema["paths"][f"/api/orders/{{id}}/{action}/"]["post"]
        sent = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        answer = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert sent.endswith(f"/{body}") and answer.endswith("/OrderOut")
        assert "409" in post["responses"]


def test_an_orders_dates_may_be_null(schema):
    order = schema["components"]["schemas"]["OrderOut"]["properties"]
    for name in ("confirmed_at", "cancelled_at", "completed_at", "delivered_at"):
        assert order[name]["nullable"] is True


def test_acknowledging_answers_the_exception_not_the_request(schema):
    one = schema["paths"]["/api/exceptions/{id}/acknowledge/"]["post"]["responses"]["200"]
    many = schema["paths"]["/api/exceptions/acknowledge/"]["post"]["responses"]["200"]
    assert one["content"]["application/json"]["schema"]["$ref"].endswith("/OpsException")
    assert many["content"]["application/json"]["schema"]["$ref"].endswith("/Acknowledged")


def test_a_product_is_created_from_the_fields_the_api_reads(schema):
    post = schema["paths"]["/api/products/"]["post"]
    sent = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][sent.rsplit("/", 1)[1]]["properties"]
    assert {"sku_id", "price", "mrp", "cost"} <= set(fields) and "offer_price" not in fields
    product = schema["components"]["schemas"]["Product"]["properties"]
    assert product["style"]["nullable"] and product["offer_price"]["nullable"]


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "message", "extra"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)


def test_an_address_the_api_does_not_have_is_a_json_404(api):
    response = api.get("/api/orders/not-a-number/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/exceptions/acknowledge/", {"ids": [1], "reason": 0}, "reason"),
        ("/api/exceptions/acknowledge/", {"ids": ["1"], "reason": "seen"}, "ids"),
        ("/api/channels/shop/pause/", {"reason": "   "}, "reason"),
        ("/api/channels/shop/resume/", {"reason": ["a list"]}, "reason"),
    ],
)
def test_a_body_of_the_wrong_type_is_refused_not_coerced(api, url, body, field):
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


def test_an_amount_is_a_string_never_a_float(api):
    product = {
        "sku_id": "C-9",
        "name": "Cap",
        "barcode": "96385074",
        "category": "apparel",
        "cost": 5.1,
        "mrp": "20.00",
        "price": "15.00",
        "currency": "USD",
    }
    response = api.post("/api/products/", product, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {
        "cost": ['Give an amount as a string such as "19.99".']
    }
    assert api.post("/api/products/", {**product, "cost": "5.10"}, format="json").status_code == 201
