"""The Finance page, /finance/: customer returns (orders) and vendors' credit notes
(inventory) side by side, each with its CSV export. It lives in orders, the lowest layer that
may read both. For those who keep the money documents (inventory.add_creditnote: Finance,
Admin, Superadmin)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from ims.views import csv_download
from inventory.selectors.vendor_returns import (
    CREDIT_NOTE_COLUMNS,
    credit_note_list,
    credit_note_rows,
)
from orders.models import CustomerReturn

PAGE_SIZE = 50
FINANCE = "inventory.add_creditnote"


def customer_return_list(*, q: str = "") -> QuerySet[CustomerReturn]:
    """Customer returns, newest first, with their units (held in quarantine on arrival)."""
    returns = CustomerReturn.objects.select_related("order", "location").prefetch_related(
        "lines__product"
    )
    if q:
        matching = CustomerReturn.objects.filter(lines__product__sku__istartswith=q)
        returns = returns.filter(pk__in=matching.values("pk"))
    return returns.annotate(units=Coalesce(Sum("lines__quantity"), 0)).order_by(
        "-created_at", "-pk"
    )


CUSTOMER_RETURN_COLUMNS = ["return", "order", "skus", "units", "location", "state", "received_at"]


def customer_return_rows(returns: QuerySet[CustomerReturn]):
    for cr in returns:
        yield [
            cr.external_id,
            cr.order.external_id,
            ";".join(f"{line.product.sku}x{line.quantity}" for line in cr.lines.all()),
            cr.units,
            cr.location.code,
            cr.get_status_display(),
            cr.created_at.isoformat(),
        ]


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def finance_page(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    returns = Paginator(customer_return_list(q=q), PAGE_SIZE).get_page(request.GET.get("rpage"))
    notes = Paginator(credit_note_list(q=q), PAGE_SIZE).get_page(request.GET.get("npage"))
    return render(request, "finance/index.html", {"q": q, "returns": returns, "notes": notes})


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def customer_returns_export(request: HttpRequest):
    returns = customer_return_list(q=request.GET.get("q", "").strip())
    name = f"customer-returns-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(CUSTOMER_RETURN_COLUMNS, customer_return_rows(returns), name)


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def credit_notes_export(request: HttpRequest):
    notes = credit_note_list(q=request.GET.get("q", "").strip())
    name = f"credit-notes-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(CREDIT_NOTE_COLUMNS, credit_note_rows(notes), name)


app_name = "finance"
urlpatterns = [
    path("", finance_page, name="index"),
    path("customer-returns.csv", customer_returns_export, name="customer_returns_export"),
    path("credit-notes.csv", credit_notes_export, name="credit_notes_export"),
]
