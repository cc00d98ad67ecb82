"""Perturbation checks: a model invariant by construction never flips, one that is not
does, and every count is the one recomputed here from the model's own outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from driftline.errors import ConfigError, SchemaError
from driftline.robustness import PERTURBATIONS, check_robustness, perturb_text

WORDS = {
    "sport": ["Match", "Goal", "Team", "Coach", "Score", "League", "Player", "Season", "Win"],
    "tech": ["Chip", "Code", "Cloud", "Server", "Laptop", "Python", "Network", "Robot", "Data"],
}


def _corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        topic = "sport" if i % 2 else "tech"
        texts.append(" ".join(rng.choice(WORDS[topic], size=6)))
        labels.append(topic)
    return texts, labels


def _text_model(lowercase: bool) -> object:
    texts, labels = _corpus(200, 0)
    # Trained on capitalised words: a case-sensitive vocabulary never sees "match".
    return make_pipeline(TfidfVectorizer(lowercase=lowercase), LogisticRegression()).fit(
        texts, labels
    )


def test_case_noise_never_flips_a_lowercasing_model() -> None:
    model = _text_model(lowercase=True)
    texts, _ = _corpus(100, 1)
    report = check_robustness(model, texts, perturbations=["case"], rate=1.0, seed=3)
    assert report.flip_rate("case") == 0.0
    assert all(r.mean_abs_change == 0.0 for r in report.results)
    assert report.flipped == []
    assert {r.klass for r in report.results} == {"sport", "tech"}


def test_case_noise_flips_a_case_sensitive_model_and_counts_match() -> None:
    model = _text_model(lowercase=False)
    texts, _ = _corpus(100, 1)
    report = check_robustness(model, texts, perturbations=["case"], rate=0.7, seed=3)
    assert report.flip_rate("case") > 0
    # Recompute from the listed perturbed rows: each flipped row really flips.
    for f in report.flipped:
        assert f.original == texts[f.row]
        assert model.predict([f.perturbed])[0] == f.after != f.before
        assert model.predict([f.original])[0] == f.before
    total = sum(r.flipped for r in report.results)
    assert total == len(report.flipped) or len(report.flipped) == report.config.max_flipped


def test_typos_whitespace_punctuation_are_seeded_and_bounded() -> None:
    texts, _ = _corpus(50, 2)
    for name in ("typos", "whitespace", "punctuation", "case"):
        a = [perturb_text(t, name, 0.3, np.random.default_rng(7)) for t in texts]
        b = [perturb_text(t, name, 0.3, np.random.default_rng(7)) for t in texts]
        c = [perturb_text(t, name, 0.3, np.random.default_rng(8)) for t in texts]
        assert a == b
        assert a != c
        assert a != texts
    # Whitespace and punctuation noise keep the words; case noise keeps the letters.
    w = perturb_text("a b c d", "whitespace", 1.0, np.random.default_rng(0))
    assert w.split() == ["a", "b", "c", "d"]
    p = perturb_text("a b c d", "punctuation", 1.0, np.random.default_rng(0))
    assert [t.strip(".,;:!?") for t in p.split(" ")] == ["a", "b", "c", "d"]
    assert perturb_text("Ab cD", "case", 1.0, np.random.default_rng(0)) == "aB Cd"
    t = perturb_text("abcdef" * 10, "typos", 0.2, np.random.default_rng(0))
    assert abs(len(t) - 60) <= 20


def _tabular(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "colour": rng.choice(["red", "green", "blue", "grey"], n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def test_tabular_gaussian_and_swap() -> None:
    frame = _tabular(400, 0)

    def by_colour(rows: pd.DataFrame) -> np.ndarray:
        p = (rows["colour"] == "red").to_numpy(dtype=float) * 0.8 + 0.1
        return np.column_stack([1 - p, p])

    def by_x(rows: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-4 * rows["x"].to_numpy()))
        return np.column_stack([1 - p, p])

    # A model that reads only the colour ignores numeric noise, and the other way round.
    assert (
        check_robustness(by_colour, frame, perturbations=["gaussian"]).flip_rate("gaussian") == 0.0
    )
    assert check_robustness(by_x, frame, perturbations=["swap"], rate=0.5).flip_rate("swap") == 0
    assert (
        check_robustness(by_x, frame, perturbations=["gaussian"], numeric_scale=0.5).flip_rate(
            "gaussian"
        )
        > 0
    )
    swapped = check_robustness(by_colour, frame, perturbations=["swap"], rate=0.5, max_flipped=500)
    assert 0 < swapped.flip_rate("swap") < 1
    for f in swapped.flipped:
        assert f.perturbed["colour"] in {"red", "green", "blue", "grey"}
        assert f.perturbed["colour"] != f.original["colour"]
        assert f.perturbed["x"] == f.original["x"]


def test_gaussian_noise_is_scaled_to_the_reference_std() -> None:
    frame = _tabular(2000, 1)
    reference = frame.assign(x=frame["x"] * 10)  # reference std 10x the data's
    seen: list[pd.DataFrame] = []

    def spy(rows: pd.DataFrame) -> np.ndarray:
        seen.append(rows)
        return np.tile([0.5, 0.5], (len(rows), 1))

    check_robustness(spy, frame, reference=reference, perturbations=["gaussian"], numeric_scale=0.1)
    noise = seen[1]["x"].to_numpy() - frame["x"].to_numpy()
    assert noise.std() == pytest.approx(0.1 * reference["x"].std(ddof=0), rel=0.1)


def test_bad_input_is_named() -> None:
    texts, _ = _corpus(10, 0)
    with pytest.raises(ConfigError, match="has no predict_proba"):
        check_robustness(object(), texts)
    with pytest.raises(ConfigError, match="unknown perturbation 'typo'"):
        check_robustness(_text_model(True), texts, perturbations=["typo"])
    with pytest.raises(ConfigError, match="needs a numeric column"):
        check_robustness(_text_model(True), texts, perturbations=["gaussian"])
    with pytest.raises(SchemaError, match="no rows"):
        check_robustness(_text_model(True), [])
    with pytest.raises(SchemaError, match="row 1 is int"):
        check_robustness(_text_model(True), ["a", 3])
    with pytest.raises(ConfigError, match="rate"):
        check_robustness(_text_model(True), texts, rate=2.0)
    with pytest.raises(SchemaError, match="one row of class probabilities"):
        check_robustness(lambda rows: [0.5] * len(rows), texts)
    assert set(PERTURBATIONS) == {"case", "gaussian", "punctuation", "swap", "typos", "whitespace"}


def test_report_serialises() -> None:
    import json

    texts, _ = _corpus(30, 0)
    report = check_robustness(_text_model(False), texts, rate=0.5)
    data = json.loads(json.dumps(report.to_dict()))
    assert {r["perturbation"] for r in data["results"]} == {
        "case",
        "punctuation",
        "typos",
        "whitespace",
    }
