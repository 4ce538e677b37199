"""/channels/<code>/assortment/: what a channel offers — its active products, each offered or
withheld and its product cap there, filtered, counted, exported; Ops change many at once (the
ticked rows or every product the filter matches). The form parses; channels.assortment decides,
checks the role and audits."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from channels.assortment import UNSET, assortment_set
from channels.assortment_selectors import (
    ASSORTMENT_EXPORT_COLUMNS,
    OFFERED_CHOICES,
    assortment_list,
    assortment_rows,
    assortment_totals,
)
from channels.filters import AssortmentFilter
from channels.models import Channel, SyncMode
from ims.csvio import INT_MAX
from ims.errors import ApplicationError
from ims.filters import filter_problems
from ims.views import csv_download, form_errors_from, query_without

PAGE_SIZE = 50
SCOPES = [("selected", "the ticked products"), ("matching", "every product matching the filter")]


class AssortmentBulkForm(forms.Form):
    """Offer or withhold, and/or set the product cap (blank: no cap), on the ticked rows or on
    every product the page's filter matches."""

    use_required_attribute = False

    scope = forms.ChoiceField(choices=SCOPES, widget=forms.HiddenInput)
    sku = forms.MultipleChoiceField(required=False, choices=())
    publish = forms.ChoiceField(
        label="Offer",
        required=False,
        choices=[("", "leave as is"), ("yes", "offer"), ("no", "withhold")],
    )
    set_cap = forms.BooleanField(label="Change the product cap", required=False)
    max_units = forms.IntegerField(
        label="Product cap (blank: no cap)", required=False, min_value=0, max_value=INT_MAX
    )
    reason = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, skus=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sku"].choices = [(s, s) for s in skus]

    def clean(self):
        data = super().clean()
        if data.get("scope") == "selected" and not data.get("sku") and "sku" not in self.errors:
            self.add_error(
                "sku", "Tick the products to change, or apply to every product matching."
            )
        if not data.get("publish") and not data.get("set_cap"):
            self.add_error("publish", "Choose offer or withhold, or change the product cap.")
        if data.get("max_units") is not None and not data.get("set_cap"):
            self.add_error("set_cap", "Tick it to set the product cap.")
        return data


def _filters(request: HttpRequest, channel: Channel):
    form = AssortmentFilter(request.GET).form
    problems = [] if form.is_valid() else filter_problems(form)
    chosen = {} if problems else form.cleaned_data
    products = assortment_list(
        channel=channel,
        category=chosen.get("category"),
        sku=(chosen.get("sku") or "").strip(),
        offered=chosen.get("offered") or "",
    )
    return products, chosen, problems


@login_required
@permission_required("channels.view_channelassortment", raise_exception=True)
def assortment_page(request: HttpRequest, code: str) -> HttpResponse:
    channel = get_object_or_404(Channel, code=code)
    products, chosen, problems = _filters(request, channel)
    can_change = request.user.has_perm("channels.change_channelassortment")
    form = None
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied("your role may not change what a channel offers")
        form = AssortmentBulkForm(
            request.POST, skus=request.POST.getlist("sku") if not problems else ()
        )
        if problems:
            form.add_error(None, "Check the filters first: " + "; ".join(problems))
        elif form.is_valid():
            data = form.cleaned_data
            if data["scope"] == "matching":
                target = products
            else:
                target = assortment_list(channel=channel).filter(sku__in=data["sku"])
            try:
                changed = assortment_set(
                    channel=channel,
                    products=target,
                    publish={"yes": True, "no": False}.get(data["publish"]),
                    max_units=data["max_units"] if data["set_cap"] else UNSET,
                    actor=request.user,
                    reason=data["reason"],
                )
            except ApplicationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _said(channel, data, changed, target.count()))
                return redirect(request.get_full_path())
        messages.error(request, f"Nothing changed on {channel.code}. Check {_problems(form)}")
    return _render(request, channel, products, chosen, problems, form, can_change)


def _said(channel: Channel, data: dict, changed: int, matched: int) -> str:
    done = []
    if data["publish"]:
        done.append("offered" if data["publish"] == "yes" else "withheld")
    if data["set_cap"]:
        cap = data["max_units"]
        done.append("no product cap" if cap is None else f"product cap {cap}")
    said = (
        f"{channel.code}: {', '.join(done)} — {matched} product{'s' if matched != 1 else ''}, "
        f"{changed} changed."
    )
    if changed and channel.sync_mode != SyncMode.READ_ONLY:
        said += " Their stock is queued for the channel."
    return said


def _problems(form: forms.Form) -> str:
    return "; ".join(
        f"{form.fields[name].label or name if name in form.fields else 'form'}: {' '.join(errs)}"
        for name, errs in form.errors.items()
    )


def _render(request, channel, products, chosen, problems, form, can_change) -> HttpResponse:
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    if form is None and can_change:
        form = AssortmentBulkForm(initial={"scope": "selected"})
    ticked = set(form["sku"].value() or ()) if form is not None and form.is_bound else set()
    category = chosen.get("category")
    context = {
        "channel": channel,
        "page": page,
        "totals": assortment_totals(products),
        "categories": AssortmentFilter.base_filters["category"].queryset.all(),
        "selected": {
            "category": category.name if category else request.GET.get("category", ""),
            "sku": chosen.get("sku") or request.GET.get("sku", ""),
            "offered": chosen.get("offered") or request.GET.get("offered", ""),
        },
        "offered_choices": OFFERED_CHOICES,
        "filtered": any(request.GET.get(k) for k in ("category", "sku", "offered")),
        "query": query_without(request, "page"),
        "problems": problems,
        "form": form,
        "can_change": can_change,
        "can_publish": request.user.has_perm("channels.publish_listing"),
        "ticked": ticked,
    }
    bad = bool(problems) or (form is not None and form.is_bound)
    return render(request, "channels/assortment.html", context, status=400 if bad else 200)


@login_required
@permission_required("channels.view_channelassortment", raise_exception=True)
@require_GET
def assortment_export(request: HttpRequest, code: str):
    channel = get_object_or_404(Channel, code=code)
    products, _, problems = _filters(request, channel)
    if problems:
        products = products.none()
    name = f"assortment-{channel.code}-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(ASSORTMENT_EXPORT_COLUMNS, assortment_rows(channel, products), name)
