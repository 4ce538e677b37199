"""BigCommerce through its REST API (catalog v3 variants, inventory v3 absolute adjustments).

- Read: `GET /v3/catalog/variants` 250 a page (meta.pagination current_page / total_pages).
  The endpoint's documented filters take one SKU (`sku=`), not a list: a few named SKUs are
  read one call each, more by reading the pages and keeping those named. A variant without
  its own price shows its product's (`calculated_price`).
- Stock: `PUT /v3/inventory/adjustments/absolute` with `{reason, items: [{location_id,
  variant_id | product_id, quantity}]}`, up to 2,000 items a call. A product without
  variants (its one base variant has no option values) is tracked by product and adjusted by
  `product_id`: BigCommerce refuses its variant id with 422 "tracked by product".
- MRP: BigCommerce's retail price ("If entered, the retail cost price will be shown on the
  product page", products_catalog.v3.yml). A variant's `retail_price` null means its
  product's is shown, so those products' `retail_price` is read with `GET
  /v3/catalog/products?id:in=…&include_fields=retail_price` (one call a page of variants).
  0 or null everywhere is no retail price: `mrp` None.
- Prices: `PUT /v3/catalog/variants` (batch) with `[{id, price}]`, up to 50 a call; with the
  MRP, `retail_price` in the same item.
- A refused batch (422) is split in halves until the refused variants are found, so one bad
  variant does not hold back the others.
- Rate limits: `X-Rate-Limit-Time-Reset-Ms` on a 429 is waited; when `X-Rate-Limit-Requests-Left`
  reaches 0 the adapter waits for the window to reset before the next call.
- Orders (the order poll): `GET /v2/orders?min_date_modified=<RFC 2822>&sort=date_modified:asc`
  with `page` and `limit`, and each order's products (`GET /v2/orders/{id}/products`, paged
  too): the order and its products are what the webhook's read-back reads. An order changed
  while the pages are read moves to the end of the list and would shift the next page past an
  order never listed; so a full page moves the start (`min_date_modified`) up to its last
  order's time (less a second: the filter has seconds and may be exclusive) and reads from page
  1 again, skipping what it listed already; only orders sharing one second across a whole page
  are paged by number. BigCommerce answers an empty list with 204 and no body.
- Publish: `POST /v3/catalog/products` per draft (the endpoint creates "only one product at a
  time"): name, type physical, sku, price, retail_price (the MRP), weight (required: the
  draft's `weight` attribute, else 0), the barcode as `upc` (at most 14 characters) and the
  GTIN-14 as `gtin`, inventory_tracking product, availability available. The answer's `id`
  and `base_variant_id` are the new listing's ids (its external id is the base variant's, as
  the variants list reports it). Then its quantity, as stock is pushed: an absolute adjustment
  by `product_id` at the channel's location. If that is refused the product is deleted again
  (`DELETE /v3/catalog/products/{id}`): nothing is left half-created. Not sent: categories,
  which a store on the V2 product experience requires (the draft's category is a name, not a
  BigCommerce category id).

Settings (environment): `IMS_CHANNEL_<CODE>_ACCESS_TOKEN` (secret), `…_LOCATION_ID` (default 1);
base_url is `https://api.bigcommerce.com/stores/<store hash>`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import ClassVar
from urllib.parse import quote

import httpx

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    Capabilities,
    ListingDraft,
    ListingState,
    OrderChange,
    PriceUpdate,
    PublishResult,
    PushResult,
    StockUpdate,
    as_price,
    as_quantity,
    json_dumps,
    json_loads,
    publish_taken_back,
    push_in_halves,
)
from channels.adapters.http import HttpAdapter
from channels.errors import ChannelUnreachable, ProviderRefused

# Named SKUs up to this many are read one `sku=` call each; more, by reading every page.
ONE_BY_ONE = 10
# v2 lists (orders, an order's products): asked this many a page. A page shorter than the
# documented default (50) is the last whatever the store's own maximum.
V2_LIMIT = 250
V2_DEFAULT = 50
PRODUCTS = "/v3/catalog/products"
ADJUST = "/v3/inventory/adjustments/absolute"
# In a dry run the adjustment names the product not created yet by this placeholder.
NEW_PRODUCT = "<id of the new product>"


class BigCommerceAdapter(HttpAdapter):
    kind = "bigcommerce"
    capabilities = Capabilities(webhooks=True, publish=True)
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ("ACCESS_TOKEN",)
    optional_settings: ClassVar[tuple[str, ...]] = ("LOCATION_ID",)
    rates = {"default": "150/30 seconds"}
    stock_batch = 2000
    price_batch = 50

    def __init__(self, config: AdapterConfig, **options):
        self.location = int(config.setting("LOCATION_ID", "1"))
        super().__init__(config, **options)

    def auth_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.config.secret("ACCESS_TOKEN")}

    def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """Every call: when BigCommerce says the window is spent, wait for its reset."""
        response = self.client.request(method, url, **kwargs)
        if response.headers.get("x-rate-limit-requests-left") == "0":
            reset = response.headers.get("x-rate-limit-time-reset-ms", "0")
            self.sleep(int(reset) / 1000 if reset.isdigit() else 1.0)
        return response

    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        if skus is None:
            yield from self._variants({})
        elif len(skus) <= ONE_BY_ONE:
            for sku in skus:
                yield from self._variants({"sku": sku})
        else:
            named = set(skus)
            yield from (state for state in self._variants({}) if state.sku in named)

    def _variants(self, params: dict) -> Iterator[ListingState]:
        page = 1
        while True:
            body = json_loads(
                self._request(
                    "GET", "/v3/catalog/variants", params={**params, "limit": 250, "page": page}
                ).content
            )
            retail = self._product_retail_prices(
                {v["product_id"] for v in body["data"] if v.get("retail_price") is None}
            )
            for variant in body["data"]:
                price = variant.get("price")
                own = variant.get("retail_price")
                yield ListingState(
                    sku=variant.get("sku") or "",
                    quantity=as_quantity(variant.get("inventory_level")),
                    price=as_price(price if price is not None else variant.get("calculated_price")),
                    currency=self.config.currency,
                    external_id=str(variant["id"]),
                    ref={
                        "variant_id": variant["id"],
                        "product_id": variant["product_id"],
                        "by_product": not variant.get("option_values"),
                    },
                    mrp=_shown_retail(
                        own if own is not None else retail.get(variant["product_id"])
                    ),
                )
            pagination = body.get("meta", {}).get("pagination", {})
            if pagination.get("current_page", page) >= pagination.get("total_pages", page):
                return
            page += 1

    def _product_retail_prices(self, ids: set) -> dict:
        """The retail price of these products, by id (what their variants without their own
        show)."""
        if not ids:
            return {}
        body = json_loads(
            self._request(
                "GET",
                PRODUCTS,
                params={
                    "id:in": ",".join(str(i) for i in sorted(ids)),
                    "include_fields": "retail_price",
                    "limit": 250,
                },
            ).content
        )
        return {p["id"]: p.get("retail_price") for p in body.get("data") or []}

    # -- orders (the order poll) --------------------------------------------------------
    def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]:
        """Orders modified at or after `since`, oldest change first, each with its products:
        the body is `{"order": …, "products": […]}` (orders.providers.bigcommerce `polled`)."""
        start = since.astimezone(dt.UTC).replace(microsecond=0)
        page = 1
        listed: set[tuple[str, str]] = set()
        while True:
            params = {
                "min_date_modified": email.utils.format_datetime(start),
                "sort": "date_modified:asc",
                "page": page,
                "limit": V2_LIMIT,
            }
            orders = self._v2_list("/v2/orders", params)
            for order in orders:
                key = (str(order.get("id")), str(order.get("date_modified")))
                if key in listed:
                    continue
                listed.add(key)
                products = self.order_products(order["id"])
                yield OrderChange(
                    external_id=str(order["id"]),
                    changed_at=rfc2822_time(order.get("date_modified")) or since,
                    body=json_dumps({"order": order, "products": products}).encode(),
                )
            if len(orders) < V2_DEFAULT:
                return
            last = rfc2822_time(orders[-1].get("date_modified"))
            if last is not None and last - dt.timedelta(seconds=1) > start:
                start, page = last - dt.timedelta(seconds=1), 1
            else:
                page += 1

    def order_products(self, order_id) -> list[dict]:
        """Every product line of an order (`GET /v2/orders/{id}/products`, page by page)."""
        path = f"/v2/orders/{quote(str(order_id), safe='')}/products"
        products: list[dict] = []
        page = 1
        while True:
            rows = self._v2_list(path, {"page": page, "limit": V2_LIMIT})
            products.extend(rows)
            if len(rows) < V2_DEFAULT:
                return products
            page += 1

    def _v2_list(self, path: str, params: dict) -> list[dict]:
        response = self._request("GET", path, params=params)
        if response.status_code == 204 or not response.content.strip():
            return []
        rows = json_loads(response.content)
        if not isinstance(rows, list):
            raise ProviderRefused(
                f"{self.config.code}: GET {path} answered no list", status=response.status_code
            )
        return rows

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        def send(batch):
            self._request(
                "PUT",
                ADJUST,
                content=json_dumps(self.adjustment([(u.ref, u.quantity) for u in batch])),
            )

        return self._push(updates, QUANTITY, self.stock_batch, send)

    def adjustment(self, items) -> dict:
        """The absolute adjustment setting each (ref, quantity) at the channel's location: by
        product for a product without variants, else by variant."""
        return {
            "reason": "IMS sync",
            "items": [
                {
                    "location_id": self.location,
                    **(
                        {"product_id": ref["product_id"]}
                        if ref.get("by_product")
                        else {"variant_id": ref["variant_id"]}
                    ),
                    "quantity": quantity,
                }
                for ref, quantity in items
            ],
        }

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        def send(batch):
            self._request(
                "PUT",
                "/v3/catalog/variants",
                content=json_dumps(
                    [
                        {
                            "id": u.ref["variant_id"],
                            "price": u.price,
                            **({"retail_price": u.mrp} if u.mrp is not None else {}),
                        }
                        for u in batch
                    ]
                ),
            )

        return self._push(updates, PRICE, self.price_batch, send)

    # -- publish -------------------------------------------------------------------------
    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """Create each draft's product with its quantity (see the module); in a dry run, say
        what would be sent."""
        return [self._publish(draft, dry_run) for draft in drafts]

    def product_body(self, draft: ListingDraft) -> dict:
        """The `POST /v3/catalog/products` body of a draft."""
        body = {
            "name": draft.name,
            "type": "physical",
            "sku": draft.sku,
            "price": draft.price,
            "weight": _weight(draft.attributes.get("weight")),
            "inventory_tracking": "product",
            "availability": "available",
        }
        if draft.mrp is not None:
            body["retail_price"] = draft.mrp
        if draft.barcode and len(draft.barcode) <= 14:
            body["upc"] = draft.barcode
        if draft.gtin:
            body["gtin"] = draft.gtin
        return body

    def _publish(self, draft: ListingDraft, dry_run: bool) -> PublishResult:
        create = {"method": "POST", "path": PRODUCTS, "body": self.product_body(draft)}

        def stock(product_id) -> dict:
            ref = {"product_id": product_id, "by_product": True}
            return {
                "method": "PUT",
                "path": ADJUST,
                "body": self.adjustment([(ref, draft.quantity)]),
            }

        if dry_run:
            return PublishResult(draft.sku, False, requests=(create, stock(NEW_PRODUCT)))
        try:
            product = self.send(create)["data"]
        except (ProviderRefused, ChannelUnreachable) as exc:
            return PublishResult(draft.sku, False, error=str(exc)[:400], requests=(create,))
        adjust = stock(product["id"])
        try:
            self.send(adjust)
        except (ProviderRefused, ChannelUnreachable) as exc:
            delete = {"method": "DELETE", "path": f"{PRODUCTS}/{product['id']}", "body": None}
            return publish_taken_back(draft.sku, exc, (create, adjust), delete, self.send)
        variant = product.get("base_variant_id")
        return PublishResult(
            draft.sku,
            True,
            external_id=str(variant or ""),
            ref={"variant_id": variant, "product_id": product["id"], "by_product": True},
            requests=(create, adjust),
        )

    def _push(self, updates, field: str, size: int, send) -> list[PushResult]:
        return push_in_halves(
            updates,
            field,
            size,
            send,
            ref="variant_id",
            missing="no BigCommerce variant for this SKU",
            split_on=(422,),
        )


def _shown_retail(value) -> Decimal | None:
    """The retail price a store shows: 0 or none is no retail price."""
    price = as_price(value)
    return price if price else None


def _weight(value) -> Decimal:
    """A draft's weight attribute as BigCommerce's required number (0 when the product has
    none, or none that is a number)."""
    try:
        weight = Decimal(str(value).strip()) if value not in (None, "") else Decimal(0)
    except ArithmeticError:
        return Decimal(0)
    return weight if weight.is_finite() and weight >= 0 else Decimal(0)


def rfc2822_time(value) -> dt.datetime | None:
    """A BigCommerce v2 time (RFC 2822: `Wed, 05 Dec 2018 20:16:55 +0000`) in UTC; None when
    absent or no time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
