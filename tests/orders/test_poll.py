"""The order poll, the safety net for lost webhooks: each channel's orders changed since a
stored cursor, read from a fake of the channel's API served on 127.0.0.1 (real HTTP), land
in the same inbox as its webhooks. A dropped webhook's order is received and reserved
exactly once; an order whose webhook arrived changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from django.core.management import call_command

from channels.models import Channel
from orders.models import ChannelOrder, OrderPoll, WebhookDelivery
from orders.services.poll import orders_poll
from tests.fakes.served import served
from tests.fakes.specs import woo_list_parameters
from tests.orders.conftest import level
from tests.orders.payloads import dumps, woo_headers, woo_sample_order

pytestmark = pytest.mark.django_db


class FakeWooOrders:
    """WooCommerce's `GET /wp-json/wc/v3/orders`: Basic auth, `modified_after` with
    `dates_are_gmt`, `per_page`, pages linked by `Link: rel="next"`; only the query
    parameters `_orders.md` "List all orders" documents."""

    def __init__(self, per_page_max: int = 100):
        self.orders: dict[int, dict] = {}
        self.requests: list[httpx.Request] = []
        self.per_page_max = per_page_max

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/wp-json/wc/v3/orders" or request.method != "GET":
            return httpx.Response(404, json={"code": "rest_no_route"})
        if request.headers.get("authorization") != httpx.BasicAuth("ck_1", "cs_1")._auth_header:
            return httpx.Response(401, json={"code": "woocommerce_rest_cannot_view"})
        params = request.url.params
        assert set(params) <= woo_list_parameters("_orders.md", "orders"), set(params)
        assert params.get("dates_are_gmt") == "true"
        after = dt.datetime.fromisoformat(params["modified_after"])
        per_page = min(int(params.get("per_page", 10)), self.per_page_max)
        page = int(params.get("page", 1))
        listed = sorted(
            (
                o
                for o in self.orders.values()
                if dt.datetime.fromisoformat(o["date_modified_gmt"]) > after
            ),
            key=lambda o: o["id"],
        )
        chunk = listed[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(len(listed))}
        if page * per_page < len(listed):
            nxt = request.url.copy_merge_params({"page": page + 1})
            headers["Link"] = f'<{nxt}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)


@pytest.fixture
def woo(channels, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_WOO_CONSUMER_KEY", "ck_1")
    monkeypatch.setenv("IMS_CHANNEL_WOO_CONSUMER_SECRET", "cs_1")
    fake = FakeWooOrders(per_page_max=1)  # one order a page: the poll follows the pages
    with served(fake.handle) as url:
        Channel.objects.filter(code="woo").update(base_url=url)
        yield fake


def test_the_poll_recovers_a_dropped_woocommerce_webhook_exactly_once(woo, post):
    now = dt.datetime.now(dt.UTC)
    first = woo_sample_order(727, [("A-1", 2)], at=now - dt.timedelta(minutes=3))
    lost = woo_sample_order(728, [("A-1", 1), ("B-2", 4)], at=now - dt.timedelta(minutes=2))
    woo.orders = {727: first, 728: lost}
    body = dumps(first)
    assert post("woo", body, woo_headers(body)).status_code == 200  # 728's webhook is lost

    result = orders_poll(channel=Channel.objects.get(code="woo"))

    assert (result.found, result.stored, result.received, result.error) == (2, 2, 1, "")
    assert ChannelOrder.objects.filter(channel__code="woo").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    polled = WebhookDelivery.objects.get(source="poll", delivery_id__startswith="poll:728@")
    assert polled.outcome.startswith("order ") and "received" in polled.outcome
    known = WebhookDelivery.objects.get(source="poll", delivery_id__startswith="poll:727@")
    assert known.outcome == "unchanged"
    assert [r.url.params["page"] for r in woo.requests if "page" in r.url.params] == ["2"]

    # Polled again, and the lost webhook finally delivered: nothing changes twice.
    again = orders_poll(channel=Channel.objects.get(code="woo"))
    late = dumps(lost)
    assert post("woo", late, woo_headers(late)).json()["outcome"] == "unchanged"
    assert (again.found, again.stored) == (2, 0)
    assert ChannelOrder.objects.filter(channel__code="woo").count() == 2
    assert (level("A-1", "WH").reserved, level("B-2", "WH").reserved) == (3, 4)
    cursor = OrderPoll.objects.get(channel__code="woo").cursor
    assert cursor == dt.datetime.fromisoformat(lost["date_modified_gmt"]).replace(tzinfo=dt.UTC)


def test_a_cancellation_found_by_the_poll_releases_the_order(woo, post):
    now = dt.datetime.now(dt.UTC)
    placed = woo_sample_order(730, [("A-1", 2)], at=now - dt.timedelta(minutes=5))
    body = dumps(placed)
    post("woo", body, woo_headers(body))
    assert level("A-1", "WH").reserved == 2
    woo.orders = {
        730: {
            **placed,
            "status": "cancelled",
            "date_modified_gmt": now.replace(tzinfo=None, microsecond=0).isoformat(),
        }
    }  # order.updated (cancelled) was lost

    orders_poll(channel=Channel.objects.get(code="woo"))

    assert level("A-1", "WH").reserved == 0
    assert ChannelOrder.objects.get(channel__code="woo").status == "cancelled"


def test_a_channel_that_cannot_be_reached_keeps_its_cursor_and_says_why(woo, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_WOO_CONSUMER_SECRET", "wrong")
    result = orders_poll(channel=Channel.objects.get(code="woo"))
    assert "HTTP 401" in result.error
    poll = OrderPoll.objects.get(channel__code="woo")
    assert poll.cursor is None and "HTTP 401" in poll.error


def test_a_listed_order_that_cannot_be_read_is_kept_in_the_inbox_with_why(woo):
    broken = woo_sample_order(731, [("A-1", 1)])
    broken["line_items"][0]["quantity"] = "lots"
    woo.orders = {731: broken}
    result = orders_poll(channel=Channel.objects.get(code="woo"))
    assert (result.found, result.stored, result.failed) == (1, 1, 1)
    row = WebhookDelivery.objects.get(source="poll")
    assert row.processed_at is None and "quantity 'lots'" in row.error
    assert json.loads(bytes(row.body))["id"] == 731


def test_poll_orders_command_prints_what_each_channel_found(woo, capsys):
    woo.orders = {732: woo_sample_order(732, [("B-2", 1)])}
    call_command("poll_orders", "--channel", "woo")
    out = capsys.readouterr().out
    assert "woo: 1 listed, 1 new, 1 order(s) received" in out
