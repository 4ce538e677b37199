"""WooCommerce REST v3 against a fake: Link-header pagination, variations, batch updates.

As WooCommerce does, the fake answers `GET /products?sku=` for a variation's SKU with the
variation itself (type `variation`, its `parent_id`), and refuses a variation's id in
`/products/batch` (woocommerce_rest_product_invalid_id). It holds the adapter to WooCommerce's
REST docs (../shared/specs/woocommerce/wp-api-v3/): a list is asked only with the query
parameters its "List all" section documents, and a batch update object carries only
documented properties of their documented types (`regular_price` is a string), else 400
`rest_invalid_param` as WordPress answers. Publishing: the fake creates products
(`POST /products`) and variations (`POST /products/{id}/variations`), updates a product's
attributes (`PUT /products/{id}`) and deletes one (`DELETE`, `force=true`), every body and
each attribute in it held to the documented properties the same way; a SKU another product,
variation or trashed product holds is `product_invalid_sku`."""

import json
import re
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import ListingDraft, PriceUpdate, StockUpdate
from channels.adapters.woocommerce import WooCommerceAdapter
from tests.fakes.specs import woo_list_parameters, woo_type_errors


class FakeWoo:
    def __init__(self):
        self.products = []
        self.variations = {}
        self.requests = []
        self.faults = []
        self.trashed = set()  # SKUs of products in the trash

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        assert request.headers["Authorization"].startswith("Basic ")
        if self.faults:
            return httpx.Response(self.faults.pop(0), headers={"Retry-After": "0"})
        path = request.url.path.removeprefix("/wp-json/wc/v3")
        if request.method == "GET":
            listing = ("_products.md", "products")
            if path != "/products":
                listing = ("_product-variations.md", "product variations")
            undocumented = set(request.url.params) - woo_list_parameters(*listing)
            if undocumented:
                return _invalid(f"undocumented parameters {sorted(undocumented)}")
            page = int(request.url.params.get("page", 1))
            per = int(request.url.params.get("per_page", 10))
            if path == "/products":
                rows = self.products
                if request.url.params.get("sku"):
                    wanted = request.url.params["sku"].split(",")
                    rows = [p for p in rows if p["sku"] in wanted] + [
                        {**v, "type": "variation", "parent_id": parent}
                        for parent, variations in self.variations.items()
                        for v in variations
                        if v["sku"] in wanted
                    ]
            else:
                rows = self.variations[int(path.split("/")[2])]
            chunk = rows[(page - 1) * per : page * per]
            headers = {"X-WP-Total": str(len(rows))}
            if page * per < len(rows):
                url = request.url.copy_merge_params({"page": page + 1})
                headers["Link"] = f'<{url}>; rel="next"'
            return httpx.Response(200, json=chunk, headers=headers)
        single = re.fullmatch(r"/products/(\d+)", path)
        if request.method == "DELETE" and single:
            return self.delete(int(single.group(1)), request.url.params)
        body = json.loads(request.content)
        if request.method == "PUT" and single:
            return self.update(int(single.group(1)), body)
        if path == "/products":
            return self.create(body, self.products, ("_products.md", "Product"))
        parent = re.fullmatch(r"/products/(\d+)/variations", path)
        if parent:
            rows = self.variations.get(int(parent.group(1)))
            if rows is None:
                return _no_product()
            resource = ("_product-variations.md", "Product variation")
            return self.create(body, rows, resource)
        assert len(body["update"]) <= 100
        rows = (
            self.products if path == "/products/batch" else self.variations[int(path.split("/")[2])]
        )
        resource = ("_products.md", "Product")
        if path != "/products/batch":
            resource = ("_product-variations.md", "Product variation")
        errors = [e for change in body["update"] for e in woo_type_errors(*resource, change)]
        if errors:
            return _invalid("; ".join(errors))
        by_id = {r["id"]: r for r in rows}
        answer = []
        for change in body["update"]:
            row = by_id.get(change["id"])
            if row is None or row["sku"].endswith("-BAD"):
                answer.append(
                    {
                        "id": change["id"],
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                )
                continue
            row.update({k: v for k, v in change.items() if k != "id"})
            answer.append(_priced(row))
        return httpx.Response(200, json={"update": answer})

    def create(self, body: dict, rows: list, resource: tuple[str, str]) -> httpx.Response:
        """Create a product as WooCommerce does: documented properties of their documented
        types only, a SKU no other product or variation holds (a trashed one still holds its
        SKU: WooCommerce counts it, its list does not show it)."""
        errors = woo_type_errors(*resource, body) + [
            error
            for attribute in body.get("attributes") or []
            for error in woo_type_errors(resource[0], f"{resource[1]} - Attributes", attribute)
        ]
        if errors:
            return _invalid("; ".join(errors))
        if body.get("sku") and body["sku"] in self.skus() | self.trashed:
            return httpx.Response(
                400,
                json={
                    "code": "product_invalid_sku",
                    "message": "Invalid or duplicated SKU.",
                    "data": {"status": 400},
                },
            )
        row = {
            "id": self.next_id(),
            "type": "simple",
            "regular_price": "",
            "sale_price": "",
            **body,
        }
        rows.append(_priced(row))
        if row["type"] == "variable":
            self.variations[row["id"]] = []
        return httpx.Response(201, json=row)

    def update(self, product_id: int, body: dict) -> httpx.Response:
        row = next((p for p in self.products if p["id"] == product_id), None)
        if row is None:
            return _no_product()
        errors = woo_type_errors("_products.md", "Product", body) + [
            error
            for attribute in body.get("attributes") or []
            for error in woo_type_errors("_products.md", "Product - Attributes", attribute)
        ]
        if errors:
            return _invalid("; ".join(errors))
        row.update(body)
        return httpx.Response(200, json=_priced(row))

    def delete(self, product_id: int, params) -> httpx.Response:
        """Delete a product for good (`force=true`; without it WooCommerce moves it to the
        trash, where it keeps its SKU) with its variations."""
        row = next((p for p in self.products if p["id"] == product_id), None)
        if row is None:
            return _no_product()
        self.products.remove(row)
        self.variations.pop(product_id, None)
        if params.get("force") != "true":
            self.trashed.add(row["sku"])
        return httpx.Response(200, json=row)

    def skus(self) -> set[str]:
        return {p["sku"] for p in self.products} | {
            v["sku"] for variations in self.variations.values() for v in variations
        }

    def next_id(self) -> int:
        ids = [p["id"] for p in self.products]
        ids += [v["id"] for variations in self.variations.values() for v in variations]
        return max(ids, default=0) + 1


def _no_product() -> httpx.Response:
    return httpx.Response(
        404,
        json={
            "code": "woocommerce_rest_product_invalid_id",
            "message": "Invalid ID.",
            "data": {"status": 404},
        },
    )


def _priced(row: dict) -> dict:
    """What WooCommerce derives from the regular and sale prices: `price`, `on_sale`."""
    row["on_sale"] = bool(row.get("sale_price"))
    row["price"] = row.get("sale_price") or row.get("regular_price") or ""
    return row


def _invalid(message: str) -> httpx.Response:
    return httpx.Response(
        400, json={"code": "rest_invalid_param", "message": message, "data": {"status": 400}}
    )


@pytest.fixture
def fake():
    woo = FakeWoo()
    for i in range(1, 131):
        woo.products.append(
            {
                "id": i,
                "sku": f"W-{i:03d}",
                "type": "simple",
                "manage_stock": True,
                "stock_quantity": i,
                "regular_price": "9.50",
                "price": "9.50",
            }
        )
    woo.products.append(
        {
            "id": 500,
            "sku": "TEE",
            "type": "variable",
            "manage_stock": False,
            "stock_quantity": None,
            "regular_price": "",
            "price": "12",
        }
    )
    woo.variations[500] = [
        {
            "id": 501 + k,
            "sku": f"TEE-{s}",
            "manage_stock": True,
            "stock_quantity": 3,
            "regular_price": "12.00",
        }
        for k, s in enumerate("SML")
    ]
    return woo


@pytest.fixture
def adapter(fake, config, clock):
    return WooCommerceAdapter(
        config("woocommerce", consumer_key="ck_1", consumer_secret="cs_1"),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
    )


def test_reads_every_page_by_the_link_header_and_expands_variations(fake, adapter):
    states = list(adapter.fetch_snapshot())
    assert len(states) == 133
    assert sum(1 for m, p in fake.requests if p.endswith("/products")) == 2  # 100 + 31
    tee = next(s for s in states if s.sku == "TEE-M")
    assert (tee.quantity, tee.price, tee.ref) == (
        3,
        Decimal("12.00"),
        {"id": 502, "parent_id": 500},
    )


def test_batch_updates_apply_what_they_can_and_report_each_refusal(fake, adapter):
    fake.products[4]["sku"] = "W-005-BAD"
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    updates = [StockUpdate(sku, 1, ref=s.ref) for sku, s in states.items()]
    results = adapter.push_inventory(updates)
    assert [r.sku for r in results if not r.ok] == ["W-005-BAD"]
    assert "Invalid ID" in next(r.error for r in results if not r.ok)
    assert (
        fake.products[0]["stock_quantity"] == 1 and fake.variations[500][2]["stock_quantity"] == 1
    )
    batches = [p for m, p in fake.requests if m == "POST"]
    assert batches == ["/wp-json/wc/v3/products/batch"] * 2 + [
        "/wp-json/wc/v3/products/500/variations/batch"
    ]
    prices = adapter.push_prices(
        [PriceUpdate("W-001", Decimal("10.25"), "USD", ref=states["W-001"].ref)]
    )
    assert prices[0].ok and fake.products[0]["regular_price"] == "10.25"


def test_named_skus_and_a_server_error(fake, adapter):
    fake.faults = [502]
    assert [s.sku for s in adapter.fetch_snapshot(skus=["W-002", "W-003"])] == ["W-002", "W-003"]


def test_a_variation_read_by_its_sku_is_pushed_through_its_parent(fake, adapter):
    """A scoped read (`?sku=TEE-M`) answers with the variation: its push goes to
    /products/500/variations/batch, not /products/batch (which refuses a variation's id)."""
    [tee] = adapter.fetch_snapshot(skus=["TEE-M"])
    assert tee.ref["parent_id"] == 500
    fake.requests.clear()
    [result] = adapter.push_inventory([StockUpdate("TEE-M", 9, ref=tee.ref)])
    assert result.ok and fake.variations[500][1]["stock_quantity"] == 9
    assert [path for method, path in fake.requests if method == "POST"] == [
        "/wp-json/wc/v3/products/500/variations/batch"
    ]


def test_a_regular_price_is_not_overwritten_while_a_sale_runs_and_the_result_says_so(fake, adapter):
    fake.products[1].update(sale_price="7.00", on_sale=True)
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["W-001", "W-002"])}
    results = {
        r.sku: r
        for r in adapter.push_prices(
            [PriceUpdate(sku, Decimal("10.25"), "USD", ref=s.ref) for sku, s in states.items()]
        )
    }
    assert results["W-001"].ok and fake.products[0]["regular_price"] == "10.25"
    assert not results["W-002"].ok and fake.products[1]["regular_price"] == "9.50"
    assert "sale price (7.00) is running" in results["W-002"].error


def test_a_sale_price_is_the_price_and_the_regular_price_beside_it_the_mrp(fake, adapter):
    fake.products[1].update(sale_price="7.00", on_sale=True, price="7.00")
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["W-001", "W-002"])}
    assert (states["W-002"].price, states["W-002"].mrp) == (Decimal("7.00"), Decimal("9.50"))
    # No sale price: the regular price is the price, and the listing shows no MRP.
    assert (states["W-001"].price, states["W-001"].mrp) == (Decimal("9.50"), None)


def test_a_price_with_an_mrp_sends_the_regular_and_sale_prices_in_one_write(fake, adapter):
    fake.products[1].update(sale_price="7.00", on_sale=True, price="7.00")
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["W-001", "W-002", "W-003"])}
    results = adapter.push_prices(
        [
            PriceUpdate(
                "W-001", Decimal("8.00"), "USD", mrp=Decimal("10.00"), ref=states["W-001"].ref
            ),
            # A running sale is replaced: the MRP says what the regular price is.
            PriceUpdate(
                "W-002", Decimal("9.00"), "USD", mrp=Decimal("9.00"), ref=states["W-002"].ref
            ),
            PriceUpdate("W-003", Decimal("9.75"), "USD", ref=states["W-003"].ref),
        ]
    )
    assert [(r.sku, r.field, r.ok) for r in results] == [
        ("W-001", "price", True),
        ("W-002", "price", True),
        ("W-003", "price", True),
    ]
    assert sum(1 for method, _ in fake.requests if method == "POST") == 1
    assert (fake.products[0]["regular_price"], fake.products[0]["sale_price"]) == ("10.00", "8.00")
    assert (fake.products[1]["regular_price"], fake.products[1]["sale_price"]) == ("9.00", "")
    assert "sale_price" not in fake.products[2] and fake.products[2]["regular_price"] == "9.75"
    again = {s.sku: s for s in adapter.fetch_snapshot(skus=["W-001", "W-002", "W-003"])}
    assert [(again[k].price, again[k].mrp) for k in ("W-001", "W-002", "W-003")] == [
        (Decimal("8.00"), Decimal("10.00")),
        (Decimal("9.00"), None),
        (Decimal("9.75"), None),
    ]


def draft(sku="NEW-1", **given) -> ListingDraft:
    values = dict(
        sku=sku,
        name="Linen shirt",
        barcode="4006381333931",
        gtin="04006381333931",
        price=Decimal("79.00"),
        mrp=Decimal("99.00"),
        currency="USD",
        quantity=7,
        key=f"woo:{sku}",
    )
    return ListingDraft(**{**values, **given})


def test_publishing_creates_the_product_and_the_next_read_lists_it(fake, adapter):
    fake.requests.clear()
    [result] = adapter.publish([draft()])
    assert result.ok and result.error == ""
    [state] = adapter.fetch_snapshot(skus=["NEW-1"])
    assert (state.sku, state.price, state.mrp, state.quantity) == (
        "NEW-1",
        Decimal("79.00"),
        Decimal("99.00"),
        7,
    )
    assert (result.external_id, dict(result.ref)) == (state.external_id, dict(state.ref))
    assert result.requests == (
        {
            "method": "POST",
            "path": "/wp-json/wc/v3/products",
            "body": {
                "type": "simple",
                "status": "publish",
                "name": "Linen shirt",
                "sku": "NEW-1",
                "regular_price": "99.00",
                "sale_price": "79.00",
                "manage_stock": True,
                "stock_quantity": 7,
            },
        },
    )
    [pushed] = adapter.push_inventory([StockUpdate("NEW-1", 5, ref=result.ref)])
    assert pushed.ok and fake.products[-1]["stock_quantity"] == 5


def test_a_product_at_its_mrp_or_without_one_has_only_a_regular_price(fake, adapter):
    results = adapter.publish([draft("NEW-1", mrp=Decimal("79.00")), draft("NEW-2", mrp=None)])
    assert [r.requests[0]["body"]["regular_price"] for r in results] == ["79.00", "79.00"]
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["NEW-1", "NEW-2"])}
    assert [(states[k].price, states[k].mrp) for k in ("NEW-1", "NEW-2")] == [
        (Decimal("79.00"), None),
        (Decimal("79.00"), None),
    ]


def test_a_refused_product_is_the_draft_s_error_in_wordpress_s_words(fake, adapter):
    fake.trashed.add("NEW-1")  # a product in the trash still holds its SKU
    before = len(fake.products)
    results = adapter.publish([draft("NEW-1"), draft("NEW-2")])
    assert [(r.sku, r.ok) for r in results] == [("NEW-1", False), ("NEW-2", True)]
    assert results[0].error == "product_invalid_sku: Invalid or duplicated SKU."
    assert [p["sku"] for p in fake.products[before:]] == ["NEW-2"]


def test_a_dry_run_sends_no_write_and_says_what_it_would_send(fake, adapter):
    fake.requests.clear()
    [result] = adapter.publish([draft()], dry_run=True)
    assert (result.ok, result.error, result.external_id) == (False, "", "")
    assert all(method == "GET" for method, _ in fake.requests)
    assert "NEW-1" not in fake.skus()
    assert adapter.publish([draft()])[0].requests == result.requests


def test_a_sku_the_shop_lists_already_is_reported_as_listed_not_created_again(fake, adapter):
    [result] = adapter.publish([draft("W-003")])
    assert (result.ok, result.external_id, result.requests) == (True, "3", ())
    assert not any(method == "POST" for method, _ in fake.requests)


def test_the_fake_refuses_a_product_body_the_docs_do_not_describe(fake):
    """The create body is held to the documented Product properties: an unknown property, or
    a price that is not a string, is 400 rest_invalid_param and creates nothing."""
    for wrong in ({"gtin": "04006381333931"}, {"regular_price": 99}):
        request = httpx.Request(
            "POST",
            "https://shop.example/wp-json/wc/v3/products",
            json={"type": "simple", "name": "X", "sku": "NEW-9", **wrong},
            headers={"Authorization": "Basic eDp5"},
        )
        answer = fake.handle(request)
        assert answer.status_code == 400 and answer.json()["code"] == "rest_invalid_param"
    assert "NEW-9" not in fake.skus()


def shirt(size: str, **given) -> ListingDraft:
    return draft(
        f"SHIRT-{size}",
        style="SHIRT",
        style_name="Linen shirt",
        attributes={"hsn": "6205", "size": size},
        **given,
    )


def test_a_style_s_product_is_published_as_a_variation_of_its_variable_product(fake, adapter):
    """The style's variable product (SKU = the style code) is created with the first size and
    given each further size as its variations are added."""
    first = adapter.publish([shirt("M")])[0]
    [parent] = [p for p in fake.products if p["sku"] == "SHIRT"]
    assert [(w["method"], w["path"]) for w in first.requests] == [
        ("POST", "/wp-json/wc/v3/products"),
        ("POST", f"/wp-json/wc/v3/products/{parent['id']}/variations"),
    ]
    assert parent["type"] == "variable" and parent["name"] == "Linen shirt"
    second = adapter.publish([shirt("L", price=Decimal("99.00"))])[0]
    assert [(w["method"], w["path"]) for w in second.requests] == [
        ("PUT", f"/wp-json/wc/v3/products/{parent['id']}"),
        ("POST", f"/wp-json/wc/v3/products/{parent['id']}/variations"),
    ]
    assert parent["attributes"] == [
        {"name": "Size", "visible": True, "variation": True, "options": ["M", "L"]}
    ]
    assert [v["attributes"] for v in fake.variations[parent["id"]]] == [
        [{"name": "Size", "option": "M"}],
        [{"name": "Size", "option": "L"}],
    ]
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    for result in (first, second):
        state = states[result.sku]
        assert result.ok and (result.external_id, dict(result.ref)) == (
            state.external_id,
            dict(state.ref),
        )
        assert state.ref["parent_id"] == parent["id"] and state.quantity == 7
    assert (states["SHIRT-M"].price, states["SHIRT-M"].mrp) == (Decimal("79.00"), Decimal("99.00"))
    assert (states["SHIRT-L"].price, states["SHIRT-L"].mrp) == (Decimal("99.00"), None)
    [pushed] = adapter.push_prices(
        [PriceUpdate("SHIRT-L", Decimal("89.00"), "USD", mrp=Decimal("99.00"), ref=second.ref)]
    )
    assert pushed.ok and fake.variations[parent["id"]][1]["sale_price"] == "89.00"


def test_a_refused_variation_deletes_the_parent_this_publish_created(fake, adapter):
    fake.trashed.add("SHIRT-M")
    [result] = adapter.publish([shirt("M")])
    assert not result.ok and result.error == "product_invalid_sku: Invalid or duplicated SKU."
    assert not any(p["sku"] == "SHIRT" for p in fake.products) and "SHIRT" not in fake.trashed
    assert [w["method"] for w in result.requests] == ["POST", "POST", "DELETE"]


def test_a_refused_variation_gives_an_existing_parent_its_attributes_back(fake, adapter):
    tee = next(p for p in fake.products if p["sku"] == "TEE")
    sizes = {"id": 0, "name": "Size", "position": 0, "visible": True, "variation": True}
    tee["attributes"] = [{**sizes, "options": ["S", "M", "L"]}]
    fake.trashed.add("TEE-XL")
    [result] = adapter.publish(
        [draft("TEE-XL", style="TEE", attributes={"size": "XL", "colour": "white"})]
    )
    assert not result.ok and len(fake.variations[500]) == 3
    assert tee["attributes"] == [{**sizes, "options": ["S", "M", "L"]}]
    assert [w["method"] for w in result.requests] == ["PUT", "POST", "PUT"]
    assert result.requests[0]["body"]["attributes"][1] == {
        "name": "Colour",
        "visible": True,
        "variation": True,
        "options": ["white"],
    }


def test_a_dry_run_of_a_style_lists_the_parent_and_the_variation_it_would_create(fake, adapter):
    fake.requests.clear()
    [result] = adapter.publish([shirt("M")], dry_run=True)
    assert (result.ok, result.error) == (False, "")
    assert [(w["method"], w["path"]) for w in result.requests] == [
        ("POST", "/wp-json/wc/v3/products"),
        ("POST", "/wp-json/wc/v3/products/<new SHIRT>/variations"),
    ]
    assert all(method == "GET" for method, _ in fake.requests)
    assert not any(p["sku"] == "SHIRT" for p in fake.products)


def test_the_fake_refuses_a_variation_attribute_the_docs_do_not_describe(fake):
    request = httpx.Request(
        "POST",
        "https://shop.example/wp-json/wc/v3/products/500/variations",
        json={"sku": "TEE-XL", "attributes": [{"name": "Size", "value": "XL"}]},
        headers={"Authorization": "Basic eDp5"},
    )
    answer = fake.handle(request)
    assert answer.status_code == 400 and answer.json()["code"] == "rest_invalid_param"
    assert len(fake.variations[500]) == 3


def test_a_sale_scheduled_for_later_is_not_the_price_yet(fake, adapter):
    fake.products[0].update(sale_price="7.00", on_sale=False, date_on_sale_from="2099-01-01")
    [state] = adapter.fetch_snapshot(skus=["W-001"])
    assert (state.price, state.mrp) == (Decimal("9.50"), None)
