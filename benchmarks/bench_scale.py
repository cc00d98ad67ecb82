"""driftline's full check at 10M and 100M rows on DuckDB and Spark, and the anchors.

Data (:mod:`scale_data`, generated once): ``predictions/day=YYYY-MM-DD/part-0.parquet``,
one file per day over 10 days (1M or 10M rows a day), a 100k-row reference, the spec,
under ``/work/main/benchmarks/data/scale-10m`` and ``scale-100m``. The reference is
logged into a small DuckDB store next to it (the profile is fitted there and the alert
bounds cached); the predictions are never copied: each check reads the Parquet files in
place.

Jobs, each a whole child process (its wall time, the CPU seconds and the peak resident
memory of its whole process tree, sampled from ``/proc`` every 0.2 s: Spark's JVM and
its Python workers are children of the driver's Python, and ``/usr/bin/time`` would
only see one process):

- ``duckdb-cli`` / ``spark-cli``: ``driftline check --engine duckdb|spark --predictions
  DIR --json --no-persist``, the command a user runs, on a fresh copy of the reference
  store each run (so each run is the first check of the directory: every file is
  validated by the ingest rules once, then summarised); DuckDB with its default memory
  limit, Spark ``local[2]`` with ``--driver-memory``;
- ``duckdb``: :mod:`scale_runner` on DuckDB (``--memory-limit``, default 6GB);
- ``spark``: :mod:`scale_runner` on Spark ``local[2]`` (``--driver-memory``, default 4g);
- ``whylogs``: :mod:`whylogs_runner` in ``benchmarks/.venv-whylogs`` (streamed in 1M-row
  batches, one profile and drift report per day);
- ``nannyml``: :mod:`nannyml_scale_runner` in ``benchmarks/.venv-nannyml`` (one DataFrame,
  chunked by day);
- ``evidently``: :mod:`evidently_runner` in ``benchmarks/.venv-evidently``
  (``DataDriftPreset``; ``evidently`` is one report per day file, ``evidently-whole``
  one report on all rows).

Anchors run under an address-space cap (``--anchor-cap``, default 12 GiB, via
``RLIMIT_AS`` in the child) and every job under a time cap (``--timeout``, default 20
min): a run that hits either is recorded as ``OOM`` or ``DNF`` with how far it got. The
JVM reserves far more address space than it touches, so the driftline jobs are capped
by their engine's own memory settings instead.

Usage::

    python benchmarks/bench_scale.py --jobs duckdb:10m duckdb:100m --repeat 2
    python benchmarks/bench_scale.py --jobs spark:10m whylogs:10m nannyml:10m evidently:10m
    python benchmarks/bench_scale.py --table          # print the tables from scale.json

Results are merged into ``benchmarks/results/scale.json`` (one entry per job and size,
replaced when run again), under a file lock so two runs can share it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import CATEGORICAL, NUMERIC  # noqa: E402

DATA = Path("/work/main/benchmarks/data")
RESULTS = HERE / "results" / "scale.json"
SIZES = {"10m": 10_000_000, "100m": 100_000_000}
MIB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
FEATURES = [f.name for f in NUMERIC] + list(CATEGORICAL)


def venv(name: str) -> Path:
    """The anchor's interpreter: ``benchmarks/.venv-NAME``, here or in the main checkout."""
    for base in (HERE, DATA.parent):
        python = base / f".venv-{name}" / "bin" / "python"
        if python.exists():
            return python
    raise SystemExit(f"no benchmarks/.venv-{name}; run `bash benchmarks/setup_{name}.sh` first")


# -- the process tree ---------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int, int] | None:
    """``(parent pid, CPU ticks user + system, resident pages)`` of ``pid``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        with open(f"/proc/{pid}/statm", "rb") as f:
            rss = int(f.read().split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[11]) + int(fields[12]), rss


def tree(root: int) -> dict[int, tuple[int, int]]:
    """``{pid: (CPU ticks, resident pages)}`` of ``root`` and every descendant."""
    info: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                info[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in info.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in info:
            out[pid] = (info[pid][1], info[pid][2])
            todo.extend(children.get(pid, []))
    return out


def measure(
    cmd: list[str], *, env: dict[str, str], cap_bytes: int | None, timeout: float
) -> dict[str, Any]:
    """Run ``cmd`` as a child in its own process group; sample its tree every 0.2 s."""

    def limit() -> None:
        if cap_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=HERE,
        start_new_session=True,
        preexec_fn=limit,
    )
    out_path: list[bytes] = []
    err_path: list[bytes] = []

    def drain(stream: Any, sink: list[bytes]) -> None:
        for line in stream:
            sink.append(line)

    threads = [
        threading.Thread(target=drain, args=(proc.stdout, out_path), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, err_path), daemon=True),
    ]
    for t in threads:
        t.start()
    peak, cpu, loads, timed_out = 0, {}, [load0], False
    # os.wait4 with WNOHANG, not Popen.poll: poll would reap the child and lose its rusage
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        seen = tree(proc.pid)
        peak = max(peak, sum(rss for _, rss in seen.values()))
        for child, (ticks, _) in seen.items():
            cpu[child] = max(cpu.get(child, 0), ticks)
        if not timed_out and time.perf_counter() - t0 > timeout:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
        if len(loads) * 30 < time.perf_counter() - t0:
            loads.append(os.getloadavg()[0])
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    with contextlib.suppress(ProcessLookupError):  # what the group left (an orphaned JVM)
        os.killpg(proc.pid, signal.SIGKILL)
    for t in threads:
        t.join(timeout=5)
    loads.append(os.getloadavg()[0])
    tree_cpu = sum(cpu.values()) / TICK
    stdout = b"".join(out_path).decode(errors="replace")
    stderr = b"".join(err_path).decode(errors="replace")
    return {
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "seconds": round(wall, 2),
        # the larger of: what wait4 counted (the child and the children it reaped) and
        # the last sample of every process of the tree (a JVM that is never reaped)
        "cpu_seconds": round(max(usage.ru_utime + usage.ru_stime, tree_cpu), 2),
        "peak_rss_mib": round(peak * PAGE / MIB, 1),
        "load": [round(x, 2) for x in loads],
        "stdout": stdout,
        "stderr_tail": stderr[-1500:],
    }


# -- data and jobs ------------------------------------------------------------------------
def prepare(size: str, env: dict[str, str]) -> Path:
    """The size's data folder, generated and its reference logged if missing."""
    data = DATA / f"scale-{size}"
    if not (data / "meta.json").exists():
        subprocess.run(
            [sys.executable, str(HERE / "scale_data.py"), "--rows", size, "--out", str(data)],
            check=True,
            env=env,
        )
    if not (data / "reference.duckdb").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "driftline.cli",
                "log",
                "--reference",
                str(data / "reference.parquet"),
                "--spec",
                str(data / "driftline.yaml"),
                "--store",
                str(data / "reference.duckdb"),
            ],
            check=True,
            env=env,
        )
    return data


def command(job: str, data: Path, a: argparse.Namespace) -> tuple[list[str], int | None]:
    """The child's command line and its address-space cap (None: none)."""
    runner = [
        "--data",
        str(data),
        "--store",
        str(data / "reference.duckdb"),
        "--spec",
        str(data / "driftline.yaml"),
    ]
    cap = int(a.anchor_cap * 2**30)
    if job in ("duckdb-cli", "spark-cli"):
        # the command a user runs: the files read in place through driftline's sources
        # (each file validated by the ingest rules on first sight), on a fresh copy of
        # the reference store each run, so every run is a lake's first check
        store = Path(tempfile.mkdtemp(prefix="driftline-scale-")) / "store.duckdb"
        shutil.copy(data / "reference.duckdb", store)
        engine = job.removesuffix("-cli")
        spark = ["--spark-conf", f"spark.driver.memory={a.driver_memory}"]
        return [
            sys.executable,
            "-m",
            "driftline.cli",
            "check",
            "--engine",
            engine,
            "--predictions",
            str(data / "predictions"),
            "--spec",
            str(data / "driftline.yaml"),
            "--store",
            str(store),
            "--json",
            "--no-persist",
            *(spark if engine == "spark" else []),
        ], None
    if job == "duckdb":
        return [
            sys.executable,
            str(HERE / "scale_runner.py"),
            "--engine",
            "duckdb",
            "--memory-limit",
            a.memory_limit,
            *runner,
        ], None
    if job == "spark":
        return [
            sys.executable,
            str(HERE / "scale_runner.py"),
            "--engine",
            "spark",
            "--driver-memory",
            a.driver_memory,
            *runner,
        ], None
    reference, days = str(data / "reference.parquet"), str(data / "predictions")
    if job == "whylogs":
        return [
            str(venv("whylogs")),
            str(HERE / "whylogs_runner.py"),
            "--reference",
            reference,
            "--days",
            days,
            "--columns",
            "prediction",
            "score_a",
            "score_b",
            "score_c",
            *FEATURES,
        ], cap
    if job in ("nannyml", "nannyml-per-day"):
        return [
            str(venv("nannyml")),
            str(HERE / "nannyml_scale_runner.py"),
            "--reference",
            reference,
            "--days",
            days,
            "--timestamp",
            "ts",
            "--mode",
            "whole" if job == "nannyml" else "per-day",
            "--columns",
            *FEATURES,
        ], cap
    if job in ("evidently", "evidently-whole"):
        files = sorted(str(p) for p in (data / "predictions").glob("day=*/*.parquet"))
        whole = DATA / size_of(data) / "predictions.parquet"  # the same rows in one file
        current = [str(whole)] if job == "evidently-whole" else files
        return [
            str(venv("evidently")),
            str(HERE / "evidently_runner.py"),
            "--reference",
            reference,
            "--current",
            *current,
            "--numeric",
            *[f.name for f in NUMERIC],
            "--categorical",
            *CATEGORICAL,
        ], cap
    raise SystemExit(f"unknown job {job!r}")


def size_of(data: Path) -> str:
    return data.name.removeprefix("scale-")


def last_json(text: str) -> dict[str, Any] | None:
    """The last line of ``text`` that is a JSON object.

    >>> last_json('noise\\n{"a": 1}\\n{"b": 2}\\n')
    {'b': 2}
    >>> last_json("nothing") is None
    True
    """
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def cli_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """What ``driftline check --json`` decided, small enough to keep: results by status,
    the alerts and incidents counted, and a digest of every (window, scope, check,
    column) -> status decision, equal between two runs that decided alike.

    >>> r = {"results": [{"window_start": "w", "check": "c", "status": "ok"}], "alerts": []}
    >>> cli_summary(r)["statuses"]
    {'ok': 1}
    """
    if report is None:
        return None
    results = report.get("results", [])
    keys = sorted(
        json.dumps(
            [r.get(k) for k in ("window_start", "cohort", "cohort_value", "check", "column")]
            + [r.get("status")]
        )
        for r in results
    )
    return {
        "results": len(results),
        "statuses": dict(Counter(r.get("status") for r in results)),
        "alerts": len(report.get("alerts", [])),
        "incidents": len(report.get("incidents", [])),
        "decisions_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
    }


def outcome(run: dict[str, Any], cap_gib: float | None) -> str:
    """``ok``, ``OOM`` or ``DNF`` (time cap), or ``failed (exit N)``."""
    if run["timed_out"]:
        return "DNF"
    if run["exit_code"] == 0:
        return "ok"
    text = run["stderr_tail"]
    if "MemoryError" in text or "Unable to allocate" in text or "OutOfMemory" in text:
        return "OOM"
    if run["exit_code"] == -9 and cap_gib:
        return "OOM"
    return f"failed (exit {run['exit_code']})"


def run_job(
    job: str, size: str, a: argparse.Namespace, env: dict[str, str], prior: list[dict[str, Any]]
) -> dict[str, Any]:
    """Run ``job`` at ``size`` ``--repeat`` times; its entry holds ``prior`` runs too (the
    runs ``--add`` keeps, of the same command)."""
    data = prepare(size, env)
    cmd, cap = command(job, data, a)
    runs = list(prior)
    for i in range(a.repeat):
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        print(f"{job} {size} run {i + 1}/{a.repeat} at {started} ...", flush=True)
        if job.endswith("-cli"):  # every run a first check: the store as before the first
            store = Path(cmd[cmd.index("--store") + 1])
            Path(f"{store}.wal").unlink(missing_ok=True)
            shutil.copy(data / "reference.duckdb", store)
        run = measure(cmd, env=env, cap_bytes=cap, timeout=a.timeout * 60)
        run["started_at"] = started
        run["outcome"] = outcome(run, a.anchor_cap if cap else None)
        if job in ("duckdb", "spark"):
            run["report"] = last_json(run["stdout"])
        elif job.endswith("-cli"):  # the command's whole report, kept as its digest
            run["report"] = cli_summary(last_json(run["stdout"]))
        else:
            run["events"] = [
                json.loads(x) for x in run["stdout"].splitlines() if x.startswith("{")
            ][-40:]
        del run["stdout"]
        print(
            f"  {run['outcome']}: {run['seconds']} s wall, {run['cpu_seconds']} CPU s, "
            f"peak {run['peak_rss_mib']} MiB, load {run['load']}",
            flush=True,
        )
        runs.append(run)
        if run["outcome"] != "ok" and not (job.endswith("-cli") and run["exit_code"] == 1):
            break
    ok = [r for r in runs if r["outcome"] == "ok"]
    # a first check that calibrated alert bounds is reported apart from the later ones
    warm = [r for r in ok if not (r.get("report") or {}).get("new_calibrations")]
    pick = warm or ok
    entry: dict[str, Any] = {
        "job": job,
        "size": size,
        "rows": SIZES[size],
        "command": " ".join(cmd),
        "cap_gib": a.anchor_cap if cap else None,
        "timeout_min": a.timeout,
        "outcome": "ok" if ok else runs[-1]["outcome"],
        "runs": runs,
    }
    if pick:
        entry.update(
            median_seconds=round(statistics.median(r["seconds"] for r in pick), 2),
            median_cpu_seconds=round(statistics.median(r["cpu_seconds"] for r in pick), 2),
            peak_rss_mib=max(r["peak_rss_mib"] for r in ok),
            runs_in_median=len(pick),
        )
    else:
        entry.update(
            seconds=runs[-1]["seconds"],
            peak_rss_mib=runs[-1]["peak_rss_mib"],
            stderr_tail=runs[-1]["stderr_tail"][-400:],
        )
    if job == "duckdb":
        entry["memory_limit"] = a.memory_limit
    if job == "spark":
        entry["driver_memory"] = a.driver_memory
    return entry


def merge(entry: dict[str, Any]) -> None:
    """Put ``entry`` into ``scale.json`` (replacing the same job and size), under a lock."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        doc["machine"] = {
            "cpus": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
        }
        entries = [
            e
            for e in doc.get("entries", [])
            if (e["job"], e["size"]) != (entry["job"], entry["size"])
        ]
        entries.append(entry)
        doc["entries"] = sorted(entries, key=lambda e: (SIZES[e["size"]], e["job"]))
        tmp = RESULTS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        tmp.replace(RESULTS)


def table(doc: dict[str, Any]) -> str:
    """The Markdown table of ``scale.json``."""
    rows = [
        "| tool | size | outcome | wall s (median) | CPU s (median) | peak RSS MiB (tree) "
        "| runs | load | note |",
        "|---|---|---|---:|---:|---:|---|---|---|",
    ]
    for e in doc.get("entries", []):
        loads = [x for r in e["runs"] for x in r["load"]]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else ""
        wall = e.get("median_seconds", e.get("seconds"))
        cpu = e.get("median_cpu_seconds", e["runs"][-1]["cpu_seconds"])
        rows.append(
            f"| {e['job']} | {e['size']} | {e['outcome']} | {wall} | {cpu} | "
            f"{e['peak_rss_mib']:,.0f} | {len(e['runs'])} | {load} | {e.get('note', '')} |"
        )
    rows += [
        f"| {k} | not run: {v.removeprefix('not run: ')} |"
        for k, v in doc.get("not_run", {}).items()
    ]
    return "\n".join(rows)


def _same_command(a: str, b: str) -> bool:
    """Whether two runs' commands are the same but for the temporary folder of the
    store each run starts from."""
    tmp = re.compile(r"/tmp/driftline-scale-[^/\s]+/")
    return tmp.sub("<tmp>/", a) == tmp.sub("<tmp>/", b)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", nargs="*", default=[], help="JOB:SIZE, e.g. duckdb:100m")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit")
    p.add_argument("--driver-memory", default="4g", help="Spark driver memory")
    p.add_argument("--anchor-cap", type=float, default=12.0, help="GiB of address space")
    p.add_argument("--timeout", type=float, default=20.0, help="minutes per run")
    p.add_argument("--table", action="store_true", help="print the table of scale.json")
    p.add_argument(
        "--add",
        action="store_true",
        help="keep the runs scale.json holds of each job (the same command) and add these: "
        "the median is over all of them",
    )
    a = p.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    for spec in a.jobs:
        job, _, size = spec.partition(":")
        if size not in SIZES:
            raise SystemExit(f"size {size!r} in {spec!r}: use one of {', '.join(SIZES)}")
        prior: list[dict[str, Any]] = []
        if a.add and RESULTS.exists():
            old = json.loads(RESULTS.read_text()).get("entries", [])
            same = [e for e in old if (e["job"], e["size"]) == (job, size)]
            now = " ".join(command(job, prepare(size, env), a)[0])
            if same and not _same_command(same[0]["command"], now):
                raise SystemExit(f"--add: {spec}'s stored runs ran another command; run it anew")
            prior = same[0]["runs"] if same else []
        merge(run_job(job, size, a, env, prior))
    if a.table or not a.jobs:
        print(table(json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
