"""Shopify webhooks (HTTPS): orders/create, orders/updated, orders/paid, orders/cancelled,
refunds/create.

Signature: `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the raw body with the app's
client secret (`IMS_CHANNEL_<CODE>_WEBHOOK_SECRET`). Delivery id: `X-Shopify-Webhook-Id`
(the same on every retry). Age: the body's own `updated_at` (orders) or `created_at`
(refunds), which the signature covers.

Shopify's test notification ("Send test notification" on a webhook made in the Shopify admin,
Settings → Notifications → Webhooks) posts a made-up sample for the topic: order
820982911946154508 with `"test": true` (name #9999, `cancelled_at` set, financial status
voided, lines that may name the shop's own products), its times the moment it was sent. A
webhook made in the admin is signed not with an app's secret but with the store's own key,
shown on that page ("Your webhooks will be signed with …"): set it as
`IMS_CHANNEL_<CODE>_STORE_WEBHOOK_SECRET`. What identifies a test notification is its signed
body (`is_test_notification`: Shopify's sample order with `test` true, or a refund of it),
never the unsigned `X-Shopify-Test` header: it is answered 200 and recorded, processed, with
the outcome "ignored: Shopify test notification …", and changes nothing (no order, nothing
reserved); one without `X-Shopify-Webhook-Id` is kept as `test:sha256:<digest of the body>`.
The store key proves only that: a body it signs that is no test notification is refused
(401, as a forged one), since the key is shown to the shop's staff and IMS's own webhooks are
signed with the app's secret. A test notification signed with the app's secret (the CLI's
`app webhook trigger`) is ignored the same way. A real order placed in test mode (`"test":
true` with its own id) is an order like any other: Shopify holds its stock too.

The signature covers the body only: the topic and webhook id headers can be changed by
whoever resends a captured delivery. So the topic only says which body to expect (an order
or a refund); what the event does follows from the body: an order whose `cancelled_at` is set
is cancelled, any other is placed or updated. `orders/cancelled` with a body whose
`cancelled_at` is empty is refused (kept in the inbox with the error).

The order poll (`polled`): an order as the Admin GraphQL API lists it
(`channels.adapters.shopify`, ORDERS_QUERY) is read into the same OrderIn its webhook gives:
global ids become the numeric ids the webhook carries (`gid://shopify/LineItem/123` → "123",
the order's and the variant's alike), `quantity` is the line's ordered quantity as the
webhook's `quantity`, `originalUnitPriceSet.shopMoney.amount` its `price`, `isGiftCard`,
`requiresShipping`, `sku` and `variant` say what `gift_card`, `requires_shipping`, `sku` and
`variant_id` say (not_stocked), `displayFinancialStatus` PENDING is `financial_status`
pending, `cancelledAt` is `cancelled_at`. Refunds are not read from a listed order: a lost
`refunds/create` is not recovered by the poll (the order's own lines and state are).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

from orders.providers.base import (
    MAX_BODY_AGE,
    BadDelivery,
    Context,
    Delivery,
    Event,
    EventKind,
    LineIn,
    OrderIn,
    ReturnLineIn,
    SignatureRefused,
    body_time,
    check_age,
    check_base64_hmac,
    header,
    load_json,
    parse_price,
    parse_quantity,
    parse_time,
    text,
)

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid"}
# The order every Shopify test notification names (see the module).
SAMPLE_ORDER_ID = "820982911946154508"
STORE_SECRET = "STORE_WEBHOOK_SECRET"
# Financial statuses of an order not yet paid for: its reservation may expire.
UNCONFIRMED = {"pending"}
SIGNED_TIME = ("updated_at", "created_at")  # the body's own time: the first it has


class Shopify:
    kind: ClassVar[str] = "shopify"
    kept_headers: ClassVar[tuple[str, ...]] = (
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-webhook-id",
        "x-shopify-event-id",
        "x-shopify-triggered-at",
        "x-shopify-test",
    )
    settings: ClassVar[tuple[str, ...]] = (STORE_SECRET,)

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        given = header(headers, "X-Shopify-Hmac-Sha256")
        try:
            check_base64_hmac(secret=secret, message=body, given=given)
        except SignatureRefused:
            store_secret = ctx.settings.get(STORE_SECRET, "")
            if not store_secret or not given:
                raise
            check_base64_hmac(secret=store_secret, message=body, given=given)
            try:
                test = is_test_notification(load_json(body))
            except BadDelivery:
                test = False
            if not test:
                raise SignatureRefused(
                    f"signed with the store's webhook key ({STORE_SECRET}), which IMS takes "
                    "for Shopify's test notification only, and the body is no test "
                    "notification: subscribe IMS's webhooks through the app (signed with its "
                    "secret)"
                ) from None
        check_age(body_time(load_json(body), *SIGNED_TIME), now=ctx.now, max_age=MAX_BODY_AGE)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        topic = header(headers, "X-Shopify-Topic")
        delivery_id = header(headers, "X-Shopify-Webhook-Id")
        if not delivery_id:
            try:
                test = is_test_notification(load_json(body))
            except BadDelivery:
                test = False
            if test:
                return Delivery(f"test:sha256:{hashlib.sha256(body).hexdigest()}", topic)
            raise BadDelivery("X-Shopify-Webhook-Id header is missing")
        return Delivery(delivery_id, topic)

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        topic = header(headers, "X-Shopify-Topic")
        payload = load_json(body)
        # Read as verify read it: a replay from the inbox refuses it too.
        body_time(payload, *SIGNED_TIME)
        if is_test_notification(payload):
            return Event(
                EventKind.IGNORE,
                SAMPLE_ORDER_ID,
                note=f"Shopify test notification ({topic or 'no topic'}, Shopify's sample "
                f"order {SAMPLE_ORDER_ID}); nothing changed",
            )
        if topic in ORDER_TOPICS or topic == "orders/cancelled":
            order = _order(payload)
            if order.cancelled:  # the signed body says so, whatever the topic
                return Event(
                    EventKind.CANCEL,
                    order.external_id,
                    order=order,
                    reason=text(payload.get("cancel_reason")) or "cancelled on Shopify",
                )
            if topic == "orders/cancelled":
                raise BadDelivery(
                    f"topic orders/cancelled, but the signed body of order {order.external_id} "
                    "has no cancelled_at: the order is not cancelled; refused"
                )
            return Event(EventKind.ORDER, order.external_id, order=order)
        if topic == "refunds/create":
            return _refund(payload)
        return Event(EventKind.IGNORE, note=f"topic {topic or '(none)'} is not an order event")

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        """An order as the Admin GraphQL API lists it (`orders` query): the event its
        orders/updated webhook would mean."""
        payload = load_json(body)
        order = graphql_order(payload)
        if order.cancelled:
            reason = text(payload.get("cancelReason")).lower()
            return Event(
                EventKind.CANCEL,
                order.external_id,
                order=order,
                reason=reason or "cancelled on Shopify",
            )
        return Event(EventKind.ORDER, order.external_id, order=order)


def is_test_notification(payload) -> bool:
    """Whether a signed body is Shopify's test notification: its sample order (id
    820982911946154508) with `test` true, or a refund naming that order."""
    if not isinstance(payload, dict):
        return False
    if text(payload.get("id")) == SAMPLE_ORDER_ID and payload.get("test") is True:
        return True
    return text(payload.get("order_id")) == SAMPLE_ORDER_ID


def _order(payload: dict) -> OrderIn:
    try:
        external_id = text(payload["id"])
        items = payload["line_items"]
    except (KeyError, TypeError):
        raise BadDelivery("an order needs `id` and `line_items`") from None
    customer = payload.get("customer") or {}
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
    lines = tuple(
        LineIn(
            external_id=text(item.get("id")),
            sku=text(item.get("sku")),
            item_id=text(item.get("variant_id")),
            quantity=parse_quantity(item.get("quantity"), where=f"line_items[{i}]"),
            unit_price=parse_price(item.get("price")),
            not_stocked=not_stocked(item),
            name=text(item.get("name") or item.get("title")),
        )
        for i, item in enumerate(items)
    )
    return OrderIn(
        external_id=external_id,
        name=text(payload.get("name")),
        placed_at=parse_time(payload.get("created_at"), where="created_at")
        or parse_time(payload.get("updated_at"), where="updated_at"),
        lines=lines,
        confirmed=payload.get("financial_status") not in UNCONFIRMED,
        cancelled=bool(payload.get("cancelled_at")),
        currency=text(payload.get("currency")),
        customer_name=name,
        customer_email=text(payload.get("email") or customer.get("email")),
        customer_phone=text(payload.get("phone") or customer.get("phone")),
    )


_GID = re.compile(r"gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>[0-9]+)(?:\?.*)?")


def numeric_id(gid, kind: str, *, where: str) -> str:
    """The numeric id of a GraphQL global id of this kind (`gid://shopify/LineItem/123` →
    "123"): the id the webhook's REST body carries. BadDelivery for any other text."""
    found = _GID.fullmatch(gid) if isinstance(gid, str) else None
    if found is None or found["type"] != kind:
        raise BadDelivery(f"{where}: '{text(gid)[:80]}' is no Shopify {kind} id")
    return found["id"]


def graphql_order(payload) -> OrderIn:
    """The OrderIn of an Order node (`orders` query), equal to the one `_order` reads from
    the same order's REST body (see the module)."""
    if not isinstance(payload, dict) or "lineItems" not in payload:
        raise BadDelivery("a listed order needs `id` and `lineItems`")
    external_id = numeric_id(payload.get("id"), "Order", where="id")
    customer = payload.get("customer") or {}
    name = " ".join(p for p in (customer.get("firstName"), customer.get("lastName")) if p)
    lines = []
    for i, item in enumerate(payload["lineItems"]["nodes"]):
        where = f"lineItems[{i}]"
        variant = item.get("variant") or {}
        variant_id = numeric_id(variant["id"], "ProductVariant", where=where) if variant else ""
        price = ((item.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount")
        # The webhook's line as not_stocked reads it.
        rest = {
            "gift_card": item.get("isGiftCard"),
            "requires_shipping": item.get("requiresShipping"),
            "sku": item.get("sku"),
            "variant_id": variant_id,
        }
        lines.append(
            LineIn(
                external_id=numeric_id(item.get("id"), "LineItem", where=where),
                sku=text(item.get("sku")),
                item_id=variant_id,
                quantity=parse_quantity(item.get("quantity"), where=where),
                unit_price=parse_price(price),
                not_stocked=not_stocked(rest),
                name=text(item.get("name")),
            )
        )
    email = (customer.get("defaultEmailAddress") or {}).get("emailAddress")
    phone = (customer.get("defaultPhoneNumber") or {}).get("phoneNumber")
    return OrderIn(
        external_id=external_id,
        name=text(payload.get("name")),
        placed_at=parse_time(payload.get("createdAt"), where="createdAt")
        or parse_time(payload.get("updatedAt"), where="updatedAt"),
        lines=tuple(lines),
        confirmed=text(payload.get("displayFinancialStatus")).lower() not in UNCONFIRMED,
        cancelled=bool(payload.get("cancelledAt")),
        currency=text(payload.get("currencyCode")),
        customer_name=name,
        customer_email=text(payload.get("email") or email),
        customer_phone=text(payload.get("phone") or phone),
    )


def not_stocked(item: dict) -> str:
    """Why a line item is no stocked product, as Shopify marks it ('' for a product): a gift
    card, a line that needs no shipping (gift wrap, a service), or one naming neither a SKU
    nor a variant (a tip, a custom item)."""
    if item.get("gift_card"):
        return "gift card"
    if item.get("requires_shipping") is False:
        return "needs no shipping"
    if not item.get("sku") and not item.get("variant_id"):
        return "no SKU and no variant"
    return ""


def _refund(payload: dict) -> Event:
    """A refund: `restock_type` return → units come back; cancel → unshipped units cancelled;
    legacy_restock (the older option, still in Shopify's 2026-04 samples) → the line's
    unshipped units (`fulfillable_quantity`) cancelled first, the rest come back;
    no_restock (money only) changes no stock."""
    try:
        order_id = text(payload["order_id"])
        refund_id = text(payload["id"])
    except (KeyError, TypeError):
        raise BadDelivery("a refund needs `id` and `order_id`") from None
    returned, cancelled = [], []
    for i, item in enumerate(payload.get("refund_line_items") or []):
        if item.get("line_item") and not_stocked(item["line_item"]):
            continue  # a refunded tip or gift card gives back no stock
        line = ReturnLineIn(
            quantity=parse_quantity(item.get("quantity"), where=f"refund_line_items[{i}]"),
            line_external_id=text(item.get("line_item_id")),
            sku=text((item.get("line_item") or {}).get("sku")),
        )
        if item.get("restock_type") == "return":
            returned.append(line)
        elif item.get("restock_type") == "cancel":
            cancelled.append(line)
        elif item.get("restock_type") == "legacy_restock":
            unshipped = (item.get("line_item") or {}).get("fulfillable_quantity")
            unshipped = min(line.quantity, max(0, int(unshipped or 0)))
            if unshipped:
                cancelled.append(replace(line, quantity=unshipped))
            if line.quantity > unshipped:
                returned.append(replace(line, quantity=line.quantity - unshipped))
    if returned:
        return Event(
            EventKind.RETURN,
            order_id,
            return_id=refund_id,
            returned=tuple(returned),
            cancelled=tuple(cancelled),
            reason=text(payload.get("note")) or "refund on Shopify",
        )
    if cancelled:
        return Event(
            EventKind.CANCEL,
            order_id,
            cancelled=tuple(cancelled),
            reason="refunded before shipping",
        )
    return Event(EventKind.IGNORE, order_id, note=f"refund {refund_id} returns no units")
