"""Columns with no value. A feature the reference holds no value of (null on every row,
overall or in one cohort value's rows) is judged where it can be and said undecidable
where it cannot: every check and report of such a store failed with an internal message
from the drift method ("argument 'reference' has all-zero counts"). A served column null
on every row is missing values, not a type change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import driftline


def _served(make_predictions: Any) -> pd.DataFrame:
    served = make_predictions(240, seed=2, id_prefix="p")  # two days, ~60 rows a segment
    served["ts"] = pd.date_range("2024-02-01", periods=240, freq="12min", tz="UTC")
    return served


def test_a_categorical_feature_null_in_the_whole_reference(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    ref = make_predictions(400, seed=1, id_prefix="ref")
    ref["color"] = None
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(ref)
        mon.log_predictions(_served(make_predictions))
        report = mon.check()
    drift = [r for r in report.results if r.check == "feature_drift" and r.column == "color"]
    assert drift
    assert {r.status for r in drift} == {"insufficient"}
    assert all("the reference holds no value of 'color'" in r.bound_how for r in drift)
    missing = [r for r in report.results if r.check == "missing_fraction" and r.column == "color"]
    assert {r.status for r in missing if r.cohort is None} == {"alert"}


def test_a_categorical_feature_null_in_one_cohort_values_reference(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    ref = make_predictions(1200, seed=1, id_prefix="ref")
    ref.loc[ref["segment"] == "north", "color"] = None
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(ref)
        mon.log_predictions(_served(make_predictions))
        report = mon.check()
    north = [
        r
        for r in report.results
        if r.check == "feature_drift" and r.column == "color" and r.cohort_value == "north"
    ]
    assert north  # judged against the overall reference, which has the values
    assert {r.status for r in north} <= {"ok", "alert"}


def test_a_served_column_null_on_every_row_is_missing_not_retyped(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """A batch's column with no value has no type of its own: Parquet's null type reads
    as INTEGER and was a critical `type_change` of a categorical column; it is a
    missing-value spike, as an absent column's values would be."""
    served = _served(make_predictions)
    served["color"] = None  # pandas writes an all-None column as Parquet's null type
    served["x"] = None
    served.to_parquet(tmp_path / "served.parquet", index=False)
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(make_predictions(400, seed=1, id_prefix="ref"))
        mon.log_predictions(tmp_path / "served.parquet")
        report = mon.check()
    by_check = {
        (r.check, r.column): r.status
        for r in report.results
        if r.cohort is None and r.column in ("color", "x")
    }
    assert by_check[("type_change", "color")] == "ok"
    assert by_check[("type_change", "x")] == "ok"
    assert by_check[("missing_fraction", "color")] == "alert"
    assert by_check[("missing_fraction", "x")] == "alert"
