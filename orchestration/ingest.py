"""`ingest KIND FILE`: one entry point for every input file, all or nothing per file.

Each kind's service validates and applies its file in one transaction; what a
file raises (prices kept out by a rule, stock short of reservations) becomes
exceptions in that same transaction, and every ingest is logged as an IngestRun.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from catalog.governance import price_violations_record
from catalog.services.ingest import catalog_ingest, prices_ingest
from catalog.services.price_rules import price_rules_ingest
from channels.assortment import assortment_ingest
from channels.models import Channel
from channels.services import channels_ingest, snapshot_ingest
from erp.services.sources import erp_sources_ingest
from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.csvio import IngestResult
from ims.errors import FileRejected
from ims.models import IngestRun, IngestStatus
from inventory.services.ingest import inventory_ingest, locations_ingest

KINDS = (
    "locations",
    "channels",
    "price_rules",
    "catalog",
    "inventory",
    "prices",
    "snapshot",
    "erp_sources",
    "assortment",
)


def ingest_file(
    *, kind: str, path: str | Path, actor=None, now: dt.datetime | None = None
) -> tuple[IngestRun, IngestResult]:
    """Apply one file; raise FileRejected (nothing applied, the refusal logged) on bad rows."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind '{kind}' (one of {', '.join(KINDS)})")
    now = now or timezone.now()
    label = str(path)
    named = {"kind": kind, "file_name": label, "started_at": now, "actor": actor}
    try:
        with transaction.atomic():
            run = IngestRun.objects.create(**named, status=IngestStatus.APPLIED)
            result = _apply(kind, path, label, now, actor, run)
            run.rows, run.created, run.updated = result.rows, result.created, result.updated
            run.unchanged, run.kept_out = result.unchanged, len(result.kept_out)
            run.messages = [str(k) for k in result.kept_out[:1000]]
            run.finished_at = timezone.now()
            run.save()
    except FileRejected as exc:
        IngestRun.objects.create(
            **named,
            finished_at=timezone.now(),
            status=IngestStatus.REJECTED,
            messages=[str(e) for e in exc.errors[:1000]],
        )
        raise
    return run, result


def _apply(kind, path, label, now, actor, run) -> IngestResult:
    match kind:
        case "locations":
            return locations_ingest(path=path, label=label)
        case "channels":
            return channels_ingest(path=path, label=label, actor=actor)
        case "price_rules":
            codes = set(Channel.objects.values_list("code", flat=True))
            return price_rules_ingest(path=path, label=label, known_channels=codes, actor=actor)
        case "catalog" | "prices":
            ingest = catalog_ingest if kind == "catalog" else prices_ingest
            result = ingest(path=path, label=label, now=now, actor=actor)
            price_violations_record(kept_out=result.kept_out, cleared=result.cleared, now=now)
            return result
        case "inventory":
            result = inventory_ingest(
                path=path, label=label, now=now, ref=f"ingest:{run.pk}", actor=actor
            )
            _shortfalls(result, now)
            return result
        case "snapshot":
            return snapshot_ingest(path=path, label=label, now=now)
        case "erp_sources":
            return erp_sources_ingest(path=path, label=label, actor=actor)
        case "assortment":
            return assortment_ingest(path=path, label=label, actor=actor)
    raise AssertionError(kind)


def _shortfalls(result: IngestResult, now) -> None:
    """Stock below what IMS holds reserved: one Oversell_Risk per SKU (units wanted / available)."""
    per_product = defaultdict(list)
    for shortfall in result.findings:
        per_product[shortfall.product_id].append(shortfall)
    findings = []
    for product_id, items in per_product.items():
        items.sort(key=lambda s: s.location_id)
        findings.append(
            Finding(
                items[0].sku,
                Discrepancy.OVERSELL_RISK,
                str(sum(s.wanted for s in items)),
                str(sum(s.available for s in items)),
                product_id=product_id,
                location_id=items[0].location_id,
                oversell=True,
            )
        )
    ops_exceptions_record(findings=findings, source=ExceptionSource.INGEST, now=now)
    cleared = sorted(result.cleared)
    for start in range(0, len(cleared), 1000):
        ops_exceptions_resolve(
            ids=OpsException.objects.filter(
                source=ExceptionSource.INGEST,
                discrepancy=Discrepancy.OVERSELL_RISK,
                channel__isnull=True,
                product_id__in=cleared[start : start + 1000],
            ).values_list("pk", flat=True),
            now=now,
        )
