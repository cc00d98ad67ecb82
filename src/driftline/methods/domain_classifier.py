"""Domain-classifier AUC: how well a classifier tells serving vectors from reference ones.

A linear discriminant (LDA with covariance shrinkage, scikit-learn's
``LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1)``: each class's covariance
shrunk toward a multiple of the identity, pooled by class share) is trained to
separate the reference sample from the current one, with stratified k-fold cross-
validation; the statistic is the mean held-out ROC AUC over the folds. Under no drift it
is near 0.5 (by chance a little above or below, the more so the smaller the samples); a
current sample unlike the reference pushes it toward 1. The closed form costs a
``d x d`` solve per fold, so many null replicates stay cheap at a few dozen dimensions.

The null spread comes from the reference itself (:func:`null_aucs`): random splits of a
reference sample into two parts of the sizes being compared, each scored the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError
from driftline.methods._validate import FloatArray

__all__ = ["auc", "domain_auc", "fold_ids", "null_aucs"]

#: Covariance shrinkage toward the (scaled) identity: stable with few rows per dimension.
SHRINKAGE = 0.1


def auc(negatives: npt.ArrayLike, positives: npt.ArrayLike) -> float:
    """ROC AUC of scores: the chance a positive outscores a negative (ties count half),
    the Mann-Whitney U over ``len(negatives) * len(positives)``.

    >>> print(auc([0.1, 0.4, 0.35], [0.8, 0.4, 0.9]))
    0.9444444444444444
    """
    neg = np.asarray(negatives, dtype=np.float64).ravel()
    pos = np.asarray(positives, dtype=np.float64).ravel()
    if neg.size == 0 or pos.size == 0:
        raise ConfigError(
            f"auc: needs at least one score of each side, got {neg.size} negative(s) and "
            f"{pos.size} positive(s); pass both samples."
        )
    scores = np.concatenate([neg, pos])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based, ties averaged
    ranks = average_rank[inverse]
    u = ranks[neg.size :].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (neg.size * pos.size))


def fold_ids(labels: npt.ArrayLike, folds: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Stratified fold of each row: each label's rows shuffled and dealt round-robin."""
    y = np.asarray(labels)
    out = np.empty(y.shape[0], dtype=np.int64)
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        out[rng.permutation(rows)] = np.arange(rows.size) % folds
    return out


def _class_cov(x: FloatArray) -> FloatArray:
    """One class's empirical covariance shrunk toward ``trace / d`` times the identity."""
    c = x - x.mean(axis=0)
    emp = (c.T @ c) / x.shape[0]
    mu = np.trace(emp) / emp.shape[0]
    out: FloatArray = (1.0 - SHRINKAGE) * emp + SHRINKAGE * mu * np.eye(emp.shape[0])
    return out


def _direction(a: FloatArray, b: FloatArray) -> FloatArray:
    """The discriminant direction ``Sigma^-1 (mean_b - mean_a)`` (pooled by class share)."""
    n = a.shape[0] + b.shape[0]
    cov = (a.shape[0] / n) * _class_cov(a) + (b.shape[0] / n) * _class_cov(b)
    w: FloatArray = np.linalg.solve(cov, b.mean(axis=0) - a.mean(axis=0))
    return w


def _cv_auc(x: FloatArray, y: npt.NDArray[np.bool_], fold: npt.NDArray[np.int64]) -> float:
    aucs = []
    for f in np.unique(fold):
        test = fold == f
        train_a, train_b = x[~test & ~y], x[~test & y]
        if train_a.shape[0] < 2 or train_b.shape[0] < 2:
            continue
        w = _direction(train_a, train_b)
        s = x[test] @ w
        yt = y[test]
        if yt.all() or not yt.any():
            continue
        aucs.append(auc(s[~yt], s[yt]))
    return float(np.mean(aucs)) if aucs else 0.5


def _samples(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.ndim != 2 or cur.ndim != 2 or ref.shape[1] != cur.shape[1]:
        raise ConfigError(
            f"domain_auc: reference and current must be 2-D (rows, dimensions) arrays of one "
            f"dimension, got shapes {ref.shape} and {cur.shape}; pass vectors of one length."
        )
    if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
        raise ConfigError(
            "domain_auc: the samples hold NaN or infinite values; drop those vectors first."
        )
    return ref, cur


def domain_auc(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, folds: int = 5, seed: int = 0
) -> float:
    """Mean held-out AUC of a shrinkage LDA telling ``current`` rows from ``reference``
    rows, over ``folds`` stratified folds (the folds drawn from ``seed``).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(300, 4))
    >>> print(round(domain_auc(ref, rng.normal(size=(200, 4)), seed=1), 4))
    0.4943
    >>> print(round(domain_auc(ref, rng.normal(0.5, 1.0, size=(200, 4)), seed=1), 4))
    0.7336
    """
    ref, cur = _samples(reference, current)
    x = np.concatenate([ref, cur])
    y = np.concatenate([np.zeros(ref.shape[0], bool), np.ones(cur.shape[0], bool)])
    return _cv_auc(x, y, fold_ids(y, folds, np.random.default_rng(seed)))


def null_aucs(
    reference: npt.ArrayLike,
    n_reference: int,
    n_current: int,
    *,
    reps: int = 30,
    folds: int = 5,
    seed: int = 0,
) -> FloatArray:
    """:func:`domain_auc` of ``reps`` random splits of ``reference`` into parts of
    ``n_reference`` and ``n_current`` rows (each capped so the two stay disjoint): its
    spread under no drift at those sizes.

    >>> import numpy as np
    >>> null = null_aucs(np.random.default_rng(0).normal(size=(600, 4)), 300, 200, reps=20)
    >>> print(round(float(null.mean()), 3), round(float(null.std()), 3))
    0.51 0.03
    """
    ref = np.asarray(reference, dtype=np.float64)
    rows = ref.shape[0]
    a = min(n_reference, rows // 2)
    b = min(n_current, rows - a)
    if a < 2 or b < 2:
        raise ConfigError(
            f"null_aucs: a reference of {rows} rows cannot be split into two parts of at "
            "least 2 rows each; pass a larger reference sample."
        )
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.zeros(a, bool), np.ones(b, bool)])
    out = np.empty(reps)
    for r in range(reps):
        take = rng.permutation(rows)[: a + b]
        out[r] = _cv_auc(ref[take], y, fold_ids(y, folds, rng))
    return out
