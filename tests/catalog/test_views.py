"""The pricing pages: HQ price change, price rules, the Superadmin's governance view."""

from decimal import Decimal

import pytest

from catalog.models import Category, Price, PriceStatus, Product
from ims.models import AuditEvent
from ims.roles import Role

pytestmark = pytest.mark.django_db


def test_pricing_sets_a_price_on_the_page_and_the_request_is_the_origin(
    world, client, user_with_role
):
    client.force_login(user_with_role(Role.PRICING, "priya"))
    response = client.post(
        "/pricing/change/", {"sku": "A-1", "offer": "29.00", "reason": "competitor"}
    )
    assert response.status_code == 302
    assert Product.objects.get(sku="A-1").price == Decimal("29.00")
    event = AuditEvent.objects.get(action="price_change")
    assert event.origin.startswith("web ") and event.origin.endswith("POST /pricing/change/")
    page = client.get(response["Location"]).content.decode()
    assert "A-1: 29.00 is in force." in page
    assert 'data-figure="price">29.00 USD<' in page  # one money formatter


def test_a_refused_change_shows_the_rule_and_writes_nothing(world, client, user_with_role):
    client.force_login(user_with_role(Role.PRICING, "priya"))
    prices = Price.objects.count()
    response = client.post("/pricing/change/", {"sku": "A-1", "offer": "40.01", "reason": "oops"})
    assert response.status_code == 200
    assert "Refused by the price rule above_mrp: offer 40.01 is above the MRP 40.00" in (
        response.content.decode()
    )
    assert Price.objects.count() == prices
    unknown = client.post("/pricing/change/", {"sku": "Z-9", "offer": "1", "reason": "x"})
    assert "unknown SKU" in unknown.content.decode()


@pytest.mark.parametrize(
    "role, change, rules, governance",
    [
        (Role.OPS, 403, 403, 403),
        (Role.CATALOG_MANAGER, 403, 403, 403),
        (Role.PRICING, 200, 403, 403),
        (Role.ADMIN, 200, 200, 403),
        (Role.SUPERADMIN, 200, 200, 200),
    ],
)
def test_who_may_open_which_pricing_page(
    world, client, user_with_role, role, change, rules, governance
):
    client.force_login(user_with_role(role))
    assert client.get("/pricing/change/").status_code == change
    assert client.get("/pricing/rules/").status_code == rules
    assert client.get("/pricing/governance/").status_code == governance


def test_an_admin_edits_a_categorys_rules_on_the_page(world, client, user_with_role):
    client.force_login(user_with_role(Role.ADMIN, "adam"))
    watches = Category.objects.get(name="watches")
    response = client.post(
        "/pricing/rules/",
        {
            "category_id": watches.pk,
            "name": "watches",
            "max_discount_pct": "8",
            "min_margin_pct": "",
            "luxury": "true",
            "excluded_channels": "market;shop",
            "reason": "tighter for the holidays",
        },
    )
    assert response.status_code == 302
    watches.refresh_from_db()
    assert (watches.max_discount_pct, watches.excluded_channels) == (Decimal(8), ["market", "shop"])
    assert AuditEvent.objects.get(action="price_rule_update").reason == "tighter for the holidays"
    bad = client.post(
        "/pricing/rules/",
        {"category_id": watches.pk, "name": "watches", "max_discount_pct": "120"},
    )
    assert bad.status_code == 200 and "a percentage from 0 to 100" in bad.content.decode()
    watches.refresh_from_db()
    assert watches.max_discount_pct == Decimal(8)


def test_a_superadmin_approves_and_refuses_luxury_changes_on_the_governance_page(
    world, client, user_with_role, ingest
):
    pricing = user_with_role(Role.PRICING, "priya")
    client.force_login(pricing)
    client.post("/pricing/change/", {"sku": "W-3", "offer": "470.00", "reason": "season"})
    client.post("/pricing/change/", {"sku": "W-3", "offer": "460.00", "reason": "other"})
    first, second = Price.objects.filter(status=PriceStatus.PENDING).order_by("pk")
    ingest("prices", "sku_id,currency,price\nB-2,USD,12.00\n")  # an ERP price kept out

    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    page = client.get("/pricing/governance/").content.decode()
    assert f'data-price="{first.pk}"' in page and f'data-price="{second.pk}"' in page
    assert "above_mrp" in page and "Price 12.00 USD for B-2 breaks above_mrp" in page

    client.post(f"/pricing/approvals/{first.pk}/approve/", {"reason": "fine"})
    client.post(f"/pricing/approvals/{second.pk}/reject/", {"reason": "too low"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (PriceStatus.ACCEPTED, PriceStatus.REJECTED)
    assert Product.objects.get(sku="W-3").price == Decimal("470.00")
    again = client.post(f"/pricing/approvals/{first.pk}/approve/", follow=True)
    assert "not waiting for approval" in again.content.decode()


def test_only_a_superadmin_may_decide_an_approval(world, client, user_with_role):
    pricing = user_with_role(Role.PRICING, "priya")
    client.force_login(pricing)
    client.post("/pricing/change/", {"sku": "W-3", "offer": "470.00", "reason": "season"})
    price = Price.objects.get(status=PriceStatus.PENDING)
    client.force_login(user_with_role(Role.ADMIN, "adam"))
    assert client.post(f"/pricing/approvals/{price.pk}/approve/").status_code == 403
    price.refresh_from_db()
    assert price.status == PriceStatus.PENDING
