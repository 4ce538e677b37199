"""Flipkart listings v3 against a fake that keeps to the seller API as Flipkart's SDK defines it
(../shared/specs/flipkart/seller-api-summary.md): the token at the API host's root, 10 SKUs a
call, integer prices, a status on every location, per-SKU SUCCESS / WARNING / FAILURE inside a
200 answer."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import PriceUpdate, StockUpdate
from channels.adapters.flipkart import FlipkartAdapter


class FakeFlipkart:
    def __init__(self):
        self.listings = {
            f"FK-{i:02d}": {
                "product_id": f"PID{i}",
                "price": {"mrp": 999, "selling_price": 899, "currency": "INR"},
                "locations": [{"id": "LOCa1", "status": "ENABLED", "inventory": i}],
            }
            for i in range(25)
        }
        self.tokens = 0
        self.valid = set()
        self.calls = []

    def handle(self, request):
        if request.url.path.startswith("/sellers/oauth-service"):
            return httpx.Response(404, json={"error": "not found"})
        path = request.url.path.removeprefix("/sellers")
        if request.url.path == "/oauth-service/oauth/token":
            assert request.url.params["grant_type"] == "client_credentials"
            assert request.headers["Authorization"].startswith("Basic ")
            self.tokens += 1
            self.valid = {f"t{self.tokens}"}
            return httpx.Response(
                200,
                json={
                    "access_token": f"t{self.tokens}",
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "scope": "Seller_Api",
                },
            )
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(
                401, json={"error": "invalid_token", "error_description": "Access token expired"}
            )
        self.calls.append(path)
        if request.method == "GET":
            skus = path.removeprefix("/listings/v3/").split(",")
            assert len(skus) <= 10
            return httpx.Response(
                200,
                json={
                    "available": {s: self.listings[s] for s in skus if s in self.listings},
                    "unavailable": [s for s in skus if s not in self.listings],
                },
            )
        body = json.loads(request.content)
        self.last_body = body
        assert len(body) <= 10
        wrong = _off_the_model(body)
        if wrong:
            return httpx.Response(400, json={"errors": [{"code": 400, "description": wrong}]})
        answer = {}
        for sku, change in body.items():
            listing = self.listings.get(sku)
            if listing is None:
                answer[sku] = {
                    "status": "FAILURE",
                    "errors": [
                        {
                            "severity": "ERROR",
                            "code": "INVALID_SKU",
                            "description": f"{sku} not found",
                        }
                    ],
                }
            elif "price" in change and change["price"]["selling_price"] > change["price"]["mrp"]:
                answer[sku] = {
                    "status": "FAILURE",
                    "errors": [
                        {
                            "severity": "ERROR",
                            "code": "INVALID_PRICE",
                            "description": "selling price above MRP",
                        }
                    ],
                }
            else:
                if "price" in change:
                    listing["price"] = change["price"]
                else:
                    listing["locations"][0]["inventory"] = change["locations"][0]["inventory"]
                answer[sku] = {"status": "SUCCESS"}
                if (
                    "price" in change
                    and change["price"]["selling_price"] * 2 < change["price"]["mrp"]
                ):
                    answer[sku] = {
                        "status": "WARNING",
                        "errors": [
                            {
                                "severity": "WARNING",
                                "code": 2301,
                                "description": "selling price is less than half the MRP",
                            }
                        ],
                    }
        return httpx.Response(200, json=answer)


def _off_the_model(body: dict) -> str:
    """What in a push body is not as the SDK's UpdatePriceRequest / UpdateInventoryRequest
    define it (Price amounts are Integer; a Location needs its status), or ''."""
    for sku, change in body.items():
        for name, value in (change.get("price") or {}).items():
            if name != "currency" and not isinstance(value, int):
                return f"{sku}: price.{name} must be an integer, not {value!r}"
        for location in change.get("locations") or []:
            if location.get("status") not in ("ENABLED", "DISABLED"):
                return f"{sku}: locations[].status is required (ENABLED or DISABLED)"
    return ""


@pytest.fixture
def fake():
    return FakeFlipkart()


@pytest.fixture
def adapter(fake, config, clock):
    return FlipkartAdapter(
        config(
            "flipkart",
            base_url="https://api.flipkart.net/sellers",
            currency="INR",
            app_id="app",
            app_secret="sec",
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )


def test_reads_the_named_skus_ten_at_a_time(fake, adapter):
    states = list(adapter.fetch_snapshot(skus=[f"FK-{i:02d}" for i in range(25)] + ["NOPE"]))
    assert len(states) == 25 and len(fake.calls) == 3
    assert (
        states[3].quantity,
        states[3].price,
        states[3].currency,
        states[3].ref["product_id"],
    ) == (3, Decimal("899"), "INR", "PID3")


def test_per_sku_failures_inside_a_200_answer(fake, adapter):
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["FK-01", "FK-02"])}
    results = adapter.push_prices(
        [
            PriceUpdate(
                "FK-01", Decimal("850.00"), "INR", mrp=Decimal("999.00"), ref=states["FK-01"].ref
            ),
            PriceUpdate(
                "FK-02", Decimal("1200.00"), "INR", mrp=Decimal("999.00"), ref=states["FK-02"].ref
            ),
            PriceUpdate("GONE", Decimal("1.00"), "INR"),
        ]
    )
    assert [(r.sku, r.ok) for r in results] == [("FK-01", True), ("FK-02", False), ("GONE", False)]
    assert "selling price above MRP" in results[1].error
    assert fake.listings["FK-01"]["price"] == {
        "mrp": 999.00,
        "selling_price": 850.00,
        "currency": "INR",
    }
    stock = adapter.push_inventory(
        [StockUpdate("FK-05", 0, ref=states["FK-01"].ref | {"product_id": "PID5"})]
    )
    assert stock[0].ok and fake.listings["FK-05"]["locations"][0]["inventory"] == 0


def test_an_expired_token_is_renewed(fake, adapter):
    list(adapter.fetch_snapshot(skus=["FK-01"]))
    fake.valid = set()
    assert len(list(adapter.fetch_snapshot(skus=["FK-01"]))) == 1
    assert fake.tokens == 2


def test_logs_in_at_the_oauth_service_on_the_api_host_not_under_sellers(fake, adapter):
    """The token URL is https://api.flipkart.net/oauth-service/oauth/token, beside the API
    (https://api.flipkart.net/sellers), not under it."""
    assert len(list(adapter.fetch_snapshot(skus=["FK-01"]))) == 1
    assert fake.tokens == 1


def test_prices_go_in_whole_rupees_and_a_price_with_paise_is_refused_unsent(fake, adapter):
    ref = next(adapter.fetch_snapshot(skus=["FK-01"])).ref
    results = adapter.push_prices(
        [
            PriceUpdate("FK-01", Decimal("850.00"), "INR", mrp=Decimal("999.00"), ref=ref),
            PriceUpdate("FK-02", Decimal("849.50"), "INR", mrp=Decimal("999.00"), ref=ref),
        ]
    )
    assert {r.sku: r.ok for r in results} == {"FK-01": True, "FK-02": False}
    assert "whole rupees" in next(r.error for r in results if r.sku == "FK-02")
    assert fake.listings["FK-01"]["price"]["selling_price"] == 850
    assert fake.listings["FK-02"]["price"]["selling_price"] == 899  # not sent


def test_a_warning_is_applied_not_a_failure(fake, adapter):
    ref = next(adapter.fetch_snapshot(skus=["FK-03"])).ref
    [result] = adapter.push_prices(
        [PriceUpdate("FK-03", Decimal("400"), "INR", mrp=Decimal("999"), ref=ref)]
    )
    assert result.ok and result.error == ""
    assert fake.listings["FK-03"]["price"]["selling_price"] == 400


def test_stock_goes_with_the_location_status_the_listing_has(fake, adapter):
    fake.listings["FK-04"]["locations"][0]["status"] = "DISABLED"
    ref = next(adapter.fetch_snapshot(skus=["FK-04"])).ref
    [result] = adapter.push_inventory([StockUpdate("FK-04", 7, ref=ref)])
    assert result.ok and fake.listings["FK-04"]["locations"][0]["inventory"] == 7
    assert fake.last_body["FK-04"]["locations"][0]["status"] == "DISABLED"
