// Draws every chart on the page: exceptions/charts.py's figure_html writes each figure as a
// <div data-plotly="{json}">, with no inline script (the Content Security Policy allows none).
(function () {
  "use strict";
  const config = { displaylogo: false, responsive: true, displayModeBar: false };
  function draw() {
    document.querySelectorAll("[data-plotly]:not([data-drawn])").forEach((div) => {
      const figure = JSON.parse(div.dataset.plotly);
      div.dataset.drawn = "";
      Plotly.newPlot(div, figure.data, figure.layout, config).then(() => {
        // A bar that carries a link (its customdata) opens it: the scorecard's drill-down.
        div.on("plotly_click", (event) => {
          const link = event.points.length && event.points[0].customdata;
          if (typeof link === "string" && link.startsWith("/")) { window.location.assign(link); }
        });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
