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
    "WindowSummary",
    "read_feature_counts",
    "read_histograms",
    "read_window_summary",
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
