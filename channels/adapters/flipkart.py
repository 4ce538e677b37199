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
  Flipkart's error descriptions; `WARNING` is applied, its warnings logged. The MRP read is the
  listing's `price.mrp` (None when absent); a price update's own MRP goes before the one read.
- Publish (an offer on Flipkart's catalogue product, never a new product): `createListings`
  `POST /listings/v3` (`{sku: CreateListingRequest}`), one SKU a call, with `product_id` the
  product's FSN (16 upper-case letters and digits among its aliases for the channel, else its
  `fsn` attribute), `price` {mrp (the selling price when the product has none),
  selling_price, currency} in whole rupees, `tax` {hsn: the product's `hsn` attribute},
  `listing_status` ACTIVE, `fulfillment_profile` NON_FBF, `packages` (the product's
  `packages` attribute, else one package named by the SKU: ModelPackage requires only its
  name) and `locations` [{LOCATION_ID, ENABLED, the quantity}]. No FSN: unmatched, nothing
  sent; no HSN, no LOCATION_ID or an amount with paise: refused unsent. `SUCCESS` / `WARNING`
  is a listing whose id is the FSN; `FAILURE` carries Flipkart's error descriptions. A dry
  run sends nothing (Flipkart has no read the create depends on).

- Orders (the order poll: Flipkart has no webhooks IMS can receive), Orders/Shipments API v3:
  `POST /v3/shipments/filter` with `{"filter": {...}, "pagination": {"pageSize": 20}}`, then
  `GET` each answer's `nextPageUrl` while `hasMore`. One search per kind of change since the
  poll's `since`: `type: preDispatch` with the states APPROVED, PACKING_IN_PROGRESS,
  FORM_FAILED, PACKED, READY_TO_DISPATCH and `modifiedDate: {from, to}` (sorted by
  modifiedDate), and `type: cancelled`, state CANCELLED, `cancellationDate: {from, to}`, once
  per `cancellationType` (sellerCancellation, buyerCancellation, marketplaceCancellation: the
  filter takes one). Each shipment is one change (its `shipmentId`, its `updatedAt`), read by
  `orders.providers.flipkart`. Shipped shipments (postDispatch) are not listed: IMS records
  dispatch itself.
  What this rests on: the SDK `Flipkart/flipkart-seller-api-java-sdk` (commit f9f4536,
  2022-09-07): `docs/ShipmentV3Api.md` (searchPreDispatchShipmentPost `POST
  /v3/shipments/filter`; searchPreDispatchShipmentGet `GET /v3/shipments/filter?next_token=`,
  "just use the URL returned as nextPageUrl"; getShipmentDetailsByInternalId `GET
  /v3/shipments?shipmentIds=|orderIds=|orderItemIds=`), `docs/SearchShipmentRequest.md`,
  `Filter.md` (type, states, locationId, orderDate/modifiedDate/cancellationDate as
  `DateFilter {from, to}`, cancellationType), `Pagination.md` (pageSize), `Sort.md`,
  `SearchShipmentResponse.md` (hasMore, nextPageUrl, shipments), `Shipment.md`,
  `OrderItem.md` (orderItemId, orderId, status, quantity, sku, cancellationDate,
  cancellationReason, priceComponents), with the JSON names of
  `src/main/java/com/flipkart/api/seller/client/model/*.java` (camelCase `@JsonProperty`);
  Flipkart's page https://seller.flipkart.com/api-docs/order-api-docs/v3/PostShipmentSearch.html
  (type and states mandatory; preDispatch states as above; cancellationType mandatory for
  `cancelled`; "calling the URL returned in the next Page URL field gets the subsequent
  pages"), and its v2 search page (OrderSearchRef: pageSize at most 20). The date format
  (`2023-06-07T00:30:05Z`) is the one a seller integration logged in its requests
  (auperator.atlassian.net "Flipkart Partial Cancellation Doc"), which also shows a shipment
  as listed (quantity as `1.0`, times with `+05:30`).
- A token Flipkart refuses is a ProviderRefused naming the token call (the poll keeps it as
  its error); an unreachable token host, ChannelUnreachable.

Settings (environment): `IMS_CHANNEL_<CODE>_APP_ID`, `…_APP_SECRET` (secrets),
`…_LOCATION_ID` (the Flipkart warehouse location id; default: the one each listing shows; the
order poll lists only this location's shipments when it is set).
base_url is `https://api.flipkart.net/sellers`.
"""

from __future__ import annotations

import datetime as dt
import logging
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
from channels.adapters.http import HttpAdapter
from channels.errors import ChannelUnreachable, ProviderRefused
from ims.http import excerpt

MAX_SKUS = 10
APPLIED = ("SUCCESS", "WARNING")
SHIPMENTS = "/v3/shipments/filter"
PRE_DISPATCH = ("APPROVED", "PACKING_IN_PROGRESS", "FORM_FAILED", "PACKED", "READY_TO_DISPATCH")
CANCELLATION_TYPES = ("sellerCancellation", "buyerCancellation", "marketplaceCancellation")
PAGE_SIZE = 20
MAX_PAGES = 10_000  # a nextPageUrl that never ends is Flipkart's fault, not a reason to loop
LISTINGS = "/listings/v3"
# Flipkart's product id: 16 upper-case letters and digits (e.g. TSHFZ6GZHYGVRGZH).
FSN = re.compile(r"[0-9A-Z]{16}")

log = logging.getLogger("ims.sync")


class FlipkartAdapter(HttpAdapter):
    kind = "flipkart"
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ("APP_ID", "APP_SECRET")
    optional_settings: ClassVar[tuple[str, ...]] = ("LOCATION_ID",)
    stock_batch = MAX_SKUS
    price_batch = MAX_SKUS
    lists_all = False  # the engine names the SKUs to read
    capabilities = Capabilities(webhooks=True, publish=True)

    def __init__(self, config: AdapterConfig, *, clock: Callable[[], float] = time.time, **options):
        self.app = (config.secret("APP_ID"), config.secret("APP_SECRET"))
        self.location = config.setting("LOCATION_ID")
        self.clock = clock
        self.token_error = ""
        super().__init__(config, on_unauthorized=self._token, **options)
        self.expires_at = 0.0

    def _token(self) -> bool:
        """Get a token (True), or keep why Flipkart refused one in `token_error` (False)."""
        url = httpx.URL(self.config.base_url).copy_with(
            path="/oauth-service/oauth/token", query=None
        )
        try:
            response = self.client.http.get(
                url,
                params={"grant_type": "client_credentials", "scope": "Seller_Api"},
                auth=httpx.BasicAuth(*self.app),
            )
        except httpx.HTTPError as exc:
            raise ChannelUnreachable(
                f"{self.config.code}: GET {url}: {type(exc).__name__}: {exc}"
            ) from None
        token = None
        if response.status_code == 200:
            try:
                token = response.json().get("access_token")
            except (ValueError, AttributeError):
                token = None
        if not token:
            self.token_error = (
                f"{self.config.code}: Flipkart refused a token (GET {url}: HTTP "
                f"{response.status_code}: {excerpt(response)}); check "
                f"{self.config.env_prefix}APP_ID and {self.config.env_prefix}APP_SECRET"
            )
            return False
        body = response.json()
        self.client.http.headers["Authorization"] = f"Bearer {token}"
        self.expires_at = self.clock() + int(body.get("expires_in", 3600)) - 60
        self.token_error = ""
        return True

    def call(self, method: str, url: str, **kwargs):
        if self.clock() >= self.expires_at and not self._token():
            raise ProviderRefused(self.token_error, status=401)
        try:
            return json_loads(self.client.request(method, url, **kwargs).content)
        except ProviderRefused as exc:
            if exc.status in (401, 403) and self.token_error:
                raise ProviderRefused(self.token_error, status=exc.status) from None
            raise

    # --- orders (the order poll) ------------------------------------------------------

    def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]:
        """Shipments changed since `since`: new and changed before dispatch, and cancelled
        (see the module). A shipment listed by two searches is given once."""
        # Whole seconds: `from` rounded down, `to` (now) up, so no change falls between.
        until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
        window = {"from": _flipkart_time(since), "to": _flipkart_time(until)}
        searches = [
            {
                "filter": {
                    "type": "preDispatch",
                    "states": list(PRE_DISPATCH),
                    "modifiedDate": window,
                },
                "sort": {"field": "modifiedDate", "order": "asc"},
            }
        ] + [
            {
                "filter": {
                    "type": "cancelled",
                    "states": ["CANCELLED"],
                    "cancellationDate": window,
                    "cancellationType": kind,
                }
            }
            for kind in CANCELLATION_TYPES
        ]
        given: set[tuple[str, dt.datetime]] = set()
        for search in searches:
            if self.location:
                search["filter"]["locationId"] = self.location
            for shipment in self._shipments(search):
                shipment_id = str(shipment.get("shipmentId") or "")
                changed = _shipment_changed(shipment) or since
                if (shipment_id, changed) in given:
                    continue
                given.add((shipment_id, changed))
                yield OrderChange(
                    external_id=shipment_id,
                    changed_at=changed,
                    body=json_dumps(shipment).encode(),
                )

    def _shipments(self, search: dict) -> Iterator[dict]:
        """Every shipment a search finds: the first page by POST, the next ones by GET of
        the `nextPageUrl` Flipkart gives while `hasMore`."""
        answer = self.call(
            "POST", SHIPMENTS, content=json_dumps({**search, "pagination": {"pageSize": PAGE_SIZE}})
        )
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if not isinstance(answer, dict) or not isinstance(answer.get("shipments") or [], list):
                raise ProviderRefused(
                    f"{self.config.code}: {SHIPMENTS} answered no SearchShipmentResponse object"
                )
            yield from answer.get("shipments") or []
            next_url = answer.get("nextPageUrl")
            if not answer.get("hasMore") or not next_url:
                return
            if next_url in seen:
                raise ProviderRefused(
                    f"{self.config.code}: Flipkart gave the page {next_url} twice", status=None
                )
            seen.add(next_url)
            answer = self.call("GET", self._page_url(next_url))
        raise ProviderRefused(f"{self.config.code}: more than {MAX_PAGES} pages of shipments")

    def _page_url(self, next_url: str) -> str:
        """A `nextPageUrl` as a URL to call: absolute as given; a path under `/sellers` from
        the host; any other path from the API base (`/v3/shipments/filter?next_token=…`)."""
        if next_url.startswith(("http://", "https://")):
            return next_url
        base = httpx.URL(self.config.base_url)
        prefix = base.path.rstrip("/")
        if prefix and next_url.startswith(prefix + "/"):
            return str(base.copy_with(path="/", query=None)).rstrip("/") + next_url
        return next_url if next_url.startswith("/") else "/" + next_url

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
                    mrp=as_price(price.get("mrp")),
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

        refused = [
            PushResult(u.sku, PRICE, False, _paise(u.price, mrp(u)))
            for u in updates
            if _paise(u.price, mrp(u))
        ]
        sent = [u for u in updates if not _paise(u.price, mrp(u))]
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
                errors = _errors(status)
                if status.get("status") in APPLIED:
                    if errors:
                        log.info("flipkart %s: %s applied with warnings: %s", url, u.sku, errors)
                    results.append(PushResult(u.sku, field, True))
                else:
                    results.append(
                        PushResult(u.sku, field, False, errors[:400] or "no status for this SKU")
                    )
        return results

    # --- publish: a listing on Flipkart's catalogue product --------------------------------

    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """A listing of each draft on the Flipkart product its FSN names (see the module);
        one result per draft, in order."""
        return [self._publish_one(draft, dry_run=dry_run) for draft in drafts]

    def _publish_one(self, draft: ListingDraft, *, dry_run: bool) -> PublishResult:
        fsn = next((a for a in draft.aliases if FSN.fullmatch(a)), "") or str(
            draft.attributes.get("fsn") or ""
        )
        if not fsn:
            return PublishResult(
                draft.sku,
                False,
                unmatched=True,
                error=(
                    "Flipkart lists on an FSN: find the product in Flipkart's catalogue and add "
                    "its FSN as the product's alias for this channel"
                ),
            )
        mrp = draft.mrp if draft.mrp is not None else draft.price
        hsn = str(draft.attributes.get("hsn") or "")
        problem = _paise(draft.price, mrp)
        if not hsn:
            problem = (
                f"Flipkart needs the HSN code of {draft.sku} for its tax: add the attribute "
                "hsn to the product"
            )
        elif not self.location:
            problem = (
                f"Flipkart lists stock at a location: set {self.config.env_prefix}LOCATION_ID "
                "to the Flipkart warehouse location id"
            )
        if problem:
            return PublishResult(draft.sku, False, error=problem)
        body = {
            draft.sku: {
                "product_id": fsn,
                "price": {
                    "mrp": int(mrp),
                    "selling_price": int(draft.price),
                    "currency": draft.currency,
                },
                "tax": {"hsn": hsn},
                "listing_status": "ACTIVE",
                "fulfillment_profile": "NON_FBF",
                "packages": draft.attributes.get("packages") or [{"name": draft.sku}],
                "locations": [
                    {"id": self.location, "status": "ENABLED", "inventory": draft.quantity}
                ],
            }
        }
        request = {"method": "POST", "path": LISTINGS, "body": body}
        ref = {
            "product_id": fsn,
            "location_id": self.location,
            "location_status": "ENABLED",
            "mrp": str(int(mrp)),
        }
        if dry_run:
            return PublishResult(draft.sku, False, ref=ref, requests=(request,))
        try:
            answer = self.call("POST", LISTINGS, content=json_dumps(body))
        except ProviderRefused as exc:
            return PublishResult(
                draft.sku, False, ref=ref, error=exc.message[:400], requests=(request,)
            )
        status = (answer.get(draft.sku) if isinstance(answer, dict) else None) or {}
        if status.get("status") not in APPLIED:
            return PublishResult(
                draft.sku,
                False,
                ref=ref,
                error=_errors(status)[:400] or "Flipkart gave no status for this SKU",
                requests=(request,),
            )
        if status.get("errors"):
            log.info(
                "flipkart %s: %s listed with warnings: %s", LISTINGS, draft.sku, _errors(status)
            )
        return PublishResult(draft.sku, True, external_id=fsn, ref=ref, requests=(request,))


def _paise(price, mrp) -> str:
    """Why Flipkart cannot take this price and MRP (its amounts are whole rupees: the SDK's
    Price is Integer), or '' when it can."""
    if price % 1 or mrp % 1:
        return f"Flipkart takes whole rupees: {price} (MRP {mrp}) is not"
    return ""


def _errors(status: dict) -> str:
    """A ListingChangeResponse's errors and attribute errors, as one line."""
    return "; ".join(
        f"{e.get('attribute') + ': ' if e.get('attribute') else ''}{e.get('code')}: "
        f"{e.get('description')}"
        for e in [*(status.get("errors") or []), *(status.get("attribute_errors") or [])]
    )


def _flipkart_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shipment_changed(shipment: dict) -> dt.datetime | None:
    """A shipment's time of change: its `updatedAt`, else its items' latest cancellation or
    order date."""
    changed = utc_time(shipment.get("updatedAt"))
    if changed is not None:
        return changed
    items = [i for i in shipment.get("orderItems") or [] if isinstance(i, dict)]
    times = [
        t
        for i in items
        for t in (utc_time(i.get("cancellationDate")), utc_time(i.get("orderDate")))
        if t is not None
    ]
    return max(times) if times else None
