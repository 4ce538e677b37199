"""The morning ERP reset at Retail Pro's size, beside a polars scan of the same file.

Generates a reset file of 8,000,000 rows (200,000 ERP SKUs × 40 stores, ~300 MB) under var/,
of which 20,000 SKUs are IMS's published (active) products, with IMS holding stock for each
of them at every store (some reserved, some shipped and not yet handed to the ERP, some
counts off). Then, each in its own subprocess so its peak RSS is its own:
- reference: polars scans the file, keeps the published SKUs and sums per (SKU, location);
- IMS: `manage.py erp_reset FILE --as-of …` (stream, filter, validate, variance, apply in
  one transaction, variance file).
Prints wall time and peak RSS of both. Targets: within 3× of the reference's time, peak RSS
under 200 MB. The file is deleted afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
ERP_SKUS = int(os.environ.get("IMS_BENCH_ERP_SKUS", "200000"))
STORES = 40
PUBLISHED_EVERY = 10  # every 10th ERP SKU is an IMS product: 20,000 of 200,000


def _sku(i: int) -> str:
    return f"RETAILPRO-ITEM-{i:08d}"


def _count(i: int, store: int) -> int:
    """The ERP's count of SKU i at a store (deterministic, so IMS's state can be built to match)."""
    return (i * 7 + store * 13) % 250


def _world(now: dt.datetime) -> dict[str, int]:
    from benchmarks import PRODUCT_COLUMNS, _insert
    from django.db import connection, transaction

    from catalog.models import Category, Product
    from inventory.models import Location, LocationAlias, Movement, StockLevel

    rng = random.Random(11)
    facts = {"variance_pairs": 0, "off_pairs": 0, "reserved_pairs": 0}
    with transaction.atomic():
        category = Category.objects.create(name="bench-erp")
        stores = []
        for s in range(STORES):
            location = Location.objects.create(code=f"S{s:03d}", name=f"Store {s}", kind="store")
            LocationAlias.objects.create(location=location, scope="erp", code=f"RP-STORE-{s:03d}")
            stores.append(location.pk)
        published = range(0, ERP_SKUS, PUBLISHED_EVERY)
        _insert(
            Product._meta.db_table,
            PRODUCT_COLUMNS,
            (
                (
                    _sku(i),
                    f"Item {i}",
                    "",
                    "",
                    category.pk,
                    "EA",
                    "5.00",
                    "20.00",
                    "15.00",
                    "USD",
                    # a few IMS products were deactivated: their rows are skipped
                    "inactive" if i % 1000 == 5 * PUBLISHED_EVERY else "active",
                    "{}",
                    now,
                    now,
                )
                for i in published
            ),
        )
        ids = dict(Product.objects.values_list("sku", "pk"))
        levels, movements = [], []
        handed = now - dt.timedelta(days=2)
        for i in published:
            product_id = ids[_sku(i)]
            for s, location_id in enumerate(stores):
                count = _count(i, s)
                reserved = shipped = 0
                roll = rng.random()
                if roll < 0.01 and count >= 2:  # shipped yesterday, not yet handed over
                    shipped = rng.randint(1, 2)
                    facts["variance_pairs"] += 1
                    movements.append(
                        (product_id, location_id, "reserved", "", shipped, "dispatch", None)
                    )
                elif roll < 0.02:  # IMS's count is off: the reset corrects it
                    count += rng.randint(1, 5)
                    facts["off_pairs"] += 1
                elif roll < 0.03 and count >= 3:  # held for an open order
                    reserved = rng.randint(1, 3)
                    facts["reserved_pairs"] += 1
                available = count - shipped - reserved
                levels.append((product_id, location_id, available, reserved, 0, 0, 0, 0, now))
                # the ledger's history, long handed over
                if count:
                    movements.append(
                        (product_id, location_id, "", "available", count, "receipt", handed)
                    )
        _insert(
            StockLevel._meta.db_table,
            (
                "product_id",
                "location_id",
                "available",
                "reserved",
                "in_transit",
                "damaged",
                "returned",
                "quarantined",
                "updated_at",
            ),
            levels,
        )
        _insert(
            Movement._meta.db_table,
            (
                "product_id",
                "location_id",
                "from_state",
                "to_state",
                "quantity",
                "reason",
                "ref",
                "note",
                "created_at",
                "handed_to_erp_at",
            ),
            (
                (p, loc, f, t, q, reason, "bench", "", now - dt.timedelta(days=1), at)
                for p, loc, f, t, q, reason, at in movements
            ),
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as a live database is: vacuumed, statistics known
            cursor.execute("VACUUM ANALYZE")
    facts["products"] = len(published)
    facts["levels"] = len(levels)
    return facts


def _write_file(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    stores = [f"RP-STORE-{s:03d}" for s in range(STORES)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("sku_id,location,quantity\n")
        for start in range(0, ERP_SKUS, 5000):
            handle.write(
                "".join(
                    f"{_sku(i)},{store},{_count(i, s)}\n"
                    for i in range(start, min(start + 5000, ERP_SKUS))
                    for s, store in enumerate(stores)
                )
            )
    return path.stat().st_size


REFERENCE = textwrap.dedent(
    """
    import sys
    import polars as pl

    published = [line.strip() for line in open(sys.argv[2], encoding="utf-8") if line.strip()]
    frame = (
        pl.scan_csv(sys.argv[1], schema_overrides={"quantity": pl.Int64})
        .filter(pl.col("sku_id").is_in(published))
        .group_by("sku_id", "location")
        .agg(pl.col("quantity").sum())
        .collect(engine="streaming")
    )
    print(frame.height)
    """
)


# Runs a script and prints its own peak RSS at exit (VmHWM: the high-water mark of this
# program's memory; getrusage would also count the benchmark's memory at fork time).
MEASURED = textwrap.dedent(
    """
    import atexit, runpy, sys

    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                sys.stdout.write(f"peak-rss-kb: {line.split()[1]}\\n")
                sys.stdout.flush()

    atexit.register(peak)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def _run(script: Path, args: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a script in a fresh interpreter; return (wall seconds, its peak RSS in MB, output)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{script.name} {' '.join(args[:1])} failed:\n{done.stdout}")
    lines = done.stdout.splitlines()
    peak = next(int(line.split()[1]) for line in lines if line.startswith("peak-rss-kb:"))
    output = "\n".join(line for line in lines if not line.startswith("peak-rss-kb:"))
    return seconds, peak / 1024, output


def erp_bench(args, *, table, timed) -> None:
    now = dt.datetime.now(dt.UTC)
    seconds, facts = timed(lambda: _world(now))
    print(
        f"built {facts['products']:,} IMS products × {STORES} stores ({facts['levels']:,} levels; "
        f"{facts['variance_pairs']:,} with unhanded shipments, {facts['off_pairs']:,} off, "
        f"{facts['reserved_pairs']:,} reserved) in {seconds:.1f} s"
    )
    path = VAR / "bench-erp-reset.csv"
    published = VAR / "bench-erp-published.txt"
    variance = VAR / "bench-erp-variance.csv"
    reference = VAR / "bench-erp-reference.py"
    try:
        seconds, size = timed(lambda: _write_file(path))
        published.write_text(
            "".join(f"{_sku(i)}\n" for i in range(0, ERP_SKUS, PUBLISHED_EVERY)), encoding="utf-8"
        )
        print(
            f"wrote {path.relative_to(ROOT)}: {ERP_SKUS * STORES:,} rows, {size / 1e6:,.0f} MB "
            f"in {seconds:.1f} s"
        )
        reference.write_text(REFERENCE, encoding="utf-8")
        ref_time, ref_rss, ref_out = _run(reference, [str(path), str(published)])
        as_of = (now + dt.timedelta(seconds=1)).isoformat()
        time.sleep(1.5)  # as_of is a moment that has passed
        ims_time, ims_rss, ims_out = _run(
            ROOT / "manage.py",
            ["erp_reset", str(path), "--as-of", as_of, "--variance-out", str(variance), "-v", "2"],
            env={**os.environ, "IMS_LOG_LEVEL": "ERROR"},
        )
    finally:
        for leftover in (path, published, variance, reference):
            leftover.unlink(missing_ok=True)
    print(textwrap.indent(ims_out.strip(), "  erp_reset | "))
    table(
        f"ERP reset of a {size / 1e6:,.0f} MB file ({ERP_SKUS * STORES:,} rows, {STORES} stores, "
        f"{facts['products']:,} published SKUs among {ERP_SKUS:,}); "
        "targets: within 3× of the reference, peak RSS < 200 MB",
        [
            (
                "reference: polars scan, filter, sum per (SKU, location)",
                f"{ref_time:.2f}",
                f"{ref_rss:,.0f}",
                f"{int(ref_out.strip().splitlines()[-1]):,} pairs",
                "1.00×",
            ),
            (
                "IMS: manage.py erp_reset (stream, validate, variance, apply, variance file)",
                f"{ims_time:.2f}",
                f"{ims_rss:,.0f}",
                "applied",
                f"{ims_time / ref_time:.2f}×",
            ),
        ],
        ("what", "wall s", "peak RSS MB", "result", "vs reference"),
    )
