"""The profile: what the reference looked like, fitted once, saved as JSON.

It holds the schema (type family, category set, numeric range and expected missing
fraction per feature), numeric bin edges (reference quantiles, so every engine bins the
same way), bin and category counts, the class prior, the predicted-class mix and the
confidence distribution. Checks compare each window with it; the same profile is what
"one schema validates training and serving" means.

Per cohort value (each value of each cohort column of the spec), it also holds a
baseline: the same statistics of that value's reference rows, on the overall bin edges
and category sets. :meth:`Profile.baseline` gives it as a profile the checks can read in
place of the overall one, or None (too few reference rows, a value the reference never
had) with the reason from :meth:`Profile.baseline_reason`.

Each class's score is a numeric source too (``score:<class>``, see
:mod:`driftline.engine.scores`): its bin edges and counts sit in ``bin_edges_`` and
``bin_counts_`` next to the features', its moments and missing share in ``scores_``
(and per cohort value in its baseline), for the ``score_drift`` check.

Fitting runs on the engine (Ibis over DuckDB or Spark): the reference is never loaded
into Python whole.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline._catalog import (
    INTERNAL_PREFIX,
    MOMENT_LIMIT,
    BaselineKind,
    fractional,
    type_family,
)
from driftline.embeddings import Baseline as EmbeddingBaseline
from driftline.embeddings import fit_baseline as fit_embedding_baseline
from driftline.engine import Engine
from driftline.engine.numeric import numeric_summary, uses_kernel
from driftline.engine.records import FeatureCounts, read_feature_counts, read_histograms
from driftline.engine.scores import score_builders
from driftline.engine.summaries import (
    HISTOGRAM_SCHEMA,
    MISSING_COHORT,
    OTHER,
    OVERALL,
    TEXT_FEATURES,
    TOKEN_FEATURES,
    _missing,
    cohort_text,
    histograms,
    numeric_column,
    text_feature_builders,
    token_shares,
    value_text,
    vocabulary,
    window_summary,
)
from driftline.errors import ConfigError, NotFittedError, ProfileError, name_list, shorten
from driftline.methods.moments import Moments
from driftline.spec import Spec, Window
from driftline.thresholds import Thresholds

__all__ = ["PROFILE_VERSION", "CohortBaseline", "Profile"]

#: Version 2 added per-cohort baselines (``cohorts``); a version-1 profile still loads,
#: with none, so every cohort value is judged against the overall baseline and says why.
#: Version 3 added each class's score as a binned source (``score:<class>`` in
#: ``bin_edges``/``bin_counts``, statistics in ``scores``); an older profile loads with
#: none, so it raises no ``score_drift`` result until refitted. (A driftline before
#: version 3 would read the score edges as columns of the predictions: it refuses them.)
#: Version 4 spells a whole number of a float or decimal cohort column or categorical
#: feature as the integer it is (``3``, not ``3.0``: :func:`driftline._catalog.value_text_sql`);
#: an older profile loads, and :meth:`old_spellings` names the columns whose values it
#: holds in the older spelling (a refit reads them anew).
PROFILE_VERSION = 4
_READABLE_VERSIONS = (1, 2, 3, 4)
#: A number as a driftline before profile version 4 spelled a float's whole number
#: (``-3.0``) or a decimal's (``3.00``, ``1.50``), which now read ``-3``, ``3``, ``1.5``.
_OLD_WHOLE = re.compile(r"-?[0-9]+\.[0-9]*0")
#: Columns the fit adds to the reference: names no user column can take
_CONF = f"{INTERNAL_PREFIX}conf"
_ROW = f"{INTERNAL_PREFIX}row"
#: The largest double: beyond it, +-inf (as a literal that every engine parses).
_LARGEST = ibis.literal(repr(MOMENT_LIMIT)).cast("float64")  # beyond: counted with +-inf
#: The cohort value of each row (with the cohort column's number), and the cohort column
#: of each group, in the fit's grouped queries.
_KEY = f"{INTERNAL_PREFIX}cohort_value"
_OF = f"{INTERNAL_PREFIX}cohort_column"
#: The window (in seconds) the reference is summarised in, as one: every row's timestamp
#: is set to one instant for it.
_ONE_WINDOW = 86400
_FITTED = (
    "n_rows_",
    "columns_",
    "bin_edges_",
    "bin_counts_",
    "categories_",
    "class_prior_",
    "predicted_mix_",
    "confidence_",
    "text_",
    "scores_",
    "cohorts_",
    "spec_fingerprint_",
    "fitted_at_",
)


def confidence_expr(t: ir.Table, spec: Spec) -> ir.FloatingValue:
    """Max score per row, from per-class columns, one list column, or a binary model's
    probability ``p`` (``max(p, 1 - p)``)."""
    if spec.scores.layout == "binary":
        p = t[spec.score_columns[0]].cast("float64")
        return ibis.greatest(p, 1 - p)
    if spec.scores.layout == "columns":
        cols = [t[c].cast("float64") for c in spec.score_columns]
        return ibis.greatest(*cols)
    return t[spec.score_columns[0]].maxs().cast("float64")


def _edges(quantiles: list[float], lo: float, hi: float) -> list[float]:
    """Strictly increasing edges from reference quantiles, first = min, last = max.

    Inner edges are rounded to 12 significant digits: engines interpolate quantiles
    between equal neighbours one ulp apart (DuckDB's ``quantile_cont`` can land one ulp
    above a value Spark returns exactly), and values sitting on an edge would then fall
    in different bins by engine. Rounded, the edge is the same number everywhere.
    """
    out = [lo]
    for q in quantiles:
        q = float(f"{q:.12g}")
        if out[-1] < q < hi:
            out.append(q)
    if hi > out[-1]:
        out.append(hi)
    if len(out) == 1:  # constant column: one bin of zero width
        out.append(lo)
    return out


_T = TypeVar("_T")
_R = TypeVar("_R")

#: Values of the reference held in memory at once while its quantiles are taken.
_QUANTILE_VALUES = 2**24
#: Most threads the fit runs on: sorting a chunk's columns (each thread holds a sorted
#: copy of one), counting the reference's values.
_FIT_THREADS = 4


def _on_threads(work: Callable[[_T], _R], items: Sequence[_T], name: str) -> list[_R]:
    """``[work(item) for item in items]``, on up to :data:`_FIT_THREADS` threads (no more
    than the machine's cores or the items), in the items' order; on this thread when
    one would do."""
    threads = min(_FIT_THREADS, os.cpu_count() or 1, len(items))
    if threads <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(threads, thread_name_prefix=f"driftline-{name}") as pool:
        return list(pool.map(work, items))


@dataclass
class _Quantiled:
    """One column's quantiles, and (with bin edges) its counts per bin, overall and per
    (group key, value)."""

    quantiles: list[float]
    counts: list[int] | None = None
    grouped: dict[tuple[str, str], list[int]] = field(default_factory=dict)


#: Per group key, the code of each row's value and the value of each code.
_Coded = Mapping[str, tuple[np.ndarray, list[str]]]


def _quantiles(
    engine: Engine,
    t: ir.Table,
    columns: Mapping[str, ir.Value],
    wanted: Mapping[str, Sequence[float]],
    rows: int,
    edges_of: Callable[[str, list[float]], list[float]] | None = None,
    groups: Mapping[str, ir.Value] | None = None,
) -> tuple[
    dict[str, list[float]], dict[str, list[int]], dict[tuple[str, str], dict[str, list[int]]]
]:
    """Exact quantiles ``wanted[name]`` of ``columns[name]`` (an expression on ``t``),
    nulls skipped, as DuckDB's ``quantile_cont`` computes them, bit for bit
    (``lo * (1 - d) + hi * d`` at rank ``q * (n - 1)``; Spark's ``percentile`` rounds
    its interpolation differently, by an ulp at most): the same edges on every engine.
    With ``edges_of`` (a column's name and quantiles -> its bin edges), also the counts
    of its values in each bin of those edges, counted from the values fetched for the
    quantiles: no second scan of the reference. With ``groups`` (a name -> a string
    expression on ``t`` without nulls, e.g. a cohort column's value as the checks name
    it), also those counts per group: per (name, value), per column.

    Columns are fetched a few at a time (at most :data:`_QUANTILE_VALUES` values) and
    sorted by numpy, several columns at once on the machine's cores: DuckDB's own
    quantile aggregate took over two minutes for 1,000 columns of 100k rows, one sorted
    pass per quantile and column on one core (3.6 s for 17 columns of 1M rows, against
    0.7 s fetched and sorted here); this takes seconds.
    """
    out: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    grouped: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)
    keys = dict(groups or {}) if edges_of is not None else {}
    names = list(wanted)
    step = max(1, _QUANTILE_VALUES // max(rows, 1))
    for start in range(0, len(names), step):
        chunk = names[start : start + step]
        # a projection of these columns only: compiling all of them per chunk cost more
        # than the scan
        table = engine.run(t.select(**{c: columns[c] for c in chunk}, **keys))
        coded = {key: _codes(table.column(key)) for key in keys}

        def one(name: str, table: pa.Table = table, coded: _Coded = coded) -> _Quantiled:
            return _quantiled(table.column(name), wanted[name], name, edges_of, coded)

        # numpy sorts and Arrow kernels release the GIL: the columns of a chunk are
        # sorted on the machine's cores, about twice as fast on two
        results = _on_threads(one, chunk, "quantiles")
        for name, found in zip(chunk, results, strict=True):
            out[name] = found.quantiles
            if found.counts is not None:
                counts[name] = found.counts
            for group, per in found.grouped.items():
                grouped[group][name] = per
    return out, counts, dict(grouped)


def _quantiled(
    column: pa.ChunkedArray,
    wanted: Sequence[float],
    name: str,
    edges_of: Callable[[str, list[float]], list[float]] | None,
    coded: _Coded,
) -> _Quantiled:
    """:func:`_quantiles` of one fetched column: its ``wanted`` quantiles and, with
    ``edges_of``, its counts per bin, overall and per group of ``coded``."""
    x = pc.drop_null(column).to_numpy().astype(np.float64, copy=False)
    qs = np.asarray(wanted, dtype=np.float64)
    rank = qs * (x.size - 1)
    lo, hi = np.floor(rank).astype(np.int64), np.ceil(rank).astype(np.int64)
    # a full sort: numpy's vectorised sort is several times faster than a partition at
    # the ~40 ranks of 20 bins, and gives the same order statistics
    ordered = np.sort(x)
    a, b = ordered[lo], ordered[hi]
    d = rank - lo  # DuckDB's interpolation, operation for operation
    found = _Quantiled(np.where(lo == hi, a, a * (1.0 - d) + b * d).tolist())
    if edges_of is None:
        return found
    e = edges_of(name, found.quantiles)
    if not coded:  # counted on the sorted values: no bin index per row
        found.counts = _sorted_bin_counts(ordered, e)
        return found
    index = _bin_index(x, e)
    found.counts = np.bincount(index, minlength=len(e) - 1).tolist()
    present = pc.is_valid(column).to_numpy(zero_copy_only=False)
    k = len(e) - 1
    for key, (codes, values) in coded.items():
        flat = np.bincount(codes[present] * k + index, minlength=len(values) * k)
        for value, per in zip(values, flat.reshape(len(values), k).tolist(), strict=True):
            found.grouped[(key, value)] = per
    return found


def _bin_index(x: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """The bin of each of the finite values ``x`` (each within the edges) on ``edges``,
    as :func:`~driftline.engine.summaries.bin_index` bins them on the engine: bin ``i``
    is ``[edges[i], edges[i + 1])``, the last bin closed. Counted, the same integers as
    the engine's histograms, whatever the order of the values.

    >>> _bin_index(np.array([0.0, 0.5, 0.5, 1.0, 2.0]), [0.0, 0.5, 2.0]).tolist()
    [0, 1, 1, 1, 1]
    >>> _bin_index(np.array([3.0, 3.0]), [3.0, 3.0]).tolist()
    [0, 0]
    """
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    if inner.size > 255:
        found: np.ndarray = np.searchsorted(inner, x, side="right")
        return found
    # the number of inner edges <= x, one comparison pass per edge in one byte per value:
    # three times faster than a binary search per value at 20 bins
    index = np.zeros(x.shape, dtype=np.uint8)
    for edge in inner:
        np.add(index, x >= edge, out=index, casting="unsafe")
    return index


def _sorted_bin_counts(ordered: np.ndarray, edges: Sequence[float]) -> list[int]:
    """``np.bincount(_bin_index(x, edges))`` from ``x`` sorted: the count of values at or
    above each inner edge is found by one binary search per edge.

    >>> x = np.array([0.0, 0.5, 0.5, 1.0, 2.0])
    >>> _sorted_bin_counts(x, [0.0, 0.5, 2.0]), np.bincount(_bin_index(x, [0.0, 0.5, 2.0]))
    ([1, 4], array([1, 4]))
    >>> _sorted_bin_counts(np.array([3.0, 3.0]), [3.0, 3.0])
    [2]
    """
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    below = np.searchsorted(ordered, inner, side="left")  # values under each inner edge
    bounds = np.concatenate([[0], below, [ordered.size]])
    return [int(c) for c in np.diff(bounds)]


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A string column without nulls as (the code of each row, the value of each code)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, [str(v) for v in encoded.dictionary.to_pylist()]


def _value_name(i: int) -> str:
    """Column of the finite value of numeric source number ``i`` (see :func:`_finite_values`)."""
    return f"{INTERNAL_PREFIX}v{i}"


def _infinite_name(i: int) -> str:
    return f"{INTERNAL_PREFIX}nf{i}"


def _finite_values(
    t: ir.Table, sources: Mapping[str, Callable[[ir.Table], ir.NumericValue]]
) -> dict[str, ir.Value]:
    """Per numeric source ``i``, two columns to add to ``t``: its finite value
    (:func:`_value_name`; NaN and +-inf set to null) and whether it is +-inf."""
    projected: dict[str, ir.Value] = {}
    for i, name in enumerate(sources):
        x = sources[name](t).cast("float64")
        beyond = (x > _LARGEST) | (x < -_LARGEST)  # NaN too: engines sort it on top
        projected[_infinite_name(i)] = ibis.ifelse(x.isnan(), False, beyond).fill_null(False)
        projected[_value_name(i)] = ibis.ifelse(x.isnan() | beyond, ibis.null("float64"), x)
    return projected


def _moment_aggs(
    p: ir.Table, names: Sequence[str], only: Collection[int] | None = None
) -> dict[str, ir.Value]:
    """Row count, and per source ``i`` of ``p`` (a table with :func:`_finite_values`;
    only the sources numbered in ``only``, if given): finite values ``c{i}``, +-inf
    values ``nf{i}``, ``min{i}``, ``max{i}``, ``mean{i}``, ``var{i}`` (sample variance)
    of the finite values. Grouped or not. Read by :func:`_read_moments` only."""
    aggs: dict[str, ir.Value] = {"n": p.count()}
    for i in range(len(names)) if only is None else sorted(only):
        c = p[_value_name(i)]
        aggs[f"c{i}"] = c.count()
        aggs[f"nf{i}"] = p[_infinite_name(i)].cast("int64").sum().fill_null(0)
        aggs[f"min{i}"] = c.min()
        aggs[f"max{i}"] = c.max()
        aggs[f"mean{i}"] = c.mean()
        aggs[f"var{i}"] = c.var(how="sample")
    return aggs


def _null_aggs(p: ir.Table, others: Sequence[str]) -> dict[str, ir.Value]:
    """The missing count ``x{i}`` of each column of ``others`` (read by
    :func:`_read_moments`): null, or NaN in a float column, as the windows' summaries
    count it (:func:`driftline.engine.summaries._missing`)."""
    return {f"x{i}": _missing(p[c]).cast("int64").sum() for i, c in enumerate(others)}


class _SourceMoments(NamedTuple):
    """One numeric source in an aggregate of the fit: its finite and +-inf values, and
    the range and moments of the finite ones (None without any)."""

    finite: int
    non_finite: int
    min: float | None
    max: float | None
    mean: float | None
    var: float | None

    @classmethod
    def of(cls, rows: int, counts: FeatureCounts) -> _SourceMoments:
        """A feature as the numeric kernel counted it over ``rows`` rows."""
        non_finite = counts.non_finite or 0
        finite = rows - counts.missing - non_finite
        c = counts
        return cls(finite, non_finite, c.finite_min, c.finite_max, c.mean, c.var)


@dataclass(frozen=True)
class _Moments:
    """A row of a moment aggregate (:func:`_moment_aggs`, :func:`_null_aggs`): its rows,
    each numeric source's moments and each other column's null count, by name."""

    n: int
    sources: dict[str, _SourceMoments]
    nulls: dict[str, int]


def _read_moments(table: pa.Table, names: Sequence[str], others: Sequence[str]) -> list[_Moments]:
    """The rows of a moment aggregate over ``names`` (the sources it was built with, in
    that order; those it did not aggregate are left out) and ``others``, as records: the
    one reader of its ``c{i}`` ... ``x{i}`` columns. A NULL count is 0."""
    present = set(table.column_names)

    def counts(name: str) -> list[int]:
        column = table.column(name)
        found: list[int] = (pc.fill_null(column, 0) if column.null_count else column).to_pylist()
        return found

    per_source: dict[str, list[_SourceMoments]] = {}
    for i, name in enumerate(names):
        if f"c{i}" not in present:
            continue
        values = [table.column(f"{stem}{i}").to_pylist() for stem in ("min", "max", "mean", "var")]
        per_source[name] = list(map(_SourceMoments, counts(f"c{i}"), counts(f"nf{i}"), *values))
    nulls = {c: counts(f"x{i}") for i, c in enumerate(others)}
    return [
        _Moments(
            int(n),
            {name: found[r] for name, found in per_source.items()},
            {c: found[r] for c, found in nulls.items()},
        )
        for r, n in enumerate(table.column("n").to_pylist())
    ]


#: What :meth:`Profile._grouped_moments` returns: per (cohort column, value), the
#: statistics of each numeric source, and the aggregate.
_Grouped = tuple[dict[tuple[str, str], dict[str, dict[str, Any]]], dict[tuple[str, str], _Moments]]


def _merged(groups: Mapping[tuple[str, str], _Moments], cohort: str) -> _Moments | None:
    """The aggregate of all rows, from the aggregates of the values of ``cohort`` (every
    row has one: a null reads :data:`MISSING_COHORT`): counts add, ranges widen, means
    and variances merge exactly (:func:`~driftline.methods.moments.merge_moments`, in
    the values' order). None without any value (no rows).

    >>> a = _SourceMoments(3, 0, 1.0, 3.0, 2.0, 1.0)  # [1, 2, 3]
    >>> b = _SourceMoments(2, 1, 4.0, 6.0, 5.0, 2.0)  # [4, 6] and one inf
    >>> m = _merged({("c", "x"): _Moments(3, {"v": a}, {"k": 0}),
    ...              ("c", "y"): _Moments(4, {"v": b}, {"k": 1})}, "c")
    >>> m.n, m.nulls, m.sources["v"][:4], round(m.sources["v"].var, 12)
    (7, {'k': 1}, (5, 1, 1.0, 6.0), 3.7)
    """
    parts = [m for (of, _), m in sorted(groups.items()) if of == cohort]
    if not parts:
        return None
    sources: dict[str, _SourceMoments] = {}
    for name in parts[0].sources:
        each = [m.sources[name] for m in parts]
        present = [p for p in each if p.finite and p.min is not None]
        merged = Moments()
        for p in present:
            merged = merged + Moments.from_var(p.finite, p.mean, p.var)
        sources[name] = _SourceMoments(
            sum(p.finite for p in each),
            sum(p.non_finite for p in each),
            min(p.min for p in present if p.min is not None) if present else None,
            max(p.max for p in present if p.max is not None) if present else None,
            merged.mean if present else None,
            merged.var if present else None,
        )
    nulls = {c: sum(m.nulls[c] for m in parts) for c in parts[0].nulls}
    return _Moments(sum(m.n for m in parts), sources, nulls)


def _union(parts: Sequence[ir.Table]) -> ir.Table:
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _tagged(schema: pa.Schema) -> pa.Schema:
    """``schema`` of a summary, with the cohort column of each group."""
    return schema.append(pa.field(_OF, pa.string()))


def _no_tokens(sources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Statistics of token-level sources in a group none of whose texts has a token."""
    return {name: {"missing_fraction": 1.0, "non_finite_fraction": 0.0} for name in sources}


def _moment_stats(m: _SourceMoments, rows: int, total: int) -> dict[str, Any]:
    """What the profile keeps of a source of an aggregate of ``rows`` rows: missing and
    non-finite shares of ``total`` rows (rows beyond the aggregate's, e.g. texts without
    tokens, are missing), and the moments and range of its finite values."""
    missing = rows - m.finite - m.non_finite + (total - rows)
    info: dict[str, Any] = {
        "missing_fraction": missing / total if total else 1.0,
        "non_finite_fraction": m.non_finite / total if total else 0.0,
    }
    if m.min is not None:
        info.update(min=m.min, max=m.max, mean=m.mean, var=m.var)
    return info


#: Columns of the fetch of the predicted classes and labels (:meth:`Profile._values`).
_PREDICTED = f"{INTERNAL_PREFIX}predicted"
_LABELLED = f"{INTERNAL_PREFIX}labelled"


def _value_counts(table: pa.Table, columns: Sequence[str]) -> dict[tuple[str, ...], dict[str, int]]:
    """Rows per value of the last of ``columns`` (nulls left out), per combination of
    the values of the others (``()`` when there are none): a grouped count in Arrow.

    >>> t = pa.table({"g": ["a", "a", "b", "a"], "v": ["x", "y", "x", None]})
    >>> _value_counts(t, ["g", "v"])
    {('a',): {'x': 1, 'y': 1}, ('b',): {'x': 1}}
    >>> _value_counts(t, ["v"])
    {(): {'x': 2, 'y': 1}}
    """
    present = table.select(list(columns)).filter(pc.is_valid(table.column(columns[-1])))
    counted = present.group_by(list(columns), use_threads=False).aggregate([([], "count_all")])
    out: dict[tuple[str, ...], dict[str, int]] = defaultdict(dict)
    keys = [counted.column(c).to_pylist() for c in columns[:-1]]
    for *group, value, n in zip(
        *keys,
        counted.column(columns[-1]).to_pylist(),
        counted.column("count_all").to_pylist(),
        strict=True,
    ):
        out[tuple(group)][value] = int(n)
    return dict(out) if out or columns[:-1] else {(): {}}


def _all_value_counts(
    table: pa.Table, wanted: Sequence[Sequence[str]]
) -> dict[tuple[str, ...], dict[tuple[str, ...], dict[str, int]]]:
    """:func:`_value_counts` of ``table`` for each list of columns ``wanted``, by that
    list as a tuple: on the machine's cores (Arrow's grouped counts release the GIL;
    each one on one thread, so each gives what it gives alone)."""
    jobs = [list(columns) for columns in wanted]
    found = _on_threads(lambda columns: _value_counts(table, columns), jobs, "counts")
    return {tuple(columns): counts for columns, counts in zip(jobs, found, strict=True)}


class _Values(NamedTuple):
    """The counts of the reference's values (:meth:`Profile._values`), overall and per
    (cohort column, value)."""

    categories: dict[str, dict[str, int]]
    mix: dict[str, int]
    prior: dict[str, int] | None
    grouped_mix: dict[tuple[str, str], dict[str, int]]
    grouped_prior: dict[tuple[str, str], dict[str, int]] | None
    grouped_categories: dict[tuple[str, str], dict[str, dict[str, int]]]


class _Fitted(NamedTuple):
    """What :meth:`Profile._numeric` learns of the numeric sources: their statistics,
    edges, the moment aggregate, the counts in the bins of the edges, and those counts per
    group ((group name, value) -> source -> counts) when it was given groups."""

    stats: dict[str, dict[str, Any]]
    edges: dict[str, list[float]]
    agg: _Moments
    counts: dict[str, list[int]]
    grouped: dict[tuple[str, str], dict[str, list[int]]]


class Profile:
    """Fit with :meth:`fit`; save with :meth:`save`; load with :meth:`load`.

    Parameters are stored by ``__init__``; everything learned from the reference ends in
    an underscore, as in scikit-learn. ``bins``: numeric bins per feature (reference
    quantiles; default ``spec.drift.bins``); ``confidence_bins``: bins of the confidence
    distribution; ``max_categories``: categories kept per categorical feature (the rest
    pooled as other); ``vocabulary_size``: tokens kept per text feature.
    """

    n_rows_: int
    columns_: dict[str, dict[str, Any]]
    bin_edges_: dict[str, list[float]]
    bin_counts_: dict[str, list[int]]
    categories_: dict[str, dict[str, int]]
    class_prior_: dict[str, int] | None
    predicted_mix_: dict[str, int]
    confidence_: dict[str, Any]
    text_: dict[str, dict[str, Any]]
    #: per class score source (``score:<class>``): its missing share, moments and range;
    #: its edges and counts are in ``bin_edges_`` and ``bin_counts_``. Empty in a profile
    #: fitted before score drift (version 1 or 2).
    scores_: dict[str, dict[str, Any]]
    #: per cohort column, per value: its baseline as saved (see :meth:`cohort_baseline`);
    #: None for a profile fitted before per-cohort baselines (version 1)
    cohorts_: dict[str, dict[str, dict[str, Any]]] | None
    #: set on the baseline of a cohort value only (:meth:`cohort_baseline`): whose it is
    baseline_of_: tuple[str, str]
    spec_fingerprint_: str
    fitted_at_: str
    timestamps_: dict[str, str] | None
    #: the decision thresholds chosen on the holdout (``Monitor.thresholds``), None until
    #: chosen; a refit keeps none (``Monitor.fit_profile`` chooses them again when the
    #: spec has a ``thresholds`` section)
    thresholds_: Thresholds | None = None
    #: the labelled holdout's performance baseline (driftline.performance), or None
    performance_: dict[str, Any] | None
    #: the embedding baseline (:class:`driftline.embeddings.Baseline` as saved); None
    #: without an embedding column, or fitted before embedding drift
    embeddings_: dict[str, Any] | None
    #: the version of the profile file it was read from (:data:`PROFILE_VERSION` when
    #: fitted by this driftline)
    version_: int = PROFILE_VERSION

    def __init__(
        self,
        spec: Spec,
        *,
        bins: int | None = None,
        confidence_bins: int = 20,
        max_categories: int = 10_000,
        vocabulary_size: int = 5000,
    ) -> None:
        self.spec = spec
        self.bins = bins if bins is not None else spec.drift.bins
        self.confidence_bins = confidence_bins
        self.max_categories = max_categories
        self.vocabulary_size = vocabulary_size

    # -- fitting --------------------------------------------------------------------------
    def fit(
        self, engine: Engine, reference: ir.Table, source_types: dict[str, str] | None = None
    ) -> Profile:
        """Learn the profile from ``reference`` (an Ibis table on ``engine``)."""
        spec = self.spec
        source_types = source_types or {c: str(t) for c, t in reference.schema().items()}
        kinds = spec.feature_kinds
        t = reference.mutate(**{_CONF: confidence_expr(reference, spec)})
        present = [c for c in kinds if c in t.columns]
        texts = [c for c in present if kinds[c] == "text"]
        vocab = {c: self._vocabulary(engine, t, c) for c in texts}
        # every numeric source: numeric features, text style features, confidence
        sources: dict[str, Callable[[ir.Table], ir.NumericValue]] = {
            c: numeric_column(c)
            for c in present
            if kinds[c] == "numeric" and t[c].type().is_numeric()
        }
        sources.update(text_feature_builders(texts))
        # each class's score; a name a feature already has (a numeric feature called
        # "score:a") keeps the feature's, and the class gets no score source
        scored = {k: v for k, v in score_builders(spec).items() if k not in sources}
        sources.update(scored)
        sources[_CONF] = numeric_column(_CONF)
        others = [c for c in present if c not in sources]
        # numeric feature columns are counted by the engine's kernel where it has one
        kernel = self._kernel_columns(engine, t) & set(sources)
        # each cohort column's value of a row, as the checks name it: the fetch of the
        # values for the quantiles counts each cohort value's bins too
        cohort_keys = {
            f"{_KEY}{i}": (c, cohort_text(t[c]))
            for i, c in enumerate(c for c in spec.cohorts if c in t.columns)
        }
        # the moments per cohort value, in one grouped scan; the overall ones are merged
        # from the first cohort column's values (every row has one) instead of scanned
        grouped: _Grouped | None = None
        merged: _Moments | None = None
        if cohort_keys:
            rest = {name: build for name, build in sources.items() if name not in kernel}
            keyed_by = t.mutate(**{key: value for key, (_, value) in cohort_keys.items()})
            keys = {c: key for key, (c, _) in cohort_keys.items()}
            grouped = self._grouped_moments(engine, keyed_by, keys, rest, others, None)
            merged = _merged(grouped[1], next(iter(keys)))
        fitted = self._numeric(
            engine,
            t,
            sources,
            None,
            others,
            kernel,
            reference,
            groups={key: value for key, (_, value) in cohort_keys.items()},
            merged=merged,
        )
        stats, edges, agg, counts = fitted.stats, fitted.edges, fitted.agg, fitted.counts
        cohort_bins = {
            (cohort_keys[key][0], value): found for (key, value), found in fitted.grouped.items()
        }
        n = agg.n
        if n == 0:
            raise ProfileError("the reference has no rows; log a reference before fitting.")
        keyed = t.mutate(**{_ROW: ibis.row_number()})
        seen: dict[str, list[str]] = {}  # per text column, the tokens of its token shares
        for col in texts:  # token-level features, one row per text with tokens
            # Leave one out: a reference token counts as known only if another occurrence
            # exists, so the reference's OOV share estimates (Good-Turing) the share a
            # new text shows against the full vocabulary. In-sample it would be ~0 and
            # every serving window would look drifted.
            seen_twice = seen[col] = [tok for tok, count in vocab[col] if count >= 2]
            per_row = token_shares(keyed, col, seen_twice, [_ROW])
            token_sources = {f"{col}:{f}": numeric_column(f) for f in TOKEN_FEATURES}
            tokens = self._numeric(engine, per_row, token_sources, n, [])
            stats.update(tokens.stats)
            edges.update(tokens.edges)
            counts.update(tokens.counts)
        missing_of = {c: agg.nulls[c] / n for c in others}
        columns: dict[str, dict[str, Any]] = {}
        for col, kind in kinds.items():
            family = type_family(source_types[col]) if col in source_types else None
            if col not in t.columns:
                columns[col] = {"kind": kind, "family": None, "missing_fraction": 1.0}
            elif col in stats:
                columns[col] = {"kind": kind, "family": family, **stats[col]}
            else:
                columns[col] = {"kind": kind, "family": family, "missing_fraction": missing_of[col]}
        conf_stats = stats[_CONF]
        self.scores_ = {name: stats[name] for name in scored}
        self.n_rows_ = n
        self.columns_ = columns
        self.bin_edges_ = {k: v for k, v in edges.items() if k != _CONF}
        self.bin_counts_ = {k: v for k, v in counts.items() if k != _CONF}
        self.confidence_ = {
            "n": n,
            "mean": conf_stats["mean"],
            "var": conf_stats["var"],
            "min": conf_stats["min"],
            "max": conf_stats["max"],
            "edges": edges[_CONF],
            "counts": counts[_CONF],
        }
        self.text_ = {
            col: {
                "vocabulary": [tok for tok, _ in vocab[col]],
                "features": {f: stats[f"{col}:{f}"] for f in TEXT_FEATURES},
            }
            for col in texts
        }
        cats = [c for c in present if kinds[c] == "categorical"]
        label = spec.label if spec.label and spec.label in t.columns else None
        values = self._values(engine, t, cats, label, cohort_keys)
        self.categories_ = values.categories
        for c in cats:  # values beyond max_categories, pooled
            present_n = n - round(columns[c]["missing_fraction"] * n)
            columns[c]["other"] = present_n - sum(self.categories_[c].values())
        self.predicted_mix_ = values.mix
        self.class_prior_ = values.prior
        self.timestamps_ = self._timestamps(engine, reference)
        self.cohorts_ = self._fit_cohorts(
            engine, t, sources, others, seen, edges, reference, cohort_bins, values, grouped
        )
        baseline = fit_embedding_baseline(engine, reference, spec)
        self.embeddings_ = baseline.to_dict() if baseline is not None else None
        self.spec_fingerprint_ = spec.fingerprint()
        self.fitted_at_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        # accuracy, confusion and the confidence calibration map of the labelled holdout
        from driftline.performance import fit_performance

        self.performance_ = fit_performance(engine, reference, spec)
        return self

    # -- per-cohort baselines ---------------------------------------------------------------
    def _fit_cohorts(
        self,
        engine: Engine,
        t: ir.Table,
        sources: Mapping[str, Callable[[ir.Table], ir.NumericValue]],
        others: Sequence[str],
        seen: Mapping[str, Sequence[str]],
        edges: Mapping[str, list[float]],
        raw: ir.Table,
        group_bins: Mapping[tuple[str, str], Mapping[str, list[int]]],
        reference_values: _Values,
        grouped: _Grouped | None = None,
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Per cohort column of the spec that the reference holds, and per value of it (a
        null reads :data:`MISSING_COHORT`, as the checks name it): the reference
        statistics the checks read, counted on the overall bin edges, category sets and
        vocabularies, so a cohort's serving summaries and its baseline share them.

        One grouped query per kind of summary, whatever the number of cohort columns and
        values: the moments by the same aggregates as the overall ones, then the window
        summaries of :mod:`driftline.engine.summaries` over the reference as one window
        (the builders the checks summarise serving rows with, on DuckDB and Spark), each
        grouped by the values of every cohort column in turn.
        """
        spec = self.spec
        cohorts = [c for c in spec.cohorts if c in t.columns]
        if not cohorts:
            return {}
        token_names = {f"{c}:{f}" for c in seen for f in TOKEN_FEATURES}
        row_edges = {k: v for k, v in edges.items() if k not in token_names}
        token_edges = {k: v for k, v in edges.items() if k in token_names}
        r = self._one_window(t, keyed=bool(seen))
        keys = {c: f"{_KEY}{i}" for i, c in enumerate(cohorts)}
        # each cohort column's value of a row, as the checks name it
        rk = r.mutate(**{k: cohort_text(r[c]) for c, k in keys.items()})
        # numeric feature columns are counted by the engine's kernel where it has one
        countable = self._kernel_columns(engine, t)
        kernel = [c for c in sources if c in countable]
        rest = {name: build for name, build in sources.items() if name not in kernel}
        stats, nulls = (
            grouped
            if grouped is not None
            else self._grouped_moments(engine, rk, keys, rest, others, None)
        )
        n = {group: agg.n for group, agg in nulls.items()}
        counted_bins: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)
        # the row-level sources' bins per cohort value were counted with the overall
        # ones (``group_bins``, from the values fetched for the quantiles)
        done = {name for per in group_bins.values() for name in per}
        if kernel:
            window = Window(seconds=_ONE_WINDOW)
            kernel_edges = {c: edges[c] for c in kernel if c in edges and c not in done}
            for cohort in cohorts:
                groups = [(0, value) for (of, value) in sorted(n) if of == cohort]
                table = numeric_summary(
                    engine,
                    self._lean(raw, kernel, cohort),
                    spec,
                    window,
                    cohort,
                    groups,
                    ranges=dict.fromkeys(kernel, (-math.inf, math.inf)),
                    edges=kernel_edges,
                    columns=kernel,
                    extremes=True,
                )
                features, bins = read_feature_counts(table, spec, kernel_edges)
                values = table.column("cohort_value").to_pylist()
                for value, counts, binned in zip(values, features, bins, strict=True):
                    group = (cohort, str(value))
                    for c in kernel:
                        moments = _SourceMoments.of(n[group], counts[c])
                        stats[group][c] = _moment_stats(moments, n[group], n[group])
                    # inner bins only: the reference holds no value beyond its own edges
                    counted_bins[group].update((k, v[1:-1]) for k, v in binned.items())
        for col in seen:  # token shares, per text with tokens
            per_row = token_shares(rk, col, seen[col], [spec.id, *keys.values()])
            token_sources = {f"{col}:{f}": numeric_column(f) for f in TOKEN_FEATURES}
            got, _ = self._grouped_moments(engine, per_row, keys, token_sources, [], n)
            for group in n:
                stats[group].update(got.get(group) or _no_tokens(token_sources))
        window = Window(seconds=_ONE_WINDOW)
        query_edges = {k: v for k, v in row_edges.items() if k not in kernel and k not in done}
        hist = self._grouped_bins(engine, r, window, cohorts, query_edges, token_edges, seen)
        for group, found in group_bins.items():
            hist.setdefault(group, {}).update(found)
        for group, more in counted_bins.items():
            hist.setdefault(group, {}).update(more)
        # class and category counts per cohort value: counted with the overall ones
        mix = reference_values.grouped_mix
        prior = reference_values.grouped_prior
        counted = reference_values.grouped_categories
        out: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in cohorts}
        for group in sorted(n):
            out[group[0]][group[1]] = self._baseline_of(
                n[group],
                stats[group],
                nulls[group],
                others,
                hist.get(group, {}),
                counted.get(group, {}),
                mix.get(group, {}),
                None if prior is None else prior.get(group, {}),
            )
        return out

    def _kernel_columns(self, engine: Engine, t: ir.Table) -> set[str]:
        """The numeric feature columns of ``t`` the engine's kernel counts: none on an
        engine without one, or below ``MIN_FEATURES`` (see :mod:`driftline.engine.numeric`)."""
        kinds = self.spec.feature_kinds
        found = {c for c in t.columns if kinds.get(c) == "numeric" and t[c].type().is_numeric()}
        return found if uses_kernel(engine, len(found)) else set()

    def _lean(self, raw: ir.Table, columns: Sequence[str], cohort: str | None) -> ir.Table:
        """Of ``raw`` (the reference as logged), the numeric ``columns`` and the ``cohort``
        column, in one window (a constant timestamp): what the numeric kernel reads. A
        select from the logged table compiles in milliseconds; from the fit's working
        table, with its added columns, in about a second per scan of a wide table."""
        keep = [*([cohort] if cohort else []), *columns]
        lean = raw.select(*keep)
        return lean.mutate(**{self.spec.timestamp: ibis.literal(datetime(1970, 1, 1))})

    def _one_window(self, t: ir.Table, *, keyed: bool) -> ir.Table:
        """The reference as the window summaries read serving rows, all in one window: a
        constant timestamp (the reference's own may be absent, null or of any type), its
        confidence as the stored column, a null column per feature it lacks, and with
        ``keyed`` a unique id per row (token shares are taken per row)."""
        spec = self.spec
        add: dict[str, ir.Value] = {
            spec.timestamp: ibis.literal(datetime(1970, 1, 1)),
            "confidence": t[_CONF],
        }
        for col, kind in spec.feature_kinds.items():
            if col not in t.columns:
                add[col] = ibis.null("float64" if kind == "numeric" else "string")
        if keyed:
            add[spec.id] = ibis.row_number()
        return t.mutate(**add)

    def _grouped_moments(
        self,
        engine: Engine,
        t: ir.Table,
        keys: Mapping[str, str],
        sources: Mapping[str, Callable[[ir.Table], ir.NumericValue]],
        others: Sequence[str],
        totals: Mapping[tuple[str, str], int] | None,
    ) -> tuple[dict[tuple[str, str], dict[str, dict[str, Any]]], dict[tuple[str, str], _Moments]]:
        """Per cohort column and value (``keys``: cohort column -> the column of ``t``
        holding its value): the statistics of each numeric source, as the overall ones
        (:func:`_moment_stats`), of ``totals[group]`` rows (default: the group's rows);
        and the aggregate, with the null count of each column of ``others``.
        One query: a grouped aggregate per cohort column, in a union."""
        names = list(sources)
        p = t.mutate(**_finite_values(t, sources))
        parts = []
        for cohort, key in keys.items():
            nulls = _null_aggs(p, others)
            part = p.group_by(**{_KEY: p[key]}).aggregate(**_moment_aggs(p, names), **nulls)
            parts.append(part.mutate(**{_OF: ibis.literal(cohort)}))
        table = engine.run(_union(parts))
        stats: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        rows: dict[tuple[str, str], _Moments] = {}
        of, key_values = (table.column(name).to_pylist() for name in (_OF, _KEY))
        for cohort, value, agg in zip(
            of, key_values, _read_moments(table, names, others), strict=True
        ):
            group = (str(cohort), str(value))
            total = agg.n if totals is None else totals[group]
            stats[group] = {name: _moment_stats(m, agg.n, total) for name, m in agg.sources.items()}
            rows[group] = agg
        return stats, rows

    def _grouped_bins(
        self,
        engine: Engine,
        r: ir.Table,
        window: Window,
        cohorts: Sequence[str],
        row_edges: Mapping[str, list[float]],
        token_edges: Mapping[str, list[float]],
        seen: Mapping[str, Sequence[str]],
    ) -> dict[tuple[str, str], dict[str, list[int]]]:
        """Per cohort column and value, the counts of every numeric source (confidence
        included) in the bins of its overall edges: the window summary for the row-level
        sources, the histogram summary for the token-level ones."""
        spec = self.spec
        out: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)
        values = {
            **text_feature_builders(list(seen)),
            **score_builders(spec, self.scores_),
            _CONF: numeric_column(_CONF),
        }
        if row_edges:  # sources not counted already
            wide = _union(
                [
                    window_summary(
                        r,
                        spec,
                        window,
                        cohort,
                        ranges={},
                        edges=row_edges,
                        values=values,
                        native=engine.native_histograms,
                        numeric=False,  # only the histograms are read here
                    ).mutate(**{_OF: ibis.literal(cohort)})
                    for cohort in cohorts
                ]
            )
            table = engine.run(wide)
            of, values = (table.column(name).to_pylist() for name in (_OF, "cohort_value"))
            for cohort, value, hist in zip(
                of, values, read_histograms(table, row_edges), strict=True
            ):
                # the first and last count values outside the edges: none in the reference
                # the edges were fitted on
                out[(str(cohort), str(value))] = {name: v[1:-1] for name, v in hist.items()}
        if token_edges:
            parts = []
            for cohort in cohorts:
                expr = histograms(r, spec, window, cohort, token_edges, {}, seen)
                assert expr is not None
                parts.append(expr.mutate(**{_OF: ibis.literal(cohort)}))
            for row in engine.run(_union(parts), _tagged(HISTOGRAM_SCHEMA)).to_pylist():
                name, b = str(row["column"]), int(row["bin"])
                counts = out[(str(row[_OF]), str(row["cohort_value"]))].setdefault(
                    name, [0] * (len(token_edges[name]) - 1)
                )
                if 0 <= b < len(counts):
                    counts[b] += int(row["n"])
        return dict(out)

    def _baseline_of(
        self,
        n: int,
        stats: Mapping[str, dict[str, Any]],
        nulls: _Moments,
        others: Sequence[str],
        hist: Mapping[str, list[int]],
        counted: Mapping[str, dict[str, int]],
        mix: Mapping[str, int],
        prior: Mapping[str, int] | None,
    ) -> dict[str, Any]:
        """One cohort value's baseline, as saved (see :meth:`baseline` for its view)."""
        spec = self.spec
        null_count = dict(nulls.nulls)
        columns: dict[str, dict[str, Any]] = {}
        for col in self.columns_:
            if col in stats:
                columns[col] = dict(stats[col])
            elif col in null_count:
                columns[col] = {"missing_fraction": null_count[col] / n}
            else:  # the reference lacks the column
                columns[col] = {"missing_fraction": 1.0}
        categories = {c: dict(counted.get(c, {})) for c in self.categories_}
        for c, counts in categories.items():  # values beyond max_categories, pooled
            columns[c]["other"] = n - null_count[c] - sum(counts.values())
        conf = stats[_CONF]
        return {
            "n_rows": n,
            "columns": columns,
            "bin_counts": {
                name: list(hist.get(name) or [0] * (len(e) - 1))
                for name, e in self.bin_edges_.items()
            },
            "categories": categories,
            "predicted_mix": dict(mix) or dict.fromkeys(spec.classes, 0),
            "class_prior": None if prior is None else dict(prior),
            "confidence": {
                "n": n,
                **{k: conf.get(k) for k in _STATS},
                "counts": list(hist[_CONF]),
            },
            "text": {
                col: {"features": {f: stats[f"{col}:{f}"] for f in TEXT_FEATURES}}
                for col in self.text_
            },
            "scores": {name: stats[name] for name in self.scores_},
        }

    def _numeric(
        self,
        engine: Engine,
        t: ir.Table,
        sources: Mapping[str, Callable[[ir.Table], ir.NumericValue]],
        n_total: int | None,
        others: Sequence[str],
        kernel: Collection[str] = (),
        raw: ir.Table | None = None,
        groups: Mapping[str, ir.Value] | None = None,
        merged: _Moments | None = None,
    ) -> _Fitted:
        """Missing and non-finite shares, moments, range, quantile edges and the counts
        in the bins of those edges of each source: the moments in one scan (the numeric
        feature columns named in ``kernel`` in a scan of the engine's numeric kernel
        instead, :meth:`_kernel_summary`, which reads them from ``raw``, the reference as
        logged), the quantiles and bin counts from one fetch of the finite values (with
        ``groups``, the bin counts per group too: see :func:`_quantiles`). ``merged``
        (see :func:`_merged`) is that moment scan's aggregate already, merged from groups
        of the rows: the scan is not run.

        ``n_total`` is the row count missing shares are taken of (default: ``t``'s rows).
        NaN is missing; +-inf is a value, but not one moments, ranges or quantiles can be
        taken of: it is counted on its own (``non_finite_fraction``) and otherwise set
        aside, so the edges and moments stay finite. Each source's finite value is
        computed once in a projection, and the aggregates read it: on a thousand
        columns, the same expression repeated in every aggregate made the query minutes
        long to plan and run.
        """
        names = list(sources)
        projected = _finite_values(t, sources)
        # the sources the kernel does not count: their finite values, and aggregates
        rest = [i for i, name in enumerate(names) if name not in kernel]
        wanted_columns = {_value_name(i) for i in rest} | {_infinite_name(i) for i in rest}
        if merged is not None:  # the same aggregate, merged from groups of the rows
            agg = _Moments(merged.n, dict(merged.sources), dict(merged.nulls))
        else:
            p = t.mutate(**{k: v for k, v in projected.items() if k in wanted_columns})
            aggregate = p.aggregate(**_moment_aggs(p, names, rest), **_null_aggs(p, others))
            agg = _read_moments(engine.run(aggregate), names, others)[0]
        if kernel:
            assert raw is not None
            counted, _ = self._kernel_summary(engine, raw, [c for c in names if c in kernel], {})
            for name in (c for c in names if c in kernel):
                agg.sources[name] = _SourceMoments.of(agg.n, counted[name])
        wanted: dict[str, list[float]] = {}
        source_of: dict[str, _SourceMoments] = {}
        for i, name in enumerate(names):
            if agg.sources[name].min is not None:
                nb = self.confidence_bins if name == _CONF else self.bins
                wanted[_value_name(i)] = [k / nb for k in range(1, nb)]
                source_of[_value_name(i)] = agg.sources[name]
        edges_by_value: dict[str, list[float]] = {}

        def edges_of(value: str, quantiles: list[float]) -> list[float]:
            m = source_of[value]
            assert m.min is not None
            assert m.max is not None
            edges_by_value[value] = _edges(quantiles, m.min, m.max)
            return edges_by_value[value]

        _, binned, by_group = _quantiles(engine, t, projected, wanted, agg.n, edges_of, groups)
        total = n_total if n_total is not None else agg.n
        stats: dict[str, dict[str, Any]] = {}
        edges: dict[str, list[float]] = {}
        counts: dict[str, list[int]] = {}
        named = {_value_name(i): name for i, name in enumerate(names)}
        for i, name in enumerate(names):
            stats[name] = _moment_stats(agg.sources[name], agg.n, total)
            if _value_name(i) in edges_by_value:
                edges[name] = edges_by_value[_value_name(i)]
                counts[name] = binned[_value_name(i)]
        grouped = {
            group: {named[value]: found for value, found in per.items()}
            for group, per in by_group.items()
        }
        return _Fitted(stats, edges, agg, counts, grouped)

    def _timestamps(self, engine: Engine, t: ir.Table) -> dict[str, str] | None:
        """The reference's first and last timestamp (ISO, naive UTC), when it has a
        timestamp column of a timestamp type: the era checks compare serving rows with."""
        col = self.spec.timestamp
        if col not in t.columns or not t[col].type().is_timestamp():
            return None
        row = engine.run(t.aggregate(a=t[col].min(), b=t[col].max())).to_pylist()[0]
        if row["a"] is None:
            return None
        return {"min": row["a"].isoformat(), "max": row["b"].isoformat()}

    def _vocabulary(self, engine: Engine, t: ir.Table, col: str) -> list[tuple[str, int]]:
        rows = engine.run(vocabulary(t, col, self.vocabulary_size)).to_pylist()
        return [(str(r["token"]), int(r["n"])) for r in rows]

    def _kernel_summary(
        self,
        engine: Engine,
        t: ir.Table,
        columns: Sequence[str],
        edges: Mapping[str, Sequence[float]],
    ) -> tuple[dict[str, FeatureCounts], dict[str, list[int]]]:
        """The numeric summary (:func:`~driftline.engine.numeric.numeric_summary`) of
        ``columns`` over all of ``t``: each column's counts, moments and extremes, and
        the histogram counts on ``edges``."""
        window = Window(seconds=_ONE_WINDOW)
        table = numeric_summary(
            engine,
            self._lean(t, columns, None),
            self.spec,
            window,
            None,
            [(0, OVERALL)],
            ranges=dict.fromkeys(columns, (-math.inf, math.inf)),
            edges=edges,
            columns=columns,
            extremes=True,
        )
        features, hists = read_feature_counts(table, self.spec, edges)
        return features[0], hists[0]

    def _values(
        self,
        engine: Engine,
        t: ir.Table,
        cats: Sequence[str],
        label: str | None,
        cohort_keys: Mapping[str, tuple[str, ir.StringValue]],
    ) -> _Values:
        """The counts of the reference's values, from one fetch of its categorical
        columns, predicted classes, labels and cohort values (as strings) instead of a
        grouped query each: per categorical column its ``max_categories`` most frequent
        values (ties by value), per class its predictions and labels (a null is
        :data:`MISSING_COHORT`; every class of the spec, 0 when it has none), overall and
        per cohort value (``cohort_keys``: key -> (cohort column, its value as the checks
        name it); per cohort value, only the categories kept overall). Integer counts:
        the numbers the engine's grouped counts give."""
        spec = self.spec
        select: dict[str, ir.Value] = {
            f"{INTERNAL_PREFIX}c{i}": value_text(t[c]) for i, c in enumerate(cats)
        }
        classed = {_PREDICTED: spec.prediction, **({_LABELLED: label} if label else {})}
        for name, col in classed.items():
            select[name] = t[col].cast("string").fill_null(MISSING_COHORT)
        select.update({key: value for key, (_, value) in cohort_keys.items()})
        table = engine.run(t.select(**select))
        coded = [f"{INTERNAL_PREFIX}c{i}" for i in range(len(cats))]
        counted = _all_value_counts(
            table,
            [
                *([c] for c in [*coded, _PREDICTED, *([_LABELLED] if label else [])]),
                *(
                    [key, c]
                    for key in cohort_keys
                    for c in [_PREDICTED, *([_LABELLED] if label else []), *coded]
                ),
            ],
        )
        categories: dict[str, dict[str, int]] = {}
        for c, name in zip(cats, coded, strict=True):
            found = counted[(name,)][()]
            top = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_categories]
            categories[c] = dict(top)

        def classes(counts: Mapping[str, int]) -> dict[str, int]:
            return {**dict.fromkeys(spec.classes, 0), **counts}

        mix = classes(counted[(_PREDICTED,)][()])
        prior = classes(counted[(_LABELLED,)][()]) if label else None
        grouped_mix: dict[tuple[str, str], dict[str, int]] = {}
        grouped_prior: dict[tuple[str, str], dict[str, int]] | None = {} if label else None
        grouped_categories: dict[tuple[str, str], dict[str, dict[str, int]]] = defaultdict(dict)
        for key, (cohort, _) in cohort_keys.items():
            for (value,), counts in counted[(key, _PREDICTED)].items():
                grouped_mix[(cohort, value)] = classes(counts)
            if grouped_prior is not None:
                for (value,), counts in counted[(key, _LABELLED)].items():
                    grouped_prior[(cohort, value)] = classes(counts)
            for c, name in zip(cats, coded, strict=True):
                known = categories[c]
                by_value = counted[(key, name)]
                for (value,), counts in by_value.items():
                    kept = {v: k for v, k in counts.items() if v in known and v != OTHER}
                    if kept:
                        grouped_categories[(cohort, value)][c] = kept
        return _Values(categories, mix, prior, grouped_mix, grouped_prior, dict(grouped_categories))

    # -- baselines of cohort values ---------------------------------------------------------
    def old_spellings(self, reference_types: Mapping[str, str]) -> list[str]:
        """The cohort and categorical columns whose values this profile holds as a
        driftline before version 4 spelled a fractional column's whole numbers
        (``3.0``), where the reference's column (``reference_types``: its DuckDB types)
        is a float or a decimal: stored and served values now read ``3``, so these
        columns' categories and cohort baselines would no longer match them."""
        if self.version_ >= 4:
            return []
        found = []
        for col in self.spec.category_columns():
            if not fractional(reference_types.get(col, "")):
                continue
            values = [*self.categories_.get(col, {}), *((self.cohorts_ or {}).get(col) or {})]
            if any(_OLD_WHOLE.fullmatch(str(v)) for v in values):
                found.append(col)
        return found

    def cohort_baseline(
        self, column: str, value: str, min_rows: int | None = None
    ) -> CohortBaseline:
        """Which reference the value ``value`` of cohort column ``column`` (as the checks
        name it: a null is :data:`MISSING_COHORT`) is judged against, and why.

        Its own (``kind == "own"``, ``profile`` set) when the reference holds at least
        ``min_rows`` rows of it (default: the profile spec's
        ``checks.cohort_baseline_min_rows``; the checks pass their own); else the overall one
        (``profile`` None): too few rows, a value the reference never had (a new segment),
        or no baselines of the column (a profile fitted by an older driftline, or a
        reference without the column). ``reason`` says which, in words a result can carry.
        """
        self.check_is_fitted()
        of = getattr(self, "baseline_of_", None)
        if of is not None:
            raise ProfileError(
                f"this profile is itself the baseline of cohort {shorten(of[0])} = "
                f"{shorten(of[1])}; ask the profile it came from for other baselines."
            )
        if column not in self.spec.cohorts:
            raise ConfigError(
                f"{shorten(column)} is not a cohort column of the spec (cohorts: "
                f"{name_list(self.spec.cohorts)}); baselines exist for cohort columns only."
            )
        what = f"value {shorten(value)} of cohort {shorten(column)}"

        def overall(kind: BaselineKind, rows: int | None, why: str) -> CohortBaseline:
            return CohortBaseline(column, value, kind, rows, None, f"the overall baseline: {why}")

        if self.cohorts_ is None:
            return overall(
                "unavailable",
                None,
                "the profile was fitted by an older driftline, without per-cohort "
                "baselines; refit it with `driftline fit` (or `Monitor.fit_profile()`)",
            )
        values = self.cohorts_.get(column)
        if values is None:
            return overall("unavailable", None, f"the reference has no column {shorten(column)}")
        data = values.get(value)
        if data is None:
            return overall(
                "new_value", 0, f"{what} does not occur in the reference (a new segment)"
            )
        rows = int(data["n_rows"])
        least = self.spec.checks.cohort_baseline_min_rows if min_rows is None else min_rows
        if rows < least:
            return overall(
                "few_rows",
                rows,
                f"{what} has {rows:,} reference rows, fewer than "
                f"checks.cohort_baseline_min_rows ({least:,})",
            )
        views: dict[tuple[str, str], Profile] = self.__dict__.setdefault("_views", {})
        if (column, value) not in views:
            views[(column, value)] = self._view(column, value, data)
        return CohortBaseline(
            column,
            value,
            "own",
            rows,
            views[(column, value)],
            f"its own baseline: {rows:,} reference rows of {what}",
        )

    def baseline(self, column: str, value: str) -> Profile | None:
        """The baseline of a cohort value, to use in place of this profile (same
        attributes, its own statistics), or None: use the overall baseline, for the
        reason :meth:`baseline_reason` gives. See :meth:`cohort_baseline`."""
        return self.cohort_baseline(column, value).profile

    def baseline_reason(self, column: str, value: str) -> str:
        """Which baseline :meth:`baseline` gives for a cohort value, and why."""
        return self.cohort_baseline(column, value).reason

    def _view(self, column: str, value: str, data: Mapping[str, Any]) -> Profile:
        """A profile holding one cohort value's baseline, for the checks to read in place
        of this one: its own row count, missing and non-finite shares, moments, bin
        counts, category counts, class mixes, confidence and text style statistics. The
        structure every scope is summarised on is shared with the overall profile: bin
        edges, category sets, vocabularies, type families, and the ranges out-of-range
        values are counted against (``columns_[c]["min"/"max"]`` and :meth:`ranges`; the
        cohort's own range is ``cohort_min``/``cohort_max``)."""
        view = Profile(
            self.spec,
            bins=self.bins,
            confidence_bins=self.confidence_bins,
            max_categories=self.max_categories,
            vocabulary_size=self.vocabulary_size,
        )
        columns: dict[str, dict[str, Any]] = {}
        for col, info in self.columns_.items():
            own = dict(data["columns"][col])
            low, high = own.pop("min", None), own.pop("max", None)
            merged = {"kind": info["kind"], "family": info["family"], **own}
            if "min" in info:
                merged.update(min=info["min"], max=info["max"])
                if low is not None:
                    merged.update(cohort_min=low, cohort_max=high)
            columns[col] = merged
        view.n_rows_ = int(data["n_rows"])
        view.columns_ = columns
        view.bin_edges_ = self.bin_edges_
        view.bin_counts_ = data["bin_counts"]
        view.categories_ = {
            col: {cat: int(data["categories"][col].get(cat, 0)) for cat in known}
            for col, known in self.categories_.items()
        }
        view.class_prior_ = data["class_prior"]
        view.predicted_mix_ = data["predicted_mix"]
        view.confidence_ = {**data["confidence"], "edges": self.confidence_["edges"]}
        view.text_ = {
            col: {"vocabulary": text["vocabulary"], "features": data["text"][col]["features"]}
            for col, text in self.text_.items()
        }
        view.scores_ = data.get("scores") or {}
        view.cohorts_ = {}
        view.spec_fingerprint_ = self.spec_fingerprint_
        view.fitted_at_ = self.fitted_at_
        view.timestamps_ = getattr(self, "timestamps_", None)
        view.baseline_of_ = (column, value)
        view.thresholds_ = self.thresholds_
        return view

    # -- fitted state -----------------------------------------------------------------
    def check_is_fitted(self) -> None:
        if not hasattr(self, "n_rows_"):
            raise NotFittedError(
                "this Profile is not fitted yet; call fit(engine, reference) first, or "
                "`driftline log --reference FILE` on the command line."
            )

    def ranges(self) -> dict[str, tuple[float, float]]:
        self.check_is_fitted()
        return {
            c: (float(i["min"]), float(i["max"])) for c, i in self.columns_.items() if "min" in i
        }

    def to_dict(self) -> dict[str, Any]:
        self.check_is_fitted()
        return {
            "version": PROFILE_VERSION,
            "params": {
                "bins": self.bins,
                "confidence_bins": self.confidence_bins,
                "max_categories": self.max_categories,
                "vocabulary_size": self.vocabulary_size,
            },
            **{name.rstrip("_"): getattr(self, name) for name in _FITTED},
            "timestamps": getattr(self, "timestamps_", None),
            **({"thresholds": self.thresholds_.to_dict()} if self.thresholds_ else {}),
            "performance": getattr(self, "performance_", None),
            "embeddings": getattr(self, "embeddings_", None),
        }

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], spec: Spec, where: str = "profile") -> Profile:
        version = data.get("version")
        if version not in _READABLE_VERSIONS or isinstance(version, bool):
            raise ProfileError(
                f"{where} has version {version!r}; this driftline reads versions "
                f"{', '.join(map(str, _READABLE_VERSIONS))}. Refit it with `driftline fit`."
            )
        if version == 1:  # before per-cohort baselines: every cohort uses the overall one
            data = {**data, "cohorts": None}
        if version in (1, 2):  # before score drift: no score sources
            data = {**data, "scores": {}}
        if data.get("spec_fingerprint") != spec.fingerprint():
            raise ProfileError(
                f"{where} was fitted on a different spec (fingerprint "
                f"{data.get('spec_fingerprint')!r}, current spec {spec.fingerprint()!r}): the "
                "column roles or features changed since. Refit it with `driftline fit` "
                "(or `Monitor.fit_profile()`)."
            )
        missing = [n.rstrip("_") for n in _FITTED if n.rstrip("_") not in data]
        if missing or "params" not in data:
            raise ProfileError(
                f"{where} lacks {', '.join(missing) or 'params'}: it was written by another "
                "driftline version or edited by hand. Refit it with `driftline fit`."
            )
        _validate(data, where)
        _validate_cohorts(data, spec.cohorts, where)
        prof = cls(spec, **data["params"])
        prof.version_ = int(version)
        for name in _FITTED:
            setattr(prof, name, data[name.rstrip("_")])
        prof.timestamps_ = data.get("timestamps")  # optional: older profiles lack it
        if data.get("thresholds") is not None:  # optional: chosen by `driftline thresholds`
            prof.thresholds_ = Thresholds.from_dict(data["thresholds"], where)
        prof.performance_ = data.get("performance")  # optional: older profiles lack it
        # optional: older profiles, and references without the embedding column, lack it
        prof.embeddings_ = data.get("embeddings")
        if prof.embeddings_ is not None:
            EmbeddingBaseline.from_dict(prof.embeddings_, where)
        return prof

    @classmethod
    def load(cls, path: str | Path, spec: Spec) -> Profile:
        p = Path(path)
        if not p.exists():
            raise ProfileError(
                f"no profile at {str(p)!r}; log a reference and fit one: "
                "`driftline log --reference FILE` (or `Monitor.log_reference(df)`)."
            )
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProfileError(
                f"profile {str(p)!r} is not valid JSON ({exc}); refit it with `driftline fit`."
            ) from exc
        if not isinstance(data, dict):
            raise ProfileError(
                f"profile {str(p)!r} holds a JSON {type(data).__name__}, not an object; refit "
                "it with `driftline fit`."
            )
        return cls.from_dict(data, spec, where=f"profile {str(p)!r}")


@dataclass(frozen=True)
class CohortBaseline:
    """The reference one cohort value is judged against (:meth:`Profile.cohort_baseline`).

    ``profile`` is its own baseline (a :class:`Profile` with the same attributes, to use in
    place of the overall one), or None: use the overall profile. ``kind`` says which and
    why (:data:`driftline._catalog.BaselineKind`), ``reference_rows`` is the value's rows in
    the reference (None when the profile cannot tell), and ``reason`` says it in words.
    """

    column: str
    value: str
    kind: BaselineKind
    reference_rows: int | None
    profile: Profile | None
    reason: str


# -- structure of a saved profile: a hand edit must not reach the checks ---------------------------
_PARAMS = ("bins", "confidence_bins", "max_categories", "vocabulary_size")
_STATS = ("min", "max", "mean", "var")


def _refit(where: str, problem: str) -> ProfileError:
    return ProfileError(
        f"{where}: {problem}. The file was edited by hand or damaged; refit it with "
        "`driftline fit` (or `Monitor.fit_profile()`)."
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _mapping(data: Mapping[str, Any], key: str, where: str, nullable: bool = False) -> Any:
    value = data[key]
    if value is None and nullable:
        return {}
    if not isinstance(value, dict):
        raise _refit(where, f"{key} is a JSON {type(value).__name__}, expected an object")
    return value


def _check_counts(counts: Any, what: str, where: str) -> None:
    if not isinstance(counts, dict):
        raise _refit(where, f"the counts of {what} are not an object")
    for name, n in counts.items():
        if not _is_count(n):
            raise _refit(
                where,
                f"the count of {shorten(name)} in {what} is {shorten(n)}; counts are "
                "non-negative integers",
            )


def _check_bins(edges: Any, counts: Any, what: str, where: str) -> None:
    """Edges: finite, strictly increasing (a constant column has two equal edges);
    counts: one non-negative integer per bin."""
    if not isinstance(edges, list) or len(edges) < 2:
        raise _refit(where, f"bin edges of {what} are {shorten(edges)}; expected 2 or more")
    for i, e in enumerate(edges):
        if not _is_number(e) or not math.isfinite(e):
            raise _refit(where, f"bin edge {i} of {what} is {shorten(e)}; edges are finite numbers")
    constant = len(edges) == 2 and edges[0] == edges[1]
    for i in range(1, len(edges)):
        if not constant and edges[i] <= edges[i - 1]:
            raise _refit(
                where,
                f"bin edges of {what} are not strictly increasing (edge {i} is {edges[i]!r} "
                f"after {edges[i - 1]!r})",
            )
    if not isinstance(counts, list) or len(counts) != len(edges) - 1:
        got = len(counts) if isinstance(counts, list) else shorten(counts)
        raise _refit(
            where,
            f"{what} has {len(edges)} bin edges but {got} counts (expected {len(edges) - 1})",
        )
    for i, n in enumerate(counts):
        if not _is_count(n):
            raise _refit(
                where,
                f"bin count {i} of {what} is {shorten(n)}; counts are non-negative integers",
            )


def _check_stats(stats: Mapping[str, Any], what: str, where: str) -> None:
    for key in (*_STATS, "n"):
        v = stats.get(key)
        if v is not None and (not _is_number(v) or not math.isfinite(v)):
            raise _refit(where, f"{key} of {what} is {shorten(v)}; expected a finite number")
    frac = stats.get("missing_fraction")
    if frac is not None and not (_is_number(frac) and 0.0 <= frac <= 1.0):
        raise _refit(where, f"missing_fraction of {what} is {shorten(frac)}; expected 0 to 1")


def _validate(data: Mapping[str, Any], where: str) -> None:
    """Refuse a profile whose structure the checks cannot use, naming the column."""
    params = _mapping(data, "params", where)
    for key, v in params.items():
        if key not in _PARAMS or not _is_count(v) or v == 0:
            raise _refit(where, f"params.{shorten(key)} is {shorten(v)}")
    if not _is_count(data["n_rows"]):
        raise _refit(where, f"n_rows is {shorten(data['n_rows'])}; expected a row count")
    edges = _mapping(data, "bin_edges", where)
    counts = _mapping(data, "bin_counts", where)
    if set(edges) != set(counts):
        odd = sorted(set(edges) ^ set(counts), key=str)
        raise _refit(where, f"bin_edges and bin_counts name different columns ({odd[:5]})")
    for col, e in edges.items():
        _check_bins(e, counts[col], f"column {shorten(col)}", where)
    for col, info in _mapping(data, "columns", where).items():
        if not isinstance(info, dict):
            raise _refit(where, f"column {shorten(col)} is described by {shorten(info)}")
        _check_stats(info, f"column {shorten(col)}", where)
    conf = _mapping(data, "confidence", where)
    _check_bins(conf.get("edges"), conf.get("counts"), "the confidence", where)
    _check_stats(conf, "the confidence", where)
    for col, cats in _mapping(data, "categories", where).items():
        _check_counts(cats, f"column {shorten(col)}", where)
    _check_counts(_mapping(data, "predicted_mix", where), "the predicted-class mix", where)
    _check_counts(_mapping(data, "class_prior", where, nullable=True), "the class prior", where)
    for col, info in _mapping(data, "text", where).items():
        if not isinstance(info, dict) or not isinstance(info.get("vocabulary"), list):
            raise _refit(where, f"text column {shorten(col)} lacks its vocabulary")
    _check_scores(_mapping(data, "scores", where), edges, "the profile", where)


def _check_scores(
    scores: Mapping[str, Any], edges: Mapping[str, Any], what: str, where: str
) -> None:
    """Score sources: statistics per source, and only of sources with edges or none."""
    for name, stats in scores.items():
        if not isinstance(stats, dict):
            raise _refit(where, f"score source {shorten(name)} of {what} is {shorten(stats)}")
        _check_stats(stats, f"score source {shorten(name)} of {what}", where)
        if name not in edges and "min" in stats:
            raise _refit(where, f"score source {shorten(name)} of {what} has no bin edges")


_BASELINE_KEYS = (
    "n_rows",
    "columns",
    "bin_counts",
    "categories",
    "predicted_mix",
    "class_prior",
    "confidence",
    "text",
)


def _same_names(found: Mapping[str, Any], want: Mapping[str, Any], what: str, where: str) -> None:
    if set(found) != set(want):
        odd = sorted(set(found) ^ set(want), key=str)
        raise _refit(where, f"{what} name other columns than the overall profile's ({odd[:5]})")


def _validate_cohorts(data: Mapping[str, Any], cohorts: Sequence[str], where: str) -> None:
    """Refuse per-cohort baselines the checks cannot read in place of the overall
    profile: each holds every column, bin and section of it, on its edges and categories."""
    section = data["cohorts"]
    if section is None:
        return
    section = _mapping(data, "cohorts", where)
    edges, cats, texts = data["bin_edges"], data["categories"], data["text"]
    for cohort, values in section.items():
        if cohort not in cohorts:
            raise _refit(
                where,
                f"cohorts names {shorten(cohort)}, which is not a cohort column of the spec "
                f"({name_list(cohorts)})",
            )
        if not isinstance(values, dict):
            raise _refit(where, f"cohort {shorten(cohort)} holds {shorten(values)}")
        for value, base in values.items():
            what = f"the baseline of {shorten(cohort)} = {shorten(value)}"
            if not isinstance(base, dict):
                raise _refit(where, f"{what} is {shorten(base)}")
            lacking = [k for k in _BASELINE_KEYS if k not in base]
            if lacking:
                raise _refit(where, f"{what} lacks {', '.join(lacking)}")
            if not _is_count(base["n_rows"]):
                raise _refit(where, f"n_rows of {what} is {shorten(base['n_rows'])}")
            columns = _mapping(base, "columns", where)
            _same_names(columns, data["columns"], f"the columns of {what}", where)
            for col, info in columns.items():
                if not isinstance(info, dict):
                    raise _refit(where, f"column {shorten(col)} of {what} is {shorten(info)}")
                _check_stats(info, f"column {shorten(col)} of {what}", where)
            counts = _mapping(base, "bin_counts", where)
            _same_names(counts, edges, f"the bin counts of {what}", where)
            for col, c in counts.items():
                _check_bins(edges[col], c, f"column {shorten(col)} of {what}", where)
            categories = _mapping(base, "categories", where)
            _same_names(categories, cats, f"the categories of {what}", where)
            for col, c in categories.items():
                _check_counts(c, f"column {shorten(col)} of {what}", where)
                unknown = [k for k in c if k not in cats[col]]
                if unknown:
                    raise _refit(
                        where,
                        f"column {shorten(col)} of {what} counts {shorten(unknown[0])}, which "
                        "is not a category of the overall profile",
                    )
            _check_counts(_mapping(base, "predicted_mix", where), f"the mix of {what}", where)
            prior = _mapping(base, "class_prior", where, nullable=True)
            _check_counts(prior, f"the class prior of {what}", where)
            conf = _mapping(base, "confidence", where)
            _check_bins(
                data["confidence"].get("edges"), conf.get("counts"), f"confidence of {what}", where
            )
            _check_stats(conf, f"the confidence of {what}", where)
            if "scores" in base:  # absent from baselines before version 3
                _check_scores(_mapping(base, "scores", where), edges, what, where)
            text = _mapping(base, "text", where)
            _same_names(text, texts, f"the text columns of {what}", where)
            for col, info in text.items():
                features = info.get("features") if isinstance(info, dict) else None
                if not isinstance(features, dict):
                    raise _refit(where, f"text column {shorten(col)} of {what} lacks its features")
                for name, stats in features.items():
                    if not isinstance(stats, dict):
                        raise _refit(
                            where, f"feature {shorten(name)} of {what} is {shorten(stats)}"
                        )
                    _check_stats(stats, f"feature {shorten(col)}:{shorten(name)} of {what}", where)
