"""POS override approvals seen in Chromium: a store sale that needs units reserved for online
orders waits on /stock/pos-overrides/ with the online order that would wait; an Admin is
refused without a reason (beside the field), approves with one — the message in view, the row
gone from Held and under Approved, the stock as the service says — or rejects another; Store
Staff see the held sale without the buttons; the page fits a 390 px phone."""

import csv
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from channels.models import Channel
from ims.roles import Role
from orders.models import ChannelOrder, PosSale
from orders.providers.base import LineIn, OrderIn, PosSaleIn
from orders.services.intake import order_receive
from orders.services.pos import pos_sale_record
from tests.orders.conftest import level

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _order(external_id: str, quantity: int, at: dt.datetime) -> None:
    order_receive(
        channel=Channel.objects.get(code="shop"),
        incoming=OrderIn(
            external_id=external_id,
            name=f"#{external_id}",
            placed_at=at,
            lines=(LineIn(external_id="1", sku="B-2", quantity=quantity),),
        ),
        now=at,
    )


def _sale(receipt: str, quantity: int, actor) -> PosSale:
    sale, _ = pos_sale_record(
        channel=None,
        incoming=PosSaleIn(receipt, "WH", (LineIn("1", "B-2", quantity),)),
        actor=actor,
    )
    assert sale.status == "held"
    return sale


@pytest.fixture
def held(channels, user_with_role):
    """B-2 at WH: 10 units, 8 reserved by online orders 1001 (× 5) and 1002 (× 3, newer); Sam
    (Store Staff) rang up R-7, 4 × B-2: held; Ann is an Admin."""
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    _order("1001", 5, at)
    _order("1002", 3, at + dt.timedelta(minutes=5))
    sam = user_with_role(Role.STORE_STAFF, "sam")
    user_with_role(Role.ADMIN, "ann")
    return _sale("R-7", 4, sam)


def test_an_admin_approves_a_held_sale_and_the_newest_online_order_waits(held, login):
    page = login("ann")
    page.locator("nav a", has_text="POS overrides").click()
    row = page.locator(f"#pos-{held.pk}")
    expect(row.locator("[data-lines]")).to_contain_text("B-2 × 4 (2 from reserved)")
    expect(row.locator("[data-waiting]")).to_have_text("shop:1002 gives up 2 × B-2")
    expect(page.locator("[data-position]")).to_have_text("1–1 of 1")
    expect(page.locator("[data-count=held]")).to_have_text("1")

    row.locator("button", has_text="Approve").click()
    refused = page.locator("#messages .toast.error", has_text="A reason is required.")
    expect(refused).to_be_in_viewport()
    row = page.locator(f"#pos-{held.pk}")
    expect(row.locator("[data-error-for=reason]")).to_have_text("A reason is required.")
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (2, 8)

    row.locator("input[name=reason]").fill("walk-in customer, online order can wait")
    row.locator("button", has_text="Approve").click()
    toast = page.locator("#messages .toast.success", has_text="POS sale R-7 at WH approved")
    expect(toast).to_be_in_viewport()
    expect(toast).to_contain_text("2 of them taken from online orders; now waiting: shop:1002")
    expect(page.locator(f"#pos-{held.pk}")).to_have_count(0)
    expect(page.locator(".empty-state")).to_contain_text("No POS sales are waiting for approval.")
    expect(page.locator("[data-count=approved]")).to_have_text("1")

    page.locator(".tabs a[data-tab=approved]").click()
    row = page.locator(f"#pos-{held.pk}")
    expect(row.locator("[data-state]")).to_contain_text("approved")
    expect(row.locator("[data-reason]")).to_have_text("walk-in customer, online order can wait")
    expect(row.locator("[data-task]")).to_have_text("(task done)")
    expect(row.locator("button")).to_have_count(0)
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (0, 6)
    line = ChannelOrder.objects.get(external_id="1002").lines.get()
    assert (line.reserved, line.backordered) == (1, 2)


def test_an_admin_rejects_a_held_sale_and_nothing_moves(held, login):
    page = login("ann")
    page.goto("/stock/pos-overrides/")
    row = page.locator(f"#pos-{held.pk}")
    row.locator("input[name=reason]").fill("online orders first")
    row.locator("button", has_text="Reject").click()
    toast = page.locator("#messages .toast.success", has_text="POS sale R-7 at WH rejected")
    expect(toast).to_be_in_viewport()
    page.locator(".tabs a[data-tab=rejected]").click()
    expect(page.locator(f"#pos-{held.pk} [data-state]")).to_contain_text("rejected")
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (2, 8)

    with page.expect_download() as download:
        page.locator("#export").click()
    rows = list(csv.DictReader(download.value.path().read_text(encoding="utf-8").splitlines()))
    assert [(r["receipt"], r["state"], r["decision_reason"]) for r in rows] == [
        ("R-7", "rejected", "online orders first")
    ]

    page.locator("#filters select[name=location]").select_option("NYC")  # htmx: the list only
    expect(page.locator(".empty-state")).to_contain_text("None match the search")
    expect(page.locator("#export")).to_have_attribute("href", re.compile("location=NYC"))


def test_store_staff_see_the_held_sale_without_the_buttons(held, login):
    page = login("sam")
    page.goto("/stock/pos-overrides/")
    row = page.locator(f"#pos-{held.pk}")
    expect(row.locator("[data-waiting]")).to_contain_text("shop:1002")
    expect(row.locator("button")).to_have_count(0)
    expect(page.locator("input[name=reason]")).to_have_count(0)


def test_the_page_on_a_390_px_phone_does_not_scroll_sideways(held, login):
    page = login("ann")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/stock/pos-overrides/")
    row = page.locator(f"#pos-{held.pk}")
    expect(row).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(row.locator("button", has_text="Approve")).to_be_visible()
