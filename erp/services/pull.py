"""Pulling from an ERP source (its API, or the newest file dropped in its folder): catalog
and prices through the ingests, then the stock through the reset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from catalog.models import Product
from catalog.services.ingest import CATALOG_COLUMNS
from erp.models import ErpSource
from erp.services.reset import ResetSummary
from ims.csvio import write_csv
from ims.money import money


@dataclass
class PullResult:
    source: ErpSource
    as_of: dt.datetime
    files: dict[str, Path]
    reset: ResetSummary | None
    ingested: dict[str, str]

    def lines(self) -> list[str]:
        lines = [f"{self.source.code}: pulled as of {self.as_of.isoformat()}"]
        lines += [f"{kind}: {path}" for kind, path in self.files.items()]
        lines += [f"{kind}: {what}" for kind, what in self.ingested.items()]
        if self.reset:
            lines += self.reset.lines()
        return lines


def write_pulled(adapter, folder: Path) -> dict[str, Path]:
    """What an API source holds, written in IMS's file forms: the full stock in the reset
    form; catalog and prices for the products IMS knows (IMS never creates a product from an
    ERP pull; fields the ERP lacks keep IMS's values). The files are IMS's own staging, read
    back by the ingests, so they are written verbatim (no spreadsheet formula guard)."""
    # IMS's products by SKU, with the fields a pulled catalog row keeps from IMS.
    known = {
        sku: rest
        for sku, *rest in Product.objects.values_list(
            "sku", "barcode", "category__name", "uom", "cost", "mrp", "price", "currency"
        ).iterator(chunk_size=5000)
    }
    files = {name: folder / f"{name}.csv" for name in ("stock", "prices", "catalog")}
    write_csv(
        files["stock"],
        ("sku_id", "location", "quantity"),
        ((r.sku, r.location, r.quantity) for r in adapter.fetch_stock()),
        verbatim=True,
    )
    write_csv(
        files["prices"],
        ("sku_id", "currency", "price"),
        (
            (r.sku, r.currency or known[r.sku][6], money(r.price, r.currency or known[r.sku][6]))
            for r in adapter.fetch_prices()
            if r.sku in known
        ),
        verbatim=True,
    )

    def catalog_rows():
        for item in adapter.fetch_catalog():
            ims = known.get(item.sku)
            if ims is None:
                continue
            barcode, category, uom, cost, mrp, price, currency = ims
            yield (
                item.sku,
                item.name,
                item.barcode or barcode,
                category,
                item.uom or uom,
                money(item.cost if item.cost is not None else cost, currency),
                money(mrp, currency),
                money(price, currency),
                currency,
                "active" if item.active else "inactive",
            )

    write_csv(files["catalog"], (*CATALOG_COLUMNS, "status"), catalog_rows(), verbatim=True)
    return files
