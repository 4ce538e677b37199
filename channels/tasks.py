"""Background entry points for channels (django-q2): take ids, reload, call one service."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from channels.errors import SyncBusy
from channels.models import Channel, PendingPush, SyncRun, SyncTrigger
from channels.sync.engine import sync, sync_channel, sync_correction_push, sync_pending
from channels.sync.runs import sync_runs_interrupt_stale
from channels.sync.send import sync_run_approve
from exceptions.models import OpsException
from ims.audit import audit_origin


def sync_task(channel_id: int | None = None, mode: str | None = None) -> list[int]:
    """The scheduled sync of every channel (or one), each in its own mode."""
    channel = Channel.objects.get(pk=channel_id) if channel_id else None
    with audit_origin("task sync"):
        outcome = sync(channel=channel, mode=mode, trigger=SyncTrigger.SCHEDULE)
    return [run.pk for run in outcome.runs]


def sync_runs_sweep_task() -> list[int]:
    """Each minute: mark interrupted the running syncs whose worker is gone (no heartbeat)."""
    with audit_origin("task sync_runs_sweep"):
        return [run.pk for run in sync_runs_interrupt_stale()]


def sync_paused_task(channel_id: int) -> int | None:
    """A channel was paused: set its listings to zero availability (in its mode)."""
    channel = Channel.objects.get(pk=channel_id)
    with audit_origin("task sync_paused"):
        try:
            return sync_channel(channel=channel, trigger=SyncTrigger.PAUSE).pk
        except SyncBusy:
            return None  # the running sync plans zeros too (the channel is paused)


# Flushes one task runs back to back at most, while changes keep arriving during its pushes.
FLUSH_ROUNDS = 5


def sync_pending_task(channel_id: int) -> int | None:
    """Flush the products whose stock changed on one channel (services.sync_flush_request
    queues it when a change commits; the minute's schedule catches up). Its queued mark is
    cleared before the products are taken, so a change committed meanwhile queues the next
    flush; the products that arrive while it pushes are flushed next, by it."""
    channel = Channel.objects.get(pk=channel_id)
    last = None
    with audit_origin("task sync_pending"):
        for _ in range(FLUSH_ROUNDS):
            Channel.objects.filter(pk=channel_id).update(push_flush_at=None)
            try:
                run = sync_pending(channel=channel)
            except SyncBusy:
                break  # a sync is running on the channel; the next flush takes these
            if run is None:
                break
            last = run
            if not PendingPush.objects.filter(channel_id=channel_id).exists():
                break
    return last.pk if last else None


def sync_pending_all_task() -> list[int]:
    """Each minute: flush every channel that has products waiting (see stock_changed)."""
    channel_ids = sorted(set(PendingPush.objects.values_list("channel_id", flat=True)))
    return [run for run in (sync_pending_task(pk) for pk in channel_ids) if run]


def sync_push_correction_task(exception_id: int, actor_id: int | None = None) -> str:
    exception = OpsException.objects.select_related("channel").get(pk=exception_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    with audit_origin("task push_correction"):
        return sync_correction_push(exception=exception, actor=actor)


def sync_run_approve_task(run_id: int, actor_id: int) -> str:
    run = SyncRun.objects.select_related("channel").get(pk=run_id)
    actor = get_user_model().objects.get(pk=actor_id)
    with audit_origin("task sync_approve"):
        return sync_run_approve(run=run, actor=actor).status
