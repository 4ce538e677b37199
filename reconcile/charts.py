"""Plotly figures for the scorecard: plain data in, a figure out, no queries."""

from __future__ import annotations

from decimal import Decimal

import plotly.graph_objects as go

from ims.charts import LAYOUT


def trend_figure(points: list[tuple[str, Decimal, int]]) -> go.Figure:
    """Sync accuracy % and open exceptions over runs: (run label, accuracy, exceptions)."""
    labels = [p[0] for p in points]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=[float(p[1]) for p in points],
            name="Sync accuracy %",
            mode="lines+markers",
            yaxis="y",
        )
    )
    fig.add_trace(
        go.Bar(x=labels, y=[p[2] for p in points], name="Open exceptions", yaxis="y2", opacity=0.35)
    )
    fig.update_layout(
        title="Trend over runs",
        yaxis={"title": "accuracy %", "range": [0, 100]},
        yaxis2={"title": "exceptions", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        xaxis={"type": "category"},
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    return fig


def bar_figure(
    title: str,
    labels: list[str],
    values: list[Decimal],
    axis: str,
    texts: list[str],
    links: list[str] | None = None,
) -> go.Figure:
    """Bars with their exact values (already formatted) written on them; `links`: the page
    each bar opens (static/ims/charts.js follows a bar's customdata when clicked)."""
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[float(v) for v in values],
            text=texts,
            textposition="auto",
            customdata=links,
            hovertemplate="%{x}: %{text}"
            + ("<br>click for its exceptions" if links else "")
            + "<extra></extra>",
        )
    )
    fig.update_layout(title=title, yaxis={"title": axis, "rangemode": "tozero"}, **LAYOUT)
    return fig
