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
