"""Writes to exceptions: raising, updating and resolving OpsExceptions in bulk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from exceptions.models import ExceptionStatus, OpsException, PushStatus, ReconcileRun
from ims.audit import Change, audit_record_many
from ims.db import is_postgres
from ims.errors import ApplicationError
from ims.permissions import require

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
    """An open exception's id, what raised it, and the fields a finding refreshes
    (in _REFRESHED order)."""

    pk: int
    source: str
    values: tuple


def open_exceptions_by_key(queryset: QuerySet) -> dict[Key, OpenException]:
    """The open (or acknowledged) exceptions of a queryset, by key."""
    rows = queryset.open().values_list(
        "pk", "source", "sku_id", "channel_id", "discrepancy", *_REFRESHED
    )
    return {
        (sku, channel, disc): OpenException(pk, source, tuple(rest))
        for pk, source, sku, channel, disc, *rest in rows
    }


@dataclass
class RecordResult:
    created: int = 0
    updated: int = 0
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

    One open exception per (sku, channel, discrepancy), whatever raised it: a finding
    whose key is already open, raised by another source, refreshes that exception (its
    values, last_seen, last_run), which keeps its source and first_seen; no second one is
    opened. Each raiser resolves only the exceptions of its own source.

    `existing` is the open exceptions that may match (open_exceptions_by_key), of every
    source; without it, they are looked up by the findings' SKUs. An unchanged one gets
    its last_seen moved on, unless the caller does that itself (touch_unchanged=False).
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
    new: list[Finding] = []
    changed, unchanged = [], []
    for finding in findings:
        current = existing.get(finding.key)
        values = tuple(getattr(finding, name) for name in _REFRESHED)
        if current is None:
            new.append(finding)
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
    _exceptions_open(new, source=source, now=now, run=run)
    OpsException.objects.bulk_update(
        changed, [*_REFRESHED, "last_seen", "last_run"], batch_size=500
    )
    if touch_unchanged:
        for start in range(0, len(unchanged), 1000):
            OpsException.objects.filter(pk__in=unchanged[start : start + 1000]).update(
                last_seen=now, last_run=run
            )
    return RecordResult(len(new), len(changed), unchanged)


# What a new exception is written with from its finding; every other column takes its default.
_OPENED = ("sku_id", "discrepancy", "channel_id", *_REFRESHED)
INSERT_CHUNK = 50_000


def _exceptions_open(
    findings: list[Finding], *, source: str, now: dt.datetime, run: ReconcileRun | None
) -> None:
    """Open an exception per finding. On PostgreSQL in one set-based statement per 50,000,
    `INSERT … SELECT * FROM UNNEST(one array per column)` — the statement Django's bulk_create
    sends there, without building and preparing a model instance per row, which was half of a
    first reconcile's time (README, "Benchmarks"); elsewhere through bulk_create."""
    if not findings:
        return
    given = {
        "source": source,
        "first_seen": now,
        "last_seen": now,
        "last_run_id": run.pk if run else None,
    }
    if not is_postgres():
        OpsException.objects.bulk_create(
            (
                OpsException(**{name: getattr(f, name) for name in _OPENED}, **given)
                for f in findings
            ),
            batch_size=1000,
        )
        return
    columns, casts, arrays = [], [], []
    for model_field in OpsException._meta.concrete_fields:
        if model_field.primary_key:
            continue
        name = model_field.attname
        if name in _OPENED:
            values = [getattr(f, name) for f in findings]
        else:
            value = given[name] if name in given else model_field.get_default()
            values = [model_field.get_db_prep_save(value, connection)] * len(findings)
        columns.append(connection.ops.quote_name(model_field.column))
        # As Django's own UNNEST insert: the type without its parameters (varchar, not (24)).
        casts.append(f"%s::{model_field.db_type(connection).split('(')[0]}[]")
        arrays.append(values)
    statement = (
        f"INSERT INTO {connection.ops.quote_name(OpsException._meta.db_table)} "
        f"({', '.join(columns)}) SELECT * FROM UNNEST({', '.join(casts)})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(findings), INSERT_CHUNK):
            cursor.execute(statement, [a[start : start + INSERT_CHUNK] for a in arrays])


def ops_exceptions_resolve(
    *, ids: Iterable[int], now: dt.datetime, actor=None, reason: str = ""
) -> int:
    """Mark exceptions resolved (the disagreement is gone), each recorded in the audit trail."""
    ids = list(ids)
    count = 0
    for start in range(0, len(ids), 1000):
        batch = OpsException.objects.open().filter(pk__in=ids[start : start + 1000])
        changed = list(batch.values_list("pk", "sku_id", "discrepancy", "status"))
        # A correction that was pushed is verified by the channel now showing the right value.
        batch.filter(push_status=PushStatus.PUSHED).update(push_status=PushStatus.VERIFIED)
        count += batch.update(status=ExceptionStatus.RESOLVED, resolved_at=now, last_seen=now)
        audit_record_many(
            actor=actor,
            at=now,
            changes=[
                Change(
                    "exception_resolve",
                    object_type="exceptions.opsexception",
                    object_id=str(pk),
                    object_repr=f"{sku} {disc}",
                    before={"status": status},
                    after={"status": "resolved"},
                    reason=reason or "aligned again",
                )
                for pk, sku, disc, status in changed
            ],
        )
    return count


class AcknowledgeRefused(ApplicationError):
    code = "acknowledge_refused"


def ops_exception_acknowledge(*, exceptions: Iterable[OpsException], reason: str, actor) -> int:
    """An ops person has seen these and says why they stand: they stay open until aligned.

    A reason is required; resolved exceptions are left as they are. Returns how many changed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise AcknowledgeRefused(
            "a reason is required to acknowledge", extra={"fields": {"reason": ["required"]}}
        )
    require(
        actor, "exceptions.acknowledge_opsexception", "acknowledge exceptions", person_only=True
    )
    now = timezone.now()
    with transaction.atomic():
        locked = list(
            OpsException.objects.select_for_update()
            .filter(pk__in=[e.pk for e in exceptions], status=ExceptionStatus.OPEN)
            .order_by("pk")
        )
        for e in locked:
            e.status, e.acknowledged_at, e.acknowledged_by, e.acknowledge_reason = (
                ExceptionStatus.ACKNOWLEDGED,
                now,
                actor,
                reason[:500],
            )
        OpsException.objects.bulk_update(
            locked, ["status", "acknowledged_at", "acknowledged_by", "acknowledge_reason"]
        )
        audit_record_many(
            actor=actor,
            at=now,
            changes=[
                Change(
                    "exception_acknowledge",
                    e,
                    before={"status": "open"},
                    after={"status": "acknowledged"},
                    reason=reason,
                )
                for e in locked
            ],
        )
    return len(locked)
