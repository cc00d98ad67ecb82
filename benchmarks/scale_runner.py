"""One full driftline check over Parquet day files, in place, on DuckDB or Spark.

The child process of :mod:`bench_scale`. The predictions are read where they lie (a
DuckDB view over ``read_parquet``, or a Spark temp view over ``spark.read.parquet``),
never copied into a store: the view adds the columns the store would have written
(numeric features as DOUBLE, ``confidence`` = the top score, ``ingested_at``, ``_batch`` =
the day partition, ``_raw``), as ``Store._prediction_columns`` lists them. The reference,
the fitted profile and the cached alert-bound calibrations come from a small DuckDB
store (``--store``, 100k reference rows) that :mod:`bench_scale` logged once.

Then :func:`driftline.checks.run_checks` over every window (no incremental history: every
window is summarised and evaluated, nothing persisted) and
:func:`driftline.incidents.find_incidents`, which is what ``driftline check --json
--no-persist --full`` does after its store's predictions. The last stdout line is a JSON
summary: rows, windows, results and alerts by check, the alerts as
``(window, cohort value, check, column, status)`` (to compare engines) and the seconds of
each phase.

    python scale_runner.py --engine duckdb --data DIR --store STORE --spec SPEC
    python scale_runner.py --engine spark --driver-memory 6g --data DIR --store STORE --spec SPEC
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

T_START = time.perf_counter()

EPOCH_DAY = "2024-01-01"  # the first day partition: _batch = days since then


def _batches(data: Path) -> list[dict[str, Any]]:
    """One stored-batch record per day file (seq = day index), as ``Store.batches()``
    returns them: the source column types as DuckDB names them, nothing missing or extra."""
    import duckdb

    files = sorted(data.glob("predictions/day=*/part-0.parquet"))
    con = duckdb.connect()
    types = {
        str(r[0]): str(r[1])
        for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(files[0])]).fetchall()
    }
    con.close()
    return [
        {
            "batch_id": f.parent.name,
            "seq": seq,
            "kind": "predictions",
            "source_columns": json.dumps(types),
            "missing_features": "[]",
            "extra_columns": "[]",
            "retyped": "{}",
        }
        for seq, f in enumerate(files)
    ]


def _select(spec: Any, dialect: str) -> str:
    """The SELECT list that gives the stored form (``Store._prediction_columns``)."""

    def q(name: str) -> str:
        return f"`{name}`" if dialect == "spark" else '"' + name.replace('"', '""') + '"'

    kinds = spec.feature_kinds
    cols = [q(spec.id), f"CAST({q(spec.timestamp)} AS TIMESTAMP) AS {q(spec.timestamp)}"]
    cols.append(q(spec.prediction))
    cols += [f"CAST({q(c)} AS DOUBLE) AS {q(c)}" for c in spec.score_columns]
    cols += [q(c) for c in spec.cohorts if c not in kinds]
    for col, kind in kinds.items():
        cols.append(
            f"CAST({q(col)} AS DOUBLE) AS {q(col)}"
            if kind == "numeric"
            else f"CAST({q(col)} AS STRING) AS {q(col)}"
            if dialect == "spark"
            else f"CAST({q(col)} AS VARCHAR) AS {q(col)}"
        )
    scores = ", ".join(q(c) for c in spec.score_columns)
    cols.append(f"greatest({scores}) AS confidence")
    cols.append(f"TIMESTAMP '{EPOCH_DAY} 00:00:00' AS ingested_at")
    if dialect == "spark":
        cols.append(f"CAST(datediff(`day`, DATE '{EPOCH_DAY}') AS BIGINT) AS _batch")
        cols.append("CAST(NULL AS STRING) AS _raw")
    else:
        cols.append(f"CAST(date_diff('day', DATE '{EPOCH_DAY}', \"day\") AS BIGINT) AS _batch")
        cols.append("CAST(NULL AS JSON) AS _raw")
    return ", ".join(cols)


def spark_session(driver_memory: str, cores: int) -> Any:
    """A local Spark session as driftline needs it: UTC, Arrow on, no UI, a warehouse in a
    temp folder (nothing written next to the data), few shuffle partitions (the summaries'
    groups are small)."""
    from pyspark.sql import SparkSession

    warehouse = tempfile.mkdtemp(prefix="driftline-spark-")
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("driftline-scale")
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(2 * cores))
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=["duckdb", "spark"], required=True)
    p.add_argument("--data", type=Path, required=True, help="folder with predictions/day=*/")
    p.add_argument("--store", type=Path, required=True, help="DuckDB store with the reference")
    p.add_argument("--spec", type=Path, required=True)
    p.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 6GB")
    p.add_argument("--threads", type=int, help="DuckDB threads")
    p.add_argument("--driver-memory", default="6g", help="Spark driver memory (local mode)")
    p.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    a = p.parse_args(argv)

    import driftline
    from driftline.checks import run_checks
    from driftline.incidents import find_incidents

    phases: dict[str, float] = {"import": round(time.perf_counter() - T_START, 3)}
    t0 = time.perf_counter()
    mon = driftline.connect(a.store, a.spec)
    spec, profile = mon.spec, mon.profile
    calibrations = mon.store.load_calibrations()
    known = set(calibrations)
    glob = str(a.data / "predictions" / "day=*" / "*.parquet")
    engine: Any
    if a.engine == "duckdb":
        con = mon.store.con
        con.execute("SET TimeZone = 'UTC'")
        if a.memory_limit:
            con.execute(f"SET memory_limit = '{a.memory_limit}'")
        if a.threads:
            con.execute(f"SET threads = {int(a.threads)}")
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "CREATE OR REPLACE TEMP VIEW scale_predictions AS SELECT "
            + _select(spec, "duckdb")
            + " FROM read_parquet(?, hive_partitioning = true)".replace("?", "'" + glob + "'")
        )
        engine = mon.engine
    else:
        from driftline.engine import SparkEngine

        session = spark_session(a.driver_memory, a.cores)
        phases["spark_session"] = round(time.perf_counter() - t0, 3)
        df = session.read.parquet(str(a.data / "predictions"))
        df.selectExpr(*_split(_select(spec, "spark"))).createOrReplaceTempView("scale_predictions")
        engine = SparkEngine(session)
    batches = _batches(a.data)
    phases["setup"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    report = run_checks(
        engine,
        engine.table("scale_predictions"),
        spec,
        profile,
        batches=batches,
        calibrations=calibrations,
    )
    report.incidents = find_incidents(report, profile)
    phases["check"] = round(time.perf_counter() - t1, 3)
    mon.store.save_calibrations(calibrations, known)
    t2 = time.perf_counter()
    text = report.to_json() if hasattr(report, "to_json") else ""
    phases["to_json"] = round(time.perf_counter() - t2, 3)
    alerts = sorted(
        (r.window_start, r.cohort_value or "", r.check, r.column or "", r.status)
        for r in report.results
        if r.status not in ("ok", "skipped")
    )
    summary = {
        "engine": a.engine,
        "driftline": str(Path(driftline.__file__).parent),
        "rows": sum(s.n for s in report.stats if s.cohort is None),
        "windows": len({s.window_start for s in report.stats}),
        "window_scopes": len(report.stats),
        "results": len(report.results),
        "results_by_check": dict(sorted(Counter(r.check for r in report.results).items())),
        "status_counts": report.status_counts(),
        "alerts": len(report.alerts),
        "incidents": len(report.incidents),
        "not_ok": [list(map(str, x)) for x in alerts],
        "new_calibrations": len(set(calibrations) - known),
        "json_bytes": len(text),
        "phases": phases,
        "seconds": round(time.perf_counter() - T_START, 3),
    }
    mon.close()
    if a.engine == "spark":
        session.stop()
    sys.stdout.write("\n" + json.dumps(summary) + "\n")
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown in the timing (the JVM is stopped above)


def _split(select: str) -> list[str]:
    """The SELECT list as one expression each (``selectExpr`` takes a list).

    >>> _split("a, greatest(b, c) AS d, CAST(x AS DOUBLE) AS x")
    ['a', 'greatest(b, c) AS d', 'CAST(x AS DOUBLE) AS x']
    """
    out, depth, cur = [], 0, ""
    for ch in select:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    out.append(cur.strip())
    return out


if __name__ == "__main__":
    main()
