"""What a check costs as history grows: the first check of a long history, then one more
day logged and checked, day after day.

Data (``generate.py``'s 20-feature generator, 4-value cohort, daily windows): ``--days``
days of history plus ``--next`` more days, ``--rows-per-day`` rows each, written once
under ``--data`` (git-ignored) and split by day with DuckDB. Every command runs as a
whole process (``python -m driftline``), timed by wall clock around it:

1. ``init`` a store, ``log --reference``, ``log`` the history as one batch, then the
   first ``check`` (every window summarised and evaluated);
2. ``--next`` times: ``log`` one more day (its own batch), ``check`` again (incremental:
   that day summarised and evaluated, every other window read from the store);
3. a store holding only the first of those days: ``check`` once, then ``--repeat``
   times ``check --full`` (the same work), the anchor the next-day check is compared
   with;
4. the store's result rows against the distinct (window, scope, check, column) keys.

Usage::

    python benchmarks/bench_history.py --days 90 --next 5
    python benchmarks/bench_history.py --days 365 --next 30

prints a Markdown table and writes ``benchmarks/results/history-<days>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

SRC = HERE.parent / "src"


def _run(args: list[str], cwd: Path, ok: tuple[int, ...] = (0, 1)) -> float:
    """Run ``python -m driftline ARGS`` in ``cwd``; its wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "driftline", *args], cwd=cwd, env=env, capture_output=True
    )
    took = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise SystemExit(
            f"driftline {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}"
        )
    return took


def prepare(data: Path, days: int, more: int, per_day: int) -> None:
    """Write reference, history and one file per next day into ``data`` (once)."""
    import duckdb

    meta = data / "meta.json"
    want = {"days": days, "next": more, "rows_per_day": per_day}
    if meta.exists() and json.loads(meta.read_text()).get("layout") == want:
        return
    data.mkdir(parents=True, exist_ok=True)
    total = days + more
    t0 = time.perf_counter()
    generate.write(data / "reference.parquet", 100_000, seed=1, days=days, prefix="r")
    generate.write(data / "all.parquet", total * per_day, seed=0, days=total)
    sys.path.insert(0, str(SRC))
    from driftline.spec import load_spec

    load_spec(generate.spec_dict()).save(data / "driftline.yaml")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    start = generate.START.replace(tzinfo=None)
    src = (data / "all.parquet").as_posix()

    def cut(name: str, a: int, b: int) -> None:
        lo = start.timestamp() + a * 86400
        hi = start.timestamp() + b * 86400
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{src}') WHERE epoch(ts) >= {lo} "
            f"AND epoch(ts) < {hi}) TO '{(data / name).as_posix()}' (FORMAT parquet)"
        )

    cut("history.parquet", 0, days)
    # the next days are small: read them once, then write one file per day
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lo = start.timestamp() + days * 86400
    rest = con.execute(
        f"SELECT *, CAST(floor((epoch(ts) - {lo}) / 86400) AS BIGINT) AS __day "
        f"FROM read_parquet('{src}') WHERE epoch(ts) >= {lo}"
    ).to_arrow_table()
    for k in range(more):
        part = rest.filter(pc.equal(rest["__day"], k)).drop_columns(["__day"])
        pq.write_table(part, data / f"day{k + 1}.parquet")
    (data / "all.parquet").unlink()
    meta.write_text(
        json.dumps({"layout": want, "seconds": round(time.perf_counter() - t0, 1)}) + "\n"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--next", type=int, default=30, help="days logged and checked one by one")
    p.add_argument("--rows-per-day", type=generate.parse_rows, default=100_000)
    p.add_argument("--repeat", type=int, default=3, help="checks of the one-day store")
    p.add_argument("--data", type=Path, default=None, help="default: benchmarks/data/history-D")
    p.add_argument("--work", type=Path, default=Path("/tmp/driftline-bench-history"))
    a = p.parse_args(argv)
    data = a.data or HERE / "data" / f"history-{a.days}"
    prepare(data, a.days, a.next, a.rows_per_day)
    shutil.rmtree(a.work, ignore_errors=True)
    big, one = a.work / "history", a.work / "one-day"
    for d in (big, one):
        d.mkdir(parents=True)
        shutil.copy(data / "driftline.yaml", d / "driftline.yaml")
    out: dict[str, Any] = {
        "days": a.days,
        "rows_per_day": a.rows_per_day,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": "2 cores shared with other work: wall times are noisy",
    }
    ref = (data / "reference.parquet").as_posix()
    _run(["log", "--reference", ref], big, ok=(0,))
    out["log_history_s"] = _run(["log", (data / "history.parquet").as_posix()], big, ok=(0,))
    out["first_check_s"] = _run(["check"], big)
    next_checks, next_logs = [], []
    for k in range(a.next):
        day = (data / f"day{k + 1}.parquet").as_posix()
        next_logs.append(_run(["log", day], big, ok=(0,)))
        next_checks.append(_run(["check"], big))
        print(f"day {k + 1}: check {next_checks[-1]:.2f} s", flush=True)
    out["next_day_checks_s"] = [round(x, 3) for x in next_checks]
    out["next_day_check_median_s"] = statistics.median(next_checks)
    out["next_day_log_median_s"] = statistics.median(next_logs)
    out["same_data_check_s"] = _run(["check"], big)
    _run(["log", "--reference", ref], one, ok=(0,))
    _run(["log", (data / "day1.parquet").as_posix()], one, ok=(0,))
    single = [_run(["check"], one)]
    single += [_run(["check", "--full"], one) for _ in range(a.repeat)]
    out["one_day_checks_s"] = [round(x, 3) for x in single]
    out["one_day_check_median_s"] = statistics.median(single)
    out["ratio"] = out["next_day_check_median_s"] / out["one_day_check_median_s"]
    import duckdb

    with duckdb.connect((big / "driftline.duckdb").as_posix(), read_only=True) as con:
        rows, keys, alerts, alert_keys = con.execute(
            "SELECT (SELECT count(*) FROM results), (SELECT count(*) FROM (SELECT DISTINCT "
            'window_start, cohort, cohort_value, "check", "column" FROM results)), '
            "(SELECT count(*) FROM alerts), (SELECT count(*) FROM (SELECT DISTINCT "
            'window_start, cohort, cohort_value, "check", "column" FROM alerts))'
        ).fetchone()
        out["result_rows"], out["result_keys"] = rows, keys
        out["alert_rows"], out["alert_keys"] = alerts, alert_keys
        out["runs"] = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    results = HERE / "results" / f"history-{a.days}.json"
    results.parent.mkdir(exist_ok=True)
    results.write_text(json.dumps(out, indent=1) + "\n")
    print(
        "| history | first check | next-day check (median of "
        f"{a.next}) | one-day store check (median of {len(single)}) | ratio | "
        "result rows / keys |\n|---|---|---|---|---|---|\n"
        f"| {a.days} d x {a.rows_per_day:,} rows | {out['first_check_s']:.1f} s | "
        f"{out['next_day_check_median_s']:.2f} s | {out['one_day_check_median_s']:.2f} s | "
        f"{out['ratio']:.2f}x | {rows:,} / {keys:,} |"
    )


if __name__ == "__main__":
    main()
