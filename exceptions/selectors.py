"""Reads of exceptions that need only their own tables: the open ones, the exception lists
(keyset pages, tab counts), run history, prices blocked by a rule. The scorecard, which also
reads the catalog and the channels, is reconcile.selectors."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from exceptions.models import Discrepancy, OpsException, ReconcileRun
from ims.db import by_bytes


def open_exceptions() -> QuerySet[OpsException]:
    return OpsException.objects.open()


def exceptions_for_report(queryset: QuerySet[OpsException] | None = None) -> QuerySet[OpsException]:
    """Open and acknowledged exceptions sorted by sku_id, channel, discrepancy (byte order)."""
    queryset = open_exceptions() if queryset is None else queryset
    return queryset.select_related("channel", "location").order_by(
        by_bytes("sku_id"), by_bytes("channel__code").asc(nulls_first=True), "discrepancy", "pk"
    )


def reconcile_history(*, limit: int = 30) -> list[ReconcileRun]:
    """The latest successful runs, oldest first (for trend charts)."""
    runs = (
        ReconcileRun.objects.filter(status="succeeded")
        .select_related("channel")
        .order_by("-started_at")[:limit]
    )
    return list(reversed(runs))


def price_sync_blocked(product_ids=None) -> set[int]:
    """Products whose price may not be pushed: an open Price_Rule_Violation with no channel
    (an HQ or ERP price kept out by a rule) blocks it until a valid price arrives or it is resolved."""
    queryset = open_exceptions().filter(
        discrepancy=Discrepancy.PRICE_RULE_VIOLATION, channel__isnull=True, product__isnull=False
    )
    if product_ids is not None:
        queryset = queryset.filter(product_id__in=list(product_ids))
    return set(queryset.values_list("product_id", flat=True))


# ---------------------------------------------------------------------------
# The triage list: keyset pagination, fast however many rows there are

SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    # name → ((field, descending), …) ending in the primary key
    "exposure": (("exposure", True), ("id", False)),
    "age": (("first_seen", False), ("id", False)),
    "newest": (("first_seen", True), ("id", True)),
}


@dataclass
class ExceptionPage:
    rows: list[OpsException]
    next_cursor: str = ""
    previous_cursor: str = ""
    first: int = 0  # the position of the page's first row among all matching (1-based)
    total: int = 0  # every row matching

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _encode(direction: str, row: OpsException, sort: str) -> str:
    values = [str(getattr(row, f)) if f != "id" else row.pk for f, _ in SORTS[sort]]
    return base64.urlsafe_b64encode(json.dumps([direction, *values]).encode()).decode()


def _decode(cursor: str, sort: str):
    try:
        direction, *values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        parsed = []
        for (field, _), value in zip(SORTS[sort], values, strict=True):
            if field == "exposure":
                value = Decimal(value)
                if not value.is_finite():
                    raise ValueError(value)
            elif field == "first_seen":  # aware, in UTC as stored: PostgreSQL refuses odd offsets
                value = dt.datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError(value)
                value = value.astimezone(dt.UTC)
            else:
                value = int(value)
            parsed.append(value)
    except (ValueError, TypeError, KeyError, OverflowError, ArithmeticError):
        return None, None
    if direction not in ("after", "before"):
        return None, None
    return direction, parsed


def _beyond(fields, values, forward: bool) -> Q:
    """Rows after (or before) the given sort values, in that sort order."""
    condition, equal = Q(), Q()
    for (name, descending), value in zip(fields, values, strict=True):
        later = "__lt" if descending == forward else "__gt"
        condition |= equal & Q(**{name + later: value})
        equal &= Q(**{name: value})
    return condition


def exception_page(
    *, queryset: QuerySet[OpsException], sort: str = "exposure", cursor: str = "", size: int = 50
) -> ExceptionPage:
    """One page of exceptions in `sort` order, after or before a cursor (one query), with
    its position among all matching rows ("51–100 of 312": two counts)."""
    page = _page(queryset=queryset, sort=sort, cursor=cursor, size=size)
    page.total = queryset.count()
    if page.rows:
        fields = SORTS[sort if sort in SORTS else "exposure"]
        values = [getattr(page.rows[0], f) if f != "id" else page.rows[0].pk for f, _ in fields]
        page.first = 1 + (
            queryset.filter(_beyond(fields, values, forward=False)).count() if cursor else 0
        )
    return page


def _page(*, queryset: QuerySet[OpsException], sort: str, cursor: str, size: int) -> ExceptionPage:
    sort = sort if sort in SORTS else "exposure"
    fields = SORTS[sort]
    order = [("-" if desc else "") + f for f, desc in fields]
    direction, values = _decode(cursor, sort) if cursor else (None, None)
    queryset = queryset.select_related("channel", "product", "location", "acknowledged_by")
    if direction == "before":
        reverse = [o[1:] if o.startswith("-") else "-" + o for o in order]
        rows = list(
            queryset.filter(_beyond(fields, values, forward=False)).order_by(*reverse)[: size + 1]
        )
        more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        page = ExceptionPage(rows)
        if rows:
            page.next_cursor = _encode("after", rows[-1], sort)
            if more_before:
                page.previous_cursor = _encode("before", rows[0], sort)
        return page
    if direction == "after":
        queryset = queryset.filter(_beyond(fields, values, forward=True))
    rows = list(queryset.order_by(*order)[: size + 1])
    page = ExceptionPage(rows[:size])
    if len(rows) > size:
        page.next_cursor = _encode("after", rows[size - 1], sort)
    if direction == "after" and page.rows:
        page.previous_cursor = _encode("before", page.rows[0], sort)
    return page


def exception_tab_counts(queryset: QuerySet[OpsException]) -> dict[str, int]:
    """Open rows per discrepancy under the current filters (one grouped query)."""
    counts = dict(queryset.order_by().values_list("discrepancy").annotate(n=Count("*")))
    return {d: counts.get(d, 0) for d in Discrepancy.values}
