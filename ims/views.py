"""What every app's form-post views share: do the action, say how it went, go back."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from ims.errors import ApplicationError


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """To the page named in the form's `next` (this site only), else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def post_action(request: HttpRequest, action, success: str, fallback: str) -> HttpResponse:
    """Run `action`; its ApplicationError becomes an error message (403 kept), else `success`."""
    try:
        action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
        if exc.http_status == 403:
            response = redirect_back(request, fallback)
            response.status_code = 403
            return response
    else:
        messages.success(request, success)
    return redirect_back(request, fallback)
