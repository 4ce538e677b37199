"""Writes for the ERP side: the morning reset with its exact variance, and the hand-over of
IMS's movements to the ERP.

The reset, in one transaction:
1. stream the file, keeping only rows of active products at locations the source may reset
   (COPY into a temporary table; nothing of the file is held in memory);
2. refuse the file, changing nothing, if any kept row is bad or repeated;
3. lock the stock levels, and plan every (active product, location in scope) at once in SQL:
   ERP count (0 where the file omits the pair), variance, what IMS holds there;
4. refuse a file that would zero more than the configured share of stock (likely truncated);
5. write one ERP_RESET movement per changed level and move the levels by exactly that;
6. raise an Oversell_Risk per SKU whose count falls short of what IMS holds, resolve the
   ones that no longer do, and write the variance file.

The ERP's number is the physical count at a location. IMS splits that count into states;
only `available` is IMS's to set, so
    available = erp quantity + variance − reserved − (in transit + damaged + returned
                                                      + quarantined held there)
which is the PRODUCT's `erp quantity + variance − reserved` whenever a location holds
nothing but available and reserved units (units in transit to it, or returned and waiting
in quarantine, are counted where IMS's ledger puts them, so they are not counted twice).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Product, ProductAlias, ProductStatus
from channels.models import ChannelListing
from erp.adapters.base import HANDOVER_COLUMNS, HandoverRecord
from erp.errors import ErpUnreachable, ResetRefused
from erp.models import ErpSource, ExportRun, ResetRun, RunStatus
from erp.reader import INACTIVE, MAX_LISTED, WATCHED, Scan, reset_scan
from erp.selectors import handover_due, variance_sql
from exceptions.models import OPEN_STATUSES, Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.audit import audit_record
from ims.csvio import write_csv
from ims.errors import FileRejected, RowError
from ims.money import money
from inventory.models import Location, LocationAlias, Movement, MovementReason, StockLevel
from inventory.services import stock_changed_on_commit

log = logging.getLogger("ims.erp")

VARIANCE_COLUMNS = ("sku_id", "location", "variance")
ROWS = "erp_reset_rows"
PLAN = "erp_reset_plan"


@dataclass
class ResetSummary:
    """What a reset did, for the command to print (the run keeps the same figures)."""

    run: ResetRun
    scan: Scan
    variance_path: Path

    def lines(self) -> list[str]:
        run = self.run
        skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(run.skipped.items())) or "none"
        lines = [
            f"rows read: {run.rows_read:,}; kept: {run.kept:,}; skipped: {skipped}",
            f"(product, location) pairs reset: {run.pairs:,}; changed: {run.changed:,}; "
            f"omitted by the file (ERP count 0): {run.omitted:,} holding {run.omitted_units:,} units",
            f"variance total: {run.variance_total:+,} units; shortfalls (Oversell_Risk): "
            f"{run.shortfalls:,}",
            f"variance file: {self.variance_path}",
        ]
        return lines + list(run.messages)


# ---------------------------------------------------------------------------
# The reset


def erp_reset(
    *,
    path: str | Path,
    as_of: dt.datetime,
    variance_out: str | Path | None = None,
    source: ErpSource | None = None,
    actor=None,
    now: dt.datetime | None = None,
    zero_share: float | None = None,
    columns: Mapping[str, str] | None = None,
    label: str | None = None,
    progress=None,
) -> ResetSummary:
    """Apply the ERP's full stock file as of `as_of`, with the variance, in one transaction.

    Raises FileRejected (bad rows, each as file:line: column: reason) or ResetRefused (the
    time, a likely truncated file); either way nothing is changed and the refusal is kept
    as a ResetRun.
    """
    now = now or timezone.now()
    label = label or str(path)
    variance_path = Path(variance_out or Path(settings.IMS_REPORTS_DIR) / "variance.csv")
    zero_share = settings.IMS_ERP_MAX_ZERO_SHARE if zero_share is None else zero_share
    columns = columns or (source.options.get("columns") if source else None) or {}
    try:
        _check_time(as_of=as_of, now=now, source=source)
        with transaction.atomic():
            run = ResetRun.objects.create(
                source=source,
                file_name=label[:500],
                as_of=as_of,
                started_at=now,
                status=RunStatus.APPLIED,
                actor=_person(actor),
            )
            scan = _reset_apply(
                run=run,
                path=path,
                label=label,
                source=source,
                now=now,
                zero_share=zero_share,
                columns=columns,
                actor=actor,
                variance_path=variance_path,
                progress=progress,
            )
    except (FileRejected, ResetRefused) as exc:
        messages = [str(e) for e in exc.errors] if isinstance(exc, FileRejected) else exc.problems
        ResetRun.objects.create(
            source=source,
            file_name=label[:500],
            as_of=as_of,
            started_at=now,
            finished_at=timezone.now(),
            status=RunStatus.REJECTED,
            messages=messages[:1000],
            actor=_person(actor),
        )
        raise
    return ResetSummary(run=run, scan=scan, variance_path=variance_path)


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _check_time(*, as_of: dt.datetime, now: dt.datetime, source: ErpSource | None) -> None:
    if timezone.is_naive(as_of):
        raise ResetRefused(["--as-of: give a time zone (e.g. 2026-11-23T07:00:00Z)"])
    if as_of > now:
        raise ResetRefused(
            [f"--as-of: {as_of.isoformat()} is in the future (now is {now.isoformat()})"]
        )
    last = (
        ResetRun.objects.filter(source=source, status=RunStatus.APPLIED)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    if last and as_of < last:
        raise ResetRefused(
            [
                f"--as-of: {as_of.isoformat()} is before the last reset applied "
                f"({last.isoformat()}); an older count would undo newer ones"
            ]
        )


def _scope_location_ids(source: ErpSource | None) -> list[int]:
    if source is not None:
        ids = list(source.locations.values_list("pk", flat=True))
        if ids:
            return sorted(ids)
    return sorted(Location.objects.values_list("pk", flat=True))


def _location_codes(
    source: ErpSource | None, scope: list[int]
) -> tuple[dict[bytes, int], set[bytes]]:
    """Codes the file may use → location id (IMS codes, and the source's aliases; an IMS
    code wins a clash), and the known codes outside the source's scope."""
    alias_scope = source.alias_scope if source else "erp"
    known: dict[str, int] = dict(
        LocationAlias.objects.filter(scope=alias_scope).values_list("code", "location_id")
    )
    known.update(Location.objects.values_list("code", "id"))
    inside = set(scope)
    codes = {code.encode(): pk for code, pk in known.items() if pk in inside}
    outside = {code.encode() for code, pk in known.items() if pk not in inside}
    return codes, outside


def _sku_kinds(source: ErpSource | None) -> dict[bytes, int]:
    """SKU (and the source's product aliases) → product id for active products, INACTIVE
    for deactivated ones, WATCHED for names a channel lists that IMS does not know."""
    alias_scope = source.alias_scope if source else "erp"
    kinds: dict[bytes, int] = {}
    for value in (
        ChannelListing.objects.filter(product__isnull=True)
        .values_list("identifier", flat=True)
        .distinct()
        .iterator(chunk_size=5000)
    ):
        kinds[value.encode()] = WATCHED
    for value, product_id, status in (
        ProductAlias.objects.filter(scope=alias_scope)
        .values_list("value", "product_id", "product__status")
        .iterator(chunk_size=5000)
    ):
        kinds[value.encode()] = product_id if status == ProductStatus.ACTIVE else INACTIVE
    for sku, product_id, status in Product.objects.values_list("sku", "pk", "status").iterator(
        chunk_size=5000
    ):
        kinds[sku.encode()] = product_id if status == ProductStatus.ACTIVE else INACTIVE
    return kinds


def _tables() -> dict[str, str]:
    return {
        "product": Product._meta.db_table,
        "location": Location._meta.db_table,
        "level": StockLevel._meta.db_table,
        "movement": Movement._meta.db_table,
        "rows": ROWS,
        "plan": PLAN,
    }


def _execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return cursor.rowcount


def _fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return cursor.fetchall()


@contextmanager
def _rows_loader() -> Iterator:
    """A sink for kept rows: COPY on PostgreSQL, batched INSERTs on SQLite."""
    _execute(f"DROP TABLE IF EXISTS {ROWS}")
    temp = "CREATE TEMP TABLE {rows} (line BIGINT, product_id BIGINT, location_id BIGINT, quantity BIGINT)"
    if connection.vendor == "postgresql":
        # The reset joins a few hundred thousand rows at once: room to hash them in memory
        # (server memory, for this transaction only).
        _execute("SET LOCAL temp_buffers = '128MB'")
        _execute("SET LOCAL work_mem = '64MB'")
        _execute(temp + " ON COMMIT DROP")
        with connection.cursor() as cursor:
            with cursor.cursor.copy(
                f"COPY {ROWS} (line, product_id, location_id, quantity) FROM STDIN"
            ) as copy:

                def sink(rows):
                    copy.write("".join(f"{a}\t{b}\t{c}\t{d}\n" for a, b, c, d in rows))

                yield sink
            cursor.execute(f"ANALYZE {ROWS}")
    else:
        _execute(temp)
        with connection.cursor() as cursor:

            def sink(rows):
                cursor.executemany(
                    f"INSERT INTO {ROWS} (line, product_id, location_id, quantity) VALUES (%s, %s, %s, %s)",
                    rows,
                )

            yield sink
        _execute(f"CREATE INDEX {ROWS}_pair ON {ROWS} (product_id, location_id)")


def _drop_temp() -> None:
    if connection.vendor != "postgresql":  # PostgreSQL drops them at commit
        _execute(f"DROP TABLE IF EXISTS {ROWS}")
        _execute(f"DROP TABLE IF EXISTS {PLAN}")


def _duplicates(label: str) -> list[RowError]:
    rows = _fetch(
        """
        SELECT r.line, d.first, p.sku, l.code
        FROM {rows} r
        JOIN (SELECT product_id, location_id, MIN(line) AS first FROM {rows}
              GROUP BY product_id, location_id HAVING COUNT(*) > 1) d
          ON d.product_id = r.product_id AND d.location_id = r.location_id AND r.line > d.first
        JOIN {product} p ON p.id = r.product_id
        JOIN {location} l ON l.id = r.location_id
        ORDER BY r.line
        """
        + f" LIMIT {MAX_LISTED}"
    )
    return [
        RowError(label, line, "sku_id", f"{sku} at {code} appears again (first on line {first})")
        for line, first, sku, code in rows
    ]


def _reset_apply(
    *,
    run: ResetRun,
    path,
    label: str,
    source: ErpSource | None,
    now: dt.datetime,
    zero_share: float,
    columns,
    actor,
    variance_path: Path,
    progress,
) -> Scan:
    clock = _Phases()
    scope = _scope_location_ids(source)
    codes, outside = _location_codes(source, scope)
    skus = _sku_kinds(source)
    pairs = _PairsSeen(skus, scope)
    with _rows_loader() as load:

        def sink(rows):
            pairs.add(rows)
            load(rows)

        scan = reset_scan(
            path,
            label=label,
            skus=skus,
            locations=codes,
            out_of_scope=outside,
            sink=sink,
            columns=columns,
            progress=progress,
        )
    clock("read and load the file")
    errors = list(scan.errors)
    if not scan.error_count and pairs.repeated:
        errors = _duplicates(label)
    if errors or scan.error_count:
        if scan.error_count > len(scan.errors):
            errors.append(
                RowError(
                    label,
                    0,
                    "file",
                    f"… and {scan.error_count - len(scan.errors):,} more problems "
                    f"(the first {len(scan.errors):,} are listed)",
                )
            )
        raise FileRejected(errors)

    if connection.vendor == "postgresql":
        # Every level in scope is rewritten: stock changes (row locks, then updates) wait the
        # few seconds this takes; plain reads go on.
        _execute("LOCK TABLE {level} IN EXCLUSIVE MODE")
    plan = _plan(as_of=run.as_of, scope=scope)
    clock("plan every (product, location) with its variance")
    run.rows_read, run.kept, run.skipped = scan.rows_read, scan.kept, dict(+scan.skipped)
    run.pairs, run.omitted, run.omitted_units, held, run.variance_total = plan
    if held and run.omitted_units > zero_share * held:
        raise ResetRefused(
            [
                f"{label}: the file omits {run.omitted:,} (product, location) pairs holding "
                f"{run.omitted_units:,} of {held:,} units ({run.omitted_units / held:.1%}); a reset "
                f"may zero at most {zero_share:.0%} of stock — likely a truncated file, "
                "nothing was applied"
            ]
        )
    run.changed = _apply_plan(run=run, now=now, actor=actor)
    clock("apply the changed levels and their movements")
    run.shortfalls = _shortfall_exceptions(now=now)
    _watched_exceptions(scan=scan, now=now)
    clock("exceptions")
    run.variance_file = str(variance_path)[:500]
    _write_variance(variance_path)
    clock("variance file")
    _drop_temp()
    run.messages = _notes(scan)
    log.info("erp reset %s: %s", run.ref, clock)
    run.timings = clock.seconds
    run.finished_at = timezone.now()
    run.save()
    audit_record(
        actor=actor,
        action="erp_reset",
        obj=run,
        after={
            "ref": run.ref,
            "as_of": run.as_of,
            "rows_read": run.rows_read,
            "kept": run.kept,
            "skipped": run.skipped,
            "changed": run.changed,
            "variance_total": run.variance_total,
            "shortfalls": run.shortfalls,
        },
        reason=f"ERP stock as of {run.as_of.isoformat()} from {label}",
        at=now,
    )
    return scan


class _Phases:
    """Seconds spent in each phase of a reset (logged, and shown by the command at -v 2)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self.last, 3)
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{phase} {sec:.2f} s" for phase, sec in self.seconds.items())


class _PairsSeen:
    """Whether a (product, location) pair came twice among the kept rows: one bit per pair of
    the reset (20,000 products × 40 stores is 100 KB). Past 16 MB of bits the database
    checks instead. Only when a pair repeats does the database name the lines."""

    LIMIT = 1 << 27

    def __init__(self, skus: Mapping[bytes, int], scope: list[int]):
        products = sorted({pid for pid in skus.values() if pid > 0})
        self.width = len(scope)
        self.repeated = False
        self.exact = len(products) * self.width <= self.LIMIT
        if self.exact:
            self.product = {pid: i for i, pid in enumerate(products)}
            self.location = {loc: i for i, loc in enumerate(scope)}
            self.bits = bytearray((len(products) * self.width + 7) // 8)

    def add(self, rows) -> None:
        if not self.exact:
            self.repeated = True  # the database will look
            return
        if self.repeated:
            return
        bits, product, location, width = self.bits, self.product, self.location, self.width
        for _, product_id, location_id, _ in rows:
            key = product[product_id] * width + location[location_id]
            byte, mask = key >> 3, 1 << (key & 7)
            if bits[byte] & mask:
                self.repeated = True
                return
            bits[byte] |= mask


def _notes(scan: Scan) -> list[str]:
    notes = [
        f"{scan.label}:{first}: location: unknown location '{code}' ({count:,} rows skipped)"
        for code, (first, count) in sorted(scan.unknown_locations.items())
    ]
    notes += [
        f"{scan.label}:{first}: sku_id: '{sku}' is listed on a channel but is no IMS product "
        f"({count:,} rows skipped; a Channel_Only_SKU exception is open)"
        for sku, (first, count) in sorted(scan.watched.items())
    ]
    if not scan.ends_with_newline:
        notes.append(f"{scan.label}: the file does not end with a line break")
    return notes[:1000]


def _plan(*, as_of: dt.datetime, scope: list[int]) -> tuple[int, int, int, int, int]:
    """Build the plan table; return (pairs, omitted pairs, units they hold, units held in
    scope, variance total)."""
    _execute(f"DROP TABLE IF EXISTS {PLAN}")
    temp = "CREATE TEMP TABLE {plan} (product_id BIGINT, location_id BIGINT, level_id BIGINT, erp BIGINT, in_file INTEGER, variance BIGINT, available BIGINT, reserved BIGINT, other BIGINT, target BIGINT)"
    _execute(temp + (" ON COMMIT DROP" if connection.vendor == "postgresql" else ""))
    variance, variance_params = variance_sql(as_of=as_of, location_ids=scope)
    marks = ", ".join(["%s"] * len(scope)) or "NULL"
    _execute(
        """
        INSERT INTO {plan} (product_id, location_id, level_id, erp, in_file, variance,
                            available, reserved, other, target)
        SELECT q.product_id, q.location_id, q.level_id, q.erp, q.in_file, q.variance,
               q.available, q.reserved, q.other, q.erp + q.variance - q.reserved - q.other
        FROM (
            SELECT p.id AS product_id, l.id AS location_id, s.id AS level_id,
                   COALESCE(f.quantity, 0) AS erp,
                   CASE WHEN f.line IS NULL THEN 0 ELSE 1 END AS in_file,
                   COALESCE(v.variance, 0) AS variance,
                   COALESCE(s.available, 0) AS available,
                   COALESCE(s.reserved, 0) AS reserved,
                   COALESCE(s.in_transit + s.damaged + s.returned + s.quarantined, 0) AS other
            FROM {product} p
            CROSS JOIN {location} l
            LEFT JOIN {rows} f ON f.product_id = p.id AND f.location_id = l.id
            LEFT JOIN ("""
        + variance
        + f""") v ON v.product_id = p.id AND v.location_id = l.id
            LEFT JOIN {{level}} s ON s.product_id = p.id AND s.location_id = l.id
            WHERE p.status = %s AND l.id IN ({marks})
        ) q
        """,
        [*variance_params, ProductStatus.ACTIVE, *scope],
    )
    if connection.vendor == "postgresql":
        _execute(f"ANALYZE {PLAN}")
    ((pairs, omitted, omitted_units, held, variance_total),) = _fetch(
        """
        SELECT COUNT(*),
               COALESCE(SUM(1 - in_file), 0),
               COALESCE(SUM(CASE WHEN in_file = 0 THEN available + reserved ELSE 0 END), 0),
               COALESCE(SUM(available + reserved), 0),
               COALESCE(SUM(variance), 0)
        FROM {plan}
        """
    )
    return int(pairs), int(omitted), int(omitted_units), int(held), int(variance_total)


NEW_AVAILABLE = "(CASE WHEN target < 0 THEN 0 ELSE target END)"


def _apply_plan(*, run: ResetRun, now: dt.datetime, actor) -> int:
    """Movements for every changed level, and the levels moved by them; returns the count."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    _execute(
        f"""
        INSERT INTO {{level}} (product_id, location_id, available, reserved, in_transit,
                               damaged, returned, quarantined, updated_at)
        SELECT product_id, location_id, 0, 0, 0, 0, 0, 0, %s FROM {{plan}}
        WHERE level_id IS NULL AND {NEW_AVAILABLE} > 0
        """,
        [stamp],
    )
    _execute(
        """
        UPDATE {plan} SET level_id = (
            SELECT s.id FROM {level} s
            WHERE s.product_id = {plan}.product_id AND s.location_id = {plan}.location_id)
        WHERE level_id IS NULL AND target > 0
        """
    )
    note = f"ERP reset as of {run.as_of.isoformat()}"[:255]
    changed = _execute(
        f"""
        INSERT INTO {{movement}} (product_id, location_id, from_state, to_state, quantity,
                                  reason, ref, note, actor_id, created_at, handed_to_erp_at)
        SELECT product_id, location_id,
               CASE WHEN {NEW_AVAILABLE} > available THEN '' ELSE 'available' END,
               CASE WHEN {NEW_AVAILABLE} > available THEN 'available' ELSE '' END,
               ABS({NEW_AVAILABLE} - available), %s, %s, %s, %s, %s, NULL
        FROM {{plan}} WHERE {NEW_AVAILABLE} <> available
        """,
        [MovementReason.ERP_RESET, run.ref, note, actor_id, stamp],
    )
    if connection.vendor == "postgresql":
        _execute(
            f"""
            UPDATE {{level}} s SET available = {NEW_AVAILABLE.replace("target", "p.target")},
                                   updated_at = %s
            FROM {{plan}} p
            WHERE s.id = p.level_id AND {NEW_AVAILABLE.replace("target", "p.target")} <> p.available
            """,
            [stamp],
        )
    else:
        _execute(
            f"""
            UPDATE {{level}} SET available = p.new, updated_at = %s
            FROM (SELECT level_id, {NEW_AVAILABLE} AS new FROM {{plan}}
                  WHERE {NEW_AVAILABLE} <> available) p
            WHERE {{level}}.id = p.level_id
            """,
            [stamp],
        )
    product_ids = [
        row[0]
        for row in _fetch(
            f"SELECT DISTINCT product_id FROM {{plan}} WHERE {NEW_AVAILABLE} <> available"
        )
    ]
    stock_changed_on_commit(product_ids=product_ids)
    return changed


def _shortfall_exceptions(*, now: dt.datetime) -> int:
    """One Oversell_Risk per SKU whose ERP count (with the variance) falls short of what IMS
    holds there: expected = units held for orders, actual = units there for them. SKUs of the
    reset that no longer fall short have theirs resolved."""
    short = _fetch(
        """
        SELECT p.sku, x.product_id, x.wanted, x.have, x.location_id
        FROM (SELECT product_id, SUM(reserved) AS wanted, SUM(erp + variance - other) AS have,
                     MIN(location_id) AS location_id
              FROM {plan} WHERE target < 0 GROUP BY product_id) x
        JOIN {product} p ON p.id = x.product_id
        """
    )
    ops_exceptions_record(
        findings=[
            Finding(
                sku,
                Discrepancy.OVERSELL_RISK,
                str(int(wanted)),
                str(int(have)),
                product_id=product_id,
                location_id=location_id,
                oversell=True,
            )
            for sku, product_id, wanted, have, location_id in short
        ],
        source=ExceptionSource.ERP,
        now=now,
    )
    short_ids = {row[1] for row in short}
    stale = list(
        OpsException.objects.filter(
            discrepancy=Discrepancy.OVERSELL_RISK,
            channel__isnull=True,
            source__in=(ExceptionSource.ERP, ExceptionSource.INGEST),
            status__in=OPEN_STATUSES,
            product__status=ProductStatus.ACTIVE,
        )
        .exclude(product_id__in=short_ids)
        .values_list("pk", flat=True)
    )
    ops_exceptions_resolve(ids=stale, now=now, reason="the ERP reset covers what is held")
    return len(short)


def _watched_exceptions(*, scan: Scan, now: dt.datetime) -> None:
    """A SKU the ERP holds stock of, that a channel sells, but that is no IMS product: it
    cannot be applied, so it is raised (Channel_Only_SKU on each channel listing it)."""
    watched = sorted(scan.watched)
    listings = ChannelListing.objects.filter(
        product__isnull=True, identifier__in=watched
    ).values_list("identifier", "channel_id")
    ops_exceptions_record(
        findings=[
            Finding(identifier, Discrepancy.CHANNEL_ONLY_SKU, "null", "present", channel_id=ch)
            for identifier, ch in listings
        ],
        source=ExceptionSource.ERP,
        now=now,
    )
    gone = OpsException.objects.filter(
        source=ExceptionSource.ERP,
        discrepancy=Discrepancy.CHANNEL_ONLY_SKU,
        status__in=OPEN_STATUSES,
    ).exclude(sku_id__in=watched)
    ops_exceptions_resolve(
        ids=list(gone.values_list("pk", flat=True)),
        now=now,
        reason="no longer in the ERP's stock file",
    )


def _write_variance(path: Path) -> None:
    """sku_id,location,variance for every (product, location) of the reset, zeros included,
    sorted by SKU then location code (byte order)."""
    collate = 'COLLATE "C"' if connection.vendor == "postgresql" else "COLLATE BINARY"
    sql = f"""
        SELECT p.sku, l.code, x.variance FROM {{plan}} x
        JOIN {{product}} p ON p.id = x.product_id
        JOIN {{location}} l ON l.id = x.location_id
        ORDER BY p.sku {collate}, l.code {collate}
    """.format(**_tables())
    if connection.vendor != "postgresql":
        write_csv(path, VARIANCE_COLUMNS, _stream(sql))
        return
    # PostgreSQL writes the CSV itself (COPY … TO STDOUT), straight into the file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle, connection.cursor() as cursor:
        handle.write((",".join(VARIANCE_COLUMNS) + "\n").encode())
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for data in copy:
                handle.write(data)
    tmp.replace(path)


def _stream(sql: str, params=()) -> Iterator[tuple]:
    """Rows of a query without holding them all (a server-side cursor on PostgreSQL)."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor(name="erp_stream") as cursor:
            cursor.itersize = 20_000
            cursor.execute(sql, params)
            yield from cursor
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(20_000):
                yield from batch


# ---------------------------------------------------------------------------
# The hand-over to the ERP

KIND_OF_REASON = {
    MovementReason.DISPATCH: "shipment",
    MovementReason.CUSTOMER_RETURN: "customer_return",
    MovementReason.TRANSFER: "transfer",
    MovementReason.RECEIPT: "receipt",
    MovementReason.POS_SALE: "pos_sale",
    MovementReason.VENDOR_RETURN: "vendor_return",
    MovementReason.ADJUSTMENT: "adjustment",
}


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
            kind = KIND_OF_REASON.get(reason, str(reason))
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
    sources=None,
) -> ExportRun:
    """Hand the ERP what it has not been told: write the records (the file adapter's CSV
    form), send them to every active ERP source whose adapter accepts them, and mark the
    movements handed over at `now`. All or nothing: if a source refuses, nothing is marked
    (the refusal is kept as a failed ExportRun and raised)."""
    from erp.adapters import adapter_for

    now = now or timezone.now()
    out = Path(out_dir or settings.IMS_REPORTS_DIR)
    path = out / f"erp-handover-{now.strftime('%Y%m%dT%H%M%SZ')}.csv"
    sources = list(
        ErpSource.objects.filter(active=True).prefetch_related("locations")
        if sources is None
        else sources
    )
    try:
        with transaction.atomic():
            due = handover_due()
            ids = list(due.select_for_update().order_by("pk").values_list("pk", flat=True))
            by_kind: dict[str, int] = {}

            def counted():
                for record in _handover_records(ids):
                    by_kind[record.kind] = by_kind.get(record.kind, 0) + 1
                    yield record

            count = write_csv(
                path,
                HANDOVER_COLUMNS,
                (
                    (
                        r.movement_id,
                        r.kind,
                        r.ref,
                        r.sku,
                        r.location,
                        r.erp_location,
                        r.quantity,
                        r.at,
                    )
                    for r in counted()
                ),
            )
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
                exported_at=now,
                finished_at=timezone.now(),
                status=RunStatus.APPLIED,
                movements=count,
                by_kind=by_kind,
                files=[str(path)],
                sources=sent,
                actor=_person(actor),
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
            exported_at=now,
            finished_at=timezone.now(),
            status=RunStatus.FAILED,
            messages=[exc.message],
            actor=_person(actor),
        )
        raise
    return run


# ---------------------------------------------------------------------------
# Pulling from an ERP source (API or file drop), then the reset


@dataclass
class PullResult:
    source: ErpSource
    as_of: dt.datetime
    files: dict[str, Path]
    reset: ResetSummary | None
    ingested: dict[str, str]

    def lines(self) -> list[str]:
        lines = [f"{self.source.code}: pulled as of {self.as_of.isoformat()}"]
        lines += [f"{kind}: {path}" for kind, path in self.files.items()]
        lines += [f"{kind}: {what}" for kind, what in self.ingested.items()]
        if self.reset:
            lines += self.reset.lines()
        return lines


def _known_products() -> dict[str, tuple]:
    """IMS's products by SKU with the fields a pulled catalog row keeps from IMS."""
    return {
        sku: rest
        for sku, *rest in Product.objects.values_list(
            "sku", "barcode", "category__name", "uom", "cost", "mrp", "price", "currency"
        ).iterator(chunk_size=5000)
    }


def _write_pulled(adapter, folder: Path) -> dict[str, Path]:
    """What an API source holds, written in IMS's file forms: the full stock in the reset
    form; catalog and prices for the products IMS knows (IMS never creates a product from an
    ERP pull; fields the ERP lacks keep IMS's values)."""
    from catalog.services import CATALOG_COLUMNS

    known = _known_products()
    files = {"stock": folder / "stock.csv", "prices": folder / "prices.csv"}
    write_csv(
        files["stock"],
        ("sku_id", "location", "quantity"),
        ((r.sku, r.location, r.quantity) for r in adapter.fetch_stock()),
    )
    write_csv(
        files["prices"],
        ("sku_id", "currency", "price"),
        (
            (r.sku, r.currency or known[r.sku][6], money(r.price, r.currency or known[r.sku][6]))
            for r in adapter.fetch_prices()
            if r.sku in known
        ),
    )

    def catalog_rows():
        for item in adapter.fetch_catalog():
            ims = known.get(item.sku)
            if ims is None:
                continue
            barcode, category, uom, cost, mrp, price, currency = ims
            yield (
                item.sku,
                item.name,
                item.barcode or barcode,
                category,
                item.uom or uom,
                money(item.cost if item.cost is not None else cost, currency),
                money(mrp, currency),
                money(price, currency),
                currency,
                "active" if item.active else "inactive",
            )

    files["catalog"] = folder / "catalog.csv"
    write_csv(files["catalog"], (*CATALOG_COLUMNS, "status"), catalog_rows())
    return files


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
    from erp.adapters import adapter_for
    from erp.models import FILE_KINDS
    from ims.ingest import ingest_file

    now = now or timezone.now()
    folder = Path(settings.IMS_ERP_PULL_DIR) / source.code / now.strftime("%Y%m%dT%H%M%SZ")
    adapter = adapter_for(source, transport=transport)
    picked = None
    try:
        if source.kind in FILE_KINDS:
            picked = adapter.pick_up()
            files = {"stock": picked.stock}
            files.update(
                {k: p for k, p in (("catalog", picked.catalog), ("prices", picked.prices)) if p}
            )
            as_of = picked.as_of
        else:
            folder.mkdir(parents=True, exist_ok=True)
            as_of = now
            files = _write_pulled(adapter, folder)
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
