"""Realised performance as labels arrive, and an estimate before they do.

Typed per window x cohort value performance, computed from the engine's performance
summary (:mod:`driftline.engine.performance`) and the profile's performance baseline,
fitted on the labelled holdout (:func:`fit_performance`):

- **realised**, over the window's labelled predictions (the latest label per id,
  attributed to the window of the prediction): accuracy, per-class precision, recall
  and F1, their macro and micro averages, the confusion matrix (rows the true class,
  columns the predicted one), the labelled count, label coverage (labelled / rows) and
  label delay (mean, sd, min, max in seconds), and calibration: expected calibration
  error and the reliability diagram on 10 bins (:mod:`driftline.methods.calibration_error`);
- **estimated**, over every prediction of the window, labelled or not: the confidence
  calibrated on the holdout (isotonic or temperature scaling, whichever fits better,
  :mod:`driftline.methods.score_calibration`; one map per predicted class when that
  fits better still), turned into expected accuracy, precision
  and recall with a band (:mod:`driftline.methods.performance_estimate`).

A drop in realised accuracy is judged against the holdout's accuracy at the window's
labelled count: :func:`accuracy_bound` is the ``quantile`` of the holdout-vs-window
accuracy difference under no change, bootstrapped (a window of ``n`` labelled rows and
the holdout of ``n_ref`` both resampled from the holdout's rows), so 40 labelled rows
get a wide bound and 40,000 a narrow one. Each cohort value is judged against its own
holdout rows when it has ``checks.cohort_baseline_min_rows`` of them.

The predicted class is the one logged; per-class thresholds chosen on the holdout
(``thresholds_for(profile)``) would re-derive it from the scores here, before the
confusion matrix is counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from driftline._catalog import MISSING_COHORT
from driftline.engine import Engine
from driftline.engine.performance import FINE_BINS, predicted_score
from driftline.engine.summaries import value_text
from driftline.methods.calibration_error import (
    confidence_bin,
    expected_calibration_error,
    reliability,
)
from driftline.methods.performance_estimate import BAND_Z, estimate_performance
from driftline.methods.score_calibration import ScoreCalibrator
from driftline.spec import Spec

__all__ = [
    "RELIABILITY_BINS",
    "ClassMetrics",
    "Performance",
    "accuracy_bound",
    "calibration_method",
    "fit_performance",
    "performance_by_scope",
]

#: Bins of the reliability diagram and of the expected calibration error.
RELIABILITY_BINS = 10
#: Bootstrap resamples of :func:`accuracy_bound`.
BOOTSTRAP_REPS = 4000


@dataclass(frozen=True)
class ClassMetrics:
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


@dataclass
class Performance:
    """One window x cohort value: realised (labelled rows) and estimated (every row)."""

    window: int
    cohort: str | None
    cohort_value: str | None
    rows: int
    labelled: int
    coverage: float
    classes: list[str]
    #: confusion[true][predicted] over the labelled rows
    confusion: list[list[int]]
    accuracy: float | None
    per_class: dict[str, ClassMetrics]
    macro: dict[str, float | None]
    micro: dict[str, float | None]
    ece: float | None
    reliability: dict[str, Any]
    delay: dict[str, float | None]
    estimate: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def _f1(tp: float, predicted: float, actual: float) -> float | None:
    """2tp / (2tp + fp + fn), as scikit-learn: defined (0 without a hit) wherever the class
    is predicted or labelled, also where its precision or its recall is not."""
    return _ratio(2 * tp, predicted + actual)


def metrics_from_confusion(
    classes: list[str], confusion: np.ndarray
) -> tuple[float | None, dict[str, ClassMetrics], dict[str, float | None], dict[str, float | None]]:
    """Accuracy, per-class metrics, macro and micro averages of ``confusion[true, pred]``
    (scikit-learn's definitions with ``zero_division`` left undefined: None)."""
    total = float(confusion.sum())
    tp = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0).astype(float)
    actual = confusion.sum(axis=1).astype(float)
    per: dict[str, ClassMetrics] = {}
    for i, c in enumerate(classes):
        p, r = _ratio(tp[i], predicted[i]), _ratio(tp[i], actual[i])
        per[c] = ClassMetrics(p, r, _f1(tp[i], predicted[i], actual[i]), int(actual[i]))
    # macro: over the classes with labelled rows (sklearn's labels=present classes)
    present = [c for i, c in enumerate(classes) if actual[i] > 0 or predicted[i] > 0]

    def mean(name: str) -> float | None:
        vals = [getattr(per[c], name) for c in present]
        if not vals:
            return None
        return float(np.mean([0.0 if v is None else v for v in vals]))

    macro = {"precision": mean("precision"), "recall": mean("recall"), "f1": mean("f1")}
    acc = _ratio(float(tp.sum()), total)
    micro = {"precision": acc, "recall": acc, "f1": acc}  # single-label: all equal accuracy
    return acc, per, macro, micro


# -- the baseline, fitted on the holdout -------------------------------------------------
def fit_performance(engine: Engine, reference: ir.Table, spec: Spec) -> dict[str, Any] | None:
    """The performance baseline of the labelled holdout (None when the spec has no label
    role or the reference lacks the column): its accuracy and confusion matrix, overall
    and per cohort value, the share of each predicted class's errors per true class, and
    the confidence calibration map (with the method chosen and both methods' scores)."""
    label = spec.label
    if label is None or label not in reference.columns:
        return None
    cohorts = [c for c in spec.cohorts if c in reference.columns]
    cols = {
        "label": reference[label].cast("string"),
        "predicted": reference[spec.prediction].cast("string"),
        "conf": predicted_score(reference, spec),
        **{f"c{i}": value_text(reference[c]) for i, c in enumerate(cohorts)},
    }
    table = engine.run(reference.select(**cols))
    return baseline_from_rows(table, cohorts, spec.scores.class_order)


def baseline_from_rows(
    table: pa.Table, cohorts: list[str], class_order: list[str] | None = None
) -> dict[str, Any] | None:
    labels = np.asarray(table.column("label").to_pylist(), dtype=object)
    predicted = np.asarray(table.column("predicted").to_pylist(), dtype=object)
    conf = np.asarray(table.column("conf").to_pylist(), dtype=float)
    ok = np.array([x is not None for x in labels]) & np.array([x is not None for x in predicted])
    ok &= np.isfinite(conf)
    unlabelled = int((~ok).sum())
    if ok.sum() < 2:
        return None
    labels, predicted, conf = labels[ok], predicted[ok], conf[ok]
    classes = sorted({*(class_order or ()), *labels.tolist(), *predicted.tolist()})
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    li = np.array([index[x] for x in labels])
    pi = np.array([index[x] for x in predicted])
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (li, pi), 1)
    right = li == pi
    wrong = confusion.astype(float).copy()
    np.fill_diagonal(wrong, 0.0)
    errors = wrong.sum(axis=0)  # per predicted class
    share = np.divide(wrong.T, errors[:, None], out=np.zeros((k, k)), where=errors[:, None] > 0)
    cal = ScoreCalibrator().fit(conf, right)
    by_class = _by_class(conf, right, predicted, cal)
    b = confidence_bin(conf, RELIABILITY_BINS)
    n_b = np.bincount(b, minlength=RELIABILITY_BINS)
    s_b = np.bincount(b, weights=conf, minlength=RELIABILITY_BINS)
    k_b = np.bincount(b, weights=right.astype(float), minlength=RELIABILITY_BINS)
    per_cohort: dict[str, dict[str, dict[str, int]]] = {}
    for i, c in enumerate(cohorts):
        values = np.asarray(table.column(f"c{i}").to_pylist(), dtype=object)[ok]
        values = np.where(values == None, MISSING_COHORT, values)  # noqa: E711
        groups: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "correct": 0})
        for v, r in zip(values.tolist(), right.tolist(), strict=True):
            groups[str(v)]["n"] += 1
            groups[str(v)]["correct"] += int(r)
        per_cohort[c] = dict(groups)
    return {
        "classes": classes,
        "n": int(ok.sum()),
        "unlabelled": unlabelled,
        "correct": int(right.sum()),
        "confusion": confusion.tolist(),
        "error_share": share.tolist(),
        "calibration": {**cal.to_dict(), "by_class": by_class},
        "ece": expected_calibration_error(n_b, s_b, k_b),
        "cohorts": per_cohort,
    }


#: A predicted class gets its own calibration map from this many holdout rows.
CLASS_MAP_MIN_ROWS = 200


def _by_class(
    conf: np.ndarray, right: np.ndarray, predicted: np.ndarray, pooled: ScoreCalibrator
) -> dict[str, Any] | None:
    """Calibration maps per predicted class, used instead of the pooled map unless their
    cross-validated Brier score is worse by more than one standard error (None then, or
    when a class has fewer than :data:`CLASS_MAP_MIN_ROWS` holdout rows); tried first:

    - with two classes, one isotonic map of the first class's probability ``p``
      (``s`` when it is predicted, ``1 - s`` when the other one is), read back as
      ``p`` -> right for the first class and ``1 - p`` -> right for the other: one
      monotone map over every holdout row, as calibrating a binary model's probability
      does, whatever threshold picked the class;
    - one map fitted per predicted class (its rows' own confidence -> right).
    """
    classes = sorted(set(predicted.tolist()))
    if any(int((predicted == c).sum()) < CLASS_MAP_MIN_ROWS for c in classes):
        return None
    maps = {c: ScoreCalibrator().fit(conf[predicted == c], right[predicted == c]) for c in classes}
    errors = np.zeros(len(conf))
    for c, m in maps.items():
        errors[predicted == c] = m.cv_errors_
    options = [(errors, "per class", {c: m.to_dict() for c, m in maps.items()})]
    if len(classes) == 2:
        options.insert(0, _binary_maps(conf, right, predicted, classes))
    # the more specific map unless it is worse by more than one standard error of the
    # paired difference (the one-standard-error rule): Brier scores closer than their
    # noise do not decide, and a binary model's own probability is what to calibrate
    chosen = None
    for err, kind, found in options:
        diff = err - pooled.cv_errors_
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        if float(diff.mean()) <= se:
            chosen = {"brier": float(err.mean()), "kind": kind, "maps": found}
            break
    return chosen


def _binary_maps(
    conf: np.ndarray, right: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> tuple[np.ndarray, str, dict[str, Any]]:
    """The two-class maps from one isotonic map of the first class's probability, with
    each row's squared error out of fold (5 folds)."""
    from sklearn.isotonic import IsotonicRegression

    first = predicted == classes[0]
    p = np.where(first, conf, 1.0 - conf)
    y = np.where(first, right, ~right).astype(float)

    def fit(rows: np.ndarray) -> IsotonicRegression:
        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[rows], y[rows])

    order = np.random.default_rng(0).permutation(len(p))
    err = np.zeros(len(p))
    for test in np.array_split(order, 5):
        iso = fit(np.setdiff1d(order, test, assume_unique=True))
        q = iso.predict(p[test])
        err[test] = (np.where(first[test], q, 1.0 - q) - right[test]) ** 2
    iso = fit(order)
    x, v = np.asarray(iso.X_thresholds_, float), np.asarray(iso.y_thresholds_, float)

    def as_map(xs: np.ndarray, vs: np.ndarray) -> dict[str, Any]:
        return {
            "method": "isotonic",
            "brier": {"isotonic": float(err.mean())},
            "n": len(p),
            "temperature": 1.0,
            "isotonic": {"x": [float(a) for a in xs], "y": [float(b) for b in vs]},
        }

    maps = {classes[0]: as_map(x, v), classes[1]: as_map(1.0 - x[::-1], 1.0 - v[::-1])}
    return err, f"isotonic on the probability of {classes[0]!r}", maps


def calibration_method(baseline: Mapping[str, Any]) -> str:
    """The calibration a baseline estimates with, in words."""
    cal = baseline["calibration"]
    by = cal.get("by_class")
    if not by:
        return str(cal["method"])
    if by.get("kind", "per class") != "per class":
        return str(by["kind"])
    methods = sorted({m["method"] for m in by["maps"].values()})
    return "per predicted class: " + ", ".join(methods)


def _calibrated(
    baseline: dict[str, Any], predicted: list[str | None], mean_conf: np.ndarray
) -> np.ndarray:
    """The calibrated probability of being right of each group of the summary."""
    cal = baseline["calibration"]
    pooled = ScoreCalibrator.from_dict(cal).predict(mean_conf)
    by = cal.get("by_class")
    if not by:
        return pooled
    classes = np.asarray(["" if p is None else p for p in predicted], dtype=object)
    for c, data in by["maps"].items():
        at = classes == c
        if at.any():
            pooled[at] = ScoreCalibrator.from_dict(data).predict(mean_conf[at])
    return pooled


def accuracy_bound(n: int, n_ref: int, accuracy: float, quantile: float, seed: int = 0) -> float:
    """The ``quantile`` of ``holdout accuracy - window accuracy`` under no change, a window
    of ``n`` labelled rows and the holdout's ``n_ref`` both resampled from the holdout
    (accuracy ``accuracy``): a bootstrap of 0/1 correctness is binomial sampling.

    >>> few, many = accuracy_bound(40, 5000, 0.8, 0.999), accuracy_bound(40000, 5000, 0.8, 0.999)
    >>> round(few, 3), round(many, 3)
    (0.206, 0.02)
    """
    rng = np.random.default_rng(seed)
    window = rng.binomial(n, accuracy, BOOTSTRAP_REPS) / max(n, 1)
    ref = rng.binomial(n_ref, accuracy, BOOTSTRAP_REPS) / max(n_ref, 1)
    return float(np.quantile(ref - window, quantile))


# -- per window x cohort value ------------------------------------------------------------
def performance_by_scope(
    summary: pa.Table, baseline: dict[str, Any]
) -> dict[tuple[str | None, str | None, int], Performance]:
    """Every window x cohort value's :class:`Performance` from the engine's summary
    (:data:`~driftline.engine.performance.PERFORMANCE_SCHEMA`), keyed like stored results
    by (cohort, cohort value, window); the overall scope is (None, None, window)."""
    base_classes: list[str] = list(baseline["classes"])
    # one order, and sums of confidence to 1e-9: an engine's parallel sums differ in
    # their last bits from run to run, and a result must not
    keys = ("scope", "window", "cohort_value", "predicted", "label", "bin")
    summary = summary.sort_by([(k, "ascending") for k in keys])
    cols = {name: summary.column(name).to_pylist() for name in summary.column_names}
    for name in ("conf_sum", "delay_sum", "delay_sq"):
        cols[name] = [round(float(v), 9) for v in cols[name]]
    seen = {x for x in cols["predicted"] if x is not None} | {
        x for x in cols["label"] if x is not None
    }
    classes = base_classes + sorted(seen - set(base_classes))
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    share = np.zeros((k, k))
    kb = len(base_classes)
    share[:kb, :kb] = np.asarray(baseline["error_share"], dtype=float).reshape(kb, kb)
    groups: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for i, (scope, w, cv) in enumerate(
        zip(cols["scope"], cols["window"], cols["cohort_value"], strict=True)
    ):
        groups[(scope, int(w), cv)].append(i)
    # each group's calibrated probability of being right, at its mean confidence (the
    # fine bins are 0.01 wide)
    n_rows = np.asarray(cols["n"], dtype=float)
    mean_conf = np.divide(
        np.asarray(cols["conf_sum"], dtype=float),
        n_rows,
        out=np.zeros_like(n_rows),
        where=n_rows > 0,
    )
    calibrated = _calibrated(baseline, cols["predicted"], mean_conf)
    out: dict[tuple[str | None, str | None, int], Performance] = {}
    for (scope, w, cv), rows in groups.items():
        confusion = np.zeros((k, k), dtype=np.int64)
        # expected right rows and their variance per predicted class: every row [0],
        # the labelled rows [1]
        n_all = np.zeros((2, k))
        exp_right = np.zeros((2, k))
        exp_var = np.zeros((2, k))
        rel_n = np.zeros(RELIABILITY_BINS)
        rel_s = np.zeros(RELIABILITY_BINS)
        rel_k = np.zeros(RELIABILITY_BINS)
        total = labelled = 0
        d_sum = d_sq = 0.0
        d_min: float | None = None
        d_max: float | None = None
        for i in rows:
            n = int(cols["n"][i])
            pred, lab = cols["predicted"][i], cols["label"][i]
            total += n
            if pred is None:
                continue
            j = index[pred]
            s = float(cols["conf_sum"][i])
            fine = cols["bin"][i]
            if fine is not None:  # rows without a confidence are not estimated
                p = float(calibrated[i])
                parts = [0] if lab is None else [0, 1]
                n_all[parts, j] += n
                exp_right[parts, j] += n * p
                exp_var[parts, j] += n * p * (1 - p)
            if lab is None:
                continue
            labelled += n
            confusion[index[lab], j] += n
            if fine is not None:
                b = int(fine) * RELIABILITY_BINS // FINE_BINS
                rel_n[b] += n
                rel_s[b] += s
                rel_k[b] += n if lab == pred else 0
            d_sum += float(cols["delay_sum"][i])
            d_sq += float(cols["delay_sq"][i])
            lo, hi = cols["delay_min"][i], cols["delay_max"][i]
            if lo is not None:
                d_min = lo if d_min is None else min(d_min, lo)
            if hi is not None:
                d_max = hi if d_max is None else max(d_max, hi)
        acc, per, macro, micro = metrics_from_confusion(classes, confusion)
        mean = d_sum / labelled if labelled else None
        sd = (
            math.sqrt(max(0.0, (d_sq - labelled * mean * mean) / (labelled - 1)))
            if labelled > 1 and mean is not None
            else None
        )
        estimates: dict[str, Any] = {}
        for name, part in (("all", 0), ("labelled", 1)):
            est = estimate_performance(
                classes,
                n_all[part],
                exp_right[part],
                exp_var[part],
                share,
                holdout_n=int(baseline["n"]),
                holdout_accuracy=float(baseline["correct"]) / max(int(baseline["n"]), 1),
            )
            estimates[name] = {**asdict(est), "z": BAND_Z}
        rel = reliability(rel_n, rel_s, rel_k)
        cohort = None if scope == "" else scope
        out[(cohort, None if cohort is None else cv, w)] = Performance(
            window=w,
            cohort=cohort,
            cohort_value=None if cohort is None else cv,
            rows=total,
            labelled=labelled,
            coverage=labelled / total if total else 0.0,
            classes=classes,
            confusion=confusion.tolist(),
            accuracy=acc,
            per_class=per,
            macro=macro,
            micro=micro,
            ece=expected_calibration_error(rel_n, rel_s, rel_k),
            reliability=asdict(rel),
            delay={"mean": mean, "sd": sd, "min": d_min, "max": d_max},
            estimate={**estimates, "calibration": calibration_method(baseline)},
        )
    return out
