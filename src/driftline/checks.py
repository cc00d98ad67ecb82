"""Plan -> engine summaries -> methods -> typed results and alerts.

:data:`CHECKS` is the one table of check names; the spec's ``checks.min_effect`` and
``checks.fixed_bounds``, the CLI and the docs all read it.

The decision rule is honest at any window size. Each check's alert bound is the
``alert_quantile`` (default 0.999) of its statistic under no drift, simulated from the
reference at the window's size *and* the reference's size (both are samples), and never
less than the check's ``min_effect`` floor, so a trivial shift on a million rows does not
alert. ``fixed_bounds`` replaces the calibration for a check. Every result carries the
value, the effect, the bound and how the bound was set.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from statistics import NormalDist
from typing import Any, Literal

import ibis.expr.types as ir
import pyarrow as pa

from driftline.engine import Engine
from driftline.engine.summaries import (
    CATEGORY_SCHEMA,
    CLASS_COUNTS_SCHEMA,
    HISTOGRAM_SCHEMA,
    OTHER,
    OVERALL,
    TOKEN_FEATURES,
    batch_rows,
    category_counts,
    class_counts,
    confidence_quantiles,
    histograms,
    text_feature_builders,
    unseen_values,
    window_summary,
)
from driftline.errors import EmptyWindowError
from driftline.methods import Calibration
from driftline.profile import Profile
from driftline.spec import Spec, Window
from driftline.store import type_family

__all__ = [
    "CHECKS",
    "DRIFT_FLOORS",
    "Alert",
    "CheckInfo",
    "CheckReport",
    "CheckResult",
    "Moments",
    "WindowStats",
    "merge_moments",
    "run_checks",
]

Status = Literal["ok", "warn", "alert", "insufficient", "no_data"]


@dataclass(frozen=True)
class CheckInfo:
    name: str
    method: str
    min_effect: float
    description: str


CHECKS: dict[str, CheckInfo] = {
    info.name: info
    for info in [
        CheckInfo(
            "class_mix",
            "jensen_shannon",
            0.05,
            "predicted-class mix vs the reference's predicted mix (Jensen-Shannon distance)",
        ),
        CheckInfo(
            "confidence_shift",
            "mean_difference",
            0.02,
            "mean confidence (max score) minus the reference's mean confidence",
        ),
        CheckInfo(
            "missing_fraction",
            "missing_fraction_change",
            0.05,
            "share of missing (null or NaN) values minus the reference's share",
        ),
        CheckInfo(
            "out_of_range",
            "rate",
            0.01,
            "share of non-missing values outside the reference's [min, max]",
        ),
        CheckInfo(
            "unseen_category",
            "rate",
            0.01,
            "share of values not among the reference's categories (bound: Good-Turing)",
        ),
        CheckInfo(
            "class_prior",
            "jensen_shannon",
            0.05,
            "predicted-class mix vs the training class prior (labels of the reference), beyond "
            "the distance the model already had on the reference",
        ),
        CheckInfo(
            "feature_drift",
            "spec.drift",
            0.1,
            "distribution of a numeric or categorical feature vs the reference, by the "
            "method spec.drift chooses (effect floors per method: DRIFT_FLOORS)",
        ),
        CheckInfo(
            "text_drift",
            "spec.drift",
            0.1,
            "distribution of a text style feature (length, digits, OOV rate, ...) vs the reference",
        ),
        CheckInfo("missing_column", "schema", 0.0, "share of rows from batches lacking a column"),
        CheckInfo(
            "type_change",
            "schema",
            0.0,
            "share of rows from batches whose column type differs from the reference",
        ),
        CheckInfo("extra_column", "schema", 0.0, "columns logged that the spec does not know"),
    ]
}


#: Smallest effect that can alert, per drift method, whatever the window size. The
#: effect is the statistic itself, except chi2 (Cramer's V, sqrt(chi2 / n)) and
#: wasserstein (in units of the reference's standard deviation). 0.1 is the classic
#: "minor shift" line for PSI; the others are set to flag shifts of similar visibility.
DRIFT_FLOORS: dict[str, float] = {
    "chi2": 0.1,
    "jensen_shannon": 0.1,
    "ks": 0.1,
    "psi": 0.1,
    "wasserstein": 0.1,
}


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """One window x cohort x check (x column) decision.

    ``window`` is the window's key: its start in epoch seconds for time windows, its
    index for row-count windows (the same across cohorts).
    """

    window: int
    window_start: str
    window_end: str
    cohort: str | None
    cohort_value: str | None
    check: str
    column: str | None
    method: str
    value: float | None
    effect: float | None
    bound: float | None
    bound_how: str
    status: Status
    n: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    window: int
    window_start: str
    cohort: str | None
    cohort_value: str | None
    check: str
    column: str | None
    value: float | None
    bound: float | None
    message: str


@dataclass(frozen=True)
class WindowStats:
    """Predictions over time: one window x cohort value."""

    window: int
    window_start: str
    window_end: str
    cohort: str | None
    cohort_value: str | None
    n: int
    class_counts: dict[str, int]
    conf_mean: float | None
    conf_var: float | None
    conf_min: float | None
    conf_max: float | None
    conf_p10: float | None
    conf_p50: float | None
    conf_p90: float | None
    rolling_n: int
    rolling_mean: float | None
    rolling_var: float | None


@dataclass
class CheckReport:
    """Everything one ``check`` run found; serialises to JSON for every renderer."""

    run_id: str
    created_at: str
    window: str
    since: str | None
    until: str | None
    plan: dict[str, Any]
    stats: list[WindowStats]
    results: list[CheckResult]
    alerts: list[Alert]
    drift: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[str, Any] = field(default_factory=dict)

    @property
    def has_alerts(self) -> bool:
        return bool(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, default=str, **kwargs)

    def results_for(
        self, check: str | None = None, *, status: str | None = None
    ) -> list[CheckResult]:
        return [
            r
            for r in self.results
            if (check is None or r.check == check) and (status is None or r.status == status)
        ]


# --------------------------------------------------------------------------------------
# moments
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations; merge with ``+`` (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def from_var(cls, n: int, mean: float | None, var: float | None) -> Moments:
        if n == 0 or mean is None:
            return cls()
        return cls(n, float(mean), float(var or 0.0) * (n - 1))

    def __add__(self, other: Moments) -> Moments:
        return merge_moments(self, other)

    @property
    def var(self) -> float | None:
        return self.m2 / (self.n - 1) if self.n > 1 else None


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Merge two partial summaries exactly.

    >>> a = Moments.from_var(3, 2.0, 1.0)          # [1, 2, 3]
    >>> b = Moments.from_var(2, 5.0, 2.0)          # [4, 6]
    >>> m = a + b
    >>> (m.n, m.mean, round(m.var, 12))            # [1, 2, 3, 4, 6]
    (5, 3.2, 3.7)
    """
    if a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * b.n / n
    m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n
    return Moments(n, mean, m2)


# --------------------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------------------
def _z(quantile: float) -> float:
    """Two-sided normal quantile for a false-alarm rate of ``1 - quantile``."""
    return NormalDist().inv_cdf(1 - (1 - quantile) / 2)


class _Bounds:
    """Alert bounds for one run: calibrated on the reference, floored, cached.

    Calibrations are keyed by everything they depend on (method, reference counts,
    edges, the window size rounded down to the size grid, reps, quantile, seed), so the
    cache can outlive the run: the store keeps it, and a daily check reuses it.
    """

    def __init__(self, spec: Spec, cache: MutableMapping[str, Calibration] | None = None) -> None:
        self.cfg = spec.checks
        self.z = _z(self.cfg.alert_quantile)
        self.cache: MutableMapping[str, Calibration] = {} if cache is None else cache

    def calibrate(
        self, method: str, ref_counts: Sequence[float], n: int, edges: Any = None
    ) -> Calibration:
        from driftline.methods import calibrate_bound, size_grid

        grid = size_grid(n)
        cfg = self.cfg
        blob = json.dumps(
            [
                method,
                [float(c) for c in ref_counts],
                None if edges is None else [float(e) for e in edges],
                grid,
                cfg.calibration_reps,
                cfg.alert_quantile,
                cfg.seed,
            ]
        )
        key = hashlib.sha256(blob.encode()).hexdigest()[:32]
        if key not in self.cache:
            self.cache[key] = calibrate_bound(
                method,
                list(ref_counts),
                grid,
                edges=edges,
                reps=cfg.calibration_reps,
                quantile=cfg.alert_quantile,
                seed=cfg.seed,
            )
        return self.cache[key]

    def floor(self, check: str) -> float:
        return self.cfg.min_effect.get(check, CHECKS[check].min_effect)

    def decide(self, check: str, calibrated: float, how: str) -> tuple[float, str]:
        fixed = self.cfg.fixed_bounds.get(check)
        if fixed is not None:
            return fixed, f"fixed bound {fixed:g} (spec checks.fixed_bounds)"
        floor = self.floor(check)
        if calibrated >= floor:
            return calibrated, f"calibrated: {how}; floor {floor:g}"
        return floor, f"floor {floor:g} (min_effect; calibrated {calibrated:.3g}: {how})"

    def normal(self, check: str, sd: float, n: int, n_ref: int) -> tuple[float, str]:
        """Bound on |mean difference| between a window of n and a reference of n_ref."""
        se = sd * math.sqrt(1 / n + 1 / max(n_ref, 1))
        how = (
            f"q{self.cfg.alert_quantile:g} of the no-drift difference of means "
            f"(normal, sd {sd:.3g}, window n={n}, reference n={n_ref})"
        )
        return self.decide(check, self.z * se, how)

    def rate(self, check: str, p0: float, n: int, what: str) -> tuple[float, str]:
        """Bound on a rate whose no-drift expectation is p0 (binomial, one-sided)."""
        z1 = NormalDist().inv_cdf(self.cfg.alert_quantile)
        b = p0 + z1 * math.sqrt(max(p0 * (1 - p0), 0.0) / n) + 1.0 / n
        how = f"q{self.cfg.alert_quantile:g} of a binomial rate around {what} {p0:.3g} (n={n})"
        return self.decide(check, b, how)

    def beyond_range(self, n: int, n_ref: int) -> tuple[float, str]:
        """Bound on the share of values outside the reference's [min, max].

        The reference's extremes are themselves sample extremes: the mass beyond one of
        them follows Beta(1, n_ref), so its ``alert_quantile`` is
        ``1 - (1 - q) ** (1 / n_ref)``; both tails together, plus the window's binomial
        noise, make the bound.
        """
        q = self.cfg.alert_quantile
        p0 = 2 * (1 - (1 - q) ** (1 / n_ref))
        z1 = NormalDist().inv_cdf(q)
        b = p0 + z1 * math.sqrt(p0 * (1 - p0) / n) + 1.0 / n
        how = (
            f"q{q:g} of the mass beyond the reference's extremes (Beta(1, {n_ref}) per tail) "
            f"plus binomial noise at n={n}"
        )
        return self.decide("out_of_range", b, how)

    def resampled(
        self, check: str, method: str, ref_counts: Sequence[int], n: int
    ) -> tuple[float, str]:
        cal = self.calibrate(method, ref_counts, n)
        return self.decide(check, float(cal.bound), cal.how)


# --------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------
def _ts(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _iso(dt: datetime) -> str:
    return dt.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


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
) -> _Scope:
    """Every summary of one grouping: one wide scan for the row-level ones, small scans
    for class counts, batches, token-level text features and categories."""
    token_names = {f"{c}:{f}" for c in profile.text_ for f in TOKEN_FEATURES}
    row_edges = {k: v for k, v in profile.bin_edges_.items() if k not in token_names}
    token_edges = {k: v for k, v in profile.bin_edges_.items() if k in token_names}
    wide = window_summary(
        t,
        spec,
        window,
        cohort,
        ranges=profile.ranges(),
        edges=row_edges,
        values=text_feature_builders(list(profile.text_)),
    )
    stats: dict[tuple[int, str], dict[str, Any]] = {}
    hist: dict[tuple[int, str], dict[str, list[int]]] = defaultdict(dict)
    for r in _rows(engine.run(wide)):
        key = (int(r["window"]), str(r["cohort_value"]))
        stats[key] = r
        for k, (name, e) in enumerate(row_edges.items()):
            # [below the reference range, bins..., above it]
            hist[key][name] = [int(r[f"h{k}_{j}"]) for j in range(len(e) + 1)]
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
    for expr, into in (
        (category_counts(t, spec, window, cohort, known), cats),
        (unseen_values(t, spec, window, cohort, known), unseen),
    ):
        if expr is None:
            continue
        for r in _rows(engine.run(expr, CATEGORY_SCHEMA)):
            per = into[(r["window"], r["cohort_value"])].setdefault(r["column"], {})
            per[r["value"]] = per.get(r["value"], 0) + int(r["n"])
    return _Scope(
        cohort, stats, dict(classes), stats, dict(batches), dict(hist), dict(cats), dict(unseen)
    )


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
    n_features = len(spec.feature_kinds)
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
        for i in range(n_features):
            row[f"m{i}"] = sum(int(p[f"m{i}"]) for p in parts)
            if f"lo{i}" in parts[0]:
                row[f"lo{i}"] = sum(int(p[f"lo{i}"]) for p in parts)
                row[f"hi{i}"] = sum(int(p[f"hi{i}"]) for p in parts)
                m = Moments()
                for p in parts:
                    m = m + Moments.from_var(
                        int(p["n"]) - int(p[f"m{i}"]), p[f"mean{i}"], p[f"var{i}"]
                    )
                row[f"mean{i}"] = m.mean if m.n else None
                row[f"var{i}"] = m.var
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
    engine: Engine, t: ir.Table, spec: Spec, profile: Profile, window: Window
) -> list[_Scope]:
    """Overall plus one scope per cohort column. The overall scope is merged from the
    first cohort column's groups rather than scanned again."""
    if not spec.cohorts:
        return [_summaries(engine, t, spec, profile, window, None)]
    first = _summaries(engine, t, spec, profile, window, spec.cohorts[0])
    quantiles = {
        int(r["window"]): r["conf_q"]
        for r in _rows(engine.run(confidence_quantiles(t, spec, window)))
    }
    rest = [_summaries(engine, t, spec, profile, window, c) for c in spec.cohorts[1:]]
    return [_merge_overall(first, spec, quantiles), first, *rest]


def _window_bounds(window: Window, key: int, stat: Mapping[str, Any] | None) -> tuple[str, str]:
    if window.seconds is not None:
        start = datetime(1970, 1, 1) + timedelta(seconds=key)
        return _iso(start), _iso(start + timedelta(seconds=window.seconds))
    assert stat is not None
    return _iso(stat["ts_min"]), _iso(stat["ts_max"])


def run_checks(
    engine: Engine,
    table: ir.Table,
    spec: Spec,
    profile: Profile,
    *,
    batches: Sequence[Mapping[str, Any]] = (),
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    calibrations: MutableMapping[str, Calibration] | None = None,
) -> CheckReport:
    """Run every check per window and cohort value over ``[since, until)``.

    ``calibrations`` is a cache of alert-bound calibrations (see ``_Bounds``); new ones
    are added to it.
    """
    profile.check_is_fitted()
    window = spec.window_parsed
    lo, hi = _ts(since), _ts(until)
    t = table
    ts = t[spec.timestamp]
    if lo is not None:
        t = t.filter(ts >= lo)
    if hi is not None:
        t = t.filter(ts < hi)
    span = engine.run(t.aggregate(n=t.count(), a=ts.min(), b=ts.max())).to_pylist()[0]
    if not span["n"]:
        whole = engine.run(table.aggregate(a=ts.min(), b=ts.max(), n=table.count())).to_pylist()[0]
        held = (
            f"the store holds {whole['n']} predictions from {whole['a']} to {whole['b']}"
            if whole["n"]
            else "the store holds no predictions yet"
        )
        raise EmptyWindowError(
            f"no predictions between {lo or 'the start'} and {hi or 'the end'}; {held}. "
            "Widen --since/--until, or log predictions first."
        )
    scopes = _all_scopes(engine, t, spec, profile, window)
    batch_meta = {int(b["seq"]): b for b in batches}
    evaluator = _Evaluator(spec, profile, window, batch_meta, calibrations)
    stats: list[WindowStats] = []
    results: list[CheckResult] = []
    keys = _window_keys(window, scopes[0], lo, hi)
    # a window's bounds come from the overall scope: a row-count window may hold no row
    # of some cohort value, and its bounds are the same for every cohort value anyway
    evaluator.spans = {
        w: _window_bounds(window, w, scopes[0].stats.get((w, OVERALL))) for w in keys
    }
    for scope in scopes:
        values = sorted({cv for (_, cv) in scope.stats})
        for cv in values:
            history: list[tuple[int, Moments]] = []
            for w in keys:
                st, res = evaluator.evaluate(scope, w, cv, history)
                stats.append(st)
                results.extend(res)
    alerts = [_alert(r) for r in results if r.status == "alert"]
    now = datetime.now(timezone.utc)
    drift = drift_summary(results)
    return CheckReport(
        run_id=uuid.uuid4().hex,
        created_at=_iso(now.replace(tzinfo=None, microsecond=0)),
        window=window.label,
        since=_iso(lo) if lo else None,
        until=_iso(hi) if hi else None,
        plan=plan(spec),
        stats=stats,
        results=results,
        alerts=alerts,
        drift=drift,
        reference=reference_excerpt(profile),
    )


DRIFT_CHECKS = ("feature_drift", "text_drift")


def drift_summary(results: Sequence[CheckResult], top: int = 5) -> list[dict[str, Any]]:
    """Per window and cohort value: how many columns drifted, and which moved most.

    Columns are ranked by severity, the statistic over its bound, which is comparable
    across methods.
    """
    groups: dict[tuple[str, str | None, str | None], list[CheckResult]] = defaultdict(list)
    for r in results:
        if r.check in DRIFT_CHECKS and r.value is not None and r.bound:
            groups[(r.window_start, r.cohort, r.cohort_value)].append(r)
    out = []
    for (start, cohort, value), rs in groups.items():
        ranked = sorted(rs, key=lambda r: -(r.value or 0.0) / (r.bound or 1.0))
        out.append(
            {
                "window_start": start,
                "cohort": cohort,
                "cohort_value": value,
                "columns": len(rs),
                "drifted": sum(r.status == "alert" for r in rs),
                "top": [
                    {
                        "column": r.column,
                        "check": r.check,
                        "method": r.method,
                        "value": r.value,
                        "bound": r.bound,
                        "severity": (r.value or 0.0) / (r.bound or 1.0),
                        "status": r.status,
                    }
                    for r in ranked[:top]
                ],
            }
        )
    return out


def reference_excerpt(profile: Profile, max_categories: int = 50) -> dict[str, Any]:
    """What renderers need of the reference: bins, top categories, class mixes."""
    cats = {}
    for col, counts in profile.categories_.items():
        top_items = sorted(counts.items(), key=lambda kv: -kv[1])[:max_categories]
        rest = sum(counts.values()) - sum(v for _, v in top_items)
        rest += int(profile.columns_.get(col, {}).get("other", 0))
        cats[col] = {**dict(top_items), OTHER: rest}
    return {
        "n_rows": profile.n_rows_,
        "columns": profile.columns_,
        "bin_edges": profile.bin_edges_,
        "bin_counts": profile.bin_counts_,
        "categories": cats,
        "confidence": profile.confidence_,
        "predicted_mix": profile.predicted_mix_,
        "class_prior": profile.class_prior_,
        "text_features": {c: v["features"] for c, v in profile.text_.items()},
    }


def plan(spec: Spec) -> dict[str, Any]:
    """The resolved plan, echoed in every report."""
    cfg = spec.checks
    return {
        "window": spec.window_parsed.label,
        "cohorts": list(spec.cohorts),
        "alert_quantile": cfg.alert_quantile,
        "calibration_reps": cfg.calibration_reps,
        "seed": cfg.seed,
        "min_rows": cfg.min_rows,
        "rolling_windows": cfg.rolling_windows,
        "checks": {
            name: {
                "method": info.method,
                "min_effect": cfg.min_effect.get(name, info.min_effect),
                "fixed_bound": cfg.fixed_bounds.get(name),
                "description": info.description,
            }
            for name, info in CHECKS.items()
        },
    }


def _window_keys(
    window: Window, overall: _Scope, lo: datetime | None, hi: datetime | None
) -> list[int]:
    present = sorted({w for (w, _) in overall.stats})
    if window.seconds is None or not present:
        return present
    step = window.seconds
    epoch = datetime(1970, 1, 1)
    first = present[0]
    last = present[-1]
    if lo is not None:
        first = min(first, int((lo - epoch).total_seconds()) // step * step)
    if hi is not None:
        last = max(last, (math.ceil((hi - epoch).total_seconds() / step) - 1) * step)
    return list(range(first, last + 1, step))


def _alert(r: CheckResult) -> Alert:
    where = "overall" if r.cohort is None else f"{r.cohort}={r.cohort_value}"
    col = f" column {r.column!r}" if r.column else ""
    value = "n/a" if r.value is None else f"{r.value:.4g}"
    bound = "n/a" if r.bound is None else f"{r.bound:.4g}"
    msg = (
        f"{r.check}{col} in {where}, window starting {r.window_start}: value {value} "
        f"beyond bound {bound} ({r.method}, n={r.n})"
    )
    if r.details.get("summary"):
        msg += f"; {r.details['summary']}"
    return Alert(
        r.window, r.window_start, r.cohort, r.cohort_value, r.check, r.column, r.value, r.bound, msg
    )


class _Evaluator:
    """Turns one window's summaries into stats and results (pure, no engine access)."""

    def __init__(
        self,
        spec: Spec,
        profile: Profile,
        window: Window,
        batches: Mapping[int, Mapping[str, Any]],
        calibrations: MutableMapping[str, Calibration] | None = None,
    ) -> None:
        self.spec = spec
        self.profile = profile
        self.window = window
        self.batches = batches
        self.bounds = _Bounds(spec, calibrations)
        self.spans: dict[int, tuple[str, str]] = {}
        self.kinds = spec.feature_kinds

    def evaluate(
        self, scope: _Scope, w: int, cv: str, history: list[tuple[int, Moments]]
    ) -> tuple[WindowStats, list[CheckResult]]:
        stat = scope.stats.get((w, cv))
        n = int(stat["n"]) if stat else 0
        start, end = self.spans[w]
        cohort = scope.cohort
        cvalue = None if cohort is None else cv
        moments = Moments.from_var(n, stat["conf_mean"], stat["conf_var"]) if stat else Moments()
        history.append((w, moments))
        k = self.spec.checks.rolling_windows
        span = (self.window.seconds or 1) * k
        rolling = Moments()
        for hw, hm in history:
            if hw > w - span:
                rolling = rolling + hm
        q = (stat or {}).get("conf_q") or [None, None, None]
        stats = WindowStats(
            window=w,
            window_start=start,
            window_end=end,
            cohort=cohort,
            cohort_value=cvalue,
            n=n,
            class_counts=dict(scope.classes.get((w, cv), {})),
            conf_mean=moments.mean if n else None,
            conf_var=moments.var,
            conf_min=stat["conf_min"] if stat else None,
            conf_max=stat["conf_max"] if stat else None,
            conf_p10=q[0],
            conf_p50=q[1],
            conf_p90=q[2],
            rolling_n=rolling.n,
            rolling_mean=rolling.mean if rolling.n else None,
            rolling_var=rolling.var,
        )
        base = {
            "window": w,
            "window_start": start,
            "window_end": end,
            "cohort": cohort,
            "cohort_value": cvalue,
            "n": n,
        }
        return stats, list(self._results(scope, w, cv, n, moments, base))

    # -- individual checks ----------------------------------------------------------------
    def _results(
        self, scope: _Scope, w: int, cv: str, n: int, moments: Moments, base: dict[str, Any]
    ) -> Iterable[CheckResult]:
        spec, prof = self.spec, self.profile
        if n == 0 or n < spec.checks.min_rows:
            status: Status = "no_data" if n == 0 else "insufficient"
            why = (
                "no predictions in this window"
                if n == 0
                else f"{n} rows < checks.min_rows {spec.checks.min_rows}"
            )
            for check in ("confidence_shift", "class_mix"):
                yield self._skip(base, check, None, CHECKS[check].method, status, why)
            return
        # confidence shift
        ref = prof.confidence_
        diff = moments.mean - float(ref["mean"])
        sd = math.sqrt(float(ref["var"] or 0.0))
        bound, how = self.bounds.normal("confidence_shift", sd, n, int(ref["n"]))
        yield self._result(
            base,
            "confidence_shift",
            None,
            diff,
            diff,
            bound,
            how,
            {
                "current_mean": moments.mean,
                "reference_mean": ref["mean"],
                "summary": f"mean confidence {ref['mean']:.3f} -> {moments.mean:.3f}",
            },
        )
        # class mix
        ref_mix = prof.predicted_mix_
        classes = list(ref_mix)
        cur = scope.classes.get((w, cv), {})
        cur_counts = [cur.get(c, 0) for c in classes]
        ref_counts = [ref_mix[c] for c in classes]
        from driftline.methods import jensen_shannon

        js = float(jensen_shannon(_arr(ref_counts), _arr(cur_counts)))
        bound, how = self.bounds.resampled("class_mix", "jensen_shannon", ref_counts, n)
        total_ref = sum(ref_counts) or 1
        moved = sorted(
            (
                (c, rc / total_ref, cc / n, cc / n - rc / total_ref)
                for c, rc, cc in zip(classes, ref_counts, cur_counts, strict=True)
            ),
            key=lambda x: -abs(x[3]),
        )[:3]
        yield self._result(
            base,
            "class_mix",
            None,
            js,
            js,
            bound,
            how,
            {
                "moved": [
                    {"class": c, "reference_share": r, "current_share": s, "change": d}
                    for c, r, s, d in moved
                ],
                "summary": ", ".join(f"class {c!r} {r:.1%} -> {s:.1%}" for c, r, s, _ in moved),
            },
        )
        prior = prof.class_prior_
        if prior is not None and sum(prior.values()) > 0:
            prior_counts = [prior.get(c, 0) for c in classes]
            baseline = float(jensen_shannon(_arr(prior_counts), _arr(ref_counts)))
            js_prior = float(jensen_shannon(_arr(prior_counts), _arr(cur_counts)))
            cal, how = self.bounds.resampled("class_prior", "jensen_shannon", prior_counts, n)
            total_prior = sum(prior_counts)
            moved_prior = sorted(
                (
                    (c, pc / total_prior, cc / n)
                    for c, pc, cc in zip(classes, prior_counts, cur_counts, strict=True)
                ),
                key=lambda x: -abs(x[2] - x[1]),
            )[:3]
            yield self._result(
                base,
                "class_prior",
                None,
                js_prior,
                js_prior - baseline,
                cal + baseline,
                f"{how}; plus the reference's own distance {baseline:.3g}",
                {
                    "baseline": baseline,
                    "moved": [
                        {"class": c, "prior_share": p, "current_share": s, "change": s - p}
                        for c, p, s in moved_prior
                    ],
                    "summary": ", ".join(
                        f"class {c!r} prior {p:.1%}, now {s:.1%}" for c, p, s in moved_prior
                    ),
                },
            )
        yield from self._feature_results(scope, w, cv, n, base)
        yield from self._drift_results(scope, w, cv, base)
        yield from self._schema_results(scope, w, cv, n, base)

    def _result(
        self,
        base: dict[str, Any],
        check: str,
        column: str | None,
        value: float,
        effect: float,
        bound: float,
        how: str,
        details: dict[str, Any],
        status: Status | None = None,
        method: str | None = None,
    ) -> CheckResult:
        if status is None:
            status = "alert" if abs(value) > bound else "ok"
        return CheckResult(
            **base,
            check=check,
            column=column,
            method=method or CHECKS[check].method,
            value=float(value),
            effect=float(effect),
            bound=float(bound),
            bound_how=how,
            status=status,
            details=details,
        )

    def _feature_results(
        self, scope: _Scope, w: int, cv: str, n: int, base: dict[str, Any]
    ) -> Iterable[CheckResult]:
        prof = self.profile
        feats = scope.features.get((w, cv))
        if feats is None:
            return
        for i, (col, kind) in enumerate(self.kinds.items()):
            info = prof.columns_.get(col)
            if info is None:
                continue
            missing = int(feats[f"m{i}"])
            p_ref = float(info["missing_fraction"])
            frac = missing / n
            sd = math.sqrt(p_ref * (1 - p_ref))
            bound, how = self.bounds.normal("missing_fraction", sd, n, prof.n_rows_)
            yield self._result(
                base,
                "missing_fraction",
                col,
                frac - p_ref,
                frac - p_ref,
                bound,
                how,
                {
                    "current_fraction": frac,
                    "reference_fraction": p_ref,
                    "summary": f"missing {p_ref:.1%} -> {frac:.1%}",
                },
            )
            present = n - missing
            if present == 0:
                continue
            if kind == "numeric" and f"lo{i}" in feats:
                below, above = int(feats[f"lo{i}"]), int(feats[f"hi{i}"])
                rate = (below + above) / present
                n_ref = max(int(prof.n_rows_ * (1 - p_ref)), 1)
                bound, how = self.bounds.beyond_range(present, n_ref)
                yield self._result(
                    base,
                    "out_of_range",
                    col,
                    rate,
                    rate,
                    bound,
                    how,
                    {
                        "below": below,
                        "above": above,
                        "reference_min": info["min"],
                        "reference_max": info["max"],
                        "summary": f"{below} below {info['min']:.4g}, {above} above "
                        f"{info['max']:.4g}",
                    },
                )
            if kind == "categorical" and col in prof.categories_:
                unseen = scope.cats.get((w, cv), {}).get(col, {}).get(OTHER, 0)
                rate = unseen / present
                from driftline.methods import good_turing_unseen

                counts = list(prof.categories_.get(col, {}).values())
                p0 = float(good_turing_unseen(_arr(counts))) if counts else 0.0
                # categories beyond max_categories were pooled: they read as unseen too
                other = int(info.get("other", 0))
                p0 += other / max(sum(counts) + other, 1)
                bound, how = self.bounds.rate("unseen_category", p0, present, "Good-Turing")
                top = scope.unseen.get((w, cv), {}).get(col, {})
                shown = ", ".join(f"{v!r} ({c})" for v, c in top.items())
                yield self._result(
                    base,
                    "unseen_category",
                    col,
                    rate,
                    rate,
                    bound,
                    how,
                    {
                        "unseen": unseen,
                        "top_unseen": top,
                        "summary": f"{unseen} values of unseen categories"
                        + (f", most often {shown}" if shown else ""),
                    },
                )

    def _drift_results(
        self, scope: _Scope, w: int, cv: str, base: dict[str, Any]
    ) -> Iterable[CheckResult]:
        prof, drift = self.profile, self.spec.drift
        hist = scope.hist.get((w, cv), {})
        sources: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
            (c, "feature_drift", drift.method_for(c, "numeric"), prof.columns_[c], {})
            for c, kind in self.kinds.items()
            if kind == "numeric" and c in prof.bin_edges_
        ]
        for col, text in prof.text_.items():
            if col not in self.kinds:
                continue
            for feature, stats in text["features"].items():
                name = f"{col}:{feature}"
                if name in prof.bin_edges_:
                    info = {"text_column": col, "feature": feature}
                    method = drift.method_for(col, "text")
                    sources.append((name, "text_drift", method, stats, info))
        for name, check, method, stats, info in sources:
            edges = prof.bin_edges_[name]
            # values beyond the reference's range get bins of their own; the reference
            # holds a pseudo-count of 1 in each, the expected count of a new draw beyond
            # the extremes of a sample of the reference's size
            ref = [1, *prof.bin_counts_[name], 1]
            cur = hist.get(name, [0] * len(ref))
            sd = math.sqrt(float(stats.get("var") or 0.0))
            kind = "text" if check == "text_drift" else "numeric"
            yield from self._drift(
                base,
                check,
                name,
                method,
                ref,
                cur,
                _outer_edges(edges),
                sd,
                {"kind": kind, "edges_of": name, **info},
            )
        cats = scope.cats.get((w, cv), {})
        for col, known in prof.categories_.items():
            if col not in self.kinds:
                continue
            values = [*known, OTHER]
            # OTHER holds the reference values pooled beyond max_categories plus, for
            # values no reference row had, a Good-Turing pseudo-count: the number of
            # categories seen once (a new draw is unseen with probability n1 / n).
            singletons = sum(1 for c in known.values() if c == 1)
            other = int(prof.columns_[col].get("other", 0)) + singletons
            ref = [*known.values(), other]
            got = cats.get(col, {})
            cur = [got.get(v, 0) for v in values]
            tot_r, tot_c = sum(ref) or 1, sum(cur) or 1
            moved = sorted(range(len(values)), key=lambda i: -abs(cur[i] / tot_c - ref[i] / tot_r))[
                :20
            ]
            yield from self._drift(
                base,
                "feature_drift",
                col,
                drift.method_for(col, "categorical"),
                ref,
                cur,
                None,
                0.0,
                {
                    "kind": "categorical",
                    "categories": {values[i]: [ref[i], cur[i]] for i in moved},
                    "reference_total": sum(ref),
                    "current_total": sum(cur),
                },
            )

    def _skip(
        self,
        base: dict[str, Any],
        check: str,
        column: str | None,
        method: str,
        status: Status,
        why: str,
        n: int | None = None,
    ) -> CheckResult:
        """A result that could not be decided (no data, or too little)."""
        if n is not None:
            base = {**base, "n": n}
        return CheckResult(
            **base,
            check=check,
            column=column,
            method=method,
            value=None,
            effect=None,
            bound=None,
            bound_how=why,
            status=status,
        )

    def _drift(
        self,
        base: dict[str, Any],
        check: str,
        column: str,
        method: str,
        ref: Sequence[int],
        cur: Sequence[int],
        edges: Sequence[float] | None,
        sd: float,
        details: dict[str, Any],
    ) -> Iterable[CheckResult]:
        from driftline.methods import get_method

        n_cur, n_ref = sum(cur), sum(ref)
        if n_cur < self.spec.checks.min_rows:
            why = f"{n_cur} non-missing values < checks.min_rows {self.spec.checks.min_rows}"
            yield self._skip(base, check, column, method, "insufficient", why, n_cur)
            return
        info = get_method(method)
        e = _arr(edges) if edges is not None and info.needs_edges else None
        value = float(info.fn(_arr(ref), _arr(cur), edges=e))
        if method == "chi2":  # Cramer's V of the 2 x k table
            effect = math.sqrt(value / (n_ref + n_cur))
        elif method == "wasserstein" and sd > 0:  # in reference standard deviations
            effect = value / sd
        else:  # (a constant reference has no scale: the distance itself)
            effect = value
        drift = self.spec.drift
        floor = drift.min_effect.get(
            method, self.spec.checks.min_effect.get(check, DRIFT_FLOORS.get(method, 0.1))
        )
        fixed = self.spec.checks.fixed_bounds.get(check)
        if fixed is not None:
            bound, how = fixed, f"fixed bound {fixed:g} (spec checks.fixed_bounds)"
            status: Status = "alert" if value > bound else "ok"
        else:
            cal = self.bounds.calibrate(method, ref, n_cur, e)
            if method == "chi2":
                floor_value = floor**2 * (n_ref + n_cur)
            elif method == "wasserstein" and sd > 0:
                floor_value = floor * sd
            else:
                floor_value = floor
            bound = max(float(cal.bound), floor_value)
            how = f"calibrated: {cal.how}; effect floor {floor:g}"
            status = "alert" if value > cal.bound and effect > floor else "ok"
        if details.get("kind") != "categorical":
            details = {**details, "current": list(cur)}
        yield self._result(
            {**base, "n": n_cur},
            check,
            column,
            value,
            effect,
            bound,
            how,
            details,
            status=status,
            method=method,
        )

    def _schema_results(
        self, scope: _Scope, w: int, cv: str, n: int, base: dict[str, Any]
    ) -> Iterable[CheckResult]:
        fed = scope.batches.get((w, cv), {})
        missing_rows: dict[str, int] = defaultdict(int)
        retyped_rows: dict[str, int] = defaultdict(int)
        retyped_as: dict[str, set[str]] = defaultdict(set)
        extra: dict[str, int] = defaultdict(int)
        for seq, rows in fed.items():
            meta = self.batches.get(seq)
            if meta is None:
                continue
            for col in _json(meta["missing_features"]):
                missing_rows[col] += rows
            for col in _json(meta["extra_columns"]):
                extra[col] += rows
            source = _json(meta["source_columns"])
            for col in self.kinds:
                if col not in source:
                    continue
                if self._retyped(col, source[col]):
                    retyped_rows[col] += rows
                    retyped_as[col].add(source[col])
        for col in dict.fromkeys([*self.kinds, *self.spec.cohorts]):
            frac = missing_rows.get(col, 0) / n
            yield self._result(
                base,
                "missing_column",
                col,
                frac,
                frac,
                0.0,
                "any row without the column",
                {"rows": missing_rows.get(col, 0), "summary": f"column {col!r} not logged"},
            )
        for col in self.kinds:
            frac = retyped_rows.get(col, 0) / n
            ref_family = (self.profile.columns_.get(col) or {}).get("family")
            got = sorted(retyped_as.get(col, ()))
            yield self._result(
                base,
                "type_change",
                col,
                frac,
                frac,
                0.0,
                "any row of another type",
                {
                    "reference_family": ref_family,
                    "current_types": got,
                    "summary": f"{col!r} was {ref_family}, now {', '.join(got)}" if got else "",
                },
            )
        for col, rows in sorted(extra.items()):
            yield self._result(
                base,
                "extra_column",
                col,
                rows / n,
                rows / n,
                0.0,
                "any unknown column",
                {"rows": rows, "summary": f"unknown column {col!r} logged"},
                status="warn",
            )

    def _retyped(self, col: str, source_type: str) -> bool:
        fam = type_family(source_type)
        ref_family = (self.profile.columns_.get(col) or {}).get("family")
        kind = self.kinds[col]
        if kind == "numeric":
            return fam != "numeric"
        if ref_family is not None:
            return bool(fam != ref_family)
        return fam not in ("string", "boolean")


def _outer_edges(edges: Sequence[float]) -> list[float]:
    """Edges with a bin below and above the reference's range, for positional methods.

    The outer bins are one range-width wide (a constant reference: width 1), so
    Wasserstein places mass beyond the range half a range-width outside it.
    """
    lo, hi = float(edges[0]), float(edges[-1])
    inner = [float(x) for x in edges]
    if hi <= lo:  # a constant reference: one bin of zero width
        inner = [lo - 0.5, hi + 0.5]
        lo, hi = inner
    width = hi - lo
    return [lo - width, *inner, hi + width]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _arr(values: Sequence[float]) -> Any:
    import numpy as np

    return np.asarray(values, dtype=float)
