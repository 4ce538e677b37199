"""A Plotly figure on a page: the <div> that static/ims/charts.js draws (every app's charts)."""

from __future__ import annotations

import plotly.graph_objects as go
from django.utils.html import format_html

# The look every chart shares.
LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 60},
    "height": 320,
    "template": "plotly_white",
    "font": {"family": "system-ui, sans-serif", "size": 12},
}


def figure_html(fig: go.Figure, div_id: str) -> str:
    """The figure as a <div> carrying its data as JSON; static/ims/charts.js draws it with
    plotly.js (both included once by the page). No inline script: the Content Security
    Policy runs none without the page's nonce."""
    return format_html('<div id="{}" data-plotly="{}"></div>', div_id, fig.to_json())
