"""The latest label per id: the same rows on DuckDB and on Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline.engine import DuckDBEngine, SparkEngine
from driftline.engine.labels import latest_labels

#: (id, label, labelled_at) per batch; the latest labelled_at wins, a tie the later batch
BATCHES = [
    [("p0", "a", "2024-02-02"), ("p1", "a", "2024-02-02"), ("p2", "a", "2024-02-02")],
    [("p0", "b", "2024-02-01"), ("p1", "b", "2024-02-03")],
    [("p2", "c", "2024-02-02"), ("p3", "c", "2024-01-01")],
]
EXPECTED = {"p0": "a", "p1": "b", "p2": "c", "p3": "c"}


def _labels_table(tmp_path: Path, make_spec: Any) -> pa.Table:
    spec = make_spec(scores={"columns": {c: f"score_{c}" for c in "abc"}})
    with driftline.connect(tmp_path / "labels.duckdb", spec) as m:
        for rows in BATCHES:
            ids, labels, at = zip(*rows, strict=True)
            m.log_labels(pd.DataFrame({"id": ids, "label": labels, "labelled_at": at}))
        assert dict(_pairs(m.store.latest_labels().to_pyarrow())) == EXPECTED
        table: pa.Table = m.store.con.execute("SELECT * FROM labels").to_arrow_table()
    return table


def _pairs(table: pa.Table) -> list[tuple[str, str]]:
    return sorted(zip(table["id"].to_pylist(), table["label"].to_pylist(), strict=True))


def test_latest_labels_on_duckdb(tmp_path: Path, make_spec: Any) -> None:
    table = _labels_table(tmp_path, make_spec)
    import ibis

    con = ibis.duckdb.connect()
    con.create_table("labels", table)
    engine = DuckDBEngine(con)
    assert dict(_pairs(engine.run(latest_labels(engine.table("labels"))))) == EXPECTED


@pytest.mark.spark
def test_latest_labels_on_spark_equal_duckdb(spark: Any, tmp_path: Path, make_spec: Any) -> None:
    table = _labels_table(tmp_path, make_spec)
    spark.createDataFrame(table).createOrReplaceTempView("dl_test_labels")
    engine = SparkEngine(spark)
    got = engine.run(latest_labels(engine.table("dl_test_labels")))
    assert dict(_pairs(got)) == EXPECTED
    at = dict(zip(got["id"].to_pylist(), got["labelled_at"].to_pylist(), strict=True))
    assert {i: t.isoformat()[:10] for i, t in at.items()} == {
        "p0": "2024-02-02",
        "p1": "2024-02-03",
        "p2": "2024-02-02",
        "p3": "2024-01-01",
    }
