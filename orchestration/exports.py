"""CSV exports of IMS objects (`manage.py export WHAT`); the pages' CSV downloads use the same rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from channels.models import Channel
from ims.audit_csv import AUDIT_COLUMNS, audit_rows
from ims.db import by_bytes
from inventory.models import STATES, StockLevel
from orders.selectors import MOVEMENT_COLUMNS, ORDER_COLUMNS, movement_rows, order_rows
from reconcile.reports import EXCEPTION_COLUMNS, exception_rows

STOCK_COLUMNS = ("sku_id", "location", *STATES)
CHANNEL_COLUMNS = ("code", "kind", "sync_mode", "status", "pause_reason")


def stock_rows() -> Iterator[list]:
    levels = (
        StockLevel.objects.select_related("product", "location")
        .order_by(by_bytes("product__sku"), by_bytes("location__code"))
        .iterator(chunk_size=5000)
    )
    for level in levels:
        yield [level.product.sku, level.location.code, *(getattr(level, s) for s in STATES)]


def channel_rows() -> Iterator[list]:
    for ch in Channel.objects.order_by(by_bytes("code")):
        yield [ch.code, ch.kind, ch.sync_mode, ch.status, ch.pause_reason]


EXPORTS: dict[str, Callable[[], tuple[tuple[str, ...], Iterable]]] = {
    "stock": lambda: (STOCK_COLUMNS, stock_rows()),
    "channels": lambda: (CHANNEL_COLUMNS, channel_rows()),
    "exceptions": lambda: (EXCEPTION_COLUMNS, exception_rows()),
    "audit": lambda: (AUDIT_COLUMNS, audit_rows()),
    "orders": lambda: (ORDER_COLUMNS, order_rows()),
    "movements": lambda: (MOVEMENT_COLUMNS, movement_rows()),
}
