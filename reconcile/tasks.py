"""Background entry points for exceptions: take ids, reload, call one service."""

from channels.models import Channel
from reconcile.reconcile import reconcile


def reconcile_task(channel_id: int | None = None, out_dir: str | None = None) -> int:
    channel = Channel.objects.get(pk=channel_id) if channel_id else None
    return reconcile(channel=channel, out_dir=out_dir).pk
