"""Threshold-relative checks: a window's decisions against the thresholds chosen on the
holdout (``driftline thresholds``, :mod:`driftline.thresholds`).

Per class with a threshold, ``threshold_above`` compares the share of rows whose score is
at or above it, and ``threshold_band`` the share within ``thresholds.band`` of it, with
the holdout's shares; ``threshold_none`` (a multi-class model) the share of rows no class
clears. The counts are histogram counts on the threshold's edges
(:func:`driftline.engine.scores.threshold_sources`); a share is the mean of a row's 0/1
indicator, so each is judged as a difference of means: the bound is the
``alert_quantile`` of the no-drift difference between a window of its size and the
holdout (normal, both samples' sizes), the floor ``mean_difference``'s. A cohort value
with its own baseline is judged against the holdout's rows of that value, any other
scope against the whole holdout (``bound_how`` says which). A profile without chosen
thresholds raises none of these results.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from driftline.checks._context import _Run, _Window, decided
from driftline.checks._registry import check
from driftline.checks._results import CheckResult
from driftline.engine.records import ThresholdCounts, threshold_counts
from driftline.engine.scores import NONE_SOURCE, THRESHOLD_PREFIX
from driftline.errors import shorten
from driftline.thresholds import Thresholds

__all__ = ["threshold_above", "threshold_band", "threshold_none"]


def _fitted(run: _Run, win: _Window) -> tuple[Thresholds, dict[str, Any], str] | None:
    """The thresholds, the holdout shares this scope is judged against and whose they
    are; None when there is nothing to judge."""
    fitted = run.profile.thresholds_
    if fitted is None or not fitted.chosen or not win.decidable or win.summary is None:
        return None
    own = getattr(run.profile, "baseline_of_", None)
    shares, whose = fitted.baseline(*own) if own else fitted.baseline(None, None)
    return fitted, shares, whose


def _share_result(
    run: _Run,
    win: _Window,
    name: str,
    column: str | None,
    counts: ThresholdCounts,
    hits: int,
    p_ref: float,
    n_ref: int,
    whose: str,
    what: str,
    details: dict[str, Any],
) -> CheckResult | None:
    if counts.scored == 0 or n_ref == 0:
        return None
    share = hits / counts.scored
    diff = share - p_ref
    # a holdout share of 0 or 1 has no variance: half a row keeps the bound honest
    p = min(max(p_ref, 0.5 / n_ref), 1 - 0.5 / n_ref)
    bound, how = run.bounds.normal(name, math.sqrt(p * (1 - p)), counts.scored, n_ref)
    return decided(
        run,
        win.base,
        name,
        column,
        diff,
        diff,
        bound,
        f"{how}; against {whose}",
        {
            **details,
            "current_share": share,
            "reference_share": p_ref,
            "rows": hits,
            "scored": counts.scored,
            "summary": f"{what}: {p_ref:.1%} -> {share:.1%}",
        },
    )


def _per_class(run: _Run, win: _Window, name: str) -> Iterator[CheckResult]:
    found = _fitted(run, win)
    if found is None:
        return
    fitted, shares, whose = found
    assert win.summary is not None
    for cls, t in fitted.chosen.items():
        counts = threshold_counts(win.summary.histograms, f"{THRESHOLD_PREFIX}{cls}")
        if counts is None:
            continue
        band = fitted.config.band
        above = name == "threshold_above"
        what = (
            f"class {shorten(cls)} at or above {t:.4g}"
            if above
            else f"class {shorten(cls)} within {band:g} of {t:.4g}"
        )
        result = _share_result(
            run,
            win,
            name,
            cls,
            counts,
            counts.above if above else counts.band,
            float(shares["above" if above else "band"][cls]),
            int(shares["n"]),
            whose,
            what,
            {"class": cls, "threshold": t, "band": band},
        )
        if result is not None:
            yield result


@check("threshold_above")
def threshold_above(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """Per class with a threshold: the share of rows at or above it, against the
    holdout's."""
    yield from _per_class(run, win, "threshold_above")


@check("threshold_band")
def threshold_band(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """Per class with a threshold: the share of rows within ``band`` of it (decisions a
    small change of score would flip), against the holdout's."""
    yield from _per_class(run, win, "threshold_band")


@check("threshold_none")
def threshold_none(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """A multi-class model's share of rows that no class's score clears, against the
    holdout's."""
    found = _fitted(run, win)
    if found is None or found[1]["none"] is None:
        return
    fitted, shares, whose = found
    assert win.summary is not None
    counts = threshold_counts(win.summary.histograms, NONE_SOURCE)
    if counts is None:
        return
    result = _share_result(
        run,
        win,
        "threshold_none",
        None,
        counts,
        counts.scored - counts.above,
        float(shares["none"]),
        int(shares["n"]),
        whose,
        "rows no class clears",
        {"thresholds": fitted.chosen},
    )
    if result is not None:
        yield result
