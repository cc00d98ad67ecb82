"""Calibrating the model's confidence on the labelled holdout: isotonic regression or
temperature scaling, whichever predicts the holdout's correctness better.

The map takes a row's confidence ``c`` (its max score) to the probability that the
predicted class is right. Two candidates are fitted on the holdout's ``(c, correct)``:

- **temperature scaling** of the top-label confidence, ``sigmoid(logit(c) / T)``, one
  parameter fitted by log-loss (:func:`scipy.optimize.minimize_scalar`); for a binary
  model it is exactly temperature scaling of its two scores (Guo et al., 2017), for more
  classes it scales the top label against the rest;
- **isotonic regression** (:class:`sklearn.isotonic.IsotonicRegression`), monotone and
  free-form, which needs more rows.

Each is scored by the Brier score of 5-fold cross-validation on the holdout, and the
lower wins; both scores are kept, so the choice is reported with its evidence.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> conf = rng.uniform(0.5, 1.0, 4000)
>>> truth = 1 / (1 + ((1 - conf) / conf) ** 0.5)  # overconfident: temperature 2
>>> cal = ScoreCalibrator(seed=0).fit(conf, rng.random(4000) < truth)
>>> cal.method_, round(cal.temperature_, 2), round(float(cal.predict([0.95])[0]), 2)
('temperature', 1.97, 0.82)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CALIBRATION_METHODS", "ScoreCalibrator"]

#: The candidate maps, in the order a tie is decided.
CALIBRATION_METHODS = ("temperature", "isotonic")
_EPS = 1e-6


def _temperature_map(conf: npt.NDArray[np.float64], t: float) -> npt.NDArray[np.float64]:
    from scipy.special import expit, logit

    z = logit(np.clip(conf, _EPS, 1 - _EPS))
    out: npt.NDArray[np.float64] = expit(z / t)
    return out


def _fit_temperature(conf: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    # imported where used: scipy costs a process 0.3-0.6 s, and a check often needs none
    from scipy.optimize import minimize_scalar
    from scipy.special import expit, logit

    z = logit(np.clip(conf, _EPS, 1 - _EPS))

    def loss(log_t: float) -> float:
        p = np.clip(expit(z / np.exp(log_t)), _EPS, 1 - _EPS)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())

    found = minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(found.x))


def _fit_isotonic(
    conf: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[list[float], list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(conf, y)
    return [float(x) for x in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]


def _isotonic_map(
    conf: npt.NDArray[np.float64], x: list[float], v: list[float]
) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.interp(conf, x, v)
    return out


class ScoreCalibrator:
    """Confidence -> probability of being right, fitted on the holdout (scikit-learn's
    contract: parameters in ``__init__``, learnt state with a trailing underscore).

    ``method`` is ``"auto"`` (the better by cross-validated Brier score) or one of
    :data:`CALIBRATION_METHODS`.
    """

    def __init__(self, method: str = "auto", folds: int = 5, seed: int = 0) -> None:
        if method != "auto" and method not in CALIBRATION_METHODS:
            raise ValueError(
                f"unknown calibration method {method!r}; available: auto, "
                f"{', '.join(CALIBRATION_METHODS)}."
            )
        self.method = method
        self.folds = folds
        self.seed = seed

    def fit(self, confidence: npt.ArrayLike, correct: npt.ArrayLike) -> ScoreCalibrator:
        conf = np.asarray(confidence, dtype=float)
        y = np.asarray(correct, dtype=float)
        if conf.shape != y.shape or conf.ndim != 1 or conf.size < 2:
            raise ValueError(
                "calibrating scores needs at least 2 holdout rows of (confidence, correct); "
                f"got shapes {conf.shape} and {y.shape}. Log a larger labelled reference."
            )
        order = np.random.default_rng(self.seed).permutation(conf.size)
        folds = np.array_split(order, min(self.folds, conf.size))
        brier: dict[str, float] = {}
        errors: dict[str, npt.NDArray[np.float64]] = {}
        for name in CALIBRATION_METHODS:
            err = np.zeros(conf.size)
            for test in folds:
                train = np.setdiff1d(order, test, assume_unique=True)
                p = self._fit_predict(name, conf[train], y[train], conf[test])
                err[test] = (p - y[test]) ** 2
            errors[name] = err
            brier[name] = float(err.mean())
        chosen = (
            min(CALIBRATION_METHODS, key=lambda m: brier[m])
            if self.method == "auto"
            else self.method
        )
        self.method_ = chosen
        self.brier_ = brier
        #: each row's squared error out of fold, under the chosen map
        self.cv_errors_ = errors[chosen]
        self.n_ = int(conf.size)
        self.temperature_ = _fit_temperature(conf, y)
        self.isotonic_ = _fit_isotonic(conf, y)
        return self

    @staticmethod
    def _fit_predict(
        name: str,
        conf: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        new: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        if name == "temperature":
            return _temperature_map(new, _fit_temperature(conf, y))
        x, v = _fit_isotonic(conf, y)
        return _isotonic_map(new, x, v)

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "method_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this ScoreCalibrator is not fitted yet; call fit first.")

    def predict(self, confidence: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The calibrated probability that the predicted class is right."""
        self._check_is_fitted()
        conf = np.asarray(confidence, dtype=float)
        if self.method_ == "temperature":
            return _temperature_map(conf, self.temperature_)
        return _isotonic_map(conf, *self.isotonic_)

    def to_dict(self) -> dict[str, Any]:
        self._check_is_fitted()
        return {
            "method": self.method_,
            "brier": self.brier_,
            "n": self.n_,
            "temperature": self.temperature_,
            "isotonic": {"x": self.isotonic_[0], "y": self.isotonic_[1]},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreCalibrator:
        out = cls(method=str(data["method"]))
        out.method_ = str(data["method"])
        out.brier_ = {str(k): float(v) for k, v in data["brier"].items()}
        out.n_ = int(data["n"])
        out.temperature_ = float(data["temperature"])
        iso = data["isotonic"]
        out.isotonic_ = ([float(x) for x in iso["x"]], [float(v) for v in iso["y"]])
        return out
