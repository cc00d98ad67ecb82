"""Maximum mean discrepancy (MMD) between two samples of vectors, with a permutation
p-value.

The unbiased estimate of the squared MMD with a Gaussian kernel
``k(x, y) = exp(-||x - y||^2 / (2 * bandwidth^2))`` (Gretton et al., 2012)::

    MMD^2 = mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j)

0 in expectation when both samples come from one distribution (so it can be slightly
negative), larger the more they differ. The bandwidth defaults to the median pairwise
distance of the pooled sample. The p-value is the share of ``permutations`` random
relabellings of the pooled sample whose statistic reaches the observed one,
``(1 + hits) / (1 + permutations)``; all relabellings are scored with one matrix product.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError
from driftline.methods._validate import FloatArray

__all__ = ["mmd", "mmd_test"]


def _kernel(x: FloatArray, bandwidth: float | None) -> tuple[FloatArray, float]:
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    if bandwidth is None:
        upper = d2[np.triu_indices(x.shape[0], 1)]
        positive = upper[upper > 0]
        bandwidth = float(np.median(np.sqrt(positive))) if positive.size else 1.0
    out: FloatArray = np.exp(-d2 / (2.0 * bandwidth * bandwidth))
    return out, bandwidth


def _stats(k0: FloatArray, a: FloatArray, m: int, n: int) -> FloatArray:
    """MMD^2 of each labelling column of ``a`` (1: first sample) on ``k0`` (zero diagonal)."""
    ka = k0 @ a
    ones = k0.sum(axis=1, keepdims=True)
    b = 1.0 - a
    kb = ones - ka
    sxx = np.sum(a * ka, axis=0)
    syy = np.sum(b * kb, axis=0)
    sxy = np.sum(a * kb, axis=0)
    out: FloatArray = sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2.0 * sxy / (m * n)
    return out


def _pooled(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, int, int]:
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ConfigError(
            f"mmd: needs two 2-D samples of one dimension with at least 2 rows each, got "
            f"shapes {a.shape} and {b.shape}; pass one vector per row."
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ConfigError("mmd: the samples hold NaN or infinite values; drop those vectors.")
    return np.concatenate([a, b]), len(a), len(b)


def mmd(x: npt.ArrayLike, y: npt.ArrayLike, *, bandwidth: float | None = None) -> float:
    """Unbiased squared MMD of ``x`` and ``y`` (rows are vectors).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> print(round(mmd(rng.normal(size=(100, 3)), rng.normal(0.5, 1.0, size=(80, 3))), 5))
    0.07456
    """
    pooled, m, n = _pooled(x, y)
    k, _ = _kernel(pooled, bandwidth)
    np.fill_diagonal(k, 0.0)
    a = np.zeros((m + n, 1))
    a[:m] = 1.0
    return float(_stats(k, a, m, n)[0])


def mmd_test(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    permutations: int = 200,
    seed: int = 0,
    bandwidth: float | None = None,
) -> tuple[float, float, float]:
    """``(MMD^2, permutation p-value, bandwidth)`` of ``x`` against ``y``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(100, 3))
    >>> value, p, _ = mmd_test(x, rng.normal(size=(80, 3)), seed=1)
    >>> print(round(value, 5), round(p, 3))
    -0.00394 0.776
    >>> value, p, _ = mmd_test(x, rng.normal(0.5, 1.0, size=(80, 3)), seed=1)
    >>> print(round(value, 5), round(p, 3))
    0.06218 0.005
    """
    pooled, m, n = _pooled(x, y)
    k, bw = _kernel(pooled, bandwidth)
    np.fill_diagonal(k, 0.0)
    rng = np.random.default_rng(seed)
    a = np.zeros((m + n, permutations + 1))
    a[:m, 0] = 1.0
    for j in range(1, permutations + 1):
        a[rng.permutation(m + n)[:m], j] = 1.0
    values = _stats(k, a, m, n)
    hits = int(np.sum(values[1:] >= values[0]))
    return float(values[0]), (1 + hits) / (1 + permutations), bw
