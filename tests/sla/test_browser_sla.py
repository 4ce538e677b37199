"""The SLA page in a real browser: a store clerk sees the breached dispatch, its ladder and
the charts, takes the task on and closes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ims.models import OpsTask
from sla.services import sla_sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_clerk_takes_on_and_closes_a_breach_from_the_sla_page(people, store, place, page, login):
    place("7001", timezone.now() - dt.timedelta(hours=30))
    sla_sweep()
    login("clerk")
    page.goto("/sla/")
    row = page.locator("table.clocks tr", has_text="dispatch")
    assert "overdue" in row.inner_text() and "step 3: Admin" in row.inner_text()
    page.wait_for_selector("#breach-rate-store .main-svg")  # plotly from our own static file
    task = page.locator("table.tasks tr", has_text="dispatch of local order #7001")
    task.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#messages .toast.success")).to_contain_text("Task taken on")
    task = page.locator("table.tasks tr", has_text="dispatch of local order #7001")
    assert "clerk" in task.inner_text()
    task.get_by_label("resolution").fill("sent by courier")
    task.get_by_role("button", name="Close").click()
    page.wait_for_load_state("networkidle")
    closed = OpsTask.objects.get(kind="sla_breach", title__contains="dispatch")
    assert (closed.status, closed.resolution) == ("done", "sent by courier")
    page.goto("/sla/", wait_until="networkidle")
