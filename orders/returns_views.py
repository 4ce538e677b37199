"""/stock/returns/: customer returns handed in at a store (units wait in `returned`), then
inspected (each unit to available, damaged or quarantined). The page lives under /stock/ but
the model is orders', so the views are here. Forms parse; orders.services.returns decides,
checks the role and audits."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from channels.models import Channel
from ims.csvio import INT_MAX
from ims.errors import ApplicationError
from ims.views import csv_download, form_errors_from, query_without
from inventory.models import Location
from orders.models import ChannelOrder, CustomerReturn, CustomerReturnStatus
from orders.returns_selectors import (
    CUSTOMER_RETURN_COLUMNS,
    STATUS_WORDS,
    customer_return_list,
    customer_return_rows,
    customer_return_totals,
)
from orders.services.returns import Inspection, customer_return_inspect, customer_return_receive

PAGE_SIZE = 50
VIEW = "orders.view_customerreturn"
RECEIVE = "orders.add_customerreturn"
INSPECT = "orders.inspect_customerreturn"


class ReceiveReturnForm(forms.Form):
    # The server says what is missing (a toast and beside the field), not the browser.
    use_required_attribute = False

    channel = forms.ModelChoiceField(
        queryset=Channel.objects.order_by("code"), to_field_name="code", empty_label=None
    )
    order = forms.CharField(label="Order number", max_length=128)
    location = forms.ModelChoiceField(
        label="Received at",
        queryset=Location.objects.order_by("code"),
        to_field_name="code",
        empty_label=None,
    )
    sku = forms.CharField(label="SKU", max_length=64)
    quantity = forms.IntegerField(label="Units", min_value=1, max_value=INT_MAX)
    reference = forms.CharField(
        label="Return slip (optional)",
        max_length=128,
        required=False,
        help_text="The same slip twice records the return once.",
    )
    reason = forms.CharField(max_length=255, required=False)

    def clean(self):
        data = super().clean()
        channel, number = data.get("channel"), (data.get("order") or "").strip()
        if channel and number:
            self.order_found = ChannelOrder.objects.filter(
                channel=channel, external_id=number
            ).first()
            if self.order_found is None:
                self.add_error("order", f"No order {number} on {channel.code}.")
        return data


def _problems(form: forms.Form) -> str:
    return "; ".join(
        f"{form.fields[name].label or name if name in form.fields else 'form'}: {' '.join(errs)}"
        for name, errs in form.errors.items()
    )


def _filters(request: HttpRequest) -> dict[str, str]:
    status = request.GET.get("status", "").strip()
    return {
        "q": request.GET.get("q", "").strip(),
        "status": status if status in STATUS_WORDS else "",
        "location": request.GET.get("location", "").strip(),
    }


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_return_page(request: HttpRequest) -> HttpResponse:
    """The list (awaiting inspection first; search, status, location, totals, 1–50 of N) and,
    for those who may, Receive a return."""
    form = None
    if request.method == "POST":
        if not request.user.has_perm(RECEIVE):
            raise PermissionDenied("your role may not receive customer returns")
        form = ReceiveReturnForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                received, created = customer_return_receive(
                    order=form.order_found,
                    location=data["location"],
                    lines=[(data["sku"].strip(), data["quantity"])],
                    reference=data["reference"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                if "lines[0].quantity" in exc.extra.get("fields", {}):
                    exc.extra["fields"]["quantity"] = exc.extra["fields"].pop("lines[0].quantity")
                if "lines[0].sku_id" in exc.extra.get("fields", {}):
                    exc.extra["fields"]["sku"] = exc.extra["fields"].pop("lines[0].sku_id")
                form_errors_from(form, exc)
            else:
                if created:
                    messages.success(
                        request,
                        f"Return {received.pk} received at {received.location.code}: "
                        f"{data['quantity']} × {data['sku'].strip()} of "
                        f"{data['channel'].code} order {received.order.external_id}, "
                        "awaiting inspection.",
                    )
                else:
                    messages.info(
                        request, f"Return slip {received.external_id} was received already."
                    )
                return redirect(f"{reverse('returns:list')}?acted={received.pk}#cr-{received.pk}")
        messages.error(request, f"No return received. Check {_problems(form)}")
    return _render_list(request, form)


def _render_list(request: HttpRequest, form: ReceiveReturnForm | None) -> HttpResponse:
    filters = _filters(request)
    returns = customer_return_list(**filters)
    page = Paginator(returns, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for cr in page.object_list:
        cr.status_words = STATUS_WORDS.get(cr.status, cr.status)
        cr.line_list = list(cr.lines.all())
        by_sku: dict[str, int] = {}
        for line in cr.line_list:
            by_sku[line.product.sku] = by_sku.get(line.product.sku, 0) + line.quantity
        cr.skus = list(by_sku.items())
    can_receive = request.user.has_perm(RECEIVE)
    if form is None and can_receive:
        form = ReceiveReturnForm()
    acted = request.GET.get("acted", "")
    context = {
        **filters,
        "statuses": STATUS_WORDS.items(),
        "locations": Location.objects.order_by("code").values_list("code", flat=True),
        "page": page,
        "totals": customer_return_totals(returns),
        "query": query_without(request, "page", "acted"),
        "form": form,
        "can_receive": can_receive,
        "can_inspect": request.user.has_perm(INSPECT),
        "acted": int(acted) if acted.isdigit() else None,
        "received": CustomerReturnStatus.RECEIVED,
    }
    status_code = 400 if form is not None and form.is_bound else 200
    return render(request, "stock/customer_returns.html", context, status=status_code)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def customer_return_export(request: HttpRequest):
    """Every return under the current filters (not just the page), as CSV."""
    returns = customer_return_list(**_filters(request))
    name = f"customer-returns-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(CUSTOMER_RETURN_COLUMNS, customer_return_rows(returns), name)


def _count(raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return 0
    return int(raw) if raw.isdigit() and int(raw) <= INT_MAX else None


@login_required
@permission_required(INSPECT, raise_exception=True)
@require_POST
def customer_return_inspect_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The inspector's decision per SKU (units to available, damaged, quarantined), then the
    list with the row in view and the message."""
    customer_return = get_object_or_404(CustomerReturn, pk=pk)
    back = f"{reverse('returns:list')}?{request.POST.get('query', '')}"
    back += f"&acted={pk}#cr-{pk}" if "?" in back else f"?acted={pk}#cr-{pk}"
    skus = request.POST.getlist("sku")
    counts = {
        state: request.POST.getlist(state) for state in ("available", "damaged", "quarantined")
    }
    decisions, unreadable = [], []
    for index, sku in enumerate(skus):
        values = {}
        for state, raw in counts.items():
            value = _count(raw[index] if index < len(raw) else "")
            if value is None:
                unreadable.append(f"{sku} {state}: a whole number of units, 0 or more")
            values[state] = value or 0
        decisions.append(Inspection(sku, **values))
    if unreadable:
        messages.error(request, f"Return {pk} not inspected. " + "; ".join(unreadable))
        return redirect(back)
    try:
        inspected = customer_return_inspect(
            customer_return=customer_return,
            decisions=decisions,
            actor=request.user,
            note=request.POST.get("note", ""),
        )
    except ApplicationError as exc:
        messages.error(request, f"Return {pk} not inspected: {exc.message}")
        if exc.http_status == 403:
            response = redirect(back)
            response.status_code = 403
            return response
    else:
        lines = list(inspected.lines.all())
        told = ", ".join(
            f"{sum(getattr(line, f'to_{state}') for line in lines)} {state}"
            for state in ("available", "damaged", "quarantined")
            if sum(getattr(line, f"to_{state}") for line in lines)
        )
        messages.success(request, f"Return {pk} inspected: {told}.")
    return redirect(back)


app_name = "returns"

urlpatterns = [
    path("", customer_return_page, name="list"),
    path("export.csv", customer_return_export, name="export"),
    path("<int:pk>/inspect/", customer_return_inspect_page, name="inspect"),
]
