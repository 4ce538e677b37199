"""Property: whatever a cell holds (a NUL, a lone surrogate, a huge number, a formula, any
Unicode), an otherwise valid file of each ingest kind is either applied or refused with precise
`file:line: column: reason` errors, and the refusal is logged; it never raises anything else.
Bounded (100 examples a kind) so it runs in seconds, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import csv
import io
import itertools
import re

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims.errors import FileRejected
from ims.models import IngestRun, IngestStatus
from orchestration.ingest import ingest_file

pytestmark = pytest.mark.django_db

# kind → (header, one valid row) against the `world` fixture.
FILES = {
    "locations": (["code", "name", "kind", "erp_code"], ["ZZ", "Zone", "store", "Z9"]),
    "channels": (
        ["code", "name", "kind", "sync_mode", "locations", "safety_buffer", "currency", "base_url"],
        ["web", "Web", "shopify", "push", "WH;NYC", "10%", "USD", "https://shop.example"],
    ),
    "price_rules": (
        ["category", "max_discount_pct", "min_margin_pct", "luxury", "excluded_channels"],
        ["toys", "20", "10", "false", "market"],
    ),
    "catalog": (
        [
            "sku_id",
            "name",
            "barcode",
            "category",
            "uom",
            "cost",
            "mrp",
            "price",
            "currency",
            "status",
            "style",
            "attributes",
        ],
        [
            "C-9",
            "Cap",
            "96385074",
            "apparel",
            "EA",
            "5.00",
            "20.00",
            "15.00",
            "USD",
            "active",
            "CAP",
            "size=M",
        ],
    ),
    "inventory": (["sku_id", "location", "quantity"], ["A-1", "WH", "5"]),
    "prices": (["sku_id", "currency", "price", "effective_date"], ["A-1", "USD", "35.00", ""]),
    "snapshot": (
        ["channel", "sku_id", "quantity", "price", "currency", "barcode", "external_id"],
        ["shop", "A-1", "3", "30.00", "USD", "4006381333931", "ext-1"],
    ),
}

SPECIAL = [
    "",
    " ",
    "\x00",
    "A\x00",
    "1\x00",
    "NaN",
    "Infinity",
    "-inf",
    "1e400",
    "1e3",
    "-0",
    "1_000",
    "²",
    "٥",
    "１２",
    str(10**20),
    str(10**23),
    str(2**31),
    str(-(2**31) - 1),
    "9" * 5000,
    "99999999999.99",
    "0.0001",
    "-12.50",
    '=HYPERLINK("http://x","y")',
    "+SUM(A1:A2)",
    "@cmd",
    "-2+3",
    "\t=1",
    "A/1",
    "50%",
    "100.001%",
    "2026-02-30",
    "9999-12-31",
    "\ufeffA-1",
    "x" * 300,
    "Ä-1",
    "🙂",
    '"',
    "a,b",
    "line\nbreak",
    "\r",
]
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
CELLS = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=30),
    st.text(st.one_of(st.characters(), SURROGATES), max_size=10),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<column>[^:\n]+): (?P<reason>.+)$", re.S)
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def file_bytes(header: list[str], row: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # verbatim: the test wants the raw cells
    writer.writerow(header)
    writer.writerow(row)
    return out.getvalue().encode("utf-8", errors="surrogatepass")


def check(kind: str, changes: dict[int, str], folder, counter) -> None:
    header, valid = FILES[kind]
    row = list(valid)
    for index, value in changes.items():
        row[index] = value
    path = folder / f"{kind}-{next(counter)}.csv"
    path.write_bytes(file_bytes(header, row))
    label = str(path)
    with transaction.atomic():  # each example leaves the world as it found it
        runs = IngestRun.objects.count()
        try:
            run, _ = ingest_file(kind=kind, path=path)
            assert run.status == IngestStatus.APPLIED
        except FileRejected as refused:
            assert refused.errors
            for error in refused.errors:
                text = str(error)
                match = ERROR.match(text)
                assert match, text
                assert match["file"] == label and int(match["line"]) >= 0
                assert match["column"] in {*header, "row", "header", "encoding", "file"}, text
                assert "\x00" not in text
            logged = IngestRun.objects.order_by("-pk").first()
            assert IngestRun.objects.count() == runs + 1
            assert logged.status == IngestStatus.REJECTED
            assert logged.messages == [str(e) for e in refused.errors[:1000]]
        transaction.set_rollback(True)


@pytest.mark.parametrize("kind", list(FILES))
def test_any_cell_gives_a_record_or_a_precise_error(world, tmp_path, kind):
    header, _ = FILES[kind]
    counter = itertools.count()
    changes = st.dictionaries(
        st.integers(min_value=0, max_value=len(header) - 1), CELLS, min_size=1, max_size=3
    )

    @FUZZ
    @given(changes=changes)
    def run(changes):
        check(kind, changes, tmp_path, counter)

    run()


@pytest.mark.parametrize("kind", list(FILES))
def test_the_valid_row_of_each_kind_is_applied(world, tmp_path, kind):
    """The base the fuzzing changes is itself a valid file."""
    header, row = FILES[kind]
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(file_bytes(header, row))
    run, _ = ingest_file(kind=kind, path=path)
    assert run.status == IngestStatus.APPLIED
