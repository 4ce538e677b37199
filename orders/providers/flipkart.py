"""Flipkart: its orders are polled (Flipkart has no webhooks IMS can receive), and IMS's own
signed form still works for a relay that pushes them.

- Polled (`polled`): a shipment as the Orders/Shipments API v3 lists it
  (`POST /v3/shipments/filter`, `channels.adapters.flipkart.FlipkartAdapter.orders_changed`;
  fields per the SDK's `docs/Shipment.md` and `docs/OrderItem.md`, cited there):
  `shipmentId`, `updatedAt`, `orderItems[]` with `orderItemId`, `orderId`, `sku`, `quantity`
  (Flipkart writes `1.0`), `status` (APPROVED … READY_TO_DISPATCH, CANCELLED, …),
  `orderDate`, `cancellationReason`, `priceComponents.sellingPrice` (rupees).
- Signed (`verify` / `delivery` / `parse`): IMS's own JSON form with `X-IMS-Signature`
  (orders.providers.ims), unchanged.

An IMS order is one Flipkart **shipment** (external id: its `shipmentId`; name: its order id,
`OD…`, or ids): Flipkart splits one order's items into shipments, each packed, labelled,
dispatched and cancelled on its own, and a later shipment of the same order would otherwise
add lines to an order IMS has already received. The order's lines are the shipment's items
(line id: `orderItemId`; product: the seller `sku`, else the `fsn`, Flipkart's product id,
as the channel's listings name it). Currency: INR (Flipkart's marketplace; the channel's currency).
`priceComponents` do not say whether they are per unit or for the item's quantity, so a unit
price is recorded only for a single unit.

Cancellation: items whose `status` is CANCELLED. All of them: the shipment is cancelled (one
IMS has not seen is recorded as cancelled). Some: those items are cancelled, as totals
(Event.cancelled_totals): a shipment listed again changes nothing; one IMS has not seen is
received without them. Flipkart cancels an item whole (its `cancellationGroupId`).
`hold` (Flipkart verifying the shipment) holds no less stock: the order is confirmed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from orders.providers.base import (
    BadDelivery,
    Context,
    Event,
    EventKind,
    LineIn,
    OrderIn,
    ReturnLineIn,
    load_json,
    parse_price,
    parse_quantity,
    parse_time,
    printable,
    text,
)
from orders.providers.ims import ImsEvents

CANCELLED = "CANCELLED"
CURRENCY = "INR"


class Flipkart(ImsEvents):
    kind: ClassVar[str] = "flipkart"

    def polled(self, *, body: bytes, ctx: Context) -> Event:
        shipment = load_json(body)
        if not isinstance(shipment, dict):
            raise BadDelivery("a listed shipment is not a JSON object")
        shipment_id = text(shipment.get("shipmentId"))
        if not shipment_id:
            raise BadDelivery("a listed shipment has no `shipmentId`")
        items = shipment.get("orderItems")
        if not isinstance(items, list) or not items:
            raise BadDelivery(f"shipment {printable(shipment_id)} has no `orderItems`")
        if not all(isinstance(item, dict) for item in items):
            raise BadDelivery(f"shipment {printable(shipment_id)}: an order item is no object")
        order = _order(shipment_id, shipment, items)
        cancelled = [item for item in items if text(item.get("status")).upper() == CANCELLED]
        if not cancelled:
            return Event(EventKind.ORDER, shipment_id, order=order)
        reason = "cancelled on Flipkart" + "".join(
            f": {text(item.get('cancellationReason'))}"
            for item in cancelled[:1]
            if item.get("cancellationReason")
        )
        if len(cancelled) == len(items):
            return Event(EventKind.CANCEL, shipment_id, order=order, reason=reason)
        return Event(
            EventKind.CANCEL,
            shipment_id,
            order=order,
            cancelled=tuple(
                ReturnLineIn(
                    quantity=parse_quantity(item.get("quantity"), where=f"orderItems[{i}]"),
                    line_external_id=_item_id(item, i),
                    sku=text(item.get("sku")),
                )
                for i, item in enumerate(items)
                if text(item.get("status")).upper() == CANCELLED
            ),
            cancelled_totals=True,
            reason=reason,
        )


def _item_id(item: dict, i: int) -> str:
    return text(item.get("orderItemId")) or str(i + 1)


def _order(shipment_id: str, shipment: dict, items: list[dict]) -> OrderIn:
    order_ids = sorted({text(item.get("orderId")) for item in items if item.get("orderId")})
    placed = [
        when
        for i, item in enumerate(items)
        if (when := parse_time(item.get("orderDate"), where=f"orderItems[{i}].orderDate"))
    ]
    return OrderIn(
        external_id=shipment_id,
        name=", ".join(order_ids) or shipment_id,
        placed_at=min(placed)
        if placed
        else parse_time(shipment.get("updatedAt"), where="updatedAt"),
        lines=tuple(_line(item, i) for i, item in enumerate(items)),
        confirmed=True,
        currency=CURRENCY,
    )


def _line(item: dict, i: int) -> LineIn:
    quantity = parse_quantity(item.get("quantity"), where=f"orderItems[{i}]")
    price = parse_price((item.get("priceComponents") or {}).get("sellingPrice"))
    return LineIn(
        external_id=_item_id(item, i),
        sku=text(item.get("sku")),
        item_id=text(item.get("fsn") or item.get("listingId")),
        quantity=quantity,
        unit_price=price if quantity == 1 and isinstance(price, Decimal) else None,
        not_stocked="" if item.get("sku") or item.get("fsn") or item.get("listingId") else "no SKU",
        name=text(item.get("title")),
    )
