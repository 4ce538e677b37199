"""Refusals are recorded: an authenticated user answered 403 leaves an audit event; a body
too large is answered in the JSON error shape."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from ims.audit import audit_record

log = logging.getLogger("ims.requests")


class DeniedAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code == 403 and user is not None and user.is_authenticated:
            match = getattr(request, "resolver_match", None)
            audit_record(
                actor=user,
                action="access_denied",
                object_type="view",
                object_id=(match.view_name if match else "")[:64],
                object_repr=f"{request.method} {request.path}"[:255],
                reason="the user's role does not allow this",
            )
        return response


class BodyTooLargeMiddleware:
    """A request body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 in the JSON error shape
    (Django's own answer is its HTML 400 page, which a webhook sender or API client cannot
    read). It is raised when a view reads the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RequestDataTooBig):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        log.warning("request body too large: %s %s", request.method, request.path)
        return JsonResponse(
            {
                "code": "body_too_large",
                "message": f"the request body is larger than {limit} bytes",
                "extra": {"limit": limit},
            },
            status=413,
        )
