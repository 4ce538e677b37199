"""Workers on PostgreSQL: a real `qcluster` worker killed (SIGKILL) mid-sync leaves a run that goes
silent, the sweep marks it interrupted and the next sync goes on without sending twice; two
workers taking over the same dead run at once start one sync, not two."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_q.tasks import async_task

from channels.errors import SyncBusy
from channels.models import Channel, SyncRun
from channels.sync.engine import sync, sync_channel
from channels.sync.runs import sync_runs_interrupt_stale
from channels.tasks import sync_task
from ims.models import AuditEvent
from standins.shopify import FakeShopify

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


class HangingShopify(FakeShopify):
    """A Shopify that hangs on the first stock write until released (a provider stuck mid-push)."""

    def __init__(self, **options):
        super().__init__(**options)
        self.pushing = threading.Event()
        self.release = threading.Event()

    def _inventorySetQuantities(self, input: dict) -> dict:
        if not self.release.is_set():
            self.pushing.set()
            self.release.wait(40)
        return super()._inventorySetQuantities(input)


def until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)
    return value


def test_a_killed_worker_leaves_an_interrupted_run_and_the_next_sync_goes_on(
    world, ingest, monkeypatch, settings, tmp_path
):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\nA-1,NYC,2\nB-2,WH,5\nW-3,NYC,2\n")
    shop = HangingShopify(maximum=20000, restore_rate=5000)
    shop.add("A-1", 9, "30.00")  # ATP 12: a stock write
    shop.add("B-2", 5, "7.00")  # price 8.00: a price write
    shop.add("W-3", 2, "480.00")
    monkeypatch.setenv("IMS_CHANNEL_SHOP_ACCESS_TOKEN", "shpat_test")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "IMS_QUEUE": "orm",
        "IMS_Q_WORKERS": "1",
        "IMS_SYNC_HEARTBEAT_SECONDS": "0.3",
        "IMS_REPORTS_DIR": str(tmp_path),
        "IMS_CHANNEL_SHOP_ACCESS_TOKEN": "shpat_test",
    }
    with shop.serve() as url, (tmp_path / "qcluster.log").open("w+") as log:
        channel = Channel.objects.get(code="shop")
        Channel.objects.filter(pk=channel.pk).update(base_url=url)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: cluster, sentinel, workers
        )
        try:
            async_task("channels.tasks.sync_task", channel.pk, sync=False)
            assert shop.pushing.wait(30), "the worker never reached the push"
            run = SyncRun.objects.get(channel=channel, status="running")
            # Stuck in one call, the run still heartbeats: its worker is alive.
            beat = run.heartbeat_at
            until(lambda: SyncRun.objects.get(pk=run.pk).heartbeat_at > beat, 5, "a heartbeat")
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            log.seek(0)
            print(log.read())
        # Killed: no heartbeat any more, and the run still says running.
        time.sleep(1.5)
        run.refresh_from_db()
        assert run.status == "running"
        outcome = sync(channel=channel, out_dir=tmp_path, record_exceptions=False)
        assert outcome.runs == [] and "is running" in outcome.problems[0]  # 90 s not passed yet
        # The minute's sweep, with a limit of one second for the test.
        settings.IMS_SYNC_STALE_SECONDS = 1
        assert [r.pk for r in sync_runs_interrupt_stale()] == [run.pk]
        run.refresh_from_db()
        assert run.status == "interrupted" and "its worker is gone" in run.error
        # The provider had applied the write whose answer the dead worker never got.
        shop.release.set()
        until(lambda: shop.variant("A-1")["available"] == 12, 5, "the hung write applied")
        writes = dict(shop.writes)
        following = sync(channel=channel, out_dir=tmp_path, record_exceptions=False).runs[0]
        assert following.status == "succeeded"
        assert list(following.lines.values_list("sku_id", "field", "state")) == [
            ("B-2", "price", "sent")
        ]
        assert shop.writes[("A-1", "quantity")] == writes[("A-1", "quantity")]  # not sent twice
        # django-q2 delivers the killed task again (after `retry`): it is one more harmless sync.
        again = SyncRun.objects.get(pk=sync_task(channel.pk)[0])
        assert (again.status, again.planned) == ("succeeded", 0)


def test_two_workers_taking_over_a_dead_run_at_once_start_one_sync(
    world, ingest, monkeypatch, settings, tmp_path
):
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\n")
    shop = HangingShopify()
    shop.add("A-1", 9, "30.00")  # ATP 10: a stock write, where the winner hangs
    monkeypatch.setenv("IMS_CHANNEL_SHOP_ACCESS_TOKEN", "shpat_test")
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    with shop.serve() as url:
        Channel.objects.filter(code="shop").update(base_url=url)
        dead = SyncRun.objects.create(
            channel=Channel.objects.get(code="shop"),
            mode="push",
            trigger="schedule",
            started_at=long_ago,
            heartbeat_at=long_ago,
        )
        start = threading.Barrier(2)
        outcomes: list = []

        def worker():
            start.wait()
            try:
                outcomes.append(sync_channel(channel=Channel.objects.get(code="shop")).status)
            except SyncBusy as exc:
                outcomes.append(exc.message)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert shop.pushing.wait(20), "no worker reached the push"
        # One worker is pushing; the other was refused, whichever came second.
        until(lambda: outcomes, 10, "the second worker refused")
        assert "of shop is running" in outcomes[0] or "started just now" in outcomes[0]
        shop.release.set()
        for thread in threads:
            thread.join(20)
    assert outcomes[1] == "succeeded"
    assert SyncRun.objects.get(pk=dead.pk).status == "interrupted"
    assert AuditEvent.objects.filter(action="sync_interrupted").count() == 1
    assert SyncRun.objects.filter(channel__code="shop").exclude(pk=dead.pk).count() == 1
    assert shop.writes[("A-1", "quantity")] == 1
