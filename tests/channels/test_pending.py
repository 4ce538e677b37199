"""With workers (not the in-process queue), a burst of stock changes is pushed once per channel."""

import pytest
from django_q.models import Schedule

from catalog.models import Product
from channels.models import PendingPush
from channels.services import stock_changed
from channels.tasks import sync_pending_all_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def workers(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


def test_a_burst_of_changes_queues_each_product_once_per_channel_that_sends(world, workers):
    ids = list(Product.objects.values_list("pk", flat=True))
    stock_changed(product_ids=ids[:1])
    stock_changed(product_ids=ids)
    stock_changed(product_ids=ids)
    # shop pushes, market is read-only: only shop queues, each product once; nothing is
    # scheduled per request (the minute's flush takes the queue).
    assert sorted(PendingPush.objects.values_list("channel__code", "product_id")) == [
        ("shop", pk) for pk in sorted(ids)
    ]
    assert not Schedule.objects.exists()


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
