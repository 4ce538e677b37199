"""The living demo: `load_demo --day` plays a day of the shop's life through the real webhook
endpoint and services, the Shopify channel pushing to its stand-in shop on 127.0.0.1. What
`make demo` then serves has content on every page, the evaluator still scores 100 %, and a
Push correction on a price mismatch lands in the stand-in and the next sync reads it aligned."""

import csv
import importlib
import io
import json
import re
import socket
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from channels.models import Channel, ChannelListing, SyncRun
from exceptions.models import OpsException
from orchestration.demo.day import customer_phone
from orchestration.demo.standin import shopify_standin
from orders.models import ChannelOrder

# serialized_rollback: the role groups the migrations made are back for the tests after these.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def day(tmp_path, monkeypatch, settings):
    from django.apps import apps

    from ims.roles import sync_groups

    # A flushed database has lost what the migrations made: the role groups (load_demo makes
    # one user per role), the default SLA policies and the WhatsApp templates.
    sync_groups(apps)
    for migration in (
        "sla.migrations.0003_default_policies",
        "notifications.migrations.0002_templates",
    ):
        importlib.import_module(migration).create(apps, None)
    settings.IMS_REPORTS_DIR = tmp_path / "reports"
    monkeypatch.setenv("IMS_DEMO_STANDIN_PORT", str(_free_port()))
    monkeypatch.setenv("IMS_DEMO_WHATSAPP_PORT", str(_free_port()))
    folder = tmp_path / "demo"
    call_command("load_demo", "--day", "--dir", str(folder))
    call_command("reconcile", "--out", str(tmp_path / "reconciled"))
    return folder


def _client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_after_the_day_every_page_has_content_and_the_gold_still_holds(day, tmp_path, capsys):
    call_command("evaluate", "--gold", str(day), "--out", str(tmp_path / "evaluated"))
    assert "evaluation passed" in capsys.readouterr().out

    ops = _client("demo-ops")
    orders = {o["placed_minutes_ago"]: f"#{o['id']}" for o in _plan(day)["orders"]}

    def clocks(state):
        return ops.get("/sla/", {"state": state}).content.decode()

    assert orders[300] in clocks("breached") and orders[1800] in clocks("breached")
    assert orders[100] in clocks("at_risk") and orders[100] not in clocks("breached")
    on_time = clocks("running")
    assert orders[5] in on_time and orders[5] not in clocks("attention")
    assert orders[40] in clocks("stopped")  # acknowledged in time
    assert "SLA breach: order acknowledgement of shopify order" in clocks("attention")  # task
    first = ChannelOrder.objects.get(external_id=str(_plan(day)["orders"][0]["id"]))
    order = ops.get(f"/sla/orders/{first.pk}/")
    assert order.status_code == 200 and f"#{first.external_id}" in order.content.decode()

    store = _client("demo-store")
    quarantine = store.get("/stock/quarantine/").content.decode()
    returned = next(o for o in _plan(day)["orders"] if "return:3" in o["then"])
    assert returned["lines"][0][0] in quarantine  # one of the three units sent back is still there
    vendor = store.get("/stock/vendor-returns/").content.decode()
    assert "1Z999AA10123456784" in vendor and "Acme Supply Co." in vendor  # awaiting its note
    assert "ACME-CN-2291" in vendor  # the other one, closed with the vendor's credit note
    returns = store.get("/stock/returns/").content.decode()
    assert "NYC-RET-0007" in returns and "awaiting inspection" in returns
    held = _client("demo-admin").get("/stock/pos-overrides/").content.decode()
    assert "NYC-0042" in held
    finance = _client("demo-finance").get("/finance/").content.decode()
    assert "NYC-RET-0007" in finance and "ACME-CN-2291" in finance
    transfers = store.get("/stock/transfers/").content.decode()
    assert _plan(day)["transfer"]["sku"] in transfers

    woo = Channel.objects.get(code="woocommerce")
    assert woo.status == "paused" and "could not be reserved" in woo.pause_reason
    runs = ops.get("/channels/runs/").content.decode()
    assert "stock_changed" in runs or "stock changed" in runs
    pushed = SyncRun.objects.filter(channel__code="shopify", mode="push", sent__gt=0)
    assert pushed.exists()
    assert (day / "erp-variance.csv").exists()
    with (day / "gold-exceptions.csv").open() as handle:
        kinds = {row["discrepancy"] for row in csv.DictReader(handle)}
    assert {"SLA_Breach", "Leakage", "Oversell_Risk"} <= kinds


def test_push_correction_on_a_price_mismatch_lands_in_the_stand_in_and_the_next_sync_reads_it_aligned(
    day, tmp_path
):
    mismatch = (
        OpsException.objects.open()
        .filter(channel__code="shopify", discrepancy="Price_Mismatch")
        .order_by("sku_id")
        .first()
    )
    ops = _client("demo-ops")
    with shopify_standin() as shop:
        answer = ops.post(
            "/exceptions/push/", {"ids": [mismatch.pk], "next": "/exceptions/"}, follow=True
        )
        assert "Pushed 1 correction." in answer.content.decode()
        assert shop.variant(mismatch.sku_id)["price"] == Decimal(mismatch.expected)
        call_command(
            "sync", "--channel", "shopify", "--mode", "read_only", "--out", str(tmp_path / "s")
        )
    listing = ChannelListing.objects.get(channel__code="shopify", identifier=mismatch.sku_id)
    assert listing.price == Decimal(mismatch.expected)
    mismatch.refresh_from_db()
    assert mismatch.status == "resolved"


def _plan(folder):
    return json.loads((folder / "day.json").read_text())


def test_serve_demo_s_customer_opens_the_prescription_at_rx_with_the_code_whatsapp_brings(
    day, monkeypatch
):
    """serve_demo itself: while it serves (its development server stood in for by the
    customer's requests), the code the WhatsApp stand-in is given is printed in the console,
    and with it the customer opens the order's PDF."""
    first = _plan(day)["prescription"]["order"]
    phone = customer_phone(first)
    seen = {}

    def serving(name, *args, **kwargs):
        assert name == "runserver"
        customer = Client()
        seen["asked"] = customer.post("/rx/", {"order": f"#{first}", "phone": phone})
        console = out.getvalue()
        seen["console"] = console
        code = re.search(r"ims_prescription_code \['(\d{6})'\]", console).group(1)
        opened = customer.post(
            "/rx/verify/", {"order": f"#{first}", "phone": phone, "code": code}
        ).content.decode()
        seen["pdf"] = customer.get(re.search(r'href="(/rx/[^"]+/\d+/)"', opened).group(1))

    monkeypatch.setattr("orchestration.management.commands.serve_demo.call_command", serving)
    out = io.StringIO()
    call_command("serve_demo", stdout=out)
    assert seen["asked"].status_code == 200
    assert f"stand-in WhatsApp → {phone}: ims_prescription_code" in seen["console"]
    pdf = seen["pdf"]
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and b"order 5001" in pdf.content
