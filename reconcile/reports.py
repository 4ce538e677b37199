"""The three report files: exceptions.csv, sku-rollup.csv and scorecard.html."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from exceptions.models import Discrepancy, ReconcileRun
from exceptions.selectors import exceptions_for_report, reconcile_history
from ims.charts import figure_html
from ims.csvio import csv_writer, neutralise, write_csv
from ims.money import money
from reconcile import charts
from reconcile.selectors import Scorecard, scorecard_summary

# plotly.js's basic bundle, inlined so scorecard.html opens offline (see ims/settings.py).
PLOTLY_JS = "vendor/plotly-basic/plotly-basic.min.js"

EXCEPTION_COLUMNS = (
    "sku_id",
    "channel",
    "discrepancy",
    "expected",
    "actual",
    "status",
    "location",
    "exposure",
    "currency",
    "first_seen",
    "last_seen",
    "source",
)
# The exceptions' fields the columns are read from (a channel and a location by code).
_EXCEPTION_FIELDS = [
    {"channel": "channel__code", "location": "location__code"}.get(c, c) for c in EXCEPTION_COLUMNS
]


def _iso(value) -> str:
    return value.astimezone(timezone.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def exception_rows(queryset=None) -> Iterator[list[str]]:
    """exceptions.csv rows for open and acknowledged exceptions, in report order."""
    rows = exceptions_for_report(queryset).values_list(*_EXCEPTION_FIELDS)
    # sku_id … location are text (a missing channel or location blank), then the amount and dates.
    for *text, exposure, currency, first, last, source in rows.iterator(chunk_size=5000):
        yield [
            *(value or "" for value in text),
            money(exposure, currency),
            currency,
            _iso(first),
            _iso(last),
            source,
        ]


class RollupWriter:
    """sku-rollup.csv, written row by row while reconcile streams, renamed into place on success."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.handle = None

    def open(self, channel_codes: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.tmp.open("w", encoding="utf-8", newline="")
        # Only the text people typed (codes, SKUs, names) can read as a spreadsheet formula:
        # those cells go through `neutralise`; IMS's own numbers and words are written as they are.
        self.writer = csv_writer(self.handle, verbatim=True)
        header = ["sku_id", "name", "available", "price"]
        for code in channel_codes:
            header += [f"{code}_quantity", f"{code}_price", f"{code}_aligned"]
        self.writer.writerow([neutralise(cell) for cell in header])

    def write(self, sku: str, name: str, available: int, price: str, cells) -> None:
        row = [neutralise(sku), neutralise(name), available, price]
        for quantity, shown_price, aligned in cells:
            row += ["" if quantity is None else quantity, shown_price, "yes" if aligned else "no"]
        self.writer.writerow(row)

    def commit(self) -> None:
        if self.handle:
            self.handle.close()
            self.tmp.replace(self.path)
            self.handle = None

    def discard(self) -> None:
        if self.handle:
            self.handle.close()
            self.tmp.unlink(missing_ok=True)
            self.handle = None


def exceptions_link(**filters: str) -> str:
    """The triage page filtered so (the scorecard's drill-down)."""
    return f"{reverse('exceptions:list')}?{urlencode(filters)}"


def scorecard_charts(
    card: Scorecard, runs: list[ReconcileRun], *, links: bool = False
) -> dict[str, str]:
    """The scorecard's plotly figures as HTML fragments (without plotly.js); `links`: each
    bar opens its exceptions (on the site; the offline report has no site to open)."""
    currencies = sorted({c for ch in card.channels for c in ch.exposure} | set(card.exposure))
    currency = currencies[0] if currencies else ""
    trend = [
        (
            f"#{run.pk} {run.started_at:%m-%d %H:%M}",
            Decimal(run.figures.get("accuracy", "0")),
            int(run.figures.get("exceptions", 0)),
        )
        for run in runs
    ]
    by_channel = [ch.exposure.get(currency, Decimal(0)) for ch in card.channels]
    kinds = [d for d in Discrepancy if d.value in card.exposure_by_discrepancy]
    by_kind = [card.exposure_by_discrepancy[d.value].get(currency, Decimal(0)) for d in kinds]
    accuracy = [ch.accuracy for ch in card.channels]
    codes = [ch.code for ch in card.channels]
    channel_links = [exceptions_link(channel=c, sort="exposure") for c in codes] if links else None
    figures = {
        "exposure_by_channel": charts.bar_figure(
            f"Revenue exposure by channel ({currency})",
            codes,
            by_channel,
            currency,
            [money(v, currency) for v in by_channel],
            channel_links,
        ),
        "exposure_by_discrepancy": charts.bar_figure(
            f"Revenue exposure by discrepancy ({currency})",
            [d.label for d in kinds],
            by_kind,
            currency,
            [money(v, currency) for v in by_kind],
            [exceptions_link(discrepancy=d.value, sort="exposure") for d in kinds]
            if links
            else None,
        ),
        "accuracy_by_channel": charts.bar_figure(
            "Sync accuracy by channel (%)",
            codes,
            accuracy,
            "%",
            [f"{v} %" for v in accuracy],
            channel_links,
        ),
    }
    # One run is no trend (a single full-width bar): the chart waits for the second.
    if len(trend) > 1:
        figures = {"trend": charts.trend_figure(trend)} | figures
    return {
        name: figure_html(fig, f"chart-{name.replace('_', '-')}") for name, fig in figures.items()
    }


def scorecard_context(card: Scorecard | None = None, *, links: bool = False) -> dict:
    """The scorecard's figures and charts; `links`: every figure, row and bar opens the
    matching exceptions (the page; the offline report has no site to link to)."""
    card = card or scorecard_summary()
    runs = reconcile_history()
    return {
        "card": card,
        "runs": runs,
        "links": links,
        "charts": scorecard_charts(card, runs, links=links),
        "discrepancies": [(d, card.by_discrepancy.get(d.value, 0)) for d in Discrepancy],
        "generated_at": timezone.now(),
    }


def write_reports(
    *, out_dir: Path, run: ReconcileRun | None = None, card: Scorecard | None = None
) -> dict[str, Path]:
    """exceptions.csv and scorecard.html as of now (sku-rollup.csv is written by reconcile as it streams)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"exceptions": out_dir / "exceptions.csv", "scorecard": out_dir / "scorecard.html"}
    write_csv(paths["exceptions"], EXCEPTION_COLUMNS, exception_rows())
    context = scorecard_context(card) | {
        "run": run,
        "plotly_js": Path(finders.find(PLOTLY_JS)).read_text(encoding="utf-8"),
        "charts_js": Path(finders.find("ims/charts.js")).read_text(encoding="utf-8"),
    }
    html = render_to_string("exceptions/scorecard_report.html", context)
    tmp = paths["scorecard"].with_name(".scorecard.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(paths["scorecard"])
    return paths
