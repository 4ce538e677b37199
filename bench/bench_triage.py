"""Triage at scale: a million exceptions, the first page of a tab and filtered searches.

Server time is measured in-process through Django's test client (the whole view:
filters, the page query, template rendering), with the number of queries each
request makes; the reference is the bare SQL of the first page on the same table.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from decimal import Decimal

from benchmarks import _insert, insert_products

KINDS = ["Price_Mismatch", "Stock_Mismatch", "Missing_SKU", "Channel_Only_SKU", "Oversell_Risk"]


def build(exceptions: int, products: int, *, seed: int = 11) -> None:
    from django.db import connection, transaction

    from catalog.models import Category
    from channels.models import Channel
    from exceptions.models import OpsException

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    words = ["shirt", "mug", "lamp", "boot", "scarf", "kettle", "watch", "towel", "chair", "socks"]
    with transaction.atomic():
        category = Category.objects.create(name="general")
        channels = [
            Channel.objects.create(code=c, name=c, kind="file", currency="USD").id
            for c in ("amazon", "pos", "shopify", "woocommerce")
        ]
        product_ids = insert_products(
            products,
            category_id=category.id,
            now=now,
            name=lambda i: f"{words[i % 10]} {i}",
            price=lambda i: Decimal(15),
        )
        statuses = ["open"] * 8 + ["acknowledged", "resolved"]

        def rows():
            for i in range(exceptions):
                # Each (product, channel, kind) once, so no two open rows share a key.
                product, rest = i % products, i // products
                status = rng.choice(statuses)
                seen = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 90))
                yield (
                    f"SKU-{product:07d}",
                    product_ids[product],
                    channels[rest % 4],
                    KINDS[(rest // 4 + product) % len(KINDS)],
                    "10.00",
                    "9.00",
                    status,
                    "reconcile",
                    Decimal(rng.randint(0, 500_000)) / 100,
                    "USD",
                    False,
                    seen,
                    seen,
                    seen if status == "resolved" else None,
                    "",
                    "",
                    "",
                    "{}",
                )

        _insert(
            OpsException._meta.db_table,
            (
                "sku_id",
                "product_id",
                "channel_id",
                "discrepancy",
                "expected",
                "actual",
                "status",
                "source",
                "exposure",
                "currency",
                "oversell",
                "first_seen",
                "last_seen",
                "resolved_at",
                "push_status",
                "push_error",
                "acknowledge_reason",
                "detail",
            ),
            rows(),
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def measure(client, url: str, repeat: int = 7) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm
    times, queries, status = [], 0, 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - start)
        queries, status = len(captured), response.status_code
    return statistics.median(times) * 1000, queries, status


def triage_bench(args, *, table, timed) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client

    from exceptions.models import OpsException
    from ims.roles import Role

    size = args.exceptions
    seconds, _ = timed(lambda: build(size, min(100_000, size)))
    print(f"built {OpsException.objects.count():,} exceptions in {seconds:.1f} s")
    user = get_user_model().objects.create_user("bench-ops", password="x")
    user.groups.add(Group.objects.get(name=Role.OPS.value))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)

    table_name = OpsException._meta.db_table

    def bare_first_page():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT * FROM {table_name} WHERE status IN ('open', 'acknowledged') "
                "AND discrepancy = 'Price_Mismatch' ORDER BY exposure DESC, id LIMIT 51"
            )
            return cursor.fetchall()

    bare_ms = statistics.median(timed(bare_first_page)[0] for _ in range(7)) * 1000
    cases = [
        (
            "first page of a tab (Price mismatches, by exposure)",
            "/exceptions/?discrepancy=Price_Mismatch",
        ),
        ("first page by age", "/exceptions/?discrepancy=Stock_Mismatch&sort=age"),
        (
            "filtered: channel + exposure range",
            "/exceptions/?discrepancy=Price_Mismatch&channel=shopify"
            "&exposure_min=100&exposure_max=2000",
        ),
        ("filtered search: SKU prefix", "/exceptions/?discrepancy=Price_Mismatch&q=SKU-00123"),
        ("filtered search: product name", "/exceptions/?discrepancy=Missing_SKU&q=kettle 9"),
        (
            "tab counts (htmx fragment)",
            "/exceptions/counts/?discrepancy=Price_Mismatch&channel=shopify",
        ),
        ("API first page", "/api/exceptions/?discrepancy=Price_Mismatch&channel=amazon"),
    ]
    rows = [("reference: bare SQL first page (LIMIT 51)", f"{bare_ms:.1f}", "1", "")]
    for label, url in cases:
        ms, queries, status = measure(client, url)
        rows.append(
            (
                label,
                f"{ms:.1f}",
                str(queries),
                "ok" if status == 200 and ms < 200 else f"HTTP {status}",
            )
        )
    table(
        f"triage with {size:,} exceptions on {connection.vendor} (target: < 200 ms server time, constant queries)",
        rows,
        ("request", "ms (median of 7)", "queries", "< 200 ms"),
    )
