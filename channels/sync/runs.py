"""One running run per channel: claimed under a row lock, kept alive by a heartbeat,
interrupted when its worker is gone, finished (or halted for an admin, or discarded by one)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from channels.errors import SyncBusy, SyncNotAllowed, SyncTakenOver
from channels.models import (
    Channel,
    ChannelStatus,
    LineState,
    SyncRun,
    SyncStatus,
)
from ims.audit import audit_record
from ims.notify import notify_roles
from ims.permissions import person, require
from ims.roles import Role

log = logging.getLogger("ims.sync")


def sync_setting(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    if value is None or value == "":
        value = os.environ.get(name, default)
    return str(value)


def stale_after() -> dt.timedelta:
    """How long a running run may stay silent before its worker counts as gone."""
    return dt.timedelta(seconds=float(sync_setting("IMS_SYNC_STALE_SECONDS", "90")))


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
    _count_lines(run)
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


def sync_run_claim(channel: Channel) -> SyncRun | None:
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


def sync_run_start(
    channel: Channel, *, mode: str, trigger: str, actor, now, product_ids, resumes=None
):
    """Claim the channel: one running run per channel (the row lock, then the partial unique
    index, decide between two workers starting at once). A run whose worker is gone is
    interrupted and this one takes over; a live one refuses this run (SyncBusy)."""
    with transaction.atomic():
        gone = sync_run_claim(channel)
        resumes = resumes or gone
        try:
            with transaction.atomic():
                return SyncRun.objects.create(
                    channel=channel,
                    mode=mode,
                    trigger=trigger,
                    actor=person(actor),
                    started_at=now,
                    heartbeat_at=timezone.now(),
                    product_ids=sorted(product_ids) if product_ids is not None else [],
                    paused=channel.status == ChannelStatus.PAUSED,
                    resumes=resumes,
                )
        except IntegrityError:
            raise SyncBusy(f"another sync of {channel.code} started just now") from None


class Heartbeat:
    """While this process works on a run, a thread beats it every IMS_SYNC_HEARTBEAT_SECONDS (one
    UPDATE), so a long call (a feed the provider is processing, a Retry-After) never looks like a
    dead worker. The thread dies with the process: a killed worker's run goes silent."""

    def __init__(self, run: SyncRun):
        self.run_id = run.pk
        self.every = float(sync_setting("IMS_SYNC_HEARTBEAT_SECONDS", "15"))
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


def adapter_calls_count(run: SyncRun, adapter) -> None:
    client = getattr(adapter, "client", None)
    if client is not None:
        SyncRun.objects.filter(pk=run.pk).update(
            calls=client.calls, failed_calls=client.failed_calls
        )
        run.calls, run.failed_calls = client.calls, client.failed_calls


def sync_run_halt(run: SyncRun, channel: Channel, reason: str) -> SyncRun:
    run.halt_reason = reason[:500]
    sync_run_finish(run, SyncStatus.HALTED)
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


def sync_run_finish(run: SyncRun, status: str, error: str = "") -> SyncRun:
    _count_lines(run)
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


def line_counts(run: SyncRun) -> dict[str, int]:
    return dict(run.lines.values_list("state").annotate(n=Count("id")).values_list("state", "n"))


def _count_lines(run: SyncRun) -> None:
    """The run's sent, failed and stale counts, from its lines."""
    counts = line_counts(run)
    run.sent = counts.get(LineState.SENT, 0)
    run.failed = counts.get(LineState.FAILED, 0)
    run.stale = counts.get(LineState.STALE, 0)


def sync_run_taken_over(run: SyncRun) -> SyncRun:
    """A run marked interrupted while this worker still ran it: its counts, status kept."""
    _count_lines(run)
    SyncRun.objects.filter(pk=run.pk).update(sent=run.sent, failed=run.failed, stale=run.stale)
    run.refresh_from_db()
    return run


def sync_run_decide(*, run: SyncRun, actor, approve: bool, reason: str | None = None) -> SyncRun:
    """An admin's decision on a halted run, audited: approved, it runs again (claiming its
    channel; the caller sends the plan), or discarded. Refused unless the run is halted."""
    now = timezone.now()
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != SyncStatus.HALTED:
            raise SyncNotAllowed(f"sync #{run.pk} is {locked.status}, not halted")
        fields = ["status", "decided_by", "decided_at"]
        if approve:
            try:
                sync_run_claim(locked.channel)
            except SyncBusy as busy:
                raise SyncBusy(f"{busy.message}; approve when it ends") from None
            locked.heartbeat_at = now
            fields.append("heartbeat_at")
        status = SyncStatus.RUNNING if approve else SyncStatus.DISCARDED
        locked.status, locked.decided_by, locked.decided_at = status, actor, now
        locked.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="sync_approve" if approve else "sync_discard",
            obj=locked,
            before={"status": SyncStatus.HALTED},
            after={"status": status},
            reason=locked.halt_reason if reason is None else reason,
        )
    run.refresh_from_db()
    return run


def sync_run_discard(*, run: SyncRun, actor, reason: str = "") -> SyncRun:
    require(actor, "channels.approve_syncrun", "discard a halted sync", person_only=True)
    return sync_run_decide(run=run, actor=actor, approve=False, reason=reason)
