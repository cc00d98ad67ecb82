"""Summaries as Ibis expressions: the same code runs on DuckDB and on Spark.

Every summary is grouped by ``(window, cohort_value)``. ``window`` is an integer key: the
window's start in epoch seconds (time windows, bucketed by epoch arithmetic in UTC) or the
window's index (row-count windows, by ``row_number`` over timestamp then id). The overall
scope uses the cohort value :data:`OVERALL`; a null cohort value reads :data:`MISSING_COHORT`.

Missing-value policy (one for every engine): a numeric value is missing when it is null
*or* NaN. Histograms, moments and ranges skip missing values. ``+inf`` and ``-inf`` are
values, not missing: they are counted as out of range (``lo{i}``/``hi{i}``, and on their
own in ``nf{i}``) and fall in the outer histogram bins (below / above the edges, on the
portable and the native form alike); moments (``mean{i}``/``var{i}``) skip them, so they
stay finite.

Every count is 0, never NULL, on a group with no non-missing value (e.g. a feature
dropped from the batches of one window x cohort value): engines sum an all-NULL
column to NULL, so the counts are filled at the engine boundary.

Names: every column a summary adds inside a query starts with
:data:`~driftline._catalog.INTERNAL_PREFIX` (``__dl_``), which no user column may take, so
a feature named ``window``, ``n`` or ``_b0`` is never shadowed by one of ours. The output
columns of the summaries (``window``, ``cohort_value``, ``column``, ``value``, ``bin``,
``n``, ``m{i}``, ...) are aggregate outputs only: a query reads no user column through
them.
They stop at the engine boundary: :mod:`driftline.engine.records` casts the wide
summary to its declared schema and is the one reader of its positional names, handing
over typed records (:class:`~driftline.engine.records.WindowSummary`) keyed by column
name.

Summaries are mergeable: counts, sums and histogram counts add, and moments merge by
Chan's parallel formula (:func:`driftline.checks.merge_moments`); only quantiles do not.

One engine-specific form: with ``native=True`` (``Engine.native_histograms``, DuckDB)
histograms use the engine's own ``histogram(x, boundaries)`` aggregate, whose maps
:func:`expand_histograms` turns into the portable columns; the parity tests hold both
forms to the same oracle.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from driftline._catalog import (
    INTERNAL_PREFIX,
    MISSING_COHORT,
    MOMENT_LIMIT,
    OTHER,
    OVERALL,
    WHOLE_LIMIT,
)
from driftline.spec import Spec, Window

__all__ = [
    "CATEGORY_SCHEMA",
    "CATEGORY_SUMMARY_SCHEMA",
    "CLASS_COUNTS_SCHEMA",
    "HISTOGRAM_SCHEMA",
    "MISSING_COHORT",
    "OTHER",
    "OVERALL",
    "PREDICTION_STATS_SCHEMA",
    "QUANTILES",
    "TEXT_FEATURES",
    "TOKEN_FEATURES",
    "batch_rows",
    "bin_counts",
    "bin_index",
    "category_counts",
    "category_summary",
    "class_counts",
    "cohort_text",
    "confidence_quantiles",
    "era_rows",
    "expand_histograms",
    "feature_stats",
    "histograms",
    "native_boundaries",
    "numeric_column",
    "prediction_stats",
    "text_feature",
    "text_feature_builders",
    "text_tokens",
    "token_shares",
    "value_text",
    "vocabulary",
    "window_key",
    "window_summary",
]

QUANTILES = (0.1, 0.5, 0.9)

PREDICTION_STATS_SCHEMA = pa.schema(
    [
        ("window", pa.int64()),
        ("cohort_value", pa.string()),
        ("n", pa.int64()),
        ("conf_mean", pa.float64()),
        ("conf_var", pa.float64()),
        ("conf_min", pa.float64()),
        ("conf_max", pa.float64()),
        ("conf_q", pa.list_(pa.float64())),
        ("ts_min", pa.timestamp("us")),
        ("ts_max", pa.timestamp("us")),
    ]
)
CLASS_COUNTS_SCHEMA = pa.schema(
    [
        ("window", pa.int64()),
        ("cohort_value", pa.string()),
        ("value", pa.string()),
        ("n", pa.int64()),
    ]
)
HISTOGRAM_SCHEMA = pa.schema(
    [
        ("window", pa.int64()),
        ("cohort_value", pa.string()),
        ("column", pa.string()),
        ("bin", pa.int64()),
        ("n", pa.int64()),
    ]
)
CATEGORY_SCHEMA = pa.schema(
    [
        ("window", pa.int64()),
        ("cohort_value", pa.string()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("n", pa.int64()),
    ]
)

CATEGORY_SUMMARY_SCHEMA = CATEGORY_SCHEMA.append(pa.field("unseen", pa.bool_()))


def window_key(t: ir.Table, spec: Spec, window: Window) -> ir.IntegerValue:
    """Integer key of each row's window (see the module docstring)."""
    ts = t[spec.timestamp]
    if window.seconds is not None:
        # truncate to whole seconds first: DuckDB's epoch() is fractional and its cast to
        # BIGINT rounds (23:59:59.6 -> next day), Spark's unix_timestamp() truncates
        secs = ts.truncate("s").epoch_seconds().cast("int64")
        return ((secs // window.seconds) * window.seconds).cast("int64")
    assert window.rows is not None
    order = [ts, t[spec.id]]
    rn = ibis.row_number().over(order_by=order)
    return (rn // window.rows).cast("int64")


#: Internal columns of a scoped table: the window key and the cohort value of each row.
_WINDOW = f"{INTERNAL_PREFIX}window"
_COHORT = f"{INTERNAL_PREFIX}cohort"
_COLUMN = f"{INTERNAL_PREFIX}column"
_BIN = f"{INTERNAL_PREFIX}bin"


def value_text(value: ir.Value) -> ir.StringValue:
    """A cohort value or category as driftline spells it, on either engine: the value as
    text, and a whole number of a float or decimal column as the integer it is (``3.0``
    reads ``3``, as in an integer column; see :func:`driftline._catalog.value_text_sql`,
    its SQL form at ingest). A null or NaN is null; +-inf reads ``inf``, ``-inf`` on both
    engines. (Other fractional values are each engine's text of the double: Spark writes
    ``1.0E-4`` where DuckDB writes ``0.0001``.)"""
    typ = value.type()
    if typ.is_timestamp() and typ.timezone is not None:
        # an instant reads as its UTC wall time, as a naive one (DuckDB's text of a
        # TIMESTAMPTZ carries the offset: "+00", a new cohort value)
        return value.cast(dt.Timestamp()).cast("string")
    if not (typ.is_floating() or typ.is_decimal()):
        return value.cast("string")
    x = value.cast("float64")
    whole = (x.abs() < WHOLE_LIMIT) & (x == x.floor())
    most = _float_literal(sys.float_info.max)
    return ibis.cases(
        # NaN is missing, as in a numeric column (Spark counted it missing and a category)
        (x.isnan(), ibis.null("string")),
        (whole, x.cast("int64").cast("string")),
        # +-inf spelled as DuckDB spells it (Spark: Infinity)
        (x > most, ibis.literal("inf")),
        (x < -most, ibis.literal("-inf")),
        else_=x.cast("string"),
    )


def cohort_text(value: ir.Value) -> ir.StringValue:
    """A cohort column's value as the checks name it (:func:`value_text`; a null reads
    :data:`MISSING_COHORT`)."""
    return value_text(value).fill_null(MISSING_COHORT)


def _scoped(t: ir.Table, spec: Spec, window: Window, cohort: str | None) -> ir.Table:
    """Add the internal window key and cohort value columns to ``t`` (see :func:`_keys`)."""
    value: ir.StringValue
    value = ibis.literal(OVERALL, type="string") if cohort is None else cohort_text(t[cohort])
    return t.mutate(**{_WINDOW: window_key(t, spec, window), _COHORT: value})


def _keys(s: ir.Table, **more: ir.Value) -> dict[str, ir.Value]:
    """Group keys of a scoped table, named as the summaries' outputs: ``window``,
    ``cohort_value``, then ``more``."""
    return {"window": s[_WINDOW], "cohort_value": s[_COHORT], **more}


def _rows_where(x: ir.BooleanValue) -> ir.IntegerValue:
    """Rows where ``x`` holds: 0, not NULL, when it holds nowhere or is NULL everywhere."""
    return x.cast("int64").sum().fill_null(0)


def _clean(x: ir.Column) -> ir.Column:
    """Numeric value with NaN turned into null (the missing-value policy)."""
    if x.type().is_floating():
        return ibis.ifelse(x.isnan(), ibis.null("float64"), x)
    return x


def _missing(x: ir.Column) -> ir.BooleanValue:
    if x.type().is_floating():
        return x.isnull() | x.isnan().fill_null(False)
    return x.isnull()


def _finite(x: ir.Column) -> ir.Column:
    """Numeric value with NaN and +-inf turned into null (what moments are taken of): the
    values within :data:`~driftline._catalog.MOMENT_LIMIT`. (Engines sort NaN above
    every double; Ibis' ``isinf`` compares with ``CAST('Inf' AS DOUBLE)``, which Spark
    reads as NULL.)"""
    if x.type().is_floating():
        most = _float_literal(MOMENT_LIMIT)
        return ibis.ifelse(x.abs() <= most, x, ibis.null("float64"))
    return x


def _prediction_aggs(s: ir.Table, spec: Spec) -> dict[str, ir.Value]:
    conf = _clean(s.confidence)
    return {
        "n": s.count(),
        "conf_mean": conf.mean(),
        "conf_var": conf.var(how="sample"),
        "conf_min": conf.min(),
        "conf_max": conf.max(),
        "conf_q": conf.approx_quantile(list(QUANTILES)),
        "ts_min": s[spec.timestamp].min(),
        "ts_max": s[spec.timestamp].max(),
    }


def prediction_stats(t: ir.Table, spec: Spec, window: Window, cohort: str | None) -> ir.Table:
    """Count, confidence moments and approximate quantiles per window and cohort value."""
    s = _scoped(t, spec, window, cohort)
    return s.group_by(**_keys(s)).aggregate(**_prediction_aggs(s, spec))


def confidence_quantiles(t: ir.Table, spec: Spec, window: Window) -> ir.Table:
    """Approximate confidence quantiles per window, overall (they do not merge)."""
    s = _scoped(t, spec, window, None)
    conf = _clean(s.confidence)
    return s.group_by(**_keys(s)).aggregate(conf_q=conf.approx_quantile(list(QUANTILES)))


def class_counts(
    t: ir.Table, spec: Spec, window: Window, cohort: str | None, column: str | None = None
) -> ir.Table:
    """Rows per predicted class (or per value of ``column``) per window and cohort value."""
    s = _scoped(t, spec, window, cohort)
    col = column or spec.prediction
    value = s[col].cast("string") if column is None else value_text(s[col])
    return s.group_by(**_keys(s, value=value.fill_null(MISSING_COHORT))).aggregate(n=s.count())


def _feature_aggs(
    s: ir.Table, spec: Spec, ranges: Mapping[str, tuple[float, float]], numeric: bool = True
) -> dict[str, ir.Value]:
    aggs: dict[str, ir.Value] = {}
    for i, (col, kind) in enumerate(spec.feature_kinds.items()):
        if kind == "numeric" and not numeric:
            continue
        x = s[col]
        aggs[f"m{i}"] = _rows_where(_missing(x))
        if kind == "numeric" and col in ranges:
            lo, hi = ranges[col]
            c, f = _clean(x), _finite(x)
            aggs[f"lo{i}"] = _rows_where(c < _float_literal(lo))
            aggs[f"hi{i}"] = _rows_where(c > _float_literal(hi))
            # +-inf: neither missing nor finite (every count here the engine computes anyway)
            aggs[f"nf{i}"] = s.count() - aggs[f"m{i}"] - f.count()
            aggs[f"mean{i}"] = f.mean()
            aggs[f"var{i}"] = f.var(how="sample")
    return aggs


def feature_stats(
    t: ir.Table,
    spec: Spec,
    window: Window,
    cohort: str | None,
    *,
    ranges: Mapping[str, tuple[float, float]],
) -> ir.Table:
    """One wide row per window and cohort value with, for feature number ``i``:

    ``m{i}`` missing count; numeric: ``lo{i}``/``hi{i}`` values below / above the
    reference range (+-inf included), ``nf{i}`` values +-inf, ``mean{i}``/``var{i}``
    moments of the finite values. (Values outside a categorical
    column's reference categories are counted by :func:`category_counts`.)
    """
    s = _scoped(t, spec, window, cohort)
    return s.group_by(**_keys(s)).aggregate(n=s.count(), **_feature_aggs(s, spec, ranges))


@ibis.udf.agg.builtin(name="histogram")  # type: ignore[untyped-decorator]
def _duckdb_histogram(x: float, boundaries: list[float]) -> dict[float, int]:  # type: ignore[empty-body]
    """DuckDB's ``histogram(x, boundaries)``: counts per bucket ``(previous, boundary]``,
    plus an overflow bucket (key ``inf``) for values above the last boundary."""


def native_boundaries(edges: Sequence[float]) -> list[float] | None:
    """Boundaries for DuckDB's ``histogram`` that reproduce :func:`bin_index` with
    ``outer=True``. Bucket ``(previous, b]`` with ``b`` the double just below an edge is
    ``[previous edge, edge)``; the first bucket counts values below the first edge, the
    last boundary is the last edge itself (the last bin is closed), and the overflow
    bucket counts values above it: ``len(edges) + 1`` counts in all. ``None`` when an
    edge is not finite (the double below -inf is -inf; the portable form is used).

    >>> native_boundaries([0.0, 1.0])
    [-5e-324, 1.0]
    >>> native_boundaries([0.0, 0.5, 1.0])
    [-5e-324, 0.49999999999999994, 1.0]
    """
    if not all(math.isfinite(e) for e in edges):
        return None
    return [math.nextafter(e, -math.inf) for e in edges[:-1]] + [float(edges[-1])]


def _histogram_aggs(
    s: ir.Table,
    edges: Mapping[str, Sequence[float]],
    values: Mapping[str, Callable[[ir.Table], ir.NumericValue]],
    *,
    native: bool = False,
) -> tuple[ir.Table, dict[str, ir.Value]]:
    """Histogram counts of each source: ``h{k}_{j}`` is the count of source number ``k``
    in bin ``j - 1`` (j = 0: below the edges, last: above). Portable form: bin each
    source once (``_b{k}``), then one conditional sum per bin. ``native`` (DuckDB): one
    ``histogram`` aggregate per source, ``h{k}``, a map that :func:`expand_histograms`
    turns into the same ``h{k}_{j}`` columns - a third of the scan time on 1M rows, and
    a twentieth of the SQL to compile.

    A native histogram reads its source's value from a column of the returned table
    (computed once, in a projection) and takes its boundaries as one array literal: on a
    thousand features, an expression per aggregate and a cast per boundary made the query
    minutes long to compile and to plan."""
    bins = {}
    native_values: dict[str, ir.Value] = {}
    native_bounds: dict[int, list[float]] = {}
    aggs: dict[str, ir.Value] = {}
    for k, (name, e) in enumerate(edges.items()):
        build = values.get(name)
        c = _clean(build(s) if build is not None else s[name])
        bounds = native_boundaries(e) if native else None
        if bounds is not None:
            native_values[f"{INTERNAL_PREFIX}h{k}"] = c.cast("float64")
            native_bounds[k] = bounds
            continue
        bins[f"{INTERNAL_PREFIX}b{k}"] = ibis.ifelse(
            c.isnull(), ibis.literal(-2, type="int64"), bin_index(c, e, outer=True)
        )
    sb = s.mutate(**bins, **native_values) if bins or native_values else s
    for k, bounds in native_bounds.items():
        aggs[f"h{k}"] = _duckdb_histogram(
            sb[f"{INTERNAL_PREFIX}h{k}"], _float_array_literal(bounds)
        )
    for k, e in enumerate(edges.values()):
        if f"{INTERNAL_PREFIX}b{k}" in bins:
            for j in range(len(e) + 1):
                aggs[f"h{k}_{j}"] = (sb[f"{INTERNAL_PREFIX}b{k}"] == j - 1).cast("int64").sum()
    return sb, aggs


def expand_histograms(table: pa.Table, edges: Mapping[str, Sequence[float]]) -> pa.Table:
    """``table`` with every native histogram map ``h{k}`` (see :func:`_histogram_aggs`)
    replaced by the portable ``h{k}_{j}`` int64 columns; a table without maps is returned
    as it is. A group with no value of a source (a null map) counts zero everywhere.

    Built in one go, with numpy over each map's flat keys and counts: the table is
    assembled once, not column by column (which copied it once per column, and took
    minutes for a thousand features).
    """
    maps = {f"h{k}": e for k, e in enumerate(edges.values())}
    if not any(name in maps for name in table.column_names):
        return table
    rows = table.num_rows
    names: list[str] = []
    columns: list[pa.Array | pa.ChunkedArray] = []
    for name in table.column_names:
        e = maps.get(name)
        if e is None:
            names.append(name)
            columns.append(table.column(name))
            continue
        bounds = native_boundaries(e)
        assert bounds is not None
        width = len(e) + 1
        counts = np.zeros(rows * width, dtype=np.int64)
        chunk_start = 0
        for chunk in table.column(name).chunks:
            # the entries of every map, row after row (a null map's slot holds none)
            off = chunk.offsets.to_numpy(zero_copy_only=False)
            lo, hi = int(off[0]), int(off[-1])
            if hi > lo:
                row = np.repeat(np.arange(len(chunk)), np.diff(off))
                keys = chunk.keys.to_numpy(zero_copy_only=False)[lo:hi]
                n = chunk.items.to_numpy(zero_copy_only=False)[lo:hi].astype(np.int64)
                if chunk.null_count:
                    valid = chunk.is_valid().to_numpy(zero_copy_only=False)[row]
                    row, keys, n = row[valid], keys[valid], n[valid]
                # a key is one of the boundaries (its bucket) or inf (the overflow bucket)
                at = np.searchsorted(np.asarray(bounds, dtype=np.float64), keys)
                np.add.at(counts, (chunk_start + row) * width + np.minimum(at, len(e)), n)
            chunk_start += len(chunk)
        grid = counts.reshape(rows, width)
        for j in range(width):
            names.append(f"{name}_{j}")
            columns.append(pa.array(grid[:, j], pa.int64()))
    return pa.Table.from_arrays(columns, names=names)


def bin_counts(
    t: ir.Table,
    edges: Mapping[str, Sequence[float]],
    values: Mapping[str, Callable[[ir.Table], ir.NumericValue]] | None = None,
    *,
    native: bool = False,
) -> ir.Table:
    """Histogram counts of every source over the whole table, in one scan: one row with
    the ``h{k}_{j}`` columns of :func:`window_summary` (the profile's bin counts; with
    ``native``, maps to pass through :func:`expand_histograms`)."""
    sb, aggs = _histogram_aggs(t, edges, values or {}, native=native)
    return sb.aggregate(**aggs)


def window_summary(
    t: ir.Table,
    spec: Spec,
    window: Window,
    cohort: str | None,
    *,
    ranges: Mapping[str, tuple[float, float]],
    edges: Mapping[str, Sequence[float]],
    values: Mapping[str, Callable[[ir.Table], ir.NumericValue]] | None = None,
    native: bool = False,
    era: tuple[datetime | None, datetime | None] | None = None,
    numeric: bool = True,
) -> ir.Table:
    """Everything row-level in ONE scan, one wide row per window and cohort value: the
    columns of :func:`prediction_stats` and :func:`feature_stats`, and histogram counts
    ``h{k}_{j}`` of the k-th entry of ``edges`` (bins as in :func:`histograms`, ``j`` =
    bin + 1). Token-level text features need their own scan (:func:`histograms`).
    ``native`` (DuckDB only) computes the histograms with the engine's own aggregate;
    pass the result through :func:`expand_histograms` to get the same columns.
    ``era = (earliest, latest)`` adds ``era_early`` / ``era_late``: rows with a timestamp
    before ``earliest`` / after ``latest`` (a bound of None counts nothing).
    ``numeric=False`` leaves the numeric features' columns out (``m{i}`` ... ``var{i}``;
    leave their edges out of ``edges`` too), for engines that count them with
    :func:`driftline.engine.numeric.numeric_summary`.

    Rows come ordered by window and cohort value: engines return groups in no fixed order
    (DuckDB's differs run to run), and merges of the groups must not depend on it."""
    s = _scoped(t, spec, window, cohort)
    sb, hist = _histogram_aggs(s, edges, values or {}, native=native)
    aggs = {**_prediction_aggs(sb, spec), **_feature_aggs(sb, spec, ranges, numeric), **hist}
    if era is not None:
        ts = sb[spec.timestamp]
        for name, bound, beyond in (
            ("era_early", era[0], ts.__lt__),
            ("era_late", era[1], ts.__gt__),
        ):
            hit = (
                beyond(ibis.literal(bound))
                if bound is not None
                else ts.isnull() & ibis.literal(False)
            )
            aggs[name] = _rows_where(hit)
    grouped = sb.group_by(**_keys(sb)).aggregate(**aggs)
    return _hoisted(grouped).order_by(["window", "cohort_value"])


def era_rows(
    t: ir.Table,
    spec: Spec,
    window: Window,
    earliest: datetime | None,
    latest: datetime | None,
    top: int = 5,
) -> ir.Table:
    """``(window, id, ts, batch)`` of the first ``top`` rows (by timestamp, then id) of
    each window whose timestamp lies before ``earliest`` or after ``latest``: the rows the
    ``timestamp_era`` check names, and their batch numbers (``_batch``; null for a table
    without it). Run it only where :func:`window_summary` counted some."""
    s = _scoped(t, spec, window, None)
    ts = s[spec.timestamp]
    hit = ts.isnull() & ibis.literal(False)
    if earliest is not None:
        hit = hit | (ts < ibis.literal(earliest))
    if latest is not None:
        hit = hit | (ts > ibis.literal(latest))
    bad = s.filter(hit)
    rank = ibis.row_number().over(
        group_by=bad[_WINDOW], order_by=[bad[spec.timestamp], bad[spec.id]]
    )
    ranked = bad.mutate(**{_RANK: rank})
    ranked = ranked.filter(ranked[_RANK] < top)
    batch = ranked["_batch"] if "_batch" in ranked.columns else ibis.null("int64")
    return ranked.select(
        window=ranked[_WINDOW],
        id=ranked[spec.id].cast("string"),
        ts=ranked[spec.timestamp],
        batch=batch.cast("int64"),
    ).order_by(["window", "ts", "id"])


def _hoisted(aggregate: ir.Table) -> ir.Table:
    """``aggregate`` (a grouped aggregation) with every conditional row-level expression
    inside its aggregates (a NaN or +-inf turned into null, ...) computed once, as a
    column of a projection under it, and the aggregates reading that column. The same
    ``CASE`` repeated in each aggregate of a thousand features made DuckDB take minutes
    to bind and run the query; computed once, it takes seconds. Same values, same types,
    on every engine."""
    node = aggregate.op()
    assert isinstance(node, ops.Aggregate)
    parent = node.parent
    found: dict[ops.Value, str] = {}
    todo: list[Any] = list(node.metrics.values())
    while todo:  # the aggregates' value expressions, not the tables they read
        value = todo.pop()
        if isinstance(value, _CONDITIONALS):
            if value not in found:
                found[value] = f"{INTERNAL_PREFIX}x{len(found)}"
        elif isinstance(value, ops.Value) and not isinstance(value, ops.Field):
            todo.extend(value.__children__)
    if not found:
        return aggregate
    projected = parent.to_expr().mutate(**{name: v.to_expr() for v, name in found.items()})
    subs: dict[Any, Any] = {parent: projected.op()}
    subs.update({v: projected[name].op() for v, name in found.items()})

    def visit(n: Any) -> bool:
        return n is node or n is parent or isinstance(n, ops.Value)

    out: ir.Table = node.replace(subs, filter=visit).to_expr()
    return out


_CONDITIONALS = (ops.IfElse, ops.SearchedCase, ops.SimpleCase)


def _float_literal(value: float) -> ir.FloatingValue:
    """``value`` as an exact SQL double. A bare literal such as 0.018867924528301886 is a
    DECIMAL to DuckDB, whose cast to DOUBLE can be one ulp off (Spark's is not), so a value
    on a bin edge or range bound would fall on different sides by engine; a string cast
    is parsed correctly rounded by both.
    """
    return ibis.literal(repr(float(value))).cast("float64")


def _float_array_literal(values: Sequence[float]) -> ir.ArrayValue:
    """``values`` as one exact SQL ``DOUBLE[]``: strings parsed correctly rounded (see
    :func:`_float_literal`), in one literal and one cast rather than one per value."""
    return ibis.literal([repr(float(v)) for v in values], type="array<string>").cast(
        "array<float64>"
    )


def bin_index(
    x: ir.NumericValue, edges: Sequence[float], *, outer: bool = False
) -> ir.IntegerValue:
    """Index of the bin of ``x`` on ``edges`` by binary search (a nested CASE of depth
    log2(bins)): bin i is ``[edges[i], edges[i+1])``, the last bin closed. Values outside
    ``[edges[0], edges[-1]]`` are clipped into the outer bins, or with ``outer`` get their
    own: -1 below the range and ``len(edges) - 1`` above it.
    """
    inner = list(edges[1:-1])
    k = len(edges) - 1

    def build(lo: int, hi: int) -> ir.IntegerValue:
        # bins lo..hi; inner[j] separates bin j and bin j+1
        if lo == hi:
            return ibis.literal(lo, type="int64")
        mid = (lo + hi) // 2
        return ibis.ifelse(x < _float_literal(inner[mid]), build(lo, mid), build(mid + 1, hi))

    inside = build(0, len(inner))
    if not outer:
        return inside
    below = ibis.ifelse(x < _float_literal(edges[0]), ibis.literal(-1, type="int64"), inside)
    return ibis.ifelse(x > _float_literal(edges[-1]), ibis.literal(k, type="int64"), below)


def histograms(
    t: ir.Table,
    spec: Spec,
    window: Window,
    cohort: str | None,
    edges: Mapping[str, Sequence[float]],
    values: Mapping[str, Callable[[ir.Table], ir.NumericValue]] | None = None,
    vocabularies: Mapping[str, Sequence[str]] | None = None,
) -> ir.Table | None:
    """Long table ``(window, cohort_value, column, bin, n)`` of counts on the given edges,
    with bins -1 and ``len(edges) - 1`` for values below and above the edges.

    ``values`` maps a name in ``edges`` to an expression builder (e.g. a text style
    feature); other names are columns, except ``"<text column>:oov"`` and ``":typo"``,
    which are computed per row from the column's tokens and ``vocabularies``.
    """
    s = _scoped(t, spec, window, cohort)
    token_cols = {name.rpartition(":")[0] for name in edges if name.endswith(TOKEN_FEATURES)}
    token_cols &= set(vocabularies or {})
    per_row = {
        col: token_shares(s, col, (vocabularies or {})[col], [_WINDOW, _COHORT, *_row_key(s, spec)])
        for col in sorted(token_cols)
    }
    parts = []
    for name, e in edges.items():
        col, _, feature = name.rpartition(":")
        if col in per_row and feature in TOKEN_FEATURES:
            base = per_row[col]
            c = base[feature]
        else:
            base = s
            build = (values or {}).get(name)
            c = _clean(build(s) if build is not None else s[name])
        sub = base.filter(c.notnull()).mutate(
            **{_BIN: bin_index(c, e, outer=True), _COLUMN: ibis.literal(name)}
        )
        keys = _keys(sub, column=sub[_COLUMN], bin=sub[_BIN])
        parts.append(sub.group_by(**keys).aggregate(n=sub.count()))
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _row_key(s: ir.Table, spec: Spec) -> list[str]:
    """Columns that identify a stored prediction row (ids are unique per batch)."""
    return [spec.id, "_batch"] if "_batch" in s.columns else [spec.id]


def category_counts(
    t: ir.Table,
    spec: Spec,
    window: Window,
    cohort: str | None,
    columns: Sequence[str] | Mapping[str, Sequence[str]],
) -> ir.Table | None:
    """Long table ``(window, cohort_value, column, value, n)`` of category counts.

    Given a mapping of column to known categories, values outside them are pooled as
    :data:`OTHER`, so the result never grows with a column's cardinality.
    """
    s = _scoped(t, spec, window, cohort)
    if isinstance(columns, Mapping):
        if not columns:
            return None
        values = _known_value_counts(s, columns)
        pooled = values.mutate(value=ibis.ifelse(values.new, OTHER, values.value))
        group = ["window", "cohort_value", "column", "value"]
        return pooled.group_by(group).aggregate(n=pooled.n.sum())
    parts = []
    for col in columns:
        sub = s.filter(s[col].notnull()).mutate(**{_COLUMN: ibis.literal(col)})
        keys = _keys(sub, column=sub[_COLUMN], value=value_text(sub[col]))
        parts.append(sub.group_by(**keys).aggregate(n=sub.count()))
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


_CAT = f"{INTERNAL_PREFIX}cat"
_KNOWN = f"{INTERNAL_PREFIX}known"
_RANK = f"{INTERNAL_PREFIX}rank"


def _known_value_counts(s: ir.Table, known: Mapping[str, Sequence[str]]) -> ir.Table:
    """``(window, cohort_value, column, value, n, new)``: the rows of each column counted
    per distinct value (as a string), ``new`` for values outside its known categories.

    Values are counted first and only then looked up in the known categories: a hash join
    of the small aggregate, not of every row, and not an IN list, which engines test
    literal by literal (DuckDB: 20 s on 1M rows against 5,000 categories).
    """
    parts = []
    for col, cats in known.items():
        rows = s.filter(s[col].notnull())
        counts = rows.group_by(**_keys(rows, value=value_text(rows[col]))).aggregate(n=rows.count())
        table = pa.table({_CAT: pa.array(list(cats), pa.string())})
        lookup = ibis.memtable(table).mutate(**{_KNOWN: ibis.literal(True)})
        joined = counts.left_join(lookup, counts.value == lookup[_CAT])
        parts.append(
            joined.select(
                "window",
                "cohort_value",
                column=ibis.literal(col),
                value=joined.value,
                n=joined.n,
                new=joined[_KNOWN].isnull(),
            )
        )
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def category_summary(
    t: ir.Table,
    spec: Spec,
    window: Window,
    cohort: str | None,
    known: Mapping[str, Sequence[str]],
    top: int = 5,
) -> ir.Table | None:
    """Everything the categorical checks need, in one query: per window, cohort value and
    column, the count of each known category, the values outside them pooled as one
    :data:`OTHER` row, and the ``top`` most frequent of those values by name (ties broken
    by value), flagged ``unseen`` (:data:`CATEGORY_SUMMARY_SCHEMA`).

    Rows are counted per distinct value first and only then looked up in the known
    categories (:func:`_known_value_counts`); the result never grows with a column's
    cardinality. Rows come ordered by window, cohort value, column, ``unseen``, then
    rank, so a list built from them reads the same on every engine."""
    if not known:
        return None
    values = _known_value_counts(_scoped(t, spec, window, cohort), known)
    group = ["window", "cohort_value", "column"]
    new = values.filter(values.new)
    rank = ibis.row_number().over(group_by=group, order_by=[ibis.desc("n"), "value"])
    out = ibis.union(
        values.filter(~values.new).select(*group, "value", "n", unseen=ibis.literal(False)),
        new.group_by(group).aggregate(
            value=ibis.literal(OTHER), n=new.n.sum(), unseen=ibis.literal(False)
        ),
        new.mutate(**{_RANK: rank})
        .filter(lambda r: r[_RANK] < top)
        .select(*group, "value", "n", unseen=ibis.literal(True)),
    )
    return out.order_by([*group, "unseen", ibis.desc("n"), "value"])


def batch_rows(t: ir.Table, spec: Spec, window: Window, cohort: str | None) -> ir.Table:
    """Rows per ``(window, cohort_value, _batch)``: which batches fed which windows."""
    s = _scoped(t, spec, window, cohort)
    return s.group_by(**_keys(s, _batch=s["_batch"])).aggregate(n=s.count())


# --------------------------------------------------------------------------------------
# text style features
# --------------------------------------------------------------------------------------
#: Style features computed per row of a text column, in the engine. Shares are of the
#: row's characters, or of its tokens for :data:`TOKEN_FEATURES`; an empty text has none.
TEXT_FEATURES = (
    "length",
    "words",
    "upper",
    "digits",
    "punct",
    "space_runs",
    "non_ascii",
    "oov",
    "typo",
)
#: Token-level features: share of a row's tokens outside the reference vocabulary, and
#: of those that look like typos (alphabetic, 3+ letters, outside the vocabulary).
TOKEN_FEATURES = ("oov", "typo")
_PUNCT = r"[!-/:-@\[-`{-~]"
_TOKEN_SPLIT = r"[^a-z0-9]+"
# whitespace spelled out: RE2 (DuckDB) and Java (Spark) disagree on \s (vertical tab)
_SPACE = r"[ \t\n\x0B\f\r]"
_NON_SPACE = r"[^ \t\n\x0B\f\r]"
# ASCII-only lower-casing: Unicode lower() differs by engine (Java turns U+0130 into
# "i" + a combining dot, DuckDB into "i"), and tokens are ASCII anyway
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def text_tokens(x: ir.StringValue) -> ir.ArrayValue:
    """Lower-cased ASCII word tokens of a text (the vocabulary's unit)."""
    lower = x.translate(_UPPER, _UPPER.lower())
    return lower.re_split(_TOKEN_SPLIT).filter(lambda tok: tok != "")


def _count(x: ir.StringValue, pattern: str) -> ir.IntegerValue:
    return x.length() - x.re_replace(pattern, "").length()


def text_feature(x: ir.StringValue, name: str) -> ir.NumericValue:
    """One character-level style feature of text ``x``, as a float.

    Token-level features (:data:`TOKEN_FEATURES`) need the vocabulary and a join; see
    :func:`token_shares`.
    """
    n = x.length().cast("float64")
    chars = n.nullif(0)
    if name == "length":
        return n
    if name == "words":
        return x.re_replace(_NON_SPACE + "+", "w").re_replace(_SPACE, "").length().cast("float64")
    if name == "upper":
        return _count(x, "[A-Z]") / chars
    if name == "digits":
        return _count(x, "[0-9]") / chars
    if name == "punct":
        return _count(x, _PUNCT) / chars
    if name == "space_runs":
        return _count(x.re_replace(_SPACE + "{2,}", "\x01"), "\x01").cast("float64")
    if name == "non_ascii":
        return _count(x, r"[^\x00-\x7F]") / chars
    raise ValueError(
        f"unknown character-level text feature {name!r}; available: "
        f"{', '.join(f for f in TEXT_FEATURES if f not in TOKEN_FEATURES)}"
    )


def token_shares(
    t: ir.Table, column: str, vocabulary: Sequence[str], keys: Sequence[str]
) -> ir.Table:
    """Per row with at least one token: ``keys`` plus ``oov`` and ``typo`` shares.

    Tokens are looked up in the vocabulary by a join (a hash join on every engine), not
    by an IN list inside a lambda, which engines evaluate token by token.
    """
    tok, vtok, known = (f"{INTERNAL_PREFIX}{name}" for name in ("tok", "vtok", "known"))
    toks = t.select(*keys, **{tok: text_tokens(t[column]).unnest()})
    vocab = ibis.memtable(pa.table({vtok: pa.array(list(vocabulary), pa.string())}))
    vocab = vocab.mutate(**{known: ibis.literal(1, type="int64")})
    j = toks.left_join(vocab, toks[tok] == vocab[vtok])
    unknown = j[known].isnull()
    typo = unknown & j[tok].re_search("^[a-z]{3,}$")
    n, oov, typos = (f"{INTERNAL_PREFIX}{name}" for name in ("n", "oov", "typo"))
    per = j.group_by(list(keys)).aggregate(
        **{n: j.count(), oov: _rows_where(unknown), typos: _rows_where(typo)}
    )
    total = per[n].cast("float64")
    return per.select(*keys, oov=per[oov] / total, typo=per[typos] / total)


def _text_builder(col: str, name: str) -> Callable[[ir.Table], ir.NumericValue]:
    def build(t: ir.Table) -> ir.NumericValue:
        return text_feature(t[col], name)

    return build


def numeric_column(col: str) -> Callable[[ir.Table], ir.NumericValue]:
    """Builder of a column as float64 (the form every numeric summary uses)."""

    def build(t: ir.Table) -> ir.NumericValue:
        return t[col].cast("float64")

    return build


def text_feature_builders(
    columns: Sequence[str],
) -> dict[str, Callable[[ir.Table], ir.NumericValue]]:
    """``{"col:feature": builder}`` for the character-level features of text columns."""
    return {
        f"{col}:{name}": _text_builder(col, name)
        for col in columns
        for name in TEXT_FEATURES
        if name not in TOKEN_FEATURES
    }


def vocabulary(t: ir.Table, column: str, size: int) -> ir.Table:
    """The ``size`` most frequent tokens of a text column, with counts."""
    toks = t.select(token=text_tokens(t[column]).unnest())
    counts = toks.group_by("token").aggregate(n=toks.count())
    return counts.order_by([ibis.desc("n"), "token"]).limit(size)
