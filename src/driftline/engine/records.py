"""The wide summaries as typed records: what crosses the engine boundary.

Inside a query, the aggregates of :func:`~driftline.engine.summaries.window_summary` and
the columns of :func:`~driftline.engine.numeric.numeric_summary` carry short positional
aliases: for feature number ``i`` of ``spec.feature_kinds``, ``m{i}`` (missing),
``lo{i}`` / ``hi{i}`` (below / above the reference range), ``nf{i}`` (+-inf),
``mean{i}`` / ``var{i}`` (moments of the finite values), ``min{i}`` / ``max{i}``
(extremes, kernel only); for histogram source number ``k`` of the ``edges`` the query was
built with, ``h{k}_{j}`` (bin ``j - 1``: ``j = 0`` below the edges, the last above them).
They keep the SQL short and never meet a user's column name. They stop here: this
module is the one reader of them, and hands over

- :class:`WindowSummary`, one per window x cohort value (:func:`read_window_summary`),
  with its prediction statistics and, keyed by column and source name, its
  :class:`FeatureCounts` and histogram counts;
- :class:`FeatureCounts` and histograms alone, for the numeric kernel's table
  (:func:`read_feature_counts`) and the profile's bin counts (:func:`read_histograms`).

A record's storage form (the store keeps every window's summaries, see
:mod:`driftline.checks._incremental`) is plain JSON data in two parts: its prediction
statistics (:func:`summary_stats_to_dict`), which a window's stats need, and its
features and histograms (:func:`summary_body`), which only its checks need;
:func:`summary_from_dicts` reads them back.

The wide table is cast to one declared schema first (:func:`window_summary_schema`):
Spark and DuckDB return different types for the same aggregate. Every count is 0, never
None (engines sum an all-NULL column to NULL); moments and extremes are None where there
is no value to take them of.

Decoding is column by column (one ``to_pylist`` per column, transposed with ``zip``):
a thousand features over hundreds of windows would spend seconds in per-row dict
look-ups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from driftline.engine.summaries import PREDICTION_STATS_SCHEMA, expand_histograms
from driftline.spec import Spec

__all__ = [
    "FeatureCounts",
    "ThresholdCounts",
    "WindowSummary",
    "read_feature_counts",
    "read_histograms",
    "read_window_summary",
    "summary_body",
    "summary_from_dicts",
    "summary_stats_to_dict",
    "threshold_counts",
    "window_summary_schema",
]


class FeatureCounts(NamedTuple):
    """One feature in one window x cohort value.

    ``below``, ``above``, ``non_finite``, ``mean`` and ``var`` are None for a feature
    without a reference range (categorical, text, a numeric column the reference holds
    no value of); ``finite_min`` / ``finite_max`` only where asked for (the profile's
    kernel scans). A NamedTuple, immutable and named: a wide run builds one per window x
    cohort value x feature, three times as fast as a frozen dataclass.
    """

    #: values missing (null or NaN)
    missing: int
    #: values below / above the reference range (+-inf included)
    below: int | None = None
    above: int | None = None
    #: values +-inf
    non_finite: int | None = None
    #: mean and sample variance of the finite values (None below one resp. two)
    mean: float | None = None
    var: float | None = None
    #: least and greatest finite value
    finite_min: float | None = None
    finite_max: float | None = None

    @property
    def ranged(self) -> bool:
        """Whether the range counts and moments were summarised."""
        return self.below is not None


@dataclass(frozen=True)
class WindowSummary:
    """Everything row-level of one window x cohort value, from the one wide scan.

    ``features`` and ``histograms`` are keyed by column name (a text style feature by
    ``"<column>:<feature>"``); ``histograms[name]`` holds ``len(edges) + 1`` counts:
    below the edges, each bin, above them. A scope adds the numeric kernel's and the
    token-level histograms to them while it is assembled; read-only afterwards.
    """

    window: int
    cohort_value: str
    n: int
    conf_mean: float | None
    conf_var: float | None
    conf_min: float | None
    conf_max: float | None
    #: approximate confidence quantiles at :data:`~driftline.engine.summaries.QUANTILES`
    conf_q: list[float] | None
    ts_min: datetime | None
    ts_max: datetime | None
    #: rows with a timestamp before / after the data's era (0 when not asked for)
    era_early: int = 0
    era_late: int = 0
    features: dict[str, FeatureCounts] = field(default_factory=dict)
    histograms: dict[str, list[int]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, str]:
        return (self.window, self.cohort_value)


_ERA = ("era_early", "era_late")


class ThresholdCounts(NamedTuple):
    """One class's rows against its decision threshold in one window x cohort value
    (see :func:`driftline.engine.scores.threshold_sources`): rows with a score, rows at
    or above the threshold, and rows within the band around it. For the rows no class
    clears (``NONE_SOURCE``), ``above`` is the rows some class clears and ``band`` 0."""

    scored: int
    above: int
    band: int


def threshold_counts(histograms: Mapping[str, Sequence[int]], name: str) -> ThresholdCounts | None:
    """The :class:`ThresholdCounts` of source ``name`` from a summary's histograms
    (None: not counted there).

    >>> threshold_counts({"t": [5, 2, 3, 10]}, "t")
    ThresholdCounts(scored=20, above=13, band=5)
    >>> threshold_counts({"none": [4, 16, 0]}, "none")
    ThresholdCounts(scored=20, above=16, band=0)
    """
    counts = histograms.get(name)
    if counts is None:
        return None
    if len(counts) == 3:  # the largest score - threshold: below 0, [0, 2], above
        return ThresholdCounts(sum(counts), counts[1] + counts[2], 0)
    below, under, over, beyond = counts
    return ThresholdCounts(below + under + over + beyond, over + beyond, under + over)


def window_summary_schema(
    spec: Spec,
    *,
    ranges: Mapping[str, tuple[float, float]],
    edges: Mapping[str, Sequence[float]],
    numeric: bool = True,
    era: bool = False,
) -> pa.Schema:
    """The Arrow schema of :func:`~driftline.engine.summaries.window_summary` built with
    the same arguments (its native histograms expanded): the shape every engine's answer
    is cast to before it is read."""
    fields = list(PREDICTION_STATS_SCHEMA)
    fields += [pa.field(name, pa.int64()) for name in _ERA if era]
    fields += _feature_fields(spec, ranges, numeric)
    fields += [
        pa.field(f"h{k}_{j}", pa.int64())
        for k, e in enumerate(edges.values())
        for j in range(len(e) + 1)
    ]
    return pa.schema(fields)


def _feature_fields(
    spec: Spec, ranges: Mapping[str, tuple[float, float]], numeric: bool
) -> list[pa.Field]:
    out = []
    for i, (col, kind) in enumerate(spec.feature_kinds.items()):
        if kind == "numeric" and not numeric:
            continue
        out.append(pa.field(f"m{i}", pa.int64()))
        if kind == "numeric" and col in ranges:
            out += [pa.field(f"{stem}{i}", pa.int64()) for stem in ("lo", "hi", "nf")]
            out += [pa.field(f"{stem}{i}", pa.float64()) for stem in ("mean", "var")]
    return out


def read_window_summary(
    table: pa.Table,
    spec: Spec,
    *,
    ranges: Mapping[str, tuple[float, float]],
    edges: Mapping[str, Sequence[float]],
    numeric: bool = True,
    era: bool = False,
) -> list[WindowSummary]:
    """The rows of a :func:`~driftline.engine.summaries.window_summary` answer, built
    with the same arguments, as records, in the table's order (native histogram maps
    expanded, cast to :func:`window_summary_schema`)."""
    schema = window_summary_schema(spec, ranges=ranges, edges=edges, numeric=numeric, era=era)
    table = expand_histograms(table, edges).select(schema.names).cast(schema)
    features, hists = _features(table, spec, edges)
    cols = [_values(table, name) for name in PREDICTION_STATS_SCHEMA.names]
    zeros = [0] * table.num_rows
    early, late = (_counts(table, name) if era else zeros for name in _ERA)
    return [
        WindowSummary(int(w), str(cv), n, mean, var, lo, hi, q, t0, t1, a, b, f, h)
        for (w, cv, n, mean, var, lo, hi, q, t0, t1), a, b, f, h in zip(
            zip(*cols, strict=True), early, late, features, hists, strict=True
        )
    ]


def read_feature_counts(
    table: pa.Table, spec: Spec, edges: Mapping[str, Sequence[float]]
) -> tuple[list[dict[str, FeatureCounts]], list[dict[str, list[int]]]]:
    """Per row of a table with the feature columns of the wide summary (the numeric
    kernel's, :func:`~driftline.engine.numeric.numeric_summary`): its features' counts
    by column name, and the counts of the histograms on ``edges`` (the edges it was
    counted on, in that order) by source name."""
    return _features(table, spec, edges)


def read_histograms(
    table: pa.Table, edges: Mapping[str, Sequence[float]]
) -> list[dict[str, list[int]]]:
    """Per row of a table with ``h{k}_{j}`` columns (native maps expanded here), the
    counts of each source of ``edges`` (the edges it was counted on, in that order) by
    name: ``len(edges) + 1`` counts, below the edges, each bin, above them."""
    table = expand_histograms(table, edges)
    rows = table.num_rows
    per_source: list[list[list[int]]] = []
    for k, e in enumerate(edges.values()):
        bins = [_counts(table, f"h{k}_{j}") for j in range(len(e) + 1)]
        per_source.append([list(counts) for counts in zip(*bins, strict=True)])
    names = list(edges)
    if not names:
        return [{} for _ in range(rows)]
    return [dict(zip(names, row, strict=True)) for row in zip(*per_source, strict=True)]


def _features(
    table: pa.Table, spec: Spec, edges: Mapping[str, Sequence[float]]
) -> tuple[list[dict[str, FeatureCounts]], list[dict[str, list[int]]]]:
    present = set(table.column_names)
    rows = table.num_rows
    names: list[str] = []
    per_feature: list[list[FeatureCounts]] = []
    for i, col in enumerate(spec.feature_kinds):
        if f"m{i}" not in present:
            continue
        missing = _counts(table, f"m{i}")
        if f"lo{i}" not in present:
            found = [FeatureCounts(m) for m in missing]
        else:
            parts: list[list[Any]] = [
                missing,
                *(_counts(table, f"{stem}{i}") for stem in ("lo", "hi", "nf")),
                *(_values(table, f"{stem}{i}") for stem in ("mean", "var")),
            ]
            if f"min{i}" in present:
                parts += [_values(table, f"{stem}{i}") for stem in ("min", "max")]
            found = list(map(FeatureCounts, *parts))
        names.append(col)
        per_feature.append(found)
    if names:
        features = [dict(zip(names, row, strict=True)) for row in zip(*per_feature, strict=True)]
    else:
        features = [{} for _ in range(rows)]
    return features, read_histograms(table, edges)


def _counts(table: pa.Table, name: str) -> list[int]:
    """A count column as ints, NULL (an engine's sum of nothing) read as 0."""
    column = table.column(name)
    if column.null_count:
        column = pc.fill_null(column, 0)
    counts: list[int] = column.to_pylist()
    return counts


def _values(table: pa.Table, name: str) -> list[Any]:
    values: list[Any] = table.column(name).to_pylist()
    return values


# --------------------------------------------------------------------------------------
# storage form
# --------------------------------------------------------------------------------------
#: The prediction statistics of a stored summary, read without its features (enough for
#: a window's stats and rolling aggregates).
_STORED_STATS = ("n", "conf_mean", "conf_var", "conf_min", "conf_max", "conf_q", "era_early")


def summary_stats_to_dict(s: WindowSummary) -> dict[str, Any]:
    """The prediction statistics of ``s`` as plain JSON data (timestamps as ISO text);
    :func:`summary_from_dicts` reads them back, with or without :func:`summary_body`.
    Floats are written by ``repr`` and read back exactly."""
    out: dict[str, Any] = {name: getattr(s, name) for name in _STORED_STATS}
    out["era_late"] = s.era_late
    out["ts_min"] = s.ts_min.isoformat() if s.ts_min is not None else None
    out["ts_max"] = s.ts_max.isoformat() if s.ts_max is not None else None
    return out


def summary_body(s: WindowSummary) -> dict[str, Any]:
    """The features and histograms of ``s`` as plain JSON data: each feature's counts
    as the list of :class:`FeatureCounts` fields."""
    return {
        "features": {name: list(f) for name, f in s.features.items()},
        "histograms": s.histograms,
    }


def summary_from_dicts(
    window: int, cohort_value: str, stats: Mapping[str, Any], body: Mapping[str, Any] | None
) -> WindowSummary:
    """The :class:`WindowSummary` stored as ``stats`` (:func:`summary_stats_to_dict`)
    and ``body`` (:func:`summary_body`); without a body its features and histograms are
    empty (what a window's stats need, not its checks)."""
    ts = [None if stats[k] is None else datetime.fromisoformat(stats[k]) for k in _TS]
    features = {}
    histograms: dict[str, list[int]] = {}
    if body is not None:
        features = {name: FeatureCounts(*f) for name, f in body["features"].items()}
        histograms = dict(body["histograms"])
    return WindowSummary(
        window,
        cohort_value,
        int(stats["n"]),
        stats["conf_mean"],
        stats["conf_var"],
        stats["conf_min"],
        stats["conf_max"],
        stats["conf_q"],
        ts[0],
        ts[1],
        int(stats["era_early"]),
        int(stats["era_late"]),
        features,
        histograms,
    )


_TS = ("ts_min", "ts_max")
