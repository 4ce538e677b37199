"""The REST API: token and session auth, the same role rules as the pages, errors as {code, message, extra}."""

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Product
from exceptions.models import OpsException
from ims.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user_with_role):
    """api(Role.X) → an APIClient authenticated with that role's token, as an integrator would."""

    clients = {}

    def make(role):
        if role not in clients:
            clients[role] = APIClient()
            token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
            clients[role].credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return clients[role]

    return make


def test_without_credentials_the_api_answers_401_in_the_error_shape(world):
    response = APIClient().get("/api/products/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "extra": {},
    }


def test_products_are_listed_and_searched_with_a_token(world, api):
    client = api(Role.STORE_STAFF)
    body = client.get("/api/products/?q=0036000291452").json()
    assert [p["sku_id"] for p in body["results"]] == ["B-2"]
    assert body["results"][0]["offer_price"] == "8.00"
    assert client.get("/api/products/A-1/").json()["barcode"] == "4006381333931"


def test_a_catalog_manager_creates_a_product_others_are_refused(world, api):
    data = {
        "sku_id": "C-9",
        "name": "Cap",
        "barcode": "96385074",
        "category": "apparel",
        "cost": "5.00",
        "mrp": "20.00",
        "price": "15.00",
        "currency": "USD",
    }
    refused = api(Role.OPS).post("/api/products/", data, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert not Product.objects.filter(sku="C-9").exists()
    created = api(Role.CATALOG_MANAGER).post("/api/products/", data, format="json")
    assert created.status_code == 201 and created.json()["gtin"] == "00000096385074"


def test_a_bad_product_gets_a_400_naming_the_field(world, api):
    client = api(Role.CATALOG_MANAGER)
    base = {
        "sku_id": "C-9",
        "name": "Cap",
        "barcode": "96385075",
        "category": "apparel",
        "cost": "5.00",
        "mrp": "20.00",
        "price": "15.00",
        "currency": "USD",
    }
    response = client.post("/api/products/", base, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["barcode"] == [
        "'96385075' has a wrong check digit (expected 4)"
    ]
    response = client.post(
        "/api/products/", base | {"barcode": "96385074", "price": "9.99"}, format="json"
    )
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["extra"]["rule"]) == (
        "price_rule",
        "max_discount",
    )
    response = client.post("/api/products/", {"sku_id": "C-9"}, format="json")
    assert set(response.json()["extra"]["fields"]) >= {
        "name",
        "barcode",
        "category",
        "cost",
        "mrp",
        "price",
    }


def test_exceptions_filter_page_and_acknowledge_through_the_api(world, api):
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    now = dt.datetime.now(dt.UTC)
    OpsException.objects.bulk_create(
        OpsException(
            sku_id=f"S-{i:03d}",
            channel=shop,
            discrepancy="Stock_Mismatch",
            expected="1",
            actual="2",
            source="reconcile",
            first_seen=now,
            last_seen=now,
            exposure=i,
            currency="USD",
        )
        for i in range(60)
    )
    client = api(Role.OPS)
    page = client.get("/api/exceptions/?channel=shop&discrepancy=Stock_Mismatch").json()
    assert len(page["results"]) == 50 and page["previous"] is None
    assert page["results"][0]["exposure"] == "59.00"
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 10 and rest["next"] is None
    one = page["results"][0]["id"]
    assert client.post(f"/api/exceptions/{one}/acknowledge/", {}, format="json").json()["extra"][
        "fields"
    ] == {"reason": ["This field is required."]}
    acked = client.post(
        f"/api/exceptions/{one}/acknowledge/", {"reason": "count pending"}, format="json"
    ).json()
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "api-ops")
    many = client.post(
        "/api/exceptions/acknowledge/",
        {"ids": [r["id"] for r in rest["results"]], "reason": "batch"},
        format="json",
    )
    assert many.json() == {"acknowledged": 10}
    refused = api(Role.FINANCE).post(
        f"/api/exceptions/{one}/acknowledge/", {"reason": "x"}, format="json"
    )
    assert refused.status_code == 403


def test_only_an_admin_resumes_a_channel_through_the_api(world, api):
    assert (
        api(Role.ADMIN)
        .post("/api/channels/shop/pause/", {"reason": "maintenance"}, format="json")
        .status_code
        == 200
    )
    assert api(Role.OPS).post("/api/channels/shop/resume/", {}, format="json").status_code == 403
    response = api(Role.ADMIN).post("/api/channels/shop/resume/", {}, format="json")
    assert response.json()["status"] == "active"


def test_the_openapi_schema_is_published_and_its_docs_are_served_locally(
    world, client, user_with_role
):
    client.force_login(user_with_role(Role.OPS))
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/exceptions/{id}/acknowledge/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()
