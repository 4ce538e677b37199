"""The morning reset: the ERP's full stock file applied with its exact variance.

The reset, in one transaction:
1. read the file in blocks (erp.reader, polars) in a thread of its own, keeping only rows
   of active products at locations the source may reset; each block's kept rows fill in
   the ERP's count of every (product, location) pair, held in memory as one column of the
   pairs' length (the file is never held). Meanwhile lock the stock levels and read them
   (a location at a time) and the variance (erp.selectors.variance_compute) into polars;
2. refuse the file, changing nothing, if any kept row is bad or repeated;
3. plan every (active product, location in scope) in polars, a slice at a time: ERP count
   (0 where the file omits the pair), variance, what IMS holds there;
4. refuse a file that would zero more than the configured share of stock (likely truncated);
5. send only the changed pairs to the database (COPY into a temporary table on PostgreSQL)
   and write one ERP_RESET movement per changed level and move the levels by exactly that;
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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Product, ProductAlias, ProductStatus
from channels.models import ChannelListing
from erp.errors import ResetRefused
from erp.models import ErpSource, ResetRun, RunStatus
from erp.reader import INACTIVE, MAX_LISTED, WATCHED, Scan, reset_scan
from erp.selectors import variance_compute
from exceptions.models import Discrepancy, ExceptionSource, OpsException
from exceptions.services import Finding, ops_exceptions_record, ops_exceptions_resolve
from ims.audit import audit_record
from ims.errors import FileRejected, RowError
from ims.permissions import person
from inventory.models import Location, LocationAlias, Movement, MovementReason, StockLevel
from inventory.signals import stock_changed

log = logging.getLogger("ims.erp")

VARIANCE_COLUMNS = ("sku_id", "location", "variance")
PLAN = "erp_reset_plan"


@dataclass
class ResetSummary:
    """What a reset did, for the command to print (the run keeps the same figures)."""

    run: ResetRun
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


def erp_reset(
    *,
    path: str | Path,
    as_of: dt.datetime,
    variance_out: str | Path | None = None,
    source: ErpSource | None = None,
    actor=None,
    now: dt.datetime | None = None,
    zero_share: float | None = None,
    progress=None,
) -> ResetSummary:
    """Apply the ERP's full stock file as of `as_of`, with the variance, in one transaction.

    Raises FileRejected (bad rows, each as file:line: column: reason) or ResetRefused (the
    time, a likely truncated file); either way nothing is changed and the refusal is kept
    as a ResetRun.
    """
    now = now or timezone.now()
    variance_path = Path(variance_out or Path(settings.IMS_REPORTS_DIR) / "variance.csv")
    zero_share = settings.IMS_ERP_MAX_ZERO_SHARE if zero_share is None else zero_share
    # What the run records whether the file is applied or refused.
    named = {"source": source, "file_name": str(path)[:500], "as_of": as_of, "started_at": now}
    named["actor"] = person(actor)
    try:
        _check_time(as_of=as_of, now=now, source=source)
        with transaction.atomic():
            run = ResetRun.objects.create(**named, status=RunStatus.APPLIED)
            _reset_apply(
                run=run,
                path=path,
                source=source,
                now=now,
                zero_share=zero_share,
                actor=actor,
                variance_path=variance_path,
                progress=progress,
            )
    except (FileRejected, ResetRefused) as exc:
        messages = [str(e) for e in exc.errors] if isinstance(exc, FileRejected) else exc.problems
        ResetRun.objects.create(
            **named,
            finished_at=timezone.now(),
            status=RunStatus.REJECTED,
            messages=messages[:1000],
        )
        raise
    return ResetSummary(run=run, variance_path=variance_path)


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


@dataclass
class _Pairs:
    """Every (active product, location in scope) of a reset, numbered in the variance file's
    order: products by SKU, locations by code (byte order), a product's number (from 1) ×
    a location's; pair = (product − 1) × locations + location − 1. The plan is a frame with
    one row per pair, in that order."""

    skus: pl.Series  # product number − 1 → SKU
    product_ids: pl.Series
    codes: pl.Series  # location number − 1 → code
    location_ids: pl.Series

    @classmethod
    def of(cls, scope: list[int]) -> _Pairs:
        products = sorted(
            Product.objects.filter(status=ProductStatus.ACTIVE).values_list("sku", "pk")
        )
        places = sorted(Location.objects.filter(pk__in=scope).values_list("code", "pk"))
        return cls(
            skus=pl.Series([sku for sku, _ in products], dtype=pl.String),
            product_ids=pl.Series([pk for _, pk in products], dtype=pl.Int64),
            codes=pl.Series([code for code, _ in places], dtype=pl.String),
            location_ids=pl.Series([pk for _, pk in places], dtype=pl.Int64),
        )

    @property
    def width(self) -> int:
        return len(self.codes)

    @property
    def size(self) -> int:
        return len(self.skus) * len(self.codes)

    def numbers(self, ids: pl.Series) -> dict[int, int]:
        return {pk: number for number, pk in enumerate(ids, start=1)}

    def index(self, product: pl.Series, location: pl.Series) -> pl.Series:
        """The pairs of product and location numbers."""
        index = (product.cast(pl.Int64) - 1) * self.width + location.cast(pl.Int64) - 1
        return index.cast(pl.UInt32) if self.size <= 1 << 32 else index

    def index_of_ids(self, frame: pl.DataFrame) -> pl.Series:
        """The pairs of rows with product_id and location_id (every one a pair of the reset)."""
        numbered = frame.select("product_id", "location_id")
        for name, ids in (("product", self.product_ids), ("location", self.location_ids)):
            numbers = pl.DataFrame(
                {f"{name}_id": ids, name: pl.int_range(1, len(ids) + 1, eager=True)}
            )
            numbered = numbered.join(numbers, on=f"{name}_id", how="left", maintain_order="left")
        return self.index(numbered["product"], numbered["location"])


def _reset_maps(
    source: ErpSource | None, pairs: _Pairs
) -> tuple[dict[str, int], dict[str, int], set[str]]:
    """What the reader needs: SKU (and the source's product aliases) → the product's number
    for active products, INACTIVE for deactivated ones, WATCHED for names a channel lists
    that IMS does not know; codes the file may use → the location's number (IMS codes, and
    the source's aliases; an IMS code wins a clash); the known codes outside the scope."""
    alias_scope = source.alias_scope if source else "erp"
    product = pairs.numbers(pairs.product_ids)
    kinds: dict[str, int] = {}
    for value in (
        ChannelListing.objects.filter(product__isnull=True)
        .values_list("identifier", flat=True)
        .distinct()
        .iterator(chunk_size=5000)
    ):
        kinds[value] = WATCHED
    for value, product_id in (
        ProductAlias.objects.filter(scope=alias_scope)
        .values_list("value", "product_id")
        .iterator(chunk_size=5000)
    ):
        kinds[value] = product.get(product_id, INACTIVE)
    for sku, product_id in Product.objects.values_list("sku", "pk").iterator(chunk_size=5000):
        kinds[sku] = product.get(product_id, INACTIVE)
    known: dict[str, int] = dict(
        LocationAlias.objects.filter(scope=alias_scope).values_list("code", "location_id")
    )
    known.update(Location.objects.values_list("code", "id"))
    place = pairs.numbers(pairs.location_ids)
    codes = {code: place[pk] for code, pk in known.items() if pk in place}
    outside = {code for code, pk in known.items() if pk not in place}
    return kinds, codes, outside


def _tables() -> dict[str, str]:
    return {
        "product": Product._meta.db_table,
        "location": Location._meta.db_table,
        "level": StockLevel._meta.db_table,
        "movement": Movement._meta.db_table,
        "plan": PLAN,
    }


def _execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return cursor.rowcount


def _reset_apply(
    *,
    run: ResetRun,
    path,
    source: ErpSource | None,
    now: dt.datetime,
    zero_share: float,
    actor,
    variance_path: Path,
    progress,
) -> None:
    clock = _Phases()
    label = str(path)
    scope = _scope_location_ids(source)
    pairs = _Pairs.of(scope)
    kinds, codes, outside = _reset_maps(source, pairs)
    counts = _Counts(pairs)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="erp-reset-file") as pool:
        # The file is read in a thread of its own (polars releases the GIL), while this one
        # locks the stock levels and reads them and the variance: the two wait on different
        # things, the file's parsing and the database server.
        reading = pool.submit(
            reset_scan,
            path,
            label=label,
            skus=kinds,
            locations=codes,
            out_of_scope=outside,
            sink=counts,
            columns=(source.options.get("columns") if source else None) or {},
            progress=progress,
        )
        if connection.vendor == "postgresql":
            # Every level in scope may be rewritten: stock changes (row locks, then updates)
            # wait the seconds this takes; plain reads go on.
            _execute("LOCK TABLE {level} IN EXCLUSIVE MODE")
        held = _held(pairs, as_of=run.as_of, scope=scope)
        scan = reading.result()
    del kinds
    clock("read the file (the levels and the variance alongside)")
    errors = list(scan.errors)
    if not scan.error_count:
        errors = counts.duplicates(label)
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

    plan = _Plan(  # with the file's counts
        dense=held.dense.with_columns(erp=counts.erp, in_file=counts.line > 0), sparse=held.sparse
    )
    del held, counts
    run.rows_read, run.kept, run.skipped = scan.rows_read, scan.kept, dict(+scan.skipped)
    outcome = _Outcome.of(plan)
    clock("plan every (product, location) with its variance")
    run.pairs, run.variance_total = pairs.size, outcome.variance
    run.omitted, run.omitted_units, held = outcome.omitted, outcome.omitted_units, outcome.held
    if held and run.omitted_units > zero_share * held:
        raise ResetRefused(
            [
                f"{label}: the file omits {run.omitted:,} (product, location) pairs holding "
                f"{run.omitted_units:,} of {held:,} units ({run.omitted_units / held:.1%}); a reset "
                f"may zero at most {zero_share:.0%} of stock — likely a truncated file, "
                "nothing was applied"
            ]
        )
    run.changed = _apply_plan(outcome.changed, pairs=pairs, run=run, now=now, actor=actor)
    clock("apply the changed levels and their movements")
    run.shortfalls = _shortfall_exceptions(_shortfalls(outcome.short, pairs=pairs), now=now)
    _watched_exceptions(scan=scan, now=now)
    clock("exceptions")
    run.variance_file = str(variance_path)[:500]
    _write_variance(plan, pairs=pairs, path=variance_path)
    clock("variance file")
    if connection.vendor != "postgresql":  # PostgreSQL drops the plan's table at commit
        _execute(f"DROP TABLE IF EXISTS {PLAN}")
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


class _Counts:
    """The ERP's count of every pair, filled in block by block as the file is read (a sink
    of the reader): the count (0 where the file omits the pair) and the line it is on (0:
    omitted). A pair that comes again is a duplicate, kept with the line it came first on."""

    def __init__(self, pairs: _Pairs):
        self.pairs = pairs
        self.erp = pl.zeros(pairs.size, pl.Int64, eager=True)
        self.line = pl.zeros(pairs.size, pl.UInt32, eager=True)
        self.again: list[pl.DataFrame] = []  # line, first, pair
        self.repeats = 0

    def __call__(self, rows: pl.DataFrame) -> None:
        """Take a block's kept rows (the reader's KEPT_SCHEMA, in line order)."""
        index = self.pairs.index(rows["product"], rows["location"])
        rows = rows.select("line", "quantity", pair=index, before=self.line.gather(index))
        new = pl.col("pair").is_first_distinct() & (pl.col("before") == 0)
        first = rows.filter(new)
        self.line.scatter(first["pair"], first["line"])
        self.erp.scatter(first["pair"], first["quantity"])
        if first.height == rows.height:
            return
        again = rows.filter(~new)
        if self.repeats < MAX_LISTED:
            self.again.append(
                again.select("line", first=self.line.gather(again["pair"]), pair="pair").head(
                    MAX_LISTED - self.repeats
                )
            )
        self.repeats += again.height

    def duplicates(self, label: str) -> list[RowError]:
        """Rows whose (product, location) came before in the file (also through an ERP
        code), each with the first line: `A at NY appears again (first on line 2)`."""
        if not self.again:
            return []
        again = pl.concat(self.again)
        pairs = self.pairs
        skus = pairs.skus.gather(again["pair"] // pairs.width)
        codes = pairs.codes.gather(again["pair"] % pairs.width)
        return [
            RowError(
                label, line, "sku_id", f"{sku} at {code} appears again (first on line {first})"
            )
            for line, first, sku, code in zip(
                again["line"], again["first"], skus, codes, strict=True
            )
        ]


@dataclass
class _Plan:
    """Every pair of the reset, in order: the ERP's count (0 where the file omits the pair;
    in_file) and what is available there (has_level: a level exists) as columns of the
    pairs' length; the variance, and what is reserved or otherwise held there (other: in
    transit, damaged, returned, quarantined), only for the pairs where one is not 0."""

    dense: pl.DataFrame  # erp, in_file, available, has_level
    sparse: pl.DataFrame  # pair, variance, reserved, other (sorted by pair)

    STEP: ClassVar[int] = 1 << 17

    def slices(self) -> Iterator[pl.DataFrame]:
        """The plan a slice of pairs at a time, every column in full, with the pair."""
        pair = self.sparse["pair"]
        for start in range(0, self.dense.height, self.STEP):
            part = self.dense.slice(start, self.STEP)
            first = pair.search_sorted(start)
            held = self.sparse.slice(first, pair.search_sorted(start + part.height) - first)
            at = held["pair"].cast(pl.Int64) - start
            yield part.with_row_index("pair", offset=start).with_columns(
                pl.zeros(part.height, dtype, eager=True).scatter(at, held[name]).alias(name)
                for name, dtype in SPARSE_SCHEMA.items()
                if name != "pair"
            )


SPARSE_SCHEMA = {"pair": pl.UInt32, "variance": pl.Int64, "reserved": pl.Int32, "other": pl.Int32}


def _held(pairs: _Pairs, *, as_of: dt.datetime, scope: list[int]) -> _Plan:
    """The plan without the file's counts yet: the variance and the stock levels, scattered
    into columns of the pairs' length (no join of the pairs)."""
    sparse = []
    moved = pl.DataFrame(
        variance_compute(as_of=as_of, location_ids=scope),
        schema={"product_id": pl.Int64, "location_id": pl.Int64, "variance": pl.Int64},
        orient="row",
    )
    moved = moved.filter(pl.col("product_id").is_in(pairs.product_ids.implode()))
    sparse.append(
        moved.select(pair=pairs.index_of_ids(moved), variance="variance", reserved=0, other=0)
    )
    available = pl.zeros(pairs.size, pl.Int32, eager=True)
    has_level = pl.repeat(False, pairs.size, eager=True)
    for part in _levels(pairs, scope):
        part = part.with_columns(pair=pairs.index_of_ids(part))
        available.scatter(part["pair"], part["available"])
        has_level.scatter(part["pair"], True)
        sparse.append(
            part.filter((pl.col("reserved") != 0) | (pl.col("other") != 0)).select(
                "pair", "reserved", "other", variance=0
            )
        )
    return _Plan(
        dense=pl.DataFrame({"available": available, "has_level": has_level}),
        sparse=(
            pl.concat(
                [
                    frame.select(pl.col(n).cast(t) for n, t in SPARSE_SCHEMA.items())
                    for frame in sparse
                ]
            )
            .group_by("pair")
            .agg(pl.all().sum())
            .select(pl.col(n).cast(t) for n, t in SPARSE_SCHEMA.items())
            .sort("pair")
        ),
    )


LEVEL_SCHEMA = {
    "product_id": pl.Int64,
    "location_id": pl.Int64,
    "available": pl.Int32,
    "reserved": pl.Int32,
    "other": pl.Int32,  # a sum of int columns: PostgreSQL's int too
}


def _levels(pairs: _Pairs, scope: list[int]) -> Iterator[pl.DataFrame]:
    """The stock levels of the reset's pairs (LEVEL_SCHEMA), a location at a time.
    PostgreSQL sends each location's levels as one text (not a row per level)."""
    marks = ", ".join(["%s"] * len(scope)) or "NULL"
    other = "s.in_transit + s.damaged + s.returned + s.quarantined"
    active = pairs.product_ids.implode()
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.product_id, s.location_id, s.available, s.reserved, {other} "
                f"FROM {StockLevel._meta.db_table} s WHERE s.location_id IN ({marks})",
                scope,
            )
            part = pl.DataFrame(cursor.fetchall(), schema=LEVEL_SCHEMA, orient="row")
        yield part.filter(pl.col("product_id").is_in(active))
        return
    # Room to group the levels in memory, and the plan for all of the cursor's rows (not the
    # first few): this transaction only.
    _execute("SET LOCAL work_mem = '64MB'")
    _execute("SET LOCAL cursor_tuple_fraction = 1")
    connection.ensure_connection()
    # A server-side cursor: one location's levels in memory at a time.
    with connection.connection.cursor(name="erp_reset_levels") as cursor:
        cursor.itersize = 1
        cursor.execute(
            f"""
            SELECT s.location_id, string_agg(concat_ws(',', s.product_id, s.available,
                                                       s.reserved, {other}), E'\\n')
            FROM {StockLevel._meta.db_table} s WHERE s.location_id IN ({marks})
            GROUP BY s.location_id
            """,
            scope,
        )
        schema = {name: kind for name, kind in LEVEL_SCHEMA.items() if name != "location_id"}
        for location_id, text in cursor:
            part = pl.read_csv(text.encode(), has_header=False, schema=schema)
            yield part.filter(pl.col("product_id").is_in(active)).with_columns(
                location_id=pl.lit(location_id, pl.Int64)
            )


@dataclass
class _Outcome:
    """What the plan comes to: the totals, the changed pairs (pair, has_level, old, new
    available) and the pairs that fall short (pair, wanted = reserved, have = erp +
    variance − other). Worked out a slice of pairs at a time, so the temporary columns stay
    small."""

    omitted: int
    omitted_units: int
    held: int
    variance: int
    changed: pl.DataFrame
    short: pl.DataFrame

    @classmethod
    def of(cls, plan: _Plan) -> _Outcome:
        n = pl.col
        held = n("available").cast(pl.Int64) + n("reserved")
        out = ~n("in_file")
        new = n("target").clip(lower_bound=0)
        totals = [0, 0, 0, 0]
        changed, short = [], []
        for part in plan.slices():
            # What the ERP's count leaves to sell.
            part = part.with_columns(target=n("erp") + n("variance") - n("reserved") - n("other"))
            sums = part.select(
                omitted=out.sum(),
                omitted_units=held.filter(out).sum(),
                held=held.sum(),
                variance=n("variance").sum(),
            ).row(0)
            totals = [total + (value or 0) for total, value in zip(totals, sums, strict=True)]
            changed.append(
                part.filter(new != n("available")).select(
                    "pair", "has_level", old="available", new=new
                )
            )
            short.append(
                part.filter(n("target") < 0).select(
                    "pair",
                    wanted=n("reserved").cast(pl.Int64),
                    have=n("erp") + n("variance") - n("other"),
                )
            )
        return cls(
            *map(int, totals),
            changed=pl.concat(changed) if changed else pl.DataFrame(),
            short=pl.concat(short) if short else pl.DataFrame(),
        )


def _apply_plan(
    changed: pl.DataFrame, *, pairs: _Pairs, run: ResetRun, now: dt.datetime, actor
) -> int:
    """One movement for every changed level, and the level moved by exactly that (a level
    is created where there was none); returns the count. Only the changed pairs go to the
    database."""
    if not changed.height:
        return 0
    changed = changed.select(
        product_id=pairs.product_ids.gather(changed["pair"] // pairs.width),
        location_id=pairs.location_ids.gather(changed["pair"] % pairs.width),
        has_level=changed["has_level"].cast(pl.Int32),
        old=changed["old"],
        new=changed["new"],
    )
    columns = "product_id, location_id, has_level, old, new"
    _execute(f"DROP TABLE IF EXISTS {PLAN}")
    temp = "CREATE TEMP TABLE {plan} (product_id BIGINT, location_id BIGINT, has_level INTEGER, old BIGINT, new BIGINT)"
    if connection.vendor == "postgresql":
        _execute(temp + " ON COMMIT DROP")
        with connection.cursor() as cursor:
            with cursor.cursor.copy(
                f"COPY {PLAN} ({columns}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(changed.write_csv(include_header=False))
            cursor.execute(f"ANALYZE {PLAN}")
    else:
        _execute(temp)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {PLAN} ({columns}) VALUES (%s, %s, %s, %s, %s)", changed.iter_rows()
            )
    stamp = connection.ops.adapt_datetimefield_value(now)
    actor_id = getattr(person(actor), "pk", None)
    _execute(
        """
        INSERT INTO {level} (product_id, location_id, available, reserved, in_transit,
                             damaged, returned, quarantined, updated_at)
        SELECT product_id, location_id, 0, 0, 0, 0, 0, 0, %s FROM {plan} WHERE has_level = 0
        """,
        [stamp],
    )
    note = f"ERP reset as of {run.as_of.isoformat()}"[:255]
    changes = _execute(
        """
        INSERT INTO {movement} (product_id, location_id, from_state, to_state, quantity,
                                reason, ref, note, actor_id, created_at, handed_to_erp_at)
        SELECT product_id, location_id,
               CASE WHEN new > old THEN '' ELSE 'available' END,
               CASE WHEN new > old THEN 'available' ELSE '' END,
               ABS(new - old), %s, %s, %s, %s, %s, NULL
        FROM {plan}
        """,
        [MovementReason.ERP_RESET, run.ref, note, actor_id, stamp],
    )
    # On PostgreSQL, a few changed pairs among many levels: each is looked up by its key. The
    # planner would rather hash the changes and scan every level (2-4× slower on the
    # benchmark's 7,797 of 800,000); past a twentieth of the pairs it may.
    few = connection.vendor == "postgresql" and changed.height * 20 < pairs.size
    if few:
        _execute("SET LOCAL enable_hashjoin = off")
        _execute("SET LOCAL enable_mergejoin = off")
    _execute(
        """
        UPDATE {level} AS s SET available = p.new, updated_at = %s FROM {plan} p
        WHERE s.product_id = p.product_id AND s.location_id = p.location_id
        """,
        [stamp],
    )
    if few:
        _execute("RESET enable_hashjoin")
        _execute("RESET enable_mergejoin")
    stock_changed.send(StockLevel, product_ids=set(changed["product_id"].unique()), now=now)
    return changes


def _shortfalls(short: pl.DataFrame, *, pairs: _Pairs) -> list[tuple[str, int, int, int, int]]:
    """(sku, product id, units held for orders, units there for them, first location id)
    of every product whose count falls short of what is held somewhere, by SKU."""
    if not short.height:
        return []
    n = pl.col
    pair = short["pair"]
    short = (
        short.select(
            "wanted",
            "have",
            product=pair // pairs.width,
            location_id=pairs.location_ids.gather(pair % pairs.width),
        )
        .group_by("product")
        .agg(n("wanted").sum(), n("have").sum(), n("location_id").min())
        .sort("product")
    )
    return list(
        zip(
            pairs.skus.gather(short["product"]),
            pairs.product_ids.gather(short["product"]),
            short["wanted"],
            short["have"],
            short["location_id"],
            strict=True,
        )
    )


def _write_variance(plan: _Plan, *, pairs: _Pairs, path: Path) -> None:
    """sku_id,location,variance for every (product, location) of the reset, zeros included,
    sorted by SKU then location code (byte order): the plan's order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    # Written by polars for speed, not by ims.csvio.csv_writer: its cells are SKUs and location
    # codes (identifiers, which never start like a formula, see ims/identifiers.py) and whole
    # numbers, so there is nothing for a spreadsheet to run.
    with tmp.open("wb") as handle:
        handle.write((",".join(VARIANCE_COLUMNS) + "\n").encode())
        for part in plan.slices():
            pl.DataFrame(
                {
                    VARIANCE_COLUMNS[0]: pairs.skus.gather(part["pair"] // pairs.width),
                    VARIANCE_COLUMNS[1]: pairs.codes.gather(part["pair"] % pairs.width),
                    VARIANCE_COLUMNS[2]: part["variance"],
                }
            ).write_csv(handle, include_header=False)
    tmp.replace(path)


def _shortfall_exceptions(short: list[tuple[str, int, int, int, int]], *, now: dt.datetime) -> int:
    """One Oversell_Risk per SKU whose ERP count (with the variance) falls short of what IMS
    holds there: expected = units held for orders, actual = units there for them. SKUs of the
    reset that no longer fall short have theirs resolved."""
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
        OpsException.objects.open()
        .filter(
            discrepancy=Discrepancy.OVERSELL_RISK,
            channel__isnull=True,
            source__in=(ExceptionSource.ERP, ExceptionSource.INGEST),
            product__status=ProductStatus.ACTIVE,
        )
        .exclude(product_id__in=short_ids)
        .values_list("pk", flat=True)
    )
    ops_exceptions_resolve(ids=stale, now=now, reason="the ERP reset covers what is held")
    return len(short)


def _watched_exceptions(*, scan: Scan, now: dt.datetime) -> None:
    """A SKU the ERP holds stock of, that a channel sells, but that is no IMS product: it
    cannot be applied, so it is raised (Channel_Only_SKU on each channel listing it), with
    the exposure reconcile gives it (units shown × price), so either raiser's refresh agrees."""
    watched = sorted(scan.watched)
    listings = ChannelListing.objects.filter(
        product__isnull=True, identifier__in=watched
    ).values_list("identifier", "channel_id", "quantity", "price", "currency")
    ops_exceptions_record(
        findings=[
            Finding(
                identifier,
                Discrepancy.CHANNEL_ONLY_SKU,
                "null",
                "present",
                channel_id=ch,
                exposure=max(quantity, 0) * (price or 0),
                currency=currency,
            )
            for identifier, ch, quantity, price, currency in listings
        ],
        source=ExceptionSource.ERP,
        now=now,
    )
    gone = (
        OpsException.objects.open()
        .filter(
            source=ExceptionSource.ERP,
            discrepancy=Discrepancy.CHANNEL_ONLY_SKU,
        )
        .exclude(sku_id__in=watched)
    )
    ops_exceptions_resolve(
        ids=list(gone.values_list("pk", flat=True)),
        now=now,
        reason="no longer in the ERP's stock file",
    )
