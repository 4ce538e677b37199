"""Orders reserved per second through the real webhook endpoint, served as in production
(granian, PostgreSQL), beside a bare SELECT … FOR UPDATE reservation loop in the same run.

16 clients on loopback post signed Shopify orders/create deliveries (1–2 lines over a set
of hot SKUs) until IMS_BENCH_ORDERS are sent or IMS_BENCH_SECONDS pass. Afterwards the
ledger must agree with the levels and no order line may hold more than was there.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16
ORDERS = int(os.environ.get("IMS_BENCH_ORDERS", "4000"))
# Sent first, not measured: every worker thread opens its database connection and prepares
# its statements (each order shape once per connection) before the clock starts.
WARMUP = 400
SECONDS = float(os.environ.get("IMS_BENCH_SECONDS", "60"))
SKUS = 40
SECRET = "bench-webhook-secret"


def _world() -> list[str]:
    from catalog.models import Category, Product
    from channels.models import Channel, ChannelLocation
    from inventory.models import Location
    from inventory.services.stock import StockMove, stock_move

    category = Category.objects.get_or_create(name="bench-orders")[0]
    location = Location.objects.create(code="BENCH-WH", name="Bench warehouse", kind="warehouse")
    # The bare loop's own rows of the same table (no channel sells from it).
    reference = Location.objects.create(code="BENCH-REF", name="Bench reference", kind="warehouse")
    channel = Channel.objects.create(
        code="bench-shop", name="Bench shop", kind="shopify", sync_mode="push", currency="USD"
    )
    ChannelLocation.objects.create(channel=channel, location=location, position=0)
    products = Product.objects.bulk_create(
        Product(
            sku=f"ORD-{i:04d}",
            name=f"Bench item {i}",
            category=category,
            cost=Decimal("5.00"),
            mrp=Decimal("20.00"),
            price=Decimal("15.00"),
            currency="USD",
        )
        for i in range(SKUS)
    )
    # Enough for every order IMS takes, and for the bare loop's: no backorders.
    stock_move(
        moves=[
            StockMove(p.pk, place.pk, "", "available", ORDERS * 4)
            for p in products
            for place in (location, reference)
        ],
        reason="receipt",
        ref="bench:stock",
    )
    return [p.sku for p in products]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    """IMS as production serves it: `python -m ims.serve` (granian: workers, threads,
    persistent database connections), bound to loopback only."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        # DEBUG off needs a secret key of its own (ims/settings.py); any will do here.
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # Follow-up work (the debounced ATP push, customer messages) goes to qcluster workers,
        # as in production; the in-process queue would run a channel sync inside each request.
        "IMS_QUEUE": "orm",
        "IMS_LOG_LEVEL": "ERROR",
        "IMS_WEB_BIND": f"127.0.0.1:{port}",
        "IMS_CHANNEL_BENCH_SHOP_WEBHOOK_SECRET": SECRET,
    }
    server = subprocess.Popen([sys.executable, "-m", "ims.serve"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120  # its first start collects the static files
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start")


def _deliveries(skus: list[str]) -> list[tuple[bytes, dict]]:
    sys.path.insert(0, str(ROOT))
    from tests.orders.payloads import dumps, shopify_headers, shopify_order

    rng = random.Random(11)
    out = []
    for n in range(ORDERS):
        lines = [(sku, rng.randint(1, 2)) for sku in rng.sample(skus, rng.choice((1, 1, 2)))]
        body = dumps(shopify_order(900_000 + n, lines))
        out.append(
            (
                body,
                {
                    **shopify_headers(body, "orders/create", secret=SECRET),
                    "Content-Type": "application/json",
                },
            )
        )
    return out


def _fire(port: int, deliveries) -> tuple[float, list[float], int]:
    """16 clients, each on its own keep-alive connection, until done or out of time.

    The clients are the standard library's http.client: the load generator shares the two
    cores with the server and PostgreSQL, so it should cost as little as it can (httpx cost
    ~1.9 ms of CPU per request here, a third of what IMS itself needs)."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    queue = iter(deliveries)
    stop_at = time.monotonic() + SECONDS

    def client():
        http = HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while time.monotonic() < stop_at:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                start = time.perf_counter()
                http.request("POST", "/webhooks/bench-shop/", body=item[0], headers=item[1])
                response = http.getresponse()
                answer = response.read()
                took = time.perf_counter() - start
                ok = response.status == 200 and json.loads(answer).get("processed")
                with lock:
                    latencies.append(took)
                    failures[0] += not ok
        finally:
            http.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, failures[0]


def _bare_loop(count: int, level_ids: list[int]) -> tuple[float, list[float]]:
    """The reference: 16 connections each reserving one unit per transaction with a bare
    SELECT … FOR UPDATE and UPDATE on level rows of the same table (BENCH-REF's: as many,
    as hot), no ORM, no HTTP."""
    import psycopg
    from django.db import connection

    from inventory.models import StockLevel

    table = StockLevel._meta.db_table
    params = connection.get_connection_params()
    rng = random.Random(12)
    picks = [rng.choice(level_ids) for _ in range(count)]
    latencies: list[float] = []
    lock = threading.Lock()
    queue = iter(picks)
    stop_at = time.monotonic() + SECONDS

    def worker():
        with psycopg.connect(
            **{
                k: v
                for k, v in params.items()
                if k in ("dbname", "user", "host", "port", "password")
            }
        ) as conn:
            while time.monotonic() < stop_at:
                with lock:
                    level_id = next(queue, None)
                if level_id is None:
                    return
                start = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(
                        f"SELECT available FROM {table} WHERE id = %s FOR UPDATE", (level_id,)
                    )
                    (available,) = cur.fetchone()
                    if available >= 1:
                        cur.execute(
                            f"UPDATE {table} SET available = available - 1, reserved = reserved + 1 WHERE id = %s",
                            (level_id,),
                        )
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies


def _analyze() -> None:
    """Planner statistics for the tables the run fills, as a production database has them
    (autovacuum would take a minute to notice tables that were empty a moment ago, and until
    then PostgreSQL may look an order up by the wrong index)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connection.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def orders_bench(args, *, table, timed) -> None:
    from django.db import connection
    from django.db.models import Sum

    if connection.vendor != "postgresql":
        print("\norders: needs PostgreSQL (row locks and a production server); set DATABASE_URL")
        return
    from inventory.models import StockLevel
    from inventory.services.ledger import ledger_drift
    from orders.models import ChannelOrder, OrderLine

    if ORDERS < WARMUP + 100:
        print(
            f"\norders: IMS_BENCH_ORDERS={ORDERS} leaves too few after the {WARMUP}-order warm-up"
        )
        return
    skus = _world()
    deliveries = _deliveries(skus)
    level_ids = list(
        StockLevel.objects.filter(location__code="BENCH-REF").values_list("pk", flat=True)
    )
    # The reference runs half before and half after IMS, so the machine's speed drifting
    # during the run (seen here by a third within minutes) weighs on both alike.
    half = (len(deliveries) - WARMUP) // 2
    before = _bare_loop(half, level_ids)
    port = _free_port()
    connection.close()
    server = _serve(port)
    try:
        _fire(port, deliveries[:WARMUP])
        _analyze()
        seconds, latencies, failures = _fire(port, deliveries[WARMUP:])
    finally:
        server.terminate()
        server.wait(timeout=30)
    orders = len(latencies)
    levels = StockLevel.objects.filter(location__code="BENCH-WH")
    reserved_levels = levels.aggregate(n=Sum("reserved"))["n"] or 0
    reserved_lines = (
        OrderLine.objects.filter(order__channel__code="bench-shop").aggregate(n=Sum("reserved"))[
            "n"
        ]
        or 0
    )
    oversold = (
        levels.filter(available__lt=0).count() + OrderLine.objects.filter(backordered__gt=0).count()
    )
    # The bare loop changes its levels without movements, on purpose.
    drift = len([d for d in ledger_drift() if d.location != "BENCH-REF"])
    received = ChannelOrder.objects.filter(channel__code="bench-shop").count()
    assert reserved_levels == reserved_lines, (reserved_levels, reserved_lines)

    after = _bare_loop(orders - half, level_ids)
    ref_seconds, ref_latencies = before[0] + after[0], before[1] + after[1]
    ims_rate, ref_rate = orders / seconds, len(ref_latencies) / ref_seconds
    table(
        f"orders reserved through POST /webhooks/<code>/ (granian, {CLIENTS} clients on loopback; "
        "target ≥ 8 % of the bare loop, p99 < 100 ms, zero oversell)",
        [
            (
                "reference: bare SELECT … FOR UPDATE loop",
                f"{len(ref_latencies):,}",
                f"{ref_rate:,.0f}",
                f"{_pct(ref_latencies, 0.5):.1f}",
                f"{_pct(ref_latencies, 0.99):.1f}",
                "100 %",
            ),
            (
                "IMS webhook → verify → inbox → reserve",
                f"{orders:,}",
                f"{ims_rate:,.0f}",
                f"{statistics.median(latencies) * 1000:.1f}",
                f"{_pct(latencies, 0.99):.1f}",
                f"{ims_rate / ref_rate * 100:.1f} %",
            ),
        ],
        ("what", "orders", "per second", "p50 ms", "p99 ms", "of reference"),
    )
    print(
        f"reference before IMS {len(before[1]) / before[0]:,.0f}/s, after "
        f"{len(after[1]) / after[0]:,.0f}/s; "
        f"{received:,} orders stored (incl. {WARMUP} warm-up), {failures} failed requests, "
        f"{reserved_lines:,} units reserved = {reserved_levels:,} held in levels, "
        f"oversold lines/negative levels: {oversold}, ledger drift: {drift}"
    )
