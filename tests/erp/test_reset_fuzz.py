"""Property: whatever a cell of an ERP reset file holds, the reset applies it or refuses it
with precise `file:line: column: reason` errors (or refuses the reset as a whole, say), the
refusal kept as a ResetRun; it never raises anything else. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import csv
import io
import itertools
import re

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erp.errors import ResetRefused
from erp.models import ResetRun
from erp.services.reset import erp_reset
from ims.errors import FileRejected
from tests.erp.conftest import at
from tests.ims.test_ingest_fuzz import CELLS

pytestmark = pytest.mark.django_db

HEADER = ["sku_id", "location", "quantity"]
ROWS = [["A", "NY", "10"], ["A", "NSH", "10"], ["B", "RP-NY", "10"], ["B", "NSH", "10"]]
ROWS += [["C", "NY", "5"], ["C", "NSH", "5"]]
ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<column>[^:\n]+): (?P<reason>.+)$", re.S)


def test_any_cell_of_a_reset_file_gives_a_reset_or_a_precise_error(seed_world, tmp_path):
    counter = itertools.count()
    changes = st.dictionaries(
        st.tuples(st.integers(0, len(ROWS) - 1), st.integers(0, 2)), CELLS, min_size=1, max_size=3
    )

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(changes=changes)
    def run(changes):
        rows = [list(r) for r in ROWS]
        for (row, column), value in changes.items():
            rows[row][column] = value
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
        path = tmp_path / f"reset-{next(counter)}.csv"
        path.write_bytes(out.getvalue().encode("utf-8", errors="surrogatepass"))
        with transaction.atomic():
            try:
                erp_reset(
                    path=path,
                    as_of=at(1, 7),
                    now=at(1, 7, 5),
                    variance_out=tmp_path / "variance.csv",
                    zero_share=1.0,
                )
            except FileRejected as refused:
                for error in refused.errors:
                    match = ERROR.match(str(error))
                    assert match and match["file"] == str(path), str(error)
                    assert match["column"] in {*HEADER, "row", "header", "encoding"}, str(error)
                    assert "\x00" not in str(error)
                assert ResetRun.objects.latest("pk").status == "rejected"
            except ResetRefused:
                assert ResetRun.objects.latest("pk").status == "rejected"
            transaction.set_rollback(True)

    run()
