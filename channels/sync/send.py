"""Sending a run's plan in the provider's batches, recording each answer as it comes; a
refused SKU or a failed run becomes a Sync_Failure (a failed run pauses the channel). An
admin's approval sends a halted run's plan."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels.adapters import adapter_for, is_live
from channels.adapters.base import (
    MRP,
    PRICE,
    QUANTITY,
    PriceUpdate,
    PushResult,
    StockUpdate,
    chunks,
)
from channels.errors import SyncTakenOver
from channels.models import (
    Channel,
    ChannelListing,
    LineState,
    PushRecord,
    SyncLine,
    SyncRun,
    SyncStatus,
)
from channels.services import channel_pause
from channels.sync.runs import (
    Heartbeat,
    adapter_calls_count,
    line_counts,
    sync_run_decide,
    sync_run_finish,
    sync_run_taken_over,
)
from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.errors import ApplicationError
from ims.permissions import require

log = logging.getLogger("ims.sync")
Progress = Callable[[int, int], None]
WHOLE_CHANNEL = "*"  # the sku_id of a Sync_Failure about a whole run


def sync_run_send(run: SyncRun, channel: Channel, adapter, progress: Progress | None) -> None:
    """Send the run's pending lines in the provider's batches, recording each answer as it comes."""
    pending = list(run.lines.filter(state=LineState.PENDING).select_related("product"))
    total = run.planned
    stock = [line for line in pending if line.field == QUANTITY]
    # A product's price and MRP lines go out together, as one PriceUpdate.
    prices: dict[int, list[SyncLine]] = defaultdict(list)
    for line in pending:
        if line.field in (PRICE, MRP):
            prices[line.product_id].append(line)
    if stock and not adapter.capabilities.compare_and_set and is_live(channel):
        stock = _reread_before_raising(run, adapter, stock)
    for batch in chunks(stock, adapter.stock_batch):
        updates = [
            StockUpdate(
                sku=line.ref.get("channel_sku") or line.sku_id,
                quantity=int(line.target),
                previous=int(line.current) if line.current not in ("", None) else None,
                ref=line.ref,
                key=f"{run.pk}-{line.pk}",
            )
            for line in batch
        ]
        _record(run, channel, batch, adapter.push_inventory(updates), QUANTITY, progress, total)
    for batch in chunks(list(prices.values()), adapter.price_batch):
        updates = [_price_update(run, channel, lines) for lines in batch]
        sent = [line for lines in batch for line in lines]
        _record(run, channel, sent, adapter.push_prices(updates), PRICE, progress, total)


def _price_update(run: SyncRun, channel: Channel, lines: list[SyncLine]) -> PriceUpdate:
    """One product's offer price with its MRP (HQ's, or the MRP line's target)."""
    by_field = {line.field: line for line in lines}
    first, price, mrp = lines[0], by_field.get(PRICE), by_field.get(MRP)
    return PriceUpdate(
        sku=first.ref.get("channel_sku") or first.sku_id,
        price=Decimal(price.target) if price else first.product.price,
        currency=channel.currency,
        mrp=Decimal(mrp.target) if mrp else first.product.mrp,
        previous=Decimal(price.current) if price and price.current else None,
        ref=first.ref,
        key=f"{run.pk}-{first.pk}",
    )


def _reread_before_raising(run: SyncRun, adapter, stock: list[SyncLine]) -> list[SyncLine]:
    """Without compare-and-set, read the channel again just before raising a quantity: if it no
    longer shows what the plan read (a sale, an edit), the raise is not sent (stale)."""
    raising = [line for line in stock if int(line.target) > int(line.current or 0)]
    if not raising:
        return stock
    names = {line.ref.get("channel_sku") or line.sku_id: line for line in raising}
    fresh = {state.sku: state.quantity for state in adapter.fetch_snapshot(skus=list(names))}
    stale = []
    for name, line in names.items():
        now_shown = fresh.get(name)
        if now_shown is None or str(now_shown) != line.current:
            line.state = LineState.STALE
            line.error = (
                f"not sent: the channel shows {now_shown if now_shown is not None else 'nothing'} "
                f"now, not {line.current} as read"
            )
            stale.append(line)
    SyncLine.objects.bulk_update(stale, ["state", "error"])
    return [line for line in stock if line.state != LineState.STALE]


def _record(
    run: SyncRun,
    channel: Channel,
    batch: Sequence[SyncLine],
    results: Sequence[PushResult],
    field_name: str,
    progress: Progress | None,
    total: int,
) -> None:
    answers = {(r.sku, r.field): r for r in results}
    now = timezone.now()
    sent: list[SyncLine] = []
    for line in batch:
        answer = answers.get((line.ref.get("channel_sku") or line.sku_id, field_name))
        if answer is None:
            line.state, line.error = LineState.FAILED, "the provider did not answer for this SKU"
        elif answer.ok:
            line.state, line.error = LineState.SENT, ""
            sent.append(line)
        elif answer.stale:
            line.state, line.error = LineState.STALE, answer.error[:500]
        else:
            line.state, line.error = LineState.FAILED, answer.error[:500] or "refused"
    with transaction.atomic():
        SyncLine.objects.bulk_update(batch, ["state", "error"], batch_size=1000)
        PushRecord.objects.bulk_create(
            (
                PushRecord(
                    channel=channel,
                    product_id=line.product_id,
                    field=line.field,
                    value=line.target,
                    pushed_at=now,
                    run=run,
                )
                for line in sent
            ),
            batch_size=2000,
        )
        _listings_show(channel, sent, field_name, now)
        run.done += len(batch)
        run.heartbeat_at = now
        # 0 rows: marked interrupted meanwhile. This batch is recorded (the provider answered);
        # the run that takes over sends the rest.
        taken_over = not SyncRun.objects.filter(pk=run.pk, status=SyncStatus.RUNNING).update(
            done=run.done, heartbeat_at=now
        )
    if taken_over:
        raise SyncTakenOver(f"sync #{run.pk} was marked interrupted: it stops sending")
    if progress:
        progress(run.done, total)


def _listings_show(channel: Channel, sent: Sequence[SyncLine], field_name: str, now) -> None:
    """What the provider accepted is what the channel shows now."""
    if not sent:
        return
    listings = {
        listing.product_id: listing
        for listing in ChannelListing.objects.filter(
            channel=channel, product_id__in=[line.product_id for line in sent]
        )
    }
    for line in sent:
        listing = listings.get(line.product_id)
        if listing is None:
            continue
        if line.field == QUANTITY:
            listing.quantity = int(line.target)
        elif line.field == MRP:
            listing.mrp = Decimal(line.target)
        else:
            listing.price = Decimal(line.target)
        listing.seen_at = now
    fields = ["quantity"] if field_name == QUANTITY else ["price", "mrp"]
    ChannelListing.objects.bulk_update(listings.values(), [*fields, "seen_at"], batch_size=1000)


def sync_run_conclude(run: SyncRun, channel: Channel) -> SyncRun:
    """Finish a push: refused SKUs become Sync_Failures, the ones now sent resolve theirs."""
    now = timezone.now()
    failed = list(
        run.lines.filter(state=LineState.FAILED).values_list(
            "product_id", "sku_id", "field", "target", "error"
        )
    )
    per_sku: dict[tuple[int, str], list] = defaultdict(list)
    for product_id, sku, field_name, target, error in failed:
        per_sku[(product_id, sku)].append((field_name, target, error))
    findings = [
        Finding(
            sku,
            Discrepancy.SYNC_FAILURE,
            "; ".join(f"{f} {t}" for f, t, _ in items)[:255],
            "; ".join(e for _, _, e in items)[:500],
            channel.id,
            product_id,
            currency=channel.currency,
        )
        for (product_id, sku), items in per_sku.items()
    ]
    ops_exceptions_record(findings=findings, source=ExceptionSource.SYNC, now=now)
    # Echoes older than a week are of no use any more.
    PushRecord.objects.filter(channel=channel, pushed_at__lt=now - dt.timedelta(days=7)).delete()
    # Sync failures this run did not find again are over: the run reached the channel.
    still = {f.sku_id for f in findings}
    open_sync = OpsException.objects.filter(
        channel=channel,
        discrepancy=Discrepancy.SYNC_FAILURE,
        source=ExceptionSource.SYNC,
    ).open()
    if run.product_ids:
        open_sync = open_sync.filter(Q(product_id__in=run.product_ids) | Q(sku_id=WHOLE_CHANNEL))
    ops_exceptions_resolve(
        ids=[pk for pk, sku in open_sync.values_list("pk", "sku_id") if sku not in still],
        now=now,
    )
    return sync_run_finish(run, SyncStatus.PARTIAL if failed else SyncStatus.SUCCEEDED)


def sync_run_fail(run: SyncRun, channel: Channel, stage: str, exc: Exception) -> SyncRun:
    """A run that could not complete: a Sync_Failure for the channel, and the channel paused."""
    message = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyncTakenOver):
        log.warning("%s", message)
        return sync_run_taken_over(run)
    if not isinstance(exc, ApplicationError):
        log.exception("sync #%s of %s failed", run.pk, channel.code)
    waiting = line_counts(run).get(LineState.PENDING, 0)
    expected = f"{stage}" + (f": {waiting} value(s) to send" if waiting else "")
    try:
        sync_run_finish(run, SyncStatus.FAILED, error=f"{stage}: {message}")
    except SyncTakenOver:
        return sync_run_taken_over(run)
    ops_exceptions_record(
        findings=[
            Finding(
                WHOLE_CHANNEL,
                Discrepancy.SYNC_FAILURE,
                expected[:255],
                message[:500],
                channel.id,
                currency=channel.currency,
            )
        ],
        source=ExceptionSource.SYNC,
        now=timezone.now(),
    )
    channel_pause(channel=channel, reason=f"sync #{run.pk} failed: {message}"[:500])
    return run


def sync_run_approve(*, run: SyncRun, actor, adapter_options: dict | None = None) -> SyncRun:
    """Send a halted run's plan as it stands (compare-and-set / re-read still guard each value)."""
    require(actor, "channels.approve_syncrun", "approve a halted sync", person_only=True)
    channel = run.channel
    sync_run_decide(run=run, actor=actor, approve=True)
    adapter = adapter_for(channel, **(adapter_options or {}))
    with Heartbeat(run):
        try:
            sync_run_send(run, channel, adapter, None)
            return sync_run_conclude(run, channel)
        except Exception as exc:
            return sync_run_fail(run, channel, "send", exc)
        finally:
            adapter_calls_count(run, adapter)
            adapter.close()
