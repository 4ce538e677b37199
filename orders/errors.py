"""Errors of the order services."""

from rest_framework import status

from ims.errors import ApplicationError


class OrderError(ApplicationError):
    """An order action that cannot be done in the order's state (nothing was changed)."""

    code = "order_error"
    http_status = status.HTTP_409_CONFLICT


class OrderNotFound(ApplicationError):
    code = "order_not_found"
    http_status = status.HTTP_404_NOT_FOUND


class InvalidLines(ApplicationError):
    """Lines of a request that do not fit the order: a field message per line."""

    code = "invalid_lines"

    def __init__(self, problems: dict[str, str]):
        super().__init__(
            "; ".join(f"{k}: {v}" for k, v in problems.items()), extra={"fields": problems}
        )
