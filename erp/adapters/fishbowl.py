"""Fishbowl Advanced: its REST API. POST /api/login (appName, appDescription, appId, username,
password) gives a bearer token; POST /api/logout ends the session.

Catalog from GET /api/parts, stock from GET /api/parts/inventory filtered by location group
(one call series per group the source names; a group's code is what location aliases map).
Both page with pageNumber/pageSize until totalPages. Fishbowl parts carry no sales price, so
a Fishbowl source pulls no prices (its prices come from files).

Secrets: IMS_ERP_<CODE>_USERNAME, IMS_ERP_<CODE>_PASSWORD. Options: `app_id` (default 7410),
`location_groups` ({"<locationGroupId>": "<code>", …}).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from erp.adapters.base import (
    CatalogItem,
    ErpAdapter,
    ErpHttp,
    SourceConfig,
    StockRow,
    whole,
)
from erp.errors import ErpUnreachable

PAGE = 100


class FishbowlAdapter(ErpAdapter):
    kind: ClassVar[str] = "fishbowl"
    # The secrets it reads (IMS_ERP_<CODE>_<NAME>).
    credentials: ClassVar[tuple[str, ...]] = ("USERNAME", "PASSWORD")

    def __init__(self, config: SourceConfig):
        super().__init__(config)
        self.http = ErpHttp(config, headers={"Content-Type": "application/json"})
        self.token = ""

    def login(self) -> None:
        answer = self.http.json(
            "POST",
            "api/login",
            json={
                "appName": "IMS",
                "appDescription": "IMS reads parts and inventory for the nightly stock reset",
                "appId": int(self.config.options.get("app_id", 7410)),
                "username": self.config.secret("USERNAME"),
                "password": self.config.secret("PASSWORD"),
            },
        )
        self.token = str(answer.get("token") or "")
        if not self.token:
            raise ErpUnreachable(f"{self.config.code}: Fishbowl's login answered no token")
        self.http.client.headers["Authorization"] = f"Bearer {self.token}"

    def pages(self, path: str, **params) -> Iterator[dict]:
        if not self.token:
            self.login()
        number = 1
        while True:
            page = self.http.json(
                "GET", path, params={**params, "pageNumber": number, "pageSize": PAGE}
            )
            results = page.get("results")
            if not isinstance(results, list):
                raise ErpUnreachable(f"{self.config.code}: {path} answered without results")
            yield from results
            if number >= int(page.get("totalPages") or 0) or not results:
                return
            number += 1

    def fetch_catalog(self) -> Iterator[CatalogItem]:
        for part in self.pages("api/parts"):
            uom = part.get("uom") or {}
            yield CatalogItem(
                sku=str(part["number"]),
                name=str(part.get("description") or part["number"]),
                barcode=str(part.get("upc") or ""),
                uom=str(uom.get("abbreviation") or ""),
                active=bool(part.get("active", True)),
            )

    def fetch_stock(self) -> Iterator[StockRow]:
        groups = self.config.options.get("location_groups") or {}
        if not groups:
            raise ErpUnreachable(
                f"{self.config.code}: name the Fishbowl location groups to read in the "
                "source's options (location_groups)"
            )
        for group_id, code in sorted(groups.items(), key=lambda g: int(g[0])):
            for row in self.pages(
                "api/parts/inventory", locationGroupId=int(group_id), includeZeroQuantities="true"
            ):
                yield StockRow(
                    sku=str(row["partNumber"]),
                    location=str(code),
                    quantity=whole(
                        row.get("quantity") or 0, what=f"Fishbowl part {row['partNumber']}"
                    ),
                )

    def close(self) -> None:
        if self.token:
            try:
                self.http.client.post("api/logout")
            finally:
                self.token = ""
        super().close()
