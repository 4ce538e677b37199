"""Flipkart listings v3 against a fake that keeps to the seller API as Flipkart's SDK defines it
(../shared/specs/flipkart/seller-api-summary.md): the token at the API host's root, 10 SKUs a
call, integer prices, a status on every location, per-SKU SUCCESS / WARNING / FAILURE inside a
200 answer; createListings (`POST /listings/v3`) checked against CreateListingRequest's required
fields, a listing created on an FSN of the fake's catalogue listed from then on."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import ListingDraft, PriceUpdate, StockUpdate
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
        self.catalogue = {"TSHFZ6GZHYGVRGZH", "TSHG2VJ8XKQ4ZPHD"}  # FSNs Flipkart knows
        self.creates = []  # the createListings bodies it took as valid requests

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
        if path == "/listings/v3":
            return self._create(body)
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

    def _create(self, body: dict):
        """createListings: a body off CreateListingRequest is a 400; a listing on an FSN
        the catalogue lacks, or on a SKU already listed, is that SKU's FAILURE."""
        wrong = _off_the_model(body) or _off_create_listing(body)
        if wrong:
            return httpx.Response(400, json={"errors": [{"code": 400, "description": wrong}]})
        self.creates.append(body)
        answer = {}
        for sku, listing in body.items():
            if sku in self.listings:
                answer[sku] = _failure("LISTING_EXISTS", f"a listing of {sku} exists")
            elif listing["product_id"] not in self.catalogue:
                answer[sku] = _failure(
                    "INVALID_PRODUCT_ID", f"product_id {listing['product_id']} is not valid"
                )
            else:
                self.listings[sku] = {**listing, "listing_id": f"LST{sku}"}
                answer[sku] = {"status": "SUCCESS"}
        return httpx.Response(200, json=answer)


def _failure(code: str, description: str) -> dict:
    return {
        "status": "FAILURE",
        "errors": [{"severity": "ERROR", "code": code, "description": description}],
    }


# CreateListingRequest's required fields and enums (../shared/specs/flipkart/seller-api-summary.md).
CREATE_REQUIRED = (
    "product_id",
    "price",
    "tax",
    "listing_status",
    "fulfillment_profile",
    "packages",
    "locations",
)
CREATE_ENUMS = {
    "listing_status": ("ACTIVE", "INACTIVE"),
    "fulfillment_profile": ("NON_FBF", "FBF_LITE", "FBF"),
}


def _off_create_listing(body: dict) -> str:
    """What in a createListings body is not as CreateListingRequest defines it, or ''."""
    for sku, listing in body.items():
        missing = [name for name in CREATE_REQUIRED if name not in listing]
        if missing:
            return f"{sku}: {', '.join(missing)} required"
        for name, allowed in CREATE_ENUMS.items():
            if listing[name] not in allowed:
                return f"{sku}: {name} must be one of {allowed}"
        if not isinstance(listing["tax"], dict) or not listing["tax"].get("hsn"):
            return f"{sku}: tax.hsn is required"
        if not listing["locations"] or not all(loc.get("id") for loc in listing["locations"]):
            return f"{sku}: locations[].id is required"
        if not listing["packages"] or not all(p.get("name") for p in listing["packages"]):
            return f"{sku}: packages[].name is required"
    return ""


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


# --- MRP -------------------------------------------------------------------------------------


def test_the_mrp_is_the_listings_price_mrp_and_none_where_it_has_none(fake, adapter):
    del fake.listings["FK-02"]["price"]["mrp"]
    states = {s.sku: s for s in adapter.fetch_snapshot(skus=["FK-01", "FK-02"])}
    assert states["FK-01"].mrp == Decimal("999") and states["FK-02"].mrp is None


def test_a_price_update_sets_its_own_mrp_before_the_one_read(fake, adapter):
    ref = next(adapter.fetch_snapshot(skus=["FK-01"])).ref  # read MRP 999
    [result] = adapter.push_prices(
        [PriceUpdate("FK-01", Decimal("1099"), "INR", mrp=Decimal("1299"), ref=ref)]
    )
    assert (result.field, result.ok) == ("price", True)
    [state] = adapter.fetch_snapshot(skus=["FK-01"])
    assert (state.price, state.mrp) == (Decimal("1099"), Decimal("1299"))


# --- publishing a listing on an FSN ----------------------------------------------------------

FSN = "TSHFZ6GZHYGVRGZH"


@pytest.fixture
def located(fake, config, clock):
    """The adapter of a channel that names its Flipkart warehouse location."""
    return FlipkartAdapter(
        config(
            "flipkart",
            base_url="https://api.flipkart.net/sellers",
            currency="INR",
            app_id="app",
            app_secret="sec",
            location_id="LOCa1",
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
        clock=clock.now,
    )


def draft(sku="FK-NEW", **overrides):
    values = {
        "sku": sku,
        "name": "Cotton kurta, red, M",
        "barcode": "8901234567893",
        "gtin": "08901234567893",
        "price": Decimal("799.00"),
        "mrp": Decimal("999.00"),
        "currency": "INR",
        "quantity": 12,
        "attributes": {"hsn": "6211"},
        "aliases": (FSN,),
        **overrides,
    }
    return ListingDraft(**values)


def test_publish_lists_the_product_on_its_fsn_and_the_next_read_shows_it(fake, located):
    [result] = located.publish([draft()])
    assert result.ok and result.external_id == FSN and not result.unmatched
    [sent] = result.requests
    assert (sent["method"], sent["path"]) == ("POST", "/listings/v3")
    assert sent["body"]["FK-NEW"] == {
        "product_id": FSN,
        "price": {"mrp": 999, "selling_price": 799, "currency": "INR"},
        "tax": {"hsn": "6211"},
        "listing_status": "ACTIVE",
        "fulfillment_profile": "NON_FBF",
        "packages": [{"name": "FK-NEW"}],
        "locations": [{"id": "LOCa1", "status": "ENABLED", "inventory": 12}],
    }
    [state] = located.fetch_snapshot(skus=["FK-NEW"])
    assert (state.external_id, state.quantity) == (FSN, 12)
    assert (state.price, state.mrp) == (Decimal("799"), Decimal("999"))


def test_the_fsn_may_come_from_the_products_attributes(fake, located):
    [result] = located.publish([draft(aliases=(), attributes={"hsn": "6211", "fsn": FSN})])
    assert result.ok and fake.creates[0]["FK-NEW"]["product_id"] == FSN


def test_a_product_without_an_fsn_is_unmatched_and_nothing_is_sent(fake, located):
    [result] = located.publish([draft(aliases=("B0CHOSEN01",))])
    assert result.unmatched and not result.ok and result.requests == ()
    assert "Flipkart lists on an FSN" in result.error and "alias" in result.error
    assert fake.calls == []


def test_a_product_without_an_hsn_is_refused_unsent_not_unmatched(fake, located):
    [result] = located.publish([draft(attributes={})])
    assert not result.ok and not result.unmatched and "HSN" in result.error
    assert fake.calls == []


def test_a_channel_without_a_location_is_told_which_setting_to_set(fake, adapter):
    [result] = adapter.publish([draft()])
    assert not result.ok and "LOCATION_ID" in result.error and fake.calls == []


def test_a_listing_flipkart_refuses_is_that_drafts_error(fake, located):
    results = located.publish([draft(), draft("FK-OTHER", aliases=("ZZZZZZZZZZZZZZZZ",))])
    assert [(r.sku, r.ok) for r in results] == [("FK-NEW", True), ("FK-OTHER", False)]
    assert "product_id ZZZZZZZZZZZZZZZZ is not valid" in results[1].error
    assert "FK-OTHER" not in fake.listings


def test_a_price_with_paise_is_refused_unsent(fake, located):
    [result] = located.publish([draft(price=Decimal("799.50"))])
    assert not result.ok and "whole rupees" in result.error and fake.calls == []


def test_a_dry_run_sends_nothing_and_says_what_it_would_send(fake, located):
    [result] = located.publish([draft()], dry_run=True)
    assert not result.ok and result.error == "" and not result.unmatched
    assert result.requests[0]["body"]["FK-NEW"]["product_id"] == FSN
    assert fake.calls == [] and "FK-NEW" not in fake.listings


def test_a_body_off_create_listing_request_is_refused_by_the_fake(fake, located, monkeypatch):
    """The fake checks CreateListingRequest's required fields: a listing without
    fulfillment_profile is answered 400."""
    real = located.call

    def without_profile(method, url, **kwargs):
        body = json.loads(kwargs["content"])
        for listing in body.values():
            del listing["fulfillment_profile"]
        return real(method, url, content=json.dumps(body))

    monkeypatch.setattr(located, "call", without_profile)
    [result] = located.publish([draft()])
    assert not result.ok and "HTTP 400" in result.error and "fulfillment_profile" in result.error
    assert fake.creates == [] and "FK-NEW" not in fake.listings
