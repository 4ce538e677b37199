"""Catalog pages: catalog managers create and edit products with validation; others are refused."""

import pytest

from catalog.models import Price, Product
from ims.models import AuditEvent
from ims.roles import Role

pytestmark = pytest.mark.django_db

NEW = {
    "sku": "C-9",
    "name": "Cap",
    "barcode": "96385074",
    "category": "",
    "uom": "EA",
    "cost": "5.00",
    "mrp": "20.00",
    "price": "15.00",
    "currency": "USD",
    "status": "active",
    "style": "CAP-STYLE",
    "attributes": "size=M;colour=red",
}


@pytest.fixture
def form(world):
    from catalog.models import Category

    return NEW | {"category": Category.objects.get(name="apparel").pk}


def test_a_catalog_manager_creates_a_product_and_it_is_recorded(form, client, user_with_role):
    client.force_login(user_with_role(Role.CATALOG_MANAGER, "carla"))
    response = client.post("/products/new/", form)
    assert response.status_code == 302 and response["Location"] == "/products/C-9/"
    product = Product.objects.get(sku="C-9")
    assert (product.gtin, product.price, product.style.code, product.attributes) == (
        "00000096385074",
        15,
        "CAP-STYLE",
        {"size": "M", "colour": "red"},
    )
    event = AuditEvent.objects.get(action="product_create", actor_name="carla")
    assert (event.actor_name, event.object_id, event.after["price"]) == (
        "carla",
        str(product.pk),
        "15.0000",
    )
    page = client.get("/products/C-9/").content.decode()
    assert "15.00 USD" in page and "Not listed on any channel." in page


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"barcode": "96385075"}, "barcode", "wrong check digit (expected 4)"),
        ({"price": "25.00"}, "price", "above MRP (above_mrp)"),
        ({"price": "5.10"}, "price", "breaks min_margin"),
        ({"price": "9.99"}, "price", "breaks max_discount"),
        ({"cost": "abc"}, "cost", "Enter a number."),
        ({"sku": "A-1"}, "sku", "already exists"),
        ({"barcode": "4006381333931"}, "barcode", "GTIN already belongs to SKU A-1"),
    ],
)
def test_a_bad_product_is_refused_with_the_field_and_reason(
    form, client, user_with_role, change, field, message
):
    client.force_login(user_with_role(Role.CATALOG_MANAGER))
    before = Product.objects.count(), Price.objects.count()
    html = client.post("/products/new/", form | change).content.decode()
    assert f'data-error-for="{field}"' in html and message in html
    assert (Product.objects.count(), Price.objects.count()) == before


def test_an_ops_user_may_not_create_a_product_and_the_attempt_is_logged(
    form, client, user_with_role
):
    client.force_login(user_with_role(Role.OPS, "olivia"))
    assert client.get("/products/new/").status_code == 403
    assert client.post("/products/new/", form).status_code == 403
    assert not Product.objects.filter(sku="C-9").exists()
    assert (
        AuditEvent.objects.filter(
            action="access_denied", actor_name="olivia", object_id="products:new"
        ).count()
        == 2
    )


def test_editing_changes_master_data_but_not_prices(world, client, user_with_role):
    from catalog.models import Category

    client.force_login(user_with_role(Role.CATALOG_MANAGER, "carla"))
    data = {
        "name": "Shirt (organic)",
        "barcode": "4006381333931",
        "category": Category.objects.get(name="apparel").pk,
        "uom": "EA",
        "cost": "11.00",
        "status": "active",
        "style": "",
        "attributes": "",
    }
    assert client.post("/products/A-1/edit/", data).status_code == 302
    product = Product.objects.get(sku="A-1")
    assert (product.name, product.cost, product.price, product.mrp) == (
        "Shirt (organic)",
        11,
        30,
        40,
    )
    event = AuditEvent.objects.get(action="product_update", actor_name="carla")
    assert event.before == {"name": "Shirt", "cost": "10.0000"} and event.after == {
        "name": "Shirt (organic)",
        "cost": "11.00",
    }


def test_a_luxury_products_first_price_waits_for_a_superadmin(world, client, user_with_role):
    from catalog.models import Category

    client.force_login(user_with_role(Role.CATALOG_MANAGER))
    data = NEW | {
        "sku": "W-9",
        "category": Category.objects.get(name="watches").pk,
        "mrp": "500.00",
        "price": "480.00",
        "cost": "100.00",
        "barcode": "96385074",
    }
    client.post("/products/new/", data)
    product = Product.objects.get(sku="W-9")
    assert product.price is None
    price = Price.objects.get(product=product)
    assert price.status == "pending_approval"
    from ims.models import OpsTask

    assert OpsTask.objects.get(ref=f"price:{price.pk}").role == "Superadmin"


def test_the_product_list_searches_by_sku_name_and_barcode(world, client, user_with_role):
    client.force_login(user_with_role(Role.STORE_STAFF))
    assert "A-1" in client.get("/products/?q=shirt").content.decode()
    html = client.get("/products/?q=0036000291452").content.decode()
    assert "B-2" in html and "A-1</a>" not in html
    assert "No products found" in client.get("/products/?q=zzz").content.decode()


def test_the_product_page_shows_the_stock_movements_and_listings_the_apps_above_lend_it(
    world, ingest, client, user_with_role
):
    """Catalog imports neither inventory nor channels: their reads come registered (apps.py)."""
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,7\n")
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,3,30.00,USD\n")
    client.force_login(user_with_role(Role.OPS))
    html = client.get("/products/A-1/").content.decode()
    assert '<th class="num">available</th><th class="num">reserved</th>' in html
    assert (  # stock by location
        '<tr data-location="WH"><td data-label="Location">WH</td>'
        '<td class="num" data-label="available" data-state="available">7</td>'
    ) in html
    assert (
        "No stock recorded" not in html and '<td data-label="Channel">shop</td>' in html
    )  # the listing
    assert "ingest:" in html  # the movement the inventory ingest made
    # … and inventory's action: Ops receive deliveries (the stock page, back here after).
    assert '<a class="button" href="/stock/receive/?sku=A-1">Receive stock</a>' in html
