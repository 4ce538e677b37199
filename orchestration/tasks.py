"""Background entry points that run several apps in turn: take ids, reload, call them."""

from __future__ import annotations

import logging

from erp.models import ErpSource

log = logging.getLogger("ims.erp")


def erp_nightly_task(source_id: int) -> None:
    """One source's night: pull (or pick up its file), reset, then reconcile and the reports."""
    from orchestration.erp import erp_pull
    from reconcile.reconcile import reconcile

    source = ErpSource.objects.get(pk=source_id)
    result = erp_pull(source=source)
    for line in result.lines():
        log.info("%s", line)
    reconcile()
