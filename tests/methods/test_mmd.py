"""MMD against a direct computation with scikit-learn's RBF kernel, and its permutation
p-value against scipy's permutation test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics.pairwise import rbf_kernel

from driftline.errors import ConfigError
from driftline.methods.mmd import mmd, mmd_test


def reference_mmd(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    k = rbf_kernel(np.concatenate([x, y]), gamma=1.0 / (2 * bandwidth**2))
    m, n = len(x), len(y)
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def median_distance(x: np.ndarray, y: np.ndarray) -> float:
    p = np.concatenate([x, y])
    d = np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1))
    return float(np.median(d[np.triu_indices(len(p), 1)]))


@pytest.mark.parametrize("seed", range(5))
def test_statistic_matches_rbf_kernel(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(int(rng.integers(5, 80)), 4))
    y = rng.normal(rng.uniform(0, 1), 1.0, size=(int(rng.integers(5, 80)), 4))
    bw = median_distance(x, y)
    assert mmd(x, y) == pytest.approx(reference_mmd(x, y, bw), rel=1e-9)
    assert mmd(x, y, bandwidth=0.7) == pytest.approx(reference_mmd(x, y, 0.7), rel=1e-9)


def test_doctest_number_is_the_reference() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.normal(0.5, 1.0, size=(80, 3))
    assert round(reference_mmd(x, y, median_distance(x, y)), 5) == 0.07456


@pytest.mark.parametrize(("shift", "seed"), [(0.0, 1), (0.25, 2), (0.6, 3)])
def test_p_value_agrees_with_scipy_permutation_test(shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(40, 3)), rng.normal(shift, 1.0, size=(30, 3))
    bw = median_distance(x, y)
    value, p, got_bw = mmd_test(x, y, permutations=999, seed=seed)
    assert got_bw == pytest.approx(bw)

    pooled = np.concatenate([x, y])

    def statistic(a: np.ndarray, b: np.ndarray) -> float:  # rows of the pooled sample
        return reference_mmd(pooled[a.astype(int)], pooled[b.astype(int)], bw)

    theirs = stats.permutation_test(
        (np.arange(len(x)), np.arange(len(x), len(pooled))),
        statistic,
        permutation_type="independent",
        alternative="greater",
        n_resamples=999,
        vectorized=False,
        random_state=seed,
    )
    assert value == pytest.approx(theirs.statistic, rel=1e-9)
    # both are Monte Carlo estimates of one p-value from 999 relabellings
    assert abs(p - theirs.pvalue) <= 0.05


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="at least 2 rows"):
        mmd(np.ones((1, 2)), np.ones((5, 2)))
    with pytest.raises(ConfigError, match="NaN"):
        mmd(np.full((3, 2), np.nan), np.ones((3, 2)))
