from __future__ import annotations

import numpy as np
import pytest

from driftline.errors import ConfigError
from driftline.methods import psi
from driftline.methods.psi import EPSILON, _psi_batch


def textbook_psi(reference: np.ndarray, current: np.ndarray, eps: float = 1e-4) -> float:
    """PSI written out term by term, independently of the module."""
    total_r = sum(float(x) for x in reference)
    total_c = sum(float(x) for x in current)
    smoothed_r = [float(x) / total_r + eps for x in reference]
    smoothed_c = [float(x) / total_c + eps for x in current]
    p = [x / sum(smoothed_r) for x in smoothed_r]
    q = [x / sum(smoothed_c) for x in smoothed_c]
    return float(sum((qi - pi) * np.log(qi / pi) for pi, qi in zip(p, q, strict=True)))


def test_doctest_value_matches_textbook_formula() -> None:
    rng = np.random.default_rng(0)
    reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    expected = textbook_psi(reference, current)
    assert f"{expected:.6f}" == "0.102607"
    assert psi(reference, current) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_matches_textbook_formula_on_random_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 40))
    p = rng.dirichlet(np.ones(k))
    reference = rng.multinomial(int(rng.integers(50, 5000)), p)
    current = rng.multinomial(int(rng.integers(50, 5000)), rng.dirichlet(np.ones(k)))
    assert psi(reference, current) == pytest.approx(textbook_psi(reference, current), abs=1e-12)


def test_epsilon_is_the_documented_value_and_keeps_empty_bins_finite() -> None:
    assert EPSILON == 1e-4
    value = psi([10, 0, 5], [0, 10, 5])
    assert np.isfinite(value)
    assert value == pytest.approx(textbook_psi(np.array([10, 0, 5]), np.array([0, 10, 5])))


def test_identical_and_proportional_counts_give_zero() -> None:
    assert psi([3, 0, 7], [3, 0, 7]) == 0.0
    assert psi([3, 1, 7], [30, 10, 70]) == pytest.approx(0.0, abs=1e-15)


def test_batch_rows_equal_scalar_calls() -> None:
    rng = np.random.default_rng(3)
    ref = rng.multinomial(400, np.full(6, 1 / 6), size=5)
    cur = rng.multinomial(300, np.full(6, 1 / 6), size=5)
    batch = _psi_batch(ref, cur)
    assert batch.shape == (5,)
    np.testing.assert_allclose(batch, [psi(r, c) for r, c in zip(ref, cur, strict=True)], atol=0)


def test_edges_are_checked_when_given() -> None:
    assert psi([1, 2], [2, 1], edges=[0.0, 1.0, 2.0]) == psi([1, 2], [2, 1])
    with pytest.raises(ConfigError, match="'edges' must be 1-D with k\\+1 = 3"):
        psi([1, 2], [2, 1], edges=[0.0, 1.0])
