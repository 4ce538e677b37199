"""Writes for orders: the webhook inbox, instant reservation, oversell handling, dispatch,
cancellation, backorders, reservation expiry and customer returns.

Lock order, everywhere: an order's row, then stock levels (by primary key, through
inventory.services.stock_levels_lock, or stock_moves_guarded for a new order reserved on
levels read without a lock), then a channel's row. Every stock change is a set of movements
written by inventory.services.stock_moves_apply (or the statements it is made of).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

import httpx
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Product, ProductAlias
from channels.models import Channel, ChannelLocation, ChannelStatus
from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.audit import Change, audit_record, current_origin
from ims.errors import ApplicationError
from ims.http import http_client
from ims.models import OpsTask, TaskStatus
from ims.notify import notify_roles
from ims.permissions import require
from ims.roles import Role
from ims.rows import (
    Statement,
    build,
    clone,
    insert_statement,
    row_update,
    statements_run,
    update_statement,
    writes_run,
)
from ims.services import ops_task_close, ops_task_open
from inventory.models import MovementReason, StockLevel, StockState
from inventory.services import (
    StockMove,
    stock_levels_lock,
    stock_moves_apply,
    stock_moves_guarded,
    stock_moves_statements,
)
from orders.errors import InvalidLines, OrderError, OrderNotFound
from orders.models import (
    BackorderDecision,
    ChannelOrder,
    CustomerNotification,
    CustomerReturn,
    CustomerReturnLine,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentLine,
    WebhookDelivery,
)
from orders.providers import provider_for
from orders.providers.base import (
    BadDelivery,
    Context,
    Event,
    EventKind,
    LineIn,
    OrderIn,
    ReturnLineIn,
    SignatureRefused,
    clean_text,
    event_of,
    unstorable,
)
from sla.hooks import order_event, order_reserved_reads, order_reserved_writes

log = logging.getLogger("ims.webhooks")

AVAILABLE, RESERVED, QUARANTINED = (
    StockState.AVAILABLE,
    StockState.RESERVED,
    StockState.QUARANTINED,
)


# ---------------------------------------------------------------------------
# The webhook inbox


class NoIntake(ApplicationError):
    code = "no_webhook_intake"
    http_status = 404


@dataclass(frozen=True)
class Received:
    """What the webhook endpoint answers once the delivery is stored: 200 with this, or,
    `refused` (a body IMS cannot read), 400 with the delivery's error."""

    status: str  # stored | duplicate | ping | refused
    delivery: WebhookDelivery | None = None

    @property
    def body(self) -> dict:
        d = self.delivery
        return {
            "status": self.status,
            "delivery": d.pk if d else None,
            "processed": bool(d and d.processed_at),
            "outcome": d.outcome if d else "",
            "error": d.error if d else "",
        }


def webhook_secret(channel: Channel) -> str:
    return os.environ.get(channel.env_prefix + "WEBHOOK_SECRET", "")


def webhook_url(channel: Channel, request_url: str) -> str:
    """The URL the provider was told to call (Square signs it): configured, else the request's."""
    return os.environ.get(channel.env_prefix + "WEBHOOK_URL") or request_url


# Providers whose payload is thin: the order is read back from the channel's API, so the
# delivery is stored on its own first and the HTTP call is never made inside a transaction.
READ_BACK = ("bigcommerce", "square")


def webhook_receive(
    *, channel: Channel, headers: Mapping[str, str], body: bytes, url: str, now=None
) -> Received:
    """Verify a delivery, store it raw (once), and process it.

    Raises SignatureRefused (→ 401, logged; nothing stored). Once the signature is proven
    the delivery is stored, whatever its body: one IMS cannot read (not JSON, no id, a value
    that is not what its field says, a topic its body contradicts) is kept with its error
    and answered `refused` (→ 400); any other failure stays on the delivery, answered 200,
    and it is replayed from the inbox.

    The raw delivery and its processing share one transaction; if processing fails, a
    second transaction keeps the delivery with its error (_delivery_apply). A delivery
    already stored is locked and, if processed, answered `duplicate` without changing
    anything.
    """
    now = now or timezone.now()
    provider = provider_for(channel.kind)
    if provider is None:
        raise NoIntake(f"channel {channel.code} ({channel.kind}) has no webhook intake")
    if getattr(provider, "is_ping", None) and provider.is_ping(headers=headers, body=body):
        return Received("ping")
    secret = webhook_secret(channel)
    unreadable = ""
    try:
        if not secret:
            raise SignatureRefused(f"no secret configured ({channel.env_prefix}WEBHOOK_SECRET)")
        provider.verify(headers=headers, body=body, secret=secret, ctx=Context(now=now, url=url))
    except SignatureRefused as exc:
        log.warning("webhook refused: channel %s (%s): %s", channel.code, channel.kind, exc)
        raise
    except BadDelivery as exc:  # signed, but its time cannot be read
        unreadable = str(exc)
    meta = _delivery_meta(provider, headers=headers, body=body)
    unreadable = unreadable or meta.problem
    kept = {
        k.lower(): clean_text(v)
        for k, v in headers.items()
        if k.lower() in provider.kept_headers or k.lower() == "content-type"
    }
    delivery = build(
        WebhookDelivery,
        channel=channel,
        provider=provider.kind,
        delivery_id=meta.delivery_id[:255],
        topic=clean_text(meta.topic)[:120],
        headers=kept,
        body=body,
        received_at=now,
    )
    if unreadable:
        problem = f"could not read the delivery: {unreadable}"
        log.warning("webhook refused: channel %s (%s): %s", channel.code, channel.kind, problem)
        row, duplicate = _delivery_apply(
            delivery=delivery, channel=channel, event=None, problem=problem, now=now, insert=True
        )
        return Received("duplicate" if duplicate else "refused", row)
    if channel.kind in READ_BACK:
        delivery, created = webhook_delivery_store(delivery=delivery)
        if not created and delivery.processed_at:
            return Received("duplicate", delivery)
        row, refused = _delivery_process(delivery=delivery, now=now)
        return Received("refused" if refused else "stored", row)
    event, problem, refused = _delivery_parse(provider, delivery, now=now)
    row, duplicate = _delivery_apply(
        delivery=delivery, channel=channel, event=event, problem=problem, now=now, insert=True
    )
    if duplicate:
        return Received("duplicate", row)
    return Received("refused" if refused else "stored", row)


@dataclass(frozen=True)
class _Meta:
    delivery_id: str
    topic: str
    problem: str = ""


def _delivery_meta(provider, *, headers: Mapping[str, str], body: bytes) -> _Meta:
    """The delivery's id and topic. A signed body whose id cannot be read (not JSON, none,
    one IMS cannot store) is kept under the digest of its body, with why."""
    try:
        meta = provider.delivery(headers=headers, body=body)
        problem = "" if meta.delivery_id else "the delivery has no id"
        if unstorable(meta.delivery_id):
            problem = f"the delivery id contains {unstorable(meta.delivery_id)}"
        if not problem:
            return _Meta(meta.delivery_id, meta.topic)
        topic = meta.topic
    except BadDelivery as exc:
        problem, topic = str(exc), ""
    return _Meta(f"sha256:{hashlib.sha256(body).hexdigest()}", topic, problem)


def webhook_delivery_store(*, delivery: WebhookDelivery) -> tuple[WebhookDelivery, bool]:
    """Keep the raw delivery, committed on its own before any processing; (row, created).
    A delivery stored before (the same channel and delivery id) is returned as it is."""
    with transaction.atomic():
        statements_run([_delivery_insert(delivery)])
        if delivery.pk is not None:
            return delivery, True
    return WebhookDelivery.objects.get(
        channel_id=delivery.channel_id, delivery_id=delivery.delivery_id
    ), False


def channel_http_client(channel: Channel) -> httpx.Client | None:
    """The client a thin-payload provider reads orders back with (BigCommerce, Square)."""
    if not channel.base_url:
        return None
    token = os.environ.get(channel.env_prefix + "ACCESS_TOKEN", "")
    auth = (
        {"X-Auth-Token": token}
        if channel.kind == "bigcommerce"
        else {"Authorization": f"Bearer {token}"}
    )
    return http_client(
        base_url=channel.base_url.rstrip("/") + "/",
        headers={"Accept": "application/json", **auth},
        timeout=httpx.Timeout(10.0, connect=5.0),
        transport=httpx.HTTPTransport(retries=2),
    )


def webhook_delivery_process(*, delivery: WebhookDelivery, now=None) -> WebhookDelivery:
    """Parse a stored delivery and apply it, at most once. Failures are kept on the delivery."""
    return _delivery_process(delivery=delivery, now=now)[0]


def _delivery_process(*, delivery: WebhookDelivery, now=None) -> tuple[WebhookDelivery, bool]:
    """(the delivery's row, whether its body could not be read)."""
    now = now or timezone.now()
    channel = delivery.channel
    provider = provider_for(channel.kind)
    meta = _delivery_meta(provider, headers=delivery.headers, body=bytes(delivery.body))
    if meta.problem:  # refused at intake for its id: refused the same way when replayed
        event, problem, refused = None, f"could not read the delivery: {meta.problem}", True
    else:
        client = channel_http_client(channel) if channel.kind in READ_BACK else None
        try:
            event, problem, refused = _delivery_parse(provider, delivery, now=now, client=client)
        finally:
            if client is not None:
                client.close()
    row, _ = _delivery_apply(
        delivery=delivery, channel=channel, event=event, problem=problem, now=now, insert=False
    )
    return row, refused and not row.processed_at


def _delivery_parse(
    provider, delivery: WebhookDelivery, *, now, client: httpx.Client | None = None
) -> tuple[Event | None, str, bool]:
    """The event a delivery means, or why it could not be had: (event, problem, refused).
    `refused`: the body cannot be read (BadDelivery), which asking again will not change;
    otherwise (the channel's API failing, a fault of IMS) the delivery is tried again."""
    try:
        event = event_of(
            provider,
            headers=delivery.headers,
            body=bytes(delivery.body),
            ctx=Context(now=now, client=client),
        )
    except BadDelivery as exc:
        return None, f"could not read the delivery: {exc}", True
    except httpx.HTTPError as exc:
        return None, f"could not read the order back: {exc}", False
    except Exception as exc:  # kept on the delivery, replayed from the inbox
        log.exception("webhook delivery %s could not be parsed", delivery.delivery_id)
        return None, f"could not read the delivery: {exc!r}", False
    return event, "", False


def _delivery_unsaved(delivery: WebhookDelivery) -> WebhookDelivery:
    """The delivery as not stored yet: the id of an insert since rolled back is void."""
    delivery.pk, delivery._state.adding = None, True
    return delivery


def _delivery_insert(delivery: WebhookDelivery) -> Statement:
    """The delivery's INSERT, skipping one stored before (the same channel and delivery id):
    then its primary key stays None."""
    return insert_statement([_delivery_unsaved(delivery)], unique=("channel", "delivery_id"))


def _delivery_hold(delivery: WebhookDelivery, *, insert: bool) -> WebhookDelivery:
    """The delivery's row, in the current transaction: inserted if `insert` and new, else
    the stored row, locked (a concurrent delivery of the same id waits here)."""
    if insert:
        statements_run([_delivery_insert(delivery)])
        if delivery.pk is not None:
            return delivery
        return WebhookDelivery.objects.select_for_update().get(
            channel_id=delivery.channel_id, delivery_id=delivery.delivery_id
        )
    return WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)


class _Stored(Exception):
    """The delivery sent with the order's writes was stored already, or its order is known:
    it is applied again the usual way (its row held first)."""


def _delivery_apply(
    *,
    delivery: WebhookDelivery,
    channel: Channel,
    event: Event | None,
    problem: str,
    now,
    insert: bool,
    together: bool = True,
    optimistic: bool = True,
) -> tuple[WebhookDelivery, bool]:
    """Apply a delivery's event at most once: (its row, whether it was processed already).

    The row (inserted, or the stored one locked) and everything the event changes share one
    transaction, which marks it processed. If applying fails, that transaction rolls back
    whole (with the on-commit work it registered) and a second one keeps the delivery with
    the error and the attempt, to be replayed from the inbox: nothing received is lost, and
    the path that succeeds needs no savepoint.

    A new delivery of a new order is inserted, marked processed, with the order's own writes
    (`together`): one statement and round trip instead of an insert and an update. If its id
    was stored already, or the order is known, that transaction rolls back and the delivery
    is applied again as any other event is: its row inserted or, if stored, locked first.
    Either way the delivery's row and what it changed commit together or not at all.

    A new order is first reserved on levels read without a lock (order_receive's
    `optimistic`); if one of them no longer covers it when written, the transaction rolls
    back and the delivery is applied again with the levels locked first.
    """
    if event is not None:
        try:
            with transaction.atomic():
                if together and insert and event.kind == EventKind.ORDER:
                    row = _delivery_unsaved(delivery)
                else:
                    row = _delivery_hold(delivery, insert=insert)
                    if row.processed_at:
                        return row, True
                done = _Processed(row, now)
                outcome, order = order_event_apply(
                    channel=channel, event=event, now=now, processed=done, optimistic=optimistic
                )
                if not done.written:
                    statements_run([done.statement(outcome, order)])
                done.apply()
                return row, False
        except (_Stored, _Raced) as retry:
            return _delivery_apply(
                delivery=delivery,
                channel=channel,
                event=event,
                problem=problem,
                now=now,
                insert=insert,
                together=together and isinstance(retry, _Raced),
                optimistic=False,
            )
        except Exception as exc:  # kept on the delivery, replayed from the inbox
            log.exception("webhook delivery %s of %s failed", delivery.delivery_id, channel.code)
            problem = exc.message if isinstance(exc, ApplicationError) else repr(exc)
    with transaction.atomic():
        row = _delivery_hold(delivery, insert=insert)
        if row.processed_at:  # a concurrent retry processed it meanwhile
            return row, True
        row.attempts += 1
        row.error = clean_text(problem)
        row_update(row, ["error", "attempts"])
    return row, False


class _Processed:
    """A delivery's row marked processed: the statement is built (and sent, perhaps with the
    order's own writes) before the row itself changes, which happens only once it is written:
    a delivery whose processing fails is kept as it was received.

    A row not stored yet is inserted so (skipping a delivery stored meanwhile: then the
    written row keeps no primary key), a stored one updated."""

    FIELDS = ("processed_at", "outcome", "error", "order", "attempts")

    def __init__(self, row: WebhookDelivery, now):
        self.row, self.now = row, now
        self.written: WebhookDelivery | None = None

    @property
    def new(self) -> bool:
        return self.row.pk is None

    def statement(self, outcome: str, order: ChannelOrder | None) -> Statement:
        marked = clone(self.row)
        marked.attempts += 1
        marked.processed_at, marked.outcome, marked.error = self.now, outcome[:255], ""
        marked.order = order
        self.written = marked
        if self.new:
            return insert_statement([marked], unique=("channel", "delivery_id"))
        return update_statement(marked, self.FIELDS)

    def apply(self) -> None:
        for name in self.FIELDS:
            setattr(self.row, name, getattr(self.written, name))
        self.row.pk, self.row._state.adding = self.written.pk, False


def webhook_deliveries_replay(
    *, deliveries, now=None, max_attempts: int | None = None
) -> dict[str, int]:
    """Process stored deliveries again (those already processed change nothing)."""
    counts = {"processed": 0, "failed": 0, "already": 0}
    for delivery in deliveries.select_related("channel").order_by("received_at", "pk"):
        if delivery.processed_at:
            counts["already"] += 1
            continue
        if max_attempts is not None and delivery.attempts >= max_attempts:
            continue
        try:
            result = webhook_delivery_process(delivery=delivery, now=now)
        except Exception as exc:  # one delivery never stops the others
            log.exception("replaying webhook delivery %s failed", delivery.pk)
            _delivery_failed(delivery, f"replay failed: {exc!r}")
            counts["failed"] += 1
            continue
        counts["processed" if result.processed_at else "failed"] += 1
    return counts


def _delivery_failed(delivery: WebhookDelivery, problem: str) -> None:
    """Keep on a delivery the error its replay raised (if even that fails, it is logged)."""
    try:
        with transaction.atomic():
            row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
            if row.processed_at:
                return
            row.attempts += 1
            row.error = clean_text(problem)
            row_update(row, ["error", "attempts"])
    except Exception:
        log.exception("could not keep the error of webhook delivery %s", delivery.pk)


# ---------------------------------------------------------------------------
# Applying an event


def order_event_apply(
    *,
    channel: Channel,
    event: Event,
    now,
    processed: _Processed | None = None,
    optimistic: bool = False,
) -> tuple[str, ChannelOrder | None]:
    """Do what a provider event means; returns (outcome, order).

    A new order writes its delivery marked `processed` with its own rows (a round trip
    fewer); otherwise the caller writes it. A delivery not stored yet goes only with a new
    order's rows: for a known order, or if it was stored meanwhile, _Stored is raised.
    `optimistic`: a new order is reserved as order_receive's `optimistic` says (the caller
    retries on _Raced)."""
    if processed is not None and processed.new and event.kind != EventKind.ORDER:
        raise ValueError("only an order event inserts its delivery with its own rows")
    if event.kind == EventKind.IGNORE:
        return f"ignored: {event.note}", None
    if event.kind == EventKind.UNPROVEN:
        return _unproven_record(channel=channel, event=event)
    if event.kind == EventKind.POS_SALE:
        from orders.stock import pos_sale_record

        sale, created = pos_sale_record(channel=channel, incoming=event.sale, now=now)
        return f"POS sale {sale.external_id} {sale.status}{'' if created else ' (known)'}", None
    if event.kind == EventKind.ORDER and not _holds_stock(event.order):
        return _nothing_stocked(event.order), None
    if event.kind == EventKind.ORDER:
        # order_receive finds a known order in the same round trip that reads the lines.
        def received(order: ChannelOrder) -> str:
            return f"order {order.pk} received: {order.status}"

        order, created = order_receive(
            channel=channel,
            incoming=event.order,
            now=now,
            also=(lambda o: [processed.statement(received(o), o)]) if processed else None,
            optimistic=optimistic,
        )
        if created:
            return received(order), order
        if processed is not None and processed.new:
            raise _Stored  # its row is to be held before the known order is looked at
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
            if not _holds_stock(event.order):
                return _nothing_stocked(event.order), None
            order, _ = order_receive(channel=channel, incoming=event.order, now=now, cancelled=True)
            return f"order {order.pk} recorded as cancelled", order
        changed = order_cancel(
            order=order, reason=event.reason, lines=event.cancelled or None, now=now
        )
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


def channel_location_ids(channel: Channel) -> list[int]:
    return list(
        ChannelLocation.objects.filter(channel=channel)
        .order_by("position")
        .values_list("location_id", flat=True)
    )


@dataclass(frozen=True)
class Intake:
    """What receiving an order reads before it locks anything."""

    product_ids: list[int | None]  # per line, None for a name IMS does not know
    location_ids: list[int]  # the channel's, in preference order
    # (product, location) → (level id, available) at the channel's locations, as read (not
    # locked), for every product the lines may name; only when asked for.
    levels: dict[tuple[int, int], tuple[int, int]]


def _intake_statement(
    channel: Channel, lines: Sequence[LineIn], *, levels: bool = False
) -> Statement:
    """The channel's locations and the aliases and SKUs the lines name, and with `levels`
    the stock levels of the products these may be at those locations: one SELECT (a UNION
    ALL of plain selects) of (kind, scope, value, id, position, product, location) rows."""
    names = sorted({n for line in lines for n in (line.sku, line.item_id) if n})
    skus = sorted({line.sku for line in lines if line.sku})
    named = [channel.code, *names] if names else []
    params: list = [channel.pk, *named, *skus]
    levels = levels and bool(names or skus)
    if levels:
        params += [channel.pk, *named, *skus]
    return Statement(_intake_sql(len(names), len(skus), levels, connection.vendor), params)


@cache
def _intake_sql(names: int, skus: int, levels: bool, vendor: str) -> str:
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def marks(count: int) -> str:
        return ", ".join(["%s"] * count)

    located = f"FROM {table(ChannelLocation)} WHERE {quote('channel_id')} = %s"
    aliased = (
        f"FROM {table(ProductAlias)} WHERE {quote('scope')} IN (%s, '') "
        f"AND {quote('value')} IN ({marks(names)})"
    )
    sku_of = f"FROM {table(Product)} WHERE {quote('sku')} IN ({marks(skus)})"
    parts = [f"SELECT 0, '', '', {quote('location_id')}, {quote('position')}, 0, 0 {located}"]
    if names:
        parts.append(
            f"SELECT 1, {quote('scope')}, {quote('value')}, {quote('product_id')}, 0, 0, 0 "
            + aliased
        )
    if skus:
        parts.append(f"SELECT 2, '', {quote('sku')}, {quote('id')}, 0, 0, 0 {sku_of}")
    if levels:
        products = [f"SELECT {quote('product_id')} {aliased}"] if names else []
        products += [f"SELECT {quote('id')} {sku_of}"] if skus else []
        parts.append(
            f"SELECT 3, '', '', {quote('id')}, {quote('available')}, {quote('product_id')}, "
            f"{quote('location_id')} FROM {table(StockLevel)} "
            f"WHERE {quote('location_id')} IN (SELECT {quote('location_id')} {located}) "
            f"AND {quote('product_id')} IN ({' UNION '.join(products)})"
        )
    return " UNION ALL ".join(parts)


def _intake(channel: Channel, lines: Sequence[LineIn], rows: Sequence[tuple]) -> Intake:
    """Each line's product: a channel alias of its SKU or item id, a global alias, its SKU."""
    locations: list[tuple[int, int]] = []
    aliases: dict[tuple[str, str], int] = {}
    by_sku: dict[str, int] = {}
    levels: dict[tuple[int, int], tuple[int, int]] = {}
    for kind, scope, value, pk, position, product_id, location_id in rows:
        if kind == 0:
            locations.append((position, pk))
        elif kind == 1:
            aliases[(scope, value)] = pk
        elif kind == 2:
            by_sku[value] = pk
        else:
            levels[(product_id, location_id)] = (pk, position)
    found = []
    for line in lines:
        pid = None
        for scope in (channel.code, ""):
            for name in (line.sku, line.item_id):
                if name and pid is None:
                    pid = aliases.get((scope, name))
        found.append(pid or by_sku.get(line.sku))
    return Intake(found, [pk for _, pk in sorted(locations)], levels)


def products_for_lines(channel: Channel, lines: Sequence[LineIn]) -> list[int | None]:
    """Each line's product: a channel alias of its SKU or item id, a global alias, its SKU
    (one round trip)."""
    rows = statements_run([_intake_statement(channel, lines)])[0]
    return _intake(channel, lines, rows).product_ids


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


class _Raced(Exception):
    """A level an order was reserved on without a lock no longer held enough when written:
    the transaction rolls back and the order is received again, its levels locked first."""


def order_receive(
    *,
    channel: Channel,
    incoming: OrderIn,
    now,
    cancelled: bool = False,
    actor=None,
    also: Callable[[ChannelOrder], list[Statement]] | None = None,
    optimistic: bool = False,
) -> tuple[ChannelOrder, bool]:
    """Record a new order and reserve its lines at once (each fully or not at all, at the one
    fulfilment location); lines it cannot reserve wait as backorders and raise an oversell.

    Returns (order, created); an order already known is returned untouched.

    Three round trips: (1) the lines' products, the channel's locations and its SLA policies
    are read and the order's row inserted (ON CONFLICT DO NOTHING: a concurrent delivery of
    the same order waits for it, then finds it known); (2) the levels are locked — the order's
    row first, then levels by primary key, the lock order everywhere; (3) the lines, the
    order's status and location, the levels, the movements, the audit event, the customer
    notification and the SLA clocks are written as one statement (writes_run), with the
    statements `also` gives for the order (the webhook path's delivery marked processed):
    if an insert of those skipped a conflict, nothing more is done and _Stored is raised
    (the caller's transaction rolls back the order with it).

    `optimistic` (for a caller that retries on _Raced): the levels are read in (1), without
    a lock, and if one location covers every line there, (2) is skipped. The levels then
    change in (3), by the units reserved and only if none goes below zero, locked in key
    order by that statement (stock_moves_guarded): they stay locked from (3) to the commit,
    not while this decides and builds the writes. If a level no longer covers its lines,
    _Raced is raised (the caller's transaction rolls back) and the caller receives the order
    again without `optimistic`: nothing is reserved that is not there, and a line is held
    as a backorder only on levels read under a lock.

    Lines the channel marks as no stocked product (LineIn.not_stocked) are kept on the
    order's row (`not_stocked`), never reserved. A line naming a SKU IMS does not know is
    held (backordered, with no product) and raises Unknown_SKU for ops (_unknown_skus): it
    never pauses the channel; its other lines are reserved as usual. Only a product IMS
    knows and could not reserve is an oversell (_oversell: the channel is paused).
    """
    # No savepoint of its own: inside the delivery's transaction a failure undoes it all.
    optimistic = optimistic and not cancelled
    stocked = [line for line in incoming.lines if _stocked(line)]
    with transaction.atomic(savepoint=False):
        order = build(
            ChannelOrder,
            channel=channel,
            external_id=incoming.external_id[:128],
            name=incoming.name[:128],
            # Set with the location once the lines are reserved (write 3).
            status=OrderStatus.CANCELLED if cancelled else OrderStatus.RESERVED,
            location_id=None,
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
        reads = [_intake_statement(channel, stocked, levels=optimistic)]
        if not cancelled:
            reads += order_reserved_reads(channel_id=channel.pk)
        rows, _, *sla_rows = statements_run(
            [reads[0], insert_statement([order], unique=("channel", "external_id")), *reads[1:]]
        )
        if order.pk is None:  # known already (perhaps from a concurrent delivery)
            return ChannelOrder.objects.get(channel=channel, external_id=order.external_id), False
        intake = _intake(channel, stocked, rows)
        product_ids, location_ids = intake.product_ids, intake.location_ids
        wanted = [(pid, line.quantity) for pid, line in zip(product_ids, stocked, strict=True)]
        location_id, covered = (location_ids[0] if location_ids else None), []
        levels, guard = {}, None
        if optimistic:
            seen = {pair: units for pair, (_, units) in intake.levels.items()}
            location_id, covered = fulfilment_location(wanted, location_ids, seen)
            # A line IMS does not know is held whatever the levels: it needs no lock.
            optimistic = len(covered) == sum(1 for pid, _ in wanted if pid)
        if not cancelled and not optimistic:
            levels = stock_levels_lock(
                pairs=[(pid, loc) for pid in set(product_ids) if pid for loc in location_ids]
            )
            location_id, covered = fulfilment_location(
                wanted, location_ids, {pair: level.available for pair, level in levels.items()}
            )
        covered = set(covered)
        lines = [
            build(
                OrderLine,
                order=order,
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
        order.status, order.location_id = order_status(lines), location_id
        moves = [
            StockMove(line.product_id, location_id, AVAILABLE, RESERVED, line.quantity)
            for line in lines
            if line.reserved
        ]
        changes = dict(reason=MovementReason.ORDER, ref=f"order:{order.pk}", actor=actor, now=now)
        if optimistic:
            stock_writes, guard = stock_moves_guarded(
                moves=moves,
                level_ids={pair: level_id for pair, (level_id, _) in intake.levels.items()},
                queue_pushes=True,
                **changes,
            )
        else:
            stock_writes, _ = stock_moves_statements(
                moves=moves, levels=levels, queue_pushes=True, **changes
            )
        after = {
            "status": order.status,
            "location": location_id,
            "lines": [[ln.sku, ln.quantity, ln.reserved, ln.backordered] for ln in lines],
        }
        if order.not_stocked:
            after["not_stocked"] = order.not_stocked
        audit = Change(
            "order_receive", order, after=after, reason=f"{channel.code} order {order.external_id}"
        ).event(actor=actor, at=now, origin=current_origin())
        writes = [
            *([insert_statement(lines)] if lines else []),
            update_statement(order, ["status", "location"]),
            *stock_writes,
            insert_statement([audit]),
        ]
        if not cancelled:
            writes.append(_customer_notification(order=order, kind="order_received", now=now))
            # The SLA seam's "reserved" event, batched: the order's clocks start.
            writes += order_reserved_writes(order=order, at=now, rows=sla_rows)
        extra = also(order) if also is not None else []
        writes += extra
        written = writes_run(writes)
        if guard is not None:
            changed = next(keys for s, keys in zip(writes, written, strict=True) if s is guard)
            if len(changed) < len({move.pair for move in moves}):
                raise _Raced
        if any(s.objs and s.objs[0].pk is None for s in extra):
            raise _Stored
        if cancelled:
            return order, True
        short = [line for line in lines if line.backordered and line.product_id]
        if short:
            _oversell(channel=channel, order=order, lines=short, location_ids=location_ids, now=now)
        unknown = [line for line in lines if line.product_id is None]
        if unknown:
            _unknown_skus(channel=channel, order=order, lines=unknown, now=now)
    return order, True


def unknown_skus_refresh(*, channel_id: int, skus, now) -> None:
    """One Unknown_SKU per (SKU, channel) while an order of the channel holds a line of that
    SKU with no product: expected `null` (no such product), actual the orders and units held.
    One no order holds any more (filled once matched, or cancelled) is resolved."""
    skus = sorted(skus)
    held: dict[str, list[str]] = defaultdict(list)
    rows = (
        OrderLine.objects.filter(
            order__channel_id=channel_id, product__isnull=True, sku__in=skus, backordered__gt=0
        )
        .order_by("order_id")
        .values_list("sku", "order__external_id", "backordered")
    )
    for sku, external_id, units in rows:
        held[sku].append(f"{external_id} × {units}")
    if held:
        _record_findings(
            [
                Finding(
                    sku,
                    Discrepancy.UNKNOWN_SKU,
                    "null",
                    ("held in orders " + ", ".join(orders))[:500],
                    channel_id=channel_id,
                )
                for sku, orders in held.items()
            ],
            now=now,
        )
    gone = [sku for sku in skus if sku not in held]
    if gone:
        ids = (
            OpsException.objects.open()
            .filter(
                discrepancy=Discrepancy.UNKNOWN_SKU,
                source=ExceptionSource.ORDER,
                channel_id=channel_id,
                sku_id__in=gone,
            )
            .values_list("pk", flat=True)
        )
        ops_exceptions_resolve(ids=list(ids), now=now, reason="no order holds it any more")


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


def _record_findings(findings: list[Finding], *, now) -> None:
    """Raise (or refresh) order exceptions; a twin raised by a concurrent order is refreshed."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                ops_exceptions_record(findings=findings, source=ExceptionSource.ORDER, now=now)
            break
        except IntegrityError:
            if attempt:
                raise


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
    from channels.services import channel_pause

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
    _record_findings(findings, now=now)
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


def _order_refresh(order: ChannelOrder, lines: Sequence[OrderLine], now) -> None:
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
    """The one call site of the SLA seam."""
    order_event(order=order, event=event, at=at)


def customer_notify(*, order: ChannelOrder, kind: str, now, ref: str = "", context=None) -> None:
    """Queue a message to the customer (the WhatsApp/email sender works through the outbox);
    one per (order, kind, ref)."""
    statements_run(
        [_customer_notification(order=order, kind=kind, now=now, ref=ref, context=context)]
    )


def _customer_notification(
    *, order: ChannelOrder, kind: str, now, ref: str = "", context=None
) -> Statement:
    return insert_statement(
        [
            build(
                CustomerNotification,
                order=order,
                kind=kind,
                ref=ref,
                context=context or {"order": order.external_id, "status": order.status},
                created_at=now,
            )
        ],
        unique=("order", "kind", "ref"),
    )


def _lock_order(order: ChannelOrder) -> tuple[ChannelOrder, list[OrderLine]]:
    locked = ChannelOrder.objects.select_for_update().select_related("channel").get(pk=order.pk)
    return locked, list(locked.lines.select_related("product").order_by("position"))


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
            locked, lines = _lock_order(order)
            if locked.confirmed_at is None and locked.cancelled_at is None:
                locked.confirmed_at, locked.hold_until = now, None
                _order_refresh(locked, lines, now)
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


# ---------------------------------------------------------------------------
# Cancelling


def _match_lines(
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


def order_cancel(
    *,
    order: ChannelOrder,
    reason: str,
    lines: Sequence[ReturnLineIn] | None = None,
    actor=None,
    now=None,
    movement_reason: str = MovementReason.CANCEL,
    only_backordered: bool = False,
) -> bool:
    """Cancel what is not shipped yet (the whole order, or some units of some lines):
    backordered units are dropped first, reserved units go back to available.
    Returns False when nothing was left to cancel."""
    require(actor, "orders.cancel_order", "cancel orders")
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = _lock_order(order)
        if lines:
            plan, problems = _match_lines(
                order_lines, lines, available=lambda ln: ln.reserved + ln.backordered
            )
            if problems:
                raise InvalidLines(problems)
        else:
            plan = {
                ln.pk: ln.backordered if only_backordered else ln.reserved + ln.backordered
                for ln in order_lines
            }
        plan = {pk: q for pk, q in plan.items() if q}
        if not plan:
            return False
        by_pk = {ln.pk: ln for ln in order_lines}
        releases = []
        for pk, quantity in plan.items():
            line = by_pk[pk]
            from_backorder = min(quantity, line.backordered)
            from_reserved = quantity - from_backorder
            line.backordered -= from_backorder
            line.reserved -= from_reserved
            line.cancelled += quantity
            if from_reserved:
                releases.append(
                    StockMove(line.product_id, line.location_id, RESERVED, AVAILABLE, from_reserved)
                )
        levels = stock_levels_lock(pairs=[m.pair for m in releases])
        stock_moves_apply(
            moves=releases,
            levels=levels,
            reason=movement_reason,
            ref=f"order:{locked.pk}",
            actor=actor,
            now=now,
            note=reason,
        )
        OrderLine.objects.bulk_update(
            [by_pk[pk] for pk in plan], ["reserved", "backordered", "cancelled"]
        )
        if unknown := {by_pk[pk].sku for pk in plan if by_pk[pk].product_id is None}:
            unknown_skus_refresh(channel_id=locked.channel_id, skus=unknown, now=now)
        if all(ln.reserved == 0 and ln.backordered == 0 and ln.shipped == 0 for ln in order_lines):
            locked.cancelled_at, locked.cancel_reason = now, reason[:255]
            locked.hold_until = None
        _order_refresh(locked, order_lines, now)
        audit_record(
            actor=actor,
            action="order_cancel",
            obj=locked,
            after={
                "cancelled": {by_pk[pk].sku: q for pk, q in plan.items()},
                "status": locked.status,
            },
            reason=reason,
            at=now,
        )
        if locked.status == OrderStatus.CANCELLED:
            order_event_emit(order=locked, event="cancelled", at=now)
        customer_notify(
            order=locked,
            kind="order_cancelled",
            ref=f"{now.timestamp():.6f}",
            context={
                "order": locked.external_id,
                "cancelled": {by_pk[pk].sku: q for pk, q in plan.items()},
            },
            now=now,
        )
    order.refresh_from_db()
    return True


# ---------------------------------------------------------------------------
# Dispatch


def order_dispatch(
    *,
    order: ChannelOrder,
    items: Sequence[tuple[str, int]],
    actor=None,
    now=None,
    tracking_number: str = "",
) -> Shipment:
    """Ship reserved units (partial lines and partial orders allowed): reserved → out."""
    require(actor, "orders.dispatch_order", "dispatch orders")
    now = now or timezone.now()
    if not items:
        raise InvalidLines({"lines": "name at least one line to dispatch"})
    with transaction.atomic():
        locked, order_lines = _lock_order(order)
        if locked.cancelled_at:
            raise OrderError(f"order {locked.external_id} is cancelled", code="order_cancelled")
        plan, problems = _match_lines(
            order_lines,
            [ReturnLineIn(quantity=q, sku=sku) for sku, q in items],
            available=lambda ln: ln.reserved,
        )
        for index, (_, quantity) in enumerate(items):
            if quantity <= 0:
                problems[f"lines[{index}].quantity"] = "must be a positive whole number"
        if problems:
            raise InvalidLines(problems)
        by_pk = {ln.pk: ln for ln in order_lines}
        moves = [
            StockMove(by_pk[pk].product_id, by_pk[pk].location_id, RESERVED, "", q)
            for pk, q in plan.items()
        ]
        levels = stock_levels_lock(pairs=[m.pair for m in moves])
        shipment = Shipment.objects.create(
            order=locked,
            created_at=now,
            actor=_person(actor),
            tracking_number=tracking_number[:128],
        )
        stock_moves_apply(
            moves=moves,
            levels=levels,
            reason=MovementReason.DISPATCH,
            ref=f"order:{locked.pk}",
            actor=actor,
            now=now,
            note=f"shipment {shipment.pk}",
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, line_id=pk, quantity=q) for pk, q in plan.items()
        )
        for pk, quantity in plan.items():
            by_pk[pk].reserved -= quantity
            by_pk[pk].shipped += quantity
        OrderLine.objects.bulk_update([by_pk[pk] for pk in plan], ["reserved", "shipped"])
        _order_refresh(locked, order_lines, now)
        audit_record(
            actor=actor,
            action="order_dispatch",
            obj=locked,
            after={
                "shipment": shipment.pk,
                "lines": {by_pk[pk].sku: q for pk, q in plan.items()},
                "status": locked.status,
            },
            at=now,
        )
        order_event_emit(order=locked, event="dispatched", at=now)
        customer_notify(
            order=locked,
            kind="order_dispatched",
            ref=f"shipment:{shipment.pk}",
            context={
                "order": locked.external_id,
                "lines": {by_pk[pk].sku: q for pk, q in plan.items()},
                "tracking_number": tracking_number,
            },
            now=now,
        )
    order.refresh_from_db()
    return shipment


def order_deliver(*, order: ChannelOrder, actor=None, now=None) -> ChannelOrder:
    """The carrier or the channel confirmed that the shipped units reached the customer."""
    require(actor, "orders.dispatch_order", "confirm deliveries")
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = _lock_order(order)
        if not any(line.shipped for line in order_lines):
            raise OrderError(
                f"order {locked.external_id} has shipped nothing yet", code="nothing_shipped"
            )
        if locked.delivered_at:
            return locked
        locked.delivered_at = now
        locked.save(update_fields=["delivered_at"])
        audit_record(
            actor=actor, action="order_deliver", obj=locked, after={"delivered_at": now}, at=now
        )
        order_event_emit(order=locked, event="delivered", at=now)
        customer_notify(order=locked, kind="order_delivered", now=now)
    order.refresh_from_db()
    return locked


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None


# ---------------------------------------------------------------------------
# Backorders: a decision, then filled when stock arrives (or cancelled)


def order_backorder_decide(
    *, order: ChannelOrder, decision: str, actor, reason: str = "", now=None
) -> None:
    require(actor, "orders.decide_backorder", "decide on backorders")
    now = now or timezone.now()
    if decision == "cancel":
        if not order_cancel(
            order=order,
            reason=reason or "backorder cancelled",
            actor=None,
            now=now,
            only_backordered=True,
        ):
            raise OrderError("nothing of this order is backordered", code="no_backorder")
        audit_record(actor=actor, action="backorder_cancel", obj=order, reason=reason, at=now)
        return
    if decision != BackorderDecision.FILL:
        raise InvalidLines({"decision": "one of fill, cancel"})
    with transaction.atomic():
        locked, lines = _lock_order(order)
        waiting = [ln for ln in lines if ln.backordered]
        if not waiting:
            raise OrderError("nothing of this order is backordered", code="no_backorder")
        for line in waiting:
            line.backorder_decision = BackorderDecision.FILL
        OrderLine.objects.bulk_update(waiting, ["backorder_decision"])
        audit_record(actor=actor, action="backorder_fill", obj=locked, reason=reason, at=now)
    order_backorders_fill(order=order, now=now)


def order_backorders_fill(*, order: ChannelOrder, now=None) -> int:
    """Reserve the backordered lines an admin chose to fill, each fully or not at all, at the
    order's location. Returns how many lines were filled."""
    now = now or timezone.now()
    with transaction.atomic():
        locked, lines = _lock_order(order)
        _unknown_lines_match(locked, lines, now=now)
        waiting = [
            ln
            for ln in lines
            if ln.backordered and ln.backorder_decision == BackorderDecision.FILL and ln.product_id
        ]
        if not waiting or locked.location_id is None:
            return 0
        location_id = locked.location_id
        levels = stock_levels_lock(pairs=[(ln.product_id, location_id) for ln in waiting])
        left = {pair: level.available for pair, level in levels.items()}
        moves, filled = [], []
        for line in waiting:
            pair = (line.product_id, location_id)
            if left[pair] >= line.backordered:
                left[pair] -= line.backordered
                moves.append(
                    StockMove(line.product_id, location_id, AVAILABLE, RESERVED, line.backordered)
                )
                line.reserved += line.backordered
                line.backordered = 0
                line.location_id = location_id
                filled.append(line)
        if not filled:
            return 0
        stock_moves_apply(
            moves=moves,
            levels=levels,
            reason=MovementReason.ORDER,
            ref=f"order:{locked.pk}",
            now=now,
            note="backorder filled",
        )
        OrderLine.objects.bulk_update(filled, ["reserved", "backordered", "location"])
        _order_refresh(locked, lines, now)
        audit_record(
            actor=None,
            action="backorder_filled",
            obj=locked,
            after={"lines": {ln.sku: ln.reserved for ln in filled}, "status": locked.status},
            at=now,
        )
        customer_notify(
            order=locked, kind="order_backorder_filled", ref=f"{now.timestamp():.6f}", now=now
        )
    return len(filled)


def _unknown_lines_match(order: ChannelOrder, lines: list[OrderLine], *, now) -> None:
    """Held lines of a SKU IMS did not know, to fill: matched again (ops may have added the
    product or an alias since); a line now matched waits for stock as any backorder, and its
    Unknown_SKU is resolved once no order holds that SKU unmatched."""
    held = [
        ln
        for ln in lines
        if ln.product_id is None
        and ln.backordered
        and ln.backorder_decision == BackorderDecision.FILL
    ]
    if not held:
        return
    found = products_for_lines(
        order.channel,
        [LineIn(external_id=ln.external_id, sku=ln.sku, item_id=ln.sku, quantity=1) for ln in held],
    )
    matched = []
    for line, product_id in zip(held, found, strict=True):
        if product_id is not None:
            line.product_id = product_id
            matched.append(line)
    if matched:
        OrderLine.objects.bulk_update(matched, ["product"])
        unknown_skus_refresh(channel_id=order.channel_id, skus={ln.sku for ln in matched}, now=now)


def backorders_fill_due(*, now=None) -> int:
    """Every order with backorders to fill: try again (stock may have arrived)."""
    ids = (
        OrderLine.objects.filter(backordered__gt=0, backorder_decision=BackorderDecision.FILL)
        .values_list("order_id", flat=True)
        .distinct()
    )
    return sum(
        order_backorders_fill(order=o, now=now)
        for o in ChannelOrder.objects.filter(pk__in=list(ids))
    )


def reservations_expire(*, now=None) -> int:
    """Orders never confirmed (paid) within their hold: their reservations go back."""
    now = now or timezone.now()
    due = ChannelOrder.objects.filter(
        confirmed_at__isnull=True,
        completed_at__isnull=True,
        cancelled_at__isnull=True,
        hold_until__lte=now,
    )
    count = 0
    for order in due:
        count += order_cancel(
            order=order,
            reason="not confirmed in time: reservation expired",
            now=now,
            movement_reason=MovementReason.EXPIRY,
        )
    return count


# ---------------------------------------------------------------------------
# Customer returns


def customer_return_record(
    *,
    order: ChannelOrder,
    external_id: str,
    lines: Sequence[ReturnLineIn],
    reason: str = "",
    whole_order: bool = False,
    actor=None,
    now=None,
) -> CustomerReturn | None:
    """Shipped units a customer sends back land in `quarantined` at the line's location and
    Finance is told. Units of the return not shipped yet are cancelled instead."""
    require(actor, "orders.add_customerreturn", "record customer returns")
    now = now or timezone.now()
    with transaction.atomic():
        locked, order_lines = _lock_order(order)
        existing = CustomerReturn.objects.filter(order=locked, external_id=external_id).first()
        if existing:
            return existing
        if whole_order:
            back = {ln.pk: ln.shipped - ln.returned for ln in order_lines}
            unshipped = [
                ReturnLineIn(quantity=ln.reserved + ln.backordered, line_external_id=ln.external_id)
                for ln in order_lines
                if ln.reserved + ln.backordered
            ]
        else:
            back, problems = _match_lines(
                order_lines,
                lines,
                available=lambda ln: ln.shipped - ln.returned + ln.reserved + ln.backordered,
            )
            if problems:
                raise InvalidLines(problems)
            unshipped = []
            by_pk = {ln.pk: ln for ln in order_lines}
            for pk, quantity in list(back.items()):
                line = by_pk[pk]
                shipped_left = line.shipped - line.returned
                if quantity > shipped_left:
                    unshipped.append(
                        ReturnLineIn(
                            quantity=quantity - shipped_left,
                            line_external_id=line.external_id,
                            sku=line.sku,
                        )
                    )
                    back[pk] = shipped_left
        back = {pk: q for pk, q in back.items() if q > 0}
        result = None
        if back:
            by_pk = {ln.pk: ln for ln in order_lines}
            location_id = next(
                (by_pk[pk].location_id for pk in back if by_pk[pk].location_id), locked.location_id
            )
            result = CustomerReturn.objects.create(
                order=locked,
                external_id=external_id[:128],
                location_id=location_id,
                reason=reason[:255],
                created_at=now,
                created_by=_person(actor),
            )
            moves = [
                StockMove(
                    by_pk[pk].product_id, by_pk[pk].location_id or location_id, "", QUARANTINED, q
                )
                for pk, q in back.items()
                if by_pk[pk].product_id
            ]
            levels = stock_levels_lock(pairs=[m.pair for m in moves])
            stock_moves_apply(
                moves=moves,
                levels=levels,
                reason=MovementReason.CUSTOMER_RETURN,
                ref=f"return:{result.pk}",
                actor=actor,
                now=now,
                note=reason,
            )
            CustomerReturnLine.objects.bulk_create(
                CustomerReturnLine(
                    customer_return=result, line_id=pk, product_id=by_pk[pk].product_id, quantity=q
                )
                for pk, q in back.items()
                if by_pk[pk].product_id
            )
            for pk, q in back.items():
                by_pk[pk].returned += q
            OrderLine.objects.bulk_update([by_pk[pk] for pk in back], ["returned"])
            audit_record(
                actor=actor,
                action="customer_return",
                obj=result,
                after={
                    "order": locked.external_id,
                    "lines": {by_pk[pk].sku: q for pk, q in back.items()},
                },
                reason=reason,
                at=now,
            )
            notify_roles(
                Role.FINANCE,
                kind="customer_return",
                subject=f"Customer return on {locked.channel.code} order {locked.external_id}",
                body=", ".join(f"{by_pk[pk].sku} × {q}" for pk, q in back.items())
                + f" quarantined. Reason: {reason or '—'}",
                link=f"/api/orders/{locked.pk}/",
            )
            order_event_emit(order=locked, event="return_requested", at=now)
            customer_notify(
                order=locked, kind="return_received", ref=f"return:{result.pk}", now=now
            )
        if unshipped:
            order_cancel(
                order=locked, reason=reason or "refunded before shipping", lines=unshipped, now=now
            )
    return result
