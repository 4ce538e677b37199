"""A local fake of the Shopify Admin GraphQL API: just the operations IMS uses, from Shopify's
documented payloads, every document validated against the published schema of the version in
its URL (2025-01 or 2026-04; another is 404 here). From 2026-04 it also keeps the two rules
the schema cannot enforce: `inventorySetQuantities` needs `@idempotent(key:)` and every
quantity a `changeFromQuantity` (even null); a key seen again answers what it answered then,
and a stale changeFromQuantity is CHANGE_FROM_QUANTITY_STALE.

Throttle: a leaky bucket as Shopify documents it (maximumAvailable points, restored at
restoreRate points a second; a call asking more than is available is answered THROTTLED with
HTTP 200). The standard plan is 100 points/s with a 2,000-point bucket. Query cost follows
Shopify's documented method (objects 1 point, scalars 0, a connection 2 + first × its node's
cost); a mutation costs 10 points plus 1 per item in its input (quantities, variants), a
stricter model than Shopify's flat 10 so that bulk pushes really meet the throttle.

Products: `productSet` (synchronous) creates a product and its variants, all or nothing
(a blank title, variants without productOptions or with an option value the options do not
have, a negative price, a location not the shop's: userErrors, nothing created); the variant
is then read like any other (`productVariants`), its compare-at price with it.
`productByIdentifier` (id or handle) finds a product productSet made, with its options, and
`productVariantsBulkCreate` adds variants to it (a value for each of its options, new values
added; an existing combination, a negative price, another location: userErrors).

Orders: `add_order(body)` keeps an order as Shopify's REST body (what its webhook carries: the
shared REST samples, tests.orders.payloads.shopify_order); the `orders` query (sortKey,
`updated_at:>=` search, cursors) and `order(id:)` answer its GraphQL view (`graphql_order`),
run through graphql-core against the schema itself, so an answer is projected onto the
document's selection and every value is checked against its field's type (non-null, enum
values, Shopify's scalar forms: standins.specs.shopify_schema). A query whose requested
cost is over Shopify's single-query limit (1,000 points) is refused (MAX_COST_EXCEEDED).

Use `handle` as an httpx.MockTransport handler, or `serve()` for real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import json
import math
import re
import threading
import time
from collections import Counter
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from standins.specs import SHOPIFY_VERSIONS, shopify_schema

STANDARD_PLAN = {"maximum": 2000.0, "restore_rate": 100.0}
MAX_QUERY_COST = 1000  # Shopify's single-query limit
# Root fields answered by executing the document against the schema (see the module).
EXECUTED = {"orders", "order"}


class FakeShopify:
    def __init__(
        self,
        *,
        token: str = "shpat_test",
        maximum: float = 2000.0,
        restore_rate: float = 100.0,
        location: str = "gid://shopify/Location/1",
        currency: str = "USD",
        clock=time.monotonic,
    ):
        self.token = token
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.available = maximum
        self.clock = clock
        self.last = clock()
        self.location = location
        self.currency = currency
        self.variants: dict[str, dict] = {}
        self.by_sku: dict[str, str] = {}
        self.faults: list = []  # statuses (int) or "timeout", used one per request
        self.refuse: dict[str, str] = {}  # sku → userError code for quantity writes
        self.requests: list[str] = []  # operation names in order
        self.writes: Counter = Counter()  # (sku, field) → writes applied
        self.points = 0.0
        self.throttled = 0
        self.versions: list[str] = []  # the API version of each request
        self.idempotent: dict[str, tuple] = {}  # key → (arguments, answer)
        self.created = 0  # products productSet created
        # Products productSet created: gid → {"handle", "options": {name: [values]}}.
        self.products: dict[str, dict] = {}
        self.orders: dict[str, dict] = {}  # order id → its REST body (as its webhook carries it)
        self.lock = threading.Lock()

    # -- the shop's data ------------------------------------------------------
    def add(
        self,
        sku: str,
        quantity: int | None,
        price,
        *,
        barcode: str = "",
        product: str = "",
        mrp=None,
        title: str = "",
    ) -> dict:
        n = len(self.variants) + 1
        variant = {
            "id": f"gid://shopify/ProductVariant/{n}",
            "sku": sku,
            "barcode": barcode,
            "price": Decimal(str(price)),
            "compare_at": None if mrp is None else Decimal(str(mrp)),
            "product": product or f"gid://shopify/Product/{n}",
            "title": title or sku,
            "options": {},
            "item": f"gid://shopify/InventoryItem/{n}",
            "available": quantity,
        }
        self.variants[variant["id"]] = variant
        self.by_sku[sku] = variant["id"]
        return variant

    def variant(self, sku: str) -> dict:
        return self.variants[self.by_sku[sku]]

    def add_order(self, order: dict) -> dict:
        """Keep (or replace) an order, given as Shopify's REST body of it."""
        with self.lock:
            self.orders[str(order["id"])] = copy.deepcopy(order)
        return order

    # -- HTTP -------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        status, body = self.respond(
            request.method, request.url.path, dict(request.headers), request.content
        )
        if status == "timeout":
            raise httpx.ReadTimeout("fake timeout", request=request)
        return httpx.Response(
            status, content=body, headers={"Content-Type": "application/json", "Retry-After": "0"}
        )

    def respond(self, method: str, path: str, headers: dict, content: bytes):
        with self.lock:
            if self.faults:
                fault = self.faults.pop(0)
                if fault == "timeout":
                    return "timeout", b""
                return fault, json.dumps({"errors": f"fault {fault}"}).encode()
            version = path.removeprefix("/admin/api/").removesuffix("/graphql.json")
            if method != "POST" or version not in SHOPIFY_VERSIONS:
                return 404, b'{"errors":"Not Found"}'
            lowered = {k.lower(): v for k, v in headers.items()}
            if lowered.get("x-shopify-access-token") != self.token:
                return 401, b'{"errors":"[API] Invalid API key or access token"}'
            payload = json.loads(content)
            self.versions.append(version)
            return 200, json.dumps(
                self.execute(payload["query"], payload.get("variables") or {}, version)
            )

    def execute(self, query: str, variables: dict, version: str = "2026-04") -> dict:
        from graphql import OperationType, parse, validate
        from graphql.execution.values import get_variable_values

        schema = shopify_schema(version)
        document = parse(query)
        errors = validate(schema, document)
        if errors:
            return {"errors": [{"message": e.message} for e in errors]}
        operation = document.definitions[0]
        # The variables too, against the types the document declares for them (unknown input
        # fields, a missing required one, a wrong type), as Shopify answers INVALID_VARIABLE.
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return {
                "errors": [
                    {"message": e.message, "extensions": {"code": "INVALID_VARIABLE"}}
                    for e in coerced
                ]
            }
        mutation = operation.operation == OperationType.MUTATION
        if version >= "2026-04":
            refused = _idempotency_refused(operation, variables)
            if refused:
                return {"errors": [{"message": refused, "extensions": {"code": "BAD_REQUEST"}}]}
        cost = self._cost(schema, operation, variables, mutation)
        if cost > MAX_QUERY_COST:
            return {
                "errors": [
                    {
                        "message": f"Query cost is {cost:g}, which exceeds the single query max "
                        f"cost limit ({MAX_QUERY_COST}).",
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": cost,
                            "maxCost": MAX_QUERY_COST,
                        },
                    }
                ]
            }
        now = self.clock()
        self.available = min(self.maximum, self.available + (now - self.last) * self.restore_rate)
        self.last = now
        if cost > self.available:
            self.throttled += 1
            return {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {"cost": self._cost_block(cost, None)},
            }
        self.available -= cost
        self.points += cost
        self.requests.append(operation.name.value if operation.name else "")
        names = {field.name.value for field in operation.selection_set.selections}
        if not mutation and names <= EXECUTED:
            return self._executed(schema, document, variables, cost)
        data = {}
        for field in operation.selection_set.selections:
            name = field.name.value
            key = field.alias.value if field.alias else name
            args = {a.name.value: _value(a.value, variables) for a in (field.arguments or ())}
            idempotency = _idempotency_key(field, variables)
            if idempotency is None:
                data[key] = getattr(self, f"_{name}")(**args)
            elif idempotency in self.idempotent:
                seen_args, answer = self.idempotent[idempotency]
                data[key] = (
                    answer
                    if seen_args == args
                    else {
                        "inventoryAdjustmentGroup": None,
                        "userErrors": [
                            _error(
                                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                                ["input"],
                                "The idempotency key was used with other parameters.",
                            )
                        ],
                    }
                )
            else:
                data[key] = getattr(self, f"_{name}")(**args)
                self.idempotent[idempotency] = (args, data[key])
        return {"data": data, "extensions": {"cost": self._cost_block(cost, cost)}}

    def _executed(self, schema, document, variables: dict, cost: float) -> dict:
        """Answer the document by executing it against the schema over the fake's data."""
        from graphql import execute

        root = {
            "orders": lambda _info, **args: self._orders(**args),
            "order": lambda _info, id: self._order(id),
        }
        result = execute(schema, document, root_value=root, variable_values=variables)
        if result.errors:
            # The fake's data does not fit the schema: a fault of the fake, shown as Shopify
            # shows an error.
            return {
                "errors": [{"message": f"fake: {e.message} at {e.path}"} for e in result.errors]
            }
        return {"data": result.data, "extensions": {"cost": self._cost_block(cost, cost)}}

    def _cost_block(self, requested, actual) -> dict:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": math.floor(self.available * 1000) / 1000,
                "restoreRate": self.restore_rate,
            },
        }

    def _cost(self, schema, operation, variables, mutation: bool) -> float:
        if mutation:
            total = 0
            for field in operation.selection_set.selections:
                args = {a.name.value: _value(a.value, variables) for a in (field.arguments or ())}
                items = len((args.get("input") or {}).get("quantities") or []) + len(
                    args.get("variants") or []
                )
                total += 10 + items
            return total
        return _selection_cost(schema.query_type, operation.selection_set, variables)

    # -- queries ------------------------------------------------------------------
    def _shop(self) -> dict:
        return {"currencyCode": self.currency}

    def _locations(self, first: int = 1, **_) -> dict:
        return {"nodes": [{"id": self.location}]}

    def _productVariants(self, first: int = 50, after: str | None = None, query=None, **_):
        variants = list(self.variants.values())
        if query:
            wanted = {
                part.strip().removeprefix("sku:").strip('"').replace('\\"', '"')
                for part in query.split(" OR ")
            }
            variants = [v for v in variants if v["sku"] in wanted]
        start = int(base64.b64decode(after)) if after else 0
        page = variants[start : start + first]
        end = start + len(page)
        return {
            "nodes": [self._node(v) for v in page],
            "pageInfo": {
                "hasNextPage": end < len(variants),
                "endCursor": base64.b64encode(str(end).encode()).decode() if page else None,
            },
        }

    def _orders(self, first=None, after=None, sortKey="ID", query=None, reverse=False, **_):
        """Orders matching `updated_at:>='…'` (or >, <, <=; the only search the fake reads),
        in sortKey order (UPDATED_AT or ID, the default), `first` a page after a cursor."""
        orders = list(self.orders.values())
        for op, value in _UPDATED_AT.findall(query or ""):
            bound = _utc(value)
            keep = {
                ">=": lambda t, b=bound: t >= b,
                ">": lambda t, b=bound: t > b,
                "<=": lambda t, b=bound: t <= b,
                "<": lambda t, b=bound: t < b,
            }[op]
            orders = [o for o in orders if keep(_utc(o["updated_at"]))]
        if (query or "").strip() and not _UPDATED_AT.findall(query):
            raise ValueError(f"the fake reads no search but updated_at: {query!r}")

        def key(o):
            return (
                (_utc(o["updated_at"]), int(o["id"])) if sortKey == "UPDATED_AT" else int(o["id"])
            )

        orders.sort(key=key, reverse=bool(reverse))
        start = int(base64.b64decode(after)) if after else 0
        page = orders[start : start + (first or 50)]
        end = start + len(page)
        return {
            "nodes": [graphql_order(o) for o in page],
            "pageInfo": {
                "hasNextPage": end < len(orders),
                "endCursor": base64.b64encode(str(end).encode()).decode() if page else None,
            },
        }

    def _order(self, gid: str):
        order = (
            self.orders.get(gid.rsplit("/", 1)[-1])
            if gid.startswith("gid://shopify/Order/")
            else None
        )
        return graphql_order(order) if order else None

    def _node(self, v: dict) -> dict:
        level = None
        if v["available"] is not None:
            level = {"quantities": [{"name": "available", "quantity": v["available"]}]}
        return {
            "id": v["id"],
            "sku": v["sku"],
            "barcode": v["barcode"] or None,
            "price": format(v["price"], "f"),
            "compareAtPrice": None if v["compare_at"] is None else format(v["compare_at"], "f"),
            "product": {"id": v["product"]},
            "inventoryItem": {"id": v["item"], "inventoryLevel": level},
        }

    # -- mutations ------------------------------------------------------------------
    def _inventorySetQuantities(self, input: dict) -> dict:
        items = {v["item"]: v for v in self.variants.values()}
        errors = []
        if input.get("name") != "available":
            errors.append(
                _error("INVALID_NAME", ["input", "name"], "The quantity name is invalid.")
            )
        for i, q in enumerate(input["quantities"]):
            v = items.get(q["inventoryItemId"])
            where = ["input", "quantities", str(i)]
            if v is None:
                errors.append(
                    _error(
                        "INVALID_INVENTORY_ITEM",
                        [*where, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                    )
                )
            elif q["locationId"] != self.location:
                errors.append(
                    _error(
                        "INVALID_LOCATION",
                        [*where, "locationId"],
                        "The specified location could not be found.",
                    )
                )
            elif v["available"] is None:
                errors.append(
                    _error(
                        "ITEM_NOT_STOCKED_AT_LOCATION",
                        [*where, "locationId"],
                        "The item is not stocked at the location.",
                    )
                )
            elif q["quantity"] < 0:
                errors.append(
                    _error(
                        "INVALID_QUANTITY_NEGATIVE",
                        [*where, "quantity"],
                        "The quantity can't be negative.",
                    )
                )
            elif v["sku"] in self.refuse:
                errors.append(
                    _error(
                        self.refuse[v["sku"]],
                        [*where, "quantity"],
                        f"{v['sku']}: refused by the shop.",
                    )
                )
            elif "changeFromQuantity" in q:  # 2026-04: null skips the check
                if (
                    q["changeFromQuantity"] is not None
                    and q["changeFromQuantity"] != v["available"]
                ):
                    errors.append(
                        _error(
                            "CHANGE_FROM_QUANTITY_STALE",
                            [*where, "changeFromQuantity"],
                            "The changeFromQuantity value does not match the current quantity.",
                        )
                    )
            elif not input.get("ignoreCompareQuantity") and q.get("compareQuantity") is None:
                errors.append(
                    _error(
                        "COMPARE_QUANTITY_REQUIRED",
                        [*where, "compareQuantity"],
                        "The compareQuantity argument must be given.",
                    )
                )
            elif not input.get("ignoreCompareQuantity") and q["compareQuantity"] != v["available"]:
                errors.append(
                    _error(
                        "COMPARE_QUANTITY_STALE",
                        [*where, "compareQuantity"],
                        "The compareQuantity value does not match the current quantity.",
                    )
                )
        if errors:
            # All or nothing: nothing is applied when any item is refused.
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        for q in input["quantities"]:
            v = items[q["inventoryItemId"]]
            v["available"] = q["quantity"]
            self.writes[(v["sku"], "quantity")] += 1
        return {
            "inventoryAdjustmentGroup": {
                "id": f"gid://shopify/InventoryAdjustmentGroup/{len(self.requests)}"
            },
            "userErrors": [],
        }

    def _productVariantsBulkUpdate(
        self, productId: str, variants: list, allowPartialUpdates=False, **_
    ):
        errors, valid = [], []
        for i, item in enumerate(variants):
            v = self.variants.get(item.get("id"))
            if v is None or v["product"] != productId:
                errors.append(
                    _error(
                        "PRODUCT_VARIANT_DOES_NOT_EXIST",
                        ["variants", str(i), "id"],
                        "Product variant does not exist",
                    )
                )
                continue
            try:
                price = Decimal(item["price"])
                compare_at = item.get("compareAtPrice", v["compare_at"])
                compare_at = None if compare_at is None else Decimal(str(compare_at))
            except (InvalidOperation, KeyError, TypeError):
                errors.append(_error("INVALID", ["variants", str(i), "price"], "Price is invalid"))
                continue
            if price < 0:
                errors.append(
                    _error(
                        "GREATER_THAN_OR_EQUAL_TO",
                        ["variants", str(i), "price"],
                        "Price must be greater than or equal to 0",
                    )
                )
                continue
            valid.append((v, price, compare_at))
        if errors and not allowPartialUpdates:
            valid = []
        for v, price, compare_at in valid:
            v["price"], v["compare_at"] = price, compare_at
            self.writes[(v["sku"], "price")] += 1
        return {
            "productVariants": [
                {"id": v["id"], "price": format(v["price"], "f")} for v, _, _ in valid
            ],
            "userErrors": errors,
        }

    def _productSet(self, input: dict, synchronous: bool = True, identifier=None, **_):
        """Create a product and its variants (the fake creates only; an `identifier` or a
        variant `id`, an update in Shopify, is refused here). All or nothing: any userError
        creates nothing."""
        if not synchronous or identifier or input.get("id"):
            raise ValueError("the fake's productSet creates, synchronously, and only that")
        errors = []
        if not (input.get("title") or "").strip():
            errors.append(_error("INVALID_PRODUCT", ["input", "title"], "Title can't be blank"))
        variants = input.get("variants") or []
        options = {
            o.get("name"): [v.get("name") for v in o.get("values") or []]
            for o in input.get("productOptions") or []
        }
        if variants and not options:
            errors.append(
                _error(
                    "PRODUCT_OPTIONS_INPUT_MISSING",
                    ["input", "productOptions"],
                    "Product options input is required when updating variants",
                )
            )
        made = []
        for i, item in enumerate(variants):
            where = ["input", "variants", str(i)]
            for value in item.get("optionValues") or []:
                if value.get("name") not in options.get(value.get("optionName"), ()):
                    errors.append(
                        _error(
                            "OPTION_VALUE_DOES_NOT_EXIST",
                            [*where, "optionValues"],
                            f"Option value '{value.get('name')}' does not exist",
                        )
                    )
            price = Decimal(str(item.get("price") or "0"))
            if price < 0:
                errors.append(
                    _error(
                        "INVALID_VARIANT",
                        [*where, "price"],
                        "Price must be greater than or equal to 0",
                    )
                )
            available = None
            for quantity in item.get("inventoryQuantities") or []:
                if quantity["locationId"] != self.location:
                    errors.append(
                        _error(
                            "NOT_FOUND",
                            [*where, "inventoryQuantities"],
                            "The location could not be found.",
                        )
                    )
                elif quantity["name"] == "available":
                    available = quantity["quantity"]
            made.append((item, price, available))
        handle = input.get("handle") or ""
        if handle and any(p["handle"] == handle for p in self.products.values()):
            errors.append(
                _error(
                    "HANDLE_NOT_UNIQUE",
                    ["input", "handle"],
                    f"Handle '{handle}' already in use. Please provide a new handle.",
                )
            )
        if errors:
            return {"product": None, "productSetOperation": None, "userErrors": errors}
        self.created += 1
        product = f"gid://shopify/Product/{900000 + self.created}"
        self.products[product] = {
            "handle": handle or re.sub(r"[^a-z0-9]+", "-", input["title"].lower()).strip("-"),
            "options": {name: list(values) for name, values in options.items()},
        }
        nodes = []
        for item, price, available in made:
            sku = (item.get("inventoryItem") or {}).get("sku") or item.get("sku") or ""
            v = self.add(
                sku,
                available,
                price,
                barcode=item.get("barcode") or "",
                product=product,
                mrp=item.get("compareAtPrice"),
                title=input["title"],
            )
            v["options"] = {o["optionName"]: o["name"] for o in item.get("optionValues") or []}
            nodes.append({"id": v["id"], "sku": sku, "inventoryItem": {"id": v["item"]}})
        return {
            "product": {"id": product, "variants": {"nodes": nodes}},
            "productSetOperation": None,
            "userErrors": [],
        }

    def _productByIdentifier(self, identifier: dict):
        for gid, product in self.products.items():
            if identifier.get("id") == gid or identifier.get("handle") == product["handle"]:
                return {
                    "id": gid,
                    "options": [
                        {"name": name, "optionValues": [{"name": value} for value in values]}
                        for name, values in product["options"].items()
                    ],
                }
        return None

    def _productVariantsBulkCreate(self, productId: str, variants: list, strategy=None, **_):
        """New variants of a product that has options, all or nothing: each gives a value for
        every option of the product (a new value is added to its option), a combination no
        variant has, a price of at least 0 and quantities at the shop's location."""
        product = self.products.get(productId)
        if product is None:
            return {
                "productVariants": None,
                "userErrors": [
                    _error("PRODUCT_DOES_NOT_EXIST", ["productId"], "Product does not exist")
                ],
            }
        errors = []
        taken = {
            tuple(sorted(v["options"].items()))
            for v in self.variants.values()
            if v["product"] == productId
        }
        for i, item in enumerate(variants):
            where = ["variants", str(i)]
            given = {o.get("optionName"): o.get("name") for o in item.get("optionValues") or []}
            if set(given) != set(product["options"]):
                errors.append(
                    _error(
                        "OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS",
                        [*where, "optionValues"],
                        "Option values provided for unknown options or not for every option",
                    )
                )
            elif tuple(sorted(given.items())) in taken:
                errors.append(
                    _error(
                        "VARIANT_ALREADY_EXISTS",
                        [*where, "optionValues"],
                        f"The variant '{' / '.join(given.values())}' already exists.",
                    )
                )
            if Decimal(str(item.get("price") or "0")) < 0:
                errors.append(
                    _error(
                        "NEGATIVE_PRICE_VALUE",
                        [*where, "price"],
                        "Negative price value is not allowed",
                    )
                )
            for level in item.get("inventoryQuantities") or []:
                if level["locationId"] != self.location:
                    errors.append(
                        _error(
                            "TRACKED_VARIANT_LOCATION_NOT_FOUND",
                            [*where, "inventoryQuantities"],
                            "Location not found",
                        )
                    )
        if errors:
            return {"productVariants": None, "userErrors": errors}
        nodes = []
        for item in variants:
            given = {o["optionName"]: o["name"] for o in item["optionValues"]}
            for name, value in given.items():
                if value not in product["options"][name]:
                    product["options"][name].append(value)
            levels = item.get("inventoryQuantities") or []
            sku = (item.get("inventoryItem") or {}).get("sku") or item.get("sku") or ""
            v = self.add(
                sku,
                levels[0]["availableQuantity"] if levels else None,
                item.get("price") or "0",
                barcode=item.get("barcode") or "",
                product=productId,
                mrp=item.get("compareAtPrice"),
            )
            v["options"] = given
            nodes.append({"id": v["id"], "sku": sku, "inventoryItem": {"id": v["item"]}})
        return {"productVariants": nodes, "userErrors": []}

    # -- a real server on 127.0.0.1 -----------------------------------------------------
    @contextlib.contextmanager
    def serve(self, port: int = 0):
        """Serve on 127.0.0.1 (`port`, or a free one); yields the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = fake.respond("POST", self.path, dict(self.headers), body)
                if status == "timeout":
                    time.sleep(2)
                    status, answer = 504, b'{"errors":"timeout"}'
                answer = answer if isinstance(answer, bytes) else answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                return None

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


_UPDATED_AT = re.compile(r"updated_at:(>=|<=|>|<)'?([^' )]+)'?")


def _utc(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _datetime(value) -> str | None:
    """A REST time ("2008-01-10T11:00:00-05:00") as GraphQL's DateTime ("…16:00:00Z")."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _gid(kind: str, value) -> str | None:
    return f"gid://shopify/{kind}/{value}" if value not in (None, "") else None


def _money(amount, currency: str) -> dict:
    money = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def graphql_order(order: dict) -> dict:
    """Shopify's REST order body as the Admin GraphQL API's Order: the fields IMS reads, by
    Shopify's own correspondence (id → Order gid, line_items → lineItems, variant_id →
    variant.id, price → originalUnitPriceSet, gift_card → isGiftCard, requires_shipping →
    requiresShipping, financial_status → displayFinancialStatus, cancel_reason → cancelReason,
    currency → currencyCode, times in UTC). A field with no value here resolves to null,
    which the schema refuses where the field is non-null."""
    currency = order.get("currency") or "USD"
    customer = order.get("customer")
    lines = [
        {
            "id": _gid("LineItem", item["id"]),
            "sku": item.get("sku"),
            "quantity": item["quantity"],
            "currentQuantity": item.get("current_quantity", item["quantity"]),
            "name": item.get("name") or item.get("title"),
            "title": item.get("title") or item.get("name"),
            "requiresShipping": item.get("requires_shipping", True),
            "isGiftCard": item.get("gift_card", False),
            "variant": {"id": _gid("ProductVariant", item["variant_id"])}
            if item.get("variant_id")
            else None,
            "originalUnitPriceSet": _money(item.get("price") or "0.00", currency),
        }
        for item in order.get("line_items") or []
    ]

    def line_items(_info, first=None, after=None, **_):
        start = int(base64.b64decode(after)) if after else 0
        page = lines[start : start + (first or 50)]
        end = start + len(page)
        return {
            "nodes": page,
            "pageInfo": {
                "hasNextPage": end < len(lines),
                "endCursor": base64.b64encode(str(end).encode()).decode() if page else None,
            },
        }

    status = order.get("financial_status")
    return {
        "id": _gid("Order", order["id"]),
        "legacyResourceId": str(order["id"]),
        "name": order.get("name"),
        "createdAt": _datetime(order.get("created_at")),
        "updatedAt": _datetime(order.get("updated_at")),
        "processedAt": _datetime(order.get("processed_at") or order.get("created_at")),
        "cancelledAt": _datetime(order.get("cancelled_at")),
        "cancelReason": order["cancel_reason"].upper() if order.get("cancel_reason") else None,
        "test": bool(order.get("test", False)),
        "confirmed": bool(order.get("confirmed", True)),
        "currencyCode": currency,
        "displayFinancialStatus": status.upper() if status else None,
        "email": order.get("email"),
        "phone": order.get("phone"),
        "customer": {
            "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "defaultEmailAddress": {"emailAddress": customer["email"]}
            if customer.get("email")
            else None,
            "defaultPhoneNumber": {"phoneNumber": customer["phone"]}
            if customer.get("phone")
            else None,
        }
        if customer
        else None,
        "lineItems": line_items,
    }


def _error(code: str, field: list[str], message: str) -> dict:
    return {"code": code, "field": field, "message": message}


def _value(node, variables):
    from graphql import value_from_ast_untyped

    return value_from_ast_untyped(node, variables)


def _selection_cost(parent, selection_set, variables) -> float:
    """Shopify's documented static cost: objects 1, scalars and enums 0, connections
    2 + first × (cost of one node)."""
    from graphql import get_named_type, is_leaf_type

    total = 0.0
    for field in selection_set.selections:
        definition = parent.fields.get(field.name.value)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            continue
        args = {a.name.value: _value(a.value, variables) for a in (field.arguments or ())}
        if named.name.endswith("Connection"):
            size = args.get("first") or args.get("last") or 1
            node = 0.0
            for sub in field.selection_set.selections:
                if sub.name.value in ("nodes", "edges"):
                    node_type = get_named_type(named.fields[sub.name.value].type)
                    if sub.name.value == "edges":
                        inner = next(
                            s for s in sub.selection_set.selections if s.name.value == "node"
                        )
                        node = 1 + _selection_cost(
                            get_named_type(node_type.fields["node"].type),
                            inner.selection_set,
                            variables,
                        )
                    else:
                        node = 1 + _selection_cost(node_type, sub.selection_set, variables)
            total += 2 + size * node
        else:
            total += 1 + (
                _selection_cost(named, field.selection_set, variables) if field.selection_set else 0
            )
    return total


# 2026-04: "As of 2026-04, the idempotency key is required" for these mutations.
IDEMPOTENT_MUTATIONS = {
    "inventorySetQuantities",
    "inventoryAdjustQuantities",
    "inventoryMoveQuantities",
}


def _idempotency_key(field, variables) -> str | None:
    for directive in field.directives or ():
        if directive.name.value == "idempotent":
            for argument in directive.arguments:
                if argument.name.value == "key":
                    return _value(argument.value, variables)
    return None


def _idempotency_refused(operation, variables) -> str:
    """What breaks 2026-04's two rules that its schema cannot enforce, or ''."""
    for field in operation.selection_set.selections:
        if field.name.value not in IDEMPOTENT_MUTATIONS:
            continue
        key = _idempotency_key(field, variables)
        if not key or not str(key).strip():
            return f"{field.name.value}: the @idempotent(key:) directive is required"
        args = {a.name.value: _value(a.value, variables) for a in (field.arguments or ())}
        for i, quantity in enumerate((args.get("input") or {}).get("quantities") or []):
            if "changeFromQuantity" not in quantity:
                return (
                    f"{field.name.value}: input.quantities[{i}].changeFromQuantity must be given "
                    "(null skips the check)"
                )
    return ""
