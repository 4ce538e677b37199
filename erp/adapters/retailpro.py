"""File sources: an ERP that drops files in a folder (SFTP landing folder, share) instead of
answering an API. Retail Pro is the seed's case: its full stock file, every product it ever
had, lands every morning.

The newest file matching the source's pattern is picked up; its as-of time is the timestamp in
its name (…20261121T0700Z… or …20261121-070000…, UTC), else the file's modification time.
After a successful reset it is moved to `processed/` beside it. The hand-over is written to
the folder's outbox in IMS's hand-over CSV form (HANDOVER_COLUMNS).

Options: `stock_pattern` (default *.csv), `catalog_pattern`, `prices_pattern` (files in the
IMS catalog and prices forms, optional), `columns` (the file's names for sku_id, location,
quantity, e.g. {"sku_id": "ALU", "location": "STORE_CODE", "quantity": "QTY"}), `outbox`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from erp.adapters.base import HANDOVER_COLUMNS, ErpAdapter, HandoverRecord, SourceConfig
from erp.errors import ErpUnreachable
from ims.csvio import write_csv

STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})[T_-]?(\d{2})(\d{2})(\d{2})?Z?")


@dataclass(frozen=True)
class PickedUp:
    stock: Path
    as_of: dt.datetime
    catalog: Path | None = None
    prices: Path | None = None


def as_of_of(path: Path) -> dt.datetime:
    """The time a dropped file counts stock at: its name's timestamp, else when it was written."""
    match = STAMP.search(path.name)
    if match:
        year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
        try:
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)


class FileAdapter(ErpAdapter):
    """Read by the reset itself (the stock file streamed), so it fetches nothing row by row."""

    kind: ClassVar[str] = "file"
    accepts_handover: ClassVar[bool] = True

    def __init__(self, config: SourceConfig):
        super().__init__(config)
        base = config.base_url
        self.folder = Path(urlsplit(base).path if base.startswith("file:") else base)

    def _newest(self, pattern: str | None) -> Path | None:
        if not pattern:
            return None
        files = [p for p in self.folder.glob(pattern) if p.is_file()]
        return max(files, key=lambda p: (as_of_of(p), p.name)) if files else None

    def pick_up(self) -> PickedUp:
        if not self.folder.is_dir():
            raise ErpUnreachable(f"{self.config.code}: no folder {self.folder}")
        stock = self._newest(self.config.options.get("stock_pattern", "*.csv"))
        if stock is None:
            raise ErpUnreachable(
                f"{self.config.code}: no stock file in {self.folder} "
                f"({self.config.options.get('stock_pattern', '*.csv')})",
                code="erp_no_file",
            )
        return PickedUp(
            stock=stock,
            as_of=as_of_of(stock),
            catalog=self._newest(self.config.options.get("catalog_pattern")),
            prices=self._newest(self.config.options.get("prices_pattern")),
        )

    def archive(self, path: Path) -> Path:
        done = path.parent / "processed"
        done.mkdir(exist_ok=True)
        return path.replace(done / path.name)

    def push_handover(self, records: Sequence[HandoverRecord]) -> str:
        outbox = self.folder / self.config.options.get("outbox", "outbox")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = outbox / f"ims-handover-{stamp}.csv"
        write_csv(path, HANDOVER_COLUMNS, (r.row() for r in records))
        return f"wrote {path}"


class RetailProAdapter(FileAdapter):
    """Retail Pro: its full stock export, dropped every morning (the seed's case)."""

    kind: ClassVar[str] = "retailpro"
