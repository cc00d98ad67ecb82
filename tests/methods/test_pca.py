"""PCA of embeddings against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from driftline.errors import ConfigError
from driftline.methods.pca import fit_pca, project


@pytest.mark.parametrize("seed", range(4))
def test_projection_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12)) + rng.normal(size=12)
    cur = rng.normal(0.3, 1.2, size=(120, 12)) @ rng.normal(size=(12, 12))
    ours = fit_pca(ref, 3)
    theirs = PCA(3, svd_solver="full").fit(ref)
    np.testing.assert_allclose(ours.explained_variance, theirs.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(project(ours, cur), theirs.transform(cur), rtol=1e-7, atol=1e-9)


def test_doctest_numbers_are_sklearns() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    theirs = PCA(2, svd_solver="full").fit(x)
    assert np.round(theirs.explained_variance_, 4).tolist() == [9.0031, 3.493]
    assert np.round(theirs.transform(x[:2]), 4).tolist() == [[-1.2324, 0.7518], [-4.5964, -0.2201]]


def test_more_components_than_the_sample_has_are_cut() -> None:
    fit = fit_pca(np.random.default_rng(0).normal(size=(3, 8)), 16)
    assert fit.components.shape == (3, 8)


def test_bad_input_names_the_argument_and_fix() -> None:
    with pytest.raises(ConfigError, match="'sample' holds NaN"):
        fit_pca([[1.0, np.nan], [2.0, 3.0]], 2)
    with pytest.raises(ConfigError, match="2-D"):
        fit_pca([1.0, 2.0], 2)
    fit = fit_pca(np.eye(4), 2)
    with pytest.raises(ConfigError, match="3 dimensions but the fit has 4"):
        project(fit, np.ones((2, 3)))
