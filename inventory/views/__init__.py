"""Stock pages: the quarantine (units customers sent back, released to available or written
off, a quantity and a reason each) and receiving a supplier's delivery. Forms parse, the stock
services (inventory.services.stock) decide, check the role and audit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Product
from ims.csvio import INT_MAX
from ims.errors import ApplicationError
from ims.views import csv_download, form_errors_from, list_page, query_without
from inventory.models import Location, StockLevel
from inventory.selectors import (
    QUARANTINE_COLUMNS,
    quarantine_rows,
    quarantined_levels,
    quarantined_totals,
)
from inventory.services.stock import stock_quarantine_release, stock_receive, stock_write_off

PAGE_SIZE = 50


def sku_location_search(request: HttpRequest) -> dict[str, str]:
    """The stock lists' search (quarantine, transfers): a SKU prefix and a location code."""
    return {
        "q": request.GET.get("q", "").strip(),
        "location": request.GET.get("location", "").strip(),
    }


@login_required
@permission_required("inventory.view_stocklevel", raise_exception=True)
@require_GET
def quarantine_list(request: HttpRequest) -> HttpResponse:
    search = sku_location_search(request)
    keep = getattr(request, "kept_level", None)
    levels = quarantined_levels(sku=search["q"], location=search["location"], keep=keep)
    page = Paginator(levels, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **search,
        "page": page,
        "totals": quarantined_totals(
            quarantined_levels(sku=search["q"], location=search["location"])
        ),
        "locations": Location.objects.values_list("code", flat=True),
        "query": query_without(request, "page"),
        "here": request.GET.urlencode(),  # after an action: the same page again
        "can_act": request.user.has_perm("orders.release_quarantine"),
        "acted": keep,
    }
    return list_page(request, "stock/quarantine.html", context)


@login_required
@permission_required("inventory.view_stocklevel", raise_exception=True)
@require_GET
def quarantine_export(request: HttpRequest):
    """Every quarantined row under the current search (not just the page), as CSV."""
    search = sku_location_search(request)
    levels = quarantined_levels(sku=search["q"], location=search["location"])
    name = f"quarantine-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(QUARANTINE_COLUMNS, quarantine_rows(levels), name)


class QuarantineActionForm(forms.Form):
    level = forms.IntegerField(min_value=1, max_value=INT_MAX)
    quantity = forms.IntegerField(min_value=1, max_value=INT_MAX)
    reason = forms.CharField(max_length=255)


def _quarantine_action(request: HttpRequest, act, done: str) -> HttpResponse:
    """Release or write off: the row's units with a reason; then the list again (the htmx
    fragment, or the page the form came from) with the row acted on kept in view."""
    form = QuarantineActionForm(request.POST)
    level = None
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, f"Nothing changed. Check {problems}")
    else:
        data = form.cleaned_data
        level = get_object_or_404(
            StockLevel.objects.select_related("product", "location"), pk=data["level"]
        )
        try:
            act(
                product_id=level.product_id,
                location_id=level.location_id,
                quantity=data["quantity"],
                actor=request.user,
                reason=data["reason"],
            )
        except ApplicationError as exc:
            messages.error(request, f"{level.product.sku} at {level.location.code}: {exc.message}")
        else:
            units = data["quantity"]
            messages.success(
                request,
                f"{done} {units} unit{'s' if units != 1 else ''} of {level.product.sku} "
                f"at {level.location.code}.",
            )
    query = request.POST.get("query", "")
    if request.htmx:
        request.GET = QueryDict(query)
        request.method = "GET"
        request.kept_level = level.pk if level else None
        return quarantine_list(request)
    return redirect(f"{reverse('stock:quarantine')}?{query}")


@login_required
@permission_required("orders.release_quarantine", raise_exception=True)
@require_POST
def quarantine_release(request: HttpRequest) -> HttpResponse:
    return _quarantine_action(request, stock_quarantine_release, "Released to available")


@login_required
@permission_required("orders.release_quarantine", raise_exception=True)
@require_POST
def quarantine_write_off(request: HttpRequest) -> HttpResponse:
    return _quarantine_action(request, stock_write_off, "Wrote off as damaged")


class ProductSkuForm(forms.Form):
    """A stock form naming a product by its `sku` field: the product is `form.product`."""

    def clean_sku(self):
        sku = self.cleaned_data["sku"].strip()
        self.product = Product.objects.filter(sku=sku).first()
        if self.product is None:
            raise forms.ValidationError(f"No product with SKU {sku}.")
        return sku


class ReceiveForm(ProductSkuForm):
    sku = forms.CharField(label="SKU", max_length=64)
    location = forms.ModelChoiceField(
        queryset=Location.objects.all(), to_field_name="code", empty_label=None
    )
    quantity = forms.IntegerField(min_value=1, max_value=INT_MAX)
    reference = forms.CharField(
        label="Reference (delivery note or purchase order)",
        max_length=56,
        help_text="Recorded as receipt:<reference> on the movement.",
    )
    note = forms.CharField(label="Note", max_length=255, required=False)


@login_required
@permission_required("inventory.receive_stock", raise_exception=True)
def stock_receive_page(request: HttpRequest) -> HttpResponse:
    """Receive a delivery: N units of a SKU into available at a location, then the product's
    page with its new level."""
    form = ReceiveForm(request.POST or None, initial={"sku": request.GET.get("sku", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            stock_receive(
                product_id=form.product.pk,
                location_id=data["location"].pk,
                quantity=data["quantity"],
                reference=data["reference"],
                note=data["note"],
                actor=request.user,
            )
        except ApplicationError as exc:
            form_errors_from(form, exc)
        else:
            units = data["quantity"]
            messages.success(
                request,
                f"Received {units} unit{'s' if units != 1 else ''} of {form.product.sku} at "
                f"{data['location'].code} ({data['reference']}).",
            )
            return redirect("products:detail", sku=form.product.sku)
    return render(request, "stock/receive.html", {"form": form})
