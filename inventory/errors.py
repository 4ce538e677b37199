"""Errors of the stock services."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rest_framework import status

from ims.errors import ApplicationError


@dataclass(frozen=True)
class Short:
    """A move that would take a state below zero: `wanted` units, `have` there."""

    product_id: int
    location_id: int
    state: str
    wanted: int
    have: int


class InsufficientStock(ApplicationError):
    """A stock change would take a state below zero; nothing was written."""

    code = "insufficient_stock"
    http_status = status.HTTP_409_CONFLICT

    def __init__(self, shortfalls: list[Short], message: str | None = None):
        self.shortfalls = shortfalls
        first = shortfalls[0]
        super().__init__(
            message
            or (
                f"not enough {first.state} stock: {first.wanted} wanted, {first.have} there"
                + (f" (and {len(shortfalls) - 1} more)" if len(shortfalls) > 1 else "")
            ),
            extra={"shortfalls": [asdict(s) for s in shortfalls]},
        )


class StockTooLarge(ApplicationError):
    """A stock change would take a state past the largest count a level holds (2³¹ − 1);
    nothing was written."""

    code = "stock_too_large"
    http_status = status.HTTP_409_CONFLICT

    def __init__(self, *, product_id: int, location_id: int, state: str):
        super().__init__(
            f"{state} stock would exceed {2**31 - 1} units",
            extra={"product_id": product_id, "location_id": location_id, "state": state},
        )


class InvalidLines(ApplicationError):
    """Lines of a request (an order's, a transfer's, a vendor return's …) that do not fit:
    a field message per line."""

    code = "invalid_lines"

    def __init__(self, problems: dict[str, str]):
        super().__init__(
            "; ".join(f"{k}: {v}" for k, v in problems.items()), extra={"fields": problems}
        )


class FlowError(ApplicationError):
    """A transfer or vendor-return action that cannot be done in its state (nothing was
    changed): a transfer received twice, a vendor return closed twice."""

    code = "flow_error"
    http_status = status.HTTP_409_CONFLICT
