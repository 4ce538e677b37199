"""Reads of channels: sync runs for the runs page, echoes of our own pushes, the listings and
channel codes the catalog's pages show (registered in channels.apps)."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Product
from channels.models import Channel, ChannelListing, SyncRun


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
