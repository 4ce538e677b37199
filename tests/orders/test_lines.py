"""Order lines IMS cannot match: a line that is no stocked product (a tip, gift wrap, a gift
card) is recorded on the order and never reserved; a line naming a SKU IMS does not know
holds the order and raises Unknown_SKU for ops, and never pauses the channel. Auto-pause stays
for a product IMS manages and could not reserve."""

from __future__ import annotations

import pytest

from catalog.models import Product, ProductAlias
from channels.models import Channel
from exceptions.models import OpsException
from ims.models import AuditEvent, OpsTask
from ims.roles import Role
from orders.models import ChannelOrder, WebhookDelivery
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

SQUARE_URL = "https://ims.example.com/webhooks/sq/"
# Square names catalog variations, mapped to products by an alias scoped to the channel.
SQUARE_A1 = "W62UWFY35CWMYGVWK6TWJDNI"
KINDS = ["shop", "woo", "bc", "sq", "market", "fk", "store"]


@pytest.fixture
def queued(monkeypatch):
    """The background tasks enqueued (a pause queues the zero-stock push of its listings)."""
    tasks: list[str] = []
    monkeypatch.setattr(
        "channels.services.enqueue", lambda func, *args, **kwargs: tasks.append(func)
    )
    return tasks


@pytest.fixture
def deliver(channels, post, fake_api, monkeypatch):
    """deliver(code, order id, [(sku, quantity)]) → the response, for each channel kind; for
    Square the known SKU A-1 is named by its catalog variation."""
    Channel.objects.filter(code__in=["bc", "sq"]).update(base_url=fake_api.url)
    monkeypatch.setenv("IMS_CHANNEL_SQ_WEBHOOK_URL", SQUARE_URL)
    ProductAlias.objects.create(product=Product.objects.get(sku="A-1"), scope="sq", value=SQUARE_A1)

    def send(code: str, order_id: int, lines):
        if code == "shop":
            body = p.dumps(p.shopify_order(order_id, lines))
            headers = p.shopify_headers(body, "orders/create")
        elif code == "woo":
            body = p.dumps(p.woo_order(order_id, lines))
            headers = p.woo_headers(body)
        elif code == "bc":
            fake_api.routes[f"/v2/orders/{order_id}"] = p.bigcommerce_order(order_id)
            fake_api.routes[f"/v2/orders/{order_id}/products"] = p.bigcommerce_products(
                order_id, lines
            )
            body = p.dumps(p.bigcommerce_event(order_id))
            headers = p.bigcommerce_headers(body)
        elif code == "sq":
            named = [(SQUARE_A1 if sku == "A-1" else sku, q) for sku, q in lines]
            fake_api.routes[f"/v2/orders/SQ{order_id}"] = p.square_order(f"SQ{order_id}", named)
            body = p.dumps(p.square_event("order.created", f"SQ{order_id}"))
            headers = p.square_headers(body, SQUARE_URL)
        elif code == "market":
            body = p.dumps(p.amazon_notification(str(order_id), lines))
            headers = p.ims_headers(body)
        else:  # fk, store: IMS's own form
            body = p.dumps(p.ims_order_event(str(order_id), lines))
            headers = p.ims_headers(body)
        response = post(code, body, headers)
        assert response.status_code == 200, response.content
        return response

    return send


def the_order(code: str) -> ChannelOrder:
    return ChannelOrder.objects.get(channel__code=code)


@pytest.mark.parametrize("code", KINDS)
def test_an_unknown_sku_holds_the_order_for_ops_and_never_pauses_the_channel(
    code, deliver, queued, client, user_with_role
):
    response = deliver(code, 41, [("A-1", 1), ("NOPE-9", 2)])
    assert response.json()["processed"] is True
    order = the_order(code)
    # The known line is reserved as usual; the unknown one is held, waiting for ops.
    known, unknown = order.lines.order_by("position")
    assert (known.product.sku, known.reserved, known.backordered) == ("A-1", 1, 0)
    assert (unknown.product, unknown.sku, unknown.reserved, unknown.backordered) == (
        None,
        "NOPE-9",
        0,
        2,
    )
    assert order.status == "backordered"
    assert level("A-1", order.location.code).reserved == 1
    # An exception for ops names the SKU, the channel and the order holding it.
    raised = OpsException.objects.get()
    assert (raised.discrepancy, raised.sku_id, raised.channel.code, raised.status) == (
        "Unknown_SKU",
        "NOPE-9",
        code,
        "open",
    )
    assert (raised.expected, raised.actual) == ("null", f"held in orders {order.external_id} × 2")
    assert OpsTask.objects.get(kind="backorder").ref == f"order:{order.pk}"
    # The channel sells on: not paused, no zero-stock push queued, no Oversell_Risk.
    channel = Channel.objects.get(code=code)
    assert (channel.status, channel.pause_reason) == ("active", "")
    assert "channels.tasks.sync_paused_task" not in queued
    assert not AuditEvent.objects.filter(action="channel_pause").exists()
    # Ops see it on the triage page's own tab and on the order.
    client.force_login(user_with_role(Role.OPS))
    page = client.get("/exceptions/?discrepancy=Unknown_SKU")
    assert page.status_code == 200
    assert 'data-tab="Unknown_SKU"' in page.text and 'data-sku="NOPE-9"' in page.text
    assert "held: SKU unknown to IMS" in client.get(f"/sla/orders/{order.pk}/").text
    client.force_login(user_with_role(Role.ADMIN))
    shown = client.get(f"/api/orders/{order.pk}/").json()
    assert [(ln["sku_id"], ln["reserved"], ln["backordered"]) for ln in shown["lines"]] == [
        ("A-1", 1, 0),
        ("NOPE-9", 0, 2),
    ]


def test_a_second_order_of_the_same_unknown_sku_refreshes_its_one_exception(deliver, queued):
    deliver("shop", 42, [("NOPE-9", 1)])
    deliver("shop", 43, [("NOPE-9", 3)])
    raised = OpsException.objects.get()
    assert raised.actual == "held in orders 42 × 1, 43 × 3"
    assert Channel.objects.get(code="shop").status == "active"


def shopify_extra_lines(order: dict) -> dict:
    """A Shopify tip (`"sku": ""`, no variant) and gift wrap (`"sku": null`, needs no
    shipping) beside the order's product lines."""
    order["line_items"] += [
        {
            "id": 9901,
            "variant_id": None,
            "product_id": None,
            "title": "Tip",
            "name": "Tip",
            "sku": "",
            "quantity": 1,
            "price": "5.00",
            "gift_card": False,
        },
        {
            "id": 9902,
            "variant_id": 44001,
            "product_id": 8801,
            "title": "Gift wrap",
            "name": "Gift wrap",
            "sku": None,
            "quantity": 1,
            "price": "3.00",
            "requires_shipping": False,
            "gift_card": False,
        },
    ]
    return order


def test_a_shopify_tip_and_gift_wrap_are_recorded_not_reserved_and_the_rest_is(
    channels, post, queued, client, user_with_role
):
    body = p.dumps(shopify_extra_lines(p.shopify_order(44, [("A-1", 2)])))
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 200 and response.json()["processed"] is True
    order = the_order("shop")
    assert order.status == "reserved"
    assert [(ln.sku, ln.reserved) for ln in order.lines.all()] == [("A-1", 2)]
    assert (level("A-1", "WH").available, level("A-1", "WH").reserved) == (3, 2)
    # Kept on the order as the channel sent them, with why they are not stock.
    assert order.not_stocked == [
        {
            "external_id": "9901",
            "name": "Tip",
            "sku": "",
            "quantity": 1,
            "unit_price": "5.00",
            "why": "no SKU and no variant",
        },
        {
            "external_id": "9902",
            "name": "Gift wrap",
            "sku": "44001",
            "quantity": 1,
            "unit_price": "3.00",
            "why": "needs no shipping",
        },
    ]
    received = AuditEvent.objects.get(action="order_receive")
    assert received.after["not_stocked"] == order.not_stocked
    client.force_login(user_with_role(Role.ADMIN))
    page = client.get(f"/sla/orders/{order.pk}/").text
    assert "not stocked: no SKU and no variant" in page and "not stocked: needs no shipping" in page
    shown = client.get(f"/api/orders/{order.pk}/").json()
    assert [(ln["name"], ln["quantity"], ln["why"]) for ln in shown["not_stocked"]] == [
        ("Tip", 1, "no SKU and no variant"),
        ("Gift wrap", 1, "needs no shipping"),
    ]
    assert not OpsException.objects.exists()
    assert Channel.objects.get(code="shop").status == "active"
    assert "channels.tasks.sync_paused_task" not in queued


def test_an_order_of_only_a_gift_card_reserves_nothing_and_says_so(channels, post, queued):
    order = p.shopify_order(45, [])
    order["line_items"] = [
        {"id": 9903, "variant_id": 5501, "title": "Gift card", "name": "Gift card $50",
         "sku": "GC-50", "quantity": 1, "price": "50.00", "gift_card": True},
    ]  # fmt: skip
    body = p.dumps(order)
    response = post("shop", body, p.shopify_headers(body, "orders/create"))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at and delivery.error == ""
    assert delivery.outcome == (
        "ignored: order 45 has no stocked line (Gift card $50 × 1 (gift card))"
    )
    assert not ChannelOrder.objects.exists() and not OpsException.objects.exists()
    assert Channel.objects.get(code="shop").status == "active"


def test_a_refund_of_a_tip_changes_no_stock_and_fails_nothing(channels, post, queued):
    order = shopify_extra_lines(p.shopify_order(46, [("A-1", 1)]))
    body = p.dumps(order)
    post("shop", body, p.shopify_headers(body, "orders/create"))
    refund = p.shopify_refund(7001, order, [(1, 1, "cancel")])  # the tip line
    body = p.dumps(refund)
    response = post("shop", body, p.shopify_headers(body, "refunds/create"))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(topic="refunds/create")
    assert (delivery.error, delivery.outcome) == ("", "ignored: refund 7001 returns no units")
    assert the_order("shop").lines.get().reserved == 1


@pytest.mark.parametrize(
    "named", [{"line_id": "2", "sku": "GIFT-BOX"}, {"sku": "GIFT-BOX"}], ids=["by line", "by SKU"]
)
def test_a_cancellation_naming_only_a_line_not_stocked_changes_nothing(channels, post, named):
    """Whatever the channel: units of a line kept as not stocked are never released."""
    placed = p.ims_order_event("OD9", [("A-1", 1)])
    placed["order"]["lines"].append(
        {"line_id": "2", "sku": "GIFT-BOX", "quantity": 1, "stocked": False}
    )
    body = p.dumps(placed)
    post("fk", body, p.ims_headers(body))
    assert the_order("fk").not_stocked[0]["why"] == "sent as not stocked"
    cancel = p.ims_order_event("OD9", [], kind="order.cancelled")
    cancel["order"]["lines"] = [{**named, "quantity": 1}]
    body = p.dumps(cancel)
    assert post("fk", body, p.ims_headers(body)).status_code == 200
    delivery = WebhookDelivery.objects.get(outcome__startswith="ignored")
    assert (delivery.error, delivery.outcome) == ("", "ignored: only lines not stocked")
    order = the_order("fk")
    assert order.status == "reserved" and order.lines.get().reserved == 1


def test_a_real_shortfall_on_a_known_product_still_pauses_the_channel(deliver, queued):
    deliver("shop", 47, [("A-1", 9), ("NOPE-9", 1)])  # 5 at WH, 3 at NYC
    shop = Channel.objects.get(code="shop")
    assert shop.status == "paused" and "A-1 × 9" in shop.pause_reason
    assert "NOPE-9" not in shop.pause_reason
    assert "channels.tasks.sync_paused_task" in queued
    raised = dict(OpsException.objects.values_list("discrepancy", "sku_id"))
    assert raised == {"Oversell_Risk": "A-1", "Unknown_SKU": "NOPE-9"}


@pytest.mark.parametrize(
    ("kind", "line", "why"),
    [
        ("woo", {"sku": "", "product_id": 0, "variation_id": 0}, "no SKU and no product"),
        ("bc", {"type": "digital"}, "digital product"),
        ("bc", {"type": "giftcertificate"}, "gift certificate"),
        ("sq", {"item_type": "GIFT_CARD"}, "gift card"),
        ("sq", {"item_type": "CUSTOM_AMOUNT"}, "custom amount"),
        ("sq", {"catalog_object_id": None}, "no catalog item"),
        (
            "sq",
            {
                "quantity": "2.5",
                "quantity_unit": {
                    "measurement_unit": {"weight_unit": "IMPERIAL_POUND"},
                    "precision": 1,
                },
            },
            "sold by measure: 2.5 IMPERIAL_POUND",
        ),
        ("market", {"SellerSKU": ""}, "no SellerSKU"),
        ("fk", {"stocked": False}, "sent as not stocked"),
    ],
)
def test_each_vendor_marks_its_own_lines_that_are_no_stocked_product(kind, line, why):
    """What the vendor's own payload says about a line decides it, as each parser reads it."""
    import httpx

    from orders.providers import bigcommerce, square
    from orders.providers.base import Context
    from orders.providers.ims import Amazon, ImsEvents
    from orders.providers.woocommerce import WooCommerce

    if kind == "woo":
        order = p.woo_order(1, [("X", 1)])
        order["line_items"][0].update(line)
        event = WooCommerce().parse(
            headers={"X-WC-Webhook-Topic": "order.created"}, body=p.dumps(order), ctx=None
        )
        parsed = event.order
    elif kind == "bc":
        products = p.bigcommerce_products(1, [("X", 1)])
        products[0].update(line)
        routes = {"/v2/orders/1": p.bigcommerce_order(1), "/v2/orders/1/products": products}
        client = httpx.Client(
            base_url="http://bc.test/",
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=routes[r.url.path])),
        )
        parsed, _ = bigcommerce._fetch_order(client, "1")
    elif kind == "sq":
        order = p.square_order("S", [("VAR", 1)])["order"]
        order["line_items"][0].update(line)
        parsed = square._order_in(order)
    else:
        body = (
            p.amazon_notification("A", [("X", 1)])
            if kind == "market"
            else p.ims_order_event("F", [("X", 1)])
        )
        items = (
            body["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"]
            if kind == "market"
            else body["order"]["lines"]
        )
        items[0].update(line)
        provider = Amazon() if kind == "market" else ImsEvents()
        parsed = provider.parse(headers={}, body=p.dumps(body), ctx=Context(now=None)).order
    assert parsed.lines[0].not_stocked == why


def test_ops_add_an_alias_and_fill_the_held_line_and_its_exception_is_resolved(
    deliver, queued, client, user_with_role
):
    deliver("shop", 48, [("A-1", 1), ("A1-OLD", 2)])
    order = the_order("shop")
    client.force_login(user_with_role(Role.ADMIN))
    # The channel still sells A-1 under an old name: ops map it, then fill the held line.
    ProductAlias.objects.create(product=Product.objects.get(sku="A-1"), scope="", value="A1-OLD")
    response = client.post(
        f"/api/orders/{order.pk}/backorder/", {"decision": "fill"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.status == "reserved"
    assert [(ln.product.sku, ln.reserved, ln.backordered) for ln in order.lines.all()] == [
        ("A-1", 1, 0),
        ("A-1", 2, 0),
    ]
    assert level("A-1", "WH").reserved == 3
    raised = OpsException.objects.get()
    assert (raised.discrepancy, raised.status) == ("Unknown_SKU", "resolved")
    assert not OpsTask.objects.filter(kind="backorder", status="open").exists()


def test_ops_cancel_the_held_line_and_its_exception_is_resolved(
    deliver, queued, client, user_with_role
):
    deliver("shop", 49, [("A-1", 1), ("NOPE-9", 2)])
    order = the_order("shop")
    client.force_login(user_with_role(Role.ADMIN))
    response = client.post(
        f"/api/orders/{order.pk}/backorder/",
        {"decision": "cancel", "reason": "not a product we sell"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.status == "reserved"
    assert [(ln.sku, ln.reserved, ln.cancelled) for ln in order.lines.all()] == [
        ("A-1", 1, 0),
        ("NOPE-9", 0, 2),
    ]
    assert OpsException.objects.get().status == "resolved"
    assert Channel.objects.get(code="shop").status == "active"


def test_a_square_return_of_a_gift_card_returns_no_units():
    import httpx

    from orders.providers import square

    returned = [
        {"uid": "r1", "source_line_item_uid": "S-0", "catalog_object_id": "VAR", "quantity": "1"},
        {"uid": "r2", "source_line_item_uid": "S-1", "item_type": "GIFT_CARD", "quantity": "1"},
    ]
    order = p.square_order(
        "S", [("VAR", 1)], returns=[{"uid": "ret", "return_line_items": returned}]
    )
    client = httpx.Client(
        base_url="http://sq.test/",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=order)),
    )
    event = square._refund(client, {"id": "R1", "order_id": "S"})
    assert [(ln.line_external_id, ln.quantity) for ln in event.returned] == [("S-0", 1)]


def test_reconcile_leaves_an_unknown_sku_open_while_an_order_holds_it(deliver, queued, tmp_path):
    from reconcile.reconcile import reconcile

    deliver("shop", 50, [("NOPE-9", 1)])
    reconcile(out_dir=tmp_path)
    raised = OpsException.objects.get(discrepancy="Unknown_SKU")
    assert (raised.sku_id, raised.status) == ("NOPE-9", "open")


def test_a_pos_sale_takes_no_stock_for_a_line_sent_as_not_stocked(channels, post):
    from orders.models import PosSale

    def sale(receipt, lines):
        body = p.dumps(
            {
                "event_id": f"evt-{receipt}",
                "type": "pos.sale",
                "occurred_at": p.iso(p.utc()),
                "sale": {"id": receipt, "location": "NYC", "lines": lines},
            }
        )
        assert post("store", body, p.ims_headers(body)).status_code == 200

    gift_card = {"sku": "GC-25", "quantity": 1, "stocked": False}
    sale("R-1", [{"sku": "A-1", "quantity": 1}, gift_card])
    assert [(ln.product.sku, ln.quantity) for ln in PosSale.objects.get().lines.all()] == [
        ("A-1", 1)
    ]
    assert level("A-1", "NYC").available == 2
    sale("R-2", [gift_card])
    assert WebhookDelivery.objects.get(delivery_id="evt-R-2").outcome == (
        "ignored: sale R-2 has no stocked line"
    )
    assert PosSale.objects.count() == 1


def test_a_square_order_with_a_line_sold_by_weight_is_received_and_its_counted_line_reserved(
    deliver, post, fake_api
):
    """Square's OrderLineItem: with `quantity_unit`, `quantity` is a measurement ("2.25
    pounds of broccoli"), not a count. The order is received; that line is kept as sold by
    measure and never reserved, the counted line is (it used to refuse the whole order)."""
    order = p.square_order("SQ77", [(SQUARE_A1, 2), ("BROCCOLI", 1)])
    order["order"]["line_items"][1].update(
        quantity="2.25",
        quantity_unit={"measurement_unit": {"weight_unit": "IMPERIAL_POUND"}, "precision": 2},
    )
    p.square_validate(order, "RetrieveOrderResponse")
    fake_api.routes["/v2/orders/SQ77"] = order
    body = p.dumps(p.square_event("order.created", "SQ77"))
    answer = post("sq", body, p.square_headers(body, SQUARE_URL)).json()
    assert answer["processed"] and answer["error"] == ""
    received = the_order("sq")
    assert [(ln.sku, ln.reserved) for ln in received.lines.all()] == [(SQUARE_A1, 2)]
    assert [(n["name"], n["why"]) for n in received.not_stocked] == [
        ("BROCCOLI", "sold by measure: 2.25 IMPERIAL_POUND")
    ]
    assert level("A-1", "NYC").reserved == 2


def test_an_amazon_order_fulfilled_by_amazon_holds_none_of_our_stock(deliver, post):
    """ORDER_CHANGE with FulfillmentType AFN (Amazon's sample notification, its SellerSKU
    named A-1 here): Amazon ships from its own stock, so nothing is reserved; the same order
    fulfilled by the merchant (MFN) is."""
    import json

    from tests.fakes.specs import specs_dir

    sample = json.loads(
        (specs_dir() / "amazon-sp-api/samples/order-change-notification.json").read_text()
    )
    change = sample["Payload"]["OrderChangeNotification"]
    sample["EventTime"] = change["Summary"]["PurchaseDate"] = p.iso(p.utc())
    change["Summary"]["OrderItems"][0].update(SellerSKU="A-1", Quantity=2)
    for fulfilment, order_id in (("AFN", "111-AFN"), ("MFN", "111-MFN")):
        change["AmazonOrderId"] = order_id
        change["Summary"]["FulfillmentType"] = fulfilment
        sample["NotificationMetadata"]["NotificationId"] = order_id
        body = p.dumps(sample)
        answer = post("market", body, p.ims_headers(body)).json()
        assert answer["processed"], answer
    afn = WebhookDelivery.objects.get(delivery_id="111-AFN")
    assert "fulfilled by Amazon (AFN)" in afn.outcome and afn.order is None
    assert list(ChannelOrder.objects.values_list("external_id", flat=True)) == ["111-MFN"]
    assert level("A-1", "WH").reserved == 2
