"""The label-free estimate against rows drawn with known probabilities: its expected
confusion matrix against numpy, and its band's coverage."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.methods.performance_estimate import estimate_performance


def test_the_estimate_sums_the_expected_confusion() -> None:
    classes = ["a", "b", "c"]
    share = np.array([[0, 0.5, 0.5], [0.2, 0, 0.8], [1.0, 0, 0]])
    e = estimate_performance(
        classes,
        [10, 20, 30],
        [5.0, 10.0, 27.0],
        [1.0, 2.0, 3.0],
        share,
        holdout_n=100,
        holdout_accuracy=0.7,
    )
    conf = np.array(e.confusion)
    assert np.diag(conf).tolist() == [5.0, 10.0, 27.0]
    assert conf.sum(axis=0).tolist() == pytest.approx([10, 20, 30])  # predicted counts
    assert conf[:, 1].tolist() == pytest.approx([2.0, 10.0, 8.0])  # b's 10 errors spread
    assert e.accuracy == pytest.approx(42 / 60)
    assert e.precision == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.9})
    assert e.recall["a"] == pytest.approx(5 / (5 + 2 + 3))


def test_the_band_covers_the_realised_accuracy_of_calibrated_rows() -> None:
    """Rows whose calibrated probability is right: the realised accuracy lies in the
    99 % band in about 99 % of windows (at least 97 % of 400)."""
    rng = np.random.default_rng(0)
    inside = 0
    for _ in range(400):
        n = int(rng.integers(50, 3000))
        p = rng.beta(5, 2, n)
        right = rng.random(n) < p
        e = estimate_performance(
            ["a"],
            [n],
            [p.sum()],
            [(p * (1 - p)).sum()],
            [[0.0]],
            holdout_n=10**9,
            holdout_accuracy=0.7,
        )
        assert e.accuracy_low is not None
        assert e.accuracy_high is not None
        inside += e.accuracy_low <= right.mean() <= e.accuracy_high
    assert inside >= 0.97 * 400


def test_no_rows_no_estimate_and_shapes_are_checked() -> None:
    e = estimate_performance(
        ["a", "b"], [0, 0], [0, 0], [0, 0], np.zeros((2, 2)), holdout_n=10, holdout_accuracy=0.5
    )
    assert e.accuracy is None
    assert e.precision == {"a": None, "b": None}
    with pytest.raises(ValueError, match="2 x 2 error share"):
        estimate_performance(
            ["a", "b"], [1, 1], [1, 1], [0, 0], np.zeros((3, 3)), holdout_n=10, holdout_accuracy=0.5
        )
