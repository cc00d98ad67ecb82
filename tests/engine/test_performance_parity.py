"""The performance summary, the labelled windows and the unknown label ids: the same on
DuckDB and on Spark, from the same stored predictions and labels (odd column names, a
null cohort, a correction of a label, labels for ids no prediction has)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline.engine import DuckDBEngine, Engine, SparkEngine
from driftline.engine.performance import (
    PERFORMANCE_SCHEMA,
    label_watermark,
    labelled_windows,
    performance_summary,
    unknown_labels,
)
from driftline.spec import load_spec

SPEC: dict[str, Any] = {
    "id": "order id",
    "timestamp": "at",
    "prediction": "pred-class",
    "scores": {"columns": {c: f"p {c}" for c in "abc"}},
    "label": "truth",
    "cohorts": ["région"],
    "features": {"numeric": ["x"]},
    "window": "6h",
}


def _tables(tmp_path: Path) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(4)
    n = 600
    p = rng.dirichlet(np.ones(3), n)
    start = datetime(2024, 5, 1)
    df = pd.DataFrame(
        {
            "order id": [f"o{i}" for i in range(n)],
            "at": [start + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86400, n))],
            "pred-class": np.asarray(list("abc"))[p.argmax(axis=1)],
            **{f"p {c}": p[:, i] for i, c in enumerate("abc")},
            "région": rng.choice(["n", "s", None], n),
            "x": rng.normal(0, 1, n),
        }
    )
    labels = df.sample(400, random_state=1)
    with driftline.connect(tmp_path / "e.duckdb", SPEC, profile=tmp_path / "e.json") as mon:
        mon.log_predictions(df)
        mon.log_labels(
            pd.DataFrame(
                {
                    "order id": [*labels["order id"], "ghost"],
                    "truth": [*rng.choice(list("abc"), 400), "a"],
                    "labelled_at": [*(labels["at"] + pd.Timedelta(hours=5)), start],
                }
            )
        )
        fix = labels.iloc[:30]
        mon.log_labels(
            pd.DataFrame(
                {
                    "order id": fix["order id"],
                    "truth": ["c"] * 30,
                    "labelled_at": fix["at"] + pd.Timedelta(hours=9),
                }
            )
        )
        sql = "SELECT * REPLACE (CAST(_raw AS VARCHAR) AS _raw) FROM predictions"
        preds = mon.store.con.execute(sql).to_arrow_table()
        labs = mon.store.con.execute("SELECT * FROM labels").to_arrow_table()
    return preds, labs


def _all(engine: Engine, preds: Any, labs: Any) -> dict[str, Any]:
    spec = load_spec(SPEC)
    window = spec.window_parsed
    summary = performance_summary(engine, preds, labs, spec, window)
    rows = sorted(
        summary.to_pylist(),
        key=lambda r: (
            r["scope"],
            r["window"],
            r["cohort_value"],
            r["predicted"],
            str(r["label"]),
            r["bin"],
        ),
    )
    for r in rows:
        r["conf_sum"] = round(r["conf_sum"], 9)
    return {
        "schema": summary.schema,
        "rows": rows,
        "unknown": unknown_labels(engine, preds, labs, spec),
        "watermark": label_watermark(engine, labs),
        "windows": labelled_windows(engine, preds, labs, spec, window, 2),
    }


def _engine(preds: pa.Table, labs: pa.Table) -> DuckDBEngine:
    """A DuckDB engine holding ``preds`` and ``labs``."""
    con = ibis.duckdb.connect()
    con.create_table("preds", preds)
    con.create_table("labs", labs)
    return DuckDBEngine(con)


def _duckdb(preds: pa.Table, labs: pa.Table) -> dict[str, Any]:
    engine = _engine(preds, labs)
    return _all(engine, engine.table("preds"), engine.table("labs"))


def test_performance_summary_on_duckdb(tmp_path: Path) -> None:
    preds, labs = _tables(tmp_path)
    got = _duckdb(preds, labs)
    assert got["schema"] == PERFORMANCE_SCHEMA
    assert got["unknown"] == (1, ["ghost"])
    overall = [r for r in got["rows"] if r["scope"] == ""]
    assert sum(r["n"] for r in overall) == 600
    assert sum(r["n"] for r in overall if r["label"] is not None) == 400
    # the correction wins: 30 labels are "c", 9 hours after the prediction
    assert max(r["delay_max"] or 0 for r in overall) == 9 * 3600
    assert {r["cohort_value"] for r in got["rows"] if r["scope"] == "région"} == {
        "n",
        "s",
        "(missing)",
    }
    assert got["windows"]  # the correcting batch (3) labels ids of some windows


@pytest.mark.spark
def test_performance_summary_on_spark_equals_duckdb(spark: Any, tmp_path: Path) -> None:
    preds, labs = _tables(tmp_path)
    want = _duckdb(preds, labs)
    spark.createDataFrame(preds).createOrReplaceTempView("dl_perf_preds")
    spark.createDataFrame(labs).createOrReplaceTempView("dl_perf_labels")
    engine = SparkEngine(spark)
    got = _all(engine, engine.table("dl_perf_preds"), engine.table("dl_perf_labels"))
    assert got == want


def test_a_prediction_column_named_b_and_the_rows_of_some_windows(tmp_path: Path) -> None:
    """A prediction column named ``b`` (the name the labelled-windows query once gave its
    batch column, and took the feature's values for): the windows a labels batch labels
    are those without it. The summary of some windows' rows, ranking only their labels
    (``some=True``), equals the whole summary's rows of those windows."""
    preds, labs = _tables(tmp_path)
    want = _duckdb(preds, labs)
    odd = preds.append_column("b", pa.array(np.full(preds.num_rows, 10**6)))
    got = _duckdb(odd, labs)
    assert got["windows"] == want["windows"]
    assert set(got["windows"].values()) == {3}  # the correcting batch
    engine = _engine(preds, labs)
    spec = load_spec(SPEC)
    window = spec.window_parsed
    t = engine.table("preds")
    first = sorted({r["window"] for r in want["rows"]})[:2]
    lo = datetime(1970, 1, 1) + timedelta(seconds=first[0])
    hi = datetime(1970, 1, 1) + timedelta(seconds=first[-1] + 6 * 3600)
    some = t.filter((t["at"] >= lo) & (t["at"] < hi))
    part = performance_summary(engine, some, engine.table("labs"), spec, window, some=True)
    whole = performance_summary(engine, t, engine.table("labs"), spec, window)

    def rows(table: pa.Table) -> list[tuple[Any, ...]]:
        found = [
            tuple(round(v, 9) if isinstance(v, float) else v for v in r.values())
            for r in table.to_pylist()
            if r["window"] in first
        ]
        return sorted(found, key=repr)  # labels and bins may be null

    assert rows(part) == rows(whole)
    assert sum(r[6] for r in rows(part) if r[0] == "") == some.count().execute()
