"""Incidents: how alerts group (contiguous windows with one quiet window allowed, scopes
and columns that move together), closed vs ongoing, stable ids, and the shift-share
decomposition against a hand-computed example."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from driftline.checks import Alert, CheckReport, WindowStats, alert_id
from driftline.incidents import find_incidents, shift_share

DAY = 86400
WINDOWS = 10


def _iso(window: int) -> str:
    return f"2026-01-{window // DAY + 1:02d}T00:00:00Z"


def _stats(windows: int) -> list[WindowStats]:
    return [
        WindowStats(
            w * DAY,
            _iso(w * DAY),
            _iso((w + 1) * DAY),
            None,
            None,
            100,
            {"a": 60, "b": 40},
            0.8,
            0.01,
            0.3,
            1.0,
            0.6,
            0.8,
            0.95,
            100,
            0.8,
            0.01,
        )
        for w in range(windows)
    ]


def _alert(day: int, check: str, column: str | None, value: str | None = None) -> Alert:
    cohort = None if value is None else "region"
    window = day * DAY
    return Alert(
        window,
        _iso(window),
        cohort,
        value,
        check,
        column,
        0.5,
        0.1,
        f"{check} {column}",
        alert_id(window, cohort, value, check, column),
    )


def _report(alerts: Sequence[Alert], windows: int = WINDOWS) -> CheckReport:
    return CheckReport(
        run_id="r",
        created_at="2026-02-01T00:00:00Z",
        window="1d",
        since=None,
        until=None,
        plan={"cohorts": ["region"]},
        stats=_stats(windows),
        results=[],
        alerts=list(alerts),
    )


def test_alert_ids_are_stable_and_distinct() -> None:
    a = alert_id(DAY, "region", "eu", "feature_drift", "x")
    assert a == alert_id(DAY, "region", "eu", "feature_drift", "x")
    others = {
        alert_id(2 * DAY, "region", "eu", "feature_drift", "x"),
        alert_id(DAY, "region", "us", "feature_drift", "x"),
        alert_id(DAY, None, None, "feature_drift", "x"),
        alert_id(DAY, "region", "eu", "text_drift", "x"),
        alert_id(DAY, "region", "eu", "feature_drift", "y"),
    }
    assert a not in others
    assert len(others) == 5


def test_one_quiet_window_does_not_split_an_incident_two_do() -> None:
    one_gap = [_alert(d, "feature_drift", "x") for d in (2, 3, 5)]
    found = find_incidents(_report(one_gap))
    assert len(found) == 1
    assert found[0].windows == 3
    assert found[0].start == _iso(2 * DAY)
    assert found[0].last_window == _iso(5 * DAY)
    two_gaps = [_alert(d, "feature_drift", "x") for d in (2, 3, 6)]
    found = find_incidents(_report(two_gaps))
    assert [(i.start, i.windows) for i in found] == [(_iso(6 * DAY), 1), (_iso(2 * DAY), 2)]
    assert sorted(a for i in found for a in i.alerts) == sorted(a.id for a in two_gaps)


@pytest.mark.parametrize(("last", "status"), [(9, "ongoing"), (8, "ongoing"), (7, "closed")])
def test_closed_once_two_quiet_windows_follow_else_ongoing(last: int, status: str) -> None:
    found = find_incidents(_report([_alert(d, "class_mix", None) for d in range(5, last + 1)]))
    assert [i.status for i in found] == [status]
    if status == "closed":
        assert found[0].end == _iso((last + 1) * DAY)
    else:
        assert found[0].end is None


def test_a_change_after_a_closed_incident_is_a_new_incident_with_its_own_id() -> None:
    alerts = [_alert(d, "confidence_shift", None) for d in (1, 2, 6, 7)]
    newer, older = find_incidents(_report(alerts))
    assert older.status == "closed"
    assert newer.status == "closed"  # days 8 and 9 are quiet
    assert newer.last_window == _iso(7 * DAY)
    assert newer.id != older.id
    assert newer.start == _iso(6 * DAY)


def test_ids_stay_when_a_window_is_added_and_the_incident_grows() -> None:
    alerts = [_alert(d, "feature_drift", "x") for d in (4, 5, 6)]
    alerts += [_alert(d, "type_change", "y") for d in (5, 6)]
    before = find_incidents(_report(alerts, windows=7))
    grown = [*alerts, _alert(7, "feature_drift", "x"), _alert(7, "type_change", "y")]
    after = find_incidents(_report(grown, windows=8))
    assert sorted(i.id for i in before) == sorted(i.id for i in after)
    assert {i.id: i.windows for i in after} == {i.id: i.windows + 1 for i in before}
    assert all(i.status == "ongoing" for i in after)
    # a schema change is its own incident, even in the windows of another change
    assert sorted(i.kind for i in after) == ["change", "schema"]


def test_a_window_of_rows_dated_outside_the_era_neither_closes_nor_splits_an_incident() -> None:
    """Four rows stamped a year ahead make a window of their own (all of its rows out of
    the data's era): the live change stays ongoing, and the stray rows are an incident
    of their own, ongoing too; a window only partly out of era is a window like any."""
    change = [_alert(d, "class_mix", None) for d in (6, 7, 8)]
    before = find_incidents(_report(change))
    far = 400 * DAY
    stray = Alert(
        far, _iso(far), None, None, "timestamp_era", None, 1.0, 0.0, "era",
        alert_id(far, None, None, "timestamp_era", None),
    )  # fmt: skip
    report = _report([*change, stray])
    report.stats.append(replace(report.stats[0], window=far, window_start=_iso(far)))
    found = {i.kind: i for i in find_incidents(report)}
    assert found["change"].id == before[0].id
    assert found["change"].status == "ongoing"
    assert found["schema"].status == "ongoing"
    assert found["schema"].alerts == [stray.id]
    partly = replace(stray, value=0.5)
    report = _report([*change, partly])
    report.stats.append(replace(report.stats[0], window=far, window_start=_iso(far)))
    found = {i.kind: i for i in find_incidents(report)}
    assert found["change"].status == "closed"  # a window of traffic followed it


@pytest.mark.parametrize("loss", ["missing_column", "type_change"])
def test_a_lost_columns_missing_value_spike_is_evidence_of_its_incident(loss: str) -> None:
    """A column not logged (or logged as another type) is missing in those windows: its
    ``missing_fraction`` alerts join that incident, named by the loss, with the id the
    loss alone would give; a spike of another column, or of this one before it was
    lost, is its own incident."""
    lost = [_alert(d, loss, "y") for d in (5, 6)]
    spike = [_alert(d, "missing_fraction", "y", v) for d in (5, 6) for v in (None, "eu")]
    alone = find_incidents(_report(lost))
    found = find_incidents(_report([*lost, *spike]))
    assert len(found) == 1
    (inc,) = found
    assert inc.id == alone[0].id
    assert inc.checks == sorted({loss, "missing_fraction"})
    assert sorted(inc.alerts) == sorted(a.id for a in [*lost, *spike])
    assert inc.root_cause.schema is not None
    assert inc.root_cause.schema.check == loss
    assert inc.severity == "critical"

    before = [_alert(d, "missing_fraction", "y") for d in (1, 2)]
    other = [_alert(d, "missing_fraction", "z") for d in (5, 6)]
    found = find_incidents(_report([*lost, *spike, *before, *other]))
    assert len(found) == 3
    by_lead = {i.root_cause.schema.check if i.root_cause.schema else "": i for i in found}
    assert by_lead[loss].id == alone[0].id
    assert sorted(i.columns for i in found) == [["y"], ["y"], ["z"]]


def test_scopes_that_move_the_same_column_together_are_one_incident() -> None:
    same = [
        _alert(3, "feature_drift", "x"),
        _alert(3, "feature_drift", "x", "eu"),
        _alert(4, "feature_drift", "x", "eu"),
        _alert(3, "class_mix", None, "us"),
        _alert(3, "class_mix", None),
    ]
    found = find_incidents(_report(same))
    assert len(found) == 1
    assert [s.label for s in found[0].scopes] == ["overall", "region=eu", "region=us"]
    assert found[0].columns == ["x"]
    # two cohort values, each its own column, nothing overall: two changes
    apart = [_alert(3, "feature_drift", "x", "eu"), _alert(3, "feature_drift", "z", "apac")]
    found = find_incidents(_report(apart))
    assert sorted(tuple(s.label for s in i.scopes) for i in found) == [
        ("region=apac",),
        ("region=eu",),
    ]
    assert found[0].root_cause.carriers[0].cohort_value in ("eu", "apac")


def test_shift_share_matches_a_hand_computed_example() -> None:
    """Two regions: a holds half the reference at mean confidence 0.9, b the other half
    at 0.7 (overall 0.8). Now a holds 20 % at 0.9 and b 80 % at 0.6 (overall 0.66):
    -0.14 in all. By hand: a's share moved -0.3 at a mean of 0.9 -> mix -0.27, within 0;
    b's moved +0.3 at a mean of (0.7 + 0.6) / 2 -> mix +0.195, and b's mean moved -0.1 at
    a mean share of 0.65 -> within -0.065. Traffic mix -0.075, within -0.065."""
    parts = shift_share({"a": (0.5, 0.9), "b": (0.5, 0.7)}, {"a": (0.2, 0.9), "b": (0.8, 0.6)})
    assert parts["a"] == pytest.approx((-0.27, 0.0))
    assert parts["b"] == pytest.approx((0.195, -0.065))
    mix = sum(m for m, _ in parts.values())
    within = sum(w for _, w in parts.values())
    assert mix == pytest.approx(-0.075)
    assert within == pytest.approx(-0.065)
    assert mix + within == pytest.approx((0.2 * 0.9 + 0.8 * 0.6) - (0.5 * 0.9 + 0.5 * 0.7))


def test_shift_share_puts_a_new_or_vanished_value_in_the_traffic_mix() -> None:
    parts = shift_share({"a": (1.0, 0.8)}, {"a": (0.75, 0.8), "new": (0.25, 0.4)})
    assert parts["new"] == pytest.approx((0.1, 0.0))
    assert parts["a"] == pytest.approx((-0.2, 0.0))
    assert sum(m + w for m, w in parts.values()) == pytest.approx(0.75 * 0.8 + 0.25 * 0.4 - 0.8)


def test_names_from_the_data_reach_a_headline_as_plain_text() -> None:
    """A cohort value or column carrying control sequences, line breaks or markup is
    quoted with its control characters escaped; markup stays inert text."""
    value, column = "eu\x1b[2J\nfake: all clear", "[bold]x[/bold]"
    found = find_incidents(_report([_alert(3, "feature_drift", column, value)]))
    headline = found[0].headline
    assert "\x1b" not in headline
    assert "\n" not in headline
    assert repr(value) in headline
    assert column in headline  # printed as text by the CLI (markup off), escaped in HTML


def test_every_check_that_can_alert_is_in_exactly_one_family() -> None:
    """A check added to the catalog must be placed: schema, output or input (a check
    in none would group as a change but never rank, name a class or a first batch)."""
    from driftline._catalog import CHECKS
    from driftline.incidents import INPUT_CHECKS, OUTPUT_CHECKS, SCHEMA_CHECKS

    families = [SCHEMA_CHECKS, OUTPUT_CHECKS, INPUT_CHECKS]
    for name in CHECKS:
        homes = sum(name in family for family in families)
        # cohort_baseline only warns (a new segment) or says which baseline was used
        assert homes == (0 if name == "cohort_baseline" else 1), name
    assert set().union(*families) <= set(CHECKS)


def test_an_empty_cohort_value_is_named_as_an_empty_string() -> None:
    """``region=''``, not ``region=`` with nothing after it, in the headline and in the
    alert's message."""
    from driftline.checks import CheckResult
    from driftline.checks import _alert as alert_of

    found = find_incidents(_report([_alert(d, "feature_drift", "x", "") for d in (3, 4)]))
    assert "in region='';" in found[0].headline
    result = CheckResult(
        3 * DAY, _iso(3 * DAY), _iso(4 * DAY), "region", "", "feature_drift", "x", "psi",
        0.5, 0.5, 0.1, "q0.999", "alert", 100, {},
    )  # fmt: skip
    assert " in region='', window starting" in alert_of(result).message


def test_a_column_that_alerted_once_in_a_long_incident_is_evidence_not_a_cause() -> None:
    """A confidence drop over 20 windows with x drifting in every one and y alerting
    once (a chance alert): the headline names x only; y stays in the root cause, after
    x, with the one window it alerted in."""
    alerts = [_alert(d, "confidence_shift", None) for d in range(20)]
    alerts += [_alert(d, "feature_drift", "x") for d in range(20)]
    alerts.append(_alert(9, "feature_drift", "y"))
    alerts.sort(key=lambda a: (a.window, a.check, a.column or ""))
    (inc,) = find_incidents(_report(alerts, windows=20))
    assert "inputs that moved most: x;" in inc.headline
    assert [(c.column, c.windows) for c in inc.root_cause.columns] == [("x", 20), ("y", 1)]
    # in a short incident, one alert is as much as any column has: it is named
    short = [*alerts[:4], _alert(0, "feature_drift", "y")]
    (inc,) = find_incidents(_report(sorted(short, key=lambda a: a.window), windows=20))
    assert "inputs that moved most: x and y" in inc.headline or "y and x" in inc.headline


def test_a_one_window_change_close_to_its_bound_is_one_step_less_severe() -> None:
    """The outputs moved overall: critical when seen in two windows or clearly beyond the
    bound, major in one window just beyond it (a chance alert looks like that); in a
    cohort value alone: major, or minor."""
    once = _alert(3, "confidence_shift", None)  # 0.5 against a bound of 0.1: clear
    marginal = replace(once, value=0.12)
    twice = [replace(once), replace(_alert(4, "confidence_shift", None), value=0.12)]
    assert [i.severity for i in find_incidents(_report([once]))] == ["critical"]
    assert [i.severity for i in find_incidents(_report([marginal]))] == ["major"]
    assert [i.severity for i in find_incidents(_report(twice))] == ["critical"]
    in_eu = replace(_alert(3, "class_mix", None, "eu"), value=0.12)
    assert [i.severity for i in find_incidents(_report([in_eu]))] == ["minor"]
    # a lost column is critical however briefly
    lost = replace(_alert(3, "missing_column", "x"), value=0.12)
    assert [i.severity for i in find_incidents(_report([lost]))] == ["critical"]


def test_an_input_that_drifted_overall_only_is_among_the_inputs_of_an_overall_change() -> None:
    """The outputs moved overall and in eu and us; x drifted in eu, ``mix`` overall only
    (its drift is between the cohort values, as a cohort column's own is), ``other`` in
    apac alone (not a carrier): the root cause has x and mix, not other."""
    alerts: list[Alert] = []
    for d in (3, 4, 5):
        alerts += [_alert(d, "confidence_shift", None)]
        alerts += [_alert(d, "confidence_shift", None, v) for v in ("eu", "us")]
        alerts += [_alert(d, "feature_drift", "x", "eu"), _alert(d, "feature_drift", "mix")]
        alerts += [_alert(d, "feature_drift", "other"), _alert(d, "feature_drift", "other", "apac")]
    (inc,) = find_incidents(_report(sorted(alerts, key=lambda a: a.window)))
    assert sorted(c.column for c in inc.root_cause.columns) == ["mix", "x"]
    assert "apac" not in inc.headline


def test_a_sustained_change_alerting_in_most_windows_survives_its_likely_quiet_stretches() -> None:
    """Small windows are noisy: a change that alerts in 8 of every 10 windows has quiet
    stretches of 2 and 3 windows. Once sustained (4 windows alerted) it survives those
    (at 80 %, 3 quiet windows happen by chance 0.8 % of the time), not a stretch of 7;
    a change that alerted in every window so far has shown no noise: one quiet window;
    a few sparse alerts keep that rule too. Each piece keeps its id as windows are
    added."""
    pattern = "AAA.AA..AAAA...AAAAAAA.......AAAA"
    days = [d for d, c in enumerate(pattern) if c == "A"]
    alerts = [_alert(d, "feature_drift", "x") for d in days]
    found = find_incidents(_report(alerts, windows=len(pattern)))
    assert sorted((i.start, i.windows) for i in found) == [(_iso(0), 16), (_iso(29 * DAY), 4)]
    grown = find_incidents(_report(alerts, windows=len(pattern) + 1))
    assert {i.id for i in grown} == {i.id for i in found}
    assert [i.status for i in grown if i.start == _iso(29 * DAY)] == ["ongoing"]
    # a later quiet stretch the rate makes unlikely closes it
    assert [i.status for i in grown if i.start == _iso(0)] == ["closed"]
    sparse = [_alert(d, "feature_drift", "x") for d in (2, 5, 8)]
    assert len(find_incidents(_report(sparse, windows=12))) == 3


def test_a_chance_alert_the_window_before_a_change_is_not_its_start() -> None:
    """One alert in one cohort value close to its bound, the window before the outputs
    move overall: an incident of its own (minor), and the change starts where it does.
    A clear alert there, or a change not seen overall, keeps the window as the start."""
    change = [_alert(d, "class_mix", None, v) for d in (4, 5, 6) for v in (None, "eu", "us")]
    chance = replace(_alert(3, "score_drift", "score:a", "eu"), value=0.12)
    found = find_incidents(_report([chance, *change]))
    assert sorted((i.start, i.severity, len(i.alerts)) for i in found) == [
        (_iso(3 * DAY), "minor", 1),
        (_iso(4 * DAY), "critical", 9),
    ]
    assert find_incidents(_report(change))[0].id in {i.id for i in found}
    clear = replace(chance, value=0.5)
    assert [i.start for i in find_incidents(_report([clear, *change]))] == [_iso(3 * DAY)]
    in_cohorts = [a for a in change if a.cohort is not None]
    assert [i.start for i in find_incidents(_report([chance, *in_cohorts]))] == [_iso(3 * DAY)]
