"""The production queue on Redis: `IMS_QUEUE=redis manage.py qcluster` takes tasks from Redis and
runs them against the database, and the per-channel rate limiter is one window for every worker
process once IMS_RATE_LIMIT_STORAGE names the Redis server (two processes here, as two machines
would be)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection
from django_q.brokers.redis_broker import Redis
from django_q.tasks import async_task

from exceptions.models import ReconcileRun
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


# The tests' own database on the shared Redis server (the queue's key is the cluster's name,
# which also signs each task: the same in this process as in the worker).
TEST_REDIS = REDIS_URL.rsplit("/", 1)[0] + "/13"


@contextlib.contextmanager
def redis_worker(settings, tmp_path, workers: int = 1, **extra_env):
    """A `qcluster` on the Redis broker against the test database (its own process group),
    and the broker this process enqueues on; stopped, its queue emptied and its log printed
    afterwards. Yields (the worker process, the broker)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "IMS_QUEUE": "redis",
        "REDIS_URL": TEST_REDIS,
        "IMS_Q_WORKERS": str(workers),
        "IMS_REPORTS_DIR": str(tmp_path),
        **extra_env,
    }
    broker = Redis(list_key=settings.Q_CLUSTER["name"])
    broker.connection = redis.from_url(TEST_REDIS)
    broker.delete_queue()
    with (tmp_path / "qcluster.log").open("w+") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield worker, broker
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
            broker.delete_queue()
            log.seek(0)
            print(log.read())


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_qcluster_on_the_redis_broker_runs_a_task_enqueued_there(world, settings, tmp_path):
    with redis_worker(settings, tmp_path) as (worker, broker):
        async_task("reconcile.tasks.reconcile_task", None, str(tmp_path), broker=broker, sync=False)
        assert broker.queue_size() in (0, 1)  # on Redis, not run here
        deadline = time.monotonic() + 60
        # The run is marked succeeded, then its reports are written: wait for both.
        while not (
            ReconcileRun.objects.filter(status="succeeded").exists()
            and (tmp_path / "scorecard.html").exists()
        ):
            assert worker.poll() is None, "the qcluster stopped"
            assert time.monotonic() < deadline, "no worker ran the task within 60 s"
            time.sleep(0.2)
    (run,) = ReconcileRun.objects.all()
    assert run.figures["skus_checked"] == 3
    assert (tmp_path / "exceptions.csv").exists()


LIMITED = """
import json, sys, time
sys.path.insert(0, {root!r})
from ims.http import RateLimiter
limiter = RateLimiter(key={key!r}, rates={{"default": "5/second"}})
times = []
for _ in range(10):
    limiter.acquire()
    times.append(time.time())
print(json.dumps(times))
"""


@pytest.mark.redis
def test_two_worker_processes_share_one_rate_window_through_redis():
    """5 calls a second for one channel: two processes making 10 calls each take about three
    seconds together, never more than 5 in any second (each alone would take one second)."""
    key = f"shop-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "IMS_RATE_LIMIT_STORAGE": REDIS_URL}
    code = LIMITED.format(root=str(ROOT), key=key)
    workers = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    times = sorted(t for w in workers for t in json.loads(w.communicate(timeout=60)[0]))
    assert len(times) == 20
    # A moving window of one second: the 6th call of any run of 6 comes about a second after
    # the 1st (each process notes the time after its call is granted: a busy machine delays a
    # note by some milliseconds). Two windows of their own would allow ten calls a second.
    assert all(times[i + 5] - times[i] >= 0.9 for i in range(len(times) - 5))
    assert times[-1] - times[0] >= 2.8


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stock_change_reaches_the_shop_in_seconds_through_redis_and_a_worker(
    world, ingest, settings, monkeypatch, tmp_path
):
    """Not the minute's schedule: the committed change hands the channel's flush to the
    workers at once (one flush for the burst), and the shop holds the new quantity within
    seconds."""
    from django_q import tasks as q_tasks
    from django_q.conf import Conf

    from catalog.models import Product
    from channels.models import Channel
    from inventory.models import Location
    from inventory.services.stock import StockMove, stock_move
    from standins.shopify import FakeShopify

    ingest("inventory", "sku_id,location,quantity\nA-1,WH,10\nA-1,NYC,2\n")
    shop = FakeShopify(maximum=20000, restore_rate=5000)
    shop.add("A-1", 12, "30.00")
    with (
        shop.serve() as base_url,
        redis_worker(settings, tmp_path, workers=2, IMS_CHANNEL_SHOP_ACCESS_TOKEN="shpat_test") as (
            worker,
            broker,
        ),
    ):
        # This process enqueues on Redis as a web process of the production set-up does.
        monkeypatch.setattr(Conf, "SYNC", False)
        monkeypatch.setattr(q_tasks, "get_broker", lambda *args, **kwargs: broker)
        Channel.objects.filter(code="shop").update(base_url=base_url)
        time.sleep(2)  # the cluster up
        a1 = Product.objects.get(sku="A-1").pk
        wh = Location.objects.get(code="WH").pk
        started = time.monotonic()
        for _ in range(3):  # a burst: three units sold, each its own committed change
            stock_move(moves=[StockMove(a1, wh, "available", "", 1)], reason="sale", ref="test")
        deadline = started + 20
        while shop.variant("A-1")["available"] != 9:
            assert worker.poll() is None, "the qcluster stopped"
            assert time.monotonic() < deadline, "the shop did not get 9 within 20 s"
            time.sleep(0.05)
        took = time.monotonic() - started
    print(f"stock change → shop in {took:.2f} s")
    assert took < 10
