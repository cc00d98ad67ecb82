from __future__ import annotations

import numpy as np
import pytest

from driftline.errors import ConfigError
from driftline.methods import missing_fraction_change


def test_doctest_value_by_hand() -> None:
    # 45/500 - 20/1000 = 0.09 - 0.02
    assert missing_fraction_change(20, 1000, 45, 500) == pytest.approx(0.07, abs=1e-15)


def test_signed_and_accepts_numpy_integers() -> None:
    assert missing_fraction_change(50, 100, 1, 4) == pytest.approx(-0.25)
    assert missing_fraction_change(np.int64(0), np.int64(10), np.int64(10), np.int64(10)) == 1.0
    assert missing_fraction_change(3, 9, 3, 9) == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5, 0, 1, 10), "'ref_total' must be > 0, got 0;"),
        ((1, 10, 11, 10), r"'cur_missing' \(11\) exceeds 'cur_total' \(10\)"),
        ((-1, 10, 1, 10), "'ref_missing' must be a finite count >= 0, got -1.$"),
        ((1, 10, float("nan"), 10), "'cur_missing' must be a finite count"),
        ((1, 10, 1, "ten"), "'cur_total' must be a count, got 'ten'"),
    ],
)
def test_rejects_bad_counts(args: tuple[object, ...], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        missing_fraction_change(*args)  # type: ignore[arg-type]
