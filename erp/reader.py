"""Reading the ERP's full stock file: only the rows of the reset's scope are kept.

The file may list every product the ERP ever had (hundreds of MB). It is read in blocks of
bytes (4 MB, each completed to the end of its last line), never whole. polars parses each block as plain
comma-separated text and keeps, by joins against the maps of in-scope SKUs and locations,
the rows of the reset; the others are counted by reason. A line polars cannot vouch for — a
quote, padding, a stray carriage return, an empty or missing field, a blank line, the wrong
number of fields, bad UTF-8 — is read again on its own with the csv module, so it is read
exactly as before and every problem is named as file:line: column: reason on its own line.
Kept rows are handed on, a block at a time, to a sink. What stays in memory: the maps, one
block, and the problems.

Rows outside the scope (a SKU IMS does not know or has deactivated, a location it cannot
map) are counted, not validated beyond being well-formed CSV: one record per line, the
header's number of fields, valid UTF-8, no NUL character in the three columns (PostgreSQL
stores none). Kept rows must have a whole-number quantity an integer column holds.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ims.csvio import BOM, NUL, header_ok, not_utf8, parse_int
from ims.errors import RowError

COLUMNS = ("sku_id", "location", "quantity")
BLOCK = 1 << 22  # 4 MiB of the file at a time
MAX_LISTED = 10_000  # problems kept to list; the rest are counted

# What a SKU is to the reset, beside the number (> 0) it gives a product in scope.
INACTIVE = 0
WATCHED = -1  # unknown to IMS, but a channel lists it (published there)

# Why a row is skipped.
SKIP_UNKNOWN_SKU = "unknown SKU"
SKIP_INACTIVE = "inactive product"
SKIP_UNKNOWN_LOCATION = "unknown location"
SKIP_OUT_OF_SCOPE = "location outside the source's scope"

# The characters str.strip() removes (Python's whitespace). A field that starts or ends with
# one is read by the csv module, which strips it.
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACES) + "]"
_PADDED = f"^{_SPACE_CLASS}|{_SPACE_CLASS}$"
_ASCII_SPACES = tuple(c.encode() for c in SPACES if c.isascii() and c not in "\n\r")

# The kept rows: the file's line, the product's and the location's numbers (see
# reset_scan), the ERP's count.
KEPT_SCHEMA = {
    "line": pl.UInt32,  # 4 billion lines is a file of more than 100 GB
    "product": pl.UInt32,
    "location": pl.UInt32,
    "quantity": pl.Int64,
}

Sink = Callable[[pl.DataFrame], None]
_SEED = 0x1EB5  # of the SKU hashes (any fixed number)


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

    def skip(self, why: str, rows: int) -> None:
        if rows:
            self.skipped[why] += rows


class _Columns:
    """Where the reset's three columns are in this file's header."""

    def __init__(self, header: list[str], names: Mapping[str, str], scan: Scan):
        self.width = len(header)
        wanted = [names.get(column, column) for column in COLUMNS]
        self.ok = header_ok(header, wanted, scan.error)
        if self.ok:
            self.sku, self.location, self.quantity = (header.index(name) for name in wanted)
            self.names = dict(zip(COLUMNS, wanted, strict=True))


def reset_scan(
    path: str | Path,
    *,
    label: str,
    skus: Mapping[str, int],
    locations: Mapping[str, int],
    out_of_scope: Collection[str] = frozenset(),
    sink: Sink,
    columns: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    block_size: int | None = None,
) -> Scan:
    """Read the file; hand the kept rows of each block to `sink` as a frame of (line,
    product, location, quantity) (KEPT_SCHEMA), in the file's order, until a problem is found.

    `skus` maps a SKU to the number (> 0) the reset gives its product, or to INACTIVE /
    WATCHED; a SKU not in it is unknown. `locations` maps the codes the reset may use (IMS
    codes and the source's aliases) to the number (> 0) it gives their location;
    `out_of_scope` holds codes IMS knows that this source may not reset. Nothing is raised:
    the problems are in the returned Scan.
    """
    scan = Scan(label=label)
    size = block_size or BLOCK
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
        reader = _BlockReader(scan, cols, skus, locations, out_of_scope, sink)
        line = 2
        done = len(first)
        while block := handle.read(size):
            if not block.endswith(b"\n"):
                block += handle.readline()  # the rest of the block's last line
            done += len(block)
            if not block.endswith(b"\n"):
                scan.ends_with_newline = False
                block += b"\n"
            line = reader.block(block, line)
            if progress:
                progress(done)
    return scan


class _BlockReader:
    def __init__(self, scan: Scan, cols: _Columns, skus, locations, out_of_scope, sink: Sink):
        self.scan, self.cols, self.sink = scan, cols, sink
        self.fields = [f"f{i}" for i in range(cols.width)]
        self.commas = cols.width - 1
        self.skus = pl.DataFrame(
            {"sku": list(skus), "kind": list(skus.values())},
            schema={"sku": pl.String, "kind": pl.Int64},
        )
        self.known = self.skus["sku"].hash(_SEED).implode()
        # Codes of the reset's locations → their number; codes IMS knows outside the scope → 0.
        codes = dict.fromkeys(out_of_scope, 0)
        codes.update(locations)
        self.locations = pl.DataFrame(
            {"location": list(codes), "place": list(codes.values())},
            schema={"location": pl.String, "place": pl.Int64},
        )

    def block(self, block: bytes, line: int) -> int:
        """Read one block of whole lines starting at `line`; return the next line number."""
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        plain, odd, count = self._split(block, line)
        problems: list[tuple[int, str, str]] = []
        rows = self._careful(odd, problems)
        self.scan.rows_read += plain.height + len(rows)
        if rows:
            plain = pl.concat([plain, pl.DataFrame(rows, schema=plain.schema, orient="row")])
        kept = self._resolve(plain, problems)
        for number, column, reason in sorted(problems):
            self.scan.error(number, column, reason)
        self.scan.kept += kept.height
        if not self.scan.error_count and kept.height:
            self.sink(kept.sort("line"))
        return line + count

    # Splitting a block: the plain lines (polars), the odd ones (the csv module)

    def _split(self, block: bytes, line: int) -> tuple[pl.DataFrame, list[tuple[int, bytes]], int]:
        """(the plain rows as line, sku, location, quantity; the odd lines as (number, bytes);
        the number of lines in the block)."""
        frame, lines, odd = None, None, []
        # polars drops a carriage return before a line break and a byte-order mark at the
        # start of its input, and a NUL is the csv module's to judge: such a block is split
        # into lines first, as is one polars cannot parse (a line with more fields than the
        # header, or the first with fewer; bad UTF-8).
        if not (b"\r" in block or b"\x00" in block or block.startswith(BOM)):
            frame = self._parse(block)
        if frame is not None:
            count = frame.height
            frame = frame.with_row_index("line", offset=line)
        else:
            lines = block.split(b"\n")
            lines.pop()  # the block ends with a line break
            count = len(lines)
            frame, odd = self._vouch(lines, line)
        is_odd = self._odd(block, frame)
        if is_odd is not None:
            flagged = frame.filter(is_odd)["line"]
            if len(flagged):
                frame = frame.filter(~is_odd)
                if lines is None:
                    lines = block.split(b"\n")
                odd = sorted(odd + [(number, lines[number - line]) for number in flagged])
        cols = self.cols
        plain = frame.select(
            "line",
            sku=pl.col(self.fields[cols.sku]),
            location=pl.col(self.fields[cols.location]),
            quantity=pl.col(self.fields[cols.quantity]),
        )
        return plain, odd, count

    def _parse(self, data: bytes) -> pl.DataFrame | None:
        """The lines as fields, every one a string (empty → null); None if polars cannot."""
        try:
            return pl.read_csv(
                data,
                has_header=False,
                new_columns=self.fields,
                quote_char=None,
                infer_schema=False,
            )
        except pl.exceptions.PolarsError:
            return None

    def _vouch(self, lines: list[bytes], line: int) -> tuple[pl.DataFrame, list[tuple[int, bytes]]]:
        """The lines that may be plain (the header's number of fields, valid UTF-8, no quote,
        carriage return, NUL or leading byte-order mark), parsed; the others as (number,
        bytes)."""
        commas = self.commas

        def may_be_plain(raw: bytes) -> bool:
            if raw.count(b",") != commas or b'"' in raw or b"\r" in raw or b"\x00" in raw:
                return False
            if raw.isascii():
                return True
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return False
            return not raw.startswith(BOM)

        good = [i for i, raw in enumerate(lines) if may_be_plain(raw)]
        frame = self._parse(b"".join(lines[i] + b"\n" for i in good)) if good else None
        if frame is None or frame.height != len(good):
            good = []  # nothing vouched for: every line is read carefully
            frame = pl.DataFrame(schema=dict.fromkeys(self.fields, pl.String))
        frame = frame.select(pl.Series("line", [line + i for i in good], dtype=pl.UInt32), pl.all())
        vouched = set(good)
        return frame, [(line + i, raw) for i, raw in enumerate(lines) if i not in vouched]

    def _odd(self, block: bytes, frame: pl.DataFrame) -> pl.Expr | None:
        """Rows polars read that the csv module must read instead: an empty or missing field
        (a blank line too), a quote, a field with whitespace to strip. None: there are none."""
        fields = pl.col(self.fields)
        checks = []
        if sum(frame.select(self.fields).null_count().row(0)):
            checks.append(pl.any_horizontal(fields.is_null()))
        if b'"' in block:
            checks.append(pl.any_horizontal(fields.str.contains('"', literal=True)))
        if not block.isascii() or any(space in block for space in _ASCII_SPACES):
            checks.append(pl.any_horizontal(fields.str.contains(_PADDED)))
        return pl.any_horizontal(checks) if checks else None

    def _careful(
        self, lines: list[tuple[int, bytes]], problems: list[tuple[int, str, str]]
    ) -> list[tuple[int, str, str, str]]:
        """The exact reading of odd lines, one at a time: (line, sku, location, quantity) of
        each well-formed one; the problems of the others."""
        cols, width = self.cols, self.cols.width
        rows = []
        for number, raw in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append((number, "encoding", not_utf8(raw, exc)))
                continue
            if not text.strip():
                continue
            try:
                values = next(csv.reader([text], strict=True))
            except csv.Error as exc:
                problems.append((number, "row", f"unreadable CSV: {exc}"))
                continue
            if len(values) != width:
                problems.append(
                    (number, "row", f"has {len(values)} fields, the header has {width}")
                )
                continue
            row = tuple(values[i].strip() for i in (cols.sku, cols.location, cols.quantity))
            nul = [column for column, value in zip(COLUMNS, row, strict=True) if NUL in value]
            for column in nul:
                problems.append(
                    (number, cols.names[column], "holds a NUL character (0x00); remove it")
                )
            if not nul:
                rows.append((number, *row))
        return rows

    # What the rows are to the reset

    def _resolve(self, rows: pl.DataFrame, problems: list[tuple[int, str, str]]) -> pl.DataFrame:
        """Kept rows (KEPT_SCHEMA); the others counted by reason, or their problems listed."""
        scan, names = self.scan, self.cols.names
        # Most rows are of SKUs the reset does not know: a look-up of their hashes among the
        # known SKUs' drops them before the join (which would hash every row of the block into
        # a table of its own); the join then matches the strings themselves.
        n = pl.col
        hits = (
            rows.filter(n("sku").hash(_SEED).is_in(self.known))
            .join(self.skus, on="sku")
            .join(self.locations, on="location", how="left")
        )
        scan.skip(SKIP_UNKNOWN_SKU, rows.height - hits.height)
        if not hits.height:
            return pl.DataFrame(schema=KEPT_SCHEMA)
        kind, where = n("kind"), n("place")
        active = kind > 0
        count = hits.select(
            inactive=(kind == INACTIVE).sum(),
            watched=(kind == WATCHED).sum(),
            nowhere=(active & where.is_null()).sum(),
            outside=(active & (where == 0)).sum(),
        ).row(0, named=True)
        scan.skip(SKIP_INACTIVE, count["inactive"])
        scan.skip(SKIP_OUT_OF_SCOPE, count["outside"])
        if count["watched"]:
            scan.skip(SKIP_UNKNOWN_SKU, count["watched"])
            self._notes(scan.watched, hits.filter(kind == WATCHED), "sku")
        if count["nowhere"]:
            missing = hits.filter(active & where.is_null())
            blank = n("location") == ""
            for number in missing.filter(blank)["line"]:
                problems.append((number, names["location"], "is required"))
            unknown = missing.filter(~blank)
            scan.skip(SKIP_UNKNOWN_LOCATION, unknown.height)
            self._notes(scan.unknown_locations, unknown, "location")
        quantity = n("quantity")
        kept = hits.filter(active & (where > 0)).select(
            "line",
            product=kind.cast(pl.UInt32),
            location=where.cast(pl.UInt32),
            # Nine digits always fit an integer column; longer numbers are checked one by one.
            quantity=pl.when(quantity.str.contains(r"^[0-9]{1,9}$")).then(
                quantity.cast(pl.Int64, strict=False)
            ),
            text=quantity,
        )
        if not kept["quantity"].null_count():
            return kept.drop("text")
        odd = kept.filter(n("quantity").is_null())
        kept = kept.filter(n("quantity").is_not_null()).drop("text")
        fixed = []
        for number, product, location, _, text in odd.iter_rows():
            try:
                fixed.append((number, product, location, _quantity(text)))
            except ValueError as exc:
                problems.append((number, names["quantity"], str(exc)))
        if fixed:
            kept = pl.concat([kept, pl.DataFrame(fixed, schema=KEPT_SCHEMA, orient="row")])
        return kept

    def _notes(self, where: dict[str, list[int]], rows: pl.DataFrame, key: str) -> None:
        """First line and number of rows per value of `key` (a SKU or a location code)."""
        for value, first, count in (
            rows.group_by(key).agg(pl.col("line").min(), pl.len()).iter_rows()
        ):
            seen = where.setdefault(value, [first, 0])
            seen[0] = min(seen[0], first)
            seen[1] += count


def _quantity(text: str) -> int:
    """A quantity cell that is not up to nine plain digits: a sign, a long number (held to an
    integer column's range), or a problem to name."""
    if not text:
        raise ValueError("is required")
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isdigit() and digits.isascii()):
        parse_int(text)  # raises with the reason ('x' is not a number / not a whole number …)
        raise ValueError(f"'{text}' is not a whole number")
    return parse_int(text)  # raises when beyond an integer column's range
