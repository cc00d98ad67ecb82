"""The demo on Spark: each day a Parquet file, checked where it lies on a local Spark
session, raises exactly the alerts (and so the incidents) the DuckDB demo raises."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from driftline.demo import INCIDENTS, DemoResult, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _key(a: Any) -> tuple[Any, ...]:
    return (a.window_start, a.cohort, a.cohort_value, a.check, a.column)


@pytest.fixture(scope="module")
def both(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, DemoResult]:
    on_duckdb = run_demo(tmp_path_factory.mktemp("demo-duckdb"))
    on_spark = run_demo(tmp_path_factory.mktemp("demo-spark"), engine="spark", spark=spark)
    return on_duckdb, on_spark


def test_spark_raises_the_alerts_duckdb_raises(both: tuple[DemoResult, DemoResult]) -> None:
    on_duckdb, on_spark = both
    assert (on_spark.report_path.parent / "lake" / "predictions" / "day-040.parquet").exists()
    duck = sorted((_key(a) for a in on_duckdb.report.alerts), key=repr)
    spark = sorted((_key(a) for a in on_spark.report.alerts), key=repr)
    assert len(duck) > 100  # the demo's incidents raise hundreds of alerts
    assert spark == duck


def test_spark_catches_every_incident_on_its_day(both: tuple[DemoResult, DemoResult]) -> None:
    _, on_spark = both
    assert on_spark.all_caught, on_spark.caught
    assert on_spark.caught == both[0].caught
    assert {i.name for i in INCIDENTS} == set(on_spark.caught)


def test_spark_finds_the_same_incidents(both: tuple[DemoResult, DemoResult]) -> None:
    """The same incidents, ids, members and headlines, but for the first batch's name:
    the store's batch id on DuckDB, the file it came in on Spark."""
    on_duckdb, on_spark = both
    assert len(on_spark.report.incidents) == len(INCIDENTS)

    def shape(r: DemoResult) -> list[tuple[Any, ...]]:
        return sorted(
            (
                (
                    f.id,
                    f.kind,
                    f.status,
                    f.start,
                    f.end,
                    f.windows,
                    f.checks,
                    [s.label for s in f.scopes],
                    f.columns,
                    f.severity,
                    sorted(f.alerts),
                    re.sub(r"first batch [^)]*", "first batch", f.headline),
                )
                for f in r.report.incidents
            ),
            key=repr,
        )

    assert shape(on_spark) == shape(on_duckdb)
    retyped = next(f for f in on_spark.report.incidents if "ink_r3c0 arrives" in f.headline)
    assert "day-040.parquet" in retyped.headline


def test_every_result_decision_is_the_same(both: tuple[DemoResult, DemoResult]) -> None:
    on_duckdb, on_spark = both

    def decisions(r: DemoResult) -> dict[tuple[Any, ...], str]:
        return {
            (x.window_start, x.cohort, x.cohort_value, x.check, x.column): x.status
            for x in r.report.results
        }

    duck, spark = decisions(on_duckdb), decisions(on_spark)
    assert spark.keys() == duck.keys()
    differ = {k: (duck[k], spark[k]) for k in duck if duck[k] != spark[k]}
    assert not differ


def test_demo_command_on_spark_without_java_says_what_to_install(tmp_path: Path) -> None:
    """No Java on the PATH and no JAVA_HOME: exit code 2 naming Java 17, nothing run."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = os.path.dirname(sys.executable)
    proc = subprocess.run(
        [sys.executable, "-m", "driftline", "demo", "--engine", "spark", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Java 17" in proc.stderr or "Java 17" in proc.stdout
