"""Checks of a window's predictions: their era, confidence and class mix, and which
baseline a cohort value is judged against. One function per check (see
:mod:`driftline.checks._context` for what they receive)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from driftline.checks._context import _arr, _batch_names, _Run, _Window, decided, skipped
from driftline.checks._registry import CHECKS, Status, check
from driftline.checks._results import CheckResult, WindowStats
from driftline.errors import shorten
from driftline.methods import jensen_shannon
from driftline.profile import CohortBaseline


def _too_few(win: _Window, name: str) -> CheckResult:
    """Why a prediction check is not decided in ``win``: no rows, or fewer than
    ``checks.min_rows``."""
    status: Status = "no_data" if win.n == 0 else "insufficient"
    why = (
        "no predictions in this window"
        if win.n == 0
        else f"{win.n} rows < checks.min_rows {win.min_rows}"
    )
    return skipped(win.base, name, None, CHECKS[name].method, status, why)


def _unpredicted(run: _Run, win: _Window, name: str) -> CheckResult:
    """Why a class-mix check is not decided in ``win``: none of its rows has a
    predicted class (possible only when the prediction role moved to a column their
    batches did not bring)."""
    why = (
        f"no row of this window has a predicted class in column "
        f"{shorten(run.spec.prediction)!r}: its batches did not bring the column the "
        "prediction role names now"
    )
    return skipped(win.base, name, None, CHECKS[name].method, "no_data", why)


@check("timestamp_era")
def timestamp_era(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """Rows of the window with a timestamp outside the data's era (see ``_era`` in
    :mod:`driftline.checks`): a property of rows, not of cohorts, so overall only."""
    if not win.n or not win.overall or win.summary is None:
        return
    early, late, n = win.summary.era_early, win.summary.era_late, win.n
    earliest, latest = run.era
    found = run.era_ids.get(win.base["window"], [])
    ids = [shorten(i) for i, _ in found]
    seqs = list(dict.fromkeys(b for _, b in found if b is not None))
    batches = _batch_names(run, seqs)
    rows = early + late
    where = []
    if early:
        where.append(f"{early} before {earliest} (the reference's start - tolerance)")
    if late:
        where.append(f"{late} after {latest} (now + checks.timestamp_tolerance)")
    yield decided(
        run,
        win.base,
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
            **({"batches": batches} if batches else {}),
            "summary": "; ".join(where) + (f"; ids {', '.join(ids)}" if ids else ""),
        },
    )


@check("confidence_shift")
def confidence_shift(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """The window's mean confidence against the reference's."""
    if not win.decidable:
        yield _too_few(win, "confidence_shift")
        return
    ref, mean, n = run.profile.confidence_, win.confidence.mean, win.n
    diff = mean - float(ref["mean"])
    sd = math.sqrt(float(ref["var"] or 0.0))
    bound, how = run.bounds.normal("confidence_shift", sd, n, int(ref["n"]))
    yield decided(
        run,
        win.base,
        "confidence_shift",
        None,
        diff,
        diff,
        bound,
        how,
        {
            "current_mean": mean,
            "reference_mean": ref["mean"],
            "summary": f"mean confidence {ref['mean']:.3f} -> {mean:.3f}",
        },
    )


@check("class_mix")
def class_mix(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """The predicted-class mix against the reference's (Jensen-Shannon distance)."""
    if not win.decidable:
        yield _too_few(win, "class_mix")
        return
    ref_mix = run.profile.predicted_mix_
    classes = list(ref_mix)
    cur_counts = [win.classes.get(c, 0) for c in classes]
    n = sum(cur_counts)  # the rows with a predicted class: every row, but after a move
    if not n:
        yield _unpredicted(run, win, "class_mix")
        return
    ref_counts = [ref_mix[c] for c in classes]
    js = float(jensen_shannon(_arr(ref_counts), _arr(cur_counts)))
    bound, how = run.bounds.resampled("class_mix", "jensen_shannon", ref_counts, n)
    total_ref = sum(ref_counts) or 1
    moved = sorted(
        (
            (c, rc / total_ref, cc / n, cc / n - rc / total_ref)
            for c, rc, cc in zip(classes, ref_counts, cur_counts, strict=True)
        ),
        key=lambda x: -abs(x[3]),
    )[:3]
    yield decided(
        run,
        win.base,
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
            "summary": ", ".join(f"class {shorten(c)} {r:.1%} -> {s:.1%}" for c, r, s, _ in moved),
        },
    )


@check("class_prior")
def class_prior(run: _Run, win: _Window) -> Iterator[CheckResult]:
    """The predicted-class mix against the labelled class prior, beyond the reference's
    own distance from it (only with a prior)."""
    prof = run.profile
    prior = prof.class_prior_
    if not win.decidable or prior is None or sum(prior.values()) <= 0:
        return
    ref_mix = prof.predicted_mix_
    classes = list(ref_mix)
    cur_counts = [win.classes.get(c, 0) for c in classes]
    n = sum(cur_counts)  # as for class_mix
    if not n:
        yield _unpredicted(run, win, "class_prior")
        return
    ref_counts = [ref_mix[c] for c in classes]
    prior_counts = [prior.get(c, 0) for c in classes]
    baseline = float(jensen_shannon(_arr(prior_counts), _arr(ref_counts)))
    js_prior = float(jensen_shannon(_arr(prior_counts), _arr(cur_counts)))
    cal, how = run.bounds.resampled("class_prior", "jensen_shannon", prior_counts, n)
    total_prior = sum(prior_counts)
    moved_prior = sorted(
        (
            (c, pc / total_prior, cc / n)
            for c, pc, cc in zip(classes, prior_counts, cur_counts, strict=True)
        ),
        key=lambda x: -abs(x[2] - x[1]),
    )[:3]
    yield decided(
        run,
        win.base,
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


@check("cohort_baseline")
def cohort_baseline(stats: WindowStats, baseline: CohortBaseline, share: float) -> CheckResult:
    """Which reference a cohort value is judged against, when it is not its own: the
    overall one, for a value with too few reference rows, a profile without per-cohort
    baselines, or a value the reference never had (a new segment, which warns).
    ``share``: the value's share of the window's rows."""
    status: Status = "warn" if baseline.kind == "new_value" else "ok"
    rows = baseline.reference_rows
    return CheckResult(
        window=stats.window,
        window_start=stats.window_start,
        window_end=stats.window_end,
        cohort=stats.cohort,
        cohort_value=stats.cohort_value,
        n=stats.n,
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
