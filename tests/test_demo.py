"""The demo: every incident alerted in the window it starts, in the right cohort, and no
alert before the first incident."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from driftline.demo import INCIDENTS, DemoResult, Incident, run_demo

#: The demo trains a model and logs and checks 60 days: every test here waits for it.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"))


def test_no_alert_before_the_first_incident(demo: DemoResult) -> None:
    first = min(i.start for i in INCIDENTS).isoformat().replace("+00:00", "Z")
    early = [a.message for a in demo.report.alerts if a.window_start < first]
    assert early == []
    assert demo.alerts_before_first == 0


@pytest.mark.parametrize("incident", INCIDENTS, ids=lambda i: i.name)
def test_each_incident_alerts_in_its_first_window_and_cohort(
    demo: DemoResult, incident: Incident
) -> None:
    start = incident.start.isoformat().replace("+00:00", "Z")
    hits = [
        a
        for a in demo.report.alerts
        if a.check == incident.check
        and a.cohort == incident.cohort
        and a.cohort_value == incident.cohort_value
        and (incident.column is None or a.column == incident.column)
    ]
    assert hits, incident
    assert min(a.window_start for a in hits) == start
    assert demo.caught[incident.name] == start


def test_cohort_incidents_stay_in_their_cohort(demo: DemoResult) -> None:
    for incident in INCIDENTS:
        if incident.cohort is None:
            continue
        start = incident.start.isoformat().replace("+00:00", "Z")
        others = [
            a
            for a in demo.report.alerts
            if a.window_start == start
            and a.check == incident.check
            and a.cohort == incident.cohort
            and a.cohort_value != incident.cohort_value
            and (incident.column is None or a.column == incident.column)
        ]
        assert others == [], [a.message for a in others]


def test_retyped_column_was_stored_not_refused(demo: DemoResult, tmp_path: Path) -> None:
    retyped = [r for r in demo.report.results if r.check == "type_change" and r.status == "alert"]
    assert retyped
    assert all(r.details["current_types"] == ["VARCHAR"] for r in retyped)
    day = INCIDENTS[2]
    stats = [
        s
        for s in demo.report.stats
        if s.cohort is None and s.window_start == day.start.isoformat().replace("+00:00", "Z")
    ]
    assert stats[0].n > 500  # the day's rows are all there


def test_demo_command_exits_0(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "demo", "--dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("caught") == len(INCIDENTS)
    assert "alerts before the first incident: 0" in done.stdout


def test_the_report_shows_every_incident(demo: DemoResult) -> None:
    import html

    page = demo.report_path.read_text()
    for incident in INCIDENTS:
        start = incident.start.isoformat().replace("+00:00", "Z")
        first = next(
            a
            for a in demo.report.alerts
            if a.window_start == start
            and a.check == incident.check
            and a.cohort_value == incident.cohort_value
            and (incident.column is None or a.column == incident.column)
        )
        assert html.escape(first.message) in page, incident.name
