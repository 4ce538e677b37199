"""Amazon SP-API against a fake that validates every body against Amazon's published models."""

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.amazon import AmazonAdapter
from channels.adapters.base import PriceUpdate, StockUpdate
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
    from tests.fakes.specs import amazon_model

    documented = {}
    for name in (
        "feeds_2021-06-30.json",
        "listingsItems_2021-08-01.json",
        "orders_2026-01-01.json",
    ):
        for operations in amazon_model(name)["paths"].values():
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
