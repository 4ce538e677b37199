"""BigCommerce v3 against a fake: page pagination, absolute inventory, batch prices, 429 resets.

The fake keeps to BigCommerce's documents (../shared/specs/bigcommerce/): the variants list
takes only its documented filters (one `sku`, ignoring others, as the store does), an
absolute adjustment must validate against inventory.v3.yml's AdjustmentsAbsoluteRequest, and
a product without variants refuses an adjustment by variant id with the documented 422.
The variants list is asked only with the query parameters product-variants_catalog.v3.yml
documents and answers with bodies valid against its response schema; a price batch must
validate against its `PUT /catalog/variants` request body. A variant whose `retail_price` is null
shows its product's, which the products list gives (`id:in`, `include_fields`). Publishing
creates a product with `POST /catalog/products`, whose body must validate against
products_catalog.v3.yml's `product_Base_POST` (else the documented 422), a duplicate name or
SKU being the documented 409; the new product's base variant is then listed like the others."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import ListingDraft, PriceUpdate, StockUpdate
from channels.adapters.bigcommerce import BigCommerceAdapter
from tests.fakes.specs import (
    bigcommerce_inventory_spec,
    bigcommerce_products_spec,
    bigcommerce_variants_spec,
    openapi_body_validator,
    openapi_query_names,
    openapi_validator,
)

VARIANTS = "/catalog/variants"
PRODUCTS = "/catalog/products"

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
                # Every third variant has its own retail price; the others show their product's.
                "retail_price": 30.0 if i % 3 == 0 else None,
                # Every tenth product has no variants: its one base variant has no options.
                "option_values": []
                if i % 10 == 0
                else [{"id": i, "label": "M", "option_id": 1, "option_display_name": "Size"}],
            }
            for i in range(1, n + 1)
        ]
        # The products' own retail price (0: none entered, as the store keeps it).
        self.products = {1000 + i: {"retail_price": 25.0 if i % 2 else 0} for i in range(1, n + 1)}
        self.faults = []
        self.calls = []
        self.stock_refusal = ""  # a title: the store refuses every adjustment with a 422
        self.reject = set()
        self.adjusted = []
        self.adjustment = openapi_validator(
            bigcommerce_inventory_spec(), "AdjustmentsAbsoluteRequest"
        )
        variants = bigcommerce_variants_spec()
        self.variants_query = openapi_query_names(variants, VARIANTS, "get")
        self.variants_page = openapi_body_validator(variants, VARIANTS, "get", status="200")
        self.price_batch = openapi_body_validator(variants, VARIANTS, "put")
        products = bigcommerce_products_spec()
        self.products_query = openapi_query_names(products, PRODUCTS, "get")
        self.product_post = openapi_validator(products, "product_Base_POST")

    def new_skus(self):
        return [v["sku"] for v in self.variants if v["id"] > 10_000]

    def handle(self, request):
        assert request.headers["X-Auth-Token"] == "tok"
        self.calls.append((request.method, request.url.path))
        if self.faults:
            return httpx.Response(
                self.faults.pop(0),
                headers={"X-Rate-Limit-Time-Reset-Ms": "750", "X-Rate-Limit-Requests-Left": "0"},
            )
        path = request.url.path.removeprefix("/stores/abc123")
        if path == "/v3" + PRODUCTS or path.startswith("/v3" + PRODUCTS + "/"):
            return self.product_call(request, path)
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
            if self.stock_refusal:
                title = self.stock_refusal
                return httpx.Response(422, json={"status": 422, "title": title, "errors": {}})
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
            by_id[change["id"]].update(change)
        return httpx.Response(200, json={"data": body, "meta": {}})

    def product_call(self, request, path):
        if request.method == "GET":
            undocumented = set(request.url.params) - self.products_query
            assert not undocumented, f"undocumented query parameters {undocumented}"
            wanted = [int(i) for i in request.url.params["id:in"].split(",")]
            fields = request.url.params["include_fields"].split(",")
            rows = [
                {"id": i, **{f: self.products[i][f] for f in fields}}
                for i in wanted
                if i in self.products
            ]
            return httpx.Response(200, json={"data": rows, "meta": {}})
        if request.method == "DELETE":
            product_id = int(path.rsplit("/", 1)[1])
            del self.products[product_id]
            self.variants = [v for v in self.variants if v["product_id"] != product_id]
            return httpx.Response(204)
        body = json.loads(request.content)
        errors = [e.message for e in self.product_post.iter_errors(body)]
        if errors:
            title = "; ".join(errors)
            return httpx.Response(422, json={"status": 422, "title": title, "errors": {}})
        names = {p.get("name") for p in self.products.values()}
        if body["name"] in names or body.get("sku") in {v["sku"] for v in self.variants}:
            title = "The product name or SKU is a duplicate"
            return httpx.Response(409, json={"status": 409, "title": title, "errors": {}})
        product_id, variant_id = 20_000 + len(self.products), 10_001 + len(self.variants)
        self.products[product_id] = {**body, "id": product_id}
        self.variants.append(
            {
                "id": variant_id,
                "product_id": product_id,
                "sku": body.get("sku", ""),
                "price": None,
                "calculated_price": body["price"],
                "inventory_level": 0,
                "retail_price": None,
                "option_values": [],
            }
        )
        product = {**body, "id": product_id, "base_variant_id": variant_id}
        return httpx.Response(200, json={"data": product, "meta": {}})


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
    assert len(states) == 260 and len(fake.calls) == 4  # two pages, each with its products
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
    assert sorted(s.sku for s in many) == named and len(fake.calls) == 4  # two pages, products


def test_the_mrp_is_the_retail_price_the_variant_or_its_product_shows(adapter):
    """A variant's own retail price; null: its product's; 0 or none entered: no MRP."""
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["BC-003", "BC-005", "BC-004"])}
    assert states["BC-003"].mrp == Decimal("30.0")  # its own
    assert states["BC-005"].mrp == Decimal("25.0")  # its product's
    assert states["BC-004"].mrp is None  # the product's is 0: none


def test_a_price_with_an_mrp_sets_the_retail_price_in_the_same_write(fake, adapter):
    state = next(adapter.fetch_snapshot(skus=["BC-004"]))
    fake.calls.clear()
    results = adapter.push_prices(
        [PriceUpdate("BC-004", Decimal("21.99"), "USD", mrp=Decimal("29.50"), ref=state.ref)]
    )
    assert all(r.ok for r in results) and fake.calls == [
        ("PUT", "/stores/abc123/v3/catalog/variants")
    ]
    assert next(adapter.fetch_snapshot(skus=["BC-004"])).mrp == Decimal("29.5")


def draft(sku="NEW-001", **overrides):
    values = {
        "sku": sku,
        "name": f"Linen shirt {sku}",
        "barcode": "8901234567890",
        "gtin": "08901234567890",
        "price": Decimal("1299.00"),
        "mrp": Decimal("1499.00"),
        "currency": "USD",
        "quantity": 7,
        "attributes": {"weight": "0.4"},
        "key": f"shop:{sku}",
    }
    return ListingDraft(**{**values, **overrides})


def test_publishing_creates_the_product_and_the_next_snapshot_lists_it(fake, adapter):
    [result] = adapter.publish([draft()])
    assert result.ok and [r["method"] for r in result.requests] == ["POST", "PUT"]
    assert result.requests[0]["body"]["upc"] == "8901234567890"
    [state] = adapter.fetch_snapshot(skus=["NEW-001"])
    assert (state.sku, state.price, state.mrp, state.quantity) == (
        "NEW-001",
        Decimal("1299.00"),
        Decimal("1499.00"),
        7,
    )
    assert state.external_id == result.external_id and state.ref == result.ref


def test_a_refused_product_is_reported_with_the_stores_message_and_nothing_is_created(
    fake, adapter
):
    first, duplicate = adapter.publish([draft(), draft(name="Linen shirt NEW-001", sku="NEW-2")])
    assert first.ok and not duplicate.ok
    assert "HTTP 409" in duplicate.error and "duplicate" in duplicate.error
    assert fake.new_skus() == ["NEW-001"]


def test_a_refused_quantity_deletes_the_product_it_created(fake, adapter):
    fake.stock_refusal = "Inventory adjustment failed"
    [result] = adapter.publish([draft()])
    assert not result.ok and "Inventory adjustment failed" in result.error
    assert [r["method"] for r in result.requests] == ["POST", "PUT", "DELETE"]
    assert fake.new_skus() == [] and list(adapter.fetch_snapshot(skus=["NEW-001"])) == []


def test_a_dry_run_sends_no_write_and_lists_what_it_would_send(fake, adapter):
    [result] = adapter.publish([draft()], dry_run=True)
    assert not result.ok and result.error == "" and fake.calls == []
    assert [(r["method"], r["path"]) for r in result.requests] == [
        ("POST", "/v3/catalog/products"),
        ("PUT", "/v3/inventory/adjustments/absolute"),
    ]
    assert result.requests[0]["body"]["retail_price"] == Decimal("1499.00")


def test_a_body_the_catalog_spec_refuses_gets_the_stores_422(fake, adapter):
    """products_catalog.v3.yml: `name` has at least 1 character; `weight` is required."""
    [result] = adapter.publish([draft(name="")])
    assert not result.ok and "HTTP 422" in result.error and fake.new_skus() == []
    assert list(fake.product_post.iter_errors({"name": "x", "type": "physical", "price": 1}))
