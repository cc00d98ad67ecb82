"""The capped embedding sample is the same rows on DuckDB and Spark: per window, cohort
value and class the rows whose md5 of seed and id sorts first, with their vectors; and
the embedding checks built on it give the same results."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import driftline
from driftline.checks import run_checks
from driftline.engine import DuckDBEngine, SparkEngine
from driftline.engine.embeddings import SAMPLE_SCHEMA, embedding_sample

SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {"a": "sa", "b": "sb"}},
    "cohorts": ["region"],
    "embedding": "vec",
    "window": "1d",
}


def _table(n: int, seed: int, start: datetime, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    pa_ = rng.uniform(size=n)
    pred = np.where(pa_ > 0.5, "a", "b")
    vec = rng.normal(size=(n, 8)) + np.where(pred == "a", 1.0, -1.0)[:, None]
    vec[:, 0] += shift * (pred == "a")
    region = rng.choice(["eu", "us", None], size=n, p=[0.45, 0.45, 0.1])
    ids = [f"{seed}-{i}" for i in range(n)]
    if seed == 3:
        ids = list(range(n))  # integer ids: cast to the same string on both engines
    return pa.table(
        {
            "id": ids,
            "ts": [start + timedelta(minutes=3 * i) for i in range(n)],
            "pred": pred.tolist(),
            "sa": pa_,
            "sb": 1 - pa_,
            "region": region.tolist(),
            "vec": pa.array(vec.tolist(), pa.list_(pa.float64())),
        }
    )


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in ("window", "cohort_value", "class", "id")])


@pytest.mark.spark
@pytest.mark.parametrize("seed", [2, 3])
def test_sample_is_the_same_rows_on_both_engines(spark: Any, seed: int) -> None:
    data = _table(1500, seed, datetime(2024, 1, 1))
    spec = driftline.load_spec(SPEC)
    duck = DuckDBEngine(__import__("ibis").duckdb.connect())
    duck.backend.create_table("emb_sample", data)
    spark.createDataFrame(data).createOrReplaceTempView("emb_sample")
    sparky = SparkEngine(spark)
    for cohort in (None, "region"):
        for window in (spec.window_parsed, None):
            got = [
                _sorted(
                    e.run(
                        embedding_sample(
                            e.table("emb_sample"),
                            spec,
                            cap=40,
                            seed=7,
                            by="pred",
                            window=window,
                            cohort=cohort,
                        ),
                        SAMPLE_SCHEMA,
                    )
                )
                for e in (duck, sparky)
            ]
            assert got[0].num_rows > 0
            assert got[0].equals(got[1]), (cohort, window)
            counts = (
                got[0].group_by(["window", "cohort_value", "class"]).aggregate([("id", "count")])
            )
            assert max(counts.column("id_count").to_pylist()) == 40


@pytest.mark.spark
def test_embedding_drift_on_spark_equals_duckdb(spark: Any, tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        mon.log_reference(_table(2000, 1, datetime(2023, 12, 1)))
        mon.log_predictions(_table(1500, 2, datetime(2024, 1, 1)))
        mon.log_predictions(_table(1500, 4, datetime(2024, 1, 5), shift=1.5))
        want = mon.check(persist=False)
        stored = mon.store.con.execute("SELECT * FROM predictions").to_arrow_table()
        profile = mon.profile
        batches = mon.store.batches().to_pylist()
    spark.createDataFrame(stored).createOrReplaceTempView("emb_predictions")
    engine = SparkEngine(spark)
    spec = driftline.load_spec(SPEC)
    got = run_checks(engine, engine.table("emb_predictions"), spec, profile, batches=batches)
    theirs = [asdict(r) for r in got.results_for("embedding_drift")]
    ours = [asdict(r) for r in want.results_for("embedding_drift")]
    assert ours
    assert [(r["window_start"], r["cohort_value"], r["column"]) for r in theirs] == [
        (r["window_start"], r["cohort_value"], r["column"]) for r in ours
    ]
    for g, w in zip(theirs, ours, strict=True):
        assert g["status"] == w["status"]
        assert g["value"] == pytest.approx(w["value"], abs=1e-9)
    assert any(r["status"] == "alert" and r["column"] == "vec:a" for r in ours)
    assert got.embeddings == want.embeddings


def test_overall_sample_from_a_cohort_sample_equals_its_own_query() -> None:
    import ibis

    from driftline.engine.embeddings import overall_of

    data = _table(3000, 5, datetime(2024, 1, 1))
    spec = driftline.load_spec(SPEC)
    duck = DuckDBEngine(ibis.duckdb.connect())
    duck.backend.create_table("emb_overall", data)
    t = duck.table("emb_overall")
    window = spec.window_parsed
    for cap in (1, 13, 400):
        direct = duck.run(
            embedding_sample(t, spec, cap=cap, seed=1, by="pred", window=window), SAMPLE_SCHEMA
        )
        cohort = duck.run(
            embedding_sample(t, spec, cap=cap, seed=1, by="pred", window=window, cohort="region"),
            SAMPLE_SCHEMA,
        )
        assert overall_of(cohort, cap).equals(_sorted(direct)), cap
