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
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from catalog.gtin import gtin14_or_none
from catalog.models import Product, ProductStatus
from catalog.rules import PricePolicy, broken_rule, policies
from catalog.services.prices import prices_refresh
from channels.adapters import adapter_for, is_live
from channels.adapters.base import (
    PRICE,
    QUANTITY,
    ListingState,
    PriceUpdate,
    PushResult,
    StockUpdate,
    chunks,
)
from channels.errors import SyncBusy, SyncNotAllowed, SyncTakenOver
from channels.models import (
    SYNC_MODE_RANK,
    Channel,
    ChannelListing,
    ChannelStatus,
    LineState,
    PendingPush,
    PushRecord,
    SyncLine,
    SyncMode,
    SyncRun,
    SyncStatus,
    SyncTrigger,
)
from ims.audit import Change, audit_record, audit_record_many
from ims.csvio import write_csv
from ims.db import by_bytes
from ims.errors import ApplicationError, NotAllowed
from ims.money import money
from ims.tasks import enqueue
from inventory.models import StockLevel

log = logging.getLogger("ims.sync")

PLAN_COLUMNS = ("channel", "sku_id", "field", "current", "target", "sent")
Progress = Callable[[int, int], None]
NO_POLICY = PricePolicy()
WHOLE_CHANNEL = "*"  # the sku_id of a Sync_Failure about a whole run


def _setting(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    if value is None or value == "":
        value = os.environ.get(name, default)
    return str(value)


def breaker_limits(channel: Channel) -> tuple[Decimal, Decimal, int]:
    """(max % of SKUs changed, max % set to zero, fewest SKUs that can trip it) for a channel."""
    change = channel.breaker_change_pct
    zero = channel.breaker_zero_pct
    return (
        change if change is not None else Decimal(_setting("IMS_SYNC_MAX_CHANGE_PCT", "50")),
        zero if zero is not None else Decimal(_setting("IMS_SYNC_MAX_ZERO_PCT", "20")),
        int(_setting("IMS_SYNC_BREAKER_MIN_SKUS", "10")),
    )


def effective_mode(channel: Channel, requested: str | None) -> str:
    """`--mode` can only lower a channel's mode (push > dry_run > read_only), never raise it."""
    if requested is None:
        return channel.sync_mode
    if requested not in SYNC_MODE_RANK:
        raise SyncNotAllowed(f"unknown mode '{requested}'", code="bad_mode")
    return min(channel.sync_mode, requested, key=lambda m: SYNC_MODE_RANK[m])


# ---------------------------------------------------------------------------
# Reading what the channel shows


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
    from channels.services import _ListingRow, _listings_apply, product_matcher
    from ims.csvio import IngestResult

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


# ---------------------------------------------------------------------------
# The plan


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
    from exceptions.selectors import price_sync_blocked

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
    blocked = price_sync_blocked(product_ids)
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
        withheld = policy.withholds(channel.code)
        target = 0 if withheld else channel.atp(int(stock.get(product_id) or 0))
        if quantity != target:
            plan.lines.append(PlanLine(product_id, sku, QUANTITY, str(quantity), str(target), ref))
        if withheld or price is None or shown_price is None or currency != channel.currency:
            continue
        if money(shown_price, currency) != money(price, currency):
            # Checked again before the push: a rule tightened under the price in force blocks it too.
            if product_id in blocked or broken_rule(offer=price, mrp=mrp, cost=cost, policy=policy):
                plan.blocked_prices += 1
                continue
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


# ---------------------------------------------------------------------------
# Running a sync


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


def stale_after() -> dt.timedelta:
    """How long a running run may stay silent before its worker counts as gone."""
    return dt.timedelta(seconds=float(_setting("IMS_SYNC_STALE_SECONDS", "90")))


def sync_run_live(channel: Channel) -> SyncRun | None:
    """The channel's running run whose worker is alive (heartbeat fresh), if any."""
    return (
        SyncRun.objects.filter(
            channel=channel,
            status=SyncStatus.RUNNING,
            heartbeat_at__gt=timezone.now() - stale_after(),
        )
        .order_by("pk")
        .first()
    )


def sync_runs_interrupt_stale(*, channel: Channel | None = None) -> list[SyncRun]:
    """Mark interrupted every running run (of one channel, or all) whose heartbeat is older than
    IMS_SYNC_STALE_SECONDS: its worker is gone. Audited, with the last heartbeat as the reason."""
    with transaction.atomic():
        runs = SyncRun.objects.select_for_update(skip_locked=True).filter(
            status=SyncStatus.RUNNING, heartbeat_at__lte=timezone.now() - stale_after()
        )
        if channel is not None:
            runs = runs.filter(channel=channel)
        return [_interrupt(run) for run in runs.order_by("pk")]


def _interrupt(run: SyncRun) -> SyncRun:
    """A running run whose worker is gone (locked by the caller): what it sent stays recorded."""
    now = timezone.now()
    reason = (
        f"interrupted: its worker is gone (no heartbeat since "
        f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC, {(now - run.heartbeat_at).total_seconds():.0f} s)"
    )
    counts = _line_counts(run)
    run.sent = counts.get(LineState.SENT, 0)
    run.failed = counts.get(LineState.FAILED, 0)
    run.stale = counts.get(LineState.STALE, 0)
    run.status = SyncStatus.INTERRUPTED
    run.error = ((run.error + "\n") if run.error else "") + reason
    run.finished_at = now
    run.save(update_fields=["status", "error", "finished_at", "sent", "failed", "stale"])
    audit_record(
        actor=None,
        action="sync_interrupted",
        obj=run,
        before={"status": SyncStatus.RUNNING},
        after={
            "status": SyncStatus.INTERRUPTED,
            "sent": run.sent,
            "pending": run.planned - run.done,
        },
        reason=reason,
        at=now,
    )
    log.warning("sync #%s of %s %s", run.pk, run.channel_id, reason)
    return run


def _claim(channel: Channel) -> SyncRun | None:
    """In the caller's transaction: refuse (SyncBusy) while a live run holds the channel; a run
    whose worker is gone is interrupted (and returned) so the caller can take over."""
    running = (
        SyncRun.objects.select_for_update()
        .filter(channel=channel, status=SyncStatus.RUNNING)
        .first()
    )
    if running is None:
        return None
    if running.heartbeat_at > timezone.now() - stale_after():
        raise SyncBusy(
            f"sync #{running.pk} of {channel.code} is running (since "
            f"{running.started_at:%H:%M:%S} UTC, last heartbeat {running.heartbeat_at:%H:%M:%S})"
        )
    # Its worker died: what it sent is on the channel and will be read again.
    return _interrupt(running)


def _start(channel: Channel, *, mode: str, trigger: str, actor, now, product_ids, resumes=None):
    """Claim the channel: one running run per channel (the row lock, then the partial unique
    index, decide between two workers starting at once). A run whose worker is gone is
    interrupted and this one takes over; a live one refuses this run (SyncBusy)."""
    with transaction.atomic():
        gone = _claim(channel)
        resumes = resumes or gone
        try:
            with transaction.atomic():
                return SyncRun.objects.create(
                    channel=channel,
                    mode=mode,
                    trigger=trigger,
                    actor=actor if getattr(actor, "is_authenticated", False) else None,
                    started_at=now,
                    heartbeat_at=timezone.now(),
                    product_ids=sorted(product_ids) if product_ids is not None else [],
                    paused=channel.status == ChannelStatus.PAUSED,
                    resumes=resumes,
                )
        except IntegrityError:
            raise SyncBusy(f"another sync of {channel.code} started just now") from None


class _Heartbeat:
    """While this process works on a run, a thread beats it every IMS_SYNC_HEARTBEAT_SECONDS (one
    UPDATE), so a long call (a feed the provider is processing, a Retry-After) never looks like a
    dead worker. The thread dies with the process: a killed worker's run goes silent."""

    def __init__(self, run: SyncRun):
        self.run_id = run.pk
        self.every = float(_setting("IMS_SYNC_HEARTBEAT_SECONDS", "15"))
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._beat, name=f"sync-{run.pk}-heartbeat", daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(self.every):
                try:
                    SyncRun.objects.filter(pk=self.run_id, status=SyncStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a missed beat is retried; the run itself reports errors
                    log.warning("sync #%s: heartbeat failed", self.run_id, exc_info=True)
        finally:
            connection.close()


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
    run = _start(
        channel,
        mode=effective_mode(channel, mode),
        trigger=trigger,
        actor=actor,
        now=now,
        product_ids=product_ids,
    )
    adapter = None
    stage = "read the channel's listings"
    with _Heartbeat(run):
        try:
            prices_refresh(now=now)
            if is_live(channel):
                adapter = adapter_for(channel, **(adapter_options or {}))
                skus = _skus_to_read(channel, adapter, product_ids)
                states = adapter.fetch_snapshot(skus=skus)
                read = listings_apply_live(
                    channel=channel, states=states, now=now, product_ids=product_ids
                )
                run.source, run.listings_read = "live", read.listings
            else:
                run.source = "snapshot"
                run.listings_read = _listing_count(channel, product_ids)
            stage = "plan"
            plan = build_plan(channel=channel, product_ids=product_ids, paused=run.paused)
            _save_plan(run, plan)
            if run.mode != SyncMode.PUSH:
                return _finish(run, SyncStatus.SUCCEEDED)
            if not run.paused:
                reason = breaker_reason(channel=channel, plan=plan)
                if reason:
                    return _halt(run, channel, reason)
            stage = "send"
            adapter = adapter or adapter_for(channel, **(adapter_options or {}))
            _execute(run, channel, adapter, progress)
            return _conclude(run, channel)
        except Exception as exc:
            return _fail(run, channel, stage, exc)
        finally:
            if adapter is not None:
                _count_calls(run, adapter)
                adapter.close()


def _count_calls(run: SyncRun, adapter) -> None:
    client = getattr(adapter, "client", None)
    if client is not None:
        SyncRun.objects.filter(pk=run.pk).update(
            calls=client.calls, failed_calls=client.failed_calls
        )
        run.calls, run.failed_calls = client.calls, client.failed_calls


def _skus_to_read(channel: Channel, adapter, product_ids) -> list[str] | None:
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


def _listing_count(channel, product_ids) -> int:
    listings = ChannelListing.objects.filter(channel=channel)
    if product_ids is not None:
        listings = listings.filter(product_id__in=list(product_ids))
    return listings.count()


def _save_plan(run: SyncRun, plan: Plan) -> None:
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


def _halt(run: SyncRun, channel: Channel, reason: str) -> SyncRun:
    from ims.notify import notify_roles
    from ims.roles import Role

    run.halt_reason = reason[:500]
    _finish(run, SyncStatus.HALTED)
    audit_record(
        actor=None,
        action="sync_halted",
        obj=run,
        after={"status": run.status, "planned": run.planned},
        reason=reason,
    )
    notify_roles(
        Role.ADMIN,
        kind="sync_halted",
        subject=f"Sync of {channel.code} halted: approval needed",
        body=f"Sync #{run.pk} of {channel.name} ({channel.code}) {reason}. Nothing was sent. "
        "Approve it to send the plan, or discard it.",
        link=f"/channels/runs/{run.pk}/",
    )
    return run


def _finish(run: SyncRun, status: str, error: str = "") -> SyncRun:
    counts = _line_counts(run)
    run.sent = counts.get(LineState.SENT, 0)
    run.failed = counts.get(LineState.FAILED, 0)
    run.stale = counts.get(LineState.STALE, 0)
    run.status = status
    if error:
        run.error = error[:5000]
    run.finished_at = timezone.now()
    run.heartbeat_at = run.finished_at
    with transaction.atomic():
        if not SyncRun.objects.select_for_update().filter(pk=run.pk, status=SyncStatus.RUNNING):
            raise SyncTakenOver(f"sync #{run.pk} was marked interrupted: it is not finished here")
        run.save()
    log.info("sync #%s %s %s: %s", run.pk, run.channel_id, run.mode, status)
    return run


def _line_counts(run: SyncRun) -> dict[str, int]:
    from django.db.models import Count

    return dict(run.lines.values_list("state").annotate(n=Count("id")).values_list("state", "n"))


# ---------------------------------------------------------------------------
# Sending


def _execute(run: SyncRun, channel: Channel, adapter, progress: Progress | None) -> None:
    """Send the run's pending lines in the provider's batches, recording each answer as it comes."""
    pending = list(run.lines.filter(state=LineState.PENDING).select_related("product"))
    total = run.planned
    stock = [line for line in pending if line.field == QUANTITY]
    prices = [line for line in pending if line.field == PRICE]
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
    for batch in chunks(prices, adapter.price_batch):
        updates = [
            PriceUpdate(
                sku=line.ref.get("channel_sku") or line.sku_id,
                price=Decimal(line.target),
                currency=channel.currency,
                mrp=line.product.mrp,
                previous=Decimal(line.current) if line.current else None,
                ref=line.ref,
                key=f"{run.pk}-{line.pk}",
            )
            for line in batch
        ]
        _record(run, channel, batch, adapter.push_prices(updates), PRICE, progress, total)


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
        if field_name == QUANTITY:
            listing.quantity = int(line.target)
        else:
            listing.price = Decimal(line.target)
        listing.seen_at = now
    ChannelListing.objects.bulk_update(listings.values(), [field_name, "seen_at"], batch_size=1000)


def _conclude(run: SyncRun, channel: Channel) -> SyncRun:
    """Finish a push: refused SKUs become Sync_Failures, the ones now sent resolve theirs."""
    from exceptions.models import Discrepancy, ExceptionSource, OpsException
    from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve

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
    return _finish(run, SyncStatus.PARTIAL if failed else SyncStatus.SUCCEEDED)


def _fail(run: SyncRun, channel: Channel, stage: str, exc: Exception) -> SyncRun:
    """A run that could not complete: a Sync_Failure for the channel, and the channel paused."""
    from channels.services import channel_pause
    from exceptions.models import Discrepancy, ExceptionSource
    from exceptions.services import Finding, ops_exceptions_record

    message = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyncTakenOver):
        log.warning("%s", message)
        return _taken_over(run)
    if not isinstance(exc, ApplicationError):
        log.exception("sync #%s of %s failed", run.pk, channel.code)
    pending = dict(_line_counts(run))
    waiting = pending.get(LineState.PENDING, 0)
    expected = f"{stage}" + (f": {waiting} value(s) to send" if waiting else "")
    try:
        _finish(run, SyncStatus.FAILED, error=f"{stage}: {message}")
    except SyncTakenOver:
        return _taken_over(run)
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


def _taken_over(run: SyncRun) -> SyncRun:
    """A run marked interrupted while this worker still ran it: its counts, status kept."""
    counts = _line_counts(run)
    SyncRun.objects.filter(pk=run.pk).update(
        sent=counts.get(LineState.SENT, 0),
        failed=counts.get(LineState.FAILED, 0),
        stale=counts.get(LineState.STALE, 0),
    )
    run.refresh_from_db()
    return run


# ---------------------------------------------------------------------------
# Halted runs: an admin approves (the plan goes out) or discards them


def sync_run_approve(*, run: SyncRun, actor, adapter_options: dict | None = None) -> SyncRun:
    """Send a halted run's plan as it stands (compare-and-set / re-read still guard each value)."""
    if actor is None or not actor.has_perm("channels.approve_syncrun"):
        raise NotAllowed("only an admin can approve a halted sync", code="not_allowed")
    channel = run.channel
    now = timezone.now()
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != SyncStatus.HALTED:
            raise SyncNotAllowed(f"sync #{run.pk} is {locked.status}, not halted")
        try:
            _claim(channel)
        except SyncBusy as busy:
            raise SyncBusy(f"{busy.message}; approve when it ends") from None
        locked.status, locked.decided_by, locked.decided_at = SyncStatus.RUNNING, actor, now
        locked.heartbeat_at = now
        locked.save(update_fields=["status", "decided_by", "decided_at", "heartbeat_at"])
        audit_record(
            actor=actor,
            action="sync_approve",
            obj=locked,
            before={"status": SyncStatus.HALTED},
            after={"status": SyncStatus.RUNNING},
            reason=locked.halt_reason,
        )
    run.refresh_from_db()
    adapter = adapter_for(channel, **(adapter_options or {}))
    with _Heartbeat(run):
        try:
            _execute(run, channel, adapter, None)
            return _conclude(run, channel)
        except Exception as exc:
            return _fail(run, channel, "send", exc)
        finally:
            _count_calls(run, adapter)
            adapter.close()


def sync_run_discard(*, run: SyncRun, actor, reason: str = "") -> SyncRun:
    if actor is None or not actor.has_perm("channels.approve_syncrun"):
        raise NotAllowed("only an admin can discard a halted sync", code="not_allowed")
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != SyncStatus.HALTED:
            raise SyncNotAllowed(f"sync #{run.pk} is {locked.status}, not halted")
        locked.status, locked.decided_by, locked.decided_at = (
            SyncStatus.DISCARDED,
            actor,
            timezone.now(),
        )
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            actor=actor,
            action="sync_discard",
            obj=locked,
            before={"status": SyncStatus.HALTED},
            after={"status": SyncStatus.DISCARDED},
            reason=reason,
        )
    run.refresh_from_db()
    return run


# ---------------------------------------------------------------------------
# Stock changes: a debounced push per channel


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


# ---------------------------------------------------------------------------
# "Push correction" from the dashboard (queued by channels.services.sync_push_correction)


def sync_correction_push(*, exception, actor=None) -> str:
    """Push HQ's value for the exception's SKU to its channel in the channel's mode; set
    push_status pushed or failed (push_error says why). Returns the new push_status."""
    from exceptions.models import Discrepancy, PushStatus
    from exceptions.selectors import price_sync_blocked

    channel = exception.channel
    wanted = {
        Discrepancy.PRICE_MISMATCH: {PRICE},
        Discrepancy.STOCK_MISMATCH: {QUANTITY},
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
