"""BigCommerce v3 against a fake: page pagination, absolute inventory, batch prices, 429 resets.

The fake keeps to BigCommerce's documents (../shared/specs/bigcommerce/): the variants list
takes only its documented filters (one `sku`, ignoring others, as the store does), an
absolute adjustment must validate against inventory.v3.yml's AdjustmentsAbsoluteRequest, and
a product without variants refuses an adjustment by variant id with the documented 422.
The variants list is asked only with the query parameters product-variants_catalog.v3.yml
documents and answers with bodies valid against its response schema; a price batch must
validate against its `PUT /catalog/variants` request body."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import PriceUpdate, StockUpdate
from channels.adapters.bigcommerce import BigCommerceAdapter
from tests.fakes.specs import (
    bigcommerce_inventory_spec,
    bigcommerce_variants_spec,
    openapi_body_validator,
    openapi_query_names,
    openapi_validator,
)

VARIANTS = "/catalog/variants"

TRACKED_BY_PRODUCT = (
    "[Item with variant_id {} is tracked by product, please update stock by product id]"
)


class FakeBigCommerce:
    def __init__(self, n):
        self.variants = [
            {
                "id": i,
                "product_id": 1000 + i,
                "sku": f"BC-{i:03d}",
                "price": None if i % 2 else 20.0,
                "calculated_price": 19.5,
                "inventory_level": i,
                # Every tenth product has no variants: its one base variant has no options.
                "option_values": []
                if i % 10 == 0
                else [{"id": i, "label": "M", "option_id": 1, "option_display_name": "Size"}],
            }
            for i in range(1, n + 1)
        ]
        self.faults = []
        self.calls = []
        self.reject = set()
        self.adjusted = []
        self.adjustment = openapi_validator(
            bigcommerce_inventory_spec(), "AdjustmentsAbsoluteRequest"
        )
        variants = bigcommerce_variants_spec()
        self.variants_query = openapi_query_names(variants, VARIANTS, "get")
        self.variants_page = openapi_body_validator(variants, VARIANTS, "get", status="200")
        self.price_batch = openapi_body_validator(variants, VARIANTS, "put")

    def handle(self, request):
        assert request.headers["X-Auth-Token"] == "tok"
        self.calls.append((request.method, request.url.path))
        if self.faults:
            return httpx.Response(
                self.faults.pop(0),
                headers={"X-Rate-Limit-Time-Reset-Ms": "750", "X-Rate-Limit-Requests-Left": "0"},
            )
        path = request.url.path.removeprefix("/stores/abc123")
        if request.method == "GET":
            limit, page = int(request.url.params["limit"]), int(request.url.params["page"])
            rows = self.variants
            if "sku" in request.url.params:  # documented; any other filter is ignored
                rows = [v for v in rows if v["sku"] == request.url.params["sku"]]
            total_pages = max(1, -(-len(rows) // limit))
            undocumented = set(request.url.params) - self.variants_query
            assert not undocumented, f"undocumented query parameters {undocumented}"
            answer = {
                "data": rows[(page - 1) * limit : page * limit],
                "meta": {
                    "pagination": {
                        "total": len(rows),
                        "count": 0,
                        "per_page": limit,
                        "current_page": page,
                        "total_pages": total_pages,
                    }
                },
            }
            assert not [e.message for e in self.variants_page.iter_errors(answer)]
            return httpx.Response(200, json=answer)
        body = json.loads(request.content)
        by_id = {v["id"]: v for v in self.variants}
        if path == "/v3/inventory/adjustments/absolute":
            errors = [e.message for e in self.adjustment.iter_errors(body)]
            if errors:
                return httpx.Response(400, json={"status": 400, "title": "; ".join(errors)})
            items = body["items"]
            self.adjusted.extend(items)
            by_product = {v["product_id"]: v for v in self.variants}
            for i in items:
                variant = by_id.get(i.get("variant_id")) or by_product[i.get("product_id")]
                if "variant_id" in i and not variant["option_values"]:
                    title = TRACKED_BY_PRODUCT.format(i["variant_id"])
                    return httpx.Response(422, json={"status": 422, "title": title, "errors": {}})
            if any(i.get("variant_id") in self.reject for i in items):
                return httpx.Response(
                    422, json={"status": 422, "title": "Inventory adjustment failed", "errors": {}}
                )
            for i in items:
                variant = by_id.get(i.get("variant_id")) or by_product[i.get("product_id")]
                variant["inventory_level"] = i["quantity"]
            return httpx.Response(200, json={"transaction_id": "t1"})
        assert len(body) <= 50
        errors = [e.message for e in self.price_batch.iter_errors(body)]
        if errors:
            return httpx.Response(422, json={"status": 422, "title": "; ".join(errors)})
        for change in body:
            by_id[change["id"]]["price"] = change["price"]
        return httpx.Response(200, json={"data": body, "meta": {}})


@pytest.fixture
def fake():
    return FakeBigCommerce(260)


@pytest.fixture
def adapter(fake, config, clock):
    return BigCommerceAdapter(
        config(
            "bigcommerce", base_url="https://api.bigcommerce.com/stores/abc123", access_token="tok"
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
    )


def test_reads_every_page_and_inherits_the_product_price(fake, adapter):
    states = list(adapter.fetch_snapshot())
    assert len(states) == 260 and len(fake.calls) == 2
    assert (states[0].price, states[1].price) == (Decimal("19.5"), Decimal("20.0"))


def test_a_refused_variant_is_found_by_halving_and_the_rest_is_applied(fake, adapter):
    fake.reject = {77}
    states = list(adapter.fetch_snapshot())
    results = adapter.push_inventory([StockUpdate(s.sku, 5, ref=s.ref) for s in states])
    assert [r.sku for r in results if not r.ok] == ["BC-077"]
    assert sum(1 for v in fake.variants if v["inventory_level"] == 5) == 259


def test_prices_go_in_batches_of_fifty_as_exact_numbers(fake, adapter):
    states = list(adapter.fetch_snapshot())[:120]
    fake.calls.clear()
    results = adapter.push_prices(
        [PriceUpdate(s.sku, Decimal("21.99"), "USD", ref=s.ref) for s in states]
    )
    assert all(r.ok for r in results) and len(fake.calls) == 3
    assert fake.variants[0]["price"] == 21.99


def test_a_429_waits_for_the_reset_the_store_gives(fake, adapter, clock):
    fake.faults = [429, 429]
    assert len(list(adapter.fetch_snapshot(skus=["BC-001"]))) == 1
    assert clock.sleeps[:2] == [0.75, 0.75]


def test_a_product_without_variants_is_adjusted_by_its_product_id(fake, adapter):
    """inventory.v3.yml: "If a product has no variants, use product_id"; its variant id is
    refused with 422 "tracked by product"."""
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["BC-010", "BC-011"])}
    results = adapter.push_inventory([StockUpdate(sku, 4, ref=s.ref) for sku, s in states.items()])
    assert all(r.ok for r in results)
    assert fake.adjusted == [
        {"location_id": 1, "product_id": 1010, "quantity": 4},
        {"location_id": 1, "variant_id": 11, "quantity": 4},
    ]
    assert fake.variants[9]["inventory_level"] == 4 and fake.variants[10]["inventory_level"] == 4


def test_named_skus_are_read_with_the_documented_filter_only(fake, adapter):
    """GET /v3/catalog/variants documents `sku` (one), not `sku:in`, which the store would
    ignore and answer with every variant."""
    few = list(adapter.fetch_snapshot(skus=["BC-001", "BC-002"]))
    assert [s.sku for s in few] == ["BC-001", "BC-002"]
    named = [f"BC-{i:03d}" for i in range(100, 130)]
    fake.calls.clear()
    many = list(adapter.fetch_snapshot(skus=named))
    assert sorted(s.sku for s in many) == named and len(fake.calls) == 2  # the two pages
