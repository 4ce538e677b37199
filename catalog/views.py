"""Pricing pages (HQ price change, price rules, the Superadmin's price governance view) and the
Superadmin's audit trail (filter, an object's history, CSV export of the current filter)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog.errors import ApprovalNotPending, PriceChangeInvalid, PriceRuleBroken
from catalog.forms import PriceChangeForm, PriceRuleForm, ReasonForm
from catalog.models import Category, Price, Product
from catalog.selectors import (
    known_channel_codes,
    price_history,
    price_rule_rows,
    prices_pending_approval,
)
from catalog.services.price_rules import price_rule_update
from catalog.services.prices import price_approve, price_change, price_reject
from exceptions.models import Discrepancy
from exceptions.selectors import open_exceptions
from ims.audit_api import audit_denied, may_read_audit
from ims.audit_csv import AUDIT_COLUMNS, audit_rows
from ims.audit_display import event_currency, field_changes, object_type_label, words
from ims.errors import NotAllowed
from ims.filters import AuditTrailFilter
from ims.models import AuditEvent, OpsTask, TaskStatus
from ims.money import money
from ims.views import csv_download

AUDIT_PAGE_SIZE = 50


# ---------------------------------------------------------------------------
# HQ price change


@login_required
@permission_required("catalog.add_price", raise_exception=True)
def price_change_page(request):
    """Pricing (HQ), Admin and Superadmin set an offer price (and MRP) with a date and a reason."""
    form = PriceChangeForm(request.POST or None, initial={"sku": request.GET.get("sku", "")})
    sku = (request.POST or request.GET).get("sku", "").strip()
    unreadable = "\x00" in sku  # no SKU has one, and PostgreSQL cannot even compare it
    if unreadable and not form.is_bound:  # a bound form says it on its sku field
        messages.error(request, "sku: Null characters are not allowed.")
    product = (
        Product.objects.select_related("category").filter(sku=sku).first()
        if sku and not unreadable
        else None
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if product is None:
            form.add_error("sku", f"unknown SKU '{data['sku']}'")
        else:
            try:
                price = price_change(
                    product=product,
                    offer=data["offer"],
                    mrp=data["mrp"],
                    effective_date=data["effective_date"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except PriceRuleBroken as exc:
                form.add_error(None, f"Refused by the price rule {exc.message}")
            except PriceChangeInvalid as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                amount = money(price.amount, price.currency)
                if price.status == "pending_approval":
                    text = f"{product.sku}: {amount} waits for a Superadmin's approval."
                elif price.scheduled:
                    text = (
                        f"{product.sku}: {amount} scheduled from {price.effective_from:%Y-%m-%d}."
                    )
                else:
                    text = f"{product.sku}: {amount} is in force."
                messages.success(request, text)
                return HttpResponseRedirect(f"{reverse('pricing:change')}?sku={product.sku}")
    context = {
        "form": form,
        "product": product,
        "history": price_history(product=product) if product else [],
    }
    return render(request, "catalog/price_change.html", context, status=400 if unreadable else 200)


# ---------------------------------------------------------------------------
# Price rules


@login_required
@permission_required("catalog.change_category", raise_exception=True)
def price_rules_page(request):
    """Admins and Superadmins edit each category's rules (and the default `*`)."""
    failed = None
    if request.method == "POST":
        instance = Category.objects.filter(pk=request.POST.get("category_id") or None).first()
        failed = PriceRuleForm(
            request.POST,
            instance=instance,
            auto_id=f"id_c{instance.pk}_%s" if instance else "id_%s",
            form_id=f"rule-{instance.pk}" if instance else None,
        )
        if instance is not None:
            failed.data = failed.data.copy()
            failed.data["name"] = instance.name
        if failed.is_valid():
            data = failed.cleaned_data
            category = price_rule_update(
                name=data["name"],
                max_discount_pct=data["max_discount_pct"],
                min_margin_pct=data["min_margin_pct"],
                luxury=data["luxury"],
                excluded_channels=data["excluded_channels"],
                known_channels=known_channel_codes(),
                actor=request.user,
                reason=data["reason"],
            )
            messages.success(request, f"Price rules of {category.name} saved.")
            return HttpResponseRedirect(reverse("pricing:rules"))
    rows = []
    for row in price_rule_rows():
        form = PriceRuleForm(
            instance=row.category,
            auto_id=f"id_c{row.category.pk}_%s",
            form_id=f"rule-{row.category.pk}",
        )
        if failed is not None and failed.instance.pk == row.category.pk:
            form = failed
        rows.append((row, form))
    new_form = failed if failed is not None and not failed.instance.pk else PriceRuleForm()
    return render(request, "catalog/price_rules.html", {"rows": rows, "new_form": new_form})


# ---------------------------------------------------------------------------
# Price governance (Superadmin)


@login_required
@permission_required("catalog.approve_price", raise_exception=True)
def governance_page(request):
    """Open price-rule violations, changes waiting for approval, open audit tasks, drifting channels."""
    violations = (
        open_exceptions()
        .filter(discrepancy=Discrepancy.PRICE_RULE_VIOLATION)
        .select_related("channel", "product")
        .order_by("first_seen", "pk")
    )
    tasks = OpsTask.objects.filter(
        status=TaskStatus.OPEN,
        kind__in=["price_rule_violation", "price_approval", "channel_drift"],
    ).order_by("-created_at", "-pk")
    context = {
        "violations": violations[:200],
        "violation_count": violations.count(),
        "pending": prices_pending_approval(),
        "tasks": tasks[:200],
        "drifting": [t for t in tasks if t.kind == "channel_drift"],
    }
    return render(request, "catalog/governance.html", context)


@login_required
@require_POST
def approval_decide(request, pk: int, decision: str):
    price = get_object_or_404(Price, pk=pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    try:
        if decision == "approve":
            price_approve(price=price, actor=request.user, note=reason)
            messages.success(request, f"{price.product.sku}: {price.amount:f} approved.")
        else:
            price_reject(price=price, actor=request.user, reason=reason)
            messages.success(request, f"{price.product.sku}: {price.amount} refused.")
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except (PriceRuleBroken, PriceChangeInvalid, ApprovalNotPending) as exc:
        messages.error(request, f"{price.product.sku}: {exc.message}")
    return HttpResponseRedirect(reverse("pricing:governance"))


# ---------------------------------------------------------------------------
# The audit trail (Superadmin)


def _audit_allowed(request) -> None:
    if not may_read_audit(request.user):
        audit_denied(user=request.user, path=request.path)
        raise PermissionDenied("only a Superadmin may read the audit trail")


@dataclass(frozen=True)
class AuditRow:
    """An event as the page shows it: its object and action in words, before/after as rows."""

    event: AuditEvent
    object_label: str
    action_label: str
    changes: list


def _audit_rows(events) -> list[AuditRow]:
    """The page's events, each with its currency: the one the event names, else its product's
    (one query for the page)."""
    events = list(events)
    product_ids = {
        int(e.object_id)
        for e in events
        if e.object_type == "catalog.product" and e.object_id.isdigit()
    }
    currencies = {
        str(pk): currency
        for pk, currency in Product.objects.filter(pk__in=product_ids).values_list("pk", "currency")
    }
    return [
        AuditRow(
            event=e,
            object_label=object_type_label(e.object_type),
            action_label=words(e.action),
            changes=field_changes(
                e,
                currency=event_currency(
                    e,
                    currencies.get(e.object_id, "") if e.object_type == "catalog.product" else "",
                ),
            ),
        )
        for e in events
    ]


def _audit_problems(form) -> list[str]:
    """Each filter the trail could not read, under the name the form shows it by."""
    return [
        f"{form.fields[name].label if name in form.fields else name}: {message}"
        for name, messages in form.errors.items()
        for message in messages
    ]


@login_required
def audit_page(request, object_type: str | None = None, object_id: str | None = None):
    """The audit trail, newest first, filtered (SKU, user, object type, action, time); or one
    object's whole history. Filters it cannot read are named above the table (400)."""
    _audit_allowed(request)
    base = AuditEvent.objects.all()
    if object_type is not None:
        base = base.filter(object_type=object_type, object_id=object_id)
    filtered = AuditTrailFilter(request.GET, queryset=base)
    valid = filtered.is_valid()
    events = filtered.qs.order_by("-at", "-id") if valid else base.none()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    if object_type is not None:
        query["object_type"], query["object_id"] = object_type, object_id
    context = {
        "filter": filtered,
        "problems": [] if valid else _audit_problems(filtered.form),
        "page": page,
        "rows": _audit_rows(page.object_list),
        "query": query.urlencode(),
        "object_type": object_type,
        "object_label": object_type_label(object_type) if object_type else "",
        "object_id": object_id,
        "object_repr": next(
            iter(base.exclude(object_repr="").values_list("object_repr", flat=True)[:1]), ""
        )
        if object_type
        else "",
    }
    return render(request, "audit/list.html", context, status=200 if valid else 400)


@login_required
def audit_export(request):
    """The events of the current filter as CSV (the columns of `manage.py export audit`); a
    filter it cannot read is answered 400 naming it, not an empty file."""
    _audit_allowed(request)
    filtered = AuditTrailFilter(request.GET, queryset=AuditEvent.objects.all())
    if not filtered.is_valid():
        problems = "; ".join(_audit_problems(filtered.form))
        return HttpResponse(
            f"Check the filters: {problems}\n", status=400, content_type="text/plain"
        )
    return csv_download(AUDIT_COLUMNS, audit_rows(filtered.qs), "audit.csv")
