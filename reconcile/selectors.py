"""The scorecard: sync accuracy, exception rate, exposure and oversell risk over the open
exceptions, the active catalog and the channels (what the reports and the dashboard show)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum

from catalog.models import Product, ProductStatus
from catalog.rules import policies
from channels.models import Channel, ChannelAssortment
from exceptions.models import Discrepancy
from exceptions.selectors import open_exceptions
from ims.money import money, money_label, percent, percent_label


class _Labels:
    """Accuracy and exposure as the pages show them."""

    @property
    def accuracy_label(self) -> str:
        return percent_label(self.accuracy)

    @property
    def exposure_label(self) -> str:
        """Each currency's amount, joined by +; 0.00 when none."""
        if not self.exposure:
            return "0.00"
        return " + ".join(money_label(self.exposure[c], c) for c in sorted(self.exposure))


@dataclass
class ChannelFigures(_Labels):
    code: str
    name: str
    status: str
    pairs_checked: int = 0
    pairs_with_exception: int = 0
    exceptions: int = 0
    exposure: dict[str, Decimal] = field(default_factory=dict)

    @property
    def accuracy(self) -> Decimal:
        return percent(self.pairs_checked - self.pairs_with_exception, self.pairs_checked)


@dataclass
class Scorecard(_Labels):
    """The figures PRODUCT.md defines, from the exceptions open now."""

    skus_checked: int = 0
    skus_aligned: int = 0
    pairs_checked: int = 0
    pairs_with_exception: int = 0
    exceptions: int = 0
    exposure: dict[str, Decimal] = field(default_factory=dict)
    oversell_skus: int = 0
    by_discrepancy: dict[str, int] = field(default_factory=dict)
    exposure_by_discrepancy: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    channels: list[ChannelFigures] = field(default_factory=list)

    @property
    def accuracy(self) -> Decimal:
        return percent(self.skus_aligned, self.skus_checked)

    @property
    def exception_rate(self) -> Decimal:
        return percent(self.pairs_with_exception, self.pairs_checked)

    @property
    def exception_rate_label(self) -> str:
        return percent_label(self.exception_rate)

    @property
    def oversell_rate(self) -> Decimal:
        """The oversell-risk SKUs as a % of SKUs checked (the IPSP seed's metric is a %)."""
        return percent(self.oversell_skus, self.skus_checked)

    @property
    def oversell_rate_label(self) -> str:
        return percent_label(self.oversell_rate)

    def as_json(self) -> dict:
        """Plain JSON for ReconcileRun.figures (amounts as strings)."""
        data = asdict(self)
        data["accuracy"] = str(self.accuracy)
        data["exception_rate"] = str(self.exception_rate)
        data["exposure"] = {c: money(v, c) for c, v in self.exposure.items()}
        data["exposure_by_discrepancy"] = {
            d: {c: money(v, c) for c, v in amounts.items()}
            for d, amounts in self.exposure_by_discrepancy.items()
        }
        for figures, channel in zip(data["channels"], self.channels, strict=True):
            figures["exposure"] = {c: money(v, c) for c, v in channel.exposure.items()}
            figures["accuracy"] = str(channel.accuracy)
        return data


def scorecard_summary() -> Scorecard:
    """Sync accuracy, exception rate, exposure and oversell risk as of now.

    SKUs checked are active products; pairs checked are (active product, channel
    that should list it), and a withheld product the channel shows anyway (a pair
    with an exception). Acknowledged exceptions count as open. Channel-only
    listings count in no pair but are exceptions with exposure.
    """
    card = Scorecard()
    by_category = policies()
    active = Product.objects.filter(status=ProductStatus.ACTIVE)
    card.skus_checked = active.count()
    active_per_category = dict(active.values_list("category_id").annotate(n=Count("id")))
    channels = list(Channel.objects.order_by("code"))
    figures = {ch.id: ChannelFigures(ch.code, ch.name, ch.status) for ch in channels}
    # Withheld from a channel: a luxury category it excludes, or the channel's assortment.
    withheld: dict[int, set[int]] = defaultdict(set)
    for ch in channels:
        withheld[ch.id] = {c for c, p in by_category.items() if p.withholds(ch.code)}
    not_offered = {
        (channel_id, product_id)
        for channel_id, product_id, category_id in ChannelAssortment.objects.filter(
            publish=False, product__status=ProductStatus.ACTIVE
        ).values_list("channel_id", "product_id", "product__category_id")
        if category_id not in withheld[channel_id]
    }
    withheld_per_channel = Counter(channel_id for channel_id, _ in not_offered)
    for ch in channels:
        figures[ch.id].pairs_checked = (
            card.skus_checked
            - sum(active_per_category.get(c, 0) for c in withheld[ch.id])
            - withheld_per_channel[ch.id]
        )

    exceptions = open_exceptions()
    unaligned_skus: set[int] = set()
    pairs: set[tuple[int, int]] = set()
    rows = (
        exceptions.filter(channel__isnull=False, product__status=ProductStatus.ACTIVE)
        .values_list("product_id", "product__category_id", "channel_id")
        .distinct()
    )
    for product_id, category_id, channel_id in rows:
        unaligned_skus.add(product_id)
        pairs.add((product_id, channel_id))
        if category_id in withheld[channel_id] or (channel_id, product_id) in not_offered:
            # A withheld product the channel shows anyway is a pair checked, with an exception.
            figures[channel_id].pairs_checked += 1
    card.pairs_checked = sum(f.pairs_checked for f in figures.values())
    per_channel_pairs = Counter(channel_id for _, channel_id in pairs)
    for channel_id, count in per_channel_pairs.items():
        figures[channel_id].pairs_with_exception = count
    card.pairs_with_exception = len(pairs)
    card.skus_aligned = card.skus_checked - len(unaligned_skus)

    totals = exceptions.values_list("channel_id", "discrepancy", "currency").annotate(
        n=Count("id"), amount=Sum("exposure")
    )
    exposure: dict[str, Decimal] = defaultdict(Decimal)
    by_discrepancy: Counter = Counter()
    exposure_by_discrepancy: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for channel_id, discrepancy, currency, n, amount in totals:
        amount = amount or Decimal(0)
        card.exceptions += n
        by_discrepancy[discrepancy] += n
        if amount:
            exposure[currency] += amount
            exposure_by_discrepancy[discrepancy][currency] += amount
        if channel_id in figures:
            figures[channel_id].exceptions += n
            if amount:
                figures[channel_id].exposure[currency] = (
                    figures[channel_id].exposure.get(currency, Decimal(0)) + amount
                )
    card.exposure = dict(exposure)
    card.by_discrepancy = {d: by_discrepancy[d] for d in Discrepancy.values if by_discrepancy[d]}
    card.exposure_by_discrepancy = {d: dict(v) for d, v in exposure_by_discrepancy.items()}
    card.oversell_skus = (
        exceptions.filter(oversell=True, product__status=ProductStatus.ACTIVE)
        .values("product_id")
        .distinct()
        .count()
    )
    card.channels = [figures[ch.id] for ch in channels]
    return card
