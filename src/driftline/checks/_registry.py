"""The one table of check names, and the drift methods' effect floors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "alert", "insufficient", "no_data"]


@dataclass(frozen=True)
class CheckInfo:
    name: str
    method: str
    min_effect: float
    description: str


CHECKS: dict[str, CheckInfo] = {
    info.name: info
    for info in [
        CheckInfo(
            "class_mix",
            "jensen_shannon",
            0.05,
            "predicted-class mix vs the reference's predicted mix (Jensen-Shannon distance)",
        ),
        CheckInfo(
            "confidence_shift",
            "mean_difference",
            0.02,
            "mean confidence (max score) minus the reference's mean confidence",
        ),
        CheckInfo(
            "missing_fraction",
            "missing_fraction_change",
            0.05,
            "share of missing (null or NaN) values minus the reference's share",
        ),
        CheckInfo(
            "out_of_range",
            "rate",
            0.01,
            "share of non-missing values outside the reference's [min, max]",
        ),
        CheckInfo(
            "unseen_category",
            "rate",
            0.01,
            "share of values not among the reference's categories (bound: Good-Turing)",
        ),
        CheckInfo(
            "class_prior",
            "jensen_shannon",
            0.05,
            "predicted-class mix vs the training class prior (labels of the reference), beyond "
            "the distance the model already had on the reference",
        ),
        CheckInfo(
            "feature_drift",
            "spec.drift",
            0.1,
            "distribution of a numeric or categorical feature vs the reference, by the "
            "method spec.drift chooses (effect floors per method: DRIFT_FLOORS)",
        ),
        CheckInfo(
            "text_drift",
            "spec.drift",
            0.1,
            "distribution of a text style feature (length, digits, OOV rate, ...) vs the reference",
        ),
        CheckInfo("missing_column", "schema", 0.0, "share of rows from batches lacking a column"),
        CheckInfo(
            "type_change",
            "schema",
            0.0,
            "share of rows from batches whose column type differs from the reference",
        ),
        CheckInfo("extra_column", "schema", 0.0, "columns logged that the spec does not know"),
        CheckInfo(
            "timestamp_era",
            "schema",
            0.0,
            "share of rows timestamped before the reference's first timestamp or after the "
            "time of the check, by more than checks.timestamp_tolerance (overall scope; names "
            "the first ids)",
        ),
    ]
}


#: Smallest effect that can alert, per drift method, whatever the window size. The
#: effect is the statistic itself, except chi2 (Cramer's V, sqrt(chi2 / n)) and
#: wasserstein (in units of the reference's standard deviation). 0.1 is the classic
#: "minor shift" line for PSI; the others are set to flag shifts of similar visibility.
DRIFT_FLOORS: dict[str, float] = {
    "chi2": 0.1,
    "jensen_shannon": 0.1,
    "ks": 0.1,
    "psi": 0.1,
    "wasserstein": 0.1,
}


#: Checks that compare distributions column by column (the drift heatmap rows).
DRIFT_CHECKS = ("feature_drift", "text_drift")
