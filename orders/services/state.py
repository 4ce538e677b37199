"""What every order flow shares: which product a line names, the order's lock, its status, its
customer messages and the events of its life (orders.signals.order_event, which the SLA engine
hears)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Value

from catalog.models import Product, ProductAlias
from channels.models import Channel, ChannelListing, ChannelLocation
from exceptions.models import ExceptionSource
from exceptions.services import Finding, ops_exceptions_record
from ims.models import OpsTask, TaskStatus
from ims.services import ops_task_close
from orders.models import ChannelOrder, CustomerNotification, OrderLine, OrderStatus
from orders.providers.base import LineIn, ReturnLineIn
from orders.signals import EVENTS, order_event


def order_lock(order: ChannelOrder) -> tuple[ChannelOrder, list[OrderLine]]:
    """The order's row, locked (the first lock of every order flow), and its lines."""
    locked = ChannelOrder.objects.select_for_update().select_related("channel").get(pk=order.pk)
    return locked, list(locked.lines.select_related("product").order_by("position"))


def order_status(lines: Sequence[OrderLine]) -> str:
    if any(line.backordered for line in lines):
        return OrderStatus.BACKORDERED
    live = [line for line in lines if line.quantity > line.cancelled]
    if not live:
        return OrderStatus.CANCELLED
    if all(not line.reserved for line in live):
        return OrderStatus.SHIPPED
    if any(line.shipped for line in live):
        return OrderStatus.PARTIALLY_SHIPPED
    return OrderStatus.RESERVED


def order_refresh(order: ChannelOrder, lines: Sequence[OrderLine], now) -> None:
    """The order's status and completion from its lines; its backorder task closes once
    nothing waits."""
    order.status = order_status(lines)
    done = all(line.reserved == 0 and line.backordered == 0 for line in lines)
    order.completed_at = order.completed_at or (now if done else None)
    order.save(
        update_fields=[
            "status",
            "completed_at",
            "confirmed_at",
            "hold_until",
            "cancelled_at",
            "cancel_reason",
        ]
    )
    if not any(line.backordered for line in lines):
        task = OpsTask.objects.filter(
            kind="backorder", ref=f"order:{order.pk}", status=TaskStatus.OPEN
        ).first()
        if task:
            ops_task_close(task=task, resolution=f"order {order.status}", now=now)


def order_event_emit(*, order: ChannelOrder, event: str, at) -> None:
    """Tell the layers above that `event` happened to `order` at `at`, in this transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown order event '{event}' (one of {', '.join(EVENTS)})")
    if at.tzinfo is None:
        raise ValueError("order events are timed in aware UTC")
    order_event.send(ChannelOrder, order=order, event=event, at=at)


def customer_notify(*, order: ChannelOrder, kind: str, now, ref: str = "", context=None) -> None:
    """Queue a message to the customer (the WhatsApp/email sender works through the outbox);
    one per (order, kind, ref)."""
    CustomerNotification.objects.bulk_create(
        [
            CustomerNotification(
                order=order,
                kind=kind,
                ref=ref,
                context=context or {"order": order.external_id, "status": order.status},
                created_at=now,
            )
        ],
        ignore_conflicts=True,
    )


def findings_record(findings: list[Finding], *, now) -> None:
    """Raise (or refresh) order exceptions; a twin raised by a concurrent order is refreshed."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                ops_exceptions_record(findings=findings, source=ExceptionSource.ORDER, now=now)
            break
        except IntegrityError:
            if attempt:
                raise


def lines_match(
    lines: Sequence[OrderLine], wanted: Sequence[ReturnLineIn], *, available
) -> tuple[dict[int, int], dict[str, str]]:
    """Spread requested quantities over the order's lines: by the provider's line id, else by
    SKU (in line order). `available(line)` is what a line can give."""
    taken: dict[int, int] = defaultdict(int)
    problems: dict[str, str] = {}
    for index, item in enumerate(wanted):
        if item.line_external_id:
            candidates = [ln for ln in lines if ln.external_id == item.line_external_id]
        else:
            name = item.sku or item.item_id
            candidates = [
                ln for ln in lines if name in (ln.sku, ln.product.sku if ln.product else None)
            ]
        if not candidates:
            problems[f"lines[{index}]"] = (
                f"'{item.line_external_id or item.sku or item.item_id}' is not a line of this order"
            )
            continue
        need = item.quantity
        for line in candidates:
            give = min(need, available(line) - taken[line.pk])
            if give > 0:
                taken[line.pk] += give
                need -= give
        if need:
            problems[f"lines[{index}].quantity"] = f"{need} more than the order holds for it"
    return dict(taken), problems


@dataclass(frozen=True)
class LinesRead:
    """What receiving lines reads before it locks anything (lines_read)."""

    product_ids: list[int | None]  # per line, None for a name IMS does not know
    location_ids: list[int]  # the channel's, in preference order
    known_order_id: int | None = None  # the order of that external id, if stored already


def lines_read(channel: Channel, lines: Sequence[LineIn], *, external_id: str = "") -> LinesRead:
    """Each line's product (a channel alias of its SKU or item id, a global alias, its SKU;
    a line naming no SKU, the product of the channel's listing whose external id is its item
    id: Lightspeed names products by UUID), the channel's locations and, given an order's
    `external_id`, whether it is known: one query (a UNION ALL of plain selects)."""
    names = sorted({n for line in lines for n in (line.sku, line.item_id) if n})
    skus = sorted({line.sku for line in lines if line.sku})
    items = sorted({line.item_id for line in lines if line.item_id and not line.sku})
    text, zero = Value(""), Value(0)

    def rows(queryset, kind: int, scope=text, value=text, pk="pk", position=zero):
        return queryset.order_by().values_list(Value(kind), scope, value, pk, position)

    parts = [
        rows(
            ChannelLocation.objects.filter(channel=channel),
            0,
            pk="location_id",
            position="position",
        )
    ]
    if names:
        aliases = ProductAlias.objects.filter(scope__in=(channel.code, ""), value__in=names)
        parts.append(rows(aliases, 1, "scope", "value", "product_id"))
    if skus:
        parts.append(rows(Product.objects.filter(sku__in=skus), 2, value="sku"))
    if external_id:
        parts.append(rows(ChannelOrder.objects.filter(channel=channel, external_id=external_id), 3))
    if items:
        listed_rows = ChannelListing.objects.filter(
            channel=channel, external_id__in=items, product__isnull=False
        )
        parts.append(rows(listed_rows, 4, value="external_id", pk="product_id"))
    locations: list[tuple[int, int]] = []
    aliased: dict[tuple[str, str], int] = {}
    by_sku: dict[str, int] = {}
    listed: dict[str, int] = {}
    known = None
    for kind, scope, value, pk, position in parts[0].union(*parts[1:], all=True).order_by():
        if kind == 0:
            locations.append((position, pk))
        elif kind == 1:
            aliased[(scope, value)] = pk
        elif kind == 2:
            by_sku[value] = pk
        elif kind == 3:
            known = pk
        else:
            listed[value] = pk
    found = []
    for line in lines:
        pid = None
        for scope in (channel.code, ""):
            for name in (line.sku, line.item_id):
                if name and pid is None:
                    pid = aliased.get((scope, name))
        if pid is None and not line.sku and line.item_id:
            pid = listed.get(line.item_id)
        found.append(pid or by_sku.get(line.sku))
    return LinesRead(found, [pk for _, pk in sorted(locations)], known)


def products_for_lines(channel: Channel, lines: Sequence[LineIn]) -> list[int | None]:
    """Each line's product: a channel alias of its SKU or item id, a global alias, its SKU."""
    return lines_read(channel, lines).product_ids


def channel_location_ids(channel: Channel) -> list[int]:
    return list(
        ChannelLocation.objects.filter(channel=channel)
        .order_by("position")
        .values_list("location_id", flat=True)
    )
