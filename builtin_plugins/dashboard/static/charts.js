// Draws the usage page's chart with the vendored uPlot from the figures in data-chart
// ([[ISO day, requests, cost], ...]); the same figures are in the table beside it.
"use strict";

(() => {
  const HEIGHT = 260;

  function options(element, width) {
    const currency = element.dataset.currency || "";
    return {
      width,
      height: HEIGHT,
      scales: { x: { time: true }, cost: { auto: true } },
      axes: [
        {},
        { label: "Requests" },
        { label: `Cost ${currency}`, scale: "cost", side: 1, grid: { show: false } },
      ],
      series: [
        {},
        { label: "Requests", stroke: "#1f77b4", width: 2, fill: "rgba(31,119,180,0.1)" },
        { label: `Cost (${currency})`, stroke: "#d62728", width: 2, scale: "cost" },
      ],
    };
  }

  function draw(element) {
    const rows = JSON.parse(element.dataset.chart || "[]");
    const data = [
      rows.map((row) => Date.parse(`${row[0]}T00:00:00Z`) / 1000),
      rows.map((row) => row[1]),
      rows.map((row) => row[2]),
    ];
    const width = () => Math.max(240, element.clientWidth);
    const plot = new window.uPlot(options(element, width()), data, element);
    window.addEventListener("resize", () => plot.setSize({ width: width(), height: HEIGHT }));
  }

  function start() {
    if (!window.uPlot) return;
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
