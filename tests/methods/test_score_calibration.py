"""The confidence calibration map against scikit-learn's isotonic regression and a
direct log-loss fit, and the choice between them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss

from driftline.methods.score_calibration import ScoreCalibrator


def _data(seed: int, n: int, truth: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.34, 1.0, n)
    # a temperature of 2.5, or a step no temperature can follow
    p = expit(logit(conf) / 2.5) if truth == "temperature" else np.where(conf < 0.7, 0.3, 0.95)
    return conf, rng.random(n) < p


def test_isotonic_map_equals_sklearn() -> None:
    conf, right = _data(0, 3000, "step")
    cal = ScoreCalibrator(method="isotonic").fit(conf, right)
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(conf, right)
    grid = np.linspace(0.3, 1.0, 57)
    assert cal.predict(grid) == pytest.approx(iso.predict(grid))
    assert cal.method_ == "isotonic"


def test_temperature_minimises_the_log_loss() -> None:
    conf, right = _data(1, 20_000, "temperature")
    cal = ScoreCalibrator(method="temperature").fit(conf, right)
    assert cal.temperature_ == pytest.approx(2.5, rel=0.2)

    def loss(t: float) -> float:
        return float(log_loss(right, expit(logit(conf) / t), labels=[False, True]))

    best = loss(cal.temperature_)
    assert best <= loss(cal.temperature_ * 1.05)
    assert best <= loss(cal.temperature_ / 1.05)


@pytest.mark.parametrize(
    ("truth", "chosen"), [("temperature", "temperature"), ("step", "isotonic")]
)
def test_auto_chooses_the_map_that_fits_better(truth: str, chosen: str) -> None:
    conf, right = _data(2, 4000, truth)
    cal = ScoreCalibrator().fit(conf, right)
    assert cal.method_ == chosen
    assert cal.brier_[chosen] == min(cal.brier_.values())


def test_round_trip_and_errors() -> None:
    conf, right = _data(3, 500, "step")
    cal = ScoreCalibrator().fit(conf, right)
    back = ScoreCalibrator.from_dict(cal.to_dict())
    grid = np.linspace(0, 1, 11)
    assert back.predict(grid) == pytest.approx(cal.predict(grid))
    with pytest.raises(NotFittedError, match="call fit first"):
        ScoreCalibrator().predict([0.5])
    with pytest.raises(ValueError, match="unknown calibration method 'platt'; available"):
        ScoreCalibrator(method="platt")
    with pytest.raises(ValueError, match="at least 2 holdout rows"):
        ScoreCalibrator().fit([0.5], [True])
