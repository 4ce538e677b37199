"""The audit trail records every write path, only Superadmins read it (page, API, export), and
nobody changes it: not the admin, not the API, not (on PostgreSQL) raw SQL."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from catalog.models import Product
from ims.audit import audit_record
from ims.models import AuditEvent
from ims.roles import Role

pytestmark = pytest.mark.django_db


def actions(**filters) -> list[str]:
    return list(
        AuditEvent.objects.filter(**filters).order_by("id").values_list("action", flat=True)
    )


# ---------------------------------------------------------------------------
# What the ingests record


def test_a_catalog_ingest_records_products_created_and_the_fields_that_changed(world, ingest, now):
    shirt = Product.objects.get(sku="A-1")
    created = AuditEvent.objects.get(action="product_create", object_id=str(shirt.pk))
    assert created.after["sku"] == "A-1" and created.after["category"] == "apparel"
    assert created.origin == ""  # the test called the service directly (a command names itself)
    ingest(
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        A-1,Oxford shirt,4006381333931,apparel,EA,10.00,40.00,30.00,USD
        B-2,Mug,036000291452,home,EA,2.00,10.00,8.00,USD
        W-3,Watch,5012345678900,watches,EA,100.00,500.00,480.00,USD
    """,
        name="again.csv",
    )
    updated = AuditEvent.objects.get(action="product_update")
    assert (updated.object_id, updated.before, updated.after) == (
        str(shirt.pk),
        {"name": "Shirt"},
        {"name": "Oxford shirt"},
    )


def test_prices_from_a_file_are_recorded_accepted_scheduled_or_kept_out(world, ingest):
    ingest(
        "prices",
        """
        sku_id,currency,price,effective_date
        A-1,USD,29.00,
        A-1,USD,28.00,2026-12-01
        B-2,USD,11.00,
    """,
    )
    a1, b2 = Product.objects.get(sku="A-1"), Product.objects.get(sku="B-2")
    assert actions(object_type="catalog.product", object_id=str(a1.pk)) == [
        "product_create",
        "price_accept",  # the catalog's own price
        "price_accept",
        "price_schedule",
    ]
    kept = AuditEvent.objects.get(action="price_kept_out")
    assert (kept.object_id, kept.after["rule"], kept.before) == (
        str(b2.pk),
        "above_mrp",
        {"price": "8.0000"},
    )


def test_an_inventory_ingest_is_one_event_naming_its_movements_by_ref(world, ingest):
    from inventory.models import Movement

    run, _ = ingest("inventory", "sku_id,location,quantity\nA-1,WH,5\nB-2,WH,3\nA-1,NYC,2\n")
    event = AuditEvent.objects.get(action="stock_ingest")
    assert (event.object_type, event.object_id) == ("inventory.movement", f"ingest:{run.pk}")
    assert event.after["movements"] == Movement.objects.filter(ref=f"ingest:{run.pk}").count() == 3


def test_channel_and_price_rule_changes_from_files_record_before_and_after(world, ingest):
    ingest(
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        shop,Shop,shopify,dry_run,WH,0,USD
        market,Market,amazon,read_only,WH,2,USD
    """,
        name="channels2.csv",
    )
    event = AuditEvent.objects.get(action="channel_update")
    assert (event.object_repr, event.before, event.after) == (
        "shop",
        {"sync_mode": "push", "locations": ["WH", "NYC"]},
        {"sync_mode": "dry_run", "locations": ["WH"]},
    )
    ingest(
        "price_rules",
        "category,max_discount_pct,min_margin_pct,luxury,excluded_channels\nwatches,5,,true,market\n",
        name="rules2.csv",
    )
    rule = AuditEvent.objects.get(action="price_rule_update")
    assert (rule.object_repr, rule.before["max_discount_pct"], rule.after["max_discount_pct"]) == (
        "watches",
        "10.00",
        "5",
    )


def test_a_command_names_itself_as_the_origin(world, csv_file):
    path = csv_file("sku_id,location,quantity\nA-1,WH,5\n")
    call_command("ingest", "inventory", str(path))
    assert AuditEvent.objects.get(action="stock_ingest").origin.startswith("command ingest")


# ---------------------------------------------------------------------------
# Who may read it


@pytest.mark.parametrize(
    "role",
    [Role.OPS, Role.PRICING, Role.CATALOG_MANAGER, Role.STORE_STAFF, Role.FINANCE, Role.ADMIN],
)
def test_everyone_but_a_superadmin_gets_403_on_the_page_export_and_api_and_is_recorded(
    client, user_with_role, role
):
    user = user_with_role(role, "nosy")
    client.force_login(user)
    for url in ("/audit/", "/audit/export.csv", "/api/audit/", "/audit/object/catalog.product/1/"):
        assert client.get(url).status_code == 403, url
    denied = AuditEvent.objects.filter(action="audit_view_denied", actor=user)
    assert denied.count() == 4
    assert {e.after["path"] for e in denied} == {
        "/audit/",
        "/audit/export.csv",
        "/api/audit/",
        "/audit/object/catalog.product/1/",
    }


def test_a_visitor_not_logged_in_is_sent_to_log_in(client):
    assert client.get("/audit/").status_code == 302
    assert client.get("/api/audit/").status_code == 401


@pytest.fixture
def trail(world, user_with_role):
    """A few events by two people at known times."""
    priya = user_with_role(Role.PRICING, "priya")
    base = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    shirt = Product.objects.get(sku="A-1")
    audit_record(actor=priya, action="price_change", obj=shirt, reason="r1", at=base)
    audit_record(
        actor=priya,
        action="price_change",
        obj=Product.objects.get(sku="B-2"),
        at=base + dt.timedelta(days=1),
    )
    audit_record(actor=None, action="price_apply", obj=shirt, at=base + dt.timedelta(days=2))
    return shirt


def test_a_superadmin_filters_by_actor_object_action_and_time(client, user_with_role, trail):
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    api = client.get(
        "/api/audit/",
        {"actor": "priya", "object_type": "catalog.product", "object_id": trail.pk},
    ).json()
    assert [(e["action"], e["reason"]) for e in api["results"]] == [("price_change", "r1")]
    timed = client.get(
        "/api/audit/",
        {"object_type": "catalog.product", "since": "2026-11-02", "before": "2026-11-03T12:00"},
    ).json()
    assert [e["action"] for e in timed["results"]] == ["price_apply", "price_change"]
    assert client.get("/api/audit/", {"action": "price_apply"}).json()["count"] == 1

    page = client.get("/audit/", {"actor": "priya"}).content.decode()
    assert 'data-figure="events">2<' in page
    history = client.get(f"/audit/object/catalog.product/{trail.pk}/").content.decode()
    assert "History of Product A-1" in history and 'data-figure="events">' in history
    assert history.count('data-action="price_') == 2 + history.count('data-action="price_accept"')


def test_the_api_is_read_only(client, user_with_role, trail):
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    event = AuditEvent.objects.first()
    assert client.post("/api/audit/", {"action": "x"}).status_code == 403
    assert client.delete(f"/api/audit/{event.pk}/").status_code == 403
    assert client.patch(f"/api/audit/{event.pk}/", {"reason": "x"}).status_code == 403
    assert client.get(f"/api/audit/{event.pk}/").json()["action"] == event.action
    event.refresh_from_db()
    assert event.reason == AuditEvent.objects.get(pk=event.pk).reason


def test_the_page_exports_the_current_filter_as_csv(client, user_with_role, trail):
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    response = client.get("/audit/export.csv", {"actor": "priya"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before",
        "after",
        "reason",
        "origin",
    ]
    assert [(r[1], r[2], r[5], r[8]) for r in rows[1:]] == [
        ("priya", "price_change", "A-1", "r1"),
        ("priya", "price_change", "B-2", ""),
    ]


def test_export_audit_writes_every_event_oldest_first(trail, tmp_path):
    out = tmp_path / "audit.csv"
    call_command("export", "audit", "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == AuditEvent.objects.count()
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    change = next(r for r in rows if r["action"] == "product_create")
    assert json.loads(change["after"])["sku"] in {"A-1", "B-2", "W-3"}


# ---------------------------------------------------------------------------
# Nobody changes it


def test_the_admin_shows_it_read_only_to_superadmins_only(client, user_with_role, trail):
    event = AuditEvent.objects.first()
    client.force_login(user_with_role(Role.ADMIN, "adam"))
    assert client.get("/admin/ims/auditevent/").status_code == 403
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    assert client.get("/admin/ims/auditevent/").status_code == 200
    detail = client.get(f"/admin/ims/auditevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # no form to save
    assert client.get("/admin/ims/auditevent/add/").status_code == 403
    assert (
        client.post(f"/admin/ims/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    client.post(f"/admin/ims/auditevent/{event.pk}/change/", {"reason": "rewritten"})
    assert AuditEvent.objects.get(pk=event.pk).reason == event.reason
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_raw_sql_cannot_update_or_delete_an_event_on_postgresql(trail):
    before = AuditEvent.objects.count()
    for sql in (
        "UPDATE ims_auditevent SET actor_name = 'someone else'",
        "DELETE FROM ims_auditevent WHERE action = 'price_change'",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.filter(actor_name="someone else").exists()


def test_role_changes_through_the_admin_are_recorded(client, user_with_role, django_user_model):
    from django.contrib.auth.models import Group

    sam = user_with_role(Role.SUPERADMIN, "sam")
    olga = user_with_role(Role.OPS, "olga")
    client.force_login(sam)
    form = client.get(f"/admin/auth/user/{olga.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "username": "olga",
            "groups": [Group.objects.get(name=Role.PRICING.value).pk],
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-11-22",
            "date_joined_1": "12:00:00",
            "user_permissions": [],
        }
    )
    response = client.post(f"/admin/auth/user/{olga.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="role_change")
    assert (event.actor, event.object_repr, event.before, event.after) == (
        sam,
        "olga",
        {"groups": ["Ops"]},
        {"groups": ["Pricing (HQ)"]},
    )
    assert event.origin.startswith("web ")
