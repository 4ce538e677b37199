"""The sync engine: read what a channel shows, plan what must change, and send it under guardrails.

One run per channel (a SyncRun with its plan lines):
1. Read. A channel with a base_url is read live through its adapter (its listings replaced as a
   snapshot would); one without is read from the last snapshot ingested for it.
2. Plan. Per listed active product, the expected quantity (the channel's ATP; 0 when the channel
   is paused or the category is withheld from it) and price (the offer price in force) against
   what it shows: one line per differing field. No line for a price blocked by a price rule (its
   stock still flows), a missing, channel-only or currency-mismatched listing.
3. By mode (`--mode` only lowers the channel's own): read_only records the plan; dry_run writes
   it too and sends nothing; push sends it in the provider's largest batches, unless the
   mass-change breaker halts it for an admin (more than a configured share of the channel's
   SKUs changed, or set to zero).
No stale absolute overwrite: compare-and-set where the provider has it; elsewhere a quantity is
read again just before it is raised, and not sent if the channel moved meanwhile. What was sent
is recorded (PushRecord) so its echo is not taken for a channel edit.
A run that fails (provider unreachable after retries, refused credentials) ends as a
Sync_Failure exception and pauses the channel; SKUs the provider refused are Sync_Failures each.
A running run heartbeats (a thread of its worker, every IMS_SYNC_HEARTBEAT_SECONDS, and each
batch sent). A run silent for IMS_SYNC_STALE_SECONDS has lost its worker: the next sync of the
channel, the "Sync now" button or the minute's sweep marks it interrupted, and the next run reads
the channel again, so what was already sent is not sent twice. A worker whose run was marked
interrupted stops sending at its next batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.services.prices import prices_refresh
from channels.adapters import adapter_for, is_live
from channels.adapters.base import (
    MRP,
    PRICE,
    QUANTITY,
)
from channels.errors import SyncBusy, SyncNotAllowed
from channels.models import (
    SYNC_MODE_RANK,
    Channel,
    LineState,
    PendingPush,
    SyncMode,
    SyncRun,
    SyncStatus,
    SyncTrigger,
)
from channels.signals import sync_reading
from channels.sync.plan import breaker_reason, build_plan, sync_plan_save, write_plan
from channels.sync.read import listing_count, listings_apply_live, skus_to_read
from channels.sync.runs import (
    Heartbeat,
    adapter_calls_count,
    sync_run_finish,
    sync_run_halt,
    sync_run_start,
)
from channels.sync.send import Progress, sync_run_conclude, sync_run_fail, sync_run_send
from exceptions.models import Discrepancy, PushStatus
from exceptions.selectors import price_sync_blocked
from ims.audit import audit_record
from ims.errors import ApplicationError
from ims.tasks import enqueue


def effective_mode(channel: Channel, requested: str | None) -> str:
    """`--mode` can only lower a channel's mode (push > dry_run > read_only), never raise it."""
    if requested is None:
        return channel.sync_mode
    if requested not in SYNC_MODE_RANK:
        raise SyncNotAllowed(f"unknown mode '{requested}'", code="bad_mode")
    return min(channel.sync_mode, requested, key=lambda m: SYNC_MODE_RANK[m])


@dataclass
class SyncOutcome:
    runs: list[SyncRun] = field(default_factory=list)
    plan_path: Path | None = None
    problems: list[str] = field(default_factory=list)


def sync(
    *,
    channel: Channel | None = None,
    mode: str | None = None,
    out_dir: Path | str | None = None,
    actor=None,
    trigger: str = SyncTrigger.COMMAND,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    adapter_options: dict | None = None,
    record_exceptions: bool = True,
) -> SyncOutcome:
    """Sync every channel (or one) and write sync-plan.csv; one channel's failure stops no other.

    Then (record_exceptions) queue a reconcile of the same scope after commit
    (reconcile.tasks.reconcile_task), so what was read live, sent or found failing becomes
    exceptions in every mode (read_only records exceptions only). The `sync` command passes
    record_exceptions=False and reconciles itself, to print the run."""
    if mode is not None:
        effective_mode(Channel(sync_mode=SyncMode.PUSH), mode)  # refuses an unknown mode
    channels = [channel] if channel is not None else list(Channel.objects.order_by("code"))
    outcome = SyncOutcome()
    for ch in channels:
        try:
            run = sync_channel(
                channel=ch,
                mode=mode,
                actor=actor,
                trigger=trigger,
                now=now,
                progress=progress,
                adapter_options=adapter_options,
            )
        except SyncBusy as exc:
            outcome.problems.append(f"{ch.code}: {exc.message}")
            continue
        outcome.runs.append(run)
        if run.status in (SyncStatus.FAILED, SyncStatus.HALTED):
            outcome.problems.append(
                f"{ch.code}: sync #{run.pk} {run.status}: {run.error or run.halt_reason}"
            )
        elif run.status == SyncStatus.INTERRUPTED:
            outcome.problems.append(f"{ch.code}: sync #{run.pk} interrupted: {run.error}")
        elif run.status == SyncStatus.PARTIAL:
            outcome.problems.append(
                f"{ch.code}: sync #{run.pk}: {run.failed} value(s) refused by the provider"
            )
    out = Path(out_dir or settings.IMS_REPORTS_DIR)
    outcome.plan_path = write_plan(runs=outcome.runs, out_dir=out)
    if record_exceptions:
        enqueue("reconcile.tasks.reconcile_task", channel.pk if channel else None, str(out))
    return outcome


def sync_channel(
    *,
    channel: Channel,
    mode: str | None = None,
    product_ids: Sequence[int] | None = None,
    actor=None,
    trigger: str = SyncTrigger.COMMAND,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    adapter_options: dict | None = None,
) -> SyncRun:
    """One run for one channel: read, plan, and (in push mode) send. Returns the finished run."""
    channel.refresh_from_db()
    now = now or timezone.now()
    run = sync_run_start(
        channel,
        mode=effective_mode(channel, mode),
        trigger=trigger,
        actor=actor,
        now=now,
        product_ids=product_ids,
    )
    adapter = None
    stage = "read the channel's listings"
    with Heartbeat(run):
        try:
            prices_refresh(now=now)
            if is_live(channel):
                adapter = adapter_for(channel, **(adapter_options or {}))
                # Sales the channel made itself are recorded before it is read and planned.
                sync_reading.send(sender=Channel, channel=channel, adapter=adapter, now=now)
                skus = skus_to_read(channel, adapter, product_ids)
                states = adapter.fetch_snapshot(skus=skus)
                read = listings_apply_live(
                    channel=channel, states=states, now=now, product_ids=product_ids
                )
                run.source, run.listings_read = "live", read.listings
            else:
                run.source = "snapshot"
                run.listings_read = listing_count(channel, product_ids)
            stage = "plan"
            plan = build_plan(channel=channel, product_ids=product_ids, paused=run.paused)
            sync_plan_save(run, plan)
            if run.mode != SyncMode.PUSH:
                return sync_run_finish(run, SyncStatus.SUCCEEDED)
            if not run.paused:
                reason = breaker_reason(channel=channel, plan=plan)
                if reason:
                    return sync_run_halt(run, channel, reason)
            stage = "send"
            adapter = adapter or adapter_for(channel, **(adapter_options or {}))
            sync_run_send(run, channel, adapter, progress)
            return sync_run_conclude(run, channel)
        except Exception as exc:
            return sync_run_fail(run, channel, stage, exc)
        finally:
            if adapter is not None:
                adapter_calls_count(run, adapter)
                adapter.close()


def sync_pending(*, channel: Channel, now: dt.datetime | None = None) -> SyncRun | None:
    """Sync the products whose stock changed since the last flush on this channel."""
    with transaction.atomic():
        rows = list(
            PendingPush.objects.select_for_update()
            .filter(channel=channel)
            .values_list("pk", "product_id")
        )
        PendingPush.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    product_ids = sorted({pid for _, pid in rows})
    if not product_ids:
        return None
    try:
        return sync_channel(
            channel=channel, product_ids=product_ids, trigger=SyncTrigger.STOCK_CHANGED, now=now
        )
    except SyncBusy:
        # Put them back: the next flush sends them once the running sync ends.
        PendingPush.objects.bulk_create(
            [
                PendingPush(channel=channel, product_id=pid, since=timezone.now())
                for pid in product_ids
            ],
            ignore_conflicts=True,
        )
        raise


def sync_correction_push(*, exception, actor=None) -> str:
    """Push HQ's value for the exception's SKU to its channel in the channel's mode; set
    push_status pushed or failed (push_error says why). Returns the new push_status."""

    channel = exception.channel
    wanted = {
        Discrepancy.PRICE_MISMATCH: {PRICE},
        Discrepancy.STOCK_MISMATCH: {QUANTITY},
        Discrepancy.MRP_MISMATCH: {MRP},
    }.get(exception.discrepancy, {PRICE, QUANTITY})
    error = ""
    try:
        run = sync_channel(
            channel=channel,
            product_ids=[exception.product_id],
            actor=actor,
            trigger=SyncTrigger.CORRECTION,
        )
    except ApplicationError as exc:
        run, error = None, exc.message
    if run is not None:
        lines = list(run.lines.filter(field__in=wanted))
        if run.status == SyncStatus.FAILED:
            error = run.error
        elif run.mode != SyncMode.PUSH:
            error = f"not sent: channel {channel.code} is in {run.mode} mode (sync #{run.pk})"
        elif any(line.state != LineState.SENT for line in lines):
            error = "; ".join(
                f"{line.field}: {line.error or line.state}"
                for line in lines
                if line.state != LineState.SENT
            )
        elif not lines and PRICE in wanted and price_sync_blocked([exception.product_id]):
            error = "not sent: the SKU's price sync is blocked by a price rule violation"
    before = {"push_status": exception.push_status}
    exception.push_status = PushStatus.FAILED if error else PushStatus.PUSHED
    exception.push_error = error[:500]
    exception.save(update_fields=["push_status", "push_error"])
    audit_record(
        actor=actor,
        action="exception_push_result",
        obj=exception,
        before=before,
        after={"push_status": exception.push_status, "push_error": exception.push_error},
        reason=f"sync #{run.pk}" if run is not None else "",
    )
    return exception.push_status
