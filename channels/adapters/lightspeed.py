"""Lightspeed Retail (X-Series) POS through its REST API 2.0 / 2.1.

- Read: `GET /api/2.0/products` and `GET /api/2.0/inventory`, paged by version (`after=` the
  last page's `version.max`, until a page comes back empty); the count is the product's
  `inventory_level` at the channel's outlet, the price `price_excluding_tax`.
- Push: `PUT /api/2.1/products/{id}` per product (Lightspeed has no batch write): the price as
  `details.price_excluding_tax`, the count as `details.inventory: [{outlet_id, current_amount}]`.
- Rate limits: Lightspeed allows 300 requests per register plus 50, per 5 minutes (the
  limiter keeps to that, `…_REGISTERS` registers, default 1: 350 per 5 minutes);
  `X-RateLimit-Limit` / `X-RateLimit-Remaining` / `X-RateLimit-Reset`; a 429's `Retry-After`
  (or the reset time) is waited.
- Orders (the order poll, the safety net for `sale.update` webhooks): `GET /api/2.0/sales`,
  paged by version like the reads (`after=`, 1000 a page, until a page is empty); each sale
  as 2.0 lists it, read by `orders.providers.lightspeed`. The list has no time filter: it is
  ordered by version, Lightspeed's cursor for "changed since", so the poll keeps the version
  it reached (OrderPoll.position, `orders_reached`) and asks for what follows it. A channel's
  first poll has no version yet: it reads the list from the start once and takes only the
  sales changed since the poll's `since` (`updated_at`, else `created_at` / `sale_date`), the
  older ones being history IMS must not replay; each change is named by its version.
- MRP: Lightspeed shows none (a product has one retail price): `mrp` stays None and an MRP
  given with a price is not sent.
- Publish: `POST /api/2.0/products` with the product's `name` and `sku`, the documented way
  to create a standard product ("To create a new product, you send a POST request to
  …/api/2.0/products", the minimal payload `{"name": …}`, answered `{"data": ["<product
  id>"]}`: https://x-series-api.lightspeedhq.com/docs/products_creating_composites; `sku`
  optional, generated when absent:
  https://x-series-api.lightspeedhq.com/docs/products_variants_creating_variants). Then its
  price and count in one `PUT /api/2.1/products/{id}` (`details.price_excluding_tax`,
  `details.inventory` at the channel's outlet), the direct update the adapter pushes with
  (https://x-series-api.lightspeedhq.com/docs/inventory_updates). If that is refused the
  product is deleted again (`DELETE /api/2.0/products/{id}`, the 2.0 product resource's
  delete; no stored page of it was read): nothing is left half-created. The barcode is not
  sent: product codes are managed through the Product Actions API, whose body no page read
  here documents.
No machine-readable specification of this API is in ../shared/specs; the payloads follow
Lightspeed's published reference.

Settings (environment): `IMS_CHANNEL_<CODE>_ACCESS_TOKEN` (secret), `…_OUTLET_ID` (required),
`…_REGISTERS` (the store's registers, default 1);
base_url is `https://<domain prefix>.retail.lightspeed.app`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import ClassVar

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
    utc_time,
)
from channels.adapters.http import HttpAdapter
from channels.errors import ChannelNotConfigured, ChannelUnreachable, ProviderRefused


class LightspeedAdapter(HttpAdapter):
    kind = "lightspeed"
    capabilities = Capabilities(webhooks=True, publish=True)
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ("ACCESS_TOKEN", "OUTLET_ID")
    optional_settings: ClassVar[tuple[str, ...]] = ("REGISTERS",)
    stock_batch = 1
    price_batch = 1

    def __init__(self, config: AdapterConfig, **options):
        self.outlet = config.secret("OUTLET_ID")
        given = config.setting("REGISTERS", "1")
        if not (given.isascii() and given.isdigit() and int(given) > 0):
            raise ChannelNotConfigured(
                f"channel {config.code}: set {config.env_prefix}REGISTERS to the store's number "
                "of registers, a whole number from 1",
                extra={"variable": config.env_prefix + "REGISTERS"},
            )
        self.rates = {"default": f"{300 * int(given) + 50}/5 minutes"}
        self.reached = 0  # the last version a versioned list reached
        self.orders_reached = ""
        super().__init__(config, **options)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.secret('ACCESS_TOKEN')}"}

    orders_positioned = True  # the order poll resumes after the version it reached

    def _versioned(self, url: str, after: int = 0) -> Iterator[dict]:
        while True:
            body = json_loads(
                self.client.request("GET", url, params={"after": after, "page_size": 1000}).content
            )
            data = body.get("data") or []
            if not data:
                return
            yield from data
            after = (body.get("version") or {}).get("max") or max(d.get("version", 0) for d in data)
            self.reached = after

    def orders_changed(self, *, since: dt.datetime, after: str = "") -> Iterator[OrderChange]:
        """Sales whose version follows `after` (every sale changed since the last poll); with
        no `after` (a first poll), the sales changed since `since`. See the module."""
        start = int(after) if after.isascii() and after.isdigit() else 0
        self.reached = start
        self.orders_reached = ""
        for sale in self._versioned("/api/2.0/sales", after=start):
            changed = next(
                (
                    t
                    for t in (
                        utc_time(sale.get(k)) for k in ("updated_at", "created_at", "sale_date")
                    )
                    if t is not None
                ),
                None,
            )
            if not start and (changed is None or changed < since):
                continue  # history from before IMS polled (or a sale with no time to tell)
            yield OrderChange(
                external_id=str(sale.get("id") or ""),
                changed_at=changed or since,
                body=json_dumps(sale).encode(),
                version=str(sale.get("version") or ""),
            )
        self.orders_reached = str(self.reached) if self.reached else after

    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        wanted = set(skus) if skus is not None else None
        levels = {
            row["product_id"]: as_quantity(row.get("inventory_level"))
            for row in self._versioned("/api/2.0/inventory")
            if row.get("outlet_id") == self.outlet and not row.get("deleted_at")
        }
        for product in self._versioned("/api/2.0/products"):
            sku = product.get("sku") or ""
            if product.get("deleted_at") or not sku or (wanted is not None and sku not in wanted):
                continue
            yield ListingState(
                sku=sku,
                quantity=levels.get(product["id"]),
                price=as_price(product.get("price_excluding_tax")),
                currency=self.config.currency,
                external_id=product["id"],
                ref={"product_id": product["id"]},
            )

    def stock_details(self, quantity: int) -> dict:
        """The 2.1 update's `details` setting the count at the channel's outlet."""
        return {"inventory": [{"outlet_id": self.outlet, "current_amount": quantity}]}

    @staticmethod
    def price_details(price) -> dict:
        return {"price_excluding_tax": price}

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        return [
            self._put(u, QUANTITY, {"details": self.stock_details(u.quantity)}) for u in updates
        ]

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        return [self._put(u, PRICE, {"details": self.price_details(u.price)}) for u in updates]

    # -- publish -------------------------------------------------------------------------
    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """Create each draft's product, then its price and count (see the module); in a dry
        run, say what would be sent."""
        return [self._publish(draft, dry_run) for draft in drafts]

    def _publish(self, draft: ListingDraft, dry_run: bool) -> PublishResult:
        create = {
            "method": "POST",
            "path": "/api/2.0/products",
            "body": {"name": draft.name, "sku": draft.sku},
        }

        def update(product_id: str) -> dict:
            details = {**self.price_details(draft.price), **self.stock_details(draft.quantity)}
            return {
                "method": "PUT",
                "path": f"/api/2.1/products/{product_id}",
                "body": {"details": details},
            }

        if dry_run:
            return PublishResult(draft.sku, False, requests=(create, update("<new product id>")))
        try:
            answer = self.send(create)
        except (ProviderRefused, ChannelUnreachable) as exc:
            return PublishResult(draft.sku, False, error=str(exc)[:400], requests=(create,))
        ids = answer.get("data") or []
        if not ids:
            return PublishResult(
                draft.sku, False, error="Lightspeed named no product created", requests=(create,)
            )
        product_id = str(ids[0])
        priced = update(product_id)
        try:
            self.send(priced)
        except (ProviderRefused, ChannelUnreachable) as exc:
            delete = {"method": "DELETE", "path": f"/api/2.0/products/{product_id}", "body": None}
            return publish_taken_back(draft.sku, exc, (create, priced), delete, self.send)
        return PublishResult(
            draft.sku,
            True,
            external_id=product_id,
            ref={"product_id": product_id},
            requests=(create, priced),
        )

    def _put(self, u, field: str, body: dict) -> PushResult:
        if not u.ref.get("product_id"):
            return PushResult(u.sku, field, False, "no Lightspeed product for this SKU")
        try:
            self.client.request(
                "PUT", f"/api/2.1/products/{u.ref['product_id']}", content=json_dumps(body)
            )
        except ProviderRefused as exc:
            return PushResult(u.sku, field, False, exc.message[:400])
        return PushResult(u.sku, field, True)
