"""Reads of channels: sync runs for the runs page, echoes of our own pushes, the listings and
channel codes the catalog's pages show (registered in channels.apps)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from catalog.models import Product
from channels.models import Channel, ChannelAssortment, ChannelListing, SyncRun


def assortment_rules(
    *, channel_ids=None, product_ids=None
) -> dict[tuple[int, int], tuple[bool, int | None]]:
    """(channel id, product id) → (offered, its own cap) where the assortment says other than
    the default (offered, no cap of its own); a pair not in it is offered with the channel's
    policy alone."""
    rows = ChannelAssortment.objects.filter(Q(publish=False) | Q(max_units__isnull=False))
    if channel_ids is not None:
        rows = rows.filter(channel_id__in=list(channel_ids))
    if product_ids is not None:
        rows = rows.filter(product_id__in=list(product_ids))
    return {
        (channel_id, product_id): (publish, max_units)
        for channel_id, product_id, publish, max_units in rows.values_list(
            "channel_id", "product_id", "publish", "max_units"
        ).iterator(chunk_size=5000)
    }


def channel_codes() -> set[str]:
    return set(Channel.objects.values_list("code", flat=True))


def product_listings(product: Product) -> list[ChannelListing]:
    """The product's listing on each channel (the product page)."""
    return list(
        ChannelListing.objects.filter(product=product)
        .select_related("channel")
        .order_by("channel__code")
    )


def sync_run_list(
    *, channel_code: str | None = None, status: str | None = None
) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("channel", "actor", "decided_by")
    if channel_code:
        runs = runs.filter(channel__code=channel_code)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-started_at", "-id")


def sync_run_lines(*, run: SyncRun, state: str | None = None):
    lines = run.lines.order_by("sku_id", "field")
    if state:
        lines = lines.filter(state=state)
    return lines
