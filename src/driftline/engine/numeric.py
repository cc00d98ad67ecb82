"""Numeric feature summaries counted next to the engine: one scan streams the values, a
compiled kernel counts them.

A thousand numeric features make :func:`~driftline.engine.summaries.window_summary` a
query of seven thousand aggregates: minutes to compile with Ibis and to run, and more
memory than DuckDB's default cap. Here the engine streams the features, as Arrow record
batches of ``(window, cohort value, feature values)`` (a wide table a hundred-odd
features per scan, each column read once), and a numba kernel counts each feature
column, the columns of a batch split between threads while the engine reads the next
batch. The summary is the same as the numeric part of
``window_summary``, with the same names, read by the same decoder
(:func:`~driftline.engine.records.read_feature_counts`) into the same records:

``m{i}`` values missing (null or NaN); for a feature with a reference range:
``lo{i}`` / ``hi{i}`` values below / above it (+-inf included), ``nf{i}`` values +-inf,
``mean{i}`` / ``var{i}`` mean and sample variance of the finite values (None below one
resp. two of them); and ``h{k}_{j}`` the histogram counts on the k-th edges (``j = 0``
below the edges, the last above them; bins as in
:func:`~driftline.engine.summaries.bin_index`).

Moments are exact to rounding: each batch's are taken in two passes (mean, then squared
deviations) and merged across batches by Chan's parallel formula. DuckDB's engine uses
this for tables of :data:`MIN_FEATURES` numeric features or more; the parity tests hold
it to the Ibis form, which Spark and narrower tables run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline._catalog import MOMENT_LIMIT
from driftline.engine.summaries import _COHORT, _WINDOW, _scoped
from driftline.spec import Spec, Window

__all__ = ["MIN_FEATURES", "numeric_summary", "uses_kernel"]

#: The kernel counts a table with at least this many numeric features; fewer are counted
#: in the summary query. Loading numba and the compiled kernel costs a process about
#: 0.8 s, more than the query spends on a dozen features (the 1M benchmark's 14 took
#: 4.1 s in all by the query, 4.7 s with the kernel); the query's compile time grows
#: with every feature (15 ms each), the kernel's does not.
MIN_FEATURES = 50


def uses_kernel(engine: object, features: int) -> bool:
    """Whether ``features`` numeric features are counted by the kernel on ``engine``."""
    return bool(getattr(engine, "numeric_kernel", False)) and features >= MIN_FEATURES


@cache
def _compiled() -> Callable[..., None]:
    """The kernel, compiled by numba on first use (and cached on disk by it)."""
    import numba

    kernel: Callable[..., None] = numba.njit(nogil=True, cache=True)(_count)
    return kernel


_MOST = MOMENT_LIMIT  # beyond it a value counts with +-inf (a global: numba reads it)

#: up to this many inner edges a value's bin is found by comparing it with each edge,
#: above by binary search: a binary search's branches mispredict on most values (30 ns
#: a value on 19 edges, against 4 ns for the comparisons)
_LINEAR = 48

#: rows per record batch: the engine hands over small batches at twice the cost a value
_BATCH_ROWS = 1 << 17
#: values per record batch (rows x features), about 128 MiB of doubles: a wide table is
#: scanned a few features at a time (columnar storage reads only those)
_BATCH_VALUES = 1 << 24


def _count(
    x: np.ndarray,
    groups: np.ndarray,
    inner: np.ndarray,
    first: float,
    last: float,
    lo: float,
    hi: float,
    hist: np.ndarray,
    counts: np.ndarray,
    moments: np.ndarray,
    batch: np.ndarray,
) -> None:  # pragma: no cover - compiled; the parity tests run it
    """Add one batch of one feature to its state.

    ``counts[g]``: missing, below ``lo``, above ``hi``, +-inf. ``moments[g]``: finite
    count, mean, sum of squared deviations, least and greatest finite value (start them
    at +inf and -inf). ``hist[g]``: ``len(inner) + 3`` counts
    (below ``first``, the bins, above ``last``); an empty ``hist`` skips it. ``batch``:
    scratch of the same shape as ``moments``.
    """
    most = _MOST
    width = hist.shape[1]
    m = inner.shape[0]
    linear = m <= _LINEAR
    batch[:] = 0.0
    for r in range(x.shape[0]):
        v = x[r]
        g = groups[r]
        if v != v:
            counts[g, 0] += 1
            continue
        if width:
            if v < first:
                j = 0
            elif v > last:
                j = width - 1
            elif linear:  # bins [e_i, e_i+1), the last closed: 1 + inner edges <= v
                j = 1
                for k in range(m):  # no branch to mispredict: compiled to vector compares
                    j += inner[k] <= v
            else:
                a, b = 0, m
                while a < b:
                    mid = (a + b) >> 1
                    if v < inner[mid]:
                        b = mid
                    else:
                        a = mid + 1
                j = a + 1
            hist[g, j] += 1
        if v < lo:
            counts[g, 1] += 1
        if v > hi:
            counts[g, 2] += 1
        if abs(v) <= most:
            batch[g, 0] += 1.0
            batch[g, 1] += v
            if v < moments[g, 3]:
                moments[g, 3] = v
            if v > moments[g, 4]:
                moments[g, 4] = v
        else:
            counts[g, 3] += 1
    for g in range(batch.shape[0]):
        if batch[g, 0] > 0:
            batch[g, 1] /= batch[g, 0]
    for r in range(x.shape[0]):
        v = x[r]
        if abs(v) <= most:  # False for NaN
            d = v - batch[groups[r], 1]
            batch[groups[r], 2] += d * d
    for g in range(batch.shape[0]):
        nb = batch[g, 0]
        if nb == 0:
            continue
        na = moments[g, 0]
        n = na + nb
        delta = batch[g, 1] - moments[g, 1]
        moments[g, 1] += delta * nb / n
        moments[g, 2] += batch[g, 2] + delta * delta * na * nb / n
        moments[g, 0] = n


@dataclass
class _Feature:
    """One numeric feature's place in the summary and its counting state."""

    index: int  # in spec.feature_kinds: the i of m{i}, lo{i}, ...
    name: str
    ranged: bool
    lo: float
    hi: float
    hist_index: int | None  # the k of h{k}_{j}
    edges: np.ndarray
    hist: np.ndarray  # (groups, len(edges) + 1)
    counts: np.ndarray  # (groups, 4): missing, below, above, +-inf
    moments: np.ndarray  # (groups, 5): finite n, mean, M2, min, max
    scratch: np.ndarray


def numeric_summary(
    engine: object,
    t: ir.Table,
    spec: Spec,
    window: Window,
    cohort: str | None,
    keys: Sequence[tuple[int, str]],
    *,
    ranges: Mapping[str, tuple[float, float]],
    edges: Mapping[str, Sequence[float]],
    columns: Sequence[str] | None = None,
    extremes: bool = False,
    threads: int | None = None,
) -> pa.Table:
    """The numeric feature columns of ``window_summary`` for the groups ``keys`` (every
    ``(window, cohort value)`` the scan can meet, e.g. from ``window_summary`` itself),
    one row per key in that order, starting with ``window`` and ``cohort_value``.

    ``columns`` limits it to those numeric features (default: every one in the spec);
    ``extremes`` adds ``min{i}`` / ``max{i}``, the least and greatest finite value of a
    feature with a range (None where it has none). ``engine`` needs a
    ``batches(expr, rows)`` method streaming Arrow record batches.
    """
    kinds = spec.feature_kinds
    order = list(edges)
    wanted = set(kinds) if columns is None else set(columns)
    numeric = [(i, c) for i, (c, k) in enumerate(kinds.items()) if k == "numeric" and c in wanted]
    group_of = {key: g for g, key in enumerate(keys)}
    n_groups = len(keys)
    features: list[_Feature] = []
    for i, col in numeric:
        e = np.asarray(edges.get(col, ()), dtype=np.float64)
        lo, hi = ranges.get(col, (np.nan, np.nan))
        features.append(
            _Feature(
                index=i,
                name=col,
                ranged=col in ranges,
                lo=float(lo),
                hi=float(hi),
                hist_index=order.index(col) if col in edges else None,
                edges=e,
                hist=np.zeros((n_groups, len(e) + 1 if len(e) else 0), dtype=np.int64),
                counts=np.zeros((n_groups, 4), dtype=np.int64),
                moments=np.tile([0.0, 0.0, 0.0, np.inf, -np.inf], (n_groups, 1)),
                scratch=np.zeros((n_groups, 3), dtype=np.float64),
            )
        )
    if features and n_groups:
        threads = threads or os.cpu_count() or 1
        per_scan = max(1, _BATCH_VALUES // _BATCH_ROWS)
        # what the keys read: a narrow table compiles in a fraction of the time of a
        # select from a wide one (Ibis' work grows with every column of every layer)
        keyed = [spec.timestamp, *([spec.id] if window.rows else []), *([cohort] if cohort else [])]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for start in range(0, len(features), per_scan):
                part = features[start : start + per_scan]
                narrow = t.select(*dict.fromkeys([*keyed, *(f.name for f in part)]))
                s = _scoped(narrow, spec, window, cohort)
                values = {f.name: _double(s[f.name]) for f in part}
                expr = s.select(s[_WINDOW], s[_COHORT], **values)
                _scan(engine, expr, part, group_of, pool, threads)
    return _table(keys, features, extremes)


def _double(x: ir.Column) -> ir.Column:
    return x if x.type().is_float64() else x.cast("float64")


def _scan(
    engine: object,
    expr: ir.Table,
    features: list[_Feature],
    group_of: Mapping[tuple[int, str], int],
    pool: ThreadPoolExecutor,
    threads: int,
) -> None:
    """Stream ``expr``'s batches through the kernel: the columns of a batch are counted
    on ``threads`` threads while the engine produces the next batch."""
    parts = [features[p::threads] for p in range(threads)]
    pending: list[Future[None]] = []
    for batch in engine.batches(expr, _BATCH_ROWS):  # type: ignore[attr-defined]
        groups = _group_ids(batch, group_of)
        for f in pending:
            f.result()
        pending = [pool.submit(_count_part, batch, part, groups) for part in parts if part]
    for f in pending:
        f.result()


def _count_part(batch: pa.RecordBatch, part: list[_Feature], groups: np.ndarray) -> None:
    kernel = _compiled()
    for f in part:
        x = batch.column(f.name).to_numpy(zero_copy_only=False)
        e = f.edges
        first, last = (float(e[0]), float(e[-1])) if len(e) else (0.0, 0.0)
        kernel(x, groups, e[1:-1], first, last, f.lo, f.hi, f.hist, f.counts, f.moments, f.scratch)


def _group_ids(batch: pa.RecordBatch, group_of: Mapping[tuple[int, str], int]) -> np.ndarray:
    """The group number of each row of ``batch`` (a window x cohort value key)."""
    w = batch.column(_WINDOW).to_numpy(zero_copy_only=False)
    cohort = pc.dictionary_encode(batch.column(_COHORT))
    c = cohort.indices.to_numpy(zero_copy_only=False)
    names = cohort.dictionary.to_pylist()
    windows, wi = np.unique(w, return_inverse=True)
    local, inverse = np.unique(wi.astype(np.int64) * len(names) + c, return_inverse=True)
    try:
        ids = np.array(
            [group_of[(int(windows[k // len(names)]), names[k % len(names)])] for k in local],
            dtype=np.intp,
        )
    except KeyError as exc:  # a caller bug: the keys must cover every group of the scan
        raise RuntimeError(f"numeric summary met a group it was not given: {exc}") from None
    return ids[inverse]


def _table(keys: Sequence[tuple[int, str]], features: list[_Feature], extremes: bool) -> pa.Table:
    cols: dict[str, pa.Array] = {
        "window": pa.array([k[0] for k in keys], pa.int64()),
        "cohort_value": pa.array([k[1] for k in keys], pa.string()),
    }
    for f in features:
        i = f.index
        cols[f"m{i}"] = pa.array(f.counts[:, 0])
        if f.ranged:
            n, mean, m2 = f.moments[:, 0], f.moments[:, 1], f.moments[:, 2]
            cols[f"lo{i}"] = pa.array(f.counts[:, 1])
            cols[f"hi{i}"] = pa.array(f.counts[:, 2])
            cols[f"nf{i}"] = pa.array(f.counts[:, 3])
            cols[f"mean{i}"] = pa.array(mean, mask=n < 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                cols[f"var{i}"] = pa.array(m2 / (n - 1), mask=n < 2)
            if extremes:
                cols[f"min{i}"] = pa.array(f.moments[:, 3], mask=n < 1)
                cols[f"max{i}"] = pa.array(f.moments[:, 4], mask=n < 1)
        if f.hist_index is not None:
            for j in range(f.hist.shape[1]):
                cols[f"h{f.hist_index}_{j}"] = pa.array(f.hist[:, j])
    return pa.table(cols)
