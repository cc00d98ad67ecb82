"""The report's embeddings section: per predicted class, reference vs serving points in the
reference's 2-D PCA view (one scatter plot per class, each of the latest windows a
trace), and the ``embedding_drift`` results per window and scope.

Everything comes from the check report (``CheckReport.embeddings`` and its results);
class names and cohort values are logged strings: escaped in the HTML, escaped for
Plotly's label markup in the page script, and embedded as escaped JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftline.report._cells import _e, _f, _status, _w
from driftline.report._payload import scope_label

__all__ = ["EMBEDDINGS_JS", "embeddings_section"]


def embeddings_section(
    data: Mapping[str, Any],
    payload: Mapping[str, Any],
    max_rows: int,
    table: Callable[..., str],
) -> str:
    """The section's HTML: a note, one chart per class, and the drift table (drawn by
    ``table``, the page's table helper)."""
    view: Mapping[str, Any] = payload.get("embeddings") or {}
    if not view:
        return (
            '<p class="note">No embeddings: the spec names no embedding column, or the '
            "profile was fitted without one (refit it after logging a reference with "
            "embeddings).</p>"
        )
    column = view["column"]
    out = [
        '<p class="note">Per predicted class, a capped sample of the reference (grey) and '
        f"of the latest windows' serving rows of column <code>{_e(column)}</code>, on the "
        "reference's first two principal components (a window whose class alerted in red). "
        "The drift decision is the domain-classifier AUC against its no-drift band from "
        "reference-vs-reference splits (0.5: indistinguishable).</p>"
    ]
    out += [
        f'<h3>class {_e(c)}</h3><div class="chart" id="emb-chart-{k}"></div>'
        for k, c in enumerate(view["classes"])
    ]
    pooled = [
        r
        for r in data.get("results") or []
        if r.get("check") == "embedding_drift" and r.get("column") == column
    ]
    rows = []
    for r in pooled[:max_rows]:
        d = r.get("details") or {}
        moved = ", ".join(
            f"{c.get('class')} ({_f(c.get('auc'))})" for c in (d.get("classes") or [])[:3]
        )
        rows.append(
            [
                _w(r.get("window_start")),
                _e(scope_label(r.get("cohort"), r.get("cohort_value"))),
                _f(r.get("value")),
                _f(r.get("bound")),
                _f(d.get("null_mean")),
                _f(d.get("mmd2")),
                _f(d.get("mmd_p_value")),
                _e(moved),
                _status(r.get("status")),
            ]
        )
    out.append("<h3>Embedding drift per window and scope</h3>")
    out.append(
        table(
            [
                "window",
                "scope",
                "AUC",
                "bound",
                "no-drift AUC",
                "MMD²",
                "MMD p",
                "classes moved most (AUC)",
                "status",
            ],
            rows,
            num_cols=[2, 3, 4, 5, 6],
            nowrap_cols=[0],
            table_id="embedding-table",
        )
    )
    return "".join(out)


EMBEDDINGS_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var E = D.embeddings;
  if (!E || !E.classes) { return; }
  function pe(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  var COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  var xt = "PC1", yt = "PC2";
  if (E.explained_variance && E.explained_variance.length === 2) {
    xt += " (var " + Number(E.explained_variance[0]).toPrecision(3) + ")";
    yt += " (var " + Number(E.explained_variance[1]).toPrecision(3) + ")";
  }
  E.classes.forEach(function (c, k) {
    var div = document.getElementById("emb-chart-" + k);
    if (!div) { return; }
    var ref = E.reference[k] || [];
    var traces = [{
      type: "scatter", mode: "markers", name: "reference",
      x: ref.map(function (p) { return p[0]; }), y: ref.map(function (p) { return p[1]; }),
      marker: { color: "#aaaaaa", size: 5, opacity: 0.6 }
    }];
    E.windows.forEach(function (w, j) {
      var pts = w.points[k] || [];
      if (!pts.length) { return; }
      var alerted = w.status[k] === "alert";
      traces.push({
        type: "scatter", mode: "markers", name: pe(w.label) + (alerted ? " (alert)" : ""),
        x: pts.map(function (p) { return p[0]; }), y: pts.map(function (p) { return p[1]; }),
        marker: { color: alerted ? "#d62728" : COLORS[j % COLORS.length], size: 5, opacity: 0.8 }
      });
    });
    Plotly.newPlot(div, traces, {
      title: { text: "class " + pe(c) + ": reference vs serving" },
      xaxis: { title: { text: xt } }, yaxis: { title: { text: yt } },
      margin: { l: 60, r: 20, t: 40, b: 40 }, legend: { orientation: "h", y: -0.2 },
      font: { size: 12 }, hovermode: "closest"
    }, { displaylogo: false, responsive: true });
  });
})();
"""
