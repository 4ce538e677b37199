"""BigCommerce webhooks (v3): store/order/created, store/order/updated,
store/order/statusUpdated, store/order/archived, store/order/refund/created.

Signature: BigCommerce signs deliveries the Standard Webhooks way: `webhook-id`,
`webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`, space-separated when several); the secret is the app's client
secret (a `whsec_` secret is base64 after its prefix). Delivery id: `webhook-id`. Age: the
signed timestamp (five minutes).

The payload is thin (`data` names the order id only), so the order and its products are
read back from the store's API: GET {base_url}/v2/orders/{id} and /v2/orders/{id}/products
(every page), refunds from /v3/orders/{id}/payment_actions/refunds (`X-Auth-Token`).

The order poll (orders.services.poll) lists the same order and products
(channels.adapters.bigcommerce `orders_changed`); `polled` reads them into the event the
webhook's read-back gives. A partial refund is seen by its webhook only (the poll sees the
order's status: Refunded returns the whole order).
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

import httpx

from channels.adapters.bigcommerce import V2_DEFAULT, V2_LIMIT
from orders.providers.base import (
    MAX_SIGNED_AGE,
    BadDelivery,
    Context,
    Delivery,
    Event,
    EventKind,
    LineIn,
    OrderIn,
    ReturnLineIn,
    SignatureRefused,
    check_age,
    equal,
    header,
    hmac_sha256,
    load_json,
    parse_price,
    parse_quantity,
    text,
)

# BigCommerce order status ids.
CANCELLED = {5, 6}  # Cancelled, Declined
REFUNDED = 4
UNCONFIRMED = {0, 1, 7, 12}  # Incomplete, Pending, Awaiting Payment, Manual Verification Required
# Order product types that are no stocked product (`physical` is).
NOT_STOCKED = {"digital": "digital product", "giftcertificate": "gift certificate"}
ORDER_SCOPES = {"store/order/created", "store/order/updated", "store/order/statusUpdated"}


def signing_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


class BigCommerce:
    kind: ClassVar[str] = "bigcommerce"
    kept_headers: ClassVar[tuple[str, ...]] = ("webhook-id", "webhook-timestamp")

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        msg_id = header(headers, "webhook-id")
        timestamp = header(headers, "webhook-timestamp")
        given = header(headers, "webhook-signature")
        if not (msg_id and timestamp and given):
            raise SignatureRefused(
                "missing signature (webhook-id, webhook-timestamp, webhook-signature)"
            )
        signed = f"{msg_id}.{timestamp}.".encode() + body
        expected = base64.b64encode(hmac_sha256(signing_key(secret), signed))
        if not any(
            equal(expected, part.partition(",")[2])
            for part in given.split()
            if part.startswith("v1,")
        ):
            raise SignatureRefused("signature does not match")
        try:
            when = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise SignatureRefused(f"webhook-timestamp '{timestamp}' is not a Unix time") from None
        check_age(when, now=ctx.now, max_age=MAX_SIGNED_AGE)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        payload = load_json(body)
        scope = text(payload.get("scope")) if isinstance(payload, dict) else ""
        return Delivery(header(headers, "webhook-id"), scope)

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        payload = load_json(body)
        scope = text(payload.get("scope"))
        data = payload.get("data") or {}
        order_id = text(data.get("id"))
        if not scope.startswith("store/order/"):
            return Event(EventKind.IGNORE, note=f"scope {scope} is not an order event")
        if not order_id:
            raise BadDelivery("data.id (the order id) is missing")
        if ctx.client is None:
            raise BadDelivery("the channel has no base_url to read the order from")
        if scope == "store/order/archived":
            return Event(EventKind.CANCEL, order_id, reason="order archived on BigCommerce")
        if scope == "store/order/refund/created":
            refund_id = text((data.get("refund") or {}).get("refund_id"))
            return _refund(ctx.client, order_id, refund_id)
        if scope in ORDER_SCOPES:
            return _order_event(order_id, *_read_back(ctx.client, order_id))
        return Event(EventKind.IGNORE, order_id, note=f"scope {scope} changes no stock")

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        """An order as the order poll listed it (channels.adapters.bigcommerce
        `orders_changed`): `{"order": <GET /v2/orders/{id}>, "products": <its products>}`,
        what the webhook's read-back reads, meaning what a store/order/updated would."""
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise BadDelivery("a polled order is a JSON object with `order` and `products`")
        order, products = payload.get("order"), payload.get("products")
        if not isinstance(order, dict) or not isinstance(products, list):
            raise BadDelivery("a polled order needs `order` (an object) and `products` (a list)")
        order_id = text(order.get("id"))
        if not order_id:
            raise BadDelivery("order.id is missing")
        if order.get("is_deleted") is True:  # archived: what store/order/archived means
            return Event(EventKind.CANCEL, order_id, reason="order archived on BigCommerce")
        return _order_event(order_id, order, products)


def _order_event(order_id: str, order: dict, products: list) -> Event:
    """What an order read from the store (its status) means, its lines its products."""
    incoming, status_id = _order_in(order, products)
    if status_id in CANCELLED:
        return Event(EventKind.CANCEL, order_id, order=incoming, reason="cancelled on BigCommerce")
    if status_id == REFUNDED:
        return Event(
            EventKind.RETURN,
            order_id,
            order=incoming,
            return_id=f"refunded-{order_id}",
            whole_order=True,
            reason="order refunded on BigCommerce",
        )
    return Event(EventKind.ORDER, order_id, order=incoming)


def _get(client: httpx.Client, path: str, params: dict | None = None):
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json() if response.status_code != 204 and response.content.strip() else []


def _fetch_order(client: httpx.Client, order_id: str) -> tuple[OrderIn, int]:
    """The order read back from the store: (what it is, its status id)."""
    return _order_in(*_read_back(client, order_id))


def _read_back(client: httpx.Client, order_id: str) -> tuple[dict, list]:
    """The order and every product line of it, read back from the store; the id (the signed
    body's text) quoted, so no id can make another URL."""
    path = f"v2/orders/{quote(order_id, safe='')}"
    order = _get(client, path)
    products: list = []
    page = 1
    while True:  # 50 a page unless asked for more; a short page is the last
        rows = _get(client, f"{path}/products", {"page": page, "limit": V2_LIMIT})
        if not isinstance(rows, list):
            raise BadDelivery(f"order {order_id}: its products are no list")
        products.extend(rows)
        if len(rows) < V2_DEFAULT:
            return order, products
        page += 1


def _order_in(order: dict, products: list) -> tuple[OrderIn, int]:
    billing = order.get("billing_address") or {}
    placed = order.get("date_created")
    placed_at = email.utils.parsedate_to_datetime(placed) if placed else None
    status_id = int(order.get("status_id", 0))
    return (
        OrderIn(
            external_id=text(order["id"]),
            name=text(order["id"]),
            placed_at=placed_at,
            lines=tuple(
                LineIn(
                    external_id=text(item.get("id")),
                    sku=text(item.get("sku")),
                    item_id=text(item.get("variant_id") or item.get("product_id")),
                    quantity=parse_quantity(item.get("quantity"), where=f"products[{i}]"),
                    unit_price=parse_price(item.get("base_price")),
                    not_stocked=NOT_STOCKED.get(text(item.get("type")), ""),
                    name=text(item.get("name")),
                )
                for i, item in enumerate(products)
            ),
            confirmed=status_id not in UNCONFIRMED,
            cancelled=status_id in CANCELLED,
            currency=text(order.get("currency_code")),
            customer_name=" ".join(
                p for p in (billing.get("first_name"), billing.get("last_name")) if p
            ),
            customer_email=text(billing.get("email")),
            customer_phone=text(billing.get("phone")),
        ),
        status_id,
    )


def _refund(client: httpx.Client, order_id: str, refund_id: str) -> Event:
    refunds = (
        _get(client, f"v3/orders/{quote(order_id, safe='')}/payment_actions/refunds").get("data")
        or []
    )
    refund = next((r for r in refunds if text(r.get("id")) == refund_id), None)
    if refund is None:
        raise BadDelivery(f"refund {refund_id} of order {order_id} not found on BigCommerce")
    lines = tuple(
        ReturnLineIn(
            quantity=parse_quantity(item.get("quantity"), where=f"refund items[{i}]"),
            line_external_id=text(item.get("item_id")),
        )
        for i, item in enumerate(refund.get("items") or [])
        if item.get("item_type") == "PRODUCT" and item.get("quantity")
    )
    if not lines:
        return Event(EventKind.IGNORE, order_id, note=f"refund {refund_id} returns no units")
    return Event(
        EventKind.RETURN,
        order_id,
        return_id=refund_id,
        returned=lines,
        reason=text(refund.get("reason")) or "refund on BigCommerce",
    )
