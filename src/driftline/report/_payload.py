"""The report's view model: a compact, JSON-ready digest of one check report.

Everything here works on the results JSON (``CheckReport.to_dict()``), never on the store.
The digest keeps what the charts draw and nothing else: per scope (overall and each
cohort value) the confidence and class-count series, and per drift row (a feature or a
text style feature) the value, bound, status and current histogram of every window.
Floats are rounded to 6 significant digits; non-finite floats become ``null``.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline._catalog import DRIFT_CHECKS, OTHER
from driftline.errors import SchemaError

if TYPE_CHECKING:
    from driftline.checks import CheckReport

__all__ = [
    "SCHEMA_CHECKS",
    "THRESHOLD_CHECKS",
    "Scope",
    "build_payload",
    "embeddings_payload",
    "incident_scope",
    "incident_scopes",
    "load_report",
    "num",
    "scope_label",
    "scopes_of",
]

#: Checks shown as schema violations (training-serving skew), in display order.
SCHEMA_CHECKS = (
    "missing_column",
    "type_change",
    "extra_column",
    "out_of_range",
    "unseen_category",
    "missing_fraction",
    "timestamp_era",
    "cohort_baseline",
)

Scope = tuple[str | None, str | None]


def load_report(
    report: CheckReport | Mapping[str, Any] | str | bytes | os.PathLike[str],
) -> dict[str, Any]:
    """A check report as a plain dict, from a ``CheckReport``, a dict, JSON text or a file.

    A ``str`` or ``bytes`` is JSON text; a :class:`~pathlib.Path` (any ``os.PathLike``) is
    a file holding it (``driftline check --json > results.json``).
    """
    data: Any
    if isinstance(report, (str, bytes)):
        data = json.loads(report)
    elif isinstance(report, os.PathLike):
        data = json.loads(Path(report).read_text(encoding="utf-8"))
    elif isinstance(report, Mapping):
        data = dict(report)
    elif callable(getattr(report, "to_dict", None)):
        data = report.to_dict()
    else:
        raise TypeError(
            f"render_report needs a CheckReport, a dict, JSON text or a path to a results "
            f"JSON file; got {type(report).__name__}. Pass `monitor.check()` or its "
            "`.to_json()`."
        )
    if not isinstance(data, dict):
        raise SchemaError(
            f"a check report is a JSON object; got a JSON {type(data).__name__}. Pass the "
            "output of `driftline check --json` or `CheckReport.to_json()`."
        )
    missing = [k for k in ("stats", "results") if not isinstance(data.get(k), list)]
    if missing:
        raise SchemaError(
            f"the check report lacks {', '.join(repr(k) for k in missing)} (a list each); "
            f"its keys are {sorted(data)[:8]}. Pass the output of `driftline check --json` "
            "or `CheckReport.to_json()`."
        )
    return data


def num(value: Any) -> float | None:
    """A finite float rounded to 6 significant digits, or ``None``.

    >>> num(0.123456789), num(float("inf")), num(None), num(3)
    (0.123457, None, None, 3.0)
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return float(f"{f:.6g}")


def scope_label(cohort: str | None, value: str | None) -> str:
    """``overall`` or ``cohort=value`` (an empty value as ``''``, as the command line and
    the incidents show it).

    >>> scope_label(None, None), scope_label("region", "eu"), scope_label("region", "")
    ('overall', 'region=eu', "region=''")
    """
    if cohort is None:
        return "overall"
    return f"{cohort}={value!r}" if value == "" else f"{cohort}={value}"


def _natural(key: str) -> tuple[int, float, str]:
    try:
        return (0, float(key), key)
    except ValueError:
        return (1, 0.0, key)


def _scope_of(row: Mapping[str, Any]) -> Scope:
    cohort = row.get("cohort")
    value = row.get("cohort_value")
    return (None if cohort is None else str(cohort), None if value is None else str(value))


def scopes_of(data: Mapping[str, Any], max_scopes: int) -> tuple[list[Scope], list[Scope]]:
    """(shown, omitted) scopes: overall first, then cohort values.

    When there are more than ``max_scopes``, the values an incident is located in (its
    root cause's scope, else its first carrier: where its evidence links point), then
    those with the most alerts, then the most predictions, are shown. Shown scopes are
    ordered by cohort (the plan's order) then value.
    """
    n: dict[Scope, int] = defaultdict(int)
    for s in data["stats"]:
        n[_scope_of(s)] += int(s.get("n") or 0)
    for r in data["results"]:
        n.setdefault(_scope_of(r), 0)
    alerts: dict[Scope, int] = defaultdict(int)
    for a in data.get("alerts") or []:
        alerts[_scope_of(a)] += 1
    overall: Scope = (None, None)
    others = [s for s in n if s != overall]
    located = incident_scopes(data)
    ranked = sorted(
        others, key=lambda s: (s not in located, -alerts[s], -n[s], str(s[0]), str(s[1]))
    )
    keep = max(max_scopes - 1, 0)
    shown, omitted = ranked[:keep], ranked[keep:]
    cohorts = list((data.get("plan") or {}).get("cohorts") or [])
    order = {c: i for i, c in enumerate(cohorts)}
    shown.sort(key=lambda s: (order.get(s[0], len(order)), str(s[0]), _natural(str(s[1]))))
    head = [overall] if overall in n else []
    return head + shown, omitted


def incident_scope(inc: Mapping[str, Any]) -> Scope:
    """Where an incident's evidence is: its root cause's scope (overall for a change
    in every cohort value), else its first carrier's, else overall."""
    cause = inc.get("root_cause") or {}
    where = cause.get("scope")
    if not where:
        where = next(iter(cause.get("carriers") or []), None) or {}
    cohort, value = where.get("cohort"), where.get("cohort_value")
    return (None, None) if cohort is None else (str(cohort), None if value is None else str(value))


def incident_scopes(data: Mapping[str, Any]) -> set[Scope]:
    """:func:`incident_scope` of every incident of the report."""
    return {incident_scope(inc) for inc in data.get("incidents") or []}


def _series(rows: list[Mapping[str, Any]], key: str) -> list[float | None]:
    return [num(r.get(key)) for r in rows]


def _stats_block(
    rows: list[Mapping[str, Any]], classes: list[str], results: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    x = [str(r["window_start"]) for r in rows]
    pos = {w: i for i, w in enumerate(x)}
    conf_alerts = sorted(
        {
            pos[str(r["window_start"])]
            for r in results
            if r.get("check") == "confidence_shift"
            and r.get("status") == "alert"
            and str(r["window_start"]) in pos
        }
    )
    return {
        "x": x,
        "n": [int(r.get("n") or 0) for r in rows],
        "mean": _series(rows, "conf_mean"),
        "p10": _series(rows, "conf_p10"),
        "p50": _series(rows, "conf_p50"),
        "p90": _series(rows, "conf_p90"),
        "rmean": _series(rows, "rolling_mean"),
        "rvar": _series(rows, "rolling_var"),
        "counts": [[int((r.get("class_counts") or {}).get(c, 0)) for r in rows] for c in classes],
        "conf_alerts": conf_alerts,
    }


def _text_columns(reference: Mapping[str, Any]) -> dict[str, list[str]]:
    feats = reference.get("text_features") or {}
    return {str(c): [str(f) for f in v] for c, v in feats.items()}


def _row_info(
    check: str,
    column: str,
    reference: Mapping[str, Any],
    texts: Mapping[str, list[str]],
) -> dict[str, Any]:
    edges = reference.get("bin_edges") or {}
    info: dict[str, Any] = {"check": check, "column": column, "label": column}
    if column in edges:
        info.update(kind="numeric", key=column)
    elif column in (reference.get("categories") or {}):
        info.update(kind="categorical", key=column)
    else:
        info.update(kind="unknown", key=None)
    if check == "text_drift":
        for text, features in texts.items():
            prefix = text + ":"
            if column.startswith(prefix) and column[len(prefix) :] in features:
                info.update(text=text, feature=column[len(prefix) :])
                break
    return info


def _severity(r: Mapping[str, Any]) -> float:
    value, bound = num(r.get("value")), num(r.get("bound"))
    if value is None:
        return -1.0
    if bound:
        return value / bound
    return math.inf if value > 0 else 0.0


#: The threshold-relative checks, in display order.
THRESHOLD_CHECKS = ("threshold_above", "threshold_band", "threshold_none")


def _thresholds(
    reference: Mapping[str, Any],
    shown: list[Scope],
    stats: list[dict[str, Any]],
    results_by: Mapping[Scope, list[Mapping[str, Any]]],
) -> dict[str, Any] | None:
    """What the thresholds section draws: per class its threshold, default, margin,
    holdout metrics before and after and precision-recall curve; per shown scope, per
    threshold-relative check and class, the share of each window (aligned with
    ``stats[i]["x"]``), the holdout's share and the windows that alerted. None when the
    profile holds no thresholds."""
    fitted = reference.get("thresholds")
    if not isinstance(fitted, Mapping):
        return None

    def metrics(m: Any) -> dict[str, float | None] | None:
        if not isinstance(m, Mapping):
            return None
        return {k: num(m.get(k)) for k in ("precision", "recall", "f1")}

    classes = []
    for cls, t in (fitted.get("classes") or {}).items():
        curve = t.get("curve") or {}
        margin = t.get("margin")
        classes.append(
            {
                "cls": str(cls),
                "threshold": num(t.get("threshold")),
                "default": num(t.get("default")),
                "value": num(t.get("value")),
                "margin": [num(v) for v in margin] if margin else None,
                "before": metrics(t.get("before")),
                "after": metrics(t.get("after")),
                "note": t.get("note"),
                "curve": {
                    k: [num(v) for v in curve.get(k) or []]
                    for k in ("threshold", "precision", "recall")
                },
            }
        )
    series = []
    for i, scope in enumerate(shown):
        pos = {w: j for j, w in enumerate(stats[i]["x"])}
        lines: dict[tuple[str, str | None], dict[str, Any]] = {}
        for r in results_by.get(scope, []):
            check = r.get("check")
            w = pos.get(str(r.get("window_start")))
            if check not in THRESHOLD_CHECKS or w is None:
                continue
            column = None if r.get("column") is None else str(r["column"])
            details = r.get("details") or {}
            line = lines.setdefault(
                (str(check), column),
                {
                    "check": check,
                    "column": column,
                    "share": [None] * len(pos),
                    "reference": num(details.get("reference_share")),
                    "alerts": [],
                },
            )
            line["share"][w] = num(details.get("current_share"))
            if r.get("status") == "alert":
                line["alerts"].append(w)
        order = {c: k for k, c in enumerate(THRESHOLD_CHECKS)}
        series.append(
            sorted(lines.values(), key=lambda v: (order[v["check"]], _natural(str(v["column"]))))
        )
    config = fitted.get("config") or {}
    return {
        "objective": str(config.get("objective", "")),
        "band": num(config.get("band")),
        "binary": bool(fitted.get("binary")),
        "labelled": fitted.get("labelled"),
        "classes": classes,
        "series": series,
    }


def _performance(
    shown: list[Scope],
    results_by: Mapping[Scope, list[Mapping[str, Any]]],
    labels: Mapping[str, Any],
) -> dict[str, Any]:
    """Per shown scope: realised accuracy with the lowest accuracy that does not alert
    (the holdout's minus the bound), the estimate with its band, the labelled count and
    the windows that alerted; and the overall scope's latest labelled window's confusion
    matrix and reliability diagram."""
    scopes = []
    latest: dict[str, Any] | None = None
    for scope in shown:
        own = [
            r
            for r in results_by.get(scope, [])
            if r.get("check") in ("performance", "performance_estimate")
        ]
        x = sorted({str(r["window_start"]) for r in own})
        pos = {w: i for i, w in enumerate(x)}
        block: dict[str, Any] = {
            "x": x,
            **{k: [None] * len(x) for k in ("acc", "limit", "est", "low", "high", "labelled")},
            "alerts": [],
        }
        for r in own:
            j = pos[str(r["window_start"])]
            d = r.get("details") or {}
            if r["check"] == "performance":
                block["acc"][j] = num(d.get("accuracy"))
                ref, bound = num(d.get("reference_accuracy")), num(r.get("bound"))
                block["limit"][j] = None if ref is None or bound is None else ref - bound
                block["labelled"][j] = int(r.get("n") or 0)
                if r.get("status") == "alert":
                    block["alerts"].append(j)
                if scope == (None, None) and (
                    latest is None or str(r["window_start"]) > latest["window_start"]
                ):
                    rel = d.get("reliability") or {}
                    latest = {
                        "window_start": str(r["window_start"]),
                        "classes": [str(c) for c in d.get("classes") or []],
                        "confusion": [[int(v) for v in row] for row in d.get("confusion") or []],
                        "ece": num(d.get("ece")),
                        "rel_conf": [num(v) for v in rel.get("confidence") or []],
                        "rel_acc": [num(v) for v in rel.get("accuracy") or []],
                        "rel_rows": [int(v) for v in rel.get("rows") or []],
                    }
            else:
                block["est"][j] = num(r.get("value"))
                block["low"][j] = num(d.get("accuracy_low"))
                block["high"][j] = num(d.get("accuracy_high"))
        scopes.append(block)
    return {
        "scopes": scopes,
        "latest": latest,
        "labels": {
            "unknown_ids": int(labels.get("unknown_ids") or 0),
            "calibration": labels.get("calibration"),
            "holdout_accuracy": num(labels.get("holdout_accuracy")),
            "holdout_ece": num(labels.get("holdout_ece")),
        },
    }


def build_payload(data: Mapping[str, Any], *, max_scopes: int = 25) -> dict[str, Any]:
    """The compact JSON the report's charts are drawn from.

    ``scopes[i]`` indexes ``stats[i]`` and ``drift[i]``; ``rows[r]`` describes row ``r``
    of every ``drift[i]`` matrix (``value[r][w]``, ``bound``, ``status``, ``n``, ``cur``:
    the window's bin counts, or ``{category: [reference, current]}``); ``bins`` holds the
    reference edges and counts of numeric rows, ``cat_totals`` the reference's
    non-missing count of categorical rows.
    """
    reference: Mapping[str, Any] = data.get("reference") or {}
    shown, omitted = scopes_of(data, max_scopes)
    index = {s: i for i, s in enumerate(shown)}

    stats_by: dict[Scope, list[Mapping[str, Any]]] = defaultdict(list)
    for s in data["stats"]:
        stats_by[_scope_of(s)].append(s)
    results_by: dict[Scope, list[Mapping[str, Any]]] = defaultdict(list)
    for r in data["results"]:
        results_by[_scope_of(r)].append(r)

    class_set = {str(c) for c in (reference.get("predicted_mix") or {})}
    for s in data["stats"]:
        class_set.update(str(c) for c in (s.get("class_counts") or {}))
    classes = sorted(class_set, key=_natural)

    stats = []
    for scope in shown:
        rows = sorted(stats_by.get(scope, []), key=lambda s: str(s["window_start"]))
        stats.append(_stats_block(rows, classes, results_by.get(scope, [])))

    # drift rows: every (check, column) of a drift check, most severe (anywhere) first
    texts = _text_columns(reference)
    worst: dict[tuple[str, str], float] = {}
    for r in data["results"]:
        if r.get("check") in DRIFT_CHECKS and r.get("column") is not None:
            key = (str(r["check"]), str(r["column"]))
            worst[key] = max(worst.get(key, -1.0), _severity(r))
    row_keys = sorted(worst, key=lambda k: (-worst[k], k[1], k[0]))
    row_pos = {k: i for i, k in enumerate(row_keys)}
    rows_info = [_row_info(c, col, reference, texts) for c, col in row_keys]

    drift = []
    for scope in shown:
        own = [r for r in results_by.get(scope, []) if r.get("check") in DRIFT_CHECKS]
        x = sorted(
            {str(w) for w in stats[index[scope]]["x"]} | {str(r["window_start"]) for r in own}
        )
        wpos = {w: i for i, w in enumerate(x)}
        nr, nw = len(row_keys), len(x)
        block: dict[str, Any] = {
            "x": x,
            **{
                k: [[None] * nw for _ in range(nr)]
                for k in ("value", "bound", "status", "n", "cur")
            },
            "method": [None] * nr,
        }
        for r in own:
            if r.get("column") is None:
                continue
            i = row_pos[(str(r["check"]), str(r["column"]))]
            j = wpos[str(r["window_start"])]
            block["value"][i][j] = num(r.get("value"))
            block["bound"][i][j] = num(r.get("bound"))
            block["status"][i][j] = str(r.get("status"))
            block["n"][i][j] = int(r.get("n") or 0)
            details = r.get("details") or {}
            if "current" in details:
                block["cur"][i][j] = [int(v) for v in details["current"]]
            elif "categories" in details:
                block["cur"][i][j] = {
                    str(k): [int(v[0]), int(v[1])] for k, v in details["categories"].items()
                }
            if block["method"][i] is None and r.get("method"):
                block["method"][i] = str(r["method"])
        drift.append(block)

    edges = reference.get("bin_edges") or {}
    counts = reference.get("bin_counts") or {}
    bins = {
        row["key"]: {
            "edges": [num(e) for e in edges[row["key"]]],
            "counts": [int(c) for c in counts.get(row["key"], [])],
        }
        for row in rows_info
        if row["kind"] == "numeric"
    }
    cats = reference.get("categories") or {}
    cat_totals = {
        row["key"]: int(sum(int(v) for v in cats[row["key"]].values()))
        for row in rows_info
        if row["kind"] == "categorical"
    }
    conf = reference.get("confidence") or {}
    performance = _performance(shown, results_by, data.get("labels") or {})
    return {
        "thresholds": _thresholds(reference, shown, stats, results_by),
        "performance": performance,
        "meta": {k: data.get(k) for k in ("run_id", "created_at", "window", "since", "until")},
        "scopes": [{"cohort": c, "value": v, "label": scope_label(c, v)} for c, v in shown],
        "omitted_scopes": len(omitted),
        "classes": classes,
        "stats": stats,
        "rows": rows_info,
        "drift": drift,
        "bins": bins,
        "cat_totals": cat_totals,
        "texts": texts,
        "embeddings": embeddings_payload(data),
        "other": OTHER,
        "reference": {
            "conf_mean": num(conf.get("mean")),
            "predicted_mix": {
                str(k): int(v) for k, v in (reference.get("predicted_mix") or {}).items()
            },
        },
    }


def embeddings_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """The scatter plots' data, by class index (classes in the reference's order)."""
    view = data.get("embeddings") or {}
    reference = view.get("reference") or {}
    if not isinstance(reference, Mapping) or not reference:
        return {}
    classes = [str(c) for c in reference]

    def points(pts: Any) -> list[list[float | None]]:
        return [[num(p[0]), num(p[1])] for p in (pts or []) if isinstance(p, list) and len(p) == 2]

    windows = []
    for w in view.get("windows") or []:
        got = w.get("points") or {}
        status = w.get("status") or {}
        windows.append(
            {
                "label": str(w.get("window_start") or w.get("window")),
                "points": [points(got.get(c)) for c in classes],
                "status": [status.get(c) for c in classes],
            }
        )
    variance = [num(v) for v in view.get("explained_variance") or []]
    return {
        "column": str(view.get("column") or ""),
        "method": str(view.get("method") or "pca"),
        "explained_variance": variance,
        "classes": classes,
        "reference": [points(reference.get(c)) for c in classes],
        "windows": windows,
    }
