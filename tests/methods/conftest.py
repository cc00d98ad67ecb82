"""Shared fixtures for the drift-method tests: binning raw samples the way the engine does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

Binner = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.int64]]


def _bin_counts(
    values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Counts on ``edges``: bins [e_i, e_i+1), the last closed, out-of-range values clipped."""
    k = len(edges) - 1
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, k - 1)
    return np.bincount(index, minlength=k)


@pytest.fixture
def bin_counts() -> Binner:
    return _bin_counts


@pytest.fixture
def quantile_edges() -> Callable[[npt.NDArray[np.float64], int], npt.NDArray[np.float64]]:
    """Edges at the reference's quantiles: edges[0] its minimum, edges[-1] its maximum."""

    def make(reference: npt.NDArray[np.float64], bins: int) -> npt.NDArray[np.float64]:
        return np.quantile(reference, np.linspace(0.0, 1.0, bins + 1))

    return make
