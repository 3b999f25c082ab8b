// Draws the partner page's monthly chart with the vendored uPlot. The data comes from a
// JSON script element (amounts as exact decimal strings; Number() is for plotting only, the
// tables beside the chart show the exact values). window.partnerlinkChart exposes what was
// drawn so tests can check the chart holds data.
(function () {
  "use strict";
  var el = document.getElementById("chart");
  var src = document.getElementById("chart-data");
  if (!el || !src || typeof uPlot === "undefined") { return; }
  var d = JSON.parse(src.textContent);
  var colors = { PAL: "#0b5cad", CSP: "#1a7f37", DPOR: "#bf8700", CUA: "#8250df" };
  var xs = d.months.map(function (m) { return Date.UTC(+m.slice(0, 4), +m.slice(5, 7) - 1, 1) / 1000; });
  var data = [xs];
  var series = [{}];
  var points = 0;
  d.series.forEach(function (s) {
    data.push(s.values.map(function (v) { if (v === "") { return null; } points++; return Number(v); }));
    series.push({ label: s.label + " (" + d.currency + ")", stroke: colors[s.label] || "#555", width: 2,
      fill: (colors[s.label] || "#555") + "22", points: { show: true, size: 7 } });
  });
  window.partnerlinkChart = { months: d.months.length, series: d.series.length, points: points, drawn: false };
  if (points === 0) {
    el.textContent = "No attributed consumption in this period.";
    return;
  }
  function width() { return Math.max(280, el.clientWidth || 600); }
  var opts = {
    width: width(), height: window.innerWidth < 700 ? 240 : 320, series: series,
    scales: { x: { time: true } },
    // one tick per month of the data, labelled YYYY-MM (UTC)
    axes: [{ splits: function () { return xs; }, values: function (u, splits) { return splits.map(function (v) {
      var t = new Date(v * 1000); return t.getUTCFullYear() + "-" + String(t.getUTCMonth() + 1).padStart(2, "0"); }); } },
      { size: 70 }],
    hooks: { draw: [function () { window.partnerlinkChart.drawn = true; }] }
  };
  var plot = new uPlot(opts, data, el);
  window.addEventListener("resize", function () { plot.setSize({ width: width(), height: window.innerWidth < 700 ? 240 : 320 }); });
}());
