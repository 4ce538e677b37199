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
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

from django.utils import timezone

from channels.adapters import adapter_for
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
    except ApplicationError as exc:  # unreachable, refused, not configured: asked again next time
        # The list may come in any order: the cursor stays where it was, and what was taken
        # already is known by its name when it is listed again.
        cursor, error = state.cursor, exc.message
        log.warning("order poll of %s failed: %s", channel.code, error)
    finally:
        if own:
            adapter.close()
    state.cursor = cursor
    state.position = position
    state.polled_at = now
    state.found, state.stored = found, stored
    state.error = error
    state.save()
    return PollResult(channel.code, found, stored, received, failed, error)


def _received(outcome: str) -> bool:
    """An outcome that took something IMS did not know: a new order, a new POS sale."""
    if outcome.startswith("order ") and " received" in outcome:
        return True
    return outcome.startswith("POS sale ") and "(known)" not in outcome and " voided" not in outcome


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
