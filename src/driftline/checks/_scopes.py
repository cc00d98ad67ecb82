"""Engine summaries of one grouping, and the overall scope merged from a cohort's."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from driftline.checks._results import Moments
from driftline.engine import Engine
from driftline.engine.numeric import numeric_summary, uses_kernel
from driftline.engine.scores import score_builders
from driftline.engine.summaries import (
    CATEGORY_SUMMARY_SCHEMA,
    CLASS_COUNTS_SCHEMA,
    HISTOGRAM_SCHEMA,
    OVERALL,
    TOKEN_FEATURES,
    batch_rows,
    category_summary,
    class_counts,
    confidence_quantiles,
    expand_histograms,
    histograms,
    text_feature_builders,
    window_summary,
)
from driftline.profile import Profile
from driftline.spec import Spec, Window


@dataclass
class _Scope:
    cohort: str | None
    stats: dict[tuple[int, str], dict[str, Any]]
    classes: dict[tuple[int, str], dict[str, int]]
    features: dict[tuple[int, str], dict[str, Any]]
    batches: dict[tuple[int, str], dict[int, int]]
    hist: dict[tuple[int, str], dict[str, list[int]]]
    cats: dict[tuple[int, str], dict[str, dict[str, int]]]
    unseen: dict[tuple[int, str], dict[str, dict[str, int]]]


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _summaries(
    engine: Engine,
    t: ir.Table,
    spec: Spec,
    profile: Profile,
    window: Window,
    cohort: str | None,
    era: tuple[datetime | None, datetime | None] | None = None,
) -> _Scope:
    """Every summary of one grouping: one wide scan for the row-level ones, small scans
    for class counts, batches, token-level text features and categories."""
    token_names = {f"{c}:{f}" for c in profile.text_ for f in TOKEN_FEATURES}
    row_edges = {k: v for k, v in profile.bin_edges_.items() if k not in token_names}
    token_edges = {k: v for k, v in profile.bin_edges_.items() if k in token_names}
    numeric = {c for c, k in spec.feature_kinds.items() if k == "numeric"}
    kernel = uses_kernel(engine, len(numeric))
    if not kernel:
        numeric = set()
    query_edges = {k: v for k, v in row_edges.items() if k not in numeric}
    kernel_edges = {k: v for k, v in row_edges.items() if k in numeric}
    wide = window_summary(
        t,
        spec,
        window,
        cohort,
        ranges=profile.ranges(),
        edges=query_edges,
        values={
            **text_feature_builders(list(profile.text_)),
            **score_builders(spec, profile.scores_),
        },
        native=engine.native_histograms,
        era=era,
        numeric=not kernel,
    )
    stats: dict[tuple[int, str], dict[str, Any]] = {}
    hist: dict[tuple[int, str], dict[str, list[int]]] = defaultdict(dict)
    for r in _rows(expand_histograms(engine.run(wide), query_edges)):
        key = (int(r["window"]), str(r["cohort_value"]))
        stats[key] = r
        hist[key] = _histograms(r, query_edges)
    if numeric:
        # one streamed scan of the numeric features, counted by a kernel: the same columns
        keys = list(stats)
        counted = numeric_summary(
            engine, t, spec, window, cohort, keys, ranges=profile.ranges(), edges=kernel_edges
        )
        for key, r in zip(keys, _rows(counted), strict=True):
            hist[key].update(_histograms(r, kernel_edges))
            stats[key].update((k, v) for k, v in r.items() if not _HISTOGRAM.match(k))
    if token_edges:
        vocab = {c: v["vocabulary"] for c, v in profile.text_.items()}
        expr = histograms(t, spec, window, cohort, token_edges, {}, vocab)
        assert expr is not None
        for r in _rows(engine.run(expr, HISTOGRAM_SCHEMA)):
            counts = hist[(r["window"], r["cohort_value"])].setdefault(
                r["column"], [0] * (len(token_edges[r["column"]]) + 1)
            )
            counts[int(r["bin"]) + 1] += int(r["n"])
    classes: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for r in _rows(engine.run(class_counts(t, spec, window, cohort), CLASS_COUNTS_SCHEMA)):
        classes[(r["window"], r["cohort_value"])][r["value"]] = int(r["n"])
    batches: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    for r in _rows(engine.run(batch_rows(t, spec, window, cohort))):
        batches[(int(r["window"]), str(r["cohort_value"]))][int(r["_batch"])] = int(r["n"])
    cats: dict[tuple[int, str], dict[str, dict[str, int]]] = defaultdict(dict)
    unseen: dict[tuple[int, str], dict[str, dict[str, int]]] = defaultdict(dict)
    known = {c: list(v) for c, v in profile.categories_.items()}
    expr = category_summary(t, spec, window, cohort, known)
    if expr is not None:
        table = engine.run(expr, CATEGORY_SUMMARY_SCHEMA)
        columns = (table.column(name).to_pylist() for name in CATEGORY_SUMMARY_SCHEMA.names)
        for w, cohort_value, col, value, n, top in zip(*columns, strict=True):
            per = (unseen if top else cats)[(w, cohort_value)].setdefault(col, {})
            per[value] = per.get(value, 0) + n
    return _Scope(
        cohort, stats, dict(classes), stats, dict(batches), dict(hist), dict(cats), dict(unseen)
    )


_HISTOGRAM = re.compile(r"h\d")


def _histograms(
    row: Mapping[str, Any], edges: Mapping[str, Sequence[float]]
) -> dict[str, list[int]]:
    """The ``h{k}_{j}`` counts of a summary row per source: [below the reference range,
    bins..., above it]."""
    return {
        name: [int(row[f"h{k}_{j}"]) for j in range(len(e) + 1)]
        for k, (name, e) in enumerate(edges.items())
    }


def _int(value: Any) -> int:
    """A count of a summary row; a NULL count (a group with no value) is 0."""
    return 0 if value is None else int(value)


def _add_counts(into: dict[Any, int], more: Mapping[Any, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def _merge_overall(scope: _Scope, spec: Spec, quantiles: Mapping[int, list[float]]) -> _Scope:
    """The overall scope from one cohort column's groups: counts and histograms add,
    moments merge exactly (Chan et al.), quantiles come from their own small scan, and
    the top unseen values are the most frequent among the cohorts' own top lists."""
    by_window: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key in scope.stats:
        by_window[key[0]].append(key)
    # each feature's keys in a summary row, spelled once (see window_summary)
    keys_of = [
        (f"m{i}", f"lo{i}", f"hi{i}", f"nf{i}", f"mean{i}", f"var{i}")
        for i in range(len(spec.feature_kinds))
    ]
    stats: dict[tuple[int, str], dict[str, Any]] = {}
    classes: dict[tuple[int, str], dict[str, int]] = {}
    batches: dict[tuple[int, str], dict[int, int]] = {}
    hist: dict[tuple[int, str], dict[str, list[int]]] = {}
    cats: dict[tuple[int, str], dict[str, dict[str, int]]] = {}
    unseen: dict[tuple[int, str], dict[str, dict[str, int]]] = {}
    for w, keys in by_window.items():
        parts = [scope.stats[k] for k in keys]
        n = sum(int(p["n"]) for p in parts)
        conf = Moments()
        for p in parts:
            conf = conf + Moments.from_var(int(p["n"]), p["conf_mean"], p["conf_var"])
        row: dict[str, Any] = {
            "window": w,
            "cohort_value": OVERALL,
            "n": n,
            "conf_mean": conf.mean if conf.n else None,
            "conf_var": conf.var,
            "conf_min": min(
                (p["conf_min"] for p in parts if p["conf_min"] is not None), default=None
            ),
            "conf_max": max(
                (p["conf_max"] for p in parts if p["conf_max"] is not None), default=None
            ),
            "conf_q": quantiles.get(w),
            "ts_min": min(p["ts_min"] for p in parts),
            "ts_max": max(p["ts_max"] for p in parts),
        }
        for count in ("era_early", "era_late"):
            if count in parts[0]:
                row[count] = sum(_int(p[count]) for p in parts)
        for missing, below, above, non_finite, mean, var in keys_of:
            row[missing] = sum(_int(p[missing]) for p in parts)
            if below in parts[0]:
                for count in (below, above, non_finite):
                    row[count] = sum(_int(p[count]) for p in parts)
                m = Moments()
                for p in parts:  # moments are of the finite values
                    finite = int(p["n"]) - _int(p[missing]) - _int(p[non_finite])
                    m = m + Moments.from_var(finite, p[mean], p[var])
                row[mean] = m.mean if m.n else None
                row[var] = m.var
        key = (w, OVERALL)
        stats[key] = row
        classes[key], batches[key], hist[key] = {}, {}, {}
        cats[key], unseen[key] = {}, {}
        for k in keys:
            _add_counts(classes[key], scope.classes.get(k, {}))
            _add_counts(batches[key], scope.batches.get(k, {}))
            for name, counts in scope.hist.get(k, {}).items():
                into = hist[key].setdefault(name, [0] * len(counts))
                hist[key][name] = [a + b for a, b in zip(into, counts, strict=True)]
            for target, source in ((cats[key], scope.cats), (unseen[key], scope.unseen)):
                for col, values in source.get(k, {}).items():
                    _add_counts(target.setdefault(col, {}), values)
        for col, values in unseen[key].items():
            unseen[key][col] = dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
    return _Scope(None, stats, classes, stats, batches, hist, cats, unseen)


def _all_scopes(
    engine: Engine,
    t: ir.Table,
    spec: Spec,
    profile: Profile,
    window: Window,
    era: tuple[datetime | None, datetime | None] | None = None,
) -> list[_Scope]:
    """Overall plus one scope per cohort column. The overall scope is merged from the
    first cohort column's groups rather than scanned again. ``era``: the timestamp
    bounds the overall scope counts rows beyond (see ``window_summary``)."""
    if not spec.cohorts:
        return [_summaries(engine, t, spec, profile, window, None, era)]
    first = _summaries(engine, t, spec, profile, window, spec.cohorts[0], era)
    quantiles = {
        int(r["window"]): r["conf_q"]
        for r in _rows(engine.run(confidence_quantiles(t, spec, window)))
    }
    rest = [_summaries(engine, t, spec, profile, window, c) for c in spec.cohorts[1:]]
    return [_merge_overall(first, spec, quantiles), first, *rest]
