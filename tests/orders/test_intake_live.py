"""Each channel's order reaches IMS the way its vendor delivers it, over real HTTP: IMS runs
as a live server on 127.0.0.1 and a stand-in for the vendor sends its signed delivery there
(Shopify, WooCommerce, BigCommerce and Square webhooks, their thin payloads read back from a
fake of the vendor's API, also on 127.0.0.1; Lightspeed's form-encoded sale). The order is
received and its stock reserved; the same delivery sent again changes nothing, and a forged
one is refused with 401. Amazon's queue and Flipkart's shipments are pulled by IMS from fakes
on 127.0.0.1: tests/orders/test_amazon_queue.py, test_poll_flipkart.py."""

from __future__ import annotations

import httpx
import pytest

from channels.models import Channel
from orders.models import ChannelOrder, WebhookDelivery
from tests.orders import payloads as p
from tests.orders.conftest import level
from tests.orders.test_lightspeed_webhooks import lightspeed  # noqa: F401 (fixture)

# serialized_rollback: the role groups the migrations made are back for the tests after these.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def shopify(api):
    body = p.dumps(p.shopify_order(4701, [("A-1", 2)]))
    return "shop", body, p.shopify_headers(body, "orders/create"), "X-Shopify-Hmac-Sha256"


def woocommerce(api):
    body = p.dumps(p.woo_sample_order(4702, [("A-1", 2)]))
    return "woo", body, p.woo_headers(body), "X-WC-Webhook-Signature"


def bigcommerce(api):
    api.routes["/v2/orders/4703"] = p.bigcommerce_order(4703)
    api.routes["/v2/orders/4703/products"] = p.bigcommerce_products(4703, [("A-1", 2)])
    body = p.dumps(p.bigcommerce_event(4703))
    return "bc", body, p.bigcommerce_headers(body), "webhook-signature"


def square(api):
    from catalog.models import Product, ProductAlias

    ProductAlias.objects.create(product=Product.objects.get(sku="A-1"), scope="sq", value="VAR-A1")
    api.routes["/v2/orders/sq-4704"] = p.square_order("sq-4704", [("VAR-A1", 2)])
    body = p.dumps(p.square_event("order.created", "sq-4704"))
    return "sq", body, p.square_headers(body, api.square_url), "x-square-hmacsha256-signature"


VENDORS = [shopify, woocommerce, bigcommerce, square]


@pytest.fixture
def live(channels, live_server, fake_api, monkeypatch):
    Channel.objects.filter(code__in=["bc", "sq"]).update(base_url=fake_api.url)
    fake_api.square_url = f"{live_server.url}/webhooks/sq/"
    monkeypatch.setenv("IMS_CHANNEL_SQ_WEBHOOK_URL", fake_api.square_url)
    return live_server, fake_api


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.__name__)
def test_an_order_placed_on_the_channel_reaches_ims_over_http_and_reserves_stock(live, vendor):
    server, api = live
    code, body, headers, signature = vendor(api)
    location = "NYC" if code == "sq" else "WH"
    url = f"{server.url}/webhooks/{code}/"
    with httpx.Client(timeout=10) as vendor_http:
        first = vendor_http.post(url, content=body, headers=headers)
        again = vendor_http.post(url, content=body, headers=headers)
        forged = vendor_http.post(url, content=body, headers={**headers, signature: "Zm9yZ2Vk"})

    assert first.status_code == 200 and first.json()["processed"], first.text
    assert again.json()["status"] == "duplicate"
    assert forged.status_code == 401
    order = ChannelOrder.objects.get(channel__code=code)
    assert order.status == "reserved" and order.lines.get().reserved == 2
    assert level("A-1", location).reserved == 2
    assert WebhookDelivery.objects.filter(channel__code=code).count() == 1


def test_a_sale_on_a_lightspeed_register_reaches_ims_as_a_form_over_http(lightspeed, live_server):  # noqa: F811
    """Lightspeed posts `sale.update` form-encoded, the sale as JSON in `payload`, and wants a
    2xx within 5 seconds: the store's units leave at once, once."""
    from orders.models import PosSale
    from tests.orders.test_lightspeed_webhooks import PRODUCT_A1, form, sale_10, signed

    body = form(sale_10("5c1a0e3a-0777", [(PRODUCT_A1, 2)]))
    url = f"{live_server.url}/webhooks/ls/"
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    with httpx.Client(timeout=5) as lightspeed_http:
        first = lightspeed_http.post(url, content=body, headers=headers)
        again = lightspeed_http.post(url, content=body, headers=headers)
        forged = lightspeed_http.post(
            url,
            content=body,
            headers={**headers, "X-Signature": "signature=00,algorithm=HMAC-SHA256"},
        )

    assert first.status_code == 200 and first.json()["processed"], first.text
    assert first.elapsed.total_seconds() < 5
    assert again.json()["status"] == "duplicate" and forged.status_code == 401
    assert PosSale.objects.get(external_id="5c1a0e3a-0777").status == "completed"
    assert level("A-1", "NYC").available == 1
