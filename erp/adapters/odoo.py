"""Odoo: the external JSON-2 API (Odoo 19+): POST /json/2/<model>/<method> with the method's
parameters as the JSON body, `Authorization: bearer <API key>` and `X-Odoo-Database`.

Catalog and prices from product.product (default_code is the SKU, list_price the price, in
the company's currency), stock from stock.quant at internal locations (a location's code is
its full name, e.g. WH/Stock; quants of one product at one location are summed).

Secret: IMS_ERP_<CODE>_API_KEY. Options: `database`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import ClassVar

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

PAGE = 1000


def _name(many2one) -> str:
    """A many2one read as [id, display name] (False when empty)."""
    return str(many2one[1]) if isinstance(many2one, list) and len(many2one) == 2 else ""


class OdooAdapter(ErpAdapter):
    kind: ClassVar[str] = "odoo"
    # The secrets it reads (IMS_ERP_<CODE>_<NAME>).
    credentials: ClassVar[tuple[str, ...]] = ("API_KEY",)

    def __init__(self, config: SourceConfig):
        super().__init__(config)
        headers = {"Authorization": f"bearer {config.secret('API_KEY')}"}
        if config.options.get("database"):
            headers["X-Odoo-Database"] = str(config.options.get("database"))
        self.http = ErpHttp(config, headers=headers)
        self._skus: dict[int, str] | None = None

    def call(self, model: str, method: str, **params):
        return self.http.json("POST", f"json/2/{model}/{method}", json=params)

    def search_read(self, model: str, *, domain, fields, order="id") -> Iterator[dict]:
        offset = 0
        while True:
            page = self.call(
                model,
                "search_read",
                domain=domain,
                fields=fields,
                limit=PAGE,
                offset=offset,
                order=order,
                context={"active_test": False},
            )
            if not isinstance(page, list):
                raise ErpUnreachable(f"{self.config.code}: {model}.search_read answered no list")
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE

    def _products(self, fields) -> Iterator[dict]:
        return self.search_read(
            "product.product", domain=[["default_code", "!=", False]], fields=["id", *fields]
        )

    def fetch_catalog(self) -> Iterator[CatalogItem]:
        for row in self._products(
            ["default_code", "name", "barcode", "uom_id", "standard_price", "categ_id", "active"]
        ):
            yield CatalogItem(
                sku=str(row["default_code"]),
                name=str(row.get("name") or row["default_code"]),
                barcode=str(row.get("barcode") or ""),
                uom=_name(row.get("uom_id")),
                cost=decimal_or_none(row.get("standard_price")),
                category=_name(row.get("categ_id")),
                active=bool(row.get("active", True)),
            )

    def fetch_prices(self) -> Iterator[PriceRow]:
        for row in self._products(["default_code", "list_price", "currency_id"]):
            price = decimal_or_none(row.get("list_price"))
            if price is not None:
                yield PriceRow(str(row["default_code"]), _name(row.get("currency_id")), price)

    def fetch_stock(self) -> Iterator[StockRow]:
        if self._skus is None:
            self._skus = {
                int(row["id"]): str(row["default_code"]) for row in self._products(["default_code"])
            }
        quants = self.search_read(
            "stock.quant",
            domain=[["location_id.usage", "=", "internal"]],
            fields=["product_id", "location_id", "quantity"],
            order="product_id, location_id, id",
        )
        placed = (q for q in quants if q.get("product_id") and q.get("location_id"))
        for (product, location), group in groupby(
            placed, key=lambda q: (int(q["product_id"][0]), _name(q["location_id"]))
        ):
            total = sum(
                whole(q.get("quantity") or 0, what=f"Odoo product {product}") for q in group
            )
            if product in self._skus:
                yield StockRow(self._skus[product], location, total)
