"""Incidents end to end, through a real store: what moved is said in the words of what
moved (an accuracy drop says accuracy, a cohort value new since the reference is called
new and shown at its own level, the values carrying a change are those it moved), and an
incident keeps its start and id whatever range a check looks at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import driftline

CLASSES = ("a", "b", "c")
WEIGHTS = np.array([[2.0, -1.0, 0.0], [-1.0, 2.0, 0.5], [0.0, 0.3, 1.0]])


def _rows(
    n: int,
    rng: np.random.Generator,
    start: str,
    prefix: str,
    regions: tuple[str, ...] = ("eu", "us", "apac"),
    shifted: str | None = None,
    days: int = 1,
) -> pd.DataFrame:
    """Rows of a fixed linear model: 3 numeric inputs, scores, the predicted class and a
    label drawn from the scores (so the holdout's accuracy is the model's)."""
    region = rng.choice(np.array(regions, dtype=object), n)
    x = rng.normal(size=(n, 3))
    if shifted is not None:
        x[region == shifted, 0] += 2.0
    logits = x @ WEIGHTS
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * days, n), unit="s")
    df = pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "ts": ts, "region": region})
    for j in range(3):
        df[f"x{j + 1}"] = x[:, j]
    for k, c in enumerate(CLASSES):
        df[f"p_{c}"] = p[:, k]
    df["pred"] = np.array(CLASSES, dtype=object)[p.argmax(axis=1)]
    df["label"] = [CLASSES[rng.choice(3, p=row)] for row in p]
    df["cat"] = rng.choice(np.array(["k1", "k2", "k3"], dtype=object), n)
    df["channel"] = rng.choice(np.array(["web", "app", "store"], dtype=object), n)
    return df


def _monitor(tmp_path: Path, cohorts: tuple[str, ...] = ("region",)) -> Any:
    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {c: f"p_{c}" for c in CLASSES}},
        "label": "label",
        "cohorts": list(cohorts),
        "features": {"numeric": ["x1", "x2", "x3"], "categorical": ["cat"]},
        "window": "1d",
    }
    return driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json")


def test_an_accuracy_drop_in_one_region_is_said_as_one(tmp_path: Path) -> None:
    """Labels in eu turn random from the fifth day: the only alerts are ``performance``;
    the headline says accuracy dropped in region=eu and that the inputs did not move."""
    rng = np.random.default_rng(95)
    with _monitor(tmp_path) as mon:
        mon.log_reference(_rows(3000, rng, "2025-12-01", "ref", days=20))
        for k in range(7):
            df = _rows(600, rng, f"2026-01-0{k + 1}", f"d{k}-")
            labels = df[["id", "label"]].copy()
            if k >= 4:
                eu = (df["region"] == "eu").to_numpy()
                labels.loc[eu, "label"] = rng.choice(np.array(CLASSES, dtype=object), eu.sum())
            mon.log_predictions(df.drop(columns=["label"]))
            mon.log_labels(labels)
        report = mon.check(persist=False)
    assert {a.check for a in report.alerts} == {"performance"}
    (inc,) = report.incidents
    assert inc.headline.startswith("accuracy dropped from 0.")
    assert " in region=eu; the inputs did not move; since 2026-01-05" in inc.headline
    assert "inputs drifted" not in inc.headline


def test_a_cohort_value_new_since_the_reference_is_shown_at_its_own_level(
    tmp_path: Path,
) -> None:
    """Traffic of a region the reference never had (mars), its inputs shifted: its mean
    confidence is its own (as its alerts say), called new, not the overall mean."""
    rng = np.random.default_rng(41)
    with _monitor(tmp_path) as mon:
        mon.log_reference(_rows(3000, rng, "2025-12-01", "ref", days=20))
        for k in range(8):
            regions = ("eu", "us", "apac", "mars") if k >= 4 else ("eu", "us", "apac")
            shifted = "mars" if k >= 4 else None
            df = _rows(600, rng, f"2026-01-0{k + 1}", f"d{k}-", regions, shifted)
            mon.log_predictions(df.drop(columns=["label"]))
        report = mon.check(persist=False)
    mars = [a for a in report.alerts if a.cohort_value == "mars" and a.check == "confidence_shift"]
    assert mars
    (inc,) = [i for i in report.incidents if any(s.cohort_value == "mars" for s in i.scopes)]
    assert "in region=mars" in inc.headline
    (said,) = [
        part for part in inc.headline.split("(", 1)[1].split(";") if "mean confidence" in part
    ]
    level = float(said.split(" at ")[1].split()[0])
    own = [float(a.message.split("-> ")[1].split()[0].rstrip(";")) for a in mars]
    assert min(own) - 0.01 <= level <= max(own) + 0.01, (level, own)
    assert "new since the reference" in said


def test_a_value_whose_inputs_alone_drifted_is_not_a_carrier_of_an_output_change(
    tmp_path: Path,
) -> None:
    """In the same days, x1 shifts in region=us (it moves the outputs) and the mix of
    ``cat`` changes in region=apac (an input the model does not read): the output change
    is carried by region=us alone; apac's alerts are only of ``cat``."""
    rng = np.random.default_rng(7)
    with _monitor(tmp_path) as mon:
        mon.log_reference(_rows(3000, rng, "2025-12-01", "ref", days=20))
        for k in range(10):
            moved = 3 <= k < 7
            df = _rows(600, rng, f"2026-01-{k + 1:02d}", f"d{k}-", shifted="us" if moved else None)
            if moved:
                apac = (df["region"] == "apac").to_numpy()
                df.loc[apac, "cat"] = rng.choice(["k1", "k2", "k3"], apac.sum(), p=[0.8, 0.1, 0.1])
            mon.log_predictions(df.drop(columns=["label"]))
        report = mon.check(persist=False)
    assert {(a.check, a.column) for a in report.alerts if a.cohort_value == "apac"} == {
        ("feature_drift", "cat")
    }
    outputs = [i for i in report.incidents if "class_mix" in i.checks]
    assert len(outputs) == 1
    assert [c.cohort_value for c in outputs[0].root_cause.carriers] == ["us"]
    assert " in region=us " in outputs[0].headline
    assert "apac" not in outputs[0].headline
    # the inputs that moved with it are us's: cat drifted in apac alone
    assert [c.column for c in outputs[0].root_cause.columns] == ["x1"]
    assert "inputs that moved most: x1;" in outputs[0].headline


def test_the_cohort_column_that_locates_a_change_names_it(tmp_path: Path) -> None:
    """Two cohort columns; x1 shifts in region=eu only. Every channel alerts too (a third
    of each channel's rows are eu's), so the change is located by region: the headline
    says region=eu, not every channel."""
    rng = np.random.default_rng(93)
    with _monitor(tmp_path, ("region", "channel")) as mon:
        mon.log_reference(_rows(3000, rng, "2025-12-01", "ref", days=20))
        for k in range(6):
            shifted = "eu" if k >= 3 else None
            df = _rows(900, rng, f"2026-01-0{k + 1}", f"d{k}-", shifted=shifted)
            mon.log_predictions(df.drop(columns=["label"]))
        report = mon.check(persist=False)
    channels = {a.cohort_value for a in report.alerts if a.cohort == "channel"}
    assert channels == {"web", "app", "store"}
    (inc,) = report.incidents
    assert [(c.cohort, c.cohort_value) for c in inc.root_cause.carriers] == [("region", "eu")]
    assert " in region=eu " in inc.headline
    assert "channel" not in inc.headline


def test_an_incident_keeps_its_start_and_id_in_a_check_since_a_later_day(tmp_path: Path) -> None:
    """x1 shifts in region=eu from the fourth day on: a check of every day, then checks
    ``since`` later days (a cron job looking at the last few days) and one more day
    logged: one incident, the same id and start every time, its evidence the alerts of
    the range checked."""
    rng = np.random.default_rng(5)
    days = [
        _rows(600, rng, f"2026-01-{k + 1:02d}", f"d{k}-", shifted="eu" if k >= 3 else None)
        for k in range(12)
    ]
    seen = []
    with _monitor(tmp_path) as mon:
        mon.log_reference(_rows(3000, rng, "2025-12-01", "ref", days=20))
        for df in days[:11]:
            mon.log_predictions(df.drop(columns=["label"]))
        seen.append(mon.check())
        seen.append(mon.check(since="2026-01-06"))
        seen.append(mon.check(since="2026-01-07", persist=False))
        mon.log_predictions(days[11].drop(columns=["label"]))
        seen.append(mon.check(since="2026-01-08"))
        seen.append(mon.check())
    found = [
        [i for i in r.incidents if any(s.cohort_value == "eu" for s in i.scopes)] for r in seen
    ]
    assert all(len(f) == 1 for f in found), [[i.headline for i in f] for f in found]
    first = found[0][0]
    assert first.start <= "2026-01-04T00:00:00Z"
    for report, (inc,) in zip(seen, found, strict=True):
        assert (inc.id, inc.start) == (first.id, first.start)
        assert inc.status == "ongoing"
        ids = {a.id for a in report.alerts}
        assert inc.alerts
        assert set(inc.alerts) <= ids


def test_without_cohorts_a_headline_gives_the_direction_and_the_levels(tmp_path: Path) -> None:
    """No cohort column to decompose by: the confidence and accuracy of the headline are
    the overall ones, the reference's against the incident's windows pooled (as the
    alerts say them), not just "moved"."""
    rng = np.random.default_rng(7)
    with _monitor(tmp_path, cohorts=()) as mon:
        mon.log_reference(_rows(3000, rng, "2025-12-01", "ref", days=20))
        for k in range(8):
            df = _rows(600, rng, f"2026-01-0{k + 1}", f"d{k}-")
            labels = df[["id", "label"]].copy()
            if k >= 4:  # flatter scores (the same argmax) and labels gone random
                scores = df[[f"p_{c}" for c in CLASSES]].to_numpy() * 0.3 + 0.7 / 3
                df[[f"p_{c}" for c in CLASSES]] = scores
                labels["label"] = rng.choice(np.array(CLASSES, dtype=object), len(df))
            mon.log_predictions(df.drop(columns=["label"]))
            mon.log_labels(labels)
        report = mon.check(persist=False)
        profile = mon.profile
    (inc,) = [i for i in report.incidents if "confidence_shift" in i.checks]
    assert "moved" not in inc.headline.split(";")[0], inc.headline
    said = inc.headline.split("mean confidence dropped from ")[1]
    ref, cur = (float(v) for v in said.split(" overall")[0].split(" to "))
    assert ref == round(profile.confidence_["mean"], 2)
    days = [s for s in report.stats if s.cohort is None and s.window_start >= inc.start]
    pooled = sum(s.n * (s.conf_mean or 0.0) for s in days) / sum(s.n for s in days)
    assert cur == round(pooled, 2)
    assert "accuracy dropped from 0." in inc.headline


def test_missing_values_that_fell_are_said_to_fall(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """A feature missing in every reference row and present in every served one: its
    missing share fell, and the headline says so (it said "spike to 0%")."""
    ref = make_predictions(400, seed=1, id_prefix="ref")
    ref["x"] = np.nan
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_reference(ref)
        served = make_predictions(240, seed=2, id_prefix="p", start="2024-02-01", freq="10min")
        mon.log_predictions(served)  # two days of 144 and 96 rows
        report = mon.check()
    heads = [i.headline for i in report.incidents if i.checks == ["missing_fraction"]]
    assert heads, [i.headline for i in report.incidents]
    assert all("missing values of x fall to 0% of rows (reference 100.0%)" in h for h in heads)
