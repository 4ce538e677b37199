"""A reset file that cannot be applied is refused whole, every problem named as
file:line: column: reason, and nothing changes. The command prints the same."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from erp.errors import ResetRefused
from erp.models import ResetRun
from ims.errors import FileRejected
from inventory.models import Movement
from tests.erp.conftest import at, levels

pytestmark = pytest.mark.django_db

HEADER = "sku_id,location,quantity\n"
GOOD = "A,NY,10\nA,NSH,10\nB,NY,10\nB,NSH,10\nC,NY,5\nC,NSH,5\n"


def refused(reset, text: str, **kwargs) -> list[str]:
    before = levels()
    with pytest.raises(FileRejected) as caught:
        reset(text, as_of=at(1, 7), name="rp.csv", **kwargs)
    assert levels() == before
    assert not Movement.objects.filter(reason="erp_reset").exists()
    run = ResetRun.objects.get()
    assert run.status == "rejected" and run.messages == [str(e) for e in caught.value.errors]
    return [str(e).split("rp.csv", 1)[1] for e in caught.value.errors]


def test_a_truncated_last_line_is_named(seed_world, reset):
    assert refused(reset, HEADER + GOOD[:-4]) == [":7: row: has 2 fields, the header has 3"]


def test_duplicate_rows_are_named_with_the_first_line_even_through_an_erp_code(seed_world, reset):
    assert refused(reset, HEADER + GOOD + "A,NY,9\nB,RP-NSH,1\n") == [
        ":8: sku_id: A at NY appears again (first on line 2)",
        ":9: sku_id: B at NSH appears again (first on line 5)",
    ]


@pytest.mark.parametrize("block", [1, 12, 1 << 22])
def test_duplicates_are_found_across_blocks_of_any_size(seed_world, reset, monkeypatch, block):
    monkeypatch.setattr("erp.reader.BLOCK", block)
    assert refused(reset, HEADER + GOOD + "A,NY,9\nA,NY,8\nB,RP-NSH,1\n") == [
        ":8: sku_id: A at NY appears again (first on line 2)",
        ":9: sku_id: A at NY appears again (first on line 2)",
        ":10: sku_id: B at NSH appears again (first on line 5)",
    ]


@pytest.mark.parametrize("block", [1, 12, 1 << 22])
def test_a_file_read_in_blocks_of_any_size_applies_the_same(seed_world, reset, monkeypatch, block):
    monkeypatch.setattr("erp.reader.BLOCK", block)
    text = '\ufeffsku_id,location,quantity\r\n"A",RP-NY,8\r\n A ,NSH,10\r\n\r\nB,NY,10\r\nB,NSH,10\r\nC,NY,5\r\nC,NSH,5'
    summary = reset(text, as_of=at(1, 7))
    assert levels() == {
        ("A", "NY"): 8,
        ("A", "NSH"): 10,
        ("B", "NY"): 10,
        ("B", "NSH"): 10,
        ("C", "NY"): 5,
        ("C", "NSH"): 5,
    }
    assert (summary.run.rows_read, summary.run.kept, summary.run.changed) == (6, 6, 3)


def test_every_bad_quantity_is_listed(seed_world, reset):
    text = HEADER + "A,NY,ten\nA,NSH,2.5\nB,NY,\nB,NSH,1e3\nC,NY,5\nC,NSH,1_000\n"
    assert refused(reset, text) == [
        ":2: quantity: 'ten' is not a number",
        ":3: quantity: '2.5' is not a whole number",
        ":4: quantity: is required",
        ":5: quantity: '1e3' is not an integer",
        ":7: quantity: '1_000' is not a whole number",
    ]


def test_rows_outside_the_scope_are_not_validated_beyond_well_formed_csv(seed_world, reset):
    summary = reset(HEADER + GOOD + "OLD-1,NY,lots\nOLD-2,XX,\n", as_of=at(1, 7), zero_share=0.5)
    assert summary.run.skipped == {"unknown SKU": 2}


def test_quoted_cells_padding_crlf_and_a_bom_read_the_same(seed_world, reset):
    text = '\ufeffquantity,"sku_id",location\r\n 8 ,"A", NY\r\n10,A,NSH\r\n"10",B,NY\r\n10,B,NSH\r\n5,C,NY\r\n5,C,NSH'
    summary = reset(text, as_of=at(1, 7))
    assert levels()[("A", "NY")] == 8 and levels()[("C", "NSH")] == 5
    assert summary.run.kept == 6
    assert any("does not end with a line break" in note for note in summary.lines())


def test_a_header_without_the_columns_is_refused(seed_world, reset):
    assert refused(reset, "sku,location,qty\nA,NY,1\n") == [
        ":1: sku_id: required column is missing from the header",
        ":1: quantity: required column is missing from the header",
    ]


def test_an_empty_file_is_refused(seed_world, reset):
    assert refused(reset, "") == [":1: header: the file is empty; a header row is required"]


def test_an_as_of_in_the_future_is_refused(seed_world, reset):
    before = levels()
    with pytest.raises(ResetRefused) as caught:
        reset(HEADER + GOOD, as_of=at(1, 7), now=at(1, 6))
    assert "is in the future" in caught.value.message
    assert levels() == before
    assert ResetRun.objects.get().status == "rejected"


def test_an_as_of_before_the_last_reset_is_refused(seed_world, reset):
    reset(HEADER + GOOD, as_of=at(1, 7))
    with pytest.raises(ResetRefused) as caught:
        reset(HEADER + GOOD.replace("A,NY,10", "A,NY,1"), as_of=at(1, 6), now=at(1, 8))
    assert "is before the last reset applied" in caught.value.message
    assert levels()[("A", "NY")] == 10


def test_the_command_applies_a_file_and_prints_the_summary(seed_world, csv_file, tmp_path):
    out = io.StringIO()
    call_command(
        "erp_reset",
        str(csv_file(HEADER + GOOD + "A,PARIS,3\n", name="rp.csv")),
        "--as-of",
        "2026-11-21T07:00:00Z",
        "--variance-out",
        str(tmp_path / "v.csv"),
        stdout=out,
    )
    text = out.getvalue()
    assert "rows read: 7; kept: 6; skipped: 1 unknown location" in text
    assert "changed: 2" in text and "variance total: +0 units" in text
    assert f"variance file: {tmp_path / 'v.csv'}" in text
    assert "rp.csv:8: location: unknown location 'PARIS' (1 rows skipped)" in text
    assert levels()[("C", "NY")] == 5


def test_the_command_lists_every_problem_and_exits_non_zero(seed_world, csv_file):
    err = io.StringIO()
    path = csv_file(HEADER + "A,NY,x\nA,NY,4\nB,NSH,1\n", name="bad.csv")
    with pytest.raises(CommandError) as caught:
        call_command("erp_reset", str(path), "--as-of", "2026-11-21T07:00:00Z", stderr=err)
    assert caught.value.returncode == 1
    assert err.getvalue().splitlines() == [f"{path}:2: quantity: 'x' is not a number"]
    assert levels()[("A", "NY")] == 10


def test_the_command_refuses_a_future_as_of(seed_world, csv_file):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "erp_reset",
            str(csv_file(HEADER + GOOD)),
            "--as-of",
            "2999-01-01T07:00:00+00:00",
            stderr=err,
        )
    assert "is in the future" in err.getvalue()


def test_a_nul_anywhere_in_the_three_columns_is_named_and_the_refusal_is_kept(seed_world, reset):
    text = HEADER + GOOD + "A,N\x00Y,1\nOLD\x00,NY,1\nB,NY,1\x00\n"
    assert refused(reset, text) == [
        ":8: location: holds a NUL character (0x00); remove it",
        ":9: sku_id: holds a NUL character (0x00); remove it",
        ":10: quantity: holds a NUL character (0x00); remove it",
    ]


def test_a_nul_in_the_header_is_named(seed_world, reset):
    assert refused(reset, "sku_id,loca\x00tion,quantity\nA,NY,1\n") == [
        ":1: header: column 2 holds a NUL character (0x00); remove it",
        ":1: location: required column is missing from the header",
    ]


def test_a_quantity_beyond_an_integer_column_is_named(seed_world, reset):
    text = (
        HEADER
        + GOOD.replace("A,NY,10", "A,NY,2147483648").replace(
            "B,NY,10", "B,NY,100000000000000000000"
        )
        + "C,NSH,-3000000000\n"
    )
    assert refused(reset, text.replace("C,NSH,5\n", "")) == [
        ":2: quantity: '2147483648' is too large; at most 2147483647",
        ":4: quantity: '100000000000000000000' is too large; at most 2147483647",
        ":7: quantity: '-3000000000' is too small; at least -2147483648",
    ]


def test_the_largest_quantity_an_integer_column_holds_is_applied(seed_world, reset):
    reset(HEADER + GOOD.replace("A,NY,10", "A,NY,2147483647"), as_of=at(1, 7))
    assert levels()[("A", "NY")] == 2147483647
