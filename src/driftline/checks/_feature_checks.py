"""Checks of a window's features: missing share, values beyond the reference's range,
unseen categories, and drift of each feature's (or text style feature's) distribution.
One function per check (see :mod:`driftline.checks._context` for what they receive).

The per-feature checks receive the feature's counts in the window
(:class:`~driftline.engine.records.FeatureCounts`) and return one result or None; the
drift checks receive the statistic their column's method computed for every window of
the scope at once (:meth:`~driftline.checks._context._DriftColumn.observe`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from driftline._catalog import MOMENT_LIMIT
from driftline.checks._context import (
    _batch_names,
    _cut_keys,
    _DriftColumn,
    _Feature,
    _Observed,
    _Run,
    _Window,
    decided,
    skipped,
)
from driftline.checks._registry import Status, check
from driftline.checks._results import CheckResult
from driftline.engine.records import FeatureCounts
from driftline.engine.summaries import OTHER
from driftline.errors import shorten


@check("missing_fraction")
def missing_fraction(
    run: _Run, win: _Window, feature: _Feature, counts: FeatureCounts
) -> CheckResult | None:
    """The feature's missing share against the reference's."""
    n, p_ref = win.n, feature.p_ref
    frac = counts.missing / n
    bound, how = run.bounds.normal("missing_fraction", feature.sd, n, run.profile.n_rows_)
    details: dict[str, Any] = {
        "current_fraction": frac,
        "reference_fraction": p_ref,
        "summary": f"missing {p_ref:.1%} -> {frac:.1%}",
    }
    if abs(frac - p_ref) > bound:  # beyond the bound: the window's batches, first first
        seqs = sorted(win.batches)[:5]
        details["batches"] = _batch_names(run, seqs)
    return decided(
        run,
        win.base,
        "missing_fraction",
        feature.name,
        frac - p_ref,
        frac - p_ref,
        bound,
        how,
        details,
    )


#: The fewest rows of a window below ``checks.min_rows`` whose feature missing on every
#: one is judged (:func:`wholly_missing`): one or two rows missing a value is a gap in a
#: row (a row missing its cohort value and its features), not a column that stopped.
WHOLLY_MISSING_MIN_ROWS = 5


def wholly_missing(
    run: _Run, win: _Window, feature: _Feature, counts: FeatureCounts
) -> CheckResult | None:
    """``missing_fraction`` of a window too small to judge by the usual bound
    (``checks.min_rows``) but of at least :data:`WHOLLY_MISSING_MIN_ROWS` rows, whose
    feature is missing on every row, as a column not logged is decided at any size: by
    the exact binomial chance of that many missing values at the reference's share (with
    half a pseudo-count, so a share never seen is not taken as impossible; bound: the
    largest change not beyond the alert quantile). None when some row has the value."""
    n, p_ref = win.n, feature.p_ref
    if n < WHOLLY_MISSING_MIN_ROWS or counts.missing < n or p_ref >= 1.0:
        return None
    n_ref = run.profile.n_rows_
    p = (p_ref * n_ref + 0.5) / (n_ref + 1)
    alpha = 1.0 - run.bounds.cfg.alert_quantile
    # the fewest missing values of n whose chance at that share is below alpha
    tail, critical = 0.0, None
    for k in range(n, -1, -1):
        tail += math.comb(n, k) * p**k * (1.0 - p) ** (n - k)
        if tail >= alpha:
            break
        critical = k
    bound = 1.0 - p_ref if critical is None else (critical - 1) / n - p_ref
    how = (
        f"exact binomial at the reference's share {p:.3g}: {n} rows < checks.min_rows "
        f"{win.min_rows}, every one missing (chance {p**n:.2g})"
    )
    details: dict[str, Any] = {
        "current_fraction": 1.0,
        "reference_fraction": p_ref,
        "summary": f"missing {p_ref:.1%} -> 100.0% (all {n} rows)",
    }
    if critical is not None:
        details["batches"] = _batch_names(run, sorted(win.batches)[:5])
    return decided(
        run,
        win.base,
        "missing_fraction",
        feature.name,
        1.0 - p_ref,
        1.0 - p_ref,
        bound,
        how,
        details,
    )


@check("out_of_range")
def out_of_range(
    run: _Run, win: _Window, feature: _Feature, counts: FeatureCounts
) -> CheckResult | None:
    """A numeric feature's share of values beyond the reference's range; any +-inf
    value (or one beyond :data:`~driftline._catalog.MOMENT_LIMIT`) alerts."""
    if feature.kind != "numeric":
        return None
    present = win.n - counts.missing
    if present == 0 or not counts.ranged:
        return None
    info = feature.info
    below, above = counts.below or 0, counts.above or 0
    non_finite = counts.non_finite or 0  # +-inf: also beyond
    rate = (below + above) / present
    bound, how = run.bounds.beyond_range(present, feature.n_present)
    status: Status | None = None
    if non_finite:  # no reference value is infinite: any one is an incident
        status, how = "alert", f"{how}; any +-inf value alerts"
    return decided(
        run,
        win.base,
        "out_of_range",
        feature.name,
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
            "summary": f"{below} below {info['min']:.4g}, {above} above {info['max']:.4g}"
            + (f" ({non_finite} of them +-inf or beyond +-{MOMENT_LIMIT:g})" if non_finite else ""),
        },
        status=status,
    )


@check("unseen_category")
def unseen_category(
    run: _Run, win: _Window, feature: _Feature, counts: FeatureCounts
) -> CheckResult | None:
    """A categorical feature's share of values outside the reference's categories,
    against the reference's own estimate of it (Good-Turing)."""
    col = feature.name
    if feature.kind != "categorical" or col not in run.unseen_p0:
        return None
    present = win.n - counts.missing
    if present == 0:
        return None
    unseen = win.categories.get(col, {}).get(OTHER, 0)
    rate = unseen / present
    p0 = run.unseen_p0[col]
    bound, how = run.bounds.rate("unseen_category", p0, present, "Good-Turing")
    top = _cut_keys(win.unseen.get(col, {}))
    shown = ", ".join(f"{shorten(v)} ({c})" for v, c in top.items())
    return decided(
        run,
        win.base,
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


@check("feature_drift")
def feature_drift(
    run: _Run, win: _Window, col: _DriftColumn, observed: _Observed | None
) -> CheckResult:
    """A numeric or categorical feature's distribution against the reference's, by its
    drift method (``spec.drift``)."""
    return _drift(run, win, col, observed)


@check("text_drift")
def text_drift(
    run: _Run, win: _Window, col: _DriftColumn, observed: _Observed | None
) -> CheckResult:
    """A text style feature's distribution against the reference's, by its drift method."""
    return _drift(run, win, col, observed)


def _drift(
    run: _Run,
    win: _Window,
    col: _DriftColumn,
    observed: _Observed | None,
    confirmed_by: CheckResult | None = None,
) -> CheckResult:
    """The drift result of ``col`` in ``win``: the statistic, its effect size (Cramer's V
    for chi2, reference standard deviations for Wasserstein) and its bound (fixed, or
    calibrated at the window's size). With ``confirmed_by`` (another drift result of the
    window that alerted), the bound is the confirmation's (:func:`confirm`)."""
    src, method, base = col.source, col.source.method, win.base
    n_cur = 0 if observed is None else observed.n
    if col.empty:
        why = (
            f"the reference holds no value of {shorten(src.name)} (every row missing): "
            "nothing to compare with; refit on a reference that has its values, or leave "
            "it out of the spec's features"
        )
        return skipped(base, src.check, src.name, method, "insufficient", why, n_cur)
    if observed is None or observed.value is None:
        why = f"{n_cur} non-missing values < checks.min_rows {run.spec.checks.min_rows}"
        return skipped(base, src.check, src.name, method, "insufficient", why, n_cur)
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
        cal = col.calibrate(n_cur) if confirmed_by is None else col.calibrate.confirming(n_cur)
        bound, how = float(cal.bound), f"calibrated: {cal.how}"
        if confirmed_by is not None:
            how += (
                f", confirmed: {confirmed_by.check} of {confirmed_by.column} alerted in "
                "this window and scope"
            )
        bias = to_effect(cal.mean)  # the no-drift mean: what chance alone gives
    return decided(
        run,
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


def confirm(
    run: _Run, win: _Window, drifts: list[tuple[_DriftColumn, _Observed | None, CheckResult]]
) -> list[CheckResult]:
    """The drift results of one window and scope, confirmed: when one of them alerts,
    each other calibrated one *of the same check* that did not is judged again at
    ``checks.confirm_quantile`` at the window's own size, and alerts if beyond that bound
    and its floor (else it is kept as it was). Without an alert, or with confirmation
    off, they are unchanged.

    Inputs confirm inputs and scores confirm scores: a model's scores moving says
    nothing about its inputs (a runner-up class gaining on the others leaves every
    feature where it was), so a ``score_drift`` alert never lowers a feature's bound.
    The alert that confirms is the one furthest beyond its bound (value / bound)."""
    results = [r for _, _, r in drifts]
    if run.spec.checks.confirm_at is None:
        return results
    by: dict[str, CheckResult] = {}
    for r in results:
        if r.status == "alert" and r.bound:
            best = by.get(r.check)
            if best is None or _beyond(r) > _beyond(best):
                by[r.check] = r
    if not by:
        return results
    out = []
    for col, observed, result in drifts:
        confirming = by.get(result.check)
        if (
            confirming is not None
            and result.status in ("ok", "warn")
            and col.fixed is None
            and result.value is not None
        ):
            again = _drift(run, win, col, observed, confirmed_by=confirming)
            result = again if again.status == "alert" else result
        out.append(result)
    return out


def _beyond(result: CheckResult) -> float:
    """How far ``result`` is beyond its bound, as a ratio."""
    return abs(result.value or 0.0) / (result.bound or 1.0)
