"""What orders tell the layers above them, without importing them.

`order_event` is sent once for every event in an order's life, inside the transaction that
records it (orders.services.state.order_event_emit), with `order`, `event` (one of EVENTS) and
`at` (aware UTC). The SLA engine listens (sla.apps): its clocks start or stop exactly when the
order changes, and not at all if that change is rolled back.
"""

from typing import Literal, get_args

from django.dispatch import Signal

OrderEvent = Literal[
    "reserved",  # the order landed and holds its stock at its fulfilment location
    "confirmed",  # paid / accepted on the channel
    "dispatched",  # units left (partial shipments send it once each)
    "delivered",  # the carrier or channel confirmed delivery
    "cancelled",
    "return_requested",  # a customer return reached IMS (units quarantined)
]
EVENTS: tuple[str, ...] = get_args(OrderEvent)

order_event = Signal()
