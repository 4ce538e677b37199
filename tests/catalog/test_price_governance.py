"""HQ price authority: changes by Pricing/Admin/Superadmin with a reason and an effective date,
refused with the rule named, luxury changes approved by a Superadmin, scheduled ones applied
when due; every change in the audit trail."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.errors import ApprovalNotPending, PriceChangeInvalid, PriceRuleBroken
from catalog.models import Category, Price, PriceStatus, Product
from catalog.selectors import prices_breaking_rules, prices_pending_approval
from catalog.services.price_rules import price_rule_update
from catalog.services.prices import price_approve, price_change, price_reject, prices_refresh
from catalog.tasks import prices_refresh_task
from exceptions.models import OpsException
from exceptions.selectors import price_sync_blocked
from ims.errors import NotAllowed
from ims.models import AuditEvent, OpsTask
from ims.roles import Role

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def pricing(user_with_role):
    return user_with_role(Role.PRICING, "priya")


@pytest.fixture
def superadmin(user_with_role):
    return user_with_role(Role.SUPERADMIN, "sam")


@pytest.fixture
def margin_bound(world, ingest):
    """C-5: cost 30, MRP 40 under the default rules (10 % margin: floor 33.00; 50 % cap: 20.00)."""
    ingest(
        "catalog",
        """
        sku_id,name,barcode,category,uom,cost,mrp,price,currency
        C-5,Jacket,96385074,apparel,EA,30.00,40.00,35.00,USD
    """,
        name="margin.csv",
    )
    return Product.objects.get(sku="C-5")


def left_behind():
    return Price.objects.count(), AuditEvent.objects.count(), OpsTask.objects.count()


@pytest.mark.parametrize(
    "sku, offer, rule",
    [
        ("A-1", "40.00", None),  # offer = MRP
        ("A-1", "40.01", "above_mrp"),  # one cent above MRP
        ("A-1", "20.00", None),  # discount exactly at the 50 % cap
        ("A-1", "19.99", "max_discount"),  # one cent beyond it
        ("C-5", "33.00", None),  # cost × 1.10 exactly
        ("C-5", "32.99", "min_margin"),  # one cent under the margin floor
        ("W-3", "450.00", None),  # luxury: exactly at its 10 % cap (waits for approval)
        ("W-3", "449.99", "max_discount"),  # luxury: one cent beyond its cap
        ("W-3", "500.01", "above_mrp"),
    ],
)
def test_each_rule_at_its_boundary_and_one_cent_beyond(
    margin_bound, pricing, now, sku, offer, rule
):
    product = Product.objects.get(sku=sku)
    before = left_behind()
    if rule is None:
        price = price_change(
            product=product, offer=D(offer), reason="season", actor=pricing, now=now
        )
        assert price.amount == D(offer)
        return
    with pytest.raises(PriceRuleBroken) as refused:
        price_change(product=product, offer=D(offer), reason="season", actor=pricing, now=now)
    assert refused.value.rule == rule
    assert refused.value.message.startswith(f"{rule}: ")
    assert refused.value.extra["rule"] == rule
    assert left_behind() == before  # nothing written
    assert Product.objects.get(sku=sku).price == product.price


def test_the_refusal_explains_the_figures(world, pricing, now):
    with pytest.raises(PriceRuleBroken) as refused:
        price_change(
            product=Product.objects.get(sku="W-3"),
            offer=D("449.99"),
            reason="x",
            actor=pricing,
            now=now,
        )
    assert refused.value.message == (
        "max_discount: discount 10.00 % from MRP 500.00 is beyond the luxury category's cap of 10 %"
    )


def test_a_new_mrp_is_checked_with_the_offer(world, pricing, now):
    product = Product.objects.get(sku="A-1")
    with pytest.raises(PriceRuleBroken) as refused:
        price_change(product=product, offer=D("30.00"), mrp=D("29.99"), reason="x", actor=pricing)
    assert refused.value.rule == "above_mrp"
    price_change(
        product=product, offer=D("30.00"), mrp=D("60.00"), reason="new MRP", actor=pricing, now=now
    )
    product.refresh_from_db()
    assert (product.mrp, product.price) == (D("60.00"), D("30.00"))


@pytest.mark.parametrize("role", [Role.PRICING, Role.ADMIN, Role.SUPERADMIN])
def test_pricing_admins_and_superadmins_set_prices_in_force_at_once(
    world, user_with_role, now, role
):
    actor = user_with_role(role)
    product = Product.objects.get(sku="A-1")
    price = price_change(
        product=product, offer=D("28.00"), reason="match competitor", actor=actor, now=now
    )
    product.refresh_from_db()
    assert product.price == D("28.00")
    assert (price.status, price.scheduled, price.created_by) == (PriceStatus.ACCEPTED, False, actor)
    event = AuditEvent.objects.get(action="price_change")
    assert (event.actor, event.object_type, event.object_id, event.reason) == (
        actor,
        "catalog.product",
        str(product.pk),
        "match competitor",
    )
    assert event.before == {"price": "30.0000", "mrp": "40.0000"}
    assert (event.after["offered"], event.after["price"]) == ("28.00", "28.0000")


@pytest.mark.parametrize("role", [Role.OPS, Role.CATALOG_MANAGER, Role.STORE_STAFF, Role.FINANCE])
def test_nobody_else_may_set_a_price(world, user_with_role, now, role):
    before = left_behind()
    with pytest.raises(NotAllowed):
        price_change(
            product=Product.objects.get(sku="A-1"),
            offer=D("28.00"),
            reason="x",
            actor=user_with_role(role),
            now=now,
        )
    assert left_behind() == before


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"reason": "  "}, "reason"),
        ({"offer": D("28.001")}, "offer"),
        ({"offer": D("-1")}, "offer"),
        ({"effective_date": dt.date(2026, 11, 21)}, "effective_date"),
    ],
)
def test_a_change_needs_a_reason_a_valid_amount_and_no_past_date(
    world, pricing, now, changes, field
):
    before = left_behind()
    args = {"offer": D("28.00"), "reason": "ok", **changes}
    with pytest.raises(PriceChangeInvalid) as refused:
        price_change(product=Product.objects.get(sku="A-1"), actor=pricing, now=now, **args)
    assert refused.value.field == field
    assert left_behind() == before


def test_a_future_change_is_scheduled_and_applied_by_the_background_task_when_due(
    world, pricing, now
):
    product = Product.objects.get(sku="A-1")
    price = price_change(
        product=product,
        offer=D("35.00"),
        mrp=D("45.00"),
        effective_date=dt.date(2026, 12, 1),
        reason="December list",
        actor=pricing,
        now=now,
    )
    product.refresh_from_db()
    assert (product.price, product.mrp, price.scheduled) == (D("30.00"), D("40.00"), True)
    assert (
        AuditEvent.objects.get(action="price_schedule")
        .after["effective_from"]
        .startswith("2026-12-01T00:00:00")
    )
    prices_refresh(now=dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC))
    product.refresh_from_db()
    assert (product.price, product.mrp) == (D("30.00"), D("40.00"))
    assert not AuditEvent.objects.filter(action="price_apply").exists()

    prices_refresh(now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    product.refresh_from_db()
    assert (product.price, product.mrp) == (D("35.00"), D("45.00"))
    applied = AuditEvent.objects.get(action="price_apply")
    assert (applied.actor_name, applied.object_id) == ("system", str(product.pk))
    assert applied.before == {"price": "30.0000", "mrp": "40.0000"}
    assert (applied.after["price"], applied.after["mrp"]) == ("35.0000", "45.0000")
    price.refresh_from_db()
    assert price.scheduled is False
    prices_refresh(now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))  # applied once, recorded once
    assert AuditEvent.objects.filter(action="price_apply").count() == 1


def test_the_schedule_task_applies_prices_that_came_due(world, pricing):
    from django.utils import timezone

    product = Product.objects.get(sku="B-2")
    Price.objects.create(
        product=product,
        amount=D("9.00"),
        currency="USD",
        effective_from=timezone.now() - dt.timedelta(minutes=1),
        source="hq",
        scheduled=True,
        created_by=pricing,
    )
    prices_refresh_task()
    product.refresh_from_db()
    assert product.price == D("9.00")
    assert AuditEvent.objects.filter(action="price_apply", object_id=str(product.pk)).exists()


def test_a_scheduled_price_that_breaks_a_rule_tightened_meanwhile_is_kept_out(
    world, pricing, user_with_role, now
):
    product = Product.objects.get(sku="A-1")
    price_change(
        product=product,
        offer=D("22.00"),
        effective_date=dt.date(2026, 12, 1),
        reason="sale",
        actor=pricing,
        now=now,
    )
    price_rule_update(
        name="*",
        max_discount_pct=D(30),
        min_margin_pct=D(10),
        luxury=False,
        excluded_channels=None,
        known_channels={"shop", "market"},
        actor=user_with_role(Role.ADMIN),
        reason="tighter",
        now=now,
    )
    prices_refresh(now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    product.refresh_from_db()
    assert product.price == D("30.00")  # the old price stays in force
    assert Price.objects.get(amount=D("22.00")).rule == "max_discount"
    violation = OpsException.objects.get(discrepancy="Price_Rule_Violation")
    assert (violation.sku_id, violation.expected, violation.actual) == (
        "A-1",
        "max_discount",
        "22.00",
    )
    assert price_sync_blocked() == {product.pk}
    assert AuditEvent.objects.filter(action="price_kept_out", object_id=str(product.pk)).exists()
    assert OpsTask.objects.get(kind="price_rule_violation").ref == f"product:{product.pk}"


def test_a_luxury_change_waits_for_a_superadmin_and_then_takes_effect(
    world, pricing, superadmin, now
):
    watch = Product.objects.get(sku="W-3")
    price = price_change(
        product=watch, offer=D("470.00"), reason="new season", actor=pricing, now=now
    )
    watch.refresh_from_db()
    assert (price.status, watch.price) == (PriceStatus.PENDING, D("480.00"))
    assert list(prices_pending_approval()) == [price]
    task = OpsTask.objects.get(kind="price_approval")
    assert (task.ref, task.role, task.status) == (f"price:{price.pk}", "Superadmin", "open")
    assert superadmin.notifications.filter(kind="price_approval").exists()

    later = now + dt.timedelta(hours=1)
    price_approve(price=price, actor=superadmin, note="ok", now=later)
    watch.refresh_from_db()
    price.refresh_from_db()
    assert (price.status, price.decided_by, watch.price) == (
        PriceStatus.ACCEPTED,
        superadmin,
        D("470.00"),
    )
    assert price.effective_from == later  # in force from the approval, not from the request
    task.refresh_from_db()
    assert task.status == "done"
    assert [e.action for e in AuditEvent.objects.filter(object_id=str(watch.pk)).order_by("id")][
        -2:
    ] == ["price_change_request", "price_approve"]
    with pytest.raises(ApprovalNotPending):
        price_approve(price=price, actor=superadmin, now=later)


def test_only_another_superadmin_approves_and_a_refused_change_never_takes_effect(
    world, pricing, superadmin, user_with_role, now
):
    watch = Product.objects.get(sku="W-3")
    price = price_change(product=watch, offer=D("460.00"), reason="x", actor=superadmin, now=now)
    with pytest.raises(NotAllowed):
        price_approve(price=price, actor=superadmin, now=now)  # not one's own
    with pytest.raises(NotAllowed):
        price_approve(price=price, actor=user_with_role(Role.ADMIN), now=now)
    price_reject(price=price, actor=user_with_role(Role.SUPERADMIN, "other"), reason="too low")
    price.refresh_from_db()
    watch.refresh_from_db()
    assert (price.status, watch.price) == (PriceStatus.REJECTED, D("480.00"))
    assert AuditEvent.objects.get(action="price_reject").reason == "too low"
    assert not OpsTask.objects.filter(kind="price_approval", status="open").exists()


def test_an_approval_is_checked_against_the_rules_in_force_then(
    world, pricing, superadmin, user_with_role, now
):
    price = price_change(
        product=Product.objects.get(sku="W-3"), offer=D("455.00"), reason="x", actor=pricing
    )
    price_rule_update(
        name="watches",
        max_discount_pct=D(5),
        min_margin_pct=None,
        luxury=True,
        excluded_channels=["market"],
        known_channels={"shop", "market"},
        actor=user_with_role(Role.ADMIN),
        now=now,
    )
    with pytest.raises(PriceRuleBroken) as refused:
        price_approve(price=price, actor=superadmin, now=now)
    assert refused.value.rule == "max_discount"
    price.refresh_from_db()
    assert price.status == PriceStatus.PENDING


def test_a_valid_hq_price_resolves_the_violation_an_erp_price_raised(world, ingest, pricing, now):
    ingest("prices", "sku_id,currency,price\nA-1,USD,41.00\n")
    product = Product.objects.get(sku="A-1")
    assert price_sync_blocked() == {product.pk}
    task = OpsTask.objects.get(kind="price_rule_violation")
    assert task.status == "open" and task.role == "Pricing (HQ)"
    price_change(product=product, offer=D("29.00"), reason="fix", actor=pricing, now=now)
    assert price_sync_blocked() == set()
    assert OpsException.objects.get().status == "resolved"
    task.refresh_from_db()
    assert task.status == "done"


def test_price_rules_are_edited_by_admins_and_a_tightened_rule_blocks_prices_breaking_it(
    world, user_with_role, now
):
    rules = {
        "name": "home",
        "max_discount_pct": D(10),
        "min_margin_pct": None,
        "luxury": None,
        "excluded_channels": None,
        "known_channels": {"shop", "market"},
        "now": now,
    }
    with pytest.raises(NotAllowed):
        price_rule_update(actor=user_with_role(Role.PRICING), **rules)
    admin = user_with_role(Role.ADMIN)
    price_rule_update(actor=admin, reason="mugs sell at list", **rules)
    home = Category.objects.get(name="home")
    assert home.max_discount_pct == D(10)
    event = AuditEvent.objects.get(action="price_rule_update", object_id=str(home.pk))
    assert (event.before["max_discount_pct"], event.after["max_discount_pct"]) == (None, "10")
    assert event.reason == "mugs sell at list"
    mug = Product.objects.get(sku="B-2")  # 8.00 of 10.00: a 20 % discount, beyond 10 %
    assert [(k.sku, k.rule) for k in prices_breaking_rules()] == [("B-2", "max_discount")]
    assert price_sync_blocked() == {mug.pk}
    assert OpsException.objects.get().expected == "max_discount"


def test_an_unknown_channel_or_a_bad_percentage_is_refused(world, user_with_role):
    from catalog.errors import PriceRuleInvalid

    admin = user_with_role(Role.ADMIN)
    for changes, field in (
        ({"excluded_channels": ["nowhere"]}, "excluded_channels"),
        ({"max_discount_pct": D("100.01")}, "max_discount_pct"),
    ):
        args = {
            "name": "watches",
            "max_discount_pct": D(10),
            "min_margin_pct": None,
            "luxury": True,
            "excluded_channels": ["market"],
            **changes,
        }
        with pytest.raises(PriceRuleInvalid) as refused:
            price_rule_update(actor=admin, known_channels={"shop", "market"}, **args)
        assert refused.value.field == field
    assert Category.objects.get(name="watches").max_discount_pct == D(10)
