"""IMS's own signed intake, for systems that have no webhooks of their own.

Signature: `X-IMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
with the channel's webhook secret (several `v1=` may be given while a secret rotates).
Age: the signed `t`, five minutes either way.

Two bodies are accepted:
- Amazon (kind `amazon`): the SQS message body of an SP-API ORDER_CHANGE notification, as
  the relay that polls the queue received it. Delivery id: NotificationMetadata.NotificationId.
  The same body reaches IMS unsigned when IMS reads the queue itself (orders.services.queue,
  `source="queue"`), and an order as the Orders API lists it when IMS polls (`polled`).
- Flipkart and store POS (kinds `flipkart`, `pos`): IMS's JSON event form,
  `orders/schemas/webhook-event.json` (described in README "Orders and webhooks").
  Delivery id: `event_id`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import ClassVar

from jsonschema import Draft202012Validator

from orders.providers.base import (
    MAX_SIGNED_AGE,
    BadDelivery,
    Context,
    Delivery,
    Event,
    EventKind,
    LineIn,
    OrderIn,
    PosSaleIn,
    ReturnLineIn,
    SignatureRefused,
    check_age,
    equal,
    header,
    load_json,
    parse_price,
    parse_quantity,
    parse_time,
    text,
)

SIGNATURE_HEADER = "X-IMS-Signature"
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "webhook-event.json"
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The X-IMS-Signature value for a body (what a relay or a POS sends)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signed(*, headers, body: bytes, secret: str, now: dt.datetime) -> None:
    given = header(headers, SIGNATURE_HEADER)
    if not given:
        raise SignatureRefused(f"missing signature ({SIGNATURE_HEADER})")
    parts = [p.strip().partition("=") for p in given.split(",")]
    stamps = [v for k, _, v in parts if k == "t"]
    candidates = [v for k, _, v in parts if k == "v1"]
    # t is Unix seconds: ASCII digits, at most 12 (a longer one is no time this century and
    # would only make int() work hard, or refuse).
    if len(stamps) != 1 or not _UNIX_SECONDS.fullmatch(stamps[0]) or not candidates:
        raise SignatureRefused(f"{SIGNATURE_HEADER} is not of the form t=<Unix seconds>,v1=…")
    expected = sign(secret=secret, body=body, timestamp=int(stamps[0])).partition("v1=")[2]
    if not any(equal(expected, c) for c in candidates):
        raise SignatureRefused("signature does not match")
    try:
        when = dt.datetime.fromtimestamp(int(stamps[0]), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureRefused(f"t={stamps[0]} is not a time") from None
    check_age(when, now=now, max_age=MAX_SIGNED_AGE)


# ORDER_CHANGE `Summary.OrderStatus` and Orders 2026-01-01 `fulfillment.fulfillmentStatus`
# of an order placed but not yet paid (a pre-order's payment not yet authorized too): held,
# not confirmed.
_UNCONFIRMED = frozenset({"Pending", "PendingAvailability"})
_POLLED_UNCONFIRMED = frozenset({"PENDING", "PENDING_AVAILABILITY"})
AFN_WHY = "fulfilled by Amazon (AFN)"


def amazon_notification(payload) -> tuple[dict, str, str]:
    """(the SP-API notification, its type, the id of the event that carried it) from an SQS
    message body: the notification itself (SP-API's SQS destination), or an EventBridge event
    carrying it in `detail` with its type in `detail-type` (Amazon's own samples read
    `detail`; no complete envelope is published). A `detail-type` that contradicts the
    notification's own NotificationType is refused."""
    if not isinstance(payload, dict):
        raise BadDelivery("the body is not a JSON object")
    if "detail" in payload and "detail-type" in payload:
        detail = payload["detail"]
        if not isinstance(detail, dict):
            raise BadDelivery("EventBridge event: `detail` is not an object")
        kind = text(payload["detail-type"])
        own = detail.get("NotificationType")
        if own is not None and text(own) != kind:
            raise BadDelivery(f"EventBridge detail-type {kind}, but NotificationType {own}")
        return detail, kind, text(payload.get("id"))
    return payload, text(payload.get("NotificationType")), ""


class Amazon:
    kind: ClassVar[str] = "amazon"
    kept_headers: ClassVar[tuple[str, ...]] = ()

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        verify_signed(headers=headers, body=body, secret=secret, now=ctx.now)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        notification, kind, event_id = amazon_notification(load_json(body))
        try:
            notification_id = text(notification["NotificationMetadata"]["NotificationId"])
        except (KeyError, TypeError):
            if not event_id:
                raise BadDelivery("NotificationMetadata.NotificationId is missing") from None
            notification_id = f"eventbridge:{event_id}"  # the event's own id names it
        return Delivery(notification_id, kind)

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        payload, kind, _ = amazon_notification(load_json(body))
        if kind != "ORDER_CHANGE":
            return Event(EventKind.IGNORE, note=f"{kind or '(no type)'} is not ORDER_CHANGE")
        try:
            change = payload["Payload"]["OrderChangeNotification"]
            order_id = text(change["AmazonOrderId"])
        except (KeyError, TypeError):
            raise BadDelivery("Payload.OrderChangeNotification.AmazonOrderId is missing") from None
        summary = change.get("Summary") or {}
        status = summary.get("OrderStatus")
        if status == "Canceled":
            return Event(
                EventKind.CANCEL,
                order_id,
                reason=text((change.get("OrderChangeTrigger") or {}).get("ChangeReason"))
                or "order canceled on Amazon",
            )
        if not summary.get("OrderItems"):
            return Event(EventKind.IGNORE, order_id, note="change without order items")
        # Fulfilled by Amazon (AFN): Amazon ships from its own stock, none of ours is held.
        afn = summary.get("FulfillmentType") == "AFN"
        order = OrderIn(
            external_id=order_id,
            name=order_id,
            placed_at=parse_time(summary.get("PurchaseDate"), where="PurchaseDate")
            or parse_time(payload.get("EventTime"), where="EventTime"),
            lines=tuple(
                _amazon_line(
                    item.get("OrderItemId"),
                    item.get("SellerSKU"),
                    item.get("Quantity"),
                    afn=afn,
                    where=f"OrderItems[{i}]",
                )
                for i, item in enumerate(summary["OrderItems"])
            ),
            confirmed=status not in _UNCONFIRMED,
        )
        return Event(EventKind.ORDER, order_id, order=order)

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        """An order as Orders API 2026-01-01 `searchOrders` lists it (with
        `includedData=FULFILLMENT`): the same event its ORDER_CHANGE means. Line ids are the
        OrderItemIds, SKUs the SellerSKUs, quantities the units ordered; fulfilled by Amazon
        (`fulfilledBy` AMAZON = AFN) holds none of our stock; CANCELLED cancels."""
        order = load_json(body)
        if not isinstance(order, dict) or not order.get("orderId"):
            raise BadDelivery("a listed order needs `orderId`")
        order_id = text(order["orderId"])
        fulfillment = order.get("fulfillment")
        if not isinstance(fulfillment, dict) or not fulfillment.get("fulfillmentStatus"):
            raise BadDelivery(
                f"order {order_id}: fulfillment.fulfillmentStatus is missing "
                "(listed without includedData=FULFILLMENT?)"
            )
        status = text(fulfillment["fulfillmentStatus"])
        if status == "CANCELLED":
            return Event(EventKind.CANCEL, order_id, reason="order canceled on Amazon")
        items = order.get("orderItems")
        if not items:
            return Event(EventKind.IGNORE, order_id, note="order without order items")
        afn = fulfillment.get("fulfilledBy") == "AMAZON"
        return Event(
            EventKind.ORDER,
            order_id,
            order=OrderIn(
                external_id=order_id,
                name=order_id,
                placed_at=parse_time(order.get("createdTime"), where="createdTime")
                or parse_time(order.get("lastUpdatedTime"), where="lastUpdatedTime"),
                lines=tuple(
                    _amazon_line(
                        item.get("orderItemId"),
                        (item.get("product") or {}).get("sellerSku"),
                        item.get("quantityOrdered"),
                        afn=afn,
                        where=f"orderItems[{i}]",
                    )
                    for i, item in enumerate(items)
                ),
                confirmed=status not in _POLLED_UNCONFIRMED,
            ),
        )


def _amazon_line(item_id, sku, quantity, *, afn: bool, where: str) -> LineIn:
    return LineIn(
        external_id=text(item_id),
        sku=text(sku),
        quantity=parse_quantity(quantity, where=where),
        not_stocked=AFN_WHY if afn else ("" if sku else "no SellerSKU"),
    )


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA.read_text()))


def validate_event(payload) -> None:
    errors = sorted(_validator().iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(body)"
        raise BadDelivery(f"{where}: {first.message}")


class ImsEvents:
    """Flipkart and the stores' POS, in IMS's own JSON form."""

    kind: ClassVar[str] = "ims"
    kept_headers: ClassVar[tuple[str, ...]] = ()

    def verify(self, *, headers, body: bytes, secret: str, ctx: Context) -> None:
        verify_signed(headers=headers, body=body, secret=secret, now=ctx.now)

    def delivery(self, *, headers: Mapping[str, str], body: bytes) -> Delivery:
        payload = load_json(body)
        validate_event(payload)
        return Delivery(payload["event_id"], payload["type"])

    def parse(self, *, headers, body: bytes, ctx: Context) -> Event:
        payload = load_json(body)
        validate_event(payload)
        kind = payload["type"]
        if kind == "pos.sale":
            sale = payload["sale"]
            # Lines sent as not stocked (a gift card, a service) take no stock: left out.
            lines = tuple(
                line
                for i, item in enumerate(sale["lines"])
                if not (line := _line(item, i)).not_stocked
            )
            if not lines:
                return Event(EventKind.IGNORE, note=f"sale {sale['id']} has no stocked line")
            return Event(
                EventKind.POS_SALE,
                sale=PosSaleIn(
                    external_id=sale["id"], location=sale.get("location", ""), lines=lines
                ),
            )
        order = payload["order"]
        order_id = text(order["id"])
        if kind in ("order.created", "order.updated"):
            customer = order.get("customer") or {}
            return Event(
                EventKind.ORDER,
                order_id,
                order=OrderIn(
                    external_id=order_id,
                    name=text(order.get("number")),
                    placed_at=parse_time(order.get("placed_at"), where="order.placed_at")
                    or parse_time(payload["occurred_at"], where="occurred_at"),
                    lines=tuple(_line(item, i) for i, item in enumerate(order["lines"])),
                    confirmed=order.get("confirmed", True),
                    currency=text(order.get("currency")),
                    customer_name=text(customer.get("name")),
                    customer_email=text(customer.get("email")),
                    customer_phone=text(customer.get("phone")),
                ),
            )
        if kind == "order.cancelled":
            return Event(
                EventKind.CANCEL,
                order_id,
                cancelled=tuple(_back(item) for item in order.get("lines") or []),
                reason=text(payload.get("reason")) or "cancelled on the channel",
            )
        returned = payload["return"]
        return Event(
            EventKind.RETURN,
            order_id,
            return_id=text(returned["id"]),
            returned=tuple(_back(item) for item in returned["lines"]),
            reason=text(returned.get("reason")) or "customer return",
        )


def _line(item: dict, i: int) -> LineIn:
    return LineIn(
        external_id=text(item.get("line_id") or i + 1),
        sku=item["sku"],
        quantity=item["quantity"],
        unit_price=parse_price(item.get("unit_price")),
        not_stocked="" if item.get("stocked", True) else "sent as not stocked",
    )


def _back(item: dict) -> ReturnLineIn:
    return ReturnLineIn(
        quantity=item["quantity"],
        line_external_id=text(item.get("line_id")),
        sku=text(item.get("sku")),
    )
