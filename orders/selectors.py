"""Reads for orders: the list the API and the export share, and the CSV rows."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.cache import cache
from django.db.models import Prefetch, QuerySet

from channels.models import Channel
from ims.db import by_bytes
from inventory.models import Movement
from orders.models import ChannelOrder, OrderLine

ORDER_COLUMNS = (
    "channel",
    "external_id",
    "status",
    "location",
    "sku_id",
    "quantity",
    "reserved",
    "shipped",
)
MOVEMENT_COLUMNS = (
    "id",
    "created_at",
    "sku_id",
    "location",
    "from_state",
    "to_state",
    "quantity",
    "reason",
    "ref",
    "actor",
    "note",
    "handed_to_erp_at",
)


def order_list() -> QuerySet[ChannelOrder]:
    lines = OrderLine.objects.select_related("product", "location").order_by("position")
    return (
        ChannelOrder.objects.select_related("channel", "location")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("-received_at", "-id")
    )


def order_rows() -> Iterator[list]:
    """One row per order line (PRODUCT.md "Orders export"); `sku_id` is the IMS SKU when
    the line names a known product, else what the channel sent."""
    lines = (
        OrderLine.objects.select_related("order__channel", "order__location", "product", "location")
        .order_by(by_bytes("order__channel__code"), by_bytes("order__external_id"), "position")
        .iterator(chunk_size=5000)
    )
    for line in lines:
        location = line.location or line.order.location
        yield [
            line.order.channel.code,
            line.order.external_id,
            line.status,
            location.code if location else "",
            line.product.sku if line.product else line.sku,
            line.quantity,
            line.reserved,
            line.shipped,
        ]


def movement_rows() -> Iterator[list]:
    movements = (
        Movement.objects.select_related("product", "location", "actor")
        .order_by("id")
        .iterator(chunk_size=5000)
    )
    for m in movements:
        yield [
            m.pk,
            m.created_at.isoformat(),
            m.product.sku,
            m.location.code,
            m.from_state,
            m.to_state,
            m.quantity,
            m.reason,
            m.ref,
            m.actor.get_username() if m.actor else "",
            m.note,
            m.handed_to_erp_at.isoformat() if m.handed_to_erp_at else "",
        ]


# Every delivery starts by finding the channel its URL names. The webhook path reads only the
# channel's key, code, kind and base URL, which change rarely, so the row is kept in Django's
# cache for this long (a change saved in the same process drops it at once: see
# OrdersConfig.ready) and a delivery costs no round trip for it.
CHANNEL_SECONDS = 5


def _channel_key(code: str) -> str:
    return f"ims:webhook-channel:{code}"


def webhook_channel(code: str) -> Channel | None:
    """The channel a webhook URL names (a copy: the cache gives each caller its own), kept for
    CHANNEL_SECONDS; a code that names none is not kept."""
    channel = cache.get(_channel_key(code))
    if channel is None:
        channel = Channel.objects.filter(code=code).first()
        if channel is not None:
            cache.set(_channel_key(code), channel, CHANNEL_SECONDS)
    return channel


def webhook_channels_forget(*, instance: Channel, **kwargs) -> None:
    """Drop the kept channel (it was saved or deleted in this process)."""
    cache.delete(_channel_key(instance.code))
