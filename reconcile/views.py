"""Pages: the scorecard, and exception triage (tabs, filters, keyset pages, actions, CSV)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Category
from channels.models import Channel
from channels.publish import listing_publish
from channels.publish_views import publication_messages
from exceptions.models import Discrepancy, ExceptionStatus, OpsException, PushStatus
from exceptions.selectors import SORTS, exception_page, exception_tab_counts
from exceptions.services import ops_exception_acknowledge
from ims.errors import ApplicationError
from ims.filters import filter_problems
from ims.views import csv_download, list_page, query_without
from reconcile.filters import OpsExceptionFilter
from reconcile.reports import EXCEPTION_COLUMNS, exception_rows, scorecard_context

DEFAULT_TAB = Discrepancy.PRICE_MISMATCH.value


@login_required
@permission_required("exceptions.view_opsexception", raise_exception=True)
def dashboard(request):
    return render(request, "exceptions/dashboard.html", scorecard_context(links=True))


def _filters(request: HttpRequest, *, with_tab: bool = True) -> tuple[OpsExceptionFilter, str]:
    """The filter set for the request; the tab is the discrepancy (Price mismatches by default)."""
    data = QueryDict(mutable=True)
    for name, values in request.GET.lists():  # an empty field ("All") is no filter
        if name not in ("cursor", "sort") and any(v.strip() for v in values):
            data.setlist(name, [v for v in values if v.strip()])
    tab = data.get("discrepancy") or DEFAULT_TAB
    if tab not in Discrepancy.values:
        tab = DEFAULT_TAB
    if with_tab:
        data["discrepancy"] = tab
    else:
        data.pop("discrepancy", None)
    return OpsExceptionFilter(data, queryset=OpsException.objects.all()), tab


@login_required
@permission_required("exceptions.view_opsexception", raise_exception=True)
@require_GET
def exception_list(request: HttpRequest) -> HttpResponse:
    filterset, tab = _filters(request)
    sort = request.GET.get("sort", "exposure")
    page = exception_page(
        queryset=filterset.qs if filterset.is_valid() else OpsException.objects.none(),
        sort=sort,
        cursor=request.GET.get("cursor", ""),
    )
    context = {
        "filterset": filterset,
        "tab": tab,
        "tabs": [(d.value, d.label, None) for d in Discrepancy],
        "sort": sort if sort in SORTS else "exposure",
        "sorts": [
            ("exposure", "Exposure (highest first)"),
            ("age", "Age (oldest first)"),
            ("newest", "Newest first"),
        ],
        "page": page,
        "channels": Channel.objects.order_by("code").values_list("code", flat=True),
        "categories": Category.objects.exclude(name=Category.DEFAULT)
        .order_by("name")
        .values_list("name", flat=True),
        "statuses": ExceptionStatus.choices,
        "query": query_without(request, "cursor"),
        "query_without_tab": query_without(request, "cursor", "discrepancy"),
        "can_acknowledge": request.user.has_perm("exceptions.acknowledge_opsexception"),
        "can_push": request.user.has_perm("exceptions.push_opsexception"),
        "can_publish": request.user.has_perm("channels.publish_listing"),
        "tab_label": Discrepancy(tab).label.lower(),
        # After an action refused (no reason given), what was ticked stays ticked.
        "kept_ids": getattr(request, "kept_ids", set()),
    }
    return list_page(
        request, "exceptions/list.html", context, status=200 if filterset.is_valid() else 400
    )


@login_required
@permission_required("exceptions.view_opsexception", raise_exception=True)
@require_GET
def exception_counts(request: HttpRequest) -> HttpResponse:
    """The tabs with their live counts under the current filters (loaded and refreshed by htmx)."""
    filterset, tab = _filters(request, with_tab=False)
    counts = exception_tab_counts(filterset.qs) if filterset.is_valid() else {}
    return render(
        request,
        "exceptions/list.html#tabs",
        {
            "tab": tab,
            "tabs": [(d.value, d.label, counts.get(d.value, 0)) for d in Discrepancy],
            "query_without_tab": query_without(request, "cursor", "discrepancy"),
            "counted": True,
        },
    )


@login_required
@permission_required("exceptions.view_opsexception", raise_exception=True)
@require_GET
def exception_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every exception under the current filter (not just the page) as exceptions.csv rows."""
    filterset, _ = _filters(request, with_tab="discrepancy" in request.GET)
    if not filterset.is_valid():
        problems = "\n".join(filter_problems(filterset.form))
        return HttpResponse(
            f"Check the filters:\n{problems}\n", status=400, content_type="text/plain"
        )
    name = f"exceptions-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return csv_download(EXCEPTION_COLUMNS, exception_rows(filterset.qs), name)


def _selected(request: HttpRequest):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    return list(OpsException.objects.filter(pk__in=ids))


def _back(request: HttpRequest, *, keep: bool = False) -> HttpResponse:
    """After an action: the htmx results fragment, or the list page the form came from.
    `keep`: the action was refused, so the rows that were ticked stay ticked."""
    query = request.POST.get("query", "")
    if keep:
        request.kept_ids = {int(i) for i in request.POST.getlist("ids") if i.isdigit()}
    if request.htmx:
        request.GET = QueryDict(query)
        request.method = "GET"
        return exception_list(request)
    return redirect(f"{reverse('exceptions:list')}?{query}")


@login_required
@permission_required("exceptions.acknowledge_opsexception", raise_exception=True)
@require_POST
def exception_acknowledge(request: HttpRequest) -> HttpResponse:
    selected = _selected(request)
    try:
        count = ops_exception_acknowledge(
            exceptions=selected, reason=request.POST.get("reason", ""), actor=request.user
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(request, keep=True)
    messages.success(request, f"Acknowledged {count} exception{'s' if count != 1 else ''}.")
    return _back(request)


@login_required
@permission_required("exceptions.push_opsexception", raise_exception=True)
@require_POST
def exception_push(request: HttpRequest) -> HttpResponse:
    """Push the authoritative value for each selected exception's SKU to its channel (queued
    for the workers); the message says what became of each: pushed, queued or failed."""
    from channels.services import sync_push_correction

    asked, refused = [], []
    for exception in _selected(request):
        try:
            sync_push_correction(exception=exception, actor=request.user)
            asked.append(exception.pk)
        except ApplicationError as exc:
            refused.append(f"{exception.sku_id}: {exc.message}")
    # With the in-process queue the push has run already: say what became of each, not
    # "queued" while the row shows it failed.
    outcomes = OpsException.objects.filter(pk__in=asked).select_related("channel")
    by_status: dict[str, int] = {}
    for exception in outcomes:
        if exception.push_status == PushStatus.FAILED:
            channel = exception.channel.code if exception.channel else "?"
            refused.append(
                f"{exception.sku_id} on {channel}: the push failed: {exception.push_error}"
            )
        else:
            by_status[exception.push_status] = by_status.get(exception.push_status, 0) + 1
    pushed = by_status.pop(PushStatus.PUSHED, 0) + by_status.pop(PushStatus.VERIFIED, 0)
    if pushed:
        messages.success(request, f"Pushed {pushed} correction{'s' if pushed != 1 else ''}.")
    queued = sum(by_status.values())
    if queued:
        messages.success(
            request,
            f"Queued {queued} correction{'s' if queued != 1 else ''}: the workers send "
            f"{'them' if queued != 1 else 'it'} next; the Push column follows.",
        )
    for reason in refused:
        messages.error(request, reason)
    return _back(request)


@login_required
@permission_required("channels.publish_listing", raise_exception=True)
@require_POST
def exception_publish(request: HttpRequest) -> HttpResponse:
    """Publish each selected Missing_SKU's product to its channel (channels.publish), one
    publish per channel; the messages say what became of each, the Push column shows it."""
    by_channel: dict[int, list[str]] = {}
    skipped = []
    for exception in _selected(request):
        if exception.discrepancy != Discrepancy.MISSING_SKU or not exception.channel_id:
            skipped.append(f"{exception.sku_id}: only a missing SKU is published")
            continue
        by_channel.setdefault(exception.channel_id, []).append(exception.sku_id)
    channels = Channel.objects.in_bulk(list(by_channel))
    if not by_channel and not skipped:
        messages.error(request, "Tick the missing SKUs to publish.")
        return _back(request, keep=True)
    for channel_id, skus in by_channel.items():
        try:
            outcome = listing_publish(channel=channels[channel_id], skus=skus, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            continue
        publication_messages(request, outcome)
    for reason in skipped:
        messages.error(request, reason)
    return _back(request)
