"""Refusals are recorded: an authenticated user answered 403 leaves an audit event."""

from ims.audit import audit_record


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
