"""Time ``driftline log`` and ``driftline check`` as whole processes, per data size.

For each size (default 1M and 10M rows): generate the data if it is missing
(:mod:`generate`), log the reference and the predictions into a fresh DuckDB file, then
run ``driftline check --json --no-persist`` ``--repeat`` times (fewer once a size's
checks have taken ``--budget`` seconds). Every command runs as a child process under
``/usr/bin/time -v`` (GNU time, Debian package ``time``) for its peak resident set
size; without it, the child's ``ru_maxrss`` comes from ``os.wait4``. Wall time is
measured around the child. Exit code 1 of ``check`` (alerts fired) is expected; the
alerts are counted from its JSON.

The source tree is shared and changes while a long run goes on, so the children run a
copy of ``src/driftline`` taken at the start (on ``PYTHONPATH``, ahead of the editable
install): of the working tree (``--source tree``, default) or of the last commit
(``--source head``); the commit, whether the copy differs from it, and a hash of the
copy are recorded with the results. ``--source live`` runs the working tree itself.

Usage::

    python benchmarks/bench_check.py          # 1m and 10m, up to 3 checks each
    python benchmarks/bench_check.py --sizes 1m --repeat 5
    python benchmarks/bench_check.py --sizes 10m --repeat 1 --reuse-store

prints a Markdown table and merges the results into ``benchmarks/results/check.json``
(entries of the same size are replaced).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import parse_rows  # noqa: E402

GNU_TIME = "/usr/bin/time"
MIB = 2**20


@dataclass(frozen=True)
class Run:
    """One child process: its command, exit code, wall seconds, peak RSS and CPU seconds
    (user + system, of the child and what it waited for: on a shared machine, wall time
    includes waiting for a core)."""

    cmd: list[str]
    exit_code: int
    seconds: float
    peak_rss_mib: float
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0


def _gnu_time() -> bool:
    if not Path(GNU_TIME).exists():
        return False
    probe = subprocess.run(
        [GNU_TIME, "-v", "true"], capture_output=True, text=True, check=False, timeout=10
    )
    return "Maximum resident set size" in probe.stderr


def _maxrss_kib(report: str) -> int:
    for line in report.splitlines():
        if "Maximum resident set size (kbytes)" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"no 'Maximum resident set size' in GNU time output:\n{report}")


@dataclass(frozen=True)
class Runner:
    """Runs children under GNU time (or ``os.wait4``) with one environment."""

    use_gnu_time: bool
    env: dict[str, str]

    def measure(self, cmd: list[str]) -> Run:
        """Run ``cmd`` as a child; its output goes through files (no pipe can fill up)."""
        with tempfile.TemporaryDirectory(prefix="driftline-bench-") as tmp:
            out_path, err_path, time_path = (Path(tmp) / n for n in ("out", "err", "time"))
            argv = [GNU_TIME, "-v", "-o", str(time_path), *cmd] if self.use_gnu_time else cmd
            with out_path.open("wb") as out, err_path.open("wb") as err:
                t0 = time.perf_counter()
                proc = subprocess.Popen(argv, stdout=out, stderr=err, env=self.env)
                _, status, usage = os.wait4(proc.pid, 0)
                seconds = time.perf_counter() - t0
                proc.returncode = os.waitstatus_to_exitcode(status)
            # ru_maxrss is in KiB on Linux
            rss_kib = _maxrss_kib(time_path.read_text()) if self.use_gnu_time else usage.ru_maxrss
            return Run(
                cmd=cmd,
                exit_code=proc.returncode,
                seconds=seconds,
                peak_rss_mib=rss_kib / 1024,
                stdout=out_path.read_text(),
                stderr=err_path.read_text(),
                cpu_seconds=usage.ru_utime + usage.ru_stime,
            )


def _ok(run: Run, allowed: tuple[int, ...] = (0,)) -> Run:
    if run.exit_code not in allowed:
        sys.stderr.write(run.stderr[-4000:])
        raise SystemExit(f"{' '.join(run.cmd)} exited with {run.exit_code}")
    return run


def _report(stdout: str) -> tuple[dict[str, Any], int]:
    """The JSON report of ``check --json`` (its last line) and the bytes around it.

    >>> _report('\\r 50% progress\\r100% progress \\n{"alerts": []}\\n')
    ({'alerts': []}, 30)
    """
    for line in reversed(stdout.replace("\r", "\n").splitlines()):
        if line.startswith("{"):
            return json.loads(line), len(stdout.encode()) - len(line.encode()) - 1
    raise SystemExit(f"no JSON report on the stdout of `driftline check`: {stdout[-500:]!r}")


def label(rows: int) -> str:
    """Directory name of a size.

    >>> [label(n) for n in (1_000_000, 10_000_000, 20_000, 1234)]
    ['1m', '10m', '20k', '1234']
    """
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def bench_size(
    rows: int, data: Path, runner: Runner, *, repeat: int, budget: float, reuse_store: bool
) -> dict[str, Any]:
    name = label(rows)
    d = data / name
    spec, store = d / "driftline.yaml", d / "store.duckdb"
    entry: dict[str, Any] = {"size": name, "rows": rows}
    if not (d / "meta.json").exists():
        print(f"[{name}] generating {rows} rows into {d} ...", flush=True)
        gen = _ok(
            runner.measure(
                [sys.executable, str(HERE / "generate.py"), "--rows", str(rows), "--out", str(d)]
            )
        )
        entry["generate"] = {
            "seconds": round(gen.seconds, 2),
            "peak_rss_mib": round(gen.peak_rss_mib, 1),
        }
    entry["data"] = json.loads((d / "meta.json").read_text())
    cli = [sys.executable, "-m", "driftline.cli"]  # the same entry point as `driftline`
    common = ["--spec", str(spec), "--store", str(store)]
    if reuse_store and store.exists():
        print(f"[{name}] reusing {store} (--reuse-store): log not timed", flush=True)
        entry["log"] = None
    else:
        for stale in (store, store.with_name(store.name + ".wal")):
            stale.unlink(missing_ok=True)
        print(f"[{name}] logging reference and predictions into {store} ...", flush=True)
        ref = _ok(
            runner.measure([*cli, "log", "--reference", str(d / "reference.parquet"), *common])
        )
        pred = _ok(runner.measure([*cli, "log", str(d / "predictions.parquet"), *common]))
        entry["log"] = {
            "reference_seconds": round(ref.seconds, 2),
            "reference_peak_rss_mib": round(ref.peak_rss_mib, 1),
            "predictions_seconds": round(pred.seconds, 2),
            "predictions_peak_rss_mib": round(pred.peak_rss_mib, 1),
            "seconds": round(ref.seconds + pred.seconds, 2),
            "peak_rss_mib": round(max(ref.peak_rss_mib, pred.peak_rss_mib), 1),
        }
    entry["store_mib"] = round(store.stat().st_size / MIB, 1)
    runs = []
    report: dict[str, Any] = {}
    for i in range(repeat):
        load_before = os.getloadavg()[0]
        run = _ok(
            runner.measure([*cli, "check", "--json", "--no-persist", *common]), allowed=(0, 1)
        )
        report, noise = _report(run.stdout)
        runs.append(
            {
                "seconds": round(run.seconds, 2),
                "cpu_seconds": round(run.cpu_seconds, 2),
                "peak_rss_mib": round(run.peak_rss_mib, 1),
                "exit_code": run.exit_code,
                # bytes on stdout besides the JSON report (e.g. a progress bar)
                "stdout_noise_bytes": noise,
                # 1-minute load average before and after: the machine is shared
                "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        )
        print(
            f"[{name}] check {i + 1}/{repeat}: {run.seconds:.2f} s ({run.cpu_seconds:.1f} s CPU), "
            f"{run.peak_rss_mib:.0f} MiB, exit {run.exit_code}, load {runs[-1]['load']}",
            flush=True,
        )
        spent = sum(r["seconds"] for r in runs)
        if i + 1 < repeat and spent > budget:
            print(f"[{name}] {spent:.0f} s of checks > --budget {budget:g} s: no more runs")
            break
    if any(r["stdout_noise_bytes"] for r in runs):
        print(f"[{name}] note: `driftline check --json` wrote more than the JSON to stdout")
    if any((r["exit_code"] == 1) != bool(report.get("alerts")) for r in runs):
        print(
            f"[{name}] note: `driftline check` exit code {runs[-1]['exit_code']} does not "
            f"match {len(report.get('alerts', []))} alert(s) (documented: 1 when alerts fire)",
            flush=True,
        )
    statuses: dict[str, int] = {}
    for r in report.get("results", []):
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    alerts: dict[str, int] = {}
    for a in report.get("alerts", []):
        key = a["check"] + (f":{a['column']}" if a["column"] else "")
        alerts[key] = alerts.get(key, 0) + 1
    entry["check"] = {
        "runs": runs,
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs), 1),
        "windows": len({s["window_start"] for s in report.get("stats", [])}),
        "results": statuses,
        "alerts": len(report.get("alerts", [])),
        "alerts_by_check": dict(sorted(alerts.items())),
    }
    return entry


def floor_process(runner: Runner) -> dict[str, float]:
    """The fixed cost of a process that imports the check machinery (no data)."""
    run = _ok(runner.measure([sys.executable, "-c", "import driftline.monitor"]))
    return {"seconds": round(run.seconds, 2), "peak_rss_mib": round(run.peak_rss_mib, 1)}


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def snapshot(dest: Path, *, head: bool = False) -> dict[str, Any]:
    """Copy ``src/driftline`` (the working tree, or HEAD's) to ``dest``; return the
    commit, whether the copy differs from it, and a hash of the copy."""
    package = HERE.parent / "src" / "driftline"
    commit = _git("rev-parse", "--short", "HEAD")
    if head:
        with tempfile.TemporaryDirectory() as tmp:
            archive = subprocess.run(
                ["git", "archive", "HEAD", "src/driftline"],
                cwd=HERE.parent,
                capture_output=True,
                check=True,
            )
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            shutil.copytree(Path(tmp) / "src" / "driftline", dest / "driftline")
        modified = False
    else:
        modified = bool(_git("status", "--porcelain", "--", str(package)))
        shutil.copytree(package, dest / "driftline", ignore=shutil.ignore_patterns("__pycache__"))
    digest = hashlib.sha256()
    for f in sorted((dest / "driftline").rglob("*")):
        if f.is_file():
            digest.update(f.relative_to(dest).as_posix().encode() + b"\0" + f.read_bytes())
    return {"commit": commit, "src_modified": modified, "src_sha256": digest.hexdigest()[:16]}


def live_source() -> dict[str, Any]:
    package = HERE.parent / "src" / "driftline"
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(_git("status", "--porcelain", "--", str(package))),
        "src_sha256": None,
    }


def machine() -> dict[str, Any]:
    import duckdb
    import ibis

    mem = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0]  # MemTotal: N kB
        mem = round(int(first.split()[1]) / 2**20, 1)
    return {
        "cpus": os.cpu_count(),
        "mem_gib": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
    }


def table(entries: list[dict[str, Any]]) -> str:
    head = (
        "| size | rows | log s | log peak RSS MiB | check s (each run) | check median s "
        "| check peak RSS MiB (each run) | alerts |\n"
        "|---|---:|---:|---:|---|---:|---|---:|\n"
    )
    lines = []
    for e in entries:
        log = e.get("log") or {}
        chk = e["check"]
        runs = ", ".join(f"{r['seconds']:.1f}" for r in chk["runs"])
        rss = ", ".join(f"{r['peak_rss_mib']:.0f}" for r in chk["runs"])
        lines.append(
            f"| {e['size']} | {e['rows']:,} | {log.get('seconds', '-')} "
            f"| {log.get('peak_rss_mib', '-')} | {runs} | {chk['median_seconds']:.1f} "
            f"| {rss} | {chk['alerts']} |"
        )
    return head + "\n".join(lines)


def scaling(entries: list[dict[str, Any]], floor: dict[str, float] | None) -> str:
    """Peak RSS and time of the smallest and largest size side by side, and the ratios."""
    by_rows = sorted(entries, key=lambda e: e["rows"])
    if len(by_rows) < 2:
        return ""
    a, b = by_rows[0], by_rows[-1]
    ra, rb = a["check"]["peak_rss_mib"], b["check"]["peak_rss_mib"]
    ta, tb = a["check"]["median_seconds"], b["check"]["median_seconds"]
    text = (
        f"rows x{b['rows'] / a['rows']:g} ({a['size']} -> {b['size']}): check peak RSS "
        f"{ra:.0f} -> {rb:.0f} MiB (x{rb / ra:.2f}), median time {ta:.2f} -> {tb:.2f} s "
        f"(x{tb / ta:.2f})"
    )
    if floor:
        f = floor["peak_rss_mib"]
        text += (
            f"; above the {f:.0f} MiB import floor: {ra - f:.0f} -> {rb - f:.0f} MiB "
            f"(x{(rb - f) / max(ra - f, 1):.2f})"
        )
    return text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", type=parse_rows, default=[1_000_000, 10_000_000])
    p.add_argument("--repeat", type=int, default=3, help="check runs per size")
    p.add_argument(
        "--budget",
        type=float,
        default=600.0,
        help="seconds of checks per size after which no further run starts",
    )
    p.add_argument("--data", type=Path, default=HERE / "data")
    p.add_argument("--out", type=Path, default=HERE / "results" / "check.json")
    p.add_argument(
        "--reuse-store",
        action="store_true",
        help="keep an existing store.duckdb (skip and do not time logging)",
    )
    p.add_argument(
        "--source",
        choices=["tree", "head", "live"],
        default="tree",
        help="driftline to run: a copy of the working tree (default), of the last commit, "
        "or the live working tree",
    )
    a = p.parse_args(argv)
    use_gnu_time = _gnu_time()
    with tempfile.TemporaryDirectory(prefix="driftline-src-") as tmp:
        env = dict(os.environ)
        live = a.source == "live"
        if live:
            src = live_source()
        else:
            src = snapshot(Path(tmp), head=a.source == "head")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, env.get("PYTHONPATH")]))
        runner = Runner(use_gnu_time, env)
        where = _ok(
            runner.measure([sys.executable, "-c", "import driftline; print(driftline.__file__)"])
        )
        imported = str(Path(where.stdout.strip()).parent)
        if not live and not imported.startswith(tmp):
            raise SystemExit(f"the copy of src/driftline is not what children import: {imported}")
        src["imported_from"] = imported if live else f"copy of src/driftline ({a.source})"
        print(f"measuring driftline {src}", flush=True)
        floor = floor_process(runner)
        new = [
            bench_size(
                n, a.data, runner, repeat=a.repeat, budget=a.budget, reuse_store=a.reuse_store
            )
            for n in a.sizes
        ]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for e in new:
        e["measured_at"] = now
        e["source"] = src
        e["import_floor"] = floor
    old: dict[str, Any] = json.loads(a.out.read_text()) if a.out.exists() else {}
    kept = [e for e in old.get("sizes", []) if e["size"] not in {n["size"] for n in new}]
    entries = sorted([*kept, *new], key=lambda e: e["rows"])
    result = {
        "machine": machine(),
        "rss_via": "GNU time -v" if use_gnu_time else "os.wait4 ru_maxrss",
        "measured_at": now,
        "sizes": entries,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(table(entries))
    print()
    print(
        f"import floor (python -c 'import driftline.monitor'): {floor['seconds']:.2f} s, "
        f"{floor['peak_rss_mib']:.0f} MiB"
    )
    if text := scaling(entries, floor):
        print(text)
    versions = {json.dumps(e.get("source"), sort_keys=True) for e in entries}
    if len(versions) > 1:
        print("warning: the sizes were measured on different driftline sources:", *versions)
    print(f"results: {a.out}")


if __name__ == "__main__":
    main()
