"""With workers (not the in-process queue), a burst of stock changes is pushed once per channel,
straight away: the change queues its products and, once committed, one flush per channel."""

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from catalog.models import Product
from channels import services
from channels.models import Channel, PendingPush
from channels.services import stock_changed
from channels.tasks import sync_pending_all_task, sync_pending_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def workers(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


@pytest.fixture
def flushes(monkeypatch):
    """The flushes handed to the workers, by channel code."""
    handed = []

    def enqueue(name, channel_id, **kwargs):
        assert name == "channels.tasks.sync_pending_task"
        handed.append(Channel.objects.get(pk=channel_id).code)

    monkeypatch.setattr(services, "enqueue", enqueue)
    return handed


def test_a_burst_of_changes_queues_each_product_once_and_one_flush_per_channel(
    world, workers, flushes, django_capture_on_commit_callbacks
):
    ids = list(Product.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        stock_changed(product_ids=ids[:1])
        stock_changed(product_ids=ids)
        stock_changed(product_ids=ids)
    # shop pushes, market is read-only: only shop queues, each product once, and one flush of
    # shop is handed to the workers at once (not per change, not per product; no schedule).
    assert sorted(PendingPush.objects.values_list("channel__code", "product_id")) == [
        ("shop", pk) for pk in sorted(ids)
    ]
    assert flushes == ["shop"]
    assert not Schedule.objects.exists()
    # Until that flush begins, more changes ride on it; a flush queued but never begun for
    # longer than FLUSH_LOST_SECONDS is taken for lost and queued again.
    with django_capture_on_commit_callbacks(execute=True):
        stock_changed(product_ids=ids)
    assert flushes == ["shop"]
    Channel.objects.filter(code="shop").update(
        push_flush_at=timezone.now() - dt.timedelta(seconds=services.FLUSH_LOST_SECONDS + 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        stock_changed(product_ids=ids)
    assert flushes == ["shop", "shop"]


def test_the_flush_takes_what_is_queued_and_a_change_after_it_began_queues_the_next(
    world, ingest, workers, flushes, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,4\n")
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,9,30.00,USD\n")
    a1 = Product.objects.get(sku="A-1").pk
    with django_capture_on_commit_callbacks(execute=True):
        stock_changed(product_ids=[a1])
    assert flushes == ["shop"]
    assert sync_pending_task(Channel.objects.get(code="shop").pk)
    assert not PendingPush.objects.exists()
    assert Channel.objects.get(code="shop").push_flush_at is None
    with django_capture_on_commit_callbacks(execute=True):
        stock_changed(product_ids=[a1])
    assert flushes == ["shop", "shop"]


def test_the_minutes_flush_pushes_what_is_queued_and_empties_the_queue(
    world, ingest, workers, tmp_path, monkeypatch
):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,4\n")
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,9,30.00,USD\n")
    stock_changed(product_ids=[Product.objects.get(sku="A-1").pk])
    assert len(sync_pending_all_task()) == 1
    assert not PendingPush.objects.exists()
    sent = "".join(p.read_text() for p in (tmp_path / "outbox").glob("*.csv"))
    assert "A-1" in sent
