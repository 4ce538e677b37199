"""WooCommerce webhooks: order.created, order.updated, order.deleted, order.restored.

Signature: `X-WC-Webhook-Signature` = base64 HMAC-SHA256 of the raw body with the
webhook's secret. Age: the order's `date_modified_gmt` (in the signed body).

Identity: `X-WC-Webhook-Delivery-ID` is a hash of the webhook id and the current *second*
(`WC_Webhook::get_new_delivery_id`), so two events sent within one second share it: it is
kept with the delivery's headers, never used to deduplicate. A delivery is known by what
identifies its event: topic, resource id and `date_modified_gmt` (a deletion, `{"id": N}`,
by topic and id). The order's `status` says what happened:
pending / on-hold (not paid yet), processing / completed, cancelled / failed / trash,
refunded.

The signature covers the body only, not the topic header: what an event does follows from
the signed `status`. `order.deleted` with a body whose status is not cancelled, failed or
trash is refused (kept in the inbox with the error). WooCommerce's own `order.deleted` body
is `{"id": N}` alone: it carries no status and no time, so it proves nothing a resent
capture would not. It releases nothing: the delivery is recorded and ops are told to check
the order on the store (EventKind.UNPROVEN).
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

UNCONFIRMED = {"pending", "on-hold", "checkout-draft"}
CANCELLED = {"cancelled", "failed", "trash"}
_PING = re.compile(rb"^webhook_id=\d+$")
SIGNED_TIME = ("date_modified_gmt", "date_created_gmt")  # the body's own time: the first it has


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
        if _id_only(payload):
            return  # a deletion naming only the id: it has no time, and it changes nothing
        check_age(body_time(payload, *SIGNED_TIME), now=ctx.now, max_age=MAX_BODY_AGE)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        """The event's identity (see the module): `topic:id@date_modified_gmt`."""
        topic = header(headers, "X-WC-Webhook-Topic")
        payload = load_json(body)
        if not isinstance(payload, dict) or payload.get("id") in (None, ""):
            raise BadDelivery("the body names no resource `id`")
        event = f"{topic}:{text(payload['id'])}"
        if not _id_only(payload):
            event += f"@{text(payload.get('date_modified_gmt'))}"
        return Delivery(event, topic)

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        topic = header(headers, "X-WC-Webhook-Topic")
        if not topic.startswith("order."):
            return Event(EventKind.IGNORE, note=f"topic {topic or '(none)'} is not an order event")
        return _event(topic, load_json(body))

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        """An order as `GET /orders` lists it: the same object an order.updated carries."""
        payload = load_json(body)
        if _id_only(payload):
            raise BadDelivery("a listed order names only its id")
        return _event("order.updated", payload)


def _event(topic: str, payload) -> Event:
    """What an order event means; the order's signed `status` says, whatever the topic."""
    # Read as verify read it: a replay from the inbox refuses it too.
    body_time(payload, *SIGNED_TIME)
    try:
        external_id = text(payload["id"])
    except (KeyError, TypeError):
        raise BadDelivery("an order needs `id`") from None
    if _id_only(payload):
        if topic != "order.deleted":
            raise BadDelivery(f"topic {topic}, but the body names only order {external_id}")
        return Event(
            EventKind.UNPROVEN,
            external_id,
            note=f"WooCommerce says order {external_id} was deleted; the body names only "
            "its id, which proves nothing a resent delivery would not",
        )
    status = text(payload.get("status"))
    if status in CANCELLED:  # the signed body says so, whatever the topic
        order = _order(payload) if "line_items" in payload else None
        return Event(
            EventKind.CANCEL,
            external_id,
            order=order,
            reason=f"order {status} on WooCommerce",
        )
    if topic == "order.deleted":
        raise BadDelivery(
            f"topic order.deleted, but the signed body of order {external_id} has status "
            f"'{status}': the order is not deleted or cancelled; refused"
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


def _id_only(payload) -> bool:
    return isinstance(payload, dict) and set(payload) == {"id"}


def _order(payload: dict) -> OrderIn:
    billing = payload.get("billing") or {}
    try:
        items = payload["line_items"]
    except KeyError:
        raise BadDelivery("an order needs `line_items`") from None
    return OrderIn(
        external_id=text(payload["id"]),
        name=text(payload.get("number")),
        placed_at=parse_time(payload.get("date_created_gmt"), where="date_created_gmt")
        or parse_time(payload.get("date_modified_gmt"), where="date_modified_gmt"),
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
