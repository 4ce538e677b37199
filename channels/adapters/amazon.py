"""Amazon through the Selling Partner API: Listings Items 2021-08-01, Feeds 2021-06-30 and
Orders 2026-01-01.

- Auth: Login with Amazon. A refresh token is exchanged for an access token (about an hour);
  it is renewed before it expires and at once when the API answers that it has expired.
- Read: `searchListingsItems` (20 a page, `pageToken` pagination) with summaries, offers and
  fulfillmentAvailability; named SKUs are searched 20 at a time (`identifiersType=SKU`).
- Push, few SKUs: `patchListingsItem` per SKU (`/attributes/fulfillment_availability` for
  stock on the merchant-fulfilled channel, `/attributes/purchasable_offer` for the price);
  an INVALID submission is that SKU's error.
- Push, many SKUs: one JSON_LISTINGS_FEED (PATCH messages, up to 25,000 a feed): createFeedDocument,
  upload, createFeed, wait for DONE, read the processing report; a message with an ERROR issue is
  that SKU's error.
- The price is `merge`d into `purchasable_offer` (a `replace` would wipe what IMS does not
  send: handling time, sale price, minimum and maximum prices).
- Orders (the order poll, the safety net for lost ORDER_CHANGE notifications): Orders
  2026-01-01 `searchOrders` (`GET /orders/2026-01-01/orders`; that version has no
  getOrders) with `lastUpdatedAfter`, the adapter's marketplace ids and
  `includedData=FULFILLMENT` (the status and who fulfils it; order items always come with
  the order), 100 a page, following `pagination.nextToken` as `paginationToken` with the
  same other parameters.
- A processing report may come gzipped (`compressionAlgorithm: GZIP`): it is unpacked.
- Rate limits per operation, no faster than the models' tables (rate per second and burst):
  patch 5/s, search 5/s, getListingsItem 5/s burst 10, createFeed 0.0083/s burst 15 (15 per
  31 minutes), getFeedDocument 0.0222/s burst 10, searchOrders 0.0056/s burst 20…; taken before each call; 429s wait as
  x-amzn-RateLimit-Limit and Retry-After say.

Settings (environment): `IMS_CHANNEL_<CODE>_LWA_CLIENT_ID`, `…_LWA_CLIENT_SECRET`,
`…_REFRESH_TOKEN`, `…_SELLER_ID` (secrets); `…_MARKETPLACE_ID` (default ATVPDKIKX0DER),
`…_LWA_URL` (default https://api.amazon.com/auth/o2/token), `…_FEED_THRESHOLD` (default 20).
"""

from __future__ import annotations

import datetime as dt
import gzip
import time
from collections.abc import Callable, Iterator, Sequence
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
    chunks,
    json_dumps,
    json_loads,
    utc_time,
)
from channels.adapters.http import HttpAdapter, ProviderClient
from channels.errors import ChannelUnreachable, ProviderRefused
from ims.http import RateLimiter

LISTINGS = "/listings/2021-08-01/items"
FEEDS = "/feeds/2021-06-30"
ORDERS = "/orders/2026-01-01/orders"
INCLUDED = "summaries,offers,fulfillmentAvailability"
# Each a burst over the time the documented rate takes to restore it (burst / rate per second).
RATES = {
    "default": "5/second",
    "searchListingsItems": "5/second",
    "getListingsItem": "10/2 seconds",
    "patchListingsItem": "5/second",
    "createFeedDocument": "15/30 seconds",  # 0.5/s, burst 15
    "createFeed": "15/31 minutes",  # 0.0083/s, burst 15
    "getFeed": "15/8 seconds",  # 2/s, burst 15
    "getFeedDocument": "10/8 minutes",  # 0.0222/s, burst 10
    "searchOrders": "20/3572 seconds",  # 0.0056/s, burst 20
}
GENERIC_PRODUCT_TYPE = "PRODUCT"  # Amazon's product type for offer-only changes


class AmazonAdapter(HttpAdapter):
    kind = "amazon"
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = (
        "SELLER_ID",
        "LWA_CLIENT_ID",
        "LWA_CLIENT_SECRET",
        "REFRESH_TOKEN",
    )
    optional_settings: ClassVar[tuple[str, ...]] = (
        "MARKETPLACE_ID",
        "LWA_URL",
        "FULFILLMENT_CHANNEL",
        "FEED_THRESHOLD",
        "FEED_POLL_SECONDS",
        "FEED_WAIT_SECONDS",
    )
    rates = RATES
    stock_batch = 25_000  # messages in one JSON_LISTINGS_FEED
    price_batch = 25_000

    def __init__(
        self,
        config: AdapterConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        **options,
    ):
        self.seller = config.secret("SELLER_ID")
        self.client_id = config.secret("LWA_CLIENT_ID")
        self.client_secret = config.secret("LWA_CLIENT_SECRET")
        self.refresh_token = config.secret("REFRESH_TOKEN")
        self.marketplace = config.setting("MARKETPLACE_ID", "ATVPDKIKX0DER")
        self.lwa_url = config.setting("LWA_URL", "https://api.amazon.com/auth/o2/token")
        self.fulfillment = config.setting("FULFILLMENT_CHANNEL", "DEFAULT")
        self.feed_threshold = int(config.setting("FEED_THRESHOLD", "20"))
        self.feed_poll = float(config.setting("FEED_POLL_SECONDS", "15"))
        self.feed_wait = float(config.setting("FEED_WAIT_SECONDS", "1200"))
        self.clock = clock
        super().__init__(config, transport=transport, on_unauthorized=self._refresh, **options)
        # Token and uploads go to other hosts (LWA, the presigned document URLs).
        self.outside = ProviderClient(
            channel=config.code, base_url="", transport=transport, sleep=self.sleep
        )
        self.expires_at = 0.0

    def limiter(self) -> RateLimiter:
        """Per operation, and waited through the adapter's own sleep."""
        return RateLimiter(key=f"amazon:{self.config.code}", rates=self.rates, sleep=self.sleep)

    def close(self) -> None:
        super().close()
        self.outside.close()

    # -- auth ------------------------------------------------------------------------
    def _refresh(self) -> bool:
        response = self.outside.request(
            "POST",
            self.lwa_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.refresh_token,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        body = response.json()
        self.client.http.headers["x-amz-access-token"] = body["access_token"]
        self.expires_at = self.clock() + int(body.get("expires_in", 3600)) - 60
        return True

    def call(self, method: str, url: str, *, operation: str, **kwargs) -> dict:
        if self.clock() >= self.expires_at:
            self._refresh()
        response = self.client.request(method, url, operation=operation, **kwargs)
        return json_loads(response.content) if response.content else {}

    # -- read ------------------------------------------------------------------------
    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        if skus is None:
            yield from self._search({})
            return
        for group in chunks(list(skus), 20):
            yield from self._search({"identifiers": ",".join(group), "identifiersType": "SKU"})

    def _search(self, extra: dict) -> Iterator[ListingState]:
        token = None
        while True:
            params = {
                "marketplaceIds": self.marketplace,
                "includedData": INCLUDED,
                "pageSize": 20,
                **extra,
            }
            if token:
                params["pageToken"] = token
            body = self.call(
                "GET",
                f"{LISTINGS}/{self.seller}",
                operation="searchListingsItems",
                params=params,
            )
            for item in body.get("items", []):
                yield self._state(item)
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                return

    def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]:
        """Orders updated at or after `since` in the adapter's marketplaces (any status, any
        fulfilment), each as searchOrders lists it with its items and fulfilment."""
        params = {
            "lastUpdatedAfter": since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "marketplaceIds": self.marketplace,
            "includedData": "FULFILLMENT",
            "maxResultsPerPage": 100,
        }
        token = None
        while True:
            body = self.call(
                "GET",
                ORDERS,
                operation="searchOrders",
                params={**params, "paginationToken": token} if token else params,
            )
            for order in body.get("orders") or []:
                yield OrderChange(
                    external_id=str(order.get("orderId")),
                    changed_at=utc_time(order.get("lastUpdatedTime")) or since,
                    body=json_dumps(order).encode(),
                )
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                return

    def _state(self, item: dict) -> ListingState:
        summary = next(
            (s for s in item.get("summaries") or [] if s.get("marketplaceId") == self.marketplace),
            {},
        )
        offer = next(
            (
                o
                for o in item.get("offers") or []
                if o.get("marketplaceId") == self.marketplace and o.get("offerType") == "B2C"
            ),
            None,
        )
        availability = next(
            (
                a
                for a in item.get("fulfillmentAvailability") or []
                if a.get("fulfillmentChannelCode") == self.fulfillment
            ),
            None,
        )
        return ListingState(
            sku=item["sku"],
            quantity=availability.get("quantity") if availability else None,
            price=as_price(offer["price"]["amount"]) if offer else None,
            currency=offer["price"]["currencyCode"] if offer else self.config.currency,
            external_id=summary.get("asin", ""),
            ref={"product_type": summary.get("productType") or GENERIC_PRODUCT_TYPE},
        )

    # -- push ------------------------------------------------------------------------
    def stock_patch(self, u: StockUpdate) -> dict:
        return {
            "op": "replace",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": self.fulfillment, "quantity": u.quantity}],
        }

    def price_patch(self, u: PriceUpdate) -> dict:
        return {
            "op": "merge",
            "path": "/attributes/purchasable_offer",
            "value": [
                {
                    "marketplace_id": self.marketplace,
                    "currency": u.currency,
                    "our_price": [{"schedule": [{"value_with_tax": u.price}]}],
                }
            ],
        }

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        return self._push(updates, QUANTITY, self.stock_patch)

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        return self._push(updates, PRICE, self.price_patch)

    def _push(self, updates, field: str, patch) -> list[PushResult]:
        updates = list(updates)
        if len(updates) > self.feed_threshold:
            return self._feed(updates, field, patch)
        return [self._patch_one(u, field, patch(u)) for u in updates]

    def _patch_one(self, u, field: str, patch: dict) -> PushResult:
        try:
            body = self.call(
                "PATCH",
                f"{LISTINGS}/{self.seller}/{quote(u.sku, safe='')}",
                operation="patchListingsItem",
                params={"marketplaceIds": self.marketplace},
                content=json_dumps(
                    {
                        "productType": u.ref.get("product_type") or GENERIC_PRODUCT_TYPE,
                        "patches": [patch],
                    }
                ),
            )
        except ProviderRefused as exc:
            return PushResult(u.sku, field, False, exc.message[:400])
        if body.get("status") == "ACCEPTED":
            return PushResult(u.sku, field, True)
        issues = [i for i in body.get("issues") or [] if i.get("severity") == "ERROR"]
        message = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in issues)
        return PushResult(u.sku, field, False, message[:400] or f"status {body.get('status')}")

    def feed_document(self, updates, patch) -> dict:
        return {
            "header": {"sellerId": self.seller, "version": "2.0", "issueLocale": "en_US"},
            "messages": [
                {
                    "messageId": n,
                    "sku": u.sku,
                    "operationType": "PATCH",
                    "productType": u.ref.get("product_type") or GENERIC_PRODUCT_TYPE,
                    "patches": [patch(u)],
                }
                for n, u in enumerate(updates, start=1)
            ],
        }

    def _feed(self, updates, field: str, patch) -> list[PushResult]:
        document = self.feed_document(updates, patch)
        content_type = "application/json; charset=UTF-8"
        created = self.call(
            "POST",
            f"{FEEDS}/documents",
            operation="createFeedDocument",
            content=json_dumps({"contentType": content_type}),
        )
        self.outside.request(
            "PUT",
            created["url"],
            content=json_dumps(document).encode(),
            headers={"Content-Type": content_type},
        )
        feed = self.call(
            "POST",
            f"{FEEDS}/feeds",
            operation="createFeed",
            content=json_dumps(
                {
                    "feedType": "JSON_LISTINGS_FEED",
                    "marketplaceIds": [self.marketplace],
                    "inputFeedDocumentId": created["feedDocumentId"],
                }
            ),
        )
        status = self._wait_for_feed(feed["feedId"])
        if status.get("processingStatus") != "DONE":
            raise ProviderRefused(
                f"{self.config.code}: feed {feed['feedId']} ended {status.get('processingStatus')}"
            )
        result = self.call(
            "GET",
            f"{FEEDS}/documents/{status['resultFeedDocumentId']}",
            operation="getFeedDocument",
        )
        content = self.outside.request("GET", result["url"]).content
        if result.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        report = json_loads(content)
        errors: dict[int, list[str]] = {}
        for issue in report.get("issues") or []:
            if issue.get("severity") == "ERROR" and issue.get("messageId"):
                errors.setdefault(issue["messageId"], []).append(
                    f"{issue.get('code')}: {issue.get('message')}"
                )
        return [
            PushResult(u.sku, field, False, "; ".join(errors[n])[:400])
            if n in errors
            else PushResult(u.sku, field, True)
            for n, u in enumerate(updates, start=1)
        ]

    def _wait_for_feed(self, feed_id: str) -> dict:
        waited = 0.0
        while True:
            status = self.call("GET", f"{FEEDS}/feeds/{feed_id}", operation="getFeed")
            if status.get("processingStatus") in ("DONE", "CANCELLED", "FATAL"):
                return status
            if waited >= self.feed_wait:
                raise ChannelUnreachable(
                    f"{self.config.code}: feed {feed_id} still {status.get('processingStatus')} "
                    f"after {waited:.0f} s"
                )
            self.sleep(self.feed_poll)
            waited += self.feed_poll
