"""Streaming the ERP's full stock file: only the rows of the reset's scope are kept.

The file may list every product the ERP ever had (hundreds of MB). It is read in blocks of
bytes, never whole; a row is looked at only as far as it must be to decide whether it is in
scope (its SKU first), and only kept rows are parsed further and handed on, in batches, to a
sink (COPY into a temporary table). What stays in memory is the map of in-scope SKUs and
locations, one block, and the problems found.

Rows outside the scope (a SKU IMS does not know or has deactivated, a location it cannot
map) are counted, not validated beyond being well-formed CSV: one record per line, the
header's number of fields, valid UTF-8. Kept rows must have a whole-number quantity.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

from ims.csvio import BOM, parse_int
from ims.errors import RowError

COLUMNS = ("sku_id", "location", "quantity")
BLOCK = 1 << 22  # 4 MiB of the file at a time
MAX_LISTED = 10_000  # problems kept to list; the rest are counted

# What a SKU is to the reset, beside a product id (> 0) for a product in scope.
INACTIVE = 0
WATCHED = -1  # unknown to IMS, but a channel lists it (published there)

# Why a row is skipped.
SKIP_UNKNOWN_SKU = "unknown SKU"
SKIP_INACTIVE = "inactive product"
SKIP_UNKNOWN_LOCATION = "unknown location"
SKIP_OUT_OF_SCOPE = "location outside the source's scope"

Sink = Callable[[list[tuple[int, int, int, int]]], None]


@dataclass
class Scan:
    """What reading the file found: counts, the problems, and what a person should hear of."""

    label: str
    rows_read: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    # Location codes it could not map: code → (first line, rows).
    unknown_locations: dict[str, list[int]] = field(default_factory=dict)
    # SKUs unknown to IMS that a channel lists: sku → (first line, rows).
    watched: dict[str, list[int]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    ends_with_newline: bool = True

    def error(self, line: int, column: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(RowError(self.label, line, column, reason))

    def _note(self, where: dict[str, list[int]], key: bytes, line: int) -> None:
        text = key.decode("utf-8", "replace")
        seen = where.get(text)
        if seen is None:
            where[text] = [line, 1]
        else:
            seen[1] += 1


class _Columns:
    """Where the reset's three columns are in this file's header."""

    def __init__(self, header: list[str], names: Mapping[str, str], scan: Scan):
        self.width = len(header)
        self.ok = True
        seen: set[str] = set()
        for name in header:
            if name in seen:
                scan.error(1, name, "column appears twice in the header")
                self.ok = False
            seen.add(name)
        index = {}
        for column in COLUMNS:
            wanted = names.get(column, column)
            if wanted not in seen:
                scan.error(1, wanted, "required column is missing from the header")
                self.ok = False
            else:
                index[column] = header.index(wanted)
        if self.ok:
            self.sku, self.location, self.quantity = (index[c] for c in COLUMNS)
            self.names = {c: names.get(c, c) for c in COLUMNS}


def reset_scan(
    path: str | Path,
    *,
    label: str,
    skus: Mapping[bytes, int],
    locations: Mapping[bytes, int],
    out_of_scope: frozenset[bytes] | set[bytes] = frozenset(),
    sink: Sink,
    columns: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Scan:
    """Read the file; hand each kept row to `sink` as (line, product_id, location_id, quantity).

    `skus` maps a SKU (UTF-8 bytes) to its product id, or to INACTIVE / WATCHED; a SKU not
    in it is unknown. `locations` maps the codes the reset may use (IMS codes and the
    source's aliases) to location ids; `out_of_scope` holds codes IMS knows that this
    source may not reset. Nothing is raised: the problems are in the returned Scan.
    """
    scan = Scan(label=label)
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        scan.error(0, "file", f"cannot open: {exc.strerror}")
        return scan
    with handle:
        first = handle.readline()
        if first.startswith(BOM):
            first = first[len(BOM) :]
        if not first.strip():
            scan.error(1, "header", "the file is empty; a header row is required")
            return scan
        try:
            header = [name.strip() for name in next(csv.reader([first.decode("utf-8")]))]
        except (UnicodeDecodeError, csv.Error) as exc:
            scan.error(1, "header", f"unreadable header: {exc}")
            return scan
        cols = _Columns(header, columns or {}, scan)
        if not cols.ok:
            return scan
        reader = _BlockReader(scan, cols, skus, locations, frozenset(out_of_scope), sink)
        line = 2
        tail = b""
        done = len(first)
        while True:
            block = handle.read(BLOCK)
            if not block:
                break
            done += len(block)
            block = tail + block
            cut = block.rfind(b"\n")
            if cut < 0:
                tail = block
                continue
            tail = block[cut + 1 :]
            line = reader.block(block[: cut + 1], line)
            if progress:
                progress(done)
        if tail:
            scan.ends_with_newline = False
            reader.block(tail + b"\n", line)
    return scan


class _BlockReader:
    def __init__(self, scan: Scan, cols: _Columns, skus, locations, out_of_scope, sink: Sink):
        self.scan, self.cols = scan, cols
        self.skus, self.locations, self.out_of_scope = skus, locations, out_of_scope
        self.sink = sink
        self.commas = cols.width - 1

    def block(self, block: bytes, line: int) -> int:
        """Read one block of whole lines starting at `line`; return the next line number."""
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        lines = block.split(b"\n")
        lines.pop()  # the block ends with a line break
        if self._plain(block, lines):
            self._fast(lines, line)
        else:
            self._careful(lines, line)
        return line + len(lines)

    def _plain(self, block: bytes, lines: list[bytes]) -> bool:
        """No quoting, stray carriage returns or padding, right field count on every line,
        valid UTF-8: every line splits on commas as it stands."""
        if b'"' in block or b"\r" in block or b" " in block or b"\t" in block:
            return False
        if set(map(bytes.count, lines, repeat(b","))) != {self.commas}:
            return False
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def _fast(self, lines: list[bytes], line: int) -> None:
        get = self.skus.get
        sku_at = self.cols.sku
        if sku_at == 0:
            hits = [
                (i, kind)
                for i, text in enumerate(lines)
                if (kind := get(text.partition(b",")[0])) is not None
            ]
        else:
            hits = [
                (i, kind)
                for i, text in enumerate(lines)
                if (kind := get(text.split(b",")[sku_at])) is not None
            ]
        scan = self.scan
        scan.rows_read += len(lines)
        scan.skipped[SKIP_UNKNOWN_SKU] += len(lines) - len(hits)
        self._hits(
            ((line + i, lines[i].split(b","), kind) for i, kind in hits),
        )

    def _careful(self, lines: list[bytes], line: int) -> None:
        """The slow, exact reading of a block that is not plain."""
        scan, width = self.scan, self.cols.width
        rows = []
        for offset, raw in enumerate(lines):
            number = line + offset
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                scan.error(
                    number,
                    "encoding",
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at character {exc.start + 1});"
                    " save the file as UTF-8",
                )
                continue
            if not text.strip():
                continue
            try:
                values = next(csv.reader([text], strict=True))
            except csv.Error as exc:
                scan.error(number, "row", f"unreadable CSV: {exc}")
                continue
            if len(values) != width:
                scan.error(number, "row", f"has {len(values)} fields, the header has {width}")
                continue
            scan.rows_read += 1
            fields = [value.strip().encode("utf-8") for value in values]
            kind = self.skus.get(fields[self.cols.sku])
            if kind is None:
                scan.skipped[SKIP_UNKNOWN_SKU] += 1
                continue
            rows.append((number, fields, kind))
        self._hits(rows)

    def _hits(self, rows) -> None:
        """Rows whose SKU the reset knows: kept, or skipped with their reason."""
        scan, cols = self.scan, self.cols
        kept = []
        for number, fields, kind in rows:
            if kind == INACTIVE:
                scan.skipped[SKIP_INACTIVE] += 1
                continue
            if kind == WATCHED:
                scan.skipped[SKIP_UNKNOWN_SKU] += 1
                scan._note(scan.watched, fields[cols.sku], number)
                continue
            code = fields[cols.location]
            location_id = self.locations.get(code)
            if location_id is None:
                if not code:
                    scan.error(number, cols.names["location"], "is required")
                elif code in self.out_of_scope:
                    scan.skipped[SKIP_OUT_OF_SCOPE] += 1
                else:
                    scan.skipped[SKIP_UNKNOWN_LOCATION] += 1
                    scan._note(scan.unknown_locations, code, number)
                continue
            raw = fields[cols.quantity]
            try:
                quantity = int(raw) if raw.isdigit() else _quantity(raw)
            except ValueError as exc:
                scan.error(number, cols.names["quantity"], str(exc))
                continue
            kept.append((number, kind, location_id, quantity))
        if kept:
            scan.kept += len(kept)
            if not scan.error_count:
                self.sink(kept)


def _quantity(raw: bytes) -> int:
    """A quantity cell that is not plain digits: a sign, or a problem to name."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        raise ValueError("is required")
    if text[0] in "+-" and text[1:].isdigit() and text[1:].isascii():
        return int(text)
    parse_int(text)  # raises with the reason ('x' is not a number / not a whole number …)
    raise ValueError(f"'{text}' is not a whole number")
