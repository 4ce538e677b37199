"""Push 10,000 SKUs to a fake Shopify (real HTTP on 127.0.0.1) throttled like the standard plan,
and print the rate achieved as a share of the rate Shopify allows (target: at least 90 %, no
failed call).

The fake's throttle is Shopify's leaky bucket for the GraphQL Admin API on the standard plan:
2,000 points, restored at 100 points a second; each inventorySetQuantities call of n items costs
10 + n points (see standins/shopify.py). The bucket starts full, so over a push of t seconds
Shopify allows 2,000 + 100 × t points: that is the reference, measured in the same run.
Bounded: one push of IMS_BENCH_SYNC_SKUS SKUs (default 10,000), which the throttle makes last
about (10,400 − 2,000) / 100 ≈ 84 s; the server stops when it ends.
"""

from __future__ import annotations

import os
import time


def sync_bench(args, *, table, timed) -> None:
    from channels.adapters.base import AdapterConfig, StockUpdate
    from channels.adapters.shopify import ShopifyAdapter
    from standins.shopify import STANDARD_PLAN, FakeShopify

    skus = int(os.environ.get("IMS_BENCH_SYNC_SKUS", "10000"))
    fake = FakeShopify(**STANDARD_PLAN)
    for i in range(skus):
        fake.add(f"BENCH-{i:05d}", 0, "10.00")
    updates = [
        StockUpdate(
            f"BENCH-{i:05d}",
            1 + i % 40,
            previous=0,
            ref={"inventory_item_id": fake.variant(f"BENCH-{i:05d}")["item"]},
            key=f"bench-{i}",
        )
        for i in range(skus)
    ]
    with fake.serve() as url:
        adapter = ShopifyAdapter(
            AdapterConfig(
                code="bench",
                kind="shopify",
                base_url=url,
                currency="USD",
                env_prefix="IMS_CHANNEL_BENCH_",
                environ={
                    "IMS_CHANNEL_BENCH_ACCESS_TOKEN": fake.token,
                    "IMS_CHANNEL_BENCH_LOCATION_ID": fake.location,
                },
            )
        )
        started = time.perf_counter()
        results = adapter.push_inventory(updates)
        elapsed = time.perf_counter() - started
        adapter.close()
    refused = sum(1 for r in results if not r.ok)
    applied = sum(1 for v in fake.variants.values() if v["available"] != 0)
    allowed = fake.maximum + fake.restore_rate * elapsed
    share = fake.points / allowed
    per_sku = fake.points / skus
    table(
        f"push {skus:,} SKUs to a fake Shopify, standard plan throttle "
        f"({fake.maximum:,.0f}-point bucket, {fake.restore_rate:.0f} points/s) (target: ≥ 90 % of the allowed rate, 0 failed calls)",
        [
            (
                "reference: what Shopify allows in that time",
                f"{elapsed:.1f}",
                f"{allowed:,.0f} points = {allowed / per_sku:,.0f} SKUs ({allowed / per_sku / elapsed:,.1f} SKUs/s)",
                "100.0 %",
            ),
            (
                "IMS push (inventorySetQuantities, 250 a call)",
                f"{elapsed:.1f}",
                f"{fake.points:,.0f} points = {skus:,} SKUs ({skus / elapsed:,.1f} SKUs/s); "
                f"{len(fake.requests)} calls, {adapter.client.failed_calls} failed, "
                f"{fake.throttled} throttled, {refused} refused, {applied:,} applied",
                f"{share * 100:.1f} %",
            ),
        ],
        ("what", "seconds", "work", "share of allowed"),
    )
