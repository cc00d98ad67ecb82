"""Incremental checks: stored summaries, results stored once, invalidation, ``--full``.

Real DuckDB files throughout; which windows a run summarised is counted twice: by the
run log (``runs.windows_summarised``) and by the window keys the engine's wide summary
returned (a counter on :func:`driftline.engine.records.read_window_summary`).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from datetime import timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

import driftline
import driftline.checks._scopes as scopes_module
from driftline.checks import _alert, drift_summary
from driftline.engine.records import read_window_summary
from driftline.store import WAL_KEEP_BYTES

SpecFactory = Callable[..., dict[str, Any]]
PredictionsFactory = Callable[..., pd.DataFrame]
RunCli = Callable[..., Any]

DAY = 86400
START = pd.Timestamp("2024-03-01", tz="UTC")
PER_DAY = 240


def day_rows(
    make: PredictionsFactory, day: int, n: int = PER_DAY, prefix: str = "d"
) -> pd.DataFrame:
    """``n`` predictions spread over day ``day`` (0 = START), ids unique per day."""
    df = make(n=n, seed=100 + day, id_prefix=f"{prefix}{day}-")
    df["ts"] = START + pd.Timedelta(days=day) + pd.to_timedelta(np.arange(n) * (DAY / n), "s")
    return df


def key(day: int) -> int:
    return int((START + pd.Timedelta(days=day)).timestamp())


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every window key the engine's wide summary returned (one per cohort value)."""
    keys: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        out = read_window_summary(*args, **kwargs)
        keys.extend(s.window for s in out)
        return out

    monkeypatch.setattr(scopes_module, "read_window_summary", counting)
    return keys


def open_monitor(tmp_path: Path, spec: dict[str, Any]) -> Any:
    return driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json")


@pytest.fixture
def monitor(tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory) -> Any:
    mon = open_monitor(tmp_path, make_spec(window="1d"))
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    yield mon
    mon.close()


def results_table(mon: Any) -> list[tuple[Any, ...]]:
    return sorted(
        mon.store.con.execute(
            'SELECT run_id, created_at, window_start, cohort, cohort_value, "check", "column", '
            "value, bound, status, n FROM results"
        ).fetchall(),
        key=repr,
    )


def last_run(mon: Any) -> dict[str, Any]:
    runs = mon.store.runs().to_pylist()
    return dict(runs[-1])


def decisions(report: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    out = {}
    for r in report.results:
        k = (r.window, r.cohort, r.cohort_value, r.check, r.column)
        assert k not in out, k
        out[k] = (r.value, r.bound, r.status, r.effect, r.n, r.method, r.decided_by)
    return out


def stats_of(report: Any) -> list[tuple[Any, ...]]:
    return [
        (s.window, s.cohort, s.cohort_value, s.n, s.conf_mean, s.conf_var, s.rolling_n)
        for s in report.stats
    ]


def test_second_check_with_no_new_data_changes_nothing(
    monitor: Any, make_predictions: PredictionsFactory, counted: list[int]
) -> None:
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(5)]))
    first = monitor.check()
    before, alerts = results_table(monitor), monitor.store.counts()["alerts"]
    assert len(before) == len(first.results) > 0
    counted.clear()
    second = monitor.check()
    assert counted == []  # nothing summarised
    assert results_table(monitor) == before
    assert monitor.store.counts()["alerts"] == alerts
    run = last_run(monitor)
    assert run["windows_summarised"] == []
    assert run["windows_evaluated"] == []
    assert decisions(second) == decisions(first)
    assert stats_of(second) == stats_of(first)
    assert [a.message for a in second.alerts] == [a.message for a in first.alerts]


def test_one_more_day_adds_that_days_results_only(
    monitor: Any, make_predictions: PredictionsFactory, counted: list[int]
) -> None:
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(5)]))
    monitor.check()
    before = results_table(monitor)
    counted.clear()
    monitor.log_predictions(day_rows(make_predictions, 5))
    report = monitor.check()
    assert set(counted) == {key(5)}
    run = last_run(monitor)
    assert run["windows_summarised"] == [key(5)]
    assert run["windows_evaluated"] == [key(5)]
    after = results_table(monitor)
    added = [row for row in after if row not in before]
    assert set(after) >= set(before)  # earlier windows' rows untouched (run id, time, value)
    assert {row[2] for row in added} == {pd.Timestamp(key(5), unit="s").to_pydatetime()}
    assert len(added) == len([r for r in report.results if r.window == key(5)])
    # one set per (window, scope, check, column)
    assert len(after) == len({row[2:7] for row in after})
    # the new day's rolling aggregate includes the stored days before it
    overall = [s for s in report.stats if s.cohort is None]
    assert overall[-1].rolling_n == sum(s.n for s in overall[-6:])


def test_a_full_check_not_stored_leaves_the_next_check_nothing_to_do(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """A full check that stores no results (``check --full --no-persist``, a dry run)
    summarises everything in range but replaces only the stored summaries that are
    stale: the next check decides nothing again (it used to decide every window again,
    its stored results naming the run of the summaries replaced), and a late row's
    window is summarised by the dry run and decided by the next check."""
    for d in range(5):
        monitor.log_predictions(day_rows(make_predictions, d))
    first = monitor.check()
    before = results_table(monitor)
    dry = monitor.check(full=True, persist=False)
    assert decisions(dry) == decisions(first)
    quiet = monitor.check()
    assert last_run(monitor)["windows_evaluated"] == []
    assert results_table(monitor) == before
    assert decisions(quiet) == decisions(first)
    late = day_rows(make_predictions, 1, n=30, prefix="late")
    late["x"] = late["x"] + 25.0
    monitor.log_predictions(late)
    dry = monitor.check(full=True, persist=False)
    report = monitor.check()
    run = last_run(monitor)
    assert run["windows_summarised"] == []  # the dry run stored the late window's summary
    assert run["windows_evaluated"] == [key(1)]
    assert decisions(report) == decisions(dry) == decisions(monitor.check(full=True))


def test_late_rows_recompute_their_window_only(
    monitor: Any, make_predictions: PredictionsFactory, counted: list[int]
) -> None:
    for d in range(7):
        monitor.log_predictions(day_rows(make_predictions, d))
    monitor.check()
    before = results_table(monitor)
    counted.clear()
    late = day_rows(make_predictions, 2, n=30, prefix="late")
    late["x"] = late["x"] + 25.0  # far out of range: the window's results change
    monitor.log_predictions(late)
    report = monitor.check()
    # the window of the late rows, in each of its cohort values, and nothing else
    assert set(counted) == {key(2)}
    assert len(counted) == 2  # north, south
    run = last_run(monitor)
    assert run["windows_summarised"] == [key(2)] == run["windows_evaluated"]
    day2 = pd.Timestamp(key(2), unit="s").to_pydatetime()
    after = results_table(monitor)
    assert [r for r in after if r[2] != day2] == [r for r in before if r[2] != day2]
    assert {r[10] for r in after if r[2] == day2 and r[3] is None} == {PER_DAY + 30}
    assert len(after) == len({row[2:7] for row in after})
    alerts = monitor.store.con.execute(
        'SELECT window_start, cohort, cohort_value, "check", "column" FROM alerts'
    ).fetchall()
    assert len(alerts) == len(set(alerts)) == len(report.alerts)
    assert any(a[0] == day2 and a[3] == "out_of_range" for a in alerts)
    full = monitor.check(full=True)
    assert decisions(report) == decisions(full)


def test_incremental_equals_full_with_cohorts_and_edge_cases(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    mon = open_monitor(tmp_path, make_spec(window="1d", cohorts=["segment", "color"]))
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    days = [day_rows(make_predictions, d) for d in range(6)]
    days[2]["x"] = np.nan  # an all-null feature in one window
    days[3]["color"] = days[3]["color"].where(days[3].index % 5 != 0, "violet")  # unseen
    for d in range(5):
        mon.log_predictions(days[d])
        mon.check()
    latest = days[5].drop(columns=["y"])  # a dropped column in the latest batch
    mon.log_predictions(latest)
    mon.log_predictions(day_rows(make_predictions, 1, n=17, prefix="late"))
    incremental = mon.check()
    assert last_run(mon)["windows_summarised"] == [key(1), key(5)]
    full = mon.check(full=True)
    assert decisions(incremental) == decisions(full)
    assert stats_of(incremental) == stats_of(full)
    assert [a.message for a in incremental.alerts] == [a.message for a in full.alerts]
    checks = {r.check for r in full.results if r.window == key(5) and r.status != "ok"}
    assert "missing_column" in checks
    # a fresh store that never checked before measures the same (its bounds come from
    # its own calibration cache, filled at other window sizes)
    other = driftline.connect(tmp_path / "o.duckdb", mon.spec, profile=tmp_path / "p.json")
    for df in [*days[:5], latest, day_rows(make_predictions, 1, n=17, prefix="late")]:
        other.log_predictions(df)
    fresh = decisions(other.check(persist=False))
    assert fresh.keys() == decisions(full).keys()
    for k, v in decisions(full).items():
        assert fresh[k][4] == v[4]
        if v[0] is None:  # a result without a statistic (skipped, no data) in both
            assert fresh[k][0] is None, k
        else:
            assert fresh[k][0] == pytest.approx(v[0], rel=1e-12), k
    other.close()
    mon.close()


def test_refit_and_spec_changes_invalidate_what_depends_on_them(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    spec = make_spec(window="1d")
    mon = open_monitor(tmp_path, spec)
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    mon.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(4)]))
    mon.check()
    every = [key(d) for d in range(4)]
    mon.fit_profile(bins=5)  # other edges: every summary and result depends on them
    mon.check()
    assert last_run(mon)["windows_summarised"] == every == last_run(mon)["windows_evaluated"]
    mon.check()
    assert last_run(mon)["windows_summarised"] == [] == last_run(mon)["windows_evaluated"]
    # a refit that learns the same profile (at another time) re-decides nothing
    fitted_at = mon.profile.fitted_at_
    mon.fit_profile(bins=5)
    mon.profile.fitted_at_ = "2000-01-01T00:00:00+00:00"
    assert mon.profile.fitted_at_ != fitted_at
    mon.check()
    assert last_run(mon)["windows_summarised"] == [] == last_run(mon)["windows_evaluated"]
    mon.close()
    # a floor changes the decisions, not the summaries
    floors = {"checks": {"floors": {"checks": {"confidence_shift": 0.5}}}}
    mon = open_monitor(tmp_path, make_spec(window="1d", **floors))
    mon.check()
    assert last_run(mon)["windows_summarised"] == []
    assert last_run(mon)["windows_evaluated"] == every
    rows = mon.store.con.execute("SELECT count(*), count(DISTINCT fingerprint) FROM results")
    count, prints = rows.fetchone()
    assert prints == 1
    assert count == len(mon.check(persist=False).results)
    mon.close()


@pytest.mark.parametrize("then", ["7d", "12h"])
def test_a_new_window_length_leaves_only_its_windows_stored(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory, then: str
) -> None:
    """Daily windows checked and stored, then the spec's window changed: the next check
    stores its own windows' results and alerts, and the day windows' are gone from the
    range it checked, as in a store checked under the new spec only; a check of a later
    range leaves the earlier days' rows alone."""
    for name in "abc":
        (tmp_path / name).mkdir()
    days = pd.concat([day_rows(make_predictions, d) for d in range(10)])
    days.loc[days["ts"] >= START + pd.Timedelta(days=6), "x"] += 3.0
    mon = open_monitor(tmp_path / "a", make_spec(window="1d"))
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    mon.log_predictions(days)
    assert mon.check().alerts
    mon.close()
    fresh = open_monitor(tmp_path / "b", make_spec(window=then))
    fresh.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    fresh.log_predictions(days)
    fresh.check()

    def stored(m: Any) -> tuple[list[Any], list[Any]]:
        con = m.store.con
        results = con.execute(
            'SELECT window_start, window_end, cohort_value, "check", "column", status '
            "FROM results ORDER BY ALL"
        ).fetchall()
        alerts = con.execute("SELECT id FROM alerts ORDER BY ALL").fetchall()
        return results, alerts

    mon = open_monitor(tmp_path / "a", make_spec(window=then))
    mon.check()
    assert stored(mon) == stored(fresh)
    mon.close()
    fresh.close()
    if then != "12h":  # weeks start on Thursdays (the epoch's): none in the range below
        return
    # a range: only the rows in it are the new windows'
    mon = open_monitor(tmp_path / "c", make_spec(window="1d"))
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    mon.log_predictions(days)
    mon.check()
    mon.close()
    mon = open_monitor(tmp_path / "c", make_spec(window=then))
    since = START + pd.Timedelta(days=7)
    mon.check(since=since.to_pydatetime())
    spans = mon.store.con.execute(
        "SELECT DISTINCT window_start >= ?, window_end - window_start FROM results ORDER BY ALL",
        [since.tz_localize(None).to_pydatetime()],
    ).fetchall()
    mon.close()
    length = pd.Timedelta(then).to_pytimedelta()
    assert spans == sorted([(False, pd.Timedelta(days=1).to_pytimedelta()), (True, length)])


def test_schema_results_follow_the_spec_of_the_check_not_of_the_log(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """Batches logged under one spec, then the spec names a feature they never had (z)
    and drops one they carry (y), and the profile is refitted: the next check says z is
    not logged and y is unknown in every window, as a store logged under the new spec
    would."""
    for name in "ab":
        (tmp_path / name).mkdir()
    reference = make_predictions(n=3000, seed=7, id_prefix="ref")
    reference["z"] = np.random.default_rng(1).normal(size=len(reference))
    days = pd.concat([day_rows(make_predictions, d) for d in range(3)])
    after = make_spec(window="1d", features={"numeric": ["x", "z"], "categorical": ["color"]})

    def stored(m: Any) -> list[tuple[Any, ...]]:
        return m.store.con.execute(
            'SELECT window_start, cohort_value, "check", "column", value, status FROM results '
            "WHERE \"check\" IN ('missing_column', 'extra_column') ORDER BY ALL"
        ).fetchall()

    mon = open_monitor(tmp_path / "a", make_spec(window="1d"))
    mon.log_reference(reference)
    mon.log_predictions(days)
    mon.check()
    mon.close()
    mon = open_monitor(tmp_path / "a", after)
    mon.fit_profile()
    report = mon.check()
    edited = stored(mon)
    mon.close()
    fresh = open_monitor(tmp_path / "b", after)
    fresh.log_reference(reference)
    fresh.log_predictions(days)
    fresh.check()
    assert edited == stored(fresh)
    fresh.close()
    got = {(r.cohort_value, r.check, r.column): r.status for r in report.results}
    for value in (None, "north", "south"):
        assert got[(value, "missing_column", "z")] == "alert"
        assert got[(value, "missing_column", "x")] == "ok"
        assert got[(value, "extra_column", "y")] == "warn"


@pytest.mark.parametrize("edit", ["named_again", "numeric_to_categorical"])
def test_a_feature_named_again_or_of_another_kind_holds_what_logging_under_that_spec_would(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory, edit: str
) -> None:
    """``named_again``: the spec leaves ``y`` out while a batch is logged (its ``y`` is
    kept raw, unnamed), then names it again. ``numeric_to_categorical``: a batch brings
    ``x`` as text, some of it not numbers (kept raw, retyped), then the spec makes ``x``
    categorical. After the refit, the stored rows and a check (incremental, then full)
    equal those of a store that logged the same batches under the final spec: no
    phantom missing values."""
    for name in "ab":
        (tmp_path / name).mkdir()
    reference = make_predictions(n=3000, seed=7, id_prefix="ref")
    days = [day_rows(make_predictions, d) for d in range(3)]
    first = make_spec(window="1d")
    if edit == "named_again":
        meanwhile = make_spec(window="1d", features={"numeric": ["x"], "categorical": ["color"]})
        final = first
    else:
        days[1]["x"] = [f"{v:.2f}" if i % 3 else "n/a" for i, v in enumerate(days[1]["x"])]
        meanwhile = first
        final = make_spec(window="1d", features={"numeric": ["y"], "categorical": ["color", "x"]})
        reference["x"] = reference["x"].round(1)

    def stored(m: Any) -> list[tuple[Any, ...]]:
        return m.store.con.execute(
            "SELECT id, CAST(x AS VARCHAR), y FROM predictions ORDER BY id"
        ).fetchall()

    mon = open_monitor(tmp_path / "a", first)
    mon.log_reference(reference)
    mon.log_predictions(days[0])
    mon.check()
    mon.close()
    mon = open_monitor(tmp_path / "a", meanwhile)
    mon.fit_profile()
    mon.log_predictions(days[1])
    mon.check()
    mon.close()
    mon = open_monitor(tmp_path / "a", final)
    mon.fit_profile()
    mon.log_predictions(days[2])
    edited = decisions(mon.check())
    edited_full = decisions(mon.check(full=True))
    edited_rows = stored(mon)
    mon.close()
    fresh = open_monitor(tmp_path / "b", final)
    fresh.log_reference(reference)
    for day in days:
        fresh.log_predictions(day)
    expected = decisions(fresh.check())
    assert edited_rows == stored(fresh)
    fresh.close()
    assert edited == expected
    assert edited_full == expected
    column = "y" if edit == "named_again" else "x"
    assert {v[2] for k, v in expected.items() if k[3:] == ("missing_fraction", column)} == {"ok"}


def test_a_check_since_a_day_judges_every_cohort_value_the_store_knows(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """Day 0 holds a segment (east) day 1 does not. Checked, then day 1 logged and checked
    ``--since`` day 1 (a daily cron job): day 1's stored results hold east's "no data"
    results, as a fresh store's check of both days does."""
    for name in "ab":
        (tmp_path / name).mkdir()
    reference = make_predictions(n=3000, seed=7, id_prefix="ref")
    day0, day1 = day_rows(make_predictions, 0), day_rows(make_predictions, 1)
    day0.loc[day0.index[::3], "segment"] = "east"

    def stored(m: Any) -> list[tuple[Any, ...]]:
        return m.store.con.execute(
            'SELECT window_start, cohort_value, "check", "column", status FROM results ORDER BY ALL'
        ).fetchall()

    with open_monitor(tmp_path / "a", make_spec(window="1d")) as mon:
        mon.log_reference(reference)
        mon.log_predictions(day0)
        mon.check()
        mon.log_predictions(day1)
        mon.check(since=(START + pd.Timedelta(days=1)).to_pydatetime())
        ranged = stored(mon)
    with open_monitor(tmp_path / "b", make_spec(window="1d")) as fresh:
        fresh.log_reference(reference)
        fresh.log_predictions(day0)
        fresh.log_predictions(day1)
        fresh.check()
        expected = stored(fresh)
    assert ranged == expected
    assert any(r[0].day == 2 and r[1] == "east" and r[4] == "no_data" for r in ranged)


def test_full_recomputes_everything(
    monitor: Any, make_predictions: PredictionsFactory, counted: list[int]
) -> None:
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(3)]))
    first = monitor.check()
    counted.clear()
    full = monitor.check(full=True)
    assert sorted(set(counted)) == [key(d) for d in range(3)]
    run = last_run(monitor)
    assert run["full"]
    assert run["windows_evaluated"] == [key(d) for d in range(3)]
    assert decisions(full) == decisions(first)
    assert len(results_table(monitor)) == len(first.results)


def test_cli_full_flag(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    import yaml

    spec = tmp_path / "driftline.yaml"
    spec.write_text(yaml.safe_dump(make_spec(window="1d")))
    store = tmp_path / "s.duckdb"
    ref, preds = tmp_path / "ref.parquet", tmp_path / "p.parquet"
    make_predictions(n=3000, seed=7, id_prefix="ref").to_parquet(ref)
    pd.concat([day_rows(make_predictions, d) for d in range(3)]).to_parquet(preds)
    args = ["--spec", str(spec), "--store", str(store)]
    assert run_cli("log", "--reference", str(ref), *args).code == 0
    assert run_cli("log", str(preds), *args).code == 0
    assert run_cli("check", *args).code in (0, 1)
    assert run_cli("check", *args).code in (0, 1)
    assert run_cli("check", "--full", *args).code in (0, 1)
    with driftline.connect(store, spec) as mon:
        runs = mon.store.runs().to_pylist()
    assert [r["full"] for r in runs] == [False, False, True]
    assert [len(r["windows_summarised"]) for r in runs] == [3, 0, 3]


def test_since_until_cutting_a_window_is_not_stored(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(4)]))
    since = (START + pd.Timedelta(days=1, hours=12)).isoformat()
    cut = monitor.check(since=since)
    assert {r.window for r in cut.results} == {key(1), key(2), key(3)}
    n_cut = {s.n for s in cut.stats if s.window == key(1) and s.cohort is None}
    assert n_cut == {PER_DAY // 2}
    run = last_run(monitor)
    assert run["windows_evaluated"] == [key(2), key(3)]  # the cut window is not persisted
    whole = monitor.check()
    assert {s.n for s in whole.stats if s.window == key(1) and s.cohort is None} == {PER_DAY}
    assert decisions(whole) == decisions(monitor.check(full=True))
    rows = results_table(monitor)
    assert len(rows) == len({r[2:7] for r in rows}) == len(whole.results)


def test_row_windows_replace_their_results(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    mon = open_monitor(tmp_path, make_spec(window="200 rows"))
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    mon.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(3)]))
    first = mon.check()
    second = mon.check()
    assert decisions(first) == decisions(second)
    rows = results_table(mon)
    assert len(rows) == len(second.results) == len({r[2:7] for r in rows})
    # a check since a moment inside a stored window counts from that window's start: the
    # store holds the windows it held, none overlapping another
    windows = "SELECT DISTINCT window_start, window_end, n FROM results WHERE cohort IS NULL"
    before = sorted(mon.store.con.execute(windows).fetchall())
    inside = before[2][0] + (before[2][1] - before[2][0]) / 2
    ranged = mon.check(since=inside.replace(tzinfo=timezone.utc))
    assert ranged.stats[0].window_start.startswith(before[2][0].isoformat()[:19])
    assert sorted(mon.store.con.execute(windows).fetchall()) == before
    mon.close()


@pytest.mark.spark
def test_spark_full_run_decides_as_duckdb_incremental(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    request: pytest.FixtureRequest,
) -> None:
    """Spark keeps the full recompute (the stored summaries live in the DuckDB store):
    on the same rows it decides what the incremental runs stored."""
    from driftline.checks import run_checks
    from driftline.engine import SparkEngine

    mon = open_monitor(tmp_path, make_spec(window="1d"))
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    for d in range(4):
        mon.log_predictions(day_rows(make_predictions, d))
        mon.check()
    mon.log_predictions(day_rows(make_predictions, 1, n=17, prefix="late"))
    incremental = decisions(mon.check())
    spark = request.getfixturevalue("spark")
    rows = mon.store.con.execute("SELECT * EXCLUDE (_raw) FROM predictions").to_arrow_table()
    spark.createDataFrame(rows).createOrReplaceTempView("incremental_predictions")
    labels = mon.store.con.execute("SELECT * FROM labels").to_arrow_table()
    schema = "id string, label string, labelled_at timestamp, ingested_at timestamp, _batch long"
    spark.createDataFrame(labels.to_pylist(), schema=schema).createOrReplaceTempView(
        "incremental_labels"
    )
    engine = SparkEngine(spark)
    report = run_checks(
        engine,
        engine.table("incremental_predictions"),
        mon.spec,
        mon.profile,
        batches=mon.store.batches().to_pylist(),
        calibrations=mon.store.load_calibrations(),
        labels=engine.table("incremental_labels"),
    )
    on_spark = decisions(report)
    mon.close()
    assert on_spark.keys() == incremental.keys()
    for k, v in incremental.items():
        assert on_spark[k][2] == v[2], k  # status
        assert on_spark[k][4] == v[4], k  # rows
        assert on_spark[k][0] == pytest.approx(v[0], rel=1e-9, abs=1e-12), k


def test_full_run_over_a_range_leaves_other_windows_to_the_next_check(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(4)]))
    monitor.check()
    monitor.log_predictions(day_rows(make_predictions, 0, n=11, prefix="late"))
    monitor.log_predictions(day_rows(make_predictions, 4))
    since = (START + pd.Timedelta(days=3)).isoformat()
    monitor.check(since=since, full=True)
    assert last_run(monitor)["windows_summarised"] == [key(3), key(4)]
    report = monitor.check()
    # the late rows of day 0, out of the full run's range, are summarised now; day 4 not
    assert last_run(monitor)["windows_summarised"] == [key(0)]
    assert decisions(report) == decisions(monitor.check(full=True))


def incident_view(report: Any) -> list[tuple[Any, ...]]:
    return [
        (i.id, i.status, i.start, i.end, i.headline, i.severity, tuple(i.alerts))
        for i in report.incidents
    ]


def test_results_read_back_are_built_only_when_asked_and_incidents_match_full(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check reads back the digests of the windows it does not decide again; their
    results are decoded only when read, and the incidents, alerts, drift summary and
    counts it answers with are those of a full recompute, day after day."""
    from driftline.checks import _incremental

    built: list[int] = []
    decode = _incremental._StoredWindow.results

    def counting(self: Any, cohort: str | None, value: str | None) -> list[Any]:
        built.append(self.window)
        return decode(self, cohort, value)

    def full_check() -> Any:
        # on a copy of the store: a full check stores the summaries it computes, after
        # which the next check would decide every window again and read nothing back
        mon.close()
        shutil.copy(tmp_path / "s.duckdb", tmp_path / "copy.duckdb")
        # the log of the last copy's check belongs to that copy, not to this one
        (tmp_path / "copy.duckdb.wal").unlink(missing_ok=True)
        if (tmp_path / "s.duckdb.wal").exists():  # a check's writes are in the log
            shutil.copy(tmp_path / "s.duckdb.wal", tmp_path / "copy.duckdb.wal")
        other = driftline.connect(tmp_path / "copy.duckdb", spec, profile=tmp_path / "p.json")
        try:
            return other.check(full=True, persist=False)
        finally:
            other.close()

    monkeypatch.setattr(_incremental._StoredWindow, "results", counting)
    spec = make_spec(window="1d")
    mon = open_monitor(tmp_path, spec)
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    for d in range(9):
        df = day_rows(make_predictions, d)
        if d in (3, 4, 7):  # two changes: an incident closed, then one ongoing
            df["x"] = df["x"] + 3.0
            df["pred"] = "a"
        mon.log_predictions(df)
        built.clear()
        report = mon.check()
        assert last_run(mon)["windows_evaluated"] == [key(d)]
        full = full_check()
        mon = open_monitor(tmp_path, spec)
        assert bool(report.incidents) == (d >= 3), d
        assert incident_view(report) == incident_view(full)
        assert [a.id for a in report.alerts] == [a.id for a in full.alerts]
        # a root cause reads its incidents' windows only: never the quiet days 0-2 and 5-6
        assert not {key(0), key(1), key(2), key(5), key(6)} & set(built), d
        if d == 8:
            assert set(built) == {key(3), key(4), key(7)}
        # what was answered without the results is what they give once built
        counts = report.status_counts()
        assert report.drift == drift_summary(report.results)
        assert counts == Counter(r.status for r in report.results)
        assert report.alerts == [_alert(r) for r in report.results if r.status == "alert"]
        assert decisions(report).keys() == decisions(full).keys()
    assert {i.status for i in report.incidents} == {"closed", "ongoing"}
    built.clear()
    again = mon.check()
    mon.close()  # built from what was read, the store closed
    assert set(built) == {key(3), key(4), key(7)}  # the incidents' windows
    assert decisions(again) == decisions(report)  # the last check, built as it went
    assert set(built) == {key(d) for d in range(9)}
    assert [r.window for r in again.results] == [r.window for r in full.results]
    assert again.to_dict() | {"run_id": "", "created_at": ""} == report.to_dict() | {
        "run_id": "",
        "created_at": "",
    }
    assert {k: v[2] for k, v in decisions(again).items()} == {
        k: v[2] for k, v in decisions(full).items()
    }


def test_a_window_stored_in_the_one_document_form_is_decided_again(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """A store written before the digest: its windows are decided again (from their
    stored summaries) and stored in the two-document form."""
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(3)]))
    first = monitor.check()
    con = monitor.store.con
    con.execute("UPDATE decided SET results = split_part(results, chr(10), 2), digest = NULL")
    second = monitor.check()
    assert last_run(monitor)["windows_summarised"] == []
    assert last_run(monitor)["windows_evaluated"] == [key(d) for d in range(3)]
    assert decisions(second) == decisions(first)
    texts = [row[0] for row in con.execute("SELECT results FROM decided").fetchall()]
    assert all(text.count("\n") == 1 for text in texts)
    monitor.check()
    assert last_run(monitor)["windows_evaluated"] == []


def test_digests_stored_before_their_column_are_copied_once_and_read_back(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """A store written before the ``digest`` column (null there, the digest on the first
    line of the text): its windows are read back, not decided again, and their digests
    are copied into the column on the first read."""
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(3)]))
    first = monitor.check()
    con = monitor.store.con
    digests = con.execute('SELECT "window", digest FROM decided ORDER BY 1').fetchall()
    assert all(d and d.startswith("{") and "\n" not in d for _, d in digests)
    con.execute("UPDATE decided SET digest = NULL")
    second = monitor.check()
    assert last_run(monitor)["windows_evaluated"] == []
    assert decisions(second) == decisions(first)
    assert con.execute('SELECT "window", digest FROM decided ORDER BY 1').fetchall() == digests


def test_a_report_keeps_the_results_it_read_back_when_the_store_changes(
    monitor: Any, make_predictions: PredictionsFactory
) -> None:
    """Results read back are fetched before a later check replaces them (and before the
    store closes): an earlier report still builds the results it read."""
    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(4)]))
    monitor.check()
    earlier = monitor.check()
    assert last_run(monitor)["windows_evaluated"] == []
    late = day_rows(make_predictions, 1, n=30, prefix="late")
    late["x"] = late["x"] + 25.0
    monitor.log_predictions(late)
    later = monitor.check()
    assert last_run(monitor)["windows_evaluated"] == [key(1)]
    n_then = {r.n for r in earlier.results if r.window == key(1) and r.cohort is None}
    n_now = {r.n for r in later.results if r.window == key(1) and r.cohort is None}
    assert n_then == {PER_DAY}
    assert n_now == {PER_DAY + 30}
    assert decisions(earlier).keys() == decisions(later).keys()


def test_a_check_leaves_its_writes_in_the_log_and_the_next_batch_checkpoints_them(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """A check's results stay in DuckDB's write-ahead log when the store closes (no
    checkpoint of the whole file for them), are read back by every later open, read-only
    included, and are checkpointed with the next logged batch."""
    spec = make_spec(window="1d")
    wal = tmp_path / "s.duckdb.wal"
    with open_monitor(tmp_path, spec) as mon:
        mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
        mon.log_predictions(day_rows(make_predictions, 0))
    assert not wal.exists()  # a logged batch is checkpointed on close
    with open_monitor(tmp_path, spec) as mon:
        mon.check()
        first = results_table(mon)
        runs = mon.store.runs().num_rows
    assert first
    assert runs == 1
    assert 0 < wal.stat().st_size < WAL_KEEP_BYTES
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM results").fetchone()
        assert row is not None
        assert row[0] == len(first)
    with open_monitor(tmp_path, spec) as mon:
        assert results_table(mon) == first
        mon.check()  # nothing new: everything read back from what the log replayed
        assert results_table(mon) == first
        mon.log_predictions(day_rows(make_predictions, 1))
    assert not wal.exists()
    with open_monitor(tmp_path, spec) as mon:
        assert results_table(mon) == first
        assert mon.store.runs().num_rows == 2


def test_large_texts_are_kept_in_parts_and_read_as_one(
    monitor: Any,
    make_predictions: PredictionsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The summaries and the decided results are kept in parts of bounded size (a
    checkpoint then rewrites only the part a check appended to, not the whole history):
    with parts of 3 and 2 rows, a history checked day by day, a late batch into an old
    window decide exactly as full checks, every part but a bulk insert's stays within its
    size, and a full check (every summary replaced) leaves no empty part."""
    import driftline.store as store_module

    monkeypatch.setattr(store_module, "_PARTED", {"summaries": 3, "decided": 2})
    store = monitor.store

    def parts(table: str) -> list[int]:
        return [
            int(store.con.execute(f'SELECT count(*) FROM "{p}"').fetchone()[0])
            for p in store._parts(table)
        ]

    monitor.log_predictions(pd.concat([day_rows(make_predictions, d) for d in range(3)]))
    monitor.check()  # one bulk insert: every window's rows in the first part
    assert parts("summaries") == [9]
    assert parts("decided") == [3]
    for d in range(3, 7):
        monitor.log_predictions(day_rows(make_predictions, d))
        assert decisions(monitor.check()) == decisions(monitor.check(full=True, persist=False))
    assert len(parts("summaries")) == 5
    assert parts("summaries")[1:] == [3, 3, 3, 3]
    assert parts("decided")[1:] == [2, 2]
    # late rows into day 1: its summaries and results leave the bulk part for a new one
    monitor.log_predictions(day_rows(make_predictions, 1, n=30, prefix="late"))
    late = monitor.check()
    assert last_run(monitor)["windows_evaluated"] == [key(1)]
    assert decisions(late) == decisions(monitor.check(full=True, persist=False))
    assert parts("summaries")[0] == 6
    assert parts("decided")[0] == 2
    assert store.counts()["summaries"] == 7 * 3
    # a full check replaces every summary: the parts left empty are dropped
    monitor.check(full=True)
    assert parts("summaries") == [21]
    assert parts("decided") == [7]
