"""Publishing: IMS creates a product's listing on a channel that does not list it (PRODUCT.md
"Channel assortment and quantity policy": a product is created once, in IMS, and published
from IMS; nothing is ever created in IMS from a channel).

`listing_publish` takes the channel and the SKUs ops chose (a Missing_SKU row, a product page,
a bulk selection, the API, `publish_listings`), works out a draft of each that may be published
there (active, offered by the channel's assortment and its category, not listed yet, priced in
the channel's currency) with its quantity the channel's ATP, and hands the drafts to the
channel's adapter: a web shop creates the product, a marketplace an offer on the catalogue item
its GTIN finds. In push mode the writes are sent; in dry-run mode only worked out (the result
says what would be sent); a read-only or paused channel is refused.

What the channel answered is kept (ListingPublication) and shown beside the SKU's Missing_SKU
exception (its push status: pushed, or failed with the reason). A published listing's id there
becomes the product's alias on the channel, so the next sync names the new listing as the
product's and the Missing_SKU resolves. A product the marketplace cannot match stays a
Missing_SKU with the sentence that says what a person must do; nothing half-created is left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Product, ProductAlias, ProductStatus
from catalog.rules import PricePolicy, policies
from channels.adapters import adapter_for
from channels.adapters.base import ListingDraft, PublishResult
from channels.models import (
    Channel,
    ChannelListing,
    ChannelStatus,
    ListingPublication,
    PublicationStatus,
    SyncMode,
)
from channels.selectors import assortment_rules
from exceptions.models import Discrepancy, ExceptionSource, OpsException, PushStatus
from exceptions.services import Finding, ops_exceptions_record
from ims.audit import Change, audit_record_many
from ims.errors import ApplicationError
from ims.permissions import person, require
from inventory.models import StockLevel

NO_POLICY = PricePolicy()
# The most SKUs one publish takes (a page's bulk selection, an API call, the command's batch).
MOST = 500


class PublishRefused(ApplicationError):
    code = "publish_refused"


@dataclass(frozen=True)
class Skipped:
    sku: str
    reason: str


@dataclass
class PublishOutcome:
    """What one publish did: a publication per product sent (or previewed), and the SKUs left
    out with the reason."""

    channel: Channel
    dry_run: bool
    publications: list[ListingPublication] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for p in self.publications if p.status == status)

    @property
    def summary(self) -> str:
        """One sentence for the person who asked."""
        code = self.channel.code
        parts = []
        if self.dry_run:
            parts.append(
                f"Dry run: {self.count(PublicationStatus.PREVIEWED)} listing(s) worked out for "
                f"{code}, nothing sent"
            )
        else:
            parts.append(f"{self.count(PublicationStatus.PUBLISHED)} published to {code}")
        if unmatched := self.count(PublicationStatus.UNMATCHED):
            parts.append(f"{unmatched} not matched in {code}'s catalogue")
        if failed := self.count(PublicationStatus.FAILED):
            parts.append(f"{failed} refused")
        if self.skipped:
            parts.append(f"{len(self.skipped)} left out")
        return "; ".join(parts) + "."


def publish_allowed(channel: Channel) -> str:
    """Why IMS may not publish to this channel now ('' when it may)."""
    if channel.status == ChannelStatus.PAUSED:
        return f"channel {channel.code} is paused ({channel.pause_reason}): resume it first"
    if channel.sync_mode == SyncMode.READ_ONLY:
        return (
            f"channel {channel.code} is read-only: IMS sends it nothing (set it to push, or to "
            "dry run to see what would be sent)"
        )
    return ""


def listing_drafts(
    *, channel: Channel, skus: Sequence[str]
) -> tuple[list[tuple[Product, ListingDraft]], list[Skipped]]:
    """The drafts of the SKUs that may be published to the channel, with their quantity the
    channel's ATP, and the ones left out with the reason."""
    wanted = list(dict.fromkeys(s.strip() for s in skus if s and s.strip()))
    products = {
        p.sku: p for p in Product.objects.filter(sku__in=wanted).select_related("category", "style")
    }
    ids = [p.pk for p in products.values()]
    listed = dict(
        ChannelListing.objects.filter(channel=channel, product_id__in=ids).values_list(
            "product_id", "identifier"
        )
    )
    # Published from IMS and not read back from the channel yet: not sent a second time.
    awaiting = dict(
        ListingPublication.objects.filter(
            channel=channel, product_id__in=ids, status=PublicationStatus.PUBLISHED
        )
        .order_by("product_id", "created_at")
        .values_list("product_id", "created_at")
    )
    locations = list(channel.channel_locations.values_list("location_id", flat=True))
    available = dict(
        StockLevel.objects.filter(product_id__in=ids, location_id__in=locations)
        .values("product_id")
        .annotate(total=Sum("available"))
        .values_list("product_id", "total")
    )
    aliases: dict[int, list[str]] = {}
    for product_id, value in ProductAlias.objects.filter(
        product_id__in=ids, scope=channel.code
    ).values_list("product_id", "value"):
        aliases.setdefault(product_id, []).append(value)
    assortment = assortment_rules(channel_ids=[channel.pk], product_ids=ids)
    by_category = policies()
    drafts, skipped = [], []
    for sku in wanted:
        product = products.get(sku)
        if product is None:
            skipped.append(Skipped(sku, "IMS has no such SKU"))
            continue
        offered, max_units = assortment.get((channel.pk, product.pk), (True, None))
        reason = ""
        if product.status != ProductStatus.ACTIVE:
            reason = "inactive: IMS publishes active products only"
        elif product.pk in listed:
            reason = f"{channel.code} lists it already (as {listed[product.pk]})"
        elif product.pk in awaiting:
            reason = (
                f"published to {channel.code} on {awaiting[product.pk]:%Y-%m-%d %H:%M} UTC; "
                "the channel's next read confirms it"
            )
        elif not offered:
            reason = f"withheld from {channel.code} by its assortment"
        elif by_category.get(product.category_id, NO_POLICY).withholds(channel.code):
            reason = f"its category ({product.category.name}) is withheld from {channel.code}"
        elif product.price is None:
            reason = "it has no offer price in force"
        elif product.currency != channel.currency:
            reason = (
                f"it is priced in {product.currency}; {channel.code} sells in {channel.currency}"
            )
        if reason:
            skipped.append(Skipped(sku, reason))
            continue
        drafts.append(
            (
                product,
                ListingDraft(
                    sku=product.sku,
                    name=product.name,
                    barcode=product.barcode,
                    gtin=product.gtin,
                    price=product.price,
                    mrp=product.mrp,
                    currency=product.currency,
                    quantity=channel.atp(int(available.get(product.pk) or 0), max_units=max_units),
                    category=product.category.name,
                    uom=product.uom,
                    attributes=dict(product.attributes or {}),
                    aliases=tuple(sorted(aliases.get(product.pk, ()))),
                    style=product.style.code if product.style else "",
                    style_name=product.style.name if product.style else "",
                    key=f"ims-{channel.code}-{product.sku}",
                ),
            )
        )
    return drafts, skipped


def listing_publish(
    *, channel: Channel, skus: Sequence[str], actor, now: dt.datetime | None = None
) -> PublishOutcome:
    """Publish these SKUs to the channel (see the module). Refused (PublishRefused) when the
    channel is read-only or paused, its connector cannot create listings, or too many SKUs are
    asked at once; a SKU that may not be published is left out with the reason."""
    require(actor, "channels.publish_listing", "publish products to channels")
    now = now or timezone.now()
    channel.refresh_from_db()
    if why := publish_allowed(channel):
        raise PublishRefused(why, code="channel_not_publishing")
    if len(skus) > MOST:
        raise PublishRefused(
            f"{len(skus)} SKUs at once: publish at most {MOST} a time",
            extra={"fields": {"skus": [f"At most {MOST} SKUs a time."]}},
        )
    if not skus:
        raise PublishRefused(
            "Choose the products to publish.", extra={"fields": {"skus": ["Choose a product."]}}
        )
    drafts, skipped = listing_drafts(channel=channel, skus=skus)
    dry_run = channel.sync_mode == SyncMode.DRY_RUN
    outcome = PublishOutcome(channel=channel, dry_run=dry_run, skipped=skipped)
    if not drafts:
        return outcome
    adapter = adapter_for(channel)
    try:
        if not adapter.capabilities.publish:
            raise PublishRefused(
                f"IMS cannot create listings on {channel.code} ({channel.get_kind_display()}): "
                "its connector has no create call",
                code="channel_cannot_publish",
            )
        try:
            results = adapter.publish([d for _, d in drafts], dry_run=dry_run)
        except ApplicationError as exc:
            # The channel could not be reached or is not configured: nothing was created.
            results = [PublishResult(d.sku, False, error=exc.message) for _, d in drafts]
    finally:
        adapter.close()
    with transaction.atomic():
        outcome.publications = _publications_record(channel, drafts, results, dry_run, actor, now)
    return outcome


def _publications_record(channel, drafts, results, dry_run, actor, now):
    """Keep each answer, the aliases of the new listings, the Missing_SKU's push status and
    the audit trail."""
    by_sku = {r.sku: r for r in results}
    publications, changes, told = [], [], {}
    for product, draft in drafts:
        result = by_sku.get(draft.sku) or PublishResult(
            draft.sku, False, error="the channel did not answer for this SKU"
        )
        if dry_run:
            status = PublicationStatus.PREVIEWED
        elif result.ok:
            status = PublicationStatus.PUBLISHED
            if error := _alias_keep(channel, product, result.external_id):
                status, result = (
                    PublicationStatus.FAILED,
                    PublishResult(draft.sku, False, error=error, requests=result.requests),
                )
        elif result.unmatched:
            status = PublicationStatus.UNMATCHED
        else:
            status = PublicationStatus.FAILED
        publications.append(
            ListingPublication(
                channel=channel,
                product=product,
                status=status,
                external_id=result.external_id[:255] if result.ok else "",
                error=result.error[:500],
                # As sent; a body's Decimal amounts keep their digits (the field's encoder).
                requests=[dict(r) for r in result.requests],
                actor=person(actor),
                created_at=now,
            )
        )
        if not dry_run:
            told[product.pk] = (status, result)
            changes.append(
                Change(
                    "publish_listing",
                    product,
                    after={
                        "channel": channel.code,
                        "status": status,
                        **({"external_id": result.external_id} if result.ok else {}),
                        **({"error": result.error[:300]} if result.error else {}),
                    },
                )
            )
    ListingPublication.objects.bulk_create(publications)
    audit_record_many(actor=person(actor), changes=changes, at=now)
    _missing_sku_told(channel, drafts, told, now)
    return publications


def _alias_keep(channel: Channel, product: Product, external_id: str) -> str:
    """The new listing's id as the product's alias on the channel; '' when kept (or when the
    channel names it by the SKU itself), else why not."""
    if not external_id or external_id == product.sku:
        return ""
    alias, _ = ProductAlias.objects.get_or_create(
        scope=channel.code, value=external_id, defaults={"product": product}
    )
    if alias.product_id != product.pk:
        return (
            f"{channel.code} answered with id {external_id}, which already names "
            f"{alias.product.sku} there: check the listing on the channel"
        )
    return ""


def _missing_sku_told(channel: Channel, drafts, told: dict, now: dt.datetime) -> None:
    """Each published SKU's Missing_SKU on the channel says what happened (push status pushed,
    or failed with the reason); an unmatched one is opened if reconcile has not yet, so a
    person sees it."""
    unmatched = [
        Finding(
            product.sku,
            Discrepancy.MISSING_SKU,
            "present",
            "null",
            channel.pk,
            product.pk,
            currency=product.currency,
        )
        for product, _ in drafts
        if told.get(product.pk, (None,))[0] == PublicationStatus.UNMATCHED
    ]
    if unmatched:
        ops_exceptions_record(findings=unmatched, source=ExceptionSource.RECONCILE, now=now)
    rows = list(
        OpsException.objects.open().filter(
            channel=channel, discrepancy=Discrepancy.MISSING_SKU, product_id__in=list(told)
        )
    )
    for exception in rows:
        status, result = told[exception.product_id]
        if status == PublicationStatus.PUBLISHED:
            exception.push_status, exception.push_error = PushStatus.PUSHED, ""
        else:
            exception.push_status = PushStatus.FAILED
            exception.push_error = result.error[:500] or status
        exception.detail = {
            **(exception.detail or {}),
            "publication": {
                "status": status,
                "external_id": result.external_id,
                "at": now.isoformat(),
            },
        }
    OpsException.objects.bulk_update(rows, ["push_status", "push_error", "detail"])
