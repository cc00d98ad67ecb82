"""Robustness and LIME over a real store: the Python verbs, the CLI and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import driftline
from driftline.errors import ConfigError
from driftline.explain import explain
from driftline.report import render_report

if TYPE_CHECKING:
    from conftest import RunCli

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model-verbs")
    data = load_iris()
    x = pd.DataFrame(data.data, columns=FEATURES)
    y = data.target.astype(str)
    rng = np.random.default_rng(0)
    x["plan"] = rng.choice(["basic", "pro"], len(x))
    model = LogisticRegression(max_iter=1000).fit(x[FEATURES], y)

    class PlanAware:
        """The fitted model on the four measurements; 'plan' is logged, not used."""

        classes_ = model.classes_

        def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
            return model.predict_proba(rows[FEATURES])

    joblib.dump(model, root / "model.joblib")

    def frame(idx: np.ndarray, prefix: str) -> pd.DataFrame:
        proba = model.predict_proba(x.loc[idx, FEATURES])
        df = x.loc[idx].reset_index(drop=True)
        df.insert(0, "id", [f"{prefix}{i}" for i in idx])
        df["prediction"] = model.classes_[proba.argmax(axis=1)]
        for k, c in enumerate(model.classes_):
            df[f"p_{c}"] = proba[:, k]
        df["label"] = y[idx]
        df["region"] = "eu"
        return df

    spec = {
        "scores": {"columns": {c: f"p_{c}" for c in ("0", "1", "2")}},
        "label": "label",
        "cohorts": ["region"],
        "features": {"numeric": FEATURES, "categorical": ["plan"]},
        "timestamp": "ts",
    }
    driftline.load_spec(spec).save(root / "driftline.yaml")
    with driftline.connect(root / "driftline.duckdb", root / "driftline.yaml") as mon:
        mon.log_reference(frame(np.arange(0, 150, 2), "ref-"))
        serving = frame(np.arange(1, 150, 2), "p-")
        serving["ts"] = pd.Timestamp("2026-10-01") + pd.to_timedelta(np.arange(75), unit="h")
        mon.log_predictions(serving.drop(columns=["label"]))
    return root


def test_explain_ids_equal_lime_on_the_stored_row(project: Path) -> None:
    model = joblib.load(project / "model.joblib")
    wrapped = _OnFeatures(model)
    with driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon:
        found = mon.explain(wrapped, ids=["p-7"], num_samples=300, seed=4)
        row = mon.sample(1, ids=["p-7"])
        ref = mon.sample(5000, source="reference", seed=4)
    inputs = row[[*FEATURES, "plan"]]
    direct = explain(
        wrapped,
        inputs,
        reference=ref[[*FEATURES, "plan"]].reset_index(drop=True),
        num_samples=300,
        seed=4,
    )
    assert found[0] == direct
    assert found[0].klass == str(model.predict(row[FEATURES])[0])


class _OnFeatures:
    def __init__(self, model: LogisticRegression) -> None:
        self.model = model
        self.classes_ = model.classes_

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(rows[FEATURES])


def test_robustness_and_class_explanations_in_the_report(project: Path, tmp_path: Path) -> None:
    model = _OnFeatures(joblib.load(project / "model.joblib"))
    with driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon:
        rob = mon.robustness(model, n=60, numeric_scale=0.5)
        again = mon.robustness(model, n=60, numeric_scale=0.5)
        swap = mon.robustness(model, perturbations=["swap"], rate=1.0)
        per_class = mon.explain(model, classes=["0", "2"], n=5, num_samples=200)
        report = mon.check(persist=False)
    assert rob == again
    assert rob.flip_rate("gaussian") > 0  # half a std of noise moves iris near the borders
    assert swap.flip_rate("swap") == 0.0  # the model never reads 'plan'
    assert [e.klass for e in per_class] == ["0", "2"]
    assert all("petal" in e.terms[0].term for e in per_class)
    html = render_report(report, tmp_path / "r.html", explanations=per_class, robustness=rob)
    text = html.read_text()
    assert "LIME, per class" in text
    assert "Robustness: does in-domain noise flip the prediction?" in text


def test_cli_robustness_and_explain(project: Path, run_cli: RunCli, tmp_path: Path) -> None:
    args = ["--spec", project / "driftline.yaml", "--store", project / "driftline.duckdb"]
    res = run_cli("robustness", "--model", project / "model.joblib", "--json", *args)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    # the model was fitted on the four measurements: only they are perturbed
    assert {r["perturbation"] for r in data["results"]} == {"gaussian"}
    gate = run_cli(
        "robustness",
        "--model",
        project / "model.joblib",
        "--numeric-scale",
        "1",
        "--fail-above",
        "0",
        *args,
    )
    assert gate.code == 1
    assert "gaussian" in gate.out
    res = run_cli(
        "explain",
        "--model",
        project / "model.joblib",
        "--class",
        "1",
        "--n",
        "3",
        "--num-samples",
        "200",
        *args,
    )
    assert res.code == 0, res.err
    assert "class 1 (3 rows, random)" in res.out
    bad = run_cli("explain", "--model", tmp_path / "nope.joblib", *args)
    assert bad.code == 2
    assert "is not a file" in bad.err
    (tmp_path / "junk.joblib").write_bytes(b"not a model")
    bad = run_cli("robustness", "--model", tmp_path / "junk.joblib", *args)
    assert bad.code == 2
    assert "could not be loaded" in bad.err
    page = run_cli(
        "report", "--model", project / "model.joblib", "--out", tmp_path / "r.html", *args
    )
    assert page.code == 0, page.err
    html = (tmp_path / "r.html").read_text()
    assert "LIME, per class" in html
    assert "Robustness: does in-domain noise flip the prediction?" in html
    missing = run_cli("explain", "--model", project / "model.joblib", "--id", "zz", *args)
    assert missing.code == 2
    assert "no logged prediction has id 'zz'" in missing.err


def test_sample_is_seeded(project: Path) -> None:
    with driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon:
        a = mon.sample(10, seed=1)["id"].tolist()
        b = mon.sample(10, seed=1)["id"].tolist()
        c = mon.sample(10, seed=2)["id"].tolist()
        with pytest.raises(ConfigError, match="source must be"):
            mon.sample(5, source="training")
        with pytest.raises(ConfigError, match="is not a class of the spec"):
            mon.sample(5, predicted="9")
    assert a == b
    assert a != c
