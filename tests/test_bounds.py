"""The alert bounds that are not resampled, against scipy and against simulation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftline.checks._bounds import _Bounds, _z
from driftline.methods import calibrate_bound
from driftline.spec import load_spec

SPEC: dict[str, Any] = {
    "scores": {"columns": {"a": "score_a", "b": "score_b"}},
    "checks": {"alert_quantile": 0.99},
}


@pytest.mark.parametrize("q", [0.9, 0.99, 0.999])
def test_two_sided_normal_quantile_matches_scipy(q: float) -> None:
    assert _z(q) == pytest.approx(stats.norm.ppf(1 - (1 - q) / 2), rel=1e-12)


def test_mean_shift_bound_is_its_quantile_under_no_drift() -> None:
    """Windows and references drawn from one distribution exceed the bound at rate 1 - q."""
    bounds = _Bounds(load_spec(SPEC))
    rng = np.random.default_rng(0)
    n, n_ref, reps = 200, 1000, 4000
    pop = rng.beta(8, 2, size=1_000_000)  # a confidence-like distribution
    sd = float(pop.std())
    bound, how = bounds.normal("confidence_shift", sd, n, n_ref)
    assert bound == pytest.approx(stats.norm.ppf(0.995) * sd * np.sqrt(1 / n + 1 / n_ref))
    assert "calibrated" in how
    ref_means = rng.choice(pop, size=(reps, n_ref)).mean(axis=1)
    win_means = rng.choice(pop, size=(reps, n)).mean(axis=1)
    rate = float(np.mean(np.abs(win_means - ref_means) > bound))
    assert 0.004 <= rate <= 0.02  # nominal 0.01


def test_beyond_range_bound_uses_the_beta_quantile_of_the_extremes() -> None:
    bounds = _Bounds(load_spec(SPEC))
    n_ref, n = 500, 10_000
    bound, _ = bounds.beyond_range(n, n_ref)
    per_tail = stats.beta(1, n_ref).ppf(0.99)  # mass beyond a sample's maximum
    p0 = 2 * per_tail
    expected = p0 + stats.norm.ppf(0.99) * np.sqrt(p0 * (1 - p0) / n) + 1 / n
    assert bound == pytest.approx(expected, rel=1e-9)


def test_beyond_range_false_alarm_rate_by_simulation() -> None:
    """A fresh reference of n_ref and a window of n from one continuous distribution:
    the share of the window outside the reference's range exceeds the bound rarely."""
    bounds = _Bounds(load_spec(SPEC))
    rng = np.random.default_rng(1)
    n_ref, n, reps = 300, 500, 3000
    bound, _ = bounds.beyond_range(n, n_ref)
    ref = rng.normal(size=(reps, n_ref))
    win = rng.normal(size=(reps, n))
    lo, hi = ref.min(axis=1, keepdims=True), ref.max(axis=1, keepdims=True)
    share = ((win < lo) | (win > hi)).mean(axis=1)
    assert float(np.mean(share > bound)) <= 0.02  # nominal 0.01, the bound is conservative


def test_rate_bound_matches_the_binomial_normal_approximation() -> None:
    bounds = _Bounds(load_spec(SPEC))
    p0, n = 0.02, 5000
    bound, _ = bounds.rate("unseen_category", p0, n, "Good-Turing")
    expected = p0 + stats.norm.ppf(0.99) * np.sqrt(p0 * (1 - p0) / n) + 1 / n
    assert bound == pytest.approx(expected, rel=1e-12)
    assert stats.binom(n, p0).sf(bound * n) < 0.01  # beyond the binomial's 0.99 quantile


def test_confirmation_is_calibrated_at_the_window_s_own_size_and_cached_apart() -> None:
    """The alert's calibration is at the size grid's point below the window's size; the
    confirmation's at the window's size itself and ``confirm_quantile``, from the same
    seeded draws, under its own cache key."""
    spec = load_spec({**SPEC, "checks": {"confirm_quantile": 0.995}})
    reference = [40, 120, 300, 260, 180, 100]
    cache: dict[str, Any] = {}
    cal = _Bounds(spec, cache).calibrator("psi", reference)
    alert, confirm = cal(400), cal.confirming(400)
    assert alert == calibrate_bound("psi", reference, 362, quantile=0.999)
    assert confirm == calibrate_bound("psi", reference, 400, quantile=0.995)
    assert confirm.bound < alert.bound
    assert set(cache) == {cal.key(362), cal.key(400, 0.995)}
    assert cal.key(362) != cal.key(362, 0.995)
    # a later run reads both from the cache
    again = _Bounds(spec, cache).calibrator("psi", reference)
    assert again.confirming(400) is cache[cal.key(400, 0.995)]
