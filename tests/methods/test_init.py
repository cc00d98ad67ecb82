"""The public surface of driftline.methods (one sorted __all__, every name importable)."""

from __future__ import annotations

import driftline.methods as methods

EXPECTED = {
    "Calibration",
    "MethodInfo",
    "Resampler",
    "ThresholdSearch",
    "available_methods",
    "calibrate_bound",
    "chi2",
    "chi2_pvalue",
    "get_method",
    "good_turing_unseen",
    "jensen_shannon",
    "ks",
    "missing_fraction_change",
    "new_category_rate",
    "psi",
    "size_grid",
    "threshold_search",
    "wasserstein",
}


def test_all_is_sorted_and_complete() -> None:
    assert methods.__all__ == sorted(methods.__all__)
    assert set(methods.__all__) == EXPECTED


def test_every_exported_name_exists_and_public_names_are_exported() -> None:
    for name in methods.__all__:
        assert getattr(methods, name) is not None
    public = {
        name
        for name, value in vars(methods).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("driftline.")
    }
    assert public <= EXPECTED
