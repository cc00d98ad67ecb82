"""Population stability index (PSI) over shared bins.

With reference proportions ``p_i = r_i / sum(r)`` and current proportions
``q_i = c_i / sum(c)`` over the same ``k`` bins::

    PSI = sum_i (q_i - p_i) * ln(q_i / p_i)

PSI is the symmetrised Kullback–Leibler divergence ``KL(q||p) + KL(p||q)`` in nats: 0 for
identical distributions, always >= 0, unbounded above. A common reading is < 0.1 stable,
0.1–0.25 a moderate shift, > 0.25 a major shift; driftline prefers a bound calibrated for
the window size (:func:`driftline.methods.calibrate_bound`).

Empty bins: ``ln(q/p)`` is undefined when a bin is empty in one sample, so
:data:`EPSILON` (1e-4) is added to every proportion, which are then renormalised to sum to
1 (``p' = (p + eps) / (1 + k * eps)``). 1e-4 is below the resolution of a 100-bin histogram
(1e-2 per bin) and caps one empty bin's contribution near ``q * ln(q / 1e-4)``, so a single
unseen bin cannot dominate the index. Bins empty in both samples contribute exactly 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from driftline.methods._validate import FloatArray, as_edges, as_pair

__all__ = ["EPSILON", "psi"]

#: Added to each proportion before renormalising, so empty bins have a finite log ratio.
EPSILON = 1e-4


def psi(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, edges: npt.ArrayLike | None = None
) -> float:
    """Population stability index between two count vectors over the same bins.

    ``edges`` is accepted for the uniform signature and checked if given, but PSI does not
    use bin positions, so it also works on categorical counts.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    >>> current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    >>> print(f"{psi(reference, current):.6f}")
    0.102607
    """
    ref, cur = as_pair(reference, current, method="psi")
    return float(_psi_batch(ref, cur, edges=edges)[0])


def _psi_batch(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, edges: npt.ArrayLike | None = None
) -> FloatArray:
    """PSI row by row for ``(reps, k)`` count arrays (a 1-D input is one row)."""
    ref, cur = as_pair(reference, current, method="psi", batch=True)
    as_edges(edges, ref.shape[-1], method="psi", required=False)
    k = ref.shape[-1]
    p = (ref / ref.sum(axis=-1, keepdims=True) + EPSILON) / (1.0 + k * EPSILON)
    q = (cur / cur.sum(axis=-1, keepdims=True) + EPSILON) / (1.0 + k * EPSILON)
    result: FloatArray = np.atleast_1d(np.sum((q - p) * np.log(q / p), axis=-1))
    return result
