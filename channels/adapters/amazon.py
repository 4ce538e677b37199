"""Amazon through the Selling Partner API: Listings Items 2021-08-01, Feeds 2021-06-30 and
Orders 2026-01-01.

- Auth: Login with Amazon. A refresh token is exchanged for an access token (about an hour);
  it is renewed before it expires and at once when the API answers that it has expired.
- Read: `searchListingsItems` (20 a page, `pageToken` pagination) with summaries, attributes,
  offers and fulfillmentAvailability; named SKUs are searched 20 at a time
  (`identifiersType=SKU`). The MRP is the listing's `list_price` attribute in the adapter's
  marketplace (None when it has none).
- Push, few SKUs: `patchListingsItem` per SKU (`/attributes/fulfillment_availability` for
  stock on the merchant-fulfilled channel, `/attributes/purchasable_offer` for the price, and
  `/attributes/list_price` beside it when the update carries an MRP); an INVALID submission is
  that SKU's error.
- Push, many SKUs: one JSON_LISTINGS_FEED (PATCH messages, up to 25,000 a feed): createFeedDocument,
  upload, createFeed, wait for DONE, read the processing report; a message with an ERROR issue is
  that SKU's error.
- The price is `merge`d into `purchasable_offer` (a `replace` would wipe what IMS does not
  send: handling time, sale price, minimum and maximum prices).
- Publish (an offer on Amazon's existing catalogue item, never a new item): the item is found
  by the draft's GTIN with Catalog Items 2022-04-01 `searchCatalogItems`
  (`identifiersType` UPC for a 12-digit barcode, EAN for 13, GTIN for 14; `includedData=
  summaries,productTypes`), or by the ASIN a person chose (an ASIN among the draft's aliases
  wins over the search). Exactly one item → `putListingsItem` with `requirements:
  LISTING_OFFER_ONLY`, the item's product type and the attributes merchant_suggested_asin,
  condition_type (new_new), purchasable_offer, list_price (the MRP) and
  fulfillment_availability; ACCEPTED is a listing whose id is the ASIN. No GTIN, no item or
  several items: unmatched, nothing written. A dry run searches but writes nothing.
- Orders (the order poll, the safety net for lost ORDER_CHANGE notifications): Orders
  2026-01-01 `searchOrders` (`GET /orders/2026-01-01/orders`; that version has no
  getOrders) with `lastUpdatedAfter`, the adapter's marketplace ids and
  `includedData=FULFILLMENT` (the status and who fulfils it; order items always come with
  the order), 100 a page, following `pagination.nextToken` as `paginationToken` with the
  same other parameters.
- A processing report may come gzipped (`compressionAlgorithm: GZIP`): it is unpacked.
- Rate limits per operation, no faster than the models' tables (rate per second and burst):
  patch 5/s, search 5/s, getListingsItem and putListingsItem 5/s burst 10,
  searchCatalogItems 2/s burst 2, createFeed 0.0083/s burst 15 (15 per
  31 minutes), getFeedDocument 0.0222/s burst 10, searchOrders 0.0056/s burst 20…; taken before each call; 429s wait as
  x-amzn-RateLimit-Limit and Retry-After say.

Settings (environment): `IMS_CHANNEL_<CODE>_LWA_CLIENT_ID`, `…_LWA_CLIENT_SECRET`,
`…_REFRESH_TOKEN`, `…_SELLER_ID` (secrets); `…_MARKETPLACE_ID` (default ATVPDKIKX0DER),
`…_LWA_URL` (default https://api.amazon.com/auth/o2/token), `…_FEED_THRESHOLD` (default 20).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import time
from collections.abc import Callable, Iterator, Sequence
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
CATALOG = "/catalog/2022-04-01/items"
INCLUDED = "summaries,attributes,offers,fulfillmentAvailability"
# A 10-character alias on an Amazon channel is an ASIN (a person chose the catalogue item).
ASIN = re.compile(r"[0-9A-Z]{10}")
# Each a burst over the time the documented rate takes to restore it (burst / rate per second).
RATES = {
    "default": "5/second",
    "searchListingsItems": "5/second",
    "getListingsItem": "10/2 seconds",
    "patchListingsItem": "5/second",
    "putListingsItem": "10/2 seconds",  # 5/s, burst 10
    "searchCatalogItems": "2/second",  # 2/s, burst 2
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
    capabilities = Capabilities(webhooks=True, publish=True)
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
            mrp=self._list_price(item.get("attributes") or {}),
        )

    def _list_price(self, attributes: dict):
        """The listing's `list_price` in the adapter's marketplace (`value_with_tax`, else
        `value`), or None."""
        for entry in attributes.get("list_price") or []:
            if entry.get("marketplace_id", self.marketplace) == self.marketplace:
                return as_price(entry.get("value_with_tax", entry.get("value")))
        return None

    # -- the attributes IMS writes (one shape for patches, feeds and new offers) --------
    def availability(self, quantity: int) -> list[dict]:
        return [{"fulfillment_channel_code": self.fulfillment, "quantity": quantity}]

    def offer(self, price, currency: str) -> list[dict]:
        return [
            {
                "marketplace_id": self.marketplace,
                "currency": currency,
                "our_price": [{"schedule": [{"value_with_tax": price}]}],
            }
        ]

    def list_price(self, mrp, currency: str) -> list[dict]:
        """The MRP as the Listings Items model's example writes `list_price`."""
        return [{"marketplace_id": self.marketplace, "currency": currency, "value": mrp}]

    # -- push ------------------------------------------------------------------------
    def stock_patches(self, u: StockUpdate) -> list[dict]:
        return [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": self.availability(u.quantity),
            }
        ]

    def price_patches(self, u: PriceUpdate) -> list[dict]:
        """The offer price merged into purchasable_offer and, when the update carries one, the
        MRP as list_price, in the same submission."""
        patches = [
            {
                "op": "merge",
                "path": "/attributes/purchasable_offer",
                "value": self.offer(u.price, u.currency),
            }
        ]
        if u.mrp is not None:
            patches.append(
                {
                    "op": "replace",
                    "path": "/attributes/list_price",
                    "value": self.list_price(u.mrp, u.currency),
                }
            )
        return patches

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        return self._push(updates, QUANTITY, self.stock_patches)

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        return self._push(updates, PRICE, self.price_patches)

    def _push(self, updates, field: str, patches) -> list[PushResult]:
        updates = list(updates)
        if len(updates) > self.feed_threshold:
            return self._feed(updates, field, patches)
        return [self._patch_one(u, field, patches(u)) for u in updates]

    def _patch_one(self, u, field: str, patches: list[dict]) -> PushResult:
        try:
            body = self.call(
                "PATCH",
                f"{LISTINGS}/{self.seller}/{quote(u.sku, safe='')}",
                operation="patchListingsItem",
                params={"marketplaceIds": self.marketplace},
                content=json_dumps(
                    {
                        "productType": u.ref.get("product_type") or GENERIC_PRODUCT_TYPE,
                        "patches": patches,
                    }
                ),
            )
        except ProviderRefused as exc:
            return PushResult(u.sku, field, False, exc.message[:400])
        if body.get("status") == "ACCEPTED":
            return PushResult(u.sku, field, True)
        return PushResult(u.sku, field, False, _refusal(body))

    def feed_document(self, updates, patches) -> dict:
        return {
            "header": {"sellerId": self.seller, "version": "2.0", "issueLocale": "en_US"},
            "messages": [
                {
                    "messageId": n,
                    "sku": u.sku,
                    "operationType": "PATCH",
                    "productType": u.ref.get("product_type") or GENERIC_PRODUCT_TYPE,
                    "patches": patches(u),
                }
                for n, u in enumerate(updates, start=1)
            ],
        }

    def _feed(self, updates, field: str, patches) -> list[PushResult]:
        document = self.feed_document(updates, patches)
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

    # -- publish: an offer on the catalogue item ------------------------------------------
    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """An offer of each draft on the one Amazon catalogue item its ASIN alias or GTIN
        finds (see the module); one result per draft, in order."""
        return [self._publish_one(draft, dry_run=dry_run) for draft in drafts]

    def _publish_one(self, draft: ListingDraft, *, dry_run: bool) -> PublishResult:
        asin = next((a for a in draft.aliases if ASIN.fullmatch(a)), "")
        if asin:
            search, named = (asin, "ASIN"), f"ASIN {asin}"
            fix = "correct the ASIN given as the product's alias for this channel"
        elif draft.gtin:
            search, named = _barcode(draft.gtin), f"GTIN {draft.gtin}"
            fix = "create it in Seller Central or correct the barcode"
        else:
            return PublishResult(
                draft.sku,
                False,
                unmatched=True,
                error=(
                    f"{draft.sku} has no barcode, and Amazon lists an offer on the catalogue "
                    "item its GTIN finds: add the barcode to the product, or its ASIN as the "
                    "product's alias for this channel"
                ),
            )
        try:
            items, found = self._catalog_search(*search)
        except ProviderRefused as exc:
            return PublishResult(draft.sku, False, error=exc.message[:400])
        if not found or not items:
            return PublishResult(
                draft.sku,
                False,
                unmatched=True,
                error=f"Amazon's catalogue has no item with {named}: {fix}",
            )
        if found > 1:
            asins = ", ".join(i["asin"] for i in items)
            return PublishResult(
                draft.sku,
                False,
                unmatched=True,
                error=(
                    f"Amazon's catalogue has {found} items with {named} ({asins}): choose "
                    "one and add its ASIN as the product's alias for this channel"
                ),
            )
        item = items[0]
        product_type = next(
            (
                t.get("productType")
                for t in item.get("productTypes") or []
                if t.get("marketplaceId") == self.marketplace and t.get("productType")
            ),
            GENERIC_PRODUCT_TYPE,
        )
        path = f"{LISTINGS}/{self.seller}/{quote(draft.sku, safe='')}"
        body = self.offer_listing(draft, item["asin"], product_type)
        request = {"method": "PUT", "path": path, "body": body}
        ref = {"product_type": product_type}
        if dry_run:
            return PublishResult(draft.sku, False, ref=ref, requests=(request,))
        try:
            answer = self.call(
                "PUT",
                path,
                operation="putListingsItem",
                params={"marketplaceIds": self.marketplace, "includedData": "identifiers,issues"},
                content=json_dumps(body),
            )
        except ProviderRefused as exc:
            return PublishResult(
                draft.sku, False, ref=ref, error=exc.message[:400], requests=(request,)
            )
        if answer.get("status") != "ACCEPTED":
            return PublishResult(
                draft.sku, False, ref=ref, error=_refusal(answer), requests=(request,)
            )
        return PublishResult(
            draft.sku, True, external_id=item["asin"], ref=ref, requests=(request,)
        )

    def offer_listing(self, draft: ListingDraft, asin: str, product_type: str) -> dict:
        """putListingsItem's body for an offer (sales terms only) on the catalogue item
        `asin`: the condition, our price, our MRP and the quantity."""
        marketplace = self.marketplace
        attributes = {
            "merchant_suggested_asin": [{"value": asin, "marketplace_id": marketplace}],
            "condition_type": [{"value": "new_new", "marketplace_id": marketplace}],
            "purchasable_offer": self.offer(draft.price, draft.currency),
            "fulfillment_availability": self.availability(draft.quantity),
        }
        if draft.mrp is not None:
            attributes["list_price"] = self.list_price(draft.mrp, draft.currency)
        return {
            "productType": product_type,
            "requirements": "LISTING_OFFER_ONLY",
            "attributes": attributes,
        }

    def _catalog_search(self, identifier: str, kind: str) -> tuple[list[dict], int]:
        """The catalogue items searchCatalogItems finds for one identifier in the adapter's
        marketplace, with their summaries and product types (the first page), and how many
        it found."""
        body = self.call(
            "GET",
            CATALOG,
            operation="searchCatalogItems",
            params={
                "identifiers": identifier,
                "identifiersType": kind,
                "marketplaceIds": self.marketplace,
                "includedData": "summaries,productTypes",
            },
        )
        items = [i for i in body.get("items") or [] if i.get("asin")]
        # More found than the first page holds is still several.
        return items, max(len(items), int(body.get("numberOfResults") or 0))


def _refusal(body: dict) -> str:
    """Why Amazon did not accept a submission: its ERROR issues, else its status."""
    issues = [i for i in body.get("issues") or [] if i.get("severity") == "ERROR"]
    message = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in issues)
    return message[:400] or f"status {body.get('status')}"


def _barcode(gtin: str) -> tuple[str, str]:
    """A GTIN-14 as searchCatalogItems takes it: a UPC (12 digits) or an EAN (13) where its
    leading zeros allow, else the GTIN."""
    if gtin.startswith("00"):
        return gtin[2:], "UPC"
    if gtin.startswith("0"):
        return gtin[1:], "EAN"
    return gtin, "GTIN"
