"""Amazon's ORDER_CHANGE notifications read from the channel's SQS queue by IMS itself: a fake
SQS served on 127.0.0.1 (real HTTP) that checks every SigV4 signature, hides a message for its
visibility timeout and gives back what was not deleted. A message leaves the queue only once
its delivery is stored in the inbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

import jsonschema
import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from channels.models import Channel
from orders.models import ChannelOrder, WebhookDelivery
from orders.services import inbox, queue
from orders.services.inbox import webhook_deliveries_replay
from orders.services.queue import queue_drain
from tests.fakes.served import served
from tests.fakes.sqs import ACCESS_KEY, REGION, SECRET_KEY, FakeSqs
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

SAMPLE = p.SPECS / "amazon-sp-api/samples/order-change-notification.json"
VISIBILITY = 60


@pytest.fixture
def sqs(channels, monkeypatch):
    fake = FakeSqs()
    with served(fake.handle) as url:
        fake.base_url = url
        for name, value in {
            "SQS_QUEUE_URL": fake.queue_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,  # a queue on 127.0.0.1 names no region
            "SQS_WAIT_SECONDS": "20",
            "SQS_VISIBILITY_SECONDS": str(VISIBILITY),
        }.items():
            monkeypatch.setenv(f"IMS_CHANNEL_MARKET_{name}", value)
        monkeypatch.setenv("IMS_HTTP_RETRY_ATTEMPTS", "2")
        monkeypatch.setenv("IMS_HTTP_BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv("IMS_HTTP_BACKOFF_MAX", "0.01")
        yield fake


@pytest.fixture
def steps(sqs, monkeypatch):
    """What happened, in order: "stored <delivery id>" (IMS) and "deleted <message id>" (SQS)."""
    real = queue.delivery_take

    def take(**kwargs):
        received = real(**kwargs)
        sqs.log.append(f"stored {received.delivery.delivery_id}")
        return received

    monkeypatch.setattr(queue, "delivery_take", take)
    return sqs.log


def market() -> Channel:
    return Channel.objects.get(code="market")


def sample(sku="B-2", **summary) -> dict:
    """Amazon's own ORDER_CHANGE sample, selling one of our SKUs (10 units, unshipped)."""
    body = json.loads(SAMPLE.read_text())
    change = body["Payload"]["OrderChangeNotification"]
    change["Summary"]["OrderItems"][0]["SellerSKU"] = sku
    change["Summary"].update(summary)
    jsonschema.validate(body, p.amazon_schema())
    return body


def eventbridge(notification: dict, *, detail_type: str | None = None) -> dict:
    """The notification as an EventBridge event carries it (`detail`, `detail-type`)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type or notification["NotificationType"],
        "source": "aws.partner/sellingpartnerapi.amazon.com/123456789012/amzn1.sp.solution.x",
        "account": "123456789012",
        "time": p.iso(dt.datetime.now(dt.UTC)),
        "region": "us-east-1",
        "resources": [],
        "detail": notification,
    }


def test_amazons_sample_order_change_reaches_ims_through_the_queue_and_reserves(sqs, steps):
    body = sample()
    message_id = sqs.send(body)

    result = queue_drain(channel=market())

    assert (result.read, result.stored, result.deleted, result.error) == (1, 1, 1, "")
    order = ChannelOrder.objects.get(channel__code="market")
    assert order.external_id == "903-8868176-2219830"
    assert level("B-2", "WH").reserved == 10
    delivery = WebhookDelivery.objects.get(channel__code="market")
    assert (delivery.source, delivery.delivery_id, delivery.topic) == (
        "queue",
        "d0e9e693-c3ad-4373-979f-ed4ec98dd746",
        "ORDER_CHANGE",
    )
    assert delivery.processed_at and json.loads(bytes(delivery.body)) == body
    # Deleted, and only after its delivery was stored.
    assert steps == [f"stored {delivery.delivery_id}", f"deleted {message_id}"]
    assert sqs.waiting() == []
    receive = next(params for op, params in sqs.requests if op == "ReceiveMessage")
    assert receive["MaxNumberOfMessages"] == 10
    assert (receive["WaitTimeSeconds"], receive["VisibilityTimeout"]) == (20, VISIBILITY)
    assert sqs.calls == ["ReceiveMessage", "DeleteMessageBatch", "ReceiveMessage"]
    assert sqs.refused == []  # every call was signed as SQS checks it


def test_a_message_whose_storing_fails_stays_in_the_queue_comes_back_and_is_taken_once(
    sqs, steps, monkeypatch
):
    message_id = sqs.send(p.amazon_notification("111-0000001-0000001", [("A-1", 2)]))
    real, refusals = inbox._stored, []

    def database_down(*args, **kwargs):
        if len(refusals) < 2:  # the delivery's insert, then the insert keeping its error
            refusals.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(inbox, "_stored", database_down)

    first = queue_drain(channel=market())

    assert (first.read, first.left, first.deleted) == (1, 1, 0)
    assert not WebhookDelivery.objects.exists() and level("A-1", "WH").reserved == 0
    assert [m.message_id for m in sqs.waiting()] == [message_id]
    # Hidden for its visibility timeout: not read again before it runs out.
    sqs.advance(VISIBILITY - 5)
    assert queue_drain(channel=market()).read == 0

    sqs.advance(10)
    again = queue_drain(channel=market())

    assert (again.read, again.stored, again.deleted) == (1, 1, 1)
    assert WebhookDelivery.objects.filter(source="queue").count() == 1
    assert level("A-1", "WH").reserved == 2
    assert sqs.waiting() == [] and len(sqs.messages[message_id].receipts) == 2
    assert steps[-1] == f"deleted {message_id}"


def test_a_lost_delete_brings_the_message_back_and_it_changes_nothing_twice(sqs):
    sqs.send(p.amazon_notification("111-0000002-0000002", [("A-1", 1), ("B-2", 3)]))
    sqs.fail["DeleteMessageBatch"] = [500, 500]  # every attempt of the first delete

    first = queue_drain(channel=market())

    assert (first.stored, first.deleted) == (1, 0) and "HTTP 500" in first.error
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (1, 3)
    sqs.advance(VISIBILITY + 1)

    again = queue_drain(channel=market())

    assert (again.read, again.stored, again.duplicates, again.deleted) == (1, 0, 1, 1)
    assert WebhookDelivery.objects.count() == 1
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (1, 3)
    assert sqs.waiting() == []


def test_an_eventbridge_event_carrying_the_notification_is_read_the_same(sqs):
    notification = p.amazon_notification("111-0000003-0000003", [("B-2", 2)])
    sqs.send(eventbridge(notification))

    result = queue_drain(channel=market())

    assert (result.stored, result.deleted, result.failed) == (1, 1, 0)
    delivery = WebhookDelivery.objects.get()
    assert delivery.delivery_id == notification["NotificationMetadata"]["NotificationId"]
    assert delivery.topic == "ORDER_CHANGE" and delivery.outcome.startswith("order ")
    assert level("B-2", "WH").reserved == 2
    # The same notification straight from SP-API's SQS destination is the same delivery.
    sqs.send(notification)
    assert queue_drain(channel=market()).duplicates == 1
    assert level("B-2", "WH").reserved == 2


def test_an_eventbridge_detail_type_that_contradicts_its_notification_is_refused(sqs):
    notification = p.amazon_notification("111-0000004-0000004", [("B-2", 2)])
    sqs.send(eventbridge(notification, detail_type="ANY_OFFER_CHANGED"))

    result = queue_drain(channel=market())

    assert (result.stored, result.failed, result.deleted) == (1, 1, 1)
    row = WebhookDelivery.objects.get()
    assert row.processed_at is None and "detail-type ANY_OFFER_CHANGED" in row.error
    assert level("B-2", "WH").reserved == 0


def test_a_body_that_cannot_be_read_is_kept_in_the_inbox_with_why_and_deleted(sqs):
    sqs.send("<Notification>not JSON</Notification>")
    no_id = p.amazon_notification("111-0000005-0000005", [("A-1", 1)])
    del no_id["NotificationMetadata"]["NotificationId"]
    sqs.send(no_id)
    sqs.send(p.amazon_notification("111-0000006-0000006", [("A-1", 1)]))

    result = queue_drain(channel=market())

    assert (result.read, result.stored, result.failed, result.deleted) == (3, 3, 2, 3)
    kept = WebhookDelivery.objects.filter(processed_at__isnull=True).order_by("pk")
    assert [r.delivery_id.startswith("sha256:") for r in kept] == [True, True]
    assert "body is not JSON" in kept[0].error
    assert "NotificationId is missing" in kept[1].error
    assert bytes(kept[0].body) == b"<Notification>not JSON</Notification>"
    assert sqs.waiting() == []  # reading them again would not make them readable
    assert level("A-1", "WH").reserved == 1  # the readable one


def test_a_processing_failure_stays_in_the_inbox_and_the_message_is_deleted(sqs, monkeypatch):
    sqs.send(p.amazon_notification("111-0000007-0000007", [("A-1", 2)]))
    real = inbox.order_event_apply

    def broken(**kwargs):
        raise RuntimeError("a bug in IMS")

    monkeypatch.setattr(inbox, "order_event_apply", broken)
    result = queue_drain(channel=market())

    assert (result.stored, result.failed, result.deleted) == (1, 1, 1)
    row = WebhookDelivery.objects.get()
    assert row.processed_at is None and "a bug in IMS" in row.error
    assert sqs.waiting() == []

    monkeypatch.setattr(inbox, "order_event_apply", real)
    assert webhook_deliveries_replay(deliveries=WebhookDelivery.objects.all())["processed"] == 1
    assert level("A-1", "WH").reserved == 2


def test_an_order_fulfilled_by_amazon_reserves_nothing(sqs):
    sqs.send(sample(sku="A-1", FulfillmentType="AFN"))

    result = queue_drain(channel=market())

    assert (result.stored, result.failed, result.deleted) == (1, 0, 1)
    row = WebhookDelivery.objects.get()
    assert row.processed_at and "fulfilled by Amazon (AFN)" in row.outcome
    assert not ChannelOrder.objects.exists()
    assert level("A-1", "WH").reserved == 0


def test_a_cancellation_on_the_queue_releases_the_order(sqs):
    placed = p.amazon_notification("111-0000008-0000008", [("A-1", 3)])
    sqs.send(placed)
    queue_drain(channel=market())
    assert level("A-1", "WH").reserved == 3

    sqs.send(p.amazon_notification("111-0000008-0000008", [("A-1", 3)], status="Canceled"))
    queue_drain(channel=market())

    assert level("A-1", "WH").reserved == 0
    assert ChannelOrder.objects.get().status == "cancelled"


def test_a_wrong_secret_is_refused_by_the_queue_and_nothing_is_read(sqs, monkeypatch):
    sqs.send(p.amazon_notification("111-0000009-0000009", [("A-1", 1)]))
    monkeypatch.setenv("IMS_CHANNEL_MARKET_AWS_SECRET_ACCESS_KEY", "not-the-secret")

    result = queue_drain(channel=market())

    assert result.read == 0 and "HTTP 403" in result.error
    assert "InvalidSignatureException" in result.error
    assert sqs.refused and len(sqs.waiting()) == 1
    assert not WebhookDelivery.objects.exists()


def test_a_body_changed_on_the_way_is_left_to_come_back(sqs, monkeypatch):
    from channels.adapters.sqs import SqsQueue

    real = SqsQueue.receive

    def damaged(self, **kwargs):
        return [
            dataclasses.replace(m, intact=False) if n == 0 else m
            for n, m in enumerate(real(self, **kwargs))
        ]

    sqs.send(p.amazon_notification("111-0000010-0000010", [("A-1", 1)]))
    monkeypatch.setattr(SqsQueue, "receive", damaged)
    result = queue_drain(channel=market())
    assert (result.read, result.left, result.deleted) == (1, 1, 0)
    assert not WebhookDelivery.objects.exists() and len(sqs.waiting()) == 1


def test_the_relay_endpoint_still_takes_a_signed_notification(channels, post):
    body = p.dumps(p.amazon_notification("111-0000011-0000011", [("A-1", 1)]))
    response = post("market", body, p.ims_headers(body))
    assert response.status_code == 200 and response.json()["status"] == "stored"
    assert WebhookDelivery.objects.get().source == "webhook"
    # And an EventBridge event posted by a relay.
    wrapped = p.dumps(eventbridge(p.amazon_notification("111-0000012-0000012", [("A-1", 1)])))
    assert post("market", wrapped, p.ims_headers(wrapped)).json()["status"] == "stored"
    assert level("A-1", "WH").reserved == 2


def test_amazon_queue_command_prints_what_it_read(sqs, capsys):
    sqs.send(p.amazon_notification("111-0000013-0000013", [("B-2", 1)]))
    call_command("amazon_queue", "--channel", "market")
    out = capsys.readouterr().out
    assert "market: 1 read, 1 new, 0 already in the inbox, 1 deleted" in out
    with pytest.raises(CommandError, match="reads no queue"):
        call_command("amazon_queue", "--channel", "shop")


def test_the_task_drains_every_channel_with_a_queue_and_is_scheduled(sqs):
    from orchestration.management.commands.setup_schedules import SCHEDULES
    from orders.tasks import order_queues_task

    sqs.send(p.amazon_notification("111-0000014-0000014", [("B-2", 1)]))
    assert order_queues_task() == ["market: 1 read, 1 new, 0 already in the inbox, 1 deleted"]
    assert level("B-2", "WH").reserved == 1
    func, _, minutes, _ = SCHEDULES["order queues (Amazon SQS)"]
    assert (func, minutes) == ("orders.tasks.order_queues_task", 1)


def test_an_eventbridge_event_without_a_notification_id_is_named_by_its_own_id(sqs):
    notification = p.amazon_notification("111-0000015-0000015", [("B-2", 1)])
    del notification["NotificationMetadata"]
    event = eventbridge(notification)
    sqs.send(event)
    sqs.send(event)  # the same event twice (SQS delivers at least once)

    result = queue_drain(channel=market())

    assert (result.read, result.stored, result.duplicates, result.deleted) == (2, 1, 1, 2)
    assert WebhookDelivery.objects.get().delivery_id == f"eventbridge:{event['id']}"
    assert level("B-2", "WH").reserved == 1
