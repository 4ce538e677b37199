"""The evaluator: what reconcile found against the gold files, per discrepancy kind."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from exceptions.models import Discrepancy
from exceptions.selectors import open_exceptions
from ims.money import money, percent

FIGURES = (
    "skus_checked",
    "skus_aligned",
    "accuracy",
    "exceptions",
    "pairs_checked",
    "pairs_with_exception",
    "exception_rate",
    "exposure",
    "oversell_skus",
    "by_discrepancy",
)


@dataclass
class KindScore:
    discrepancy: str
    gold: int = 0
    found: int = 0
    matched: int = 0

    @property
    def precision(self) -> Decimal:
        return percent(self.matched, self.found) if self.found else Decimal("100.0")

    @property
    def recall(self) -> Decimal:
        return percent(self.matched, self.gold) if self.gold else Decimal("100.0")


@dataclass
class Evaluation:
    kinds: list[KindScore]
    figures: list[tuple[str, object, object]]  # name, gold, found
    missed: list[tuple] = field(default_factory=list)
    unexpected: list[tuple] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(k.precision == 100 and k.recall == 100 for k in self.kinds) and all(
            gold == found for _, gold, found in self.figures
        )


def _found() -> dict[tuple[str, str, str], tuple[str, str, str]]:
    rows = (
        open_exceptions()
        .select_related("channel")
        .only(
            "sku_id", "channel__code", "discrepancy", "expected", "actual", "exposure", "currency"
        )
    )
    return {
        (e.sku_id, e.channel.code if e.channel_id else "", e.discrepancy): (
            e.expected,
            e.actual,
            money(e.exposure, e.currency),
        )
        for e in rows
    }


def evaluate(*, gold_dir: Path, figures: dict) -> Evaluation:
    with (gold_dir / "gold-exceptions.csv").open(encoding="utf-8") as handle:
        gold = {
            (r["sku_id"], r["channel"], r["discrepancy"]): (
                r["expected"],
                r["actual"],
                r["exposure"],
            )
            for r in csv.DictReader(handle)
        }
    gold_figures = json.loads((gold_dir / "gold-scorecard.json").read_text(encoding="utf-8"))
    found = _found()
    kinds = {d: KindScore(d) for d in Discrepancy.values}
    for key, value in gold.items():
        kinds[key[2]].gold += 1
        if found.get(key) == value:
            kinds[key[2]].matched += 1
    for key in found:
        kinds[key[2]].found += 1
    return Evaluation(
        kinds=[k for k in kinds.values() if k.gold or k.found],
        figures=[(name, gold_figures.get(name), figures.get(name)) for name in FIGURES],
        missed=sorted((*k, *v, found.get(k)) for k, v in gold.items() if found.get(k) != v),
        unexpected=sorted((*k, *v) for k, v in found.items() if k not in gold),
    )
