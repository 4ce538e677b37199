"""The hand-over to the ERP: IMS's movements it has not been told of, written as a file and
sent to every active ERP source whose adapter accepts them, all or nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from erp.adapters import adapter_for
from erp.adapters.base import HANDOVER_COLUMNS, HandoverRecord
from erp.errors import ErpUnreachable
from erp.models import ErpSource, ExportRun, RunStatus
from erp.selectors import handover_due
from ims.audit import audit_record
from ims.csvio import write_csv
from ims.permissions import person
from inventory.models import LocationAlias, Movement, MovementReason


def _handover_records(ids: list[int], alias_scope: str = "erp") -> Iterator[HandoverRecord]:
    """The movements as hand-over records; `erp_location` is the location's code in the
    alias scope (an ERP source's own codes), blank where it has none."""
    erp_codes = dict(
        LocationAlias.objects.filter(scope=alias_scope).values_list("location_id", "code")
    )
    for start in range(0, len(ids), 5000):
        rows = (
            Movement.objects.filter(pk__in=ids[start : start + 5000])
            .order_by("pk")
            .values_list(
                "pk",
                "reason",
                "ref",
                "product__sku",
                "location_id",
                "location__code",
                "from_state",
                "quantity",
                "created_at",
            )
        )
        for pk, reason, ref, sku, location_id, code, from_state, quantity, at in rows:
            signed = quantity if from_state == "" else -quantity
            # A record's kind is its movement's reason, but a dispatch is a shipment and a
            # transfer says which way it went.
            kind = "shipment" if reason == MovementReason.DISPATCH else reason
            if reason == MovementReason.TRANSFER:
                kind = "transfer_in" if signed > 0 else "transfer_out"
            yield HandoverRecord(
                movement_id=pk,
                kind=kind,
                ref=ref,
                sku=sku,
                location=code,
                erp_location=erp_codes.get(location_id, ""),
                quantity=signed,
                at=at.isoformat(),
            )


def erp_export(
    *,
    out_dir: str | Path | None = None,
    actor=None,
    now: dt.datetime | None = None,
) -> ExportRun:
    """Hand the ERP what it has not been told: write the records (the file adapter's CSV
    form), send them to every active ERP source whose adapter accepts them, and mark the
    movements handed over at `now`. All or nothing: if a source refuses, nothing is marked
    (the refusal is kept as a failed ExportRun and raised)."""

    now = now or timezone.now()
    out = Path(out_dir or settings.IMS_REPORTS_DIR)
    path = out / f"erp-handover-{now.strftime('%Y%m%dT%H%M%SZ')}.csv"
    sources = list(ErpSource.objects.filter(active=True).prefetch_related("locations"))
    named = {"exported_at": now, "actor": person(actor)}  # the run's, applied or failed
    try:
        with transaction.atomic():
            due = handover_due()
            ids = list(due.select_for_update().order_by("pk").values_list("pk", flat=True))
            by_kind: dict[str, int] = {}

            def counted():
                for record in _handover_records(ids):
                    by_kind[record.kind] = by_kind.get(record.kind, 0) + 1
                    yield record

            count = write_csv(path, HANDOVER_COLUMNS, (r.row() for r in counted()))
            sent: dict[str, str] = {}
            for source in sources:
                adapter = adapter_for(source)
                try:
                    if not adapter.accepts_handover:
                        sent[source.code] = "not accepted by this system (the file is the record)"
                        continue
                    codes = {loc.code for loc in source.locations.all()}
                    records = [
                        r
                        for r in _handover_records(ids, source.alias_scope)
                        if not codes or r.location in codes
                    ]
                    sent[source.code] = (
                        adapter.push_handover(records) if records else "nothing to send"
                    )
                finally:
                    adapter.close()
            for start in range(0, len(ids), 5000):
                Movement.objects.filter(pk__in=ids[start : start + 5000]).update(
                    handed_to_erp_at=now
                )
            run = ExportRun.objects.create(
                **named,
                finished_at=timezone.now(),
                status=RunStatus.APPLIED,
                movements=count,
                by_kind=by_kind,
                files=[str(path)],
                sources=sent,
            )
            audit_record(
                actor=actor,
                action="erp_export",
                obj=run,
                after={"movements": count, "by_kind": by_kind, "file": str(path), "sources": sent},
                reason="movements handed over to the ERP",
                at=now,
            )
    except ErpUnreachable as exc:
        path.unlink(missing_ok=True)
        ExportRun.objects.create(
            **named, finished_at=timezone.now(), status=RunStatus.FAILED, messages=[exc.message]
        )
        raise
    return run
