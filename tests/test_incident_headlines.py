"""Incident headlines end to end, through a real store: what moved is said in the words
of what moved (an accuracy drop says accuracy, a cohort value new since the reference is
called new and shown at its own level), never in another incident's words."""

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
    return df


def _monitor(tmp_path: Path) -> Any:
    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {c: f"p_{c}" for c in CLASSES}},
        "label": "label",
        "cohorts": ["region"],
        "features": {"numeric": ["x1", "x2", "x3"]},
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
    (inc,) = report.incidents
    assert "in region=mars" in inc.headline
    (said,) = [
        part for part in inc.headline.split("(", 1)[1].split(";") if "mean confidence" in part
    ]
    level = float(said.split(" at ")[1].split()[0])
    own = [float(a.message.split("-> ")[1].split()[0].rstrip(";")) for a in mars]
    assert min(own) - 0.01 <= level <= max(own) + 0.01, (level, own)
    assert "new since the reference" in said
