"""The SLA page's charts: its breach figures in, plotly <div>s out, no queries."""

from __future__ import annotations

import plotly.graph_objects as go

from ims.charts import LAYOUT, figure_html
from sla.selectors import BreachStat

_LAYOUT = {**LAYOUT, "margin": {"l": 50, "r": 50, "t": 40, "b": 60}}


def breach_charts(label: str, stats: list[BreachStat], days: int) -> list[str]:
    """Per store or channel (`label`): the breach rate, with how many clocks it is out of, and
    the mean time to dispatch (hours, counted in each clock's calendar), as the page's <div>s
    (none without data)."""
    charts = []
    if stats:
        fig = _bars(
            f"Breach rate by {label}, last {days} days",
            [s.label for s in stats],
            [s.rate for s in stats],
            [f"{s.rate:.1f} % of {s.clocks}" for s in stats],
            "#b42318",
            {"title": "breached %", "range": [0, 100]},
        )
        charts.append(figure_html(fig, f"breach-rate-{label}"))
    timed = [s for s in stats if s.dispatch_hours is not None]
    if timed:
        fig = _bars(
            f"Mean time to dispatch by {label}, last {days} days",
            [s.label for s in timed],
            [s.dispatch_hours for s in timed],
            [f"{s.dispatch_hours:.2f} h" for s in timed],
            "#2457c5",
            {"title": "hours", "rangemode": "tozero"},
        )
        charts.append(figure_html(fig, f"dispatch-time-{label}"))
    return charts


def _bars(title: str, labels, values, texts, colour: str, yaxis: dict) -> go.Figure:
    """One bar per store or channel, its value written on it."""
    fig = go.Figure(
        go.Bar(x=labels, y=values, text=texts, textposition="auto", marker_color=colour)
    )
    fig.update_layout(title=title, yaxis=yaxis, xaxis={"type": "category"}, **_LAYOUT)
    return fig
