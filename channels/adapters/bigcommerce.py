"""BigCommerce through its REST API (catalog v3 variants, inventory v3 absolute adjustments).

- Read: `GET /v3/catalog/variants` 250 a page (meta.pagination current_page / total_pages).
  The endpoint's documented filters take one SKU (`sku=`), not a list: a few named SKUs are
  read one call each, more by reading the pages and keeping those named. A variant without
  its own price shows its product's (`calculated_price`).
- Stock: `PUT /v3/inventory/adjustments/absolute` with `{reason, items: [{location_id,
  variant_id | product_id, quantity}]}`, up to 2,000 items a call. A product without
  variants (its one base variant has no option values) is tracked by product and adjusted by
  `product_id`: BigCommerce refuses its variant id with 422 "tracked by product".
- Prices: `PUT /v3/catalog/variants` (batch) with `[{id, price}]`, up to 50 a call.
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

Settings (environment): `IMS_CHANNEL_<CODE>_ACCESS_TOKEN` (secret), `…_LOCATION_ID` (default 1);
base_url is `https://api.bigcommerce.com/stores/<store hash>`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator, Sequence
from typing import ClassVar
from urllib.parse import quote

import httpx

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    ListingState,
    OrderChange,
    PriceUpdate,
    PushResult,
    StockUpdate,
    as_price,
    as_quantity,
    json_dumps,
    json_loads,
    push_in_halves,
)
from channels.adapters.http import HttpAdapter
from channels.errors import ProviderRefused

# Named SKUs up to this many are read one `sku=` call each; more, by reading every page.
ONE_BY_ONE = 10
# v2 lists (orders, an order's products): asked this many a page. A page shorter than the
# documented default (50) is the last whatever the store's own maximum.
V2_LIMIT = 250
V2_DEFAULT = 50


class BigCommerceAdapter(HttpAdapter):
    kind = "bigcommerce"
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

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
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
                self._call(
                    "GET", "/v3/catalog/variants", params={**params, "limit": 250, "page": page}
                ).content
            )
            for variant in body["data"]:
                price = variant.get("price")
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
                )
            pagination = body.get("meta", {}).get("pagination", {})
            if pagination.get("current_page", page) >= pagination.get("total_pages", page):
                return
            page += 1

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
        response = self._call("GET", path, params=params)
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
            self._call(
                "PUT",
                "/v3/inventory/adjustments/absolute",
                content=json_dumps(
                    {
                        "reason": "IMS sync",
                        "items": [
                            {
                                "location_id": self.location,
                                **(
                                    {"product_id": u.ref["product_id"]}
                                    if u.ref.get("by_product")
                                    else {"variant_id": u.ref["variant_id"]}
                                ),
                                "quantity": u.quantity,
                            }
                            for u in batch
                        ],
                    }
                ),
            )

        return self._push(updates, QUANTITY, self.stock_batch, send)

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        def send(batch):
            self._call(
                "PUT",
                "/v3/catalog/variants",
                content=json_dumps([{"id": u.ref["variant_id"], "price": u.price} for u in batch]),
            )

        return self._push(updates, PRICE, self.price_batch, send)

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
