"""One window x cohort value: summaries in, stats and results out (no engine)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np

from driftline._catalog import type_family
from driftline.checks._bounds import _Bounds
from driftline.checks._registry import CHECKS, Status
from driftline.checks._results import CheckResult, Moments, WindowStats, record
from driftline.checks._scopes import _Scope
from driftline.engine.summaries import OTHER
from driftline.errors import SHOWN_CHARS, shorten
from driftline.methods import Calibration, get_method, good_turing_unseen, jensen_shannon
from driftline.profile import CohortBaseline, Profile
from driftline.spec import Spec, Window


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
    ) -> None:
        self.spec = spec
        self.profile = profile
        #: the one cohort value this evaluator judges (against that value's own baseline,
        #: whose category shares are shrunk toward ``prior``'s, the overall profile)
        self.only = only
        self.window = window
        self.batches = batches
        self.bounds = _Bounds(spec, calibrations)
        self.spans: dict[int, tuple[str, str]] = {}
        # the timestamp bounds of the data's era, and the first ids beyond them per window
        self.era: tuple[datetime | None, datetime | None] = (None, None)
        self.era_ids: dict[int, list[str]] = {}
        self.kinds = spec.feature_kinds
        # what the checks compare with depends on the spec and profile only: derive it
        # once per run, not per window and cohort value
        self._features = [
            _Feature.of(i, col, kind, profile)
            for i, (col, kind) in enumerate(self.kinds.items())
            if profile.columns_.get(col) is not None
        ]
        self._schema_columns = {
            col: (f"column {shorten(col)} not logged", shorten(col))
            for col in dict.fromkeys([*self.kinds, *spec.cohorts])
        }
        self._retyped_as: dict[tuple[str, str], bool] = {}
        sources = _numeric_sources(spec, profile)
        self._unseen_p0: dict[str, float] = {}
        for col, known in profile.categories_.items():
            if col not in self.kinds:
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
            p0 = float(good_turing_unseen(_arr(counts))) if counts else 0.0
            # categories beyond max_categories were pooled: they read as unseen too
            self._unseen_p0[col] = p0 + pooled / max(sum(counts) + pooled, 1)
        self._drift_columns = [_DriftColumn(src, spec, self.bounds) for src in sources]
        # the drift statistics of the scope being evaluated, every window at once
        self._observed_scope: _Scope | None = None
        self._observed: list[dict[tuple[int, str], _Observed]] = []

    def lend(self, overall: _Evaluator) -> None:
        """Judge the columns this evaluator's baseline holds no value of (all missing in
        that cohort value's reference) against the overall reference instead: an empty
        histogram is no baseline."""
        theirs = {col.source.name: col for col in overall._drift_columns}
        self._drift_columns = [
            theirs.get(col.source.name, col) if col.empty else col for col in self._drift_columns
        ]
        # unseen means not among the overall reference's categories, whose share of new
        # values the overall reference estimates (a value's own singletons are mostly
        # categories other cohort values have)
        self._unseen_p0 = overall._unseen_p0

    def baseline_result(
        self, stats: WindowStats, baseline: CohortBaseline, share: float
    ) -> CheckResult:
        """Which reference a cohort value is judged against, when it is not its own: the
        overall one, for a value with too few reference rows, a profile without per-cohort
        baselines, or a value the reference never had (a new segment, which warns).
        ``share``: the value's share of the window's rows."""
        status: Status = "warn" if baseline.kind == "new_value" else "ok"
        rows = baseline.reference_rows
        return CheckResult(
            **_base(stats),
            check="cohort_baseline",
            column=None,
            method=CHECKS["cohort_baseline"].method,
            value=None if rows is None else float(rows),
            effect=None,
            bound=None,
            bound_how=baseline.reason,
            status=status,
            details={
                "baseline": "overall",
                "kind": baseline.kind,
                "reference_rows": rows,
                "traffic_share": share,
                "summary": f"{share:.1%} of the window's rows; judged against {baseline.reason}",
            },
        )

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
        return stats, list(self._results(scope, w, cv, n, moments, _base(stats)))

    # -- individual checks ----------------------------------------------------------------
    def _results(
        self, scope: _Scope, w: int, cv: str, n: int, moments: Moments, base: dict[str, Any]
    ) -> Iterable[CheckResult]:
        spec, prof = self.spec, self.profile
        if n and scope.cohort is None:  # a property of rows, not of cohorts: overall only
            yield self._era_result(scope.stats[(w, cv)], w, n, base)
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
                "summary": ", ".join(
                    f"class {shorten(c)} {r:.1%} -> {s:.1%}" for c, r, s, _ in moved
                ),
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
                        f"class {shorten(c)} prior {p:.1%}, now {s:.1%}" for c, p, s in moved_prior
                    ),
                },
                to_value=lambda floor: floor + baseline,
            )
        yield from self._feature_results(scope, w, cv, n, base)
        yield from self._drift_results(scope, w, cv, base)
        yield from self._schema_results(scope, w, cv, n, base)

    def _era_result(
        self, stat: Mapping[str, Any], w: int, n: int, base: dict[str, Any]
    ) -> CheckResult:
        """Rows of the window with a timestamp outside the data's era (see ``_era``)."""
        early, late = int(stat.get("era_early") or 0), int(stat.get("era_late") or 0)
        earliest, latest = self.era
        ids = [shorten(i) for i in self.era_ids.get(w, [])]
        rows = early + late
        where = []
        if early:
            where.append(f"{early} before {earliest} (the reference's start - tolerance)")
        if late:
            where.append(f"{late} after {latest} (now + checks.timestamp_tolerance)")
        return self._result(
            base,
            "timestamp_era",
            None,
            rows / n,
            rows / n,
            0.0,
            "any row out of the data's era",
            {
                "rows": rows,
                "before_reference": early,
                "beyond_now": late,
                "earliest_allowed": None if earliest is None else earliest.isoformat(),
                "latest_allowed": None if latest is None else latest.isoformat(),
                "ids": ids,
                "summary": "; ".join(where) + (f"; ids {', '.join(ids)}" if ids else ""),
            },
        )

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
        to_value: Callable[[float], float] | None = None,
        bias: float = 0.0,
    ) -> CheckResult:
        """A decided result: its verdict (ok / warn / alert, the floor and which threshold
        decided) from :meth:`_Bounds.verdict`, unless ``status`` is forced."""
        method = method or CHECKS[check].method
        verdict = self.bounds.verdict(check, method, column, value, effect, bound, to_value, bias)
        # a wide table has hundreds of thousands of results: built as CheckResult(...)
        # builds them, at half the cost (see record)
        return record(
            CheckResult,
            (
                base["window"],
                base["window_start"],
                base["window_end"],
                base["cohort"],
                base["cohort_value"],
                check,
                column,
                method,
                float(value),
                float(effect),
                float(bound),
                how,
                status or verdict.status,
                base["n"],
                details,
                verdict.floor,
                verdict.floor_how,
                verdict.decided_by,
            ),
        )

    def _feature_results(
        self, scope: _Scope, w: int, cv: str, n: int, base: dict[str, Any]
    ) -> Iterable[CheckResult]:
        prof = self.profile
        feats = scope.features.get((w, cv))
        if feats is None:
            return
        for feature in self._features:
            col, kind, info, p_ref = feature.name, feature.kind, feature.info, feature.p_ref
            missing = int(feats[feature.missing] or 0)
            frac = missing / n
            bound, how = self.bounds.normal("missing_fraction", feature.sd, n, prof.n_rows_)
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
            if kind == "numeric" and feature.below in feats:
                below, above = int(feats[feature.below] or 0), int(feats[feature.above] or 0)
                non_finite = int(feats.get(feature.non_finite) or 0)  # +-inf: also beyond
                rate = (below + above) / present
                bound, how = self.bounds.beyond_range(present, feature.n_present)
                status: Status | None = None
                if non_finite:  # no reference value is infinite: any one is an incident
                    status, how = "alert", f"{how}; any +-inf value alerts"
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
                        "non_finite": non_finite,
                        "non_finite_share": non_finite / present,
                        "reference_min": info["min"],
                        "reference_max": info["max"],
                        "summary": f"{below} below {info['min']:.4g}, {above} above "
                        f"{info['max']:.4g}"
                        + (f" ({non_finite} of them +-inf)" if non_finite else ""),
                    },
                    status=status,
                )
            if kind == "categorical" and col in self._unseen_p0:
                unseen = scope.cats.get((w, cv), {}).get(col, {}).get(OTHER, 0)
                rate = unseen / present
                p0 = self._unseen_p0[col]
                bound, how = self.bounds.rate("unseen_category", p0, present, "Good-Turing")
                top = _cut_keys(scope.unseen.get((w, cv), {}).get(col, {}))
                shown = ", ".join(f"{shorten(v)} ({c})" for v, c in top.items())
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
        if scope is not self._observed_scope:
            min_rows = self.spec.checks.min_rows
            self._observed = [
                col.observe(scope, min_rows, self.only) for col in self._drift_columns
            ]
            self._observed_scope = scope
            # every bound this scope needs, computed up front and in parallel
            self.bounds.prefetch(
                [
                    (col.calibrate, [o.n for o in observed.values() if o.value is not None])
                    for col, observed in zip(self._drift_columns, self._observed, strict=True)
                    if col.fixed is None
                ]
            )
        for col, observed in zip(self._drift_columns, self._observed, strict=True):
            yield self._drift(base, col, observed.get((w, cv)))

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
        self, base: dict[str, Any], col: _DriftColumn, observed: _Observed | None
    ) -> CheckResult:
        src, method = col.source, col.source.method
        n_cur = 0 if observed is None else observed.n
        if observed is None or observed.value is None:
            why = f"{n_cur} non-missing values < checks.min_rows {self.spec.checks.min_rows}"
            return self._skip(base, src.check, src.name, method, "insufficient", why, n_cur)
        value, n_ref, sd = observed.value, col.n_ref, src.sd
        to_value: Callable[[float], float] | None = None
        to_effect: Callable[[float], float] = float
        if method == "chi2":  # Cramer's V of the 2 x k table
            to_effect = lambda v: math.sqrt(max(v, 0.0) / (n_ref + n_cur))  # noqa: E731
            to_value = lambda floor: floor**2 * (n_ref + n_cur)  # noqa: E731
        elif method == "wasserstein" and sd > 0:  # in reference standard deviations
            to_effect = lambda v: v / sd  # noqa: E731
            to_value = lambda floor: floor * sd  # noqa: E731
        # (else, and for a constant reference, which has no scale: the distance itself)
        effect, bias = to_effect(value), 0.0
        if col.fixed is not None:
            bound, how = col.fixed, f"fixed bound {col.fixed:g} (spec checks.fixed_bounds)"
        else:
            cal = col.calibrate(n_cur)
            bound, how = float(cal.bound), f"calibrated: {cal.how}"
            bias = to_effect(cal.mean)  # the no-drift mean: what chance alone gives
        return self._result(
            {**base, "n": n_cur},
            src.check,
            src.name,
            value,
            effect,
            bound,
            how,
            observed.details,
            method=method,
            to_value=to_value,
            bias=bias,
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
        for col, (not_logged, _) in self._schema_columns.items():
            frac = missing_rows.get(col, 0) / n
            yield self._result(
                base,
                "missing_column",
                col,
                frac,
                frac,
                0.0,
                "any row without the column",
                {"rows": missing_rows.get(col, 0), "summary": not_logged},
            )
        for col in self.kinds:
            frac = retyped_rows.get(col, 0) / n
            ref_family = (self.profile.columns_.get(col) or {}).get("family")
            got = sorted(_cut(t) for t in retyped_as.get(col, ()))
            name = self._schema_columns[col][1]
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
                    "summary": f"{name} was {ref_family}, now {', '.join(got)}" if got else "",
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
                {"rows": rows, "summary": f"unknown column {shorten(col)} logged"},
                status="warn",
            )

    def _retyped(self, col: str, source_type: str) -> bool:
        """Whether a batch's ``source_type`` for ``col`` differs from the reference's
        type (asked per batch and window: the answer is remembered)."""
        key = (col, source_type)
        found = self._retyped_as.get(key)
        if found is None:
            found = self._retyped_as[key] = self._differs(col, source_type)
        return found

    def _differs(self, col: str, source_type: str) -> bool:
        fam = type_family(source_type)
        ref_family = (self.profile.columns_.get(col) or {}).get("family")
        kind = self.kinds[col]
        if kind == "numeric":
            return fam != "numeric"
        if ref_family is not None:
            return bool(fam != ref_family)
        return fam not in ("string", "boolean")


@dataclass(frozen=True)
class _Feature:
    """A feature as its missing-share and range checks see it, resolved once per run."""

    name: str
    kind: str
    info: dict[str, Any]
    #: its keys in a window's summary: missing, below and above the reference's range,
    #: non-finite (see ``window_summary``)
    missing: str
    below: str
    above: str
    non_finite: str
    #: the reference's missing share, the standard deviation of its missing indicator
    #: and its rows with a value
    p_ref: float
    sd: float
    n_present: int

    @classmethod
    def of(cls, index: int, name: str, kind: str, profile: Profile) -> _Feature:
        """Feature ``index`` of the spec's features, ``name``, with its profile entry."""
        info = profile.columns_[name]
        p_ref = float(info["missing_fraction"])
        return cls(
            name=name,
            kind=kind,
            info=info,
            missing=f"m{index}",
            below=f"lo{index}",
            above=f"hi{index}",
            non_finite=f"nf{index}",
            p_ref=p_ref,
            sd=math.sqrt(p_ref * (1 - p_ref)),
            n_present=max(int(profile.n_rows_ * (1 - p_ref)), 1),
        )


@dataclass(frozen=True)
class _DriftSource:
    """A feature, or a text style feature, as its drift check sees it.

    Numeric sources have bins with ``edges``; categorical ones have ``categories``.
    """

    name: str
    check: str
    method: str
    ref: list[float]
    edges: list[float] | None
    sd: float
    details: dict[str, Any]
    categories: list[str] | None = None
    #: the reference counts a result shows, where ``ref`` is not them (a cohort value's
    #: own counts, ``ref`` being them shrunk toward the overall shares)
    shown: list[int] | None = None


@dataclass(frozen=True)
class _Observed:
    """One drift source in one window x cohort value: its non-missing values, and the
    statistic with the result's details (None below ``checks.min_rows``)."""

    n: int
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


#: Windows x cohort values per vectorised drift-statistic call (bounds the arrays' size).
_ROWS_PER_CALL = 512

#: Categories listed in a categorical drift result: those whose share moved most.
_MOVED = 20


class _DriftColumn:
    """A drift source with what every window needs of it, resolved once per run."""

    def __init__(self, source: _DriftSource, spec: Spec, bounds: _Bounds) -> None:
        self.source = source
        method, check = source.method, source.check
        self.info = get_method(method)
        # the spec admits drift statistics only, and every one has a batched form
        assert self.info.batch is not None
        self.batch = self.info.batch
        self.n_ref = sum(source.ref)
        self.fixed = spec.checks.fixed_bounds.get(check)
        self.ref = _arr(source.ref)
        self.ref_share = self.ref / (self.n_ref or 1)
        self.edges = (
            _arr(source.edges) if source.edges is not None and self.info.needs_edges else None
        )
        self.calibrate = bounds.calibrator(method, source.ref, self.edges)
        #: the reference holds no value of it (its numeric reference is the two pseudo-
        #: counts of the outer bins; a categorical one is all zero)
        self.empty = self.n_ref <= (0 if source.categories is not None else 2)

    def observe(
        self, scope: _Scope, min_rows: int, only: str | None = None
    ) -> dict[tuple[int, str], _Observed]:
        """The statistic in every window x cohort value of ``scope`` (of cohort value
        ``only``, if given) that has at least ``min_rows`` values, computed row by row by
        the method's vectorised form."""
        src = self.source
        found: dict[tuple[int, str], Sequence[int]]
        if src.categories is None:
            found = {
                key: per[src.name]
                for key, per in scope.hist.items()
                if src.name in per and (only is None or key[1] == only)
            }
        else:
            counts_of = _counter(src.categories)
            found = {
                key: counts_of(got)
                for key, per in scope.cats.items()
                if (got := per.get(src.name)) is not None and (only is None or key[1] == only)
            }
        out = {key: _Observed(sum(counts)) for key, counts in found.items()}
        enough = [key for key, obs in out.items() if obs.n >= min_rows]
        for start in range(0, len(enough), _ROWS_PER_CALL):
            keys = enough[start : start + _ROWS_PER_CALL]
            cur = np.array([found[key] for key in keys], dtype=float)
            ref = np.broadcast_to(self.ref, cur.shape)
            values = self.batch(ref, cur, edges=self.edges).tolist()
            for i, key in enumerate(keys):
                n = out[key].n
                if src.categories is None:
                    details = {**src.details, "current": list(found[key])}
                else:
                    details = self._categorical_details(cur[i], n)
                out[key] = _Observed(n, float(values[i]), details)
        return out

    def _categorical_details(self, cur: Any, n: int) -> dict[str, Any]:
        """The categories whose share moved most (ties in category order), and totals."""
        names = self.source.categories
        assert names is not None
        moved = _smallest(-np.abs(cur / n - self.ref_share), _MOVED)
        shown = self.source.shown or self.source.ref
        return {
            **self.source.details,
            "categories": {_cut(names[i]): [shown[i], int(cur[i])] for i in moved},
            "reference_total": sum(shown),
            "current_total": n,
        }


def _base(stats: WindowStats) -> dict[str, Any]:
    """The fields every result of a window x cohort value shares with its stats."""
    return {
        "window": stats.window,
        "window_start": stats.window_start,
        "window_end": stats.window_end,
        "cohort": stats.cohort,
        "cohort_value": stats.cohort_value,
        "n": stats.n,
    }


def _cut(value: Any) -> str:
    """A logged value as text, whole when short, else cut as :func:`driftline.errors.shorten`
    cuts it (with its full length stated): what a result's details may hold of it.

    >>> _cut("red")
    'red'
    >>> _cut("x" * 100_000)[-40:]
    "xxxxxxxxxxxxxxxxx…' (100,000 characters)"
    """
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else shorten(text)


def _cut_keys(counts: Mapping[str, int]) -> dict[str, int]:
    """``counts`` with each long key cut (see :func:`_cut`); counts of
    keys that cut alike add up."""
    out: dict[str, int] = {}
    for key, n in counts.items():
        short = _cut(key)
        out[short] = out.get(short, 0) + n
    return out


def _counter(names: Sequence[str]) -> Callable[[Mapping[str, int]], Sequence[int]]:
    """``counts -> [counts.get(name, 0) for name in names]``, in C for the most part.

    >>> _counter(["a", "b", "c"])({"c": 2, "a": 1})
    (1, 0, 2)
    """
    take = itemgetter(*names)
    zeros = dict.fromkeys(names, 0)

    def counts_of(counts: Mapping[str, int]) -> Sequence[int]:
        try:
            found = take(counts)
        except KeyError:  # some category has no rows here
            found = take({**zeros, **counts})
        return found if len(names) > 1 else (found,)  # one name: a value, not a tuple

    return counts_of


def _smallest(keys: Any, k: int) -> list[int]:
    """Indices of the ``k`` smallest ``keys``, ties in index order: the same as
    ``sorted(range(len(keys)), key=keys.__getitem__)[:k]``, without sorting them all.

    >>> _smallest(np.array([3.0, 1.0, 2.0, 1.0, 0.0]), 3)
    [4, 1, 3]
    """
    candidates = np.arange(keys.size)
    if keys.size > k:  # everything up to the k-th smallest value, ties included
        candidates = np.flatnonzero(keys <= np.partition(keys, k - 1)[k - 1])
    order = np.argsort(keys[candidates], kind="stable")
    chosen: list[int] = candidates[order][:k].tolist()
    return chosen


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


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _arr(values: Sequence[float]) -> Any:
    return np.asarray(values, dtype=float)
