"""Plotly figures for the SLA page: plain data in, a figure out, no queries."""

from __future__ import annotations

import plotly.graph_objects as go

from ims.charts import figure_html

_LAYOUT = {
    "margin": {"l": 50, "r": 50, "t": 40, "b": 60},
    "height": 320,
    "template": "plotly_white",
    "font": {"family": "system-ui, sans-serif", "size": 12},
}

__all__ = ["breach_rate_figure", "dispatch_time_figure", "figure_html"]


def breach_rate_figure(
    title: str, labels: list[str], rates: list[float], clocks: list[int]
) -> go.Figure:
    """Breach rate % per store or channel, with how many clocks it is out of."""
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=rates,
            text=[f"{r:.1f} % of {n}" for r, n in zip(rates, clocks, strict=True)],
            textposition="auto",
            marker_color="#b42318",
        )
    )
    fig.update_layout(
        title=title,
        yaxis={"title": "breached %", "range": [0, 100]},
        xaxis={"type": "category"},
        **_LAYOUT,
    )
    return fig


def dispatch_time_figure(title: str, labels: list[str], hours: list[float]) -> go.Figure:
    """Mean time to dispatch (hours, counted in each clock's calendar) per store or channel."""
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=hours,
            text=[f"{h:.2f} h" for h in hours],
            textposition="auto",
            marker_color="#2457c5",
        )
    )
    fig.update_layout(
        title=title,
        yaxis={"title": "hours", "rangemode": "tozero"},
        xaxis={"type": "category"},
        **_LAYOUT,
    )
    return fig
