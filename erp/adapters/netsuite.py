"""NetSuite: SuiteQL over REST (POST /services/rest/query/v1/suiteql), token-based auth signed
with HMAC-SHA256 (OAuth 1.0, RFC 5849; oauthlib signs).

A SuiteQL query returns at most 100,000 results across its pages (limit ≤ 1000 per page). Each
query here is keyset-ordered, so when a query reaches that cap IMS starts the next one after
the last key it saw, and so reads any number of rows.

Secrets: IMS_ERP_<CODE>_CONSUMER_KEY, _CONSUMER_SECRET, _TOKEN_ID, _TOKEN_SECRET.
Options: `account` (the realm, e.g. 1234567_SB1), `price_level` (default 1, the base price),
`currency` (when the price rows name none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth1 import Client as OAuth1Client

from erp.adapters.base import (
    CatalogItem,
    ErpAdapter,
    ErpHttp,
    PriceRow,
    SourceConfig,
    StockRow,
    decimal_or_none,
    whole,
)
from erp.errors import ErpUnreachable

SUITEQL = "services/rest/query/v1/suiteql"
PAGE = 1000
QUERY_CAP = 100_000


class TokenAuth(httpx.Auth):
    """NetSuite token-based authentication: each request signed with HMAC-SHA256."""

    def __init__(self, *, realm: str, consumer_key, consumer_secret, token_id, token_secret):
        self.client = OAuth1Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            signature_type=SIGNATURE_TYPE_AUTH_HEADER,
            realm=realm,
        )

    def auth_flow(self, request: httpx.Request):
        # The JSON body is not form-encoded, so it is not part of the signature (RFC 5849 §3.4.1.3).
        _, headers, _ = self.client.sign(str(request.url), http_method=request.method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


class NetSuiteAdapter(ErpAdapter):
    kind: ClassVar[str] = "netsuite"
    # The secrets it reads (IMS_ERP_<CODE>_<NAME>).
    credentials: ClassVar[tuple[str, ...]] = (
        "CONSUMER_KEY",
        "CONSUMER_SECRET",
        "TOKEN_ID",
        "TOKEN_SECRET",
    )

    def __init__(self, config: SourceConfig):
        super().__init__(config)
        auth = TokenAuth(
            realm=config.options.get("account", ""),
            consumer_key=config.secret("CONSUMER_KEY"),
            consumer_secret=config.secret("CONSUMER_SECRET"),
            token_id=config.secret("TOKEN_ID"),
            token_secret=config.secret("TOKEN_SECRET"),
        )
        self.http = ErpHttp(config, auth=auth, headers={"Prefer": "transient"})

    # -- SuiteQL paging ---------------------------------------------------------------

    def query(self, template: str, *, key: Callable[[dict], tuple]) -> Iterator[dict]:
        """Every row of a keyset query. `template` holds {after}, 0 at first: the query restarts
        from the last key seen whenever one reaches NetSuite's 100,000-result cap (rows with a
        key not past the last one are dropped, so a key shared across the cut is not lost)."""
        after, last = 0, None
        while True:
            offset, reached_cap = 0, False
            q = template.format(after=after)
            while True:
                page = self.http.json(
                    "POST", f"{SUITEQL}?limit={PAGE}&offset={offset}", json={"q": q}
                )
                items = page.get("items")
                if not isinstance(items, list):
                    raise ErpUnreachable(f"{self.config.code}: SuiteQL answered without items")
                for item in items:
                    row = {k: v for k, v in item.items() if k != "links"}
                    if last is not None and key(row) <= last:
                        continue
                    last = key(row)
                    yield row
                offset += len(items)
                if not page.get("hasMore") or not items:
                    break
                if offset + PAGE > QUERY_CAP:
                    reached_cap = True
                    break
            if not reached_cap:
                return
            after = last[0]

    # -- what the pull reads ------------------------------------------------------------

    def fetch_catalog(self) -> Iterator[CatalogItem]:
        rows = self.query(
            "SELECT id, itemid, displayname, upccode, isinactive, cost FROM item "
            "WHERE id > {after} ORDER BY id",
            key=lambda r: (int(r["id"]),),
        )
        for row in rows:
            yield CatalogItem(
                sku=str(row["itemid"]),
                name=str(row.get("displayname") or row["itemid"]),
                barcode=str(row.get("upccode") or ""),
                cost=decimal_or_none(row.get("cost")),
                active=row.get("isinactive") not in ("T", True),
            )

    def fetch_stock(self) -> Iterator[StockRow]:
        rows = self.query(
            "SELECT iil.item AS item, iil.location AS location_id, i.itemid AS sku, "
            "l.name AS location, iil.quantityonhand AS quantity "
            "FROM inventoryitemlocations iil "
            "JOIN item i ON i.id = iil.item JOIN location l ON l.id = iil.location "
            "WHERE iil.item >= {after} ORDER BY iil.item, iil.location",
            key=lambda r: (int(r["item"]), int(r["location_id"])),
        )
        for row in rows:
            yield StockRow(
                sku=str(row["sku"]),
                location=str(row["location"]),
                quantity=whole(row.get("quantity") or 0, what=f"NetSuite item {row['sku']}"),
            )

    def fetch_prices(self) -> Iterator[PriceRow]:
        level = int(self.config.options.get("price_level", 1))
        fallback = self.config.options.get("currency", "")
        rows = self.query(
            "SELECT p.item AS item, i.itemid AS sku, p.unitprice AS price, "
            "c.symbol AS currency, p.currency AS currency_id "
            "FROM pricing p JOIN item i ON i.id = p.item "
            "LEFT JOIN currency c ON c.id = p.currency "
            f"WHERE p.pricelevel = {level} AND p.item >= {{after}} "
            "ORDER BY p.item, p.currency",
            key=lambda r: (int(r["item"]), int(r.get("currency_id") or 0)),
        )
        for row in rows:
            price = decimal_or_none(row.get("price"))
            if price is not None:
                yield PriceRow(str(row["sku"]), str(row.get("currency") or fallback), price)
