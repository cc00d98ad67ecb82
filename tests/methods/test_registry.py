from __future__ import annotations

import numpy as np
import pytest

from driftline.errors import ConfigError
from driftline.methods import MethodInfo, available_methods, get_method
from driftline.methods._registry import _METHODS

STATISTICS = ["chi2", "jensen_shannon", "ks", "psi", "wasserstein"]


def test_available_methods_by_kind() -> None:
    assert available_methods() == STATISTICS
    assert available_methods("numeric") == STATISTICS
    assert available_methods("categorical") == ["chi2", "jensen_shannon", "psi"]
    assert available_methods("rate") == ["missing_fraction_change"]
    assert available_methods("text") == []


def test_unknown_name_lists_the_table_and_suggests_a_near_miss() -> None:
    with pytest.raises(ConfigError) as info:
        get_method("pis")
    assert str(info.value) == (
        "unknown drift method 'pis'; available: chi2, jensen_shannon, ks, psi, wasserstein; "
        "did you mean 'psi'?"
    )
    assert isinstance(info.value, ValueError)


def test_unknown_name_without_a_near_miss_has_no_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        get_method("zzzzzz")
    assert str(info.value) == (
        "unknown drift method 'zzzzzz'; available: chi2, jensen_shannon, ks, psi, wasserstein"
    )
    with pytest.raises(ConfigError, match="unknown drift method None"):
        get_method(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", STATISTICS)
def test_metadata_matches_behaviour(name: str) -> None:
    info = get_method(name)
    assert isinstance(info, MethodInfo)
    assert info.name == name
    assert info.fn.__name__ == name
    assert info.description
    assert info.batch is not None
    reference, current = np.array([3, 5, 2]), np.array([1, 1, 4])
    edges = np.array([0.0, 1.0, 2.0, 4.0])
    value = info.fn(reference, current, edges=edges)
    assert info.batch(reference[None, :], current[None, :], edges=edges)[0] == value
    if info.needs_edges:
        assert "categorical" not in info.kinds
        with pytest.raises(ConfigError, match=f"{name} needs numeric bins"):
            info.fn(reference, current)
    else:
        assert info.fn(reference, current) == value


def test_rate_methods_have_no_batch_and_every_name_is_its_key() -> None:
    assert get_method("missing_fraction_change").batch is None
    assert get_method("missing_fraction_change").kinds == frozenset({"rate"})
    assert all(key == info.name for key, info in _METHODS.items())
