"""Writes to exceptions: raising, updating and resolving OpsExceptions in bulk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.db.models import QuerySet

from exceptions.models import OPEN_STATUSES, ExceptionStatus, OpsException, ReconcileRun

Key = tuple[str, int | None, str]  # (sku_id, channel_id, discrepancy)


@dataclass(frozen=True)
class Finding:
    """A disagreement found now; it becomes (or refreshes) one open exception."""

    sku_id: str
    discrepancy: str
    expected: str
    actual: str
    channel_id: int | None = None
    product_id: int | None = None
    location_id: int | None = None
    exposure: Decimal = Decimal(0)
    currency: str = ""
    oversell: bool = False

    @property
    def key(self) -> Key:
        return (self.sku_id, self.channel_id, self.discrepancy)


_REFRESHED = ("expected", "actual", "exposure", "currency", "oversell", "location_id", "product_id")


class OpenException(NamedTuple):
    """An open exception's id and the fields a finding refreshes (in _REFRESHED order)."""

    pk: int
    values: tuple


def open_exceptions_by_key(queryset: QuerySet) -> dict[Key, OpenException]:
    """The open (or acknowledged) exceptions of a queryset, by key."""
    rows = queryset.filter(status__in=OPEN_STATUSES).values_list(
        "pk", "sku_id", "channel_id", "discrepancy", *_REFRESHED
    )
    return {
        (sku, channel, disc): OpenException(pk, tuple(rest))
        for pk, sku, channel, disc, *rest in rows
    }


@dataclass
class RecordResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unchanged_ids: list[int] = field(default_factory=list)


def ops_exceptions_record(
    *,
    findings: Iterable[Finding],
    source: str,
    now: dt.datetime,
    existing: dict[Key, OpenException] | None = None,
    run: ReconcileRun | None = None,
    touch_unchanged: bool = True,
) -> RecordResult:
    """Open an exception for each new finding; refresh the ones already open.

    `existing` is the open exceptions that may match (open_exceptions_by_key); without
    it, they are looked up by the findings' SKUs. An unchanged one gets its last_seen
    moved on, unless the caller does that itself (touch_unchanged=False).
    """
    findings = list(findings)
    if existing is None:
        existing = {}
        skus = sorted({f.sku_id for f in findings})
        for start in range(0, len(skus), 1000):
            existing.update(
                open_exceptions_by_key(
                    OpsException.objects.filter(sku_id__in=skus[start : start + 1000])
                )
            )
    new, changed, unchanged = [], [], []
    for finding in findings:
        current = existing.get(finding.key)
        values = tuple(getattr(finding, name) for name in _REFRESHED)
        if current is None:
            new.append(
                OpsException(
                    sku_id=finding.sku_id,
                    discrepancy=finding.discrepancy,
                    channel_id=finding.channel_id,
                    source=source,
                    first_seen=now,
                    last_seen=now,
                    last_run=run,
                    **dict(zip(_REFRESHED, values, strict=True)),
                )
            )
        elif current.values != values:
            changed.append(
                OpsException(
                    pk=current.pk,
                    last_seen=now,
                    last_run=run,
                    **dict(zip(_REFRESHED, values, strict=True)),
                )
            )
        else:
            unchanged.append(current.pk)
    OpsException.objects.bulk_create(new, batch_size=1000)
    OpsException.objects.bulk_update(
        changed, [*_REFRESHED, "last_seen", "last_run"], batch_size=500
    )
    if touch_unchanged:
        for start in range(0, len(unchanged), 1000):
            OpsException.objects.filter(pk__in=unchanged[start : start + 1000]).update(
                last_seen=now, last_run=run
            )
    return RecordResult(len(new), len(changed), len(unchanged), unchanged)


def ops_exceptions_resolve(*, ids: Iterable[int], now: dt.datetime) -> int:
    """Mark exceptions resolved (the disagreement is gone)."""
    ids = list(ids)
    count = 0
    for start in range(0, len(ids), 1000):
        count += OpsException.objects.filter(
            pk__in=ids[start : start + 1000], status__in=OPEN_STATUSES
        ).update(status=ExceptionStatus.RESOLVED, resolved_at=now, last_seen=now)
    return count
