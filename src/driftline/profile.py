"""The profile: what the reference looked like, fitted once, saved as JSON.

It holds the schema (type family, category set, numeric range and expected missing
fraction per feature), numeric bin edges (reference quantiles, so every engine bins the
same way), bin and category counts, the class prior, the predicted-class mix and the
confidence distribution. Checks compare each window with it; the same profile is what
"one schema validates training and serving" means.

Fitting runs on the engine (Ibis over DuckDB or Spark): the reference is never loaded
into Python whole.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow.compute as pc

from driftline._catalog import INTERNAL_PREFIX
from driftline.engine import Engine
from driftline.engine.summaries import (
    MISSING_COHORT,
    TEXT_FEATURES,
    TOKEN_FEATURES,
    bin_counts,
    expand_histograms,
    numeric_column,
    text_feature_builders,
    token_shares,
    vocabulary,
)
from driftline.errors import NotFittedError, ProfileError, shorten
from driftline.spec import Spec
from driftline.store import type_family

__all__ = ["PROFILE_VERSION", "Profile"]

PROFILE_VERSION = 1
#: Columns the fit adds to the reference: names no user column can take
_CONF = f"{INTERNAL_PREFIX}conf"
_ROW = f"{INTERNAL_PREFIX}row"
#: The largest double: beyond it, +-inf (as a literal that every engine parses).
_LARGEST = ibis.literal(repr(sys.float_info.max)).cast("float64")
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


#: Values of the reference held in memory at once while its quantiles are taken.
_QUANTILE_VALUES = 2**24


def _quantiles(
    engine: Engine,
    t: ir.Table,
    columns: Mapping[str, ir.Value],
    wanted: Mapping[str, Sequence[float]],
    rows: int,
) -> dict[str, list[float]]:
    """Exact quantiles ``wanted[name]`` of ``columns[name]`` (an expression on ``t``),
    nulls skipped, as DuckDB's ``quantile_cont`` computes them, bit for bit
    (``lo * (1 - d) + hi * d`` at rank ``q * (n - 1)``; Spark's ``percentile`` rounds
    its interpolation differently, by an ulp at most): the same edges on every engine.

    Columns are fetched a few at a time (at most :data:`_QUANTILE_VALUES` values) and
    selected with numpy's multi-rank partition: DuckDB's own quantile aggregate took
    over two minutes for 1,000 columns of 100k rows, one sorted pass per quantile and
    column on one core; this takes seconds.
    """
    out: dict[str, list[float]] = {}
    names = list(wanted)
    step = max(1, _QUANTILE_VALUES // max(rows, 1))
    for start in range(0, len(names), step):
        chunk = names[start : start + step]
        # a projection of these columns only: compiling all of them per chunk cost more
        # than the scan
        table = engine.run(t.select(**{c: columns[c] for c in chunk}))
        for name in chunk:
            x = pc.drop_null(table.column(name)).to_numpy().astype(np.float64, copy=False)
            qs = np.asarray(wanted[name], dtype=np.float64)
            rank = qs * (x.size - 1)
            lo, hi = np.floor(rank).astype(np.int64), np.ceil(rank).astype(np.int64)
            part = np.partition(x, np.unique(np.concatenate([lo, hi])))
            a, b = part[lo], part[hi]
            d = rank - lo  # DuckDB's interpolation, operation for operation
            out[name] = np.where(lo == hi, a, a * (1.0 - d) + b * d).tolist()
    return out


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


def _moment_aggs(p: ir.Table, names: Sequence[str]) -> dict[str, ir.Value]:
    """Row count, and per source ``i`` of ``p`` (a table with :func:`_finite_values`):
    finite values ``c{i}``, +-inf values ``nf{i}``, ``min{i}``, ``max{i}``, ``mean{i}``,
    ``var{i}`` (sample variance) of the finite values. Grouped or not."""
    aggs: dict[str, ir.Value] = {"n": p.count()}
    for i in range(len(names)):
        c = p[_value_name(i)]
        aggs[f"c{i}"] = c.count()
        aggs[f"nf{i}"] = p[_infinite_name(i)].cast("int64").sum().fill_null(0)
        aggs[f"min{i}"] = c.min()
        aggs[f"max{i}"] = c.max()
        aggs[f"mean{i}"] = c.mean()
        aggs[f"var{i}"] = c.var(how="sample")
    return aggs


def _moment_stats(row: Mapping[str, Any], i: int, total: int) -> dict[str, Any]:
    """What the profile keeps of source ``i`` of an aggregate of :func:`_moment_aggs`:
    missing and non-finite shares of ``total`` rows (rows beyond the aggregate's, e.g.
    texts without tokens, are missing), and the moments and range of its finite values."""
    rows = int(row["n"])
    non_finite = int(row[f"nf{i}"] or 0)
    missing = rows - int(row[f"c{i}"] or 0) - non_finite + (total - rows)
    info: dict[str, Any] = {
        "missing_fraction": missing / total if total else 1.0,
        "non_finite_fraction": non_finite / total if total else 0.0,
    }
    if row[f"min{i}"] is not None:
        info.update(
            min=row[f"min{i}"], max=row[f"max{i}"], mean=row[f"mean{i}"], var=row[f"var{i}"]
        )
    return info


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
    spec_fingerprint_: str
    fitted_at_: str
    timestamps_: dict[str, str] | None

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
        sources[_CONF] = numeric_column(_CONF)
        others = [c for c in present if c not in sources]
        extra = {f"x{i}": t[col].isnull().cast("int64").sum() for i, col in enumerate(others)}
        stats, edges, row = self._numeric(engine, t, sources, None, extra)
        n = int(row["n"])
        if n == 0:
            raise ProfileError("the reference has no rows; log a reference before fitting.")
        counts = self._bin_counts(engine, t, edges, sources)
        keyed = t.mutate(**{_ROW: ibis.row_number()})
        for col in texts:  # token-level features, one row per text with tokens
            # Leave one out: a reference token counts as known only if another occurrence
            # exists, so the reference's OOV share estimates (Good-Turing) the share a
            # new text shows against the full vocabulary. In-sample it would be ~0 and
            # every serving window would look drifted.
            seen_twice = [tok for tok, count in vocab[col] if count >= 2]
            per_row = token_shares(keyed, col, seen_twice, [_ROW])
            token_sources = {f"{col}:{f}": numeric_column(f) for f in TOKEN_FEATURES}
            st, ed, _ = self._numeric(engine, per_row, token_sources, n, {})
            stats.update(st)
            edges.update(ed)
            counts.update(self._bin_counts(engine, per_row, ed, token_sources))
        missing_of = {c: row[f"x{i}"] / n for i, c in enumerate(others)}
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
        self.categories_ = {c: self._value_counts(engine, t, c) for c in cats}
        for c in cats:  # values beyond max_categories, pooled
            present_n = n - round(columns[c]["missing_fraction"] * n)
            columns[c]["other"] = present_n - sum(self.categories_[c].values())
        self.predicted_mix_ = self._class_counts(engine, t, spec.prediction)
        self.class_prior_ = (
            self._class_counts(engine, t, spec.label)
            if spec.label and spec.label in t.columns
            else None
        )
        self.timestamps_ = self._timestamps(engine, reference)
        self.spec_fingerprint_ = spec.fingerprint()
        self.fitted_at_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return self

    def _numeric(
        self,
        engine: Engine,
        t: ir.Table,
        sources: Mapping[str, Callable[[ir.Table], ir.NumericValue]],
        n_total: int | None,
        extra: Mapping[str, ir.Value],
    ) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]], dict[str, Any]]:
        """Missing and non-finite shares, moments, range and quantile edges of each
        source, in one scan.

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
        p = t.mutate(**projected)
        row: dict[str, Any] = engine.run(
            p.aggregate(**_moment_aggs(p, names), **extra)
        ).to_pylist()[0]
        wanted: dict[str, list[float]] = {}
        for i, name in enumerate(names):
            if row[f"min{i}"] is not None:
                nb = self.confidence_bins if name == _CONF else self.bins
                wanted[_value_name(i)] = [k / nb for k in range(1, nb)]
        quantiles = _quantiles(engine, t, projected, wanted, int(row["n"]))
        total = n_total if n_total is not None else int(row["n"])
        stats: dict[str, dict[str, Any]] = {}
        edges: dict[str, list[float]] = {}
        for i, name in enumerate(names):
            stats[name] = _moment_stats(row, i, total)
            if row[f"min{i}"] is not None:
                edges[name] = _edges(quantiles[_value_name(i)], row[f"min{i}"], row[f"max{i}"])
        return stats, edges, row

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

    def _bin_counts(
        self,
        engine: Engine,
        t: ir.Table,
        edges: dict[str, list[float]],
        sources: Mapping[str, Callable[[ir.Table], ir.NumericValue]],
    ) -> dict[str, list[int]]:
        if not edges:
            return {}
        expr = bin_counts(t, edges, sources, native=engine.native_histograms)
        row = expand_histograms(engine.run(expr), edges).to_pylist()[0]
        # j = 0 and j = len(e) count values outside the edges: none in the reference the
        # edges were fitted on (its min and max are the outer edges)
        return {
            name: [int(row[f"h{k}_{j}"]) for j in range(1, len(e))]
            for k, (name, e) in enumerate(edges.items())
        }

    def _value_counts(self, engine: Engine, t: ir.Table, col: str) -> dict[str, int]:
        v = t[col].cast("string")
        sub = t.filter(v.notnull()).mutate(value=v)
        expr = sub.group_by("value").aggregate(n=sub.count()).order_by([ibis.desc("n"), "value"])
        rows = engine.run(expr.limit(self.max_categories)).to_pylist()
        return {str(r["value"]): int(r["n"]) for r in rows}

    def _class_counts(self, engine: Engine, t: ir.Table, col: str) -> dict[str, int]:
        s = t.mutate(value=t[col].cast("string").fill_null(MISSING_COHORT))
        rows = engine.run(s.group_by("value").aggregate(n=s.count())).to_pylist()
        counts = dict.fromkeys(self.spec.classes, 0)
        for r in rows:
            counts[str(r["value"])] = int(r["n"])
        return counts

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
        }

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], spec: Spec, where: str = "profile") -> Profile:
        if data.get("version") != PROFILE_VERSION:
            raise ProfileError(
                f"{where} has version {data.get('version')!r}; this driftline reads version "
                f"{PROFILE_VERSION}. Refit it with `driftline fit`."
            )
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
        prof = cls(spec, **data["params"])
        for name in _FITTED:
            setattr(prof, name, data[name.rstrip("_")])
        prof.timestamps_ = data.get("timestamps")  # optional: older profiles lack it
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
