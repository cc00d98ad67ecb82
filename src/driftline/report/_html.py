"""The report page: an HTML skeleton, tables rendered here, charts drawn by the page script.

Security: every string that came from the data (cohort values, column names, categories,
messages) is attacker-controlled. Strings placed in HTML go through :func:`html.escape`;
the chart data goes in a ``<script type="application/json">`` block with ``<``, ``>``,
``&`` and U+2028/U+2029 escaped (:func:`safe_json`), so nothing in it can close the block;
the page script reads it with ``JSON.parse`` and puts text in the DOM with
``textContent`` only. A Content-Security-Policy allows exactly the page's two inline
scripts (by hash), inline styles (Plotly needs them) and ``data:``/``blob:`` images
(Plotly's PNG export), and nothing from the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from string import Template
from typing import Any

from driftline._catalog import DRIFT_CHECKS, untimed_note
from driftline.errors import plain
from driftline.report._assets import APP_JS, CSS
from driftline.report._cells import _e, _f, _status, _w
from driftline.report._embeddings import EMBEDDINGS_JS, embeddings_section
from driftline.report._payload import (
    SCHEMA_CHECKS,
    THRESHOLD_CHECKS,
    Scope,
    incident_scope,
    num,
    scope_label,
)

__all__ = ["csp", "page", "safe_json"]

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def safe_json(payload: Any) -> str:
    """JSON that is safe inside a ``<script>`` element and parses back to ``payload``.

    >>> safe_json({"v": "</script><b>&"})
    '{"v":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    >>> json.loads(safe_json({"v": "</script>"}))
    {'v': '</script>'}
    """
    text = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    for raw, escaped in _JSON_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _shown(node: Any) -> Any:
    """``node`` with every string (keys too) as :func:`~driftline.errors.plain` shows it:
    the page's script draws the chart data's strings (titles, axes, legends) as text, so
    a logged ``\\u202e`` must reach it escaped, as it reaches the tables. The script
    matches the data's strings only against each other, so they stay consistent."""
    if isinstance(node, str):
        return plain(node)
    if isinstance(node, dict):
        return {_shown(k): _shown(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_shown(v) for v in node]
    return node


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    num_cols: Iterable[int] = (),
    msg_cols: Iterable[int] = (),
    nowrap_cols: Iterable[int] = (),
    table_id: str | None = None,
    row_ids: Sequence[str | None] | None = None,
) -> str:
    """An HTML table from cells that are already HTML (escaped by the caller);
    ``row_ids`` gives rows an anchor (ids made here, never from the data)."""
    nums, msgs, nowrap = set(num_cols), set(msg_cols), set(nowrap_cols)
    attr = f' id="{_e(table_id)}"' if table_id else ""
    out = [f'<div class="scroll"><table{attr}><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows):
        rid = row_ids[k] if row_ids is not None and k < len(row_ids) else None
        out.append(f'<tr id="{_e(rid)}">' if rid else "<tr>")
        for i, cell in enumerate(row):
            cls = (
                ' class="num"'
                if i in nums
                else ' class="msg"'
                if i in msgs
                else ' class="nw"'
                if i in nowrap
                else ""
            )
            out.append(f"<td{cls}>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _more(total: int, shown: int, what: str) -> str:
    if total <= shown:
        return ""
    return (
        f'<p class="note">Showing {shown} of {total} {_e(what)}; the rest are in the results '
        "JSON (<code>driftline check --json</code>).</p>"
    )


def _scope(row: Mapping[str, Any]) -> Scope:
    c, v = row.get("cohort"), row.get("cohort_value")
    return (None if c is None else str(c), None if v is None else str(v))


def _select(select_id: str, scopes: Sequence[Mapping[str, Any]], label: str) -> str:
    if len(scopes) < 2:
        return f'<select id="{select_id}" hidden><option value="0">overall</option></select>'
    opts = "".join(f'<option value="{i}">{_e(s["label"])}</option>' for i, s in enumerate(scopes))
    return f'<label class="pick">{_e(label)} <select id="{select_id}">{opts}</select></label>'


# --------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------
def schema_anchor(check: str, column: str | None, scope: Scope) -> str:
    """The anchor of a schema table row: a hash of its check, column and scope (the id
    holds no data, so no logged string reaches an attribute unescaped or unhashed)."""
    key = json.dumps([check, column, scope[0], scope[1]], ensure_ascii=True)
    return "schema-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _evidence(inc: Mapping[str, Any], payload: Mapping[str, Any]) -> list[str]:
    """Links from an incident to its evidence in the page: the confidence chart of its
    scope, the class mix, the drift heatmap cell of the column that moved most, the
    schema row. Only indexes and hashes go into attributes."""
    cause = inc.get("root_cause") or {}
    checks = set(inc.get("checks") or [])
    scopes = [(s.get("cohort"), s.get("value")) for s in payload["scopes"]]
    wanted = incident_scope(inc)
    k = scopes.index(wanted) if wanted in scopes else 0
    label = _e(payload["scopes"][k]["label"]) if payload["scopes"] else "overall"
    if wanted not in scopes and wanted != (None, None):  # too many scopes to draw them all
        label += f" ({_e(scope_label(*wanted))} is not drawn)"
    links = []
    if "confidence_shift" in checks and payload["scopes"]:
        links.append(f'<a class="evidence" href="#conf-{k}">confidence chart, {label}</a>')
    if checks & {"class_mix", "class_prior"}:
        links.append(
            f'<a class="evidence" href="#class-mix" data-pick="mix-scope" data-scope="{k}">'
            f"class mix, {label}</a>"
        )
    if checks & {"performance", "performance_gap", "performance_estimate"}:
        links.append(
            f'<a class="evidence" href="#performance" data-pick="perf-scope" '
            f'data-scope="{k}">accuracy, {label}</a>'
        )
    if checks & set(THRESHOLD_CHECKS):
        links.append(
            f'<a class="evidence" href="#thresholds" data-pick="thr-scope" '
            f'data-scope="{k}">decisions against the thresholds, {label}</a>'
        )
    rows = [(r.get("check"), r.get("column")) for r in payload["rows"]]
    moved = [(c.get("check"), c.get("column")) for c in cause.get("columns") or []]
    moved += [("score_drift", c) for c in cause.get("scores") or []]
    cell = next((m for m in moved if m in rows), None)
    if cell is not None and payload["drift"]:
        r = rows.index(cell)
        xs = payload["drift"][k]["x"]
        start = str(inc.get("start"))
        w = xs.index(start) if start in xs else 0
        links.append(
            f'<a class="evidence" href="#drift" data-pick="drift-scope" data-scope="{k}" '
            f'data-row="{r}" data-window="{w}">drift of {_e(cell[1])}, {label}, '
            f"{_w(start)}</a>"
        )
    schema = cause.get("schema")
    if schema:
        scope_rows = inc.get("scopes") or []
        first = scope_rows[0] if scope_rows else {}
        anchor = schema_anchor(
            str(schema.get("check")),
            str(schema.get("column")),
            (first.get("cohort"), first.get("cohort_value")),
        )
        links.append(f'<a class="evidence" href="#{anchor}">schema row</a>')
    return links


def _incidents(data: Mapping[str, Any], payload: Mapping[str, Any], max_rows: int) -> str:
    incidents = list(data.get("incidents") or [])
    out = ["<h3>Incidents</h3>"]
    if not incidents:
        if data.get("alerts"):
            out.append('<p class="note">This report carries no incidents (made before them).</p>')
        else:
            out.append('<p class="note">No incidents: no alert in this run.</p>')
        return "".join(out)
    out.append(
        '<p class="note">Alerts grouped into incidents, newest first: one change across '
        "contiguous windows (a single quiet window does not split it), the scopes and the "
        "columns that moved with it. The links go to the evidence.</p>"
    )
    out.append('<ol class="incidents" id="incident-list">')
    for inc in incidents[:max_rows]:
        sev = _e(inc.get("severity"))
        cause = inc.get("root_cause") or {}
        facts = [
            f"{_e(inc.get('status'))}",
            f"{int(inc.get('windows') or 0)} window(s)",
            f"{len(inc.get('alerts') or [])} alert(s)",
            "checks " + _e(", ".join(str(c) for c in inc.get("checks") or [])),
        ]
        parts = []
        for d in cause.get("decompositions") or []:
            parts.append(
                f"{_e(d.get('metric'))} by {_e(d.get('cohort'))}: change {_f(d.get('change'))}"
                f" = traffic mix {_f(d.get('mix'))} + within {_f(d.get('within'))}"
            )
        cols = [
            f"{_e(c.get('column'))} ({_f(c.get('effect'))})"
            for c in (cause.get("columns") or [])[:8]
        ]
        out.append(
            f'<li id="incident-{_e(inc.get("id"))}" class="incident sev-{sev}">'
            f'<span class="sev">{sev}</span> <code>{_e(inc.get("id"))}</code> '
            f'<b class="headline">{_e(inc.get("headline"))}</b>'
            f'<div class="note">{" · ".join(facts)}</div>'
            + (f'<div class="note">{"; ".join(parts)}</div>' if parts else "")
            + (f'<div class="note">inputs by drift effect: {", ".join(cols)}</div>' if cols else "")
            + f'<div class="links">evidence: {" · ".join(_evidence(inc, payload)) or "–"}</div>'
            "</li>"
        )
    out.append("</ol>")
    out.append(_more(len(incidents), min(len(incidents), max_rows), "incidents"))
    return "".join(out)


def _overview(data: Mapping[str, Any], payload: Mapping[str, Any], max_rows: int) -> str:
    alerts = list(data.get("alerts") or [])
    stats = data["stats"]
    overall = [s for s in stats if s.get("cohort") is None]
    windows = len(overall)
    predictions = sum(int(s.get("n") or 0) for s in overall)
    drifted = {
        (r.get("check"), r.get("column"))
        for r in data["results"]
        if r.get("check") in DRIFT_CHECKS and r.get("status") == "alert"
    }
    incidents = list(data.get("incidents") or [])
    cards = [
        ("incidents", len(incidents), bool(incidents)),
        ("windows", windows, False),
        ("predictions", predictions, False),
        ("alerts", len(alerts), bool(alerts)),
        ("columns drifted", len(drifted), bool(drifted)),
        ("scopes", len({_scope(s) for s in stats}), False),
    ]
    out = ['<div class="cards">']
    out += [
        f'<div class="card{" bad" if bad else ""}"><b>{v:,}</b><span>{_e(k)}</span></div>'
        for k, v, bad in cards
    ]
    out.append("</div>")
    out.append(_incidents(data, payload, max_rows))
    gaps = list(data.get("gaps") or [])
    if gaps:
        shown = ", ".join(
            f"{_e(str(g.get('start'))[:16])} to {_e(str(g.get('end'))[:16])} "
            f"({int(g.get('windows') or 0):,} windows)"
            for g in gaps[:max_rows]
        )
        more = f" and {len(gaps) - max_rows:,} more" if len(gaps) > max_rows else ""
        out.append(f'<p class="note">No predictions from {shown}{more}.</p>')
    untimed = int(data.get("untimed") or 0)
    if untimed:
        out.append(f'<p class="note">{_e(untimed_note(untimed))}</p>')

    # alert counts per scope x check
    plan_checks = list((data.get("plan") or {}).get("checks") or {})
    counts: dict[Scope, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in alerts:
        counts[_scope(a)][str(a.get("check"))] += 1
    checks = [c for c in plan_checks if any(c in v for v in counts.values())]
    checks += sorted({c for v in counts.values() for c in v} - set(checks))
    out.append("<h3>Alerts per check and scope</h3>")
    if not alerts:
        out.append('<p class="note">No alerts in this run.</p>')
    else:
        scopes = sorted(counts, key=lambda s: (s != (None, None), str(s[0]), str(s[1])))
        rows = []
        for s in scopes[:max_rows]:
            cells = [_e(scope_label(*s))]
            for c in checks:
                n = counts[s].get(c, 0)
                cells.append(str(n) if n else '<span class="zero">0</span>')
            cells.append(f"<b>{sum(counts[s].values())}</b>")
            rows.append(cells)
        out.append(
            _table(
                ["scope", *checks, "total"],
                rows,
                num_cols=range(1, len(checks) + 2),
                table_id="alert-counts",
            )
        )
        out.append(_more(len(scopes), min(len(scopes), max_rows), "scopes"))
        out.append("<h3>Alerts</h3>")
        rows = [
            [
                _w(a.get("window_start")),
                _e(scope_label(*_scope(a))),
                _e(a.get("check")),
                _e(a.get("column") if a.get("column") is not None else ""),
                _e(a.get("message")),
            ]
            for a in alerts[:max_rows]
        ]
        out.append(
            _table(
                ["window", "scope", "check", "column", "message"],
                rows,
                msg_cols=[4],
                nowrap_cols=[0],
                table_id="alerts",
            )
        )
        out.append(_more(len(alerts), min(len(alerts), max_rows), "alerts"))
    return "".join(out)


def _confidence(data: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    scopes = payload["scopes"]
    k = (data.get("plan") or {}).get("rolling_windows")
    over = f"the last {_e(k)} windows" if k else "recent windows"
    out = [
        '<p class="note">Mean confidence (max score) per window with its p10-p90 band; the '
        f"dashed line is the rolling mean over {over}, the dotted orange lines its ±1 sd "
        "(of single confidences); the grey dotted line is the reference's mean; crosses "
        "mark windows with a <code>confidence_shift</code> alert.</p>",
        '<div class="grid">',
    ]
    out += [f'<div class="chart" id="conf-{i}"></div>' for i in range(len(scopes))]
    out.append("</div>")
    if payload["omitted_scopes"]:
        out.append(
            f'<p class="note">{payload["omitted_scopes"]} more cohort values are not drawn '
            "(the ones with the fewest alerts and predictions); pass a larger "
            "<code>max_scopes</code> to draw them.</p>"
        )
    return "".join(out)


def _mix(payload: Mapping[str, Any]) -> str:
    if not payload["classes"]:
        return '<p class="note">No predictions to draw.</p>'
    return _select("mix-scope", payload["scopes"], "scope") + (
        '<div class="chart" id="mix-chart"></div>'
    )


def _drift(payload: Mapping[str, Any]) -> str:
    if not payload["rows"]:
        return (
            '<p class="note">No feature, text or score drift results (the spec has no '
            "features, and the profile no score bins: refit it).</p>"
        )
    return (
        '<p class="note">Severity is the statistic over its alert bound (1 = the bound); '
        "crosses mark alerts. Rows <code>score:&lt;class&gt;</code> are the distribution of "
        "that class's score. Click a cell to compare the reference with that window.</p>"
        + _select("drift-scope", payload["scopes"], "scope")
        + '<div class="chart" id="drift-heatmap"></div>'
        + '<p id="drill-caption" class="note">Click a heatmap cell to draw the reference '
        "and the window side by side.</p>" + '<div class="drill" id="drill"></div>'
    )


def _thresholds(payload: Mapping[str, Any]) -> str:
    """The decision thresholds chosen on the holdout: the gain table, each class's
    precision-recall curve with the chosen point, and the threshold-relative shares per
    window of the chosen scope."""
    fitted = payload.get("thresholds")
    if not fitted:
        return (
            '<p class="note">No decision thresholds chosen: the checks judge decisions at '
            "the default (0.5, or the argmax). Choose them on the labelled holdout with "
            "<code>driftline thresholds</code>.</p>"
        )
    default = "0.5" if fitted["binary"] else "argmax"

    def pair(t: Mapping[str, Any], key: str) -> str:
        before = _f((t["before"] or {}).get(key))
        if not t["after"]:
            return before
        return f"{before} → {_f(t['after'].get(key))}"

    rows = []
    for t in fitted["classes"]:
        margin = t["margin"]
        rows.append(
            [
                _e(t["cls"]),
                _f(t["threshold"]) if t["threshold"] is not None else _e(f"default ({default})"),
                "" if not margin else f"{_f(margin[0])} – {_f(margin[1])}",
                pair(t, "precision"),
                pair(t, "recall"),
                pair(t, "f1"),
                _e(t["note"] or ""),
            ]
        )
    options = "".join(
        f'<option value="{i}">{_e(t["cls"])}</option>'
        for i, t in enumerate(fitted["classes"])
        if t["threshold"] is not None
    )
    return (
        f'<p class="note">Chosen on {_e(fitted["labelled"])} labelled holdout rows for '
        f"<code>{_e(fitted['objective'])}</code>; each class's precision, recall and F1 on the "
        f"holdout at the default ({_e(default)}, one-vs-rest) and at its threshold. The "
        "margin is the range of thresholds whose objective stays within the tolerance of the "
        "best.</p>"
        + _table(
            ["class", "threshold", "margin", "precision", "recall", "F1", "note"],
            rows,
            num_cols=(1, 2, 3, 4, 5),
            table_id="threshold-gain",
        )
        + f'<label class="pick">class <select id="thr-class">{options}</select></label>'
        + '<div class="chart" id="thr-curve"></div>'
        + '<p class="note">Per window: the share of predictions at or above each class\'s '
        f"threshold, within {_f(fitted['band'])} of it, and (multi-class) clearing no "
        "threshold; dotted lines are the holdout's shares, crosses mark alerts.</p>"
        + _select("thr-scope", payload["scopes"], "scope")
        + '<div class="chart" id="thr-shares"></div>'
    )


def _schema(data: Mapping[str, Any], max_rows: int) -> str:
    groups: dict[tuple[str, str, Scope], list[Mapping[str, Any]]] = defaultdict(list)
    for r in data["results"]:
        if r.get("check") in SCHEMA_CHECKS and r.get("status") in ("alert", "warn"):
            groups[(str(r["check"]), str(r.get("column")), _scope(r))].append(r)
    if not groups:
        return '<p class="note">No schema violations: every column arrived as in the reference.</p>'
    order = {c: i for i, c in enumerate(SCHEMA_CHECKS)}
    ids: list[str | None] = []
    keys = sorted(
        groups,
        key=lambda k: (order[k[0]], k[1], k[2] != (None, None), str(k[2][0]), str(k[2][1])),
    )
    rows = []
    for key in keys[:max_rows]:
        rs = sorted(groups[key], key=lambda r: str(r["window_start"]))
        ids.append(schema_anchor(key[0], key[1], key[2]))
        peak = max(rs, key=lambda r: num(r.get("value")) or 0.0)
        statuses = sorted({str(r.get("status")) for r in rs})
        summary = next(
            (
                str(r["details"]["summary"])
                for r in reversed(rs)
                if (r.get("details") or {}).get("summary")
            ),
            "",
        )
        rows.append(
            [
                _e(key[0]),
                _e(key[1]),
                _e(scope_label(*key[2])),
                " ".join(_status(s) for s in statuses),
                str(len(rs)),
                _w(rs[0]["window_start"]),
                _w(rs[-1]["window_start"]),
                _f(peak.get("value")),
                _f(peak.get("bound")),
                _e(summary),
            ]
        )
    return (
        '<p class="note">One row per check, column and scope with a warning or alert; '
        "value is the share of rows affected (for <code>missing_fraction</code>, the change "
        "in the missing share).</p>"
        + _table(
            [
                "check",
                "column",
                "scope",
                "status",
                "windows",
                "first",
                "last",
                "peak",
                "bound",
                "latest detail",
            ],
            rows,
            num_cols=[4, 7, 8],
            msg_cols=[9],
            nowrap_cols=[5, 6],
            table_id="schema-table",
            row_ids=ids,
        )
        + _more(len(keys), min(len(keys), max_rows), "violations")
    )


def _text(data: Mapping[str, Any], payload: Mapping[str, Any], top: int = 15) -> str:
    texts: Mapping[str, list[str]] = payload["texts"]
    if not texts:
        return '<p class="note">No text features in the spec.</p>'
    out = [
        '<p class="note">Each style feature of a text column (length, words, shares of '
        "upper case, digits, punctuation, non-ASCII, out-of-vocabulary and typo-like tokens, "
        "runs of spaces) is compared with the reference like a numeric feature; lines show "
        "the statistic over its bound (1 = the bound).</p>",
        _select("text-scope", payload["scopes"], "scope"),
    ]
    out += [
        f'<h3>{_e(col)}</h3><div class="chart" id="text-chart-{k}"></div>'
        for k, col in enumerate(texts)
    ]
    feature_of = {
        row["column"]: (row.get("text"), row.get("feature"))
        for row in payload["rows"]
        if row["check"] == "text_drift"
    }
    shifts = [
        r
        for r in data["results"]
        if r.get("check") == "text_drift" and num(r.get("value")) is not None
    ]

    def sev(r: Mapping[str, Any]) -> float:
        v, b = num(r.get("value")) or 0.0, num(r.get("bound"))
        return v / b if b else (float("inf") if v > 0 else 0.0)

    shifts.sort(key=lambda r: -sev(r))
    rows = []
    for r in shifts[:top]:
        text, feature = feature_of.get(str(r.get("column")), (None, None))
        rows.append(
            [
                _w(r.get("window_start")),
                _e(scope_label(*_scope(r))),
                _e(text if text is not None else r.get("column")),
                _e(feature or ""),
                _f(r.get("value")),
                _f(r.get("bound")),
                _f(sev(r)),
                _e(r.get("method")),
                _status(r.get("status")),
            ]
        )
    out.append("<h3>Largest text style shifts</h3>")
    out.append(
        _table(
            [
                "window",
                "scope",
                "text column",
                "feature",
                "value",
                "bound",
                "value / bound",
                "method",
                "status",
            ],
            rows,
            num_cols=[4, 5, 6],
            nowrap_cols=[0],
            table_id="text-table",
        )
    )
    return "".join(out)


def _model(data: Mapping[str, Any], max_rows: int) -> str:
    """LIME per class and the robustness checks, when the report carries them
    (``render_report(..., explanations=..., robustness=...)``): they need the model,
    which a check over the store does not have."""
    explanations = data.get("explanations") or []
    robustness = data.get("robustness")
    if not explanations and not robustness:
        return (
            '<p class="note">No model explanations or robustness checks in this report: pass '
            "<code>explanations=</code> (driftline.explain.explain_class) or "
            "<code>robustness=</code> (driftline.robustness.check_robustness) to "
            "render_report, or run <code>driftline explain</code> / <code>driftline "
            "robustness</code>.</p>"
        )
    out: list[str] = []
    if explanations:
        out.append(
            '<h3>LIME, per class</h3><p class="note">Per predicted class, the words or '
            "feature conditions with the largest mean LIME weight over the explained rows "
            "(0 where a term did not appear), their spread and how often they appeared. A "
            "positive weight pushes toward the class.</p>"
        )
        for exp in explanations:
            rows = [
                [
                    _e(t.get("term")),
                    _f(t.get("mean")),
                    _f(t.get("std")),
                    _f(t.get("frequency")),
                    _f(t.get("mean_present")),
                ]
                for t in exp.get("terms", [])
            ]
            left = int(exp.get("left_out") or 0)
            out.append(
                f"<h4>class {_e(exp.get('klass'))} · {_e(exp.get('rows'))} rows "
                f"({_e(exp.get('selection'))})"
                + (f"; {left} left out (values LIME cannot perturb)" if left else "")
                + "</h4>"
            )
            out.append(
                _table(
                    ["term", "mean weight", "std", "frequency", "mean where present"],
                    rows[:max_rows],
                    num_cols=[1, 2, 3, 4],
                )
            )
    if robustness:
        cfg = robustness.get("config", {})
        out.append(
            "<h3>Robustness: does in-domain noise flip the prediction?</h3>"
            f'<p class="note">Rate {_f(cfg.get("rate"))}, numeric noise '
            f"{_f(cfg.get('numeric_scale'))} x the reference std, seed {_e(cfg.get('seed'))}. "
            "Per class predicted on the original row: the share of rows whose predicted "
            "class changed, and the mean |change| of that class's probability.</p>"
        )
        rows = [
            [
                _e(r.get("perturbation")),
                _e(r.get("klass")),
                _e(r.get("rows")),
                _e(r.get("flipped")),
                _f(r.get("flip_rate")),
                _f(r.get("mean_abs_change")),
            ]
            for r in robustness.get("results", [])
        ]
        out.append(
            _table(
                ["perturbation", "class", "rows", "flipped", "flip rate", "mean |change|"],
                rows[:max_rows],
                num_cols=[2, 3, 4, 5],
            )
        )
        flips = [
            [
                _e(f.get("perturbation")),
                _e(f.get("before")),
                _e(f.get("after")),
                _f(f.get("confidence_before")),
                _f(f.get("confidence_after")),
                _e(json.dumps(f.get("original"), default=str)[:300]),
                _e(json.dumps(f.get("perturbed"), default=str)[:300]),
            ]
            for f in robustness.get("flipped", [])
        ]
        if flips:
            out.append("<h4>Rows that flipped</h4>")
            out.append(
                _table(
                    [
                        "perturbation",
                        "before",
                        "after",
                        "p before",
                        "p after",
                        "original",
                        "perturbed",
                    ],
                    flips[:max_rows],
                    num_cols=[3, 4],
                )
            )
    return "".join(out)


# --------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------
_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="driftline">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header>
<h1>driftline report</h1>
<div class="meta">$meta</div>
<nav><a href="#overview">Overview</a><a href="#confidence">Confidence</a>
<a href="#class-mix">Class mix</a><a href="#drift">Drift</a><a href="#schema">Schema</a>
<a href="#text">Text</a><a href="#embeddings">Embeddings</a><a href="#thresholds">Thresholds</a>
<a href="#performance">Performance</a><a href="#model">Model</a></nav>
</header>
<main>
<section id="overview"><h2>1. Overview</h2>$overview</section>
<section id="confidence"><h2>2. Confidence over time</h2>$confidence</section>
<section id="class-mix"><h2>3. Predicted-class mix over time</h2>$mix</section>
<section id="drift"><h2>4. Feature drift</h2>$drift</section>
<section id="schema"><h2>5. Schema violations</h2>$schema</section>
<section id="text"><h2>6. Text style shifts</h2>$text</section>
<section id="embeddings"><h2>7. Embeddings</h2>$embeddings</section>
<section id="thresholds"><h2>8. Decision thresholds</h2>$thresholds</section>
<section id="performance"><h2>9. Performance</h2>$performance</section>
<section id="model"><h2>10. What the model looks at, and what flips it</h2>$model</section>
</main>
<script type="application/json" id="data">$data</script>
<script>$plotly</script>
<script>$app</script>
</body>
</html>
"""
)


def _performance(data: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    perf = payload["performance"]
    if not any(block["x"] for block in perf["scopes"]):
        return (
            '<p class="note">No performance results: the spec has no <code>label</code> '
            "role, the reference carries no labels, or the profile predates performance "
            "(refit it).</p>"
        )
    info = perf["labels"]
    parts = [
        f"confidence calibrated by {_e(info['calibration'])}",
        f"holdout accuracy {_f(info['holdout_accuracy'])}, ECE {_f(info['holdout_ece'])}",
    ]
    unknown = info["unknown_ids"]
    if unknown:
        parts.append(f"<b>{_e(unknown)} labelled ids match no prediction</b> (not scored)")
    out = [
        '<p class="note">Realised accuracy of each window\'s labelled predictions (labels '
        "count in the window of the prediction) next to the accuracy estimated before "
        "labels from the calibrated confidence, with its band; below the dashed line "
        "(the holdout's accuracy minus the bound bootstrapped at the window's labelled "
        "count) a drop alerts when it is also beyond the floor. " + " · ".join(parts) + ".</p>",
        _select("perf-scope", payload["scopes"], "scope"),
        '<div class="chart" id="perf-chart"></div>',
    ]
    latest = perf["latest"]
    if latest is not None:
        classes = latest["classes"]
        rows = [
            [f"<b>{_e(c)}</b>", *(_e(v) for v in latest["confusion"][i])]
            for i, c in enumerate(classes)
        ]
        out.append(
            f"<h3>Latest labelled window overall ({_w(latest['window_start'])})</h3>"
            '<div class="grid"><div>'
            '<p class="note">Confusion matrix: rows the label, columns the predicted class.'
            "</p>"
            + _table(["label \\ predicted", *classes], rows, num_cols=range(1, len(classes) + 1))
            + '</div><div class="chart" id="reliability-chart"></div></div>'
        )
    return "".join(out)


def _hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def csp(*scripts: str) -> str:
    """The page's Content-Security-Policy: these inline scripts, nothing from the network."""
    hashes = " ".join(_hash(s) for s in scripts)
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def _meta(data: Mapping[str, Any]) -> str:
    overall = sorted(str(s["window_start"]) for s in data["stats"] if s.get("cohort") is None)
    since = data.get("since") or (overall[0] if overall else None)
    until = data.get("until") or (
        max(str(s["window_end"]) for s in data["stats"] if s.get("cohort") is None)
        if overall
        else None
    )
    parts = [
        f"window {_e(data.get('window'))}",
        f"from {_w(since)} to {_w(until)} UTC" if since else "",
        f"run {_e(str(data.get('run_id') or '')[:12])}",
        f"created {_w(data.get('created_at'))} UTC",
    ]
    return " · ".join(p for p in parts if p)


def page(
    data: Mapping[str, Any], payload: Mapping[str, Any], plotly_js: str, *, max_rows: int
) -> str:
    """The whole HTML document."""
    plotly_js = plotly_js.replace("</script", "<\\/script")
    app = APP_JS + EMBEDDINGS_JS
    return _PAGE.substitute(
        csp=_e(csp(plotly_js, app)),
        title=_e(f"driftline report · {data.get('window') or ''}"),
        css=CSS,
        meta=_meta(data),
        overview=_overview(data, payload, max_rows),
        confidence=_confidence(data, payload),
        mix=_mix(payload),
        drift=_drift(payload),
        schema=_schema(data, max_rows),
        text=_text(data, payload),
        thresholds=_thresholds(payload),
        model=_model(data, max_rows),
        performance=_performance(data, payload),
        embeddings=embeddings_section(data, payload, max_rows, _table),
        data=safe_json(_shown(payload)),
        plotly=plotly_js,
        app=app,
    )
