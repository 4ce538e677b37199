"""Amazon SP-API against a fake that validates every body against Amazon's published models."""

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.amazon import AmazonAdapter
from channels.adapters.base import ListingDraft, PriceUpdate, StockUpdate
from tests.fakes.amazon import FakeAmazon, searched_order


@pytest.fixture
def fake():
    return FakeAmazon()


@pytest.fixture
def adapter(fake, config, clock):
    return AmazonAdapter(
        config(
            "amazon",
            base_url="https://sellingpartnerapi-na.amazon.com",
            seller_id="A1SELLER",
            lwa_client_id="amzn1.application-oa2-client.x",
            lwa_client_secret="secret-x",
            refresh_token="Atzr|refresh",
            feed_poll_seconds="5",
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )


def test_reads_every_page_with_price_quantity_and_product_type(fake, adapter):
    for i in range(45):
        fake.add(f"AM-{i:02d}", i, "12.50", product_type="SHIRT")
    states = list(adapter.fetch_snapshot())
    assert len(states) == 45 and fake.calls["searchListingsItems"] == 3  # 20 + 20 + 5
    s = states[7]
    assert (s.sku, s.quantity, s.price, s.currency) == ("AM-07", 7, Decimal("12.50"), "USD")
    assert s.ref == {"product_type": "SHIRT"} and s.external_id.startswith("B0")
    assert fake.tokens_issued == 1


def test_named_skus_are_searched_twenty_at_a_time(fake, adapter):
    for i in range(30):
        fake.add(f"AM-{i:02d}", 1, "1.00")
    wanted = [f"AM-{i:02d}" for i in range(25)]
    assert [s.sku for s in adapter.fetch_snapshot(skus=wanted)] == wanted
    assert fake.calls["searchListingsItems"] == 2


def test_an_expired_token_is_refreshed_and_the_call_goes_again(fake, adapter):
    fake.add("AM-1", 1, "1.00")
    list(adapter.fetch_snapshot())
    fake.expire_tokens()  # revoked early, before our clock says so
    assert [s.sku for s in adapter.fetch_snapshot()] == ["AM-1"]
    assert fake.tokens_issued == 2


def test_a_token_near_its_end_is_renewed_before_use(fake, adapter, clock):
    fake.add("AM-1", 1, "1.00")
    list(adapter.fetch_snapshot())
    clock.sleep(3600)
    list(adapter.fetch_snapshot())
    assert fake.tokens_issued == 2


def test_few_skus_are_patched_one_by_one_and_an_invalid_one_is_its_error(fake, adapter):
    fake.add("AM-1", 1, "10.00")
    fake.add("AM-2", 1, "10.00")
    fake.invalid["AM-2"] = "The quantity is not valid for this offer."
    results = adapter.push_inventory(
        [StockUpdate("AM-1", 6, ref={"product_type": "SHIRT"}), StockUpdate("AM-2", 6)]
    )
    assert [(r.sku, r.ok) for r in results] == [("AM-1", True), ("AM-2", False)]
    assert "not valid" in results[1].error
    assert fake.items["AM-1"]["quantity"] == 6 and fake.items["AM-2"]["quantity"] == 1
    prices = adapter.push_prices([PriceUpdate("AM-1", Decimal("11.99"), "USD")])
    assert prices[0].ok and fake.items["AM-1"]["price"] == Decimal("11.99")
    assert fake.calls["patchListingsItem"] == 3


def test_many_skus_go_as_one_listings_feed_and_the_report_gives_each_result(fake, adapter, clock):
    for i in range(60):
        fake.add(f"AM-{i:02d}", 0, "5.00")
    fake.invalid["AM-33"] = "Offer not found in this marketplace."
    results = adapter.push_inventory([StockUpdate(f"AM-{i:02d}", 3) for i in range(60)])
    assert fake.calls["createFeed"] == 1 and fake.calls["patchListingsItem"] == 0
    assert [r.sku for r in results if not r.ok] == ["AM-33"]
    assert sum(1 for r in results if r.ok) == 59
    assert fake.items["AM-00"]["quantity"] == 3
    assert 5 in clock.sleeps  # polled the feed until DONE


def test_a_429_storm_and_a_server_error_are_waited_out(fake, adapter, clock):
    fake.add("AM-1", 1, "1.00")
    fake.faults = [429, 429, 429, 500, "timeout"]
    assert len(list(adapter.fetch_snapshot())) == 1
    assert clock.sleeps[:3] == [1.0, 1.0, 1.0]  # Retry-After honoured


def test_a_price_is_merged_into_the_offer_and_keeps_what_the_seller_set_besides(fake, adapter):
    """patchListingsItem's PatchOperation takes `merge`; a `replace` of purchasable_offer
    would wipe the offer's other fields (here its minimum price)."""
    fake.add("AM-1", 2, "10.00")
    [result] = adapter.push_prices([PriceUpdate("AM-1", Decimal("11.99"), "USD")])
    assert result.ok and fake.items["AM-1"]["price"] == Decimal("11.99")
    assert fake.items["AM-1"]["offer_extras"]  # still there


def test_a_gzipped_processing_report_is_read(fake, adapter):
    """FeedDocument: "If the feed document contents have been compressed, the compression
    algorithm used is returned … and you must decompress the feed when you download"."""
    fake.gzip_reports = True
    for i in range(30):
        fake.add(f"AM-{i:02d}", 0, "5.00")
    fake.invalid["AM-07"] = "Offer not found in this marketplace."
    results = adapter.push_inventory([StockUpdate(f"AM-{i:02d}", 4) for i in range(30)])
    assert fake.calls["createFeed"] == 1
    assert [r.sku for r in results if not r.ok] == ["AM-07"]
    assert "Offer not found" in next(r.error for r in results if not r.ok)


def test_no_operation_is_called_faster_than_amazons_models_allow():
    """Each operation's limit is no faster than the rate and burst in its model's table
    (createFeed: 0.0083 per second, burst 15)."""
    import re

    from channels.adapters.amazon import RATES
    from ims.http import parse_rate
    from tests.fakes.specs import amazon_catalog_model, amazon_model

    documented = {}
    models = [
        amazon_model(name)
        for name in (
            "feeds_2021-06-30.json",
            "listingsItems_2021-08-01.json",
            "orders_2026-01-01.json",
        )
    ]
    for model in [*models, amazon_catalog_model()]:
        for operations in model["paths"].values():
            for op in operations.values():
                if isinstance(op, dict) and "operationId" in op:
                    table = re.search(r"\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|", op["description"])
                    documented[op["operationId"]] = (float(table[1]), int(table[2]))
    for operation, rate in RATES.items():
        if operation == "default":
            continue
        item = parse_rate(rate)
        per_second, burst = documented[operation]
        assert item.amount <= burst, (operation, rate)
        assert item.amount / item.get_expiry() <= per_second, (operation, rate)


def test_orders_changed_lists_every_page_of_search_orders_with_the_same_parameters(fake, adapter):
    """Orders 2026-01-01 searchOrders: lastUpdatedAfter, the adapter's marketplace,
    includedData=FULFILLMENT; the next page is asked with paginationToken and the same other
    parameters (the fake refuses any other)."""
    start = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    fake.orders_page_max = 2
    for n in range(5):
        at = start + dt.timedelta(minutes=n)
        fake.add_order(searched_order(f"111-000000{n}-0000000", [("AM-1", n + 1)], created=at))
    fake.add_order(
        searched_order("111-0000009-0000000", [("AM-1", 1)], created=start - dt.timedelta(days=1))
    )
    changes = list(adapter.orders_changed(since=start))
    assert [c.external_id for c in changes] == [f"111-000000{n}-0000000" for n in range(5)]
    assert changes[2].changed_at == start + dt.timedelta(minutes=2)
    body = json.loads(changes[2].body)
    assert body["orderItems"][0]["quantityOrdered"] == 3
    assert body["fulfillment"]["fulfilledBy"] == "MERCHANT" and "buyer" not in body
    first, *rest = fake.order_requests
    assert first == {
        "lastUpdatedAfter": "2026-11-22T10:00:00Z",
        "marketplaceIds": "ATVPDKIKX0DER",
        "includedData": "FULFILLMENT",
        "maxResultsPerPage": "100",
    }
    assert len(rest) == 2 and all(r["paginationToken"] for r in rest)
    assert fake.calls["searchOrders"] == 3


# -- MRP ------------------------------------------------------------------------------------


def test_the_mrp_is_the_listings_list_price_and_none_where_it_has_none(fake, adapter):
    fake.add("AM-1", 3, "89.00", mrp="99.00")
    fake.add("AM-2", 3, "89.00")
    states = {s.sku: s for s in adapter.fetch_snapshot()}
    assert states["AM-1"].mrp == Decimal("99.00") and states["AM-2"].mrp is None


def test_a_price_with_an_mrp_sets_the_list_price_in_the_same_submission(fake, adapter):
    fake.add("AM-1", 3, "89.00", mrp="99.00")
    [result] = adapter.push_prices(
        [PriceUpdate("AM-1", Decimal("79.00"), "USD", mrp=Decimal("109.00"))]
    )
    assert (result.field, result.ok) == ("price", True)
    assert fake.calls["patchListingsItem"] == 1
    [state] = adapter.fetch_snapshot(skus=["AM-1"])
    assert (state.price, state.mrp) == (Decimal("79.00"), Decimal("109.00"))
    assert fake.items["AM-1"]["offer_extras"]  # the offer was merged, not replaced


def test_a_price_without_an_mrp_leaves_the_list_price_alone(fake, adapter):
    fake.add("AM-1", 3, "89.00", mrp="99.00")
    adapter.push_prices([PriceUpdate("AM-1", Decimal("79.00"), "USD")])
    assert fake.items["AM-1"]["mrp"] == Decimal("99.00") and not fake.writes[("AM-1", "mrp")]


def test_many_prices_with_their_mrps_go_in_one_listings_feed(fake, adapter):
    for i in range(30):
        fake.add(f"AM-{i:02d}", 1, "10.00")
    results = adapter.push_prices(
        [
            PriceUpdate(f"AM-{i:02d}", Decimal("9.50"), "USD", mrp=Decimal("12.00"))
            for i in range(30)
        ]
    )
    assert all(r.ok for r in results) and fake.calls["createFeed"] == 1
    assert fake.items["AM-17"]["mrp"] == Decimal("12.00")


# -- publishing an offer on Amazon's catalogue ----------------------------------------------


def draft(sku="NEW-1", gtin="00012345678905", **overrides):
    values = {
        "sku": sku,
        "name": "Linen shirt, blue, M",
        "barcode": gtin.lstrip("0"),
        "gtin": gtin,
        "price": Decimal("29.99"),
        "mrp": Decimal("39.99"),
        "currency": "USD",
        "quantity": 7,
        **overrides,
    }
    return ListingDraft(**values)


def test_publish_offers_the_product_on_the_catalogue_item_its_gtin_finds(fake, adapter):
    asin = fake.add_catalog_item("00012345678905", product_type="SHIRT")
    [result] = adapter.publish([draft()])
    assert result.ok and not result.unmatched and result.external_id == asin
    assert fake.catalog_requests == [
        {
            "identifiers": "012345678905",
            "identifiersType": "UPC",
            "marketplaceIds": "ATVPDKIKX0DER",
            "includedData": "summaries,productTypes",
        }
    ]
    [sent] = result.requests
    assert sent["method"] == "PUT" and sent["path"] == "/listings/2021-08-01/items/A1SELLER/NEW-1"
    body = sent["body"]
    assert body["productType"] == "SHIRT" and body["requirements"] == "LISTING_OFFER_ONLY"
    assert body["attributes"]["merchant_suggested_asin"][0]["value"] == asin
    assert body["attributes"]["condition_type"][0]["value"] == "new_new"
    [state] = adapter.fetch_snapshot(skus=["NEW-1"])
    assert (state.sku, state.external_id, state.quantity) == ("NEW-1", asin, 7)
    assert (state.price, state.mrp) == (Decimal("29.99"), Decimal("39.99"))
    assert state.ref == {"product_type": "SHIRT"}


def test_an_ean_and_a_gtin_14_are_searched_as_what_they_are(fake, adapter):
    fake.add_catalog_item("04006381333931")
    fake.add_catalog_item("10614141000415")
    results = adapter.publish(
        [draft("EAN-1", gtin="04006381333931"), draft("GTIN-1", gtin="10614141000415")]
    )
    assert [r.ok for r in results] == [True, True]
    assert [(r["identifiers"], r["identifiersType"]) for r in fake.catalog_requests] == [
        ("4006381333931", "EAN"),
        ("10614141000415", "GTIN"),
    ]


def test_a_gtin_amazon_does_not_know_is_unmatched_and_nothing_is_written(fake, adapter):
    [result] = adapter.publish([draft()])
    assert result.unmatched and not result.ok and result.requests == ()
    assert "no item with GTIN 00012345678905" in result.error
    assert "Seller Central" in result.error
    assert fake.calls["putListingsItem"] == 0 and fake.items == {}


def test_a_gtin_several_catalogue_items_carry_is_unmatched(fake, adapter):
    first = fake.add_catalog_item("00012345678905")
    second = fake.add_catalog_item("00012345678905")
    [result] = adapter.publish([draft()])
    assert result.unmatched and not result.ok
    assert first in result.error and second in result.error and "alias" in result.error
    assert fake.calls["putListingsItem"] == 0


def test_a_product_without_a_barcode_is_unmatched_without_a_search(fake, adapter):
    [result] = adapter.publish([draft(gtin="")])
    assert result.unmatched and "no barcode" in result.error
    assert fake.calls["searchCatalogItems"] == 0 and fake.calls["putListingsItem"] == 0


def test_an_asin_a_person_chose_wins_over_the_gtin_search(fake, adapter):
    fake.add_catalog_item("00012345678905")
    fake.add_catalog_item("00012345678905")
    chosen = fake.add_catalog_item("00099999999999", asin="B0CHOSEN01", product_type="PANTS")
    [result] = adapter.publish([draft(aliases=("B0CHOSEN01",))])
    assert result.ok and result.external_id == chosen
    assert fake.catalog_requests[0]["identifiersType"] == "ASIN"
    assert result.requests[0]["body"]["productType"] == "PANTS"


def test_an_offer_amazon_refuses_is_that_drafts_error(fake, adapter):
    fake.add_catalog_item("00012345678905")
    fake.add_catalog_item("04006381333931")
    fake.invalid["NEW-2"] = "The price is below the minimum allowed for this product."
    results = adapter.publish([draft("NEW-1"), draft("NEW-2", gtin="04006381333931")])
    assert [(r.sku, r.ok, r.unmatched) for r in results] == [
        ("NEW-1", True, False),
        ("NEW-2", False, False),
    ]
    assert "below the minimum" in results[1].error and results[1].requests
    assert "NEW-2" not in fake.items


def test_a_dry_run_searches_the_catalogue_and_writes_nothing(fake, adapter):
    fake.add_catalog_item("00012345678905")
    [result] = adapter.publish([draft()], dry_run=True)
    assert not result.ok and result.error == "" and not result.unmatched
    assert fake.calls["searchCatalogItems"] == 1 and fake.calls["putListingsItem"] == 0
    [planned] = result.requests
    assert planned["method"] == "PUT" and planned["body"]["attributes"]["list_price"]
    assert fake.items == {}


def test_a_body_off_amazons_model_is_refused_by_the_fake(fake, adapter, monkeypatch):
    """The fake validates putListingsItem's body against ListingsItemPutRequest: a
    requirements value off its enum is answered 400, as SP-API does."""
    fake.add_catalog_item("00012345678905")
    listing = adapter.offer_listing
    monkeypatch.setattr(
        adapter,
        "offer_listing",
        lambda *a: {**listing(*a), "requirements": "OFFER_ONLY"},
    )
    [result] = adapter.publish([draft()])
    assert not result.ok and "HTTP 400" in result.error and "OFFER_ONLY" in result.error
    assert fake.items == {} and fake.puts == []


def test_the_fake_refuses_a_catalogue_search_its_model_does_not_allow(fake, adapter):
    """searchCatalogItems: identifiersType is required with identifiers, and marketplaceIds
    takes one marketplace."""
    list(adapter.fetch_snapshot())  # signs in
    with httpx.Client(
        transport=httpx.MockTransport(fake.handle),
        base_url="https://sellingpartnerapi-na.amazon.com",
        headers={"x-amz-access-token": next(iter(fake.valid_tokens))},
    ) as client:
        no_type = client.get(
            "/catalog/2022-04-01/items",
            params={"identifiers": "012345678905", "marketplaceIds": "ATVPDKIKX0DER"},
        )
        two_markets = client.get(
            "/catalog/2022-04-01/items",
            params={
                "identifiers": "012345678905",
                "identifiersType": "UPC",
                "marketplaceIds": "ATVPDKIKX0DER,A2EUQ1WTGCTBG2",
            },
        )
    assert no_type.status_code == 400 and "identifiersType is required" in no_type.text
    assert two_markets.status_code == 400 and "marketplaceIds" in two_markets.text


def test_a_search_amazon_refuses_is_that_drafts_error_and_the_next_draft_goes_on(fake, adapter):
    fake.add_catalog_item("04006381333931")
    list(adapter.fetch_snapshot())  # signs in
    fake.faults = [400]
    results = adapter.publish([draft(), draft("NEW-2", gtin="04006381333931")])
    assert [(r.sku, r.ok, r.unmatched) for r in results] == [
        ("NEW-1", False, False),
        ("NEW-2", True, False),
    ]
    assert "HTTP 400" in results[0].error
