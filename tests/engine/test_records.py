"""The wide summary's typed records: one declared schema, one decoder, the same records
from the native and portable histograms and from the numeric kernel."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import ibis
import numpy as np
import pyarrow as pa
import pytest

from driftline.engine import DuckDBEngine
from driftline.engine.numeric import numeric_summary
from driftline.engine.records import (
    FeatureCounts,
    WindowSummary,
    read_feature_counts,
    read_histograms,
    read_window_summary,
    window_summary_schema,
)
from driftline.engine.summaries import expand_histograms, window_summary
from driftline.spec import Spec, parse_window

SPEC = Spec.model_validate(
    {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {"a": "score_a", "b": "score_b"}},
        "cohorts": ["region"],
        "features": {"numeric": ["x", "y"], "categorical": ["color"]},
        "window": "1d",
    }
)
RANGES = {"x": (-1.0, 1.0), "y": (0.0, 10.0)}
EDGES = {"x": [-1.0, 0.0, 1.0], "y": [0.0, 5.0, 10.0]}
WINDOW = parse_window("1d")
N = 200


def _table() -> pa.Table:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, N)
    x[::17] = np.nan
    x[5], x[6] = math.inf, -math.inf
    y = rng.uniform(-2.0, 12.0, N)
    score = rng.uniform(0.0, 1.0, N)
    region = np.where(np.arange(N) % 3 == 0, "north", "south")
    return pa.table(
        {
            "id": [f"r{i}" for i in range(N)],
            "ts": [datetime(2025, 1, 1) + timedelta(hours=i) for i in range(N)],
            "pred": np.where(score > 0.5, "a", "b"),
            "score_a": score,
            "score_b": 1.0 - score,
            "confidence": np.maximum(score, 1.0 - score),
            "region": region,
            # every y of the north region is null: a dropped column in one cohort value
            "x": x,
            "y": pa.array(np.where(region == "north", np.nan, y), from_pandas=True),
            "color": rng.choice(["red", "blue"], N),
        }
    )


@pytest.fixture(scope="module")
def engine() -> DuckDBEngine:
    con = ibis.duckdb.connect()
    con.create_table("predictions", _table())
    return DuckDBEngine(con)


@pytest.mark.parametrize("native", [False, True])
def test_the_declared_schema_is_what_the_engine_returns(engine: DuckDBEngine, native: bool) -> None:
    t = engine.table("predictions")
    era = (datetime(2025, 1, 2), datetime(2025, 1, 5))
    expr = window_summary(
        t, SPEC, WINDOW, "region", ranges=RANGES, edges=EDGES, native=native, era=era
    )
    got = expand_histograms(engine.run(expr), EDGES)
    schema = window_summary_schema(SPEC, ranges=RANGES, edges=EDGES, era=True)
    assert sorted(got.column_names) == sorted(schema.names)


def _records(engine: DuckDBEngine, native: bool) -> list[WindowSummary]:
    t = engine.table("predictions")
    expr = window_summary(t, SPEC, WINDOW, "region", ranges=RANGES, edges=EDGES, native=native)
    return read_window_summary(engine.run(expr), SPEC, ranges=RANGES, edges=EDGES)


def test_records_are_read_by_name_and_agree_with_the_data(engine: DuckDBEngine) -> None:
    portable, native = _records(engine, False), _records(engine, True)
    assert portable == native
    frame = _table().to_pandas()
    frame["window"] = frame["ts"].dt.floor("D")
    for rec in portable:
        rows = frame[
            (frame["window"] == datetime(1970, 1, 1) + timedelta(seconds=rec.window))
            & (frame["region"] == rec.cohort_value)
        ]
        assert rec.n == len(rows)
        x = rows["x"]
        counts = rec.features["x"]
        assert counts.missing == int(x.isna().sum())
        assert counts.non_finite == int(np.isinf(x).sum())
        assert counts.below == int((x < -1.0).sum())
        assert counts.above == int((x > 1.0).sum())
        finite = x[np.isfinite(x)]
        if len(finite) > 1:
            assert counts.mean == pytest.approx(finite.mean())
            assert counts.var == pytest.approx(finite.var(ddof=1))
        assert sum(rec.histograms["x"]) == rec.n - counts.missing
        assert rec.features["color"] == FeatureCounts(0)
        if rec.cohort_value == "north":  # no y at all: counts 0, moments None
            assert rec.features["y"] == FeatureCounts(rec.n, 0, 0, 0, None, None)
            assert rec.histograms["y"] == [0, 0, 0, 0]


def test_the_kernel_gives_the_same_records(engine: DuckDBEngine) -> None:
    t = engine.table("predictions")
    query = _records(engine, True)
    keys = [r.key for r in query]
    table = numeric_summary(engine, t, SPEC, WINDOW, "region", keys, ranges=RANGES, edges=EDGES)
    features, hists = read_feature_counts(table, SPEC, EDGES)
    for rec, counted, hist in zip(query, features, hists, strict=True):
        assert hist == rec.histograms
        for col in ("x", "y"):
            want, got = rec.features[col], counted[col]
            assert got[:4] == want[:4]
            assert got.mean == pytest.approx(want.mean, nan_ok=True)
            assert got.var == pytest.approx(want.var, nan_ok=True)


def test_a_null_count_reads_as_zero() -> None:
    table = pa.table(
        {
            "m0": pa.array([None, 3], pa.int64()),
            "h0_0": pa.array([None, 1], pa.int64()),
            "h0_1": pa.array([2, None], pa.int64()),
        }
    )
    features, _ = read_feature_counts(table.select(["m0"]), SPEC, {})
    assert [f["x"] for f in features] == [FeatureCounts(0), FeatureCounts(3)]
    assert read_histograms(table, {"x": [0.0]}) == [{"x": [0, 2]}, {"x": [1, 0]}]
