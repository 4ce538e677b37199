"""A provider's event applied: above all a new order, received and reserved at once.

The webhook order path reads top to bottom here (after orders.services.inbox stored the
delivery): order_event_apply → order_receive → inventory.services.stock (lock the levels in key
order, move them) → the order's follow-ups (audit, the customer's message, the SLA clocks, an
oversell or an unknown SKU for ops).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from catalog.models import Product
from channels.models import Channel, ChannelStatus
from channels.services import channel_pause
from exceptions.models import Discrepancy
from exceptions.services import Finding
from ims.audit import audit_record
from ims.notify import notify_roles
from ims.roles import Role
from ims.services import ops_task_open
from ims.tasks import enqueue
from inventory.models import StockLevel
from inventory.services.stock import stock_levels_lock, stock_reserve
from orders.errors import OrderNotFound
from orders.models import ChannelOrder, OrderLine, OrderStatus
from orders.providers.base import Event, EventKind, LineIn, OrderIn, ReturnLineIn
from orders.services.pos import pos_sale_record, pos_sale_void
from orders.services.reservation import order_cancel, unknown_skus_refresh
from orders.services.returns import customer_return_record
from orders.services.state import (
    customer_notify,
    findings_record,
    lines_read,
    order_event_emit,
    order_lock,
    order_refresh,
    order_status,
)


def order_event_apply(*, channel: Channel, event: Event, now) -> tuple[str, ChannelOrder | None]:
    """Do what a provider event means, in the caller's transaction; returns (outcome, order)."""
    if event.kind == EventKind.IGNORE:
        return f"ignored: {event.note}", None
    if event.kind == EventKind.UNPROVEN:
        return _unproven_record(channel=channel, event=event)
    if event.kind == EventKind.POS_SALE:
        if event.order_external_id:
            # Units of an order IMS received as an order move with that order, not again.
            order = ChannelOrder.objects.filter(
                channel=channel, external_id=event.order_external_id
            ).first()
            if order is not None:
                return (
                    f"ignored: sale {event.sale.external_id} is of order "
                    f"{event.order_external_id}, received as order {order.pk}",
                    order,
                )
        outcome = ""
        if event.sale.lines:
            sale, created = pos_sale_record(channel=channel, incoming=event.sale, now=now)
            outcome = f"POS sale {sale.external_id} {sale.status}{'' if created else ' (known)'}"
        if event.sale.returned:
            outcome = "; ".join(filter(None, [outcome, _pos_returns_told(channel, event.sale)]))
        return outcome[:255], None
    if event.kind == EventKind.POS_VOID:
        sale, done = pos_sale_void(channel=channel, incoming=event.sale, now=now)
        return f"POS sale {sale.external_id} {done}"[:255], None
    if event.kind == EventKind.STOCK_CHANGED:
        enqueue("orders.tasks.pos_sales_read_task", channel.pk)
        return f"read the channel's sales: {event.note}", None
    if event.kind == EventKind.ORDER:
        if not _holds_stock(event.order):
            return _nothing_stocked(event.order), None
        order, created = order_receive(channel=channel, incoming=event.order, now=now)
        if created:
            return f"order {order.pk} received: {order.status}", order
        return order_update(order=order, incoming=event.order, now=now), order
    order = ChannelOrder.objects.filter(
        channel=channel, external_id=event.order_external_id
    ).first()
    if order is not None and order.not_stocked:
        event = _stocked_only(event, order)
        if event.kind == EventKind.IGNORE:
            return f"ignored: {event.note}", order
    if event.kind == EventKind.CANCEL:
        if order is None:
            if event.order is None:
                return f"ignored: cancellation of unknown order {event.order_external_id}", None
            partial = event.cancelled and all(c.line_external_id for c in event.cancelled)
            live = _without(event.order, event.cancelled) if partial else None
            if live is not None and _holds_stock(live):
                # Some lines cancelled before IMS saw the order: the rest is received as usual.
                order, _ = order_receive(channel=channel, incoming=live, now=now)
                return f"order {order.pk} received: {order.status} (lines cancelled before)", order
            if not _holds_stock(event.order):
                return _nothing_stocked(event.order), None
            order, _ = order_receive(channel=channel, incoming=event.order, now=now, cancelled=True)
            return f"order {order.pk} recorded as cancelled", order
        lines = event.cancelled or None
        if lines and event.cancelled_totals:
            lines = _cancelled_left(order, event.cancelled)
            if not lines:
                return "nothing left to cancel", order
        changed = order_cancel(order=order, reason=event.reason, lines=lines, now=now)
        return (f"order {order.pk} cancelled" if changed else "nothing left to cancel"), order
    if event.kind == EventKind.RETURN:
        if order is None:
            raise OrderNotFound(
                f"order {event.order_external_id} of {channel.code} is not known (yet)"
            )
        returned = customer_return_record(
            order=order,
            external_id=event.return_id,
            lines=event.returned,
            whole_order=event.whole_order,
            reason=event.reason,
            now=now,
        )
        if event.cancelled:
            order_cancel(order=order, reason=event.reason, lines=event.cancelled, now=now)
        return (f"return {returned.pk} recorded" if returned else "nothing to return"), order
    raise ValueError(f"unknown event kind {event.kind}")


def _without(incoming: OrderIn, cancelled: Sequence[ReturnLineIn]) -> OrderIn:
    """The order without the units cancelled of its lines (named by line id)."""
    gone: dict[str, int] = {}
    for item in cancelled:
        if item.line_external_id:
            gone[item.line_external_id] = gone.get(item.line_external_id, 0) + item.quantity
    lines = []
    for line in incoming.lines:
        left = line.quantity - gone.pop(line.external_id, 0)
        if left > 0:
            lines.append(replace(line, quantity=left))
    return replace(incoming, lines=tuple(lines))


def _cancelled_left(order: ChannelOrder, cancelled: Sequence[ReturnLineIn]) -> list[ReturnLineIn]:
    """Totals cancelled on the channel (Event.cancelled_totals) as what is left to cancel: a
    line's units cancelled in IMS already are not cancelled again, and a line the order does
    not have (cancelled before IMS received the order) has nothing to cancel."""
    done = {line.external_id: line.cancelled for line in order.lines.all() if line.external_id}
    left = []
    for item in cancelled:
        if not item.line_external_id:
            left.append(item)
        elif item.line_external_id in done:
            more = item.quantity - done[item.line_external_id]
            if more > 0:
                left.append(replace(item, quantity=more))
    return left


def _pos_returns_told(channel: Channel, sale) -> str:
    """Units a POS sale took back (a return line): IMS does not count them back on its own
    (their state, sellable or to inspect, is the store's call); ops are told."""
    product_ids = lines_read(channel, sale.returned).product_ids
    skus = dict(
        Product.objects.filter(pk__in=[p for p in product_ids if p]).values_list("pk", "sku")
    )
    described = ", ".join(
        f"{skus.get(pid) or ln.sku or ln.item_id} × {ln.quantity}"
        for pid, ln in zip(product_ids, sale.returned, strict=True)
    )
    notify_roles(
        Role.OPS,
        kind="pos_return",
        subject=f"{channel.code}: POS sale {sale.external_id} took units back",
        body=f"{described} came back at the store: count them in (customer return) if they "
        "are to be sold again.",
    )
    return f"return lines not counted back ({described}); ops told"


def _stocked(line: LineIn) -> bool:
    """A line to reserve: one the channel does not mark as no stocked product, naming one."""
    return not line.not_stocked and bool(line.sku or line.item_id)


def _holds_stock(incoming: OrderIn) -> bool:
    return any(_stocked(line) for line in incoming.lines)


def _nothing_stocked(incoming: OrderIn) -> str:
    """The outcome of an order with nothing for IMS to hold (a gift card, a tip): recorded in
    the delivery's outcome only, no order."""
    return (
        f"ignored: order {incoming.external_id} has no stocked line ({_described(incoming.lines)})"
    )


def _not_stocked_why(line: LineIn) -> str:
    return line.not_stocked or "names no product"


def _described(lines: Sequence[LineIn]) -> str:
    return ", ".join(
        f"{line.name or line.sku or line.item_id or line.external_id} × {line.quantity}"
        f" ({_not_stocked_why(line)})"
        for line in lines
    )


def _stocked_only(event: Event, order: ChannelOrder) -> Event:
    """The event without the units it names of the order's lines not stocked (a refunded
    gift card or tip changes no stock); an event left with none changes nothing of them."""
    skipped = {line["external_id"] for line in order.not_stocked if line.get("external_id")}
    names = {line["sku"] for line in order.not_stocked if line.get("sku")}
    names -= set(order.lines.filter(sku__in=names).values_list("sku", flat=True))

    def kept(lines: tuple[ReturnLineIn, ...]) -> tuple[ReturnLineIn, ...]:
        return tuple(
            ln
            for ln in lines
            if not (
                ln.line_external_id in skipped
                or (not ln.line_external_id and (ln.sku or ln.item_id) in names)
            )
        )

    cancelled, returned = kept(event.cancelled), kept(event.returned)
    if (cancelled, returned) == (event.cancelled, event.returned):
        return event
    if not cancelled and not returned and not event.whole_order:
        return replace(event, kind=EventKind.IGNORE, note="only lines not stocked")
    return replace(event, cancelled=cancelled, returned=returned)


def _unproven_record(*, channel: Channel, event: Event) -> tuple[str, ChannelOrder | None]:
    """A change the signed body cannot prove: nothing is released; if the order is live,
    ops are told to check it on the channel (and cancel it in IMS if it is gone)."""
    order = ChannelOrder.objects.filter(
        channel=channel, external_id=event.order_external_id
    ).first()
    if order is None or order.cancelled_at:
        state = "not known" if order is None else "cancelled already"
        return f"ignored: {event.note} (the order is {state})"[:255], order
    notify_roles(
        Role.OPS,
        kind="webhook_unproven",
        subject=f"{channel.code}: check order {event.order_external_id} on the channel",
        body=f"{event.note}. Its stock is still held; if the order is gone, cancel it in IMS.",
    )
    return f"recorded, nothing released: {event.note}; ops told"[:255], order


# ---------------------------------------------------------------------------
# Receiving an order: instant reservation


def order_receive(
    *, channel: Channel, incoming: OrderIn, now, cancelled: bool = False, actor=None
) -> tuple[ChannelOrder, bool]:
    """Record a new order and reserve its lines at once (each fully or not at all, at the one
    fulfilment location); lines it cannot reserve wait as backorders and raise an oversell.
    Returns (order, created); an order already known is returned untouched.

    In the caller's transaction, top to bottom: the lines' products and the channel's
    locations are read (one query); the levels of those products there are locked in key
    order (stock_levels_lock); the fulfilment location is the one that covers the most lines;
    the order and its lines are inserted; the reserved units move available → reserved
    (stock_reserve: the levels, the movements, the channels' push queued); the audit
    event, the customer's message and the SLA clocks (the `reserved` event) follow. A
    concurrent delivery of the same order fails on the order's unique key (IntegrityError):
    the caller's transaction rolls back and it finds the order known.

    Lines the channel marks as no stocked product (LineIn.not_stocked) are kept on the
    order's row (`not_stocked`), never reserved. A line naming a SKU IMS does not know is
    held (backordered, with no product) and raises Unknown_SKU for ops (_unknown_skus): it
    never pauses the channel; its other lines are reserved as usual. Only a product IMS
    knows and could not reserve is an oversell (_oversell: the channel is paused).
    """
    # No savepoint of its own: inside the delivery's transaction a failure undoes it all.
    with transaction.atomic(savepoint=False):
        external_id = incoming.external_id[:128]
        stocked = [line for line in incoming.lines if _stocked(line)]
        read = lines_read(channel, stocked, external_id=external_id)
        if read.known_order_id is not None:
            return ChannelOrder.objects.get(pk=read.known_order_id), False
        product_ids, location_ids = read.product_ids, read.location_ids
        wanted = [(pid, line.quantity) for pid, line in zip(product_ids, stocked, strict=True)]
        levels = {}
        location_id, covered = (location_ids[0] if location_ids else None), []
        if not cancelled:
            levels = stock_levels_lock(
                pairs=[(pid, loc) for pid in set(product_ids) if pid for loc in location_ids]
            )
            location_id, covered = fulfilment_location(
                wanted, location_ids, {pair: level.available for pair, level in levels.items()}
            )
        lines = [
            OrderLine(
                position=position,
                external_id=line.external_id[:128],
                sku=(line.sku or line.item_id)[:255],
                product_id=pid,
                location_id=location_id,
                quantity=line.quantity,
                reserved=line.quantity if position in covered else 0,
                backordered=0 if cancelled or position in covered else line.quantity,
                cancelled=line.quantity if cancelled else 0,
                unit_price=line.unit_price,
            )
            for position, (pid, line) in enumerate(zip(product_ids, stocked, strict=True))
        ]
        order = ChannelOrder.objects.create(
            channel=channel,
            external_id=external_id,
            name=incoming.name[:128],
            status=OrderStatus.CANCELLED if cancelled else order_status(lines),
            location_id=location_id,
            currency=incoming.currency[:3],
            customer_name=incoming.customer_name[:255],
            customer_email=incoming.customer_email[:255],
            customer_phone=incoming.customer_phone[:32],
            placed_at=incoming.placed_at or now,
            received_at=now,
            confirmed_at=now if incoming.confirmed else None,
            hold_until=None if incoming.confirmed or cancelled else _hold_until(now),
            cancelled_at=now if cancelled else None,
            cancel_reason="cancelled before IMS saw it" if cancelled else "",
            completed_at=now if cancelled else None,
            not_stocked=[_not_stocked_record(ln) for ln in incoming.lines if not _stocked(ln)],
        )
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        stock_reserve(
            lines=[(line.product_id, location_id, line.reserved) for line in lines],
            levels=levels,
            ref=f"order:{order.pk}",
            actor=actor,
            now=now,
        )
        after = {
            "status": order.status,
            "location": location_id,
            "lines": [[ln.sku, ln.quantity, ln.reserved, ln.backordered] for ln in lines],
        }
        if order.not_stocked:
            after["not_stocked"] = order.not_stocked
        audit_record(
            actor=actor,
            action="order_receive",
            obj=order,
            after=after,
            reason=f"{channel.code} order {order.external_id}",
            at=now,
        )
        if cancelled:
            return order, True
        customer_notify(order=order, kind="order_received", now=now)
        order_event_emit(order=order, event="reserved", at=now)
        short = [line for line in lines if line.backordered and line.product_id]
        if short:
            _oversell(channel=channel, order=order, lines=short, location_ids=location_ids, now=now)
        unknown = [line for line in lines if line.product_id is None]
        if unknown:
            _unknown_skus(channel=channel, order=order, lines=unknown, now=now)
        return order, True


def fulfilment_location(
    wanted: Sequence[tuple[int | None, int]],
    location_ids: Sequence[int],
    available: Mapping[tuple[int, int], int],
) -> tuple[int | None, list[int]]:
    """PRODUCT.md "Fulfilment location": the channel location that fully covers the most
    lines (ties to the earlier in its list); returns it and the indexes of lines it covers.
    `available`: units by (product, location); a pair it lacks has none."""
    best: tuple[int | None, list[int]] = (location_ids[0] if location_ids else None, [])
    for location_id in location_ids:
        left: dict[int, int] = {}
        covered = []
        for index, (product_id, quantity) in enumerate(wanted):
            if product_id is None:
                continue
            have = left.get(product_id, available.get((product_id, location_id), 0))
            if have >= quantity:
                covered.append(index)
                have -= quantity
            left[product_id] = have
        if len(covered) > len(best[1]):
            best = (location_id, covered)
    return best


def _hold_until(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(hours=settings.IMS_UNCONFIRMED_HOLD_HOURS)


def _not_stocked_record(line: LineIn) -> dict:
    """A line that is no stocked product, as kept on its order (ChannelOrder.not_stocked)."""
    return {
        "external_id": line.external_id[:128],
        "name": line.name[:255],
        "sku": (line.sku or line.item_id)[:255],
        "quantity": line.quantity,
        "unit_price": None if line.unit_price is None else str(line.unit_price),
        "why": _not_stocked_why(line),
    }


def _unknown_skus(*, channel: Channel, order: ChannelOrder, lines: list[OrderLine], now) -> None:
    """Lines naming a SKU IMS does not know: the order holds them (backordered, no product),
    they raise Unknown_SKU (unknown_skus_refresh), and an admin task asks to add the product
    or an alias and fill, or cancel. The channel is not paused: it sold no stock IMS has."""
    unknown_skus_refresh(channel_id=channel.pk, skus={ln.sku for ln in lines}, now=now)
    described = ", ".join(f"{ln.sku} × {ln.backordered}" for ln in lines)
    audit_record(
        actor=None,
        action="order_unknown_sku",
        obj=order,
        after={"held": {ln.sku: ln.backordered for ln in lines}},
        reason=f"{channel.code} order {order.external_id} names SKUs IMS does not know",
        at=now,
    )
    ops_task_open(
        kind="backorder",
        title=f"{channel.code} order {order.external_id}: unknown SKU {described} — add the "
        "product or an alias and fill, or cancel",
        ref=f"order:{order.pk}",
        role=Role.ADMIN.value,
        location=order.location,
        now=now,
    )


def _oversell(*, channel: Channel, order: ChannelOrder, lines: list[OrderLine], location_ids, now):
    """The channel sold a product IMS manages and did not have: Oversell_Risk, channel
    paused, a decision due."""
    products = dict(
        Product.objects.filter(pk__in={ln.product_id for ln in lines if ln.product_id}).values_list(
            "pk", "sku"
        )
    )
    findings = []
    for product_id in {ln.product_id for ln in lines if ln.product_id}:
        waiting = OrderLine.objects.filter(
            order__channel=channel, product_id=product_id, backordered__gt=0
        ).aggregate(n=Sum("backordered"))["n"]
        available = (
            StockLevel.objects.filter(
                product_id=product_id, location_id__in=location_ids
            ).aggregate(n=Sum("available"))["n"]
            or 0
        )
        findings.append(
            Finding(
                products[product_id],
                Discrepancy.OVERSELL_RISK,
                str(waiting),
                str(available),
                channel_id=channel.pk,
                product_id=product_id,
                location_id=order.location_id,
                oversell=True,
            )
        )
    findings_record(findings, now=now)
    described = ", ".join(f"{ln.sku} × {ln.backordered}" for ln in lines)
    if Channel.objects.filter(pk=channel.pk, status=ChannelStatus.ACTIVE).exists():
        channel_pause(
            channel=channel,
            reason=f"Oversell: order {order.external_id} could not be reserved ({described})",
            now=now,
        )
    ops_task_open(
        kind="backorder",
        title=f"{channel.code} order {order.external_id}: backordered {described} — fill or cancel",
        ref=f"order:{order.pk}",
        role=Role.ADMIN.value,
        location=order.location,
        now=now,
    )


def order_update(*, order: ChannelOrder, incoming: OrderIn | None, now) -> str:
    """A known order seen again: it may now be confirmed (paid) or cancelled."""
    if incoming is None:
        return "unchanged"
    if incoming.cancelled:
        return (
            "order cancelled"
            if order_cancel(order=order, reason="cancelled on the channel", now=now)
            else "unchanged"
        )
    if incoming.confirmed and order.confirmed_at is None:
        with transaction.atomic():
            locked, lines = order_lock(order)
            if locked.confirmed_at is None and locked.cancelled_at is None:
                locked.confirmed_at, locked.hold_until = now, None
                order_refresh(locked, lines, now)
                audit_record(
                    actor=None,
                    action="order_confirm",
                    obj=locked,
                    after={"confirmed_at": now},
                    at=now,
                )
                order_event_emit(order=locked, event="confirmed", at=now)
                return f"order {locked.pk} confirmed"
    return "unchanged"
