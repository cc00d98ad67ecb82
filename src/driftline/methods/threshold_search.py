"""Threshold search: the decision threshold of one class's score, chosen on labelled rows.

A row is predicted positive when its score is at or above the threshold (``score >= t``,
as scikit-learn's ``precision_recall_curve`` counts). The candidates are the distinct
scores: between two of them every threshold makes the same predictions. For each
candidate the true and false positives come from one sort and two cumulative sums (the
precision-recall curve), and the objective picks one:

- ``"f1"`` / ``"fbeta"``: the largest F-beta, ``(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)``;
- ``"precision"``: the largest recall among the thresholds whose precision is at least
  ``target`` (none reaching it is an error naming the best precision there is);
- ``"recall"``: the largest precision among those whose recall is at least ``target``;
- ``"cost"``: the smallest total cost of the confusion matrix weighted by ``cost``, a 2x2
  matrix laid out as scikit-learn's ``confusion_matrix`` (rows the true class, columns
  the predicted one, negative first): ``[[tn, fp], [fn, tp]]`` costs per row.

Ties go to the lowest threshold (the first maximum in ascending order, as scikit-learn's
``TunedThresholdClassifierCV`` takes it). The *margin* is how flat the optimum is: the
range of candidate thresholds around the chosen one whose objective stays within
``tolerance`` of the best (F-beta points; for the targets, recall or precision points
among the thresholds meeting the target; for a cost, the cost per row).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError, SchemaError
from driftline.methods._validate import FloatArray

__all__ = ["OBJECTIVES", "Objective", "ThresholdSearch", "pr_curve", "threshold_search"]

Objective = Literal["f1", "fbeta", "precision", "recall", "cost"]
#: The objectives, in the order the CLI and the docs list them.
OBJECTIVES: tuple[str, ...] = ("f1", "fbeta", "precision", "recall", "cost")


class ThresholdSearch(NamedTuple):
    """What :func:`threshold_search` found, with the curve it searched."""

    #: the chosen threshold (predict positive when ``score >= threshold``)
    threshold: float
    #: the objective there (F-beta, recall, precision, or minus the cost per row)
    value: float
    #: the range of thresholds whose objective is within the tolerance of the best
    margin: tuple[float, float]
    #: the candidates in ascending order, and at each the true and false positives
    thresholds: FloatArray
    tp: FloatArray
    fp: FloatArray
    #: the positive and negative rows
    positives: int
    negatives: int

    @property
    def precision(self) -> FloatArray:
        """Precision at each candidate (1 where nothing is predicted positive)."""
        predicted = self.tp + self.fp
        out: FloatArray = np.where(predicted > 0, self.tp / np.maximum(predicted, 1), 1.0)
        return out

    @property
    def recall(self) -> FloatArray:
        """Recall at each candidate."""
        out: FloatArray = self.tp / max(self.positives, 1)
        return out


def pr_curve(
    scores: npt.ArrayLike, labels: npt.ArrayLike, *, name: str = "the scores"
) -> tuple[FloatArray, FloatArray, FloatArray, int, int]:
    """``(thresholds, tp, fp, positives, negatives)``: the distinct scores in ascending
    order and the true and false positives of ``score >= threshold`` at each.

    >>> t, tp, fp, pos, neg = pr_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> t.tolist(), tp.tolist(), fp.tolist(), pos, neg
    ([0.1, 0.35, 0.4, 0.8], [2.0, 2.0, 1.0, 1.0], [2.0, 1.0, 1.0, 0.0], 2, 2)
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if s.shape != y.shape:
        raise ConfigError(
            f"threshold_search: {name} hold {s.size} scores but {y.size} labels; pass one "
            "label per score."
        )
    if not np.isfinite(s).all():
        bad = float(s[~np.isfinite(s)][0])
        raise SchemaError(
            f"threshold_search: {name} hold a non-finite score ({bad!r}); scores are "
            "probabilities: drop those rows or fix the model's output."
        )
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    # the last row of each run of equal scores: the candidates, descending
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.array([], int)
    tp = np.cumsum(y)[last].astype(np.float64)
    fp = (last + 1 - tp).astype(np.float64)
    positives = int(y.sum())
    return (
        s[last][::-1].copy(),
        tp[::-1].copy(),
        fp[::-1].copy(),
        positives,
        int(s.size) - positives,
    )


def threshold_search(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    objective: Objective = "f1",
    beta: float = 1.0,
    target: float | None = None,
    cost: npt.ArrayLike | None = None,
    tolerance: float = 0.01,
    name: str = "the scores",
) -> ThresholdSearch:
    """The threshold of ``scores`` that best meets ``objective`` on binary ``labels``
    (true: positive). ``name`` says whose scores they are in an error message.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.random(1000) < 0.3
    >>> scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.15), 0, 1)
    >>> found = threshold_search(scores, labels)
    >>> print(f"{found.threshold:.4f} {found.value:.4f}")
    0.5336 0.7591
    >>> found = threshold_search(scores, labels, objective="precision", target=0.9)
    >>> print(f"{found.threshold:.4f} {found.value:.4f}")
    0.6538 0.5054
    """
    if objective not in OBJECTIVES:
        raise ConfigError(
            f"threshold_search: objective {objective!r} is not one of {', '.join(OBJECTIVES)}; "
            "choose one of them."
        )
    t, tp, fp, pos, neg = pr_curve(scores, labels, name=name)
    if pos == 0 or neg == 0:
        which = "negative" if pos == 0 else "positive"
        raise SchemaError(
            f"threshold_search: {name} have {pos + neg} labelled rows, all {which}; a "
            "threshold needs both positive and negative rows. Add labelled rows of both."
        )
    if t.size < 2:
        raise SchemaError(
            f"threshold_search: {name} take one value ({float(t[0])!r}) on all {pos + neg} "
            "rows: no threshold separates them. Check that the model's scores are logged "
            "(not a constant), or keep the default threshold."
        )
    fn = pos - tp
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = tp / pos
    if objective in ("f1", "fbeta"):
        b2 = (1.0 if objective == "f1" else _positive(beta, "beta")) ** 2
        value = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp)
    elif objective in ("precision", "recall"):
        if target is None or not 0.0 < target <= 1.0:
            raise ConfigError(
                f"threshold_search: objective {objective!r} needs a target in (0, 1], got "
                f"{target!r}; pass e.g. target=0.9."
            )
        met = (precision if objective == "precision" else recall) >= target
        if not met.any():
            best = int(np.argmax(precision))
            raise ConfigError(
                f"threshold_search: no threshold of {name} reaches precision {target:g} on "
                f"the holdout; the highest is {precision[best]:.4f} (at threshold "
                f"{t[best]:.4g}, recall {recall[best]:.4f}). Lower the target to at most "
                f"{np.floor(precision[best] * 1e4) / 1e4:g}, or choose another objective."
            )
        other = recall if objective == "precision" else precision
        value = np.where(met, other, -np.inf)
    else:
        matrix = _cost_matrix(cost)
        total = matrix[0, 0] * (neg - fp) + matrix[0, 1] * fp + matrix[1, 0] * fn
        value = -(total + matrix[1, 1] * tp) / (pos + neg)
    best = int(np.argmax(value))
    near = value >= value[best] - tolerance
    lo = hi = best
    while lo > 0 and near[lo - 1]:
        lo -= 1
    while hi < t.size - 1 and near[hi + 1]:
        hi += 1
    return ThresholdSearch(
        float(t[best]), float(value[best]), (float(t[lo]), float(t[hi])), t, tp, fp, pos, neg
    )


def _positive(value: float, what: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(
            f"threshold_search: {what} must be a positive number, got {value!r}; pass e.g. 2.0."
        )
    return float(value)


def _cost_matrix(cost: npt.ArrayLike | None) -> FloatArray:
    matrix = np.asarray(cost if cost is not None else np.nan, dtype=np.float64)
    if matrix.shape != (2, 2) or not np.isfinite(matrix).all():
        raise ConfigError(
            "threshold_search: objective 'cost' needs a finite 2x2 cost matrix "
            f"[[tn, fp], [fn, tp]] (rows the true class, negative first), got {cost!r}; "
            "pass e.g. [[0, 1], [5, 0]]."
        )
    return matrix
