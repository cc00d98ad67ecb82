from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from driftline.methods import jensen_shannon
from driftline.methods.jensen_shannon import _jensen_shannon_batch


def test_doctest_value_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    expected = jensenshannon(reference, current, base=2)
    assert f"{expected:.6f}" == "0.135501"
    assert jensen_shannon(reference, current) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_matches_scipy_with_empty_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 50))
    reference = rng.multinomial(int(rng.integers(1, 3000)), rng.dirichlet(np.full(k, 0.3)))
    current = rng.multinomial(int(rng.integers(1, 3000)), rng.dirichlet(np.full(k, 0.3)))
    expected = jensenshannon(reference, current, base=2)
    assert jensen_shannon(reference, current) == pytest.approx(expected, abs=1e-12)


def test_disjoint_supports_give_one_and_identical_give_zero() -> None:
    assert jensen_shannon([5, 0, 0], [0, 2, 9]) == pytest.approx(1.0, abs=1e-12)
    assert jensen_shannon([5, 0, 3], [5, 0, 3]) == 0.0


def test_batch_rows_equal_scalar_calls() -> None:
    rng = np.random.default_rng(9)
    ref = rng.multinomial(100, [0.5, 0.3, 0.2, 0.0], size=6)
    cur = rng.multinomial(80, [0.2, 0.3, 0.4, 0.1], size=6)
    expected = [jensenshannon(r, c, base=2) for r, c in zip(ref, cur, strict=True)]
    np.testing.assert_allclose(_jensen_shannon_batch(ref, cur), expected, atol=1e-12)
