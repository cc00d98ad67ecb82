from __future__ import annotations

import numpy as np
import pytest

from driftline.errors import ConfigError
from driftline.methods import good_turing_unseen, new_category_rate


def test_new_category_rate_by_hand() -> None:
    assert new_category_rate(12, 400) == pytest.approx(0.03, abs=1e-15)
    assert new_category_rate(0, 7) == 0.0
    assert new_category_rate(7, 7) == 1.0


def test_new_category_rate_rejects_bad_counts() -> None:
    with pytest.raises(ConfigError, match=r"'unseen' .* exceeds 'total'"):
        new_category_rate(8, 7)
    with pytest.raises(ConfigError, match="'total' must be > 0"):
        new_category_rate(0, 0)


def test_good_turing_by_hand() -> None:
    # Singletons: the three 1s; N = 5 + 1 + 1 + 3 + 0 + 1 = 11.
    assert good_turing_unseen([5, 1, 1, 3, 0, 1]) == pytest.approx(3 / 11, abs=1e-15)
    assert f"{3 / 11:.6f}" == "0.272727"
    assert good_turing_unseen([4, 2, 9]) == 0.0
    assert good_turing_unseen(np.ones(10, dtype=np.int64)) == 1.0


def test_good_turing_rejects_proportions_and_empty_reference() -> None:
    with pytest.raises(ConfigError, match=r"whole counts per category, got 0\.5"):
        good_turing_unseen([0.5, 0.5])
    with pytest.raises(ConfigError, match="all-zero counts"):
        good_turing_unseen([0, 0])


def test_good_turing_tracks_the_true_unseen_mass() -> None:
    # Zipf-like reference with a long tail: n_1/N should estimate the mass of the
    # categories a sample of this size missed.
    rng = np.random.default_rng(7)
    p = 1.0 / np.arange(1, 5001)
    p /= p.sum()
    counts = rng.multinomial(3000, p)
    unseen_mass = p[counts == 0].sum()
    assert good_turing_unseen(counts) == pytest.approx(unseen_mass, abs=0.03)
