"""``threshold_search`` against scikit-learn: its curve, its choices and its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    fbeta_score,
    precision_recall_curve,
    precision_score,
    recall_score,
)
from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftline.errors import ConfigError, SchemaError
from driftline.methods import get_method, threshold_search
from driftline.methods.threshold_search import pr_curve


def _data(seed: int, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.15), 0, 1)
    return scores, labels


def _brute(scores: np.ndarray, labels: np.ndarray, metric) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The best ``metric(labels, scores >= t)`` over the distinct scores, lowest t on ties."""
    best = max((metric(labels, scores >= t), -t) for t in np.unique(scores))
    return -best[1], best[0]


def test_doctest_values_match_scikit_learn() -> None:
    scores, labels = _data(0)
    t, value = _brute(scores, labels, f1_score)
    assert f"{t:.4f} {value:.4f}" == "0.5336 0.7591"
    found = threshold_search(scores, labels)
    assert found.threshold == t
    assert found.value == pytest.approx(value, abs=1e-12)
    found = threshold_search(scores, labels, objective="precision", target=0.9)
    predicted = scores >= found.threshold
    assert precision_score(labels, predicted) >= 0.9
    assert f"{found.threshold:.4f} {recall_score(labels, predicted):.4f}" == "0.6538 0.5054"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_curve_is_scikit_learns_precision_recall_curve(seed: int) -> None:
    scores, labels = _data(seed)
    scores = np.round(scores, 2)  # ties: runs of equal scores are one candidate
    found = threshold_search(scores, labels)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    # scikit-learn drops the thresholds beyond full recall, and appends the (1, 0) point
    keep = found.thresholds >= thresholds[0]
    np.testing.assert_array_equal(found.thresholds[keep], thresholds)
    np.testing.assert_allclose(found.precision[keep], precision[:-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(found.recall[keep], recall[:-1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_fbeta_is_the_best_of_scikit_learns_fbeta(seed: int, beta: float) -> None:
    scores, labels = _data(seed, 400)
    found = threshold_search(scores, labels, objective="fbeta", beta=beta)
    t, value = _brute(scores, labels, lambda y, p: fbeta_score(y, p, beta=beta))
    assert found.threshold == t
    assert found.value == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_targets_pick_the_best_other_metric_among_those_meeting_it(seed: int) -> None:
    scores, labels = _data(seed, 400)
    candidates = np.unique(scores)
    precision = np.array(
        [precision_score(labels, scores >= t, zero_division=1) for t in candidates]
    )
    recall = np.array([recall_score(labels, scores >= t) for t in candidates])
    found = threshold_search(scores, labels, objective="precision", target=0.8)
    ok = precision >= 0.8
    assert found.threshold == candidates[ok][np.argmax(recall[ok])]
    found = threshold_search(scores, labels, objective="recall", target=0.9)
    ok = recall >= 0.9
    assert found.threshold == candidates[ok][np.argmax(precision[ok])]


def test_cost_minimises_the_weighted_confusion_matrix() -> None:
    scores, labels = _data(3, 400)
    cost = np.array([[0.0, 1.0], [5.0, -0.5]])
    found = threshold_search(scores, labels, objective="cost", cost=cost)
    totals = [(confusion_matrix(labels, scores >= t) * cost).sum() for t in np.unique(scores)]
    best = int(np.argmin(totals))
    assert found.threshold == np.unique(scores)[best]
    assert found.value == pytest.approx(-totals[best] / labels.size, abs=1e-12)


def test_margin_holds_the_thresholds_within_the_tolerance_around_the_choice() -> None:
    scores, labels = _data(4)
    found = threshold_search(scores, labels, tolerance=0.02)
    lo, hi = found.margin
    assert lo <= found.threshold <= hi
    inside = found.thresholds[(found.thresholds >= lo) & (found.thresholds <= hi)]
    f1 = np.array([f1_score(labels, scores >= t) for t in inside])
    assert (f1 >= found.value - 0.02 - 1e-12).all()
    # one candidate further on each side leaves the tolerance (unless the curve ends)
    for edge, step in ((lo, -1), (hi, 1)):
        i = int(np.searchsorted(found.thresholds, edge)) + step
        if 0 <= i < found.thresholds.size:
            assert f1_score(labels, scores >= found.thresholds[i]) < found.value - 0.02


def test_f1_threshold_matches_tuned_threshold_classifier_cv_on_the_same_holdout() -> None:
    """scikit-learn's TunedThresholdClassifierCV, the model frozen (not refitted), tuned on
    the whole holdout: on its default grid its threshold makes the same decisions as ours
    (no holdout score lies between the two: within one score step), and on the holdout's
    distinct scores as its grid it is ours."""
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_hold, y_train, y_hold = train_test_split(
        x, y, test_size=0.5, random_state=0, stratify=y
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01)).fit(x_train, y_train)
    scores = model.predict_proba(x_hold)[:, 1]
    ours = threshold_search(scores, y_hold == 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated form
        tuned = TunedThresholdClassifierCV(
            FrozenEstimator(model), scoring="f1", cv="prefit", refit=False
        ).fit(x_hold, y_hold)
    theirs = float(tuned.best_threshold_)
    between = scores[
        (scores >= min(ours.threshold, theirs)) & (scores < max(ours.threshold, theirs))
    ]
    assert between.size == 0, (ours.threshold, theirs)
    np.testing.assert_array_equal(scores >= ours.threshold, scores >= theirs)
    assert ours.value == pytest.approx(tuned.best_score_, abs=1e-12)
    exact = TunedThresholdClassifierCV(
        FrozenEstimator(model), scoring="f1", cv="prefit", refit=False, thresholds=np.unique(scores)
    ).fit(x_hold, y_hold)
    assert ours.threshold == exact.best_threshold_
    assert ours.value == pytest.approx(f1_score(y_hold, scores >= ours.threshold), abs=1e-12)


def test_ties_go_to_the_lowest_threshold() -> None:
    # thresholds 0.2 and 0.8 both give F1 2/3: the lower wins
    scores = np.array([0.2, 0.4, 0.6, 0.8])
    labels = np.array([True, False, False, True])
    t, _ = _brute(scores, labels, f1_score)
    assert threshold_search(scores, labels).threshold == t == 0.2


def test_pr_curve_counts() -> None:
    t, tp, fp, pos, neg = pr_curve([0.5, 0.5, 0.9], [1, 0, 1])
    assert t.tolist() == [0.5, 0.9]
    assert tp.tolist() == [2.0, 1.0]
    assert fp.tolist() == [1.0, 0.0]
    assert (pos, neg) == (2, 1)


def test_registered_under_its_name() -> None:
    info = get_method("threshold_search")
    assert info.fn is threshold_search
    assert info.kinds == frozenset({"threshold"})


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([True] * 5, "all positive; a threshold needs both positive and negative rows"),
        ([False] * 5, "all negative"),
    ],
)
def test_one_class_only_is_an_error(labels: list[bool], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        threshold_search([0.1, 0.2, 0.3, 0.4, 0.5], labels, name="class 'a'")


def test_all_equal_scores_are_an_error() -> None:
    with pytest.raises(SchemaError, match=r"take one value \(0.5\) on all 4 rows"):
        threshold_search([0.5] * 4, [True, False, True, False])


def test_a_precision_no_threshold_reaches_is_an_error_naming_the_best() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([False, True, False, True])  # the top score is a negative
    with pytest.raises(ConfigError) as info:
        threshold_search(scores, labels, objective="precision", target=0.9, name="class 'x'")
    text = str(info.value)
    assert "no threshold of class 'x' reaches precision 0.9" in text
    assert "the highest is 0.5000 (at threshold 0.6" in text
    assert "Lower the target to at most 0.5" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "f2"}, "objective 'f2' is not one of f1, fbeta"),
        ({"objective": "recall"}, "needs a target in"),
        ({"objective": "cost"}, "needs a finite 2x2 cost matrix"),
        ({"objective": "cost", "cost": [[0, 1, 2]]}, "needs a finite 2x2 cost matrix"),
        ({"objective": "fbeta", "beta": 0.0}, "beta must be a positive number"),
    ],
)
def test_bad_options_are_errors(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        threshold_search([0.1, 0.9], [False, True], **kwargs)


def test_non_finite_scores_and_mismatched_lengths_are_errors() -> None:
    with pytest.raises(SchemaError, match="non-finite score"):
        threshold_search([0.1, np.nan], [False, True])
    with pytest.raises(ConfigError, match="hold 2 scores but 3 labels"):
        threshold_search([0.1, 0.2], [False, True, True])
