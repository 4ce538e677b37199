"""/stock/pos-overrides/: store sales held because they need units reserved for online orders,
with what approving each would do (the units taken from reserved, the online orders that would
wait), Approve or Reject with a reason, tabs Held / Approved / Rejected / All, a store and SKU
search, 1–50 of N and a CSV export. Forms parse; pos_sale_approve and pos_sale_reject
(orders.services.pos) decide, check the role and audit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ims.errors import ApplicationError
from ims.views import csv_download, list_page, query_without
from inventory.models import Location
from orders.models import PosSale
from orders.pos_selectors import (
    HELD,
    POS_SALE_COLUMNS,
    TABS,
    pos_sale_counts,
    pos_sale_list,
    pos_sale_outlook,
    pos_sale_rows,
)
from orders.services.pos import pos_sale_approve, pos_sale_reject

PAGE_SIZE = 50


class DecisionForm(forms.Form):
    # The server says what is missing (a toast and beside the field), not the browser.
    use_required_attribute = False

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(max_length=255, error_messages={"required": "A reason is required."})


def _search(request: HttpRequest) -> dict[str, str]:
    """The page's tab (held unless another is named) and its store and SKU-prefix search."""
    status = request.GET.get("status", HELD).strip()
    status = "" if status == "all" else status
    return {
        "status": status if status in TABS else HELD,
        "q": request.GET.get("q", "").strip(),
        "location": request.GET.get("location", "").strip(),
    }


@login_required
@permission_required("orders.view_possale", raise_exception=True)
@require_GET
def pos_override_page(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


def _render_list(
    request: HttpRequest, refused: tuple[int, DecisionForm] | None = None
) -> HttpResponse:
    search = _search(request)
    sales = pos_sale_list(status=search["status"], location=search["location"], sku=search["q"])
    page = Paginator(sales, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = pos_sale_outlook(page.object_list)
    if refused:
        for sale in page.object_list:
            if sale.pk == refused[0]:
                sale.form = refused[1]
    acted = request.GET.get("acted", "")
    context = {
        **search,
        "tabs": [
            (value, label, count)
            for (value, label), count in zip(
                TABS.items(),
                pos_sale_counts(location=search["location"], sku=search["q"]).values(),
                strict=True,
            )
        ],
        "page": page,
        "list_url": reverse("pos_overrides:list"),
        "locations": Location.objects.order_by("code").values_list("code", flat=True),
        "query": query_without(request, "page", "acted"),
        "tab_query": query_without(request, "page", "acted", "status"),
        "here": query_without(request, "acted"),
        "can_decide": request.user.has_perm("orders.approve_pos_override"),
        "acted": int(acted) if acted.isdigit() else None,
        "held": HELD,
    }
    return list_page(request, "stock/pos_overrides.html", context, status=400 if refused else 200)


@login_required
@permission_required("orders.view_possale", raise_exception=True)
@require_GET
def pos_override_export(request: HttpRequest):
    """Every sale under the current tab and search (not just the page), as CSV."""
    search = _search(request)
    sales = pos_sale_list(status=search["status"], location=search["location"], sku=search["q"])
    name = f"pos-overrides-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(POS_SALE_COLUMNS, pos_sale_rows(sales), name)


@login_required
@permission_required("orders.approve_pos_override", raise_exception=True)
@require_POST
def pos_override_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject one held sale with a reason; without a reason nothing is decided and
    the page says so beside the reason."""
    sale = get_object_or_404(PosSale.objects.select_related("location"), pk=pk)
    form = DecisionForm(request.POST)
    query = request.POST.get("query", "")
    named = f"POS sale {sale.external_id} at {sale.location.code}"
    if not form.is_valid():
        problems = " ".join(" ".join(errors) for errors in form.errors.values())
        messages.error(request, f"{named} not decided: {problems}")
        request.GET = QueryDict(query)
        return _render_list(request, refused=(sale.pk, form))
    data = form.cleaned_data
    decide = pos_sale_approve if data["decision"] == "approve" else pos_sale_reject
    try:
        decided = decide(sale=sale, actor=request.user, reason=data["reason"])
    except ApplicationError as exc:
        messages.error(request, f"{named} not decided: {exc.message}")
    else:
        messages.success(request, _done(decided))
    back = f"{reverse('pos_overrides:list')}?{query}"
    return redirect(f"{back}&acted={sale.pk}" if query else f"{back}acted={sale.pk}")


def _done(sale: PosSale) -> str:
    """The message after a decision: what it did to stock and to online orders."""
    sale = pos_sale_outlook([pos_sale_list().get(pk=sale.pk)])[0]
    named = f"POS sale {sale.external_id} at {sale.location.code}"
    if sale.status != "completed":
        return f"{named} rejected: nothing moved; the online orders keep their units."
    taken = f"{sale.units} unit(s) sold, {sale.from_reserved} of them taken from online orders"
    waiting = ", ".join(w["order"] for w in sale.waiting)
    return f"{named} approved: {taken}" + (f"; now waiting: {waiting}." if waiting else ".")
