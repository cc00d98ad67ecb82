"""Validation at the edge of every drift statistic: bad counts or edges -> ConfigError."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from driftline.errors import ConfigError
from driftline.methods import get_method

EDGES = [0.0, 1.0, 2.0, 3.0]
NAMES = ["chi2", "jensen_shannon", "ks", "psi", "wasserstein"]


def call(name: str) -> Callable[..., float]:
    fn = get_method(name).fn

    def run(reference: object, current: object, edges: object = EDGES) -> float:
        return fn(reference, current, edges=edges)

    return run


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("reference", "current", "match"),
    [
        ([1, 2, 3], [1, 2], r"'reference' has shape \(3,\) but 'current' has shape \(2,\)"),
        ([1, -2, 3], [1, 2, 3], r"'reference' holds a negative count \(-2.0\)"),
        ([1, 2, 3], [1, np.nan, 3], r"'current' holds a non-finite count \(nan\)"),
        ([1, 2, 3], [1, np.inf, 3], r"'current' holds a non-finite count \(inf\)"),
        ([0, 0, 0], [1, 2, 3], "'reference' has all-zero counts"),
        ([[1, 2, 3]], [[1, 2, 3]], r"must be a 1-D array of counts per bin, got shape \(1, 3\)"),
        ([1, "a", 3], [1, 2, 3], "'reference' must be an array of non-negative counts"),
    ],
)
def test_bad_counts(name: str, reference: object, current: object, match: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: .*{match}"):
        call(name)(reference, current)


def test_no_bins() -> None:
    with pytest.raises(ConfigError, match="'reference' has no bins"):
        call("psi")([], [])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ([0.0, 1.0, 2.0], r"k\+1 = 4 values for 3 bins, got shape \(3,\)"),
        ([0.0, 1.0, 1.0, 3.0], "finite and strictly increasing"),
        ([0.0, 1.0, 2.0, np.inf], "finite and strictly increasing"),
        (["a", "b", "c", "d"], "'edges' must be an array of numbers"),
    ],
)
def test_bad_edges(name: str, edges: object, match: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: .*{match}"):
        call(name)([1, 2, 3], [3, 2, 1], edges)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="negative count"):
        call("chi2")([1, -1, 0], [1, 1, 1])
