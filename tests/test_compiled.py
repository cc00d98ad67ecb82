"""Summary queries kept as templates in the store (:mod:`driftline.checks._compiled`).

The SQL a template renders is the SQL Ibis compiles (checked when it is made); here: a
timestamp is written as Ibis writes it, a check run from templates decides exactly as one
that builds and compiles every query (two real DuckDB stores fed the same batches, one
with the templates switched off as on Spark), and templates are invalid exactly when the
summary fingerprint changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from ibis.backends.sql import SQLBackend

import driftline
import driftline.checks._compiled as compiled
from driftline.checks._compiled import render, timestamp_sql

SpecFactory = Callable[..., dict[str, Any]]
PredictionsFactory = Callable[..., pd.DataFrame]

DAY = 86400
START = pd.Timestamp("2024-03-01", tz="UTC")


def day_rows(make: PredictionsFactory, day: int, n: int = 240, prefix: str = "d") -> pd.DataFrame:
    df = make(n=n, seed=100 + day, id_prefix=f"{prefix}{day}-")
    df["ts"] = START + pd.Timedelta(days=day) + pd.to_timedelta(np.arange(n) * (DAY / n), "s")
    return df


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every Ibis compile, in order."""
    seen: list[str] = []
    original = SQLBackend.compile

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        sql = original(self, *args, **kwargs)
        seen.append(sql)
        return sql

    monkeypatch.setattr(SQLBackend, "compile", counting)
    return seen


def templates(mon: Any) -> list[tuple[str, str, str | None]]:
    return [
        (str(k), str(f), s)
        for k, f, s in mon.store.con.execute(
            "SELECT key, fingerprint, sql FROM compiled_queries ORDER BY key"
        ).fetchall()
    ]


def decisions(report: Any) -> list[tuple[Any, ...]]:
    fields = ("window", "cohort", "cohort_value", "check", "column", "value", "effect")
    more = ("bound", "status", "n")
    return sorted(
        (tuple(getattr(r, f) for f in (*fields, *more)) for r in report.results), key=repr
    )


def summary_fp(mon: Any) -> str:
    row = mon.store.con.execute(
        "SELECT summary_fingerprint FROM runs ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    return str(row[0])


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 1),
        datetime(2023, 12, 31, 0, 2, 41, 408067),
        datetime(1999, 1, 2, 3, 4, 5, 6),
        datetime(2024, 2, 29, 23, 59, 59, 999999),
        datetime(1101, 1, 1),
    ],
)
def test_a_timestamp_is_written_as_ibis_writes_it(value: datetime) -> None:
    con = ibis.duckdb.connect()
    sql = con.compile(ibis.literal(value).name("x"))
    assert timestamp_sql(value) in sql
    row = con.raw_sql(f"SELECT {timestamp_sql(value)}").fetchone()
    assert row is not None
    assert row[0] == value
    assert render("a \x000\x00 b \x001\x00", [value, value]).count(timestamp_sql(value)) == 2


@pytest.fixture
def pair(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> Iterator[tuple[Any, Any]]:
    """Two copies of one store: the same spec, reference, profile and calibration cache
    (a refit may differ in the last bits of a variance), two cohort columns."""
    spec = make_spec(window="1d", cohorts=["segment", "color"])
    with driftline.connect(tmp_path / "kept.duckdb", spec, profile=tmp_path / "kept.json") as mon:
        mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    for suffix in (".duckdb", ".json"):
        shutil.copy(tmp_path / f"kept{suffix}", tmp_path / f"compiled{suffix}")
    mons = [
        driftline.connect(tmp_path / f"{name}.duckdb", spec, profile=tmp_path / f"{name}.json")
        for name in ("kept", "compiled")
    ]
    yield mons[0], mons[1]
    for mon in mons:
        mon.close()


def test_checks_from_kept_queries_decide_as_checks_that_compile(
    pair: tuple[Any, Any],
    make_predictions: PredictionsFactory,
    compiles: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept, plain = pair
    days = [day_rows(make_predictions, d) for d in range(5)]
    days[2]["x"] = np.nan  # an all-null feature in one window
    late = [day_rows(make_predictions, d, n=9, prefix="late") for d in range(2)]
    batches: list[list[pd.DataFrame]] = [
        [days[0]],
        [days[1]],  # one range, bound from the first check's templates
        [days[2], late[0]],  # two ranges: new templates
        [days[3], late[1]],  # two ranges again: bound
        [days[4]],
    ]
    for step, logged in enumerate(batches):
        for df in logged:
            kept.log_predictions(df)
            plain.log_predictions(df)
        before = len(compiles)
        from_kept = kept.check()
        used = len(compiles) - before
        with monkeypatch.context() as m:  # no engine is one: every query built and compiled
            m.setattr(compiled, "DuckDBEngine", type("NoEngine", (), {}))
            before = len(compiles)
            from_plain = plain.check()
            built = len(compiles) - before
        assert decisions(from_kept) == decisions(from_plain), step
        assert [s.n for s in from_kept.stats] == [s.n for s in from_plain.stats]
        kept_now = [t for t in templates(kept) if t[2] is not None]
        # three kept queries per cohort column (window summary, classes, batches) and the
        # quantiles, per shape (one or two ranges); category summaries are not kept
        assert len(kept_now) == (7 if step < 2 else 14)
        if step in (1, 3, 4):  # every kept query of this shape bound, none compiled
            assert built - used == 7
        else:  # made: compiled twice (stand-ins, then the run's values)
            assert used - built == 7
    assert templates(plain) == []


def test_kept_queries_are_invalid_exactly_when_the_summary_fingerprint_changes(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    compiles: list[str],
) -> None:
    def check(mon: Any) -> int:
        """Check; how many queries Ibis compiled."""
        before = len(compiles)
        mon.check()
        return len(compiles) - before

    spec = make_spec(window="1d")
    mon = driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json")
    mon.log_reference(make_predictions(n=3000, seed=7, id_prefix="ref"))
    mon.log_predictions(day_rows(make_predictions, 0))
    mon.close()  # checked as by the CLI: the profile read from its file
    mon = driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json")
    made = check(mon)
    first = templates(mon)
    assert {f for _, f, _ in first} == {summary_fp(mon)}
    assert sum(s is not None for _, _, s in first) == 4  # wide, classes, batches, quantiles
    mon.close()
    # a floor changes the decisions, not the summaries: the same templates, bound (each
    # kept query was compiled twice when made, with stand-ins and with the run's values)
    floors = {"checks": {"floors": {"checks": {"confidence_shift": 0.5}}}}
    mon = driftline.connect(
        tmp_path / "s.duckdb", make_spec(window="1d", **floors), profile=tmp_path / "p.json"
    )
    mon.log_predictions(day_rows(make_predictions, 1))
    assert check(mon) == made - 2 * 4
    assert templates(mon) == first
    # a refit moves the bin edges: a new summary fingerprint, every template made again
    # and those of the old one deleted
    old = summary_fp(mon)
    mon.fit_profile(bins=5)
    mon.log_predictions(day_rows(make_predictions, 2))
    assert check(mon) == made
    now = templates(mon)
    assert summary_fp(mon) != old
    assert {f for _, f, _ in now} == {summary_fp(mon)}
    assert not {k for k, _, _ in now} & {k for k, _, _ in first}
    assert sorted(s for _, _, s in now if s) != sorted(s for _, _, s in first if s)
    mon.close()
