"""The scenario suite: injected drift is alerted within one window of onset; streams
without drift raise no alert at all. (The benchmarks run the same streams at 1M rows.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import driftline
from driftline import scenarios as sc
from driftline.checks import CheckReport

WINDOWS = 12
ROWS = 2000


def run(tmp_path: Path, scenario: sc.Scenario, seed: int = 0) -> CheckReport:
    mon = driftline.connect(tmp_path / "s.duckdb", sc.spec(), profile=tmp_path / "p.json")
    with mon:
        mon.log_reference(sc.reference(5000, seed=100 + seed))
        for i in range(WINDOWS):
            mon.log_predictions(sc.window(scenario, i, ROWS, seed=seed))
        return mon.check(persist=False)


def iso(index: int) -> str:
    return (sc.START + timedelta(days=index)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.name)
def test_drift_is_alerted_within_one_window_of_onset(tmp_path: Path, scenario: sc.Scenario) -> None:
    report = run(tmp_path, scenario)
    check, column, cohort_value = scenario.expect
    cohort = None if cohort_value is None else "region"
    hits = [
        a
        for a in report.alerts
        if a.check == check
        and a.cohort == cohort
        and a.cohort_value == cohort_value
        and (column is None or (a.column or "").split(":")[0] == column)
    ]
    assert hits, f"{scenario.name}: no {check} alert on {column} in {cohort_value or 'overall'}"
    first = min(a.window_start for a in hits)
    assert iso(scenario.onset) <= first <= iso(scenario.onset + 1)
    before = [a for a in report.alerts if a.window_start < iso(scenario.onset)]
    assert before == [], [a.message for a in before]


def test_drift_in_one_cohort_stays_in_that_cohort(tmp_path: Path) -> None:
    scenario = sc.SCENARIOS[-1]
    assert scenario.cohort_value == "apac"
    report = run(tmp_path, scenario)
    elsewhere = [
        a
        for a in report.alerts
        if a.check == "feature_drift"
        and a.column == "amount_z"
        and a.cohort == "region"
        and a.cohort_value != "apac"
    ]
    assert elsewhere == [], [a.message for a in elsewhere]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_drift_stream_raises_no_alert(tmp_path: Path, seed: int) -> None:
    report = run(tmp_path, sc.NO_DRIFT, seed=seed)
    assert report.alerts == [], [a.message for a in report.alerts]
    tested = report.results_for("feature_drift", status="ok") + report.results_for(
        "text_drift", status="ok"
    )
    assert len(tested) > WINDOWS * 4 * 8  # the checks really ran, per window and cohort
