"""ECE and the reliability diagram against numpy on the rows and scikit-learn's
``calibration_curve``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from driftline.methods.calibration_error import (
    confidence_bin,
    expected_calibration_error,
    reliability,
)


def _counts(conf: np.ndarray, right: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    b = confidence_bin(conf, bins)
    return (
        np.bincount(b, minlength=bins),
        np.bincount(b, weights=conf, minlength=bins),
        np.bincount(b, weights=right.astype(float), minlength=bins),
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bins", [5, 10, 15])
def test_ece_equals_the_direct_computation(seed: int, bins: int) -> None:
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.2, 1.0, 3000)
    right = rng.random(3000) < conf ** rng.uniform(0.5, 2.0)
    idx = np.clip(np.floor(conf * bins), 0, bins - 1)
    direct = sum(
        np.mean(idx == k) * abs(right[idx == k].mean() - conf[idx == k].mean())
        for k in range(bins)
        if (idx == k).any()
    )
    assert expected_calibration_error(*_counts(conf, right, bins)) == pytest.approx(
        direct, abs=1e-12
    )


def test_reliability_equals_sklearn_calibration_curve() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.0, 1.0, 4000)
    right = rng.random(4000) < conf**1.3
    rel = reliability(*_counts(conf, right, 10))
    prob_true, prob_pred = calibration_curve(right, conf, n_bins=10, strategy="uniform")
    assert [a for a in rel.accuracy if a is not None] == pytest.approx(prob_true)
    assert [c for c in rel.confidence if c is not None] == pytest.approx(prob_pred)
    assert rel.lower[0] == 0.0
    assert rel.upper[-1] == 1.0


def test_a_perfectly_calibrated_bin_has_no_error_and_no_rows_no_ece() -> None:
    assert expected_calibration_error([4, 0], [2.0, 0.0], [2, 0]) == 0.0
    assert expected_calibration_error([0, 0], [0.0, 0.0], [0, 0]) is None
    assert confidence_bin([0.0, 0.999, 1.0], 10).tolist() == [0, 9, 9]


def test_counts_that_cannot_be_are_refused() -> None:
    with pytest.raises(ValueError, match="0 <= correct <= rows"):
        expected_calibration_error([1], [0.5], [2])
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        expected_calibration_error([1, 2], [0.5], [1])
