"""Speed as whole processes, same machine, same run: ``driftline check`` vs Evidently.

Data: :mod:`generate` (20 features: 14 numeric, 6 categorical up to 5,000 values; 4
cohorts; 10 days; reference 100k rows), reused from ``benchmarks/data/<size>`` when its
``meta.json`` is there, generated otherwise. The Parquet files there are only read: the
spec is copied and the store and profile are written to ``benchmarks/data/vs-evidently/
<size>/``, so a ``bench_check.py`` run on the same data is not disturbed.

- driftline: ``driftline log --reference`` and ``driftline log`` (timed once, reported as
  ingest), then ``driftline check --json --no-persist`` ``--repeat`` times: the full
  check (schema + drift on 20 columns + confidence + class mix, per day window, overall
  and per each of 4 cohorts).
- Evidently: ``evidently_runner.py`` in ``benchmarks/.venv-evidently`` (Evidently 0.7.23,
  default ``DataDriftPreset``): reference = the same 100k rows, current = all rows, the
  20 feature columns (14 numerical, 6 categorical), one report, ``--evidently-repeat``
  times.

Every command runs as a child under ``/usr/bin/time -v`` (``bench_check.Runner``): wall
time around the child, peak RSS from GNU time. Evidently at 10M runs only with
``--evidently-10m`` and when its 1M run, scaled linearly, fits ``--evidently-10m-budget``
seconds; it then runs once, killed at that budget, with its address space capped at
``--evidently-memory-cap-gib`` (``prlimit``; a MemoryError, not the OOM killer, on this
shared machine); otherwise the table says it was not run, or how it failed, and why.

Usage::

    bash benchmarks/setup_evidently.sh                  # once
    python benchmarks/bench_vs_evidently.py             # 1m (both) and 10m (driftline)
    python benchmarks/bench_vs_evidently.py --sizes 1m --repeat 3 --evidently-repeat 3
    python benchmarks/bench_vs_evidently.py --evidently-repeat 3 --evidently-10m  # + Evidently 10m

prints a Markdown table and merges the results into ``benchmarks/results/vs_evidently.json``
(entries of the same size are replaced; each entry records when and on which source).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_check import Run, Runner, _gnu_time, label, machine, snapshot  # noqa: E402
from generate import CATEGORICAL, NUMERIC, parse_rows  # noqa: E402

EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
RUNNER = HERE / "evidently_runner.py"
FEATURES_NUMERIC = [f.name for f in NUMERIC]
FEATURES_CATEGORICAL = list(CATEGORICAL)


def mem_available_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _ok(run: Run, allowed: tuple[int, ...] = (0,)) -> Run:
    if run.exit_code not in allowed:
        sys.stderr.write(run.stderr[-4000:])
        raise SystemExit(f"{' '.join(run.cmd)} exited with {run.exit_code}")
    return run


def prepare(rows: int, data: Path, runner: Runner) -> tuple[Path, Path, dict[str, Any]]:
    """The data directory of ``rows`` (generated if missing) and our own work directory."""
    name = label(rows)
    d = data / name
    if not (d / "meta.json").exists():
        print(f"[{name}] generating {rows} rows into {d} ...", flush=True)
        _ok(
            runner.measure(
                [sys.executable, str(HERE / "generate.py"), "--rows", str(rows), "--out", str(d)]
            )
        )
    work = data / "vs-evidently" / name
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(d / "driftline.yaml", work / "driftline.yaml")
    return d, work, json.loads((d / "meta.json").read_text())


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": runs,
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs), 1),
    }


def bench_driftline(d: Path, work: Path, *, repeat: int, runner: Runner) -> dict[str, Any]:
    exe = shutil.which("driftline")
    cli = [exe] if exe else [sys.executable, "-m", "driftline.cli"]
    store = work / "store.duckdb"
    for stale in (store, store.with_name(store.name + ".wal")):
        stale.unlink(missing_ok=True)
    common = ["--spec", str(work / "driftline.yaml"), "--store", str(store)]
    name = d.name
    print(f"[{name}] driftline log (reference, predictions) ...", flush=True)
    ref = _ok(runner.measure([*cli, "log", "--reference", str(d / "reference.parquet"), *common]))
    pred = _ok(runner.measure([*cli, "log", str(d / "predictions.parquet"), *common]))
    runs = []
    report: dict[str, Any] = {}
    for i in range(repeat):
        load = os.getloadavg()[0]
        run = _ok(
            runner.measure([*cli, "check", "--json", "--no-persist", *common]), allowed=(0, 1)
        )
        report = json.loads(run.stdout.strip().splitlines()[-1])
        runs.append(
            {
                "seconds": round(run.seconds, 2),
                "peak_rss_mib": round(run.peak_rss_mib, 1),
                "exit_code": run.exit_code,
                "load": [round(load, 2), round(os.getloadavg()[0], 2)],
            }
        )
        print(
            f"[{name}] driftline check {i + 1}/{repeat}: {run.seconds:.1f} s, "
            f"{run.peak_rss_mib:.0f} MiB, load {runs[-1]['load']}",
            flush=True,
        )
    alerts: dict[str, int] = {}
    for a in report.get("alerts", []):
        key = a["check"] + (f":{a['column']}" if a["column"] else "")
        alerts[key] = alerts.get(key, 0) + 1
    checks: dict[str, int] = {}
    for r in report.get("results", []):
        checks[r["check"]] = checks.get(r["check"], 0) + 1
    store.unlink(missing_ok=True)
    return {
        "log": {
            "reference_seconds": round(ref.seconds, 2),
            "predictions_seconds": round(pred.seconds, 2),
            "peak_rss_mib": round(max(ref.peak_rss_mib, pred.peak_rss_mib), 1),
        },
        "check": summarise(runs)
        | {
            "windows": len({s["window_start"] for s in report.get("stats", [])}),
            "results_by_check": dict(sorted(checks.items())),
            "alerts": len(report.get("alerts", [])),
            "alerts_by_check": dict(sorted(alerts.items())),
        },
    }


def bench_evidently(
    d: Path,
    *,
    repeat: int,
    runner: Runner,
    cap_gib: float | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """``repeat`` Evidently runs on ``d``. With ``cap_gib`` the child's address space is
    capped (``prlimit --as``), so running out of memory ends it with a MemoryError instead
    of the kernel's OOM killer picking a process of someone else on the shared machine;
    with ``timeout_s`` it is killed after that many seconds (``timeout -s KILL``)."""
    wrap: list[str] = []
    if timeout_s:
        wrap += ["timeout", "-s", "KILL", str(int(timeout_s))]
    if cap_gib:
        wrap += ["prlimit", f"--as={int(cap_gib * 2**30)}", "--"]
    cmd = [
        *wrap,
        str(EVIDENTLY_PYTHON),
        str(RUNNER),
        "--reference",
        str(d / "reference.parquet"),
        "--current",
        str(d / "predictions.parquet"),
        "--numeric",
        *FEATURES_NUMERIC,
        "--categorical",
        *FEATURES_CATEGORICAL,
    ]
    runs = []
    detail: dict[str, Any] = {}
    for i in range(repeat):
        load = os.getloadavg()[0]
        run = runner.measure(cmd)
        if run.exit_code != 0:
            last = (run.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            why = "killed at the time-out" if run.exit_code in (-9, 124, 137) else last
            print(f"[{d.name}] evidently failed after {run.seconds:.0f} s: {why}", flush=True)
            return {
                "failed": f"exit {run.exit_code} after {run.seconds:.0f} s "
                f"(cap {cap_gib} GiB address space, time-out {timeout_s} s): {why[:300]}",
                "seconds": round(run.seconds, 1),
                "peak_rss_mib": round(run.peak_rss_mib, 1),
            }
        lines = [json.loads(x) for x in run.stdout.splitlines() if x.strip()]
        rep = next(x for x in lines if x["event"] == "report")
        start = next(x for x in lines if x["event"] == "start")
        detail = {
            "evidently": start["evidently"],
            "import_seconds": start["import_seconds"],
            "read_seconds": round(start["read_seconds"] + rep["read_seconds"], 2),
            "drifted_columns": sorted(c for c, v in rep["columns"].items() if v["drift"]),
            "dataset_drift": rep["dataset_drift"],
            "methods": sorted(
                {f"{v['method']} > {v['threshold']}" for v in rep["columns"].values()}
            ),
        }
        runs.append(
            {
                "seconds": round(run.seconds, 2),
                "report_seconds": rep["report_seconds"],
                "peak_rss_mib": round(run.peak_rss_mib, 1),
                "load": [round(load, 2), round(os.getloadavg()[0], 2)],
            }
        )
        print(
            f"[{d.name}] evidently {i + 1}/{repeat}: {run.seconds:.1f} s (report "
            f"{rep['report_seconds']:.1f} s), {run.peak_rss_mib:.0f} MiB, load {runs[-1]['load']}",
            flush=True,
        )
    return summarise(runs) | detail


def table(entries: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | tool | work | median wall s | runs (s) | peak RSS MiB | Evidently / driftline |",
        "|---:|---|---|---:|---|---:|---:|",
    ]
    for e in entries:
        dl, ev = e["driftline"], e.get("evidently")
        c = dl["check"]
        ratio = "-"
        if ev and "median_seconds" in ev:
            ratio = f"{ev['median_seconds'] / c['median_seconds']:.2f}x"
        runs = ", ".join(f"{r['seconds']:.1f}" for r in c["runs"])
        lines.append(
            f"| {e['rows']:,} | driftline check | schema + drift (20 cols) + confidence + class "
            f"mix, {c['windows']} day windows x (overall + 4 cohorts) | {c['median_seconds']:.1f} "
            f"| {runs} | {c['peak_rss_mib']:.0f} | {ratio} |"
        )
        log = dl["log"]
        log_s = log["reference_seconds"] + log["predictions_seconds"]
        lines.append(
            f"| {e['rows']:,} | driftline log (once, not in the ratio) | ingest reference + "
            f"predictions into DuckDB | {log_s:.1f} "
            f"| {log['reference_seconds']:.1f} + {log['predictions_seconds']:.1f} "
            f"| {log['peak_rss_mib']:.0f} | - |"
        )
        if ev and "median_seconds" in ev:
            runs = ", ".join(f"{r['seconds']:.1f}" for r in ev["runs"])
            lines.append(
                f"| {e['rows']:,} | Evidently {ev['evidently']} DataDriftPreset "
                f"| drift on 20 cols, all rows vs reference, one report "
                f"| {ev['median_seconds']:.1f} | {runs} "
                f"| {ev['peak_rss_mib']:.0f} | - |"
            )
        elif ev and "failed" in ev:
            lines.append(
                f"| {e['rows']:,} | Evidently DataDriftPreset | failed: {ev['failed']} "
                f"| - | - | {ev['peak_rss_mib']:.0f} | - |"
            )
        elif ev:
            lines.append(
                f"| {e['rows']:,} | Evidently DataDriftPreset | not run: {ev['not_run']} "
                "| - | - | - | - |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", type=parse_rows, default=[1_000_000, 10_000_000])
    p.add_argument("--repeat", type=int, default=3, help="driftline check runs per size")
    p.add_argument("--repeat-large", type=int, default=None, help="runs above 1M (default same)")
    p.add_argument("--evidently-repeat", type=int, default=1)
    p.add_argument("--evidently-10m", action="store_true", help="try Evidently above 1M rows")
    p.add_argument(
        "--evidently-10m-budget", type=float, default=900.0, help="seconds (time-out above 1M)"
    )
    p.add_argument(
        "--evidently-memory-cap-gib",
        type=float,
        default=12.0,
        help="address-space cap of Evidently above 1M rows (prlimit --as)",
    )
    p.add_argument("--data", type=Path, default=HERE / "data")
    p.add_argument("--out", type=Path, default=HERE / "results" / "vs_evidently.json")
    a = p.parse_args(argv)
    if not EVIDENTLY_PYTHON.exists():
        raise SystemExit(
            f"{EVIDENTLY_PYTHON} is missing; run `bash benchmarks/setup_evidently.sh` first."
        )
    use_gnu_time = _gnu_time()
    with tempfile.TemporaryDirectory(prefix="driftline-src-") as tmp:
        # the source tree is shared and changes during a long run: the driftline children
        # run a copy of src/driftline taken now (bench_check.snapshot), ahead of the
        # editable install on PYTHONPATH; Evidently's children do not import driftline
        src = snapshot(Path(tmp))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, env.get("PYTHONPATH")]))
        runner = Runner(use_gnu_time, env)
        print(f"measuring driftline {src}", flush=True)
        entries = run_sizes(a, runner)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for e in entries:
        e["measured_at"] = now
        e["source"] = src
    # merge: entries of the sizes measured now replace the old ones of the same size
    old: dict[str, Any] = json.loads(a.out.read_text()) if a.out.exists() else {}
    kept = [e for e in old.get("sizes", []) if e["size"] not in {n["size"] for n in entries}]
    entries = sorted([*kept, *entries], key=lambda e: e["rows"])
    result = {
        "machine": machine(),
        "rss_via": "GNU time -v" if use_gnu_time else "os.wait4 ru_maxrss",
        "measured_at": now,
        "sizes": entries,
        "table": table(entries),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(result["table"])
    print(f"results: {a.out}")


def run_sizes(a: argparse.Namespace, runner: Runner) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    base: dict[str, Any] | None = None  # Evidently's smallest measured run, for projections
    for rows in sorted(a.sizes):
        d, work, meta = prepare(rows, a.data, runner)
        repeat = a.repeat if rows <= 1_000_000 or a.repeat_large is None else a.repeat_large
        entry: dict[str, Any] = {"size": label(rows), "rows": rows, "data": meta}
        entry["driftline"] = bench_driftline(d, work, repeat=repeat, runner=runner)
        large = rows > 1_000_000
        if not large or a.evidently_10m:
            reason = None
            if base is not None and rows > base["rows"]:
                est_s = base["median_seconds"] * rows / base["rows"]
                if est_s > a.evidently_10m_budget:
                    reason = f"projected {est_s:.0f} s > budget {a.evidently_10m_budget:.0f} s"
            free = mem_available_mib() or 0.0
            if large and a.evidently_memory_cap_gib * 1024 > 0.9 * free:
                reason = (
                    f"the {a.evidently_memory_cap_gib} GiB cap exceeds 90 % of the "
                    f"{free:.0f} MiB available now"
                )
            if reason:
                entry["evidently"] = {"not_run": reason}
            else:
                entry["evidently"] = bench_evidently(
                    d,
                    repeat=a.evidently_repeat if not large else 1,
                    runner=runner,
                    cap_gib=a.evidently_memory_cap_gib if large else None,
                    timeout_s=a.evidently_10m_budget if large else None,
                )
                if base is None and "median_seconds" in entry["evidently"]:
                    base = {"rows": rows, **entry["evidently"]}
        elif base is not None:
            scale = rows / base["rows"]
            entry["evidently"] = {
                "not_run": f"not attempted (projected from {label(base['rows'])}, linear: "
                f"~{base['median_seconds'] * scale:.0f} s and ~"
                f"{base['peak_rss_mib'] * scale / 1024:.0f} GiB; pass --evidently-10m to try)"
            }
        if entry.get("evidently") and "median_seconds" in entry["evidently"]:
            entry["ratio_evidently_over_driftline"] = round(
                entry["evidently"]["median_seconds"]
                / entry["driftline"]["check"]["median_seconds"],
                2,
            )
        entries.append(entry)
    return entries


if __name__ == "__main__":
    main()
