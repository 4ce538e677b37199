"""Shopify over the Admin GraphQL API, against a local fake built from Shopify's documented
payloads; every document, and the variables sent with it, is checked against the published
Admin schema of the version sent (2026-04, or 2025-01 for a channel staying on it): reads,
quantities, prices with the MRP as compare-at price, and publishing a product (productSet,
or a new variant of its style's product)."""

from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import ListingDraft, PriceUpdate, StockUpdate
from channels.adapters.shopify import (
    LOCATIONS_QUERY,
    PUBLISH,
    SET_QUANTITIES,
    SET_QUANTITIES_BEFORE_2026_04,
    VARIANTS_QUERY,
    ShopifyAdapter,
    prices_document,
)
from channels.errors import ChannelNotConfigured
from standins.shopify import FakeShopify
from tests.fakes.specs import shopify_errors


@pytest.fixture
def fake(clock):
    return FakeShopify(clock=clock.now)


@pytest.fixture
def adapter(fake, clock, config):
    return ShopifyAdapter(
        config("shopify", access_token="shpat_test"),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )


def test_every_document_is_valid_against_the_schema_of_the_version_it_is_sent_to():
    for document in (VARIANTS_QUERY, LOCATIONS_QUERY, SET_QUANTITIES, prices_document(25), PUBLISH):
        assert shopify_errors(document, "2026-04") == []
    for document in (VARIANTS_QUERY, LOCATIONS_QUERY, SET_QUANTITIES_BEFORE_2026_04):
        assert shopify_errors(document, "2025-01") == []
    assert shopify_errors("query { shop { noSuchField } }")  # the check can fail
    # 2026-04 has no compareQuantity any more; 2025-01 has no @idempotent.
    assert shopify_errors(
        'mutation { inventorySetQuantities(input: {name: "available", reason: "correction", '
        'quantities: [{inventoryItemId: "gid://shopify/InventoryItem/1", locationId: '
        '"gid://shopify/Location/1", quantity: 1, compareQuantity: 0}]}) { userErrors { code } } }',
        "2026-04",
    )
    assert shopify_errors(SET_QUANTITIES, "2025-01")


def test_2026_04_quantities_carry_change_from_quantity_and_an_idempotency_key(fake, adapter):
    """The two 2026-04 rules the schema cannot enforce: changeFromQuantity on every quantity,
    even null (nothing read), and @idempotent(key:) on the mutation; the fake refuses a call
    without either, as Shopify does."""
    fake.add("S-0", 10, "5.00")
    fake.add("S-1", 10, "5.00")
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    results = adapter.push_inventory(
        [
            StockUpdate("S-0", 4, previous=10, ref=states["S-0"].ref),
            StockUpdate("S-1", 6, previous=None, ref=states["S-1"].ref),
        ]
    )
    assert all(r.ok for r in results) and set(fake.versions) == {"2026-04"}
    [(key, (arguments, _))] = fake.idempotent.items()
    assert key and [q["changeFromQuantity"] for q in arguments["input"]["quantities"]] == [10, None]
    assert (fake.variant("S-0")["available"], fake.variant("S-1")["available"]) == (4, 6)


def test_a_call_sent_again_with_its_key_is_applied_once(fake, adapter):
    """Shopify answers a key it has seen with the first answer: a retried call (a timeout
    after Shopify applied it) does not apply twice."""
    fake.add("S-0", 10, "5.00")
    [state] = adapter.fetch_snapshot()
    adapter.push_inventory([StockUpdate("S-0", 4, previous=10, ref=state.ref)])
    [(key, (arguments, _))] = fake.idempotent.items()
    fake.variant("S-0")["available"] = 10  # what a second application would undo
    again = fake.execute(SET_QUANTITIES, {"input": arguments["input"], "key": key})
    assert again["data"]["inventorySetQuantities"]["userErrors"] == []
    assert fake.variant("S-0")["available"] == 10 and fake.writes[("S-0", "quantity")] == 1


def test_the_fake_refuses_what_2026_04_requires_and_its_schema_does_not(fake):
    fake.add("S-0", 10, "5.00")
    item = fake.variant("S-0")["item"]
    quantity = {"inventoryItemId": item, "locationId": fake.location, "quantity": 1}
    given = {"name": "available", "reason": "correction", "quantities": [quantity]}
    without_key = fake.execute(SET_QUANTITIES_BEFORE_2026_04, {"input": given})
    assert "idempotent" in without_key["errors"][0]["message"]
    without_change_from = fake.execute(SET_QUANTITIES, {"input": given, "key": "k-1"})
    assert "changeFromQuantity" in without_change_from["errors"][0]["message"]
    assert fake.variant("S-0")["available"] == 10


def test_a_channel_can_stay_on_2025_01_with_compare_quantity(fake, clock, config):
    fake.add("S-0", 10, "5.00")
    old = ShopifyAdapter(
        config("shopify", access_token="shpat_test", api_version="2025-01"),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )
    [state] = old.fetch_snapshot()
    fake.variant("S-0")["available"] = 9
    [result] = old.push_inventory([StockUpdate("S-0", 4, previous=10, ref=state.ref)])
    assert result.stale and set(fake.versions) == {"2025-01"}


def test_reads_every_page_of_variants_with_price_and_available(fake, adapter):
    for i in range(230):
        fake.add(f"S-{i:03d}", i % 7, "19.90", barcode="4006381333931" if i == 3 else "")
    states = list(adapter.fetch_snapshot())
    assert len(states) == 230
    assert fake.requests.count("Variants") == 3  # 100 + 100 + 30: the cursor was followed
    s3 = states[3]
    assert (s3.sku, s3.quantity, s3.price, s3.currency, s3.barcode) == (
        "S-003",
        3,
        Decimal("19.90"),
        "USD",
        "4006381333931",
    )
    assert s3.ref["inventory_item_id"] == fake.variant("S-003")["item"]


def test_reads_only_the_skus_asked_for(fake, adapter):
    for i in range(10):
        fake.add(f"S-{i}", i, "5.00")
    assert [s.sku for s in adapter.fetch_snapshot(skus=["S-2", "S-7"])] == ["S-2", "S-7"]


def test_quantities_are_compare_and_set_and_a_stale_one_is_not_overwritten(fake, adapter):
    for i in range(5):
        fake.add(f"S-{i}", 10, "5.00")
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    fake.variant("S-2")["available"] = 9  # a sale on the shop after we read it
    results = adapter.push_inventory(
        [StockUpdate(sku, 4, previous=10, ref=states[sku].ref) for sku in sorted(states)]
    )
    by_sku = {r.sku: r for r in results}
    assert by_sku["S-2"].stale and not by_sku["S-2"].ok
    assert all(by_sku[s].ok for s in ("S-0", "S-1", "S-3", "S-4"))
    assert fake.variant("S-2")["available"] == 9  # the sale was not overwritten
    assert [fake.variant(f"S-{i}")["available"] for i in (0, 1, 3, 4)] == [4, 4, 4, 4]
    # Shopify applies a call all or nothing: the others went again, once each.
    assert all(fake.writes[(f"S-{i}", "quantity")] == 1 for i in (0, 1, 3, 4))


def test_a_partial_batch_failure_is_reported_per_sku(fake, adapter):
    for i in range(300):
        fake.add(f"S-{i:03d}", 1, "5.00")
    fake.refuse["S-123"] = "INVALID_QUANTITY_TOO_HIGH"
    states = list(adapter.fetch_snapshot())
    results = adapter.push_inventory([StockUpdate(s.sku, 2, previous=1, ref=s.ref) for s in states])
    failed = [r for r in results if not r.ok]
    assert [(r.sku, r.stale) for r in failed] == [("S-123", False)]
    assert "refused" in failed[0].error
    assert sum(fake.writes[(s.sku, "quantity")] for s in states) == 299
    assert fake.requests.count("SetQuantities") == 3  # 250 refused whole, 249 again, then 50


def test_prices_go_out_per_product_in_aliased_bulk_updates(fake, adapter):
    for i in range(60):
        fake.add(f"S-{i}", 1, "10.00", product=f"gid://shopify/Product/{i // 2}")
    states = list(adapter.fetch_snapshot())
    results = adapter.push_prices(
        [PriceUpdate(s.sku, Decimal("12.35"), "USD", ref=s.ref) for s in states]
    )
    assert all(r.ok for r in results) and len(results) == 60
    assert fake.requests.count("Prices") == 2  # 30 products, 25 a document
    assert fake.variant("S-59")["price"] == Decimal("12.35")


def test_the_cost_throttle_paces_calls_so_none_is_throttled(clock, config):
    fake = FakeShopify(clock=clock.now, maximum=300, restore_rate=50)
    for i in range(1000):
        fake.add(f"S-{i:04d}", 0, "1.00")
    adapter = ShopifyAdapter(
        config("shopify", access_token="shpat_test"),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )
    updates = [
        StockUpdate(
            f"S-{i:04d}",
            1,
            previous=0,
            ref={"inventory_item_id": fake.variant(f"S-{i:04d}")["item"]},
        )
        for i in range(1000)
    ]
    adapter._location = fake.location
    started = clock.now()
    assert all(r.ok for r in adapter.push_inventory(updates))
    # 4 calls of 260 points against a 300-point bucket restored at 50/s: the client waited for
    # the bucket instead of being refused.
    assert fake.throttled <= 1
    assert fake.points == 1040
    assert clock.now() - started >= (1040 - 300) / 50 - 1


def test_a_throttled_answer_waits_what_is_missing_and_goes_again(clock, config):
    fake = FakeShopify(clock=clock.now, maximum=1000, restore_rate=100)
    fake.add("S-1", 1, "1.00")
    fake.available = 0  # another app used the bucket up
    adapter = ShopifyAdapter(
        config("shopify", access_token="shpat_test"),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )
    assert [s.sku for s in adapter.fetch_snapshot()] == ["S-1"]
    assert fake.throttled >= 1 and adapter.throttled >= 1
    assert clock.slept > 0


def test_server_errors_and_timeouts_are_retried(fake, adapter, clock):
    fake.add("S-1", 1, "1.00")
    fake.faults = [500, "timeout", 502]
    assert len(list(adapter.fetch_snapshot())) == 1
    assert adapter.client.failed_calls == 3


def test_a_missing_token_names_the_variable_not_a_value(config):
    with pytest.raises(ChannelNotConfigured) as caught:
        ShopifyAdapter(config("shopify"))
    assert caught.value.message == "channel shop: set IMS_CHANNEL_SHOP_ACCESS_TOKEN"


def test_the_stand_in_s_own_copy_of_shopify_s_schema_is_the_published_one():
    """A clone without ../shared/specs serves the demo's stand-in from standins/vendor/: byte
    for byte the 2026-04 introspection the specs hold."""
    from standins.specs import VENDORED
    from tests.fakes.specs import specs_dir

    name = "shopify/admin_schema_2026-04.json.gz"
    assert (VENDORED / name).read_bytes() == (specs_dir() / name).read_bytes()


def test_the_compare_at_price_is_read_as_the_mrp(fake, adapter):
    fake.add("S-0", 1, "79.00", mrp="99.00")
    fake.add("S-1", 1, "50.00")
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    assert (states["S-0"].price, states["S-0"].mrp) == (Decimal("79.00"), Decimal("99.00"))
    assert states["S-1"].mrp is None


def test_a_price_with_an_mrp_sets_the_compare_at_price_in_the_same_write(fake, adapter):
    fake.add("S-0", 1, "79.00", mrp="99.00")
    fake.add("S-1", 1, "50.00", mrp="60.00")
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    results = adapter.push_prices(
        [
            PriceUpdate(
                "S-0", Decimal("85.00"), "USD", mrp=Decimal("109.00"), ref=states["S-0"].ref
            ),
            PriceUpdate("S-1", Decimal("55.00"), "USD", ref=states["S-1"].ref),
        ]
    )
    assert [(r.sku, r.field, r.ok) for r in results] == [
        ("S-0", "price", True),
        ("S-1", "price", True),
    ]
    assert fake.requests.count("Prices") == 1
    again = {s.sku: s for s in adapter.fetch_snapshot()}
    assert (again["S-0"].price, again["S-0"].mrp) == (Decimal("85.00"), Decimal("109.00"))
    # No MRP in the update: the compare-at price the shop shows is left as it is.
    assert (again["S-1"].price, again["S-1"].mrp) == (Decimal("55.00"), Decimal("60.00"))


def test_the_fake_checks_the_variables_against_the_types_the_document_declares(fake):
    fake.add("S-0", 1, "79.00")
    variant = fake.variant("S-0")
    answer = fake.execute(
        prices_document(1),
        {"p0": variant["product"], "v0": [{"id": variant["id"], "mrp": "99.00"}]},
    )
    assert "mrp" in answer["errors"][0]["message"]
    assert fake.variant("S-0")["compare_at"] is None


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
        key=f"shop:{sku}",
    )
    return ListingDraft(**{**values, **given})


def test_publishing_creates_the_product_and_the_next_read_lists_it(fake, adapter):
    [result] = adapter.publish([draft()])
    assert result.ok and result.error == "" and fake.requests.count("Publish") == 1
    [state] = adapter.fetch_snapshot(skus=["NEW-1"])
    assert (state.sku, state.barcode, state.price, state.mrp, state.quantity) == (
        "NEW-1",
        "4006381333931",
        Decimal("79.00"),
        Decimal("99.00"),
        7,
    )
    # The result names the listing as the read does, with the ids later pushes need.
    assert (result.external_id, dict(result.ref)) == (state.external_id, dict(state.ref))
    [sent] = result.requests
    assert sent["method"] == "POST" and sent["path"] == "/admin/api/2026-04/graphql.json"
    [variant] = sent["body"]["variables"]["input"]["variants"]
    assert variant["inventoryItem"] == {"sku": "NEW-1", "tracked": True}
    assert variant["inventoryQuantities"] == [
        {"locationId": fake.location, "name": "available", "quantity": 7}
    ]
    [pushed] = adapter.push_inventory([StockUpdate("NEW-1", 5, previous=7, ref=result.ref)])
    assert pushed.ok and fake.variant("NEW-1")["available"] == 5


def test_a_product_without_an_mrp_is_published_without_a_compare_at_price(fake, adapter):
    [result] = adapter.publish([draft(mrp=None, barcode="", gtin="")])
    [state] = adapter.fetch_snapshot(skus=["NEW-1"])
    assert result.ok and (state.price, state.mrp, state.barcode) == (Decimal("79.00"), None, "")


def test_a_refused_product_is_the_draft_s_error_and_nothing_is_created(fake, adapter):
    fake.add("OLD-1", 1, "5.00")
    results = adapter.publish([draft("NEW-1", name=" "), draft("NEW-2")])
    assert [(r.sku, r.ok) for r in results] == [("NEW-1", False), ("NEW-2", True)]
    assert results[0].error == "Title can't be blank" and results[0].external_id == ""
    assert sorted(s.sku for s in adapter.fetch_snapshot()) == ["NEW-2", "OLD-1"]


def test_a_dry_run_sends_no_write_and_says_what_it_would_send(fake, adapter):
    [result] = adapter.publish([draft()], dry_run=True)
    assert (result.ok, result.error, result.external_id) == (False, "", "")
    assert "Publish" not in fake.requests and fake.variants == {}
    [planned] = result.requests
    assert planned["body"]["query"] == PUBLISH
    assert planned["body"]["variables"]["input"]["title"] == "Linen shirt"
    # What it would send is what a real run sends.
    [sent] = adapter.publish([draft()])[0].requests
    assert sent == planned


def test_a_sku_the_shop_lists_already_is_reported_as_listed_not_created_again(fake, adapter):
    first = adapter.publish([draft()])[0]
    again = adapter.publish([draft()])[0]
    assert again.ok and again.external_id == first.external_id and again.requests == ()
    assert fake.requests.count("Publish") == 1 and len(fake.variants) == 1


def test_the_fake_refuses_a_product_input_the_schema_does_not_describe(fake, adapter):
    """The variables are checked against ProductSetInput: a variant without its option values
    (required) or with a field Shopify does not have is refused before anything is made."""
    [planned] = adapter.publish([draft()], dry_run=True)[0].requests
    given = planned["body"]["variables"]["input"]
    [variant] = given["variants"]
    without_options = {k: v for k, v in variant.items() if k != "optionValues"}
    for wrong in (without_options, {**variant, "mrp": "99.00"}):
        answer = fake.execute(PUBLISH, {"input": {**given, "variants": [wrong]}})
        assert answer["errors"] and answer["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert fake.variants == {}


def shirt(size: str, **given) -> ListingDraft:
    return draft(
        f"SHIRT-{size}",
        style="SHIRT/24",
        style_name="Linen shirt",
        attributes={"hsn": "6205", "size": size},
        **given,
    )


def test_a_style_s_products_are_listed_as_variants_of_the_style_s_product(fake, adapter):
    """The first creates the style's product (handle: the style code), the next is a new
    variant of it with its own size; both read back as any variant does."""
    first, second = adapter.publish([shirt("M"), shirt("L", mrp=None, barcode="")])
    assert first.ok and second.ok
    assert fake.requests.count("Publish") == 1 and fake.requests.count("AddVariant") == 1
    created = first.requests[0]["body"]["variables"]["input"]
    assert (created["title"], created["handle"]) == ("Linen shirt", "shirt-24")
    assert created["productOptions"] == [{"name": "Size", "values": [{"name": "M"}]}]
    [product] = fake.products.values()
    assert product["options"] == {"Size": ["M", "L"]}
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    assert states["SHIRT-M"].ref["product_id"] == states["SHIRT-L"].ref["product_id"]
    for result in (first, second):
        assert (result.external_id, dict(result.ref)) == (
            states[result.sku].external_id,
            dict(states[result.sku].ref),
        )
    assert (states["SHIRT-L"].price, states["SHIRT-L"].mrp, states["SHIRT-L"].quantity) == (
        Decimal("79.00"),
        None,
        7,
    )
    assert fake.variant("SHIRT-L")["options"] == {"Size": "L"}


def test_a_variant_the_style_s_product_refuses_is_not_created(fake, adapter):
    adapter.publish([shirt("M")])
    fake.variant("SHIRT-M")["sku"] = "SHIRT-M-OLD"  # the same size under another SKU
    fake.by_sku["SHIRT-M-OLD"] = fake.by_sku.pop("SHIRT-M")
    [result] = adapter.publish([shirt("M")])
    assert not result.ok and result.error == "The variant 'M' already exists."
    assert [s.sku for s in adapter.fetch_snapshot()] == ["SHIRT-M-OLD"]


def test_a_style_s_product_with_other_options_is_not_written_to(fake, adapter):
    adapter.publish([shirt("M")])
    [result] = adapter.publish(
        [draft("SHIRT-M-RED", style="SHIRT/24", attributes={"size": "M", "colour": "red"})]
    )
    assert not result.ok and result.requests == ()
    assert "has the options Size; IMS gives it Size, Colour" in result.error
    assert fake.requests.count("AddVariant") == 0


def test_the_documents_for_a_style_are_valid_against_the_schema():
    from channels.adapters.shopify import ADD_VARIANT, STYLE_PRODUCT

    assert shopify_errors(ADD_VARIANT) == [] and shopify_errors(STYLE_PRODUCT) == []


def test_a_call_shopify_refuses_as_a_whole_is_that_draft_s_error(fake, adapter):
    results = adapter.publish([draft("NEW-1", quantity=2**40), draft("NEW-2")])
    assert [(r.sku, r.ok) for r in results] == [("NEW-1", False), ("NEW-2", True)]
    assert "Int cannot represent" in results[0].error
    assert [s.sku for s in adapter.fetch_snapshot()] == ["NEW-2"]
