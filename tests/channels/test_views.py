"""The sync runs page: list, detail with the plan, htmx progress fragment, approve / discard."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Product
from channels.models import Channel, SyncLine, SyncRun
from ims.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(world):
    shop = Channel.objects.get(code="shop")
    now = timezone.now()
    running = SyncRun.objects.create(
        channel=shop,
        mode="push",
        trigger="schedule",
        started_at=now,
        heartbeat_at=now,
        planned=4,
        done=1,
    )
    halted = SyncRun.objects.create(
        channel=Channel.objects.get(code="market"),
        mode="push",
        trigger="command",
        status="halted",
        halt_reason="would set 3 of 3 SKUs to zero",
        started_at=now,
        heartbeat_at=now,
        finished_at=now,
        planned=1,
    )
    SyncLine.objects.create(
        run=halted,
        product=Product.objects.get(sku="A-1"),
        sku_id="A-1",
        field="quantity",
        current="5",
        target="0",
        state="pending",
    )
    return running, halted


def test_ops_see_every_run_with_its_progress(client, runs, user_with_role):
    client.force_login(user_with_role(Role.OPS))
    page = client.get("/channels/runs/").content.decode()
    assert f"#{runs[0].pk}" in page and f"#{runs[1].pk}" in page
    assert 'aria-valuenow="25"' in page  # 1 of 4 lines
    assert 'hx-trigger="every 2s"' in page  # a run is running: the table refreshes itself
    assert "django_htmx/htmx-2.min.js" in page  # htmx from our own static files


def test_a_running_runs_page_says_when_its_worker_last_beat(client, runs, user_with_role):
    client.force_login(user_with_role(Role.OPS))
    page = client.get(f"/channels/runs/{runs[0].pk}/").content.decode()
    assert f"last heartbeat from its worker {runs[0].heartbeat_at:%H:%M:%S}" in page


def test_the_progress_fragment_alone_for_htmx(client, runs, user_with_role):
    client.force_login(user_with_role(Role.OPS))
    fragment = client.get(
        f"/channels/runs/{runs[0].pk}/", headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="progress"') and "<html" not in fragment


def test_an_admin_discards_a_halted_run_and_ops_cannot(client, runs, user_with_role):
    halted = runs[1]
    client.force_login(user_with_role(Role.OPS))
    page = client.get(f"/channels/runs/{halted.pk}/").content.decode()
    assert "would set 3 of 3 SKUs to zero" in page and "Approve" not in page
    assert client.post(f"/channels/runs/{halted.pk}/discard/").status_code == 403
    client.force_login(user_with_role(Role.ADMIN))
    assert (
        "Approve and send the plan" in client.get(f"/channels/runs/{halted.pk}/").content.decode()
    )
    client.post(f"/channels/runs/{halted.pk}/discard/")
    assert SyncRun.objects.get(pk=halted.pk).status == "discarded"


def test_the_page_needs_a_log_in(client, runs):
    assert client.get("/channels/runs/").status_code == 302


def test_sync_now_says_plainly_that_a_running_sync_refuses_it(
    client, runs, user_with_role, monkeypatch
):
    queued = []
    monkeypatch.setattr("channels.views.enqueue", lambda *args: queued.append(args))
    client.force_login(user_with_role(Role.ADMIN))
    page = client.post("/channels/shop/sync/", follow=True).content.decode()
    assert f"Sync of shop not started: sync #{runs[0].pk} is still running" in page
    assert "queued" not in page and queued == []


def test_sync_now_closes_a_run_whose_worker_is_gone_and_queues_the_sync(
    client, runs, user_with_role, monkeypatch
):
    queued = []
    monkeypatch.setattr("channels.views.enqueue", lambda *args: queued.append(args))
    gone = runs[0]
    SyncRun.objects.filter(pk=gone.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=4))
    client.force_login(user_with_role(Role.ADMIN))
    page = client.post("/channels/shop/sync/", follow=True).content.decode()
    assert f"Sync #{gone.pk} of shop interrupted: its worker is gone" in page
    assert "Sync of shop queued (" in page
    assert SyncRun.objects.get(pk=gone.pk).status == "interrupted"
    assert queued == [("channels.tasks.sync_task", gone.channel_id)]
