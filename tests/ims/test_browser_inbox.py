"""The bell and the notification inbox in a real browser (Debian Chromium via Playwright)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ims.models import Notification
from ims.roles import Role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def notice(user, subject, *, minutes_ago, link="", body="", read=False):
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return Notification.objects.create(
        recipient=user,
        kind="test",
        subject=subject,
        body=body,
        link=link,
        created_at=at,
        read_at=at if read else None,
    )


def test_two_unread_show_2_marking_one_read_shows_1_and_a_notice_leads_to_its_page(
    user_with_role, page, login
):
    olga = user_with_role(Role.OPS, "olga")
    otto = user_with_role(Role.OPS, "otto")
    notice(
        olga,
        "Sync of shop halted: approval needed",
        body="The plan changes 40% of the listings.",
        link="/sla/",
        minutes_ago=60,
    )
    notice(olga, "Ledger check: 2 stock level(s) disagree", body="WH: A-1, B-2.", minutes_ago=5)
    notice(olga, "An old one, read", minutes_ago=3000, read=True)
    notice(otto, "Otto's own", minutes_ago=1)

    login("olga")
    expect(page.locator("#bell .badge")).to_have_text("2")
    page.click("#bell")
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    expect(page.locator("#bell")).to_have_attribute("aria-current", "page")
    notices = page.locator("#inbox .notice")
    expect(notices).to_have_count(3)
    expect(page.locator("#inbox")).not_to_contain_text("Otto's own")
    expect(page.locator("#inbox .notice[data-unread]")).to_have_count(2)
    expect(page.locator("[data-position]")).to_have_text("1–3 of 3")
    newest = notices.first
    expect(newest.locator(".subject")).to_have_text("Ledger check: 2 stock level(s) disagree")
    expect(newest.locator("a.subject")).to_have_count(0)  # no link: nothing to follow
    expect(newest).to_contain_text("WH: A-1, B-2.")
    expect(newest.locator("time")).to_contain_text("ago")

    newest.get_by_role("button", name="Mark read").click()
    expect(page.locator("#bell .badge")).to_have_text("1")
    expect(page.locator("#inbox .notice[data-unread]")).to_have_count(1)
    expect(page.locator('[data-count="unread"]')).to_have_text("1")
    expect(page).to_have_url(re.compile(r"/notifications/$"))  # marked in place, by htmx
    assert Notification.objects.filter(recipient=olga, read_at__isnull=True).count() == 1

    unread = page.locator("#inbox .notice[data-unread]")
    expect(unread.locator("a.subject")).to_have_text("Sync of shop halted: approval needed")
    unread.locator("a.subject").click()
    expect(page).to_have_url(re.compile(r"/sla/$"))
    expect(page.locator("#bell .badge")).to_have_text("1")


def test_mark_all_read_empties_the_unread_list_and_the_badge(user_with_role, page, login):
    olga = user_with_role(Role.OPS, "olga")
    for n in range(3):
        notice(olga, f"Notice {n}", minutes_ago=n)
    login("olga")
    page.goto("/notifications/?show=unread")
    expect(page.locator("#bell .badge")).to_have_text("3")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".empty-state")).to_contain_text("You're all caught up")
    expect(page.locator("#bell .badge")).to_have_count(0)
    expect(page.locator("#bell")).to_have_attribute("aria-label", "Notifications")
    page.get_by_role("link", name="See all your notifications").click()
    expect(page.locator("#inbox .notice")).to_have_count(3)
    expect(page.locator("#inbox .notice[data-unread]")).to_have_count(0)


def test_on_a_390_px_phone_the_inbox_does_not_scroll_sideways(user_with_role, page, login):
    from tests.conftest import ARTIFACTS

    olga = user_with_role(Role.OPS, "olga")
    for n in range(55):
        notice(
            olga,
            f"Price drift on shop: {n} SKU(s) show another price than HQ's "
            + "SKU-0000000000000000000000000000042",
            body="https://example.com/a-very-long-address-that-does-not-break-by-itself/" * 3,
            link="/sla/",
            minutes_ago=n,
            read=n % 3 == 0,
        )
    login("olga")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/notifications/")
    expect(page.locator("#inbox .notice")).to_have_count(50)
    expect(page.locator("[data-position]")).to_have_text("1–50 of 55")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for element in (
        page.locator("#bell"),
        page.locator("#inbox .notice").first,
        page.locator("#inbox .notice[data-unread]").first.get_by_role("button", name="Mark read"),
        page.get_by_role("button", name="Mark all read"),
        page.locator(".pager"),
    ):
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "phone-390_notifications_.png"))  # the first screen
