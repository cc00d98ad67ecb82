"""Pearson chi-squared statistic of the 2 x k table [reference; current].

With observed counts ``O`` in a 2 x k table (row 0 the reference, row 1 the current
window) and expected counts under "same distribution" ``E = row_total * col_total / N``::

    chi2 = sum (O - E)**2 / E

Bins empty in both samples are dropped first (their expected count is 0). The statistic
is 0 for proportional rows and grows with both the shift and the sample size; under no
drift it is approximately chi-squared with ``k' - 1`` degrees of freedom (``k'`` the
non-empty bins), which :func:`chi2_pvalue` uses. At large windows a tiny shift gets a tiny
p-value, so driftline alerts on a bound calibrated for the window size instead.

The p-value is the chi-squared survival function for an integer number of degrees of
freedom, in closed form (a finite Poisson sum for even dof, plus an ``erfc`` term for odd
dof), computed in log space so it neither overflows nor needs scipy.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from driftline.methods._validate import FloatArray, as_edges, as_pair

__all__ = ["chi2", "chi2_pvalue"]


def chi2(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, edges: npt.ArrayLike | None = None
) -> float:
    """Pearson chi-squared statistic (no continuity correction) of [reference; current].

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    >>> current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    >>> print(f"{chi2(reference, current):.6f}")
    34.919774
    """
    ref, cur = as_pair(reference, current, method="chi2")
    return float(_chi2_batch(ref, cur, edges=edges)[0])


def chi2_pvalue(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """P-value of :func:`chi2` with ``k' - 1`` degrees of freedom (``k'`` non-empty bins).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    >>> current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    >>> print(f"{chi2_pvalue(reference, current):.6e}")
    1.266733e-07
    """
    ref, cur = as_pair(reference, current, method="chi2_pvalue")
    statistic = float(_chi2_batch(ref, cur)[0])
    dof = int(np.count_nonzero(ref + cur)) - 1
    return _chi2_sf(statistic, dof)


def _chi2_batch(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, edges: npt.ArrayLike | None = None
) -> FloatArray:
    """Chi-squared row by row for ``(reps, k)`` count arrays (a 1-D input is one row)."""
    ref, cur = as_pair(reference, current, method="chi2", batch=True)
    as_edges(edges, ref.shape[-1], method="chi2", required=False)
    n_ref = ref.sum(axis=-1, keepdims=True)
    n_cur = cur.sum(axis=-1, keepdims=True)
    col = ref + cur
    # In each column both rows have the same |O - E| = |r*C - c*R| / N, and
    # 1/E_ref + 1/E_cur = N**2 / (t*R*C), so a column adds (r*C - c*R)**2 / (t*R*C).
    inv_col = np.divide(1.0, col, out=np.zeros_like(col), where=col > 0)
    terms = (ref * n_cur - cur * n_ref) ** 2 * inv_col / (n_ref * n_cur)
    result: FloatArray = np.atleast_1d(terms.sum(axis=-1))
    return result


def _chi2_sf(x: float, dof: int) -> float:
    """Survival function of the chi-squared distribution for integer ``dof >= 0``."""
    if dof <= 0 or x <= 0:
        return 1.0
    y = x / 2.0
    log_y = math.log(y)
    if dof % 2 == 0:
        # Q(m, y) = exp(-y) * sum_{i < m} y**i / i!
        terms = [i * log_y - y - math.lgamma(i + 1) for i in range(dof // 2)]
        head = 0.0
    else:
        # Q(m + 1/2, y) = erfc(sqrt(y)) + exp(-y) * sum_{i < m} y**(i + 1/2) / Gamma(i + 3/2)
        terms = [(i + 0.5) * log_y - y - math.lgamma(i + 1.5) for i in range(dof // 2)]
        head = math.erfc(math.sqrt(y))
    return min(1.0, head + math.fsum(math.exp(t) for t in terms))
