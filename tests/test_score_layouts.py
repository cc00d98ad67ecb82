"""A binary model's single probability column, and score columns with long prefixes:
the layouts NannyML's bundled data sets and most model servers log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline.errors import ConfigError, IngestError
from driftline.spec import Scores, infer_spec, load_spec


def car_loan_like(n: int, seed: int, start: str = "2024-01-01") -> pd.DataFrame:
    """NannyML's car-loan layout: ``identifier``, ``timestamp``, ``y_pred_proba`` (of
    repaying), ``y_pred`` (0/1 at 0.5), ``repaid``, two features."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 2.0, n)
    return pd.DataFrame(
        {
            "identifier": np.arange(n) + seed * 1_000_000,
            "timestamp": pd.date_range(start, periods=n, freq="10min", tz="UTC"),
            "car_value": rng.normal(40_000, 9_000, n),
            "salary_range": rng.choice(["0 - 20K €", "20K - 40K €", "40K - 60K €"], n),
            "y_pred_proba": p,
            "y_pred": (p > 0.5).astype(int),
            "repaid": (rng.random(n) < p).astype(int),
        }
    )


BINARY_SPEC: dict[str, Any] = {
    "id": "identifier",
    "timestamp": "timestamp",
    "prediction": "y_pred",
    "label": "repaid",
    "scores": {"column": "y_pred_proba", "positive": 1, "negative": 0},
    "features": {"numeric": ["car_value"], "categorical": ["salary_range"]},
}


def test_binary_scores_name_both_classes_once() -> None:
    spec = load_spec(BINARY_SPEC)
    assert spec.scores.layout == "binary"
    assert spec.classes == ["0", "1"]
    assert spec.score_columns == ["y_pred_proba"]


def test_binary_spec_round_trips_through_yaml(tmp_path: Path) -> None:
    spec = load_spec(BINARY_SPEC)
    path = spec.save(tmp_path / "driftline.yaml")
    assert load_spec(path) == spec
    assert "positive: '1'" in path.read_text()


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"column": "p", "positive": "yes"}, "scores.positive needs scores.negative"),
        ({"column": "p", "negative": "no"}, "scores.negative needs scores.positive"),
        ({"column": "p", "positive": "a", "negative": "a"}, "both 'a'"),
        (
            {"column": "p", "positive": "a", "negative": "b", "classes": ["a", "b"]},
            "remove 'classes'",
        ),
        ({"columns": {"a": "pa", "b": "pb"}, "positive": "a", "negative": "b"}, "go with 'column'"),
        ({"columns": {"a": "pa"}}, "`column` with 'positive' and 'negative'"),
        ({"column": "p"}, "'positive' and 'negative' (a binary model's probability column)"),
    ],
)
def test_bad_binary_scores_name_the_fix(scores: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec({**BINARY_SPEC, "scores": scores})
    assert message in str(info.value)


def test_existing_layouts_keep_their_fingerprint(make_spec: Any) -> None:
    # profiles fitted before the binary layout existed must still load
    assert load_spec(make_spec()).fingerprint() == "5785acddb465363a"
    assert load_spec(make_spec(list_scores=True)).fingerprint() == "df270d3374687a23"


def test_binary_class_order_is_negative_then_positive() -> None:
    assert Scores(column="p", positive="spam", negative="ham").class_order == ["ham", "spam"]


def test_binary_predictions_are_stored_with_confidence_max_p_one_minus_p(
    tmp_path: Path,
) -> None:
    ref, cur = car_loan_like(600, 1), car_loan_like(300, 2, "2024-02-01")
    with driftline.connect(tmp_path / "s.duckdb", BINARY_SPEC) as mon:
        mon.log_reference(ref)
        rep = mon.log_predictions(cur)
        assert rep.rows == 300
        got = mon.store.con.execute(
            "SELECT y_pred_proba, confidence FROM predictions ORDER BY identifier"
        ).fetchnumpy()
        p = cur["y_pred_proba"].to_numpy()
        np.testing.assert_allclose(got["y_pred_proba"], p)
        np.testing.assert_allclose(got["confidence"], np.maximum(p, 1 - p))
        prof = mon.profile
        p_ref = ref["y_pred_proba"].to_numpy()
        conf_ref = np.maximum(p_ref, 1 - p_ref)
        assert prof.confidence_["mean"] == pytest.approx(conf_ref.mean())
        assert prof.confidence_["var"] == pytest.approx(conf_ref.var(ddof=1))
        assert prof.predicted_mix_ == {
            "0": int((ref["y_pred"] == 0).sum()),
            "1": int((ref["y_pred"] == 1).sum()),
        }
        assert prof.class_prior_ == {
            "0": int((ref["repaid"] == 0).sum()),
            "1": int((ref["repaid"] == 1).sum()),
        }
        report = mon.check(persist=False)
    shift = [r for r in report.results if r.check == "confidence_shift" and r.cohort is None]
    assert [r.status for r in shift] == ["ok", "ok", "insufficient"]  # 144, 144, 12 rows
    assert not report.alerts  # same generator: nothing drifted


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.5, "1.5"), (-0.1, "-0.1"), (float("nan"), "null (NaN or missing)"), (None, "null")],
)
def test_binary_probability_outside_0_1_is_refused(
    tmp_path: Path, value: float | None, shown: str
) -> None:
    cur = car_loan_like(50, 2)
    cur["y_pred_proba"] = cur["y_pred_proba"].astype(object)
    cur.loc[7, "y_pred_proba"] = value
    cur["y_pred_proba"] = cur["y_pred_proba"].astype(float)
    with driftline.connect(tmp_path / "s.duckdb", BINARY_SPEC) as mon:
        mon.log_reference(car_loan_like(200, 1))
        with pytest.raises(IngestError) as info:
            mon.log_predictions(cur)
        assert mon.store.counts().get("predictions", 0) == 0
    msg = str(info.value)
    assert "'y_pred_proba' (scores)" in msg
    assert shown in msg
    assert "Nothing was stored" in msg


def test_binary_probability_as_strings_is_refused(tmp_path: Path) -> None:
    cur = car_loan_like(20, 2).assign(y_pred_proba=lambda d: d["y_pred_proba"].astype(str))
    with driftline.connect(tmp_path / "s.duckdb", BINARY_SPEC) as mon:
        mon.log_reference(car_loan_like(200, 1))
        with pytest.raises(IngestError, match=r"'y_pred_proba' \(scores\) is VARCHAR"):
            mon.log_predictions(cur)


def test_prediction_outside_the_two_classes_is_refused(tmp_path: Path) -> None:
    cur = car_loan_like(20, 2)
    cur.loc[3, "y_pred"] = 2
    with driftline.connect(tmp_path / "s.duckdb", BINARY_SPEC) as mon:
        mon.log_reference(car_loan_like(200, 1))
        with pytest.raises(IngestError, match=r"has value '2'.*'0', '1'"):
            mon.log_predictions(cur)


# -- inference ------------------------------------------------------------------------------
def test_infer_spec_reads_a_binary_probability_column() -> None:
    spec = infer_spec(car_loan_like(200, 1), prediction="y_pred")
    assert spec.id == "identifier"
    assert spec.scores.layout == "binary"
    assert (spec.scores.column, spec.scores.positive, spec.scores.negative) == (
        "y_pred_proba",
        "1",
        "0",
    )
    assert spec.label == "repaid" or "repaid" in spec.feature_kinds


def test_infer_spec_finds_the_positive_class_from_the_data() -> None:
    # the class predicted when the probability is high is the positive one, whatever
    # its name sorts as
    df = car_loan_like(200, 1)
    df["y_pred"] = np.where(df["y_pred_proba"] > 0.5, "approve", "reject")
    spec = infer_spec(df, prediction="y_pred")
    assert (spec.scores.positive, spec.scores.negative) == ("approve", "reject")
    df["y_pred"] = np.where(df["y_pred_proba"] > 0.5, "reject", "approve")
    spec = infer_spec(df, prediction="y_pred")
    assert (spec.scores.positive, spec.scores.negative) == ("reject", "approve")


def test_infer_spec_positive_given() -> None:
    spec = infer_spec(
        car_loan_like(200, 1), prediction="y_pred", scores=["y_pred_proba"], positive="0"
    )
    assert (spec.scores.positive, spec.scores.negative) == ("0", "1")


def test_infer_spec_positive_not_among_predictions_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"--positive 'yes'.*holds '0', '1'"):
        infer_spec(car_loan_like(200, 1), prediction="y_pred", positive="yes")


def test_infer_spec_single_score_with_three_classes_names_the_fix() -> None:
    df = car_loan_like(200, 1)
    df["y_pred"] = np.arange(200) % 3
    with pytest.raises(ConfigError, match=r"holds 3 classes.*pass --positive"):
        infer_spec(df, prediction="y_pred")


def test_infer_spec_names_classes_after_a_long_score_prefix() -> None:
    # NannyML's multiclass layout: y_pred_proba_<class>
    rng = np.random.default_rng(0)
    classes = ["prepaid_card", "highstreet_card", "upmarket_card"]
    p = rng.dirichlet(np.ones(3), 100)
    df = pd.DataFrame(
        {
            "identifier": np.arange(100),
            "timestamp": pd.date_range("2024-01-01", periods=100, freq="h"),
            **{f"y_pred_proba_{c}": p[:, i] for i, c in enumerate(classes)},
            "y_pred": np.array(classes)[p.argmax(1)],
            "y_true": rng.choice(classes, 100),
        }
    )
    spec = infer_spec(df, prediction="y_pred")
    assert spec.scores.columns == {c: f"y_pred_proba_{c}" for c in classes}
    assert spec.label == "y_true"
    given = infer_spec(df, prediction="y_pred", scores=[f"y_pred_proba_{c}" for c in classes])
    assert given.classes == classes


def test_init_writes_a_binary_spec_that_log_accepts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from driftline.cli import app

    ref = tmp_path / "ref.parquet"
    car_loan_like(300, 1).to_parquet(ref)
    cur = tmp_path / "cur.parquet"
    car_loan_like(100, 2, "2024-02-01").to_parquet(cur)
    spec, store = tmp_path / "driftline.yaml", tmp_path / "s.duckdb"
    runner = CliRunner()
    res = runner.invoke(
        app, ["init", "--reference", str(ref), "--prediction", "y_pred", "--out", str(spec)]
    )
    assert res.exit_code == 0, res.output
    assert load_spec(spec).scores.positive == "1"
    common = ["--spec", str(spec), "--store", str(store)]
    res = runner.invoke(app, ["log", "--reference", str(ref), *common])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["log", str(cur), *common])
    assert res.exit_code == 0, res.output
    assert "100 predictions" in res.output
