"""The inbox and its processing share one transaction: a delivery whose processing fails is
still kept raw, with nothing of its processing left behind, and is processed exactly once
when the provider retries it or the inbox replays it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from channels.models import PendingPush
from ims.models import AuditEvent
from inventory.models import Movement
from orders.models import ChannelOrder, CustomerNotification, OrderLine, WebhookDelivery
from tests.orders import payloads as p
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db


def shopify_delivery(order_id=4601, lines=(("A-1", 2),), webhook_id="delivery-1"):
    body = p.dumps(p.shopify_order(order_id, list(lines)))
    return body, p.shopify_headers(body, "orders/create", webhook_id=webhook_id)


@pytest.fixture
def sla_down(monkeypatch):
    """The SLA engine fails (until `sla_down.up = True`): it hears of the reservation once the
    order, its lines and its stock moves are written, so all of that has to be undone."""
    from sla import services

    real = services.order_event_record

    class Seam:
        up = False

        @staticmethod
        def call(*, order, event, at):
            if not Seam.up:
                raise RuntimeError("SLA engine unavailable")
            return real(order=order, event=event, at=at)

    monkeypatch.setattr(services, "order_event_record", Seam.call)
    return Seam


def test_a_failure_after_the_reservation_keeps_the_raw_delivery_and_undoes_the_rest(
    channels, post, sla_down, caplog
):
    body, headers = shopify_delivery()
    with caplog.at_level("ERROR", logger="ims.webhooks"):
        response = post("shop", body, headers)
    assert response.status_code == 200
    assert response.json()["processed"] is False
    assert "SLA engine unavailable" in response.json()["error"]
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == body
    assert (delivery.processed_at, delivery.attempts) == (None, 1)
    assert "SLA engine unavailable" in delivery.error
    assert "webhook delivery" in caplog.text
    # Nothing of the processing is left: no order, no line, no movement, no hold on stock.
    assert not ChannelOrder.objects.exists()
    assert not OrderLine.objects.exists()
    assert not CustomerNotification.objects.exists()
    assert not Movement.objects.filter(reason="order").exists()
    assert (level("A-1", "WH").available, level("A-1", "WH").reserved) == (5, 0)
    assert not AuditEvent.objects.filter(action="order_receive").exists()


def test_the_provider_retrying_a_failed_delivery_processes_it_once(channels, post, sla_down):
    body, headers = shopify_delivery()
    post("shop", body, headers)
    sla_down.up = True
    again = post("shop", body, headers)  # Shopify retries the same delivery
    assert again.json()["status"] == "stored" and again.json()["processed"] is True
    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at and delivery.error == "" and delivery.attempts == 2
    assert level("A-1", "WH").reserved == 2
    third = post("shop", body, headers)
    assert third.json()["status"] == "duplicate"
    assert level("A-1", "WH").reserved == 2
    assert ChannelOrder.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_a_failed_delivery_is_replayed_from_the_inbox_once(channels, post, sla_down, capsys):
    post("shop", *shopify_delivery())
    sla_down.up = True
    call_command("replay_inbox")
    assert "1 processed" in capsys.readouterr().out
    order = ChannelOrder.objects.get()
    assert order.status == "reserved" and order.lines.get().reserved == 2
    assert Movement.objects.filter(ref=f"order:{order.pk}").count() == 1
    call_command("replay_inbox", "--all")
    assert level("A-1", "WH").reserved == 2


def test_two_deliveries_of_one_order_make_one_order(channels, post):
    """orders/create and orders/paid of the same order: the second finds it known."""
    body, headers = shopify_delivery(webhook_id="create")
    post("shop", body, headers)
    paid = p.shopify_headers(body, "orders/paid", webhook_id="paid")
    response = post("shop", body, paid)
    assert response.json()["outcome"] == "unchanged"
    assert ChannelOrder.objects.count() == 1
    assert WebhookDelivery.objects.count() == 2
    assert level("A-1", "WH").reserved == 2


def test_every_reservation_is_audited_and_notified(channels, post):
    post("shop", *shopify_delivery(lines=(("A-1", 1), ("B-2", 3))))
    order = ChannelOrder.objects.get()
    event = AuditEvent.objects.get(action="order_receive")
    assert (event.object_type, event.object_id) == ("orders.channelorder", str(order.pk))
    assert event.after == {
        "status": "reserved",
        "location": order.location_id,
        "lines": [["A-1", 1, 1, 0], ["B-2", 3, 3, 0]],
    }
    assert event.origin == "web 127.0.0.1 POST /webhooks/shop/"
    note = CustomerNotification.objects.get()
    assert (note.kind, note.context) == ("order_received", {"order": "4601", "status": "reserved"})


def test_work_a_failed_processing_scheduled_after_commit_never_runs(
    channels, post, sla_down, monkeypatch, django_capture_on_commit_callbacks
):
    """The reservation queued these products' stock push for the channels; the processing was
    undone, so nothing is queued and no push starts."""
    started = []
    monkeypatch.setattr("channels.services.enqueue", lambda name, *args, **_: started.append(name))
    with django_capture_on_commit_callbacks(execute=True):
        post("shop", *shopify_delivery())
    assert started == [] and not PendingPush.objects.exists()
    sla_down.up = True
    with django_capture_on_commit_callbacks(execute=True):
        post("shop", *shopify_delivery())  # the provider retries: now it is reserved
    assert set(started) == {"channels.tasks.sync_pending_task"}
    assert PendingPush.objects.filter(product__sku="A-1").exists()


def test_ops_see_a_delivery_the_inbox_keeps_until_it_is_processed(
    channels, post, sla_down, client, user_with_role
):
    """A delivery kept with its error opens a Sync failure for ops, named after it, on the
    exceptions page; once the replay processes it, the exception is resolved."""
    from exceptions.models import OpsException
    from ims.roles import Role

    post("shop", *shopify_delivery())
    delivery = WebhookDelivery.objects.get()
    client.force_login(user_with_role(Role.OPS))
    page = client.get("/exceptions/", {"discrepancy": "Sync_Failure"}).content.decode()
    assert f"delivery:{delivery.pk}" in page and "SLA engine unavailable" in page
    opened = OpsException.objects.get(sku_id=f"delivery:{delivery.pk}")
    assert (opened.channel.code, opened.status) == ("shop", "open")

    sla_down.up = True
    call_command("replay_inbox")

    opened.refresh_from_db()
    assert opened.status == "resolved"
    page = client.get("/exceptions/", {"discrepancy": "Sync_Failure"}).content.decode()
    assert f"delivery:{delivery.pk}" not in page


def test_a_signed_body_ims_cannot_read_is_refused_and_shown_to_ops(channels, post):
    from exceptions.models import OpsException

    order = {**p.shopify_order(4602, [("A-1", 1)]), "line_items": "not a list"}
    body = p.dumps(order)
    response = post("shop", body, p.shopify_headers(body, "orders/create", webhook_id="bad"))
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    shown = OpsException.objects.get(sku_id=f"delivery:{delivery.pk}")
    assert shown.status == "open" and "could not read the delivery" in shown.actual


def test_a_forged_delivery_is_refused_and_raises_nothing(channels, post):
    from exceptions.models import OpsException

    body, headers = shopify_delivery()
    response = post("shop", body, {**headers, "X-Shopify-Hmac-Sha256": "Zm9yZ2Vk"})
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists() and not OpsException.objects.exists()
