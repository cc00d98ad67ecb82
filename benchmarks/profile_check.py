"""Where does ``driftline check`` spend its time and memory? One run, in process.

Runs the same check as ``driftline check --no-persist`` (with ``--full``: every window
summarised again) on a store and reports, per engine query, which summary query it is
(``window_summary``, ``class_counts``, ...), the cohort scope, whether Ibis compiled it
or it ran from a kept template, Ibis compile time, total time, rows returned, SQL size
and the process's peak RSS after it; then the time and memory of the alert-bound calibrations
(``driftline.methods.Resampler.bound``), grouped by method and number of bins.

To attribute work it wraps ``Queries.run`` of :mod:`driftline.checks._compiled`, which
runs every summary query of a check under its name (``window_summary:segment``: the
summary and its cohort column), either built and compiled by Ibis or rendered from the
SQL template kept in the store (the ``how`` column); the summary builders that
:mod:`driftline.checks` imports from :mod:`driftline.engine.summaries` (the time spent
building expressions); and ``driftline.methods.Resampler.bound`` (a profiling tool's
licence). Queries run outside ``Queries.run`` (the span of the data, the stored
summaries) are listed as ``span / other``. Results are not persisted; the store changes
only as it does under ``driftline check --no-persist`` (e.g. its calibration cache). ``--explain``
prints DuckDB's profile of the slowest query (its slowest operators, peak buffer
memory). ``--threads`` / ``--memory-limit`` apply DuckDB settings first (what-if runs).

Usage::

    python benchmarks/profile_check.py --spec benchmarks/data/1m/driftline.yaml \\
        --store benchmarks/data/1m/store.duckdb --explain
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

import driftline.checks._scopes as checks  # where the check run calls the builders
import driftline.methods as methods
from driftline.checks._compiled import Queries
from driftline.engine import DuckDBEngine, summaries
from driftline.monitor import connect


def summary_builders() -> list[str]:
    """Names of the summary builders :mod:`driftline.checks._scopes` calls."""
    return [
        name
        for name in summaries.__all__
        if callable(getattr(summaries, name, None))
        and getattr(checks, name, None) is getattr(summaries, name)
    ]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Query:
    summary: str
    scope: str
    how: str
    compile_seconds: float
    seconds: float
    rows: int
    sql_chars: int
    peak_rss_mib: float
    sql: str


class TimedEngine(DuckDBEngine):
    """A DuckDB engine that records every query it runs, under the name of the
    ``Queries.run`` call running it (``current``, set by :func:`_naming`)."""

    def __init__(self, backend: Any, current: list[str]) -> None:
        super().__init__(backend)
        self.current = current
        self.queries: list[Query] = []

    def _record(self, how: str, sql: str, compile_s: float, seconds: float, rows: int) -> None:
        name = self.current[-1] if self.current else "span / other"
        summary, _, scope = name.partition(":")
        q = Query(summary, _scope(scope), how, compile_s, seconds, rows, len(sql), 0.0, sql)
        q.peak_rss_mib = peak_rss_mib()
        self.queries.append(q)

    def run(self, expr: ibis.Table, schema: pa.Schema | None = None) -> pa.Table:
        t0 = time.perf_counter()
        sql = str(ibis.to_sql(expr, dialect="duckdb"))
        t1 = time.perf_counter()
        out = super().run(expr, schema)
        self._record("compiled", sql, t1 - t0, time.perf_counter() - t1, out.num_rows)
        return out

    def run_sql(self, sql: str, columns: ibis.Schema, schema: pa.Schema | None = None) -> pa.Table:
        t0 = time.perf_counter()
        out = super().run_sql(sql, columns, schema)
        self._record("compiled", sql, 0.0, time.perf_counter() - t0, out.num_rows)
        return out


def _scope(name: str) -> str:
    """The cohort column of a query name's scope part (``'segment':True``: the column's
    repr and whether the era's rows are counted), ``overall`` for none."""
    head, sep, tail = name.rpartition(":")
    era = ""
    if sep and tail in ("True", "False"):
        name, era = head, " (era)" if tail == "True" else ""
    cohort = name.strip("'\"")
    return (cohort if cohort and cohort != "None" else "overall") + era


def _naming(current: list[str]) -> Callable[..., Any]:
    """``Queries.run`` keeping the name of the query it runs in ``current``; a query
    whose SQL came from a kept template is marked as such."""
    original = Queries.run

    def wrapped(self: Queries, name: str, build: Any, schema: pa.Schema | None = None) -> Any:
        bound = self.bound
        current.append(name)
        try:
            return original(self, name, build, schema)
        finally:
            current.pop()
            if self.bound > bound and engine_of(self).queries:
                engine_of(self).queries[-1].how = "template"

    return wrapped


def engine_of(queries: Queries) -> TimedEngine:
    engine = queries.engine
    assert isinstance(engine, TimedEngine)
    return engine


def _building(fn: Callable[..., Any], building: list[float]) -> Any:
    """``fn`` adding the time it spends building an expression (Ibis, engine side) to
    ``building``."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        expr = fn(*args, **kwargs)
        if isinstance(expr, ibis.Expr):
            building.append(time.perf_counter() - t0)
        return expr

    return wrapped


def _calibration_probe(log: list[dict[str, Any]]) -> Callable[..., Any]:
    """Wraps ``Resampler.bound``, which every calibration of a check run goes through."""
    original = methods.Resampler.bound

    def wrapped(self: methods.Resampler, n: int) -> Any:
        before = peak_rss_mib()
        t0 = time.perf_counter()
        out = original(self, n)
        log.append(
            {
                "method": self.name,
                "bins": self.p.size,
                "n": n,
                "seconds": time.perf_counter() - t0,
                "rss_growth_mib": peak_rss_mib() - before,
            }
        )
        return out

    return wrapped


def explain(con: Any, sql: str, top: int = 8) -> str:
    """DuckDB's profile of one query (JSON profiling): its slowest operators."""
    with tempfile.TemporaryDirectory(prefix="driftline-profile-") as tmp:
        path = Path(tmp) / "profile.json"
        con.execute("SET enable_profiling = 'json'")
        con.execute("SET profiling_output = ?", [str(path)])
        try:
            con.execute(sql).to_arrow_table()
        finally:
            con.execute("PRAGMA disable_profiling")
        tree = json.loads(path.read_text())
    lines = [
        f"latency {tree.get('latency', 0):.2f} s, cpu {tree.get('cpu_time', 0):.2f} s, "
        f"peak buffer memory {tree.get('system_peak_buffer_memory', 0) / 2**20:.0f} MiB, "
        f"rows scanned {tree.get('cumulative_rows_scanned', 0)}"
    ]

    ops: list[tuple[float, int, str, str]] = []

    def walk(node: dict[str, Any]) -> None:
        for child in node.get("children", []):
            info = json.dumps(child.get("extra_info", {}))[:110]
            ops.append(
                (
                    float(child.get("operator_timing", 0.0)),
                    int(child.get("operator_cardinality", 0)),
                    str(child.get("operator_name", "?")),
                    info,
                )
            )
            walk(child)

    walk(tree)
    lines.append(f"the {top} slowest of {len(ops)} operators:")
    for seconds, rows, name, info in sorted(ops, reverse=True)[:top]:
        lines.append(f"  {name}: {seconds:.2f} s, {rows} rows; {info}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", type=Path, required=True)
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--threads", type=int, help="DuckDB SET threads")
    p.add_argument("--memory-limit", help="DuckDB SET memory_limit, e.g. 1GB")
    p.add_argument("--explain", action="store_true", help="DuckDB profile of the slowest query")
    p.add_argument(
        "--full", action="store_true", help="summarise every window again (check --full)"
    )
    p.add_argument("--out", type=Path, help="write the measurements as JSON")
    a = p.parse_args(argv)

    current: list[str] = []
    building: list[float] = []
    for name in summary_builders():
        setattr(checks, name, _building(getattr(checks, name), building))
    Queries.run = _naming(current)  # type: ignore[method-assign]
    calibrations: list[dict[str, Any]] = []
    methods.Resampler.bound = _calibration_probe(calibrations)  # type: ignore[method-assign]

    t_open = time.perf_counter()
    mon = connect(a.store, a.spec)
    con = mon.store.con
    if a.threads:
        con.execute(f"SET threads = {int(a.threads)}")
    if a.memory_limit:
        con.execute("SET memory_limit = ?", [a.memory_limit])
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('threads', 'memory_limit')"
        ).fetchall()
    )
    engine = TimedEngine(mon.engine.backend, current)
    mon._engine = engine  # the engine the check runs on (Monitor.engine caches it)
    assert mon.engine is engine
    assert mon.source_engine is engine
    t0 = time.perf_counter()
    report = mon.check(persist=False, full=a.full)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    report.to_json()
    to_json = time.perf_counter() - t1

    print(f"duckdb settings: {settings}; open {t0 - t_open:.2f} s")
    print(f"check: {total:.2f} s, {len(report.results)} results, {len(report.alerts)} alerts")
    print(f"report.to_json: {to_json:.2f} s; peak RSS {peak_rss_mib():.0f} MiB\n")
    print("| summary | scope | how | compile s | total s | rows | SQL chars | peak RSS MiB |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for q in engine.queries:
        print(
            f"| {q.summary} | {q.scope} | {q.how} | {q.compile_seconds:.2f} | {q.seconds:.2f} "
            f"| {q.rows} | {q.sql_chars} | {q.peak_rss_mib:.0f} |"
        )
    q_total = sum(q.seconds for q in engine.queries)
    print(f"\nqueries: {q_total:.2f} s of {total:.2f} s")

    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for c in calibrations:
        groups[(c["method"], c["bins"])].append(c)
    cal_total = sum(c["seconds"] for c in calibrations)
    print(f"calibrations: {len(calibrations)} calls, {cal_total:.2f} s")
    print("| method | bins | calls | seconds | max RSS growth MiB |")
    print("|---|---:|---:|---:|---:|")
    for (method, bins), cs in sorted(
        groups.items(), key=lambda kv: -sum(c["seconds"] for c in kv[1])
    ):
        print(
            f"| {method} | {bins} | {len(cs)} | {sum(c['seconds'] for c in cs):.2f} "
            f"| {max(c['rss_growth_mib'] for c in cs):.0f} |"
        )
    # the SQL this tool compiles to show it is compiled again when the query runs: not
    # part of a check; building the queries' expressions is the engine's side
    compiled = sum(q.compile_seconds for q in engine.queries)
    built = sum(building)
    print(f"building query expressions (summary builders): {built:.2f} s")
    print(f"compiling SQL for this table (not part of a check): {compiled:.2f} s")
    rest = total - q_total - cal_total - compiled - built
    print(f"rest (Python evaluation, results): {rest:.2f} s")

    if a.explain and engine.queries:
        slow = max(engine.queries, key=lambda q: q.seconds)
        print(f"\nDuckDB profile of the slowest query ({slow.summary}, {slow.scope}):")
        print(explain(con, slow.sql))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "settings": settings,
            "check_seconds": total,
            "peak_rss_mib": peak_rss_mib(),
            "queries": [{k: v for k, v in asdict(q).items() if k != "sql"} for q in engine.queries],
            "calibrations": calibrations,
        }
        a.out.write_text(json.dumps(data, indent=1) + "\n")
    mon.close()


if __name__ == "__main__":
    main()
