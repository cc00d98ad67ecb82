"""What choosing thresholds and monitoring against them cost, at 1M predictions.

Data: ``benchmarks/data/1m`` (``generate.py``: 1M predictions over 10 days, a 100k-row
reference, 3 classes, a 4-value cohort, 20 features, no drift). Its reference has no
label column, so this script writes a labelled copy once to ``--data`` (default
``benchmarks/data/thresholds-1m``): each reference row's label drawn from its own scores
(seeded; a calibrated model's holdout). Then, in one process and one run:

1. ``Monitor.thresholds()`` on the 100k-row holdout (one engine fetch, one search per
   class), R times: wall and CPU seconds, median; the anchor is scikit-learn's
   ``precision_recall_curve`` on the same arrays (one per class), timed alike.
2. a full check (``Monitor.check(full=True, persist=False)``) of the 1M predictions with
   and without chosen thresholds, alternating, R times each: CPU and wall seconds,
   median, and the ratio with / without (the cost of the threshold-relative counts and
   checks). The threshold results and their alerts are counted (no drift: alerts are
   false alarms).

Results go to ``benchmarks/results/thresholds.json``; the load average is recorded with
them (timings on a shared machine are noisy: compare the ratios, measured in one run).

    python benchmarks/bench_thresholds.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).resolve().parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), _cpu()
    out = fn()
    return time.perf_counter() - w0, _cpu() - c0, out


def prepare(source: Path, data: Path) -> None:
    """The labelled copy of ``source``'s reference, its spec with a label, and a store
    holding both tables (made once)."""
    if (data / "store.duckdb").exists():
        return
    import driftline

    data.mkdir(parents=True, exist_ok=True)
    spec = yaml.safe_load((source / "driftline.yaml").read_text())
    spec["label"] = "label"
    (data / "driftline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    ref = pq.read_table(source / "reference.parquet")
    classes = list(spec["scores"]["columns"])
    p = np.column_stack([ref.column(spec["scores"]["columns"][c]).to_numpy() for c in classes])
    rng = np.random.default_rng(11)
    u = rng.random(len(p))[:, None]
    label = np.asarray(classes)[(u > np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)).sum(1)]
    pq.write_table(ref.append_column("label", pa.array(label)), data / "reference.parquet")
    with driftline.connect(data / "store.duckdb", data / "driftline.yaml") as mon:
        mon.log_reference(data / "reference.parquet")
        mon.log_predictions(source / "predictions.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=HERE / "data" / "1m")
    ap.add_argument("--data", type=Path, default=HERE / "data" / "thresholds-1m")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "thresholds.json")
    args = ap.parse_args()
    from sklearn.metrics import precision_recall_curve

    import driftline
    from driftline.thresholds import holdout

    prepare(args.source, args.data)
    load = os.getloadavg()
    profile_path = args.data / "driftline.profile.json"
    with driftline.connect(args.data / "store.duckdb", args.data / "driftline.yaml") as mon:
        mon.check(persist=False)  # warm: bounds calibrated and cached, pages read once
        data = holdout(mon.engine, mon.engine.table("reference_reference"), mon.spec)
        labels = np.array(data.labels, dtype=object)
        choose, anchor = [], []
        for _ in range(args.repeats):
            choose.append(_timed(lambda: mon.thresholds())[:2])
            anchor.append(
                _timed(
                    lambda: [
                        precision_recall_curve(labels == c, data.scores[:, i])
                        for i, c in enumerate(data.classes)
                    ]
                )[:2]
            )
        fitted = mon.profile.thresholds_
        saved = profile_path.read_text()
        without = json.loads(saved)
        without.pop("thresholds")
        runs: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        found: dict[str, Any] = {}
        for _ in range(args.repeats):
            for kind in ("without", "with"):
                profile_path.write_text(saved if kind == "with" else json.dumps(without))
                mon._profile = None
                wall, cpu, report = _timed(lambda: mon.check(full=True, persist=False))
                runs[kind].append((wall, cpu))
                got = [r for r in report.results if r.check.startswith("threshold_")]
                found[kind] = {
                    "results": len(report.results),
                    "threshold_results": len(got),
                    "threshold_alerts": sum(r.status == "alert" for r in got),
                    "threshold_warnings": sum(r.status == "warn" for r in got),
                    "alerts": len(report.alerts),
                }
        profile_path.write_text(saved)

    def med(rows: list[tuple[float, float]], k: int) -> float:
        return statistics.median(r[k] for r in rows)

    out = {
        "load_average_at_start": load,
        "load_average_at_end": os.getloadavg(),
        "repeats": args.repeats,
        "holdout_rows": len(labels),
        "thresholds": fitted.chosen if fitted else None,
        "choose": {"wall_s": med(choose, 0), "cpu_s": med(choose, 1)},
        "anchor_sklearn_pr_curves": {"wall_s": med(anchor, 0), "cpu_s": med(anchor, 1)},
        "choose_over_anchor_cpu": med(choose, 1) / max(med(anchor, 1), 1e-9),
        "check_without": {"wall_s": med(runs["without"], 0), "cpu_s": med(runs["without"], 1)},
        "check_with": {"wall_s": med(runs["with"], 0), "cpu_s": med(runs["with"], 1)},
        "check_with_over_without_cpu": med(runs["with"], 1) / med(runs["without"], 1),
        "check_with_over_without_wall": med(runs["with"], 0) / med(runs["without"], 0),
        "results": found,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
