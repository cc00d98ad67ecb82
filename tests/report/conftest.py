"""A small real store with hostile strings, its check report and its rendered HTML.

Built once per session: a reference and six days of predictions (144 a day) with a
``segment`` cohort, numeric ``x``/``y``, categorical ``color`` and text ``comment``. From
day 4 the comments shout (upper case, digits, "!!!"), from day 5 ``x`` shifts by 3, and
the second batch carries two unknown columns. Hostile strings sit in two cohort values
(markup; a right-to-left override with a terminal escape), two
categories (known to the reference, so they reach the drill-down data; one is Plotly's own
pseudo-HTML) and the unknown columns' names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline import CheckReport

SCRIPT = "</script><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(2)">x &amp; <b>y</b></a>'
#: a right-to-left override (draws the rest of its line backwards) and a terminal escape
BIDI = "south\u202eevil\x1b[31m"
CLASSES = ("a", "b", "c")
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "good", "service")


@dataclass
class Rendered:
    report: CheckReport
    html: str
    path: Path


def _frame(n: int, seed: int, start: str, freq: str, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(len(CLASSES)) * 0.6, size=n)
    df = pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq=freq, tz="UTC"),
            "pred": np.array(CLASSES)[probs.argmax(axis=1)],
        }
    )
    for j, c in enumerate(CLASSES):
        df[f"score_{c}"] = probs[:, j]
    df["label"] = rng.choice(CLASSES, size=n)
    df["segment"] = rng.choice(["north", BIDI, SCRIPT], size=n)
    df["x"] = rng.normal(size=n)
    df["y"] = rng.normal(10.0, 2.0, size=n)
    df["color"] = rng.choice(
        ["red", "green", "blue", IMG, LINK], size=n, p=[0.3, 0.3, 0.2, 0.1, 0.1]
    )
    df["comment"] = [" ".join(rng.choice(WORDS, size=rng.integers(3, 10))) for _ in range(n)]
    return df


def spec() -> dict[str, Any]:
    return {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
        "label": "label",
        "cohorts": ["segment"],
        "features": {"numeric": ["x", "y"], "categorical": ["color"], "text": ["comment"]},
        "window": "1d",
        "checks": {"calibration_reps": 200},
    }


def build_report(directory: Path) -> CheckReport:
    reference = _frame(600, seed=1, start="2024-01-01", freq="h", prefix="r")
    current = _frame(144 * 6, seed=2, start="2024-03-01", freq="10min", prefix="c")
    shout = current.index[144 * 3 :]
    current.loc[shout, "comment"] = current.loc[shout, "comment"].str.upper() + " 12345 !!!"
    current.loc[current.index[144 * 4 :], "x"] += 3.0
    second = current.iloc[300:].copy()
    second[SCRIPT] = 1
    second[IMG + "col"] = "v"
    with driftline.connect(directory / "store.duckdb", spec()) as mon:
        mon.log_reference(reference)
        mon.log_predictions(current.iloc[:300])
        mon.log_predictions(second)
        return mon.check(persist=False)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    directory = tmp_path_factory.mktemp("report")
    report = build_report(directory)
    path = driftline.render_report(report, directory / "report.html")
    return Rendered(report, path.read_text(encoding="utf-8"), path)
