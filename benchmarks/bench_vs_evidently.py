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
  default ``DataDriftPreset``, the 20 feature columns: 14 numerical, 6 categorical;
  reference = the same 100k rows), in two modes (``--evidently-modes``, both by default):

  - ``single``: one report, current = all rows, ``--evidently-repeat`` times. Less work
    than the check: one answer for the whole log, where the check gives one per window and
    scope.
  - ``same-work``: what a user has to run with Evidently to get the answers the check
    gives: one ``Report([DataDriftPreset()])`` per (day window, scope), scope = all rows
    of the window and each value of the cohort column (window length, timestamp and
    cohort read from the spec), every report against the same 100k reference rows: 10
    windows x (1 + 4) = 50 reports. Evidently has no reusable reference profile, so every
    report processes the reference again; that is its real cost for these answers.
    ``--evidently-same-work-repeat`` times (1 by default: it takes minutes).

The two Evidently anchors bracket the comparison: the single report is the least Evidently
can be run for (and the ratio quoted before), the same-work run is the like-for-like one.

Every command runs as a child under ``/usr/bin/time -v`` (``bench_check.Runner``): wall
time around the child, peak RSS from GNU time. The Evidently processes are timed whole
(imports, Parquet reads, splitting and every report). Above 1M rows only the single
report runs, and only with ``--evidently-10m`` and when its 1M run, scaled linearly, fits
``--evidently-10m-budget`` seconds; it then runs once, killed at that budget, with its
address space capped at ``--evidently-memory-cap-gib`` (``prlimit``; a MemoryError, not
the OOM killer, on this shared machine); otherwise the table says it was not run, or how
it failed, and why. The same-work run is not attempted above 1M rows; its time there is
projected from the 1M run (a linear fit of each report's seconds on its rows), and the
table says so.

Usage::

    bash benchmarks/setup_evidently.sh                  # once
    python benchmarks/bench_vs_evidently.py             # 1m (both tools) and 10m (driftline)
    python benchmarks/bench_vs_evidently.py --sizes 1m --repeat 3 --evidently-repeat 3
    python benchmarks/bench_vs_evidently.py --sizes 1m --evidently-modes same-work
    python benchmarks/bench_vs_evidently.py --evidently-repeat 3 --evidently-10m  # + Evidently 10m

prints a Markdown table and merges the results into ``benchmarks/results/vs_evidently.json``
(entries of the same size are replaced; each entry records when and on which source).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_check import Run, Runner, _gnu_time, label, machine, snapshot  # noqa: E402
from generate import CATEGORICAL, NUMERIC, parse_rows  # noqa: E402

EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
RUNNER = HERE / "evidently_runner.py"
FEATURES_NUMERIC = [f.name for f in NUMERIC]
FEATURES_CATEGORICAL = list(CATEGORICAL)
MODES = ("single", "same-work")
_WINDOW = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")  # driftline.spec's time windows
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


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


def window_seconds(text: str) -> int:
    """Seconds of a driftline time window, as ``driftline.spec.parse_window`` reads it.

    >>> [window_seconds(w) for w in ("1d", "6h", "30m", "2w")]
    [86400, 21600, 1800, 1209600]
    """
    m = _WINDOW.match(str(text))
    if not m:
        raise SystemExit(
            f"the spec's window is {text!r}, not a time window such as '1d'; the same-work "
            "Evidently run splits rows by time windows only. Use --evidently-modes single."
        )
    return int(m[1]) * _UNIT_SECONDS[m[2]]


def split_plan(spec: Path) -> dict[str, Any]:
    """Window length, timestamp and cohort columns of the check, read from its spec."""
    data = yaml.safe_load(spec.read_text())
    return {
        "window_seconds": window_seconds(data["window"]),
        "timestamp": data["timestamp"],
        "cohorts": list(data.get("cohorts") or []),
    }


def per_report_fit(rows: list[int], seconds: list[float]) -> dict[str, float] | None:
    """Least squares ``seconds = fixed + slope * rows`` over one run's reports: ``fixed``
    is what a report costs whatever its current rows (the reference's side, Evidently's
    overhead), ``slope`` what each current row adds. ``None`` under two distinct sizes.

    >>> per_report_fit([10_000, 20_000, 40_000], [2.1, 2.2, 2.4])
    {'fixed_seconds': 2.0, 'seconds_per_100k_rows': 1.0}
    >>> per_report_fit([5, 5], [1.0, 2.0]) is None
    True
    """
    if len(set(rows)) < 2:
        return None
    slope, fixed = statistics.linear_regression(rows, seconds)
    return {"fixed_seconds": round(fixed, 3), "seconds_per_100k_rows": round(slope * 1e5, 3)}


def project_same_work(base: dict[str, Any], rows: int) -> float | None:
    """Seconds of the same-work run at ``rows``, from the one measured at ``base["rows"]``:
    the same reports with their rows scaled, each costing the fitted ``fixed + slope *
    rows``; imports unchanged; reading and splitting scaled linearly. ``None`` without a
    fit, or with a slope that is not positive (noise of a run on too little data).

    >>> base = {"rows": 100, "median_seconds": 10.0, "import_seconds": 2.0,
    ...         "report_seconds_median": 6.0, "reports": 2, "report_rows_total": 100,
    ...         "per_report": {"fit": {"fixed_seconds": 2.0, "seconds_per_100k_rows": 2000.0}}}
    >>> project_same_work(base, 1000)  # 2 + (10 - 6 - 2) * 10 + 2 * 2 + 0.02 * 1000
    46.0
    """
    fit = base["per_report"]["fit"]
    if fit is None or fit["seconds_per_100k_rows"] <= 0:
        return None
    scale = rows / base["rows"]
    other = base["median_seconds"] - base["report_seconds_median"] - base["import_seconds"]
    reports = base["reports"] * fit["fixed_seconds"]
    per_row = fit["seconds_per_100k_rows"] / 1e5 * base["report_rows_total"] * scale
    return round(float(base["import_seconds"] + max(other, 0.0) * scale + reports + per_row), 1)


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
    scopes: dict[tuple[Any, ...], int] = {}
    for s in report.get("stats", []):
        key = (s["window_start"], s["cohort"], s["cohort_value"])
        scopes[key] = scopes.get(key, 0) + (s["n"] or 0)
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
            # (window, scope) pairs the check answered: what the same-work Evidently run
            # needs one report for (it cannot run a report on a scope without rows)
            "window_scopes": len(scopes),
            "window_scopes_with_rows": len({k for k, n in scopes.items() if n}),
            "results_by_check": dict(sorted(checks.items())),
            "alerts": len(report.get("alerts", [])),
            "alerts_by_check": dict(sorted(alerts.items())),
        },
    }


def _evidently_cmd(d: Path, wrap: list[str], split: dict[str, Any] | None = None) -> list[str]:
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
    if split is not None:
        cmd += ["--split-by-window", str(split["window_seconds"]), "--timestamp"]
        cmd += [split["timestamp"], *(["--cohort", *split["cohorts"]] if split["cohorts"] else [])]
    return cmd


def _failed(
    d: Path, what: str, run: Run, cap_gib: float | None, timeout_s: float | None
) -> dict[str, Any]:
    last = (run.stderr.strip().splitlines() or ["(no stderr)"])[-1]
    why = "killed at the time-out" if run.exit_code in (-9, 124, 137) else last
    print(f"[{d.name}] {what} failed after {run.seconds:.0f} s: {why}", flush=True)
    return {
        "failed": f"exit {run.exit_code} after {run.seconds:.0f} s "
        f"(cap {cap_gib} GiB address space, time-out {timeout_s} s): {why[:300]}",
        "seconds": round(run.seconds, 1),
        "peak_rss_mib": round(run.peak_rss_mib, 1),
    }


def bench_evidently(
    d: Path,
    *,
    repeat: int,
    runner: Runner,
    cap_gib: float | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """``repeat`` single-report Evidently runs on ``d`` (all rows, one report). With
    ``cap_gib`` the child's address space is capped (``prlimit --as``), so running out of
    memory ends it with a MemoryError instead of the kernel's OOM killer picking a process
    of someone else on the shared machine; with ``timeout_s`` it is killed after that many
    seconds (``timeout -s KILL``)."""
    wrap: list[str] = []
    if timeout_s:
        wrap += ["timeout", "-s", "KILL", str(int(timeout_s))]
    if cap_gib:
        wrap += ["prlimit", f"--as={int(cap_gib * 2**30)}", "--"]
    cmd = _evidently_cmd(d, wrap)
    runs = []
    detail: dict[str, Any] = {}
    for i in range(repeat):
        load = os.getloadavg()[0]
        run = runner.measure(cmd)
        if run.exit_code != 0:
            return {"mode": "single"} | _failed(d, "evidently", run, cap_gib, timeout_s)
        lines = [json.loads(x) for x in run.stdout.splitlines() if x.strip()]
        rep = next(x for x in lines if x["event"] == "report")
        start = next(x for x in lines if x["event"] == "start")
        detail = {
            "mode": "single",
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
            f"[{d.name}] evidently single report {i + 1}/{repeat}: {run.seconds:.1f} s (report "
            f"{rep['report_seconds']:.1f} s), {run.peak_rss_mib:.0f} MiB, load {runs[-1]['load']}",
            flush=True,
        )
    return summarise(runs) | detail


def bench_evidently_same_work(
    d: Path, work: Path, *, repeat: int, runner: Runner, check: dict[str, Any]
) -> dict[str, Any]:
    """``repeat`` same-work Evidently runs on ``d``: one process each, one report per
    (window, scope) of the check's spec, every report against the whole reference.
    ``check`` is driftline's check summary, whose (window, scope) pairs it should match."""
    split = split_plan(work / "driftline.yaml")
    cmd = _evidently_cmd(d, [], split)
    runs = []
    detail: dict[str, Any] = {}
    for i in range(repeat):
        load = os.getloadavg()[0]
        print(
            f"[{d.name}] evidently same work {i + 1}/{repeat}: one report per window "
            f"({split['window_seconds']} s) x scope (all, {', '.join(split['cohorts'])}) ...",
            flush=True,
        )
        run = runner.measure(cmd)
        if run.exit_code != 0:
            return {"mode": "same-work"} | _failed(d, "evidently same work", run, None, None)
        lines = [json.loads(x) for x in run.stdout.splitlines() if x.strip()]
        start = next(x for x in lines if x["event"] == "start")
        cut = next(x for x in lines if x["event"] == "split")
        summary = next(x for x in lines if x["event"] == "summary")
        reports = [x for x in lines if x["event"] == "report"]
        flagged: dict[str, int] = {}
        for r in reports:
            for c in r["drifted_columns"]:
                flagged[c] = flagged.get(c, 0) + 1
        detail = {
            "mode": "same-work",
            "evidently": start["evidently"],
            "split": split,
            "reports": summary["reports"],
            "windows": summary["windows"],
            "scopes": summary["scopes"],
            "driftline_window_scopes_with_rows": check.get("window_scopes_with_rows"),
            "import_seconds": start["import_seconds"],
            "read_seconds": round(start["read_seconds"] + cut["read_seconds"], 2),
            "split_seconds": round(cut["split_seconds"] + summary["slice_seconds"], 2),
            "report_rows_total": sum(r["rows"] for r in reports),
            "per_report": {
                "median_seconds": round(statistics.median(r["report_seconds"] for r in reports), 3),
                "max_seconds": max(r["report_seconds"] for r in reports),
                "fit": per_report_fit(
                    [r["rows"] for r in reports], [r["report_seconds"] for r in reports]
                ),
            },
            "reports_with_drifted_columns": sum(1 for r in reports if r["drifted_columns"]),
            "reports_with_dataset_drift": sum(1 for r in reports if r["dataset_drift"]),
            "drifted_columns": dict(sorted(flagged.items())),
            "by_report": [
                {k: r[k] for k in ("window_start", "scope", "rows", "report_seconds")}
                | {"drifted_columns": r["drifted_columns"]}
                for r in reports
            ],
        }
        runs.append(
            {
                "seconds": round(run.seconds, 2),
                "report_seconds": summary["report_seconds"],
                "peak_rss_mib": round(run.peak_rss_mib, 1),
                "load": [round(load, 2), round(os.getloadavg()[0], 2)],
            }
        )
        fit = detail["per_report"]["fit"]
        print(
            f"[{d.name}] evidently same work {i + 1}/{repeat}: {summary['reports']} reports, "
            f"{run.seconds:.1f} s (reports {summary['report_seconds']:.1f} s; per report "
            + (
                f"{fit['fixed_seconds']:.2f} s + {fit['seconds_per_100k_rows']:.2f} s per 100k rows"
                if fit
                else "-"
            )
            + f"), {run.peak_rss_mib:.0f} MiB, load {runs[-1]['load']}",
            flush=True,
        )
    expected = check.get("window_scopes_with_rows")
    if expected is not None and expected != detail.get("reports"):
        detail["note"] = (
            f"{detail.get('reports')} Evidently reports, but driftline answered {expected} "
            "(window, scope) pairs with rows: check the split"
        )
        print(f"[{d.name}] WARNING: {detail['note']}", flush=True)
    out = summarise(runs) | detail
    out["report_seconds_median"] = round(statistics.median(r["report_seconds"] for r in runs), 2)
    return out


def _runs(ev: dict[str, Any]) -> str:
    return ", ".join(f"{r['seconds']:.1f}" for r in ev["runs"])


def table(entries: list[dict[str, Any]]) -> str:
    """The Markdown table, then each size's two ratios to the driftline check."""
    lines = [
        "| rows | tool | work | median wall s | runs (s) | peak RSS MiB "
        "| Evidently / driftline check |",
        "|---:|---|---|---:|---|---:|---:|",
    ]
    notes = []
    for e in entries:
        dl, ev, sw = e["driftline"], e.get("evidently"), e.get("evidently_same_work")
        c = dl["check"]
        n = f"{e['rows']:,}"
        ref = f"{e.get('data', {}).get('reference_rows', 100_000):,}"
        lines.append(
            f"| {n} | driftline check | schema + drift (20 cols) + confidence + class "
            f"mix, {c['windows']} day windows x (overall + 4 cohorts) | {c['median_seconds']:.1f} "
            f"| {_runs(c)} | {c['peak_rss_mib']:.0f} | - |"
        )
        log = dl["log"]
        log_s = log["reference_seconds"] + log["predictions_seconds"]
        lines.append(
            f"| {n} | driftline log (once, not in the ratio) | ingest reference + "
            f"predictions into DuckDB | {log_s:.1f} "
            f"| {log['reference_seconds']:.1f} + {log['predictions_seconds']:.1f} "
            f"| {log['peak_rss_mib']:.0f} | - |"
        )
        ratios = []
        if ev and "median_seconds" in ev:
            r = ev["median_seconds"] / c["median_seconds"]
            ratios.append(f"Evidently single report / driftline check = {r:.2f}x")
            lines.append(
                f"| {n} | Evidently {ev['evidently']} DataDriftPreset: single report "
                f"| drift on 20 cols, all {n} rows vs the {ref}-row reference, 1 report: one "
                f"answer for the whole log (less work than the check) "
                f"| {ev['median_seconds']:.1f} | {_runs(ev)} | {ev['peak_rss_mib']:.0f} "
                f"| {r:.2f}x |"
            )
        elif ev and "failed" in ev:
            lines.append(
                f"| {n} | Evidently DataDriftPreset: single report | failed: {ev['failed']} "
                f"| - | - | {ev['peak_rss_mib']:.0f} | - |"
            )
        elif ev:
            lines.append(
                f"| {n} | Evidently DataDriftPreset: single report | not run: {ev['not_run']} "
                "| - | - | - | - |"
            )
        if sw and "median_seconds" in sw:
            r = sw["median_seconds"] / c["median_seconds"]
            ratios.append(
                f"Evidently same work ({sw['reports']} reports) / driftline check = {r:.2f}x"
            )
            cohorts = len(sw["scopes"]) - 1
            lines.append(
                f"| {n} | Evidently {sw['evidently']} DataDriftPreset: same work "
                f"({sw['reports']} reports) | drift on 20 cols, 1 report per day window x "
                f"scope ({sw['windows']} windows x (all rows + {cohorts} cohort values)), each "
                f"vs the same {ref}-row reference, processed again by every report; columns "
                f"flagged in {sw['reports_with_drifted_columns']} of {sw['reports']} reports "
                f"| {sw['median_seconds']:.1f} | {_runs(sw)} | {sw['peak_rss_mib']:.0f} "
                f"| {r:.2f}x |"
            )
        elif sw and "failed" in sw:
            lines.append(
                f"| {n} | Evidently DataDriftPreset: same work | failed: {sw['failed']} "
                f"| - | - | {sw['peak_rss_mib']:.0f} | - |"
            )
        elif sw:
            projected = sw.get("projected_seconds")
            r_txt = f"~{projected / c['median_seconds']:.0f}x (projected)" if projected else "-"
            if projected:
                ratios.append(
                    f"Evidently same work ({sw.get('reports', '?')} reports) / driftline check "
                    f"~ {projected / c['median_seconds']:.0f}x (projected, not run)"
                )
            lines.append(
                f"| {n} | Evidently DataDriftPreset: same work | not run: {sw['not_run']} "
                f"| {f'~{projected:.0f} (projected)' if projected else '-'} | - | - | {r_txt} |"
            )
        if ratios:
            notes.append(f"- {n} rows: " + "; ".join(ratios))
    return "\n".join([*lines, *(["", *notes] if notes else [])])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", type=parse_rows, default=[1_000_000, 10_000_000])
    p.add_argument("--repeat", type=int, default=3, help="driftline check runs per size")
    p.add_argument("--repeat-large", type=int, default=None, help="runs above 1M (default same)")
    p.add_argument(
        "--evidently-modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="single: one report over all rows; same-work: one report per window x scope "
        "(at most 1M rows; projected above). Default: both",
    )
    p.add_argument("--evidently-repeat", type=int, default=1, help="single-report runs")
    p.add_argument(
        "--evidently-same-work-repeat", type=int, default=1, help="same-work runs (minutes each)"
    )
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
    base_sw: dict[str, Any] | None = None  # the same for the same-work run
    modes = set(a.evidently_modes)
    for rows in sorted(a.sizes):
        d, work, meta = prepare(rows, a.data, runner)
        repeat = a.repeat if rows <= 1_000_000 or a.repeat_large is None else a.repeat_large
        entry: dict[str, Any] = {"size": label(rows), "rows": rows, "data": meta}
        entry["driftline"] = bench_driftline(d, work, repeat=repeat, runner=runner)
        check = entry["driftline"]["check"]
        large = rows > 1_000_000
        if "single" in modes:
            entry["evidently"] = single_report(a, d, rows, runner, base)
            if base is None and "median_seconds" in entry["evidently"]:
                base = {"rows": rows, **entry["evidently"]}
        if "same-work" in modes:
            if not large:
                entry["evidently_same_work"] = bench_evidently_same_work(
                    d, work, repeat=a.evidently_same_work_repeat, runner=runner, check=check
                )
                if base_sw is None and "median_seconds" in entry["evidently_same_work"]:
                    base_sw = {"rows": rows, **entry["evidently_same_work"]}
            else:
                entry["evidently_same_work"] = same_work_not_run(base_sw, rows)
        ev, sw = entry.get("evidently"), entry.get("evidently_same_work")
        if ev and "median_seconds" in ev:
            entry["ratio_evidently_over_driftline"] = round(
                ev["median_seconds"] / check["median_seconds"], 2
            )
        if sw and "median_seconds" in sw:
            entry["ratio_evidently_same_work_over_driftline"] = round(
                sw["median_seconds"] / check["median_seconds"], 2
            )
        elif sw and sw.get("projected_seconds"):
            entry["ratio_evidently_same_work_over_driftline_projected"] = round(
                sw["projected_seconds"] / check["median_seconds"], 1
            )
        entries.append(entry)
    return entries


def single_report(
    a: argparse.Namespace, d: Path, rows: int, runner: Runner, base: dict[str, Any] | None
) -> dict[str, Any]:
    """The single-report Evidently run of one size, or why it was not run."""
    large = rows > 1_000_000
    if large and not a.evidently_10m:
        if base is None:
            return {"not_run": "not attempted above 1M rows (pass --evidently-10m to try)"}
        scale = rows / base["rows"]
        return {
            "not_run": f"not attempted (projected from {label(base['rows'])}, linear: "
            f"~{base['median_seconds'] * scale:.0f} s and ~"
            f"{base['peak_rss_mib'] * scale / 1024:.0f} GiB; pass --evidently-10m to try)"
        }
    free = mem_available_mib() or 0.0
    if large and a.evidently_memory_cap_gib * 1024 > 0.9 * free:
        return {
            "not_run": f"the {a.evidently_memory_cap_gib} GiB cap exceeds 90 % of the "
            f"{free:.0f} MiB available now"
        }
    if base is not None and rows > base["rows"]:
        est_s = base["median_seconds"] * rows / base["rows"]
        if est_s > a.evidently_10m_budget:
            return {"not_run": f"projected {est_s:.0f} s > budget {a.evidently_10m_budget:.0f} s"}
    return bench_evidently(
        d,
        repeat=a.evidently_repeat if not large else 1,
        runner=runner,
        cap_gib=a.evidently_memory_cap_gib if large else None,
        timeout_s=a.evidently_10m_budget if large else None,
    )


def same_work_not_run(base: dict[str, Any] | None, rows: int) -> dict[str, Any]:
    """Why the same-work run is skipped at ``rows`` (above 1M), with its projected time."""
    why = "not attempted above 1M rows (only the single report runs there)"
    if base is None:
        return {"not_run": f"{why}; run a size up to 1m too for a projection"}
    projected = project_same_work(base, rows)
    if projected is None:
        return {
            "not_run": f"{why}; the per-report times at {label(base['rows'])} give no "
            "usable fit (they do not grow with the rows) to project from"
        }
    fit = base["per_report"]["fit"]
    return {
        "not_run": f"{why}; projected from {label(base['rows'])}: its {base['reports']} "
        f"reports with x{rows / base['rows']:g} the rows, each {fit['fixed_seconds']:.2f} s "
        f"+ {fit['seconds_per_100k_rows']:.2f} s per 100k rows (least squares over its "
        f"reports, extrapolated), imports as measured, reading and splitting "
        f"x{rows / base['rows']:g}; peak RSS not projected",
        "projected_seconds": projected,
        "reports": base["reports"],
    }


if __name__ == "__main__":
    main()
