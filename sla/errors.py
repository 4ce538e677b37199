"""Errors of the SLA services."""

from rest_framework import status

from ims.errors import ApplicationError


class SlaError(ApplicationError):
    """An SLA action that does not fit the clock's or task's state (nothing was changed)."""

    code = "sla_error"
    http_status = status.HTTP_409_CONFLICT
