"""The one table of check names (their floors: ``driftline._catalog.DEFAULT_FLOORS``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "alert", "insufficient", "no_data"]


@dataclass(frozen=True)
class CheckInfo:
    name: str
    method: str
    description: str


CHECKS: dict[str, CheckInfo] = {
    info.name: info
    for info in [
        CheckInfo(
            "class_mix",
            "jensen_shannon",
            "predicted-class mix vs the reference's predicted mix (Jensen-Shannon distance)",
        ),
        CheckInfo(
            "confidence_shift",
            "mean_difference",
            "mean confidence (max score) minus the reference's mean confidence",
        ),
        CheckInfo(
            "missing_fraction",
            "missing_fraction_change",
            "share of missing (null or NaN) values minus the reference's share",
        ),
        CheckInfo(
            "out_of_range",
            "rate",
            "share of non-missing values outside the reference's [min, max]",
        ),
        CheckInfo(
            "unseen_category",
            "rate",
            "share of values not among the reference's categories (bound: Good-Turing)",
        ),
        CheckInfo(
            "class_prior",
            "jensen_shannon",
            "predicted-class mix vs the training class prior (labels of the reference), beyond "
            "the distance the model already had on the reference",
        ),
        CheckInfo(
            "feature_drift",
            "spec.drift",
            "distribution of a numeric or categorical feature vs the reference, by the "
            "method spec.drift chooses",
        ),
        CheckInfo(
            "text_drift",
            "spec.drift",
            "distribution of a text style feature (length, digits, OOV rate, ...) vs the reference",
        ),
        CheckInfo("missing_column", "schema", "share of rows from batches lacking a column"),
        CheckInfo(
            "type_change",
            "schema",
            "share of rows from batches whose column type differs from the reference",
        ),
        CheckInfo("extra_column", "schema", "columns logged that the spec does not know"),
        CheckInfo(
            "timestamp_era",
            "schema",
            "share of rows timestamped before the reference's first timestamp or after the "
            "time of the check, by more than checks.timestamp_tolerance (overall scope; names "
            "the first ids)",
        ),
    ]
}


#: Checks that compare distributions column by column (the drift heatmap rows).
DRIFT_CHECKS = ("feature_drift", "text_drift")
