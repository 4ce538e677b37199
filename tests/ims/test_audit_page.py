"""The audit trail page as a Superadmin reads it: filters by SKU, user, object type, action
and time (each refusing what it cannot read with a message, not a crash), the CSV export of
the same filter, "1–50 of N" with pages, and before/after as field → before → after rows with
money as money and no raw JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.services.prices import price_change
from ims.audit import audit_record
from ims.roles import Role

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def sam(client, world, user_with_role):
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    return client


@pytest.fixture
def priya(user_with_role):
    return user_with_role(Role.PRICING, "priya")


def shown(client, **query) -> str:
    response = client.get("/audit/", query)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content.decode()


def rows(html: str) -> list[str]:
    """Each event row's action (data-action), top to bottom."""
    return re.findall(r'<tr data-action="([^"]+)"', html)


def exported(client, **query) -> list[dict]:
    response = client.get("/audit/export.csv", query)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_sku_filter_finds_the_products_events_and_those_naming_it_and_no_other(sam, priya):
    shirt = Product.objects.get(sku="A-1")
    audit_record(actor=priya, action="probe_product", obj=shirt, at=AT)
    audit_record(
        actor=None,
        action="probe_drift",
        object_type="channels.channel",
        object_id="1",
        object_repr="shop",
        before={"sku_id": "A-1", "price": "30.00"},
        after={"sku_id": "A-1", "price": "28.00"},
        at=AT,
    )
    audit_record(
        actor=None,
        action="probe_level",
        object_type="inventory.stocklevel",
        object_repr="A-1@WH",
        at=AT,
    )
    audit_record(actor=None, action="probe_lines", object_type="x.y", after={"lines": {"A-1": 2}})
    # A SKU that only starts with A-1, and another product: not A-1's.
    audit_record(actor=None, action="probe_other", object_type="x.y", object_repr="A-10@WH")
    audit_record(actor=None, action="probe_other", object_type="x.y", after={"sku": "A-10"})
    audit_record(actor=priya, action="probe_other", obj=Product.objects.get(sku="B-2"))

    html = shown(sam, sku="A-1", action="")
    found = {a for a in rows(html) if a.startswith("probe_")}
    assert found == {"probe_product", "probe_drift", "probe_level", "probe_lines"}
    assert {r["action"] for r in exported(sam, sku="A-1")} >= found
    assert not any(r["action"] == "probe_other" for r in exported(sam, sku="A-1"))
    # A SKU IMS does not know is no error: nothing names it.
    assert rows(shown(sam, sku="NOPE-9")) == []


def test_the_user_filter_offers_the_people_in_the_trail_by_username(sam, priya, user_with_role):
    user_with_role(Role.OPS, "olga")  # never acted: not offered
    audit_record(actor=priya, action="probe_priya", object_type="x.y", at=AT)
    audit_record(actor=None, action="probe_system", object_type="x.y", at=AT)

    html = shown(sam)
    select = re.search(r'<select name="actor".*?</select>', html, re.S).group(0)
    assert '<option value="priya">priya</option>' in select
    assert 'value="system"' in select and "olga" not in select
    assert [a for a in rows(shown(sam, actor="priya")) if a.startswith("probe_")] == ["probe_priya"]
    assert "probe_priya" not in rows(shown(sam, actor="system"))
    assert [r["action"] for r in exported(sam, actor="priya")] == ["probe_priya"]

    response = sam.get("/audit/", {"actor": "olga"})
    assert response.status_code == 400
    assert "User: Select a valid choice. olga is not one of the available choices." in (
        response.content.decode()
    )


def test_the_object_type_filter_names_the_types_in_words(sam, priya):
    audit_record(
        actor=priya, action="probe_ack", object_type="exceptions.opsexception", object_id="7"
    )
    audit_record(actor=priya, action="probe_product", obj=Product.objects.get(sku="A-1"))

    html = shown(sam)
    assert '<option value="exceptions.opsexception">Ops exception</option>' in html
    assert '<option value="catalog.product">Product</option>' in html
    only = rows(shown(sam, object_type="exceptions.opsexception"))
    assert only == ["probe_ack"]
    assert "Ops exception 7" in shown(sam, object_type="exceptions.opsexception")

    response = sam.get("/audit/", {"object_type": "catalog.nothing"})
    assert response.status_code == 400
    assert "Object type: Select a valid choice." in response.content.decode()


def test_the_action_filter_offers_the_actions_in_the_trail(sam, priya):
    audit_record(actor=priya, action="probe_one", object_type="x.y")
    audit_record(actor=priya, action="probe_two", object_type="x.y")
    html = shown(sam)
    assert '<option value="probe_one">Probe one</option>' in html
    assert rows(shown(sam, action="probe_two")) == ["probe_two"]
    assert [r["action"] for r in exported(sam, action="probe_two")] == ["probe_two"]

    response = sam.get("/audit/", {"action": "never_done"})
    assert response.status_code == 400
    assert "Action: Select a valid choice." in response.content.decode()


def test_the_time_range_keeps_from_and_leaves_out_before(sam, priya):
    for day in (1, 2, 3):
        audit_record(
            actor=priya, action=f"probe_day{day}", object_type="x.y", at=AT.replace(day=day)
        )
    picked = rows(shown(sam, since="2026-11-02T10:00", before="2026-11-03T10:00"))
    assert [a for a in picked if a.startswith("probe_")] == ["probe_day2"]

    backwards = sam.get("/audit/", {"since": "2026-11-03", "before": "2026-11-02"})
    assert backwards.status_code == 400
    assert "Before (UTC): Must be later than From." in backwards.content.decode()
    garbled = sam.get("/audit/", {"since": "yesterday"})
    assert garbled.status_code == 400
    assert "From (UTC): Enter a valid date/time." in garbled.content.decode()


def test_the_export_refuses_a_filter_it_cannot_read_with_the_reason(sam):
    response = sam.get("/audit/export.csv", {"before": "2026-13-01"})
    assert response.status_code == 400
    assert response.content.decode() == (
        "Check the filters: Before (UTC): Enter a valid date/time.\n"
    )
    backwards = sam.get("/audit/export.csv", {"since": "2026-11-03", "before": "2026-11-02"})
    assert backwards.status_code == 400


def test_totals_read_1_50_of_n_and_the_pages_keep_the_filter(sam, priya):
    for n in range(55):
        audit_record(
            actor=priya, action="probe_many", object_type="x.y", at=AT + dt.timedelta(minutes=n)
        )
    first = shown(sam, action="probe_many")
    assert re.search(r'1–50 of <span data-figure="events">55</span> events', first)
    assert "action=probe_many&amp;page=2" in first
    second = shown(sam, action="probe_many", page=2)
    assert re.search(r'51–55 of <span data-figure="events">55</span> events', second)
    assert len(rows(second)) == 5


def test_a_price_change_reads_as_money_field_by_field_without_json(sam, priya):
    shirt = Product.objects.get(sku="A-1")
    price_change(
        product=shirt, offer=Decimal("49.99"), mrp=Decimal("60.00"), reason="up", actor=priya
    )
    price_change(product=shirt, offer=Decimal("54.99"), reason="up again", actor=priya)

    html = shown(sam, sku="A-1", action="price_change")
    assert rows(html) == ["price_change", "price_change"]
    newest = html[html.index('<tr data-action="price_change">') :]
    newest = newest[: newest.index("</table>")]
    assert re.search(
        r'<tr class="changed"><th scope="row">Price</th>'
        r'<td class="before">49.99 USD</td><td class="after">54.99 USD</td></tr>',
        newest,
    )
    assert (
        '<th scope="row">MRP</th><td class="before">60.00 USD</td><td class="after">60.00 USD'
        in (newest)
    )
    table = html[html.index('<table class="grid" id="events">') :]
    assert "49.9900" not in table and "{&quot;" not in table and '{"' not in table
    assert "Product A-1" in html and "Price change" in html


@pytest.mark.parametrize(
    ("key", "value", "currency", "text"),
    [
        ("price", "49.9900", "USD", "49.99 USD"),
        ("price", "49.9900", "", "49.99"),  # no currency in the event: the amount alone
        ("mrp", "1200.5", "JPY", "1,201 JPY"),  # to the currency's minor unit, thousands separated
        ("price", None, "USD", "—"),
        ("effective_from", "2026-12-04T09:30:00+01:00", "", "4 Dec 2026 08:30 UTC"),
        ("effective_date", "2026-12-04", "", "4 Dec 2026"),
        ("luxury", True, "", "yes"),
        ("locations", ["WH", "NYC"], "", "WH, NYC"),
        ("lines", {"A-1": 2}, "", "A-1: 2"),
        ("available", 5, "", "5"),
    ],
)
def test_a_before_or_after_value_reads_in_words(key, value, currency, text):
    from ims.audit_display import value_text

    assert value_text(key, value, currency) == text


def test_text_that_only_looks_like_a_time_is_shown_as_it_is():
    from ims.audit_display import value_text

    assert value_text("note", "2026-13-01") == "2026-13-01"
    assert value_text("note", "2026-02-30T10:00") == "2026-02-30T10:00"
    assert value_text("price", "not money", "USD") == "not money"
