"""The demo: its data and gold files (builder), a day of the shop's life planned with its gold
(plan) and played through IMS's real endpoints and services (day), and the stand-in shop the
demo's Shopify channel pushes to (standin)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from orchestration.demo.builder import INGEST_ORDER, DemoBuilder
from orchestration.demo.plan import day_plan

__all__ = ["INGEST_ORDER", "build_demo"]


def build_demo(
    folder: Path, *, today: dt.date, day_at: dt.datetime | None = None
) -> dict[str, Path]:
    """Write the demo's input files and gold files into `folder`; return the inputs by kind.
    With `day_at` (the moment the day ends, aware UTC) the demo's day is planned too
    (`day.json`) and the gold is what IMS must show after it has been played."""
    builder = DemoBuilder(today)
    builder.build_catalog()
    builder.build_negative_stock()
    builder.build_prices()
    builder.build_listings()
    if day_at is not None:
        plan = day_plan(builder, day_at)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "day.json").write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    return builder.write(folder)
