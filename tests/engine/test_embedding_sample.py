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


def _points(view: Any) -> list[tuple[Any, ...]]:
    return [(p.source, p.cls, p.window, p.cohort_value, p.id) for p in view.points]


def _xy(view: Any) -> np.ndarray:
    return np.array([(p.x, p.y) for p in view.points])


@pytest.mark.spark
def test_sources_on_spark_sample_and_decide_as_duckdb(spark: Any, tmp_path: Path) -> None:
    """Predictions, labels and the reference read in place (Parquet files) on Spark and
    on DuckDB: the same ``embedding_drift`` results and the same projections, point for
    point (the sample is ranked by md5 of seed and id, which both engines compute
    alike): per cohort value (null values included), by label, and with the stored
    reference drawn on DuckDB while the predictions are sampled on Spark."""
    import pyarrow.parquet as pq

    days = tmp_path / "days"
    days.mkdir()
    first = _table(1500, 2, datetime(2024, 1, 1))
    pq.write_table(first, days / "a.parquet")
    pq.write_table(_table(1500, 4, datetime(2024, 1, 5), shift=1.5), days / "b.parquet")
    ref = tmp_path / "ref.parquet"
    holdout = _table(2000, 1, datetime(2023, 12, 1))
    pq.write_table(holdout.append_column("label", holdout.column("pred")), ref)
    spec = {**SPEC, "label": "label"}
    labels = tmp_path / "labels.parquet"
    pred = first.column("pred").to_pylist()
    pq.write_table(pa.table({"id": first.column("id")[::2], "label": pred[::-1][::2]}), labels)
    got: dict[str, Any] = {}
    for name, session in (("duckdb", None), ("spark", spark)):
        with driftline.connect(tmp_path / f"{name}.duckdb", spec, spark=session) as mon:
            mon.fit_profile(reference=ref)
            got[name] = (
                mon.check(predictions=days, persist=False),
                mon.embeddings(predictions=days, reference=ref, cohort="region", cap=40),
                mon.embeddings(
                    predictions=days, reference=ref, labels=labels, by="label", until="2024-01-03"
                ),
            )
    duck, sparky = got["duckdb"], got["spark"]
    ours = duck[0].results_for("embedding_drift")
    theirs = sparky[0].results_for("embedding_drift")
    assert any(r.status == "alert" and r.column == "vec:a" for r in ours)
    assert [(r.window_start, r.cohort_value, r.column, r.status) for r in theirs] == [
        (r.window_start, r.cohort_value, r.column, r.status) for r in ours
    ]
    for g, w in zip(theirs, ours, strict=True):
        assert g.value == pytest.approx(w.value, abs=1e-9)
    assert sparky[0].embeddings == duck[0].embeddings
    for ours_view, theirs_view in zip(duck[1:], sparky[1:], strict=True):
        assert _points(theirs_view) == _points(ours_view)
        np.testing.assert_allclose(_xy(theirs_view), _xy(ours_view), rtol=1e-9, atol=1e-9)
    by_cohort = pa.table(
        {k: [p[i] for p in _points(duck[1]) if p[0] == "serving"] for i, k in enumerate("skwci")}
    )
    counts = by_cohort.group_by(["w", "c", "k"]).aggregate([("i", "count")])
    assert max(counts.column("i_count").to_pylist()) == 40  # capped per window, value, class
    assert "(missing)" in set(by_cohort.column("c").to_pylist())
    label_ids = {p[4] for p in _points(duck[2]) if p[0] == "serving"}
    assert label_ids
    assert label_ids <= set(first.column("id").to_pylist()[::2])

    # the stored reference (drawn on DuckDB) with predictions sampled on Spark
    with driftline.connect(tmp_path / "mixed.duckdb", spec, spark=spark) as mon:
        mon.log_reference(pq.read_table(ref))
        mixed = mon.embeddings(predictions=days, cohort="region", cap=40)
        again = mon.embeddings(predictions=days, cohort="region", cap=40)
    assert _points(mixed) == _points(duck[1])
    assert _points(again) == _points(mixed)  # reproducible run to run
    np.testing.assert_allclose(_xy(mixed), _xy(duck[1]), rtol=1e-9, atol=1e-9)


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
