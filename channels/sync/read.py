"""Reading what a channel shows: its listings replaced live as a snapshot would, a price
edited on the channel told apart from the echo of what IMS sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.gtin import gtin14_or_none
from catalog.models import Product, ProductStatus
from channels.adapters.base import (
    PRICE,
    ListingState,
)
from channels.models import (
    Channel,
    ChannelListing,
    PushRecord,
)
from channels.services import _ListingRow, _listings_apply, product_matcher
from ims.audit import Change, audit_record_many
from ims.csvio import IngestResult
from ims.money import money


@dataclass
class ReadResult:
    listings: int = 0
    channel_edits: int = 0


def listings_apply_live(
    *,
    channel: Channel,
    states: Iterable[ListingState],
    now: dt.datetime,
    product_ids: Sequence[int] | None = None,
) -> ReadResult:
    """Replace the channel's listings with what it shows now (only these products' when scoped).

    A price that changed on the channel since the last read, and is not a value IMS sent, is
    a channel edit: recorded in the audit trail (reconcile raises the drift; HQ's price wins)."""

    rows: list[_ListingRow] = []
    seen: set[str] = set()
    for state in states:
        identifier = state.sku or state.external_id or state.barcode
        if not identifier or identifier in seen:
            continue
        seen.add(identifier)
        rows.append(
            _ListingRow(
                None,
                channel,
                identifier,
                state.sku,
                state.external_id,
                state.barcode,
                gtin14_or_none(state.barcode) if state.barcode else None,
                state.quantity if state.quantity is not None else 0,
                state.price,
                state.currency,
                mrp=state.mrp,
            )
        )
        rows[-1].ref = dict(state.ref)
    product_matcher({channel.code}, rows)
    # Two listings naming one product: the first is kept (a snapshot file would be refused).
    named: set[int] = set()
    kept_rows = []
    for r in rows:
        if r.product_id and r.product_id in named:
            continue
        if r.product_id:
            named.add(r.product_id)
        kept_rows.append(r)
    rows = kept_rows
    if product_ids is not None:
        wanted = set(product_ids)
        rows = [r for r in rows if r.product_id in wanted]
    with transaction.atomic():
        before = {
            product_id: price
            for product_id, price in ChannelListing.objects.filter(
                channel=channel, product__isnull=False
            )
            .filter(Q(product_id__in=list(product_ids)) if product_ids is not None else Q())
            .values_list("product_id", "price")
        }
        edits = _channel_edits(channel, rows, before, now)
        kept: dict[int, set[int]] = {}
        _listings_apply(rows, now, IngestResult(), kept)
        refs = {r.identifier: r.ref for r in rows if getattr(r, "ref", None)}
        if refs:
            listings = list(
                ChannelListing.objects.filter(channel=channel, identifier__in=list(refs))
            )
            for listing in listings:
                listing.ref = refs[listing.identifier]
            ChannelListing.objects.bulk_update(listings, ["ref"], batch_size=1000)
        gone = ChannelListing.objects.filter(channel=channel).exclude(
            pk__in=list(kept.get(channel.id, set()))
        )
        if product_ids is not None:
            gone = gone.filter(product_id__in=list(product_ids))
        gone.delete()
        if product_ids is None:
            Channel.objects.filter(pk=channel.pk).update(last_snapshot_at=now)
    return ReadResult(listings=len(rows), channel_edits=edits)


def push_echoes(*, channel: Channel, field: str, values: dict[int, str], within_hours: int = 48):
    """The products whose shown value is one IMS itself sent lately (its echo, not a channel edit)."""
    if not values:
        return set()
    since = timezone.now() - dt.timedelta(hours=within_hours)
    latest: dict[int, str] = {}
    for product_id, value in (
        PushRecord.objects.filter(
            channel=channel, field=field, product_id__in=list(values), pushed_at__gte=since
        )
        .order_by("product_id", "pushed_at", "pk")
        .values_list("product_id", "value")
    ):
        latest[product_id] = value
    return {pid for pid, value in values.items() if latest.get(pid) == value}


def _channel_edits(channel, rows, before: dict, now) -> int:
    changed = {
        r.product_id: money(r.price, r.currency or channel.currency)
        for r in rows
        if r.product_id
        and r.product_id in before
        and before[r.product_id] is not None
        and r.price is not None
        and r.price != before[r.product_id]
    }
    echoes = push_echoes(channel=channel, field=PRICE, values=changed)
    edits = [pid for pid in changed if pid not in echoes]
    if not edits:
        return 0
    skus = dict(Product.objects.filter(pk__in=edits).values_list("pk", "sku"))
    audit_record_many(
        actor=None,
        at=now,
        changes=[
            Change(
                "channel_price_edit",
                object_type="channels.channellisting",
                object_id=f"{channel.code}:{skus[pid]}",
                object_repr=f"{channel.code} {skus[pid]}",
                before={"price": money(before[pid], channel.currency)},
                after={"price": changed[pid]},
                reason="price edited on the channel: drift (HQ's price wins on push)",
            )
            for pid in edits
        ],
    )
    return len(edits)


def skus_to_read(channel: Channel, adapter, product_ids) -> list[str] | None:
    """None reads every listing; a scoped run (or a provider that cannot list) names the SKUs."""
    lists_all = getattr(adapter, "lists_all", True)
    if product_ids is None and lists_all:
        return None
    products = Product.objects.all()
    if product_ids is not None:
        products = products.filter(pk__in=list(product_ids))
    else:
        products = products.filter(status=ProductStatus.ACTIVE)
    names = dict(products.values_list("pk", "sku"))
    for product_id, sku, identifier in ChannelListing.objects.filter(
        channel=channel, product_id__in=list(names)
    ).values_list("product_id", "sku", "identifier"):
        names[product_id] = sku or identifier
    return sorted(set(names.values()))


def listing_count(channel, product_ids) -> int:
    listings = ChannelListing.objects.filter(channel=channel)
    if product_ids is not None:
        listings = listings.filter(product_id__in=list(product_ids))
    return listings.count()
