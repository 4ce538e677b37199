"""Reconcile: what each channel shows against what IMS expects, set-based.

One SQL statement reads every product with its stock summed per channel's
locations and its listing on every channel; a single pass over that stream
finds the discrepancies and writes sku-rollup.csv. Exceptions are then written
in bulk: new ones created, open ones refreshed, the ones no longer found
resolved.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Product, ProductStatus
from catalog.rules import PricePolicy, policies
from catalog.services.prices import prices_refresh
from channels.models import Channel, ChannelListing
from channels.selectors import assortment_rules
from exceptions.models import (
    Discrepancy,
    ExceptionSource,
    OpsException,
    ReconcileRun,
    RunStatus,
)
from exceptions.services import (
    Finding,
    open_exceptions_by_key,
    ops_exceptions_record,
    ops_exceptions_resolve,
)
from ims.db import as_decimal, binary_collation
from ims.money import money
from inventory.models import StockLevel
from reconcile.drift import price_drift_record
from reconcile.reports import RollupWriter, write_reports
from reconcile.selectors import scorecard_summary

log = logging.getLogger("ims.reconcile")

NO_POLICY = PricePolicy()
OFFERED = (True, None)  # a pair the assortment does not name: offered, the channel's policy
_FIXED = 9  # product columns before the per-channel ones
_PER_CHANNEL = 6  # available at its locations, listing id, quantity, price, currency, MRP

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Channel:
    id: int
    code: str
    currency: str
    channel: Channel
    location_ids: tuple[int, ...]
    in_scope: bool
    # Channel.atp_rule: the channel's ATP of a product from what is available at its locations.
    atp: Callable[[int, int | None], int]


def _channels(scope: Channel | None) -> list[_Channel]:
    result = []
    for channel in Channel.objects.prefetch_related("channel_locations").order_by("code"):
        result.append(
            _Channel(
                id=channel.id,
                code=channel.code,
                currency=channel.currency,
                channel=channel,
                location_ids=tuple(cl.location_id for cl in channel.channel_locations.all()),
                in_scope=scope is None or scope.id == channel.id,
                atp=channel.atp_rule(),
            )
        )
    return result


def _main_query(channels: list[_Channel]) -> str:
    products = Product._meta.db_table
    levels = StockLevel._meta.db_table
    listings = ChannelListing._meta.db_table
    sums, columns, joins = [], [], []
    for i, ch in enumerate(channels):
        ids = ", ".join(str(int(pk)) for pk in ch.location_ids)
        sums.append(
            f"SUM(CASE WHEN location_id IN ({ids}) THEN available ELSE 0 END) AS a{i}"
            if ids
            else f"0 AS a{i}"
        )
        columns.append(
            f"COALESCE(s.a{i}, 0), l{i}.id, l{i}.quantity, l{i}.price, l{i}.currency, l{i}.mrp"
        )
        joins.append(
            f"LEFT JOIN {listings} l{i} ON l{i}.product_id = p.id AND l{i}.channel_id = {int(ch.id)}"
        )
    return (
        "SELECT p.id, p.sku, p.name, p.status, p.category_id, p.price, p.currency, "
        "COALESCE(s.total, 0), p.mrp"
        + "".join(f", {c}" for c in columns)
        + f" FROM {products} p LEFT JOIN (SELECT product_id, SUM(available) AS total"
        + "".join(f", {s}" for s in sums)
        + f" FROM {levels} GROUP BY product_id) s ON s.product_id = p.id "
        + " ".join(joins)
        + f" ORDER BY p.sku COLLATE {binary_collation()}"
    )


def compare_listing(
    *,
    ch: _Channel,
    product_id: int,
    sku: str,
    active: bool,
    withheld: bool,
    price: Decimal | None,
    offered: bool = True,
    max_units: int | None = None,
    currency: str,
    available: int,
    quantity: int | None,
    shown_price: Decimal | None,
    shown_currency: str | None,
    mrp: Decimal | None = None,
    shown_mrp: Decimal | None = None,
) -> list[Finding]:
    """The discrepancies between what IMS expects of one product on one channel and what it shows.
    `withheld`: a luxury category on a channel it excludes; `offered`: the channel's assortment
    (a withheld product is never missing and is expected at 0); `max_units`: the product's own
    cap on the channel; `shown_mrp`: the MRP the channel shows beside the price (None: it
    shows none, and none is compared)."""

    def finding(discrepancy, expected, actual, **extra) -> Finding:
        return Finding(
            sku, discrepancy, expected, actual, ch.id, product_id, currency=currency, **extra
        )

    if quantity is None:
        if active and offered and not withheld:
            return [finding(Discrepancy.MISSING_SKU, "present", "null")]
        return []
    if withheld or not active or not offered:
        # Not to be sold here: any stock shown is a problem; its price is not compared.
        if quantity <= 0:
            return []
        if withheld:
            return [
                finding(
                    Discrepancy.PRICE_RULE_VIOLATION,
                    "luxury_channel",
                    money(shown_price, shown_currency or currency),
                    oversell=True,
                )
            ]
        return [
            finding(
                Discrepancy.STOCK_MISMATCH,
                "0",
                str(quantity),
                oversell=True,
                exposure=quantity * price if price is not None else Decimal(0),
            )
        ]
    found = []
    atp = ch.atp(available, max_units)
    if quantity != atp:
        above = quantity > atp
        exposure = (quantity - atp) * price if above and price is not None else Decimal(0)
        found.append(
            finding(
                Discrepancy.STOCK_MISMATCH,
                str(atp),
                str(quantity),
                exposure=exposure,
                oversell=above,
            )
        )
    if shown_currency != ch.currency:
        found.append(finding(Discrepancy.CURRENCY_MISMATCH, ch.currency, shown_currency or ""))
    elif (
        price is not None
        and shown_price is not None
        and currency == ch.currency
        and shown_price != price
    ):
        found.append(
            finding(
                Discrepancy.PRICE_MISMATCH,
                money(price, currency),
                money(shown_price, currency),
                exposure=abs(shown_price - price) * max(quantity, 0),
            )
        )
    if (
        shown_mrp is not None
        and mrp is not None
        and shown_currency == ch.currency
        and currency == ch.currency
        and shown_mrp != mrp
    ):
        found.append(
            finding(Discrepancy.MRP_MISMATCH, money(mrp, currency), money(shown_mrp, currency))
        )
    return found


def _channel_only(channels: list[_Channel]) -> list[Finding]:
    in_scope = {ch.id for ch in channels if ch.in_scope}
    rows = ChannelListing.objects.filter(product__isnull=True, channel_id__in=in_scope).values_list(
        "channel_id", "identifier", "quantity", "price", "currency"
    )
    return [
        Finding(
            identifier,
            Discrepancy.CHANNEL_ONLY_SKU,
            "null",
            "present",
            channel_id,
            exposure=max(quantity, 0) * (price or 0),
            currency=currency,
        )
        for channel_id, identifier, quantity, price, currency in rows
    ]


def reconcile(
    *,
    channel: Channel | None = None,
    out_dir: Path | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> ReconcileRun:
    """Reconcile every channel (or one), record exceptions, write the three reports."""
    now = now or timezone.now()
    out_dir = Path(out_dir or settings.IMS_REPORTS_DIR)
    run = ReconcileRun.objects.create(started_at=now, channel=channel)
    rollup = RollupWriter(out_dir / "sku-rollup.csv")
    try:
        with transaction.atomic():
            result = _reconcile(run, channel, now, rollup, progress)
        run.created, run.updated, run.resolved = result
        card = scorecard_summary()
        run.figures = card.as_json()
        run.status = RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
        rollup.commit()
        write_reports(out_dir=out_dir, run=run, card=card)
    except BaseException as exc:
        rollup.discard()
        run.status = RunStatus.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    return run


def _reconcile(run, scope, now, rollup: RollupWriter, progress) -> tuple[int, int, int]:
    prices_refresh(now=now)
    channels = _channels(scope)
    scoped_ids = [ch.id for ch in channels if ch.in_scope]
    by_category = policies()
    assortment = assortment_rules(channel_ids=scoped_ids)
    # The open exceptions in scope, whatever raised them: a finding refreshes one another
    # source raised (the ERP's Channel_Only_SKU) rather than opening a second; only
    # reconcile's own (`owned`) are resolved when no longer found.
    existing = open_exceptions_by_key(OpsException.objects.filter(channel_id__in=scoped_ids))
    owned = {e.pk for e in existing.values() if e.source == ExceptionSource.RECONCILE}
    # Open exceptions this run does not own still make their pair unaligned.
    other_pairs = {
        (product_id, channel_id)
        for pk, product_id, channel_id in OpsException.objects.open()
        .filter(channel__isnull=False, product__isnull=False)
        .values_list("pk", "product_id", "channel_id")
        if pk not in owned
    }
    total = Product.objects.count()
    findings: list[Finding] = []
    rollup.open([ch.code for ch in channels])
    with connection.cursor() as cursor:
        cursor.execute(_main_query(channels))
        done = 0
        while batch := cursor.fetchmany(2000):
            for row in batch:
                _product_row(row, channels, by_category, assortment, other_pairs, findings, rollup)
            done += len(batch)
            if progress:
                progress(done, total)
    findings.extend(_channel_only(channels))
    recorded = ops_exceptions_record(
        findings=findings,
        source=ExceptionSource.RECONCILE,
        now=now,
        existing=existing,
        run=run,
        touch_unchanged=False,
    )
    price_drift_record(findings=findings, existing=existing, now=now)
    found = {f.key for f in findings}
    resolved = ops_exceptions_resolve(
        ids=[e.pk for key, e in existing.items() if e.pk in owned and key not in found], now=now
    )
    # Another source's exceptions found again unchanged are seen now too (usually none or few).
    others = [pk for pk in recorded.unchanged_ids if pk not in owned]
    for start in range(0, len(others), 1000):
        OpsException.objects.filter(pk__in=others[start : start + 1000]).update(
            last_seen=now, last_run=run
        )
    # Every open reconcile exception left in scope was seen again now: one statement moves on
    # those this run did not write already (on a first run, none).
    OpsException.objects.open().filter(
        source=ExceptionSource.RECONCILE, channel_id__in=scoped_ids
    ).exclude(last_run=run).update(last_seen=now, last_run=run)
    log.info(
        "reconcile #%s: %s created, %s updated, %s resolved",
        run.pk,
        recorded.created,
        recorded.updated,
        resolved,
    )
    return recorded.created, recorded.updated, resolved


def _product_row(
    row, channels, by_category, assortment, other_pairs, findings, rollup: RollupWriter
) -> None:
    product_id, sku, name, status, category_id, price, currency, total, mrp = row[:_FIXED]
    price, mrp = as_decimal(price), as_decimal(mrp)
    active = status == ProductStatus.ACTIVE
    withheld = by_category.get(category_id, NO_POLICY).withholds
    cells = []
    at = _FIXED
    for ch in channels:
        available, _listing_id, quantity, shown_price, shown_currency, shown_mrp = row[
            at : at + _PER_CHANNEL
        ]
        at += _PER_CHANNEL
        shown_price = as_decimal(shown_price)
        aligned = not other_pairs or (product_id, ch.id) not in other_pairs
        if ch.in_scope:
            offered, max_units = (
                assortment.get((ch.id, product_id), OFFERED) if assortment else OFFERED
            )
            found = compare_listing(
                ch=ch,
                product_id=product_id,
                sku=sku,
                active=active,
                withheld=withheld(ch.code),
                offered=offered,
                max_units=max_units,
                price=price,
                currency=currency,
                available=int(available),
                quantity=quantity,
                shown_price=shown_price,
                shown_currency=shown_currency,
                mrp=mrp,
                shown_mrp=as_decimal(shown_mrp),
            )
            if found:
                findings.extend(found)
                aligned = False
        cells.append((quantity, money(shown_price, shown_currency or currency), aligned))
    if active:
        rollup.write(sku, name, int(total), money(price, currency), cells)
