"""Shopify through the Admin GraphQL API (2026-04 by default; documents valid against the
published schema of the version sent).

- Read: `productVariants` (cursor pagination, 100 a page) with each variant's price, its
  compare-at price (the MRP; none when null) and its `available` quantity at the channel's location (`inventoryItem.inventoryLevel`).
- Stock: `inventorySetQuantities`, up to 250 quantities a call, compare-and-set: from 2026-04
  each quantity carries `changeFromQuantity` (always, `null` where nothing was read: Shopify
  requires the field) and the call an `@idempotent(key:)` (required from 2026-04; one key per
  call, the same when the call is sent again); before 2026-04, `compareQuantity`. A stale
  value is refused (CHANGE_FROM_QUANTITY_STALE, COMPARE_QUANTITY_STALE). A call is all or
  nothing: the items Shopify names in `userErrors` are reported and the rest are sent again.
- Prices: `productVariantsBulkUpdate` per product, 25 products aliased into one document; an
  update with an MRP sets the variant's `compareAtPrice` in the same input.
- Orders (the order poll, the safety net for lost webhooks): `orders(first:, after:,
  sortKey: UPDATED_AT, query: "updated_at:>='…'")`, oldest change first, cursor pagination,
  ORDER_PAGE orders of up to LINE_PAGE lines a page (a requested cost under Shopify's
  1,000-point single-query limit); an order with more lines has the rest read with
  `order(id:) { lineItems(first:, after:) }`. Each order is handed over as the GraphQL node,
  which `orders.providers.shopify` reads (`polled`) into the order its webhook gives.
- Publish: `productSet(synchronous: true)` creates a product of one variant (title, ACTIVE,
  the default "Title" option, SKU, barcode, price, compare-at price = MRP, tracked quantity
  at the location) in one call, or nothing (userErrors). productSet takes no
  `@idempotent(key:)` (its description documents none), so the SKU is read first: a SKU the
  shop lists already is reported as listed, not created again. A draft of a style (with
  option values: size, colour, material) is listed under the style's product, the one whose
  handle is the style code (`productByIdentifier`): a new variant there
  (`productVariantsBulkCreate`, new option values created with it), or, when the shop has no
  such product, productSet creates it with that handle, the style's name and the variant.
- Throttle: cost-based. Every answer carries `extensions.cost.throttleStatus`
  (maximumAvailable, currentlyAvailable, restoreRate); before a call the adapter waits until
  the bucket holds the call's expected cost, and a THROTTLED answer waits what is missing.

Settings (environment): `IMS_CHANNEL_<CODE>_ACCESS_TOKEN` (Admin API access token, secret;
the order poll needs the `read_orders` scope),
`…_LOCATION_ID` (a Location gid; default: the shop's first location), `…_API_VERSION`
(2026-04; Shopify answers a retired version with its oldest supported one, so the default
moves with the versions IMS's documents are checked against).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
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
    chunks,
    json_dumps,
    json_loads,
    listed_already,
    utc_time,
    variant_options,
)
from channels.adapters.http import HttpAdapter
from channels.errors import ChannelUnreachable, ProviderRefused

READ_PAGE = 100
# A first estimate of each document's cost per item (Shopify's documented calculation: one point
# per object, 2 + first × node for a connection, 10 per mutation), replaced by the
# requestedQueryCost Shopify reports once the operation has run.
FIRST_ESTIMATE = {
    "Variants": 5.0,
    "Publish": 11.0,
    "AddVariant": 11.0,
    "StyleProduct": 3.0,
    "FirstLocation": 3.0,
    "SetQuantities": 1.0,
    "Prices": 11.0,
}
SKU_FILTER = 50  # SKUs per `sku:… OR sku:…` search

# The order poll's pages: 10 orders × (6 + 4 × 20 lines) + 2 = 862 points requested, under
# Shopify's single-query limit of 1,000; the lines of a bigger order are read 100 a page.
ORDER_PAGE = 10
LINE_PAGE = 20
MORE_LINES_PAGE = 100
# Their requested cost a page (an order: itself, its customer and two contact objects, its
# lines' connection; a line: itself, its variant, its price's MoneyBag and MoneyV2).
FIRST_ESTIMATE["Orders"] = (2 + ORDER_PAGE * (1 + 3 + 2 + 4 * LINE_PAGE)) / ORDER_PAGE
FIRST_ESTIMATE["OrderLines"] = (1 + 2 + 4 * MORE_LINES_PAGE) / MORE_LINES_PAGE

VARIANTS_QUERY = """
query Variants($first: Int!, $after: String, $query: String, $locationId: ID!) {
  shop { currencyCode }
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      id
      sku
      barcode
      price
      compareAtPrice
      product { id }
      inventoryItem {
        id
        inventoryLevel(locationId: $locationId) {
          quantities(names: ["available"]) { name quantity }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

LOCATIONS_QUERY = """
query FirstLocation {
  locations(first: 1) { nodes { id } }
}
"""


# The order as its webhook carries it, in GraphQL: what orders.providers.shopify.polled reads.
ORDER_FIELDS = """
      id
      name
      createdAt
      updatedAt
      cancelledAt
      cancelReason
      test
      currencyCode
      displayFinancialStatus
      email
      phone
      customer {
        firstName
        lastName
        defaultEmailAddress { emailAddress }
        defaultPhoneNumber { phoneNumber }
      }
"""
LINE_FIELDS = """
        id
        sku
        quantity
        name
        requiresShipping
        isGiftCard
        variant { id }
        originalUnitPriceSet { shopMoney { amount } }
"""
ORDERS_QUERY = f"""
query Orders($first: Int!, $after: String, $query: String!, $lines: Int!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    nodes {{{ORDER_FIELDS}
      lineItems(first: $lines) {{
        nodes {{{LINE_FIELDS}        }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{
      nodes {{{LINE_FIELDS}      }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

API_VERSION = "2026-04"
# The first version whose inventory mutations take changeFromQuantity and @idempotent.
IDEMPOTENT_FROM = "2026-04"

SET_QUANTITIES = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

SET_QUANTITIES_BEFORE_2026_04 = """
mutation SetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
STALE = ("CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE")

STYLE_PRODUCT = """
query StyleProduct($handle: String!) {
  productByIdentifier(identifier: {handle: $handle}) {
    id
    options { name optionValues { name } }
  }
}
"""

# A variant added to its style's product (new option values are created with it).
ADD_VARIANT = """
mutation AddVariant($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkCreate(productId: $productId, variants: $variants) {
    productVariants { id sku inventoryItem { id } }
    userErrors { code field message }
  }
}
"""

# A new product of one variant: productSet (synchronous) creates the product, its default
# option, the variant and its quantity at the location in one call, or nothing.
PUBLISH = """
mutation Publish($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product {
      id
      variants(first: 1) { nodes { id sku inventoryItem { id } } }
    }
    userErrors { code field message }
  }
}
"""


def prices_document(count: int) -> str:
    """`count` productVariantsBulkUpdate calls aliased p0…pN in one mutation."""
    params = ", ".join(f"$p{i}: ID!, $v{i}: [ProductVariantsBulkInput!]!" for i in range(count))
    calls = "\n".join(
        f"  p{i}: productVariantsBulkUpdate(productId: $p{i}, variants: $v{i}, "
        f"allowPartialUpdates: true) {{\n"
        f"    productVariants {{ id price }}\n"
        f"    userErrors {{ code field message }}\n"
        f"  }}"
        for i in range(count)
    )
    return f"mutation Prices({params}) {{\n{calls}\n}}\n"


class ThrottleState:
    """Shopify's leaky bucket as its last answer described it, restored with time since."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.maximum: float | None = None
        self.available: float | None = None
        self.restore_rate: float | None = None
        self.at = 0.0
        self.lock = threading.Lock()

    def update(self, status: dict) -> None:
        with self.lock:
            self.maximum = float(status["maximumAvailable"])
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"])
            self.at = self.clock()

    def wait_for(self, cost: float) -> float:
        """Seconds until the bucket holds `cost` points (0 when it does, or nothing is known yet)."""
        with self.lock:
            if self.available is None or not self.restore_rate:
                return 0.0
            cost = min(cost, self.maximum or cost)
            now_available = min(
                self.maximum, self.available + (self.clock() - self.at) * self.restore_rate
            )
            # One point of margin: the bucket Shopify reports is rounded.
            return max(0.0, (cost + 1 - now_available) / self.restore_rate)

    def spend(self, cost: float) -> None:
        """Count a call about to be sent, so calls in a row do not all see the same bucket."""
        with self.lock:
            if self.available is not None:
                now = self.clock()
                self.available = (
                    min(self.maximum, self.available + (now - self.at) * self.restore_rate) - cost
                )
                self.at = now


class ShopifyAdapter(HttpAdapter):
    kind = "shopify"
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ("ACCESS_TOKEN",)
    optional_settings: ClassVar[tuple[str, ...]] = ("API_VERSION", "LOCATION_ID")
    capabilities = Capabilities(webhooks=True, compare_and_set=True, publish=True)
    # Cost is what Shopify limits; this only keeps one worker from hammering it.
    rates = {"default": "40/second"}
    stock_batch = 250
    price_batch = 250  # variants; grouped into documents of PRICE_PRODUCTS products
    PRICE_PRODUCTS = 25

    def __init__(
        self, config: AdapterConfig, *, clock: Callable[[], float] = time.monotonic, **options
    ):
        self.version = config.setting("API_VERSION", API_VERSION)
        super().__init__(config, **options)
        self.throttle = ThrottleState(clock)
        self.cost_per_item: dict[str, float] = {}
        self._location: str | None = config.setting("LOCATION_ID") or None
        self.throttled = 0

    def auth_headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self.config.secret("ACCESS_TOKEN")}

    # -- transport -----------------------------------------------------------
    def graphql(self, document: str, variables: dict, *, operation: str, items: int = 1) -> dict:
        """Run one document, paced by the cost bucket; THROTTLED answers wait and go again."""
        per_item = self.cost_per_item.get(operation, FIRST_ESTIMATE.get(operation, 1.0))
        expected = per_item * items + (10 if operation in ("SetQuantities",) else 0) * (
            operation not in self.cost_per_item
        )
        for _ in range(30):
            pause = self.throttle.wait_for(expected)
            if pause:
                self.sleep(pause)
            self.throttle.spend(expected)
            response = self.client.request(
                "POST",
                f"/admin/api/{self.version}/graphql.json",
                operation=operation,
                content=json_dumps({"query": document, "variables": variables}),
            )
            body = json_loads(response.content)
            cost = (body.get("extensions") or {}).get("cost") or {}
            if cost.get("throttleStatus"):
                self.throttle.update(cost["throttleStatus"])
            if cost.get("requestedQueryCost") is not None:
                self.cost_per_item[operation] = float(cost["requestedQueryCost"]) / max(items, 1)
                expected = float(cost["requestedQueryCost"])
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                self.throttled += 1
                self.client.failed_calls += 1
                self.sleep(max(self.throttle.wait_for(expected), 0.05))
                continue
            if errors:
                raise ProviderRefused(
                    f"{self.config.code}: {operation}: "
                    + "; ".join(str(e.get("message")) for e in errors)[:400]
                )
            return body["data"]
        raise ChannelUnreachable(f"{self.config.code}: {operation}: still throttled after 30 tries")

    def location_id(self) -> str:
        if self._location is None:
            data = self.graphql(LOCATIONS_QUERY, {}, operation="FirstLocation")
            nodes = data["locations"]["nodes"]
            if not nodes:
                raise ProviderRefused(f"{self.config.code}: the shop has no location")
            self._location = nodes[0]["id"]
        return self._location

    # -- read ----------------------------------------------------------------
    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        if skus is None:
            yield from self._variants(None)
            return
        for group in chunks(list(skus), SKU_FILTER):
            wanted = set(group)
            search = " OR ".join(f"sku:{_quote(s)}" for s in group)
            states = self._variants(search, page_size=len(group))
            yield from (state for state in states if state.sku in wanted)

    def _variants(self, search: str | None, page_size: int = READ_PAGE) -> Iterator[ListingState]:
        location = self.location_id()
        after = None
        while True:
            data = self.graphql(
                VARIANTS_QUERY,
                {"first": page_size, "after": after, "query": search, "locationId": location},
                operation="Variants",
                items=page_size,
            )
            currency = data["shop"]["currencyCode"]
            page = data["productVariants"]
            for node in page["nodes"]:
                yield _state(node, currency, location)
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    # -- orders (the order poll) ---------------------------------------------
    def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]:
        """Every order updated at or after `since`, oldest change first, as its GraphQL node
        with all its lines."""
        moment = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        variables = {"first": ORDER_PAGE, "query": f"updated_at:>='{moment}'", "lines": LINE_PAGE}
        after = None
        while True:
            data = self.graphql(
                ORDERS_QUERY, {**variables, "after": after}, operation="Orders", items=ORDER_PAGE
            )
            page = data["orders"]
            for node in page["nodes"]:
                lines = node["lineItems"]
                if lines["pageInfo"]["hasNextPage"]:
                    node = {**node, "lineItems": self._order_lines(node["id"], lines)}
                yield OrderChange(
                    external_id=legacy_id(node["id"]),
                    changed_at=utc_time(node.get("updatedAt")) or since,
                    body=json_dumps(node).encode(),
                )
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def _order_lines(self, order_id: str, first_page: dict) -> dict:
        """All the lines of an order whose first page said there are more."""
        nodes = list(first_page["nodes"])
        info = first_page["pageInfo"]
        while info["hasNextPage"]:
            data = self.graphql(
                ORDER_LINES_QUERY,
                {"id": order_id, "first": MORE_LINES_PAGE, "after": info["endCursor"]},
                operation="OrderLines",
                items=MORE_LINES_PAGE,
            )
            if data["order"] is None:
                raise ProviderRefused(f"{self.config.code}: order {order_id} is gone")
            page = data["order"]["lineItems"]
            nodes.extend(page["nodes"])
            info = page["pageInfo"]
        return {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": info["endCursor"]}}

    # -- push ----------------------------------------------------------------
    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        results: list[PushResult] = []
        for batch in chunks(list(updates), self.stock_batch):
            results.extend(self._set_quantities(list(batch)))
        return results

    def _set_quantities(self, batch: list[StockUpdate], again: bool = True) -> list[PushResult]:
        missing = [u for u in batch if not u.ref.get("inventory_item_id")]
        batch = [u for u in batch if u.ref.get("inventory_item_id")]
        results = [
            PushResult(u.sku, QUANTITY, False, "no Shopify inventory item for this SKU")
            for u in missing
        ]
        if not batch:
            return results
        location = self.location_id()
        idempotent = self.version >= IDEMPOTENT_FROM
        quantities = []
        for u in batch:
            item = {
                "inventoryItemId": u.ref["inventory_item_id"],
                "locationId": u.ref.get("location_id") or location,
                "quantity": u.quantity,
            }
            # Compare-and-set: Shopify refuses the write when the quantity is no longer `previous`.
            if idempotent:
                item["changeFromQuantity"] = u.previous
            elif u.previous is not None:
                item["compareQuantity"] = u.previous
            quantities.append(item)
        given = {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": f"ims://sync/{batch[0].key or 'push'}",
            "quantities": quantities,
        }
        if idempotent:
            document, variables = SET_QUANTITIES, {"input": given, "key": str(uuid.uuid4())}
        else:
            document = SET_QUANTITIES_BEFORE_2026_04
            variables = {"input": {**given, "ignoreCompareQuantity": False}}
        data = self.graphql(document, variables, operation="SetQuantities", items=len(batch))
        errors = data["inventorySetQuantities"]["userErrors"]
        if not errors:
            return results + [PushResult(u.sku, QUANTITY, True) for u in batch]
        by_index: dict[int, list[dict]] = defaultdict(list)
        general = []
        for error in errors:
            index = _index(error.get("field"), "quantities")
            (by_index[index] if index is not None and index < len(batch) else general).append(error)
        if general or not again:
            message = "; ".join(e["message"] for e in general or errors)[:400]
            return results + [
                _refused(u, by_index.get(i) or general or errors, QUANTITY, message)
                for i, u in enumerate(batch)
            ]
        # Shopify applied nothing: report the named items, send the others again.
        refused = [
            _refused(batch[i], errs, QUANTITY, "; ".join(e["message"] for e in errs))
            for i, errs in sorted(by_index.items())
        ]
        rest = [u for i, u in enumerate(batch) if i not in by_index]
        return results + refused + (self._set_quantities(rest, again=False) if rest else [])

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        results: list[PushResult] = []
        by_product: dict[str, list[PriceUpdate]] = defaultdict(list)
        for u in updates:
            if not (u.ref.get("variant_id") and u.ref.get("product_id")):
                results.append(PushResult(u.sku, PRICE, False, "no Shopify variant for this SKU"))
            else:
                by_product[u.ref["product_id"]].append(u)
        products = list(by_product.items())
        for group in chunks(products, self.PRICE_PRODUCTS):
            variables = {}
            for i, (product_id, items) in enumerate(group):
                variables[f"p{i}"] = product_id
                variables[f"v{i}"] = [_price_input(u) for u in items]
            data = self.graphql(
                prices_document(len(group)),
                variables,
                operation="Prices",
                items=len(group),
            )
            for i, (_product_id, items) in enumerate(group):
                errors = data[f"p{i}"]["userErrors"]
                by_index: dict[int, list[dict]] = defaultdict(list)
                for error in errors:
                    index = _index(error.get("field"), "variants")
                    by_index[index if index is not None else -1].append(error)
                for j, u in enumerate(items):
                    errs = by_index.get(j) or by_index.get(-1)
                    results.append(
                        PushResult(u.sku, PRICE, False, "; ".join(e["message"] for e in errs)[:400])
                        if errs
                        else PushResult(u.sku, PRICE, True)
                    )
        return results

    # -- publish -------------------------------------------------------------
    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """Create each draft's product (`productSet`, synchronous): its title, ACTIVE, one
        variant (the default "Title" option) with the SKU, barcode, price, the MRP as its
        compare-at price and its tracked quantity at the channel's location. A SKU the shop
        lists already is reported as listed and not sent again (a retry creates once); a
        refusal (userErrors) creates nothing and is the draft's error. A dry run only reads."""
        return [self._publish(draft, dry_run) for draft in drafts]

    def _publish(self, draft: ListingDraft, dry_run: bool) -> PublishResult:
        if listed := listed_already(self, draft.sku):
            return listed
        location = self.location_id()
        options = variant_options(draft) if draft.style else []
        product = self._style_product(draft.style) if options else None
        if product is None:
            document, operation, field = PUBLISH, "Publish", "productSet"
            variables = {"input": _product_input(draft, location, options)}
        else:
            have = [o["name"] for o in product["options"]]
            given = {name.lower(): value for name, value in options}
            if sorted(n.lower() for n in have) != sorted(given):
                return PublishResult(
                    draft.sku,
                    False,
                    error=f"the style {draft.style}'s product on Shopify has the options "
                    f"{', '.join(have)}; IMS gives it {', '.join(n for n, _ in options)}",
                )
            document, operation, field = ADD_VARIANT, "AddVariant", "productVariantsBulkCreate"
            variant = _variant_input(draft, [(n, given[n.lower()]) for n in have])
            variant["inventoryQuantities"] = [
                {"locationId": location, "availableQuantity": draft.quantity}
            ]
            variables = {"productId": product["id"], "variants": [variant]}
        sent = (
            {
                "method": "POST",
                "path": f"/admin/api/{self.version}/graphql.json",
                "body": {"query": document, "variables": variables},
            },
        )
        if dry_run:
            return PublishResult(draft.sku, False, requests=sent)
        try:
            data = self.graphql(document, variables, operation=operation)[field]
        except ProviderRefused as exc:  # the call itself refused: nothing was made
            return PublishResult(draft.sku, False, error=exc.message[:400], requests=sent)
        errors = data["userErrors"]
        if product is None:
            product = data.get("product") or {}
            nodes = (product.get("variants") or {}).get("nodes") or []
        else:
            nodes = data.get("productVariants") or []
        variant = next((v for v in nodes if v.get("sku") == draft.sku), None)
        if errors or variant is None:
            message = "; ".join(e["message"] for e in errors) or "Shopify created no variant"
            return PublishResult(draft.sku, False, error=message[:400], requests=sent)
        return PublishResult(
            draft.sku,
            True,
            external_id=variant["id"],
            ref={
                "variant_id": variant["id"],
                "product_id": product["id"],
                "inventory_item_id": (variant.get("inventoryItem") or {}).get("id"),
                "location_id": location,
            },
            requests=sent,
        )

    def _style_product(self, style: str) -> dict | None:
        """The product a style's variants are listed under (its handle: style_handle), with
        its options; None when the shop has none."""
        data = self.graphql(
            STYLE_PRODUCT, {"handle": style_handle(style)}, operation="StyleProduct"
        )
        return data["productByIdentifier"]


def style_handle(style: str) -> str:
    """The handle of a style's product: the style code in lower case, each run of other
    characters than letters and digits a hyphen (`TEE/2024` → "tee-2024")."""
    return re.sub(r"[^a-z0-9]+", "-", style.lower()).strip("-")


def _variant_input(draft: ListingDraft, options: list[tuple[str, str]]) -> dict:
    """A new variant: its option values, price, MRP as compare-at price, barcode, tracked SKU."""
    variant = {
        "optionValues": [{"optionName": name, "name": value} for name, value in options],
        "price": format(draft.price, "f"),
        "inventoryItem": {"sku": draft.sku, "tracked": True},
    }
    if draft.barcode:
        variant["barcode"] = draft.barcode
    if draft.mrp is not None:
        variant["compareAtPrice"] = format(draft.mrp, "f")
    return variant


def _product_input(draft: ListingDraft, location: str, options: list[tuple[str, str]]) -> dict:
    """The ProductSetInput of a draft: a product of one variant, under the default option, or
    (a style's first product) the style's product, its options those of the variant."""
    variant = _variant_input(draft, options or [("Title", "Default Title")])
    variant["inventoryQuantities"] = [
        {"locationId": location, "name": "available", "quantity": draft.quantity}
    ]
    given = {
        "title": draft.name,
        "status": "ACTIVE",
        "productOptions": [
            {"name": o["optionName"], "values": [{"name": o["name"]}]}
            for o in variant["optionValues"]
        ],
        "variants": [variant],
    }
    if options:
        given.update(title=draft.style_name or draft.style, handle=style_handle(draft.style))
    return given


def _state(node: dict, currency: str, location: str) -> ListingState:
    item = node.get("inventoryItem") or {}
    level = item.get("inventoryLevel")
    quantity = None
    if level:
        quantity = next(
            (q["quantity"] for q in level["quantities"] if q["name"] == "available"), None
        )
    return ListingState(
        sku=node.get("sku") or "",
        quantity=quantity,
        price=as_price(node.get("price")),
        currency=currency,
        external_id=node["id"],
        mrp=as_price(node.get("compareAtPrice")),
        barcode=node.get("barcode") or "",
        ref={
            "variant_id": node["id"],
            "product_id": (node.get("product") or {}).get("id"),
            "inventory_item_id": item.get("id"),
            "location_id": location,
        },
    )


def _price_input(u: PriceUpdate) -> dict:
    """A variant's new price, and its compare-at price (the MRP) where the update has one."""
    given = {"id": u.ref["variant_id"], "price": format(u.price, "f")}
    if u.mrp is not None:
        given["compareAtPrice"] = format(u.mrp, "f")
    return given


def legacy_id(gid) -> str:
    """The numeric id a GraphQL global id names (`gid://shopify/Order/450789469` → "450789469"),
    the id Shopify's REST bodies and webhooks carry; the text as it is when it names none."""
    value = "" if gid is None else str(gid)
    tail = value.rsplit("/", 1)[-1].split("?", 1)[0]
    return tail if value.startswith("gid://shopify/") and tail.isdigit() else value


def _index(path, collection: str) -> int | None:
    """The item a userError's field path names: ["input", "quantities", "3", …] → 3."""
    if not path:
        return None
    parts = list(path)
    if collection in parts:
        at = parts.index(collection) + 1
        if at < len(parts) and str(parts[at]).isdigit():
            return int(parts[at])
    return None


def _refused(u, errors: list[dict], field: str, message: str) -> PushResult:
    stale = any(e.get("code") in STALE for e in errors)
    return PushResult(u.sku, field, False, message[:400], stale=stale)


def _quote(sku: str) -> str:
    return '"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"'
