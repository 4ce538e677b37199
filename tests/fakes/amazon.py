"""A fake Selling Partner API (Listings Items 2021-08-01, Feeds 2021-06-30, Orders 2026-01-01
searchOrders, Catalog Items 2022-04-01 searchCatalogItems, Login with Amazon) for
httpx.MockTransport or tests.fakes.served. Every request body is validated against Amazon's own
models and the JSON_LISTINGS_FEED v2 schema, and so is every answer it gives; searchOrders,
searchCatalogItems and putListingsItem refuse parameters or bodies their model does not allow
(400, Amazon's ErrorList), and searchOrders keeps only the datasets `includedData` asks for.
A putListingsItem offer (LISTING_OFFER_ONLY) on a catalogue item is listed from then on."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from decimal import Decimal
from urllib.parse import parse_qs, unquote

import httpx
from jsonschema import Draft7Validator

from tests.fakes.specs import (
    amazon_catalog_model,
    amazon_feed_schema,
    amazon_model,
    swagger_validator,
)

MARKETPLACE = "ATVPDKIKX0DER"


class FakeAmazon:
    def __init__(self, *, seller: str = "A1SELLER", token_lifetime: int = 3600):
        self.seller = seller
        self.items: dict[str, dict] = {}
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.token_lifetime = token_lifetime
        self.invalid: dict[str, str] = {}  # sku → issue message (INVALID submissions)
        self.calls: Counter = Counter()
        self.writes: Counter = Counter()
        self.documents: dict[str, bytes] = {}
        self.feeds: dict[str, dict] = {}
        self.faults: list = []
        self.gzip_reports = False
        self.model = amazon_model("listingsItems_2021-08-01.json")
        self.feeds_model = amazon_model("feeds_2021-06-30.json")
        self.orders_model = amazon_model("orders_2026-01-01.json")
        self.orders: dict[str, dict] = {}  # orderId → Order (2026-01-01), every dataset
        self.order_requests: list[dict] = []  # the searchOrders query parameters, in order
        self.orders_page_max = 100  # fewer a page than asked for (Amazon may answer fewer)
        self.catalog_model = amazon_catalog_model()
        self.catalog: list[dict] = []  # Amazon's catalogue items: asin, gtin, product_type
        self.catalog_requests: list[dict] = []  # the searchCatalogItems query parameters
        self.puts: list[dict] = []  # the putListingsItem bodies accepted as valid requests

    def add(
        self,
        sku: str,
        quantity: int,
        price,
        *,
        asin: str = "",
        product_type: str = "SHIRT",
        mrp=None,
    ):
        self.items[sku] = {
            "sku": sku,
            "asin": asin or f"B0{len(self.items):08d}",
            "product_type": product_type,
            "quantity": quantity,
            "price": Decimal(str(price)),
            "mrp": None if mrp is None else Decimal(str(mrp)),
            # What the seller set on the offer besides the price: a `replace` of
            # purchasable_offer wipes it, a `merge` keeps it.
            "offer_extras": {
                "minimum_seller_allowed_price": [{"schedule": [{"value_with_tax": 1}]}]
            },
        }

    def add_catalog_item(
        self, gtin: str, *, asin: str = "", product_type: str = "SHIRT", name: str = ""
    ) -> str:
        """An item in Amazon's catalogue (not a listing of ours), found by its GTIN-14."""
        asin = asin or f"B0C{len(self.catalog):07d}"
        self.catalog.append(
            {"asin": asin, "gtin": gtin, "product_type": product_type, "name": name or asin}
        )
        return asin

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    # -- HTTP ---------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "timeout":
                raise httpx.ReadTimeout("slow", request=request)
            return httpx.Response(
                fault, headers={"x-amzn-RateLimit-Limit": "5.0", "Retry-After": "1"}
            )
        path = unquote(request.url.path)
        if request.url.host == "api.amazon.com" or path == "/auth/o2/token":
            return self._token(request)
        if path.startswith("/uploads/"):
            return self._upload(request, path.removeprefix("/uploads/"))
        if path.startswith("/reports/"):
            return httpx.Response(200, content=self.documents[path.removeprefix("/reports/")])
        if request.headers.get("x-amz-access-token") not in self.valid_tokens:
            return httpx.Response(
                403,
                json={
                    "errors": [
                        {
                            "code": "Unauthorized",
                            "message": "Access to requested resource is denied.",
                            "details": "The access token you provided has expired.",
                        }
                    ]
                },
            )
        if request.method == "GET" and path == "/orders/2026-01-01/orders":
            return self._search_orders(request)
        if request.method == "GET" and path == "/catalog/2022-04-01/items":
            return self._search_catalog(request)
        listings = f"/listings/2021-08-01/items/{self.seller}"
        if request.method == "GET" and path == listings:
            return self._search(request)
        if request.method == "PUT" and path.startswith(listings + "/"):
            return self._put(request, path.removeprefix(listings + "/"))
        if request.method == "PATCH" and path.startswith(listings + "/"):
            return self._patch(request, path.removeprefix(listings + "/"))
        if request.method == "POST" and path == "/feeds/2021-06-30/documents":
            return self._create_document(request)
        if request.method == "POST" and path == "/feeds/2021-06-30/feeds":
            return self._create_feed(request)
        if request.method == "GET" and path.startswith("/feeds/2021-06-30/feeds/"):
            return self._get_feed(path.rsplit("/", 1)[1])
        if request.method == "GET" and path.startswith("/feeds/2021-06-30/documents/"):
            document_id = path.rsplit("/", 1)[1]
            document = {
                "feedDocumentId": document_id,
                "url": f"https://s3.fake/reports/{document_id}",
            }
            if self.gzip_reports:
                document["compressionAlgorithm"] = "GZIP"
            return self._answer(self.feeds_model, "FeedDocument", document)
        return httpx.Response(404, json={"errors": [{"code": "NotFound", "message": path}]})

    def _answer(self, model, definition, body, status=200) -> httpx.Response:
        errors = list(swagger_validator(model, definition).iter_errors(body))
        assert not errors, f"the fake's {definition} breaks Amazon's model: {errors[0].message}"
        return httpx.Response(
            status, content=_dumps(body), headers={"x-amzn-RateLimit-Limit": "5.0"}
        )

    def _token(self, request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["Atzr|refresh"]
        self.tokens_issued += 1
        token = f"Atza|token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "refresh_token": "Atzr|refresh",
            },
        )

    def _item(self, item: dict, included=()) -> dict:
        attributes = {}
        if item.get("mrp") is not None:
            attributes["list_price"] = [
                {"marketplace_id": MARKETPLACE, "currency": "USD", "value": item["mrp"]}
            ]
        return {
            "sku": item["sku"],
            **({"attributes": attributes} if "attributes" in included else {}),
            "summaries": [
                {
                    "marketplaceId": MARKETPLACE,
                    "asin": item["asin"],
                    "productType": item["product_type"],
                    "itemName": f"Item {item['sku']}",
                    "status": ["BUYABLE", "DISCOVERABLE"],
                    "createdDate": "2026-01-01T00:00:00Z",
                    "lastUpdatedDate": "2026-11-01T00:00:00Z",
                }
            ],
            "offers": [
                {
                    "marketplaceId": MARKETPLACE,
                    "offerType": "B2C",
                    "price": {"currencyCode": "USD", "amount": format(item["price"], "f")},
                }
            ],
            "fulfillmentAvailability": [
                {"fulfillmentChannelCode": "DEFAULT", "quantity": item["quantity"]}
            ],
        }

    def _search(self, request) -> httpx.Response:
        self.calls["searchListingsItems"] += 1
        params = request.url.params
        assert params["marketplaceIds"] == MARKETPLACE
        operation = self.model["paths"]["/listings/2021-08-01/items/{sellerId}"]["get"]
        documented = next(p for p in operation["parameters"] if p["name"] == "includedData")
        included = params.get("includedData", "summaries").split(",")
        assert set(included) <= set(documented["items"]["enum"]), included
        size = int(params.get("pageSize", 10))
        assert size <= 20
        items = list(self.items.values())
        if params.get("identifiers"):
            assert params["identifiersType"] == "SKU"
            wanted = params["identifiers"].split(",")
            assert len(wanted) <= 20
            items = [i for i in items if i["sku"] in wanted]
        start = int(params.get("pageToken") or 0)
        page = items[start : start + size]
        body = {"numberOfResults": len(items), "items": [self._item(i, included) for i in page]}
        if start + size < len(items):
            body["pagination"] = {"nextToken": str(start + size)}
        return self._answer(self.model, "ItemSearchResults", body)

    def _apply(self, sku: str, patches: list) -> str | None:
        item = self.items.get(sku)
        if item is None:
            return "SKU not found"
        if sku in self.invalid:
            return self.invalid[sku]
        for patch in patches:
            value = patch["value"][0]
            if patch["path"] == "/attributes/fulfillment_availability":
                item["quantity"] = value["quantity"]
                self.writes[(sku, "quantity")] += 1
            elif patch["path"] == "/attributes/purchasable_offer":
                item["price"] = value["our_price"][0]["schedule"][0]["value_with_tax"]
                if patch["op"] == "replace":
                    item["offer_extras"] = {}
                self.writes[(sku, "price")] += 1
            elif patch["path"] == "/attributes/list_price":
                item["mrp"] = value["value"]
                self.writes[(sku, "mrp")] += 1
        return None

    def _patch(self, request, sku: str) -> httpx.Response:
        self.calls["patchListingsItem"] += 1
        body = json.loads(request.content, parse_float=Decimal)
        errors = list(
            swagger_validator(self.model, "ListingsItemPatchRequest").iter_errors(
                json.loads(request.content)
            )
        )
        assert not errors, errors[0].message
        problem = self._apply(sku, body["patches"])
        answer = {
            "sku": sku,
            "status": "ACCEPTED",
            "submissionId": f"sub-{self.calls['patchListingsItem']}",
            "issues": [],
        }
        if problem:
            answer.update(
                status="INVALID",
                issues=[
                    {
                        "code": "90220",
                        "message": problem,
                        "severity": "ERROR",
                        "categories": ["INVALID_ATTRIBUTE"],
                    }
                ],
            )
        return self._answer(self.model, "ListingsItemSubmissionResponse", answer)

    def _create_document(self, request) -> httpx.Response:
        body = json.loads(request.content)
        assert not list(
            swagger_validator(self.feeds_model, "CreateFeedDocumentSpecification").iter_errors(body)
        )
        document_id = f"amzn1.tortuga.doc{len(self.documents) + 1}"
        self.documents[document_id] = b""
        return self._answer(
            self.feeds_model,
            "CreateFeedDocumentResponse",
            {"feedDocumentId": document_id, "url": f"https://s3.fake/uploads/{document_id}"},
            201,
        )

    def _upload(self, request, document_id: str) -> httpx.Response:
        self.documents[document_id] = request.content
        return httpx.Response(200)

    def _create_feed(self, request) -> httpx.Response:
        spec = json.loads(request.content)
        assert not list(
            swagger_validator(self.feeds_model, "CreateFeedSpecification").iter_errors(spec)
        )
        assert spec["feedType"] == "JSON_LISTINGS_FEED"
        document = json.loads(self.documents[spec["inputFeedDocumentId"]], parse_float=Decimal)
        errors = list(
            Draft7Validator(amazon_feed_schema()).iter_errors(
                json.loads(self.documents[spec["inputFeedDocumentId"]])
            )
        )
        assert not errors, f"feed breaks JSON_LISTINGS_FEED v2: {errors[0].message}"
        issues = []
        for message in document["messages"]:
            problem = self._apply(message["sku"], message["patches"])
            if problem:
                issues.append(
                    {
                        "messageId": message["messageId"],
                        "code": "90220",
                        "severity": "ERROR",
                        "message": problem,
                    }
                )
        feed_id = str(50000 + len(self.feeds))
        report_id = f"amzn1.tortuga.report{feed_id}"
        self.documents[report_id] = self._report(
            {
                "header": {"sellerId": self.seller, "version": "2.0", "feedId": feed_id},
                "issues": issues,
                "summary": {
                    "errors": len(issues),
                    "warnings": 0,
                    "messagesProcessed": len(document["messages"]),
                    "messagesAccepted": len(document["messages"]) - len(issues),
                    "messagesInvalid": len(issues),
                },
            }
        )
        self.feeds[feed_id] = {
            "polls": 0,
            "report": report_id,
            "messages": len(document["messages"]),
        }
        self.calls["createFeed"] += 1
        return self._answer(self.feeds_model, "CreateFeedResponse", {"feedId": feed_id}, 202)

    def _report(self, report: dict) -> bytes:
        """The processing report as Amazon stores it: gzipped when gzip_reports is set."""
        data = json.dumps(report).encode()
        return gzip.compress(data) if self.gzip_reports else data

    def _get_feed(self, feed_id: str) -> httpx.Response:
        feed = self.feeds[feed_id]
        feed["polls"] += 1
        body = {
            "feedId": feed_id,
            "feedType": "JSON_LISTINGS_FEED",
            "createdTime": "2026-11-22T12:00:00Z",
            "processingStatus": "IN_PROGRESS" if feed["polls"] < 2 else "DONE",
        }
        if body["processingStatus"] == "DONE":
            body["resultFeedDocumentId"] = feed["report"]
        return self._answer(self.feeds_model, "Feed", body)

    # -- Catalog Items 2022-04-01 and putListingsItem (publishing an offer) ----------------
    def _search_catalog(self, request) -> httpx.Response:
        """searchCatalogItems as the vendored model says: its documented query parameters
        only (enums, maxItems, marketplaceIds required, identifiersType with identifiers, not
        with keywords); items found by identifier, with only the datasets asked for."""
        self.calls["searchCatalogItems"] += 1
        operation = self.catalog_model["paths"]["/catalog/2022-04-01/items"]["get"]
        params = dict(request.url.params)
        self.catalog_requests.append(params)
        wrong = _query_errors(operation, params)
        if "identifiers" in params and "identifiersType" not in params:
            wrong.append("identifiersType is required when identifiers is in the request")
        if "identifiers" in params and "keywords" in params:
            wrong.append("identifiers and keywords cannot be in the same request")
        if wrong:
            return self._answer(
                self.catalog_model,
                "ErrorList",
                {"errors": [{"code": "InvalidInput", "message": w} for w in wrong]},
                400,
            )
        kind = params.get("identifiersType")
        wanted = set(params.get("identifiers", "").split(","))
        if kind == "ASIN":
            found = [i for i in self.catalog if i["asin"] in wanted]
        elif kind in ("UPC", "EAN", "GTIN"):
            gtins = {w.zfill(14) for w in wanted if w.isdigit()}
            found = [i for i in self.catalog if i["gtin"] in gtins]
        else:
            found = []
        included = params.get("includedData", "summaries").split(",")
        body = {"numberOfResults": len(found), "items": [_catalog_item(i, included) for i in found]}
        return self._answer(self.catalog_model, "ItemSearchResults", body)

    def _put(self, request, sku: str) -> httpx.Response:
        """putListingsItem: its documented query parameters and a ListingsItemPutRequest
        body, else 400 with Amazon's ErrorList. An offer (LISTING_OFFER_ONLY) must name a
        catalogue item (merchant_suggested_asin) and its condition, else the submission is
        INVALID; an accepted one is listed from then on."""
        self.calls["putListingsItem"] += 1
        path = "/listings/2021-08-01/items/{sellerId}/{sku}"
        operation = self.model["paths"][path]["put"]
        params = dict(request.url.params)
        raw = json.loads(request.content)
        wrong = _query_errors(operation, params)
        wrong += [
            f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}"
            for e in swagger_validator(self.model, "ListingsItemPutRequest").iter_errors(raw)
        ]
        if wrong:
            return self._answer(
                self.model,
                "ErrorList",
                {"errors": [{"code": "INVALID_INPUT", "message": w} for w in wrong]},
                400,
            )
        body = json.loads(request.content, parse_float=Decimal)
        self.puts.append(body)
        attributes = body["attributes"]
        asin = _first(attributes, "merchant_suggested_asin", "value")
        issues = []
        if body.get("requirements") == "LISTING_OFFER_ONLY":
            for name in ("merchant_suggested_asin", "condition_type", "purchasable_offer"):
                if name not in attributes:
                    issues.append(_issue(f"'{name}' is required but not supplied.", name))
            if asin and not any(i["asin"] == asin for i in self.catalog):
                issues.append(
                    _issue(f"ASIN {asin} is not in the catalogue.", "merchant_suggested_asin")
                )
        if sku in self.invalid:
            issues.append(_issue(self.invalid[sku], "purchasable_offer"))
        answer = {"sku": sku, "status": "INVALID" if issues else "ACCEPTED"}
        answer["submissionId"] = f"sub-put-{self.calls['putListingsItem']}"
        answer["issues"] = issues
        if not issues:
            offer = attributes["purchasable_offer"][0]
            self.items[sku] = {
                "sku": sku,
                "asin": asin,
                "product_type": body["productType"],
                "quantity": _first(attributes, "fulfillment_availability", "quantity"),
                "price": offer["our_price"][0]["schedule"][0]["value_with_tax"],
                "mrp": _first(attributes, "list_price", "value"),
                "offer_extras": {},
            }
            if "identifiers" in params.get("includedData", ""):
                answer["identifiers"] = [{"marketplaceId": MARKETPLACE, "asin": asin}]
        return self._answer(self.model, "ListingsItemSubmissionResponse", answer)

    # -- Orders 2026-01-01 ----------------------------------------------------------------
    def add_order(self, order: dict) -> None:
        errors = list(swagger_validator(self.orders_model, "Order").iter_errors(order))
        assert not errors, f"the fake's order breaks Amazon's model: {errors[0].message}"
        self.orders[order["orderId"]] = order

    def _refuse(self, message: str) -> httpx.Response:
        body = {"errors": [{"code": "InvalidInput", "message": message}]}
        return self._answer(self.orders_model, "ErrorList", body, 400)

    def _search_orders(self, request) -> httpx.Response:
        """searchOrders as its model says: exactly one of createdAfter / lastUpdatedAfter
        (ISO 8601), marketplaceIds (at most 50), includedData from its enum,
        maxResultsPerPage 1–100, and a paginationToken only with the same other parameters
        (maxResultsPerPage and includedData may change)."""
        self.calls["searchOrders"] += 1
        operation = self.orders_model["paths"]["/orders/2026-01-01/orders"]["get"]
        allowed = {p["name"]: p for p in operation["parameters"]}
        params = dict(request.url.params)
        self.order_requests.append(params)
        unknown = set(params) - set(allowed)
        if unknown:
            return self._refuse(f"unknown parameters {sorted(unknown)}")
        if ("createdAfter" in params) == ("lastUpdatedAfter" in params):
            return self._refuse("exactly one of createdAfter and lastUpdatedAfter")
        field = "lastUpdatedTime" if "lastUpdatedAfter" in params else "createdTime"
        try:
            after = _time(params.get("lastUpdatedAfter") or params["createdAfter"])
        except ValueError:
            return self._refuse("lastUpdatedAfter is not an ISO 8601 date-time")
        included = [d for d in params.get("includedData", "").split(",") if d]
        if set(included) - set(allowed["includedData"]["items"]["enum"]):
            return self._refuse(f"includedData {included}")
        marketplaces = [m for m in params.get("marketplaceIds", "").split(",") if m]
        if len(marketplaces) > allowed["marketplaceIds"]["maxItems"]:
            return self._refuse("at most 50 marketplaceIds")
        size = int(params.get("maxResultsPerPage", 100))
        if not 1 <= size <= 100:
            return self._refuse("maxResultsPerPage must be between 1 and 100")
        size = min(size, self.orders_page_max)
        fixed = {
            k: v
            for k, v in params.items()
            if k not in ("paginationToken", "maxResultsPerPage", "includedData")
        }
        start = 0
        if "paginationToken" in params:
            token = json.loads(params["paginationToken"])
            if token["query"] != fixed:
                return self._refuse("the other parameters must be those of the first page")
            start = token["start"]
        listed = sorted(
            (
                o
                for o in self.orders.values()
                if _time(o[field]) >= after
                and (not marketplaces or o["salesChannel"].get("marketplaceId") in marketplaces)
            ),
            key=lambda o: (o["createdTime"], o["orderId"]),
        )
        page = listed[start : start + size]
        body = {"orders": [_datasets(o, included) for o in page]}
        if start + size < len(listed):
            body["pagination"] = {"nextToken": json.dumps({"start": start + size, "query": fixed})}
        return self._answer(self.orders_model, "SearchOrdersResponse", body)


# What each includedData dataset adds (to the order, and to its items).
_ORDER_DATASETS = {
    "BUYER": ("buyer",),
    "RECIPIENT": ("recipient",),
    "PROCEEDS": ("proceeds",),
    "FULFILLMENT": ("fulfillment",),
    "PACKAGES": ("packages",),
    "TAX": ("tax",),
    "PAYMENT": ("payment",),
    "FULFILLMENT_ORDERS": ("fulfillmentOrders",),
}
_ITEM_DATASETS = {
    "PROCEEDS": ("proceeds",),
    "EXPENSE": ("expense",),
    "PROMOTION": ("promotion",),
    "CANCELLATION": ("cancellation",),
    "FULFILLMENT": ("fulfillment",),
    "TAX": ("tax",),
}


def _datasets(order: dict, included: list[str]) -> dict:
    """The order as searchOrders answers it: only the datasets asked for."""
    drop = {f for d, fs in _ORDER_DATASETS.items() if d not in included for f in fs}
    drop_item = {f for d, fs in _ITEM_DATASETS.items() if d not in included for f in fs}
    kept = {k: v for k, v in order.items() if k not in drop}
    kept["orderItems"] = [
        {k: v for k, v in item.items() if k not in drop_item} for item in order["orderItems"]
    ]
    return kept


def _query_errors(operation: dict, params: dict) -> list[str]:
    """Why a query breaks a Swagger 2.0 operation's query parameters (unknown or missing
    ones, values off their enum, more items than maxItems, above maximum); [] when it keeps
    to them."""
    documented = {p["name"]: p for p in operation["parameters"] if p.get("in") == "query"}
    wrong = [
        f"{name} is not a parameter of this operation" for name in params if name not in documented
    ]
    for name, spec in documented.items():
        if name not in params:
            if spec.get("required"):
                wrong.append(f"{name} is required")
            continue
        values = params[name].split(",") if spec.get("type") == "array" else [params[name]]
        enum = spec.get("enum") or (spec.get("items") or {}).get("enum")
        if enum and set(values) - set(enum):
            wrong.append(f"{name}: {params[name]} is not one of {enum}")
        if "maxItems" in spec and len(values) > spec["maxItems"]:
            wrong.append(f"{name}: more than {spec['maxItems']} values")
        if "maximum" in spec and int(params[name]) > spec["maximum"]:
            wrong.append(f"{name}: above {spec['maximum']}")
    return wrong


def _catalog_item(item: dict, included: list[str]) -> dict:
    """A catalogue item as searchCatalogItems answers it: only the datasets asked for."""
    answer = {"asin": item["asin"]}
    if "summaries" in included:
        answer["summaries"] = [
            {"marketplaceId": MARKETPLACE, "itemName": item["name"], "brand": "Acme"}
        ]
    if "productTypes" in included:
        answer["productTypes"] = [
            {"marketplaceId": MARKETPLACE, "productType": item["product_type"]}
        ]
    if "identifiers" in included:
        answer["identifiers"] = [
            {
                "marketplaceId": MARKETPLACE,
                "identifiers": [{"identifierType": "GTIN", "identifier": item["gtin"]}],
            }
        ]
    return answer


def _first(attributes: dict, name: str, key: str):
    """The `key` of an attribute's first value (None when the attribute is absent)."""
    values = attributes.get(name) or [{}]
    return values[0].get(key)


def _issue(message: str, attribute: str) -> dict:
    return {
        "code": "90220",
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": ["INVALID_ATTRIBUTE"],
    }


def _time(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def searched_order(
    order_id: str,
    lines,
    *,
    status: str = "UNSHIPPED",
    fulfilled_by: str = "MERCHANT",
    created: dt.datetime,
    updated: dt.datetime | None = None,
    item_ids=None,
) -> dict:
    """An Order as Orders 2026-01-01 describes it (every dataset IMS reads), its items
    `(SellerSKU, quantity)` named `item_ids` (default OIID0, OIID1…, as
    tests.orders.payloads.amazon_notification names them)."""

    def iso(moment: dt.datetime) -> str:
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

    item_ids = item_ids or [f"OIID{i}" for i in range(len(lines))]
    return {
        "orderId": order_id,
        "createdTime": iso(created),
        "lastUpdatedTime": iso(updated or created),
        "programs": [],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": MARKETPLACE,
            "marketplaceName": "Amazon.com",
        },
        "buyer": {"buyerName": "John Smith", "buyerEmail": "buyer@marketplace.amazon.com"},
        "fulfillment": {
            "fulfillmentStatus": status,
            "fulfilledBy": fulfilled_by,
            "fulfillmentServiceLevel": "STANDARD",
        },
        "orderItems": [
            {
                "orderItemId": item_id,
                "quantityOrdered": quantity,
                "product": {
                    "asin": f"B0{n:08d}",
                    "title": f"Item {sku}",
                    "sellerSku": sku,
                    "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                    "price": {"unitPrice": {"amount": "30.00", "currencyCode": "USD"}},
                },
                "fulfillment": {
                    "quantityFulfilled": quantity if status == "SHIPPED" else 0,
                    "quantityUnfulfilled": 0 if status == "SHIPPED" else quantity,
                },
            }
            for n, (item_id, (sku, quantity)) in enumerate(zip(item_ids, lines, strict=True))
        ],
    }


def _dumps(body) -> bytes:
    return json.dumps(
        body, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v)
    ).encode()
