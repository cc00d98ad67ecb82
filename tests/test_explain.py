"""LIME through driftline gives the `lime` package's own numbers, and the per-class
aggregate finds the words and features a model uses by construction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lime.lime_tabular import LimeTabularExplainer
from lime.lime_text import LimeTextExplainer

import driftline
from driftline.errors import ConfigError, SchemaError
from driftline.explain import explain, explain_class

rng = np.random.default_rng(0)
FILLER = ["the", "a", "of", "to", "and", "in", "is", "it", "for", "on", "with", "as", "at"]


def _texts(n: int) -> list[str]:
    out = []
    for i in range(n):
        words = list(rng.choice(FILLER, 6))
        words.insert(int(rng.integers(6)), "great" if i % 2 else "awful")
        out.append(" ".join(words))
    return out


class KeywordModel:
    """P(positive) rises with 'great' and falls with 'awful'; nothing else matters."""

    classes_ = np.array(["negative", "positive"])

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        score = np.array(
            [3.0 * t.split().count("great") - 3.0 * t.split().count("awful") for t in texts]
        )
        p = 1 / (1 + np.exp(-score))
        return np.column_stack([1 - p, p])


def test_text_weights_equal_lime_called_directly() -> None:
    model = KeywordModel()
    text = _texts(2)[1]
    ours = explain(model, text, seed=7, num_samples=500)
    direct = LimeTextExplainer(class_names=["negative", "positive"], random_state=7)
    exp = direct.explain_instance(text, model.predict_proba, labels=(1,), num_samples=500)
    assert ours.klass == "positive"
    assert sorted(ours.weights) == sorted(exp.as_list(label=1))
    assert ours.intercept == exp.intercept[1]


def test_class_aggregate_finds_the_keyword() -> None:
    model = KeywordModel()
    texts = _texts(40)
    pos = explain_class(model, texts, "positive", n=10, num_samples=300, seed=1)
    neg = explain_class(model, texts, "negative", n=10, num_samples=300, seed=1)
    assert pos.rows == 10
    assert neg.rows == 10
    assert pos.terms[0].term == "great"
    assert pos.terms[0].mean > 0
    assert pos.terms[0].frequency == 1.0
    assert neg.terms[0].term == "awful"
    assert neg.terms[0].mean > 0  # weights for 'negative'
    assert all(abs(t.mean) < abs(pos.terms[0].mean) / 5 for t in pos.terms[1:])
    again = explain_class(model, texts, "positive", n=10, num_samples=300, seed=1)
    assert again == pos


def test_least_confident_selection() -> None:
    model = KeywordModel()
    texts = ["great " + " ".join(FILLER[:i]) for i in range(5)] + ["great great x", "awful"]
    picked = explain_class(model, texts, "positive", n=2, select="least-confident", num_samples=200)
    assert picked.rows == 2
    assert picked.selection == "least-confident"


def _frame(n: int) -> pd.DataFrame:
    r = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "income": r.normal(50, 10, n),
            "noise": r.normal(0, 1, n),
            "plan": r.choice(["basic", "pro", "team"], n),
        }
    )


class IncomeModel:
    classes_ = np.array(["no", "yes"])

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-(rows["income"].to_numpy() - 50) / 3))
        p = np.where(rows["plan"].to_numpy() == "pro", np.minimum(p + 0.3, 1), p)
        return np.column_stack([1 - p, p])


def test_tabular_weights_equal_lime_called_directly() -> None:
    reference = _frame(500)
    model = IncomeModel()
    row = reference.iloc[3]
    ours = explain(model, row, reference=reference, seed=5, num_samples=800)
    codes = {"basic": 0, "pro": 1, "team": 2}
    training = np.column_stack(
        [reference["income"], reference["noise"], reference["plan"].map(codes)]
    ).astype(float)

    def fn(x: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(
            {
                "income": x[:, 0],
                "noise": x[:, 1],
                "plan": np.array(["basic", "pro", "team"], dtype=object)[
                    np.clip(np.rint(x[:, 2]).astype(int), 0, 2)
                ],
            }
        )
        return model.predict_proba(frame)

    direct = LimeTabularExplainer(
        training,
        mode="classification",
        feature_names=["income", "noise", "plan"],
        class_names=["no", "yes"],
        categorical_features=[2],
        categorical_names={2: ["basic", "pro", "team"]},
        random_state=5,
    )
    instance = np.array([row["income"], row["noise"], codes[row["plan"]]], dtype=float)
    label = int(model.predict_proba(pd.DataFrame([row]))[0].argmax())
    exp = direct.explain_instance(instance, fn, labels=(label,), num_samples=800)
    assert sorted(ours.weights) == sorted(exp.as_list(label=label))


def test_tabular_class_aggregate_ranks_the_used_feature_first() -> None:
    reference = _frame(400)
    agg = explain_class(IncomeModel(), reference, "yes", reference=reference, n=15, num_samples=400)
    assert "income" in agg.terms[0].term
    assert all("noise" not in t.term for t in agg.terms[:2])


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="has no predict_proba"):
        explain(object(), "text", classes=["a", "b"])
    with pytest.raises(ConfigError, match="needs reference="):
        explain(IncomeModel(), {"income": 1.0, "noise": 0.0, "plan": "pro"})
    with pytest.raises(SchemaError, match="unseen in the reference"):
        explain(IncomeModel(), {"income": 1.0, "noise": 0.0, "plan": "gold"}, reference=_frame(50))
    with pytest.raises(ConfigError, match="is not one of"):
        explain_class(KeywordModel(), ["great"], "neutral")
    with pytest.raises(ConfigError, match="no classes_"):
        explain(lambda t: np.array([[0.5, 0.5]]), "text")


@pytest.mark.parametrize(
    ("option", "value"), [("num_samples", 0), ("num_samples", -5), ("num_features", 0)]
)
def test_lime_options_below_their_least_are_bad_input(
    tmp_path: Path, make_spec: Any, option: str, value: int
) -> None:
    """Refused at the edge naming the option (they reached LIME: IndexError, exit 3)."""
    with (
        driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon,
        pytest.raises(ConfigError, match=f"{option} is {value}; LIME needs"),
    ):
        mon.explain(object(), ids=["r1"], **{option: value})


@pytest.mark.parametrize("text", ["", "   ", "?!"])
def test_a_text_without_words_is_bad_input_and_left_out_of_a_class(text: str) -> None:
    """LIME's text explainer fails (ValueError, exit 3) on a text with no word: one is
    refused naming it, and a class aggregate leaves such rows out."""
    model = KeywordModel()
    with pytest.raises(SchemaError, match="holds no word"):
        explain(model, text, num_samples=50)
    texts = [text, *_texts(12)]  # the wordless text scores 0.5 each: 'negative' by argmax
    assert model.predict_proba([text]).argmax() == 0
    agg = explain_class(model, texts, "negative", n=20, num_samples=100, seed=1)
    assert agg.rows == sum(model.predict_proba([t]).argmax() == 0 for t in texts[1:])


def test_a_class_aggregate_leaves_out_rows_with_unseen_categories() -> None:
    """One row with a category the reference never had made the whole aggregate (and
    `report --model`) fail; it is left out and counted."""
    model = IncomeModel()
    ref, rows = _frame(300), _frame(60)
    rows.loc[:9, "plan"] = "brand-new"
    predicted = model.predict_proba(rows).argmax(axis=1)
    yes = predicted == 1
    agg = explain_class(model, rows, "yes", reference=ref, n=100, num_samples=100, seed=1)
    assert agg.left_out == int(yes[:10].sum()) > 0
    assert agg.rows == int(yes[10:].sum())
    assert agg.terms


@pytest.mark.parametrize(
    ("option", "value"), [("num_samples", 0), ("num_samples", 1.5), ("num_features", 0)]
)
def test_the_functions_refuse_lime_options_below_their_least_too(option: str, value: Any) -> None:
    """explain() and explain_class() called directly refuse them as Monitor.explain does
    (they reached LIME: IndexError)."""
    model = KeywordModel()
    with pytest.raises(ConfigError, match=f"{option} is {value!r}; LIME needs"):
        explain(model, _texts(1)[0], **{option: value})
    with pytest.raises(ConfigError, match=f"{option} is {value!r}; LIME needs"):
        explain_class(model, _texts(4), "positive", **{option: value})
