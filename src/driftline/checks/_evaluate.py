"""One window x cohort value: summaries in, stats and results out (no engine).

The evaluator is a thin loop: per run it resolves what the checks compare with (a
:class:`~driftline.checks._context._Run`), per window x cohort value it gathers what
they read (a :class:`~driftline.checks._context._Window`), and it calls each registered
check function (:mod:`driftline.checks._registry`) in a fixed order, which is the order
of the results: the era, the prediction checks, per feature its missing share, range
and unseen categories, per drift source its drift, then the schema checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np

from driftline.checks._bounds import _Bounds, _Calibrator, _Kept
from driftline.checks._context import (
    _arr,
    _base,
    _counter,
    _cut,
    _DriftColumn,
    _DriftSource,
    _Feature,
    _Observed,
    _Run,
    _smallest,
    _Window,
)
from driftline.checks._feature_checks import (
    confirm,
    missing_fraction,
    out_of_range,
    unseen_category,
    wholly_missing,
)
from driftline.checks._prediction_checks import (
    class_mix,
    class_prior,
    cohort_baseline,
    confidence_shift,
    timestamp_era,
)
from driftline.checks._registry import DRIFT_CHECKS, FUNCTIONS
from driftline.checks._results import CheckResult, WindowStats
from driftline.checks._schema_checks import (
    extra_column,
    missing_column,
    schema_facts,
    type_change,
)
from driftline.checks._scopes import _Scope
from driftline.checks._score_drift import score_sources
from driftline.checks._threshold_checks import threshold_above, threshold_band, threshold_none
from driftline.engine.records import FeatureCounts
from driftline.engine.summaries import OTHER
from driftline.errors import shorten
from driftline.methods import Calibration, good_turing_unseen
from driftline.methods.moments import Moments
from driftline.profile import CohortBaseline, Profile
from driftline.spec import Spec, Window

# re-exported: the checks' shared helpers, as tests and the package read them
__all__ = ["_Evaluator", "_counter", "_cut", "_smallest"]

#: The registered checks, in the order their results come: per window, per feature,
#: per drift source (by its check), per window's schema.
_WINDOW_CHECKS: tuple[Callable[[_Run, _Window], Iterable[CheckResult]], ...] = (
    timestamp_era,
    confidence_shift,
    class_mix,
    class_prior,
    threshold_above,
    threshold_band,
    threshold_none,
)
_FEATURE_CHECKS: tuple[
    Callable[[_Run, _Window, _Feature, FeatureCounts], CheckResult | None], ...
] = (
    missing_fraction,
    out_of_range,
    unseen_category,
)
#: The function of each drift check (the catalog's ``DRIFT_CHECKS``, as the check modules
#: imported above registered them), by the check a drift source carries
_DRIFT_CHECKS = cast(
    dict[str, Callable[[_Run, _Window, _DriftColumn, _Observed | None], CheckResult]],
    {name: FUNCTIONS[name] for name in DRIFT_CHECKS},
)
_SCHEMA_CHECKS = (missing_column, type_change, extra_column)
#: Called by :meth:`_Evaluator.baseline_result`, per cohort value judged by the overall
#: reference (a test holds these to the registry: every registered check is called).
_COHORT_CHECKS = (cohort_baseline,)


class _Evaluator:
    """Turns one window's summaries into stats and results (pure, no engine access)."""

    def __init__(
        self,
        spec: Spec,
        profile: Profile,
        window: Window,
        batches: Mapping[int, Mapping[str, Any]],
        calibrations: MutableMapping[str, Calibration] | None = None,
        only: str | None = None,
        prior: Profile | None = None,
        kept: _Kept | None = None,
    ) -> None:
        self.spec = spec
        self.profile = profile
        #: the one cohort value this evaluator judges (against that value's own baseline,
        #: whose category shares are shrunk toward ``prior``'s, the overall profile)
        self.only = only
        self.window = window
        self.batches = batches
        self.bounds = _Bounds(spec, calibrations, kept)
        self.spans: dict[int, tuple[str, str]] = {}
        kinds = spec.feature_kinds
        # what the checks compare with depends on the spec and profile only: derive it
        # once per run, not per window and cohort value
        features = [
            _Feature.of(col, kind, profile)
            for col, kind in kinds.items()
            if profile.columns_.get(col) is not None
        ]
        schema_columns = {
            col: (f"column {shorten(col)} not logged", shorten(col))
            for col in dict.fromkeys([*kinds, *spec.cohorts])
        }
        sources = _numeric_sources(spec, profile)
        unseen_p0: dict[str, float] = {}
        for col, known in profile.categories_.items():
            if col not in kinds:
                continue
            counts = list(known.values())
            pooled = int(profile.columns_[col].get("other", 0))
            # OTHER holds the reference values pooled beyond max_categories plus, for
            # values no reference row had, a Good-Turing pseudo-count: the number of
            # categories seen once (a new draw is unseen with probability n1 / n).
            singletons = sum(1 for c in counts if c == 1)
            names: list[str] = [*known, OTHER]
            ref: list[float] = [*counts, pooled + singletons]
            shown: list[int] | None = None
            if prior is not None and col in prior.categories_:
                names, ref = _shrunk(known, pooled, prior.categories_[col], prior, col)
                shown = [*(known.get(c, 0) for c in names[:-1]), pooled]
            sources.append(
                _DriftSource(
                    name=col,
                    check="feature_drift",
                    method=spec.drift.method_for(col, "categorical"),
                    ref=ref,
                    edges=None,
                    sd=0.0,
                    details={"kind": "categorical"},
                    categories=names,
                    shown=shown,
                )
            )
            p0 = float(good_turing_unseen(_arr(counts))) if sum(counts) else 0.0
            # categories beyond max_categories were pooled: they read as unseen too
            unseen_p0[col] = p0 + pooled / max(sum(counts) + pooled, 1)
        self.run = _Run(
            spec=spec,
            profile=profile,
            bounds=self.bounds,
            batches=batches,
            features=features,
            drift_columns=[_DriftColumn(src, spec, self.bounds) for src in sources],
            unseen_p0=unseen_p0,
            schema_columns=schema_columns,
        )
        # the drift statistics of the scope being evaluated, every window at once
        self._observed_scope: _Scope | None = None
        self._observed: list[dict[tuple[int, str], _Observed]] = []

    @property
    def era(self) -> tuple[datetime | None, datetime | None]:
        """The timestamp bounds of the data's era."""
        return self.run.era

    @era.setter
    def era(self, value: tuple[datetime | None, datetime | None]) -> None:
        self.run.era = value

    @property
    def era_ids(self) -> dict[int, list[tuple[str, int | None]]]:
        """The first ids beyond the era's bounds, per window, with their batches."""
        return self.run.era_ids

    @era_ids.setter
    def era_ids(self, value: dict[int, list[tuple[str, int | None]]]) -> None:
        self.run.era_ids = value

    def lend(self, overall: _Evaluator) -> None:
        """Judge the columns this evaluator's baseline holds no value of (all missing in
        that cohort value's reference) against the overall reference instead: an empty
        histogram is no baseline."""
        theirs = {col.source.name: col for col in overall.run.drift_columns}
        self.run.drift_columns = [
            theirs.get(col.source.name, col) if col.empty else col for col in self.run.drift_columns
        ]
        # unseen means not among the overall reference's categories, whose share of new
        # values the overall reference estimates (a value's own singletons are mostly
        # categories other cohort values have)
        self.run.unseen_p0 = overall.run.unseen_p0

    def baseline_result(
        self, stats: WindowStats, baseline: CohortBaseline, share: float
    ) -> CheckResult:
        """The ``cohort_baseline`` result of a cohort value judged against the overall
        reference (see :func:`~driftline.checks._prediction_checks.cohort_baseline`)."""
        return cohort_baseline(stats, baseline, share)

    def evaluate(
        self,
        scope: _Scope,
        w: int,
        cv: str,
        history: list[tuple[int, Moments]],
        *,
        decide: bool = True,
    ) -> tuple[WindowStats, list[CheckResult]]:
        """The stats of one window x cohort value (its confidence moments added to
        ``history``, the rolling aggregates taken from it) and, if ``decide``, its
        results (a window whose results are stored needs its stats only)."""
        stat = scope.summaries.get((w, cv))
        n = stat.n if stat else 0
        start, end = self.spans[w]
        cohort = scope.cohort
        cvalue = None if cohort is None else cv
        moments = Moments.from_var(n, stat.conf_mean, stat.conf_var) if stat else Moments()
        history.append((w, moments))
        k = self.spec.checks.rolling_windows
        span = (self.window.seconds or 1) * k
        rolling = Moments()
        for hw, hm in history:
            if hw > w - span:
                rolling = rolling + hm
        q: Sequence[float | None] = (stat.conf_q if stat else None) or (None, None, None)
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
            conf_min=stat.conf_min if stat else None,
            conf_max=stat.conf_max if stat else None,
            conf_p10=q[0],
            conf_p50=q[1],
            conf_p90=q[2],
            rolling_n=rolling.n,
            rolling_mean=rolling.mean if rolling.n else None,
            rolling_var=rolling.var,
        )
        if not decide:
            return stats, []
        key = (w, cv)
        win = _Window(
            base=_base(stats),
            n=n,
            confidence=moments,
            overall=cohort is None,
            summary=stat,
            classes=scope.classes.get(key, {}),
            categories=scope.cats.get(key, {}),
            unseen=scope.unseen.get(key, {}),
            batches=scope.batches.get(key, {}),
            min_rows=self.spec.checks.min_rows,
        )
        return stats, list(self._results(scope, win, key))

    def _results(self, scope: _Scope, win: _Window, key: tuple[int, str]) -> Iterable[CheckResult]:
        """Every check of ``win``, in result order."""
        run = self.run
        for window_check in _WINDOW_CHECKS:
            yield from window_check(run, win)
        if win.decidable and win.summary is not None:
            features = win.summary.features
            for feature in run.features:
                counts = features[feature.name]
                for feature_check in _FEATURE_CHECKS:
                    result = feature_check(run, win, feature, counts)
                    if result is not None:
                        yield result
            drifts = [
                (col, got, _DRIFT_CHECKS[col.source.check](run, win, col, got))
                for col, observed in zip(run.drift_columns, self._observed_in(scope), strict=True)
                for got in (observed.get(key),)
            ]
            yield from confirm(run, win, drifts)
        elif win.summary is not None:  # too few rows: only a feature missing on each one
            features = win.summary.features
            for feature in run.features:
                if (
                    result := wholly_missing(run, win, feature, features[feature.name])
                ) is not None:
                    yield result
        if win.n == 0:
            return
        # a column not logged, logged as another type or unknown is a fact of the
        # window's batches, not an estimate: decided at any number of rows
        facts = schema_facts(run, win)
        for schema_check in _SCHEMA_CHECKS:
            yield from schema_check(run, win, facts)

    def _observed_in(self, scope: _Scope) -> list[dict[tuple[int, str], _Observed]]:
        """The drift statistic of every drift source in every window of ``scope``,
        computed once per scope (vectorised over its windows), with every bound it needs
        calibrated up front and in parallel (nothing left to calibrate when
        :meth:`wanted` was prefetched for it)."""
        if scope is not self._observed_scope:
            self.bounds.prefetch(self.wanted(scope))
        return self._observed

    def wanted(self, scope: _Scope) -> list[tuple[_Calibrator, list[int]]]:
        """The calibrations judging ``scope`` needs, per drift source: its calibrator and
        the window sizes it is asked at. A run gathers them over every evaluator and
        scope for one :meth:`~driftline.checks._bounds._Bounds.prefetch`, so the
        simulations of all cohort values share the threads instead of each value
        waiting for its slowest column."""
        if scope is not self._observed_scope:
            min_rows = self.spec.checks.min_rows
            self._observed = [
                col.observe(scope, min_rows, self.only) for col in self.run.drift_columns
            ]
            self._observed_scope = scope
        return [
            (col.calibrate, [o.n for o in observed.values() if o.value is not None])
            for col, observed in zip(self.run.drift_columns, self._observed, strict=True)
            if col.fixed is None
        ]


def _shrunk(
    known: Mapping[str, int],
    pooled: int,
    overall_known: Mapping[str, int],
    overall: Profile,
    col: str,
) -> tuple[list[str], list[float]]:
    """A cohort value's reference counts of a categorical column, on the overall
    categories, shrunk toward the overall shares: ``(own + a * overall share) * n / (n +
    a)`` with ``a`` the number of categories, so the counts still sum to the value's own
    rows ``n``.

    A cohort value's reference sees a fraction of a many-valued column's categories: its
    zeros are categories serving rows of that value do bring, and a no-drift resample
    from them would never draw one. On 5,000 categories and 10-40k reference rows a
    value that drew the same as every other raised 50 false alerts in 10 daily windows;
    shrunk, none. Few categories or many rows: the value's own shares.
    """
    names = [*overall_known, OTHER]
    o_pooled = int(overall.columns_[col].get("other", 0))
    o_single = sum(1 for c in overall_known.values() if c == 1)
    o_ref = np.array([*overall_known.values(), o_pooled + o_single], dtype=float)
    own = np.array([*(known.get(c, 0) for c in overall_known), pooled], dtype=float)
    n, a = float(own.sum()), float(len(names))
    if n == 0 or o_ref.sum() == 0:
        return names, own.tolist()
    shrunk = (own + a * o_ref / o_ref.sum()) * n / (n + a)
    return names, shrunk.tolist()


def _numeric_sources(spec: Spec, profile: Profile) -> list[_DriftSource]:
    kinds, drift = spec.feature_kinds, spec.drift
    found: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
        (c, "feature_drift", drift.method_for(c, "numeric"), profile.columns_[c], {})
        for c, kind in kinds.items()
        if kind == "numeric" and c in profile.bin_edges_
    ]
    for col, text in profile.text_.items():
        if col not in kinds:
            continue
        for feature, stats in text["features"].items():
            name = f"{col}:{feature}"
            if name in profile.bin_edges_:
                info = {"text_column": col, "feature": feature}
                found.append((name, "text_drift", drift.method_for(col, "text"), stats, info))
    found.extend(score_sources(spec, profile))
    out = []
    for name, check, method, stats, info in found:
        kind = "text" if check == "text_drift" else "numeric"
        out.append(
            _DriftSource(
                name=name,
                check=check,
                method=method,
                # values beyond the reference's range get bins of their own; the
                # reference holds a pseudo-count of 1 in each, the expected count of a
                # new draw beyond the extremes of a sample of the reference's size
                ref=[1, *profile.bin_counts_[name], 1],
                edges=_outer_edges(profile.bin_edges_[name]),
                sd=math.sqrt(float(stats.get("var") or 0.0)),
                details={"kind": kind, "edges_of": name, **info},
            )
        )
    return out


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
