"""Jensen–Shannon distance (base 2) between two count vectors over the same bins.

With proportions ``p`` and ``q`` and their mixture ``m = (p + q) / 2``::

    JSD = KL(p || m) / 2 + KL(q || m) / 2        (logarithms base 2, 0 * log 0 = 0)
    distance = sqrt(JSD)

The divergence is bounded because ``m`` covers both samples, so empty bins need no
smoothing; in base 2 the distance lies in [0, 1]: 0 for identical distributions, 1 for
disjoint supports. Unlike the divergence, the distance is a metric (symmetric, triangle
inequality). It ignores bin positions, so it works for categorical and numeric columns.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from driftline.methods._validate import FloatArray, as_edges, as_pair

__all__ = ["jensen_shannon"]


def jensen_shannon(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, edges: npt.ArrayLike | None = None
) -> float:
    """Jensen–Shannon distance in base 2, in [0, 1].

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    >>> current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    >>> print(f"{jensen_shannon(reference, current):.6f}")
    0.135501
    """
    ref, cur = as_pair(reference, current, method="jensen_shannon")
    return float(_jensen_shannon_batch(ref, cur, edges=edges)[0])


def _kl_to_mixture(a: FloatArray, m: FloatArray) -> FloatArray:
    """Row sums of ``a * log2(a / m)`` with ``0 * log 0 = 0``."""
    ratio = np.divide(a, m, out=np.ones_like(a), where=a > 0)
    summed: FloatArray = np.sum(a * np.log2(ratio), axis=-1)
    return summed


def _jensen_shannon_batch(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, edges: npt.ArrayLike | None = None
) -> FloatArray:
    """Jensen–Shannon distance row by row for ``(reps, k)`` count arrays."""
    ref, cur = as_pair(reference, current, method="jensen_shannon", batch=True)
    as_edges(edges, ref.shape[-1], method="jensen_shannon", required=False)
    p = ref / ref.sum(axis=-1, keepdims=True)
    q = cur / cur.sum(axis=-1, keepdims=True)
    m = (p + q) / 2.0
    divergence = (_kl_to_mixture(p, m) + _kl_to_mixture(q, m)) / 2.0
    result: FloatArray = np.atleast_1d(np.sqrt(np.clip(divergence, 0.0, 1.0)))
    return result
