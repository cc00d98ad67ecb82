"""The demo: every incident alerted in the window it starts, in the right cohort, and no
alert before the first incident."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from driftline.demo import INCIDENTS, DemoResult, Incident, run_demo
from driftline.incidents import Incident as Found

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
    assert f"in {len(INCIDENTS)} incidents, newest first" in done.stdout
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


# -- incidents: the 317-odd alerts are the 4 injected incidents -------------------------------
def _iso(incident: Incident) -> str:
    return incident.start.isoformat().replace("+00:00", "Z")


def _found(demo: DemoResult, incident: Incident) -> Found:
    return next(f for f in demo.report.incidents if f.start == _iso(incident))


def test_the_alerts_are_exactly_the_four_injected_incidents(demo: DemoResult) -> None:
    found = demo.report.incidents
    assert len(found) == len(INCIDENTS) == 4
    assert [f.start for f in found] == sorted((_iso(i) for i in INCIDENTS), reverse=True)
    assert min(f.start for f in found) == _iso(INCIDENTS[0])  # none before the first
    members = sorted(a for f in found for a in f.alerts)
    assert members == sorted(a.id for a in demo.report.alerts)  # every alert in one
    for incident in INCIDENTS:
        f = _found(demo, incident)
        assert incident.check in f.checks
        assert f.status == "closed"
        if incident.column is not None:
            assert incident.column in f.columns
            assert f.root_cause.schema is not None
            assert f.root_cause.schema.column == incident.column
            day = f"day-{incident.day:03d}"
            assert f.root_cause.schema.first_batch == day  # the batch that brought it
            assert day in f.headline
        if incident.cohort is None:
            assert any(s.cohort is None for s in f.scopes)
        else:
            carriers = [(s.cohort, s.cohort_value) for s in f.root_cause.carriers]
            assert carriers == [(incident.cohort, incident.cohort_value)]
            assert f"{incident.cohort}={incident.cohort_value}" in f.headline


def test_the_class_mix_incident_names_the_classes_and_every_region(demo: DemoResult) -> None:
    f = _found(demo, INCIDENTS[0])
    cause = f.root_cause
    up = {m.cls for m in cause.classes if m.change > 0}
    assert up == {"1", "7"}  # the forms customer sends mostly 1s and 7s
    assert cause.every_value
    assert cause.attribution == "within"
    assert "in every region" in f.headline
    assert "toward 7 and 1" in f.headline or "toward 1 and 7" in f.headline
    (mix,) = [d for d in cause.decompositions if d.metric == "class_mix"]
    assert mix.within > 10 * abs(mix.mix)  # each region moved; the traffic did not
    assert sorted(mix.carriers) == ["apac", "eu", "us"]


def test_the_confidence_incident_names_its_region_and_columns(demo: DemoResult) -> None:
    f = _found(demo, INCIDENTS[1])
    cause = f.root_cause
    assert [s.cohort_value for s in cause.carriers] == ["apac"]
    assert cause.scope is not None
    assert cause.scope.cohort_value == "apac"
    assert "mean confidence dropped" in f.headline
    (conf,) = [d for d in cause.decompositions if d.metric == "confidence"]
    assert conf.carriers[0] == "apac"
    apac = next(p for p in conf.parts if p.value == "apac")
    assert apac.current is not None
    assert apac.reference is not None
    assert apac.current < apac.reference
    top = [c.column for c in cause.columns[:3]]
    assert len(top) == 3
    assert all(c.startswith("ink_") for c in top)
    assert all(c in f.headline for c in top)
    effects = [c.effect or 0.0 for c in cause.columns if c.check == "feature_drift"]
    assert effects == sorted(effects, reverse=True)
    assert not cause.outputs_only


def test_incident_ids_are_the_same_on_a_second_check(demo: DemoResult) -> None:
    import driftline

    root = demo.report_path.parent
    with driftline.connect(root / "driftline.duckdb", root / "driftline.yaml") as mon:
        again = mon.check(persist=False)
    assert [f.id for f in again.incidents] == [f.id for f in demo.report.incidents]
