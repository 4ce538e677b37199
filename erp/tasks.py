"""Background entry points for the ERP sources: take ids, reload, call the services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from erp.models import ErpSource
from ims.tasks import enqueue


def erp_nightly_due_task(now: dt.datetime | None = None) -> list[str]:
    """Start the nightly run (orchestration.tasks.erp_nightly_task: pull, reset, reconcile) of
    every active source whose time (HH:MM UTC) has come today and that has not been pulled since."""
    now = now or timezone.now()
    started = []
    for source in ErpSource.objects.filter(active=True).exclude(schedule=""):
        hour, minute = (int(part) for part in source.schedule.split(":"))
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if now >= due and (source.last_pulled_at is None or source.last_pulled_at < due):
            enqueue("orchestration.tasks.erp_nightly_task", source.pk)
            started.append(source.code)
    return started
