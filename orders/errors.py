"""Errors of the order services."""

from rest_framework import status

from ims.errors import ApplicationError
from inventory.errors import InvalidLines  # noqa: F401  (where it lives; the order services raise it too)


class OrderError(ApplicationError):
    """An order action that cannot be done in the order's state (nothing was changed)."""

    code = "order_error"
    http_status = status.HTTP_409_CONFLICT


class OrderNotFound(ApplicationError):
    code = "order_not_found"
    http_status = status.HTTP_404_NOT_FOUND
