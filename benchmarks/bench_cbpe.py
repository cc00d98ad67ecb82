"""Performance before labels: driftline's estimate against realised accuracy, next to
NannyML's CBPE, on the same rows.

1. **NannyML's data sets** (``load_synthetic_car_loan_dataset``, binary, and
   ``load_synthetic_multiclass_classification_dataset``, three classes; exported to
   Parquet by ``nannyml_runner.py export``, see ``bench_nannyml.py``). Both tools fit on
   the reference (the labelled holdout) and estimate accuracy per chunk of the analysis
   period with its targets removed: NannyML's ``CBPE(metrics=["accuracy"],
   chunk_size=N)`` and driftline's ``performance_estimate`` at ``window: N rows`` (the
   same rows: the analysis set is in timestamp order), N = a tenth of the analysis
   rows. Realised accuracy per chunk is computed from the targets with pandas; then the
   targets are logged as labels and driftline's realised ``performance`` is checked to
   equal it. Reported per data set and tool: the mean absolute error of the estimate
   against the realised accuracy over the chunks, and how many chunks' realised
   accuracy lies inside the tool's band.
2. **A class-prior shift without labels** (:data:`driftline.scenarios.SCENARIOS`'
   ``class_prior`` stream: from day 6 class ``a``'s predicted share triples): driftline's
   estimate per daily window against the window's realised accuracy, and the share of
   windows whose realised accuracy is inside the band (acceptance: at least 90 %).

NannyML runs in ``benchmarks/.venv-nannyml`` (``bash benchmarks/setup_nannyml.sh``),
through ``cbpe_runner.py``; driftline never imports it.

Usage::

    python benchmarks/bench_cbpe.py --data benchmarks/data/nannyml
    python benchmarks/bench_cbpe.py --json benchmarks/results/cbpe.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import driftline
from driftline import scenarios as sc
from driftline.performance import calibration_method

HERE = Path(__file__).resolve().parent
NANNYML_PYTHON = HERE / ".venv-nannyml" / "bin" / "python"
RUNNER = HERE / "cbpe_runner.py"
CLASSES = ("prepaid_card", "highstreet_card", "upmarket_card")

DATASETS: dict[str, dict[str, Any]] = {
    "car_loan": {
        "rows": 50_000,
        "label": "repaid",
        "spec": {
            "id": "id",
            "timestamp": "timestamp",
            "prediction": "y_pred",
            "label": "repaid",
            "scores": {"column": "y_pred_proba", "positive": 1, "negative": 0},
            "features": {"numeric": ["car_value", "debt_to_income_ratio", "driver_tenure"]},
        },
    },
    "multiclass": {
        "rows": 60_000,
        "label": "y_true",
        "spec": {
            "id": "id",
            "timestamp": "timestamp",
            "prediction": "y_pred",
            "label": "y_true",
            "scores": {"columns": {c: f"y_pred_proba_{c}" for c in CLASSES}},
            "features": {"numeric": ["app_behavioral_score", "credit_bureau_score"]},
        },
    },
}


def _realised(analysis: pd.DataFrame, label: str, chunk: int) -> list[float]:
    right = (analysis["y_pred"].astype(str) == analysis[label].astype(str)).to_numpy()
    return [float(right[i : i + chunk].mean()) for i in range(0, len(right), chunk)]


def _nannyml(python: Path, data: Path, name: str, chunk: int) -> tuple[list[dict[str, Any]], float]:
    args = [str(python), str(RUNNER), "--data", str(data), "--dataset", name]
    done = subprocess.run(
        [*args, "--chunk-size", str(chunk)], check=True, capture_output=True, text=True
    )
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    meta = json.loads(done.stderr.strip().splitlines()[-1])
    return rows, float(meta["cpu_seconds"])


def _driftline(data: Path, name: str, chunk: int, workdir: Path) -> dict[str, Any]:
    ds = DATASETS[name]
    spec = {**ds["spec"], "window": f"{chunk} rows"}
    store = workdir / f"{name}.duckdb"
    analysis = pd.read_parquet(data / f"{name}_analysis.parquet")
    with driftline.connect(store, spec, profile=store.with_suffix(".json")) as mon:
        mon.log_reference(data / f"{name}_reference.parquet")
        mon.log_predictions(analysis.drop(columns=[ds["label"]]))
        started = time.process_time()
        before = mon.check(persist=False)
        seconds = time.process_time() - started
        mon.log_labels(analysis[["id", ds["label"]]])
        after = mon.check(persist=False)
        baseline = mon.profile.performance_
        calibration = {
            "method": calibration_method(baseline),
            "brier": baseline["calibration"]["brier"],
        }
    est = sorted(
        (r.window, r.details)
        for r in before.results_for("performance_estimate")
        if r.cohort is None
    )
    realised = {
        r.window: r.details["accuracy"]
        for r in after.results_for("performance")
        if r.cohort is None
    }
    return {
        "estimates": [
            {"estimate": d["accuracy"], "low": d["accuracy_low"], "high": d["accuracy_high"]}
            for _, d in est
        ],
        "realised": [realised[w] for w, _ in est],
        "cpu_seconds": seconds,
        "calibration": calibration["method"],
        "brier": calibration["brier"],
    }


def _score(estimates: list[dict[str, Any]], realised: list[float]) -> dict[str, Any]:
    est = np.array([e["estimate"] for e in estimates])
    real = np.array(realised)
    inside = sum(e["low"] <= r <= e["high"] for e, r in zip(estimates, realised, strict=True))
    return {
        "mae": float(np.abs(est - real).mean()),
        "inside_band": int(inside),
        "chunks": len(realised),
        "estimates": [round(float(x), 4) for x in est],
    }


def class_prior_stream(windows: int, rows: int, workdir: Path) -> dict[str, Any]:
    """driftline's estimate on the class-prior shift stream, no labels logged."""
    scenario = next(s for s in sc.SCENARIOS if s.kind == "class_prior")
    store = workdir / "prior.duckdb"
    realised = []
    with driftline.connect(store, sc.spec(), profile=store.with_suffix(".json")) as mon:
        mon.log_reference(sc.reference(20_000, seed=100))
        for i in range(windows):
            w = sc.window(scenario, i, rows)
            realised.append(float(pc_mean(w)))
            mon.log_predictions(w.drop(["label"]))
        report = mon.check(persist=False)
    est = sorted(
        (r.window, r.details)
        for r in report.results_for("performance_estimate")
        if r.cohort is None
    )
    estimates = [
        {"estimate": d["accuracy"], "low": d["accuracy_low"], "high": d["accuracy_high"]}
        for _, d in est
    ]
    out = _score(estimates, realised)
    out["realised"] = [round(r, 4) for r in realised]
    out["onset"] = scenario.onset
    return out


def pc_mean(table: Any) -> float:
    pred = np.asarray(table.column("prediction").to_pylist())
    label = np.asarray(table.column("label").to_pylist())
    return float((pred == label).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=HERE / "data" / "nannyml")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--nannyml-python", type=Path, default=NANNYML_PYTHON)
    p.add_argument("--prior-rows", type=int, default=20_000, help="rows per class-prior window")
    a = p.parse_args(argv)
    if not a.nannyml_python.exists():
        print("run `bash benchmarks/setup_nannyml.sh` first", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    out: dict[str, Any] = {"datasets": {}, "load": [round(load, 2)]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ds in DATASETS.items():
            chunk = ds["rows"] // 10
            analysis = pd.read_parquet(a.data / f"{name}_analysis.parquet")
            realised = _realised(analysis, ds["label"], chunk)
            nml_rows, nml_cpu = _nannyml(a.nannyml_python, a.data, name, chunk)
            dl = _driftline(a.data, name, chunk, Path(tmp))
            assert np.allclose(dl["realised"], realised), (dl["realised"], realised)
            out["datasets"][name] = {
                "chunk_rows": chunk,
                "realised": [round(r, 4) for r in realised],
                "driftline": {
                    **_score(dl["estimates"], realised),
                    "calibration": dl["calibration"],
                    "brier": dl["brier"],
                    "check_cpu_seconds": round(dl["cpu_seconds"], 2),
                },
                "nannyml_cbpe": {**_score(nml_rows, realised), "cpu_seconds": round(nml_cpu, 2)},
            }
        out["class_prior"] = class_prior_stream(12, a.prior_rows, Path(tmp))
    out["load"].append(round(os.getloadavg()[0], 2))
    print("| data set | chunk rows | driftline MAE | CBPE MAE | driftline in band | CBPE in band |")
    print("|---|---|---|---|---|---|")
    for name, e in out["datasets"].items():
        d, n = e["driftline"], e["nannyml_cbpe"]
        band = f"{d['inside_band']}/{d['chunks']} | {n['inside_band']}/{n['chunks']}"
        print(
            f"| {name} | {e['chunk_rows']} | {d['mae']:.4f} ({d['calibration']}) | "
            f"{n['mae']:.4f} | {band} |"
        )
    cp = out["class_prior"]
    print(
        f"\nclass-prior shift, no labels: realised inside driftline's band in "
        f"{cp['inside_band']}/{cp['chunks']} windows, MAE {cp['mae']:.4f}; load {out['load']}"
    )
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
