"""Plotly figures for the SLA page: plain data in, a figure out, no queries."""

from __future__ import annotations

import plotly.graph_objects as go

from ims.charts import LAYOUT, figure_html

_LAYOUT = {**LAYOUT, "margin": {"l": 50, "r": 50, "t": 40, "b": 60}}

__all__ = ["breach_rate_figure", "dispatch_time_figure", "figure_html"]


def breach_rate_figure(
    title: str, labels: list[str], rates: list[float], clocks: list[int]
) -> go.Figure:
    """Breach rate % per store or channel, with how many clocks it is out of."""
    texts = [f"{r:.1f} % of {n}" for r, n in zip(rates, clocks, strict=True)]
    return _bars(title, labels, rates, texts, "#b42318", {"title": "breached %", "range": [0, 100]})


def dispatch_time_figure(title: str, labels: list[str], hours: list[float]) -> go.Figure:
    """Mean time to dispatch (hours, counted in each clock's calendar) per store or channel."""
    texts = [f"{h:.2f} h" for h in hours]
    return _bars(title, labels, hours, texts, "#2457c5", {"title": "hours", "rangemode": "tozero"})


def _bars(title: str, labels, values, texts, colour: str, yaxis: dict) -> go.Figure:
    """One bar per store or channel, its value written on it."""
    fig = go.Figure(
        go.Bar(x=labels, y=values, text=texts, textposition="auto", marker_color=colour)
    )
    fig.update_layout(title=title, yaxis=yaxis, xaxis={"type": "category"}, **_LAYOUT)
    return fig
