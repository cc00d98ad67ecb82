"""Calibration cache keys: stable across releases, since the store keeps the cache."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftline.checks._bounds import _Bounds
from driftline.methods import Calibration, size_grid
from driftline.spec import load_spec

SPEC: dict[str, Any] = {
    "scores": {"columns": {"a": "score_a", "b": "score_b"}},
    "checks": {"calibration_reps": 100, "alert_quantile": 0.99, "seed": 3},
}


def stored_key(method: str, ref: list[int], edges: Any, n: int) -> str:
    """The key as the store's calibration cache has it (SHA-256 of one JSON list)."""
    blob = json.dumps(
        [
            method,
            [float(c) for c in ref],
            None if edges is None else [float(e) for e in edges],
            size_grid(n),
            100,
            0.99,
            3,
        ]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@pytest.mark.parametrize(
    ("method", "ref", "edges"),
    [
        ("psi", [3, 1, 0, 7], None),
        ("jensen_shannon", list(range(1, 300)), None),
        ("ks", [1, 5, 9, 1], np.array([-2.0, -1.0, 0.5, 1.0, 2.5])),
    ],
)
def test_calibrations_are_cached_under_the_stored_key(
    method: str, ref: list[int], edges: Any
) -> None:
    cache: dict[str, Calibration] = {}
    bounds = _Bounds(load_spec(SPEC), cache)
    calibrate = bounds.calibrator(method, ref, edges)
    sizes = [40, 41, 1000, 123_456]
    cals = [calibrate(n) for n in sizes]
    assert set(cache) == {stored_key(method, ref, edges, n) for n in sizes}
    assert cals[0] is cals[1]  # one grid point
    assert bounds.calibrate(method, ref, 1000, edges) is cals[2]


@pytest.mark.parametrize("keep_bytes", [_Bounds.KEEP_BYTES, 100 * 300 * 8])
def test_parallel_prefetch_fills_the_cache_as_one_by_one_calls_do(keep_bytes: int) -> None:
    """Several references and sizes calibrated on threads give the very calibrations of
    sequential calls, whether each reference's draws are kept or (over the memory
    budget: only the first reference's 299 x 100 draws fit in the second case) drawn
    again per size."""
    refs = [
        ("jensen_shannon", list(range(1, 300)), None),
        ("psi", [3, 1, 0, 7], None),
        ("ks", [1, 5, 9, 1], np.array([-2.0, -1.0, 0.5, 1.0, 2.5])),
        ("chi2", [50, 20, 5, 1, 1], None),
    ]
    sizes = [40, 41, 700, 5000, 123_456]
    one_by_one: dict[str, Calibration] = {}
    serial = _Bounds(load_spec(SPEC), one_by_one)
    for method, ref, edges in refs:
        for n in sizes:
            serial.calibrator(method, ref, edges)(n)
    parallel: dict[str, Calibration] = {}
    bounds = _Bounds(load_spec(SPEC), parallel)
    bounds.KEEP_BYTES = keep_bytes
    cals = [bounds.calibrator(method, ref, edges) for method, ref, edges in refs]
    bounds.prefetch([(cal, sizes) for cal in cals])
    assert parallel == one_by_one
    kept = [cal.resampler().keep for cal in cals]
    assert kept == ([True] * 4 if keep_bytes == _Bounds.KEEP_BYTES else [True] + [False] * 3)
    bounds.prefetch([(cal, sizes) for cal in cals])  # nothing missing: nothing recomputed
    assert parallel == one_by_one


def test_prefetch_simulates_references_with_one_key_once() -> None:
    """A thousand quantile-binned features mostly share their reference counts: prefetch
    simulates each (counts, window size) once, and every column reads the same bounds."""
    ref = [1, *([500] * 20), 1]
    bounds = _Bounds(load_spec(SPEC), {})
    columns = [bounds.calibrator("psi", ref) for _ in range(50)]
    other = bounds.calibrator("psi", [1, *([499] * 20), 1])
    bounds.prefetch([(cal, [100, 5000]) for cal in [*columns, other]])
    # pseudo-references drawn (and kept) for two distinct references, not 51
    assert bounds.kept.bytes == 2 * 100 * 22 * 8
    assert len(bounds.cache) == 4
    alone = _Bounds(load_spec(SPEC), {})
    for n in (100, 5000):
        expected = alone.calibrate("psi", ref, n)
        assert all(cal(n) == expected for cal in columns)


def test_a_profile_fitted_in_process_decides_as_the_one_read_back(
    tmp_path: Any, make_spec: Any, make_predictions: Any
) -> None:
    """Saving a profile orders its mappings by key, and a categorical column's bound
    depends on its categories' order (the draws and the cache key): the monitor that
    fitted the profile must judge with it as saved, or its first check and every later
    process's give the same window other bounds."""
    import driftline

    ref = make_predictions(3000, seed=1)
    # most frequent first is not alphabetical: green, red, blue
    ref["color"] = ["green"] * 1500 + ["red"] * 1000 + ["blue"] * 500
    day = make_predictions(400, seed=2, id_prefix="d")
    day["ts"] = pd.date_range("2024-02-01", periods=400, freq="3min", tz="UTC")
    spec = make_spec(window="1d")
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        mon.log_reference(ref)
        assert list(mon.profile.categories_["color"]) == ["blue", "green", "red"]
        mon.log_predictions(day)
        first = mon.check()
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        again = mon.check(full=True, persist=False)

    def bounds(report: Any) -> dict[tuple[Any, ...], Any]:
        return {
            (r.window, r.cohort_value, r.column): r.bound
            for r in report.results
            if r.check == "feature_drift"
        }

    assert "color" in {k[2] for k in bounds(first)}
    assert bounds(first) == bounds(again)


def test_a_check_calibrates_every_cohort_value_at_once_within_one_budget(
    tmp_path: Any, make_spec: Any, make_predictions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every evaluator of a run (the overall one, and one per cohort value judged against
    its own baseline) says which bounds it needs before any window is judged: one
    prefetch simulates them all on shared threads, instead of each cohort value waiting
    for its slowest column, and the draws they keep count against one budget."""
    import driftline
    from driftline.checks._bounds import _Calibrator

    calls: list[tuple[int, set[int]]] = []
    prefetch = _Bounds.prefetch

    def counted(self: _Bounds, wanted: Any) -> None:
        wanted = list(wanted)
        missing = sum(len(cal.missing(sizes)) for cal, sizes in wanted)
        calls.append((missing, {id(cal.bounds) for cal, _ in wanted}))
        prefetch(self, wanted)

    made: list[Any] = []
    resampler = _Calibrator.resampler

    def remembered(self: _Calibrator) -> Any:
        found = resampler(self)
        if all(found is not r for r in made):
            made.append(found)
        return found

    monkeypatch.setattr(_Bounds, "prefetch", counted)
    monkeypatch.setattr(_Calibrator, "resampler", remembered)
    # room for a few references' draws (3 categories or 12 bins, 200 resamples), not all
    monkeypatch.setattr(_Bounds, "KEEP_BYTES", 5 * 200 * 13 * 8)
    ref = make_predictions(3000, seed=1)
    day = make_predictions(336, seed=2, id_prefix="d", start="2024-03-04")  # two weeks
    spec = make_spec(window="7d", checks={"cohort_baseline_min_rows": 500, "calibration_reps": 200})
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        mon.log_reference(ref)
        mon.log_predictions(day)
        report = mon.check()
    assert {r.cohort_value for r in report.results} >= {None, "north", "south"}
    computing = [evaluators for missing, evaluators in calls if missing]
    assert len(computing) == 1, calls
    assert len(computing[0]) == 3  # overall, north and south: each its own evaluator
    kept = [r.nbytes for r in made if r.keep]
    assert kept
    assert sum(kept) <= 5 * 200 * 13 * 8 < sum(r.nbytes for r in made)


def test_evaluators_judged_a_group_at_a_time_decide_as_all_at_once(
    tmp_path: Any, make_spec: Any, make_predictions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run makes its evaluators a group at a time (only a group's are alive at once):
    with groups of one, each evaluator's bounds are calibrated in a prefetch of their
    own, and every result is the same as with all of them in one group."""
    import driftline
    from driftline import checks

    ref = make_predictions(3000, seed=1)
    day = make_predictions(336, seed=2, id_prefix="d", start="2024-03-04")
    spec = make_spec(window="7d", checks={"cohort_baseline_min_rows": 500, "calibration_reps": 200})
    calls: list[int] = []
    prefetch = _Bounds.prefetch

    def counted(self: _Bounds, wanted: Any) -> None:
        wanted = list(wanted)
        calls.append(sum(len(cal.missing(sizes)) for cal, sizes in wanted))
        prefetch(self, wanted)

    monkeypatch.setattr(_Bounds, "prefetch", counted)
    found = {}
    for at_once in (1, checks._JUDGED_AT_ONCE):
        monkeypatch.setattr(checks, "_JUDGED_AT_ONCE", at_once)
        calls.clear()
        with driftline.connect(tmp_path / f"{at_once}.duckdb", spec) as mon:
            mon.log_reference(ref)
            mon.log_predictions(day)
            report = mon.check()
        found[at_once] = (
            sum(1 for missing in calls if missing),
            sorted(
                repr((r.window, r.cohort, r.cohort_value, r.check, r.column, r.status, r.value))
                + repr(r.bound)
                for r in report.results
            ),
        )
    one, all_at_once = found[1], found[checks._JUDGED_AT_ONCE]
    assert (one[0], all_at_once[0]) == (3, 1)  # overall, north, south
    assert one[1] == all_at_once[1]
