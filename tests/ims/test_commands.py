"""The integrator's commands: export, setup_schedules, reconcile's arguments."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


def exported(what, capsys):
    call_command("export", what)
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))


def test_export_stock_has_one_row_per_product_and_location_with_every_state(world, ingest, capsys):
    ingest("inventory", "sku_id,location,quantity\nB-2,WH,3\nA-1,NYC,2\nA-1,WH,10\n")
    assert exported("stock", capsys) == [
        [
            "sku_id",
            "location",
            "available",
            "reserved",
            "in_transit",
            "damaged",
            "returned",
            "quarantined",
        ],
        ["A-1", "NYC", "2", "0", "0", "0", "0", "0"],
        ["A-1", "WH", "10", "0", "0", "0", "0", "0"],
        ["B-2", "WH", "3", "0", "0", "0", "0", "0"],
    ]


def test_export_channels_shows_status_and_pause_reason(world, capsys):
    from channels.models import Channel

    Channel.objects.filter(code="market").update(status="paused", pause_reason="oversold SKU B-2")
    assert exported("channels", capsys) == [
        ["code", "kind", "sync_mode", "status", "pause_reason"],
        ["market", "amazon", "read_only", "paused", "oversold SKU B-2"],
        ["shop", "shopify", "push", "active", ""],
    ]


def test_export_exceptions_matches_the_report_and_can_go_to_a_file(world, ingest, tmp_path, capsys):
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,1,30.00,USD\n")
    call_command("reconcile", "--out", str(tmp_path))
    call_command("export", "exceptions", "--out", str(tmp_path / "x.csv"))
    assert (tmp_path / "x.csv").read_text() == (tmp_path / "exceptions.csv").read_text()


def test_reconcile_refuses_an_unknown_channel(world):
    with pytest.raises(CommandError, match="--channel: unknown channel 'nope'"):
        call_command("reconcile", "--channel", "nope")


def test_setup_schedules_can_run_again_without_duplicating(capsys):
    call_command("setup_schedules")
    call_command("setup_schedules")
    from orchestration.management.commands.setup_schedules import SCHEDULES

    names = list(Schedule.objects.values_list("name", "func"))
    assert sorted(names) == sorted((name, func) for name, (func, *_) in SCHEDULES.items())
    assert ("nightly reconcile and reports", "reconcile.tasks.reconcile_task") in names
    assert ("nightly ledger check", "orders.tasks.ledger_check_task") in names


def test_the_nightly_task_runs_reconcile_through_the_queue(world, tmp_path):
    from django_q.tasks import async_task

    from exceptions.models import ReconcileRun

    async_task("reconcile.tasks.reconcile_task", None, str(tmp_path), sync=True)
    assert ReconcileRun.objects.get().status == "succeeded"
    assert (tmp_path / "scorecard.html").exists()
