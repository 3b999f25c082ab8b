// Draws the partner page's monthly charts with the vendored uPlot: one chart per currency
// (small multiples; currencies are never mixed on one axis and none is left out). The data
// comes from a JSON script element (amounts as exact decimal strings; Number() is for plotting
// only, the tables below show the values). window.partnerlinkChart exposes what was drawn so
// tests can check every chart holds data.
(function () {
  "use strict";
  var box = document.getElementById("charts");
  var src = document.getElementById("chart-data");
  if (!box || !src || typeof uPlot === "undefined") { return; }
  var d = JSON.parse(src.textContent);
  var colors = { PAL: "#0b5cad", CSP: "#1a7f37", DPOR: "#9a6700", CUA: "#8250df", TAG: "#bc4c00", RESALE: "#0a7ea4", MARKETPLACE: "#bf3989" };
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var state = { charts: [], points: 0, series: 0, drawn: false };
  window.partnerlinkChart = state;
  if (d.charts.length === 0) {
    box.textContent = "No attributed consumption in this period.";
    return;
  }
  function fmt(v) {
    return v == null ? "" : v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  d.charts.forEach(function (c) {
    var fig = document.createElement("figure");
    fig.className = "chart-fig";
    fig.setAttribute("data-currency", c.currency);
    var cap = document.createElement("figcaption");
    cap.innerHTML = "";
    var b = document.createElement("strong");
    b.textContent = c.currency;
    cap.appendChild(b);
    cap.appendChild(document.createTextNode(" · total "));
    var tot = document.createElement("span");
    tot.className = "chart-total";
    tot.title = c.total + " " + c.currency + " (exact)";
    tot.textContent = c.display;
    cap.appendChild(tot);
    fig.appendChild(cap);
    var el = document.createElement("div");
    el.className = "chart-box";
    fig.appendChild(el);
    box.appendChild(fig);

    var xs = c.months.map(function (m) { return Date.UTC(+m.slice(0, 4), +m.slice(5, 7) - 1, 1) / 1000; });
    var data = [xs], points = 0;
    var series = [{ label: "Month", value: function (u, v) {
      if (v == null) { return "–"; }
      var t = new Date(v * 1000); return MONTHS[t.getUTCMonth()] + " " + t.getUTCFullYear(); } }];
    c.series.forEach(function (s) {
      data.push(s.values.map(function (v) { if (v === "") { return null; } points++; return Number(v); }));
      series.push({ label: s.label, stroke: colors[s.label] || "#555", width: 2, value: function (u, v) { return fmt(v); },
        fill: (colors[s.label] || "#555") + "22", points: { show: true, size: 7 } });
    });
    var st = { currency: c.currency, total: c.total, months: c.months.length, series: c.series.length, points: points, drawn: false };
    state.charts.push(st);
    state.points += points;
    state.series += c.series.length;
    if (points === 0) { el.textContent = "No attributed consumption in " + c.currency + "."; return; }
    function width() { return Math.max(260, el.clientWidth || 600); }
    function height() { return window.innerWidth < 700 ? 220 : 280; }
    var opts = {
      width: width(), height: height(), series: series,
      scales: { x: { time: true } },
      // one tick per month: "Apr" with the year under the first month and under each January
      axes: [{ splits: function () { return xs; }, size: 50, values: function (u, splits) { return splits.map(function (v, i) {
        var t = new Date(v * 1000), m = MONTHS[t.getUTCMonth()];
        return i === 0 || t.getUTCMonth() === 0 ? m + "\n" + t.getUTCFullYear() : m; }); } },
        { size: 80, values: function (u, vals) { return vals.map(function (v) { return v.toLocaleString("en-US"); }); } }],
      hooks: { draw: [function () { st.drawn = true; state.drawn = true; }] }
    };
    var plot = new uPlot(opts, data, el);
    window.addEventListener("resize", function () { plot.setSize({ width: width(), height: height() }); });
  });
}());
