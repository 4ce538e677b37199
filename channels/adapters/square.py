"""Square (POS) through the Square API: Catalog for prices, Inventory for counts.

- Read: `GET /v2/catalog/list?types=ITEM_VARIATION` (cursor pagination) for each variation's
  SKU, version and `price_money`; named SKUs through `POST /v2/catalog/search` (a `set_query`
  on `sku`); then `POST /v2/inventory/counts/batch-retrieve` for the IN_STOCK count at the
  channel's location (1,000 ids a call, cursor pagination).
- Stock: `POST /v2/inventory/changes/batch-create` with PHYSICAL_COUNT changes (absolute), at
  most 100 a call, each call with an idempotency key made from the plan lines it carries, so a
  rerun after a crash is recognised by Square instead of applied twice.
- Prices: `POST /v2/catalog/batch-upsert` of the variations with their read `version` (Square
  refuses a stale version: the price was edited since we read it), 1,000 objects a call, with an
  idempotency key likewise. Amounts go in the currency's minor unit (cents), from Decimal.

Settings (environment): `IMS_CHANNEL_<CODE>_ACCESS_TOKEN` (secret), `…_LOCATION_ID` (required),
`…_SQUARE_VERSION` (default 2025-08-20).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    ListingState,
    PriceUpdate,
    PushResult,
    StockUpdate,
    as_quantity,
    chunks,
    json_dumps,
    json_loads,
    push_in_halves,
)
from channels.adapters.http import HttpAdapter
from ims.money import from_minor, minor_units


def idempotency_key(kind: str, updates) -> str:
    keys = "\n".join(
        f"{u.key or u.sku}:{getattr(u, 'quantity', getattr(u, 'price', ''))}" for u in updates
    )
    return f"ims-{kind}-" + hashlib.sha256(keys.encode()).hexdigest()[:40]


class SquareAdapter(HttpAdapter):
    kind = "square"
    stock_batch = 100
    price_batch = 1000

    def __init__(self, config: AdapterConfig, **options):
        self.location = config.secret("LOCATION_ID")
        super().__init__(config, **options)

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.secret('ACCESS_TOKEN')}",
            "Square-Version": self.config.setting("SQUARE_VERSION", "2025-08-20"),
        }

    def _post(self, url: str, body: dict) -> dict:
        return json_loads(self.client.request("POST", url, content=json_dumps(body)).content)

    # -- read ------------------------------------------------------------------------
    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        variations = list(self._variations(skus))
        counts = self._counts([v["id"] for v in variations])
        for v in variations:
            data = v["item_variation_data"]
            money = data.get("price_money") or {}
            yield ListingState(
                sku=data.get("sku") or "",
                quantity=counts.get(v["id"], 0) if data.get("track_inventory", True) else None,
                price=from_minor(money.get("amount"), money.get("currency")),
                currency=money.get("currency") or self.config.currency,
                external_id=v["id"],
                ref={"object": v},
            )

    def _pages(self, method: str, url: str, request: dict) -> Iterator[dict]:
        """Each answer of a call Square pages by cursor: asked again with the last cursor."""
        while True:
            if method == "GET":
                body = json_loads(self.client.request("GET", url, params=request).content)
            else:
                body = self._post(url, request)
            yield body
            if not body.get("cursor"):
                return
            request = {**request, "cursor": body["cursor"]}

    def _variations(self, skus) -> Iterator[dict]:
        if skus is None:
            for body in self._pages("GET", "/v2/catalog/list", {"types": "ITEM_VARIATION"}):
                yield from body.get("objects") or []
            return
        for group in chunks(list(skus), 250):
            request = {
                "object_types": ["ITEM_VARIATION"],
                "query": {"set_query": {"attribute_name": "sku", "attribute_values": list(group)}},
                "limit": 1000,
            }
            for body in self._pages("POST", "/v2/catalog/search", request):
                yield from body.get("objects") or []

    def _counts(self, ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for group in chunks(ids, 1000):
            request = {
                "catalog_object_ids": list(group),
                "location_ids": [self.location],
                "states": ["IN_STOCK"],
            }
            for body in self._pages("POST", "/v2/inventory/counts/batch-retrieve", request):
                for count in body.get("counts") or []:
                    if count.get("state") == "IN_STOCK":
                        counts[count["catalog_object_id"]] = as_quantity(count["quantity"])
        return counts

    # -- push ------------------------------------------------------------------------
    def stock_request(self, batch: Sequence[StockUpdate], occurred_at: str) -> dict:
        return {
            "idempotency_key": idempotency_key("count", batch),
            "changes": [
                {
                    "type": "PHYSICAL_COUNT",
                    "physical_count": {
                        "catalog_object_id": u.ref["object"]["id"],
                        "state": "IN_STOCK",
                        "location_id": self.location,
                        "quantity": str(u.quantity),
                        "occurred_at": occurred_at,
                        "reference_id": (u.key or u.sku)[:255],
                    },
                }
                for u in batch
            ],
            "ignore_unchanged_counts": True,
        }

    def price_request(self, batch: Sequence[PriceUpdate]) -> dict:
        objects = []
        for u in batch:
            obj = dict(u.ref["object"])
            data = dict(obj["item_variation_data"])
            data["pricing_type"] = "FIXED_PRICING"
            data["price_money"] = {"amount": _to_minor(u.price, u.currency), "currency": u.currency}
            obj["item_variation_data"] = data
            objects.append(obj)
        return {
            "idempotency_key": idempotency_key("price", batch),
            "batches": [{"objects": objects}],
        }

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        occurred = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return self._send(
            updates,
            QUANTITY,
            self.stock_batch,
            lambda batch: self._post(
                "/v2/inventory/changes/batch-create", self.stock_request(batch, occurred)
            ),
        )

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        return self._send(
            updates,
            PRICE,
            self.price_batch,
            lambda batch: self._post("/v2/catalog/batch-upsert", self.price_request(batch)),
        )

    def _send(self, updates, field: str, size: int, post) -> list[PushResult]:
        """Square refuses a whole batch (400, 409) for one bad object; VERSION_MISMATCH: stale."""
        return push_in_halves(
            updates,
            field,
            size,
            post,
            ref="object",
            missing="no Square variation for this SKU",
            split_on=(400, 409),
            stale_marker="VERSION_MISMATCH",
        )


def _to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (10 ** minor_units(currency))).to_integral_exact())
