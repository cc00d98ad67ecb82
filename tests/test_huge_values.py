"""Numbers too large for moments (a placeholder such as the largest double, 1e155 from a
unit bug) count with +-inf beyond :data:`~driftline._catalog.MOMENT_LIMIT`: out of range,
their own share, out of the moments. One such value made DuckDB's variance overflow, and
every later check of the store (or fit of the reference) failed as an internal error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import driftline


def _decisions(report: Any) -> list[tuple[Any, ...]]:
    return [
        (r.window, r.cohort, r.cohort_value, r.check, r.column, r.status, r.value, r.bound)
        for r in report.results
    ]


def _results(report: Any, check: str) -> dict[tuple[str | None, str], Any]:
    return {
        (r.cohort_value, r.window_start): r
        for r in report.results
        if r.check == check and r.column == "x" and r.status != "no_data"
    }


def test_huge_served_values_are_out_of_range_not_a_broken_store(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    served = _served(make_predictions)
    served.loc[[3, 40], "x"] = [1e155, -sys.float_info.max]
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(make_predictions(400, seed=1, id_prefix="ref"))
        mon.log_predictions(served)
        report = mon.check()
        again = mon.check(full=True)
    # decided alike when every window is computed again (details hold the time of the
    # check: the era's latest allowed timestamp is now + tolerance)
    assert _decisions(report) == _decisions(again)
    out = _results(report, "out_of_range")[(None, "2024-02-01T00:00:00Z")]
    assert out.status == "alert"
    assert [out.details[k] for k in ("below", "above", "non_finite")] == [1, 1, 2]
    assert "(2 of them +-inf or beyond +-1e+100)" in out.details["summary"]


def _served(make_predictions: Any) -> Any:
    """Two windows of 48 rows (enough to decide on)."""
    return make_predictions(96, seed=2, id_prefix="p", start="2024-02-01", freq="30min")


def test_a_reference_holding_the_largest_double_fits(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    ref = make_predictions(400, seed=1, id_prefix="ref")
    ref.loc[:2, "x"] = sys.float_info.max
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(ref)
        column = mon.profile.columns_["x"]
        kept = ref["x"].iloc[3:]
        assert column["mean"] == pytest.approx(kept.mean())
        assert column["non_finite_fraction"] == pytest.approx(3 / 400)
        mon.log_predictions(_served(make_predictions))
        assert mon.check().results


@pytest.mark.spark
def test_huge_values_read_in_place_agree_on_both_engines(
    tmp_path: Path, make_spec: Any, make_predictions: Any, spark: Any
) -> None:
    ref = make_predictions(400, seed=1, id_prefix="ref")
    ref.loc[:2, "x"] = sys.float_info.max
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    served = _served(make_predictions)
    served.loc[[3, 40], "x"] = [1e155, -1e300]
    days = tmp_path / "days"
    days.mkdir()
    served.to_parquet(days / "d.parquet", index=False)
    found = {}
    for name, session in (("duckdb", None), ("spark", spark)):
        with driftline.connect(tmp_path / f"{name}.duckdb", make_spec(), spark=session) as mon:
            mon.fit_profile(reference=tmp_path / "ref.parquet")
            assert mon.profile.columns_["x"]["non_finite_fraction"] == pytest.approx(3 / 400)
            report = mon.check(predictions=days, persist=False)
            found[name] = {
                key: (r.status, r.details["non_finite"], r.value)
                for key, r in _results(report, "out_of_range").items()
            }
    assert found["duckdb"] == found["spark"]
    assert found["duckdb"][(None, "2024-02-01T00:00:00Z")][:2] == ("alert", 2)
