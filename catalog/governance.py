"""Price governance beyond one change: audit tasks for prices kept out, violations raised by
the rules themselves (a scheduled price that breaks a rule when due, a rule tightened under a
price in force).

An ERP price that breaks a rule raises a Price_Rule_Violation (orchestration.ingest); here every price
kept out also opens an audit task for Pricing (one open per SKU), closed when a valid price
for the SKU arrives or the violation is resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from exceptions.models import Discrepancy, ExceptionSource
from exceptions.selectors import open_exceptions
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.audit import Change, audit_record_many
from ims.models import OpsTask, TaskStatus
from ims.money import money
from ims.roles import Role

TASK_KIND = "price_rule_violation"


@dataclass(frozen=True)
class KeptOut:
    """A product whose offered price was kept out by a rule (the previous price stays in force)."""

    product_id: int
    sku: str
    rule: str
    amount: Decimal
    currency: str


def task_ref(product_id: int) -> str:
    return f"product:{product_id}"


def _chunks(items: list, size: int = 1000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def price_audit_tasks(*, kept_out: Iterable[KeptOut], cleared: Iterable[int], now: dt.datetime):
    """Open one audit task per SKU kept out (unless one is open); close those of SKUs cleared."""
    cleared = set(cleared)
    wanted = {k.product_id: k for k in kept_out if k.product_id not in cleared}
    opened: list[OpsTask] = []
    for chunk in _chunks(list(wanted.values())):
        refs = [task_ref(k.product_id) for k in chunk]
        already = set(
            OpsTask.objects.filter(
                kind=TASK_KIND, status=TaskStatus.OPEN, ref__in=refs
            ).values_list("ref", flat=True)
        )
        opened.extend(
            OpsTask(
                kind=TASK_KIND,
                title=f"Price {money(k.amount, k.currency)} {k.currency} for {k.sku} breaks {k.rule}",
                detail=(
                    "The price is not pushed to any channel (its stock keeps flowing) until a "
                    "valid price for the SKU is set or the violation is resolved."
                ),
                role=Role.PRICING.value,
                ref=task_ref(k.product_id),
                created_at=now,
            )
            for k in chunk
            if task_ref(k.product_id) not in already
        )
    OpsTask.objects.bulk_create(opened, batch_size=1000)
    closed: list[OpsTask] = []
    for ids in _chunks(sorted(cleared)):
        closed.extend(
            OpsTask.objects.filter(
                kind=TASK_KIND, status=TaskStatus.OPEN, ref__in=[task_ref(pid) for pid in ids]
            )
        )
    for task in closed:
        task.status, task.closed_at = TaskStatus.DONE, now
        task.resolution = "a valid price is in force"
    OpsTask.objects.bulk_update(closed, ["status", "closed_at", "resolution"], batch_size=1000)
    audit_record_many(
        actor=None,
        at=now,
        changes=[
            *(
                Change("task_open", task, after={"kind": task.kind, "title": task.title})
                for task in opened
            ),
            *(
                Change(
                    "task_close",
                    task,
                    before={"status": TaskStatus.OPEN},
                    after={"status": TaskStatus.DONE},
                    reason=task.resolution,
                )
                for task in closed
            ),
        ],
    )


def price_violations_raise(*, kept_out: list[KeptOut], cleared: Iterable[int], now: dt.datetime):
    """Raise one Price_Rule_Violation (no channel) per SKU kept out and open its audit task;
    resolve the violations and close the tasks of SKUs whose price is valid again.

    For prices kept out outside a file ingest (orchestration.ingest records those of files
    with price_violations_record; the file's ingest opens their tasks).
    """
    cleared = set(cleared)
    kept_out = [k for k in kept_out if k.product_id not in cleared]
    price_violations_record(kept_out=kept_out, cleared=cleared, now=now)
    price_audit_tasks(kept_out=kept_out, cleared=cleared, now=now)


def price_violations_record(
    *, kept_out: Iterable[KeptOut], cleared: Iterable[int], now: dt.datetime
):
    """One Price_Rule_Violation (no channel: an HQ or ERP price) per SKU kept out and not
    cleared (its last one); resolve those of the SKUs cleared (a valid price is in force)."""
    cleared = set(cleared)
    last = {k.product_id: k for k in kept_out if k.product_id not in cleared}
    ops_exceptions_record(
        findings=[
            Finding(
                k.sku,
                Discrepancy.PRICE_RULE_VIOLATION,
                k.rule,
                money(k.amount, k.currency),
                product_id=k.product_id,
                currency=k.currency,
            )
            for k in last.values()
        ],
        source=ExceptionSource.INGEST,
        now=now,
    )
    for ids in _chunks(sorted(cleared)):
        ops_exceptions_resolve(
            ids=open_exceptions()
            .filter(
                source=ExceptionSource.INGEST,
                discrepancy=Discrepancy.PRICE_RULE_VIOLATION,
                channel__isnull=True,
                product_id__in=ids,
            )
            .values_list("pk", flat=True),
            now=now,
        )
