"""Square (POS) through the Square API: Catalog for prices, Inventory for counts.

- Read: `GET /v2/catalog/list?types=ITEM_VARIATION` (cursor pagination) for each variation's
  SKU, version and `price_money`; named SKUs through `POST /v2/catalog/search` (a `set_query`
  on `sku`); then `POST /v2/inventory/counts/batch-retrieve` for the IN_STOCK count at the
  channel's location (1,000 ids a call, cursor pagination).
- Stock: `POST /v2/inventory/changes/batch-create` with PHYSICAL_COUNT changes (absolute), at
  most 100 a call, each call with an idempotency key made from the plan lines it carries, so a
  rerun after a crash is recognised by Square instead of applied twice. Square applies changes
  in the order of their `occurred_at` ("may be sent out of order"): a count is stamped with the
  time up to which IMS's stock includes the sales Square's own POS made (`counts_as_of`, set
  by orders.services.poll once it recorded them), so a POS sale after that time is applied on
  top of the count instead of being written over; with no such time, the time of the push.
- Sales at Square's own POS (orders IMS does not take): `POST
  /v2/inventory/changes/batch-retrieve` of ADJUSTMENTs at the channel's location updated after
  a time (cursor pagination), those moving units IN_STOCK → SOLD, each with its variation
  (`POST /v2/catalog/batch-retrieve`) for its SKU and the state of the order that sold it (`POST
  /v2/orders/batch-retrieve`); orders.providers.square tells the POS's sales from the others.
- Orders (the order poll): `POST /v2/orders/search` at the channel's location, updated at or
  after a time, oldest update first (cursor pagination), each order as RetrieveOrder gives it;
  not the completed ones (the till's own sales: an order's completion changes nothing in IMS).
- Prices: `POST /v2/catalog/batch-upsert` of the variations with their read `version` (Square
  refuses a stale version: the price was edited since we read it), 1,000 objects a call, with an
  idempotency key likewise. Amounts go in the currency's minor unit (cents), from Decimal.
- MRP: Square shows none (a variation has one price): `mrp` stays None and an MRP given with
  a price is not sent.
- Publish: `POST /v2/catalog/object` (UpsertCatalogObject) per draft, its idempotency key made
  from the draft's key (a retry creates once): an ITEM (the draft's name) with one
  ITEM_VARIATION (sku, upc = the barcode when it is 12 to 14 digits as Square asks, else the
  GTIN-14, price_money in the minor unit, FIXED_PRICING, track_inventory), both with temporary
  `#` ids that the answer's `id_mappings` turn into Square's. Then the quantity as a
  PHYSICAL_COUNT at the channel's location through the same batch-create as stock pushes. If
  the count is refused the item is deleted again (`DELETE /v2/catalog/object/{id}`, which
  deletes its variation too): nothing is left half-created. The new listing's external id is
  its variation's id, as the snapshot reports it.

Settings (environment): `IMS_CHANNEL_<CODE>_ACCESS_TOKEN` (secret), `…_LOCATION_ID` (required),
`…_SQUARE_VERSION` (default 2025-08-20).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import ClassVar

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    Capabilities,
    ListingDraft,
    ListingState,
    OrderChange,
    PosSaleChange,
    PriceUpdate,
    PublishResult,
    PushResult,
    StockUpdate,
    as_quantity,
    chunks,
    json_dumps,
    json_loads,
    publish_taken_back,
    push_in_halves,
    utc_time,
)
from channels.adapters.http import HttpAdapter
from channels.errors import ChannelUnreachable, ProviderRefused
from ims.money import from_minor, minor_units

# Square takes a count's `occurred_at` no older than 24 hours: a stamp older than this is not
# used (the push is stamped with its own time).
MAX_STAMP_AGE = dt.timedelta(hours=23)
ORDERS_PAGE = 500
# The orders the order poll lists: every state but COMPLETED.
ORDER_STATES = ("OPEN", "CANCELED", "DRAFT")
CHANGES_PAGE = 1000


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def idempotency_key(kind: str, updates) -> str:
    keys = "\n".join(
        f"{u.key or u.sku}:{getattr(u, 'quantity', getattr(u, 'price', ''))}" for u in updates
    )
    return f"ims-{kind}-" + hashlib.sha256(keys.encode()).hexdigest()[:40]


class SquareAdapter(HttpAdapter):
    kind = "square"
    capabilities = Capabilities(webhooks=True, publish=True)
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ("ACCESS_TOKEN", "LOCATION_ID")
    optional_settings: ClassVar[tuple[str, ...]] = ("SQUARE_VERSION",)
    stock_batch = 100
    price_batch = 1000

    def __init__(self, config: AdapterConfig, **options):
        self.location = config.secret("LOCATION_ID")
        self.counted_as_of: dt.datetime | None = None
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

    # -- orders and POS sales -----------------------------------------------------------
    def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]:
        """Orders at the channel's location updated at or after `since`, oldest update first:
        the body is `{"order": …}` as RetrieveOrder answers (orders.providers.square `polled`).
        The time range's end is the time of the first call, kept by the cursor."""
        request = {
            "location_ids": [self.location],
            "query": {
                "filter": {
                    "date_time_filter": {"updated_at": {"start_at": rfc3339(since)}},
                    # A completed order means nothing to IMS (its webhook changes nothing):
                    # the till's own sales, most of the list, are left out.
                    "state_filter": {"states": list(ORDER_STATES)},
                },
                "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
            },
            "limit": ORDERS_PAGE,
            "return_entries": False,
        }
        for body in self._pages("POST", "/v2/orders/search", request):
            for order in body.get("orders") or []:
                yield OrderChange(
                    external_id=str(order["id"]),
                    changed_at=utc_time(order.get("updated_at"))
                    or utc_time(order.get("created_at"))
                    or since,
                    body=json_dumps({"order": order}).encode(),
                )

    def pos_sales_changed(
        self, *, since: dt.datetime, until: dt.datetime | None = None
    ) -> Iterator[PosSaleChange]:
        """Adjustments at the channel's location that Square received after `since` (and
        before `until`) and that moved units IN_STOCK → SOLD, each with its variation: the
        body is
        `{"inventory_change": <InventoryChange>, "catalog_object": <its ITEM_VARIATION or
        null>, "order": <its order's id, state and source, or null>}` (orders.providers.square
        `polled` tells a POS sale from the others)."""
        request = {
            "types": ["ADJUSTMENT"],
            # Whichever of its states the filter matches, IN_STOCK → SOLD is in; the others
            # are left out here.
            "states": ["IN_STOCK", "SOLD"],
            "location_ids": [self.location],
            "updated_after": rfc3339(since),
            "limit": CHANGES_PAGE,
        }
        if until is not None:
            request["updated_before"] = rfc3339(until)
        sold = [
            change
            for body in self._pages("POST", "/v2/inventory/changes/batch-retrieve", request)
            for change in body.get("changes") or []
            if change.get("type") == "ADJUSTMENT"
            and (change.get("adjustment") or {}).get("from_state") == "IN_STOCK"
            and (change.get("adjustment") or {}).get("to_state") == "SOLD"
            and (change.get("adjustment") or {}).get("id")
        ]
        objects = self._objects({c["adjustment"].get("catalog_object_id") for c in sold} - {None})
        orders = self._order_states({c["adjustment"].get("transaction_id") for c in sold} - {None})
        for change in sold:
            adjustment = change["adjustment"]
            yield PosSaleChange(
                external_id=str(adjustment["id"]),
                changed_at=utc_time(adjustment.get("created_at"))
                or utc_time(adjustment.get("occurred_at"))
                or since,
                body=json_dumps(
                    {
                        "inventory_change": change,
                        "catalog_object": objects.get(adjustment.get("catalog_object_id")),
                        "order": orders.get(adjustment.get("transaction_id")),
                    }
                ).encode(),
            )

    def _order_states(self, ids: set[str]) -> dict[str, dict]:
        """The orders that sold the units (an adjustment's `transaction_id` is its order's id),
        by id, as far as the sale needs them: their state and source (100 a call)."""
        found: dict[str, dict] = {}
        for group in chunks(sorted(ids), 100):
            body = self._post("/v2/orders/batch-retrieve", {"order_ids": list(group)})
            for order in body.get("orders") or []:
                found[order["id"]] = {
                    key: order[key]
                    for key in ("id", "location_id", "state", "source", "updated_at")
                    if key in order
                }
        return found

    def _objects(self, ids: set[str]) -> dict[str, dict]:
        """Catalog objects by id (deleted ones too: a variation sold, then deleted)."""
        found: dict[str, dict] = {}
        for group in chunks(sorted(ids), 1000):
            body = self._post(
                "/v2/catalog/batch-retrieve",
                {"object_ids": list(group), "include_deleted_objects": True},
            )
            for obj in body.get("objects") or []:
                found[obj["id"]] = obj
        return found

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

    def counts_as_of(self, moment: dt.datetime) -> None:
        """IMS's stock includes every sale Square's POS made up to `moment`: counts pushed from
        now on are stamped with it (Square applies the sales after it on top of them)."""
        self.counted_as_of = moment

    def count_time(self, now: dt.datetime | None = None) -> dt.datetime:
        """The `occurred_at` of the counts pushed now: `counts_as_of`'s time while Square
        takes it (less than a day old, not in the future), else now."""
        now = now or dt.datetime.now(dt.UTC)
        stamp = self.counted_as_of
        if stamp is None or not (now - MAX_STAMP_AGE <= stamp <= now):
            return now
        return stamp

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        occurred = rfc3339(self.count_time())
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

    # -- publish -------------------------------------------------------------------------
    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """Create each draft's item with its count (see the module); in a dry run, say what
        would be sent."""
        return [self._publish(draft, n, dry_run) for n, draft in enumerate(drafts)]

    def item_request(self, draft: ListingDraft, n: int = 0) -> dict:
        """The UpsertCatalogObject body creating a draft's item and its one variation."""
        item_id, variation_id = f"#item-{n}", f"#variation-{n}"
        variation = {
            "item_id": item_id,
            "name": "Regular",
            "sku": draft.sku,
            "pricing_type": "FIXED_PRICING",
            "price_money": {
                "amount": _to_minor(draft.price, draft.currency),
                "currency": draft.currency,
            },
            "track_inventory": True,
        }
        if _upc(draft):
            variation["upc"] = _upc(draft)
        return {
            "idempotency_key": "ims-publish-"
            + hashlib.sha256((draft.key or draft.sku).encode()).hexdigest()[:40],
            "object": {
                "type": "ITEM",
                "id": item_id,
                "present_at_all_locations": True,
                "item_data": {
                    "name": draft.name,
                    "variations": [
                        {
                            "type": "ITEM_VARIATION",
                            "id": variation_id,
                            "present_at_all_locations": True,
                            "item_variation_data": variation,
                        }
                    ],
                },
            },
        }

    def _publish(self, draft: ListingDraft, n: int, dry_run: bool) -> PublishResult:
        create = {
            "method": "POST",
            "path": "/v2/catalog/object",
            "body": self.item_request(draft, n),
        }
        occurred = rfc3339(self.count_time())

        def count(variation_id: str) -> dict:
            update = StockUpdate(
                draft.sku,
                draft.quantity,
                ref={"object": {"id": variation_id}},
                key=f"{draft.key or draft.sku}:publish",
            )
            return {
                "method": "POST",
                "path": "/v2/inventory/changes/batch-create",
                "body": self.stock_request([update], occurred),
            }

        if dry_run:
            return PublishResult(draft.sku, False, requests=(create, count(f"#variation-{n}")))
        try:
            answer = self._post(create["path"], create["body"])
        except (ProviderRefused, ChannelUnreachable) as exc:
            return PublishResult(draft.sku, False, error=str(exc)[:400], requests=(create,))
        ids = {m["client_object_id"]: m["object_id"] for m in answer.get("id_mappings") or []}
        item_id, variation_id = ids[f"#item-{n}"], ids[f"#variation-{n}"]
        counted = count(variation_id)
        try:
            self._post(counted["path"], counted["body"])
        except (ProviderRefused, ChannelUnreachable) as exc:
            delete = {"method": "DELETE", "path": f"/v2/catalog/object/{item_id}", "body": None}
            return publish_taken_back(
                draft.sku, exc, (create, counted), delete, self.send, what="item"
            )
        variation = next(
            (
                v
                for v in (answer.get("catalog_object") or {}).get("item_data", {}).get("variations")
                or []
                if v.get("id") == variation_id
            ),
            {"id": variation_id},
        )
        return PublishResult(
            draft.sku,
            True,
            external_id=variation_id,
            ref={"object": variation, "item_id": item_id},
            requests=(create, counted),
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


def _upc(draft: ListingDraft) -> str:
    """The code Square keeps as a variation's UPC ("a number of 12-14 digits"): the barcode
    when it is one, else the GTIN-14; '' when neither."""
    for code in (draft.barcode, draft.gtin):
        if code.isascii() and code.isdigit() and 12 <= len(code) <= 14:
            return code
    return ""


def _to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (10 ** minor_units(currency))).to_integral_exact())
