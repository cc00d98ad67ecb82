"""A binary model's probability column on Spark: the profile and the checks equal
DuckDB's (the layout itself is tested in ``tests/test_score_layouts.py``)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

import driftline
from driftline.checks import run_checks
from driftline.engine import SparkEngine
from driftline.profile import Profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_score_layouts import BINARY_SPEC, car_loan_like


@pytest.mark.spark
def test_binary_scores_profile_and_checks_on_spark_equal_duckdb(spark: Any, tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "s.duckdb", BINARY_SPEC) as mon:
        mon.log_reference(car_loan_like(800, 1))
        mon.log_predictions(car_loan_like(600, 2, "2024-02-01"))
        duck_report = mon.check(persist=False)
        duck_profile = mon.profile
        reference = mon.store.con.execute("SELECT * FROM reference_reference").to_arrow_table()
        stored = mon.store.con.execute("SELECT * FROM predictions").to_arrow_table()
        batches = mon.store.batches().to_pylist()
        labels = mon.store.con.execute("SELECT * FROM labels").to_arrow_table().to_pylist()
    spark.createDataFrame(reference).createOrReplaceTempView("binary_reference")
    schema = "id string, label string, labelled_at timestamp, ingested_at timestamp, _batch long"
    spark.createDataFrame(labels, schema=schema).createOrReplaceTempView("binary_labels")
    spark.createDataFrame(stored).createOrReplaceTempView("binary_predictions")
    engine = SparkEngine(spark)
    spec = driftline.load_spec(BINARY_SPEC)
    prof = Profile(spec).fit(engine, engine.table("binary_reference"), None)
    for part in ("confidence_", "predicted_mix_", "class_prior_", "bin_edges_", "bin_counts_"):
        got, want = getattr(prof, part), getattr(duck_profile, part)
        assert got.keys() == want.keys(), part
        for key, value in want.items():  # floats to 1e-9: engines sum in another order
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (part, key)
    report = run_checks(
        engine,
        engine.table("binary_predictions"),
        spec,
        duck_profile,
        batches=batches,
        labels=engine.table("binary_labels"),
    )
    key = [(r.window_start, r.cohort_value, r.check, r.column) for r in report.results]
    assert key == [(r.window_start, r.cohort_value, r.check, r.column) for r in duck_report.results]
    for got_r, want_r in zip(report.results, duck_report.results, strict=True):
        g, w = asdict(got_r), asdict(want_r)
        assert g["status"] == w["status"]
        if w["value"] is not None:
            assert g["value"] == pytest.approx(w["value"], abs=1e-9)
