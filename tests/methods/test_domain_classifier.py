"""The domain-classifier AUC against scikit-learn's LDA, cross-validation and ROC AUC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import PredefinedSplit, cross_val_score

from driftline.errors import ConfigError
from driftline.methods.domain_classifier import auc, domain_auc, fold_ids, null_aucs


def sklearn_domain_auc(ref: np.ndarray, cur: np.ndarray, folds: int, seed: int) -> float:
    x = np.concatenate([ref, cur])
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    fold = fold_ids(y.astype(bool), folds, np.random.default_rng(seed))
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1)
    return float(cross_val_score(lda, x, y, cv=PredefinedSplit(fold), scoring="roc_auc").mean())


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_lda_cross_validated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 20))
    ref = rng.normal(size=(int(rng.integers(50, 400)), d)) * rng.uniform(0.5, 3, d)
    cur = rng.normal(rng.uniform(0, 0.4), 1.0, size=(int(rng.integers(40, 300)), d))
    folds = int(rng.integers(2, 8))
    expected = sklearn_domain_auc(ref, cur, folds, seed)
    assert domain_auc(ref, cur, folds=folds, seed=seed) == pytest.approx(expected, abs=1e-12)


def test_doctest_numbers_are_sklearns() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(300, 4))
    same, moved = rng.normal(size=(200, 4)), rng.normal(0.5, 1.0, size=(200, 4))
    assert round(sklearn_domain_auc(ref, same, 5, 1), 4) == 0.4943
    assert round(sklearn_domain_auc(ref, moved, 5, 1), 4) == 0.7336


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    neg = rng.integers(0, 6, size=40).astype(float)
    pos = rng.integers(1, 7, size=30).astype(float)
    expected = roc_auc_score(np.r_[np.zeros(40), np.ones(30)], np.r_[neg, pos])
    assert auc(neg, pos) == pytest.approx(expected, abs=1e-12)


def test_null_band_holds_the_no_drift_auc() -> None:
    """Reference-vs-reference: a fresh split lands inside mean + 3.09 sd of the null in
    at least 95% of trials (the check's band at alert_quantile 0.999)."""
    rng = np.random.default_rng(7)
    inside = 0
    trials = 40
    for t in range(trials):
        pool = rng.normal(size=(400, 6))
        null = null_aucs(pool, 200, 150, reps=30, seed=t)
        bound = null.mean() + 3.09 * null.std(ddof=1)
        fresh = domain_auc(pool[:200], rng.normal(size=(150, 6)), seed=t)
        inside += fresh <= bound
    assert inside / trials >= 0.95


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="one dimension"):
        domain_auc(np.ones((5, 2)), np.ones((5, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        domain_auc(np.full((5, 2), np.nan), np.ones((5, 2)))
    with pytest.raises(ConfigError, match="cannot be split"):
        null_aucs(np.ones((3, 2)), 2, 2)
    with pytest.raises(ConfigError, match="at least one score"):
        auc([], [1.0])
