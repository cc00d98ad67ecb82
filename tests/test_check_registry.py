"""Every check of the catalog is one registered function, and the evaluator calls it."""

from __future__ import annotations

import pytest

from driftline._catalog import CHECKS
from driftline.checks import _embedding_checks, _evaluate, _performance_checks
from driftline.checks._registry import FUNCTIONS, check


def test_every_check_has_exactly_one_function_and_back() -> None:
    assert sorted(FUNCTIONS) == sorted(CHECKS)
    assert len(set(FUNCTIONS.values())) == len(FUNCTIONS)


def test_the_evaluator_calls_every_registered_function() -> None:
    called = [
        *_evaluate._WINDOW_CHECKS,
        *_evaluate._FEATURE_CHECKS,
        *_evaluate._DRIFT_CHECKS.values(),
        *_evaluate._SCHEMA_CHECKS,
        *_evaluate._COHORT_CHECKS,
        *_performance_checks.PERFORMANCE_CHECKS,
        *_embedding_checks.SAMPLE_CHECKS,
    ]
    assert len(called) == len(set(called))
    assert set(called) == set(FUNCTIONS.values())
    for name, function in _evaluate._DRIFT_CHECKS.items():
        assert FUNCTIONS[name] is function


def test_a_check_registers_once_and_only_under_a_catalog_name() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        check("class_mix")(lambda: None)
    with pytest.raises(ValueError, match="unknown check 'clas_mix'"):
        check("clas_mix")(lambda: None)
    assert sorted(FUNCTIONS) == sorted(CHECKS)
