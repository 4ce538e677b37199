"""Background entry points for the ERP sources: take ids, reload, call the services."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from erp.models import ErpSource
from ims.tasks import enqueue

log = logging.getLogger("ims.erp")


def erp_nightly_task(source_id: int) -> None:
    """One source's night: pull (or pick up its file), reset, then reconcile and the reports."""
    from erp.services import erp_pull
    from reconcile.reconcile import reconcile

    source = ErpSource.objects.get(pk=source_id)
    result = erp_pull(source=source)
    for line in result.lines():
        log.info("%s", line)
    reconcile()


def erp_nightly_due_task(now: dt.datetime | None = None) -> list[str]:
    """Start the nightly run of every active source whose time (HH:MM UTC) has come today and
    that has not been pulled since."""
    now = now or timezone.now()
    started = []
    for source in ErpSource.objects.filter(active=True).exclude(schedule=""):
        hour, minute = (int(part) for part in source.schedule.split(":"))
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if now >= due and (source.last_pulled_at is None or source.last_pulled_at < due):
            enqueue("erp.tasks.erp_nightly_task", source.pk)
            started.append(source.code)
    return started
