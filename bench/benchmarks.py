"""The benchmarks `bench/run.py` knows. Each takes (args, table=, timed=) and prints its table."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
from decimal import Decimal
from pathlib import Path

LOCATIONS = ("WH", "NYC", "SF")
CHANNELS = (
    ("amazon", ("WH",), 2),
    ("pos", ("NYC", "SF"), 0),
    ("shopify", ("WH", "NYC"), 0),
    ("woo", ("WH",), 0),
)
# The quantity policies switched on (PRODUCT.md "Channel assortment and quantity policy"):
# Amazon sees 80 % of the stock capped at 50, the POS channel stops selling at 2, Shopify holds
# back 10 %; WooCommerce's assortment withholds WITHHELD of the products and caps CAPPED of
# them at 5 units. Shopify and WooCommerce show an MRP (1 % of them another one).
POLICIES = {
    "amazon": {"share_pct": Decimal(80), "max_units": 50},
    "pos": {"zero_at": 2},
    "shopify": {"buffer_pct": Decimal(10)},
    "woo": {},
}
SHOWS_MRP = {"shopify", "woo"}
WITHHELD = 0.03
CAPPED = 0.02


def _insert(table: str, columns: tuple[str, ...], rows) -> None:
    """Bulk-load rows: COPY on PostgreSQL, executemany on SQLite."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            batch = []
            for row in rows:
                batch.append(tuple(str(v) if isinstance(v, Decimal) else v for v in row))
                if len(batch) == 10_000:
                    cursor.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch
                    )
                    batch = []
            if batch:
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch
                )


PRODUCT_COLUMNS = (
    "sku",
    "name",
    "barcode",
    "gtin",
    "category_id",
    "uom",
    "cost",
    "mrp",
    "price",
    "currency",
    "status",
    "attributes",
    "created_at",
    "updated_at",
)


def insert_products(count: int, *, category_id: int, now, name, price) -> list[int]:
    """`count` active products SKU-0000000…, named and priced by index (cost half, MRP the price);
    their ids in index order."""
    from catalog.models import Product

    _insert(
        Product._meta.db_table,
        PRODUCT_COLUMNS,
        (
            (
                f"SKU-{i:07d}",
                name(i),
                "",
                "",
                category_id,
                "EA",
                price(i) / 2,
                price(i),
                price(i),
                "USD",
                "active",
                "{}",
                now,
                now,
            )
            for i in range(count)
        ),
    )
    ids = dict(Product.objects.values_list("sku", "id"))
    return [ids[f"SKU-{i:07d}"] for i in range(count)]


def build_world(skus: int, *, seed: int = 7) -> dict[str, int]:
    """`skus` products at 3 locations, 4 channels listing them with about 5 % disagreements."""
    from django.db import connection, transaction

    from catalog.models import Category, Price
    from channels.models import Channel, ChannelAssortment, ChannelListing, ChannelLocation
    from inventory.models import Location, StockLevel

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    counts = {"mismatches": 0}
    with transaction.atomic():
        category = Category.objects.create(name="general")
        locations = {
            code: Location.objects.create(code=code, name=code, kind="store").id
            for code in LOCATIONS
        }
        channels = []
        for code, locs, buffer in CHANNELS:
            channel = Channel.objects.create(
                code=code,
                name=code,
                kind="file",
                currency="USD",
                buffer_units=buffer,
                **POLICIES[code],
            )
            for position, loc in enumerate(locs):
                ChannelLocation.objects.create(
                    channel=channel, location_id=locations[loc], position=position
                )
            channels.append((channel, [locations[loc] for loc in locs]))

        prices = [Decimal(rng.randint(500, 20000)) / 100 for _ in range(skus)]
        product_ids = insert_products(
            skus,
            category_id=category.id,
            now=now,
            name=lambda i: f"Product {i}",
            price=prices.__getitem__,
        )
        _insert(
            Price._meta.db_table,
            (
                "product_id",
                "amount",
                "currency",
                "effective_from",
                "source",
                "status",
                "rule",
                "reason",
                "created_at",
            ),
            (
                (product_ids[i], prices[i], "USD", now, "catalog", "accepted", "", "", now)
                for i in range(skus)
            ),
        )
        stock = [[rng.choice((0, 2, 5, 10, 40)) for _ in LOCATIONS] for _ in range(skus)]
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
            (
                (product_ids[i], locations[loc], stock[i][j], 0, 0, 0, 0, 0, now)
                for i in range(skus)
                for j, loc in enumerate(LOCATIONS)
            ),
        )

        # WooCommerce's assortment: some products withheld, some capped at 5 units.
        woo = next(channel for channel, _ in channels if channel.code == "woo")
        assortment = {}
        for i in range(skus):
            roll = rng.random()
            if roll < WITHHELD:
                assortment[i] = (False, None)
            elif roll < WITHHELD + CAPPED:
                assortment[i] = (True, 5)
        ChannelAssortment.objects.bulk_create(
            ChannelAssortment(
                channel=woo, product_id=product_ids[i], publish=publish, max_units=cap
            )
            for i, (publish, cap) in assortment.items()
        )

        def listings():
            loc_index = {locations[code]: j for j, code in enumerate(LOCATIONS)}
            for channel, loc_ids in channels:
                rules = assortment if channel.code == "woo" else {}
                for i in range(skus):
                    roll = rng.random()
                    offered, cap = rules.get(i, (True, None))
                    if roll < 0.01 and offered:
                        counts["mismatches"] += 1
                        continue  # missing
                    available = sum(stock[i][loc_index[loc]] for loc in loc_ids)
                    atp = channel.atp(available, max_units=cap) if offered else 0
                    quantity, price = atp, prices[i]
                    mrp = prices[i] if channel.code in SHOWS_MRP else None
                    if roll < 0.03:
                        quantity += 3
                        counts["mismatches"] += 1
                    elif roll < 0.05 and offered:
                        price += Decimal("1.00")
                        counts["mismatches"] += 1
                    elif roll < 0.06 and mrp is not None and offered:
                        mrp += Decimal("5.00")
                        counts["mismatches"] += 1
                    yield (
                        channel.id,
                        f"SKU-{i:07d}",
                        product_ids[i],
                        f"SKU-{i:07d}",
                        "",
                        "",
                        quantity,
                        price,
                        mrp,
                        "USD",
                        now,
                        "{}",
                    )
                for k in range(50):
                    counts["mismatches"] += 1
                    yield (
                        channel.id,
                        f"ONLY-{k}",
                        None,
                        f"ONLY-{k}",
                        "",
                        "",
                        1,
                        Decimal("9.99"),
                        None,
                        "USD",
                        now,
                        "{}",
                    )

        _insert(
            ChannelListing._meta.db_table,
            (
                "channel_id",
                "identifier",
                "product_id",
                "sku",
                "external_id",
                "barcode",
                "quantity",
                "price",
                "mrp",
                "currency",
                "seen_at",
                "ref",
            ),
            listings(),
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return counts


def reference_join() -> int:
    """The bare SQL join of the same tables: one row per (product, channel) with the stock at the
    channel's locations and what the channel shows, fetched to the client."""
    from django.db import connection

    from catalog.models import Product
    from channels.models import Channel, ChannelListing, ChannelLocation
    from inventory.models import StockLevel

    sql = f"""
        SELECT p.sku, p.price, c.id, l.quantity, l.price, l.mrp, l.currency, SUM(s.available)
        FROM {Product._meta.db_table} p
        CROSS JOIN {Channel._meta.db_table} c
        JOIN {ChannelLocation._meta.db_table} cl ON cl.channel_id = c.id
        LEFT JOIN {StockLevel._meta.db_table} s ON s.product_id = p.id AND s.location_id = cl.location_id
        LEFT JOIN {ChannelListing._meta.db_table} l ON l.product_id = p.id AND l.channel_id = c.id
        GROUP BY p.sku, p.price, c.id, l.quantity, l.price, l.mrp, l.currency
    """
    rows = 0
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while batch := cursor.fetchmany(5000):
            rows += len(batch)
    return rows


def _before_any_reconcile() -> None:
    """Back to the state before the first reconcile: no exceptions, runs, audit events, tasks
    or notifications (what a first run writes), the tables vacuumed, so a first run can be timed
    again."""
    from django.db import connection

    from exceptions.models import OpsException, ReconcileRun
    from ims.models import AuditEvent, Notification, OpsTask

    tables = [m._meta.db_table for m in (OpsTask, Notification, OpsException, ReconcileRun)]
    tables.append(AuditEvent._meta.db_table)  # the trail refuses deletes through the ORM
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


def reconcile_bench(args, *, table, timed) -> None:
    from django.test import override_settings

    from exceptions.models import OpsException
    from reconcile.reconcile import reconcile

    seconds, counts = timed(lambda: build_world(args.skus))
    print(
        f"built {args.skus:,} SKUs × {len(CHANNELS)} channels in {seconds:.1f} s "
        f"({counts['mismatches']:,} disagreements baked in); policies on: amazon 80 % capped "
        f"at 50 (buffer 2), pos zero at 2, shopify buffer 10 %, woo withholds "
        f"{WITHHELD:.0%} and caps {CAPPED:.0%} at 5; shopify and woo show an MRP"
    )
    out = Path(tempfile.mkdtemp(prefix="ims-bench-"))
    # DEBUG off, as production runs reconcile: the development default logs every statement
    # with its values rendered in (psycopg's mogrify of each bulk insert), no part of IMS's work.
    with override_settings(DEBUG=False):
        ref_time, ref_rows = timed(reference_join, repeat=3)
        first_times = []
        for _ in range(3):
            _before_any_reconcile()
            first_times.append(timed(lambda: reconcile(out_dir=out))[0])
        first_time = statistics.median(first_times)
        exceptions = OpsException.objects.count()
        steady_time, _ = timed(lambda: reconcile(out_dir=out), repeat=3)
    table(
        f"reconcile with reports, {args.skus:,} SKUs × {len(CHANNELS)} channels (target: within 3× of the join)",
        [
            (
                "reference: bare SQL join (median of 3)",
                f"{ref_time:.2f}",
                f"{ref_rows:,} rows",
                "1.00×",
            ),
            (
                "reconcile, first run (creates exceptions; median of 3)",
                f"{first_time:.2f}",
                f"{exceptions:,} exceptions",
                f"{first_time / ref_time:.2f}×",
            ),
            (
                "reconcile, next runs (median of 3)",
                f"{steady_time:.2f}",
                "refreshed",
                f"{steady_time / ref_time:.2f}×",
            ),
        ],
        ("what", "seconds", "work", "vs reference"),
    )


def _triage(args, **kwargs):
    from bench_triage import triage_bench

    triage_bench(args, **kwargs)


def _orders(args, **kwargs):
    from bench_orders import orders_bench

    orders_bench(args, **kwargs)


def _sync(args, **kwargs):
    from bench_sync import sync_bench

    sync_bench(args, **kwargs)


def _sla(args, **kwargs):
    from bench_sla import sla_bench

    sla_bench(args, **kwargs)


def _erp(args, **kwargs):
    from bench_erp import erp_bench

    erp_bench(args, **kwargs)


ALL = {
    "reconcile": reconcile_bench,
    "triage": _triage,
    "orders": _orders,
    "sync": _sync,
    "sla": _sla,
    "erp": _erp,
}
