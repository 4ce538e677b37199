"""The triage page tells the truth, seen in Chromium: the export follows the filters chosen
on the page, a push that failed says so in the message and on its row, the message after an
action is in view wherever the row was, a refused bulk action keeps the selection, and the
list says where it is ("51–75 of 75")."""

import datetime as dt
import re
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import expect

from channels.models import Channel
from exceptions.models import OpsException
from ims.roles import Role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def exceptions(count, *, channel, sku="SKU", start=0, product=None):
    first = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return OpsException.objects.bulk_create(
        OpsException(
            sku_id=f"{sku}-{i:05d}",
            discrepancy="Price_Mismatch",
            channel=channel,
            product=product,
            expected="10.00",
            actual="9.00",
            exposure=Decimal(1000 - i),
            currency="USD",
            source="reconcile",
            first_seen=first + dt.timedelta(minutes=i),
            last_seen=first + dt.timedelta(minutes=i),
        )
        for i in range(start, start + count)
    )


def open_exceptions(page, query: str = "") -> None:
    """Open the triage page and wait until htmx has loaded its tab counts: it is live."""
    page.goto("/exceptions/" + query)
    page.wait_for_selector("[data-count]")


@pytest.fixture
def olivia(world, user_with_role, login):
    user_with_role(Role.OPS, "olivia")
    return login("olivia")


def test_the_export_follows_the_filters_chosen_on_the_page(olivia, live_server):
    page = olivia
    exceptions(3, channel=Channel.objects.get(code="shop"))
    exceptions(2, channel=Channel.objects.get(code="market"), start=10)
    open_exceptions(page)
    page.select_option("select[name=channel]", "market")
    expect(page.locator("#results tr[data-sku]")).to_have_count(2)
    page.select_option("select[name=sort]", "age")
    expect(page.locator("#export")).to_have_attribute("href", re.compile("sort=age"))
    assert "channel=market" in page.locator("#export").get_attribute("href")
    assert page.locator("section#results").count() == 1  # replaced, never nested

    href = page.locator("#export").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    exported = httpx.get(live_server.url + href, cookies=cookies).text.strip().splitlines()
    assert len(exported) == 1 + 2 and all(",market," in row for row in exported[1:])


def test_a_push_that_failed_says_so_in_the_message_and_on_its_row(olivia):
    """A channel in dry_run sends nothing (as every demo channel was): the push fails."""
    from catalog.models import Product

    page = olivia
    shop = Channel.objects.get(code="shop")
    shop.sync_mode = "dry_run"
    shop.save()
    exceptions(1, channel=shop, product=Product.objects.get(sku="A-1"), sku="A")
    open_exceptions(page)
    page.locator("#results tr[data-sku]").locator("button", has_text="Push correction").click()

    toast = page.locator("#messages .toast.error")
    expect(toast).to_contain_text("the push failed")
    expect(toast).to_be_in_viewport()
    row = page.locator("#results tr[data-sku]")
    expect(row.locator("[data-push]")).to_contain_text("failed")
    expect(row.locator("[data-push-error]")).to_be_visible()
    assert page.locator("#messages .toast.success").count() == 0


def test_the_message_after_acting_on_a_low_row_is_in_view(olivia):
    page = olivia
    exceptions(50, channel=Channel.objects.get(code="shop"))
    open_exceptions(page)
    last = page.locator("#results tr[data-sku]").last
    last.scroll_into_view_if_needed()
    last.locator("summary", has_text="Acknowledge").click()
    last.locator("input[name=reason]").fill("agreed with the shop")
    last.locator("button", has_text="Acknowledge").click()
    toast = page.locator("#messages .toast", has_text="Acknowledged 1 exception.")
    expect(toast).to_be_in_viewport()
    toast.locator("[data-dismiss]").click()
    expect(toast).to_have_count(0)


def test_a_bulk_acknowledge_without_a_reason_keeps_what_was_ticked(olivia):
    page = olivia
    exceptions(3, channel=Channel.objects.get(code="shop"))
    open_exceptions(page)
    boxes = page.locator("#results input[name=ids][form=bulk]")
    boxes.nth(0).check()
    boxes.nth(2).check()
    page.locator("button", has_text="Acknowledge selected").click()
    expect(page.locator("#messages .toast.error")).to_contain_text("reason")
    expect(boxes.nth(0)).to_be_checked()
    expect(boxes.nth(1)).not_to_be_checked()
    expect(boxes.nth(2)).to_be_checked()
    assert OpsException.objects.filter(status="open").count() == 3


def test_the_list_says_where_it_is_and_a_sku_number_finds_its_sku(olivia):
    page = olivia
    exceptions(75, channel=Channel.objects.get(code="shop"))
    open_exceptions(page)
    expect(page.locator("[data-position]")).to_have_text("1–50 of 75")
    page.locator(".pager a", has_text="Next").click()
    expect(page.locator("[data-position]")).to_have_text("51–75 of 75")
    page.locator("input[name=q]").press_sequentially("00042")
    expect(page.locator("#results tr[data-sku]")).to_have_count(1)
    expect(page.locator("#results tr[data-sku]")).to_have_attribute("data-sku", "SKU-00042")
    page.fill("input[name=q]", "nothing-like-it")  # pasted: no key pressed
    expect(page.locator(".empty-state")).to_contain_text("No price mismatch exceptions match")
    assert page.locator("section#results").count() == 1


@pytest.mark.parametrize("url", ["/exceptions/", "/products/"])
def test_on_a_390_px_phone_no_page_scrolls_sideways(olivia, url):
    from tests.conftest import ARTIFACTS

    page = olivia
    exceptions(5, channel=Channel.objects.get(code="shop"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    row = page.locator("table.grid tbody tr").first
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # Each cell says which column it is, now that the header row is hidden.
    assert row.locator("td[data-label]").count() >= 5
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"phone-390{url.replace('/', '_')}.png"), full_page=True)
