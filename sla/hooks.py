"""The seam between orders and the SLA engine.

The order flow calls `order_event` once for every event in an order's life, inside the
transaction that records it, so an SLA clock starts or stops exactly when the order
changes (and not at all if that change is rolled back): reservation starts the
acknowledgement and dispatch clocks, dispatch stops them and starts delivery confirmation,
delivery stops that, a customer return starts return processing, and a cancellation stops
every clock of the order (sla.services.order_event_record). A new order's reservation, on
the hot webhook path, uses the batched form below (order_reserved_reads / _writes).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal, get_args

OrderEvent = Literal[
    "reserved",  # the order landed and holds its stock at its fulfilment location
    "confirmed",  # paid / accepted on the channel
    "dispatched",  # units left (partial shipments call it once each)
    "delivered",  # the carrier or channel confirmed delivery
    "cancelled",
    "return_requested",  # a customer return reached IMS (units quarantined)
]
EVENTS: tuple[str, ...] = get_args(OrderEvent)

log = logging.getLogger("ims.sla")


def order_event(*, order, event: OrderEvent, at: dt.datetime) -> None:
    """Record that `event` happened to `order` at `at` (aware UTC)."""
    from sla.services import order_event_record

    if event not in EVENTS:
        raise ValueError(f"unknown order event '{event}' (one of {', '.join(EVENTS)})")
    if at.tzinfo is None:
        raise ValueError("order events are timed in aware UTC")
    log.debug("order %s %s at %s", order.pk, event, at.isoformat())
    order_event_record(order=order, event=event, at=at)


# `order_event(order=…, event="reserved", at=…)` in two halves, for the webhook path that
# sends its statements in batches (ims.rows): the reads go with the order's first round
# trip, the writes with its last. Same clocks, no round trip of their own.


def order_reserved_reads(*, channel_id: int) -> list:
    """The statements that read what starting a new order's clocks needs."""
    from sla.services import STARTS, clocks_start_reads

    return clocks_start_reads(channel_id=channel_id, kinds=STARTS["reserved"])


def order_reserved_writes(*, order, at: dt.datetime, rows) -> list:
    """The statements that start the clocks of `order` (just reserved, its location set),
    given the rows the reads returned, in order."""
    from sla.services import clocks_start_writes

    if at.tzinfo is None:
        raise ValueError("order events are timed in aware UTC")
    log.debug("order %s reserved at %s", order.pk, at.isoformat())
    return clocks_start_writes(order=order, at=at, rows=rows)
