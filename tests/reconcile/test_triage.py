"""The triage pages: tabs with counts, filters, search, sort, keyset pages, acknowledge, CSV export."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from exceptions.models import OpsException
from exceptions.selectors import exception_page
from ims.models import AuditEvent
from ims.roles import Role

pytestmark = pytest.mark.django_db


def make_exceptions(count, *, discrepancy="Price_Mismatch", channel=None, start=None, sku="SKU"):
    start = start or dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return OpsException.objects.bulk_create(
        OpsException(
            sku_id=f"{sku}-{i:04d}",
            discrepancy=discrepancy,
            channel=channel,
            expected="10.00",
            actual="9.00",
            exposure=Decimal(i % 7) + Decimal("0.50"),
            currency="USD",
            source="reconcile",
            first_seen=start + dt.timedelta(minutes=i),
            last_seen=start + dt.timedelta(minutes=i),
        )
        for i in range(count)
    )


@pytest.fixture
def ops(client, user_with_role):
    client.force_login(user_with_role(Role.OPS, "olivia"))
    return client


def shown_skus(response):
    html = response.content.decode()
    return [part.split('"')[0] for part in html.split('data-sku="')[1:]]


def test_keyset_pages_walk_every_row_once_in_exposure_order_and_back(world):
    make_exceptions(120)
    seen, cursor, pages = [], "", 0
    queryset = OpsException.objects.all()
    while True:
        page = exception_page(queryset=queryset, cursor=cursor, size=50)
        seen += page.rows
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 3 and len(seen) == 120 and len({e.pk for e in seen}) == 120
    assert [e.exposure for e in seen] == sorted((e.exposure for e in seen), reverse=True)
    last = exception_page(queryset=queryset, cursor=cursor, size=50)
    back = exception_page(queryset=queryset, cursor=last.previous_cursor, size=50)
    assert [e.pk for e in back.rows] == [e.pk for e in seen[50:100]]


def test_age_sort_shows_the_oldest_first(world):
    make_exceptions(5)
    page = exception_page(queryset=OpsException.objects.all(), sort="age")
    assert [e.sku_id for e in page.rows] == [f"SKU-{i:04d}" for i in range(5)]


def test_a_tab_lists_its_discrepancy_and_the_tabs_count_under_the_filters(world, ops):
    from channels.models import Channel

    shop, market = Channel.objects.get(code="shop"), Channel.objects.get(code="market")
    make_exceptions(3, channel=shop)
    make_exceptions(2, channel=market, sku="MKT")
    make_exceptions(4, discrepancy="Stock_Mismatch", channel=shop, sku="STK")
    response = ops.get("/exceptions/?discrepancy=Price_Mismatch&channel=shop")
    assert sorted(shown_skus(response)) == ["SKU-0000", "SKU-0001", "SKU-0002"]
    counts = ops.get("/exceptions/counts/?channel=shop&discrepancy=Price_Mismatch").content.decode()
    assert 'data-count="Price_Mismatch">3<' in counts and 'data-count="Stock_Mismatch">4<' in counts


def test_search_finds_by_sku_prefix_product_name_and_any_form_of_the_barcode(world, ops):
    from catalog.models import Product

    shirt, mug = Product.objects.get(sku="A-1"), Product.objects.get(sku="B-2")
    for product in (shirt, mug):
        OpsException.objects.create(
            sku_id=product.sku,
            product=product,
            discrepancy="Missing_SKU",
            source="reconcile",
            first_seen=dt.datetime.now(dt.UTC),
            last_seen=dt.datetime.now(dt.UTC),
        )
    tab = "/exceptions/?discrepancy=Missing_SKU&q="
    assert shown_skus(ops.get(tab + "A-")) == ["A-1"]
    assert shown_skus(ops.get(tab + "mug")) == ["B-2"]
    assert shown_skus(ops.get(tab + "0036000291452")) == ["B-2"]  # EAN-13 of the UPC-A held
    assert "Nothing to triage here" in ops.get(tab + "nothing-like-this").content.decode()


def test_filters_by_exposure_range_first_seen_and_status(world, ops):
    make_exceptions(14)
    base = "/exceptions/?discrepancy=Price_Mismatch"
    exposures = {
        Decimal(e.split()[0])
        for e in _cells(
            ops.get(base + "&exposure_min=5&exposure_max=6"), 'num" data-label="Exposure'
        )
    }
    assert exposures == {Decimal("5.50")}
    assert (
        len(shown_skus(ops.get(base + "&first_seen_from=2026-11-01&first_seen_to=2026-11-01")))
        == 14
    )
    assert shown_skus(ops.get(base + "&first_seen_from=2026-11-02")) == []
    OpsException.objects.filter(sku_id="SKU-0003").update(status="acknowledged")
    assert shown_skus(ops.get(base + "&status=acknowledged")) == ["SKU-0003"]
    assert "SKU-0003" in shown_skus(ops.get(base))  # acknowledged still counts as open


def _cells(response, css_class):
    html = response.content.decode()
    return [part.split("<")[0] for part in html.split(f'<td class="{css_class}">')[1:]]


def test_acknowledging_needs_a_reason_and_records_who_and_when(world, ops):
    first, second = make_exceptions(2)
    ops.post("/exceptions/acknowledge/", {"ids": [first.pk], "reason": ""})
    first.refresh_from_db()
    assert first.status == "open"
    ops.post(
        "/exceptions/acknowledge/",
        {"ids": [first.pk, second.pk], "reason": "supplier delay, fixed Monday"},
    )
    first.refresh_from_db()
    assert (first.status, first.acknowledged_by.username, first.acknowledge_reason) == (
        "acknowledged",
        "olivia",
        "supplier delay, fixed Monday",
    )
    events = AuditEvent.objects.filter(action="exception_acknowledge")
    assert events.count() == 2 and {e.actor_name for e in events} == {"olivia"}
    assert events.first().origin.startswith("web ")


def test_the_htmx_acknowledge_answers_with_the_refreshed_results(world, ops):
    exception = make_exceptions(1)[0]
    response = ops.post(
        "/exceptions/acknowledge/",
        {"ids": [exception.pk], "reason": "known", "query": "discrepancy=Price_Mismatch"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="results",
    )
    html = response.content.decode()
    # One results section (it replaces the page's own, never nests in it); the message and
    # the export link ride out of band to their places outside it.
    assert html.count('<section id="results"') == 1
    messages = html[html.index('id="messages"') : html.index("</div>")]
    assert 'hx-swap-oob="true"' in messages and "Acknowledged 1 exception." in messages
    assert 'id="export"' in html and "by olivia" in html


def test_a_store_user_cannot_acknowledge_and_the_refusal_is_recorded(world, client, user_with_role):
    exception = make_exceptions(1)[0]
    client.force_login(user_with_role(Role.STORE_STAFF, "sam"))
    response = client.post("/exceptions/acknowledge/", {"ids": [exception.pk], "reason": "x"})
    assert response.status_code == 403
    exception.refresh_from_db()
    assert exception.status == "open"
    assert AuditEvent.objects.filter(action="access_denied", actor_name="sam").exists()


def test_the_csv_export_holds_every_row_of_the_current_filter(world, ops):
    from channels.models import Channel

    make_exceptions(60, channel=Channel.objects.get(code="shop"))
    make_exceptions(5, discrepancy="Stock_Mismatch", sku="STK")
    response = ops.get("/exceptions/export.csv?discrepancy=Price_Mismatch&channel=shop")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["sku_id", "channel", "discrepancy", "expected", "actual", "status"]
    assert len(rows) == 61 and {r[1] for r in rows[1:]} == {"shop"}
    assert response["Content-Disposition"].startswith('attachment; filename="exceptions-')


def test_an_empty_tab_says_so_clearly(world, ops):
    html = ops.get("/exceptions/?discrepancy=Leakage").content.decode()
    assert "Nothing to triage here" in html and "Every channel agrees with IMS on this." in html
