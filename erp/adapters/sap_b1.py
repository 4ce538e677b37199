"""SAP Business One: the Service Layer (OData, /b1s/v1). A session is opened with POST Login
(CompanyDB, UserName, Password; the B1SESSION and ROUTEID cookies carry it), renewed once if it
expires mid-read, and closed with POST Logout.

Items are read with their ItemWarehouseInfoCollection (InStock per WarehouseCode: the physical
count) and ItemPrices (the price list named by the source), page by page through
odata.nextLink (Prefer: odata.maxpagesize). The hand-over is accepted: units into a warehouse
as a goods receipt (InventoryGenEntries), units out as a goods issue (InventoryGenExits).

Secrets: IMS_ERP_<CODE>_USERNAME, IMS_ERP_<CODE>_PASSWORD. Options: `company_db`,
`price_list` (its number, default 1), `page_size` (default 100).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from erp.adapters.base import (
    CatalogItem,
    ErpAdapter,
    ErpHttp,
    HandoverRecord,
    PriceRow,
    SourceConfig,
    StockRow,
    decimal_or_none,
    whole,
)
from erp.errors import ErpUnreachable

SELECT = "ItemCode,ItemName,BarCode,Valid,InventoryUOM,ItemWarehouseInfoCollection,ItemPrices"


class SapB1Adapter(ErpAdapter):
    kind: ClassVar[str] = "sap_b1"
    # The secrets it reads (IMS_ERP_<CODE>_<NAME>).
    credentials: ClassVar[tuple[str, ...]] = ("USERNAME", "PASSWORD")
    accepts_handover: ClassVar[bool] = True

    def __init__(self, config: SourceConfig):
        super().__init__(config)
        self.http = ErpHttp(
            config,
            headers={"Prefer": f"odata.maxpagesize={int(config.options.get('page_size', 100))}"},
        )
        self.logged_in = False

    def login(self) -> None:
        self.http.client.cookies.clear()
        self.http.json(
            "POST",
            "Login",
            json={
                "CompanyDB": self.config.options.get("company_db", ""),
                "UserName": self.config.secret("USERNAME"),
                "Password": self.config.secret("PASSWORD"),
            },
        )
        self.logged_in = True

    def call(self, method: str, url: str, **kwargs):
        """One Service Layer call in the session; an expired session is renewed once."""
        if not self.logged_in:
            self.login()
        try:
            return self.http.json(method, url, **kwargs)
        except ErpUnreachable as exc:
            if exc.extra.get("status") != 401:
                raise
        self.login()
        return self.http.json(method, url, **kwargs)

    def items(self) -> Iterator[dict]:
        url = f"Items?$select={SELECT}&$orderby=ItemCode"
        while url:
            page = self.call("GET", url)
            values = page.get("value")
            if not isinstance(values, list):
                raise ErpUnreachable(f"{self.config.code}: Items answered without value")
            yield from values
            url = page.get("odata.nextLink") or page.get("@odata.nextLink") or ""
            # The link is relative to the service root (…/b1s/v1/), or absolute from the host.
            if url.startswith("/"):
                url = str(self.http.client.base_url.join(url))

    def fetch_catalog(self) -> Iterator[CatalogItem]:
        for item in self.items():
            yield CatalogItem(
                sku=str(item["ItemCode"]),
                name=str(item.get("ItemName") or item["ItemCode"]),
                barcode=str(item.get("BarCode") or ""),
                uom=str(item.get("InventoryUOM") or ""),
                active=item.get("Valid", "tYES") == "tYES",
            )

    def fetch_stock(self) -> Iterator[StockRow]:
        for item in self.items():
            for info in item.get("ItemWarehouseInfoCollection") or []:
                yield StockRow(
                    sku=str(item["ItemCode"]),
                    location=str(info["WarehouseCode"]),
                    quantity=whole(info.get("InStock") or 0, what=f"SAP item {item['ItemCode']}"),
                )

    def fetch_prices(self) -> Iterator[PriceRow]:
        wanted = int(self.config.options.get("price_list", 1))
        for item in self.items():
            for price in item.get("ItemPrices") or []:
                amount = decimal_or_none(price.get("Price"))
                if int(price.get("PriceList", -1)) == wanted and amount is not None:
                    yield PriceRow(str(item["ItemCode"]), str(price.get("Currency") or ""), amount)

    def push_handover(self, records: Sequence[HandoverRecord]) -> str:
        """Goods receipts for units into a warehouse, goods issues for units out (one document
        of each per hand-over)."""
        lines_in = [r for r in records if r.quantity > 0]
        lines_out = [r for r in records if r.quantity < 0]
        sent = []
        for entity, lines in (("InventoryGenEntries", lines_in), ("InventoryGenExits", lines_out)):
            if not lines:
                continue
            document = self.call(
                "POST",
                entity,
                json={
                    "Comments": f"IMS hand-over of {len(lines)} movement(s)",
                    "DocumentLines": [
                        {
                            "ItemCode": r.sku,
                            "Quantity": abs(r.quantity),
                            "WarehouseCode": r.erp_location or r.location,
                        }
                        for r in lines
                    ],
                },
            )
            sent.append(f"{entity} {document.get('DocEntry')} ({len(lines)} lines)")
        return "; ".join(sent)

    def close(self) -> None:
        if self.logged_in:
            try:
                self.http.client.post("Logout")
            finally:
                self.logged_in = False
        super().close()
