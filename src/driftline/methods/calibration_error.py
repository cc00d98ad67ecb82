"""Expected calibration error (ECE) and reliability-diagram data over confidence bins.

The engine counts, per bin of the confidence (the max score), the labelled rows ``n``,
the sum of their confidence and how many of them the model predicted correctly; this
module turns those counts into the reliability diagram (per bin: mean confidence,
accuracy, rows) and into

    ECE = sum_b (n_b / N) * |accuracy_b - mean confidence_b|

over the non-empty bins (Naeini et al., 2015; Guo et al., 2017, eq. 3). Bins are fixed
and equal-width on [0, 1]: bin ``i`` of ``B`` holds the confidences ``c`` with
``floor(c * B) = i`` (1.0 falls in the last bin), so every engine bins alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Reliability", "confidence_bin", "expected_calibration_error", "reliability"]


@dataclass(frozen=True)
class Reliability:
    """Reliability-diagram data: per bin ``[lower, upper)`` its rows, mean confidence
    and accuracy (None where the bin is empty)."""

    lower: list[float]
    upper: list[float]
    rows: list[int]
    confidence: list[float | None]
    accuracy: list[float | None]


def confidence_bin(confidence: npt.ArrayLike, bins: int) -> npt.NDArray[np.int64]:
    """The bin of each confidence: ``floor(c * bins)``, clipped to ``[0, bins - 1]``."""
    c = np.asarray(confidence, dtype=float)
    out: npt.NDArray[np.int64] = np.clip(np.floor(c * bins), 0, bins - 1).astype(np.int64)
    return out


def _check(
    n: npt.ArrayLike, conf_sum: npt.ArrayLike, correct: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    rows = np.asarray(n, dtype=float)
    sums = np.asarray(conf_sum, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if rows.ndim != 1 or rows.shape != sums.shape or rows.shape != hits.shape:
        raise ValueError(
            "calibration error needs three 1-D arrays of one length (rows, confidence sums, "
            f"correct rows per bin); got shapes {rows.shape}, {sums.shape}, {hits.shape}."
        )
    if (rows < 0).any() or (hits < 0).any() or (hits > rows).any():
        raise ValueError(
            "calibration error needs per-bin counts with 0 <= correct <= rows; check the summaries."
        )
    return rows, sums, hits


def expected_calibration_error(
    n: npt.ArrayLike, conf_sum: npt.ArrayLike, correct: npt.ArrayLike
) -> float | None:
    """ECE from per-bin rows, sums of confidence and correct rows (None: no rows).

    Checked against the direct computation on the rows (numpy), 10 bins:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.34, 1.0, 5000)
    >>> right = rng.random(5000) < conf ** 1.5  # overconfident
    >>> b = confidence_bin(conf, 10)
    >>> n = np.bincount(b, minlength=10)
    >>> s = np.bincount(b, weights=conf, minlength=10)
    >>> k = np.bincount(b, weights=right, minlength=10)
    >>> print(f"{expected_calibration_error(n, s, k):.6f}")
    0.113699
    >>> direct = sum(
    ...     abs(right[b == i].mean() - conf[b == i].mean()) * (b == i).mean()
    ...     for i in range(10) if (b == i).any()
    ... )
    >>> print(f"{direct:.6f}")
    0.113699
    """
    rows, sums, hits = _check(n, conf_sum, correct)
    total = rows.sum()
    if total <= 0:
        return None
    full = rows > 0
    gap = np.abs(hits[full] - sums[full]) / rows[full]
    return float((rows[full] / total * gap).sum())


def reliability(n: npt.ArrayLike, conf_sum: npt.ArrayLike, correct: npt.ArrayLike) -> Reliability:
    """The reliability diagram of per-bin counts on ``len(n)`` equal-width bins.

    >>> r = reliability([0, 2, 2], [0.0, 1.0, 1.8], [0, 1, 1])
    >>> r.confidence, r.accuracy
    ([None, 0.5, 0.9], [None, 0.5, 0.5])
    """
    rows, sums, hits = _check(n, conf_sum, correct)
    bins = len(rows)
    edges = np.linspace(0.0, 1.0, bins + 1)
    return Reliability(
        lower=[float(x) for x in edges[:-1]],
        upper=[float(x) for x in edges[1:]],
        rows=[int(x) for x in rows],
        confidence=[float(s / r) if r > 0 else None for s, r in zip(sums, rows, strict=True)],
        accuracy=[float(h / r) if r > 0 else None for h, r in zip(hits, rows, strict=True)],
    )
