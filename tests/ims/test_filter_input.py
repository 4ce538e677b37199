"""Filter input from the address bar: whatever a person or a script puts in a filter, the API
answers a 400 naming the field and the pages show the filter's problem with a 400, never a
server error. PostgreSQL refuses some input SQLite takes (a NUL in a compared text, a time
zone offset beyond ±15:59), so CI runs these on PostgreSQL."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ims.roles import Role

pytestmark = pytest.mark.django_db

NUL = "a\x00b"


@pytest.fixture
def api(world, user_with_role):
    client = APIClient()
    token = Token.objects.create(user=user_with_role(Role.SUPERADMIN, "filter-root"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def browser_client(world, user_with_role, client):
    client.force_login(user_with_role(Role.SUPERADMIN, "filter-page-root"))
    return client


@pytest.mark.parametrize(
    ("field", "value"), [("before", "2026-13-01"), ("since", "yesterday"), ("action", NUL)]
)
def test_a_bad_audit_filter_is_a_400_naming_the_field(api, field, value):
    response = api.get("/api/audit/", {field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and list(body["extra"]["fields"]) == [field]


@pytest.mark.parametrize(
    ("field", "value", "found"),
    [
        ("before", "2026-01-01 17:28+17:28", []),  # an offset PostgreSQL refuses
        ("since", "2026-01-01 17:28-17:28", ["probe"]),
        ("since", "9999-12-31T23:59-23:59", []),  # after any time in UTC: the last there is
        ("before", "0001-01-01T00:00+01:00", []),  # before any time in UTC: the first there is
        ("since", "0001-01-01T00:00+01:00", ["probe"]),
    ],
)
def test_any_iso_time_filters_the_audit_trail_as_the_instant_it_names_in_utc(
    api, field, value, found
):
    from ims.audit import audit_record

    audit_record(actor=None, action="probe", object_type="ims.probe", object_repr="probe")
    response = api.get("/api/audit/", {field: value, "action": "probe"})
    assert response.status_code == 200
    assert [e["action"] for e in response.json()["results"]] == found


@pytest.mark.parametrize(
    ("url", "field", "value"),
    [
        ("/api/products/", "category", NUL),
        ("/api/products/", "status", "\x00"),
        ("/api/exceptions/", "category", NUL),
        ("/api/exceptions/", "status", "\x00"),
        ("/api/exceptions/", "first_seen_to", "9999-12-31"),
        ("/api/exceptions/", "exposure_min", "NaN"),
        ("/api/listings/", "channel", NUL),
        ("/api/stock-levels/", "location", NUL),
        ("/api/orders/", "status", NUL),
    ],
)
def test_a_bad_api_filter_is_a_400_naming_the_field(api, url, field, value):
    response = api.get(url, {field: value})
    if field == "first_seen_to":  # the last day there is: no upper bound, not an error
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


@pytest.mark.parametrize(
    ("url", "field", "value", "shown"),
    [
        ("/products/", "category", NUL, "Null characters are not allowed"),
        ("/products/", "q", NUL, "Null characters are not allowed"),
        ("/products/", "status", "gone", "Select a valid choice"),
        ("/channels/runs/", "channel", "not a slug", "Select a valid choice"),
        ("/channels/runs/", "channel", "%", "Select a valid choice"),
        ("/channels/runs/", "status", "\x00", "Select a valid choice"),
        ("/sla/", "days", "many", "Enter a whole number"),
        ("/sla/", "channel", NUL, "Null characters are not allowed"),
        ("/audit/", "before", "2026-13-01", "Enter a valid date/time"),
        ("/exceptions/", "category", NUL, "Null characters are not allowed"),
    ],
)
def test_a_bad_page_filter_shows_the_problem_with_a_400(browser_client, url, field, value, shown):
    response = browser_client.get(url, {field: value})
    assert response.status_code == 400
    assert shown in response.content.decode()


def test_a_sync_run_is_listed_by_a_channel_and_a_state_that_exist(browser_client):
    from django.utils import timezone

    from channels.models import Channel, SyncRun

    now = timezone.now()
    run = SyncRun.objects.create(
        channel=Channel.objects.get(code="shop"), mode="push", started_at=now, heartbeat_at=now
    )
    response = browser_client.get("/channels/runs/", {"channel": "shop", "status": "running"})
    assert response.status_code == 200 and f"#{run.pk}".encode() in response.content
    detail = browser_client.get(f"/channels/runs/{run.pk}/", {"state": NUL})
    assert detail.status_code == 400


def _cursor(*values) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("after", "2026-01-01T00:00:00+23:59", 1),  # an offset PostgreSQL refuses
        _cursor("after", "2026-01-01T00:00:00", 1),  # no offset at all
        _cursor("after", "9999-12-31T23:59:59-23:59", 1),  # past the last time in UTC
        "not a cursor\x00",
    ],
)
def test_a_forged_cursor_gives_the_first_page(api, browser_client, cursor):
    assert api.get("/api/exceptions/", {"sort": "age", "cursor": cursor}).status_code == 200
    page = browser_client.get("/exceptions/", {"sort": "age", "cursor": cursor})
    assert page.status_code == 200


def test_an_unknown_sort_is_a_400_naming_it(api):
    response = api.get("/api/exceptions/", {"sort": "cheapest"})
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["sort"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_price_change_for_a_sku_with_a_nul_says_so(browser_client, method):
    response = getattr(browser_client, method)("/pricing/change/", {"sku": NUL})
    assert response.status_code == 400
    assert "Null characters are not allowed" in response.content.decode()
