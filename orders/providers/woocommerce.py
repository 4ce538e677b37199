"""WooCommerce webhooks: order.created, order.updated, order.deleted, order.restored.

Signature: `X-WC-Webhook-Signature` = base64 HMAC-SHA256 of the raw body with the
webhook's secret. Delivery id: `X-WC-Webhook-Delivery-ID`. Age: the order's
`date_modified_gmt` (in the signed body). The order's `status` says what happened:
pending / on-hold (not paid yet), processing / completed, cancelled / failed, refunded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    check_age,
    check_base64_hmac,
    header,
    load_json,
    parse_price,
    parse_quantity,
    parse_time,
    text,
)

UNCONFIRMED = {"pending", "on-hold", "checkout-draft"}
CANCELLED = {"cancelled", "failed", "trash"}
_PING = re.compile(rb"^webhook_id=\d+$")


class WooCommerce:
    kind: ClassVar[str] = "woocommerce"
    kept_headers: ClassVar[tuple[str, ...]] = (
        "x-wc-webhook-source",
        "x-wc-webhook-topic",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-id",
        "x-wc-webhook-delivery-id",
    )

    def is_ping(self, *, headers: Mapping[str, str], body: bytes) -> bool:
        """WooCommerce pings a new webhook's URL with `webhook_id=N` (no topic, no signature)."""
        return not header(headers, "X-WC-Webhook-Topic") and bool(_PING.match(body.strip()))

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        check_base64_hmac(
            secret=secret, message=body, given=header(headers, "X-WC-Webhook-Signature")
        )
        payload = load_json(body)
        signed = None
        if isinstance(payload, dict):
            signed = payload.get("date_modified_gmt") or payload.get("date_created_gmt")
        check_age(parse_time(signed), now=ctx.now, max_age=MAX_BODY_AGE)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        delivery_id = header(headers, "X-WC-Webhook-Delivery-ID")
        if not delivery_id:
            raise BadDelivery("X-WC-Webhook-Delivery-ID header is missing")
        return Delivery(delivery_id, header(headers, "X-WC-Webhook-Topic"))

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        topic = header(headers, "X-WC-Webhook-Topic")
        if not topic.startswith("order."):
            return Event(EventKind.IGNORE, note=f"topic {topic or '(none)'} is not an order event")
        payload = load_json(body)
        try:
            external_id = text(payload["id"])
        except (KeyError, TypeError):
            raise BadDelivery("an order needs `id`") from None
        status = text(payload.get("status"))
        if topic == "order.deleted" or status in CANCELLED:
            order = _order(payload) if "line_items" in payload else None
            return Event(
                EventKind.CANCEL,
                external_id,
                order=order,
                reason=f"order {status or 'deleted'} on WooCommerce",
            )
        order = _order(payload)
        if status == "refunded":
            # A full refund: shipped units come back, the rest is cancelled.
            return Event(
                EventKind.RETURN,
                external_id,
                order=order,
                return_id=f"refunded-{external_id}",
                whole_order=True,
                reason="order refunded on WooCommerce",
            )
        return Event(EventKind.ORDER, external_id, order=order)


def _order(payload: dict) -> OrderIn:
    billing = payload.get("billing") or {}
    try:
        items = payload["line_items"]
    except KeyError:
        raise BadDelivery("an order needs `line_items`") from None
    return OrderIn(
        external_id=text(payload["id"]),
        name=text(payload.get("number")),
        placed_at=parse_time(payload.get("date_created_gmt"))
        or parse_time(payload.get("date_modified_gmt")),
        lines=tuple(
            LineIn(
                external_id=text(item.get("id")),
                sku=text(item.get("sku")),
                item_id=text(item.get("variation_id") or item.get("product_id")),
                quantity=parse_quantity(item.get("quantity"), where=f"line_items[{i}]"),
                unit_price=parse_price(item.get("price")),
                # Fees and shipping come as fee_lines/shipping_lines; a line item naming no
                # SKU and no product (a custom line, a deleted product) is no stocked product.
                not_stocked=""
                if item.get("sku") or item.get("variation_id") or item.get("product_id")
                else "no SKU and no product",
                name=text(item.get("name")),
            )
            for i, item in enumerate(items)
        ),
        confirmed=payload.get("status") not in UNCONFIRMED,
        currency=text(payload.get("currency")),
        customer_name=" ".join(
            p for p in (billing.get("first_name"), billing.get("last_name")) if p
        ),
        customer_email=text(billing.get("email")),
        customer_phone=text(billing.get("phone")),
    )
