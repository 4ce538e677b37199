"""What every app's views share: do a form's action, say how it went, go back; page links;
CSV downloads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ims.csvio import csv_chunks
from ims.errors import ApplicationError


def form_errors_from(form, exc: ApplicationError) -> None:
    """A service's refusal onto the form that asked: each field it names (`extra["fields"]`,
    a message or a list of them) on that field (the form's own errors where the form has no
    such field), else its message as the form's error."""
    fields = exc.extra.get("fields", {})
    for name, errors in fields.items():
        for error in [errors] if isinstance(errors, str) else errors:
            form.add_error(name if name in form.fields else None, error)
    if not fields:
        form.add_error(None, exc.message)


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """To the page named in the form's `next` (this site only), else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def csv_download(header, rows, filename: str) -> StreamingHttpResponse:
    """A page's CSV download of `header` and `rows`, streamed, saved as `filename`."""
    response = StreamingHttpResponse(
        csv_chunks(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def list_page(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """A list page, or only its #results partial when htmx swaps them (what sits outside
    #results — the export link, the messages — then comes out of band: `oob`)."""
    if request.htmx and request.htmx.target == "results":
        return render(request, f"{template}#results", {**context, "oob": True})
    return render(request, template, context, status=status)


def query_without(request: HttpRequest, *names: str) -> str:
    """The page's query string without the parameters `names` (for links that set them)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


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


def object_action(model, permission: str, act, success: str, fallback: str):
    """A form-post view on the `model` row its URL names (`pk`), for holders of `permission`:
    post_action of `act(row, request)`. `success` and `fallback` are formatted with the row
    (`{row.pk}`) as it is before the action."""

    @login_required
    @permission_required(permission, raise_exception=True)
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        row = get_object_or_404(model, pk=pk)
        return post_action(
            request,
            lambda: act(row, request),
            success.format(row=row),
            fallback.format(row=row),
        )

    return view
