"""Thresholds chosen on the holdout (``Monitor.thresholds``, ``driftline thresholds``) and
the threshold-relative checks, end to end on real DuckDB files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score, precision_score, recall_score

import driftline
from driftline.demo import make_demo_data
from driftline.errors import ConfigError, ProfileError, SchemaError
from driftline.incidents import OUTPUT_CHECKS
from driftline.profile import Profile
from driftline.spec import Spec, ThresholdConfig, load_spec
from driftline.thresholds import CURVE_POINTS, Thresholds, thresholds_for

THRESHOLD_CHECKS = ("threshold_above", "threshold_band", "threshold_none")


@pytest.fixture(scope="module")
def digits() -> Any:
    """scikit-learn's bundled digits: the demo's model, holdout and 60 days of traffic."""
    return make_demo_data()


def _digits_monitor(tmp_path: Path, data: Any, **spec: Any) -> driftline.Monitor:
    mon = driftline.connect(tmp_path / "d.duckdb", {**data.spec, **spec})
    mon.log_reference(data.reference)
    return mon


def _ovr(ref: pd.DataFrame, cls: str, predicted: np.ndarray) -> dict[str, float]:
    truth = (ref["label"] == cls).to_numpy()
    return {
        "precision": precision_score(truth, predicted, zero_division=0),
        "recall": recall_score(truth, predicted),
        "f1": f1_score(truth, predicted),
    }


def test_digits_per_class_thresholds_and_their_gain_equal_sklearn_metrics(
    tmp_path: Path, digits: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = digits.reference
    with _digits_monitor(tmp_path, digits) as mon:
        fitted = mon.thresholds()
        stored = json.loads(mon.profile_path.read_text())["thresholds"]
    classes = [str(c) for c in range(10)]
    assert list(fitted.classes) == classes
    assert not fitted.binary
    assert fitted.labelled == fitted.rows == len(ref)
    scores = ref[[f"score_{c}" for c in classes]].to_numpy()
    argmax = scores.argmax(axis=1)
    gains = []
    for i, c in enumerate(classes):
        t = fitted.classes[c]
        assert t.default is None  # the argmax
        assert t.threshold is not None
        before = _ovr(ref, c, argmax == i)
        after = _ovr(ref, c, scores[:, i] >= t.threshold)
        for key in ("precision", "recall", "f1"):
            assert t.before[key] == pytest.approx(before[key], abs=1e-12), (c, key)
            assert t.after is not None
            assert t.after[key] == pytest.approx(after[key], abs=1e-12), (c, key)
        # the F1-optimal threshold: no distinct score of the class does better
        best = max(f1_score(ref["label"] == c, scores[:, i] >= s) for s in np.unique(scores[:, i]))
        assert t.value == pytest.approx(best, abs=1e-12)
        assert t.margin is not None
        assert t.margin[0] <= t.threshold <= t.margin[1]
        assert len(t.curve["threshold"]) <= CURVE_POINTS
        assert t.threshold in t.curve["threshold"]
        gains.append((c, before["f1"], after["f1"]))
    macro_before = np.mean([g[1] for g in gains])
    macro_after = np.mean([g[2] for g in gains])
    with capsys.disabled():  # the gain over the argmax, printed
        print("\ndigits: per-class F1 (one-vs-rest), argmax -> chosen threshold")
        for c, b, a in gains:
            print(f"  class {c}: {b:.3f} -> {a:.3f} ({a - b:+.3f})")
        print(f"  macro: {macro_before:.3f} -> {macro_after:.3f}")
    # thresholds tuned on the holdout itself cannot do worse than any other threshold rule
    assert macro_after >= macro_before - 0.02
    assert stored["config"]["objective"] == "f1"
    assert Thresholds.from_dict(stored) == fitted


def _binary_frame(n: int, seed: int, start: str, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.random(n) < 0.3
    p = np.clip(rng.normal(0.35 + 0.3 * label + shift, 0.15), 0.0, 1.0)
    return pd.DataFrame(
        {
            "id": [f"{start}-{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="min", tz="UTC"),
            "pred": np.where(p >= 0.5, "yes", "no"),
            "p": p,
            "y": np.where(label, "yes", "no"),
            "region": rng.choice(["eu", "us"], n),
            "x": rng.normal(size=n),
        }
    )


BINARY = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"column": "p", "positive": "yes", "negative": "no"},
    "label": "y",
    "cohorts": ["region"],
    "features": {"numeric": ["x"]},
    "window": "1d",
}


def test_binary_threshold_metrics_and_default(tmp_path: Path) -> None:
    ref = _binary_frame(3000, 1, "2024-01-01")
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(ref)
        assert dict(thresholds_for(mon.profile)) == {"yes": 0.5}
        fitted = mon.thresholds()
        assert dict(thresholds_for(mon.profile)) == {"yes": fitted.classes["yes"].threshold}
    assert fitted.binary
    assert list(fitted.classes) == ["yes"]
    t = fitted.classes["yes"]
    truth = (ref["y"] == "yes").to_numpy()
    p = ref["p"].to_numpy()
    assert t.default == 0.5
    assert t.before["f1"] == pytest.approx(f1_score(truth, p >= 0.5), abs=1e-12)
    assert t.after is not None
    assert t.after["f1"] == pytest.approx(f1_score(truth, p >= t.threshold), abs=1e-12)
    assert t.after["f1"] >= t.before["f1"]
    # the holdout's shares, overall and per cohort value, at the threshold and the band
    band = fitted.config.band
    assert fitted.reference["above"]["yes"] == pytest.approx(np.mean(p >= t.threshold))
    near = (p >= t.threshold - band) & (p <= t.threshold + band)
    assert fitted.reference["band"]["yes"] == pytest.approx(np.mean(near))
    assert fitted.reference["none"] is None
    eu = ref["region"].to_numpy() == "eu"
    assert fitted.cohorts["region"]["eu"]["n"] == eu.sum()
    assert fitted.cohorts["region"]["eu"]["above"]["yes"] == pytest.approx(
        np.mean(p[eu] >= t.threshold)
    )


def _threshold_results(report: Any) -> list[Any]:
    return [r for r in report.results if r.check in THRESHOLD_CHECKS]


def test_shares_above_and_in_the_band_are_checked_against_the_holdout(tmp_path: Path) -> None:
    """No drift: the shares stay within their bounds. Scores shifted up: the share above
    the threshold alerts, its incident is an output one, and the engine's counts equal
    numpy's on the same rows."""
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(4000, 1, "2024-01-01"))
        fitted = mon.thresholds()
        t = fitted.classes["yes"].threshold
        assert t is not None
        same = _binary_frame(2880, 2, "2024-02-01")  # two days, 1440 rows each
        moved = _binary_frame(1440, 3, "2024-02-03", shift=0.12)
        mon.log_predictions(same)
        mon.log_predictions(moved)
        report = mon.check()
    got = _threshold_results(report)
    assert {r.check for r in got} == {"threshold_above", "threshold_band"}  # binary: no none
    overall = {(r.window_start[:10], r.check): r for r in got if r.cohort is None}
    for day in ("2024-02-01", "2024-02-02"):
        assert overall[(day, "threshold_above")].status == "ok"
        assert overall[(day, "threshold_band")].status == "ok"
    hit = overall[("2024-02-03", "threshold_above")]
    assert hit.status == "alert"
    assert hit.details["current_share"] == pytest.approx(np.mean(moved["p"].to_numpy() >= t))
    assert hit.value == pytest.approx(
        hit.details["current_share"] - fitted.reference["above"]["yes"]
    )
    assert "against the whole holdout" in hit.bound_how
    eu = [r for r in got if r.cohort_value == "eu" and r.check == "threshold_above"]
    assert eu
    assert all("region='eu'" in r.bound_how or "'region'='eu'" in r.bound_how for r in eu)
    day = moved[moved["region"] == "eu"]
    eu_hit = next(r for r in eu if r.window_start.startswith("2024-02-03"))
    assert eu_hit.details["current_share"] == pytest.approx(np.mean(day["p"].to_numpy() >= t))
    members = {a.id: a for a in report.alerts}
    with_threshold = [
        i for i in report.incidents if any(members[a].check in THRESHOLD_CHECKS for a in i.alerts)
    ]
    assert with_threshold
    assert all(i.kind == "change" for i in with_threshold)
    assert all("threshold_above" in i.checks for i in with_threshold)
    assert set(THRESHOLD_CHECKS) <= OUTPUT_CHECKS


def test_multi_class_none_cleared_is_checked(tmp_path: Path, digits: Any) -> None:
    """The digits' traffic with every score damped: fewer rows clear any threshold."""
    with _digits_monitor(tmp_path, digits, window="7d") as mon:
        fitted = mon.thresholds()
        day = digits.days[0].copy()
        cols = [f"score_{c}" for c in range(10)]
        damped = day.copy()
        damped[cols] = damped[cols].to_numpy() * 0.6 + 0.04  # still sums to 1
        damped["id"] = "damped-" + damped["id"]
        damped["ts"] = damped["ts"] + pd.Timedelta(days=7)
        mon.log_predictions(day)
        mon.log_predictions(damped)
        report = mon.check()
    got = [
        r for r in _threshold_results(report) if r.check == "threshold_none" and r.cohort is None
    ]
    assert [r.window_start[:10] for r in got] == ["2026-08-27", "2026-09-03"]
    scores = damped[cols].to_numpy()
    chosen = np.array([fitted.classes[str(c)].threshold for c in range(10)])
    share = np.mean(~(scores >= chosen).any(axis=1))
    assert got[1].details["current_share"] == pytest.approx(share)
    assert got[0].status == "ok"
    assert got[1].status == "alert"


def test_choosing_again_replaces_what_depends_on_the_thresholds(tmp_path: Path) -> None:
    """Nothing stored twice: one thresholds entry in the profile, one summary fingerprint
    in the store; results are decided again at the new thresholds."""
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(2000, 1, "2024-01-01"))
        mon.log_predictions(_binary_frame(1440, 2, "2024-02-01"))
        first = _threshold_results(mon.check())
        assert first == []  # none chosen yet: no threshold results
        mon.thresholds()
        f1_results = _threshold_results(mon.check())
        mon.thresholds(objective="recall", target=0.95)
        again = mon.check()
        recall_results = _threshold_results(again)
        assert again.results == mon.check().results  # read back, not recomputed
        fingerprints = mon.store.con.execute(
            "SELECT count(DISTINCT fingerprint) FROM summaries"
        ).fetchone()
        profile = json.loads(mon.profile_path.read_text())
    assert fingerprints == (1,)
    assert profile["thresholds"]["config"]["objective"] == "recall"
    t1 = f1_results[0].details["threshold"]
    t2 = recall_results[0].details["threshold"]
    assert t1 != t2
    assert t2 == profile["thresholds"]["classes"]["yes"]["threshold"]


def test_a_profile_without_thresholds_loads_and_round_trips(tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(500, 1, "2024-01-01"))
        path = mon.profile_path
        spec = mon.spec
    data = json.loads(path.read_text())
    assert "thresholds" not in data  # a stored profile before thresholds looks like this
    assert Profile.from_dict(data, spec).thresholds_ is None
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        fitted = mon.thresholds()
    loaded = Profile.load(path, spec)
    assert loaded.thresholds_ == fitted
    data = json.loads(path.read_text())
    data["thresholds"]["classes"]["yes"]["threshold"] = "high"
    with pytest.raises(ProfileError, match="its thresholds cannot be read"):
        Profile.from_dict(data, spec)


def _unchanged(mon: driftline.Monitor) -> tuple[str, Any]:
    return mon.profile_path.read_text(), mon.store.counts()


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            lambda df: df.assign(y="yes"),
            SchemaError,
            r"holds one class only \('yes', 600 labelled rows\)",
        ),
        (lambda df: df.assign(p=0.5), SchemaError, r"take one value \(0.5\) on all 600 rows"),
        (lambda df: df.assign(y=None), SchemaError, "is empty on all 600 rows"),
        (lambda df: df.assign(y="maybe"), SchemaError, "holds 'maybe', which is not a class"),
    ],
)
def test_bad_holdouts_are_clear_errors_and_store_nothing(
    tmp_path: Path, change: Any, error: type[Exception], message: str
) -> None:
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(change(_binary_frame(600, 1, "2024-01-01")))
        before = _unchanged(mon)
        with pytest.raises(error, match=message):
            mon.thresholds()
        assert _unchanged(mon) == before
        assert mon.profile.thresholds_ is None


def test_a_target_precision_no_threshold_reaches_is_a_clear_error(tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(600, 1, "2024-01-01"))
        mon.thresholds()  # stored first: a failed choice keeps it
        before = _unchanged(mon)
        ref = mon.store.con.execute("SELECT p, y FROM reference_reference").fetchall()
        top = max(ref)  # make the top score a negative: precision 1 is out of reach
        mon.store.con.execute("UPDATE reference_reference SET y = 'no' WHERE p = ?", [top[0]])
        with pytest.raises(ConfigError) as info:
            mon.thresholds(objective="precision", target=1.0)
        assert "no threshold of the holdout's scores of class 'yes' reaches precision 1" in str(
            info.value
        )
        assert "Lower the target to at most" in str(info.value)
        assert _unchanged(mon)[0] == before[0]


def test_a_class_without_labelled_rows_keeps_its_default(tmp_path: Path, digits: Any) -> None:
    ref = digits.reference[digits.reference["label"] != "3"]
    with driftline.connect(tmp_path / "d.duckdb", digits.spec) as mon:
        mon.log_reference(ref)
        fitted = mon.thresholds()
        assert thresholds_for(mon.profile)["3"] is None
    assert fitted.classes["3"].threshold is None
    assert fitted.classes["3"].note == "no labelled row of this class in the holdout"
    assert "3" not in fitted.chosen
    assert len(fitted.chosen) == 9


def test_no_label_column_is_a_config_error(tmp_path: Path) -> None:
    spec = {k: v for k, v in BINARY.items() if k != "label"}
    with driftline.connect(tmp_path / "b.duckdb", spec) as mon:
        mon.log_reference(_binary_frame(300, 1, "2024-01-01").drop(columns=["y"]))
        with pytest.raises(ConfigError, match="the spec has no label column"):
            mon.thresholds()


def test_the_spec_section_configures_every_surface_alike(tmp_path: Path) -> None:
    spec = {**BINARY, "thresholds": {"objective": "fbeta", "beta": 2.0, "band": 0.1}}
    loaded = load_spec(spec)
    assert loaded.thresholds == ThresholdConfig(objective="fbeta", beta=2.0, band=0.1)
    # the profile depends on the data roles only: the section leaves its fingerprint
    assert loaded.fingerprint() == load_spec(BINARY).fingerprint()
    assert load_spec(yaml.safe_load(loaded.to_yaml())) == loaded
    with pytest.raises(ConfigError, match="thresholds"):
        load_spec({**BINARY, "thresholds": {"objective": "f1", "bogus": 1}})
    with driftline.connect(tmp_path / "b.duckdb", spec) as mon:
        mon.log_reference(_binary_frame(800, 1, "2024-01-01"))  # fitting chooses them too
        fitted = mon.profile.thresholds_
        assert fitted is not None
        assert fitted.config == loaded.thresholds
        # a keyword overrides the section; a new objective takes none of its settings
        assert mon.thresholds(band=0.02).config.beta == 2.0
        assert mon.thresholds(objective="f1").config == ThresholdConfig(band=0.1)
        with pytest.raises(ConfigError, match="target applies to the objectives"):
            mon.thresholds(target=0.9)


def test_odd_class_names_and_an_absent_cohort_value(tmp_path: Path) -> None:
    """Classes named like SQL and HTML, and a cohort value the holdout never had."""
    odd_yes, odd_no = 'it\'s "yes" <b>', "no; DROP TABLE x"
    spec = {**BINARY, "scores": {"column": "p", "positive": odd_yes, "negative": odd_no}}
    ref = _binary_frame(2000, 1, "2024-01-01")
    ref["y"] = np.where(ref["y"] == "yes", odd_yes, odd_no)
    ref["pred"] = np.where(ref["pred"] == "yes", odd_yes, odd_no)
    cur = _binary_frame(1440, 2, "2024-02-01")
    cur["pred"] = np.where(cur["pred"] == "yes", odd_yes, odd_no)
    cur["region"] = "mars"
    with driftline.connect(tmp_path / "o.duckdb", spec) as mon:
        mon.log_reference(ref)
        fitted = mon.thresholds()
        mon.log_predictions(cur)
        got = _threshold_results(mon.check())
    assert list(fitted.classes) == [odd_yes]
    mars = [r for r in got if r.cohort_value == "mars"]
    assert {r.column for r in mars} == {odd_yes}
    assert all("against the whole holdout" in r.bound_how for r in mars)


def test_empty_and_small_windows_raise_no_threshold_result(tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "b.duckdb", {**BINARY, "window": "1h"}) as mon:
        mon.log_reference(_binary_frame(1000, 1, "2024-01-01"))
        mon.thresholds()
        one = _binary_frame(1, 2, "2024-02-01T00:30")  # one row in its window
        later = _binary_frame(60, 3, "2024-02-01T05:00")  # empty hours between
        mon.log_predictions(one)
        mon.log_predictions(later)
        report = mon.check()
    got = _threshold_results(report)
    assert {r.window_start[:13] for r in got} == {"2024-02-01T05"}
    assert report.gaps  # the empty hours are gaps, with no results


def test_thresholds_for_a_multi_class_profile_without_them(tmp_path: Path, digits: Any) -> None:
    with _digits_monitor(tmp_path, digits) as mon:
        assert dict(thresholds_for(mon.profile)) == {str(c): None for c in range(10)}


def test_cli_prints_the_gain_and_stores_the_thresholds(tmp_path: Path, run_cli: Any) -> None:
    spec = tmp_path / "s.yaml"
    Spec.model_validate(BINARY).save(spec)
    ref = tmp_path / "ref.parquet"
    _binary_frame(1500, 1, "2024-01-01").to_parquet(ref)
    store = tmp_path / "s.duckdb"
    args = ("--spec", str(spec), "--store", str(store))
    assert run_cli("log", "--reference", str(ref), *args).code == 0
    res = run_cli("thresholds", *args)
    assert res.code == 0, res.err
    assert "gain over the default (0.5) on the holdout" in res.out
    assert "stored in the profile" in res.out
    res = run_cli("thresholds", "--objective", "recall", "--target", "0.9", "--json", *args)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["config"]["objective"] == "recall"
    assert data["classes"]["yes"]["after"]["recall"] >= 0.9
    res = run_cli("thresholds", "--objective", "precision", "--target", "1.5", *args)
    assert res.code == 2
    assert "target" in res.err
    assert "less than or equal to 1" in res.err
    res = run_cli("thresholds", "--objective", "cost", "--cost", "0,1", *args)
    assert res.code == 2
    assert "--cost '0,1' is not four numbers" in res.err


def test_a_refit_chooses_the_thresholds_chosen_by_the_command_again(
    tmp_path: Path, run_cli: Any
) -> None:
    """Thresholds chosen with `driftline thresholds` (no spec section) survive `fit` and
    `log --reference`: chosen again with their settings, on the new holdout, and said so.
    A refit dropped them, and the threshold checks stopped without a word."""
    spec = tmp_path / "s.yaml"
    Spec.model_validate(BINARY).save(spec)
    ref, newer = tmp_path / "ref.parquet", tmp_path / "newer.parquet"
    _binary_frame(1500, 1, "2024-01-01").to_parquet(ref)
    _binary_frame(1200, 7, "2024-01-01").to_parquet(newer)
    store = tmp_path / "s.duckdb"
    args = ("--spec", str(spec), "--store", str(store))
    assert run_cli("log", "--reference", str(ref), *args).code == 0
    assert run_cli("thresholds", "--objective", "recall", "--target", "0.95", *args).code == 0
    profile = tmp_path / "s.profile.json"
    chosen = json.loads(profile.read_text())["thresholds"]
    res = run_cli("fit", *args)
    assert res.code == 0, res.err
    assert (
        "thresholds chosen again on 1500 labelled holdout rows, objective recall >= 0.95" in res.out
    )
    again = json.loads(profile.read_text())["thresholds"]
    assert again["config"] == chosen["config"]
    assert again["classes"]["yes"]["threshold"] == chosen["classes"]["yes"]["threshold"]
    res = run_cli("log", "--reference", str(newer), *args)  # a new holdout: chosen on it
    assert res.code == 0, res.err
    assert "thresholds chosen again on 1200 labelled holdout rows" in res.out
    with driftline.connect(store, spec) as mon:
        newest = mon.profile.thresholds_
        assert newest is not None
        assert newest.config.model_dump(mode="json") == chosen["config"]
        assert newest.labelled == 1200
        assert newest.classes["yes"].after["recall"] >= 0.95


def test_label_queues_use_the_thresholds_chosen_on_the_holdout(tmp_path: Path, digits: Any) -> None:
    with _digits_monitor(tmp_path, digits) as mon:
        mon.log_predictions(digits.days[0])
        before = mon.queue(policy="near-threshold", budget=5)
        fitted = mon.thresholds()
        after = mon.queue(policy="near-threshold", budget=5)
    chosen = {c: t.threshold for c, t in fitted.classes.items() if t.threshold is not None}
    assert before.thresholds == {}  # multi-class without chosen thresholds: the margin
    assert after.thresholds == pytest.approx(chosen)
    assert after.ids != before.ids
    # the queue says where its thresholds come from (it said "given", as if passed)
    assert before.to_dict()["thresholds_how"].startswith("none: the boundary")
    how = f"chosen on the holdout ({fitted.labelled} labelled rows, objective f1)"
    assert after.to_dict()["thresholds_how"] == how


def test_a_reference_whose_profile_cannot_be_fitted_replaces_nothing(tmp_path: Path) -> None:
    """Storing a reference and fitting its profile is both or neither: thresholds the
    spec asks for that the new holdout cannot reach refuse it, and the stored reference
    and the profile are the ones before (the new one had replaced the stored table)."""
    spec = {**BINARY, "thresholds": {"objective": "precision", "target": 0.9999}}
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(800, 1, "2024-01-01"))
    profile = tmp_path / "b.profile.json"
    before = profile.read_bytes()
    with driftline.connect(tmp_path / "b.duckdb", spec, profile=profile) as mon:
        first = mon.store.con.execute(
            "SELECT min(id), count(*) FROM reference_reference"
        ).fetchone()
        newer = _binary_frame(900, 2, "2024-01-01").assign(id=lambda d: "new-" + d["id"])
        newer.loc[newer["p"] >= 0.99, "y"] = "no"  # no threshold is that precise now
        with pytest.raises(ConfigError, match=r"precision 0\.9999"):
            mon.log_reference(newer)
        after = mon.store.con.execute(
            "SELECT min(id), count(*) FROM reference_reference"
        ).fetchone()
        tables = {r[0] for r in mon.store.con.execute("SHOW TABLES").fetchall()}
    assert after == first
    assert profile.read_bytes() == before
    assert not any(t.startswith("__dl_kept") for t in tables)


def test_a_reference_set_aside_by_a_process_that_died_is_put_back(tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "b.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(800, 1, "2024-01-01"))
    code = (
        "import os, sys, driftline\n"
        "mon = driftline.connect(sys.argv[1], sys.argv[2])\n"
        "with mon.store.reference_kept('reference'):\n"
        "    mon.store.con.execute('CREATE TABLE reference_reference AS SELECT 1 AS half')\n"
        "    mon.store.con.execute('CHECKPOINT')\n"
        "    os._exit(9)\n"
    )
    spec = tmp_path / "b.yaml"
    Spec.model_validate(BINARY).save(spec)
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "b.duckdb"), str(spec)], timeout=120
    )
    assert done.returncode == 9
    with driftline.connect(tmp_path / "b.duckdb", spec) as mon:
        assert mon.store.con.execute("SELECT count(*) FROM reference_reference").fetchone() == (
            800,
        )
