"""The seam between orders and the SLA engine.

The order flow calls `order_event` once for every event in an order's life, inside the
transaction that records it, so an SLA clock starts or stops exactly when the order
changes (and not at all if that change is rolled back). The SLA engine (a later issue)
fills this in: acknowledgement, dispatch, delivery-confirmation and return-processing
clocks, their escalation ladders and breach tasks. Until then an event is checked and
logged, and nothing else happens.
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
    if event not in EVENTS:
        raise ValueError(f"unknown order event '{event}' (one of {', '.join(EVENTS)})")
    if at.tzinfo is None:
        raise ValueError("order events are timed in aware UTC")
    log.debug("order %s %s at %s", order.pk, event, at.isoformat())
