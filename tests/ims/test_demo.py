"""The demo dataset and the evaluator: 100 % against the gold files, and a tampered gold fails."""

import csv
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exceptions.models import OpsException

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path):
    folder = tmp_path / "demo"
    call_command("load_demo", "--dir", str(folder), "--today", "2026-11-22")
    return folder


def test_the_demo_is_found_in_full_by_reconcile(demo, tmp_path, capsys):
    call_command(
        "evaluate", "--gold", str(demo), "--out", str(tmp_path / "reports"), "--report", "html"
    )
    out = capsys.readouterr().out
    assert "evaluation passed" in out
    assert (tmp_path / "reports" / "evaluation.html").exists()
    for name in ("exceptions.csv", "sku-rollup.csv", "scorecard.html"):
        assert (tmp_path / "reports" / name).exists()


def test_the_demo_has_1000_skus_four_channels_and_exactly_50_price_mismatches_on_shopify(
    demo, tmp_path
):
    from catalog.models import Product
    from channels.models import Channel

    call_command("reconcile", "--out", str(tmp_path / "r"))
    assert Product.objects.count() == 1000
    assert sorted(Channel.objects.values_list("code", "kind")) == [
        ("amazon", "amazon"),
        ("pos", "pos"),
        ("shopify", "shopify"),
        ("woocommerce", "woocommerce"),
    ]
    assert (
        OpsException.objects.filter(channel__code="shopify", discrepancy="Price_Mismatch").count()
        == 50
    )
    kinds = set(OpsException.objects.values_list("discrepancy", flat=True))
    assert kinds >= {
        "Price_Mismatch",
        "Stock_Mismatch",
        "Missing_SKU",
        "Channel_Only_SKU",
        "Currency_Mismatch",
        "Oversell_Risk",
        "Price_Rule_Violation",
    }


def test_the_demo_is_the_same_every_time(tmp_path):
    import datetime as dt

    from orchestration.demo import build_demo

    one = build_demo(tmp_path / "one", today=dt.date(2026, 11, 22))
    two = build_demo(tmp_path / "two", today=dt.date(2026, 11, 22))
    for kind, path in one.items():
        assert path.read_bytes() == two[kind].read_bytes(), kind


def test_loading_the_demo_twice_changes_nothing(demo, tmp_path, capsys):
    capsys.readouterr()
    call_command("load_demo", "--dir", str(demo), "--today", "2026-11-22")
    lines = [line for line in capsys.readouterr().out.splitlines() if " rows, " in line]
    assert len(lines) == 11  # the seven files in INGEST_ORDER and four snapshots
    for line in lines:
        assert " 0 created, 0 updated" in line, line


def test_the_evaluator_fails_when_reconcile_and_gold_disagree(demo, tmp_path):
    gold = demo / "gold-exceptions.csv"
    rows = list(csv.reader(gold.open()))
    rows[1][4] = "999"  # the first gold row now expects another actual value
    with gold.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(CommandError) as info:
        call_command("evaluate", "--gold", str(demo), "--out", str(tmp_path / "reports"))
    assert info.value.returncode == 1


def test_the_evaluator_fails_when_a_figure_differs(demo, tmp_path):
    path = demo / "gold-scorecard.json"
    figures = json.loads(path.read_text())
    figures["oversell_skus"] += 1
    path.write_text(json.dumps(figures))
    with pytest.raises(CommandError):
        call_command("evaluate", "--gold", str(demo), "--out", str(tmp_path / "reports"))


def test_the_demo_uses_quantity_policies_and_an_assortment(demo, tmp_path):
    """Amazon sees 80 % of the warehouse, at most 50 of a product; the stores' POS withholds
    grocery (sold online only): never missing there, and shown with stock a mismatch."""
    from channels.models import Channel, ChannelAssortment

    call_command("reconcile", "--out", str(tmp_path / "r"))
    amazon = Channel.objects.get(code="amazon")
    assert (amazon.share_pct, amazon.max_units) == (80, 50)
    assert amazon.atp(120) == 50 and amazon.atp(40) == 30  # floor(32) − 2
    withheld = ChannelAssortment.objects.filter(channel__code="pos", publish=False)
    assert withheld.count() > 0
    assert set(withheld.values_list("product__category__name", flat=True)) == {"grocery"}
    open_on_pos = OpsException.objects.open().filter(
        channel__code="pos", product__category__name="grocery"
    )
    assert not open_on_pos.filter(discrepancy="Missing_SKU").exists()
    assert sorted(open_on_pos.values_list("discrepancy", "expected")) == [
        ("Stock_Mismatch", "0"),
        ("Stock_Mismatch", "0"),
    ]
