"""Square webhooks: order.created, order.updated, refund.created.

Signature: `x-square-hmacsha256-signature` = base64 HMAC-SHA256, with the subscription's
signature key, of the notification URL followed by the raw body (the URL is the one
Square was given: env IMS_CHANNEL_<CODE>_WEBHOOK_URL, else the request's own URL).
Delivery id: the body's `event_id`. Age: the body's `created_at`.

Order events carry no line items, so the order is read back with RetrieveOrder
(GET {base_url}/v2/orders/{id}, `Authorization: Bearer`). A refund names the order that
holds its `returns`; their `return_line_items` are the units coming back. Square line
items name the catalog variation (`catalog_object_id`), which IMS maps to a product
through a product alias (scope: the channel's code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

import httpx

from ims.money import from_minor
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
    body_time,
    check_age,
    check_base64_hmac,
    header,
    load_json,
    parse_quantity,
    parse_time,
    printable,
    text,
)

SQUARE_VERSION = "2025-07-16"


class Square:
    kind: ClassVar[str] = "square"
    kept_headers: ClassVar[tuple[str, ...]] = (
        "square-environment",
        "square-initial-delivery-timestamp",
        "square-retry-number",
    )

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        check_base64_hmac(
            secret=secret,
            message=ctx.url.encode() + body,
            given=header(headers, "x-square-hmacsha256-signature"),
        )
        check_age(body_time(load_json(body), "created_at"), now=ctx.now, max_age=MAX_BODY_AGE)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        payload = load_json(body)
        if not isinstance(payload, dict) or not payload.get("event_id"):
            raise BadDelivery("event_id is missing")
        return Delivery(text(payload["event_id"]), text(payload.get("type")))

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        payload = load_json(body)
        # Read as verify read it: a replay from the inbox refuses it too.
        body_time(payload, "created_at")
        kind = text(payload.get("type"))
        data = payload.get("data") or {}
        obj = data.get("object") or {}
        if kind in ("order.created", "order.updated"):
            summary = obj.get("order_created") or obj.get("order_updated") or {}
            order_id = text(summary.get("order_id") or data.get("id"))
            if not order_id:
                raise BadDelivery("data.id (the order id) is missing")
            if summary.get("state") == "CANCELED":
                return Event(EventKind.CANCEL, order_id, reason="order canceled on Square")
            if summary.get("state") == "COMPLETED":
                return Event(EventKind.IGNORE, order_id, note="order completed on Square")
            order = _fetch_order(_client(ctx), order_id)
            return Event(EventKind.ORDER, order_id, order=_order_in(order))
        if kind == "refund.created":
            refund = obj.get("refund") or {}
            if not refund.get("order_id"):
                return Event(EventKind.IGNORE, note="refund without an order")
            return _refund(_client(ctx), refund)
        return Event(EventKind.IGNORE, note=f"event {kind or '(none)'} is not an order event")


def _client(ctx: Context) -> httpx.Client:
    if ctx.client is None:
        raise BadDelivery("the channel has no base_url to read the order from")
    return ctx.client


def _fetch_order(client: httpx.Client, order_id: str) -> dict:
    # The id is the signed body's text: quoted, so no id can make another URL (or none).
    response = client.get(
        f"v2/orders/{quote(order_id, safe='')}", headers={"Square-Version": SQUARE_VERSION}
    )
    response.raise_for_status()
    return response.json()["order"]


def _order_in(order: dict) -> OrderIn:
    lines = []
    currency = ""
    for i, item in enumerate(order.get("line_items") or []):
        price = item.get("base_price_money") or {}
        currency = currency or text(price.get("currency"))
        measure = _measure(item)
        lines.append(
            LineIn(
                external_id=text(item.get("uid")),
                sku="",
                item_id=text(item.get("catalog_object_id")),
                # A measured line (2.5 lb) is no count of units: kept as one, never reserved.
                quantity=1
                if measure
                else parse_quantity(item.get("quantity"), where=f"line_items[{i}]"),
                unit_price=from_minor(price.get("amount"), currency),
                not_stocked=measure or not_stocked(item),
                name=text(item.get("name")),
            )
        )
    fulfilments = order.get("fulfillments") or []
    recipient = {}
    for f in fulfilments:
        details = f.get("shipment_details") or f.get("pickup_details") or {}
        recipient = details.get("recipient") or recipient
    return OrderIn(
        external_id=text(order["id"]),
        name=text(order.get("reference_id")),
        placed_at=parse_time(order.get("created_at")),
        lines=tuple(lines),
        confirmed=order.get("state") != "DRAFT",
        cancelled=order.get("state") == "CANCELED",
        currency=currency,
        customer_name=text(recipient.get("display_name")),
        customer_email=text(recipient.get("email_address")),
        customer_phone=text(recipient.get("phone_number")),
    )


def _measure(item: dict) -> str:
    """Why a line sold by measure (`quantity_unit` with a measurement unit: `2.5` pounds of
    broccoli) is no count of units IMS holds, or '' for a line counted in units."""
    unit = (item.get("quantity_unit") or {}).get("measurement_unit") or {}
    name = next(
        (
            value.get("name") if isinstance(value, dict) else value
            for key, value in unit.items()
            if key.endswith("_unit") and value
        ),
        None,
    )
    if not name:
        return ""
    return f"sold by measure: {printable(text(item.get('quantity')))} {printable(text(name))}"


def not_stocked(item: dict) -> str:
    """Why a line item is no stocked product ('' for one): a gift card, a custom amount, or an
    ad-hoc item that names no catalog variation."""
    kind = text(item.get("item_type"))
    if kind == "GIFT_CARD":
        return "gift card"
    if kind == "CUSTOM_AMOUNT":
        return "custom amount"
    if not item.get("catalog_object_id"):
        return "no catalog item"
    return ""


def _refund(client: httpx.Client, refund: dict) -> Event:
    order = _fetch_order(client, text(refund["order_id"]))
    returns = order.get("returns") or []
    lines = []
    source = ""
    for r in returns:
        source = source or text(r.get("source_order_id"))
        for i, item in enumerate(r.get("return_line_items") or []):
            if not_stocked(item) or _measure(item):
                continue  # a returned gift card, custom amount or measure gives back no units
            lines.append(
                ReturnLineIn(
                    quantity=parse_quantity(item.get("quantity"), where=f"return_line_items[{i}]"),
                    line_external_id=text(item.get("source_line_item_uid")),
                    item_id=text(item.get("catalog_object_id")),
                )
            )
    if not lines:
        return Event(EventKind.IGNORE, note=f"refund {refund.get('id')} returns no units")
    return Event(
        EventKind.RETURN,
        source or text(refund["order_id"]),
        return_id=text(refund.get("id")),
        returned=tuple(lines),
        reason=text(refund.get("reason")) or "refund on Square",
    )
