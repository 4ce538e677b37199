"""The notification inbox: the bell's count, the page, marking read; a person only ever sees and
marks their own notifications."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ims.models import Notification
from ims.roles import Role
from ims.selectors import notification_page, notifications_unread_count
from ims.services import NotificationNotFound, notification_mark_read, notifications_mark_all_read

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def notice(user, subject="Something happened", *, read=False, link="", body="", minutes_ago=0):
    return Notification.objects.create(
        recipient=user,
        kind="test",
        subject=subject,
        body=body,
        link=link,
        created_at=NOW - dt.timedelta(minutes=minutes_ago),
        read_at=NOW - dt.timedelta(minutes=minutes_ago) if read else None,
    )


@pytest.fixture
def olga(user_with_role):
    return user_with_role(Role.OPS, "olga")


@pytest.fixture
def otto(user_with_role):
    return user_with_role(Role.OPS, "otto")


def notification_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "ims_notification" in q["sql"]]


# ---------------------------------------------------------------------------
# Selectors and services


def test_the_unread_count_is_one_query_and_counts_only_ones_own_unread(
    olga, otto, django_assert_num_queries
):
    notice(olga)
    notice(olga)
    notice(olga, read=True)
    notice(otto)
    with django_assert_num_queries(1):
        assert notifications_unread_count(user=olga) == 2
    assert notifications_unread_count(user=otto) == 1


def test_nobody_logged_in_has_no_unread_and_costs_no_query(django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    with django_assert_num_queries(0):
        assert notifications_unread_count(user=AnonymousUser()) == 0
        assert notifications_unread_count(user=None) == 0


def test_marking_one_read_marks_only_it_and_keeps_when_it_was_first_read(olga):
    first, second = notice(olga), notice(olga)
    marked = notification_mark_read(user=olga, notification_id=first.pk, now=NOW)
    assert marked.pk == first.pk and marked.read_at == NOW
    second.refresh_from_db()
    assert second.read_at is None
    later = NOW + dt.timedelta(hours=1)
    assert notification_mark_read(user=olga, notification_id=first.pk, now=later).read_at == NOW


def test_another_persons_notification_is_not_found_and_stays_unread(olga, otto):
    ottos = notice(otto)
    with pytest.raises(NotificationNotFound) as refused:
        notification_mark_read(user=olga, notification_id=ottos.pk)
    assert refused.value.http_status == 404
    ottos.refresh_from_db()
    assert ottos.read_at is None
    with pytest.raises(NotificationNotFound):
        notification_mark_read(user=olga, notification_id=ottos.pk + 1000)


def test_mark_all_read_is_one_update_of_ones_own_unread(olga, otto, django_assert_num_queries):
    for _ in range(3):
        notice(olga)
    earlier = NOW - dt.timedelta(days=1)
    already = notice(olga, read=True, minutes_ago=24 * 60)
    ottos = notice(otto)
    with django_assert_num_queries(1):
        assert notifications_mark_all_read(user=olga, now=NOW) == 3
    assert notifications_unread_count(user=olga) == 0
    already.refresh_from_db()
    assert already.read_at == earlier  # read before: when it was read is kept
    ottos.refresh_from_db()
    assert ottos.read_at is None
    assert notifications_mark_all_read(user=olga) == 0


def test_mark_all_read_stops_at_what_the_page_showed(olga):
    shown = [notice(olga), notice(olga)]
    arrived_since = notice(olga)
    assert notifications_mark_all_read(user=olga, up_to_id=shown[-1].pk) == 2
    arrived_since.refresh_from_db()
    assert arrived_since.read_at is None


def test_the_page_is_newest_first_fifty_at_a_time_in_three_queries(
    olga, otto, django_assert_num_queries
):
    for n in range(55):
        notice(olga, f"notice {n}", read=n % 2 == 1, minutes_ago=55 - n)
    notice(otto, "otto's")
    with django_assert_num_queries(3):
        first = notification_page(user=olga)
    assert [n.subject for n in first.rows[:2]] == ["notice 54", "notice 53"]
    assert (len(first.rows), first.first, first.last, first.total) == (50, 1, 50, 55)
    assert (first.unread, first.previous_number, first.next_number) == (28, None, 2)
    second = notification_page(user=olga, number="2")
    assert (len(second.rows), second.first, second.last, second.next_number) == (5, 51, 55, None)
    assert second.rows[-1].subject == "notice 0"
    assert notification_page(user=olga, number=99).number == 2  # past the end: the last
    assert notification_page(user=olga, number="x").number == 1
    with django_assert_num_queries(2):  # only unread: their count is the total
        unread = notification_page(user=olga, unread_only=True)
    assert unread.total == 28 and all(n.read_at is None for n in unread.rows)
    assert unread.newest_unread_id == max(n.pk for n in unread.rows)


def test_an_empty_page(olga):
    page = notification_page(user=olga)
    assert (page.rows, page.first, page.last, page.total, page.pages) == ([], 0, 0, 0, 1)
    assert page.newest_unread_id is None


@pytest.mark.postgres
def test_the_count_reads_the_recipient_read_at_index(olga, otto):
    Notification.objects.bulk_create(
        Notification(
            recipient=user, kind="test", subject="s", created_at=NOW, read_at=None if n < 2 else NOW
        )
        for user in (olga, otto)
        for n in range(500)
    )
    with CaptureQueriesContext(connection) as captured:
        notifications_unread_count(user=olga)
    (sql,) = notification_queries(captured)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE ims_notification")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "notification_unread" in plan, plan


# ---------------------------------------------------------------------------
# Pages


@pytest.mark.parametrize("url", ["/notifications/", "/sla/", "/products/", "/pricing/change/"])
def test_the_bell_on_every_page_shows_ones_unread_in_one_count(client, olga, otto, url):
    from django.contrib.auth.models import Group

    olga.groups.add(Group.objects.get(name=Role.PRICING.value))  # for /pricing/change/
    notice(olga)
    notice(olga)
    notice(olga, read=True)
    notice(otto)
    client.force_login(olga)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<a id="bell" class="bell" href="/notifications/"', html)
    assert 'aria-label="Notifications: 2 unread"' in html
    assert re.search(r'<span class="badge" data-unread="2">2</span>', html)
    queries = notification_queries(captured)
    unread_counts = [q for q in queries if "COUNT(" in q.upper() and "IS NULL" in q.upper()]
    assert len(unread_counts) == 1, queries  # the inbox page's own count is the bell's
    if url != "/notifications/":
        assert len(queries) == 1, queries


def test_no_badge_when_nothing_is_unread(client, olga):
    notice(olga, read=True)
    client.force_login(olga)
    html = client.get("/sla/").content.decode()
    assert 'id="bell"' in html and 'aria-label="Notifications"' in html
    assert "badge" not in html


def test_many_unread_show_99_plus(client, olga):
    Notification.objects.bulk_create(
        Notification(recipient=olga, kind="t", subject="s", created_at=NOW) for _ in range(120)
    )
    client.force_login(olga)
    html = client.get("/sla/").content.decode()
    assert '<span class="badge" data-unread="120">99+</span>' in html


def test_nobody_logged_in_is_sent_to_log_in(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post("/notifications/read-all/").status_code == 302


def test_the_inbox_shows_only_ones_own_newest_first_with_unread_marked(client, olga, otto):
    notice(olga, "Older, read", read=True, minutes_ago=30, body="It was read.")
    notice(olga, "Newer, unread", minutes_ago=5, body="x" * 600, link="/sla/orders/7/")
    notice(otto, "Otto's own")
    client.force_login(olga)
    html = client.get("/notifications/").content.decode()
    assert "Otto's own" not in html
    assert html.index("Newer, unread") < html.index("Older, read")
    assert len(re.findall(r'class="notice unread"', html)) == 1
    assert re.search(r'<a class="subject" id="notice-\d+-subject" href="/sla/orders/7/">', html)
    assert "x" * 239 + "…" in html and "x" * 241 not in html  # an excerpt of the body
    assert "data-position>1–2 of 2<" in html
    assert html.count(">Mark read</button>") == 1
    assert ">Mark all read</button>" in html
    unread = client.get("/notifications/?show=unread").content.decode()
    assert "Newer, unread" in unread and "Older, read" not in unread
    assert "data-position>1–1 of 1<" in unread


@pytest.mark.parametrize(
    "link", ["", "javascript:alert(1)", "//evil.example/x", "https://evil.example/x", "/\\evil"]
)
def test_a_notice_links_only_somewhere_on_this_site(client, olga, link):
    notice(olga, "About nothing here", link=link)
    client.force_login(olga)
    html = client.get("/notifications/").content.decode()
    assert '<span class="subject"' in html and '<a class="subject"' not in html


def test_the_pages_go_fifty_at_a_time(client, olga):
    for n in range(55):
        notice(olga, f"notice {n}", minutes_ago=55 - n)
    client.force_login(olga)
    html = client.get("/notifications/").content.decode()
    assert "data-position>1–50 of 55<" in html and 'rel="next" href="?show=all&amp;page=2"' in html
    html = client.get("/notifications/?page=2").content.decode()
    assert (
        "data-position>51–55 of 55<" in html and 'rel="prev"' in html and 'rel="next"' not in html
    )


def test_the_empty_states(client, olga):
    client.force_login(olga)
    assert "No notifications yet" in client.get("/notifications/").content.decode()
    notice(olga, read=True)
    unread = client.get("/notifications/?show=unread").content.decode()
    assert "all caught up" in unread and "Mark all read" not in unread


def test_mark_read_goes_back_to_the_page_it_was_on(client, olga):
    mine = notice(olga)
    client.force_login(olga)
    response = client.post(f"/notifications/{mine.pk}/read/", {"query": "show=unread&page=1"})
    assert (
        response.status_code == 302 and response["Location"] == "/notifications/?show=unread&page=1"
    )
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.get(f"/notifications/{mine.pk}/read/").status_code == 405


def test_marking_another_persons_notification_is_404(client, olga, otto):
    ottos = notice(otto)
    client.force_login(olga)
    assert client.post(f"/notifications/{ottos.pk}/read/").status_code == 404
    assert client.post(f"/notifications/{ottos.pk + 999}/read/").status_code == 404
    ottos.refresh_from_db()
    assert ottos.read_at is None


def test_mark_read_by_htmx_answers_the_list_and_the_bell_out_of_band(client, olga):
    first, _ = notice(olga, "first"), notice(olga, "second")
    client.force_login(olga)
    response = client.post(
        f"/notifications/{first.pk}/read/",
        {"query": "show=all"},
        headers={"HX-Request": "true", "HX-Target": "inbox"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and '<section id="inbox"' in html
    assert re.search(r'<a id="bell"[^>]*hx-swap-oob="true"', html)
    assert '<span class="badge" data-unread="1">1</span>' in html
    assert len(re.findall(r'class="notice unread"', html)) == 1


def test_mark_all_read_marks_only_ones_own_up_to_what_the_page_showed(client, olga, otto):
    shown = [notice(olga), notice(olga)]
    ottos = notice(otto)
    client.force_login(olga)
    html = client.get("/notifications/").content.decode()
    assert f'name="up_to" value="{shown[-1].pk}"' in html
    arrived_since = notice(olga)
    response = client.post(
        "/notifications/read-all/", {"up_to": str(shown[-1].pk), "query": "show=all"}
    )
    assert response.status_code == 302
    assert notifications_unread_count(user=olga) == 1
    arrived_since.refresh_from_db()
    ottos.refresh_from_db()
    assert arrived_since.read_at is None and ottos.read_at is None
    response = client.post(
        "/notifications/read-all/",
        {"query": "show=unread"},
        headers={"HX-Request": "true", "HX-Target": "inbox"},
    )
    html = response.content.decode()
    assert "all caught up" in html and "badge" not in html
    assert re.search(r'<a id="bell"[^>]*hx-swap-oob="true"', html)


def test_when_a_notice_came_is_said_as_a_person_says_it():
    from django.utils import timezone

    from ims.templatetags.ims import ago

    now = timezone.now()
    assert ago(now - dt.timedelta(seconds=20)) == "just now"
    assert ago(now - dt.timedelta(minutes=5, seconds=5)) == "5\xa0minutes ago"  # as timesince
    assert ago(None) == ""
