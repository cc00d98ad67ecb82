from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from driftline.errors import ConfigError
from driftline.methods import ks


def test_doctest_value_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    edges = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    reference = rng.multinomial(1000, [0.15, 0.35, 0.35, 0.15])
    current = rng.multinomial(500, [0.1, 0.3, 0.4, 0.2])
    # Samples sitting at the bin midpoints have exactly the binned CDFs.
    midpoints = (edges[:-1] + edges[1:]) / 2
    expected = stats.ks_2samp(np.repeat(midpoints, reference), np.repeat(midpoints, current))
    assert f"{expected.statistic:.6f}" == "0.056000"
    assert ks(reference, current, edges=edges) == pytest.approx(expected.statistic, abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.2, 0.5, 1.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_binned_statistic_is_within_the_documented_bound_of_raw_ks(
    shift: float,
    seed: int,
    bin_counts: Callable[..., np.ndarray],
    quantile_edges: Callable[..., np.ndarray],
) -> None:
    rng = np.random.default_rng(seed)
    raw_ref = rng.normal(0.0, 1.0, size=4000)
    raw_cur = rng.normal(shift, 1.0 + shift / 2, size=1500)
    edges = quantile_edges(raw_ref, 100)
    ref, cur = bin_counts(raw_ref, edges), bin_counts(raw_cur, edges)
    binned = ks(ref, cur, edges=edges)
    raw = stats.ks_2samp(raw_ref, raw_cur).statistic
    p, q = ref / ref.sum(), cur / cur.sum()
    assert binned <= raw + 1e-12
    assert raw - binned <= np.max(np.minimum(p, q)) + 1e-12  # the tight form
    assert abs(binned - raw) <= np.max(np.maximum(p, q)) + 1e-12  # the documented bound


def test_single_bin_and_identical_counts_give_zero() -> None:
    assert ks([5], [9], edges=[0.0, 1.0]) == 0.0
    assert ks([1, 2, 3], [2, 4, 6], edges=[0.0, 1.0, 2.0, 3.0]) == pytest.approx(0.0, abs=1e-15)


def test_needs_edges() -> None:
    with pytest.raises(ConfigError, match=r"ks needs numeric bins.*chi2, jensen_shannon, psi"):
        ks([1, 2], [2, 1])
