"""The webhook inbox: a delivery is verified, stored raw and processed at most once; one that
fails is kept with its error and replayed.

Lock order: a stored delivery's row, then what its event locks (intake's order path).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels.models import Channel
from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_resolve
from ims.errors import ApplicationError
from ims.http import http_client
from orders.models import WebhookDelivery
from orders.providers import provider_for
from orders.providers.base import (
    BadDelivery,
    Context,
    Event,
    SignatureRefused,
    clean_text,
    event_of,
    unstorable,
)
from orders.services.intake import order_event_apply
from orders.services.state import findings_record

log = logging.getLogger("ims.webhooks")


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


def provider_settings(provider, channel: Channel) -> dict[str, str]:
    """The channel settings a provider reads (its `settings` names, e.g. Lightspeed's
    OUTLET_ID), from IMS_CHANNEL_<CODE>_<NAME>; no other variable."""
    names = getattr(provider, "settings", ())
    return {name: os.environ.get(channel.env_prefix + name, "") for name in names}


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
        provider.verify(
            headers=headers,
            body=body,
            secret=secret,
            ctx=Context(now=now, url=url, settings=provider_settings(provider, channel)),
        )
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
    delivery = WebhookDelivery(
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
        row, duplicate = _delivery_keep_error(delivery, problem)
        return Received("duplicate" if duplicate else "refused", row)
    if channel.kind in READ_BACK:
        delivery, created = webhook_delivery_store(delivery=delivery)
        if not created and delivery.processed_at:
            return Received("duplicate", delivery)
        row, refused = _delivery_process(delivery=delivery, now=now)
        return Received("refused" if refused else "stored", row)
    event, problem, refused = _delivery_parse(provider, delivery, now=now)
    row, duplicate = _delivery_apply(delivery=delivery, event=event, problem=problem, now=now)
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


def delivery_take(
    *,
    channel: Channel,
    source: str,
    body: bytes,
    now=None,
    delivery_id: str = "",
    topic: str = "",
) -> Received:
    """Store and process a delivery IMS fetched itself over the channel's authenticated API:
    an order its poll listed (`source="poll"`, named by `delivery_id`, read by the provider's
    `polled`) or a message read from the channel's queue (`source="queue"`, named and read as
    the provider names and reads its deliveries). Nothing to verify: IMS asked the channel.
    Stored and processed at most once, like a webhook (a known delivery is a `duplicate`)."""
    now = now or timezone.now()
    provider = provider_for(channel.kind)
    if provider is None:
        raise NoIntake(f"channel {channel.code} ({channel.kind}) has no order intake")
    meta = (
        _Meta(delivery_id, topic)
        if delivery_id
        else _delivery_meta(provider, headers={}, body=body)
    )
    delivery = WebhookDelivery(
        channel=channel,
        provider=provider.kind,
        source=source,
        delivery_id=meta.delivery_id[:255],
        topic=clean_text(meta.topic)[:120],
        headers={},
        body=body,
        received_at=now,
    )
    if meta.problem:
        row, duplicate = _delivery_keep_error(
            delivery, f"could not read the delivery: {meta.problem}"
        )
        return Received("duplicate" if duplicate else "refused", row)
    known = _stored_row(delivery)
    if known is not None and known.processed_at:
        return Received("duplicate", known)
    event, problem, refused = _delivery_parse(provider, known or delivery, now=now)
    row, duplicate = _delivery_apply(
        delivery=known or delivery, event=event, problem=problem, now=now
    )
    if duplicate:
        return Received("duplicate", row)
    return Received("refused" if refused and not row.processed_at else "stored", row)


def webhook_delivery_store(*, delivery: WebhookDelivery) -> tuple[WebhookDelivery, bool]:
    """Keep the raw delivery, committed on its own before any processing; (row, created).
    A delivery stored before (the same channel and delivery id) is returned as it is."""
    try:
        with transaction.atomic():
            return _stored(delivery), True
    except IntegrityError:
        return _stored_row(delivery), False


# What a delivery is when it arrives; the rest (processed_at, outcome, error, order,
# attempts) is what processing made of it.
_RECEIVED = (
    "channel_id",
    "provider",
    "source",
    "delivery_id",
    "topic",
    "headers",
    "body",
    "received_at",
)


def _stored(delivery: WebhookDelivery, **state) -> WebhookDelivery:
    """INSERT a new delivery (as received, with `state`); IntegrityError if it is stored."""
    return WebhookDelivery.objects.create(**{f: getattr(delivery, f) for f in _RECEIVED}, **state)


def _stored_row(delivery: WebhookDelivery, *, lock: bool = False) -> WebhookDelivery | None:
    """The stored row of this delivery (by its primary key, else its channel and id)."""
    rows = WebhookDelivery.objects.select_for_update() if lock else WebhookDelivery.objects
    if delivery.pk is not None:
        return rows.get(pk=delivery.pk)
    return rows.filter(channel_id=delivery.channel_id, delivery_id=delivery.delivery_id).first()


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
    meta = (
        _Meta(delivery.delivery_id, delivery.topic)  # IMS named it (orders.services.poll)
        if delivery.source == "poll"
        else _delivery_meta(provider, headers=delivery.headers, body=bytes(delivery.body))
    )
    if meta.problem:  # refused at intake for its id: refused the same way when replayed
        event, problem, refused = None, f"could not read the delivery: {meta.problem}", True
    else:
        read_back = channel.kind in READ_BACK and delivery.source == "webhook"
        client = channel_http_client(channel) if read_back else None
        try:
            event, problem, refused = _delivery_parse(provider, delivery, now=now, client=client)
        finally:
            if client is not None:
                client.close()
    row, _ = _delivery_apply(delivery=delivery, event=event, problem=problem, now=now)
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
            ctx=Context(
                now=now, client=client, settings=provider_settings(provider, delivery.channel)
            ),
            polled=delivery.source == "poll",
        )
    except BadDelivery as exc:
        return None, f"could not read the delivery: {exc}", True
    except httpx.HTTPError as exc:
        return None, f"could not read the order back: {exc}", False
    except Exception as exc:  # kept on the delivery, replayed from the inbox
        log.exception("webhook delivery %s could not be parsed", delivery.delivery_id)
        return None, f"could not read the delivery: {exc!r}", False
    return event, "", False


def _delivery_apply(
    *, delivery: WebhookDelivery, event: Event | None, problem: str, now
) -> tuple[WebhookDelivery, bool]:
    """Apply a delivery's event at most once: (its row, whether it was processed already).

    The delivery's row and everything the event changes commit together, in one transaction
    that marks it processed, or not at all. A new delivery is inserted, processed, after its
    event is applied (one write fewer than inserting it first). If that insert finds it stored
    meanwhile (a retry or a concurrent twin), or the event's new order was stored by another
    delivery, the transaction rolls back whole and the event is applied again with the stored
    row locked first: it is answered `duplicate` if that row is processed.

    If applying fails, a second transaction keeps the delivery with the error and the attempt,
    to be replayed from the inbox: nothing received is lost.
    """
    if event is not None:
        try:
            return _event_apply(delivery, event, now)
        except Exception as exc:  # kept on the delivery, replayed from the inbox
            log.exception(
                "webhook delivery %s of %s failed", delivery.delivery_id, delivery.channel.code
            )
            problem = exc.message if isinstance(exc, ApplicationError) else repr(exc)
    return _delivery_keep_error(delivery, problem)


def _event_apply(delivery: WebhookDelivery, event: Event, now) -> tuple[WebhookDelivery, bool]:
    conflicts = 0
    while True:
        try:
            with transaction.atomic():
                held = None
                if delivery.pk is not None or conflicts:
                    held = _stored_row(delivery, lock=True)
                    if held is not None and held.processed_at:
                        return held, True
                outcome, order = order_event_apply(channel=delivery.channel, event=event, now=now)
                done = {"processed_at": now, "outcome": outcome[:255], "error": "", "order": order}
                if held is None:
                    return _stored(delivery, attempts=1, **done), False
                failed_before = bool(held.error)
                held.attempts += 1
                for name, value in done.items():
                    setattr(held, name, value)
                held.save(update_fields=[*done, "attempts"])
                if failed_before:
                    delivery_failure_resolve(held, now=now)
                return held, False
        except IntegrityError:  # stored meanwhile: the delivery, or its event's new order
            conflicts += 1
            if conflicts == 3:
                raise


def _delivery_keep_error(delivery: WebhookDelivery, problem: str) -> tuple[WebhookDelivery, bool]:
    """Keep a delivery that was not processed, with why and one attempt more: (its row,
    whether it was processed already, by a concurrent twin)."""
    with transaction.atomic():
        row, created = _stored_row(delivery, lock=True), False
        if row is None:
            try:
                with transaction.atomic():
                    row, created = _stored(delivery, attempts=1, error=clean_text(problem)), True
            except IntegrityError:  # a twin stored it meanwhile
                row = _stored_row(delivery, lock=True)
        if row.processed_at:
            return row, True
        if not created:
            row.attempts += 1
            row.error = clean_text(problem)
            row.save(update_fields=["error", "attempts"])
    delivery_failure_raise(row)
    return row, False


def _failure_ref(delivery: WebhookDelivery) -> str:
    return f"delivery:{delivery.pk}"


def delivery_failure_raise(delivery: WebhookDelivery) -> None:
    """Ops see a delivery the inbox keeps unprocessed (a body IMS cannot read, an order it
    could not apply): a Sync_Failure named `delivery:<id>` on its channel, opened or
    refreshed; resolved when the delivery is processed. A forgery is never stored, so it
    raises nothing (it is logged)."""
    what = f"{delivery.provider} {delivery.source} {delivery.delivery_id} ({delivery.topic})"
    finding = Finding(
        _failure_ref(delivery),
        Discrepancy.SYNC_FAILURE,
        f"order delivery processed: {what}"[:255],
        delivery.error[:500],
        channel_id=delivery.channel_id,
    )
    try:
        findings_record([finding], now=timezone.now())
    except Exception:  # the delivery and its error are kept whatever happens here
        log.exception("could not raise the exception for delivery %s", delivery.pk)


def delivery_failure_resolve(delivery: WebhookDelivery, *, now) -> None:
    ids = OpsException.objects.open().filter(
        sku_id=_failure_ref(delivery),
        discrepancy=Discrepancy.SYNC_FAILURE,
        source=ExceptionSource.ORDER,
        channel_id=delivery.channel_id,
    )
    ops_exceptions_resolve(
        ids=ids.values_list("pk", flat=True), now=now, reason="the delivery was processed"
    )


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
        _delivery_keep_error(delivery, problem)
    except Exception:
        log.exception("could not keep the error of webhook delivery %s", delivery.pk)
