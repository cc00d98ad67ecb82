"""The large scenario suite: detection delay and false alarms, driftline vs Evidently.

The streams are :mod:`driftline.scenarios` (the tests' generators) at a larger size.

``--part suite``
    Every stream of ``SCENARIOS`` plus ``NO_DRIFT`` at ``--seeds`` seeds, ``--windows``
    one-day windows of ``--rows`` rows, drift from window ``--onset`` on, against a
    ``--reference-rows`` reference. driftline: all windows logged into an in-memory store,
    one ``check(persist=False)``. Detection delay = first window with an alert of the
    scenario's expected (check, column, cohort value) minus the onset ("missed" if none);
    false alarms = alerts of any kind before the onset (every alert, for no-drift streams).
    Evidently: ``Report([DataDriftPreset()])`` with default settings, once per window
    (current = that window's rows, feature columns + ``prediction`` as a categorical column
    + ``comment`` as a text column; reference = the reference table), through
    ``evidently_runner.py`` in ``benchmarks/.venv-evidently``. Detection = Evidently's drift
    flag on the expected column; false alarm = any column flagged before the onset.
    Evidently has no cohorts: for the one-cohort scenario its flag is on the whole window.
``--part scale``
    No drift at scale: ``--scale-windows`` windows of ``--scale-rows`` rows, generated one
    at a time in memory (never written to disk), each logged into a fresh in-memory store
    and checked against the same fitted reference profile, then discarded; stops early
    when ``--scale-minutes`` have passed (the count run is reported). Then Evidently on
    the first ``--evidently-scale-windows`` of those windows (these are written to a
    temporary Parquet file for the Evidently process, and deleted after it).

Results merge into ``benchmarks/results/scenarios.json`` (one key per part) and the
Markdown tables into ``benchmarks/results/scenarios.md``.

Usage::

    bash benchmarks/setup_evidently.sh                     # once
    python benchmarks/bench_scenarios.py --part suite
    python benchmarks/bench_scenarios.py --part scale --scale-minutes 40
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import driftline
from driftline import scenarios as sc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_check import machine  # noqa: E402
from generate import parse_rows  # noqa: E402

EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
RUNNER = HERE / "evidently_runner.py"
DRIFT_ALERTS = ("feature_drift", "text_drift", "class_mix", "class_prior")
#: What Evidently must flag for each kind of drift (its column; it has no checks or cohorts).
EVIDENTLY_COLUMN = {
    "mean_shift": "amount_z",
    "scale_change": "latency",
    "new_category": "payment",
    "class_prior": "prediction",
    "text_style": "comment",
}
EV_NUMERIC = list(sc.NUMERIC)
EV_CATEGORICAL = [*sc.CATEGORICAL, "prediction"]
EV_TEXT = ["comment"]
EV_COLUMNS = [*EV_NUMERIC, *EV_CATEGORICAL, *EV_TEXT]
REFERENCE_SEED = 100


def source() -> dict[str, Any]:
    """The commit, whether src/driftline differs from it, and a hash of src/driftline as
    imported (this script runs driftline in process: the modules are loaded at start)."""
    package = Path(driftline.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.strip()

    digest = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        digest.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(git("status", "--porcelain", "--", str(package))),
        "src_sha256": digest.hexdigest()[:16],
    }


SOURCE = source()  # taken at import, before any long run


def day_index(window_start: str) -> int:
    ts = datetime.fromisoformat(window_start.replace("Z", "+00:00"))
    return (ts - sc.START).days


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fit_profile(reference: pa.Table, path: Path) -> float:
    """Fit the reference profile once (saved at ``path``); every stream's store reuses it."""
    t0 = time.perf_counter()
    with driftline.connect(":memory:", sc.spec(), profile=path) as mon:
        mon.log_reference(reference)
    return time.perf_counter() - t0


def expected_hits(alerts: list[Any], scenario: sc.Scenario) -> list[Any]:
    """The alerts that count as detecting ``scenario`` (the tests' rule)."""
    check, column, cohort_value = scenario.expect
    cohort = None if cohort_value is None else "region"
    return [
        a
        for a in alerts
        if a.check == check
        and a.cohort == cohort
        and a.cohort_value == cohort_value
        and (column is None or (a.column or "").split(":")[0] == column)
    ]


def alert_dict(a: Any) -> dict[str, Any]:
    return {
        "window": day_index(a.window_start),
        "cohort": a.cohort,
        "cohort_value": a.cohort_value,
        "check": a.check,
        "column": a.column,
        "message": a.message,
    }


# --------------------------------------------------------------------------------------
# part a: driftline on the scenario streams
# --------------------------------------------------------------------------------------
def driftline_stream(
    scenario: sc.Scenario, seed: int, windows: int, rows: int, profile: Path
) -> dict[str, Any]:
    t0 = time.perf_counter()
    with driftline.connect(":memory:", sc.spec(), profile=profile) as mon:
        gen = 0.0
        for i in range(windows):
            g0 = time.perf_counter()
            table = sc.window(scenario, i, rows, seed=seed)
            gen += time.perf_counter() - g0
            mon.log_predictions(table)
        t1 = time.perf_counter()
        report = mon.check(persist=False)
        t2 = time.perf_counter()
    onset = scenario.onset
    alerts = report.alerts
    if scenario.kind == "none":
        false_alarms = alerts
        delay: int | str | None = None
    else:
        false_alarms = [a for a in alerts if day_index(a.window_start) < onset]
        hits = expected_hits(alerts, scenario)
        first = min((day_index(a.window_start) for a in hits), default=None)
        delay = "missed" if first is None else first - onset
    by_check = Counter(a.check for a in alerts)
    after = Counter(
        f"{a.check}:{a.column}" if a.column else a.check
        for a in alerts
        if day_index(a.window_start) >= onset
    )
    return {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "seed": seed,
        "onset": onset if scenario.kind != "none" else None,
        "expect": list(scenario.expect),
        "delay_windows": delay,
        "false_alarms": len(false_alarms),
        "false_alarm_alerts": [alert_dict(a) for a in false_alarms[:20]],
        "alerts": len(alerts),
        "alerts_by_check": dict(sorted(by_check.items())),
        "alerts_from_onset_by_check_column": dict(sorted(after.items())),
        "results": len(report.results),
        "generate_seconds": round(gen, 2),
        "log_seconds": round(t1 - t0 - gen, 2),
        "check_seconds": round(t2 - t1, 2),
    }


# --------------------------------------------------------------------------------------
# part b: Evidently on the same streams
# --------------------------------------------------------------------------------------
def evidently_available() -> bool:
    return EVIDENTLY_PYTHON.exists()


def run_evidently(reference: Path, currents: list[Path], timeout: float) -> dict[str, Any]:
    """Run ``evidently_runner.py`` on ``currents``; finished reports survive a time-out."""
    cmd = [
        str(EVIDENTLY_PYTHON),
        str(RUNNER),
        "--reference",
        str(reference),
        "--current",
        *map(str, currents),
        "--numeric",
        *EV_NUMERIC,
        "--categorical",
        *EV_CATEGORICAL,
        "--text",
        *EV_TEXT,
    ]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            timed_out = True
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        lines = [json.loads(line) for line in out.read().decode().splitlines() if line.strip()]
        stderr = err.read().decode()
    if proc.returncode not in (0, None) and not timed_out:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"evidently_runner exited with {proc.returncode}")
    start = next((x for x in lines if x["event"] == "start"), {})
    reports = {x["current"]: x for x in lines if x["event"] == "report"}
    return {"seconds": seconds, "timed_out": timed_out, "start": start, "reports": reports}


def evidently_stream(
    scenario: sc.Scenario,
    seed: int,
    windows: int,
    rows: int,
    reference: Path,
    per_window_timeout: float,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="driftline-ev-") as tmp:
        paths = []
        for i in range(windows):
            p = Path(tmp) / f"w{i:03d}.parquet"
            pq.write_table(sc.window(scenario, i, rows, seed=seed).select(EV_COLUMNS), p)
            paths.append(p)
        run = run_evidently(reference, paths, timeout=per_window_timeout * windows + 30)
        per_window = [run["reports"].get(str(p)) for p in paths]
    onset = scenario.onset
    flagged: list[list[str]] = []
    for rep in per_window:
        if rep is None:
            flagged.append([])
            continue
        flagged.append(sorted(c for c, v in rep["columns"].items() if v["drift"]))
    done = sum(rep is not None for rep in per_window)
    if scenario.kind == "none":
        false_alarm_windows = [i for i, f in enumerate(flagged) if f]
        delay: int | str | None = None
    else:
        false_alarm_windows = [i for i, f in enumerate(flagged[:onset]) if f]
        col = EVIDENTLY_COLUMN[scenario.kind]
        first = next(
            (i for i in range(onset, windows) if per_window[i] and col in flagged[i]), None
        )
        delay = "missed" if first is None else first - onset
        if first is None and done < windows:
            delay = "timeout"
    seconds = [rep["report_seconds"] for rep in per_window if rep]
    scores: dict[str, list[float | None]] = {}
    if scenario.kind != "none":
        col = EVIDENTLY_COLUMN[scenario.kind]
        scores[col] = [rep["columns"][col]["score"] if rep else None for rep in per_window]
    return {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "seed": seed,
        "windows_done": done,
        "timed_out": run["timed_out"],
        "delay_windows": delay,
        "false_alarm_windows": false_alarm_windows,
        "false_alarms": sum(len(flagged[i]) for i in false_alarm_windows),
        "flagged_columns_by_window": flagged,
        "expected_column_scores": scores,
        "methods": {
            c: f"{v['method']} (threshold {v['threshold']})"
            for c, v in (per_window[0] or {}).get("columns", {}).items()
        },
        "report_seconds_median": round(statistics.median(seconds), 2) if seconds else None,
        "process_seconds": round(run["seconds"], 1),
    }


def streams(seeds: int) -> list[tuple[sc.Scenario, int]]:
    return [(s, 0) for s in sc.SCENARIOS] + [(sc.NO_DRIFT, k) for k in range(seeds)]


def with_onset(s: sc.Scenario, onset: int) -> sc.Scenario:
    return sc.Scenario(s.name, s.kind, s.size, onset, s.cohort_value)


def _check_reusable_suite(a: argparse.Namespace) -> None:
    """With ``--reuse-evidently``, stop before any work unless the previous suite ran
    Evidently on the same streams (the suite takes minutes to find out otherwise)."""
    prev = (a.previous_suite or {}).get("config", {})
    planned = {
        "windows": a.windows,
        "onset": a.onset,
        "evidently_rows": a.evidently_rows,
        "reference_rows": a.reference_rows,
        "reference_seed": REFERENCE_SEED,
        "no_drift_seeds": a.seeds,
    }
    differ = {k: (prev.get(k), v) for k, v in planned.items() if prev.get(k) != v}
    if differ or not (a.previous_suite or {}).get("evidently"):
        raise SystemExit(
            "--reuse-evidently: no Evidently results of the same streams to keep "
            f"(previous vs now: {differ or 'no Evidently results'})"
        )


def part_suite(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    ref = sc.reference(a.reference_rows, seed=REFERENCE_SEED)
    profile = work / "profile.json"
    fit_seconds = fit_profile(ref, profile)
    ref_path = work / "reference.parquet"
    pq.write_table(ref.select(EV_COLUMNS), ref_path)
    print(f"[suite] reference {a.reference_rows} rows, profile fit {fit_seconds:.1f} s", flush=True)
    sizes = sorted({a.rows, a.evidently_rows}, reverse=True)
    out: dict[str, Any] = {
        "config": {
            "windows": a.windows,
            "onset": a.onset,
            "rows": a.rows,
            "evidently_rows": a.evidently_rows,
            "reference_rows": a.reference_rows,
            "reference_seed": REFERENCE_SEED,
            "no_drift_seeds": a.seeds,
            "profile_fit_seconds": round(fit_seconds, 1),
        },
        "driftline": {},
        "evidently": [],
    }
    for rows in sizes:
        entries = []
        for scenario, seed in streams(a.seeds):
            s = with_onset(scenario, a.onset)
            e = driftline_stream(s, seed, a.windows, rows, profile)
            entries.append(e)
            print(
                f"[suite driftline {rows}] {s.name} seed {seed}: delay {e['delay_windows']}, "
                f"false alarms {e['false_alarms']}, check {e['check_seconds']} s, "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            for fa in e["false_alarm_alerts"]:
                print(f"    false alarm: {fa}", flush=True)
            gc.collect()
        out["driftline"][str(rows)] = entries
    if a.reuse_evidently:
        prev = a.previous_suite or {}
        _check_reusable_suite(a)
        # the streams come from driftline.scenarios alone; Evidently does not run driftline
        out["evidently"] = prev["evidently"]
        out["evidently_measured_at"] = prev.get("evidently_measured_at", prev.get("measured_at"))
    elif not a.skip_evidently:
        out["evidently_measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if not evidently_available():
            raise SystemExit(
                f"{EVIDENTLY_PYTHON} is missing; run `bash benchmarks/setup_evidently.sh` first, "
                "or pass --skip-evidently."
            )
        for scenario, seed in streams(a.seeds):
            s = with_onset(scenario, a.onset)
            e = evidently_stream(
                s, seed, a.windows, a.evidently_rows, ref_path, a.evidently_timeout
            )
            out["evidently"].append(e)
            print(
                f"[suite evidently {a.evidently_rows}] {s.name} seed {seed}: delay "
                f"{e['delay_windows']}, false-alarm windows {e['false_alarm_windows']}, "
                f"{e['report_seconds_median']} s/window, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return out


# --------------------------------------------------------------------------------------
# part c: no drift at scale
# --------------------------------------------------------------------------------------
def part_scale(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    ref = sc.reference(a.reference_rows, seed=REFERENCE_SEED)
    profile = work / "profile.json"
    fit_seconds = fit_profile(ref, profile)
    print(f"[scale] profile fit {fit_seconds:.1f} s", flush=True)
    deadline = time.perf_counter() + a.scale_minutes * 60
    windows: list[dict[str, Any]] = []
    alerts_by_check: Counter[str] = Counter()
    warns_by_check: Counter[str] = Counter()
    alert_samples: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for i in range(a.scale_first, a.scale_windows):
        if windows and time.perf_counter() > deadline:
            break
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        table = sc.window(sc.NO_DRIFT, i, a.scale_rows, seed=a.scale_seed)
        t1 = time.perf_counter()
        with driftline.connect(":memory:", sc.spec(), profile=profile) as mon:
            mon.log_predictions(table)
            del table
            t2 = time.perf_counter()
            report = mon.check(persist=False)
            t3 = time.perf_counter()
        counts = Counter(al.check for al in report.alerts)
        alerts_by_check.update(counts)
        # beyond the calibrated bound, not the floor: what the floors hold back
        warns_by_check.update(
            r.check for r in report.results if r.status == "warn" and r.check in DRIFT_ALERTS
        )
        alert_samples.extend(
            alert_dict(al) for al in report.alerts[: max(0, 50 - len(alert_samples))]
        )
        windows.append(
            {
                "window": i,
                "generate_seconds": round(t1 - t0, 2),
                "log_seconds": round(t2 - t1, 2),
                "check_seconds": round(t3 - t2, 2),
                "seconds": round(t3 - t0, 2),
                "alerts": dict(counts),
                "results": len(report.results),
                "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
            }
        )
        del report
        gc.collect()
        print(
            f"[scale] window {i}: {windows[-1]['seconds']} s (check "
            f"{windows[-1]['check_seconds']} s), alerts {dict(counts) or 0}, load "
            f"{windows[-1]['load']}, rss {peak_rss_mib():.0f} MiB",
            flush=True,
        )
    elapsed = time.perf_counter() - t_start
    secs = sorted(w["seconds"] for w in windows)
    check_secs = [w["check_seconds"] for w in windows]
    drift = {k: alerts_by_check.get(k, 0) for k in DRIFT_ALERTS}
    other = {k: v for k, v in alerts_by_check.items() if k not in DRIFT_ALERTS}
    out: dict[str, Any] = {
        "config": {
            "rows_per_window": a.scale_rows,
            "windows_planned": a.scale_windows,
            "first_window": a.scale_first,
            "minutes_budget": a.scale_minutes,
            "reference_rows": a.reference_rows,
            "seed": a.scale_seed,
        },
        "windows_run": len(windows),
        "rows_checked": len(windows) * a.scale_rows,
        "elapsed_seconds": round(elapsed, 1),
        "seconds_per_window_median": round(statistics.median(secs), 2) if secs else None,
        "check_seconds_median": round(statistics.median(check_secs), 2) if secs else None,
        "seconds_per_window_max": secs[-1] if secs else None,
        "drift_alerts": drift,
        "drift_alerts_total": sum(drift.values()),
        "drift_warns": dict(warns_by_check),
        "other_alerts": other,
        "alert_samples": alert_samples,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "windows": windows,
        "evidently": None,
    }
    if a.reuse_evidently:
        # Evidently's no-drift windows come from driftline.scenarios alone (same seed,
        # same sizes): its previous runs on them still hold
        prev = a.previous_scale or {}
        keys = ("rows_per_window", "reference_rows", "seed")
        same = all(prev.get("config", {}).get(k) == out["config"][k] for k in keys)
        if not (same and prev.get("evidently")):
            raise SystemExit("--reuse-evidently: no Evidently results of the same windows to keep")
        out["evidently"] = prev["evidently"]
        out["evidently_measured_at"] = prev.get("evidently_measured_at", prev.get("measured_at"))
    elif a.evidently_scale_windows and evidently_available():
        out["evidently"] = evidently_scale(a, work)
    return out


def evidently_scale(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    ref_path = work / "reference.parquet"
    pq.write_table(sc.reference(a.reference_rows, seed=REFERENCE_SEED).select(EV_COLUMNS), ref_path)
    reports = []
    for i in range(a.evidently_scale_windows):
        cur = work / f"scale-w{i}.parquet"  # temporary: the Evidently process reads files
        table = sc.window(sc.NO_DRIFT, i, a.scale_rows, seed=a.scale_seed).select(EV_COLUMNS)
        pq.write_table(table, cur)
        del table
        run = run_evidently(ref_path, [cur], timeout=a.evidently_timeout_scale)
        cur.unlink()
        rep = run["reports"].get(str(cur))
        entry: dict[str, Any] = {
            "window": i,
            "process_seconds": round(run["seconds"], 1),
            "timed_out": run["timed_out"],
        }
        if rep:
            entry |= {
                "report_seconds": rep["report_seconds"],
                "flagged": sorted(c for c, v in rep["columns"].items() if v["drift"]),
                "scores": {c: round(v["score"], 4) for c, v in rep["columns"].items()},
                "dataset_drift": rep["dataset_drift"],
                "drift_share": rep["drift_share"],
            }
        reports.append(entry)
        print(f"[scale evidently] window {i}: {entry}", flush=True)
        if run["timed_out"]:
            break  # the next windows are the same size: they would time out too
    return {"rows_per_window": a.scale_rows, "windows": reports}


# --------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------
def _fmt_delay(d: Any) -> str:
    if d is None:
        return "-"
    return str(d) if isinstance(d, str) else f"{d:+d}"


def suite_table(suite: dict[str, Any]) -> str:
    cfg = suite["config"]
    rows_ev = cfg["evidently_rows"]
    dl = {(e["scenario"], e["seed"]): e for e in suite["driftline"].get(str(rows_ev), [])}
    dl_big = {(e["scenario"], e["seed"]): e for e in suite["driftline"].get(str(cfg["rows"]), [])}
    ev = {(e["scenario"], e["seed"]): e for e in suite["evidently"]}
    show_big = cfg["rows"] != rows_ev
    head = "| stream | driftline delay | driftline false alarms | Evidently delay "
    head += "| Evidently false alarms (windows) |"
    sep = "|---|---:|---:|---:|---:|"
    if show_big:
        head += f" driftline delay @{cfg['rows']:,} | false alarms @{cfg['rows']:,} |"
        sep += "---:|---:|"
    lines = [head, sep]
    for key in dl or dl_big:
        d = dl.get(key) or dl_big[key]
        e = ev.get(key)
        name = key[0] if d["kind"] != "none" else f"{key[0]} (seed {key[1]})"
        ev_delay = _fmt_delay(e["delay_windows"]) if e else "not run"
        ev_fa = f"{e['false_alarms']} ({len(e['false_alarm_windows'])})" if e else "not run"
        line = (
            f"| {name} | {_fmt_delay(d['delay_windows'])} | {d['false_alarms']} "
            f"| {ev_delay} | {ev_fa} |"
        )
        if show_big:
            b = dl_big[key]
            line += f" {_fmt_delay(b['delay_windows'])} | {b['false_alarms']} |"
        lines.append(line)
    return "\n".join(lines)


def scale_table(scale: dict[str, Any]) -> str:
    cfg = scale["config"]
    lines = [
        "| windows run | rows/window | drift alerts (feature, text, class_mix, class_prior) "
        "| other alerts | s/window (median, max) | peak RSS MiB |",
        "|---:|---:|---|---|---|---:|",
        f"| {scale['windows_run']} of {cfg['windows_planned']} | {cfg['rows_per_window']:,} "
        f"| {scale['drift_alerts_total']} ({', '.join(map(str, scale['drift_alerts'].values()))}) "
        f"| {scale['other_alerts'] or 0} | {scale['seconds_per_window_median']}, "
        f"{scale['seconds_per_window_max']} | {scale['peak_rss_mib']:.0f} |",
    ]
    ev = scale.get("evidently")
    if ev:
        lines += [
            "",
            "| Evidently on no-drift window | rows | columns flagged | dataset drift | report s |",
            "|---:|---:|---|---|---:|",
        ]
        for w in ev["windows"]:
            if "flagged" in w:
                lines.append(
                    f"| {w['window']} | {ev['rows_per_window']:,} "
                    f"| {', '.join(w['flagged']) or 'none'} "
                    f"| {w['dataset_drift']} | {w['report_seconds']:.0f} |"
                )
            else:
                lines.append(
                    f"| {w['window']} | {ev['rows_per_window']:,} | timed out after "
                    f"{w['process_seconds']} s | - | - |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=["suite", "scale", "all"], default="all")
    p.add_argument("--windows", type=int, default=20)
    p.add_argument("--onset", type=int, default=10)
    p.add_argument("--rows", type=parse_rows, default=50_000, help="rows per window (driftline)")
    p.add_argument(
        "--evidently-rows",
        type=parse_rows,
        default=None,
        help="rows per window for Evidently (default --rows); driftline also runs at this size",
    )
    p.add_argument("--reference-rows", type=parse_rows, default=100_000)
    p.add_argument("--seeds", type=int, default=3, help="no-drift streams (seeds 0..N-1)")
    p.add_argument("--evidently-timeout", type=float, default=120.0, help="s per window")
    p.add_argument("--skip-evidently", action="store_true")
    p.add_argument(
        "--reuse-evidently",
        action="store_true",
        help="keep the Evidently results of the same streams (suite) and windows (scale) "
        "from the previous --out",
    )
    p.add_argument("--scale-windows", type=int, default=100)
    p.add_argument(
        "--scale-first",
        type=int,
        default=0,
        help="first window of the no-drift stream to run (windows are seeded by index, so "
        "a run can be split across processes)",
    )
    p.add_argument("--scale-rows", type=parse_rows, default=1_000_000)
    p.add_argument("--scale-minutes", type=float, default=40.0, help="time budget of part c")
    p.add_argument("--scale-seed", type=int, default=7)
    p.add_argument("--evidently-scale-windows", type=int, default=3)
    p.add_argument("--evidently-timeout-scale", type=float, default=900.0, help="s per window")
    p.add_argument("--out", type=Path, default=HERE / "results" / "scenarios.json")
    a = p.parse_args(argv)
    if a.evidently_rows is None:
        a.evidently_rows = a.rows
    old: dict[str, Any] = json.loads(a.out.read_text()) if a.out.exists() else {}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    a.previous_suite = old.get("suite")
    a.previous_scale = old.get("scale")
    if a.reuse_evidently and a.part in ("suite", "all"):
        _check_reusable_suite(a)
    with tempfile.TemporaryDirectory(prefix="driftline-scen-") as tmp:
        work = Path(tmp)
        if a.part in ("suite", "all"):
            old["suite"] = part_suite(a, work) | {"measured_at": now, "source": SOURCE}
            old["suite"]["table"] = suite_table(old["suite"])
        if a.part in ("scale", "all"):
            old["scale"] = part_scale(a, work) | {"measured_at": now, "source": SOURCE}
            old["scale"]["table"] = scale_table(old["scale"])
    old["machine"] = machine()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(old, indent=1) + "\n")
    md = []
    if "suite" in old:
        c = old["suite"]["config"]
        md += [
            f"### Scenario suite ({old['suite']['measured_at'][:10]}; {c['windows']} windows, "
            f"onset {c['onset']}, {c['evidently_rows']:,} rows/window, reference "
            f"{c['reference_rows']:,})",
            "",
            old["suite"]["table"],
            "",
        ]
    if "scale" in old:
        md += [
            f"### No drift at scale ({old['scale']['measured_at'][:10]})",
            "",
            old["scale"]["table"],
            "",
        ]
    a.out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))
    print(f"results: {a.out}")


if __name__ == "__main__":
    main()
