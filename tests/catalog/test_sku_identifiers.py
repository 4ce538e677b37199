"""What a SKU may be: letters, digits, '.', '_' and '-' (one rule for the API, the pages and files),
and every page that links a product works whatever SKU a row already holds."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Category, Product
from ims.errors import FileRejected
from ims.roles import Role

pytestmark = pytest.mark.django_db

RULE = "may hold only letters A-Z a-z, digits, '.', '_' and '-', starting with a letter or digit"

PRODUCT = {
    "name": "Cap",
    "barcode": "96385074",
    "cost": "5.00",
    "mrp": "20.00",
    "price": "15.00",
    "currency": "USD",
}


@pytest.fixture
def manager(user_with_role):
    return user_with_role(Role.CATALOG_MANAGER, "carla")


@pytest.mark.parametrize("sku", ["A/1", "A 1", "=HYPERLINK(1)", "-A1", "Ä-1", "a" * 65])
def test_the_api_refuses_a_sku_outside_the_rule_with_a_400_on_the_field(world, manager, sku):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")
    response = client.post(
        "/api/products/", PRODUCT | {"sku_id": sku, "category": "apparel"}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert "sku_id" in body["extra"]["fields"]
    assert not Product.objects.filter(sku=sku).exists()


def test_the_api_takes_a_sku_with_dots_and_underscores(world, manager):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")
    response = client.post(
        "/api/products/", PRODUCT | {"sku_id": "cap.blue_M-2", "category": "apparel"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert client.get("/api/products/cap.blue_M-2/").json()["sku_id"] == "cap.blue_M-2"


def test_the_product_form_refuses_a_sku_with_a_slash(world, client, manager):
    client.force_login(manager)
    category = Category.objects.get(name="apparel").pk
    html = client.post(
        "/products/new/", PRODUCT | {"sku": "A/1", "category": category, "status": "active"}
    ).content.decode()
    assert 'data-error-for="sku"' in html and "may hold only letters" in html
    assert not Product.objects.filter(sku="A/1").exists()


def test_a_catalog_file_with_a_slash_in_a_sku_is_refused_with_file_line_column(ingest, world):
    with pytest.raises(FileRejected) as refused:
        ingest(
            "catalog",
            """
            sku_id,name,barcode,category,uom,cost,mrp,price,currency
            C-9,Cap,96385074,apparel,EA,5.00,20.00,15.00,USD
            C/10,Hat,12345670,apparel,EA,5.00,20.00,15.00,USD
            """,
        )
    [error] = refused.value.errors
    assert str(error).endswith(f"catalog.csv:3: sku_id: 'C/10' {RULE}")
    assert not Product.objects.filter(sku="C-9").exists()


@pytest.mark.parametrize("sku", ["A/1", "odd sku", "50%", "x?y#z"])
def test_a_product_stored_with_an_odd_sku_is_listed_and_opens(world, client, manager, sku):
    """Rows written before the rule (or by hand in the admin) still render and link."""
    Product.objects.create(
        sku=sku,
        name="Odd",
        category=Category.objects.get(name="apparel"),
        cost=1,
        mrp=2,
        currency="USD",
    )
    client.force_login(manager)
    listing = client.get("/products/")
    assert listing.status_code == 200
    html = listing.content.decode()
    href = html.split(">Odd<")[0].rsplit('href="', 1)[1].split('"')[0]
    detail = client.get(href)
    assert detail.status_code == 200 and "Odd" in detail.content.decode()
    assert client.get(href + "edit/").status_code == 200


def test_allowed_skus_keep_their_plain_links(world, client, manager):
    client.force_login(manager)
    html = client.get("/products/").content.decode()
    assert 'href="/products/A-1/"' in html
