"""The runs page in a real browser: a running sync's progress bar moves on by itself (htmx)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels.models import Channel, SyncRun
from ims.roles import Role

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.browser,
]


def test_a_running_syncs_progress_updates_while_it_runs(world, user_with_role, page, login):
    user_with_role(Role.OPS, "ops")
    now = timezone.now()
    run = SyncRun.objects.create(
        channel=Channel.objects.get(code="shop"),
        mode="push",
        trigger="schedule",
        started_at=now,
        heartbeat_at=now,
        planned=4,
        done=1,
    )
    login("ops")
    page.goto(f"/channels/runs/{run.pk}/")
    bar = page.locator("#progress [role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "25"
    SyncRun.objects.filter(pk=run.pk).update(done=3)
    expect(bar).to_have_attribute(
        "aria-valuenow", "75", timeout=8000
    )  # no eval: the CSP forbids it
    SyncRun.objects.filter(pk=run.pk).update(done=4, status="succeeded", finished_at=timezone.now())
    page.wait_for_selector("#progress .status.succeeded", timeout=8000)
    page.goto("/channels/runs/")
    assert page.locator("table.grid tbody tr").count() == 1
    assert "succeeded" in page.locator("table.grid tbody").inner_text()


def test_sync_now_says_on_the_page_that_a_running_sync_refuses_it(
    world, user_with_role, page, login
):
    user_with_role(Role.ADMIN, "admin")
    now = timezone.now()
    run = SyncRun.objects.create(
        channel=Channel.objects.get(code="shop"),
        mode="push",
        trigger="schedule",
        started_at=now,
        heartbeat_at=now,
        planned=4,
        done=1,
    )
    login("admin")
    page.goto("/channels/runs/?channel=shop")
    page.get_by_role("button", name="Sync shop now").click()
    refusal = page.locator("#messages .toast.error")
    refusal.wait_for(timeout=8000)
    assert refusal.inner_text().startswith(
        f"Sync of shop not started: sync #{run.pk} is still running"
    )
    assert SyncRun.objects.count() == 1
