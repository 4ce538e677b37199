"""The order poll: every channel's orders changed since a stored cursor, read from the
channel's own API into the same inbox and the same `order_receive` as its webhooks.

It is the safety net for lost webhooks (no vendor guarantees delivery) and, for a channel
that has no webhooks (Flipkart), its intake. Each listed order becomes one delivery named
`poll:<order id>@<the channel's time of its change>`, so a change polled twice is stored
once; an order that already reached IMS by its webhook changes nothing (`order_update`
finds nothing new), and one whose webhook was lost is received and reserved once.

The cursor is the latest change stored; a poll starts a margin before it (OVERLAP), since a
channel's list may show a change a little after its time. A channel whose list is ordered by
its own cursor rather than by time (Lightspeed's sale versions: `orders_positioned` on its
adapter) is asked for what follows the position its last poll reached (OrderPoll.position,
the adapter's `orders_reached`); its changes are named by that version (`OrderChange.version`)
when they carry one.

A channel whose own point of sale sells from the stock IMS pushes to it without orders IMS
receives (Square: `pos_sales_changed` on its adapter) has those sales read too, by each poll,
by each sync of the channel before it plans (channels.signals.sync_reading) and when the
channel says its counts changed (EventKind.STOCK_CHANGED). Each sale is one delivery named
`pos:<its id>`, recorded once as a POS sale (orders.services.pos, the one stock service); the
read covers every sale the channel received up to the time it started, which the adapter
then stamps on the counts it pushes (`counts_as_of`): a sale after it is never written over.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from channels.adapters import adapter_class, adapter_for
from channels.models import Channel
from ims.errors import ApplicationError
from orders.models import OrderPoll
from orders.providers import provider_for
from orders.services.inbox import delivery_take

log = logging.getLogger("ims.orders.poll")

OVERLAP = dt.timedelta(minutes=10)
FIRST_POLL = dt.timedelta(days=1)  # how far back a channel's first poll looks
POLL_OFF = ("off", "0", "false", "no")


class NoOrderPoll(ApplicationError):
    code = "no_order_poll"
    http_status = 404


@dataclass(frozen=True)
class PollResult:
    channel: str
    found: int  # orders the channel listed
    stored: int  # new to the inbox
    received: int  # of those, orders IMS did not know (lost webhooks, or polled intake)
    failed: int  # stored with an error, replayed from the inbox
    error: str = ""
    sales: SalesRead | None = None  # the channel's own POS sales, where it has them


@dataclass(frozen=True)
class SalesRead:
    channel: str
    found: int  # sales (units sold) the channel listed
    stored: int  # new to the inbox
    recorded: int  # of those, recorded as POS sales (the others: not the POS's, or an order's)
    failed: int  # stored with an error, replayed from the inbox
    error: str = ""


def order_poll_supported(channel: Channel) -> bool:
    """A channel whose orders can be polled: a live connection whose adapter lists orders
    and whose provider reads them, unless `IMS_CHANNEL_<CODE>_ORDER_POLL` is `off` (a Flipkart
    channel whose orders a relay posts in IMS's own form: the relay and the poll name an
    order differently, so both would take it twice)."""
    if not channel.base_url:
        return False
    if os.environ.get(channel.env_prefix + "ORDER_POLL", "").strip().lower() in POLL_OFF:
        return False
    provider = provider_for(channel.kind)
    return provider is not None and hasattr(provider, "polled")


def orders_poll(*, channel: Channel, now: dt.datetime | None = None, adapter=None) -> PollResult:
    """List the channel's orders changed since its cursor and take each into the inbox.

    A channel that cannot be reached (or refuses) keeps its cursor: the next poll asks again
    from the same place; the error is kept on its OrderPoll and returned."""
    now = now or timezone.now()
    if not order_poll_supported(channel):
        raise NoOrderPoll(f"channel {channel.code} ({channel.kind}) has no order poll")
    state, _ = OrderPoll.objects.get_or_create(channel=channel)
    since = state.cursor - OVERLAP if state.cursor else now - FIRST_POLL
    cursor = state.cursor or since
    position = state.position
    found = stored = received = failed = 0
    error = ""
    own = adapter is None
    adapter = adapter or adapter_for(channel)
    positioned = getattr(adapter, "orders_positioned", False)
    try:
        try:
            changes = (
                adapter.orders_changed(since=since, after=state.position)
                if positioned
                else adapter.orders_changed(since=since)
            )
            for change in changes:
                found += 1
                at = f"v{change.version}" if change.version else change.changed_at.isoformat()
                taken = delivery_take(
                    channel=channel,
                    source="poll",
                    body=change.body,
                    delivery_id=f"poll:{change.external_id}@{at}",
                    topic="order",
                    now=now,
                )
                cursor = max(cursor, change.changed_at)
                if taken.status == "duplicate":
                    continue
                stored += 1
                row = taken.delivery
                if not row.processed_at:
                    failed += 1
                elif _received(row.outcome):
                    received += 1
            if positioned:
                position = getattr(adapter, "orders_reached", "") or position
        except ApplicationError as exc:  # unreachable, refused, not configured: next time
            # The list may come in any order: the cursor stays where it was, and what was
            # taken already is known by its name when it is listed again.
            cursor, error = state.cursor, exc.message
            log.warning("order poll of %s failed: %s", channel.code, error)
        state.cursor = cursor
        state.position = position
        state.polled_at = now
        state.found, state.stored = found, stored
        state.error = error
        state.save(update_fields=["cursor", "position", "polled_at", "found", "stored", "error"])
        # The POS's sales after the orders: an order this poll received is known to them.
        sales = None
        if pos_sales_supported(channel):
            sales = pos_sales_read(channel=channel, adapter=adapter, now=now)
    finally:
        if own:
            adapter.close()
    return PollResult(channel.code, found, stored, received, failed, error, sales)


def _received(outcome: str) -> bool:
    """An outcome that took something IMS did not know: a new order, a new POS sale."""
    if outcome.startswith("order ") and " received" in outcome:
        return True
    return outcome.startswith("POS sale ") and "(known)" not in outcome and " voided" not in outcome


def pos_sales_supported(channel: Channel) -> bool:
    """A channel whose own point of sale's sales are read: a live connection whose adapter
    lists them and whose provider reads them."""
    if not order_poll_supported(channel):
        return False
    return hasattr(adapter_class(channel.kind), "pos_sales_changed")


def pos_sales_read(*, channel: Channel, adapter=None, now: dt.datetime | None = None) -> SalesRead:
    """Read the sales the channel's own point of sale made since its sales cursor (less
    OVERLAP) up to now, and take each into the inbox, where it is recorded once as a POS sale
    (or kept with why it is not one). Once every one is taken the adapter is told that IMS's
    stock includes them up to the time the read began (`counts_as_of`), and the cursor moves
    there. A channel that cannot be reached keeps its cursor and the error."""
    now = now or timezone.now()
    if not pos_sales_supported(channel):
        raise NoOrderPoll(f"channel {channel.code} ({channel.kind}) lists no POS sales")
    # The channel's clock, not a test's `now`: the time stamped on the counts pushed next.
    until = timezone.now()
    state, _ = OrderPoll.objects.get_or_create(channel=channel)
    since = state.sales_cursor - OVERLAP if state.sales_cursor else until - FIRST_POLL
    found = stored = recorded = failed = 0
    error = ""
    own = adapter is None
    adapter = adapter or adapter_for(channel)
    try:
        for change in adapter.pos_sales_changed(since=since, until=until):
            found += 1
            taken = delivery_take(
                channel=channel,
                source="poll",
                body=change.body,
                delivery_id=f"pos:{change.external_id}",
                topic="pos_sale",
                now=now,
            )
            if taken.status == "duplicate":
                continue
            stored += 1
            row = taken.delivery
            if not row.processed_at:
                failed += 1
            elif row.outcome.startswith("POS sale "):
                recorded += 1
        adapter.counts_as_of(until)
    except ApplicationError as exc:  # unreachable, refused: read again from the same cursor
        error = exc.message
        log.warning("POS sales read of %s failed: %s", channel.code, error)
    finally:
        if own:
            adapter.close()
    with transaction.atomic():
        state = OrderPoll.objects.select_for_update().get(pk=state.pk)
        if not error and (state.sales_cursor is None or state.sales_cursor < until):
            state.sales_cursor = until  # every sale the channel received before it is taken
        state.sales_read_at = now
        state.sales_error = error
        state.save(update_fields=["sales_cursor", "sales_read_at", "sales_error"])
    return SalesRead(channel.code, found, stored, recorded, failed, error)


def pos_sales_read_quietly(*, channel: Channel, adapter=None) -> SalesRead | None:
    """pos_sales_read where it applies, for callers that must go on whatever happens (a sync
    about to plan, a queued task): a failure is logged (the channel's refusal or silence is
    kept on its OrderPoll too) and the caller goes on; the next read starts where this one
    did."""
    if not pos_sales_supported(channel):
        return None
    try:
        return pos_sales_read(channel=channel, adapter=adapter)
    except Exception:
        log.exception("POS sales read of %s failed", channel.code)
        return None


def orders_poll_all(*, now: dt.datetime | None = None) -> list[PollResult]:
    """Poll every channel that can be polled; one channel failing never stops the others."""
    results = []
    for channel in Channel.objects.exclude(base_url="").order_by("code"):
        if not order_poll_supported(channel):
            continue
        try:
            results.append(orders_poll(channel=channel, now=now))
        except Exception as exc:
            log.exception("order poll of %s failed", channel.code)
            results.append(PollResult(channel.code, 0, 0, 0, 0, repr(exc)))
    return results
