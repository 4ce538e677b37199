"""SLA pages: clocks at risk and breached (filters, time left, ladder reached, tasks with
acknowledge/close), breach-rate and time-to-dispatch charts, repeated-breach insights, and
an order's clocks, customer messages and prescriptions with the actions on them."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ims.filters import filter_problems
from ims.models import OpsTask
from ims.views import object_action
from orders.models import ChannelOrder, CustomerReturn
from orders.services.fulfilment import order_deliver
from sla import charts
from sla.filters import ChartWindowForm, SlaClockFilter
from sla.models import SlaKind
from sla.selectors import (
    breach_stats,
    clock_list,
    clock_rows,
    repeated_breaches,
    sla_tasks_open,
)
from sla.services import (
    customer_return_processed,
    order_acknowledge,
    sla_task_acknowledge,
    sla_task_close,
)

PAGE_SIZE = 50


@login_required
@permission_required("sla.view_slaclock", raise_exception=True)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    given = {k: v for k, v in request.GET.items() if v and k != "page"}
    filterset = SlaClockFilter(given, queryset=clock_list())
    window = ChartWindowForm(request.GET)
    problems = [
        *([] if filterset.is_valid() else filter_problems(filterset.form)),
        *([] if window.is_valid() else filter_problems(window)),
    ]
    clocks = clock_list().none() if problems else filterset.qs
    page = Paginator(clocks, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filterset": filterset,
        "page": page,
        "rows": clock_rows(list(page.object_list), now=now),
        "query": urlencode(given),
        "now": now,
        "problems": problems,
    }
    if request.htmx:
        return render(request, "sla/dashboard.html#results", context)
    days = (window.cleaned_data["days"] if not problems else None) or 30
    since = now - dt.timedelta(days=days)
    by_store = breach_stats(by="location", since=since, now=now)
    by_channel = breach_stats(by="channel", since=since, now=now)
    figures = [
        *charts.breach_charts("store", by_store, days),
        *charts.breach_charts("channel", by_channel, days),
    ]
    context.update(
        {
            "days": days,
            "figures": figures,
            "by_store": by_store,
            "by_channel": by_channel,
            "insights": repeated_breaches(now=now),
            "tasks": sla_tasks_open()[:100],
        }
    )
    return render(request, "sla/dashboard.html", context, status=400 if problems else 200)


@login_required
@permission_required("sla.view_slaclock", raise_exception=True)
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    now = timezone.now()
    order = get_object_or_404(ChannelOrder.objects.select_related("channel", "location"), pk=pk)
    clocks = list(clock_list().filter(order=order).prefetch_related("escalations__step"))
    return render(
        request,
        "sla/order.html",
        {
            "order": order,
            "rows": clock_rows(clocks, now=now),
            "ack_running": any(
                c.kind == SlaKind.ACKNOWLEDGEMENT and c.status == "running" for c in clocks
            ),
            "returns": [c for c in clocks if c.kind == SlaKind.RETURN and c.status == "running"],
            "notifications": order.customer_notifications.select_related("delivery").order_by(
                "created_at", "pk"
            ),
            "prescriptions": order.prescriptions.defer("data"),
            "shipped": order.lines.filter(shipped__gt=0).exists(),
            "lines": order.lines.select_related("product", "location").order_by("position"),
        },
    )


order_acknowledge_view = object_action(
    ChannelOrder,
    "sla.act_slaclock",
    lambda order, request: order_acknowledge(order=order, actor=request.user),
    "Order {row.external_id} acknowledged.",
    "/sla/orders/{row.pk}/",
)
order_delivered_view = object_action(
    ChannelOrder,
    "orders.dispatch_order",
    lambda order, request: order_deliver(order=order, actor=request.user),
    "Order {row.external_id} delivered.",
    "/sla/orders/{row.pk}/",
)
return_processed_view = object_action(
    CustomerReturn,
    "sla.act_slaclock",
    lambda customer_return, request: customer_return_processed(
        customer_return=customer_return, actor=request.user
    ),
    "Return {row.external_id} processed.",
    "/sla/orders/{row.order_id}/",
)
task_acknowledge_view = object_action(
    OpsTask,
    "sla.act_slaclock",
    lambda task, request: sla_task_acknowledge(task=task, actor=request.user),
    "Task taken on: {row.title}",
    "/sla/",
)
task_close_view = object_action(
    OpsTask,
    "sla.act_slaclock",
    lambda task, request: sla_task_close(
        task=task, actor=request.user, resolution=request.POST.get("resolution", "")
    ),
    "Task closed: {row.title}",
    "/sla/",
)
