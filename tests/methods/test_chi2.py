from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftline.methods import chi2, chi2_pvalue
from driftline.methods.chi2 import _chi2_batch, _chi2_sf


def scipy_chi2(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    table = np.array([reference, current])
    table = table[:, table.sum(axis=0) > 0]  # scipy refuses zero expected counts
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def test_doctest_values_match_scipy() -> None:
    rng = np.random.default_rng(0)
    reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    statistic, pvalue = scipy_chi2(reference, current)
    assert f"{statistic:.6f}" == "34.919774"
    assert f"{pvalue:.6e}" == "1.266733e-07"
    assert chi2(reference, current) == pytest.approx(statistic, rel=1e-9, abs=1e-9)
    assert chi2_pvalue(reference, current) == pytest.approx(pvalue, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_matches_scipy_with_bins_empty_in_both(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 60))
    p = rng.dirichlet(np.full(k, 0.5))
    p[rng.random(k) < 0.2] = 0.0  # some bins empty in both samples
    if p.sum() == 0:
        p[0] = 1.0
    p /= p.sum()
    shifted = 0.8 * p + 0.2 * rng.dirichlet(np.ones(k)) * (p > 0)
    shifted /= shifted.sum()
    reference = rng.multinomial(int(rng.integers(100, 20000)), p)
    current = rng.multinomial(int(rng.integers(100, 20000)), shifted)
    statistic, pvalue = scipy_chi2(reference, current)
    assert chi2(reference, current) == pytest.approx(statistic, rel=1e-9, abs=1e-9)
    assert chi2_pvalue(reference, current) == pytest.approx(pvalue, abs=1e-9)


def test_one_nonempty_bin_has_zero_statistic_and_pvalue_one() -> None:
    assert chi2([0, 7, 0], [0, 3, 0]) == 0.0
    assert chi2_pvalue([0, 7, 0], [0, 3, 0]) == 1.0


@pytest.mark.parametrize("dof", [1, 2, 3, 7, 10, 51, 99, 250])
def test_survival_function_matches_scipy(dof: int) -> None:
    for x in [0.0, 1e-6, 0.3, 1.0, 5.0, 30.0, 120.0, 500.0, 2000.0]:
        assert _chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-9, abs=1e-14)


def test_batch_rows_equal_scalar_calls() -> None:
    rng = np.random.default_rng(5)
    ref = rng.multinomial(400, [0.2, 0.0, 0.3, 0.5], size=4)
    cur = rng.multinomial(200, [0.3, 0.0, 0.3, 0.4], size=4)
    expected = [chi2(r, c) for r, c in zip(ref, cur, strict=True)]
    np.testing.assert_allclose(_chi2_batch(ref, cur), expected, rtol=1e-15)
