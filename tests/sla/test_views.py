"""The SLA pages: clocks at risk and breached with filters, time left and ladder reached;
tasks acknowledged and closed; an order's actions; who may do what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ims.models import AuditEvent, OpsTask
from ims.roles import Role
from notifications.models import Prescription
from orders.models import CustomerNotification
from sla.models import ClockStatus, SlaClock, SlaKind, SlaPolicy
from sla.services import sla_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def late_order(people, store, place):
    """A `local` order placed 30 hours ago under the default policies (round the clock):
    acknowledgement and dispatch both breached, the sweep has run."""
    assert SlaPolicy.objects.filter(channel__isnull=True).count() == 4  # the migration's defaults
    order = place("5001", timezone.now() - dt.timedelta(hours=30))
    sla_sweep()
    return order


def test_the_dashboard_lists_breached_clocks_with_their_ladder_and_charts(
    client, late_order, people
):
    client.force_login(people["ops"])
    page = client.get("/sla/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "#5001" in text and "overdue" in text
    assert "step 3: Admin" in text  # the dispatch ladder reached its admin rung
    assert "SLA breach: dispatch of local order #5001 at NYC" in text  # its task
    assert "vendor/plotly-basic/plotly-basic.min.js" in text and 'id="breach-rate-store"' in text
    assert 'id="dispatch-time-store"' not in text  # nothing dispatched yet

    filtered = client.get("/sla/", {"kind": "dispatch", "location": "NYC", "state": "breached"})
    rows = filtered.context["rows"]
    assert [r.clock.kind for r in rows] == ["dispatch"]
    assert rows[0].overdue and rows[0].time_left < -dt.timedelta(hours=5)
    assert client.get("/sla/", {"channel": "shop"}).context["rows"] == []
    fragment = client.get("/sla/", {"kind": "dispatch"}, headers={"HX-Request": "true"})
    assert b"<h1>" not in fragment.content and b"#5001" in fragment.content


def test_store_staff_acknowledge_and_close_a_breach_task(client, late_order, people):
    task = OpsTask.objects.get(
        kind="sla_breach", ref__startswith="sla:", title__contains="dispatch"
    )
    client.force_login(people["clerk"])
    assert client.post(f"/sla/tasks/{task.pk}/acknowledge/").status_code == 302
    task.refresh_from_db()
    assert task.assignee == people["clerk"] and task.status == "open"
    response = client.post(f"/sla/tasks/{task.pk}/close/", {"resolution": ""}, follow=True)
    assert b"say what was done" in response.content
    task.refresh_from_db()
    assert task.status == "open"
    client.post(f"/sla/tasks/{task.pk}/close/", {"resolution": "courier booked"})
    task.refresh_from_db()
    assert (task.status, task.closed_by, task.resolution) == (
        "done",
        people["clerk"],
        "courier booked",
    )
    assert AuditEvent.objects.filter(action="task_acknowledge", object_id=str(task.pk)).exists()


def test_viewers_cannot_act(client, late_order, user_with_role):
    finance = user_with_role(Role.FINANCE, "fin")
    client.force_login(finance)
    assert client.get("/sla/").status_code == 200
    task = OpsTask.objects.filter(kind="sla_breach").first()
    assert client.post(f"/sla/tasks/{task.pk}/close/", {"resolution": "x"}).status_code == 403
    assert client.post(f"/sla/orders/{late_order.pk}/acknowledge/").status_code == 403
    task.refresh_from_db()
    assert task.status == "open"
    catalog = user_with_role(Role.CATALOG_MANAGER, "cat")
    client.force_login(catalog)
    assert client.get("/sla/").status_code == 200  # everyone sees SLAs


def test_acknowledging_an_order_stops_its_acknowledgement_clock(client, people, store, place):
    order = place("5002", timezone.now() - dt.timedelta(minutes=20))
    client.force_login(people["clerk"])
    page = client.get(f"/sla/orders/{order.pk}/")
    assert b"Acknowledge order" in page.content
    client.post(f"/sla/orders/{order.pk}/acknowledge/")
    clock = SlaClock.objects.get(order=order, kind=SlaKind.ACKNOWLEDGEMENT)
    assert clock.status == ClockStatus.MET
    assert dt.timedelta(minutes=19) < clock.elapsed < dt.timedelta(minutes=21)
    again = client.post(f"/sla/orders/{order.pk}/acknowledge/", follow=True)
    assert b"no acknowledgement clock running" in again.content
    assert SlaClock.objects.get(order=order, kind=SlaKind.DISPATCH).status == "running"


def test_dispatch_then_delivery_runs_the_delivery_clock(client, people, store, place):
    from orders.services.fulfilment import order_dispatch

    order = place("5003", timezone.now() - dt.timedelta(hours=1))
    order_dispatch(order=order, items=[("A-1", 1)], actor=people["clerk"])
    delivery = SlaClock.objects.get(order=order, kind=SlaKind.DELIVERY)
    assert delivery.status == "running"
    client.force_login(people["clerk"])
    client.post(f"/sla/orders/{order.pk}/delivered/")
    delivery.refresh_from_db()
    order.refresh_from_db()
    assert delivery.status == ClockStatus.MET and order.delivered_at is not None
    assert CustomerNotification.objects.filter(order=order, kind="order_delivered").exists()


def test_a_return_runs_its_processing_clock_until_the_store_marks_it(client, people, store, place):
    from orders.providers.base import ReturnLineIn
    from orders.services.fulfilment import order_dispatch
    from orders.services.returns import customer_return_record

    order = place("5004", timezone.now() - dt.timedelta(hours=3))
    order_dispatch(order=order, items=[("A-1", 1)], actor=people["clerk"])
    customer_return = customer_return_record(
        order=order, external_id="R1", lines=[ReturnLineIn(quantity=1, sku="A-1")]
    )
    clock = SlaClock.objects.get(order=order, kind=SlaKind.RETURN)
    assert clock.customer_return == customer_return and clock.location.code == "NYC"
    client.force_login(people["clerk"])
    client.post(f"/sla/returns/{customer_return.pk}/processed/")
    clock.refresh_from_db()
    assert clock.status == ClockStatus.MET


def test_staff_attach_a_prescription_and_send_a_payment_link(client, people, store, place):
    order = place("5005", timezone.now())
    client.force_login(people["ops"])
    client.post(
        f"/sla/orders/{order.pk}/prescriptions/",
        {"file": SimpleUploadedFile("rx.pdf", b"%PDF-1.4", content_type="application/pdf")},
    )
    assert Prescription.objects.get(order=order).filename == "rx.pdf"
    bad = client.post(f"/sla/orders/{order.pk}/payment-link/", {"url": "http://pay"}, follow=True)
    assert b"https://" in bad.content
    client.post(f"/sla/orders/{order.pk}/payment-link/", {"url": "https://pay.example.com/o/5005"})
    link = CustomerNotification.objects.get(order=order, kind="payment_link")
    assert link.context["url"] == "https://pay.example.com/o/5005" and link.status == "queued"
    client.force_login(people["clerk"])  # store staff attach, but do not send payment links
    assert (
        client.post(
            f"/sla/orders/{order.pk}/payment-link/", {"url": "https://x.example"}
        ).status_code
        == 403
    )
