"""Products entered by a person (catalog managers, admins, superadmins); their first offer
price goes through the rules, their later prices through catalog.services.prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from catalog.errors import ProductRefused
from catalog.gtin import gtin14
from catalog.models import Category, Price, PriceSource, PriceStatus, Product, ProductStatus, Style
from catalog.rules import price_rule_check
from catalog.services.prices import Policies, approval_requested, prices_refresh
from ims.audit import audit_record, snapshot
from ims.identifiers import identifier_problem
from ims.permissions import require

PRODUCT_FIELDS = (
    "name",
    "barcode",
    "category",
    "uom",
    "cost",
    "mrp",
    "currency",
    "status",
    "style",
    "attributes",
)


# MRP and offer price belong to Pricing (HQ): they change through price_change.
EDITABLE_FIELDS = tuple(name for name in PRODUCT_FIELDS if name != "mrp")


def _check_product(*, barcode: str, exclude_pk=None) -> str:
    """The barcode's GTIN-14, refusing a bad check digit or a GTIN another product holds."""
    try:
        gtin = gtin14(barcode)
    except ValueError as exc:
        raise ProductRefused(str(exc), extra={"fields": {"barcode": [str(exc)]}}) from None
    holder = (
        Product.objects.filter(gtin=gtin)
        .exclude(pk=exclude_pk)
        .values_list("sku", flat=True)
        .first()
    )
    if holder:
        message = f"GTIN already belongs to SKU {holder}"
        raise ProductRefused(message, extra={"fields": {"barcode": [message]}})
    return gtin


@transaction.atomic
def product_create(
    *,
    sku: str,
    name: str,
    barcode: str,
    category: Category,
    uom: str,
    cost: Decimal,
    mrp: Decimal,
    price: Decimal,
    currency: str,
    status: str = ProductStatus.ACTIVE,
    style: Style | None = None,
    attributes: dict | None = None,
    actor,
) -> Product:
    """Create a product in IMS (never from a channel). Its first offer price goes through the rules;
    in a luxury category it waits for a superadmin's approval."""
    require(actor, "catalog.add_product", "create a product", person_only=True)
    problem = identifier_problem(sku)
    if problem:
        raise ProductRefused(f"SKU {problem}", extra={"fields": {"sku": [problem]}})
    if Product.objects.filter(sku=sku).exists():
        raise ProductRefused(
            f"SKU {sku} already exists", extra={"fields": {"sku": ["already exists"]}}
        )
    gtin = _check_product(barcode=barcode)
    policy = Policies().of(category)
    rule = price_rule_check(offer=price, mrp=mrp, cost=cost, policy=policy)
    if rule:
        message = f"the offer price {price} {currency} breaks {rule}"
        raise ProductRefused(
            message, code="price_rule", extra={"rule": rule, "fields": {"price": [message]}}
        )
    now = dt.datetime.now(dt.UTC)
    product = Product.objects.create(
        sku=sku,
        name=name,
        barcode=barcode,
        gtin=gtin,
        category=category,
        uom=uom,
        cost=cost,
        mrp=mrp,
        currency=currency,
        status=status,
        style=style,
        attributes=attributes or {},
    )
    first_price = Price.objects.create(
        product=product,
        amount=price,
        currency=currency,
        effective_from=now,
        source=PriceSource.HQ,
        status=PriceStatus.PENDING if policy.luxury else PriceStatus.ACCEPTED,
        created_by=actor,
        reason="initial price",
    )
    if policy.luxury:
        approval_requested(price=first_price, actor=actor, now=now)
    prices_refresh(now=now)
    product.refresh_from_db()
    audit_record(
        actor=actor,
        action="product_create",
        obj=product,
        after=snapshot(product, (*PRODUCT_FIELDS, "price")),
        at=now,
    )
    return product


@transaction.atomic
def product_update(*, product: Product, actor, reason: str = "", **changes) -> Product:
    """Edit a product's master data (prices change through price_change, not here)."""
    require(actor, "catalog.change_product", "edit a product", person_only=True)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ProductRefused(
            f"cannot change {', '.join(sorted(unknown))} here (MRP and prices are set by Pricing)"
        )
    locked = Product.objects.select_for_update().get(pk=product.pk)
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    before = snapshot(locked, changed)
    if "barcode" in changed:
        locked.gtin = _check_product(barcode=changes["barcode"], exclude_pk=locked.pk)
        changed.append("gtin")
    for name in changed:
        if name != "gtin":
            setattr(locked, name, changes[name])
    locked.save()
    audit_record(
        actor=actor,
        action="product_update",
        obj=locked,
        before=before,
        after=snapshot(locked, [n for n in changed if n != "gtin"]),
        reason=reason,
    )
    return locked
