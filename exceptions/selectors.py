"""Reads of exceptions: the scorecard figures, the exception lists, run history."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from catalog.models import Product, ProductStatus
from catalog.rules import policies
from channels.models import Channel
from exceptions.models import Discrepancy, OpsException, ReconcileRun
from ims.db import by_bytes
from ims.money import money, money_label, percent, percent_label


def open_exceptions() -> QuerySet[OpsException]:
    return OpsException.objects.open()


def exceptions_for_report(queryset: QuerySet[OpsException] | None = None) -> QuerySet[OpsException]:
    """Open and acknowledged exceptions sorted by sku_id, channel, discrepancy (byte order)."""
    queryset = open_exceptions() if queryset is None else queryset
    return queryset.select_related("channel", "location").order_by(
        by_bytes("sku_id"), by_bytes("channel__code").asc(nulls_first=True), "discrepancy", "pk"
    )


def _amounts_label(amounts: dict[str, Decimal]) -> str:
    if not amounts:
        return "0.00"
    return " + ".join(money_label(amounts[c], c) for c in sorted(amounts))


@dataclass
class ChannelFigures:
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

    @property
    def accuracy_label(self) -> str:
        return percent_label(self.accuracy)

    @property
    def exposure_label(self) -> str:
        return _amounts_label(self.exposure)


@dataclass
class Scorecard:
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
    def accuracy_label(self) -> str:
        return percent_label(self.accuracy)

    @property
    def exception_rate_label(self) -> str:
        return percent_label(self.exception_rate)

    @property
    def exposure_label(self) -> str:
        return _amounts_label(self.exposure)

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
    that should list it). Acknowledged exceptions count as open. Channel-only
    listings count in no pair but are exceptions with exposure.
    """
    card = Scorecard()
    by_category = policies()
    active = Product.objects.filter(status=ProductStatus.ACTIVE)
    card.skus_checked = active.count()
    active_per_category = dict(active.values_list("category_id").annotate(n=Count("id")))
    channels = list(Channel.objects.order_by("code"))
    figures = {ch.id: ChannelFigures(ch.code, ch.name, ch.status) for ch in channels}
    withheld: dict[int, set[int]] = defaultdict(set)
    for ch in channels:
        withheld_here = {c for c, p in by_category.items() if p.withholds(ch.code)}
        withheld[ch.id] = withheld_here
        figures[ch.id].pairs_checked = card.skus_checked - sum(
            active_per_category.get(c, 0) for c in withheld_here
        )
    card.pairs_checked = sum(f.pairs_checked for f in figures.values())

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
        if category_id not in withheld[channel_id]:
            pairs.add((product_id, channel_id))
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


def reconcile_history(*, limit: int = 30) -> list[ReconcileRun]:
    """The latest successful runs, oldest first (for trend charts)."""
    runs = (
        ReconcileRun.objects.filter(status="succeeded")
        .select_related("channel")
        .order_by("-started_at")[:limit]
    )
    return list(reversed(runs))


def price_sync_blocked(product_ids=None) -> set[int]:
    """Products whose price may not be pushed: an open Price_Rule_Violation with no channel
    (an HQ or ERP price kept out by a rule) blocks it until a valid price arrives or it is resolved."""
    queryset = open_exceptions().filter(
        discrepancy=Discrepancy.PRICE_RULE_VIOLATION, channel__isnull=True, product__isnull=False
    )
    if product_ids is not None:
        queryset = queryset.filter(product_id__in=list(product_ids))
    return set(queryset.values_list("product_id", flat=True))


# ---------------------------------------------------------------------------
# The triage list: keyset pagination, fast however many rows there are

SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    # name → ((field, descending), …) ending in the primary key
    "exposure": (("exposure", True), ("id", False)),
    "age": (("first_seen", False), ("id", False)),
    "newest": (("first_seen", True), ("id", True)),
}


@dataclass
class ExceptionPage:
    rows: list[OpsException]
    next_cursor: str = ""
    previous_cursor: str = ""


def _encode(direction: str, row: OpsException, sort: str) -> str:
    values = [str(getattr(row, f)) if f != "id" else row.pk for f, _ in SORTS[sort]]
    return base64.urlsafe_b64encode(json.dumps([direction, *values]).encode()).decode()


def _decode(cursor: str, sort: str):
    try:
        direction, *values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        parsed = []
        for (field, _), value in zip(SORTS[sort], values, strict=True):
            if field == "exposure":
                value = Decimal(value)
                if not value.is_finite():
                    raise ValueError(value)
            elif field == "first_seen":  # aware, in UTC as stored: PostgreSQL refuses odd offsets
                value = dt.datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError(value)
                value = value.astimezone(dt.UTC)
            else:
                value = int(value)
            parsed.append(value)
    except (ValueError, TypeError, KeyError, OverflowError, ArithmeticError):
        return None, None
    if direction not in ("after", "before"):
        return None, None
    return direction, parsed


def _beyond(fields, values, forward: bool) -> Q:
    """Rows after (or before) the given sort values, in that sort order."""
    condition, equal = Q(), Q()
    for (name, descending), value in zip(fields, values, strict=True):
        later = "__lt" if descending == forward else "__gt"
        condition |= equal & Q(**{name + later: value})
        equal &= Q(**{name: value})
    return condition


def exception_page(
    *, queryset: QuerySet[OpsException], sort: str = "exposure", cursor: str = "", size: int = 50
) -> ExceptionPage:
    """One page of exceptions in `sort` order, after or before a cursor (one query)."""
    sort = sort if sort in SORTS else "exposure"
    fields = SORTS[sort]
    order = [("-" if desc else "") + f for f, desc in fields]
    direction, values = _decode(cursor, sort) if cursor else (None, None)
    queryset = queryset.select_related("channel", "product", "location", "acknowledged_by")
    if direction == "before":
        reverse = [o[1:] if o.startswith("-") else "-" + o for o in order]
        rows = list(
            queryset.filter(_beyond(fields, values, forward=False)).order_by(*reverse)[: size + 1]
        )
        more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        page = ExceptionPage(rows)
        if rows:
            page.next_cursor = _encode("after", rows[-1], sort)
            if more_before:
                page.previous_cursor = _encode("before", rows[0], sort)
        return page
    if direction == "after":
        queryset = queryset.filter(_beyond(fields, values, forward=True))
    rows = list(queryset.order_by(*order)[: size + 1])
    page = ExceptionPage(rows[:size])
    if len(rows) > size:
        page.next_cursor = _encode("after", rows[size - 1], sort)
    if direction == "after" and page.rows:
        page.previous_cursor = _encode("before", page.rows[0], sort)
    return page


def exception_tab_counts(queryset: QuerySet[OpsException]) -> dict[str, int]:
    """Open rows per discrepancy under the current filters (one grouped query)."""
    counts = dict(queryset.order_by().values_list("discrepancy").annotate(n=Count("*")))
    return {d: counts.get(d, 0) for d in Discrepancy.values}
