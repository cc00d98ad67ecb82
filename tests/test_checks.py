"""Windowed checks: aggregates against pandas, rolling windows, bounds, results."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import driftline
import driftline.errors
from driftline._catalog import DEFAULT_FLOORS
from driftline.checks import CHECKS, Moments, merge_moments
from driftline.errors import ConfigError, EmptyWindowError

SpecFactory = Callable[..., dict[str, Any]]
PredictionsFactory = Callable[..., pd.DataFrame]


def traffic(make_predictions: PredictionsFactory, n: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Predictions over ~10 days, with an empty day and NaN/null feature values."""
    df = make_predictions(n, seed=seed, id_prefix="t", start="2024-03-01")
    rng = np.random.default_rng(seed)
    df["ts"] = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, 10 * 86400, n), unit="s"
    )
    df = df[df["ts"].dt.day != 6].reset_index(drop=True)  # 2024-03-06 stays empty
    df.loc[rng.random(len(df)) < 0.05, "x"] = np.nan
    df.loc[rng.random(len(df)) < 0.05, "y"] = None
    return df


@pytest.fixture
def monitor(tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory) -> Any:
    mon = driftline.connect(tmp_path / "c.duckdb", make_spec(), profile=tmp_path / "p.json")
    mon.log_reference(make_predictions(2000, seed=7, id_prefix="ref"))
    yield mon
    mon.close()


def confidence(df: pd.DataFrame) -> pd.Series:
    return df[["score_a", "score_b", "score_c"]].max(axis=1)


def test_a_window_below_min_rows_still_says_a_column_was_dropped_or_retyped(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """A column not logged or logged as another type is a fact of the window's batches:
    a window of 12 rows (under ``checks.min_rows``, 30) is too small for drift but
    still gets its ``missing_column`` and ``type_change`` alerts, in every scope, and
    the incidents name them; its statistical checks stay ``insufficient``."""
    big = make_predictions(600, seed=1, id_prefix="a", start="2024-03-01")
    big["ts"] = pd.date_range("2024-03-01", periods=600, freq="2min", tz="UTC")
    small = make_predictions(12, seed=2, id_prefix="b", start="2024-03-03")
    small["x"] = [f"{v:.3f}" for v in small["x"]]
    monitor.log_predictions(big)
    monitor.log_predictions(small.drop(columns=["color"]), batch_id="small-day")
    report = monitor.check(persist=False)
    day = "2024-03-03T00:00:00Z"
    got = {
        (r.cohort_value, r.check, r.column): r.status
        for r in report.results
        if r.window_start == day
    }
    for value in (None, *sorted(set(small["segment"]))):
        assert got[(value, "missing_column", "color")] == "alert"
        assert got[(value, "type_change", "x")] == "alert"
        assert got[(value, "missing_column", "x")] == "ok"
        assert got[(value, "class_mix", None)] == "insufficient"
        assert (value, "feature_drift", "y") not in got
    lost = {i.root_cause.schema.check: i for i in report.incidents if i.root_cause.schema}
    assert sorted(lost) == ["missing_column", "type_change"]
    assert lost["missing_column"].root_cause.schema.first_batch == "small-day"


def test_window_aggregates_match_pandas(monitor: Any, make_predictions: PredictionsFactory) -> None:
    df = traffic(make_predictions)
    monitor.log_predictions(df.iloc[:1000])
    monitor.log_predictions(df.iloc[1000:])
    report = monitor.check(persist=False)
    df = df.assign(conf=confidence(df), day=df["ts"].dt.floor("D"))
    expected: dict[tuple[str | None, str | None], pd.DataFrame] = {(None, None): df}
    for value, part in df.groupby("segment"):
        expected[("segment", str(value))] = part
    seen = 0
    for s in report.stats:
        part = expected[(s.cohort, s.cohort_value)]
        rows = part[part["day"] == pd.Timestamp(s.window_start)]
        assert s.n == len(rows)
        if s.n == 0:
            assert s.conf_mean is None
            continue
        seen += 1
        assert s.conf_mean == pytest.approx(rows["conf"].mean(), abs=1e-9)
        if s.n > 1:
            assert s.conf_var == pytest.approx(rows["conf"].var(ddof=1), abs=1e-9)
        assert s.conf_min == pytest.approx(rows["conf"].min(), abs=1e-12)
        assert s.conf_max == pytest.approx(rows["conf"].max(), abs=1e-12)
        assert s.class_counts == rows["pred"].value_counts().to_dict()
        # approximate quantiles: within 2 % of rank of the exact ones
        for q, got in zip((0.1, 0.5, 0.9), (s.conf_p10, s.conf_p50, s.conf_p90), strict=True):
            lo = np.quantile(rows["conf"], max(q - 0.02, 0), method="lower")
            hi = np.quantile(rows["conf"], min(q + 0.02, 1), method="higher")
            assert lo - 1e-12 <= got <= hi + 1e-12
    assert seen >= 9 * 3
    # the empty day is not a window of the check: it is a gap, reported as a range
    assert not [s for s in report.stats if s.window_start.startswith("2024-03-06")]
    assert report.gaps == [
        {"start": "2024-03-06T00:00:00Z", "end": "2024-03-07T00:00:00Z", "windows": 1}
    ]
    assert json.loads(report.to_json())["gaps"] == report.gaps


def test_stray_timestamps_cost_their_rows_not_their_span(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """One row in 1970 and one in 2200 add a window each (not the 80,000 windows between
    them), the empty stretches are compact gaps, and a ``timestamp_era`` result names
    each stray row: before the reference's first timestamp, later than now + the
    tolerance."""
    df = make_predictions(300, seed=3, id_prefix="p", start="2024-03-01")
    df.loc[0, "ts"] = pd.Timestamp("1970-01-02 10:00", tz="UTC")
    df.loc[0, "id"] = "stray-" + "x" * 500  # a long id is shortened in the result
    df.loc[1, "ts"] = pd.Timestamp("2200-06-01", tz="UTC")
    monitor.log_predictions(df, batch_id="strays")
    report = monitor.check(persist=False)
    overall = sorted({s.window_start for s in report.stats if s.cohort is None})
    days = sorted({str(d.date()) for d in df["ts"]})
    assert overall == [f"{d}T00:00:00Z" for d in days]
    assert [g["windows"] for g in report.gaps] == [
        (pd.Timestamp(b) - pd.Timestamp(a)).days - 1
        for a, b in itertools.pairwise(days)
        if (pd.Timestamp(b) - pd.Timestamp(a)).days > 1
    ]
    assert report.gaps[0]["start"] == "1970-01-03T00:00:00Z"
    era = {r.window_start[:10]: r for r in report.results_for("timestamp_era")}
    assert set(era) == set(days)  # the overall scope of every window with rows
    early, late = era["1970-01-02"], era["2200-06-01"]
    assert (early.status, early.details["before_reference"], early.value) == ("alert", 1, 1.0)
    assert early.details["ids"] == [driftline.errors.shorten(df.loc[0, "id"])]
    assert len(early.details["ids"][0]) < 120
    assert (late.status, late.details["beyond_now"], late.details["ids"]) == ("alert", 1, ["'p1'"])
    # the batch that brought them, as schema results name theirs (an incident's first batch)
    assert early.details["batches"] == late.details["batches"] == ["strays"]
    era_incidents = [i for i in report.incidents if "timestamp_era" in i.checks]
    assert era_incidents
    assert {i.root_cause.schema.first_batch for i in era_incidents} == {"strays"}
    assert all(r.status == "ok" and r.value == 0.0 for d, r in era.items() if d[:4] == "2024")
    alerts = [a for a in report.alerts if a.check == "timestamp_era"]
    assert len(alerts) == 2
    assert "'p1'" in alerts[1].message
    # windows with rows only: results grow with the rows, not with the span
    assert len({r.window for r in report.results}) == len(days)


def test_timestamp_tolerance_is_configurable(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    spec = make_spec(checks={"timestamp_tolerance": "3650d"})
    with driftline.connect(tmp_path / "t.duckdb", spec, profile=tmp_path / "t.json") as mon:
        mon.log_reference(make_predictions(300, seed=7, id_prefix="ref"))
        df = make_predictions(50, seed=3, id_prefix="p", start="2024-03-01")
        df.loc[0, "ts"] = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30)
        # a serving row a minute before the reference's first: within the tolerance
        df.loc[1, "ts"] = pd.Timestamp("2023-12-31 23:59", tz="UTC")
        mon.log_predictions(df)
        era = mon.check(persist=False).results_for("timestamp_era")
    assert len(era) == len({r.window for r in era}) == 5  # 3 days, 2023-12-31, the future
    assert all(r.status == "ok" for r in era)
    with pytest.raises(ConfigError, match="timestamp_tolerance"):
        driftline.load_spec(make_spec(checks={"timestamp_tolerance": "100 rows"}))


def test_rolling_mean_and_variance_match_a_time_range_window(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    df = traffic(make_predictions)
    monitor.log_predictions(df)
    report = monitor.check(persist=False)
    k = monitor.spec.checks.rolling_windows
    df = df.assign(conf=confidence(df), day=df["ts"].dt.floor("D"))
    for s in [s for s in report.stats if s.cohort is None]:
        end = pd.Timestamp(s.window_start)
        span = df[(df["day"] > end - pd.Timedelta(days=k)) & (df["day"] <= end)]
        assert s.rolling_n == len(span)
        assert s.rolling_mean == pytest.approx(span["conf"].mean(), abs=1e-9)
        assert s.rolling_var == pytest.approx(span["conf"].var(ddof=1), abs=1e-9)


def test_feature_summaries_match_pandas(monitor: Any, make_predictions: PredictionsFactory) -> None:
    df = traffic(make_predictions)
    df.loc[:9, "color"] = "ultraviolet"  # an unseen category
    df.loc[10:14, "y"] = 1e6  # out of the reference range
    monitor.log_predictions(df)
    report = monitor.check(persist=False)
    df = df.assign(day=df["ts"].dt.floor("D"))
    ref = monitor.profile
    for r in report.results:
        if r.cohort is not None or r.status in ("no_data", "insufficient"):
            continue
        rows = df[df["day"] == pd.Timestamp(r.window_start)]
        if r.check == "missing_fraction":
            frac = rows[r.column].isna().mean()
            want = frac - ref.columns_[r.column]["missing_fraction"]
            assert r.value == pytest.approx(want, abs=1e-12)
        elif r.check == "out_of_range":
            vals = rows[r.column].dropna()
            lo, hi = ref.ranges()[r.column]
            assert r.value == pytest.approx(((vals < lo) | (vals > hi)).mean(), abs=1e-12)
        elif r.check == "unseen_category":
            vals = rows[r.column].dropna()
            assert r.value == pytest.approx((~vals.isin(ref.categories_[r.column])).mean())
        elif r.check == "feature_drift" and r.column in ref.bin_edges_:
            vals = rows[r.column].dropna().to_numpy()
            edges = np.asarray(ref.bin_edges_[r.column])
            idx = np.clip(np.searchsorted(edges[1:-1], vals, side="right"), 0, len(edges) - 2)
            inside = (vals >= edges[0]) & (vals <= edges[-1])
            want = [
                int((vals < edges[0]).sum()),
                *np.bincount(idx[inside], minlength=len(edges) - 1).tolist(),
                int((vals > edges[-1]).sum()),
            ]
            assert r.details["current"] == want
    unseen = list(report.results_for("unseen_category", status="alert"))
    assert unseen
    assert all(r.column == "color" for r in unseen)


def test_results_are_json_and_persisted(monitor: Any, make_predictions: PredictionsFactory) -> None:
    monitor.log_predictions(traffic(make_predictions))
    report = monitor.check()
    data = json.loads(report.to_json())
    assert set(data) >= {"results", "alerts", "stats", "plan", "drift", "reference"}
    assert {r["check"] for r in data["results"]} <= set(CHECKS)
    for r in data["results"]:
        assert r["status"] in {"ok", "warn", "alert", "insufficient", "no_data"}
        if r["status"] in ("ok", "alert") and r["bound"] is not None:
            assert r["bound_how"]
    stored = monitor.store.con.execute(
        "SELECT count(*) FROM results WHERE run_id = ?", [report.run_id]
    ).fetchone()
    assert stored == (len(report.results),)


def test_empty_range_is_a_clear_error(monitor: Any, make_predictions: PredictionsFactory) -> None:
    monitor.log_predictions(traffic(make_predictions))
    before = monitor.store.counts()
    with pytest.raises(EmptyWindowError, match=r"no predictions between .*2030.*Widen"):
        monitor.check("2030-01-01", "2030-02-01")
    assert monitor.store.counts() == before


def test_check_before_any_prediction_is_a_clear_error(monitor: Any) -> None:
    with pytest.raises(EmptyWindowError, match=r"log predictions|log some"):
        monitor.check()


def test_bounds_shrink_with_window_size_and_the_floor_decides_on_large_windows(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """The calibrated bound shrinks with the window; the floor does not, so on a large
    window the floor is the higher threshold and says so."""
    found = []
    for n in (200, 20000):
        mon = driftline.connect(
            tmp_path / f"{n}.duckdb", make_spec(window="1000d"), profile=tmp_path / f"{n}.json"
        )
        mon.log_reference(make_predictions(5000, seed=3, id_prefix="ref"))
        mon.log_predictions(make_predictions(n, seed=4, id_prefix="w", start="2024-01-01"))
        res = mon.check(persist=False).results_for("confidence_shift")
        found.append(next(r for r in res if r.cohort is None))
        mon.close()
    small, large = found
    assert large.bound < small.bound
    assert small.floor == large.floor == DEFAULT_FLOORS["mean_difference"]
    assert small.floor_how == large.floor_how == "default floor of mean_difference"
    assert (small.decided_by, large.decided_by) == ("bound", "floor")
    assert large.bound < large.floor


def test_unknown_check_in_spec_is_refused(make_spec: SpecFactory) -> None:
    with pytest.raises(ConfigError, match="unknown check 'confidnce_shift'"):
        driftline.load_spec(make_spec(checks={"floors": {"checks": {"confidnce_shift": 0.1}}}))


@pytest.mark.parametrize("where", ["checks", "drift"])
def test_min_effect_names_where_floors_moved(make_spec: SpecFactory, where: str) -> None:
    with pytest.raises(ConfigError, match=rf"{where}.min_effect is now checks.floors"):
        driftline.load_spec(make_spec(**{where: {"min_effect": {"psi": 0.1}}}))


def test_row_windows(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    mon = driftline.connect(
        tmp_path / "r.duckdb", make_spec(window="500 rows"), profile=tmp_path / "r.json"
    )
    mon.log_reference(make_predictions(2000, seed=7, id_prefix="ref"))
    mon.log_predictions(make_predictions(1750, seed=8, id_prefix="w"))
    report = mon.check(persist=False)
    overall = [s.n for s in report.stats if s.cohort is None]
    assert overall == [500, 500, 500, 250]
    mon.close()


moments = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=40,
)


def summarise(xs: list[float]) -> Moments:
    if not xs:
        return Moments()
    arr = np.asarray(xs)
    var = float(arr.var(ddof=1)) if len(xs) > 1 else 0.0
    return Moments.from_var(len(xs), float(arr.mean()), var)


@settings(max_examples=200, deadline=None)
@given(moments, moments)
def test_merged_moments_equal_moments_of_the_union(a: list[float], b: list[float]) -> None:
    merged = merge_moments(summarise(a), summarise(b))
    whole = summarise(a + b)
    assert merged.n == whole.n
    scale = max([1.0, *map(abs, a + b)])
    assert math.isclose(merged.mean, whole.mean, rel_tol=1e-9, abs_tol=1e-9 * scale)
    if whole.n > 1:
        assert merged.var is not None
        assert whole.var is not None
        assert math.isclose(merged.var, whole.var, rel_tol=1e-7, abs_tol=1e-7 * scale**2)


def test_long_logged_values_are_cut_in_results_and_alerts(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """A 1 MB category value reaches results, alerts and the report JSON cut to a
    readable length with its full length stated, not whole."""
    df = make_predictions(200, seed=5, id_prefix="p", start="2024-03-01")
    df["ts"] = pd.date_range("2024-03-01", periods=len(df), freq="min", tz="UTC")  # one day
    huge = "v" * 1_000_000
    df.loc[:59, "color"] = huge
    monitor.log_predictions(df)
    report = monitor.check(persist=False)
    unseen = [r for r in report.results_for("unseen_category") if r.details["unseen"]]
    assert unseen
    for r in unseen:
        (key,) = [k for k in r.details["top_unseen"] if k.startswith("'v")]
        assert key.endswith("(1,000,000 characters)")
        assert len(key) < 120
        assert len(r.details["summary"]) < 300
    drift = report.results_for("feature_drift")
    assert all(len(k) < 120 for r in drift for k in r.details.get("categories", {}))
    assert any(a.check == "unseen_category" for a in report.alerts)
    assert all(len(a.message) < 1000 for a in report.alerts)
    assert len(report.to_json()) < 1_000_000
