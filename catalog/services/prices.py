"""The price in force, and HQ's price changes (Pricing, Admin, Superadmin) with their
approval. Every change is checked against the category's rules (catalog.rules) and recorded in
the audit trail."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.errors import ApprovalNotPending, PriceChangeInvalid, PriceRuleBroken
from catalog.governance import KeptOut, price_violations_raise
from catalog.models import Category, Price, PriceSource, PriceStatus, Product
from catalog.rules import PricePolicy, explain, policy_of, price_rule_check
from ims.audit import Change, audit_record, audit_record_many
from ims.errors import NotAllowed
from ims.models import OpsTask, TaskStatus
from ims.money import money, quantum
from ims.notify import notify_roles
from ims.permissions import require
from ims.roles import Role
from ims.services import ops_task_close, ops_task_open


def prices_refresh(*, now: dt.datetime, product_ids: list[int] | None = None) -> int:
    """Set every product's offer price to the one in force at `now`; return how many changed.

    Scheduled prices that became due are applied first (their MRP too), checked against the
    rules in force now, and recorded in the audit trail (scheduled_prices_apply).

    Two set-based statements (PostgreSQL and SQLite alike): rank each product's accepted
    prices by start (latest first, then the later-ingested) and take the first; clear the
    price of a product with none in force. `product_ids` limits both to those products.
    """
    due = scheduled_prices_apply(now=now, product_ids=product_ids)
    changed = _prices_in_force(now=now, product_ids=product_ids)
    if due:
        _record_applied(due, now)
    return changed


def _prices_in_force(*, now: dt.datetime, product_ids: list[int] | None) -> int:
    products, prices = Product._meta.db_table, Price._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    scope = ""
    if product_ids is not None:
        scope = f" AND {products}.id IN ({', '.join(str(int(pk)) for pk in product_ids) or 'NULL'})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {products} SET price = ranked.amount
            FROM (
                SELECT product_id, amount, ROW_NUMBER() OVER (
                    PARTITION BY product_id ORDER BY effective_from DESC, id DESC
                ) AS position
                FROM {prices} WHERE status = %s AND effective_from <= %s
            ) ranked
            WHERE ranked.position = 1 AND ranked.product_id = {products}.id
              AND ({products}.price IS NULL OR {products}.price <> ranked.amount){scope}
            """,
            [PriceStatus.ACCEPTED, at],
        )
        changed = cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {products} SET price = NULL
            WHERE price IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {prices} p
                WHERE p.product_id = {products}.id AND p.status = %s AND p.effective_from <= %s
            ){scope}
            """,
            [PriceStatus.ACCEPTED, at],
        )
        return changed + cursor.rowcount


@dataclass
class _Due:
    """Scheduled prices of one product that came due, and the product's figures before."""

    product: Product
    prices: list[Price]
    before: dict


def scheduled_prices_apply(*, now: dt.datetime, product_ids: list[int] | None = None) -> list[_Due]:
    """Bring in the scheduled prices whose start has come: each is checked against the rules
    in force now (one that breaks a rule is kept out, raising a Price_Rule_Violation and an
    audit task), the MRP it carries becomes the product's, and it stops being scheduled."""
    queryset = Price.objects.filter(
        scheduled=True, status=PriceStatus.ACCEPTED, effective_from__lte=now
    )
    if product_ids is not None:
        queryset = queryset.filter(product_id__in=product_ids)
    due_prices = list(
        queryset.select_related("product", "product__category").order_by(
            "product_id", "effective_from", "id"
        )
    )
    if not due_prices:
        return []
    policies = Policies()
    by_product: dict[int, _Due] = {}
    kept_out: list[KeptOut] = []
    for price in due_prices:
        product = price.product
        due = by_product.setdefault(
            product.id, _Due(product, [], {"price": product.price, "mrp": product.mrp})
        )
        mrp = price.mrp if price.mrp is not None else product.mrp
        rule = price_rule_check(
            offer=price.amount, mrp=mrp, cost=product.cost, policy=policies.of(product.category)
        )
        price.scheduled = False
        if rule:
            price.status, price.rule = PriceStatus.REJECTED, rule
            kept_out.append(KeptOut(product.id, product.sku, rule, price.amount, price.currency))
        elif price.mrp is not None:
            product.mrp = price.mrp
        due.prices.append(price)
    Price.objects.bulk_update(due_prices, ["scheduled", "status", "rule"], batch_size=1000)
    Product.objects.bulk_update([d.product for d in by_product.values()], ["mrp"], batch_size=1000)
    if kept_out:
        price_violations_raise(kept_out=kept_out, cleared=(), now=now)
    return list(by_product.values())


def _record_applied(due: list[_Due], now: dt.datetime) -> None:
    after = {
        pk: {"price": price, "mrp": mrp}
        for pk, price, mrp in Product.objects.filter(
            pk__in=[d.product.id for d in due]
        ).values_list("pk", "price", "mrp")
    }
    audit_record_many(
        actor=None,
        at=now,
        changes=[
            Change(
                "price_apply" if price.status == PriceStatus.ACCEPTED else "price_kept_out",
                d.product,
                before=d.before,
                after={
                    **after[d.product.id],
                    "price_id": price.pk,
                    "offered": price.amount,
                    "effective_from": price.effective_from,
                    "status": price.status,
                },
                reason=(
                    f"scheduled {price.source} price from {price.effective_from:%Y-%m-%d %H:%M} UTC"
                    + (f" breaks {price.rule}" if price.rule else " is in force")
                ),
            )
            for d in due
            for price in d.prices
        ],
    )


def business_day_start(day: dt.date) -> dt.datetime:
    """The instant a date begins in the business time zone."""
    tz = zoneinfo.ZoneInfo(settings.IMS_BUSINESS_TZ)
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)


class Policies:
    """Category policies, looked up lazily and kept for one ingest or price change."""

    def __init__(self):
        self._default = Category.objects.filter(name=Category.DEFAULT).first()
        self._cache: dict[int, PricePolicy] = {}

    def of(self, category: Category) -> PricePolicy:
        if category.id not in self._cache:
            self._cache[category.id] = policy_of(category, self._default)
        return self._cache[category.id]


APPROVAL_TASK = "price_approval"


def _entered_amount(value, currency: str, field: str) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise PriceChangeInvalid(f"{field}: '{value}' is not an amount", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise PriceChangeInvalid(f"{field}: {value} is not an amount of 0 or more", field=field)
    if amount != amount.quantize(quantum(currency)):
        raise PriceChangeInvalid(
            f"{field}: {value} has more decimals than {currency} allows", field=field
        )
    return amount


def _business_today(now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(settings.IMS_BUSINESS_TZ)).date()


def _refuse_if_broken(
    *, product: Product, offer: Decimal, mrp: Decimal, policy: PricePolicy
) -> None:
    rule = price_rule_check(offer=offer, mrp=mrp, cost=product.cost, policy=policy)
    if rule:
        raise PriceRuleBroken(
            rule=rule,
            explanation=explain(
                rule,
                offer=offer,
                mrp=mrp,
                cost=product.cost,
                policy=policy,
                currency=product.currency,
            ),
            sku=product.sku,
            offer=money(offer, product.currency),
            mrp=money(mrp, product.currency),
        )


def _price_figures(product: Product) -> dict:
    return {"price": product.price, "mrp": product.mrp}


def _bring_in_force(*, product: Product, price: Price, now: dt.datetime) -> None:
    """A change in force from now: its MRP becomes the product's and the price in force follows
    (`product` shows both after)."""
    if price.mrp is not None and price.mrp != product.mrp:
        product.mrp = price.mrp
        product.save(update_fields=["mrp", "updated_at"])
    prices_refresh(now=now, product_ids=[product.id])
    product.refresh_from_db(fields=["price", "mrp"])


@transaction.atomic
def price_change(
    *,
    product: Product,
    offer: Decimal,
    mrp: Decimal | None = None,
    effective_date: dt.date | None = None,
    reason: str,
    actor,
    now: dt.datetime | None = None,
) -> Price:
    """HQ sets a product's offer price (and optionally its MRP), from now or from a later date.

    Refused with the rule named (PriceRuleBroken) when it breaks a price rule; nothing is
    written then. A change for a luxury category waits for a Superadmin's approval
    (pending_approval); any other is accepted: in force at once, or scheduled for the start of
    its effective date (prices_refresh brings it in). A valid change resolves the SKU's open
    Price_Rule_Violation. Recorded in the audit trail with before, after and the reason.
    """
    now = now or timezone.now()
    require(actor, "catalog.add_price", "change a price", person_only=True)
    reason = (reason or "").strip()
    if not reason:
        raise PriceChangeInvalid("reason: a reason is required", field="reason")
    product = Product.objects.select_for_update().select_related("category").get(pk=product.pk)
    offer = _entered_amount(offer, product.currency, "offer")
    if mrp is not None:
        mrp = _entered_amount(mrp, product.currency, "mrp")
    today = _business_today(now)
    if effective_date is not None and effective_date < today:
        raise PriceChangeInvalid(
            f"effective_date: {effective_date} is in the past (today is {today})",
            field="effective_date",
        )
    later = effective_date is not None and effective_date > today
    policy = Policies().of(product.category)
    new_mrp = mrp if mrp is not None else product.mrp
    _refuse_if_broken(product=product, offer=offer, mrp=new_mrp, policy=policy)
    needs_approval = policy.luxury
    price = Price.objects.create(
        product=product,
        amount=offer,
        mrp=mrp,
        currency=product.currency,
        effective_from=business_day_start(effective_date) if later else now,
        effective_date=effective_date,
        source=PriceSource.HQ,
        status=PriceStatus.PENDING if needs_approval else PriceStatus.ACCEPTED,
        reason=reason[:255],
        created_by=actor,
        scheduled=later and not needs_approval,
    )
    before = _price_figures(product)
    asked = {
        "price_id": price.pk,
        "offered": offer,
        "mrp": new_mrp,
        "effective_from": price.effective_from,
        "status": price.status,
    }
    if needs_approval:
        audit_record(
            actor=actor,
            action="price_change_request",
            obj=product,
            before=before,
            after=asked,
            reason=reason,
            at=now,
        )
        approval_requested(price=price, actor=actor, now=now)
        return price
    if not later:
        _bring_in_force(product=product, price=price, now=now)
    audit_record(
        actor=actor,
        action="price_schedule" if later else "price_change",
        obj=product,
        before=before,
        after={**asked, **({} if later else _price_figures(product))},
        reason=reason,
        at=now,
    )
    price_violations_raise(kept_out=(), cleared=[product.id], now=now)
    return price


def approval_requested(*, price: Price, actor, now: dt.datetime) -> None:
    product = price.product
    title = (
        f"Approve {money(price.amount, price.currency)} {price.currency} for {product.sku} "
        f"(luxury category {product.category.name})"
    )
    ops_task_open(
        kind=APPROVAL_TASK,
        title=title,
        ref=f"price:{price.pk}",
        detail=f"Asked by {actor.get_username()}: {price.reason}",
        role=Role.SUPERADMIN.value,
        now=now,
    )
    notify_roles(
        Role.SUPERADMIN,
        kind="price_approval",
        subject=title,
        body=f"Asked by {actor.get_username()}: {price.reason}",
        link="/pricing/governance/",
    )


def _pending(price: Price) -> Price:
    locked = (
        Price.objects.select_for_update()
        .select_related("product", "product__category")
        .get(pk=price.pk)
    )
    if locked.status != PriceStatus.PENDING:
        raise ApprovalNotPending(
            f"price #{locked.pk} for {locked.product.sku} is {locked.status}, not waiting for approval"
        )
    return locked


def _close_approval_task(*, price: Price, actor, resolution: str, now: dt.datetime) -> None:
    task = OpsTask.objects.filter(
        kind=APPROVAL_TASK, ref=f"price:{price.pk}", status=TaskStatus.OPEN
    ).first()
    if task:
        ops_task_close(task=task, actor=actor, resolution=resolution, now=now)


@transaction.atomic
def price_approve(*, price: Price, actor, note: str = "", now: dt.datetime | None = None) -> Price:
    """A Superadmin approves a change waiting for approval; it takes effect from then (or at its
    later effective date). Checked again against the rules in force now; refused if it breaks
    one. Whoever asked for a change cannot approve it."""
    now = now or timezone.now()
    require(actor, "catalog.approve_price", "approve a price change", person_only=True)
    price = _pending(price)
    if price.created_by_id == actor.pk:
        raise NotAllowed("a price change must be approved by someone other than who asked for it")
    product = (
        Product.objects.select_for_update().select_related("category").get(pk=price.product_id)
    )
    _refuse_if_broken(
        product=product,
        offer=price.amount,
        mrp=price.mrp if price.mrp is not None else product.mrp,
        policy=Policies().of(product.category),
    )
    before = _price_figures(product)
    later = price.effective_from > now
    price.status, price.decided_by, price.decided_at = PriceStatus.ACCEPTED, actor, now
    price.effective_from, price.scheduled = max(price.effective_from, now), later
    price.save(update_fields=["status", "decided_by", "decided_at", "effective_from", "scheduled"])
    if not later:
        _bring_in_force(product=product, price=price, now=now)
    audit_record(
        actor=actor,
        action="price_approve",
        obj=product,
        before={**before, "status": PriceStatus.PENDING},
        after={
            **_price_figures(product),
            "price_id": price.pk,
            "offered": price.amount,
            "effective_from": price.effective_from,
            "status": price.status,
        },
        reason=note or price.reason,
        at=now,
    )
    _close_approval_task(price=price, actor=actor, resolution=f"approved: {note}".strip(), now=now)
    price_violations_raise(kept_out=(), cleared=[product.id], now=now)
    return price


@transaction.atomic
def price_reject(*, price: Price, actor, reason: str, now: dt.datetime | None = None) -> Price:
    """A Superadmin refuses a change waiting for approval: it never takes effect."""
    now = now or timezone.now()
    require(actor, "catalog.approve_price", "refuse a price change", person_only=True)
    reason = (reason or "").strip()
    if not reason:
        raise PriceChangeInvalid("reason: a reason is required", field="reason")
    price = _pending(price)
    price.status, price.decided_by, price.decided_at = PriceStatus.REJECTED, actor, now
    price.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="price_reject",
        obj=price.product,
        before={"price_id": price.pk, "offered": price.amount, "status": PriceStatus.PENDING},
        after={"price_id": price.pk, "status": price.status},
        reason=reason,
        at=now,
    )
    _close_approval_task(price=price, actor=actor, resolution=f"refused: {reason}", now=now)
    return price
