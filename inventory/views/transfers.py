"""The transfers page (/stock/transfers/): send units of a SKU from one location to another,
the transfers in transit (search, totals, position, CSV export) and Receive per transfer. Forms
parse; the transfer services (inventory.services.transfers) check the role, move and audit."""

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

from ims.csvio import INT_MAX
from ims.errors import ApplicationError
from ims.views import csv_download, list_page, query_without
from inventory.models import Location, Transfer
from inventory.selectors.transfers import (
    TRANSFER_COLUMNS,
    transfer_lines,
    transfer_rows,
    transfer_totals,
)
from inventory.services.transfers import transfer_receive, transfer_send
from inventory.views import ProductSkuForm, sku_location_search

PAGE_SIZE = 50


def _units(n: int) -> str:
    return f"{n} unit{'s' if n != 1 else ''}"


class SendForm(ProductSkuForm):
    sku = forms.CharField(label="SKU", max_length=64)
    source = forms.ModelChoiceField(
        label="From", queryset=Location.objects.all(), to_field_name="code", empty_label=None
    )
    destination = forms.ModelChoiceField(
        label="To", queryset=Location.objects.all(), to_field_name="code", empty_label=None
    )
    quantity = forms.IntegerField(label="Units", min_value=1, max_value=INT_MAX)
    reason = forms.CharField(label="Reference or reason", max_length=255)

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("source") == data.get("destination"):
            self.add_error("destination", "Must differ from the source.")
        return data


@login_required
@permission_required("inventory.view_transfer", raise_exception=True)
@require_GET
def transfer_list_page(request: HttpRequest) -> HttpResponse:
    search = sku_location_search(request)
    keep = getattr(request, "kept_transfer", None)
    lines = transfer_lines(sku=search["q"], location=search["location"], keep=keep)
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **search,
        "page": page,
        "totals": transfer_totals(transfer_lines(sku=search["q"], location=search["location"])),
        "locations": Location.objects.values_list("code", flat=True),
        "query": query_without(request, "page"),
        "here": request.GET.urlencode(),  # after an action: the same page again
        "can_send": request.user.has_perm("inventory.add_transfer"),
        "can_receive": request.user.has_perm("inventory.receive_transfer"),
        "acted": keep,
        "sent": getattr(request, "sent_transfer", False),  # a fresh send form, out of band
        "form": SendForm(initial={"sku": request.GET.get("sku", "")}),
    }
    return list_page(request, "stock/transfers.html", context)


@login_required
@permission_required("inventory.view_transfer", raise_exception=True)
@require_GET
def transfer_export(request: HttpRequest):
    """Every in-transit line under the current search (not just the page), as CSV."""
    search = sku_location_search(request)
    lines = transfer_lines(sku=search["q"], location=search["location"])
    name = f"transfers-in-transit-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(TRANSFER_COLUMNS, transfer_rows(lines), name)


def _back_to_list(
    request: HttpRequest, transfer: Transfer | None, *, sent: bool = False
) -> HttpResponse:
    """After an action: the list again (the htmx fragment, or the page the form came from) with
    the transfer acted on kept in view; after a transfer is sent, an empty send form (after a
    refusal the form keeps what was typed)."""
    query = request.POST.get("query", "")
    if request.htmx:
        request.GET = QueryDict(query)
        request.method = "GET"
        request.kept_transfer = transfer.pk if transfer else None
        request.sent_transfer = sent
        return transfer_list_page(request)
    return redirect(f"{reverse('stock:transfers')}?{query}")


@login_required
@permission_required("inventory.add_transfer", raise_exception=True)
@require_POST
def transfer_send_page(request: HttpRequest) -> HttpResponse:
    form = SendForm(request.POST)
    transfer = None
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label if name in form.fields else name}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        messages.error(request, f"Nothing sent. Check {problems}")
    else:
        data = form.cleaned_data
        try:
            transfer = transfer_send(
                source=data["source"],
                destination=data["destination"],
                lines=[(form.product.pk, data["quantity"])],
                actor=request.user,
                reason=data["reason"],
            )
        except ApplicationError as exc:
            messages.error(
                request,
                f"Nothing sent: {form.product.sku} at {data['source'].code}: {exc.message}",
            )
        else:
            messages.success(
                request,
                f"Sent {_units(data['quantity'])} of {form.product.sku} from "
                f"{data['source'].code} to {data['destination'].code} (transfer {transfer.pk}).",
            )
    return _back_to_list(request, transfer, sent=transfer is not None)


@login_required
@permission_required("inventory.receive_transfer", raise_exception=True)
@require_POST
def transfer_receive_page(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = get_object_or_404(Transfer.objects.select_related("destination"), pk=pk)
    try:
        transfer_receive(transfer=transfer, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, f"Transfer {transfer.pk}: {exc.message}")
    else:
        units = sum(line.quantity for line in transfer.lines.all())
        messages.success(
            request,
            f"Received transfer {transfer.pk}: {_units(units)} now available at "
            f"{transfer.destination.code}.",
        )
    return _back_to_list(request, transfer)
