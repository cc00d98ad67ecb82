"""Each method's batched form equals its scalar function row by row, bit for bit.

The checks compute a column's statistic for every window at once with the batched form
(one row per window, the reference broadcast), so a report must not depend on it.
"""

from __future__ import annotations

import numpy as np
import pytest

from driftline.methods import available_methods, get_method


@pytest.mark.parametrize("method", available_methods())
@pytest.mark.parametrize("k", [1, 2, 3, 22, 101, 5001])
def test_batch_rows_equal_single_calls_exactly(method: str, k: int) -> None:
    info = get_method(method)
    assert info.batch is not None
    rng = np.random.default_rng(k)
    ref = rng.integers(0, 1000, size=k).astype(float) + (rng.random(k) < 0.5)
    ref[0] += 1  # never all zero
    cur = rng.integers(0, 50, size=(37, k)).astype(float)
    cur[:, -1] += 1
    cur[3, : k // 2] = 0  # empty bins
    edges = np.cumsum(rng.uniform(0.1, 3.0, size=k + 1)) if info.needs_edges else None
    batched = info.batch(np.broadcast_to(ref, cur.shape), cur, edges=edges)
    singles = [info.fn(ref, row, edges=edges) for row in cur]
    assert batched.tolist() == singles
