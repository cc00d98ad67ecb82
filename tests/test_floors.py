"""Two levels of drift: warn beyond the calibrated bound, alert beyond the bound and the
materiality floor; floors configured in one place (``checks.floors``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline._catalog import DEFAULT_CHECK_FLOORS, DEFAULT_FLOORS
from driftline.checks import CheckResult
from driftline.errors import ConfigError
from driftline.methods import available_methods
from driftline.spec import Floors

SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {"a": "score_a", "b": "score_b"}},
    "features": {"numeric": ["x", "steady"]},
    "window": "1d",
}


def frame(n: int, shift: float, seed: int, start: str, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n)
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n) % 86400, "s"),
            "pred": np.where(p > 0.5, "b", "a"),
            "score_a": 1 - p,
            "score_b": p,
            "x": rng.normal(shift, 1.0, n),
            "steady": rng.normal(0.0, 1.0, n),
        }
    )


def drift_of(tmp_path: Path, shift: float, n: int, **checks: Any) -> CheckResult:
    spec = {**SPEC, "checks": checks}
    with driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json") as mon:
        mon.log_reference(frame(20_000, 0.0, 1, "2024-01-01", "r"))
        mon.log_predictions(frame(n, shift, 2, "2024-02-01", "w"))
        report = mon.check(persist=True)
        stored = mon.store.con.execute(
            "SELECT status, floor, floor_how, decided_by, bound FROM results "
            """WHERE "check" = 'feature_drift' AND "column" = 'x' AND cohort IS NULL"""
        ).fetchall()
    [result] = [r for r in report.results if r.check == "feature_drift" and r.column == "x"]
    assert stored == [
        (result.status, result.floor, result.floor_how, result.decided_by, result.bound)
    ]
    return result


def test_small_real_shift_on_a_large_window_warns(tmp_path: Path) -> None:
    r = drift_of(tmp_path, 0.06, 80_000)
    assert r.value is not None
    assert r.bound is not None
    assert r.floor is not None
    assert r.bound < r.value < r.floor  # statistically real, below materiality
    assert r.status == "warn"
    assert r.floor == DEFAULT_FLOORS["psi"]
    assert r.floor_how is not None
    assert r.floor_how.startswith("default floor of psi, beyond the no-drift mean ")
    assert r.decided_by == "floor"


def test_large_shift_alerts(tmp_path: Path) -> None:
    r = drift_of(tmp_path, 0.6, 80_000)
    assert r.value is not None
    assert r.floor is not None
    assert r.bound is not None
    assert r.value > max(r.floor, r.bound)
    assert r.status == "alert"


def test_no_shift_is_ok(tmp_path: Path) -> None:
    r = drift_of(tmp_path, 0.0, 80_000)
    assert r.status == "ok"


def test_a_column_floor_turns_the_warning_into_an_alert(tmp_path: Path) -> None:
    r = drift_of(tmp_path, 0.06, 80_000, floors={"columns": {"x": 0.001}})
    assert r.status == "alert"
    assert (r.floor, r.decided_by) == (0.001, "bound")
    assert r.floor_how is not None
    assert r.floor_how.startswith("checks.floors.columns.x, beyond the no-drift mean ")


def no_drift_mean(r: CheckResult) -> float:
    assert r.floor_how is not None
    return float(r.floor_how.rsplit(" ", 1)[1])


def test_a_shift_as_small_as_nannymls_alerts_at_its_chunk_size(tmp_path: Path) -> None:
    """NannyML's multiclass set loses 19 points of accuracy to shifts of KS 0.05-0.09:
    a 0.2 sd shift (KS 0.08) at its chunk size, 6,000 rows, is material by default."""
    r = drift_of(tmp_path, 0.2, 6000)
    assert r.status == "alert"
    assert r.effect is not None
    assert r.effect - no_drift_mean(r) > DEFAULT_FLOORS["psi"]


def test_what_chance_adds_to_a_small_window_does_not_meet_the_floor(tmp_path: Path) -> None:
    """The floor is met by the effect beyond its no-drift mean at the window's size: a
    floor just below the effect, but above what the effect has beyond that mean, warns."""
    r = drift_of(tmp_path, 0.3, 1000)
    assert r.effect is not None
    bias = no_drift_mean(r)
    assert 0 < bias < r.effect
    floor = r.effect - bias / 2  # below the effect, above the effect beyond the mean
    (tmp_path / "again").mkdir()
    again = drift_of(tmp_path / "again", 0.3, 1000, floors={"columns": {"x": floor}})
    assert (r.status, again.status) == ("alert", "warn")


def test_on_a_small_window_the_calibrated_bound_decides(tmp_path: Path) -> None:
    r = drift_of(tmp_path, 0.0, 300)
    assert r.bound is not None
    assert r.floor is not None
    assert r.bound > r.floor
    assert r.decided_by == "bound"


def test_a_fixed_bound_has_no_floor(tmp_path: Path) -> None:
    r = drift_of(tmp_path, 0.06, 80_000, fixed_bounds={"feature_drift": 0.001})
    assert (r.status, r.floor, r.decided_by, r.bound) == ("alert", None, "fixed", 0.001)


def test_floors_resolve_column_then_check_then_method_then_default() -> None:
    floors = Floors(
        methods={"psi": 0.3}, checks={"feature_drift": 0.2}, columns={"x": 0.1, "txt": 0.4}
    )
    assert floors.resolve("feature_drift", "psi", "x") == (0.1, "checks.floors.columns.x")
    by_check = (0.2, "checks.floors.checks.feature_drift")
    assert floors.resolve("feature_drift", "psi", "y") == by_check
    assert floors.resolve("missing_fraction", "psi", None) == (0.3, "checks.floors.methods.psi")
    assert floors.resolve("confidence_shift", "ks", None) == (
        DEFAULT_FLOORS["ks"],
        "default floor of ks",
    )
    # a text column's floor covers its style features
    assert floors.resolve("text_drift", "psi", "txt:length") == (0.4, "checks.floors.columns.txt")
    assert Floors().resolve("class_mix", "jensen_shannon", None) == (
        DEFAULT_CHECK_FLOORS["class_mix"],
        "default floor of class_mix",
    )
    assert Floors(methods={"jensen_shannon": 0.01}).resolve(
        "class_mix", "jensen_shannon", None
    ) == (DEFAULT_CHECK_FLOORS["class_mix"], "default floor of class_mix")


def test_every_drift_method_has_a_default_floor() -> None:
    assert set(available_methods()) <= set(DEFAULT_FLOORS)


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ({"floors": {"methods": {"pis": 0.1}}}, "unknown method 'pis' in floors.methods"),
        ({"floors": {"checks": {"clas_mix": 0.1}}}, "unknown check 'clas_mix' in floors.checks"),
        ({"floors": {"columns": {"nope": 0.1}}}, "checks.floors.columns names 'nope'"),
        ({"floors": {"methods": {"psi": -1}}}, "floors are numbers >= 0"),
        ({"floors": {"psi": 0.1}}, "unknown key 'checks.floors.psi'"),
        ({"min_effect": {"psi": 0.1}}, "checks.min_effect is now checks.floors"),
    ],
)
def test_bad_floors_name_the_fix(checks: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        driftline.load_spec({**SPEC, "checks": checks})
    assert message in str(info.value)


def test_the_plan_prints_the_floors_applied(tmp_path: Path) -> None:
    spec = {**SPEC, "checks": {"floors": {"methods": {"psi": 0.07}, "columns": {"x": 0.5}}}}
    with driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json") as mon:
        mon.log_reference(frame(2000, 0.0, 1, "2024-01-01", "r"))
        mon.log_predictions(frame(500, 0.0, 2, "2024-02-01", "w"))
        plan = mon.check(persist=False).plan
    assert plan["floors"]["methods"] == {**DEFAULT_FLOORS, "psi": 0.07}
    assert plan["floors"]["columns"] == {"x": 0.5}
    assert "no-drift mean" in plan["floors"]["rule"]
    assert plan["checks"]["confidence_shift"]["floor"] == DEFAULT_FLOORS["mean_difference"]
    assert plan["drift"]["numeric"] == "psi"


def test_a_store_from_before_the_floors_gains_the_result_columns(tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    con.execute(
        "CREATE TABLE results (run_id VARCHAR, created_at TIMESTAMP, window_start TIMESTAMP, "
        'window_end TIMESTAMP, cohort VARCHAR, cohort_value VARCHAR, "check" VARCHAR, '
        '"column" VARCHAR, method VARCHAR, value DOUBLE, bound DOUBLE, effect DOUBLE, '
        "status VARCHAR, n BIGINT, bound_how VARCHAR, details JSON)"
    )
    con.close()
    r = drift_of(tmp_path, 0.6, 5000)
    assert r.status == "alert"
