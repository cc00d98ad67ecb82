"""The scikit-learn wrapper: a drop-in whose every call lands in a real store."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

import driftline
from driftline.errors import ConfigError, SchemaError
from driftline.explain import explain
from driftline.integrations.sklearn import MonitoredModel
from driftline.robustness import check_robustness

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _spec(layout: str = "columns") -> dict[str, object]:
    scores: dict[str, object]
    if layout == "columns":
        scores = {"columns": {c: f"p_{c}" for c in ("0", "1", "2")}}
    else:
        scores = {"column": "scores", "classes": ["0", "1", "2"]}
    return {
        "scores": scores,
        "cohorts": ["region"],
        "features": {"numeric": FEATURES},
    }


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris()
    return pd.DataFrame(data.data, columns=FEATURES), data.target


def test_drop_in_and_logged_rows_match(
    tmp_path: Path, iris: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = iris
    est = LogisticRegression(max_iter=500).fit(x, y)
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        model = MonitoredModel(est, mon, cohorts={"region": "eu"})
        np.testing.assert_array_equal(model.predict_proba(x), est.predict_proba(x))
        np.testing.assert_array_equal(model.predict(x.iloc[:10]), est.predict(x.iloc[:10]))
        np.testing.assert_array_equal(model.classes_, est.classes_)
        assert model.coef_ is est.coef_  # every other attribute is the estimator's
        assert model.logged == 160
        stored = mon.store.con.execute(
            "SELECT prediction, p_0, p_1, p_2, sepal_length, region FROM predictions "
            "ORDER BY ingested_at, rowid"
        ).fetchall()
    assert len(stored) == 160
    proba = est.predict_proba(x)
    first = stored[:150]
    assert [r[0] for r in first] == [str(c) for c in proba.argmax(axis=1)]
    np.testing.assert_allclose([r[1:4] for r in first], proba)
    np.testing.assert_allclose([r[4] for r in first], x["sepal_length"])
    assert {r[5] for r in stored} == {"eu"}


def test_array_inputs_list_scores_and_buffer(
    tmp_path: Path, iris: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = iris
    est = LogisticRegression(max_iter=500).fit(x.to_numpy(), y)  # no feature_names_in_
    with driftline.connect(tmp_path / "s.duckdb", _spec("list")) as mon:
        model = MonitoredModel(est, mon, buffer=100)
        with model:
            for start in range(0, 150, 30):
                model.predict_proba(
                    x.to_numpy()[start : start + 30],
                    ids=[f"r{i}" for i in range(start, start + 30)],
                    cohorts={"region": "apac"},
                )
            assert model.logged == 120  # 4 calls of 30 reached the buffer once
        assert model.logged == 150  # leaving the block flushed the rest
        rows = mon.store.con.execute(
            "SELECT count(*), count(DISTINCT id), min(len(scores)) FROM predictions"
        ).fetchone()
        batches = mon.store.con.execute(
            "SELECT count(*) FROM batches WHERE kind = 'predictions'"
        ).fetchone()
    assert rows == (150, 150, 3)
    assert batches == (2,)


def test_predict_logs_the_models_own_answer(
    tmp_path: Path, iris: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = iris
    est = _Cautious(max_iter=500).fit(x, y)
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        model = MonitoredModel(est, mon, cohorts={"region": "eu"})
        answer = model.predict(x)
        logged = [
            r[0] for r in mon.store.con.execute("SELECT prediction FROM predictions").fetchall()
        ]
    assert logged == [str(a) for a in answer]
    assert answer.tolist() != est.predict_proba(x).argmax(axis=1).tolist()


class _Cautious(LogisticRegression):
    """Predicts class 2 whenever it has 20% probability: not the argmax."""

    def predict(self, x: object) -> np.ndarray:
        proba = self.predict_proba(x)
        return np.where(proba[:, 2] > 0.2, 2, proba.argmax(axis=1))


def test_explain_and_robustness_do_not_log(
    tmp_path: Path, iris: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = iris
    est = LogisticRegression(max_iter=500).fit(x, y)
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        model = MonitoredModel(est, mon, cohorts={"region": "eu"})
        check_robustness(model, x, perturbations=["gaussian"])
        explain(model, x.iloc[0], reference=x, num_samples=200)
        assert model.logged == 0
        assert not mon.store.has_table("predictions")


def test_bad_wrapping_is_named(tmp_path: Path, iris: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, y = iris
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        with pytest.raises(ConfigError, match="has no predict_proba"):
            MonitoredModel(SVC().fit(x, y), mon)
        with pytest.raises(ConfigError, match="fit it before wrapping"):
            MonitoredModel(LogisticRegression(), mon)
        with pytest.raises(ConfigError, match="not the spec's classes"):
            MonitoredModel(LogisticRegression().fit(x, y == 0), mon)
        with pytest.raises(ConfigError, match="cohort 'country' is not a cohort"):
            MonitoredModel(
                LogisticRegression(max_iter=500).fit(x, y), mon, cohorts={"country": "x"}
            )
        model = MonitoredModel(LogisticRegression(max_iter=500).fit(x, y), mon)
        with pytest.raises(SchemaError, match="cohort 'region' has no value"):
            model.predict_proba(x)
        assert not mon.store.has_table("predictions")


def test_on_error_warn_keeps_serving(tmp_path: Path, iris: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, y = iris
    est = LogisticRegression(max_iter=500).fit(x, y)
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        model = MonitoredModel(est, mon, cohorts={"region": "eu"}, on_error="warn")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # duplicate ids within the batch: the store refuses it whole
            out = model.predict_proba(x.iloc[:5], ids=["a"] * 5)
        np.testing.assert_array_equal(out, est.predict_proba(x.iloc[:5]))
        assert model.dropped == 5
        assert model.logged == 0
        assert any("could not log 5 predictions" in str(w.message) for w in caught)
        model.predict_proba(x.iloc[:5], ids=["a", "b", "c", "d", "e"])
        assert model.logged == 5
