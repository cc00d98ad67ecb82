"""Sources read in place (``driftline.sources``): Parquet files, directories, globs, Delta
tables and Spark catalog tables, checked on DuckDB and on Spark.

The oracle is the store: logging the same files one by one and checking must give the
same results (status, rows, value), the same alerts and the same per-batch schema
verdicts as checking the files where they lie. A file that dropped a column and one that
sent a numeric column as text are among them.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
import pytest
import yaml

import driftline
from driftline.errors import IngestError, SourceError, UnsupportedOperationError
from driftline.sources import resolve

if TYPE_CHECKING:
    from conftest import RunCli

ROWS_PER_DAY = 400
DAYS = 5  # the last one is added after the first check


def _day(make: Any, d: int, n: int = ROWS_PER_DAY, seed: int = 0) -> pd.DataFrame:
    """``n`` predictions (``make``: the ``make_predictions`` factory) spread over day
    ``d`` of January 2024 (UTC)."""
    df = make(n, seed=seed, id_prefix=f"d{d}-")
    df["ts"] = pd.date_range(f"2024-01-{1 + d:02d}", periods=n, freq=f"{86400 // n}s", tz="UTC")
    return df


def _files(root: Path, make: Any) -> tuple[Path, Path, list[pd.DataFrame]]:
    """The reference file, a directory of daily files (the last held back) and the days:
    day 1 shifts x (drift), day 2 lacks y, day 3 sends x as text."""
    ref = root / "reference.parquet"
    _day(make, 0, 2000, seed=1).to_parquet(ref)
    frames = []
    for d in range(DAYS):
        df = _day(make, d + 3, seed=10 + d)
        if d == 1:
            df["x"] = df["x"] + 3
        if d == 2:
            df = df.drop(columns=["y"])
        if d == 3:
            df["x"] = df["x"].map(lambda v: f"{v:.3f}")
        frames.append(df)
    days = root / "predictions"
    days.mkdir()
    for d, df in enumerate(frames[:-1]):
        df.to_parquet(days / f"day-{d}.parquet")
    (days / "_SUCCESS").write_text("")  # a marker Spark jobs write: not a batch
    return ref, days, frames


def _decisions(report: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {
        (r.window_start, r.cohort, r.cohort_value, r.check, r.column): (r.status, r.n, r.value)
        for r in report.results
    }


def _alerts(report: Any) -> list[str]:
    return sorted(str((a.window_start, a.cohort_value, a.check, a.column)) for a in report.alerts)


def _verdicts(mon: driftline.Monitor) -> list[tuple[Any, ...]]:
    table = mon.store.batches().to_pylist()
    return [
        (
            b["n_rows"],
            b["min_ts"],
            b["max_ts"],
            b["missing_features"],
            b["retyped"],
            json.loads(b["extra_columns"]),
        )
        for b in table
    ]


def _same(expected: dict[Any, Any], got: dict[Any, Any]) -> None:
    assert got.keys() == expected.keys()
    for key, (status, n, value) in expected.items():
        assert got[key][:2] == (status, n), key
        if value is None:  # no value (e.g. no labelled rows): none on the other side
            assert got[key][2] is None, key
        else:
            assert got[key][2] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), key


@pytest.fixture(scope="module")
def logged(
    tmp_path_factory: pytest.TempPathFactory, make_spec: Any, make_predictions: Any
) -> dict[str, Any]:
    """The oracle: the files logged into a store one by one and checked, before and after
    the last day's file."""
    root = tmp_path_factory.mktemp("sources")
    ref, days, frames = _files(root, make_predictions)
    spec = make_spec(window="1d")
    # labels for the first two days' predictions, each labelled a day later
    labelled = pd.concat(frames[:2], ignore_index=True)
    labels = root / "labels.parquet"
    pd.DataFrame(
        {
            "id": labelled["id"],
            "label": labelled["label"].iloc[::-1].to_numpy(),  # some right, some wrong
            "labelled_at": labelled["ts"] + pd.Timedelta(days=1),
        }
    ).to_parquet(labels)
    with driftline.connect(root / "logged.duckdb", spec) as mon:
        mon.log_reference(ref)
        for f in sorted(days.glob("*.parquet")):
            mon.log_predictions(f)
        mon.log_labels(labels)
        first = mon.check()
        out = {
            "root": root,
            "ref": ref,
            "labels": labels,
            "days": days,
            "frames": frames,
            "spec": spec,
            "make": make_predictions,
            "profile": mon.profile.to_dict(),
            "decisions": _decisions(first),
            "alerts": _alerts(first),
            "verdicts": _verdicts(mon),
        }
        out["queue"] = mon.queue(budget=40).to_dict()
        mon.log_predictions(frames[-1])
        second = mon.check()
        out["decisions_after"] = _decisions(second)
        assert {"performance", "performance_gap"} <= {r.check for r in second.results}
        out["alerts_after"] = _alerts(second)
        out["queue_after"] = mon.queue(budget=40).to_dict()
        out["page_after"] = _page(mon.report(root / "logged.html").read_text())
    return out


def _page(html: str) -> dict[str, Any]:
    """What a report page shows, without what differs from run to run or between a
    logged batch and a file read in place: the run id and time and the batches' names
    (a logged batch's id, a file's path); the incidents' headlines with the batch named
    ``-``."""
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert found is not None
    payload = json.loads(found.group(1))
    payload["meta"] = {
        k: v for k, v in payload["meta"].items() if k not in ("run_id", "created_at")
    }
    headlines = re.findall(r'<b class="headline">(.*?)</b>', html, re.S)
    payload["headlines"] = [
        re.sub(r"\(first batch .*?\); ", "(first batch -); ", h) for h in headlines
    ]
    return payload


#: The confidence quantiles of a window: approximate on both engines (different
#: sketches), compared within this absolute tolerance across engines.
QUANTILE_TOLERANCE = 0.01


def _quantiles(page: dict[str, Any]) -> list[float | None]:
    """The page's confidence quantiles, taken out of it."""
    return [v for block in page["stats"] for k in ("p10", "p50", "p90") for v in block.pop(k)]


def test_parquet_directory_on_duckdb_decides_as_logging_its_files(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    days = tmp_path / "predictions"
    days.mkdir()
    for f in sorted(logged["days"].iterdir()):
        (days / f.name).write_bytes(f.read_bytes())
    with driftline.connect(tmp_path / "s.duckdb", logged["spec"]) as mon:
        fitted = mon.fit_profile(reference=logged["ref"]).to_dict()
        assert {**fitted, "fitted_at": None} == {**logged["profile"], "fitted_at": None}
        report = mon.check(predictions=days, labels=logged["labels"])
        _same(logged["decisions"], _decisions(report))
        assert _alerts(report) == logged["alerts"]
        checks = {a.split(", ")[2] for a in logged["alerts"]}
        assert {"'missing_column'", "'type_change'", "'feature_drift'"} <= checks
        # the same schema verdict per file as logging it recorded, in name order
        assert _verdicts(mon) == logged["verdicts"]
        assert mon.store.counts().get("predictions", 0) == 0  # nothing copied

        # the same files again: nothing new, nothing summarised, nothing counted twice
        mon.check(predictions=days, labels=logged["labels"])
        assert mon.store.runs().to_pylist()[-1]["windows_summarised"] == []
        assert len(mon.store.batches()) == DAYS - 1
        assert len(mon.store.batches("labels")) == 1
        queue = mon.queue(predictions=days, labels=logged["labels"], budget=40).to_dict()
        assert queue == logged["queue"]
        page = mon.report(tmp_path / "report.html", predictions=days).read_text()
        assert "missing_column" in page

        # one new file: only the window it feeds is summarised
        logged["frames"][-1].to_parquet(days / "day-4.parquet")
        report = mon.check(predictions=days, labels=logged["labels"])
        run = mon.store.runs().to_pylist()[-1]
        new_day = int(pd.Timestamp("2024-01-08").timestamp())
        assert run["windows_summarised"] == [new_day]
        _same(logged["decisions_after"], _decisions(report))
        assert _alerts(report) == logged["alerts_after"]

    # a glob names the same files: the same results from a fresh store
    with driftline.connect(tmp_path / "g.duckdb", logged["spec"]) as mon:
        mon.fit_profile(reference=logged["ref"])
        report = mon.check(predictions=str(days / "day-*.parquet"), labels=logged["labels"])
        _same(logged["decisions_after"], _decisions(report))

    # a Delta table written by deltalake, one commit per day: one batch per file, read
    # as the same days' Parquet files are (in a folder whose name its file URIs encode)
    from deltalake import write_deltalake

    delta, two = tmp_path / "delta table é", tmp_path / "two"
    two.mkdir()
    for f in sorted(logged["days"].glob("*.parquet"))[:2]:
        write_deltalake(str(delta), pd.read_parquet(f), mode="append")
        (two / f.name).write_bytes(f.read_bytes())
    with driftline.connect(tmp_path / "p.duckdb", logged["spec"]) as mon:
        mon.fit_profile(reference=logged["ref"])
        expected = _decisions(mon.check(predictions=two))
    with driftline.connect(tmp_path / "d.duckdb", logged["spec"]) as mon:
        mon.fit_profile(reference=logged["ref"])
        _same(expected, _decisions(mon.check(predictions=delta)))
        assert len(mon.store.batches()) == 2


def test_unreachable_or_refused_sources_are_clear_errors(
    logged: dict[str, Any], tmp_path: Path, run_cli: RunCli
) -> None:
    from driftline.engine import DuckDBEngine

    engine = DuckDBEngine.from_connection(__import__("duckdb").connect())
    with pytest.raises(SourceError, match=r"'/no/such/dir' does not exist"):
        resolve("/no/such/dir", engine)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no Parquet files"):
        resolve(tmp_path / "empty", engine)
    with pytest.raises(SourceError, match="no file matches"):
        resolve(str(tmp_path / "x-*.parquet"), engine)
    with pytest.raises(SourceError, match=r"catalog table is read with --engine spark"):
        resolve("db.predictions", engine)
    with pytest.raises(SourceError, match=r"URI; DuckDB reads local Parquet paths"):
        resolve("s3a://bucket/predictions", engine)

    # a file the ingest refuses refuses the check with the ingest's message
    bad = tmp_path / "bad"
    bad.mkdir()
    _day(logged["make"], 3).drop(columns=["pred"]).to_parquet(bad / "day.parquet")
    with driftline.connect(tmp_path / "s.duckdb", logged["spec"]) as mon:
        mon.fit_profile(reference=logged["ref"])
        with pytest.raises(IngestError) as logging_it:
            mon.log_predictions(bad / "day.parquet")
        with pytest.raises(IngestError) as checking_it:
            mon.check(predictions=bad)
        assert str(checking_it.value) == str(logging_it.value)
        assert "'pred'" in str(checking_it.value)
        assert len(mon.store.batches()) == 0  # nothing recorded

    # the command line: exit 2, naming the path and the fix
    spec_file = tmp_path / "driftline.yaml"
    spec_file.write_text(yaml.safe_dump(logged["spec"]))
    store = tmp_path / "cli.duckdb"
    done = run_cli("fit", "--reference", logged["ref"], "--spec", spec_file, "--store", store)
    assert done.code == 0, done.output
    done = run_cli("check", "--predictions", "/no/such/dir", "--spec", spec_file, "--store", store)
    assert done.code == 2, done.output
    assert "'/no/such/dir' does not exist" in done.err
    done = run_cli("check", "--predictions", bad, "--spec", spec_file, "--store", store)
    assert done.code == 2, done.output
    assert "missing required column 'pred'" in done.err
    done = run_cli("check", "--engine", "spork", "--predictions", bad, "--spec", spec_file)
    assert done.code == 2
    assert "'spork' is not an engine" in done.err
    done = run_cli("check", "--results-table", "r", "--predictions", bad, "--spec", spec_file)
    assert done.code == 2
    assert "--results-table needs --engine spark" in done.err
    done = run_cli(
        "check", "--predictions", logged["days"], "--json", "--spec", spec_file, "--store", store
    )
    assert done.code == 1, done.output  # alerts
    assert json.loads(done.out)["alerts"]


def _without_java_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    python_dir = str(Path(sys.executable).parent)
    env["PATH"] = python_dir  # only the interpreter: no java
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(driftline.__file__).parents[1]), env.get("PYTHONPATH", "")]
    )
    return env


def test_missing_pyspark_and_missing_java_exit_2_naming_the_fix(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    """In subprocesses: one where ``import pyspark`` fails, one without java on the PATH
    and without JAVA_HOME. Neither starts a JVM."""
    spec_file = tmp_path / "driftline.yaml"
    spec_file.write_text(yaml.safe_dump(logged["spec"]))
    args = [
        "check",
        "--engine",
        "spark",
        "--predictions",
        str(logged["days"]),
        "--spec",
        str(spec_file),
        "--store",
        str(tmp_path / "s.duckdb"),
    ]
    no_pyspark = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None; "
        "from driftline.cli import run; sys.exit(run(sys.argv[1:]))"
    )
    env = _without_java_env()
    env["PATH"] = os.environ.get("PATH", "")
    done = subprocess.run(
        [sys.executable, "-c", no_pyspark, *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'driftline[spark]'" in done.stderr

    code = "import sys; from driftline.cli import run; sys.exit(run(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=_without_java_env(),
    )
    assert done.returncode == 2, done.stderr
    assert "Java 17" in done.stderr
    assert "JAVA_HOME" in done.stderr
    assert "no `java` is on the PATH" in done.stderr


@pytest.mark.spark
def test_sources_on_spark_decide_as_logging_the_files(
    logged: dict[str, Any], tmp_path: Path, spark: Any, run_cli: RunCli
) -> None:
    """One Spark run over each kind of source: a Parquet directory (then a new file), a
    catalog table, a Delta table written by deltalake; the reference fitted on Spark;
    results, alerts and incidents written to Spark tables; the command line on Spark
    (it uses the running session and leaves it running)."""
    days = tmp_path / "predictions"
    days.mkdir()
    for f in sorted(logged["days"].iterdir()):
        (days / f.name).write_bytes(f.read_bytes())
    with driftline.connect(tmp_path / "s.duckdb", logged["spec"], spark=spark) as mon:
        fitted = mon.fit_profile(reference=logged["ref"]).to_dict()
        assert fitted["bin_edges"] == logged["profile"]["bin_edges"]
        assert fitted["categories"] == logged["profile"]["categories"]
        assert fitted["n_rows"] == logged["profile"]["n_rows"]
        report = mon.check(predictions=days, labels=logged["labels"], results_table="dl_results")
        _same(logged["decisions"], _decisions(report))
        assert _alerts(report) == logged["alerts"]
        assert _verdicts(mon) == logged["verdicts"]
        results = spark.table("dl_results").toArrow()
        assert results.num_rows == len(logged["decisions"])
        assert spark.table("dl_results_alerts").count() == len(logged["alerts"])
        incidents = spark.table("dl_results_incidents").toArrow()
        assert sorted(incidents["id"].to_pylist()) == sorted(i.id for i in report.incidents)
        queue = mon.queue(predictions=days, labels=logged["labels"], budget=40).to_dict()
        assert queue == logged["queue"]

        logged["frames"][-1].to_parquet(days / "day-4.parquet")
        report = mon.check(predictions=days, labels=logged["labels"], results_table="dl_results")
        new_day = int(pd.Timestamp("2024-01-08").timestamp())
        assert mon.store.runs().to_pylist()[-1]["windows_summarised"] == [new_day]
        _same(logged["decisions_after"], _decisions(report))
        # the earlier windows' rows kept, the new window's added, none twice
        assert spark.table("dl_results").count() == len(logged["decisions_after"])

    # a catalog table holding the days of the spec's schema (one batch, so the schema
    # checks differ from the per-file run: compared with the same rows as one file),
    # checked from the command line, results written to Spark tables
    same_schema = [f for f in logged["frames"] if "y" in f.columns]
    whole = pd.concat(
        [f for f in same_schema if pd.api.types.is_numeric_dtype(f["x"])], ignore_index=True
    )
    spark.createDataFrame(whole).write.mode("overwrite").saveAsTable("dl_catalog_predictions")
    (tmp_path / "whole").mkdir()
    whole.to_parquet(tmp_path / "whole" / "all.parquet")
    spec_file = tmp_path / "driftline.yaml"
    spec_file.write_text(yaml.safe_dump(logged["spec"]))
    profile = spec_file.with_suffix(".profile.json")
    with driftline.connect(tmp_path / "w.duckdb", logged["spec"], profile=profile) as mon:
        mon.fit_profile(reference=logged["ref"])
        one_file = mon.check(predictions=tmp_path / "whole")
    store = ("--spec", spec_file, "--store", tmp_path / "cli.duckdb")
    done = run_cli(
        "check",
        "--engine",
        "spark",
        "--predictions",
        "dl_catalog_predictions",
        "--results-table",
        "dl_catalog_results",
        "--json",
        *store,
    )
    assert done.code == 1, done.output  # alerts
    shown = json.loads(done.out)
    assert _alerts(one_file) == sorted(
        str((a["window_start"], a["cohort_value"], a["check"], a["column"]))
        for a in shown["alerts"]
    )
    decided = {
        (r["window_start"], r["cohort"], r["cohort_value"], r["check"], r["column"]): (
            r["status"],
            r["n"],
            r["value"],
        )
        for r in shown["results"]
    }
    _same(_decisions(one_file), decided)
    assert spark.table("dl_catalog_results").count() == len(decided)
    done = run_cli("check", "--engine", "spark", "--predictions", "no_such_table", *store)
    assert done.code == 2, done.output
    assert "no table 'no_such_table'" in done.err
    assert spark.range(3).count() == 3  # the session the command found still runs


@pytest.mark.spark
def test_spark_reads_nanosecond_timestamps_as_pandas_writes_them(
    spark: Any, tmp_path: Path
) -> None:
    """pandas and pyarrow write nanosecond timestamps, which Spark refuses by itself;
    the source reader floors them to the microsecond, as DuckDB and the store do, for
    zone-aware and naive columns alike, also once the session reads them as integers."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from driftline.engine.spark import read_view

    ts = pd.to_datetime(
        ["2026-01-01 23:59:59.999999999", "1969-12-31 23:59:59.9999995", None], utc=True
    )
    frame = pd.DataFrame({"ts": ts, "n": [1, 2, 3]})
    frame.to_parquet(tmp_path / "aware.parquet")
    frame.assign(ts=frame.ts.dt.tz_localize(None)).to_parquet(tmp_path / "naive.parquet")
    for name in ("aware", "naive"):
        path = tmp_path / f"{name}.parquet"
        assert pq.read_schema(path).field("ts").type.unit == "ns"
        types = read_view(spark, f"ns_{name}", paths=[str(path)])
        assert types["ts"] == "TIMESTAMP WITH TIME ZONE"
        got = spark.sql(f"SELECT ts FROM ns_{name}").toArrow()["ts"]
        want = pc.floor_temporal(pq.read_table(path)["ts"], unit="microsecond")
        assert (
            got.cast(pa.int64()).to_pylist()
            == want.cast(pa.timestamp("us")).cast(pa.int64()).to_pylist()
        )


@pytest.mark.spark
def test_parts_whose_number_is_a_date_time_or_struct_decide_on_spark_as_on_duckdb(
    spark: Any, tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """One part sends the numeric feature x as a date, one as a timestamp, one as a
    struct, and one an embedding column all null as integers: on DuckDB they are
    missing values with a ``type_change``; Spark cannot cast those types to numbers (or
    casts a timestamp to epoch seconds): it gives the same results instead, not an
    internal error."""
    import datetime as dtm

    import pyarrow as pa
    import pyarrow.parquet as pq

    spec = make_spec(embedding="emb")
    ref = make_predictions(1000, seed=1, id_prefix="ref", start="2023-12-01")
    ref["emb"] = [[float(i % 7), 1.0, 2.0] for i in range(len(ref))]
    days = tmp_path / "days"
    days.mkdir()
    n = 48
    odd = {
        "date": pa.array([dtm.date(2024, 1, 1)] * n),
        "time": pa.array([dtm.datetime(2024, 1, 1, 5)] * n, pa.timestamp("us", tz="UTC")),
        "struct": pa.array([{"a": 1.0}] * n),
    }
    for d, (name, values) in enumerate(odd.items()):
        frame = make_predictions(n, seed=10 + d, id_prefix=f"{name}-", start=f"2024-01-0{d + 1}")
        frame["emb"] = [[1.0, 2.0, 3.0]] * n
        t = pa.Table.from_pandas(frame, preserve_index=False)
        t = t.set_column(t.schema.get_field_index("x"), "x", values)
        pq.write_table(t, days / f"{name}.parquet")
    nulls = make_predictions(n, seed=20, id_prefix="nulls-", start="2024-01-04")
    t = pa.Table.from_pandas(nulls, preserve_index=False)
    pq.write_table(t.append_column("emb", pa.nulls(n, pa.int32())), days / "nulls.parquet")
    reports = {}
    for engine, session in (("duckdb", None), ("spark", spark)):
        with driftline.connect(tmp_path / f"{engine}.duckdb", spec, spark=session) as mon:
            mon.log_reference(ref)
            reports[engine] = mon.check(predictions=days)
    _same(_decisions(reports["duckdb"]), _decisions(reports["spark"]))
    changed = {a.column for a in reports["spark"].alerts if a.check == "type_change"}
    assert changed == {"x"}


@pytest.mark.spark
def test_files_of_nanosecond_and_microsecond_timestamps_in_one_directory_on_spark(
    spark: Any, tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """pandas writes nanoseconds, Spark and most writers micro- or milliseconds: one
    directory holding both is read with each file's own unit, its rows in their days."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec = make_spec()
    days = tmp_path / "days"
    days.mkdir()
    for d, unit in enumerate(("ns", "us", "ms")):
        frame = make_predictions(48, seed=30 + d, id_prefix=f"{unit}-", start=f"2024-01-0{d + 1}")
        t = pa.Table.from_pandas(frame, preserve_index=False)
        i = t.schema.get_field_index("ts")
        t = t.set_column(i, "ts", t["ts"].cast(pa.timestamp(unit, tz="UTC")))
        pq.write_table(t, days / f"{unit}.parquet")
    reports = {}
    for engine, session in (("duckdb", None), ("spark", spark)):
        with driftline.connect(tmp_path / f"{engine}.duckdb", spec, spark=session) as mon:
            mon.log_reference(make_predictions(1000, seed=1, id_prefix="ref"))
            reports[engine] = mon.check(predictions=days)
    for report in reports.values():
        n = {st.window_start[:10]: st.n for st in report.stats if st.cohort is None}
        assert n == {"2024-01-01": 24, "2024-01-02": 48, "2024-01-03": 48, "2024-01-04": 24}
    _same(_decisions(reports["duckdb"]), _decisions(reports["spark"]))


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_file_names_with_glob_characters_are_read_as_named(
    request: pytest.FixtureRequest, tmp_path: Path, make_spec: Any, make_predictions: Any,
    engine: str,
) -> None:  # fmt: skip
    """A directory whose files are named ``a?``, ``ab``, ``x[1]`` and ``y{2}``: each file
    is read once, as named (a reader that globs the listed names counts ``ab`` twice and
    finds no ``x[1]`` on Spark)."""
    session = request.getfixturevalue("spark") if engine == "spark" else None
    days = tmp_path / "days"
    days.mkdir()
    sizes = {"a?": 10, "ab": 20, "x[1]": 30, "y{2}": 40}
    for d, (name, n) in enumerate(sizes.items()):
        frame = make_predictions(n, seed=40 + d, id_prefix=f"{d}-")
        frame["ts"] = pd.date_range(f"2024-01-0{d + 1}", periods=n, freq="min", tz="UTC")
        frame.to_parquet(days / f"{name}.parquet")
    with driftline.connect(tmp_path / "s.duckdb", make_spec(), spark=session) as mon:
        mon.log_reference(make_predictions(1000, seed=1, id_prefix="ref"))
        report = mon.check(predictions=days)
    n = {st.window_start[:10]: st.n for st in report.stats if st.cohort is None}
    assert n == {"2024-01-01": 10, "2024-01-02": 20, "2024-01-03": 30, "2024-01-04": 40}
    with driftline.connect(tmp_path / "one.duckdb", make_spec(), spark=session) as mon:
        mon.log_reference(make_predictions(1000, seed=1, id_prefix="ref"))
        report = mon.check(predictions=days / "a?.parquet")  # that file, not a pattern
    assert [st.n for st in report.stats if st.cohort is None] == [10]


@pytest.mark.spark
def test_a_parquet_type_spark_cannot_read_is_named_with_its_fix(
    spark: Any, tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """A float16 feature: DuckDB reads it, Spark refuses the file; the error says which
    kind of problem it is and the fix, not "check the path"."""
    import numpy as np

    from driftline.errors import SourceError

    days = tmp_path / "days"
    days.mkdir()
    frame = make_predictions(24, seed=3, id_prefix="h-")
    frame["x"] = frame["x"].astype(np.float16)
    frame.to_parquet(days / "half.parquet")
    with driftline.connect(tmp_path / "s.duckdb", make_spec(), spark=spark) as mon:
        mon.log_reference(make_predictions(1000, seed=1, id_prefix="ref"))
        with pytest.raises(SourceError) as err:
            mon.check(predictions=days)
    assert "FLOAT16" in str(err.value)
    assert "write it as a type Spark reads (float16 as float32)" in str(err.value)
    assert "Check the path" not in str(err.value)


def _all_days(logged: dict[str, Any], root: Path) -> Path:
    """A directory holding every day's file, as the logged store holds every day, at a
    path longer than a headline shows whole."""
    days = root / ("lake-" + "l" * 80) / "all-days"
    days.mkdir(parents=True)
    for f in sorted(logged["days"].iterdir()):
        (days / f.name).write_bytes(f.read_bytes())
    logged["frames"][-1].to_parquet(days / "day-4.parquet")
    return days


def _cli_spec(logged: dict[str, Any], root: Path, run_cli: RunCli) -> Path:
    spec_file = root / "driftline.yaml"
    spec_file.write_text(yaml.safe_dump(logged["spec"]))
    done = run_cli("fit", "--reference", logged["ref"], "--spec", spec_file, "--store", root / "f")
    assert done.code == 0, done.output
    return spec_file


class _OverSources(NamedTuple):
    """What :func:`_queue_and_report` ran and got."""

    days: Path
    spec_file: Path
    store: tuple[Any, ...]  # the --spec and --store options
    sources: tuple[Any, ...]  # the engine and source options
    queue: Any  # the queue's JSON
    out: Path  # the report's file


def _queue_and_report(
    logged: dict[str, Any], root: Path, run_cli: RunCli, *engine: str
) -> _OverSources:
    """``driftline queue --json`` and ``driftline report`` over every day as a Parquet
    directory (and the logged labels), with the ``engine`` options; both exit 0."""
    days = _all_days(logged, root)
    spec_file = _cli_spec(logged, root, run_cli)
    store = ("--spec", spec_file, "--store", root / "cli.duckdb")
    sources = (*engine, "--predictions", days, "--labels", logged["labels"])
    done = run_cli("queue", *sources, "--budget", "40", "--json", *store)
    assert done.code == 0, done.output
    queue = json.loads(done.out)
    out = root / "report.html"
    done = run_cli("report", *sources, "--out", out, *store)
    assert done.code == 0, done.output
    return _OverSources(days, spec_file, store, sources, queue, out)


def test_queue_and_report_commands_read_sources_as_check_does(
    logged: dict[str, Any], tmp_path: Path, run_cli: RunCli
) -> None:
    """``driftline queue`` and ``driftline report`` over a Parquet directory on DuckDB:
    the same queue and the same report as the same days logged into a store."""
    days, spec_file, store, sources, queue, out = _queue_and_report(logged, tmp_path, run_cli)
    assert queue == logged["queue_after"]
    page = _page(out.read_text())
    assert page == logged["page_after"]
    assert any("column y is not logged" in h for h in page["headlines"])
    # a schema incident names the file that brought it, its path cut from the left
    assert "(first batch …" in out.read_text()
    assert "/all-days/day-2.parquet); on 2024-01-06" in out.read_text()
    assert mon_counts(tmp_path / "cli.duckdb", spec_file) == 0  # nothing copied

    # refused before any work, naming the fix: exit 2
    for command in ("queue", "report"):
        done = run_cli(command, "--engine", "spark", *store)
        assert done.code == 2, done.output
        assert "--engine spark reads --predictions PATH_OR_TABLE; add it" in done.err
        done = run_cli(command, "--predictions", "s3a://bucket/predictions", *store)
        assert done.code == 2, done.output
        assert "URI; DuckDB reads local Parquet paths" in done.err
        done = run_cli(command, "--predictions", "db.predictions", *store)
        assert done.code == 2, done.output
        assert "catalog table is read with --engine spark" in done.err
        done = run_cli(command, "--spark-conf", "spark.master=local[1]", *sources, *store)
        assert done.code == 2, done.output
        assert "--spark-conf needs --engine spark" in done.err
    # the model section explains stored rows: refused with sources, before loading it
    model = tmp_path / "model.joblib"
    model.write_bytes(b"")
    done = run_cli("report", *sources, "--model", model, "--out", out, *store)
    assert done.code == 2, done.output
    assert "leave out the model (--model)" in done.err
    refused = pytest.raises(UnsupportedOperationError, match=r"leave out the model")
    with driftline.connect(tmp_path / "api.duckdb", spec_file) as mon, refused:
        mon.report(tmp_path / "api.html", model=object(), predictions=days)


def mon_counts(store: Path, spec_file: Path) -> int:
    with driftline.connect(store, spec_file) as mon:
        return int(mon.store.counts().get("predictions", 0))


@pytest.mark.spark
def test_queue_and_report_commands_on_spark(
    logged: dict[str, Any], tmp_path: Path, spark: Any, run_cli: RunCli
) -> None:
    """``driftline queue`` and ``driftline report`` with ``--engine spark`` over a
    Parquet directory: the same queue and report as the same days logged into a store
    (the commands use the running session and leave it running)."""
    ran = _queue_and_report(logged, tmp_path, run_cli, "--engine", "spark")
    assert ran.queue == logged["queue_after"]
    page, want = _page(ran.out.read_text()), copy.deepcopy(logged["page_after"])
    assert _quantiles(page) == pytest.approx(_quantiles(want), abs=QUANTILE_TOLERANCE)
    assert page == want
    done = run_cli("queue", "--engine", "spark", "--predictions", "no_such_table", *ran.store)
    assert done.code == 2, done.output
    assert "no table 'no_such_table'" in done.err
    assert spark.range(3).count() == 3
