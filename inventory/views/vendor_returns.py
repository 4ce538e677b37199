"""/stock/vendor-returns/: goods sent back to a vendor (a tracking number each), the vendor's
credit note linked, the return closed. Forms parse; the services in
inventory.services.vendor_returns decide, check the role and audit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ims.csvio import INT_MAX
from ims.errors import ApplicationError
from ims.money import DECIMAL_PLACES, MAX_DIGITS
from ims.templatetags.ims import money
from ims.views import csv_download, form_errors_from, query_without
from inventory.models import Location, StockState, VendorReturn, VendorReturnStatus
from inventory.selectors.vendor_returns import (
    STATE_WORDS,
    VENDOR_RETURN_COLUMNS,
    vendor_return_list,
    vendor_return_rows,
    vendor_return_totals,
)
from inventory.services.vendor_returns import (
    credit_note_record,
    vendor_return_close,
    vendor_return_create,
)
from inventory.views import ProductSkuForm

PAGE_SIZE = 50
FROM_STATES = [
    (StockState.DAMAGED, "damaged"),
    (StockState.QUARANTINED, "quarantined"),
    (StockState.AVAILABLE, "available"),
]


class VendorReturnForm(ProductSkuForm):
    # The server says what is missing (a toast and beside the field), not the browser.
    use_required_attribute = False

    sku = forms.CharField(label="SKU", max_length=64)
    location = forms.ModelChoiceField(
        queryset=Location.objects.order_by("code"), to_field_name="code", empty_label=None
    )
    quantity = forms.IntegerField(label="Units", min_value=1, max_value=INT_MAX)
    from_state = forms.ChoiceField(label="Taken from", choices=FROM_STATES)
    vendor = forms.CharField(max_length=255)
    tracking_number = forms.CharField(
        label="Tracking number", max_length=128, required=False, strip=True
    )
    reason = forms.CharField(max_length=255)


class CreditNoteForm(forms.Form):
    number = forms.CharField(label="Credit note number", max_length=64)
    amount = forms.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, min_value=0)
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", max_length=3, initial="USD")
    issued_on = forms.DateField(label="Issued on", widget=forms.DateInput(attrs={"type": "date"}))


def _problems(form: forms.Form) -> str:
    return "; ".join(
        f"{form.fields[name].label or name if name in form.fields else 'form'}: {' '.join(errs)}"
        for name, errs in form.errors.items()
    )


@login_required
@permission_required("inventory.view_vendorreturn", raise_exception=True)
def vendor_return_page(request: HttpRequest) -> HttpResponse:
    """The list (search, state, totals, 1–50 of N) and, for those who may, a new return."""
    form = None
    if request.method == "POST":
        if not request.user.has_perm("inventory.add_vendorreturn"):
            raise PermissionDenied("your role may not create vendor returns")
        form = VendorReturnForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = vendor_return_create(
                    vendor=data["vendor"],
                    location=data["location"],
                    tracking_number=data["tracking_number"],
                    lines=[(form.product.pk, data["quantity"])],
                    actor=request.user,
                    reason=data["reason"],
                    from_state=data["from_state"],
                )
            except ApplicationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(
                    request,
                    f"Vendor return {created.pk} to {created.vendor} shipped: "
                    f"{data['quantity']} × {form.product.sku} from {data['location'].code}, "
                    f"tracking {created.tracking_number}.",
                )
                return redirect(
                    f"{reverse('stock:vendor_returns')}?acted={created.pk}#vr-{created.pk}"
                )
        messages.error(request, f"No vendor return created. Check {_problems(form)}")
    return _render_list(request, form)


def _render_list(request: HttpRequest, form: VendorReturnForm | None) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    status = request.GET.get("status", "").strip()
    returns = vendor_return_list(q=q, status=status)
    page = Paginator(returns, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for vr in page.object_list:
        vr.state_words = STATE_WORDS.get(vr.status, vr.status)
    can_create = request.user.has_perm("inventory.add_vendorreturn")
    if form is None and can_create:
        form = VendorReturnForm()
    acted = request.GET.get("acted", "")
    context = {
        "q": q,
        "status": status,
        "statuses": STATE_WORDS.items(),
        "page": page,
        "totals": vendor_return_totals(returns),
        "query": query_without(request, "page", "acted"),
        "form": form,
        "can_create": can_create,
        "can_close": request.user.has_perm("inventory.add_creditnote")
        and request.user.has_perm("inventory.close_vendorreturn"),
        "acted": int(acted) if acted.isdigit() else None,
        "credit_form": CreditNoteForm(initial={"issued_on": timezone.localdate()}),
        "shipped": VendorReturnStatus.SHIPPED,
    }
    status_code = 400 if form is not None and form.is_bound else 200
    return render(request, "stock/vendor_returns.html", context, status=status_code)


@login_required
@permission_required("inventory.view_vendorreturn", raise_exception=True)
@require_GET
def vendor_return_export(request: HttpRequest):
    returns = vendor_return_list(
        q=request.GET.get("q", "").strip(), status=request.GET.get("status", "").strip()
    )
    name = f"vendor-returns-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(VENDOR_RETURN_COLUMNS, vendor_return_rows(returns), name)


@login_required
@permission_required("inventory.close_vendorreturn", raise_exception=True)
@require_POST
def vendor_return_credit(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the vendor's credit note and link it: the return closes (both or neither)."""
    vendor_return = get_object_or_404(VendorReturn, pk=pk)
    form = CreditNoteForm(request.POST)
    back = f"{reverse('stock:vendor_returns')}?{request.POST.get('query', '')}"
    back += f"&acted={pk}#vr-{pk}" if "?" in back else f"?acted={pk}#vr-{pk}"
    if not form.is_valid():
        messages.error(request, f"Vendor return {pk} not closed. Check {_problems(form)}")
        return redirect(back)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            note = credit_note_record(
                vendor=vendor_return.vendor,
                number=data["number"],
                amount=data["amount"],
                currency=data["currency"].upper(),
                issued_on=data["issued_on"],
                actor=request.user,
            )
            vendor_return_close(vendor_return=vendor_return, credit_note=note, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, f"Vendor return {pk} not closed: {exc.message}")
    except IntegrityError:  # the same vendor's note number twice (unique)
        messages.error(
            request,
            f"Vendor return {pk} not closed: {vendor_return.vendor} credit note "
            f"{data['number']} is already recorded.",
        )
    else:
        messages.success(
            request,
            f"Vendor return {pk} to {vendor_return.vendor} closed with credit note "
            f"{note.number} ({money(note.amount, note.currency)}).",
        )
    return redirect(back)
