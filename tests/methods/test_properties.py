"""Properties every drift statistic must have, on arbitrary counts (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.methods import available_methods, chi2, get_method, jensen_shannon, ks, psi

SYMMETRIC = ["chi2", "jensen_shannon", "ks", "psi", "wasserstein"]


@st.composite
def count_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = draw(st.integers(min_value=1, max_value=12))
    counts = st.lists(st.integers(min_value=0, max_value=1000), min_size=k, max_size=k)
    reference = np.array(draw(counts.filter(lambda c: sum(c) > 0)))
    current = np.array(draw(counts.filter(lambda c: sum(c) > 0)))
    widths = draw(st.lists(st.floats(min_value=0.01, max_value=100.0), min_size=k, max_size=k))
    edges = np.concatenate([[-5.0], -5.0 + np.cumsum(widths)])
    return reference, current, edges


@settings(max_examples=150, deadline=None)
@given(count_pairs(), st.integers(min_value=1, max_value=50))
def test_zero_for_identical_and_proportional_counts(
    pair: tuple[np.ndarray, np.ndarray, np.ndarray], scale: int
) -> None:
    reference, _, edges = pair
    for name in available_methods():
        fn = get_method(name).fn
        assert fn(reference, reference, edges=edges) == 0.0
        assert abs(fn(reference, reference * scale, edges=edges)) <= 1e-9


@settings(max_examples=150, deadline=None)
@given(count_pairs())
def test_symmetric_bounded_and_non_negative(
    pair: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    reference, current, edges = pair
    for name in SYMMETRIC:
        fn = get_method(name).fn
        forward = fn(reference, current, edges=edges)
        assert forward >= 0.0
        assert abs(forward - fn(current, reference, edges=edges)) <= 1e-9 * max(1.0, forward)
    assert 0.0 <= jensen_shannon(reference, current) <= 1.0
    assert 0.0 <= ks(reference, current, edges=edges) <= 1.0
    assert get_method("wasserstein").fn(reference, current, edges=edges) <= edges[-1] - edges[0]
    assert psi(reference, current) >= 0.0
    assert chi2(reference, current) >= 0.0


@settings(max_examples=100, deadline=None)
@given(count_pairs())
def test_batch_equals_scalar(pair: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    reference, current, edges = pair
    for name in available_methods():
        info = get_method(name)
        assert info.batch is not None
        both = info.batch(
            np.stack([reference, current]), np.stack([current, reference]), edges=edges
        )
        assert both[0] == info.fn(reference, current, edges=edges)
        assert both[1] == info.fn(current, reference, edges=edges)
