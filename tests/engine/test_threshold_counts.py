"""Threshold-relative counts on every engine: rows at or above each class's threshold,
within the band around it, and clearing none, per window and cohort value.

One seeded data set (3 classes in one list column and in per-class columns, scores lying
exactly on the thresholds and on the band's edges, null cohort values, three days) is
counted by :func:`~driftline.engine.summaries.window_summary` with the sources of
:func:`~driftline.engine.scores.threshold_sources` on DuckDB (portable and native
histograms) and on Spark, and each answer is compared exactly with numpy's counts of the
same rows; then ``run_checks`` gives equal threshold results on both engines.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest

from driftline.engine import MISSING_COHORT, DuckDBEngine, Engine, SparkEngine
from driftline.engine.records import read_window_summary, threshold_counts
from driftline.engine.scores import NONE_SOURCE, THRESHOLD_PREFIX, threshold_sources
from driftline.engine.summaries import window_summary
from driftline.spec import Spec

CLASSES = ["a", "b", "c"]
THRESHOLDS = {"a": 0.4, "b": 0.3, "c": 0.55}
BAND = 0.05
N = 900


def _table() -> pa.Table:
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(3), size=N)
    # rows exactly on a threshold and on the band's edges (the same floats the edges hold)
    for i, (cls, t) in enumerate(THRESHOLDS.items()):
        k = CLASSES.index(cls)
        for j, v in enumerate((t, t - BAND, t + BAND)):
            probs[30 * i + j, k] = v
    region = rng.choice(["eu", "us", None], size=N).tolist()
    ts = (
        np.datetime64("2024-03-01T00:00:00")
        + (np.arange(N) * (3 * 86400 // N)).astype("timedelta64[s]")
    ).astype("datetime64[us]")
    return pa.table(
        {
            "id": [f"r{i}" for i in range(N)],
            "ts": pa.array(ts, pa.timestamp("us")),
            "pred": [CLASSES[k] for k in probs.argmax(axis=1)],
            "confidence": probs.max(axis=1),
            "probs": [list(row) for row in probs],
            **{f"score_{c}": probs[:, k] for k, c in enumerate(CLASSES)},
            "region": region,
        }
    )


SPECS = {
    "columns": Spec(
        id="id",
        timestamp="ts",
        prediction="pred",
        scores={"columns": {c: f"score_{c}" for c in CLASSES}},
        cohorts=["region"],
    ),
    "list": Spec(
        id="id",
        timestamp="ts",
        prediction="pred",
        scores={"column": "probs", "classes": CLASSES},
        cohorts=["region"],
    ),
}


def _oracle(table: pa.Table, cohort: str | None) -> dict[tuple[int, str], dict[str, tuple]]:
    probs = np.array(table.column("probs").to_pylist())
    ts = table.column("ts").to_numpy().astype("datetime64[s]").astype(np.int64)
    day = ts // 86400 * 86400
    values = (
        ["__all__"] * len(ts)
        if cohort is None
        else [MISSING_COHORT if v is None else v for v in table.column(cohort).to_pylist()]
    )
    t = np.array([THRESHOLDS[c] for c in CLASSES])
    out: dict[tuple[int, str], dict[str, tuple]] = {}
    for key in sorted(set(zip(day.tolist(), values, strict=True))):
        rows = (day == key[0]) & (np.array(values) == key[1])
        p = probs[rows]
        got: dict[str, tuple] = {}
        for k, c in enumerate(CLASSES):
            above = int((p[:, k] >= t[k]).sum())
            band = int(((p[:, k] >= t[k] - BAND) & (p[:, k] <= t[k] + BAND)).sum())
            got[c] = (len(p), above, band)
        clears = (p >= t[None, :]).any(axis=1)
        got["none"] = (len(p), int(clears.sum()), 0)
        out[key] = got
    return out


def _counts(
    engine: Engine, spec: Spec, cohort: str | None, native: bool
) -> dict[tuple[int, str], dict[str, tuple]]:
    sources = threshold_sources(spec, THRESHOLDS, BAND, none=True)
    edges = {name: e for name, (e, _) in sources.items()}
    expr = window_summary(
        engine.table("t"),
        spec,
        spec.window_parsed,
        cohort,
        ranges={},
        edges=edges,
        values={name: build for name, (_, build) in sources.items()},
        native=native,
    )
    read = read_window_summary(engine.run(expr), spec, ranges={}, edges=edges)
    out: dict[tuple[int, str], dict[str, tuple]] = {}
    for s in read:
        got: dict[str, tuple] = {}
        for c in CLASSES:
            counts = threshold_counts(s.histograms, f"{THRESHOLD_PREFIX}{c}")
            assert counts is not None
            got[c] = tuple(counts)
        none = threshold_counts(s.histograms, NONE_SOURCE)
        assert none is not None
        got["none"] = tuple(none)
        out[s.key] = got
    return out


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return _table()


@pytest.fixture(scope="module")
def duckdb_engine(table: pa.Table) -> DuckDBEngine:
    con = ibis.duckdb.connect()
    con.create_table("t", table)
    return DuckDBEngine(con)


@pytest.fixture(scope="module")
def spark_engine(spark: Any, table: pa.Table) -> SparkEngine:
    spark.createDataFrame(table).createOrReplaceTempView("t")
    return SparkEngine(spark)


ENGINES = [
    pytest.param(("duckdb", False), id="duckdb"),
    pytest.param(("duckdb", True), id="duckdb-native"),
    pytest.param(("spark", False), id="spark", marks=pytest.mark.spark),
]


@pytest.mark.parametrize("layout", sorted(SPECS))
@pytest.mark.parametrize("cohort", [None, "region"])
@pytest.mark.parametrize("engine_form", ENGINES)
def test_threshold_counts_equal_numpy_exactly(
    request: pytest.FixtureRequest,
    table: pa.Table,
    engine_form: tuple[str, bool],
    cohort: str | None,
    layout: str,
) -> None:
    name, native = engine_form
    engine = request.getfixturevalue(f"{name}_engine")
    got = _counts(engine, SPECS[layout], cohort, native)
    want = _oracle(table, cohort)
    assert got == want
    # the rows on the edges were counted: some class has rows exactly at its threshold
    assert sum(v["a"][2] for v in want.values()) > 0


def test_the_oracle_sees_the_edge_rows(table: pa.Table) -> None:
    probs = np.array(table.column("probs").to_pylist())
    for k, c in enumerate(CLASSES):
        t = THRESHOLDS[c]
        assert (probs[:, k] == t).any()
        assert (probs[:, k] == t - BAND).any()
        assert (probs[:, k] == t + BAND).any()


@pytest.mark.spark
def test_threshold_checks_on_spark_equal_duckdb(spark: Any, tmp_path: Any) -> None:
    """``run_checks`` with thresholds chosen on the holdout: the same threshold results
    (checks, scopes, classes, values, statuses) on Spark as on the DuckDB store."""
    import sys
    from dataclasses import asdict
    from pathlib import Path

    import driftline
    from driftline.checks import run_checks

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from test_thresholds import BINARY, _binary_frame

    with driftline.connect(tmp_path / "s.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(2000, 1, "2024-01-01"))
        mon.thresholds()
        mon.log_predictions(_binary_frame(1440, 2, "2024-02-01"))
        mon.log_predictions(_binary_frame(1440, 3, "2024-02-02", shift=0.1))
        duck = mon.check(persist=False)
        profile = mon.profile
        stored = mon.store.con.execute("SELECT * FROM predictions").to_arrow_table()
        batches = mon.store.batches().to_pylist()
    spark.createDataFrame(stored).createOrReplaceTempView("threshold_predictions")
    engine = SparkEngine(spark)
    report = run_checks(
        engine, engine.table("threshold_predictions"), profile.spec, profile, batches=batches
    )

    def picked(rep: Any) -> list[dict[str, Any]]:
        return [asdict(r) for r in rep.results if r.check.startswith("threshold_")]

    got, want = picked(report), picked(duck)
    assert len(want) > 0
    assert any(r["status"] == "alert" for r in want)
    assert [(r["window"], r["cohort_value"], r["check"], r["column"]) for r in got] == [
        (r["window"], r["cohort_value"], r["check"], r["column"]) for r in want
    ]
    for g, w in zip(got, want, strict=True):
        assert g["status"] == w["status"]
        assert g["details"]["rows"] == w["details"]["rows"]
        assert g["value"] == pytest.approx(w["value"], abs=1e-12)
