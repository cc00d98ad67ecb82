"""The report page's stylesheet and script, kept as strings so the wheel needs no data files.

The script draws every chart from the embedded JSON (``#data``) with ``Plotly.newPlot``.
Two rules keep logged strings inert: text that reaches Plotly goes through ``pe`` (Plotly
parses a small HTML subset and HTML entities in labels; escaping ``& < >`` makes it show
the text as written), and text that reaches the DOM goes through ``textContent`` only,
never ``innerHTML``.
"""

from __future__ import annotations

__all__ = ["APP_JS", "CSS"]

CSS = """
:root { --fg: #1b1f24; --muted: #5b6570; --line: #d8dde3; --bg: #fff; --soft: #f5f7f9;
  --alert: #c62828; --warn: #b26a00; --ok: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: var(--muted); }
nav { margin-top: 8px; }
nav a { margin-right: 14px; color: #0b57d0; text-decoration: none; }
main { padding: 0 28px 40px; max-width: 1500px; }
section { margin-top: 26px; }
h2 { font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card b { display: block; font-size: 20px; }
.card.bad b { color: var(--alert); }
.card span { color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.msg { max-width: 760px; overflow-wrap: anywhere; }
td.zero { color: #b0b7bf; }
ol.incidents { padding-left: 1.4em; }
li.incident { margin: 0 0 10px; }
li.incident .sev { font-weight: 600; text-transform: uppercase; font-size: 12px; }
li.sev-critical .sev { color: var(--alert); }
li.sev-major .sev { color: var(--warn); }
li.incident .links a { margin-right: 6px; }
td.nw { white-space: nowrap; }
.scroll { max-height: 460px; overflow: auto; border: 1px solid var(--line); display: inline-block;
  max-width: 100%; }
.scroll table { margin: 0; }
.status-alert { color: var(--alert); font-weight: 600; }
.status-warn { color: var(--warn); font-weight: 600; }
.status-ok { color: var(--ok); }
.note { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
.chart { min-height: 280px; border: 1px solid var(--line); border-radius: 6px; }
.drill { min-height: 320px; border: 1px dashed var(--line); border-radius: 6px; margin-top: 10px; }
label.pick { display: inline-block; margin: 4px 0 8px; }
select { font: inherit; padding: 2px 4px; max-width: 420px; }
code { background: var(--soft); padding: 0 3px; border-radius: 3px; }
"""

APP_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var CONFIG = { displaylogo: false, responsive: true };
  var CAP = 3; // severity colour scale tops out at 3x the bound
  var BLUE = "#1f77b4", ORANGE = "#ff7f0e", RED = "#d62728";

  // Text for Plotly: it parses <b>, <br>, <a>, ... and &entities; in labels. Escaping
  // & < > makes it show the logged text as written.
  function pe(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function fmt(v) {
    if (v === null || v === undefined) { return "n/a"; }
    if (!isFinite(v)) { return String(v); }
    return String(Number(Number(v).toPrecision(4)));
  }
  function ts(s) { // ISO in UTC -> what Plotly's date axis reads
    return String(s).replace("T", " ").replace(/(Z|\+00:00)$/, "");
  }
  function sum(a) {
    var t = 0;
    for (var i = 0; i < a.length; i++) { t += a[i] || 0; }
    return t;
  }
  function byId(id) { return document.getElementById(id); }
  function severity(v, b) {
    if (v === null || v === undefined) { return null; }
    if (b) { return v / b; }
    return v > 0 ? Infinity : 0;
  }
  function baseLayout(extra) {
    var l = {
      margin: { l: 60, r: 20, t: 40, b: 40 },
      legend: { orientation: "h", y: -0.18 },
      font: { size: 12 },
      hovermode: "closest"
    };
    Object.keys(extra).forEach(function (k) { l[k] = extra[k]; });
    return l;
  }

  // ---- 2. confidence over time ---------------------------------------------------------
  function drawConfidence(i) {
    var div = byId("conf-" + i);
    if (!div) { return; }
    var s = D.stats[i];
    var x = s.x.map(ts);
    var up = [], lo = [], ax = [], ay = [];
    for (var w = 0; w < x.length; w++) {
      var m = s.rmean[w], v = s.rvar[w];
      var sd = (v === null || v === undefined) ? null : Math.sqrt(Math.max(v, 0));
      up.push(m === null || sd === null ? null : m + sd);
      lo.push(m === null || sd === null ? null : m - sd);
    }
    s.conf_alerts.forEach(function (w) { ax.push(x[w]); ay.push(s.mean[w]); });
    var traces = [
      { x: x, y: s.p90, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
      { x: x, y: s.p10, mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: "rgba(31,119,180,0.15)", name: "p10-p90", hoverinfo: "skip" },
      { x: x, y: up, mode: "lines", line: { width: 1, color: ORANGE, dash: "dot" },
        name: "rolling \u00b11 sd", legendgroup: "rsd", hoverinfo: "skip" },
      { x: x, y: lo, mode: "lines", line: { width: 1, color: ORANGE, dash: "dot" },
        legendgroup: "rsd", showlegend: false, hoverinfo: "skip" },
      { x: x, y: s.mean, mode: "lines+markers", name: "mean", line: { color: BLUE },
        marker: { size: 4 }, text: s.n.map(function (n) { return "n=" + n; }),
        hovertemplate: "%{x}<br>mean %{y:.3f}<br>%{text}<extra></extra>" },
      { x: x, y: s.rmean, mode: "lines", name: "rolling mean",
        line: { color: ORANGE, dash: "dash" }, hovertemplate: "rolling %{y:.3f}<extra></extra>" },
      { x: ax, y: ay, mode: "markers", name: "confidence_shift alert",
        marker: { symbol: "x", size: 12, color: RED, line: { width: 1, color: RED } },
        hovertemplate: "confidence_shift alert<br>%{x}<extra></extra>" }
    ];
    var shapes = [];
    if (D.reference.conf_mean !== null) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: D.reference.conf_mean,
        y1: D.reference.conf_mean, line: { color: "#777", dash: "dot", width: 1 } });
    }
    Plotly.newPlot(div, traces, baseLayout({
      title: { text: pe(D.scopes[i].label), font: { size: 14 } },
      yaxis: { title: { text: "confidence" } },
      legend: { orientation: "h", y: -0.18, traceorder: "normal" },
      xaxis: { type: "date" },
      shapes: shapes,
      height: 300
    }), CONFIG);
  }

  // ---- 3. predicted-class mix --------------------------------------------------------------
  function drawMix(i) {
    var div = byId("mix-chart");
    if (!div) { return; }
    var s = D.stats[i];
    var x = s.x.map(ts);
    var traces = D.classes.map(function (c, k) {
      var y = s.counts[k].map(function (cnt, w) { return s.n[w] ? 100 * cnt / s.n[w] : null; });
      return { x: x, y: y, name: pe(c), stackgroup: "one", mode: "lines", line: { width: 0.5 },
        hovertemplate: "%{y:.1f}%" };
    });
    Plotly.react(div, traces, baseLayout({
      title: { text: pe("predicted-class share, " + D.scopes[i].label), font: { size: 14 } },
      yaxis: { range: [0, 100], ticksuffix: "%", title: { text: "share of predictions" } },
      xaxis: { type: "date" },
      legend: { title: { text: "class" } },
      hovermode: "x unified",
      height: 380
    }), CONFIG);
  }

  // ---- 4. drift heatmap and drill-down -------------------------------------------------------
  function drawHeatmap(i) {
    var div = byId("drift-heatmap");
    if (!div) { return; }
    var d = D.drift[i];
    var x = d.x.map(ts);
    var y = D.rows.map(function (r) { return pe(r.label); });
    var z = [], text = [], ax = [], ay = [], wx = [], wy = [];
    for (var r = 0; r < D.rows.length; r++) {
      var zr = [], tr = [];
      for (var w = 0; w < x.length; w++) {
        var v = d.value[r][w], b = d.bound[r][w], st = d.status[r][w];
        var sev = severity(v, b);
        zr.push(sev === null ? null : Math.min(sev, CAP));
        var t = y[r] + "<br>" + d.x[w] + "<br>" + pe(st === null ? "no result" : st);
        if (v !== null) {
          t += "<br>value " + fmt(v) + " / bound " + fmt(b) + " = " + fmt(sev) +
            (d.method[r] ? " (" + pe(d.method[r]) + ")" : "");
        }
        tr.push(t + "<br><i>click for the histogram</i>");
        if (st === "alert") { ax.push(x[w]); ay.push(y[r]); }
        if (st === "warn") { wx.push(x[w]); wy.push(y[r]); }
      }
      z.push(zr);
      text.push(tr);
    }
    var traces = [
      { type: "heatmap", x: x, y: y, z: z, text: text, zmin: 0, zmax: CAP, xgap: 1, ygap: 1,
        hovertemplate: "%{text}<extra></extra>", hoverongaps: false,
        colorscale: [[0, "#f3f6fa"], [0.333, "#fde0a8"], [0.334, "#fb8b5a"], [1, "#99000d"]],
        colorbar: { title: { text: "value / bound" }, tickvals: [0, 1, 2, 3],
          ticktext: ["0", "1 (bound)", "2", "\u22653"] } },
      { type: "scatter", mode: "markers", x: ax, y: ay, name: "alert", hoverinfo: "skip",
        marker: { symbol: "x-thin", size: 8, line: { width: 2, color: "#111" } } },
      { type: "scatter", mode: "markers", x: wx, y: wy, name: "warn (below the floor)",
        hoverinfo: "skip", marker: { symbol: "circle-open", size: 7, color: "#555" } }
    ];
    Plotly.react(div, traces, baseLayout({
      title: { text: pe("drift severity, " + D.scopes[i].label), font: { size: 14 } },
      xaxis: { type: "date" },
      yaxis: { type: "category", autorange: "reversed", automargin: true },
      height: Math.max(260, 110 + 22 * D.rows.length),
      showlegend: false
    }), CONFIG);
    if (!div.__driftlineClick) {
      div.__driftlineClick = true;
      div.on("plotly_click", function (ev) {
        var pt = ev && ev.points && ev.points[0];
        if (!pt || pt.curveNumber !== 0 || !Array.isArray(pt.pointNumber)) { return; }
        drawDrill(currentScope("drift-scope"), pt.pointNumber[0], pt.pointNumber[1]);
      });
    }
  }

  function drawDrill(i, r, w) {
    var div = byId("drill"), cap = byId("drill-caption");
    var d = D.drift[i], row = D.rows[r];
    var cur = d.cur[r][w];
    var title = row.label + " \u00b7 " + D.scopes[i].label + " \u00b7 window " + d.x[w];
    var st = d.status[r][w];
    var known = row.kind === "numeric" ? !!D.bins[row.key] : row.kind === "categorical";
    if (cur === null || cur === undefined || !known) {
      Plotly.purge(div);
      cap.textContent = title + ": no histogram for this window (" +
        (known ? st || "no result" : "no reference bins") + ").";
      div.removeAttribute("data-drawn");
      return;
    }
    var labels = [], ref = [], now = [];
    if (row.kind === "numeric") {
      var bins = D.bins[row.key], e = bins.edges, rc = bins.counts;
      var rt = sum(rc) || 1, ct = sum(cur) || 1;
      for (var k = 0; k < rc.length; k++) {
        labels.push("[" + fmt(e[k]) + ", " + fmt(e[k + 1]) + (k === rc.length - 1 ? "]" : ")"));
        ref.push(rc[k] / rt);
        now.push((cur[k] || 0) / ct);
      }
    } else {
      var refTotal = D.cat_totals[row.key] || 1, curTotal = d.n[r][w] || 1;
      Object.keys(cur).forEach(function (c) {
        labels.push(c === D.other ? "(other / unseen)" : c);
        ref.push(cur[c][0] / refTotal);
        now.push(cur[c][1] / curTotal);
      });
    }
    var idx = labels.map(function (_, k) { return k; });
    var shown = labels.map(pe);
    var longest = Math.max.apply(null, labels.map(function (l) { return l.length; }));
    var ticks = labels.map(function (l) {
      return pe(l.length > 60 ? l.slice(0, 59) + "\u2026" : l);
    });
    Plotly.react(div, [
      { type: "bar", x: idx, y: ref, name: "reference", marker: { color: "#8fa8c8" },
        text: shown, textposition: "none", hovertemplate: "%{text}<br>%{y:.1%}" },
      { type: "bar", x: idx, y: now, name: "this window", marker: { color: ORANGE },
        text: shown, textposition: "none", hovertemplate: "%{text}<br>%{y:.1%}" }
    ], baseLayout({
      title: { text: pe(title), font: { size: 14 } },
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" },
      barmode: "group",
      xaxis: { tickvals: idx, ticktext: ticks,
        tickangle: labels.length > 8 || longest * labels.length > 120 ? -30 : 0,
        automargin: true },
      yaxis: { tickformat: ".0%", title: { text: "share" } },
      height: 360
    }), CONFIG);
    div.setAttribute("data-drawn", String(r) + ":" + String(w));
    cap.textContent = title + ": " + (st || "") + ", value " + fmt(d.value[r][w]) +
      ", bound " + fmt(d.bound[r][w]) + (d.method[r] ? " (" + d.method[r] + ")" : "") +
      ", n=" + d.n[r][w] + ".";
  }

  // ---- 6. text style shifts -------------------------------------------------------------------
  function drawText(i) {
    var d = D.drift[i];
    Object.keys(D.texts).forEach(function (col, k) {
      var div = byId("text-chart-" + k);
      if (!div) { return; }
      var x = d.x.map(ts), traces = [], ax = [], ay = [], at = [];
      D.rows.forEach(function (row, r) {
        if (row.check !== "text_drift" || row.text !== col) { return; }
        var y = d.value[r].map(function (v, w) {
          var s = severity(v, d.bound[r][w]);
          return s === null ? null : (isFinite(s) ? s : CAP);
        });
        d.status[r].forEach(function (st, w) {
          if (st === "alert") { ax.push(x[w]); ay.push(y[w]); at.push(pe(row.feature)); }
        });
        traces.push({ x: x, y: y, mode: "lines+markers", marker: { size: 4 }, name: pe(row.feature),
          hovertemplate: "%{y:.2f} \u00d7 bound" });
      });
      traces.push({ x: ax, y: ay, text: at, mode: "markers", name: "alert",
        marker: { symbol: "x", size: 11, color: RED },
        hovertemplate: "%{text}: alert<extra></extra>" });
      Plotly.react(div, traces, baseLayout({
        title: { text: pe(col + ", " + D.scopes[i].label), font: { size: 14 } },
        xaxis: { type: "date" },
        yaxis: { title: { text: "value / bound" }, rangemode: "tozero" },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 1, y1: 1,
          line: { color: RED, dash: "dot", width: 1 } }],
        hovermode: "x unified",
        height: 340
      }), CONFIG);
    });
  }

  // ---- 8. decision thresholds ------------------------------------------------------------
  function drawThresholdCurve(k) {
    var div = byId("thr-curve"), T = D.thresholds;
    if (!div || !T) { return; }
    var chosen = T.classes.filter(function (t) { return t.threshold !== null; });
    var t = chosen[k];
    if (!t) { return; }
    var c = t.curve, inside = { x: [], y: [] };
    for (var j = 0; j < c.threshold.length; j++) {
      if (t.margin && c.threshold[j] >= t.margin[0] && c.threshold[j] <= t.margin[1]) {
        inside.x.push(c.recall[j]); inside.y.push(c.precision[j]);
      }
    }
    var traces = [
      { x: c.recall, y: c.precision, mode: "lines", name: "precision-recall",
        line: { color: BLUE }, text: c.threshold.map(fmt),
        hovertemplate: "threshold %{text}<br>recall %{x:.3f}<br>precision %{y:.3f}" +
          "<extra></extra>" },
      { x: inside.x, y: inside.y, mode: "markers", name: "margin",
        marker: { size: 5, color: ORANGE }, hoverinfo: "skip" }
    ];
    if (t.after) {
      traces.push({ x: [t.after.recall], y: [t.after.precision], mode: "markers",
        name: "chosen " + fmt(t.threshold), marker: { size: 12, color: RED, symbol: "star" } });
    }
    if (t.before) {
      traces.push({ x: [t.before.recall], y: [t.before.precision], mode: "markers",
        name: t.default === null ? "argmax" : "default " + fmt(t.default),
        marker: { size: 10, color: "#555", symbol: "circle-open" } });
    }
    Plotly.react(div, traces, baseLayout({
      title: { text: pe("class " + t.cls + ": precision-recall on the holdout"),
        font: { size: 14 } },
      xaxis: { title: { text: "recall" }, range: [0, 1.02] },
      yaxis: { title: { text: "precision" }, range: [0, 1.02] },
      height: 380
    }), CONFIG);
  }
  function drawThresholdShares(i) {
    var div = byId("thr-shares"), T = D.thresholds;
    if (!div || !T || !T.series[i]) { return; }
    var x = D.stats[i].x.map(ts), traces = [], shapes = [];
    var dash = { threshold_above: "solid", threshold_band: "dash", threshold_none: "dot" };
    var what = { threshold_above: "at/above", threshold_band: "in band",
      threshold_none: "clearing none" };
    T.series[i].forEach(function (line) {
      var name = (line.column === null ? "" : "class " + line.column + " ") + what[line.check];
      traces.push({ x: x, y: line.share.map(function (v) { return v === null ? null : 100 * v; }),
        mode: "lines+markers", name: pe(name), line: { dash: dash[line.check] },
        marker: { size: 4 }, hovertemplate: "%{y:.1f}%<extra>" + pe(name) + "</extra>" });
      if (line.reference !== null) {
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: 100 * line.reference,
          y1: 100 * line.reference, line: { color: "#999", dash: "dot", width: 1 } });
      }
      if (line.alerts.length) {
        traces.push({ x: line.alerts.map(function (w) { return x[w]; }),
          y: line.alerts.map(function (w) { return 100 * line.share[w]; }), mode: "markers",
          name: pe(name + " alert"), showlegend: false,
          marker: { symbol: "x", size: 12, color: RED } });
      }
    });
    Plotly.react(div, traces, baseLayout({
      title: { text: pe("shares against the thresholds, " + D.scopes[i].label),
        font: { size: 14 } },
      yaxis: { ticksuffix: "%", title: { text: "share of predictions" } },
      xaxis: { type: "date" },
      shapes: shapes,
      height: 380
    }), CONFIG);
  }

  // ---- 9. performance ----------------------------------------------------------------------
  function drawPerformance(i) {
    var div = byId("perf-chart");
    if (!div || !D.performance.scopes[i]) { return; }
    var p = D.performance.scopes[i];
    var x = p.x.map(ts);
    var ax = p.alerts.map(function (w) { return x[w]; });
    var ay = p.alerts.map(function (w) { return p.acc[w]; });
    Plotly.newPlot(div, [
      { x: x, y: p.high, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
      { x: x, y: p.low, mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: "rgba(255,127,14,0.15)", name: "estimate band", hoverinfo: "skip" },
      { x: x, y: p.est, mode: "lines+markers", name: "estimated", line: { color: ORANGE },
        marker: { size: 4 }, hovertemplate: "%{x}<br>estimated %{y:.3f}<extra></extra>" },
      { x: x, y: p.acc, mode: "lines+markers", name: "realised", line: { color: BLUE },
        marker: { size: 5 }, text: p.labelled.map(function (n) { return "labelled=" + n; }),
        hovertemplate: "%{x}<br>realised %{y:.3f}<br>%{text}<extra></extra>" },
      { x: x, y: p.limit, mode: "lines", name: "alert below (bound)",
        line: { color: "#777", dash: "dash", width: 1 }, hoverinfo: "skip" },
      { x: ax, y: ay, mode: "markers", name: "performance alert",
        marker: { symbol: "x", size: 12, color: RED, line: { width: 1, color: RED } },
        hovertemplate: "performance alert<br>%{x}<extra></extra>" }
    ], baseLayout({
      title: { text: pe(D.scopes[i].label), font: { size: 14 } },
      yaxis: { title: { text: "accuracy" } },
      legend: { orientation: "h", y: -0.18, traceorder: "normal" },
      xaxis: { type: "date" },
      height: 320
    }), CONFIG);
  }
  function drawReliability() {
    var div = byId("reliability-chart"), l = D.performance.latest;
    if (!div || !l) { return; }
    Plotly.newPlot(div, [
      { x: [0, 1], y: [0, 1], mode: "lines", name: "calibrated",
        line: { color: "#777", dash: "dot", width: 1 }, hoverinfo: "skip" },
      { x: l.rel_conf, y: l.rel_acc, mode: "lines+markers", name: "observed",
        line: { color: BLUE }, text: l.rel_rows.map(function (n) { return "n=" + n; }),
        hovertemplate: "confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{text}<extra></extra>" }
    ], baseLayout({
      title: { text: "Reliability (ECE " + fmt(l.ece) + ")", font: { size: 14 } },
      xaxis: { title: { text: "mean confidence" }, range: [0, 1] },
      yaxis: { title: { text: "accuracy" }, range: [0, 1] },
      height: 320
    }), CONFIG);
  }

  function currentScope(id) {
    var sel = byId(id);
    return sel ? Number(sel.value) || 0 : 0;
  }
  function bind(id, draw) {
    var sel = byId(id);
    if (sel) { sel.addEventListener("change", function () { draw(currentScope(id)); }); }
    draw(currentScope(id));
  }

  for (var i = 0; i < D.scopes.length; i++) { drawConfidence(i); }
  bind("mix-scope", drawMix);
  bind("drift-scope", drawHeatmap);
  bind("text-scope", drawText);
  bind("thr-class", drawThresholdCurve);
  bind("thr-scope", drawThresholdShares);
  bind("perf-scope", drawPerformance);
  drawReliability();

  // an incident's evidence link picks its scope (and drift cell) before the page scrolls
  var DRAW = { "mix-scope": drawMix, "drift-scope": drawHeatmap,
    "perf-scope": drawPerformance, "thr-scope": drawThresholdShares };
  Array.prototype.forEach.call(document.querySelectorAll("a.evidence[data-pick]"),
    function (a) {
      a.addEventListener("click", function () {
        var pick = a.getAttribute("data-pick"), sel = byId(pick);
        var k = Number(a.getAttribute("data-scope")) || 0;
        if (sel && k < D.scopes.length) { sel.value = String(k); }
        if (DRAW[pick]) { DRAW[pick](sel ? currentScope(pick) : 0); }
        var r = a.getAttribute("data-row"), w = a.getAttribute("data-window");
        if (pick === "drift-scope" && r !== null && w !== null) {
          drawDrill(currentScope(pick), Number(r), Number(w));
        }
      });
    });
  window.driftlineReport = { data: D, drill: drawDrill };
})();
"""
