"""The one error type of IMS, and how it is shown to an API client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A refused operation: what went wrong, a stable code, and data about it."""

    code = "error"
    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}


@dataclass(frozen=True)
class RowError:
    """A problem in an input file, told as `file:line: column: reason`."""

    path: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.column}: {self.reason}"


class FileRejected(ApplicationError):
    """An input file with bad rows: nothing of it was applied."""

    code = "file_rejected"

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(
            f"{len(errors)} problem(s); nothing of the file was applied",
            extra={"errors": [str(e) for e in errors]},
        )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every API error as {"code", "message", "extra"}."""
    if isinstance(exc, ApplicationError):
        return Response(
            {"code": exc.code, "message": exc.message, "extra": exc.extra},
            status=exc.http_status,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(detail, dict) and "detail" in detail:
        message, extra = str(detail["detail"]), {}
        code = getattr(detail["detail"], "code", code)
    else:
        message, extra = "Invalid input.", {"fields": detail}
    response.data = {"code": code, "message": message, "extra": extra}
    return response


class NotAllowed(ApplicationError):
    """The acting user's role does not allow this."""

    code = "not_allowed"
    http_status = status.HTTP_403_FORBIDDEN


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 (handler404): under /api/ in the error shape, as any other API error."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": "No such address in the API.", "extra": {}},
            status=404,
        )
    return defaults.page_not_found(request, exception)
