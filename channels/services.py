"""Writes to channels: their configuration and what they show (snapshots)."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, partial

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.gtin import gtin14
from catalog.models import Product, ProductAlias
from channels.errors import SyncNotAllowed
from channels.models import (
    Channel,
    ChannelKind,
    ChannelListing,
    ChannelLocation,
    ChannelStatus,
    PendingPush,
    SyncMode,
    secrets_clash,
    secrets_name,
)
from exceptions.models import Discrepancy, PushStatus
from ims.audit import Change, audit_record, audit_record_many
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, parse_int, split_list
from ims.errors import FileRejected
from ims.money import parse_amount, parse_currency
from ims.notify import notify_roles
from ims.permissions import require
from ims.roles import Role
from ims.tasks import enqueue
from inventory.models import Location

CHANNELS_COLUMNS = ("code", "name", "kind", "sync_mode", "locations", "safety_buffer", "currency")
# The quantity policy beside the safety buffer (PRODUCT.md "Channel assortment and quantity
# policy"); blank: the default (share 100, zero at 0, no cap).
CHANNELS_OPTIONAL = ("base_url", "share_pct", "zero_at", "max_units")
SNAPSHOT_COLUMNS = ("channel", "sku_id", "quantity", "price", "currency")
SNAPSHOT_OPTIONAL = ("barcode", "external_id", "mrp")

_BUFFER = re.compile(r"^([0-9]{1,3}(?:\.[0-9]{1,2})?)\s*%$")


def _choice(choices):
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices.values:
            raise ValueError(f"'{text}' is not one of {', '.join(choices.values)}")
        return value

    return parse


def parse_buffer(text: str) -> tuple[int, Decimal | None]:
    """`5` → (5 units, None); `10%` → (0, 10)."""
    text = text.strip()
    match = _BUFFER.match(text)
    if match:
        pct = Decimal(match.group(1))
        if pct > 100:
            raise ValueError(f"'{text}' is more than 100%")
        return 0, pct
    if text.isascii() and text.isdigit():
        return parse_int(text), None
    raise ValueError(f"'{text}' is not a number of units or a percentage like 10%")


def parse_share(text: str) -> Decimal:
    """`80` or `80%` or `62.5` → the share of the stock a channel sees, 0 to 100."""
    text = text.strip().removesuffix("%").strip()
    if not re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,2})?", text):
        raise ValueError(f"'{text}' is not a percentage from 0 to 100 (at most 2 decimals)")
    share = Decimal(text)
    if share > 100:
        raise ValueError(f"'{text}' is more than 100")
    return share


def parse_units(text: str) -> int:
    """A whole number of units, 0 or more."""
    units = parse_int(text)
    if units < 0:
        raise ValueError(f"'{text}' is below 0")
    return units


def _url(text: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        raise ValueError(f"'{text}' is not an http(s) URL") from None
    return text


@transaction.atomic
def channels_ingest(*, path, label: str | None = None, actor=None) -> IngestResult:
    source = CsvSource(
        path,
        required=CHANNELS_COLUMNS,
        optional=CHANNELS_OPTIONAL,
        label=label,
        lengths=column_lengths(Channel, name="name", base_url="base_url"),
    )
    result = IngestResult()
    locations = dict(Location.objects.values_list("code", "id"))
    # Codes by the secrets they read (IMS_CHANNEL_<NAME>_…): one channel per name.
    stored = {secrets_name(c): c for c in Channel.objects.values_list("code", flat=True)}
    seen: dict[str, int] = {}
    seen_secrets: dict[str, tuple[str, int]] = {}
    parsed = []
    for line, values in source:
        row = Row(source, line, values)
        code = row.parse("code", _code)
        name = secrets_name(code) if code else ""
        if code in seen:
            row.fail("code", f"duplicate of line {seen[code]}")
        elif name in seen_secrets:
            other, other_line = seen_secrets[name]
            row.fail("code", secrets_clash(code, f"'{other}' on line {other_line}"))
        elif stored.get(name, code) != code:
            row.fail("code", secrets_clash(code, f"channel '{stored[name]}'"))
        elif code:
            seen[code] = line
            seen_secrets[name] = (code, line)
        fields = {
            "name": row.required("name"),
            "kind": row.parse("kind", _choice(ChannelKind)),
            "sync_mode": row.parse("sync_mode", _choice(SyncMode)),
            "currency": row.parse("currency", parse_currency),
            "base_url": row.parse("base_url", _url, required=False) or "",
        }
        buffer = row.parse("safety_buffer", parse_buffer)
        if buffer:
            fields["buffer_units"], fields["buffer_pct"] = buffer
        share = row.parse("share_pct", parse_share, required=False)
        fields["share_pct"] = Decimal(100) if share is None else share
        fields["zero_at"] = row.parse("zero_at", parse_units, required=False) or 0
        fields["max_units"] = row.parse("max_units", parse_units, required=False)
        codes = row.parse("locations", split_list) or []
        for location_code in codes:
            if location_code not in locations:
                row.fail("locations", f"unknown location '{location_code}'")
        if len(set(codes)) != len(codes):
            row.fail("locations", "a location is listed twice")
        if row.ok:
            parsed.append((code, fields, [locations[c] for c in codes]))
    if source.errors:
        raise FileRejected(source.errors)

    existing = {c.code: c for c in Channel.objects.filter(code__in=seen)}
    current = defaultdict(list)
    for channel_id, location_id in ChannelLocation.objects.filter(
        channel__in=existing.values()
    ).values_list("channel_id", "location_id"):
        current[channel_id].append(location_id)

    codes = {pk: code for code, pk in locations.items()}
    changes = []
    for code, fields, location_ids in parsed:
        result.rows += 1
        channel = existing.get(code)
        if channel is None:
            channel = Channel.objects.create(code=code, **fields)
            result.created += 1
            changes.append(
                Change(
                    "channel_create",
                    channel,
                    after={**fields, "locations": [codes[i] for i in location_ids]},
                )
            )
        else:
            differs = [k for k, v in fields.items() if getattr(channel, k) != v]
            before = {k: getattr(channel, k) for k in differs}
            if differs:
                for key, value in fields.items():
                    setattr(channel, key, value)
                channel.save()
            if current[channel.id] != location_ids:
                before["locations"] = [codes[i] for i in current[channel.id]]
            if before:
                result.updated += 1
                after = {k: fields[k] for k in differs}
                if "locations" in before:
                    after["locations"] = [codes[i] for i in location_ids]
                changes.append(Change("channel_update", channel, before=before, after=after))
            else:
                result.unchanged += 1
                continue
        if current[channel.id] != location_ids:
            ChannelLocation.objects.filter(channel=channel).delete()
            ChannelLocation.objects.bulk_create(
                ChannelLocation(channel=channel, location_id=location_id, position=position)
                for position, location_id in enumerate(location_ids)
            )
    audit_record_many(actor=actor, changes=changes)
    return result


def _code(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(f"'{text}' may hold only letters, digits, '-' and '_'")
    return text


# ---------------------------------------------------------------------------
# Snapshots: what a channel shows now


@dataclass
class _ListingRow:
    row: Row
    channel: Channel
    identifier: str
    sku: str
    external_id: str
    barcode: str
    gtin: str | None
    quantity: int
    price: Decimal
    currency: str
    product_id: int | None = None
    mrp: Decimal | None = None


def product_matcher(channel_codes, rows: list[_ListingRow]) -> None:
    """Name each row's product: by alias (the channel's or a global one), then SKU, then barcode."""
    names = {r.sku for r in rows if r.sku} | {r.external_id for r in rows if r.external_id}
    aliases: dict[tuple[str, str], int] = {
        (scope, value): product_id
        for scope, value, product_id in ProductAlias.objects.filter(
            scope__in=[*channel_codes, ""], value__in=names
        ).values_list("scope", "value", "product_id")
    }
    by_sku = dict(
        Product.objects.filter(sku__in={r.sku for r in rows if r.sku}).values_list("sku", "id")
    )
    by_gtin = dict(
        Product.objects.filter(gtin__in={r.gtin for r in rows if r.gtin}).values_list("gtin", "id")
    )
    for r in rows:
        for name in (r.sku, r.external_id):
            if name and r.product_id is None:
                r.product_id = aliases.get((r.channel.code, name)) or aliases.get(("", name))
        if r.product_id is None and r.sku:
            r.product_id = by_sku.get(r.sku)
        if r.product_id is None and r.gtin:
            r.product_id = by_gtin.get(r.gtin)


@transaction.atomic
def snapshot_ingest(*, path, label: str | None = None, now: dt.datetime) -> IngestResult:
    """Replace what each channel in the file shows: a listing absent from the file is gone."""
    source = CsvSource(
        path,
        required=SNAPSHOT_COLUMNS,
        optional=SNAPSHOT_OPTIONAL,
        label=label,
        lengths=column_lengths(
            ChannelListing, sku_id="sku", external_id="external_id", barcode="barcode"
        ),
    )
    result = IngestResult()
    channels = {c.code: c for c in Channel.objects.all()}
    seen_identifier: dict[tuple[int, str], int] = {}
    seen_product: dict[tuple[int, int], int] = {}
    kept_ids: dict[int, set[int]] = {}
    for chunk in source.chunks():
        rows = [
            r for line, values in chunk if (r := _listing_row(Row(source, line, values), channels))
        ]
        product_matcher({r.channel.code for r in rows}, rows)
        for r in rows:
            key = (r.channel.id, r.identifier)
            if key in seen_identifier:
                r.row.fail(
                    "sku_id",
                    f"'{r.identifier}' appears twice for {r.channel.code} "
                    f"(first on line {seen_identifier[key]})",
                )
            seen_identifier.setdefault(key, r.row.line)
            if r.product_id:
                pkey = (r.channel.id, r.product_id)
                if pkey in seen_product:
                    r.row.fail(
                        "sku_id",
                        f"names the same product as line {seen_product[pkey]} on {r.channel.code}",
                    )
                seen_product.setdefault(pkey, r.row.line)
        if source.errors:
            continue
        _listings_apply(rows, now, result, kept_ids)
    if source.errors:
        raise FileRejected(source.errors)
    for channel_id, kept in kept_ids.items():
        gone = [
            pk
            for pk in ChannelListing.objects.filter(channel_id=channel_id).values_list(
                "pk", flat=True
            )
            if pk not in kept
        ]
        for start in range(0, len(gone), 1000):
            ChannelListing.objects.filter(pk__in=gone[start : start + 1000]).delete()
        result.updated += len(gone)
    Channel.objects.filter(pk__in=kept_ids).update(last_snapshot_at=now)
    return result


def _listing_row(row: Row, channels: dict[str, Channel]) -> _ListingRow | None:
    channel = channels.get(row.get("channel"))
    if row.get("channel") and channel is None:
        row.fail("channel", f"unknown channel '{row.get('channel')}'")
    elif not row.get("channel"):
        row.fail("channel", "is required")
    sku, external_id, barcode = row.get("sku_id"), row.get("external_id"), row.get("barcode")
    identifier = sku or external_id or barcode
    if not identifier:
        row.fail("sku_id", "one of sku_id, external_id, barcode is required")
    gtin = row.parse("barcode", gtin14, required=False)
    quantity = row.parse("quantity", parse_int)
    currency = row.parse("currency", parse_currency)
    price = row.parse("price", partial(parse_amount, currency=currency)) if currency else None
    if price is not None and price < 0:
        row.fail("price", f"'{row.get('price')}' is negative")
    mrp = None
    if currency and row.get("mrp"):
        mrp = row.parse("mrp", partial(parse_amount, currency=currency))
        if mrp is not None and mrp < 0:
            row.fail("mrp", f"'{row.get('mrp')}' is negative")
    if not row.ok:
        return None
    return _ListingRow(
        row,
        channel,
        identifier,
        sku,
        external_id,
        barcode,
        gtin,
        quantity,
        price,
        currency,
        mrp=mrp,
    )


def _listings_apply(rows: list[_ListingRow], now, result: IngestResult, kept_ids) -> None:
    by_channel = defaultdict(list)
    for r in rows:
        by_channel[r.channel.id].append(r)
    for channel_id, group in by_channel.items():
        kept = kept_ids.setdefault(channel_id, set())
        existing = list(
            ChannelListing.objects.filter(channel_id=channel_id).filter(
                Q(identifier__in=[r.identifier for r in group])
                | Q(product_id__in=[r.product_id for r in group if r.product_id])
            )
        )
        by_identifier = {listing.identifier: listing for listing in existing}
        by_product = {listing.product_id: listing for listing in existing if listing.product_id}
        new, changed = [], []
        fields = (
            "identifier",
            "product_id",
            "sku",
            "external_id",
            "barcode",
            "quantity",
            "price",
            "mrp",
            "currency",
        )
        for r in group:
            result.rows += 1
            values = {
                "identifier": r.identifier,
                "product_id": r.product_id,
                "sku": r.sku,
                "external_id": r.external_id,
                "barcode": r.barcode,
                "quantity": r.quantity,
                "price": r.price,
                "mrp": r.mrp,
                "currency": r.currency,
            }
            listing = by_identifier.get(r.identifier) or (
                r.product_id and by_product.get(r.product_id)
            )
            if not listing or listing.pk in kept:
                new.append(ChannelListing(channel_id=channel_id, seen_at=now, **values))
                result.created += 1
                continue
            kept.add(listing.pk)
            if any(getattr(listing, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(listing, key, value)
                listing.seen_at = now
                changed.append(listing)
                result.updated += 1
            else:
                result.unchanged += 1
        ChannelListing.objects.bulk_update(changed, [*fields, "seen_at"], batch_size=1000)
        created = ChannelListing.objects.bulk_create(new, batch_size=1000)
        kept.update(listing.pk for listing in created)


# ---------------------------------------------------------------------------
# Pause and resume


def channel_pause(
    *, channel: Channel, reason: str, actor=None, now: dt.datetime | None = None
) -> bool:
    """Stop selling on a channel: mark it paused with the reason, record it, tell the admins.

    Returns False when it was already paused (the first reason stays).
    """
    now = now or dt.datetime.now(dt.UTC)
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        if locked.status == ChannelStatus.PAUSED:
            return False
        before = {"status": locked.status, "pause_reason": locked.pause_reason}
        locked.status, locked.pause_reason, locked.paused_at = (
            ChannelStatus.PAUSED,
            reason[:500],
            now,
        )
        locked.save(update_fields=["status", "pause_reason", "paused_at"])
        audit_record(
            actor=actor,
            action="channel_pause",
            obj=locked,
            before=before,
            after={"status": locked.status, "pause_reason": locked.pause_reason},
            reason=reason,
            at=now,
        )
        # Its listings go to zero availability as soon as it can be reached (in its mode).

        enqueue("channels.tasks.sync_paused_task", locked.pk)
        notify_roles(
            Role.ADMIN,
            kind="channel_paused",
            subject=f"Channel {locked.code} paused",
            body=f"{locked.name} ({locked.code}) was paused: {reason}\nOnly an admin can resume it.",
            link=f"/channels/{locked.code}/",
        )
    channel.refresh_from_db()
    return True


def channel_resume(*, channel: Channel, actor, reason: str = "") -> None:
    """Sell again on a paused channel. Only an admin may."""
    require(actor, "channels.resume_channel", "resume a paused channel", person_only=True)
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        if locked.status != ChannelStatus.PAUSED:
            return
        before = {"status": locked.status, "pause_reason": locked.pause_reason}
        locked.status, locked.pause_reason, locked.paused_at = ChannelStatus.ACTIVE, "", None
        locked.save(update_fields=["status", "pause_reason", "paused_at"])
        audit_record(
            actor=actor,
            action="channel_resume",
            obj=locked,
            before=before,
            after={"status": locked.status},
            reason=reason,
        )
    channel.refresh_from_db()


# ---------------------------------------------------------------------------
# Stock changed: the seam between the ledger and the sync engine


def stock_changed(*, product_ids, now=None) -> None:
    """These products' stock changed: their ATP is due on every channel that may send or plan
    (push, dry_run). Called in the transaction that wrote the movements (the receiver of
    inventory.signals.stock_changed, channels.apps), so the push is queued exactly when the
    change commits.

    Each channel gets the products queued (PendingPush, one row per channel and product however
    many orders touch it) and, once the change commits, a flush of its queue is handed to the
    workers straight away (`sync_flush_request`): the other channels see the new quantity in
    seconds, and a burst of orders makes one push per channel, not one per order. The
    `pending stock pushes` schedule flushes every channel's queue each minute as the catch-up
    for anything missed. With the in-process queue (IMS_QUEUE=sync: the demo, the tests) the
    flush runs once the transaction commits.
    """
    product_ids = sorted({int(p) for p in product_ids})
    if not product_ids:
        return
    since = PendingPush._meta.get_field("since").get_db_prep_save(now or timezone.now(), connection)
    with connection.cursor() as cursor:
        for start in range(0, len(product_ids), PENDING_CHUNK):
            chunk = product_ids[start : start + PENDING_CHUNK]
            cursor.execute(_pending_push_sql(len(chunk)), [since, SyncMode.READ_ONLY, *chunk])
    transaction.on_commit(
        lambda: sync_flush_request(
            channel_ids=Channel.objects.exclude(sync_mode=SyncMode.READ_ONLY)
            .order_by("code")
            .values_list("pk", flat=True)
        )
    )


# A queued flush not begun after this long is taken for lost (its worker died before it ran):
# the next stock change queues another.
FLUSH_LOST_SECONDS = 30


def sync_flush_request(*, channel_ids) -> list[int]:
    """Hand each channel's pending pushes to the workers now, unless a flush of that channel is
    queued already and has not begun (it will take these products too): one conditional UPDATE
    per channel marks it queued, and only the request that marked it enqueues the flush.
    Returns the channels whose flush was enqueued."""
    now = timezone.now()
    lost = now - dt.timedelta(seconds=FLUSH_LOST_SECONDS)
    enqueued = []
    for pk in channel_ids:
        if (
            Channel.objects.filter(pk=pk)
            .filter(Q(push_flush_at__isnull=True) | Q(push_flush_at__lt=lost))
            .update(push_flush_at=now)
        ):
            enqueued.append(pk)
            enqueue("channels.tasks.sync_pending_task", pk)
    return enqueued


# Products queued per statement (PostgreSQL takes at most 65,535 parameters in one).
PENDING_CHUNK = 5000


@cache
def _pending_push_sql(products: int) -> str:
    """The one INSERT that queues these products on every channel that may send or plan: the
    one hand-written statement on the order path (the ORM has no INSERT … SELECT), which saves
    reading the channels first. Rows go in (channel, product) order, so two transactions
    queueing overlapping products wait for each other in one order and never deadlock."""
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    return (
        f"INSERT INTO {table(PendingPush)} ({quote('channel_id')}, {quote('product_id')}, "
        f"{quote('since')}) SELECT c.{quote('id')}, p.{quote('id')}, %s "
        f"FROM {table(Channel)} c, {table(Product)} p "
        f"WHERE c.{quote('sync_mode')} <> %s AND p.{quote('id')} IN "
        f"({', '.join(['%s'] * products)}) "
        f"ORDER BY c.{quote('id')}, p.{quote('id')} ON CONFLICT DO NOTHING"
    )


def sync_push_correction(*, exception, actor) -> None:
    """The dashboard's "Push correction": queue pushing HQ's value for that SKU to that channel.

    The push runs in the background in the channel's mode; the exception's push_status goes
    queued → pushed (or failed, with push_error). Reconcile later finds it aligned (verified).
    """
    require(actor, "exceptions.push_opsexception", "push corrections", person_only=True)
    if not exception.is_open:
        raise SyncNotAllowed(f"exception #{exception.pk} is {exception.status}")
    if (
        exception.channel_id is None
        or exception.product_id is None
        or exception.discrepancy
        not in (
            Discrepancy.PRICE_MISMATCH,
            Discrepancy.STOCK_MISMATCH,
            Discrepancy.MRP_MISMATCH,
            Discrepancy.SYNC_FAILURE,
        )
    ):
        raise SyncNotAllowed(
            f"a {exception.discrepancy} exception has no value to push", code="nothing_to_push"
        )
    if exception.channel.sync_mode == SyncMode.READ_ONLY:
        raise SyncNotAllowed(
            f"channel {exception.channel.code} is read-only: nothing is sent to it",
            code="channel_read_only",
        )
    before = {"push_status": exception.push_status}
    exception.push_status, exception.push_error = PushStatus.QUEUED, ""
    exception.save(update_fields=["push_status", "push_error"])
    audit_record(
        actor=actor,
        action="exception_push",
        obj=exception,
        before=before,
        after={"push_status": exception.push_status},
    )
    enqueue("channels.tasks.sync_push_correction_task", exception.pk, actor.pk)
