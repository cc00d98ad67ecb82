"""Performance checks: realised accuracy as labels arrive, the estimate before they do,
and the gap between them (:mod:`driftline.performance` computes the numbers).

They run once per window x cohort value after the other checks, from one engine query
per run over the windows being evaluated (:func:`performance_results`):

- ``performance``: the drop of realised accuracy below the holdout's, against the bound
  bootstrapped at the window's labelled count; alerts beyond the bound and the
  ``accuracy_drop`` floor (3 points). No result while a window has no labelled row.
- ``performance_estimate``: the estimated accuracy, its band and per-class precision and
  recall; ``ok`` always (an estimate informs, it does not alert).
- ``performance_gap``: realised minus estimated accuracy over the same (labelled) rows;
  warns when the realised accuracy lies outside the estimate's band.

A window's results record the newest labels batch they saw (``labels_batch``): an
incremental run re-evaluates exactly the windows whose predictions a newer labels batch
labels (:func:`relabelled`), wherever the labels arrive in time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from driftline.checks._registry import check
from driftline.checks._results import CheckResult
from driftline.engine import Engine
from driftline.engine.performance import (
    label_watermark,
    labelled_windows,
    performance_summary,
    unknown_labels,
)
from driftline.errors import shorten
from driftline.performance import (
    Performance,
    accuracy_bound,
    calibration_method,
    performance_by_scope,
)
from driftline.profile import Profile
from driftline.spec import Spec, Window

if TYPE_CHECKING:
    from driftline.store import Store

__all__ = [
    "PERFORMANCE_CHECKS",
    "baseline_of",
    "performance_results",
    "relabelled",
]

Key = tuple[str | None, str | None, int]


def baseline_of(profile: Profile) -> dict[str, Any] | None:
    """The profile's performance baseline (None: no labelled holdout, or a profile fitted
    before driftline measured performance: refit to get it)."""
    found: dict[str, Any] | None = getattr(profile, "performance_", None)
    return found


@lru_cache(maxsize=4096)
def _bound(n: int, n_ref: int, accuracy: float, quantile: float) -> float:
    return accuracy_bound(n, n_ref, accuracy, quantile)


def _reference(
    baseline: Mapping[str, Any], perf: Performance, min_rows: int
) -> tuple[int, int, str]:
    """``(rows, correct, which)`` of the holdout a scope is judged against: a cohort
    value's own holdout rows when it has ``min_rows``, else the whole holdout."""
    if perf.cohort is not None:
        own = (baseline.get("cohorts") or {}).get(perf.cohort, {}).get(perf.cohort_value)
        if own and own["n"] >= min_rows:
            return int(own["n"]), int(own["correct"]), "its own holdout rows"
        rows = 0 if not own else int(own["n"])
        return (
            int(baseline["n"]),
            int(baseline["correct"]),
            f"the whole holdout ({rows} holdout rows of its own, fewer than {min_rows})",
        )
    return int(baseline["n"]), int(baseline["correct"]), "the holdout"


@check("performance")
def performance_drop(
    spec: Spec, baseline: Mapping[str, Any], perf: Performance, span: tuple[str, str]
) -> CheckResult | None:
    """Realised accuracy below the holdout's, beyond the bootstrapped bound and the floor."""
    if not perf.labelled or perf.accuracy is None:
        return None
    cfg = spec.checks
    n_ref, correct, which = _reference(baseline, perf, cfg.cohort_baseline_min_rows)
    ref_acc = correct / n_ref
    drop = ref_acc - perf.accuracy
    details = {**perf.to_dict(), "reference_accuracy": ref_acc, "reference": which}
    floor, floor_how = cfg.floors.resolve("performance", "accuracy_drop", None)
    if "performance" in cfg.fixed_bounds:
        bound = float(cfg.fixed_bounds["performance"])
        status = "alert" if drop > bound else "ok"
        how, decided, floor_v, floor_w = "fixed (checks.fixed_bounds)", "fixed", None, None
    else:
        bound = _bound(perf.labelled, n_ref, ref_acc, cfg.alert_quantile)
        how = (
            f"q{cfg.alert_quantile:g} of the holdout-minus-window accuracy under no change, "
            f"bootstrapped from {which} at {perf.labelled} labelled rows"
        )
        beyond = drop > bound
        status = ("alert" if drop > floor else "warn") if beyond else "ok"
        decided = "floor" if floor > bound else "bound"
        floor_v, floor_w = floor, floor_how
    return CheckResult(
        perf.window,
        span[0],
        span[1],
        perf.cohort,
        perf.cohort_value,
        "performance",
        None,
        "accuracy_drop",
        drop,
        drop,
        bound,
        how,
        status,  # type: ignore[arg-type]
        perf.labelled,
        details,
        floor_v,
        floor_w,
        decided,
    )


@check("performance_estimate")
def performance_estimate(
    spec: Spec, baseline: Mapping[str, Any], perf: Performance, span: tuple[str, str]
) -> CheckResult | None:
    """The accuracy estimated from calibrated confidences, with its band (never alerts)."""
    est = perf.estimate.get("all") or {}
    if est.get("accuracy") is None:
        return None
    ref_acc = int(baseline["correct"]) / int(baseline["n"])
    cal = baseline["calibration"]
    method = calibration_method(baseline)
    details = {
        **est,
        "calibration": method,
        "calibration_brier": {
            **cal["brier"],
            **({"per_class": cal["by_class"]["brier"]} if cal.get("by_class") else {}),
        },
        "reference_accuracy": ref_acc,
        "labels_batch": perf.estimate.get("labels_batch"),
    }
    return CheckResult(
        perf.window,
        span[0],
        span[1],
        perf.cohort,
        perf.cohort_value,
        "performance_estimate",
        None,
        "accuracy_estimate",
        est["accuracy"],
        ref_acc - est["accuracy"],
        None,
        f"band: {est['z']:g} sd of the Poisson-binomial count of right rows and of the "
        f"holdout's accuracy; confidence calibrated by {method}",
        "ok",
        perf.rows,
        details,
    )


@check("performance_gap")
def performance_gap(
    spec: Spec, baseline: Mapping[str, Any], perf: Performance, span: tuple[str, str]
) -> CheckResult | None:
    """Realised minus estimated accuracy over the labelled rows; warns outside the band."""
    est = perf.estimate.get("labelled") or {}
    if not perf.labelled or perf.accuracy is None or est.get("accuracy") is None:
        return None
    gap = perf.accuracy - est["accuracy"]
    half = (est["accuracy_high"] - est["accuracy_low"]) / 2
    inside = est["accuracy_low"] <= perf.accuracy <= est["accuracy_high"]
    details = {
        "realised": perf.accuracy,
        "estimated": est["accuracy"],
        "low": est["accuracy_low"],
        "high": est["accuracy_high"],
        "labelled": perf.labelled,
    }
    return CheckResult(
        perf.window,
        span[0],
        span[1],
        perf.cohort,
        perf.cohort_value,
        "performance_gap",
        None,
        "accuracy_estimate",
        gap,
        gap,
        half,
        "half the estimate's band over the same labelled rows",
        "ok" if inside else "warn",
        perf.labelled,
        details,
    )


#: The performance checks, in the order their results are reported.
PERFORMANCE_CHECKS = (performance_drop, performance_estimate, performance_gap)


def performance_results(
    engine: Engine,
    rows: ir.Table,
    labels: ir.Table,
    spec: Spec,
    profile: Profile,
    window: Window,
    spans: Mapping[int, tuple[str, str]],
    windows: set[int] | None,
    watermark: int,
    label_batches: Sequence[int] | None = None,
) -> dict[Key, list[CheckResult]]:
    """The performance checks' results per (cohort, cohort value, window) of ``rows``
    (the predictions of the windows being evaluated; ``windows`` limits them).
    ``label_batches``: the labels batches holding every label of ``rows``' ids, the
    only ones read (see :func:`~driftline.engine.performance.performance_summary`)."""
    baseline = baseline_of(profile)
    if baseline is None:
        return {}
    summary = performance_summary(
        engine,
        rows,
        labels,
        spec,
        window,
        some=windows is not None,
        label_batches=label_batches,
    )
    out: dict[Key, list[CheckResult]] = {}
    for key, perf in performance_by_scope(summary, baseline).items():
        w = key[2]
        if (windows is not None and w not in windows) or w not in spans:
            continue
        perf.estimate["labels_batch"] = watermark
        found = [f(spec, baseline, perf, spans[w]) for f in PERFORMANCE_CHECKS]
        out[key] = [r for r in found if r is not None]
    return out


def unjudged(engine: Engine, labels: ir.Table, spec: Spec) -> dict[str, Any]:
    """What the report says of labels that no performance check can judge, the profile
    holding no labelled holdout baseline: how many there are and why (empty when there
    are none)."""
    count = int(engine.run(labels.aggregate(n=labels.count()))["n"][0].as_py())
    if not count:
        return {}
    if spec.label is None:
        why = (
            "the spec names no label column, so the reference gave no labelled holdout to "
            "judge them against: set `label:` to the reference's label column and refit "
            "(`driftline fit`)"
        )
    else:
        why = (
            f"the profile holds no labelled holdout: the reference lacks column "
            f"{shorten(spec.label)}, or the profile was fitted before driftline measured "
            "performance; log a reference with its labels, or refit (`driftline fit`)"
        )
    return {"labels_unjudged": count, "unjudged_why": why}


def label_report(
    engine: Engine,
    table: ir.Table,
    labels: ir.Table,
    spec: Spec,
    profile: Profile,
    store: Store | None = None,
) -> dict[str, Any]:
    """What the report says of labels as a whole: how many labelled ids match no
    prediction (counted, never dropped), the first of them, and the calibration used.
    ``store``: the store ``table`` and ``labels`` are the tables of, which keeps those
    ids as it logs (:meth:`Store.unknown_labels`)."""
    if store is not None:
        count, examples = store.unknown_labels()
    else:
        count, examples = unknown_labels(engine, table, labels, spec)
    baseline = baseline_of(profile)
    return {
        "unknown_ids": count,
        "unknown_examples": examples,
        "calibration": None if baseline is None else calibration_method(baseline),
        "calibration_brier": None if baseline is None else baseline["calibration"]["brier"],
        "holdout_rows": None if baseline is None else baseline["n"],
        "holdout_accuracy": None
        if baseline is None
        else int(baseline["correct"]) / max(int(baseline["n"]), 1),
        "holdout_ece": None if baseline is None else baseline["ece"],
    }


def relabelled(
    engine: Engine,
    table: ir.Table,
    labels: ir.Table,
    spec: Spec,
    window: Window,
    stored: Mapping[Key, Any],
    candidates: set[int],
    store: Store | None = None,
) -> set[int]:
    """The windows of ``candidates`` (read back from the store) whose predictions a labels
    batch newer than their stored results labels: their performance changed. ``stored``
    holds each window's read-back part (its ``labels_batch``, from the window's digest).
    ``store``: the store ``table`` and ``labels`` are the tables of, which knows the
    predictions batches each labels batch labels (:meth:`Store.labelled_batches`), so
    only those batches' rows are joined with the new labels."""
    if not candidates:
        return set()
    seen: dict[int, int] = {}
    for w in candidates:
        part = stored.get((None, None, w))
        seen[w] = int(getattr(part, "labels_batch", -1))
    after = min(seen.values())
    if label_watermark(engine, labels) <= after:
        return set()
    batches = None
    if store is not None:
        batches = store.labelled_batches(after)
        if not batches:  # the new labels label no stored prediction
            return set()
    newest = labelled_windows(
        engine, table, labels, spec, window, after, sorted(candidates), batches
    )
    return {w for w, b in newest.items() if b > seen[w]}
