"""A label-free estimate of accuracy, per-class precision and recall, from calibrated
confidences (the idea of confidence-based performance estimation, CBPE).

Given, per predicted class ``j``, rows grouped by their confidence with ``n`` rows and
``p`` the calibrated probability that their prediction is right (see
:mod:`driftline.methods.score_calibration`), the expected confusion matrix is

- expected right of class ``j``: ``TP_j = sum n * p``; expected wrong: ``FP_j = sum n * (1 - p)``;
- the wrong ones spread over the true classes ``k != j`` by the holdout's shares of its
  errors on ``j`` (``share[j, k]``), so ``FN_k = sum_j FP_j * share[j, k]``.

Accuracy is ``sum_j TP_j / N``. If the probabilities are right the number of correct
rows is Poisson-binomial with variance ``sum n p (1 - p)``, and the holdout the map was
fitted on adds the uncertainty of its own accuracy, ``a (1 - a) / n_holdout``: the band
is ``z`` standard deviations of both (z = 2.576, 99 %). Precision has the same band per
predicted class; recall's denominator is itself estimated, so it has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BAND_Z", "Estimate", "estimate_performance"]

#: Standard deviations of the band (two-sided 99 %).
BAND_Z = 2.576


@dataclass(frozen=True)
class Estimate:
    """Estimated performance of one window; ``None`` where nothing was predicted."""

    n: int
    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    precision: dict[str, float | None]
    precision_band: dict[str, float | None]
    recall: dict[str, float | None]
    #: the expected confusion matrix, rows the true class, columns the predicted
    confusion: list[list[float]]


def estimate_performance(
    classes: list[str],
    rows: npt.ArrayLike,
    right: npt.ArrayLike,
    variance: npt.ArrayLike,
    error_share: npt.ArrayLike,
    *,
    holdout_n: int,
    holdout_accuracy: float,
    z: float = BAND_Z,
) -> Estimate:
    """The estimate from per predicted class: ``rows``, expected right rows
    (``sum n p``), their variance (``sum n p (1 - p)``), and the holdout's
    ``error_share[j, k]`` (the share of class ``j``'s errors whose true class is ``k``;
    a row of zeros where the holdout had none).

    >>> e = estimate_performance(
    ...     ["a", "b"], [100, 50], [90.0, 30.0], [9.0, 12.0], [[0, 1], [1, 0]],
    ...     holdout_n=1000, holdout_accuracy=0.8,
    ... )
    >>> round(e.accuracy, 3), round(e.accuracy_low, 3), round(e.precision["b"], 3)
    (0.8, 0.715, 0.6)
    >>> round(e.recall["a"], 3), e.confusion
    (0.818, [[90.0, 20.0], [10.0, 30.0]])
    """
    n = np.asarray(rows, dtype=float)
    tp = np.asarray(right, dtype=float)
    var = np.asarray(variance, dtype=float)
    share = np.asarray(error_share, dtype=float)
    k = len(classes)
    if n.shape != (k,) or tp.shape != (k,) or var.shape != (k,) or share.shape != (k, k):
        raise ValueError(
            f"an estimate over {k} classes needs per-class arrays of length {k} and a "
            f"{k} x {k} error share; got {n.shape}, {tp.shape}, {var.shape}, {share.shape}."
        )
    wrong = n - tp
    # confusion[true, predicted]: the diagonal is right, column j's errors spread by share
    confusion = share.T * wrong[np.newaxis, :]
    confusion[np.arange(k), np.arange(k)] = tp
    total = float(n.sum())
    hold = holdout_accuracy * (1 - holdout_accuracy) / max(holdout_n, 1)
    precision: dict[str, float | None] = {}
    band: dict[str, float | None] = {}
    recall: dict[str, float | None] = {}
    for j, c in enumerate(classes):
        precision[c] = float(tp[j] / n[j]) if n[j] > 0 else None
        band[c] = float(z * math.sqrt(var[j] / n[j] ** 2 + hold)) if n[j] > 0 else None
        actual = float(confusion[j].sum())
        recall[c] = float(tp[j] / actual) if actual > 0 else None
    if total <= 0:
        return Estimate(0, None, None, None, precision, band, recall, confusion.tolist())
    acc = float(tp.sum() / total)
    half = z * math.sqrt(float(var.sum()) / total**2 + hold)
    return Estimate(
        n=int(total),
        accuracy=acc,
        accuracy_low=max(0.0, acc - half),
        accuracy_high=min(1.0, acc + half),
        precision=precision,
        precision_band=band,
        recall=recall,
        confusion=confusion.tolist(),
    )
