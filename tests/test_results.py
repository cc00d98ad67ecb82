"""A report's dict and JSON are exactly what ``dataclasses.asdict`` made of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import FrozenInstanceError, asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline.checks import Alert, CheckReport, CheckResult, Moments, WindowStats
from driftline.checks._results import record

SpecFactory = Callable[..., dict[str, Any]]
PredictionsFactory = Callable[..., pd.DataFrame]


def old_json(report: CheckReport, **kwargs: Any) -> str:
    return json.dumps(asdict(report), allow_nan=False, default=str, **kwargs)


def test_a_check_report_serialises_as_asdict_did(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    with driftline.connect(tmp_path / "r.duckdb", make_spec(), profile=tmp_path / "p.json") as mon:
        mon.log_reference(make_predictions(500, seed=7, id_prefix="ref"))
        mon.log_predictions(make_predictions(600, seed=1, start="2024-03-01"))
        report = mon.check(persist=False)
    assert report.to_dict() == asdict(report)
    assert report.to_json() == old_json(report)
    assert report.to_json(indent=1, sort_keys=True) == old_json(report, indent=1, sort_keys=True)


def test_odd_values_serialise_as_asdict_did() -> None:
    details = {
        "moments": Moments(3, 1.0, 2.0),  # a dataclass inside plain data
        "when": datetime(2024, 1, 2),  # not JSON: its str
        "pair": (1, [2, 3]),
        "count": np.int64(4),
        "share": np.float64(0.5),
    }
    report = CheckReport("id", "now", "1d", None, None, {"details": details}, [], [], [])
    assert report.to_dict() == asdict(report)
    assert report.to_json() == old_json(report)
    copied = report.to_dict()
    copied["plan"]["details"]["pair"][1].append(4)
    assert details["pair"] == (1, [2, 3])  # a deep copy, as asdict's


def test_every_record_serialises_its_fields_in_order() -> None:
    result = CheckResult(
        1, "s", "e", None, None, "class_mix", None, "m", 0.5, 0.5, 0.1, "h", "alert", 9
    )
    alert = Alert(1, "s", None, None, "class_mix", None, 0.5, 0.1, "message")
    stats = WindowStats(1, "s", "e", None, None, 9, {"a": 9}, *[None] * 7, 0, None, None)
    report = CheckReport("id", "now", "1d", None, None, {}, [stats], [result], [alert])
    assert report.to_json() == old_json(report)
    for one in (result, alert, stats):
        assert list(vars(one)) == list(asdict(one))


def test_a_record_built_at_once_is_the_record_init_builds() -> None:
    values = (1, "s", "e", "c", "v", "class_mix", "x", "m", 0.5, 0.5, 0.1, "h", "alert", 9)
    full = (*values, {"k": [1]}, 0.2, "f", "bound")
    built = record(CheckResult, full)
    assert built == CheckResult(*full)
    assert list(vars(built)) == list(vars(CheckResult(*values)))
    assert repr(built) == repr(CheckResult(*full))
    with pytest.raises(FrozenInstanceError):
        built.value = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="zip"):  # every field, or none
        record(CheckResult, values)
