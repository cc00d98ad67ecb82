"""From a new user's files to the first answer, as whole processes, same run.

Data: :mod:`generate` with ``--rows 1m --reference-rows 1m`` (29 columns: id, timestamp,
prediction, 3 scores, the cohort ``region``, 14 numeric and 6 categorical features), in
``--data`` (default ``benchmarks/data/first-answer``; generated there when missing). The
Parquet files are only read; every run works in a fresh temporary directory.

Steps, each a child process timed whole (imports included), in the order a new user runs
them:

- ``driftline init --reference reference.parquet --cohort region``
- ``driftline log --reference reference.parquet``: store the reference and fit the profile
- ``driftline log predictions.parquet``
- ``driftline check`` (exit code 0 or 1: alerts are an answer)

and, in the same run, the anchors:

- **scan**: one DuckDB pass over both files (every column of every row counted:
  ``count(COLUMNS(*))``), in a child process: the floor any tool that reads the data
  pays.
- **write**: DuckDB alone storing the predictions file, ``CREATE TABLE t AS SELECT * FROM
  read_parquet(...)`` into a fresh DuckDB file, in a child process: the floor of
  ``log`` (which stores the same rows, plus the confidence and the batch columns).
- **start**: ``driftline log`` of a 10-row file into a fresh store: what a ``log`` costs
  whatever the batch (interpreter, imports, store creation). ``log`` rows/s "after
  start" is the batch's rows over (its wall time - this one's).
- **Evidently**: one ``Report([DataDriftPreset()])`` of Evidently 0.7.23 on the same two
  files (``evidently_runner.py`` in its own venv, see ``setup_evidently.sh``; the 20
  feature columns, Evidently's defaults), timed whole.

``--src PATH`` times the driftline package under ``PATH`` (default: this checkout's
``src``). ``--compare PATH`` also runs the four steps with the driftline package under ``PATH``
(e.g. a checkout of main: ``--compare /work/main/src``), interleaved run by run with
this checkout's, so "before" and "after" share the machine's load. The machine may be
shared: each step runs ``--repeat`` times and medians are reported, with the CPU seconds
(user + system) and the load average.

Usage::

    bash benchmarks/setup_evidently.sh                   # once
    python benchmarks/bench_first_answer.py              # 3 runs, Evidently once
    python benchmarks/bench_first_answer.py --repeat 5 --compare ../main/src

prints a Markdown table and writes ``benchmarks/results/first_answer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_check import Run, Runner, _gnu_time, _ok, machine  # noqa: E402
from generate import CATEGORICAL, NUMERIC  # noqa: E402

STEPS = ("init", "log --reference", "log", "check")
RUNNER = HERE / "evidently_runner.py"


def driftline_steps(d: Path, work: Path) -> dict[str, list[str]]:
    """The four commands of the first answer, run in ``work``."""
    cli = [sys.executable, "-m", "driftline"]
    ref, pred = str(d / "reference.parquet"), str(d / "predictions.parquet")
    spec, store = str(work / "driftline.yaml"), str(work / "driftline.duckdb")
    where = ["--spec", spec, "--store", store]
    return {
        "init": [*cli, "init", "--reference", ref, "--cohort", "region", "--out", spec],
        "log --reference": [*cli, "log", "--reference", ref, *where],
        "log": [*cli, "log", pred, *where],
        "check": [*cli, "check", *where],
    }


def scan_cmd(d: Path) -> list[str]:
    files = [str(d / "reference.parquet"), str(d / "predictions.parquet")]
    code = (
        "import duckdb, sys\n"
        "con = duckdb.connect()\n"
        "for f in sys.argv[1:]:\n"
        "    con.execute('SELECT count(COLUMNS(*)) FROM read_parquet(?)', [f]).fetchall()\n"
    )
    return [sys.executable, "-c", code, *files]


def write_cmd(d: Path, work: Path) -> list[str]:
    code = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[2])\n"
        "con.execute('CREATE TABLE t AS SELECT * FROM read_parquet(?)', [sys.argv[1]])\n"
        "con.close()\n"
    )
    db = str(work / "write-floor.duckdb")
    return [sys.executable, "-c", code, str(d / "predictions.parquet"), db]


def evidently_cmd(d: Path, python: Path) -> list[str]:
    return [
        str(python),
        str(RUNNER),
        "--reference",
        str(d / "reference.parquet"),
        "--current",
        str(d / "predictions.parquet"),
        "--numeric",
        *[f.name for f in NUMERIC],
        "--categorical",
        *CATEGORICAL,
    ]


def one_pass(runner: Runner, d: Path, tiny: Path) -> dict[str, Run]:
    """One run of the four steps in a fresh directory, plus the start of a tiny log."""
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="driftline-first-answer-") as tmp:
        work = Path(tmp)
        for step, cmd in driftline_steps(d, work).items():
            runs[step] = _ok(runner.measure(cmd), (0, 1) if step == "check" else (0,))
        start = [sys.executable, "-m", "driftline", "log", str(tiny)]
        start += ["--spec", str(work / "driftline.yaml"), "--store", str(work / "tiny.duckdb")]
        runs["start"] = _ok(runner.measure(start))
    return runs


def median_of(runs: list[Run]) -> dict[str, Any]:
    return {
        "seconds": [round(r.seconds, 2) for r in runs],
        "median_s": round(statistics.median(r.seconds for r in runs), 2),
        "cpu_median_s": round(statistics.median(r.cpu_seconds for r in runs), 2),
        "peak_rss_mib": round(max(r.peak_rss_mib for r in runs), 1),
    }


def summarise(runs: list[dict[str, Run]], rows: dict[str, int]) -> dict[str, Any]:
    steps = {step: median_of([r[step] for r in runs]) for step in (*STEPS, "start")}
    for step, n in (("log --reference", rows["reference"]), ("log", rows["predictions"])):
        steps[step]["rows_per_s"] = round(n / steps[step]["median_s"])
    # log after its start: per run, the batch's wall time minus the tiny log's
    beyond = [r["log"].seconds - r["start"].seconds for r in runs]
    steps["log"]["after_start_median_s"] = round(statistics.median(beyond), 2)
    steps["log"]["rows_per_s_after_start"] = round(
        rows["predictions"] / max(statistics.median(beyond), 1e-9)
    )
    total = [sum(r[s].seconds for s in STEPS) for r in runs]
    cpu = [sum(r[s].cpu_seconds for s in STEPS) for r in runs]
    return {
        "steps": steps,
        "total_median_s": round(statistics.median(total), 2),
        "total_cpu_median_s": round(statistics.median(cpu), 2),
    }


def table(result: dict[str, Any]) -> str:
    scan = result["scan"]["median_s"]
    ev = result.get("evidently", {}).get("median_s")
    variants = result["driftline"]
    head = "| step | " + " | ".join(f"{v}: wall s (rows/s), CPU s" for v in variants) + " |\n"
    head += "|---|" + "---:|" * len(variants) + "\n"
    lines = []
    for step in (*STEPS, "start"):
        cells = []
        for v in variants.values():
            s = v["steps"][step]
            rate = f" ({s['rows_per_s']:,})" if "rows_per_s" in s else ""
            cells.append(f"{s['median_s']:.2f}{rate}, {s['cpu_median_s']:.2f}")
        name = "start (10-row `log`)" if step == "start" else f"`{step}`"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for v in variants.values():
        s = v["steps"]["log"]
        cells.append(f"{s['after_start_median_s']:.2f} ({s['rows_per_s_after_start']:,})")
    lines.append("| `log` after start | " + " | ".join(cells) + " |")
    totals = [v["total_median_s"] for v in variants.values()]
    cpus = [v.get("total_cpu_median_s") for v in variants.values()]
    lines.append(
        "| **four commands** | "
        + " | ".join(
            f"**{t:.2f}**" + ("" if c is None else f", {c:.2f}")
            for t, c in zip(totals, cpus, strict=True)
        )
        + " |"
    )
    cpu = result["scan"]["cpu_median_s"]
    blank = " |" * (len(variants) - 1)
    lines.append(f"| one DuckDB pass over both files | {scan:.2f}, {cpu:.2f} |" + blank)
    if "write" in result:
        w = result["write"]
        rate = f"{result['rows']['predictions'] / w['median_s']:,.0f}"
        lines.append(
            f"| DuckDB alone storing the predictions (CTAS) | {w['median_s']:.2f} ({rate}), "
            f"{w['cpu_median_s']:.2f} |" + blank
        )
    if ev is not None:
        ev_cpu = result["evidently"]["cpu_median_s"]
        lines.append(
            f"| Evidently `DataDriftPreset`, one report | {ev:.1f}, {ev_cpu:.1f} |" + blank
        )
    ratios = []
    for name, t in zip(variants, totals, strict=True):
        r = f"{name}: four commands = {t / scan:.1f}x the scan"
        if ev is not None:
            r += f", Evidently = {ev / t:.1f}x the four commands"
        ratios.append(r)
    return head + "\n".join(lines) + "\n\n" + "; ".join(ratios) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=HERE / "data" / "first-answer")
    p.add_argument("--repeat", type=int, default=3, help="runs of the driftline steps")
    p.add_argument("--evidently-repeat", type=int, default=1, help="0 skips Evidently")
    p.add_argument(
        "--evidently-python", type=Path, default=HERE / ".venv-evidently" / "bin" / "python"
    )
    p.add_argument(
        "--src", type=Path, default=HERE.parent / "src", help="the driftline src/ to time"
    )
    p.add_argument("--compare", type=Path, help="another driftline src/ to run alongside")
    p.add_argument("--out", type=Path, default=HERE / "results" / "first_answer.json")
    a = p.parse_args(argv)
    d = a.data
    if not (d / "meta.json").exists():
        print(f"generating 1M + 1M rows into {d} ...", flush=True)
        _ok(
            Runner(_gnu_time(), dict(os.environ)).measure(
                [
                    *(sys.executable, str(HERE / "generate.py"), "--rows", "1m"),
                    *("--reference-rows", "1m", "--out", str(d)),
                ]
            )
        )
    rows = {
        "reference": pq.read_metadata(d / "reference.parquet").num_rows,
        "predictions": pq.read_metadata(d / "predictions.parquet").num_rows,
    }
    use_gnu_time = _gnu_time()
    srcs = {"this checkout" if a.src == HERE.parent / "src" else str(a.src): a.src}
    if a.compare is not None:
        srcs = {f"{a.compare}": a.compare, **srcs}
    first = list(srcs)[-1]
    for src in srcs.values():  # bytecode as `pip install` leaves it (see bench_history)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    runners = {
        name: Runner(use_gnu_time, {**os.environ, "PYTHONPATH": str(src.resolve())})
        for name, src in srcs.items()
    }
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.parquet"
        pq.write_table(pq.read_table(d / "predictions.parquet").slice(0, 10), tiny)
        runs: dict[str, list[dict[str, Run]]] = {name: [] for name in runners}
        scans: list[Run] = []
        writes: list[Run] = []
        for i in range(a.repeat):
            for name, runner in runners.items():
                runs[name].append(one_pass(runner, d, tiny))
                print(
                    f"run {i + 1} {name}: "
                    + ", ".join(f"{s} {r.seconds:.2f}s" for s, r in runs[name][-1].items())
                    + f" (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            scans.append(_ok(runners[first].measure(scan_cmd(d))))
            with tempfile.TemporaryDirectory(prefix="driftline-write-floor-") as floor:
                writes.append(_ok(runners[first].measure(write_cmd(d, Path(floor)))))
    result: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": str(d),
        "rows": rows,
        "repeat": a.repeat,
        "driftline": {name: summarise(r, rows) for name, r in runs.items()},
        "scan": median_of(scans),
        "write": median_of(writes),
    }
    if a.evidently_repeat > 0:
        if not a.evidently_python.exists():
            raise SystemExit(
                f"no Evidently venv at {a.evidently_python}; run `bash "
                "benchmarks/setup_evidently.sh` or pass --evidently-python (or "
                "--evidently-repeat 0)."
            )
        ev_runner = Runner(use_gnu_time, dict(os.environ))
        ev = [
            _ok(ev_runner.measure(evidently_cmd(d, a.evidently_python)))
            for _ in range(a.evidently_repeat)
        ]
        result["evidently"] = {"version": "0.7.23", **median_of(ev)}
    result["load"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"load average {result['load'][0]} -> {result['load'][1]} on {os.cpu_count()} cores")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
