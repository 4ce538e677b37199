"""The file adapter: a CSV drop folder, for channels and ERPs that only exchange files.

Out: each push writes one CSV into the channel's outbox (`IMS_CHANNEL_<CODE>_OUTBOX`, default
`var/outbox/<code>/`): `channel,sku_id,quantity,price,currency,mrp`, a blank cell meaning "leave
as is". Publishing writes `<code>-listings-….csv` there: `channel,sku_id,name,barcode,quantity,
price,currency,mrp`, one new listing a row, for the other side to create. The file is written under a temporary name and renamed, so the other side never picks up
half a file, and its name comes from the plan line keys, so a rerun of the same plan rewrites
the same file instead of adding a second one.
In: `fetch_snapshot` reads the newest CSV in the inbox (`…_INBOX`, default `var/inbox/<code>/`)
in the snapshot format (`channel,sku_id,quantity,price,currency`, optionally `mrp`).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from django.conf import settings

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    Capabilities,
    ListingDraft,
    ListingState,
    PriceUpdate,
    PublishResult,
    PushResult,
    StockUpdate,
    as_price,
    as_quantity,
)
from ims.csvio import csv_writer
from ims.money import money

COLUMNS = ("channel", "sku_id", "quantity", "price", "currency", "mrp")
LISTING_COLUMNS = ("channel", "sku_id", "name", "barcode", "quantity", "price", "currency", "mrp")


class FileAdapter:
    kind = "file"
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ()
    optional_settings: ClassVar[tuple[str, ...]] = ("OUTBOX", "INBOX")
    capabilities = Capabilities(webhooks=False, compare_and_set=False, publish=True)
    stock_batch = 100_000
    price_batch = 100_000

    def __init__(self, config: AdapterConfig, *, transport=None, sleep: Callable | None = None):
        self.config = config
        base = Path(settings.BASE_DIR) / "var"
        self.outbox = Path(config.setting("OUTBOX") or base / "outbox" / config.code)
        self.inbox = Path(config.setting("INBOX") or base / "inbox" / config.code)

    def close(self) -> None:
        return None

    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        files = sorted(self.inbox.glob("*.csv"), key=lambda p: (p.stat().st_mtime, p.name))
        if not files:
            return
        wanted = set(skus) if skus is not None else None
        with files[-1].open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("channel") and row["channel"] != self.config.code:
                    continue
                sku = row.get("sku_id", "")
                if wanted is not None and sku not in wanted:
                    continue
                yield ListingState(
                    sku=sku,
                    quantity=as_quantity(row.get("quantity")),
                    price=as_price(row.get("price")),
                    currency=row.get("currency", ""),
                    external_id=row.get("external_id", ""),
                    barcode=row.get("barcode", ""),
                    mrp=as_price(row.get("mrp")),
                )

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        return self._write(updates, QUANTITY)

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        return self._write(updates, PRICE)

    def publish(self, drafts: Sequence[ListingDraft], *, dry_run: bool = False):
        """One file of new listings for the other side to create; the SKU names each there."""
        rows = [
            [
                self.config.code,
                d.sku,
                d.name,
                d.barcode,
                d.quantity,
                money(d.price, d.currency),
                d.currency,
                money(d.mrp, d.currency) if d.mrp is not None else "",
            ]
            for d in drafts
        ]
        path = self._name("listings", [d.key or d.sku for d in drafts])
        requests = [
            {
                "method": "WRITE",
                "path": str(path),
                "body": dict(zip(LISTING_COLUMNS, row, strict=True)),
            }
            for row in rows
        ]
        if not dry_run and rows:
            self._drop(path, LISTING_COLUMNS, rows)
        return [
            PublishResult(d.sku, ok=not dry_run, external_id=d.sku, requests=(request,))
            for d, request in zip(drafts, requests, strict=True)
        ]

    def _name(self, what: str, keys: Sequence[str]) -> Path:
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        return self.outbox / f"{self.config.code}-{what}-{digest}.csv"

    def _drop(self, target: Path, header: Sequence[str], rows) -> None:
        """Write the file under a temporary name and rename it: never half a file."""
        self.outbox.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.part")
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            writer = csv_writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)

    def _write(self, updates, field: str) -> list[PushResult]:
        if not updates:
            return []
        rows = []
        for u in updates:
            if field == QUANTITY:
                rows.append([self.config.code, u.sku, u.quantity, "", "", ""])
            else:
                mrp = money(u.mrp, u.currency) if u.mrp is not None else ""
                rows.append(
                    [self.config.code, u.sku, "", money(u.price, u.currency), u.currency, mrp]
                )
        self._drop(self._name(field, [u.key or u.sku for u in updates]), COLUMNS, rows)
        return [PushResult(u.sku, field, True) for u in updates]
