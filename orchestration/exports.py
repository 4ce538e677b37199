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


def stock_rows() -> Iterator[tuple]:
    return (
        StockLevel.objects.order_by(by_bytes("product__sku"), by_bytes("location__code"))
        .values_list("product__sku", "location__code", *STATES)
        .iterator(chunk_size=5000)
    )


def channel_rows() -> Iterator[tuple]:
    return Channel.objects.order_by(by_bytes("code")).values_list(*CHANNEL_COLUMNS).iterator()


EXPORTS: dict[str, Callable[[], tuple[tuple[str, ...], Iterable]]] = {
    "stock": lambda: (STOCK_COLUMNS, stock_rows()),
    "channels": lambda: (CHANNEL_COLUMNS, channel_rows()),
    "exceptions": lambda: (EXCEPTION_COLUMNS, exception_rows()),
    "audit": lambda: (AUDIT_COLUMNS, audit_rows()),
    "orders": lambda: (ORDER_COLUMNS, order_rows()),
    "movements": lambda: (MOVEMENT_COLUMNS, movement_rows()),
}
