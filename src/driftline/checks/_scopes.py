"""Engine summaries of one grouping, and the overall scope merged from a cohort's.

The wide summary arrives as typed records (:mod:`driftline.engine.records`), read by
field and by column name; nothing here knows the positional names of the query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from driftline.checks._compiled import Era, Queries
from driftline.engine import Engine
from driftline.engine.numeric import numeric_summary, uses_kernel
from driftline.engine.records import (
    FeatureCounts,
    WindowSummary,
    read_feature_counts,
    read_window_summary,
)
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
    histograms,
    text_feature_builders,
    window_summary,
)
from driftline.methods.moments import Moments
from driftline.profile import Profile
from driftline.spec import Spec, Window
from driftline.thresholds import monitored_sources


@dataclass
class _Scope:
    """The summaries of one grouping (overall, or one cohort column's values), per
    ``(window, cohort value)``: typed records, read by name."""

    cohort: str | None
    summaries: dict[tuple[int, str], WindowSummary]
    classes: dict[tuple[int, str], dict[str, int]]
    batches: dict[tuple[int, str], dict[int, int]]
    cats: dict[tuple[int, str], dict[str, dict[str, int]]]
    unseen: dict[tuple[int, str], dict[str, dict[str, int]]]


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _summaries(
    q: Queries,
    spec: Spec,
    profile: Profile,
    window: Window,
    cohort: str | None,
    with_era: bool = False,
) -> _Scope:
    """Every summary of one grouping over ``q``'s rows: one wide scan for the row-level
    ones, small scans for class counts, batches, token-level text features and
    categories. ``with_era``: the wide scan counts the rows beyond ``q``'s era bounds."""
    engine, t = q.engine, q.rows
    token_names = {f"{c}:{f}" for c in profile.text_ for f in TOKEN_FEATURES}
    row_edges = {k: v for k, v in profile.bin_edges_.items() if k not in token_names}
    token_edges = {k: v for k, v in profile.bin_edges_.items() if k in token_names}
    numeric = {c for c, k in spec.feature_kinds.items() if k == "numeric"}
    kernel = uses_kernel(engine, len(numeric))
    if not kernel:
        numeric = set()
    query_edges = {k: v for k, v in row_edges.items() if k not in numeric}
    # the counts against the decision thresholds chosen on the holdout, as histograms
    relative = monitored_sources(spec, profile.thresholds_)
    query_edges.update({name: edges for name, (edges, _) in relative.items()})
    kernel_edges = {k: v for k, v in row_edges.items() if k in numeric}
    ranges = profile.ranges()
    values = {
        **text_feature_builders(list(profile.text_)),
        **score_builders(spec, profile.scores_),
        **{name: build for name, (_, build) in relative.items()},
    }

    def wide(rows: ir.Table, era: Era) -> ir.Table:
        return window_summary(
            rows,
            spec,
            window,
            cohort,
            ranges=ranges,
            edges=query_edges,
            values=values,
            native=engine.native_histograms,
            era=era if with_era else None,
            numeric=not kernel,
        )

    name = f"{cohort!r}:{with_era}"
    table = q.run(f"window_summary:{name}", wide)
    assert table is not None
    read = read_window_summary(
        table, spec, ranges=ranges, edges=query_edges, numeric=not kernel, era=with_era
    )
    summaries = {s.key: s for s in read}
    if numeric:
        # one streamed scan of the numeric features, counted by a kernel: the same records
        keys = list(summaries)
        counted = numeric_summary(
            engine, t, spec, window, cohort, keys, ranges=ranges, edges=kernel_edges
        )
        features, hists = read_feature_counts(counted, spec, kernel_edges)
        for key, more, hist in zip(keys, features, hists, strict=True):
            summaries[key].features.update(more)
            summaries[key].histograms.update(hist)
    if token_edges:
        vocab = {c: v["vocabulary"] for c, v in profile.text_.items()}
        tokens = q.run(
            f"histograms:{name}",
            lambda rows, _: histograms(rows, spec, window, cohort, token_edges, {}, vocab),
            HISTOGRAM_SCHEMA,
        )
        assert tokens is not None
        for r in _rows(tokens):
            counts = summaries[(r["window"], r["cohort_value"])].histograms.setdefault(
                r["column"], [0] * (len(token_edges[r["column"]]) + 1)
            )
            counts[int(r["bin"]) + 1] += int(r["n"])
    classes: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    counted_classes = q.run(
        f"class_counts:{name}",
        lambda rows, _: class_counts(rows, spec, window, cohort),
        CLASS_COUNTS_SCHEMA,
    )
    assert counted_classes is not None
    for r in _rows(counted_classes):
        classes[(r["window"], r["cohort_value"])][r["value"]] = int(r["n"])
    batches: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    fed = q.run(f"batch_rows:{name}", lambda rows, _: batch_rows(rows, spec, window, cohort))
    assert fed is not None
    for r in _rows(fed):
        batches[(int(r["window"]), str(r["cohort_value"]))][int(r["_batch"])] = int(r["n"])
    cats: dict[tuple[int, str], dict[str, dict[str, int]]] = defaultdict(dict)
    unseen: dict[tuple[int, str], dict[str, dict[str, int]]] = defaultdict(dict)
    known = {c: list(v) for c, v in profile.categories_.items()}
    found = q.run(
        f"category_summary:{name}",
        lambda rows, _: category_summary(rows, spec, window, cohort, known),
        CATEGORY_SUMMARY_SCHEMA,
    )
    if found is not None:
        columns = (found.column(n).to_pylist() for n in CATEGORY_SUMMARY_SCHEMA.names)
        for w, cohort_value, col, value, n, top in zip(*columns, strict=True):
            per = (unseen if top else cats)[(w, cohort_value)].setdefault(col, {})
            per[value] = per.get(value, 0) + n
    return _Scope(cohort, summaries, dict(classes), dict(batches), dict(cats), dict(unseen))


def _add_counts(into: dict[Any, int], more: Mapping[Any, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def _merged_features(parts: Sequence[WindowSummary]) -> dict[str, FeatureCounts]:
    """The features of one window's cohort values as one: counts add, moments (of the
    finite values) merge exactly."""
    out: dict[str, FeatureCounts] = {}
    for name, first in parts[0].features.items():
        counts = [p.features[name] for p in parts]
        missing = sum(f.missing for f in counts)
        if not first.ranged:
            out[name] = FeatureCounts(missing)
            continue
        m = Moments()
        for p, f in zip(parts, counts, strict=True):
            finite = p.n - f.missing - (f.non_finite or 0)
            m = m + Moments.from_var(finite, f.mean, f.var)
        out[name] = FeatureCounts(
            missing,
            sum(f.below or 0 for f in counts),
            sum(f.above or 0 for f in counts),
            sum(f.non_finite or 0 for f in counts),
            m.mean if m.n else None,
            m.var,
        )
    return out


def _merge_overall(scope: _Scope, quantiles: Mapping[int, list[float]]) -> _Scope:
    """The overall scope from one cohort column's groups: counts and histograms add,
    moments merge exactly (Chan et al.), quantiles come from their own small scan, and
    the top unseen values are the most frequent among the cohorts' own top lists."""
    by_window: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key in scope.summaries:
        by_window[key[0]].append(key)
    summaries: dict[tuple[int, str], WindowSummary] = {}
    classes: dict[tuple[int, str], dict[str, int]] = {}
    batches: dict[tuple[int, str], dict[int, int]] = {}
    cats: dict[tuple[int, str], dict[str, dict[str, int]]] = {}
    unseen: dict[tuple[int, str], dict[str, dict[str, int]]] = {}
    for w, keys in by_window.items():
        parts = [scope.summaries[k] for k in keys]
        conf = Moments()
        for p in parts:
            conf = conf + Moments.from_var(p.n, p.conf_mean, p.conf_var)
        hist: dict[str, list[int]] = {}
        for p in parts:
            for name, counts in p.histograms.items():
                into = hist.setdefault(name, [0] * len(counts))
                hist[name] = [a + b for a, b in zip(into, counts, strict=True)]
        key = (w, OVERALL)
        summaries[key] = WindowSummary(
            window=w,
            cohort_value=OVERALL,
            n=sum(p.n for p in parts),
            conf_mean=conf.mean if conf.n else None,
            conf_var=conf.var,
            conf_min=min((p.conf_min for p in parts if p.conf_min is not None), default=None),
            conf_max=max((p.conf_max for p in parts if p.conf_max is not None), default=None),
            conf_q=quantiles.get(w),
            ts_min=min(_present(p.ts_min for p in parts), default=None),
            ts_max=max(_present(p.ts_max for p in parts), default=None),
            era_early=sum(p.era_early for p in parts),
            era_late=sum(p.era_late for p in parts),
            features=_merged_features(parts),
            histograms=hist,
        )
        classes[key], batches[key] = {}, {}
        cats[key], unseen[key] = {}, {}
        for k in keys:
            _add_counts(classes[key], scope.classes.get(k, {}))
            _add_counts(batches[key], scope.batches.get(k, {}))
            for target, source in ((cats[key], scope.cats), (unseen[key], scope.unseen)):
                for col, values in source.get(k, {}).items():
                    _add_counts(target.setdefault(col, {}), values)
        for col, values in unseen[key].items():
            unseen[key][col] = dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
    return _Scope(None, summaries, classes, batches, cats, unseen)


def _present(values: Iterable[datetime | None]) -> list[datetime]:
    return [v for v in values if v is not None]


def _all_scopes(
    engine: Engine,
    t: ir.Table,
    spec: Spec,
    profile: Profile,
    window: Window,
    era: Era = None,
    queries: Queries | None = None,
) -> list[_Scope]:
    """Overall plus one scope per cohort column. The overall scope is merged from the
    first cohort column's groups rather than scanned again. ``era``: the timestamp
    bounds the overall scope counts rows beyond (see ``window_summary``). ``queries``
    runs the queries over ``t`` (e.g. from templates kept in the store, see
    :mod:`driftline.checks._compiled`); by default they are built and run on ``engine``."""
    q = queries if queries is not None else Queries(engine, t, era)
    if not spec.cohorts:
        return [_summaries(q, spec, profile, window, None, with_era=True)]
    first = _summaries(q, spec, profile, window, spec.cohorts[0], with_era=True)
    found = q.run("confidence_quantiles", lambda rows, _: confidence_quantiles(rows, spec, window))
    assert found is not None
    quantiles = {int(r["window"]): r["conf_q"] for r in _rows(found)}
    rest = [_summaries(q, spec, profile, window, c) for c in spec.cohorts[1:]]
    return [_merge_overall(first, quantiles), first, *rest]
