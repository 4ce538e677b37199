"""Square webhooks: order.created, order.updated, refund.created, inventory.count.updated.

Signature: `x-square-hmacsha256-signature` = base64 HMAC-SHA256, with the subscription's
signature key, of the notification URL followed by the raw body (the URL is the one
Square was given: env IMS_CHANNEL_<CODE>_WEBHOOK_URL, else the request's own URL).
Delivery id: the body's `event_id`. Age: the body's `created_at`.

Order events carry no line items, so the order is read back with RetrieveOrder
(GET {base_url}/v2/orders/{id}, `Authorization: Bearer`). A refund names the order that
holds its `returns`; their `return_line_items` are the units coming back. Square line
items name the catalog variation (`catalog_object_id`), which IMS maps to a product
through a product alias (scope: the channel's code).

The order poll (orders.services.poll) lists orders as RetrieveOrder gives them
(channels.adapters.square `orders_changed`); `polled` reads each as its webhook would.

Sales at Square's own POS: a POS sale's order is completed at the till (the webhook path
ignores a completed order), so IMS learns of the units sold from Square's inventory: the
adjustments IN_STOCK → SOLD (channels.adapters.square `pos_sales_changed`, read by the poll,
at each sync of the channel before its counts are planned, and at once on Square's
`inventory.count.updated`, which names counts only and so makes IMS read them). Each is a POS
sale (EventKind.POS_SALE, named by the adjustment's id) when its `source.product` is
SQUARE_POS; Square's other sources (EXTERNAL_API, ONLINE_STORE, INVOICES…) sell through
orders IMS receives as orders, and IMS's own pushes are PHYSICAL_COUNTs, never adjustments.
The adjustment's `transaction_id` is the Square order that sold the units: a sale of an
order still open when it was read is the order's (IMS takes open orders as orders), and one of
an order IMS received as an order is not taken again (orders.services.intake).
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
    PosSaleIn,
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
        if kind == "inventory.count.updated":
            counts = obj.get("inventory_counts") or []
            return Event(
                EventKind.STOCK_CHANGED,
                note=f"Square's counts of {len(counts)} variation(s) changed: "
                "the sales its POS made are read",
            )
        return Event(EventKind.IGNORE, note=f"event {kind or '(none)'} is not an order event")

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        """What IMS read from Square itself (orders.services.poll): an order as the order
        poll listed it (`{"order": …}`), meaning what its order.updated would after the
        read-back; or an inventory adjustment with its variation (`{"inventory_change": …,
        "catalog_object": …}`), a POS sale or nothing."""
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise BadDelivery("a polled Square object is a JSON object")
        if "inventory_change" in payload:
            return _pos_sale(
                payload.get("inventory_change"),
                payload.get("catalog_object"),
                payload.get("order"),
            )
        order = payload.get("order")
        if not isinstance(order, dict):
            raise BadDelivery("a polled order needs `order` (an object)")
        order_id = text(order.get("id"))
        if not order_id:
            raise BadDelivery("order.id is missing")
        # What the webhook path does with the order's state (its summary's), then its read-back.
        if order.get("state") == "CANCELED":
            return Event(EventKind.CANCEL, order_id, reason="order canceled on Square")
        if order.get("state") == "COMPLETED":
            return Event(EventKind.IGNORE, order_id, note="order completed on Square")
        return Event(EventKind.ORDER, order_id, order=_order_in(order))


# Who sold the units: Square's own point of sale. Every other source sells through an order
# (IMS receives those as orders) or is an application's own change.
POS_PRODUCT = "SQUARE_POS"


def _pos_sale(change, variation, order) -> Event:
    """A Square inventory adjustment: a POS sale when Square's POS moved whole units
    IN_STOCK → SOLD for an order IMS does not take as an order, else nothing (with why).
    IMS takes an open order as an order (its webhook, or the order poll): the units of one
    still open when the sale was read move with that order."""
    if not isinstance(change, dict) or not isinstance(change.get("adjustment"), dict):
        raise BadDelivery("inventory_change.adjustment is missing")
    adjustment = change["adjustment"]
    adjustment_id = text(adjustment.get("id"))
    if not adjustment_id:
        raise BadDelivery("inventory_change.adjustment.id is missing")
    moved = f"{text(adjustment.get('from_state'))} → {text(adjustment.get('to_state'))}"
    if change.get("type") != "ADJUSTMENT" or moved != "IN_STOCK → SOLD":
        return Event(EventKind.IGNORE, note=f"adjustment {adjustment_id} ({moved}) sells no units")
    source = adjustment.get("source") or {}
    product = text(source.get("product")) if isinstance(source, dict) else ""
    if product != POS_PRODUCT:
        return Event(
            EventKind.IGNORE,
            note=f"adjustment {adjustment_id} was made by {product or 'an unnamed source'}, "
            "not Square's POS: its order reaches IMS as an order",
        )
    order_id = text(adjustment.get("transaction_id"))
    if isinstance(order, dict) and order.get("state") == "OPEN":
        return Event(
            EventKind.IGNORE,
            order_id,
            note=f"adjustment {adjustment_id} sold units of order {order_id}, open on Square: "
            "IMS takes it as an order",
        )
    variation_id = text(adjustment.get("catalog_object_id"))
    if not variation_id:
        raise BadDelivery(f"adjustment {adjustment_id} names no catalog_object_id")
    data = (variation or {}).get("item_variation_data") if isinstance(variation, dict) else None
    sku = text((data or {}).get("sku"))
    quantity = text(adjustment.get("quantity"))
    try:
        units = parse_quantity(quantity, where=f"adjustment {adjustment_id}")
    except BadDelivery:
        return Event(
            EventKind.IGNORE,
            note=f"adjustment {adjustment_id} sold {printable(quantity)} of {variation_id}: "
            "no whole number of units (sold by measure)",
        )
    return Event(
        EventKind.POS_SALE,
        order_external_id=order_id,
        sale=PosSaleIn(
            external_id=adjustment_id,
            location="",  # the channel's own (its first location)
            lines=(
                LineIn(
                    external_id=adjustment_id,
                    sku=sku,
                    item_id=variation_id,
                    quantity=units,
                    name=text((data or {}).get("name")),
                ),
            ),
        ),
        note=f"sold at Square's POS ({printable(text(source.get('name')))})",
    )


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
