"""The sync engine against a local fake Shopify on 127.0.0.1: plan, modes, guardrails, failures."""

import csv
import datetime as dt
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Product
from channels.models import (
    Channel,
    ChannelListing,
    LineState,
    PushRecord,
    SyncLine,
    SyncRun,
)
from channels.services import channel_pause, stock_changed
from channels.sync.engine import sync
from channels.sync.runs import sync_run_discard
from channels.sync.send import sync_run_approve
from exceptions.models import Discrepancy, OpsException
from exceptions.services import Finding, ops_exceptions_record
from ims.errors import NotAllowed
from ims.models import AuditEvent
from ims.roles import Role
from standins.shopify import FakeShopify

# Transactional: the pause enqueues its zero push after commit, as in production.
# serialized_rollback: the role groups the migrations made are back for the tests after these.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def fast_retries(settings):
    settings.IMS_HTTP_RETRY_ATTEMPTS = 3
    settings.IMS_HTTP_BACKOFF_SECONDS = 0.001
    settings.IMS_HTTP_BACKOFF_MAX = 0.01


@pytest.fixture
def shop(world, ingest, monkeypatch, fast_retries):
    """The world's `shop` (shopify, push, WH;NYC) served by a fake Shopify with stock in IMS:
    A-1 ATP 12 (shows 9 at 30.00), B-2 ATP 5 (shows 5 at 7.00), W-3 ATP 2 (shows 2 at 480.00)."""
    ingest(
        "inventory",
        """
        sku_id,location,quantity
        A-1,WH,10
        A-1,NYC,2
        B-2,WH,5
        W-3,NYC,2
    """,
    )
    fake = FakeShopify(maximum=20000, restore_rate=5000)
    fake.add("A-1", 9, "30.00")
    fake.add("B-2", 5, "7.00")
    fake.add("W-3", 2, "480.00")
    monkeypatch.setenv("IMS_CHANNEL_SHOP_ACCESS_TOKEN", "shpat_test")
    with fake.serve() as url:
        Channel.objects.filter(code="shop").update(base_url=url)
        yield fake


def plan_rows(path):
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_push_reads_live_plans_and_sends_what_differs(shop, tmp_path):
    outcome = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
    run = outcome.runs[0]
    assert (run.status, run.mode, run.source, run.listings_read) == ("succeeded", "push", "live", 3)
    assert plan_rows(tmp_path / "sync-plan.csv") == [
        ["channel", "sku_id", "field", "current", "target", "sent"],
        ["shop", "A-1", "quantity", "9", "12", "yes"],
        ["shop", "B-2", "price", "7.00", "8.00", "yes"],
    ]
    assert shop.variant("A-1")["available"] == 12
    assert shop.variant("B-2")["price"] == Decimal("8.00")
    listing = ChannelListing.objects.get(channel__code="shop", product__sku="A-1")
    assert (listing.quantity, listing.ref["inventory_item_id"]) == (12, shop.variant("A-1")["item"])
    assert set(PushRecord.objects.values_list("product__sku", "field", "value")) == {
        ("A-1", "quantity", "12"),
        ("B-2", "price", "8.00"),
    }
    # A second run finds nothing to change and sends nothing.
    writes = sum(shop.writes.values())
    again = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert (again.planned, sum(shop.writes.values())) == (0, writes)


def test_dry_run_writes_the_plan_and_sends_nothing(shop, tmp_path):
    run = sync(channel=Channel.objects.get(code="shop"), mode="dry_run", out_dir=tmp_path).runs[0]
    assert (run.mode, run.status, run.planned, run.sent) == ("dry_run", "succeeded", 2, 0)
    assert [r[-1] for r in plan_rows(tmp_path / "sync-plan.csv")[1:]] == ["no", "no"]
    assert not shop.writes and shop.variant("A-1")["available"] == 9


def test_mode_only_lowers_a_channels_own(world, tmp_path):
    market = Channel.objects.get(code="market")  # read_only, no base_url: its last snapshot
    run = sync(channel=market, mode="push", out_dir=tmp_path).runs[0]
    assert (run.mode, run.source) == ("read_only", "snapshot")


def test_a_blocked_price_is_not_pushed_but_its_stock_flows(shop, tmp_path, now):
    a1 = Product.objects.get(sku="A-1")
    b2 = Product.objects.get(sku="B-2")
    ops_exceptions_record(
        findings=[
            Finding("B-2", Discrepancy.PRICE_RULE_VIOLATION, "min_margin", "1.00", product_id=b2.pk)
        ],
        source="ingest",
        now=now,
    )
    ops_exceptions_record(
        findings=[
            Finding("A-1", Discrepancy.PRICE_RULE_VIOLATION, "above_mrp", "99.00", product_id=a1.pk)
        ],
        source="ingest",
        now=now,
    )
    shop.variant("A-1")["price"] = Decimal("25.00")
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert list(run.lines.values_list("sku_id", "field", "state")) == [("A-1", "quantity", "sent")]
    assert run.blocked_prices == 2
    assert shop.variant("B-2")["price"] == Decimal("7.00")
    assert shop.variant("A-1")["available"] == 12


def test_a_price_that_a_tightened_rule_now_breaks_is_not_pushed(shop, tmp_path):
    from catalog.models import Category

    # apparel now needs a 300 % margin: A-1's 30.00 on a cost of 10.00 breaks it, with no
    # exception raised yet (nobody re-checked); the push leaves its price out all the same.
    Category.objects.filter(name="apparel").update(min_margin_pct=300)
    shop.variant("A-1")["price"] = Decimal("25.00")
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert ("A-1", "price") not in set(run.lines.values_list("sku_id", "field"))
    assert shop.variant("A-1")["price"] == Decimal("25.00")
    assert shop.variant("A-1")["available"] == 12  # its stock still flows


def test_the_breaker_halts_a_mass_zeroing_for_an_admin(shop, tmp_path, settings, user_with_role):
    settings.IMS_SYNC_BREAKER_MIN_SKUS = 1
    admin = user_with_role(Role.ADMIN)
    # A truncated ERP file: every count is zero now.
    from inventory.models import StockLevel

    StockLevel.objects.update(available=0)
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert run.status == "halted"
    assert "to zero" in run.halt_reason
    assert not shop.writes
    assert set(run.lines.values_list("state", flat=True)) == {"pending"}
    assert [m.subject for m in mail.outbox] == ["[IMS] Sync of shop halted: approval needed"]
    with pytest.raises(NotAllowed):
        sync_run_approve(run=run, actor=user_with_role(Role.OPS))
    approved = sync_run_approve(run=run, actor=admin)
    assert (approved.status, approved.decided_by) == ("succeeded", admin)
    assert [shop.variant(s)["available"] for s in ("A-1", "B-2", "W-3")] == [0, 0, 0]
    assert AuditEvent.objects.filter(action="sync_approve", actor=admin).exists()


def test_a_halted_run_is_approved_though_a_dead_run_still_says_running(
    shop, tmp_path, settings, user_with_role
):
    settings.IMS_SYNC_MAX_CHANGE_PCT = 10
    settings.IMS_SYNC_BREAKER_MIN_SKUS = 1
    channel = Channel.objects.get(code="shop")
    halted = sync(channel=channel, out_dir=tmp_path).runs[0]
    five_minutes_ago = timezone.now() - dt.timedelta(minutes=5)
    dead = SyncRun.objects.create(
        channel=channel,
        mode="push",
        trigger="stock_changed",
        started_at=five_minutes_ago,
        heartbeat_at=five_minutes_ago,
    )
    approved = sync_run_approve(run=halted, actor=user_with_role(Role.ADMIN))
    assert approved.status == "succeeded" and shop.variant("A-1")["available"] == 12
    assert SyncRun.objects.get(pk=dead.pk).status == "interrupted"


def test_a_discarded_halt_sends_nothing(shop, tmp_path, settings, user_with_role):
    settings.IMS_SYNC_MAX_CHANGE_PCT = 10
    settings.IMS_SYNC_BREAKER_MIN_SKUS = 1
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert run.status == "halted" and "would change 2 of 3 SKUs" in run.halt_reason
    sync_run_discard(run=run, actor=user_with_role(Role.ADMIN), reason="expected")
    assert SyncRun.objects.get(pk=run.pk).status == "discarded"
    assert not shop.writes


def test_a_failing_channel_ends_as_a_sync_failure_and_is_paused(shop, tmp_path, user_with_role):
    user_with_role(Role.ADMIN)
    shop.faults = [500] * 100
    outcome = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
    run = outcome.runs[0]
    assert run.status == "failed" and "HTTP 500" in run.error
    assert outcome.problems == [f"shop: sync #{run.pk} failed: {run.error}"]
    failure = OpsException.objects.get(discrepancy="Sync_Failure", channel__code="shop", sku_id="*")
    assert failure.expected == "read the channel's listings"
    assert "HTTP 500" in failure.actual and "gave up after 3 attempts" in failure.actual
    channel = Channel.objects.get(code="shop")
    assert channel.status == "paused" and f"sync #{run.pk} failed" in channel.pause_reason
    # The pause queued a zero-availability push, which also found the shop unreachable.
    zero = SyncRun.objects.filter(trigger="pause").get()
    assert zero.status == "failed"
    # Once the shop answers again, the next sync sets every listing to zero and clears the failure.
    shop.faults = []
    again = sync(channel=channel, out_dir=tmp_path).runs[0]
    assert again.paused and again.status == "succeeded"
    assert [shop.variant(s)["available"] for s in ("A-1", "B-2", "W-3")] == [0, 0, 0]
    failure.refresh_from_db()
    assert failure.status == "resolved"


def test_pausing_a_reachable_channel_zeroes_its_listings_at_once(shop):
    channel_pause(channel=Channel.objects.get(code="shop"), reason="oversold B-2")
    zero = SyncRun.objects.get(trigger="pause")
    assert (zero.status, zero.paused, zero.sent) == ("succeeded", True, 3)
    assert [shop.variant(s)["available"] for s in ("A-1", "B-2", "W-3")] == [0, 0, 0]
    assert shop.variant("B-2")["price"] == Decimal("7.00")  # only availability changes


def test_refused_skus_are_sync_failures_each_and_the_rest_goes_out(shop, tmp_path):
    shop.refuse["A-1"] = "INVALID_QUANTITY_TOO_HIGH"
    shop.variant("B-2")["available"] = 1
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert (run.status, run.sent, run.failed) == ("partial", 2, 1)
    failure = OpsException.objects.get(discrepancy="Sync_Failure", sku_id="A-1")
    assert failure.expected == "quantity 12" and "refused by the shop" in failure.actual
    assert Channel.objects.get(code="shop").status == "active"
    shop.refuse.clear()
    sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
    failure.refresh_from_db()
    assert failure.status == "resolved"


def test_a_stale_quantity_is_not_overwritten(shop, tmp_path, monkeypatch):
    """Between our read and our write the shop sells one: compare-and-set refuses the write."""
    from channels.adapters import shopify

    original = shopify.ShopifyAdapter.push_inventory

    def sale_then_push(self, updates):
        shop.variant("A-1")["available"] = 8
        return original(self, updates)

    monkeypatch.setattr(shopify.ShopifyAdapter, "push_inventory", sale_then_push)
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    line = run.lines.get(sku_id="A-1", field="quantity")
    assert (line.state, run.stale) == ("stale", 1)
    assert shop.variant("A-1")["available"] == 8
    assert not OpsException.objects.filter(discrepancy="Sync_Failure").exists()


def test_an_interrupted_run_is_taken_over_without_sending_twice(shop, tmp_path):
    channel = Channel.objects.get(code="shop")
    long_ago = timezone.now() - dt.timedelta(hours=1)
    dead = SyncRun.objects.create(
        channel=channel, mode="push", trigger="schedule", started_at=long_ago, heartbeat_at=long_ago
    )
    # It had sent A-1's quantity before its worker was killed (the shop shows 12 now).
    a1 = Product.objects.get(sku="A-1")
    SyncLine.objects.create(
        run=dead,
        product=a1,
        sku_id="A-1",
        field="quantity",
        current="9",
        target="12",
        state=LineState.PENDING,
    )
    shop.variant("A-1")["available"] = 12
    run = sync(channel=channel, out_dir=tmp_path).runs[0]
    dead.refresh_from_db()
    assert dead.status == "interrupted" and run.resumes == dead
    assert list(run.lines.values_list("sku_id", "field")) == [("B-2", "price")]
    assert shop.writes[("A-1", "quantity")] == 0


def test_a_fresh_running_sync_is_not_joined(shop, tmp_path):
    channel = Channel.objects.get(code="shop")
    SyncRun.objects.create(
        channel=channel,
        mode="push",
        trigger="schedule",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    outcome = sync(channel=channel, out_dir=tmp_path)
    assert outcome.runs == [] and "is running" in outcome.problems[0]


def test_a_run_silent_for_two_minutes_has_lost_its_worker_and_the_next_sync_goes_on(shop, tmp_path):
    channel = Channel.objects.get(code="shop")
    two_minutes_ago = timezone.now() - dt.timedelta(minutes=2)
    dead = SyncRun.objects.create(
        channel=channel,
        mode="push",
        trigger="schedule",
        started_at=two_minutes_ago,
        heartbeat_at=two_minutes_ago,
    )
    run = sync(channel=channel, out_dir=tmp_path).runs[0]
    dead.refresh_from_db()
    assert (run.status, run.resumes) == ("succeeded", dead)
    assert dead.status == "interrupted" and "its worker is gone (no heartbeat since" in dead.error
    event = AuditEvent.objects.get(action="sync_interrupted")
    assert (event.object_id, event.before, event.after["status"]) == (
        str(dead.pk),
        {"status": "running"},
        "interrupted",
    )
    assert shop.variant("A-1")["available"] == 12


def test_a_run_heard_from_half_a_minute_ago_still_blocks_the_channel(shop, tmp_path):
    channel = Channel.objects.get(code="shop")
    started = timezone.now() - dt.timedelta(minutes=10)
    live = SyncRun.objects.create(
        channel=channel,
        mode="push",
        trigger="schedule",
        started_at=started,
        heartbeat_at=timezone.now() - dt.timedelta(seconds=30),
    )
    outcome = sync(channel=channel, out_dir=tmp_path)
    assert outcome.runs == [] and f"sync #{live.pk} of shop is running" in outcome.problems[0]
    assert SyncRun.objects.get(pk=live.pk).status == "running"


def test_the_minutes_sweep_marks_interrupted_only_the_runs_whose_worker_is_gone(shop):
    from channels.tasks import sync_runs_sweep_task

    now = timezone.now()
    gone = SyncRun.objects.create(
        channel=Channel.objects.get(code="shop"),
        mode="push",
        trigger="schedule",
        started_at=now - dt.timedelta(minutes=5),
        heartbeat_at=now - dt.timedelta(minutes=3),
    )
    alive = SyncRun.objects.create(
        channel=Channel.objects.get(code="market"),
        mode="read_only",
        trigger="schedule",
        started_at=now - dt.timedelta(minutes=5),
        heartbeat_at=now,
    )
    assert sync_runs_sweep_task() == [gone.pk]
    gone.refresh_from_db()
    assert (gone.status, gone.finished_at is not None) == ("interrupted", True)
    assert SyncRun.objects.get(pk=alive.pk).status == "running"
    assert sync_runs_sweep_task() == []


def test_a_run_keeps_its_heartbeat_during_a_long_call(shop, tmp_path, settings, monkeypatch):
    from channels.adapters import shopify

    settings.IMS_SYNC_HEARTBEAT_SECONDS = 0.2
    heard = []
    original = shopify.ShopifyAdapter.push_inventory

    def slow(self, updates):
        run = SyncRun.objects.get(status="running")
        heard.append(run.heartbeat_at)
        time.sleep(1.2)  # the provider takes its time: no batch is recorded meanwhile
        heard.append(SyncRun.objects.get(pk=run.pk).heartbeat_at)
        return original(self, updates)

    monkeypatch.setattr(shopify.ShopifyAdapter, "push_inventory", slow)
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert run.status == "succeeded"
    assert heard[1] - heard[0] >= dt.timedelta(seconds=0.6)


def test_a_worker_whose_run_was_marked_interrupted_stops_sending(shop, tmp_path, monkeypatch):
    from channels.adapters import shopify
    from channels.sync.runs import sync_runs_interrupt_stale

    original = shopify.ShopifyAdapter.push_inventory

    def then_swept(self, updates):
        answer = original(self, updates)
        # The worker froze past the limit: the sweep took its run for dead meanwhile.
        SyncRun.objects.filter(status="running").update(
            heartbeat_at=timezone.now() - dt.timedelta(minutes=5)
        )
        sync_runs_interrupt_stale()
        return answer

    monkeypatch.setattr(shopify.ShopifyAdapter, "push_inventory", then_swept)
    channel = Channel.objects.get(code="shop")
    run = sync(channel=channel, out_dir=tmp_path).runs[0]
    assert run.status == "interrupted"
    assert shop.variant("A-1")["available"] == 12  # the batch answered is recorded
    assert (run.lines.get(sku_id="A-1").state, run.sent) == ("sent", 1)
    assert shop.variant("B-2")["price"] == Decimal("7.00")  # the next batch was not sent
    channel.refresh_from_db()
    assert channel.status == "active"
    assert not OpsException.objects.filter(discrepancy="Sync_Failure").exists()


def test_our_own_echo_is_not_a_channel_edit_but_a_shop_edit_is(shop, tmp_path):
    channel = Channel.objects.get(code="shop")
    sync(channel=channel, out_dir=tmp_path)
    # The push went out but IMS did not record what the shop shows (worker died before).
    ChannelListing.objects.filter(channel=channel, product__sku="B-2").update(price=Decimal("7.00"))
    sync(channel=channel, mode="read_only", out_dir=tmp_path)
    assert not AuditEvent.objects.filter(action="channel_price_edit").exists()
    # Someone edits A-1's price in the Shopify admin: drift, recorded.
    shop.variant("A-1")["price"] = Decimal("27.50")
    sync(channel=channel, mode="read_only", out_dir=tmp_path)
    event = AuditEvent.objects.get(action="channel_price_edit")
    assert (event.object_id, event.before, event.after) == (
        "shop:A-1",
        {"price": "30.00"},
        {"price": "27.50"},
    )


def test_stock_changed_pushes_the_new_atp_of_those_products(shop, tmp_path):
    channel = Channel.objects.get(code="shop")
    sync(channel=channel, out_dir=tmp_path)
    from inventory.models import StockLevel

    StockLevel.objects.filter(product__sku="B-2").update(available=3)
    stock_changed(product_ids=[Product.objects.get(sku="B-2").pk])
    run = SyncRun.objects.filter(trigger="stock_changed").get()
    assert run.product_ids == [Product.objects.get(sku="B-2").pk]
    assert list(run.lines.values_list("sku_id", "field", "current", "target", "state")) == [
        ("B-2", "quantity", "5", "3", "sent")
    ]
    assert shop.variant("B-2")["available"] == 3


def test_a_channel_without_base_url_pushes_through_the_file_drop(
    world, ingest, tmp_path, settings, monkeypatch
):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,4\n")
    ingest(
        "snapshot",
        """
        channel,sku_id,quantity,price,currency
        shop,A-1,1,30.00,USD
        shop,B-2,0,9.00,USD
    """,
    )
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    run = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path).runs[0]
    assert (run.source, run.status, run.sent) == ("snapshot", "succeeded", 2)
    header = ["channel", "sku_id", "quantity", "price", "currency", "mrp"]
    # One file per field; the price goes out with HQ's MRP.
    files = {f.name.split("-")[1]: plan_rows(f) for f in (tmp_path / "outbox").glob("*.csv")}
    assert files == {
        "price": [header, ["shop", "B-2", "", "8.00", "USD", "10.00"]],
        "quantity": [header, ["shop", "A-1", "4", "", "", ""]],
    }


def test_the_command_writes_the_plan_and_fails_loudly(shop, tmp_path, capsys):
    call_command("sync", "--channel", "shop", "--mode", "dry_run", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "shop: sync #" in out and "dry_run succeeded" in out and "2 to change" in out
    shop.faults = [503] * 100
    with pytest.raises(Exception) as caught:
        call_command("sync", "--channel", "shop", "--out", str(tmp_path))
    assert "not synced in full" in str(caught.value)
    assert (tmp_path / "sync-plan.csv").exists()


def _mismatch(sku, discrepancy, expected, actual, channel="shop"):
    product = Product.objects.get(sku=sku)
    ops_exceptions_record(
        findings=[
            Finding(
                sku,
                discrepancy,
                expected,
                actual,
                Channel.objects.get(code=channel).pk,
                product.pk,
                currency="USD",
            )
        ],
        source="reconcile",
        now=timezone.now(),
    )
    return OpsException.objects.get(sku_id=sku, discrepancy=discrepancy)


def test_push_correction_sends_that_sku_and_marks_it_pushed(shop, user_with_role):
    from channels.services import sync_push_correction

    ops = user_with_role(Role.OPS)
    exception = _mismatch("B-2", Discrepancy.PRICE_MISMATCH, "8.00", "7.00")
    sync_push_correction(exception=exception, actor=ops)
    exception.refresh_from_db()
    assert (exception.push_status, exception.push_error) == ("pushed", "")
    assert shop.variant("B-2")["price"] == Decimal("8.00")
    assert shop.writes[("A-1", "quantity")] == 0  # only that SKU
    run = SyncRun.objects.get(trigger="correction")
    assert run.actor == ops and run.product_ids == [exception.product_id]
    assert list(
        AuditEvent.objects.filter(object_id=str(exception.pk)).values_list("action", flat=True)
    ) == ["exception_push_result", "exception_push"]


def test_push_correction_fails_visibly_when_the_shop_refuses(shop, user_with_role):
    from channels.services import sync_push_correction

    shop.refuse["A-1"] = "INVALID_QUANTITY_TOO_HIGH"
    exception = _mismatch("A-1", Discrepancy.STOCK_MISMATCH, "12", "9")
    sync_push_correction(exception=exception, actor=user_with_role(Role.OPS))
    exception.refresh_from_db()
    assert exception.push_status == "failed" and "refused by the shop" in exception.push_error


def test_push_correction_is_refused_for_a_read_only_channel_or_a_role_without_it(
    world, user_with_role
):
    from channels.errors import SyncNotAllowed
    from channels.services import sync_push_correction

    exception = _mismatch("A-1", Discrepancy.STOCK_MISMATCH, "0", "3", channel="market")
    with pytest.raises(NotAllowed):
        sync_push_correction(exception=exception, actor=user_with_role(Role.FINANCE))
    with pytest.raises(SyncNotAllowed, match="read-only"):
        sync_push_correction(exception=exception, actor=user_with_role(Role.OPS))
    exception.refresh_from_db()
    assert exception.push_status == "" and not SyncRun.objects.exists()


def test_read_only_records_exceptions_from_what_it_read_and_sends_nothing(shop, tmp_path):
    Channel.objects.filter(code="shop").update(sync_mode="read_only")
    outcome = sync(channel=Channel.objects.get(code="shop"), out_dir=tmp_path)
    assert outcome.runs[0].mode == "read_only" and not shop.writes
    found = set(
        OpsException.objects.filter(channel__code="shop", status="open").values_list(
            "sku_id", "discrepancy", "expected", "actual"
        )
    )
    assert found == {
        ("A-1", "Stock_Mismatch", "12", "9"),
        ("B-2", "Price_Mismatch", "8.00", "7.00"),
    }
    assert (tmp_path / "sync-plan.csv").exists() and (tmp_path / "exceptions.csv").exists()
