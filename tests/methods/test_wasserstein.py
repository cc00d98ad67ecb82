from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from driftline.errors import ConfigError
from driftline.methods import wasserstein
from driftline.methods.wasserstein import _wasserstein_batch


def scipy_binned(edges: np.ndarray, reference: np.ndarray, current: np.ndarray) -> float:
    mid = (edges[:-1] + edges[1:]) / 2
    return float(stats.wasserstein_distance(mid, mid, u_weights=reference, v_weights=current))


def test_doctest_value_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    edges = np.array([0.0, 10.0, 20.0, 40.0, 80.0])
    reference = rng.multinomial(1000, [0.1, 0.2, 0.3, 0.4])
    current = rng.multinomial(500, [0.15, 0.25, 0.3, 0.3])
    expected = scipy_binned(edges, reference, current)
    assert f"{expected:.6f}" == "6.175000"
    assert wasserstein(reference, current, edges=edges) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_matches_scipy_on_midpoints(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 40))
    edges = np.cumsum(rng.uniform(0.1, 5.0, size=k + 1)) - 20.0
    reference = rng.multinomial(int(rng.integers(1, 5000)), rng.dirichlet(np.ones(k)))
    current = rng.multinomial(int(rng.integers(1, 5000)), rng.dirichlet(np.ones(k)))
    expected = scipy_binned(edges, reference, current)
    assert wasserstein(reference, current, edges=edges) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5, 1.0])
def test_within_max_bin_width_of_raw_wasserstein(
    shift: float,
    bin_counts: Callable[..., np.ndarray],
    quantile_edges: Callable[..., np.ndarray],
) -> None:
    rng = np.random.default_rng(42)
    raw_ref = rng.normal(0.0, 1.0, size=5000)
    edges = quantile_edges(raw_ref, 100)
    # The statistic sees out-of-range values clipped into the outer bins, so compare with
    # the raw data clipped the same way (the documented resolution is for in-range data).
    raw_cur = np.clip(rng.normal(shift, 1.2, size=2000), edges[0], edges[-1])
    ref, cur = bin_counts(raw_ref, edges), bin_counts(raw_cur, edges)
    binned = wasserstein(ref, cur, edges=edges)
    raw = stats.wasserstein_distance(raw_ref, raw_cur)
    widths = np.diff(edges)
    tight = np.sum((ref / ref.sum() + cur / cur.sum()) * widths) / 2
    assert abs(binned - raw) <= tight + 1e-12
    assert tight <= np.max(widths)


def test_needs_edges() -> None:
    with pytest.raises(ConfigError, match=r"wasserstein needs numeric bins"):
        wasserstein([1, 2], [2, 1])


def test_batch_rows_equal_scalar_calls() -> None:
    rng = np.random.default_rng(2)
    edges = np.array([0.0, 1.0, 3.0, 6.0])
    ref = rng.multinomial(50, [0.2, 0.5, 0.3], size=5)
    cur = rng.multinomial(70, [0.4, 0.4, 0.2], size=5)
    expected = [scipy_binned(edges, r, c) for r, c in zip(ref, cur, strict=True)]
    np.testing.assert_allclose(_wasserstein_batch(ref, cur, edges=edges), expected, atol=1e-12)
