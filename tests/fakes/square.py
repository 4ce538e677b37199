"""A local fake of the Square API: just the calls IMS makes (catalog, inventory, orders), every
request and every answer validated against Square's OpenAPI spec (../shared/specs/square).

Inventory is kept as Square keeps it: a history of changes, each with the client's
`occurred_at`, from which a count is computed. "Changes are applied based on the
client-supplied timestamp and may be sent out of order" (BatchChangeInventoryRequest): a
PHYSICAL_COUNT sets the IN_STOCK count as of its `occurred_at`, and every adjustment that
occurred after it moves units on from there, whenever it was received. `pos_sale` is a sale
at Square's own POS: a COMPLETED order and, for each line, an ADJUSTMENT IN_STOCK → SOLD whose
source is SQUARE_POS and whose `transaction_id` is the order's id.

Items IMS publishes are created with UpsertCatalogObject (`POST /v2/catalog/object`), whose body
must validate against UpsertCatalogObjectRequest (else Square's 400 INVALID_REQUEST_ERROR with
the validation's message); temporary `#` ids are answered in `id_mappings`, and the new
variation is then listed, searched and counted like the others. `DELETE
/v2/catalog/object/{id}` deletes an item with its variations. `refuse_counts` makes every
inventory change refused (400), as Square refuses a change to a variation it cannot count.

Use `handle` as an httpx handler; tests/fakes/served.py serves it over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from urllib.parse import unquote

import httpx

from tests.fakes.specs import openapi_validator, square_spec

POS = {
    "product": "SQUARE_POS",
    "application_id": "sq0idp-SquarePointOfSale",
    "name": "Square Point of Sale 6.40",
}
API_APP = {"product": "EXTERNAL_API", "application_id": "sq0idp-IMS", "name": "IMS"}


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def check(component: str, body) -> None:
    errors = sorted(
        openapi_validator(square_spec(), component).iter_errors(body), key=lambda e: e.path
    )
    assert not errors, f"{component}: {errors[0].message} at {list(errors[0].path)}"


class FakeSquare:
    def __init__(self, *, token: str, location: str = "L1", currency: str = "USD"):
        self.token = token
        self.location = location
        self.currency = currency
        self.variations: dict[str, dict] = {}
        self.items: dict[str, dict] = {}  # items created through the API
        self.refuse_counts = ""  # a detail: every inventory change is refused with it
        self.history: list[dict] = []  # InventoryChange objects, as Square lists them
        self.orders: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}  # idempotency key → the answer given
        self.calls: list[tuple[str, str]] = []
        self.page = 100  # at most this many objects an answer (cursor pagination)
        self._ids = itertools.count(1)

    # -- the merchant's side -------------------------------------------------------------
    def add(self, sku: str, quantity: int, price: str, *, at: dt.datetime | None = None) -> str:
        """A variation with its price and an IN_STOCK count set at the dashboard."""
        n = next(self._ids)
        variation = {
            "type": "ITEM_VARIATION",
            "id": f"VAR{n:04d}",
            "version": 1000 + n,
            "is_deleted": False,
            "present_at_all_locations": True,
            "item_variation_data": {
                "item_id": f"ITEM{n:04d}",
                "name": sku,
                "sku": sku,
                "pricing_type": "FIXED_PRICING",
                "price_money": {
                    "amount": int(Decimal(price) * 100),
                    "currency": self.currency,
                },
                "track_inventory": True,
            },
        }
        self.variations[variation["id"]] = variation
        at = at or dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        self._record(
            "PHYSICAL_COUNT",
            {
                "catalog_object_id": variation["id"],
                "catalog_object_type": "ITEM_VARIATION",
                "state": "IN_STOCK",
                "location_id": self.location,
                "quantity": str(quantity),
                "occurred_at": iso(at),
                "source": {"product": "DASHBOARD", "name": "Square Dashboard"},
            },
            at,
        )
        return variation["id"]

    def pos_sale(self, lines, *, at: dt.datetime | None = None, source=POS, state="COMPLETED"):
        """A sale at the till: its order, and one IN_STOCK → SOLD adjustment a line."""
        at = at or dt.datetime.now(dt.UTC)
        order_id = f"ORD{next(self._ids):06d}POS"
        order = {
            "id": order_id,
            "location_id": self.location,
            "source": {"name": source["name"]},
            "state": state,
            "version": 1,
            "created_at": iso(at),
            "updated_at": iso(at),
            "line_items": [
                {
                    "uid": f"{order_id}-{i}",
                    "catalog_object_id": variation_id,
                    "name": self.variations[variation_id]["item_variation_data"]["sku"],
                    "quantity": str(quantity),
                    "base_price_money": {"amount": 3000, "currency": self.currency},
                }
                for i, (variation_id, quantity) in enumerate(lines)
            ],
        }
        if state == "COMPLETED":
            order["closed_at"] = iso(at)
        check("Order", order)
        self.orders[order_id] = order
        adjustments = [
            self._record(
                "ADJUSTMENT",
                {
                    "from_state": "IN_STOCK",
                    "to_state": "SOLD",
                    "location_id": self.location,
                    "catalog_object_id": variation_id,
                    "catalog_object_type": "ITEM_VARIATION",
                    "quantity": str(quantity),
                    "total_price_money": {"amount": 3000 * int(quantity), "currency": "USD"},
                    "occurred_at": iso(at),
                    "source": source,
                    "transaction_id": order_id,
                },
                at,
            )
            for variation_id, quantity in lines
        ]
        return order_id, [a["adjustment"]["id"] for a in adjustments]

    def add_order(self, order: dict) -> None:
        """An order placed elsewhere (online): only the order, as RetrieveOrder shows it."""
        check("Order", order)
        self.orders[order["id"]] = order

    def count(self, variation_id: str, *, until: dt.datetime | None = None) -> int:
        """The IN_STOCK count, as Square computes it from its history (by `occurred_at`)."""
        quantity = Decimal(0)
        for change in sorted(self.history, key=lambda c: (self._occurred(c), self._created(c))):
            if until is not None and self._occurred(change) > until:
                break
            if change["type"] == "PHYSICAL_COUNT":
                count = change["physical_count"]
                if count["catalog_object_id"] == variation_id and count["state"] == "IN_STOCK":
                    quantity = Decimal(count["quantity"])
            else:
                adjustment = change["adjustment"]
                if adjustment["catalog_object_id"] != variation_id:
                    continue
                if adjustment["from_state"] == "IN_STOCK":
                    quantity -= Decimal(adjustment["quantity"])
                if adjustment["to_state"] == "IN_STOCK":
                    quantity += Decimal(adjustment["quantity"])
        return int(quantity)

    def by_sku(self, sku: str) -> str:
        return next(
            v["id"] for v in self.variations.values() if v["item_variation_data"]["sku"] == sku
        )

    def _record(self, kind: str, detail: dict, created: dt.datetime) -> dict:
        key = "physical_count" if kind == "PHYSICAL_COUNT" else "adjustment"
        change = {
            "type": kind,
            key: {
                "id": f"{'PC' if key == 'physical_count' else 'ADJ'}{next(self._ids):08d}",
                **detail,
                "created_at": iso(created),
            },
        }
        check("InventoryChange", change)
        self.history.append(change)
        return change

    @staticmethod
    def _detail(change: dict) -> dict:
        return change.get("physical_count") or change["adjustment"]

    def _occurred(self, change: dict) -> dt.datetime:
        return when(self._detail(change)["occurred_at"])

    def _created(self, change: dict) -> dt.datetime:
        return when(self._detail(change)["created_at"])

    # -- the API -------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "bad token")
        if not request.headers.get("square-version"):
            return self._error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "no Square-Version")
        if request.method == "GET" and path == "/v2/catalog/list":
            return self._catalog_list(request)
        if request.method == "GET" and path.startswith("/v2/orders/"):
            order = self.orders.get(unquote(path.removeprefix("/v2/orders/")))
            if order is None:
                return self._error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "no such order")
            return self._answer("RetrieveOrderResponse", {"order": order})
        if request.method == "DELETE" and path.startswith("/v2/catalog/object/"):
            return self._delete(unquote(path.removeprefix("/v2/catalog/object/")))
        if request.method != "POST":
            return self._error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", path)
        payload = json.loads(request.content)
        if path == "/v2/catalog/object":
            return self._upsert(payload)
        route = {
            "/v2/catalog/search": ("SearchCatalogObjectsRequest", self._catalog_search),
            "/v2/catalog/batch-retrieve": ("BatchRetrieveCatalogObjectsRequest", self._objects),
            "/v2/inventory/counts/batch-retrieve": (
                "BatchRetrieveInventoryCountsRequest",
                self._counts,
            ),
            "/v2/inventory/changes/batch-create": ("BatchChangeInventoryRequest", self._change),
            "/v2/inventory/changes/batch-retrieve": (
                "BatchRetrieveInventoryChangesRequest",
                self._changes,
            ),
            "/v2/orders/search": ("SearchOrdersRequest", self._orders_search),
            "/v2/orders/batch-retrieve": ("BatchRetrieveOrdersRequest", self._orders_batch),
        }.get(path)
        if route is None:
            return self._error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", path)
        component, answer = route
        check(component, payload)
        return answer(payload)

    def _answer(self, component: str, body: dict) -> httpx.Response:
        check(component, body)
        return httpx.Response(200, json=body)

    def _error(self, status: int, category: str, code: str, detail: str) -> httpx.Response:
        body = {"errors": [{"category": category, "code": code, "detail": detail}]}
        return httpx.Response(status, json=body)

    def _paged(self, rows: list, cursor: str | None) -> tuple[list, str | None]:
        start = int(cursor or 0)
        chunk = rows[start : start + self.page]
        return chunk, (str(start + self.page) if start + self.page < len(rows) else None)

    def _catalog_list(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params.get("types") == "ITEM_VARIATION"
        objects, cursor = self._paged(
            list(self.variations.values()), request.url.params.get("cursor")
        )
        body = {"objects": objects, **({"cursor": cursor} if cursor else {})}
        return self._answer("ListCatalogResponse", body)

    def _catalog_search(self, payload: dict) -> httpx.Response:
        wanted = payload["query"]["set_query"]["attribute_values"]
        objects = [v for v in self.variations.values() if v["item_variation_data"]["sku"] in wanted]
        return self._answer("SearchCatalogObjectsResponse", {"objects": objects})

    def _objects(self, payload: dict) -> httpx.Response:
        objects = [self.variations[i] for i in payload["object_ids"] if i in self.variations]
        return self._answer("BatchRetrieveCatalogObjectsResponse", {"objects": objects})

    def _counts(self, payload: dict) -> httpx.Response:
        assert payload["location_ids"] == [self.location]
        now = iso(dt.datetime.now(dt.UTC))
        counts = [
            {
                "catalog_object_id": i,
                "catalog_object_type": "ITEM_VARIATION",
                "state": "IN_STOCK",
                "location_id": self.location,
                "quantity": str(self.count(i)),
                "calculated_at": now,
            }
            for i in payload["catalog_object_ids"]
            if i in self.variations
        ]
        return self._answer("BatchRetrieveInventoryCountsResponse", {"counts": counts})

    def _upsert(self, payload: dict) -> httpx.Response:
        """UpsertCatalogObject creating an ITEM with its variations (what IMS publishes)."""
        errors = sorted(
            openapi_validator(square_spec(), "UpsertCatalogObjectRequest").iter_errors(payload),
            key=lambda e: e.path,
        )
        if errors:
            where = ".".join(str(p) for p in errors[0].path)
            return self._error(
                400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", f"{errors[0].message} at {where}"
            )
        key = payload["idempotency_key"]
        if key in self.keys:
            return httpx.Response(200, json=self.keys[key])
        obj = payload["object"]
        assert obj["type"] == "ITEM" and obj["id"].startswith("#"), "IMS creates new items"
        variations = obj["item_data"].get("variations") or []
        for variation in variations:
            money = variation["item_variation_data"].get("price_money") or {}
            if money and money.get("currency") != self.currency:
                return self._error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    f"price_money currency must be the seller's currency {self.currency}",
                )
        n = next(self._ids)
        mappings = [{"client_object_id": obj["id"], "object_id": f"ITEM{n:04d}"}]
        mappings += [
            {"client_object_id": v["id"], "object_id": f"VAR{n:04d}{i}"}
            for i, v in enumerate(variations)
        ]
        ids = {m["client_object_id"]: m["object_id"] for m in mappings}
        created = []
        for variation in variations:
            data = {**variation["item_variation_data"], "item_id": ids[obj["id"]]}
            created.append(
                {
                    **variation,
                    "id": ids[variation["id"]],
                    "version": 2000 + n,
                    "is_deleted": False,
                    "item_variation_data": data,
                }
            )
        item = {
            **obj,
            "id": ids[obj["id"]],
            "version": 2000 + n,
            "is_deleted": False,
            "item_data": {**obj["item_data"], "variations": created},
        }
        self.items[item["id"]] = item
        for variation in created:
            self.variations[variation["id"]] = variation
        body = {"catalog_object": item, "id_mappings": mappings}
        check("UpsertCatalogObjectResponse", body)
        self.keys[key] = body
        return httpx.Response(200, json=body)

    def _delete(self, object_id: str) -> httpx.Response:
        item = self.items.pop(object_id, None)
        if item is None:
            return self._error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", object_id)
        deleted = [object_id]
        for variation in item["item_data"]["variations"]:
            self.variations.pop(variation["id"], None)
            deleted.append(variation["id"])
        return self._answer(
            "DeleteCatalogObjectResponse",
            {"deleted_object_ids": deleted, "deleted_at": iso(dt.datetime.now(dt.UTC))},
        )

    def _change(self, payload: dict) -> httpx.Response:
        if self.refuse_counts:
            return self._error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", self.refuse_counts)
        key = payload["idempotency_key"]
        if key in self.keys:  # Square answers a key it has seen as it did then
            return httpx.Response(200, json=self.keys[key])
        received = dt.datetime.now(dt.UTC)
        ignore_unchanged = payload.get("ignore_unchanged_counts", True)
        for change in payload["changes"]:
            assert change["type"] == "PHYSICAL_COUNT", "IMS sends absolute counts only"
            count = change["physical_count"]
            occurred = when(count["occurred_at"])
            # Square's rule: occurred_at no older than 24 hours, not in the future.
            if not received - dt.timedelta(hours=24) <= occurred <= received:
                return self._error(
                    400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "occurred_at out of range"
                )
            variation_id = count["catalog_object_id"]
            if ignore_unchanged and self.count(variation_id, until=occurred) == int(
                Decimal(count["quantity"])
            ):
                continue
            self._record("PHYSICAL_COUNT", {**count, "source": API_APP}, received)
        counts = [
            {
                "catalog_object_id": c["physical_count"]["catalog_object_id"],
                "catalog_object_type": "ITEM_VARIATION",
                "state": "IN_STOCK",
                "location_id": self.location,
                "quantity": str(self.count(c["physical_count"]["catalog_object_id"])),
                "calculated_at": iso(received),
            }
            for c in payload["changes"]
        ]
        body = {"counts": counts}
        check("BatchChangeInventoryResponse", body)
        self.keys[key] = body
        return httpx.Response(200, json=body)

    def _changes(self, payload: dict) -> httpx.Response:
        types = payload.get("types") or ["PHYSICAL_COUNT", "ADJUSTMENT"]
        states = payload.get("states")
        after = when(payload.get("updated_after") or "1970-01-01T00:00:00Z")
        before = when(payload["updated_before"]) if payload.get("updated_before") else None
        rows = []
        for change in sorted(self.history, key=self._occurred):  # oldest occurred_at first
            detail = self._detail(change)
            created = self._created(change)
            if change["type"] not in types or created <= after:
                continue
            if before is not None and created >= before:
                continue
            if payload.get("location_ids") and detail["location_id"] not in payload["location_ids"]:
                continue
            if (
                change["type"] == "ADJUSTMENT"
                and states
                and not {detail["from_state"], detail["to_state"]} & set(states)
            ):
                continue
            rows.append(change)
        changes, cursor = self._paged(rows, payload.get("cursor"))
        body = {"changes": changes, **({"cursor": cursor} if cursor else {})}
        return self._answer("BatchRetrieveInventoryChangesResponse", body)

    def _orders_search(self, payload: dict) -> httpx.Response:
        query = payload.get("query") or {}
        sort = query.get("sort") or {}
        window = ((query.get("filter") or {}).get("date_time_filter") or {}).get("updated_at")
        # Square's rule: a time-range filter sorts by the same field.
        if window is not None and sort.get("sort_field") != "UPDATED_AT":
            return self._error(
                400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "sort_field must be UPDATED_AT"
            )
        start = when(window["start_at"]) if window and window.get("start_at") else None
        states = ((query.get("filter") or {}).get("state_filter") or {}).get("states")
        assert payload["location_ids"] and len(payload["location_ids"]) <= 10
        rows = sorted(
            (
                o
                for o in self.orders.values()
                if o["location_id"] in payload["location_ids"]
                and (start is None or when(o.get("updated_at") or o["created_at"]) >= start)
                and (not states or o["state"] in states)
            ),
            key=lambda o: when(o.get("updated_at") or o["created_at"]),
            reverse=sort.get("sort_order", "DESC") == "DESC",
        )
        self.page_orders = min(payload.get("limit", 500), self.page)
        start_at = int(payload.get("cursor") or 0)
        chunk = rows[start_at : start_at + self.page_orders]
        body = {"orders": chunk}
        if start_at + self.page_orders < len(rows):
            body["cursor"] = str(start_at + self.page_orders)
        return self._answer("SearchOrdersResponse", body)

    def _orders_batch(self, payload: dict) -> httpx.Response:
        assert len(payload["order_ids"]) <= 100
        orders = [self.orders[i] for i in payload["order_ids"] if i in self.orders]
        return self._answer("BatchRetrieveOrdersResponse", {"orders": orders})
