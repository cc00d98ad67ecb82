"""Principal component analysis of a sample of vectors (embeddings).

The components are the right singular vectors of the centred sample, in order of
explained variance, each signed so that its entry of largest magnitude is positive
(scikit-learn's ``svd_flip`` with ``u_based_decision=False``), so the projection of a
vector, ``(x - mean) @ components.T``, is the one ``sklearn.decomposition.PCA`` gives on
the same sample. Fitted on the reference and applied to serving, the two land in one
coordinate system and can be compared point by point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError
from driftline.methods._validate import FloatArray

__all__ = ["PCAFit", "fit_pca", "project"]


@dataclass(frozen=True)
class PCAFit:
    """The mean, the ``(k, d)`` components and each component's explained variance."""

    mean: FloatArray
    components: FloatArray
    explained_variance: FloatArray


def _matrix(value: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ConfigError(
            f"pca: argument {name!r} must be a 2-D (rows, dimensions) array with at least one "
            f"row and one dimension, got shape {arr.shape}; pass one vector per row."
        )
    if not np.isfinite(arr).all():
        raise ConfigError(
            f"pca: argument {name!r} holds NaN or infinite values; drop or repair those "
            "vectors before fitting."
        )
    return arr


def fit_pca(sample: npt.ArrayLike, k: int) -> PCAFit:
    """The first ``min(k, rows, dimensions)`` principal components of ``sample``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    >>> fit = fit_pca(x, 2)
    >>> print(np.round(fit.explained_variance, 4))
    [9.0031 3.493 ]
    >>> print(np.round(project(fit, x[:2]), 4))
    [[-1.2324  0.7518]
     [-4.5964 -0.2201]]
    """
    x = _matrix(sample, "sample")
    if k < 1:
        raise ConfigError(f"pca: k must be at least 1, got {k}; ask for 2 or more components.")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    keep = min(k, vt.shape[0])
    vt = vt[:keep]
    signs = np.sign(vt[np.arange(keep), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1.0
    vt = vt * signs[:, None]
    var = (s[:keep] ** 2) / max(x.shape[0] - 1, 1)
    return PCAFit(mean, vt, var)


def project(fit: PCAFit, vectors: npt.ArrayLike) -> FloatArray:
    """``vectors`` in the fitted components' coordinates: ``(x - mean) @ components.T``."""
    x = _matrix(vectors, "vectors")
    if x.shape[1] != fit.mean.shape[0]:
        raise ConfigError(
            f"pca: vectors have {x.shape[1]} dimensions but the fit has "
            f"{fit.mean.shape[0]}; project vectors of the dimension the reference had."
        )
    out: FloatArray = (x - fit.mean) @ fit.components.T
    return out
