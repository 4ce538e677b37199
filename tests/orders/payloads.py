"""Deliveries in each provider's documented shape, signed as the provider signs them."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import hmac
import json
import uuid
from functools import cache
from pathlib import Path

import jsonschema

from orders.providers.ims import sign

SPECS = Path("/work/shared/specs")
SECRET = "s3cret-for-tests"


def utc(moment: dt.datetime | None = None) -> dt.datetime:
    return moment or dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def b64_hmac(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


# --- Shopify (orders/create, orders/cancelled, refunds/create) -------------------------


def shopify_order(order_id: int, lines, *, at=None, financial_status="paid", cancelled=False):
    at = utc(at)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1000 + order_id % 1000}",
        "email": "jon@example.com",
        "phone": None,
        "created_at": at.isoformat(),
        "updated_at": at.isoformat(),
        "currency": "USD",
        "financial_status": financial_status,
        "fulfillment_status": None,
        "cancelled_at": at.isoformat() if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "customer": {
            "id": 115310627314723954,
            "first_name": "John",
            "last_name": "Smith",
            "email": "jon@example.com",
        },
        "line_items": [
            {
                "id": order_id * 100 + i,
                "variant_id": 808950810 + i,
                "product_id": 632910392,
                "title": sku,
                "sku": sku,
                "quantity": quantity,
                "price": "30.00",
                "fulfillable_quantity": quantity,
            }
            for i, (sku, quantity) in enumerate(lines)
        ],
    }


def shopify_refund(refund_id: int, order: dict, items, *, at=None):
    """items: (line index, quantity, restock_type)."""
    at = utc(at)
    return {
        "id": refund_id,
        "order_id": order["id"],
        "created_at": at.isoformat(),
        "processed_at": at.isoformat(),
        "note": "wrong size",
        "restock": True,
        "refund_line_items": [
            {
                "id": refund_id * 10 + n,
                "line_item_id": order["line_items"][index]["id"],
                "quantity": quantity,
                "restock_type": restock,
                "line_item": order["line_items"][index],
            }
            for n, (index, quantity, restock) in enumerate(items)
        ],
    }


STORE_SECRET = "store-webhook-key-for-tests"


def shopify_test_notification(lines=(("A-1", 1),), *, at=None, cancelled=True) -> dict:
    """What Shopify's "Send test notification" posts for an order topic, in the shape seen in
    published captures: its made-up sample order 820982911946154508 with `"test": true`,
    name #9999, token 123456abcd, voided and (for orders/create) cancelled, its times the
    moment it was sent (in the shop's zone), its lines naming the shop's own products."""
    at = utc(at).astimezone(dt.timezone(dt.timedelta(hours=-4))).replace(microsecond=0)
    order = shopify_order(820982911946154508, lines, at=at, financial_status="voided")
    order.update(
        name="#9999",
        email="jon@doe.ca",
        token="123456abcd",
        test=True,
        confirmed=False,
        order_number=1234,
        cancelled_at=at.isoformat() if cancelled else None,
        cancel_reason="customer" if cancelled else None,
    )
    for item, line_id in zip(
        order["line_items"], (866550311766439020, 141249953214522974), strict=False
    ):
        item["id"] = line_id
    return order


def shopify_headers(
    body: bytes, topic: str, *, secret=SECRET, webhook_id=None, test=False, no_id=False
):
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": b64_hmac(secret, body),
        "X-Shopify-Shop-Domain": "ims-test.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": iso(utc()),
    }
    if test:
        headers["X-Shopify-Test"] = "true"
    if no_id:
        del headers["X-Shopify-Webhook-Id"]
    return headers


# --- WooCommerce ------------------------------------------------------------------------


def woo_order(order_id: int, lines, *, status="processing", at=None):
    at = utc(at).replace(tzinfo=None, microsecond=0)
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "status": status,
        "currency": "USD",
        "date_created_gmt": at.isoformat(),
        "date_modified_gmt": at.isoformat(),
        "billing": {
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "phone": "(555) 555-5555",
        },
        "line_items": [
            {
                "id": order_id * 10 + i,
                "name": sku,
                "product_id": 93,
                "variation_id": 0,
                "quantity": quantity,
                "sku": sku,
                "price": 30,
            }
            for i, (sku, quantity) in enumerate(lines)
        ],
        "refunds": [],
    }


def woo_headers(body: bytes, topic="order.created", *, secret=SECRET, delivery_id=None):
    resource, _, event = topic.partition(".")
    return {
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": b64_hmac(secret, body),
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }


# --- BigCommerce (Standard Webhooks signature; thin payload) ------------------------------


def bigcommerce_event(order_id: int, scope="store/order/created", *, at=None, **data):
    return {
        "created_at": int(utc(at).timestamp()),
        "store_id": "1025646",
        "producer": "stores/abc123",
        "scope": scope,
        "hash": hashlib.sha1(str(order_id).encode()).hexdigest(),
        "data": {"type": "order", "id": order_id, **data},
    }


def bigcommerce_headers(body: bytes, *, secret=SECRET, msg_id=None, at=None):
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(utc(at).timestamp()))
    digest = b64_hmac(secret, f"{msg_id}.{timestamp}.".encode() + body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{digest}",
    }


def bigcommerce_order(order_id: int, status_id=11):
    return {
        "id": order_id,
        "status_id": status_id,
        "status": "Awaiting Fulfillment",
        "date_created": "Tue, 05 Mar 2019 21:30:23 +0000",
        "currency_code": "USD",
        "billing_address": {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "janedoe@example.com",
            "phone": "",
        },
    }


def bigcommerce_products(order_id: int, lines):
    return [
        {
            "id": order_id * 10 + i,
            "order_id": order_id,
            "product_id": 77,
            "variant_id": 0,
            "sku": sku,
            "quantity": quantity,
            "base_price": "30.0000",
        }
        for i, (sku, quantity) in enumerate(lines)
    ]


# --- Square (validated against Square's OpenAPI) ------------------------------------------


@cache
def square_spec() -> dict:
    with gzip.open(SPECS / "square" / "api.json.gz") as f:
        return json.load(f)


def square_validate(instance, schema_name: str) -> None:
    spec = square_spec()
    jsonschema.validate(
        instance, {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    )


def square_event(kind: str, order_id: str, *, state="OPEN", at=None, refund=None):
    at = iso(utc(at))
    if kind == "refund.created":
        data = {"type": "refund", "id": refund["id"], "object": {"refund": refund}}
    else:
        key = kind.replace(".", "_")
        obj = {
            "order_id": order_id,
            "version": 1,
            "location_id": "FPYCBCHYMXFK1",
            "state": state,
            "created_at": at,
        }
        if kind == "order.updated":
            obj["updated_at"] = at
        data = {"type": key, "id": order_id, "object": {key: obj}}
    event = {
        "merchant_id": "5S9MXCS9Y99KK",
        "type": kind,
        "event_id": str(uuid.uuid4()),
        "created_at": at,
        "data": data,
    }
    schema = {
        "order.created": "OrderCreatedEvent",
        "order.updated": "OrderUpdatedEvent",
        "refund.created": "RefundCreatedEvent",
    }[kind]
    square_validate(event, schema)
    return event


def square_order(order_id: str, lines, *, state="OPEN", returns=None):
    order = {
        "id": order_id,
        "location_id": "FPYCBCHYMXFK1",
        "state": state,
        "created_at": iso(utc()),
        "line_items": [
            {
                "uid": f"{order_id}-{i}",
                "catalog_object_id": variation,
                "name": variation,
                "quantity": str(quantity),
                "base_price_money": {"amount": 3000, "currency": "USD"},
            }
            for i, (variation, quantity) in enumerate(lines)
        ],
    }
    if returns:
        order["returns"] = returns
    square_validate({"order": order}, "RetrieveOrderResponse")
    return {"order": order}


def square_headers(body: bytes, url: str, *, secret=SECRET):
    return {"x-square-hmacsha256-signature": b64_hmac(secret, url.encode() + body)}


# --- Amazon ORDER_CHANGE (validated against SP-API's notification schema) ----------------


@cache
def amazon_schema() -> dict:
    return json.loads(
        (SPECS / "amazon-sp-api/schemas/notifications/OrderChangeNotification.json").read_text()
    )


def amazon_notification(
    order_id: str, lines, *, status="Unshipped", notification_id=None, at=None, fulfillment="MFN"
):
    at = iso(utc(at))
    body = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": at,
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A3TH9S8BH6GOGM",
                "AmazonOrderId": order_id,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": at,
                    "ChangeReason": "Order status changed",
                },
                "Summary": {
                    "MarketplaceId": "ATVPDKIKX0DER",
                    "OrderStatus": status,
                    "PurchaseDate": at,
                    "DestinationPostalCode": "48110",
                    "FulfillmentType": fulfillment,
                    "OrderType": "StandardOrder",
                    "NumberOfItemsShipped": 0,
                    "NumberOfItemsUnshipped": sum(q for _, q in lines),
                    "OrderItems": [
                        {
                            "OrderItemId": f"OIID{i}",
                            "SellerSKU": sku,
                            "SupplySourceId": "d7679e14-031b-4ab3-a81b-ec4fc7a460b3",
                            # An item is only ever Unshipped or Shipped (its schema's enum).
                            "OrderItemStatus": "Shipped" if status == "Shipped" else "Unshipped",
                            "Quantity": quantity,
                            "QuantityShipped": 0,
                        }
                        for i, (sku, quantity) in enumerate(lines)
                    ],
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "app-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
            "SubscriptionId": "subscription-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
            "PublishTime": at,
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }
    jsonschema.validate(body, amazon_schema())
    return body


def ims_headers(body: bytes, *, secret=SECRET, at=None):
    return {"X-IMS-Signature": sign(secret=secret, body=body, timestamp=int(utc(at).timestamp()))}


def ims_order_event(order_id: str, lines, *, kind="order.created", event_id=None, confirmed=True):
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": kind,
        "occurred_at": iso(utc()),
        "order": {
            "id": order_id,
            "confirmed": confirmed,
            "currency": "INR",
            "customer": {"name": "Asha", "phone": "+919800000000"},
            "lines": [
                {"line_id": str(i + 1), "sku": sku, "quantity": q}
                for i, (sku, q) in enumerate(lines)
            ],
        },
    }


def dumps(payload) -> bytes:
    return json.dumps(payload).encode()


def woo_sample_order(order_id: int, lines, *, at=None, status="processing") -> dict:
    """WooCommerce's own documented order (`GET /orders/727`, samples/), renumbered, with
    these (sku, quantity) lines and modified at `at`."""
    order = json.loads((SPECS / "woocommerce/samples/order-retrieve-response.json").read_text())
    stamp = utc(at).replace(tzinfo=None, microsecond=0).isoformat()
    item = order["line_items"][0]
    order.update(
        id=order_id,
        number=str(order_id),
        status=status,
        date_created_gmt=stamp,
        date_modified_gmt=stamp,
        line_items=[
            {**item, "id": order_id * 10 + i, "sku": sku, "quantity": quantity}
            for i, (sku, quantity) in enumerate(lines)
        ],
    )
    return order
