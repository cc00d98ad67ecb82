"""The evaluator's shortcuts equal the plain computations they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.checks._evaluate import _counter, _smallest


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-5, max_value=5), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=70),
)
def test_smallest_is_a_stable_sort_prefix(values: list[int], k: int) -> None:
    keys = np.array(values, dtype=float) / 3  # small integers: many ties
    expected = sorted(range(len(values)), key=lambda i: keys[i])[:k]
    assert _smallest(keys, k) == expected


@pytest.mark.slow  # 200 examples: about 5 s
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=3), min_size=1, max_size=20, unique=True),
    st.dictionaries(st.text(max_size=3), st.integers(min_value=0, max_value=9)),
)
def test_counter_matches_get_with_zero(names: list[str], counts: dict[str, int]) -> None:
    assert list(_counter(names)(counts)) == [counts.get(v, 0) for v in names]
