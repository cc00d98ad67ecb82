from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from driftline.errors import ConfigError
from driftline.methods import (
    Calibration,
    Resampler,
    available_methods,
    calibrate_bound,
    get_method,
    psi,
    size_grid,
)
from driftline.methods.calibrate import moment_quantile

REFERENCE = np.array(
    [5, 20, 60, 120, 200, 240, 200, 120, 60, 20, 5, 30, 40, 50, 10, 5, 8, 12, 40, 25]
)
EDGES = np.arange(len(REFERENCE) + 1, dtype=np.float64)


def test_doctest_value_matches_a_scipy_loop_over_the_same_draws() -> None:
    reference = np.array([120, 250, 300, 200, 130])
    cal = calibrate_bound("jensen_shannon", reference, 500, reps=1000, seed=0)
    rng = np.random.default_rng(0)
    p = reference / reference.sum()
    refs = rng.multinomial(1000, p, size=1000)
    curs = rng.multinomial(500, p, size=1000)
    values = [jensenshannon(r, c, base=2) for r, c in zip(refs, curs, strict=True)]
    expected = float(np.quantile(values, 0.999, method="higher"))
    assert f"{expected:.6f}" == "0.106713"
    assert cal.bound == pytest.approx(expected, abs=1e-12)
    assert cal.mean == pytest.approx(np.mean(values), abs=1e-12)
    assert cal.std == pytest.approx(np.std(values), abs=1e-12)
    assert cal == Calibration(
        bound=cal.bound,
        n=500,
        n_reference=1000,
        reps=1000,
        quantile=0.999,
        mean=cal.mean,
        std=cal.std,
        how="q0.999 of 1000 no-drift resamples (window n=500, reference n=1000)",
    )


@pytest.mark.parametrize("method", available_methods())
@pytest.mark.parametrize("n", [50, 300, 2000])
def test_false_alarm_rate_on_fresh_no_drift_draws(method: str, n: int) -> None:
    cal = calibrate_bound(method, REFERENCE, n, edges=EDGES, reps=2000, quantile=0.99, seed=0)
    rng = np.random.default_rng(2024)  # fresh draws, not the calibration's
    p = REFERENCE / REFERENCE.sum()
    refs = rng.multinomial(cal.n_reference, p, size=4000)
    curs = rng.multinomial(n, p, size=4000)
    batch = get_method(method).batch
    assert batch is not None
    rate = float(np.mean(batch(refs, curs, edges=EDGES) > cal.bound))
    assert 0.003 <= rate <= 0.03


@pytest.mark.parametrize("method", available_methods())
def test_bound_decreases_as_the_window_grows(method: str) -> None:
    bounds = [
        calibrate_bound(method, REFERENCE, n, n_reference=20_000, edges=EDGES, seed=1).bound
        for n in (30, 100, 1000, 10_000)
    ]
    assert bounds == sorted(bounds, reverse=True)
    assert bounds[0] > bounds[-1]


def test_deterministic_for_a_fixed_seed_and_different_across_seeds() -> None:
    first = calibrate_bound("psi", REFERENCE, 200, seed=3)
    assert calibrate_bound("psi", REFERENCE, 200, seed=3) == first
    assert calibrate_bound("psi", REFERENCE, 200, seed=4).bound != first.bound


def test_defaults_and_how() -> None:
    cal = calibrate_bound("chi2", [100, 200, 240], 500)
    assert (cal.n, cal.n_reference, cal.reps, cal.quantile) == (500, 540, 1000, 0.999)
    assert cal.how == "q0.999 of 1000 no-drift resamples (window n=500, reference n=540)"
    assert cal.bound >= cal.mean


def test_a_plain_function_is_looped_and_agrees_with_the_batched_path() -> None:
    def my_psi(reference: np.ndarray, current: np.ndarray, *, edges: object = None) -> float:
        return psi(reference, current)

    looped = calibrate_bound(my_psi, REFERENCE, 300, reps=200, seed=5)
    batched = calibrate_bound("psi", REFERENCE, 300, reps=200, seed=5)
    assert looped.bound == pytest.approx(batched.bound, abs=1e-12)
    assert calibrate_bound(psi, REFERENCE, 300, reps=200, seed=5) == batched


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method_name_or_fn": "pis"}, "unknown drift method 'pis'"),
        ({"method_name_or_fn": "missing_fraction_change"}, "is a rate metric"),
        ({"method_name_or_fn": "ks"}, "ks needs numeric bins"),
        ({"n": 0}, "'n' must be a whole number >= 1, got 0"),
        ({"n": 2.5}, "'n' must be a whole number"),
        ({"reps": 0}, "'reps' must be a whole number"),
        ({"quantile": 1.0}, r"'quantile' must be in \(0, 1\)"),
        ({"reference_counts": [0, 0]}, "all-zero counts"),
        ({"edges": [0.0, 1.0]}, "k\\+1 = 4"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {
        "method_name_or_fn": "psi",
        "reference_counts": [1, 2, 3],
        "n": 10,
    }
    arguments.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        calibrate_bound(**arguments)  # type: ignore[arg-type]


def test_size_grid_matches_brute_force() -> None:
    grid = sorted({math.floor(2 ** (j / 2)) for j in range(60)})
    for n in [*range(1, 3000), 10**6, 2**20, 2**20 - 1, 10**9]:
        expected = max(g for g in grid if g <= n)
        assert size_grid(n) == expected, n
    assert [size_grid(n) for n in (1, 3, 100, 500, 1000, 10**6)] == [1, 2, 90, 362, 724, 741455]


def test_size_grid_is_conservative_and_rejects_bad_sizes() -> None:
    assert all(size_grid(n) <= n < 2 * size_grid(n) for n in range(1, 5000))
    with pytest.raises(ConfigError, match="'n' must be a whole number >= 1, got 0"):
        size_grid(0)
    with pytest.raises(ConfigError, match="got True"):
        size_grid(True)


@pytest.mark.parametrize("keep", [True, False])
def test_resampler_reuses_references_and_gives_calibrate_bound_exactly(keep: bool) -> None:
    """One Resampler asked for several sizes, in any order and again, gives the very
    calibrations of separate calibrate_bound calls: the kept pseudo-references and the
    generator state after them reproduce the fresh draws."""
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 400, size=300)
    edges = np.linspace(0.0, 1.0, 301)
    for method, kw in (("jensen_shannon", {}), ("wasserstein", {"edges": edges})):
        r = Resampler(method, reference, reps=300, seed=3, keep=keep, **kw)
        for n in (5000, 40, 700, 40, 123_456):
            assert r.bound(n) == calibrate_bound(method, reference, n, reps=300, seed=3, **kw)
        assert (r._kept is not None) is keep
    assert Resampler("psi", reference, reps=300).nbytes == 300 * 300 * 8


@pytest.mark.parametrize("quantile", [0.99, 0.995])
def test_resampler_at_another_quantile_is_that_quantile_of_a_scipy_loop(quantile: float) -> None:
    """``Resampler.bound(n, quantile)``: the same draws, read at another quantile (the
    confirmation's), equal to a scipy loop over those draws and to ``calibrate_bound``."""
    reference = np.array([120, 250, 300, 200, 130])
    cal = Resampler("jensen_shannon", reference, reps=1000, seed=3).bound(437, quantile)
    rng = np.random.default_rng(3)
    p = reference / reference.sum()
    refs = rng.multinomial(1000, p, size=1000)
    curs = rng.multinomial(437, p, size=1000)
    values = [jensenshannon(r, c, base=2) for r, c in zip(refs, curs, strict=True)]
    assert cal.bound == pytest.approx(
        float(np.quantile(values, quantile, method="higher")), abs=1e-12
    )
    assert cal.quantile == quantile
    assert cal.how.startswith(f"q{quantile:g} of 1000")
    assert cal == calibrate_bound("jensen_shannon", reference, 437, quantile=quantile, seed=3)
    assert cal.bound < Resampler("jensen_shannon", reference, seed=3).bound(437).bound


# -- many cells: the bound from the moments of fewer resamples ------------------------------
#: 1,200 categories with Zipf-like frequencies, 60,000 reference rows
MANY = np.maximum(
    np.round(60_000 * (1.0 / np.arange(1, 1201)) / np.sum(1.0 / np.arange(1, 1201))), 1
)


def _brute_force(method: str, n: int, reps: int, seed: int) -> np.ndarray:
    """The statistic on ``reps`` fresh no-drift pairs, independently of the Resampler:
    scipy's Jensen-Shannon distance, the registered batch function otherwise."""
    rng = np.random.default_rng(seed)
    p = MANY / MANY.sum()
    refs = rng.multinomial(int(MANY.sum()), p, size=reps)
    curs = rng.multinomial(n, p, size=reps)
    if method == "jensen_shannon":
        return np.array([jensenshannon(r, c, base=2) for r, c in zip(refs, curs, strict=True)])
    batch = get_method(method).batch
    assert batch is not None
    return batch(refs, curs)


@pytest.mark.parametrize("method", ["chi2", "jensen_shannon", "psi"])
def test_moment_bound_matches_a_brute_force_quantile_within_its_monte_carlo_error(
    method: str,
) -> None:
    """Over 1,200 categories the bound comes from the moments of 300 resamples; it lies
    within 0.75 no-drift sd of the 0.995 quantile of 4,000 independent resamples (the
    moment bound's own spread is about 0.3 sd, the order statistic's of 4,000 draws about
    0.1 sd), and fresh no-drift draws exceed it at about the nominal rate."""
    n = 4000
    cal = calibrate_bound(method, MANY, n, quantile=0.995, seed=5)
    assert cal.reps == 300
    assert "Cornish-Fisher; 1200 cells" in cal.how
    fresh = _brute_force(method, n, 4000, seed=99)
    truth = float(np.quantile(fresh, 0.995))
    assert abs(cal.bound - truth) < 0.75 * fresh.std()
    assert 0.001 <= float(np.mean(fresh > cal.bound)) <= 0.015
    # the order statistic of the full 1000 resamples, as before, agrees as closely
    old = Resampler(method, MANY, reps=1000, seed=5)
    plain = old._statistics(n, 1000)
    assert abs(float(np.quantile(plain, 0.995, method="higher")) - truth) < 0.75 * fresh.std()


def test_moments_apply_to_cell_sums_over_many_cells_and_large_samples_only() -> None:
    big = Resampler("psi", MANY, reps=1000)
    assert big.cells == 1200
    assert big.moment_reps == 300
    assert big.uses_moments(1000)
    assert not big.uses_moments(999)
    assert not Resampler("psi", MANY[:999]).uses_moments(5000)  # too few cells
    assert not Resampler("psi", MANY, n_reference=999).uses_moments(5000)  # small reference
    edges = np.arange(MANY.size + 1, dtype=np.float64)
    for method in ("ks", "wasserstein"):  # a maximum, a cumulative sum: not cell sums
        r = Resampler(method, MANY, edges=edges, reps=200)
        assert not r.uses_moments(5000)
        assert r.bound(5000).how.startswith("q0.999 of 200 no-drift resamples")
    small = Resampler("jensen_shannon", MANY, reps=200).bound(500)
    assert small.reps == 200
    assert "Cornish-Fisher" not in small.how


def test_moment_bound_is_deterministic_and_kept_references_give_the_same() -> None:
    kept = Resampler("jensen_shannon", MANY, reps=400, seed=2)
    kept.prepare([2000])
    assert kept._kept is None
    assert kept._kept_moments is not None
    fresh = calibrate_bound("jensen_shannon", MANY, 2000, reps=400, seed=2)
    assert kept.bound(2000) == fresh == kept.bound(2000)
    assert kept.bound(300) == calibrate_bound("jensen_shannon", MANY, 300, reps=400, seed=2)


def test_moment_quantile_against_scipy() -> None:
    from scipy import stats

    x = np.random.default_rng(0).gamma(400.0, size=20_000)
    bound, skew = moment_quantile(x, 0.999)  # type: ignore[misc]
    assert skew == pytest.approx(stats.skew(x, bias=False), rel=1e-12)
    # the Cornish-Fisher quantile of 20,000 draws against the exact gamma quantile
    assert bound == pytest.approx(stats.gamma(400.0).ppf(0.999), abs=0.15 * x.std())
    assert moment_quantile(np.random.default_rng(0).exponential(size=500), 0.999) is None
    assert moment_quantile(np.ones(10), 0.999) is None
