"""Streaming CSV input and output shared by every ingest, export and report.

Input files are read line by line (never whole into memory), as UTF-8 with an
optional BOM; columns are matched by header name in any order. Every problem
is collected as a RowError so a command can list all of them at once. A cell
no column can hold is refused before any parser sees it: a NUL character
(PostgreSQL stores none) or more characters than its column takes; whole
numbers are held to the range of an integer column on both databases.

Every CSV IMS writes goes through `csv_writer` (files, `manage.py export`, the
pages' downloads, reports, channel and ERP files), which neutralises cells a
spreadsheet would run as a formula (OWASP's CSV injection advice): text starting
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. A plain
number such as `-3` or `-12.50` is left a number. Only a file IMS writes for
itself to read back (an ERP pull's staging files) is written verbatim.
"""

from __future__ import annotations

import contextvars
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ims.contracts import contract_errors
from ims.errors import RowError

BOM = b"\xef\xbb\xbf"
NUL = "\x00"
# The whole numbers an integer column holds on PostgreSQL (and so on both databases).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def column_lengths(model, **columns: str) -> dict[str, int]:
    """{csv column: the max_length of the model field it is stored in}."""
    return {column: model._meta.get_field(name).max_length for column, name in columns.items()}


# A command may set a callback(bytes read) to show progress on long files.
progress_hook: contextvars.ContextVar = contextvars.ContextVar("csv_progress", default=None)


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    """The problem of a line that is not UTF-8, naming its first bad byte."""
    return (
        f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at character {exc.start + 1});"
        " save the file as UTF-8"
    )


def header_ok(header: Sequence[str], required: Iterable[str], error) -> bool:
    """Whether a header names each column once, holds no NUL and has every required column;
    each problem goes to error(line, column, reason)."""
    seen: set[str] = set()
    ok = True
    for number, name in enumerate(header, start=1):
        if NUL in name:
            error(1, "header", f"column {number} holds a NUL character (0x00); remove it")
            ok = False
            continue
        if name in seen:
            error(1, name, "column appears twice in the header")
            ok = False
        seen.add(name)
    for name in required:
        if name not in seen:
            error(1, name, "required column is missing from the header")
            ok = False
    return ok


class CsvSource:
    """Rows of one input file as (line number, {column: stripped value})."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        required: Sequence[str],
        optional: Sequence[str] = (),
        label: str | None = None,
        lengths: Mapping[str, int] | None = None,
    ):
        self.path = Path(path)
        self.lengths = dict(lengths or {})
        self.label = label or str(path)
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.errors: list[RowError] = []
        self.header: list[str] = []
        self.rows_read = 0

    def error(self, line: int, column: str, reason: str) -> None:
        self.errors.append(RowError(self.label, line, column, reason))

    def _text_lines(self, handle: io.BufferedReader) -> Iterator[str]:
        report = progress_hook.get()
        for number, raw in enumerate(handle, start=1):
            if report and number % 20000 == 0:
                report(handle.tell())
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.error(number, "encoding", not_utf8(raw, exc))
                yield raw.decode("utf-8", errors="replace")

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            self.error(0, "file", f"cannot open: {exc.strerror}")
            return
        with handle:
            reader = csv.reader(self._text_lines(handle))
            try:
                header = next(reader)
            except StopIteration:
                self.error(1, "header", "the file is empty; a header row is required")
                return
            except csv.Error as exc:
                self.error(1, "header", f"unreadable CSV: {exc}")
                return
            self.header = [name.strip() for name in header]
            if not header_ok(self.header, self.required, self.error):
                return
            width = len(self.header)
            wanted = set(self.required) | set(self.optional)
            while True:
                line = reader.line_num + 1
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    self.error(line, "row", f"unreadable CSV: {exc}")
                    continue
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) != width:
                    self.error(line, "row", f"has {len(values)} fields, the header has {width}")
                    continue
                self.rows_read += 1
                cells = {
                    name: value.strip()
                    for name, value in zip(self.header, values, strict=True)
                    if name in wanted
                }
                if self._fits(line, cells):
                    yield line, cells

    def _fits(self, line: int, cells: dict[str, str]) -> bool:
        """Whether every cell can be stored: no NUL, no more characters than its column takes.
        A row that fails is reported here and not handed on (its parsers never see it)."""
        ok = True
        for name, value in cells.items():
            if NUL in value:
                self.error(line, name, "holds a NUL character (0x00); remove it")
                ok = False
            elif name in self.lengths and len(value) > self.lengths[name]:
                self.error(
                    line,
                    name,
                    f"is {len(value)} characters long; at most {self.lengths[name]}",
                )
                ok = False
        return ok

    def chunks(self, size: int = 5000) -> Iterator[list[tuple[int, dict[str, str]]]]:
        chunk: list[tuple[int, dict[str, str]]] = []
        for item in self:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


class Row:
    """One input row: typed access to its cells, each problem recorded against its column."""

    def __init__(self, source: CsvSource, line: int, values: dict[str, str]):
        self.source = source
        self.line = line
        self.values = values
        self.failed: set[str] = set()

    @property
    def ok(self) -> bool:
        return not self.failed

    def fail(self, column: str, reason: str) -> None:
        self.failed.add(column)
        self.source.error(self.line, column, reason)

    def check_contract(self, name: str, record: dict) -> None:
        """Validate the row's record against a JSON contract; blank cells are left out of it.

        Columns that already failed to parse are not reported twice."""
        for column, reason in contract_errors(
            name, {k: v for k, v in record.items() if v not in (None, "")}
        ):
            if column not in self.failed:
                self.fail(column, reason)

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    def required(self, column: str) -> str | None:
        value = self.get(column)
        if not value:
            self.fail(column, "is required")
            return None
        return value

    def parse(self, column: str, parser, *, required: bool = True):
        """parser(text) → value, raising ValueError with the reason; None when blank or bad."""
        text = self.get(column)
        if not text:
            if required:
                self.fail(column, "is required")
            return None
        try:
            return parser(text)
        except ValueError as exc:
            self.fail(column, str(exc))
            return None


def parse_int(text: str) -> int:
    """A whole number an integer column holds (ASCII digits, an optional sign)."""
    text = text.strip()
    digits = text[1:] if text[:1] in ("+", "-") else text
    if digits.isascii() and digits.isdigit():
        if len(digits) > 10 or not INT_MIN <= int(text) <= INT_MAX:
            if text.startswith("-"):
                raise ValueError(f"'{text}' is too small; at least {INT_MIN}")
            raise ValueError(f"'{text}' is too large; at most {INT_MAX}")
        return int(text)
    if "_" in text:  # Python's int() and float() take 1_000; a file may not
        raise ValueError(f"'{text}' is not a whole number")
    try:
        whole = float(text).is_integer()
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    raise ValueError(
        f"'{text}' is not a whole number" if not whole else f"'{text}' is not an integer"
    )


def parse_quantity(text: str) -> int:
    value = parse_int(text)
    if value < 0:
        raise ValueError(f"'{text}' is negative")
    return value


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"true", "yes", "1", "y"}:
        return True
    if value in {"false", "no", "0", "n"}:
        return False
    raise ValueError(f"'{text}' is not true or false")


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_START)
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutralise(value):
    """The cell as written: text a spreadsheet would read as a formula gets a leading `'`."""
    if (
        isinstance(value, str)
        and value[:1] in _FORMULA_FIRST
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


class CsvWriter:
    """csv.writer with `\n` line ends whose every cell goes through `neutralise`
    (unless `verbatim`: a file only IMS reads back)."""

    def __init__(self, handle, *, verbatim: bool = False):
        self._writer = csv.writer(handle, lineterminator="\n")
        self._verbatim = verbatim

    def writerow(self, row: Iterable):
        if self._verbatim:
            return self._writer.writerow(row)
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle, *, verbatim: bool = False) -> CsvWriter:
    return CsvWriter(handle, verbatim=verbatim)


def write_csv(
    target: str | os.PathLike | io.TextIOBase,
    header: Sequence[str],
    rows: Iterable[Sequence],
    *,
    verbatim: bool = False,
) -> int:
    """Write a header and rows to a path (atomically) or an open text stream; return the row count."""
    if isinstance(target, io.TextIOBase):
        return _write(target, header, rows, verbatim)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        count = _write(handle, header, rows, verbatim)
    tmp.replace(path)
    return count


def _write(handle, header, rows, verbatim: bool = False) -> int:
    writer = csv_writer(handle, verbatim=verbatim)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence], size: int = 64_000
) -> Iterator[str]:
    """The CSV text in pieces of about `size` characters, for a streaming download."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@dataclass
class IngestResult:
    """What an ingest did; `kept_out` lists rows refused one by one (the rest applied)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_out: list = field(default_factory=list)
    # For the caller to raise or resolve exceptions: kind-specific findings.
    findings: list = field(default_factory=list)
    cleared: set = field(default_factory=set)
