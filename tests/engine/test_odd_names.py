"""Names the spec accepts work as column names on both engines.

``driftline.spec.column_name_problem`` refuses blank names, control characters, the
store's own columns and the internal prefix, and nothing else: quotes, backticks, dots,
commas, spaces, ``a AS b`` and non-ASCII are ordinary names. This runs a grouped
aggregate over such columns through Ibis on DuckDB and on Spark (a temp view built from
Arrow, as a user's table would be) and compares the results.
"""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
import pytest

from driftline.engine import DuckDBEngine, Engine, SparkEngine
from driftline.spec import column_name_problem

NAMES = ["a`b", "a.b", "a b", "a,b;c", "a(b)=c", 'a"b', "a'b", "a AS b", "é 😀", "-1x", "a[b]"]


def _table() -> pa.Table:
    cols: dict[str, Any] = {"k": ["u", "v", "u", "v", "u"]}
    for i, name in enumerate(NAMES):
        cols[name] = [float(i + j) for j in range(5)]
    cols["group by"] = ["x", "x", "y", "y", "y"]
    return pa.table(cols)


def _summary(engine: Engine, view: str) -> list[tuple[Any, ...]]:
    t = engine.table(view)
    expr = t.group_by(["k", "group by"]).aggregate(
        n=t.count(), **{f"mean {n}": t[n].mean() for n in NAMES}
    )
    out = engine.run(expr.order_by(["k", "group by"]))
    assert out.column_names == ["k", "group by", "n", *(f"mean {n}" for n in NAMES)]
    return [tuple(r.values()) for r in out.to_pylist()]


def test_the_names_are_legal() -> None:
    assert [column_name_problem(n) for n in NAMES] == [None] * len(NAMES)


@pytest.mark.spark
def test_odd_names_give_the_same_summary_on_duckdb_and_spark(spark: Any) -> None:
    con = ibis.duckdb.connect()
    con.create_table("odd", _table())
    duck = _summary(DuckDBEngine(con), "odd")
    spark.createDataFrame(_table()).createOrReplaceTempView("dl_test_odd_names")
    assert _summary(SparkEngine(spark), "dl_test_odd_names") == duck
    assert len(duck) == 4
