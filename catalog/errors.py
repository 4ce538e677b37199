"""The catalog's refusals: a price that breaks a rule, a change that cannot be made."""

from __future__ import annotations

from ims.errors import ApplicationError


class PriceRuleBroken(ApplicationError):
    """A price change refused by a price rule; `rule` names it (above_mrp, min_margin, max_discount)."""

    code = "price_rule_violation"

    def __init__(self, *, rule: str, explanation: str, sku: str, offer: str, mrp: str):
        self.rule = rule
        super().__init__(
            f"{rule}: {explanation}",
            extra={"rule": rule, "sku_id": sku, "offer": offer, "mrp": mrp},
        )


class _FieldInvalid(ApplicationError):
    """An input that cannot be used; `field` names it."""

    code = "invalid"

    def __init__(self, message: str, *, field: str):
        self.field = field
        super().__init__(message, extra={"field": field})


class PriceChangeInvalid(_FieldInvalid):
    """A price change that cannot be read or made (bad amount, past date, no reason)."""


class ApprovalNotPending(ApplicationError):
    """Approving or refusing a price that is not waiting for approval."""

    code = "not_pending"
    http_status = 409


class PriceRuleInvalid(_FieldInvalid):
    """A price rule edit with a bad value."""


class ProductRefused(ApplicationError):
    """A product that cannot be created or edited as asked (SKU, barcode, its first price)."""

    code = "product_refused"
