"""The plan: per listed active product, what must change on the channel (quantity, price),
the mass-change breaker that halts it for an admin, and the plan file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db.models import Q, Sum
from django.utils import timezone

from catalog.models import ProductStatus
from catalog.rules import PricePolicy, policies, price_rule_check
from channels.adapters.base import (
    MRP,
    PRICE,
    QUANTITY,
)
from channels.models import (
    Channel,
    ChannelListing,
    LineState,
    SyncLine,
    SyncMode,
    SyncRun,
)
from channels.selectors import assortment_rules
from channels.sync.runs import sync_setting
from exceptions.selectors import price_sync_blocked
from ims.csvio import write_csv
from ims.db import by_bytes
from ims.money import money
from inventory.models import StockLevel

PLAN_COLUMNS = ("channel", "sku_id", "field", "current", "target", "sent")
NO_POLICY = PricePolicy()


def breaker_limits(channel: Channel) -> tuple[Decimal, Decimal, int]:
    """(max % of SKUs changed, max % set to zero, fewest SKUs that can trip it) for a channel."""
    change = channel.breaker_change_pct
    zero = channel.breaker_zero_pct
    return (
        change if change is not None else Decimal(sync_setting("IMS_SYNC_MAX_CHANGE_PCT", "50")),
        zero if zero is not None else Decimal(sync_setting("IMS_SYNC_MAX_ZERO_PCT", "20")),
        int(sync_setting("IMS_SYNC_BREAKER_MIN_SKUS", "10")),
    )


@dataclass
class PlanLine:
    product_id: int
    sku: str
    field: str
    current: str
    target: str
    ref: dict = field(default_factory=dict)


@dataclass
class Plan:
    lines: list[PlanLine] = field(default_factory=list)
    listed: int = 0  # listings of active products that sync may touch
    blocked_prices: int = 0

    @property
    def changed_skus(self) -> int:
        return len({line.product_id for line in self.lines})

    @property
    def zeroed(self) -> int:
        return sum(
            1
            for line in self.lines
            if line.field == QUANTITY and line.target == "0" and int(line.current or 0) > 0
        )


def build_plan(
    *, channel: Channel, product_ids: Sequence[int] | None = None, paused: bool = False
) -> Plan:
    """What must change on the channel, set-based: three queries, no query per SKU."""
    plan = Plan()
    locations = list(channel.channel_locations.values_list("location_id", flat=True))
    listings = ChannelListing.objects.filter(channel=channel, product__isnull=False)
    if product_ids is not None:
        listings = listings.filter(product_id__in=list(product_ids))
    rows = listings.order_by(by_bytes("product__sku")).values_list(
        "product_id",
        "product__sku",
        "product__status",
        "product__category_id",
        "product__price",
        "product__currency",
        "product__mrp",
        "product__cost",
        "quantity",
        "price",
        "mrp",
        "currency",
        "sku",
        "identifier",
        "ref",
    )
    stock = dict(
        StockLevel.objects.filter(location_id__in=locations)
        .filter(Q(product_id__in=list(product_ids)) if product_ids is not None else Q())
        .values("product_id")
        .annotate(total=Sum("available"))
        .values_list("product_id", "total")
    )
    by_category = policies()
    assortment = assortment_rules(channel_ids=[channel.pk], product_ids=product_ids)
    blocked = price_sync_blocked(product_ids)
    atp = channel.atp_rule()
    for (
        product_id,
        sku,
        status,
        category_id,
        price,
        currency,
        mrp,
        cost,
        quantity,
        shown_price,
        shown_mrp,
        shown_currency,
        channel_sku,
        identifier,
        ref,
    ) in rows.iterator(chunk_size=2000):
        ref = {**(ref or {}), "channel_sku": channel_sku or identifier}
        if paused:
            # A paused channel sells nothing: every listing it shows goes to zero availability.
            if quantity != 0:
                plan.lines.append(PlanLine(product_id, sku, QUANTITY, str(quantity), "0", ref))
            continue
        if status != ProductStatus.ACTIVE or (shown_currency or "") != channel.currency:
            continue
        plan.listed += 1
        policy = by_category.get(category_id, NO_POLICY)
        offered, max_units = assortment.get((channel.pk, product_id), (True, None))
        withheld = policy.withholds(channel.code) or not offered
        target = 0 if withheld else atp(int(stock.get(product_id) or 0), max_units)
        if quantity != target:
            plan.lines.append(PlanLine(product_id, sku, QUANTITY, str(quantity), str(target), ref))
        if withheld or price is None or shown_price is None or currency != channel.currency:
            continue
        price_differs = money(shown_price, currency) != money(price, currency)
        # The channel shows another MRP (MRP parity): HQ's goes out with the offer price.
        mrp_differs = shown_mrp is not None and mrp is not None and shown_mrp != mrp
        if not (price_differs or mrp_differs):
            continue
        # Checked again before the push: a rule tightened under the price in force blocks it
        # (and the MRP that would go out with it) too.
        if product_id in blocked or price_rule_check(
            offer=price, mrp=mrp, cost=cost, policy=policy
        ):
            plan.blocked_prices += 1
            continue
        if price_differs:
            plan.lines.append(
                PlanLine(
                    product_id,
                    sku,
                    PRICE,
                    money(shown_price, currency),
                    money(price, currency),
                    ref,
                )
            )
        if mrp_differs:
            plan.lines.append(
                PlanLine(
                    product_id, sku, MRP, money(shown_mrp, currency), money(mrp, currency), ref
                )
            )
    return plan


def breaker_reason(*, channel: Channel, plan: Plan) -> str:
    """Why the mass-change breaker stops this plan ('' when it may go)."""
    max_change, max_zero, fewest = breaker_limits(channel)
    listed = max(
        plan.listed,
        ChannelListing.objects.filter(
            channel=channel, product__status=ProductStatus.ACTIVE, currency=channel.currency
        ).count(),
    )
    if not listed:
        return ""
    changed, zeroed = plan.changed_skus, plan.zeroed
    if zeroed >= fewest and Decimal(zeroed * 100) > max_zero * listed:
        return (
            f"would set {zeroed} of {listed} SKUs to zero ({zeroed * 100 / listed:.1f} %), "
            f"more than the {max_zero.normalize():f} % allowed (a truncated file?)"
        )
    if changed >= fewest and Decimal(changed * 100) > max_change * listed:
        return (
            f"would change {changed} of {listed} SKUs ({changed * 100 / listed:.1f} %), "
            f"more than the {max_change.normalize():f} % allowed"
        )
    return ""


def write_plan(*, runs: Sequence[SyncRun], out_dir: Path) -> Path:
    """sync-plan.csv: channel,sku_id,field,current,target,sent (sorted by channel, sku, field)."""
    path = Path(out_dir) / "sync-plan.csv"
    lines = (
        SyncLine.objects.filter(run__in=[r.pk for r in runs])
        .select_related("run__channel")
        .order_by(by_bytes("run__channel__code"), by_bytes("sku_id"), "field")
    )
    write_csv(
        path,
        PLAN_COLUMNS,
        (
            (
                line.run.channel.code,
                line.sku_id,
                line.field,
                line.current,
                line.target,
                "yes" if line.state == LineState.SENT else "no",
            )
            for line in lines.iterator(chunk_size=5000)
        ),
    )
    return path


def sync_plan_save(run: SyncRun, plan: Plan) -> None:
    state = LineState.PENDING if run.mode == SyncMode.PUSH else LineState.PLANNED
    SyncLine.objects.bulk_create(
        (
            SyncLine(
                run=run,
                product_id=line.product_id,
                sku_id=line.sku,
                field=line.field,
                current=line.current,
                target=line.target,
                state=state,
                ref=line.ref,
            )
            for line in plan.lines
        ),
        batch_size=2000,
    )
    run.planned, run.blocked_prices = len(plan.lines), plan.blocked_prices
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["source", "listings_read", "planned", "blocked_prices", "heartbeat_at"])
