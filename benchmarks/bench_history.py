"""What a check costs as history grows: the first check of a long history, then one more
day logged and checked, day after day.

Data (``generate.py``'s 20-feature generator, 4-value cohort, daily windows): ``--days``
days of history plus ``--next`` more days, ``--rows-per-day`` rows each, written once
under ``--data`` (git-ignored) and split by day with DuckDB. Every command runs as a
whole process (``python -m driftline``), timed by wall clock around it:

1. ``init`` a store, ``log --reference``, ``log`` the history as one batch, then the
   first ``check`` (every window summarised and evaluated);
2. ``--next`` times: ``log`` one more day (its own batch) and ``log --labels`` its labels
   (timed against the same day logged into a store without history: what a log costs
   should not grow with the history either), ``check`` again (incremental:
   that day summarised and evaluated, every other window read from the store), then
   the anchor: ``check --full`` of a store holding only the first of those days (the
   same work as the next-day check, in the same minutes);
3. the store's result rows against the distinct (window, scope, check, column) keys.

``--labelled``: the reference gets labels (the predicted class, the next class for one
id in ten), so the performance checks run, and the history's labels are logged before
the first check; each next day's labels then change the performance of that day's
window (results in ``history-<days>-labelled.json``).

``--store`` reuses a store of step 1 (the ~10 minutes of the 365-day first check): it
is copied, with its profile; ``--keep-store DIR`` keeps one (copied after the first
check). A store made with ``--labelled`` is reused only with ``--labelled``, and one made
without only without. Each command's CPU seconds (user + system, from
``getrusage``) are reported next to its wall seconds: on a shared machine they vary
less.

Usage::

    python benchmarks/bench_history.py --days 90 --next 5
    python benchmarks/bench_history.py --days 365 --next 30
    python benchmarks/bench_history.py --days 90 --next 5 --labelled

prints a Markdown table and writes ``benchmarks/results/history-<days>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    """Run ``python -m driftline ARGS`` in ``cwd``; its wall seconds (its CPU seconds,
    user + system, are added to ``CPU``)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "driftline", *args], cwd=cwd, env=env, capture_output=True
    )
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode not in ok:
        raise SystemExit(
            f"driftline {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}"
        )
    return took


#: a row's label: its predicted class, but the next class for one id in ten (hashed), so
#: the model is right about 90 % of the time
LABEL = (
    "CASE WHEN hash(id) % 10 = 0 THEN CASE prediction WHEN 'a' THEN 'b' WHEN 'b' THEN 'c' "
    "ELSE 'a' END ELSE prediction END"
)


def _labels_of(day: str, path: Path, *, whole: bool = False) -> str:
    """Write the labels of the predictions in ``day`` (:data:`LABEL`) to ``path`` (with
    ``whole``, every column of ``day`` and its label: a labelled reference); its path."""
    import duckdb

    cols = "*" if whole else "id"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT {cols}, {LABEL} AS label FROM read_parquet(?)) TO "
            f"'{path.as_posix()}' (FORMAT parquet)",
            [day],
        )
    return path.as_posix()


#: CPU seconds of each command run, in order
CPU: list[float] = []


def prepare(data: Path, days: int, more: int, per_day: int) -> None:
    """Write reference, history and one file per next day into ``data`` (once)."""
    import duckdb

    meta = data / "meta.json"
    want = {"days": days, "next": more, "rows_per_day": per_day}
    if meta.exists():
        have = json.loads(meta.read_text()).get("layout") or {}
        # fewer next days than written: the same files (the generator's draws depend on
        # the total, so writing fewer would change every day, history included)
        if {**have, "next": more} == want and have.get("next", -1) >= more:
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
    p.add_argument("--data", type=Path, default=None, help="default: benchmarks/data/history-D")
    p.add_argument("--work", type=Path, default=Path("/tmp/driftline-bench-history"))
    p.add_argument(
        "--store",
        type=Path,
        default=None,
        help="a store of this history already logged and checked once (e.g. the "
        "driftline.duckdb a previous run left in --work/history): copied, and its first "
        "check not run again",
    )
    p.add_argument(
        "--keep-store",
        type=Path,
        default=None,
        help="a folder to copy the store into after its first check (with its profile), "
        "for later runs' --store",
    )
    p.add_argument(
        "--labelled",
        action="store_true",
        help="a labelled reference (performance checks on) and the history's labels "
        "logged before the first check",
    )
    a = p.parse_args(argv)
    data = a.data or HERE / "data" / f"history-{a.days}"
    prepare(data, a.days, a.next, a.rows_per_day)
    # driftline's bytecode as `pip install` leaves it: without it every command compiles
    # its modules again (about 0.15 s) wherever PYTHONDONTWRITEBYTECODE is set
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(SRC)], check=True)
    if a.store is not None:
        import duckdb

        with duckdb.connect(a.store.as_posix(), read_only=True) as con:
            has = con.execute("SELECT count(*) FROM labels").fetchone()[0] > 0
        if has != a.labelled:
            p.error(
                f"--store {a.store} holds {'the' if has else 'no'} history's labels: it was "
                f"made {'with' if has else 'without'} --labelled, and is reused only so"
            )
    for opt, path in (("--store", a.store), ("--keep-store", a.keep_store)):
        if path is not None and path.resolve().is_relative_to(a.work.resolve()):
            p.error(f"{opt} {path} is under --work {a.work}, which is emptied first")
    shutil.rmtree(a.work, ignore_errors=True)
    big, one = a.work / "history", a.work / "one-day"
    spec = (data / "driftline.yaml").read_text()
    if a.labelled:
        spec += "label: label\n"
    for d in (big, one):
        d.mkdir(parents=True)
        (d / "driftline.yaml").write_text(spec)
    out: dict[str, Any] = {
        "labelled": a.labelled,
        "days": a.days,
        "rows_per_day": a.rows_per_day,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": "2 cores shared with other work: wall times are noisy",
        "load_average": [],
    }
    ref = (data / "reference.parquet").as_posix()
    if a.labelled:
        ref = _labels_of(ref, a.work / "reference-labelled.parquet", whole=True)
    _run(["log", "--reference", ref], one, ok=(0,))
    # the anchor of a next-day log: the same rows logged into a store without history
    out["one_day_log_s"] = _run(["log", (data / "day1.parquet").as_posix()], one, ok=(0,))
    out["one_day_log_cpu_s"] = CPU[-1]
    labels = _labels_of((data / "day1.parquet").as_posix(), a.work / "labels-one-day.parquet")
    out["one_day_labels_s"] = _run(["log", "--labels", labels], one, ok=(0,))
    out["one_day_labels_cpu_s"] = CPU[-1]
    out["one_day_first_check_s"] = round(_run(["check"], one), 3)
    if a.store is None:
        _run(["log", "--reference", ref], big, ok=(0,))
        out["log_history_s"] = _run(["log", (data / "history.parquet").as_posix()], big, ok=(0,))
        if a.labelled:
            history = (data / "history.parquet").as_posix()
            labels = _labels_of(history, a.work / "history-labels.parquet")
            out["log_history_labels_s"] = _run(["log", "--labels", labels], big, ok=(0,))
        out["first_check_s"] = _run(["check"], big)
        out["first_check_cpu_s"] = CPU[-1]
        if a.keep_store is not None:
            a.keep_store.mkdir(parents=True, exist_ok=True)
            for name in ("driftline.duckdb", "driftline.duckdb.wal", "driftline.profile.json"):
                (a.keep_store / name).unlink(missing_ok=True)  # a stale log would be replayed
                if (big / name).exists():
                    shutil.copy(big / name, a.keep_store / name)
    else:
        shutil.copy(a.store, big / "driftline.duckdb")
        wal = Path(f"{a.store}.wal")  # a check's writes may still be in the log
        if wal.exists():
            shutil.copy(wal, big / "driftline.duckdb.wal")
        shutil.copy(a.store.with_suffix(".profile.json"), big / "driftline.profile.json")
        out["first_check_s"] = None  # reused
    # the next-day checks, each followed by the anchor: the one-day store's check of the
    # same work (--full), in the same minutes
    next_checks, next_cpu, next_logs, single, single_cpu = [], [], [], [], []
    next_logs_cpu: list[float] = []
    label_logs: list[float] = []
    label_logs_cpu: list[float] = []
    for k in range(a.next):
        day = (data / f"day{k + 1}.parquet").as_posix()
        next_logs.append(_run(["log", day], big, ok=(0,)))
        next_logs_cpu.append(CPU[-1])
        labels = _labels_of(day, a.work / f"labels{k + 1}.parquet")
        label_logs.append(_run(["log", "--labels", labels], big, ok=(0,)))
        label_logs_cpu.append(CPU[-1])
        next_checks.append(_run(["check"], big))
        next_cpu.append(CPU[-1])
        single.append(_run(["check", "--full"], one))
        single_cpu.append(CPU[-1])
        out["load_average"].append(round(os.getloadavg()[0], 1))
        print(
            f"day {k + 1}: log {next_logs[-1]:.2f} s ({next_logs_cpu[-1]:.2f} CPU s), "
            f"labels {label_logs[-1]:.2f} s ({label_logs_cpu[-1]:.2f} CPU s), "
            f"check {next_checks[-1]:.2f} s ({next_cpu[-1]:.2f} CPU s), one-day "
            f"store {single[-1]:.2f} s ({single_cpu[-1]:.2f} CPU s), load "
            f"{out['load_average'][-1]}",
            flush=True,
        )
    out["next_day_checks_s"] = [round(x, 3) for x in next_checks]
    out["next_day_checks_cpu_s"] = [round(x, 3) for x in next_cpu]
    out["next_day_check_median_s"] = statistics.median(next_checks)
    out["next_day_check_median_cpu_s"] = statistics.median(next_cpu)
    out["next_day_logs_s"] = [round(x, 3) for x in next_logs]
    out["next_day_log_median_s"] = statistics.median(next_logs)
    out["next_day_log_median_cpu_s"] = statistics.median(next_logs_cpu)
    out["next_day_labels_median_s"] = statistics.median(label_logs)
    out["next_day_labels_median_cpu_s"] = statistics.median(label_logs_cpu)
    out["same_data_check_s"] = _run(["check"], big)
    out["one_day_checks_s"] = [round(x, 3) for x in single]
    out["one_day_checks_cpu_s"] = [round(x, 3) for x in single_cpu]
    out["one_day_check_median_s"] = statistics.median(single)
    out["one_day_check_median_cpu_s"] = statistics.median(single_cpu)
    out["ratio"] = out["next_day_check_median_s"] / out["one_day_check_median_s"]
    out["ratio_cpu"] = out["next_day_check_median_cpu_s"] / out["one_day_check_median_cpu_s"]
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
    results = HERE / "results" / f"history-{a.days}{'-labelled' if a.labelled else ''}.json"
    results.parent.mkdir(exist_ok=True)
    results.write_text(json.dumps(out, indent=1) + "\n")
    first = "reused" if out["first_check_s"] is None else f"{out['first_check_s']:.1f} s"
    print(
        f"| history | first check | next-day check (median of {a.next}) | one-day store "
        f"check (median of {len(single)}) | ratio (wall; CPU) | result rows / keys | load |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {a.days} d x {a.rows_per_day:,} rows | {first} | "
        f"{out['next_day_check_median_s']:.2f} s ({out['next_day_check_median_cpu_s']:.2f} CPU s)"
        f" | {out['one_day_check_median_s']:.2f} s ({out['one_day_check_median_cpu_s']:.2f} CPU "
        f"s) | {out['ratio']:.2f}x; {out['ratio_cpu']:.2f}x | {rows:,} / {keys:,} | "
        f"{min(out['load_average'])}-{max(out['load_average'])} |"
    )
    print(
        f"next-day log (median of {a.next}): {out['next_day_log_median_s']:.2f} s "
        f"({out['next_day_log_median_cpu_s']:.2f} CPU s); the same day logged into a store "
        f"without history: {out['one_day_log_s']:.2f} s ({out['one_day_log_cpu_s']:.2f} CPU s); "
        f"the day's labels: {out['next_day_labels_median_s']:.2f} s "
        f"({out['next_day_labels_median_cpu_s']:.2f} CPU s; without history "
        f"{out['one_day_labels_s']:.2f} s, {out['one_day_labels_cpu_s']:.2f} CPU s)"
    )


if __name__ == "__main__":
    main()
