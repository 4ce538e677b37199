"""The sync runs page: every run with its plan, counts, progress, errors and timing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from channels.filters import SyncLineFilter, SyncRunFilter
from channels.models import Channel, LineState, SyncRun, SyncStatus
from channels.selectors import sync_run_lines, sync_run_list
from channels.sync.runs import sync_run_discard, sync_run_live, sync_runs_interrupt_stale
from ims.errors import ApplicationError
from ims.filters import filter_problems
from ims.tasks import enqueue


@login_required
@permission_required("channels.view_syncrun", raise_exception=True)
def run_list(request):
    filters = SyncRunFilter(request.GET).form
    problems = [] if filters.is_valid() else filter_problems(filters)
    chosen = {} if problems else filters.cleaned_data
    channel = chosen["channel"].code if chosen.get("channel") else None
    status = chosen.get("status") or None
    runs = (
        SyncRun.objects.none() if problems else sync_run_list(channel_code=channel, status=status)
    )
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "runs": page.object_list,
        "channels": Channel.objects.order_by("code"),
        "statuses": SyncStatus.choices,
        "selected": {"channel": channel or "", "status": status or ""},
        "any_running": any(r.status == SyncStatus.RUNNING for r in page.object_list),
        "problems": problems,
    }
    if request.htmx:
        return render(request, "channels/run_list.html#rows", context)
    return render(request, "channels/run_list.html", context, status=400 if problems else 200)


@login_required
@permission_required("channels.view_syncrun", raise_exception=True)
def run_detail(request, pk: int):
    run = get_object_or_404(SyncRun.objects.select_related("channel", "actor", "decided_by"), pk=pk)
    if request.htmx:
        return render(request, "channels/run_detail.html#progress", {"run": run})
    filters = SyncLineFilter(request.GET).form
    problems = [] if filters.is_valid() else filter_problems(filters)
    state = None if problems else filters.cleaned_data["state"] or None
    found = run.lines.none() if problems else sync_run_lines(run=run, state=state)
    lines = Paginator(found, 200).get_page(request.GET.get("page"))
    return render(
        request,
        "channels/run_detail.html",
        {
            "run": run,
            "lines": lines,
            "states": LineState.choices,
            "state": state or "",
            "can_decide": request.user.has_perm("channels.approve_syncrun")
            and run.status == SyncStatus.HALTED,
            "problems": problems,
        },
        status=400 if problems else 200,
    )


@require_POST
@login_required
@permission_required("channels.approve_syncrun", raise_exception=True)
def run_approve(request, pk: int):
    run = get_object_or_404(SyncRun, pk=pk, status=SyncStatus.HALTED)
    enqueue("channels.tasks.sync_run_approve_task", run.pk, request.user.pk)
    messages.success(request, f"Sync #{run.pk} approved: its plan is being sent.")
    return redirect("channels:run_detail", pk=run.pk)


@require_POST
@login_required
@permission_required("channels.approve_syncrun", raise_exception=True)
def run_discard(request, pk: int):
    run = get_object_or_404(SyncRun, pk=pk)
    try:
        sync_run_discard(run=run, actor=request.user, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Sync #{run.pk} discarded: nothing was sent.")
    return redirect("channels:run_detail", pk=run.pk)


@require_POST
@login_required
@permission_required("channels.change_channel", raise_exception=True)
def channel_sync_now(request, code: str):
    channel = get_object_or_404(Channel, code=code)
    # A run whose worker is gone is closed now (the page shows it); a live one refuses this sync.
    for gone in sync_runs_interrupt_stale(channel=channel):
        messages.warning(request, f"Sync #{gone.pk} of {channel.code} {gone.error}")
    live = sync_run_live(channel)
    if live is not None:
        messages.error(
            request,
            f"Sync of {channel.code} not started: sync #{live.pk} is still running (started "
            f"{live.started_at:%H:%M:%S} UTC, {live.done} of {live.planned} lines done). "
            "Try again when it ends.",
        )
        return redirect(f"{reverse('channels:run_list')}?channel={channel.code}")
    enqueue("channels.tasks.sync_task", channel.pk)
    messages.success(request, f"Sync of {channel.code} queued ({channel.get_sync_mode_display()}).")
    return redirect(f"{reverse('channels:run_list')}?channel={channel.code}")
