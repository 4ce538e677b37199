#!/usr/bin/env python
"""IMS benchmarks: each prints a table with its reference measured in the same run.

    make bench                                   # every benchmark, on SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x make bench BENCH_ARGS="reconcile --skus 100000"

The benchmark database is created afresh (`<name>_bench` on PostgreSQL, a file
under var/ on SQLite) and dropped afterwards; the database named in
DATABASE_URL is never touched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        name = (parts.path.lstrip("/") or "ims") + "_bench"
        return urlunsplit(parts._replace(path="/" + name))
    (ROOT / "var").mkdir(exist_ok=True)
    return f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"


def recreate_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(urlsplit(url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        recreate_database(url)  # removes the file
        Path(urlsplit(url).path).unlink(missing_ok=True)
        return
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')


def timed(func, repeat: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    import benchmarks

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(benchmarks.ALL)}"
    )
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument(
        "--exceptions", type=int, default=1_000_000, help="exceptions for the triage benchmark"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the benchmark database afterwards"
    )
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ims.settings")
    import django

    django.setup()
    from django.db import connection

    names = args.names or list(benchmarks.ALL)
    try:
        for number, name in enumerate(names):
            if number:  # each benchmark starts from an empty database of its own
                connection.close()
                recreate_database(url)
            # Migrated by a process of its own: migrate leaves its migration states in memory,
            # which every later garbage collection walks, a cost no IMS process pays (it was a
            # fifth of the SLA sweep's time).
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                cwd=ROOT,
                env=os.environ,
                check=True,
            )
            print(f"\n[{name}] database: {connection.vendor} ({connection.settings_dict['NAME']})")
            benchmarks.ALL[name](args, table=table, timed=timed)
    finally:
        connection.close()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
