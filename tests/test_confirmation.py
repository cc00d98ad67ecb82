"""Confirmation within a window (``checks.confirm_quantile``, ``checks._bounds``).

Once a drift result of a window and cohort value alerts by the usual rule (its 0.999
no-drift quantile at the size grid's point, and its floor), the other drift results of
that window and cohort value are judged at their ``confirm_quantile`` at the window's own
size. A window without such an alert is decided exactly as with confirmation off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline.checks import run_checks
from driftline.engine import SparkEngine
from driftline.errors import ConfigError
from driftline.methods import calibrate_bound
from driftline.spec import Spec, load_spec

DAYS = 8
ROWS = 400  # a day: calibrated at the size grid's 362 for the alert, at 400 to confirm
DRIFT_FROM = 4  # days 0-3 as the reference, days 4-7 drifted


def _rows(n: int, seed: int, start: pd.Timestamp, drifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(2), size=n)
    return pd.DataFrame(
        {
            "id": [f"{seed}-{i}" for i in range(n)],
            "ts": start + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, n)), unit="s"),
            "pred": np.where(probs[:, 0] > 0.5, "no", "yes"),
            "p_no": probs[:, 0],
            "p_yes": probs[:, 1],
            # a: a large shift any rule catches; b: a slight widening; c: a slight change
            # of mix; d: never drifts
            "a": rng.normal(1.0 if drifted else 0.0, 1.0, n),
            "b": rng.normal(0.0, 1.2 if drifted else 1.0, n),
            "c": rng.choice(
                ["p", "q", "r"], n, p=[0.33, 0.38, 0.29] if drifted else [0.4, 0.35, 0.25]
            ),
            "d": rng.normal(5.0, 2.0, n),
        }
    )


def _spec(**checks: Any) -> dict[str, Any]:
    return {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {"no": "p_no", "yes": "p_yes"}},
        "features": {"numeric": ["a", "b", "d"], "categorical": ["c"]},
        "window": "1d",
        "checks": checks,
    }


def _traffic() -> pd.DataFrame:
    start = pd.Timestamp("2024-05-01", tz="UTC")
    days = [
        _rows(ROWS, 100 + d, start + pd.Timedelta(days=d), d >= DRIFT_FROM) for d in range(DAYS)
    ]
    return pd.concat(days, ignore_index=True)


def _check(tmp_path: Path, name: str, **checks: Any) -> tuple[Any, Any, Spec, Any]:
    """The check report, the stored predictions (Arrow), the spec and the profile."""
    store = tmp_path / f"{name}.duckdb"
    with driftline.connect(store, _spec(**checks), profile=store.with_suffix(".json")) as mon:
        mon.log_reference(_rows(5000, 7, pd.Timestamp("2024-04-01", tz="UTC"), False))
        mon.log_predictions(_traffic())
        report = mon.check(persist=False)
        sql = "SELECT * REPLACE (CAST(_raw AS VARCHAR) AS _raw) FROM predictions"
        stored = mon.store.con.execute(sql).to_arrow_table()
        return report, stored, mon.spec, mon.profile


def _drift(report: Any) -> dict[tuple[int, str | None, str | None], Any]:
    return {
        (r.window, r.cohort_value, r.column): r
        for r in report.results
        if r.check in ("feature_drift", "score_drift")
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("confirm")
    on = _check(tmp, "on")
    off = _check(tmp, "off", confirm_quantile=None)
    return {"on": on, "off": off}


def test_confirmation_is_in_the_plan(runs: dict[str, Any]) -> None:
    assert runs["on"][0].plan["confirm_quantile"] == 0.995
    assert runs["off"][0].plan["confirm_quantile"] is None


def test_a_window_without_an_alert_is_decided_as_without_confirmation(
    runs: dict[str, Any],
) -> None:
    on, off = _drift(runs["on"][0]), _drift(runs["off"][0])
    assert on.keys() == off.keys()
    quiet = {w for (w, _, _), r in off.items()} - {
        w for (w, _, _), r in off.items() if r.status == "alert"
    }
    assert len(quiet) == DRIFT_FROM  # the days before the drift: no alert at all
    for key, r in on.items():
        if key[0] in quiet:
            assert r == off[key]


def test_a_drifted_window_confirms_the_slighter_changes(runs: dict[str, Any]) -> None:
    """``a`` alerts by the usual rule every drifted day; ``b`` and ``c``, slighter, alert
    by confirmation on days the usual rule leaves them ok or warn. Every confirmed
    result's bound is the confirmation quantile at the window's own size, recomputed
    here by ``calibrate_bound`` from the profile's reference counts."""
    report, _, spec, profile = runs["on"]
    on, off = _drift(report), _drift(runs["off"][0])
    drifted_days = {w for (w, _, c), r in on.items() if c == "a" and r.status == "alert"}
    assert len(drifted_days) == DAYS - DRIFT_FROM
    confirmed = []
    for key, r in on.items():
        before = off[key]
        if before.status == "alert":
            assert r == before  # an alert stays as the usual rule decided it
            continue
        if r == before:
            assert r.status in ("ok", "warn", "insufficient")
            continue
        confirmed.append(r)
        assert r.status == "alert"
        assert r.window in drifted_days
        assert "confirmed: feature_drift of a alerted" in r.bound_how
        if r.column in profile.bin_counts_:  # numeric: the profile holds its counts
            # with a pseudo-count of 1 in a bin beyond each end of the reference's range
            ref = [1, *profile.bin_counts_[r.column], 1]
            q = spec.checks.confirm_quantile
            cal = calibrate_bound(r.method, ref, r.n, quantile=q, seed=0)
            assert r.bound == pytest.approx(cal.bound, rel=1e-12)
        assert abs(r.value) > r.bound
        assert f"q0.995 of 1000 no-drift resamples (window n={r.n}," in r.bound_how
    assert {r.column for r in confirmed} == {"b", "c"}  # a numeric and a categorical one
    caught_on = sum(on[(w, None, c)].status == "alert" for w in drifted_days for c in "bc")
    caught_off = sum(off[(w, None, c)].status == "alert" for w in drifted_days for c in "bc")
    assert caught_on > caught_off
    # the column that never drifts: not confirmed into an alert by chance here
    assert all(on[(w, None, "d")].status != "alert" for w in drifted_days)


@pytest.mark.spark
def test_confirmation_is_the_same_on_spark(runs: dict[str, Any], spark: Any) -> None:
    report, stored, spec, profile = runs["on"]
    spark.createDataFrame(stored).createOrReplaceTempView("confirm_predictions")
    engine = SparkEngine(spark)
    got = run_checks(engine, engine.table("confirm_predictions"), spec, profile)
    want = _drift(report)
    have = _drift(got)
    assert have.keys() == want.keys()
    for key, w in want.items():
        g = have[key]
        assert (g.status, g.n, g.bound_how) == (w.status, w.n, w.bound_how)
        assert g.value == pytest.approx(w.value, rel=1e-9, abs=1e-12)
        assert g.bound == pytest.approx(w.bound, rel=1e-12)
    assert any("confirmed" in r.bound_how for r in have.values())


def test_a_confirm_quantile_not_below_the_alert_quantile_is_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"confirm_quantile 0\.999 is not below checks\.alert_quantile 0\.999.*null",
    ):
        load_spec(_spec(confirm_quantile=0.999))
    # the default above an alert quantile set lower: confirmation is off, not an error
    lowered = load_spec(_spec(alert_quantile=0.99)).checks
    assert lowered.confirm_quantile == 0.995
    assert lowered.confirm_at is None
