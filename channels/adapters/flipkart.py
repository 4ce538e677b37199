"""Flipkart through the Marketplace Seller API, listings v3.

- Auth: OAuth client credentials at the API host's root, not under `/sellers`
  (`https://api.flipkart.net/oauth-service/oauth/token?grant_type=client_credentials
  &scope=Seller_Api`, HTTP Basic with the application id and secret), renewed before it expires
  and when the API answers 401.
- Read: `GET /listings/v3/{sku,sku,…}`, at most 10 SKUs a call (Flipkart cannot list every
  listing: IMS names the SKUs it expects). Price is MRP + selling price; stock per location.
- Push: `POST /listings/v3/update/price` (`{sku: {product_id, price: {mrp, selling_price,
  currency}}}`) and `POST /listings/v3/update/inventory` (`{sku: {product_id, locations:
  [{id, status, inventory}]}}`), at most 10 SKUs a call. Price amounts are integers (whole
  rupees, the SDK's `Price`): a price with paise is refused here, unsent, rather than rounded.
  The answer is HTTP 200 with a status per SKU: `FAILURE` is that SKU's refusal with
  Flipkart's error descriptions; `WARNING` is applied, its warnings logged.

Settings (environment): `IMS_CHANNEL_<CODE>_APP_ID`, `…_APP_SECRET` (secrets),
`…_LOCATION_ID` (the Flipkart warehouse location id; default: the one each listing shows).
base_url is `https://api.flipkart.net/sellers`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote

import httpx

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    ListingState,
    PriceUpdate,
    PushResult,
    StockUpdate,
    as_price,
    chunks,
    json_dumps,
    json_loads,
)
from channels.adapters.http import HttpAdapter

MAX_SKUS = 10
APPLIED = ("SUCCESS", "WARNING")

log = logging.getLogger("ims.sync")


class FlipkartAdapter(HttpAdapter):
    kind = "flipkart"
    stock_batch = MAX_SKUS
    price_batch = MAX_SKUS
    lists_all = False  # the engine names the SKUs to read

    def __init__(self, config: AdapterConfig, *, clock: Callable[[], float] = time.time, **options):
        self.app = (config.secret("APP_ID"), config.secret("APP_SECRET"))
        self.location = config.setting("LOCATION_ID")
        self.clock = clock
        super().__init__(config, on_unauthorized=self._token, **options)
        self.expires_at = 0.0

    def _token(self) -> bool:
        response = self.client.http.get(
            httpx.URL(self.config.base_url).copy_with(
                path="/oauth-service/oauth/token", query=None
            ),
            params={"grant_type": "client_credentials", "scope": "Seller_Api"},
            auth=httpx.BasicAuth(*self.app),
        )
        if response.status_code != 200:
            return False
        body = response.json()
        self.client.http.headers["Authorization"] = f"Bearer {body['access_token']}"
        self.expires_at = self.clock() + int(body.get("expires_in", 3600)) - 60
        return True

    def call(self, method: str, url: str, **kwargs):
        if self.clock() >= self.expires_at:
            self._token()
        return json_loads(self.client.request(method, url, **kwargs).content)

    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        for group in chunks(list(skus or []), MAX_SKUS):
            body = self.call("GET", "/listings/v3/" + ",".join(quote(s, safe="") for s in group))
            for sku, listing in (body.get("available") or {}).items():
                price = listing.get("price") or {}
                locations = listing.get("locations") or []
                location = next(
                    (loc for loc in locations if not self.location or loc["id"] == self.location),
                    None,
                )
                yield ListingState(
                    sku=sku,
                    quantity=location.get("inventory") if location else None,
                    price=as_price(price.get("selling_price")),
                    currency=price.get("currency") or self.config.currency,
                    external_id=listing.get("product_id", ""),
                    ref={
                        "product_id": listing.get("product_id"),
                        "location_id": location["id"] if location else self.location,
                        "location_status": (location or {}).get("status") or "ENABLED",
                        "mrp": str(price.get("mrp")) if price.get("mrp") is not None else None,
                    },
                )

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        def mrp(u: PriceUpdate):
            return u.mrp if u.mrp is not None else as_price(u.ref.get("mrp")) or u.price

        def body(u: PriceUpdate) -> dict:
            return {
                "product_id": u.ref.get("product_id"),
                "price": {
                    "mrp": int(mrp(u)),
                    "selling_price": int(u.price),
                    "currency": u.currency,
                },
            }

        def whole(u: PriceUpdate) -> bool:
            return not (u.price % 1 or mrp(u) % 1)

        paise = [u for u in updates if not whole(u)]
        refused = [
            PushResult(
                u.sku, PRICE, False, f"Flipkart takes whole rupees: {u.price} (MRP {mrp(u)}) is not"
            )
            for u in paise
        ]
        sent = [u for u in updates if whole(u)]
        return refused + self._post("/listings/v3/update/price", sent, PRICE, body)

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        def body(u: StockUpdate) -> dict:
            return {
                "product_id": u.ref.get("product_id"),
                "locations": [
                    {
                        "id": u.ref.get("location_id") or self.location,
                        "status": u.ref.get("location_status") or "ENABLED",
                        "inventory": u.quantity,
                    }
                ],
            }

        return self._post("/listings/v3/update/inventory", updates, QUANTITY, body)

    def _post(self, url: str, updates, field: str, body) -> list[PushResult]:
        results = []
        for group in chunks(list(updates), MAX_SKUS):
            answer = self.call("POST", url, content=json_dumps({u.sku: body(u) for u in group}))
            for u in group:
                status = answer.get(u.sku) or {}
                errors = "; ".join(
                    f"{e.get('code')}: {e.get('description')}" for e in status.get("errors", [])
                )
                if status.get("status") in APPLIED:
                    if errors:
                        log.info("flipkart %s: %s applied with warnings: %s", url, u.sku, errors)
                    results.append(PushResult(u.sku, field, True))
                else:
                    results.append(
                        PushResult(u.sku, field, False, errors[:400] or "no status for this SKU")
                    )
        return results
