"""What the stock flows share: their lines summed per product (transfers and vendor returns
here; POS sales in orders)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from inventory.errors import InvalidLines


def lines_summed(lines: Sequence[tuple[int, int]]) -> dict[int, int]:
    """(product_id, quantity) pairs summed per product; refuses a non-positive quantity."""
    total: dict[int, int] = defaultdict(int)
    problems = {}
    for index, (product_id, quantity) in enumerate(lines):
        if quantity <= 0:
            problems[f"lines[{index}].quantity"] = "must be a positive whole number"
        total[product_id] += quantity
    if problems:
        raise InvalidLines(problems)
    if not total:
        raise InvalidLines({"lines": "name at least one product"})
    return dict(total)
