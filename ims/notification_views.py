"""The notification inbox: a person's own notifications, newest first, marked read one by one
or all at once (the bell in the top bar, templates/inbox/bell.html, counts the unread ones)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from ims.selectors import notification_page
from ims.services import NotificationNotFound, notification_mark_read, notifications_mark_all_read

SHOWS = ("all", "unread")


def _inbox(request: HttpRequest, params: QueryDict, *, fragment: bool) -> HttpResponse:
    show = params.get("show") if params.get("show") in SHOWS else "all"
    page = notification_page(
        user=request.user, unread_only=show == "unread", number=params.get("page") or 1
    )
    for notice in page.rows:  # a link goes only somewhere on this site
        notice.href = (
            notice.link
            if notice.link
            and url_has_allowed_host_and_scheme(
                notice.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
            else ""
        )
    query = QueryDict(mutable=True)
    query["show"] = show
    if page.number > 1:
        query["page"] = str(page.number)
    context = {
        "page": page,
        "show": show,
        "query": query.urlencode(),
        # The bell in the top bar shows this count rather than counting again.
        "notifications_unread": page.unread,
    }
    if fragment:  # after an action by htmx: the list, and the bell swapped out of band
        return render(request, "inbox/list.html#inbox", {**context, "bell_oob": True})
    return render(request, "inbox/list.html", context)


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """/notifications/?show=all|unread&page=N"""
    return _inbox(request, request.GET, fragment=False)


def _back(request: HttpRequest) -> HttpResponse:
    """After an action: the inbox as the page showed it (`query`), as a fragment for htmx or
    by a redirect."""
    params = QueryDict(request.POST.get("query", ""))
    if request.htmx:
        return _inbox(request, params, fragment=True)
    return redirect(f"{reverse('inbox:list')}?{params.urlencode()}")


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        notification_mark_read(user=request.user, notification_id=pk)
    except NotificationNotFound as exc:  # another's, or none: not there for this person
        raise Http404(exc.message) from exc
    return _back(request)


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    up_to = request.POST.get("up_to", "")
    notifications_mark_all_read(user=request.user, up_to_id=int(up_to) if up_to.isdigit() else None)
    return _back(request)
