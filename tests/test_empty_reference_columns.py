"""Columns with no value. A feature the reference holds no value of (null on every row,
overall or in one cohort value's rows) is judged where it can be and said undecidable
where it cannot: every check and report of such a store failed with an internal message
from the drift method ("argument 'reference' has all-zero counts"). A served column null
on every row is missing values, not a type change, and in a window too small to judge
(checks.min_rows) it is still decided, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import driftline


def _served(make_predictions: Any) -> pd.DataFrame:
    """Two days of 120 rows (about 60 a segment)."""
    return make_predictions(240, seed=2, id_prefix="p", start="2024-02-01", freq="12min")


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


def _small_days(make_predictions: Any, rows: int) -> pd.DataFrame:
    """Two days of ``rows`` rows each (below checks.min_rows, 30)."""
    served = make_predictions(2 * rows, seed=3, id_prefix="s")
    day = pd.Timestamp("2024-02-01", tz="UTC")
    served["ts"] = [day + pd.Timedelta(days=i // rows, minutes=i % rows) for i in range(2 * rows)]
    return served


@pytest.mark.parametrize(
    ("p_ref", "rows"), [(0.0, 25), (0.0, 5), (0.0, 4), (0.3, 5), (0.3, 8), (0.5, 9), (0.9, 25)]
)
def test_a_small_window_missing_a_feature_on_every_row_is_decided_exactly(
    tmp_path: Path, make_spec: Any, make_predictions: Any, p_ref: float, rows: int
) -> None:
    """Below checks.min_rows no feature is judged, so a feature missing on every row
    raised nothing; from 5 rows it is judged as a column not logged is: it alerts when
    the binomial chance of that many missing values at the reference's share (half a
    pseudo-count added; scipy) is below 1 - alert_quantile. Fewer rows: no result."""
    ref = make_predictions(1000, seed=1, id_prefix="ref")
    ref.loc[: int(1000 * p_ref) - 1, "x"] = np.nan
    served = _small_days(make_predictions, rows)
    served["x"] = np.nan
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(ref)
        mon.log_predictions(served)
        quantile = mon.spec.checks.alert_quantile
        report = mon.check()
    got = [r for r in report.results if r.check == "missing_fraction" and r.column == "x"]
    overall = [r for r in got if r.cohort is None]
    if rows < 5:
        assert got == []
        return
    assert len(overall) == 2
    chance = binom.sf(rows - 1, rows, (p_ref * 1000 + 0.5) / 1001)
    want = "alert" if chance < 1 - quantile else "ok"
    for r in overall:
        assert r.n == rows
        assert r.value == pytest.approx(1 - p_ref)
        assert r.status == want, (r.bound, r.bound_how)
        assert "exact binomial" in r.bound_how


def test_a_small_window_with_the_feature_on_some_rows_is_still_not_judged(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    served = _small_days(make_predictions, 10)
    served.loc[::2, "x"] = np.nan
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(make_predictions(400, seed=1, id_prefix="ref"))
        mon.log_predictions(served)
        report = mon.check()
    assert not [r for r in report.results if r.check == "missing_fraction" and r.column == "x"]
