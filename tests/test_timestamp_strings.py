"""Timestamps (and numbers) given as text, and timestamps at the end of time, through
the real store, the checks and sources read in place, on both engines.

- A string naming no zone is UTC on every row: DuckDB's zone-aware cast carried a zone
  named on one row (``America/New_York``) over to the naive rows after it, in the same
  query, and moved them five hours.
- ``epoch`` and ``infinity`` (words DuckDB reads as times; Spark reads neither) are no
  time a prediction was made at: refused naming the value, as any unparsable string.
- A row dated 9999-12-31 (a common "never" sentinel) is a row out of the data's era, not
  an internal error (its window ends in year 10000, past what Python can hold).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import driftline
from driftline.errors import IngestError

MIXED = [
    "2024-01-02T22:30:00.5",  # before the zone-named row
    "2024-01-02 10:00:00 America/New_York",
    "2024-01-02T22:30:00.5",  # after it: was moved to 2024-01-03 03:30
    "2024-01-02 10:00",
    "2024-01-02T10:00:00+02:00",
    "2024-01-02",
]
UTC = [
    "2024-01-02 22:30:00.5",
    "2024-01-02 15:00:00",
    "2024-01-02 22:30:00.5",
    "2024-01-02 10:00:00",
    "2024-01-02 08:00:00",
    "2024-01-02 00:00:00",
]


def _rows(make_predictions: Any, stamps: list[str], prefix: str = "t") -> pd.DataFrame:
    df = make_predictions(len(stamps), seed=5, id_prefix=prefix)
    df["ts"] = stamps
    return df


def _stored(mon: Any) -> list[pd.Timestamp]:
    rows = mon.store.con.execute("SELECT id, ts FROM predictions ORDER BY id").fetchall()
    return [pd.Timestamp(ts) for _, ts in sorted(rows, key=lambda r: int(r[0][1:]))]


def test_a_naive_string_is_utc_whatever_zone_a_row_before_it_names(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_predictions(_rows(make_predictions, MIXED))
        assert _stored(mon) == [pd.Timestamp(t) for t in UTC]


@pytest.mark.parametrize("word", ["epoch", "infinity", "-infinity"])
def test_duckdb_words_for_times_are_refused_naming_the_value(
    tmp_path: Path, make_spec: Any, make_predictions: Any, word: str
) -> None:
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as mon:
        mon.log_predictions(make_predictions(5, id_prefix="ok"))
        with pytest.raises(IngestError) as info:
            mon.log_predictions(_rows(make_predictions, ["2024-01-02T10:00:00Z", word]))
        assert f"column 'ts' (timestamp) has unparsable value {word!r}" in str(info.value)
        assert "Nothing was stored" in str(info.value)
        assert mon.store.counts()["predictions"] == 5


def test_a_row_dated_9999_is_out_of_era_not_an_internal_error(
    tmp_path: Path, make_spec: Any, make_predictions: Any, run_cli: Any
) -> None:
    spec = tmp_path / "driftline.yaml"
    driftline.load_spec(make_spec()).save(spec)
    ref = make_predictions(400, seed=1, id_prefix="ref")
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    late = make_predictions(48, seed=2, id_prefix="p", start="2024-02-01")
    late["ts"] = late["ts"].astype("datetime64[us, UTC]")
    late.loc[3, "ts"] = pd.Timestamp("9999-12-31 23:00:00", tz="UTC")
    late.to_parquet(tmp_path / "late.parquet", index=False)
    assert run_cli("log", "--reference", "ref.parquet", cwd=tmp_path).code == 0
    assert run_cli("log", "late.parquet", cwd=tmp_path).code == 0
    done = run_cli("check", "--json", cwd=tmp_path)
    assert done.code == 1, done.err
    assert "timestamp_era" in done.out
    assert "9999-12-31T00:00:00Z" in done.out  # the window it fell in is shown
    done = run_cli("report", "--out", "r.html", cwd=tmp_path)
    assert done.code in (0, 1), done.err


def _source_windows(mon: Any, path: Path) -> dict[str, int]:
    report = mon.check(predictions=path, persist=False)
    return {s.window_start: s.n for s in report.stats if s.cohort is None and s.n}


@pytest.mark.spark
def test_text_timestamps_read_in_place_agree_on_both_engines(
    tmp_path: Path, make_spec: Any, make_predictions: Any, spark: Any
) -> None:
    """A file of mixed text timestamps checked where it lies gives the windows logging
    it gives, on DuckDB and on Spark."""
    ref = make_predictions(400, seed=1, id_prefix="ref")
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    day = tmp_path / "days"
    day.mkdir()
    _rows(make_predictions, MIXED).to_parquet(day / "d.parquet", index=False)
    windows = {}
    for name, session in (("duckdb", None), ("spark", spark)):
        with driftline.connect(tmp_path / f"{name}.duckdb", make_spec(), spark=session) as mon:
            mon.fit_profile(reference=tmp_path / "ref.parquet")
            windows[name] = _source_windows(mon, day)
    want: dict[str, int] = {}
    for t in UTC:
        key = pd.Timestamp(t).normalize().strftime("%Y-%m-%dT%H:%M:%SZ")
        want[key] = want.get(key, 0) + 1
    assert windows["duckdb"] == windows["spark"] == want


#: strings both engines read (UTC wall time) or neither does (None: refused at logging,
#: untimed in a source), whatever each would read on its own
GRAMMAR = {
    "2026-02-01T10:00:00Z": "2026-02-01 10:00:00",
    "2026-02-01 10:00:00+02:00": "2026-02-01 08:00:00",
    "2026-02-01T10:00:00-0530": "2026-02-01 15:30:00",
    "2026-02-01T10:00:00.25+18:00": "2026-01-31 16:00:00.25",
    "2026-02-01 10:00:00 UTC": "2026-02-01 10:00:00",
    "2026-02-01 10:00:00 Europe/Paris": "2026-02-01 09:00:00",
    "2026-02-01T10:00": "2026-02-01 10:00:00",
    "2026-2-1 7:05:09": "2026-02-01 07:05:09",
    "2026-02-01": "2026-02-01 00:00:00",
    " 2026-02-01T10:00:00Z ": "2026-02-01 10:00:00",
    "2026-02-01 10:00:00 utc": None,  # DuckDB reads it, Spark does not
    "2026/02/01 10:00:00": None,  # DuckDB reads it, Spark does not
    "2026-02-01T24:00:00": None,  # DuckDB: the next day; Spark: null
    "2026-02-01T10:00:00+23:59": None,  # DuckDB reads it, Spark does not
    "2026-02-01T10:00Z": None,  # Spark reads it, DuckDB does not
    "2026-02": None,  # Spark reads it, DuckDB does not
    "2026-02-01T10:00:00 GMT+5": None,  # Spark reads it, DuckDB does not
    "epoch": None,
    "infinity": None,
}


def _parsed(engine: Any, table: str) -> dict[str, str | None]:
    from driftline.sources import _timestamp

    t = engine.table(table)
    got = engine.run(t.select(s=t.s, ts=_timestamp(t.s, "VARCHAR"))).to_pylist()
    return {r["s"]: None if r["ts"] is None else str(r["ts"]).rstrip("0").rstrip(".") for r in got}


def _want() -> dict[str, str | None]:
    return {
        s: None if w is None else str(pd.Timestamp(w)).rstrip("0").rstrip(".")
        for s, w in GRAMMAR.items()
    }


def test_duckdb_reads_the_timestamp_grammar_as_logging_does(tmp_path: Path) -> None:
    import duckdb

    from driftline._ingest import utc_timestamp
    from driftline.engine import DuckDBEngine

    con = duckdb.connect()
    con.execute("CREATE TABLE stamps AS SELECT unnest(?) AS s", [list(GRAMMAR)])
    logged = {
        s: None if ts is None else str(pd.Timestamp(ts)).rstrip("0").rstrip(".")
        for s, ts in con.execute(f"SELECT s, {utc_timestamp('s')} FROM stamps").fetchall()
    }
    assert logged == _want()
    assert _parsed(DuckDBEngine.from_connection(con), "stamps") == _want()


@pytest.mark.spark
def test_spark_reads_the_timestamp_grammar_as_duckdb_does(spark: Any) -> None:
    from driftline.engine import SparkEngine

    spark.createDataFrame([(s,) for s in GRAMMAR], "s string").createOrReplaceTempView(
        "stamps_grammar"
    )
    assert _parsed(SparkEngine(spark), "stamps_grammar") == _want()


#: number strings both engines read alike, or neither does (a missing value)
NUMBERS = {
    "1.5": 1.5,
    " +3 ": 3.0,
    ".5": 0.5,
    "5.": 5.0,
    "-2e3": -2000.0,
    "1_000": None,  # DuckDB reads it, Spark does not
    "1.5d": None,  # Spark (Java) reads it, DuckDB does not
    "2F": None,
    "0x1p3": None,
    "1,5": None,
    "": None,
}


def _numbers(engine: Any, table: str) -> dict[str, float | None]:
    from driftline.sources import _number

    t = engine.table(table)
    return {r["s"]: r["x"] for r in engine.run(t.select(s=t.s, x=_number(t.s))).to_pylist()}


def test_duckdb_reads_numbers_sent_as_text_as_logging_does() -> None:
    import duckdb

    from driftline._ingest import number_sql
    from driftline.engine import DuckDBEngine

    con = duckdb.connect()
    con.execute("CREATE TABLE numbers AS SELECT unnest(?) AS s", [list(NUMBERS)])
    logged = dict(con.execute(f"SELECT s, {number_sql('s')} FROM numbers").fetchall())
    assert logged == NUMBERS
    assert _numbers(DuckDBEngine.from_connection(con), "numbers") == NUMBERS


@pytest.mark.spark
def test_spark_reads_numbers_sent_as_text_as_duckdb_does(spark: Any) -> None:
    from driftline.engine import SparkEngine

    spark.createDataFrame([(s,) for s in NUMBERS], "s string").createOrReplaceTempView(
        "numbers_grammar"
    )
    assert _numbers(SparkEngine(spark), "numbers_grammar") == NUMBERS


def test_a_timestamp_cohort_reads_alike_naive_or_with_a_zone(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """A cohort of timestamps (a signup day) that one batch sends with a time zone: its
    values were spelled with the offset ("... 00:00:00+00") on DuckDB, new cohort values
    every day that batch came; they read as the UTC wall time, as the naive ones do."""
    days = pd.to_datetime(["2025-01-01", "2025-06-01"])

    def batch(n: int, seed: int, prefix: str, aware: bool) -> pd.DataFrame:
        df = make_predictions(n, seed=seed, id_prefix=prefix)
        stamps = days.tz_localize("UTC") if aware else days
        df["signup"] = [stamps[i % 2] for i in range(n)]
        return df

    with driftline.connect(tmp_path / "s.duckdb", make_spec(cohorts=["signup"])) as mon:
        mon.log_reference(batch(400, 1, "ref", aware=False))
        mon.log_predictions(batch(48, 2, "p", aware=False))
        mon.log_predictions(batch(48, 3, "q", aware=True))
        values = {s.cohort_value for s in mon.check().stats if s.cohort == "signup"}
    assert values == {"2025-01-01 00:00:00", "2025-06-01 00:00:00"}
