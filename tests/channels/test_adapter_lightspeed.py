"""Lightspeed X-Series against a fake: version pagination, per-product updates, rate-limit resets.

Lightspeed publishes no machine-readable spec, so the fake keeps to what its pages say: a
product is created with `POST /api/2.0/products`, `name` required, `sku` optional, answered
`{"data": ["<id>"]}` (docs/products_creating_composites, products_variants_creating_variants);
a body without a name, or with a field those pages do not name, is refused with a 400, a SKU
already used with a 422; a 2.1 update sets `details.price_excluding_tax` and the count at an
outlet (`details.inventory[].current_amount`); a new product is listed (with a higher
version) and counted like the others."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import ListingDraft, PriceUpdate, StockUpdate
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
        self.update_refusal = ""  # a message: every 2.1 update is refused with a 422
        self.version = 10_000

    def new_skus(self):
        return [p["sku"] for p in self.products if p["id"].startswith("new-")]

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
        if request.method == "POST" and request.url.path == "/api/2.0/products":
            return self.create(json.loads(request.content))
        product_id = request.url.path.rsplit("/", 1)[1]
        if request.method == "DELETE":
            assert request.url.path == f"/api/2.0/products/{product_id}"
            self.products = [p for p in self.products if p["id"] != product_id]
            self.inventory = [r for r in self.inventory if r["product_id"] != product_id]
            return httpx.Response(204)
        body = json.loads(request.content)
        self.puts.append((request.url.path, body))
        if self.update_refusal:
            return httpx.Response(422, json={"error": self.update_refusal})
        details = body.get("details", {})
        for product in self.products:
            if product["id"] == product_id and "price_excluding_tax" in details:
                product["price_excluding_tax"] = details["price_excluding_tax"]
        for count in details.get("inventory", []):
            self.version += 1
            self.inventory.append(
                {
                    "product_id": product_id,
                    "outlet_id": count["outlet_id"],
                    "inventory_level": count["current_amount"],
                    "version": self.version,
                }
            )
        return httpx.Response(200, json={"data": {}})

    def create(self, body):
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            return httpx.Response(400, json={"error": "name is required"})
        unknown = set(body) - {"name", "sku"}
        if unknown:
            return httpx.Response(400, json={"error": f"unknown fields {sorted(unknown)}"})
        if body.get("sku") in {p["sku"] for p in self.products}:
            return httpx.Response(422, json={"error": "SKU is already in use"})
        self.version += 1
        product_id = f"new-{self.version}"
        self.products.append(
            {
                "id": product_id,
                "name": body["name"],
                "sku": body.get("sku") or f"{self.version}",
                "price_excluding_tax": 0,
                "version": self.version,
            }
        )
        return httpx.Response(200, json={"data": [product_id]})


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


def draft(sku="NEW-001", **overrides):
    values = {
        "sku": sku,
        "name": f"Linen shirt {sku}",
        "barcode": "8901234567890",
        "gtin": "08901234567890",
        "price": Decimal("12.99"),
        "mrp": Decimal("15.00"),
        "currency": "USD",
        "quantity": 7,
        "key": f"shop:{sku}",
    }
    return ListingDraft(**{**values, **overrides})


def test_publishing_creates_the_product_and_the_next_snapshot_lists_it(fake, adapter):
    [result] = adapter.publish([draft()])
    assert result.ok and [(r["method"], r["path"]) for r in result.requests] == [
        ("POST", "/api/2.0/products"),
        ("PUT", f"/api/2.1/products/{result.external_id}"),
    ]
    [state] = adapter.fetch_snapshot(skus=["NEW-001"])
    assert (state.sku, state.price, state.quantity, state.mrp) == (
        "NEW-001",
        Decimal("12.99"),
        7,
        None,  # Lightspeed shows no MRP
    )
    assert state.external_id == result.external_id and state.ref == result.ref


def test_a_refused_product_returns_lightspeeds_message_and_creates_nothing(fake, adapter):
    [result] = adapter.publish([draft(sku="LS-001")])  # a SKU the store has
    assert not result.ok and "SKU is already in use" in result.error
    assert fake.new_skus() == []


def test_a_refused_price_and_count_deletes_the_product_it_created(fake, adapter):
    fake.update_refusal = "Outlet not found"
    [result] = adapter.publish([draft()])
    assert not result.ok and "Outlet not found" in result.error
    assert result.requests[-1]["method"] == "DELETE"
    assert fake.new_skus() == [] and list(adapter.fetch_snapshot(skus=["NEW-001"])) == []


def test_a_dry_run_sends_no_write_and_lists_what_it_would_send(fake, adapter):
    [result] = adapter.publish([draft()], dry_run=True)
    assert not result.ok and result.error == "" and fake.new_skus() == [] and fake.puts == []
    assert [r["body"] for r in result.requests] == [
        {"name": "Linen shirt NEW-001", "sku": "NEW-001"},
        {
            "details": {
                "price_excluding_tax": Decimal("12.99"),
                "inventory": [{"outlet_id": "o1", "current_amount": 7}],
            }
        },
    ]


def test_a_product_without_a_name_is_refused(fake, adapter):
    [result] = adapter.publish([draft(name="")])
    assert not result.ok and "name is required" in result.error and fake.new_skus() == []
