"""With workers (not the in-process queue), a burst of stock changes makes one debounced flush per channel."""

import datetime as dt

import pytest
from django_q.models import Schedule

from catalog.models import Product
from channels.services import stock_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def workers(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    settings.IMS_SYNC_DEBOUNCE_SECONDS = 10


def test_a_burst_of_changes_schedules_one_flush_per_channel_that_sends(world, workers):
    ids = list(Product.objects.values_list("pk", flat=True))
    stock_changed(product_ids=ids[:1])
    stock_changed(product_ids=ids)
    # shop pushes, market is read-only: only shop gets a flush, once, ten seconds on.
    flushes = list(Schedule.objects.filter(name__startswith="sync pending "))
    assert [s.name for s in flushes] == ["sync pending shop"]
    assert flushes[0].func == "channels.tasks.sync_pending_task" and flushes[0].repeats == 1


def test_a_flush_that_fired_without_clearing_itself_is_armed_again(world, workers):
    ids = list(Product.objects.values_list("pk", flat=True))
    stock_changed(product_ids=ids)
    # The scheduler fired it (repeats → 0) but the worker died before its task ran.
    Schedule.objects.filter(name="sync pending shop").update(
        repeats=0, next_run=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    stock_changed(product_ids=ids)
    flush = Schedule.objects.get(name="sync pending shop")
    assert flush.repeats == 1 and flush.next_run > dt.datetime.now(dt.UTC)
