"""An ERP source's pull: its catalog and prices through the ingests, its stock through the
reset (erp.services.erp_reset). Above erp because the ingests are orchestration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from erp.adapters import adapter_for
from erp.models import FILE_KINDS, ErpSource
from erp.services.pull import PullResult, write_pulled
from erp.services.reset import erp_reset
from orchestration.ingest import ingest_file


def erp_pull(
    *,
    source: ErpSource,
    actor=None,
    now: dt.datetime | None = None,
    variance_out: str | Path | None = None,
    transport=None,
) -> PullResult:
    """Read an ERP source (its API, or the newest file dropped in its folder), apply its
    catalog and prices through the ingests, and its stock through the reset."""
    now = now or timezone.now()
    folder = Path(settings.IMS_ERP_PULL_DIR) / source.code / now.strftime("%Y%m%dT%H%M%SZ")
    adapter = adapter_for(source, transport=transport)
    picked = None
    try:
        if source.kind in FILE_KINDS:
            picked = adapter.pick_up()
            files = {"stock": picked.stock, "catalog": picked.catalog, "prices": picked.prices}
            files = {kind: path for kind, path in files.items() if path}
            as_of = picked.as_of
        else:
            folder.mkdir(parents=True, exist_ok=True)
            as_of = now
            files = write_pulled(adapter, folder)
    finally:
        adapter.close()
    ingested = {}
    for kind in ("catalog", "prices"):
        if kind in files:
            _run, result = ingest_file(kind=kind, path=files[kind], actor=actor, now=now)
            ingested[kind] = (
                f"{result.rows} rows, {result.created} created, {result.updated} updated, "
                f"{len(result.kept_out)} kept out"
            )
    summary = erp_reset(
        path=files["stock"],
        as_of=as_of,
        variance_out=variance_out,
        source=source,
        actor=actor,
        now=now,
    )
    if picked is not None:
        files["stock"] = adapter.archive(picked.stock)
    ErpSource.objects.filter(pk=source.pk).update(last_pulled_at=now)
    return PullResult(source=source, as_of=as_of, files=files, reset=summary, ingested=ingested)
