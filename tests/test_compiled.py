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
from driftline.store import LOOKUP_PREFIX

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


def lookups(mon: Any) -> list[str]:
    """The store's lookup tables (the known categories kept queries read)."""
    rows = mon.store.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?) ORDER BY 1",
        [LOOKUP_PREFIX],
    ).fetchall()
    return [str(r[0]) for r in rows]


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
        [days[0]],  # the store's first check: nothing kept
        [days[1]],  # one range: templates made
        [days[2], late[0]],  # two ranges: new templates
        [days[3], late[1]],  # two ranges again: bound
        [days[4]],  # one range again: bound
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
        # four kept queries per cohort column (window summary, classes, batches,
        # categories) and the quantiles, per shape (one or two ranges)
        assert len(kept_now) == [0, 9, 18, 18, 18][step]
        if step == 0:  # built and compiled once, as without templates
            assert used == built
        elif step in (3, 4):  # every kept query of this shape bound, none compiled
            assert built - used == 9
        else:  # made: compiled twice (stand-ins, then the run's values)
            assert used - built == 9
        # the category summaries read the known categories from the store
        names = lookups(kept)
        assert bool(names) == (step > 0)
        assert all(any(f'"{n}"' in (t[2] or "") for t in kept_now) for n in names)
    assert templates(plain) == []
    assert lookups(plain) == []


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
    plain = check(mon)  # the store's first check keeps nothing
    assert templates(mon) == []
    mon.log_predictions(day_rows(make_predictions, 1))
    made = check(mon)
    assert made > plain
    first = templates(mon)
    assert {f for _, f, _ in first} == {summary_fp(mon)}
    # wide, classes, batches, categories, quantiles
    assert sum(s is not None for _, _, s in first) == 5
    mon.close()
    # a floor changes the decisions, not the summaries: the same templates, bound (each
    # kept query was compiled twice when made, with stand-ins and with the run's values)
    floors = {"checks": {"floors": {"checks": {"confidence_shift": 0.5}}}}
    mon = driftline.connect(
        tmp_path / "s.duckdb", make_spec(window="1d", **floors), profile=tmp_path / "p.json"
    )
    mon.log_predictions(day_rows(make_predictions, 2))
    bound = check(mon)
    # made: each of the five compiled twice (stand-ins, then the run's values) and the
    # known categories' lookup table looked up once
    assert made == bound + 2 * 5 + 1
    assert plain == bound + 5
    assert templates(mon) == first
    # a refit moves the bin edges: a new summary fingerprint, whose first check
    # recomputes every window and keeps nothing; the next makes every template again
    # and deletes those of the old one
    old = summary_fp(mon)
    mon.fit_profile(bins=5)
    mon.log_predictions(day_rows(make_predictions, 3))
    assert check(mon) == plain
    assert summary_fp(mon) != old
    assert templates(mon) == first
    mon.log_predictions(day_rows(make_predictions, 4))
    assert check(mon) == made
    now = templates(mon)
    assert summary_fp(mon) != old
    assert {f for _, f, _ in now} == {summary_fp(mon)}
    assert not {k for k, _, _ in now} & {k for k, _, _ in first}
    assert sorted(s for _, _, s in now if s) != sorted(s for _, _, s in first if s)
    mon.close()


def test_a_kept_category_query_reads_the_known_categories_the_profile_has_now(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """Known categories with quotes and non-ASCII text are read from a store table named
    by its content; a refit that changes them makes a new table and drops the old one,
    and the unseen-category check counts against the new categories."""
    odd = ['O\'Brien "quoted"', "café ☕", "a;DROP TABLE predictions"]

    def rows(seed: int, prefix: str, colors: list[str], n: int = 600) -> pd.DataFrame:
        df = make_predictions(n=n, seed=seed, id_prefix=prefix)
        df["color"] = np.random.default_rng(seed).choice(colors, size=n)
        return df

    spec = make_spec(window="1d")
    path, prof = tmp_path / "s.duckdb", tmp_path / "p.json"
    with driftline.connect(path, spec, profile=prof) as mon:
        mon.log_reference(rows(7, "ref", ["red", odd[0]]))
        mon.log_predictions(day_rows(make_predictions, 0).assign(color=odd[1]))
        mon.check()  # the store's first check keeps nothing
        assert lookups(mon) == []
        mon.log_predictions(day_rows(make_predictions, 1).assign(color=odd[1]))
        first = mon.check()
        before = lookups(mon)
        assert len(before) == 1
        table = mon.store.con.execute(f'SELECT * FROM "{before[0]}"').fetchall()
        assert sorted(r[0] for r in table) == sorted(["red", odd[0]])
        unseen = [r for r in first.results if r.check == "unseen_category" and r.cohort is None]
        assert unseen
        assert all(r.value == 1.0 for r in unseen)
    with driftline.connect(path, spec, profile=prof) as mon:  # a new process: bound
        mon.log_reference(rows(8, "ref2-", [odd[1], odd[2]]))
        mon.fit_profile()
        mon.log_predictions(day_rows(make_predictions, 2).assign(color=odd[1]))
        mon.check()  # the new fingerprint's first check keeps nothing
        assert lookups(mon) == before
        mon.log_predictions(day_rows(make_predictions, 3).assign(color=odd[1]))
        second = mon.check()
        after = lookups(mon)
        assert len(after) == 1
        assert after != before
        unseen = [
            r
            for r in second.results
            if r.check == "unseen_category"
            and r.cohort is None
            and r.window == second.stats[-1].window
        ]
        assert unseen
        assert all(r.value == 0.0 for r in unseen)
        assert mon.store.con.execute("SELECT count(*) FROM predictions").fetchone() == (960,)
