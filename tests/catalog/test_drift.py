"""The seed's failure mode "silent price mismatch": a price edited on a channel is drift — an
exception, an audit alert naming the channel, HQ's price wins; a channel that keeps drifting is
flagged. A SKU whose price is blocked keeps its stock flowing; only its price is left out."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.models import Price, Product
from catalog.selectors import prices_to_push
from channels.models import Channel
from exceptions.models import OpsException
from ims.models import AuditEvent, Notification, OpsTask
from ims.roles import Role
from reconcile.reconcile import reconcile

pytestmark = pytest.mark.django_db


def snapshot(ingest, rows: str, name="snap.csv"):
    ingest("snapshot", "channel,sku_id,quantity,price,currency\n" + rows, name=name)


def test_silent_price_mismatch_is_raised_alerted_naming_the_channel_and_hq_wins(
    world, ingest, user_with_role, tmp_path, now
):
    superadmin = user_with_role(Role.SUPERADMIN, "sam")
    pricing = user_with_role(Role.PRICING, "priya")
    snapshot(ingest, "shop,A-1,0,25.00,USD\nshop,B-2,0,8.00,USD\n")
    prices_before = Price.objects.count()
    reconcile(out_dir=tmp_path, now=now)

    mismatch = OpsException.objects.get(discrepancy="Price_Mismatch")
    assert (mismatch.sku_id, mismatch.channel.code, mismatch.expected, mismatch.actual) == (
        "A-1",
        "shop",
        "30.00",
        "25.00",
    )
    alert = AuditEvent.objects.get(action="price_drift")
    shop = Channel.objects.get(code="shop")
    assert (alert.object_type, alert.object_id, alert.object_repr) == (
        "channels.channel",
        str(shop.pk),
        "shop",
    )
    assert alert.reason == "shop shows 25.00 for A-1; HQ's price is 30.00 and wins on push"
    for person in (superadmin, pricing):
        assert Notification.objects.get(recipient=person, kind="price_drift").subject.startswith(
            "Price drift on shop: 1 SKU"
        )
    # The channel's price never flows back: HQ's stays in force and is what a push sends.
    assert Product.objects.get(sku="A-1").price == Decimal("30.00")
    assert Price.objects.count() == prices_before
    assert prices_to_push(product_ids=[mismatch.product_id]) == {
        mismatch.product_id: Decimal("30.00")
    }

    reconcile(out_dir=tmp_path, now=now + dt.timedelta(hours=1))  # still open: no second alert
    assert AuditEvent.objects.filter(action="price_drift").count() == 1


def test_a_channel_that_keeps_drifting_is_flagged_to_admins_once(
    world, ingest, user_with_role, tmp_path, now, settings
):
    settings.IMS_DRIFT_FLAG_COUNT = 3
    settings.IMS_DRIFT_WINDOW_HOURS = 24
    admin = user_with_role(Role.ADMIN, "adam")
    snapshot(ingest, "shop,A-1,0,25.00,USD\nshop,B-2,0,7.00,USD\n")
    reconcile(out_dir=tmp_path, now=now)
    assert not OpsTask.objects.filter(kind="channel_drift").exists()  # 2 < 3

    snapshot(ingest, "shop,A-1,0,30.00,USD\nshop,B-2,0,8.00,USD\n", name="fixed.csv")
    reconcile(out_dir=tmp_path, now=now + dt.timedelta(hours=1))  # aligned: resolved
    snapshot(ingest, "shop,A-1,0,26.00,USD\nshop,B-2,0,8.00,USD\n", name="again.csv")
    reconcile(out_dir=tmp_path, now=now + dt.timedelta(hours=2))  # edited again: a third

    shop = Channel.objects.get(code="shop")
    task = OpsTask.objects.get(kind="channel_drift")
    assert (task.ref, task.role, task.status) == (f"channel:{shop.pk}", "Admin", "open")
    assert task.title == "Channel shop keeps drifting: 3 new price mismatches in 24 h"
    assert Notification.objects.filter(recipient=admin, kind="channel_drift").count() == 1
    assert AuditEvent.objects.get(action="channel_drift_flag").object_repr == "shop"
    assert Channel.objects.get(code="shop").status == "active"  # an insight changes nothing

    snapshot(ingest, "shop,A-1,0,30.00,USD\nshop,B-2,0,6.00,USD\n", name="more.csv")
    reconcile(out_dir=tmp_path, now=now + dt.timedelta(hours=3))
    assert OpsTask.objects.filter(kind="channel_drift").count() == 1  # flagged once while open


def test_mismatches_outside_the_window_do_not_flag(world, ingest, tmp_path, now, settings):
    settings.IMS_DRIFT_FLAG_COUNT = 2
    settings.IMS_DRIFT_WINDOW_HOURS = 1
    snapshot(ingest, "shop,A-1,0,25.00,USD\n")
    reconcile(out_dir=tmp_path, now=now)
    snapshot(ingest, "shop,A-1,0,30.00,USD\n", name="fixed.csv")
    reconcile(out_dir=tmp_path, now=now + dt.timedelta(hours=1))
    snapshot(ingest, "shop,A-1,0,24.00,USD\n", name="again.csv")
    reconcile(out_dir=tmp_path, now=now + dt.timedelta(hours=3))
    assert AuditEvent.objects.filter(action="price_drift").count() == 2
    assert not OpsTask.objects.filter(kind="channel_drift").exists()


def test_a_blocked_skus_price_is_left_out_of_a_push_batch_but_its_stock_is_not(world, ingest, now):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,5\nB-2,WH,4\n")
    ingest("prices", "sku_id,currency,price\nA-1,USD,40.01\n")  # above MRP: kept out, blocked
    a1, b2, w3 = (Product.objects.get(sku=s) for s in ("A-1", "B-2", "W-3"))
    batch = [a1.pk, b2.pk, w3.pk]
    assert prices_to_push(product_ids=batch) == {
        b2.pk: Decimal("8.00"),
        w3.pk: Decimal("480.00"),
    }
    shop = Channel.objects.get(code="shop")
    from django.db.models import Sum

    from inventory.models import StockLevel

    available = StockLevel.objects.filter(product=a1).aggregate(n=Sum("available"))["n"]
    assert shop.atp(available) == 5  # A-1's quantity still goes out

    ingest("prices", "sku_id,currency,price\nA-1,USD,31.00\n", name="valid.csv")
    assert prices_to_push(product_ids=batch)[a1.pk] == Decimal("31.00")  # unblocked
