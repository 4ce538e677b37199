"""Price rules: one policy per category (the `*` row is the default), and the checks.

A category's blank field inherits the default's value. All limits are inclusive:
  offer ≤ MRP                                   (above_mrp)
  offer ≥ cost × (1 + min_margin_pct / 100)     (min_margin)
  (MRP − offer) / MRP × 100 ≤ max_discount_pct  (max_discount)
  a luxury category is not sold on its excluded channels (luxury_channel)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from catalog.models import Category
from ims.money import money


@dataclass(frozen=True)
class PricePolicy:
    max_discount_pct: Decimal | None = None
    min_margin_pct: Decimal | None = None
    luxury: bool = False
    excluded_channels: frozenset[str] = field(default_factory=frozenset)

    def withholds(self, channel_code: str) -> bool:
        """True when this category may not be sold on the channel."""
        return self.luxury and channel_code in self.excluded_channels


def _first(*values):
    for value in values:
        if value is not None:
            return value
    return None


def policy_of(category: Category, default: Category | None) -> PricePolicy:
    base = default or Category(name=Category.DEFAULT)
    return PricePolicy(
        max_discount_pct=_first(category.max_discount_pct, base.max_discount_pct),
        min_margin_pct=_first(category.min_margin_pct, base.min_margin_pct),
        luxury=bool(_first(category.luxury, base.luxury, False)),
        excluded_channels=frozenset(_first(category.excluded_channels, base.excluded_channels, [])),
    )


def policies() -> dict[int, PricePolicy]:
    """The policy in force for every category, by category id."""
    categories = list(Category.objects.all())
    default = next((c for c in categories if c.name == Category.DEFAULT), None)
    return {c.id: policy_of(c, default) for c in categories}


def price_rule_check(
    *, offer: Decimal, mrp: Decimal, cost: Decimal, policy: PricePolicy
) -> str | None:
    """The first rule an offer price breaks, in the order above, or None."""
    if offer > mrp:
        return "above_mrp"
    if policy.min_margin_pct is not None and offer < cost * (1 + policy.min_margin_pct / 100):
        return "min_margin"
    if (
        policy.max_discount_pct is not None
        and mrp > 0
        and (mrp - offer) * 100 > policy.max_discount_pct * mrp
    ):
        return "max_discount"
    return None


def explain(
    rule: str, *, offer: Decimal, mrp: Decimal, cost: Decimal, policy: PricePolicy, currency: str
) -> str:
    """A person's reading of why `offer` breaks `rule`, with the figures that decide it."""
    if rule == "above_mrp":
        return f"offer {money(offer, currency)} is above the MRP {money(mrp, currency)}"
    if rule == "min_margin":
        floor = cost * (1 + policy.min_margin_pct / 100)
        return (
            f"offer {money(offer, currency)} is below cost {money(cost, currency)} plus the "
            f"{policy.min_margin_pct.normalize():f} % minimum margin ({floor.normalize():f})"
        )
    if rule == "max_discount":
        discount = (mrp - offer) * 100 / mrp
        kind = "luxury category's" if policy.luxury else "category's"
        return (
            f"discount {discount.quantize(Decimal('0.01'))} % from MRP {money(mrp, currency)} "
            f"is beyond the {kind} cap of {policy.max_discount_pct.normalize():f} %"
        )
    return rule
