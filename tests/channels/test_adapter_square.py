"""Square against a fake whose requests and answers are checked against Square's OpenAPI spec."""

import json
from decimal import Decimal

import httpx
import pytest

from channels.adapters.base import PriceUpdate, StockUpdate
from channels.adapters.square import SquareAdapter
from tests.fakes.specs import openapi_validator, square_spec


def check(component, body):
    errors = list(openapi_validator(square_spec(), component).iter_errors(body))
    assert not errors, f"{component}: {errors[0].message}"


class FakeSquare:
    def __init__(self, n):
        self.objects = [
            {
                "type": "ITEM_VARIATION",
                "id": f"VAR{i}",
                "version": 1000 + i,
                "is_deleted": False,
                "present_at_all_locations": True,
                "item_variation_data": {
                    "item_id": f"ITEM{i}",
                    "name": "Regular",
                    "sku": f"SQ-{i:03d}",
                    "pricing_type": "FIXED_PRICING",
                    "price_money": {"amount": 1299, "currency": "USD"},
                    "track_inventory": True,
                },
            }
            for i in range(n)
        ]
        self.counts = {o["id"]: str(i % 9) for i, o in enumerate(self.objects)}
        self.keys = {}
        self.applied = 0
        self.reject = set()

    def handle(self, request):
        assert (
            request.headers["Authorization"] == "Bearer sq0atp-x"
            and request.headers["Square-Version"]
        )
        path = request.url.path
        if path == "/v2/catalog/list":
            start = int(request.url.params.get("cursor") or 0)
            body = {"objects": self.objects[start : start + 100]}
            if start + 100 < len(self.objects):
                body["cursor"] = str(start + 100)
            check("ListCatalogResponse", body)
            return httpx.Response(200, json=body)
        payload = json.loads(request.content)
        if path == "/v2/catalog/search":
            check("SearchCatalogObjectsRequest", payload)
            wanted = payload["query"]["set_query"]["attribute_values"]
            body = {
                "objects": [o for o in self.objects if o["item_variation_data"]["sku"] in wanted]
            }
            check("SearchCatalogObjectsResponse", body)
            return httpx.Response(200, json=body)
        if path == "/v2/inventory/counts/batch-retrieve":
            check("BatchRetrieveInventoryCountsRequest", payload)
            body = {
                "counts": [
                    {
                        "catalog_object_id": i,
                        "catalog_object_type": "ITEM_VARIATION",
                        "state": "IN_STOCK",
                        "location_id": "L1",
                        "quantity": self.counts[i],
                        "calculated_at": "2026-11-22T12:00:00Z",
                    }
                    for i in payload["catalog_object_ids"]
                ]
            }
            check("BatchRetrieveInventoryCountsResponse", body)
            return httpx.Response(200, json=body)
        if payload.get("idempotency_key") in self.keys:  # Square answers a repeated key as before
            return httpx.Response(200, json=self.keys[payload["idempotency_key"]])
        if path == "/v2/inventory/changes/batch-create":
            check("BatchChangeInventoryRequest", payload)
            assert len(payload["changes"]) <= 100
            ids = [c["physical_count"]["catalog_object_id"] for c in payload["changes"]]
            if self.reject & set(ids):
                return httpx.Response(
                    400,
                    json={
                        "errors": [
                            {
                                "category": "INVALID_REQUEST_ERROR",
                                "code": "INVALID_VALUE",
                                "detail": "bad quantity",
                                "field": "quantity",
                            }
                        ]
                    },
                )
            for change in payload["changes"]:
                self.counts[change["physical_count"]["catalog_object_id"]] = change[
                    "physical_count"
                ]["quantity"]
                self.applied += 1
            body = {"counts": []}
        else:
            check("BatchUpsertCatalogObjectsRequest", payload)
            by_id = {o["id"]: o for o in self.objects}
            for obj in payload["batches"][0]["objects"]:
                if by_id[obj["id"]]["version"] != obj["version"]:
                    return httpx.Response(
                        400,
                        json={
                            "errors": [
                                {
                                    "category": "INVALID_REQUEST_ERROR",
                                    "code": "VERSION_MISMATCH",
                                    "detail": "Object version does not match latest database version.",
                                }
                            ]
                        },
                    )
            for obj in payload["batches"][0]["objects"]:
                current = by_id[obj["id"]]
                current["item_variation_data"]["price_money"] = obj["item_variation_data"][
                    "price_money"
                ]
                current["version"] += 1
                self.applied += 1
            body = {"objects": payload["batches"][0]["objects"]}
        self.keys[payload["idempotency_key"]] = body
        return httpx.Response(200, json=body)


@pytest.fixture
def fake():
    return FakeSquare(150)


@pytest.fixture
def adapter(fake, config, clock):
    return SquareAdapter(
        config(
            "square",
            base_url="https://connect.squareup.com",
            access_token="sq0atp-x",
            location_id="L1",
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
    )


def test_reads_variations_by_cursor_with_counts_and_cents(adapter):
    states = list(adapter.fetch_snapshot())
    assert len(states) == 150
    assert (states[4].sku, states[4].quantity, states[4].price) == ("SQ-004", 4, Decimal("12.99"))


def test_a_rerun_with_the_same_lines_is_not_applied_twice(fake, adapter):
    states = list(adapter.fetch_snapshot())
    updates = [StockUpdate(s.sku, 2, ref=s.ref, key=f"7-{n}") for n, s in enumerate(states)]
    assert all(r.ok for r in adapter.push_inventory(updates))
    assert fake.applied == 150
    fake.counts["VAR0"] = "9"  # a sale at the till after our push
    assert all(r.ok for r in adapter.push_inventory(updates))  # the crashed run's retry
    assert fake.applied == 150 and fake.counts["VAR0"] == "9"


def test_a_refused_change_is_found_and_the_rest_applied(fake, adapter):
    fake.reject = {"VAR3"}
    states = list(adapter.fetch_snapshot())[:10]
    results = adapter.push_inventory([StockUpdate(s.sku, 1, ref=s.ref) for s in states])
    assert [r.sku for r in results if not r.ok] == ["SQ-003"] and fake.applied == 9


def test_prices_upsert_with_the_read_version_and_a_stale_one_is_refused(fake, adapter):
    states = list(adapter.fetch_snapshot(skus=["SQ-001", "SQ-002"]))
    fake.objects[2]["version"] += 1  # edited at the till since we read it
    results = adapter.push_prices(
        [PriceUpdate(s.sku, Decimal("14.50"), "USD", ref=s.ref) for s in states]
    )
    assert [(r.sku, r.ok, r.stale) for r in results] == [
        ("SQ-001", True, False),
        ("SQ-002", False, True),
    ]
    assert fake.objects[1]["item_variation_data"]["price_money"] == {
        "amount": 1450,
        "currency": "USD",
    }


# -- publishing, against tests/fakes/square.py (every request checked against Square's spec) --


@pytest.fixture
def square(config, clock):
    from tests.fakes.square import FakeSquare as SpecSquare

    fake = SpecSquare(token="sq0atp-x")
    fake.add("SQ-OLD", 3, "9.99")
    adapter = SquareAdapter(
        config(
            "square",
            base_url="https://connect.squareup.com",
            access_token="sq0atp-x",
            location_id="L1",
        ),
        transport=httpx.MockTransport(fake.handle),
        sleep=clock.sleep,
    )
    return fake, adapter


def draft(sku="NEW-001", **overrides):
    from channels.adapters.base import ListingDraft

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


def test_publishing_creates_the_item_with_its_count_and_the_next_snapshot_lists_it(square):
    fake, adapter = square
    [result] = adapter.publish([draft()])
    assert result.ok and [r["path"] for r in result.requests] == [
        "/v2/catalog/object",
        "/v2/inventory/changes/batch-create",
    ]
    variation = result.requests[0]["body"]["object"]["item_data"]["variations"][0]
    assert variation["item_variation_data"]["upc"] == "8901234567890"
    [state] = adapter.fetch_snapshot(skus=["NEW-001"])
    assert (state.sku, state.price, state.quantity, state.mrp) == (
        "NEW-001",
        Decimal("12.99"),
        7,
        None,  # Square shows no MRP
    )
    assert state.external_id == result.external_id and fake.count(result.external_id) == 7
    # The variation the answer gave, with its version, is what a later price push needs.
    assert result.ref["object"] == state.ref["object"]


def test_a_refused_item_returns_squares_message_and_creates_nothing(square):
    fake, adapter = square
    [result] = adapter.publish([draft(currency="EUR")])
    assert not result.ok and "seller's currency USD" in result.error
    assert fake.items == {} and [s.sku for s in adapter.fetch_snapshot()] == ["SQ-OLD"]


def test_a_refused_count_deletes_the_item_it_created(square):
    fake, adapter = square
    fake.refuse_counts = "Location is not tracking inventory"
    [result] = adapter.publish([draft()])
    assert not result.ok and "not tracking inventory" in result.error
    assert result.requests[-1]["method"] == "DELETE"
    assert fake.items == {} and [s.sku for s in adapter.fetch_snapshot()] == ["SQ-OLD"]


def test_a_dry_run_sends_no_write_and_lists_what_it_would_send(square):
    fake, adapter = square
    fake.calls.clear()
    [result] = adapter.publish([draft()], dry_run=True)
    assert not result.ok and result.error == "" and fake.calls == []
    assert [r["path"] for r in result.requests] == [
        "/v2/catalog/object",
        "/v2/inventory/changes/batch-create",
    ]
    count = result.requests[1]["body"]["changes"][0]["physical_count"]
    assert (count["catalog_object_id"], count["quantity"]) == ("#variation-0", "7")


def test_an_upsert_the_spec_refuses_gets_squares_400(square):
    """UpsertCatalogObjectRequest: `idempotency_key` has at least one character."""
    fake, adapter = square
    body = adapter.item_request(draft())
    refused = fake.handle(
        httpx.Request(
            "POST",
            "https://connect.squareup.com/v2/catalog/object",
            headers={"Authorization": "Bearer sq0atp-x", "Square-Version": "2025-08-20"},
            json={**body, "idempotency_key": ""},
        )
    )
    assert refused.status_code == 400 and "idempotency_key" in refused.text
    assert fake.items == {}
