"""A shipped order to return: what the customer-return tests start from."""

from __future__ import annotations

from django.utils import timezone

from channels.models import Channel
from orders.models import ChannelOrder
from orders.providers.base import LineIn, OrderIn
from orders.services.fulfilment import order_dispatch
from orders.services.intake import order_receive


def shipped_order(channel: str, external_id: str, lines: list[tuple[str, int]]) -> ChannelOrder:
    """An order of `channel` for these (SKU, units), reserved and shipped whole."""
    now = timezone.now()
    order, *_ = order_receive(
        channel=Channel.objects.get(code=channel),
        incoming=OrderIn(
            external_id=external_id,
            name=f"#{external_id}",
            placed_at=now,
            lines=tuple(
                LineIn(external_id=str(i), sku=sku, quantity=q)
                for i, (sku, q) in enumerate(lines, 1)
            ),
        ),
        now=now,
    )
    order_dispatch(order=order, items=lines)
    return ChannelOrder.objects.get(pk=order.pk)
