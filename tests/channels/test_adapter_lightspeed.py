"""Lightspeed X-Series against a fake: version pagination, per-product updates, rate-limit resets."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import PriceUpdate, StockUpdate
from channels.adapters.lightspeed import LightspeedAdapter


class FakeLightspeed:
    def __init__(self, n):
        self.products = [
            {"id": f"p{i}", "sku": f"LS-{i:03d}", "price_excluding_tax": 10.5, "version": 100 + i}
            for i in range(n)
        ]
        self.inventory = [
            {"product_id": f"p{i}", "outlet_id": "o1", "inventory_level": i, "version": 500 + i}
            for i in range(n)
        ]
        self.inventory.append(
            {"product_id": "p0", "outlet_id": "o2", "inventory_level": 99, "version": 999}
        )
        self.faults = []
        self.puts = []

    def handle(self, request):
        if self.faults:
            return httpx.Response(self.faults.pop(0), headers={"X-RateLimit-Reset": "2"})
        if request.method == "GET":
            rows = self.products if request.url.path == "/api/2.0/products" else self.inventory
            after, size = int(request.url.params["after"]), 40
            page = [r for r in rows if r["version"] > after][:size]
            return httpx.Response(
                200,
                json={
                    "data": page,
                    "version": {"min": page[0]["version"], "max": page[-1]["version"]}
                    if page
                    else None,
                },
            )
        self.puts.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"data": {}})


@pytest.fixture
def fake():
    return FakeLightspeed(90)


@pytest.fixture
def adapter(fake, config, clock):
    return LightspeedAdapter(
        config(
            "lightspeed",
            base_url="https://shop.retail.lightspeed.app",
            access_token="tok",
            outlet_id="o1",
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
    )


def test_reads_by_version_with_the_outlets_count(adapter):
    states = list(adapter.fetch_snapshot())
    assert len(states) == 90
    assert (states[0].quantity, states[5].quantity, states[5].price) == (0, 5, Decimal("10.5"))


def test_updates_each_product_and_waits_a_rate_limit_reset(fake, adapter, clock):
    fake.faults = [429]
    states = list(adapter.fetch_snapshot(skus=["LS-001"]))
    assert clock.sleeps == [2.0]
    adapter.push_inventory([StockUpdate("LS-001", 4, ref=states[0].ref)])
    adapter.push_prices([PriceUpdate("LS-001", Decimal("11.25"), "USD", ref=states[0].ref)])
    assert fake.puts == [
        (
            "/api/2.1/products/p1",
            {"details": {"inventory": [{"outlet_id": "o1", "current_amount": 4}]}},
        ),
        ("/api/2.1/products/p1", {"details": {"price_excluding_tax": 11.25}}),
    ]


@pytest.mark.parametrize(("registers", "allowed"), [("", 350), ("3", 950)])
def test_the_limiter_keeps_to_lightspeeds_300_a_register_plus_50_per_5_minutes(
    fake, config, clock, registers, allowed
):
    from ims.http import parse_rate

    adapter = LightspeedAdapter(
        config(
            "lightspeed",
            base_url="https://shop.retail.lightspeed.app",
            access_token="tok",
            outlet_id="o1",
            registers=registers,
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
    )
    limit = parse_rate(adapter.rates["default"])
    assert (limit.amount, limit.get_expiry()) == (allowed, 300)


def test_a_register_count_that_is_no_number_names_the_setting(fake, config, clock):
    from channels.errors import ChannelNotConfigured

    with pytest.raises(ChannelNotConfigured, match="IMS_CHANNEL_SHOP_REGISTERS"):
        LightspeedAdapter(
            config("lightspeed", access_token="tok", outlet_id="o1", registers="two"),
            transport=httpx.MockTransport(fake.handle),
            sleep=clock.sleep,
        )
