"""What a label queue costs, next to one scan of the scores it ranks (the anchor).

On a copy of a store ``bench_check.py`` logged (``--data``, default
``benchmarks/data/1m``: 1M predictions, 3 classes, cohort ``region``), with labels logged
for every tenth id (the predicted class for 70 % of them), in one process:

- ``anchor``: one aggregate over the three score columns of every row (what any ranking
  must read at least once);
- each queue case below, ``Monitor.queue(...)``: wall seconds and CPU seconds (all
  threads of the process), medians of ``--repeat`` runs, and each as a ratio to the
  anchor measured in the same run;
- ``pandas``: the same least-confident queue by reading the scores into pandas and
  sorting (what the engine path avoids): its time and the RSS it adds.

The load average is recorded with the results (the machine is shared). Prints a Markdown
table; ``--json`` writes the results.

Usage::

    python benchmarks/bench_queue.py
    python benchmarks/bench_queue.py --data benchmarks/data/10m --repeat 3 --json results/queue.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import driftline

CASES: dict[str, dict[str, Any]] = {
    "least-confident 100": {"policy": "least-confident", "budget": 100},
    "entropy 100 by class": {"policy": "entropy", "budget": 100, "stratify": "class"},
    "3 policies x 100 by region": {
        "policy": ["least-confident", "margin", "high-confidence"],
        "budget": 100,
        "stratify": "cohort",
    },
    "near-threshold 1000, 1 day": {
        "policy": "near-threshold",
        "budget": 1000,
        "since": "2024-01-03",
        "until": "2024-01-04",
    },
    "below-threshold-correct 100": {"policy": "below-threshold-correct", "budget": 100},
}
THRESHOLDS = {"a": 0.6, "b": 0.6, "c": 0.6}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of ``fn`` over ``repeat`` runs, and its last result."""
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def run(data: Path, repeat: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dl-queue-"))
    try:
        for name in ("store.duckdb", "driftline.yaml", "driftline.profile.json"):
            shutil.copy(data / name, work / name)
        with driftline.connect(work / "store.duckdb", work / "driftline.yaml") as mon:
            con = mon.store.con
            n = con.execute("SELECT count(*) FROM predictions").fetchone()[0]  # type: ignore[index]
            labels = con.execute(
                "SELECT id, CASE WHEN hash(id) % 10 < 7 THEN prediction ELSE 'a' END AS label "
                "FROM predictions WHERE hash(id) % 10 = 0"
            ).arrow()
            t0 = time.perf_counter()
            report = mon.log_labels(labels)
            label_s = time.perf_counter() - t0
            anchor_w, anchor_c, _ = _timed(
                lambda: con.execute(
                    "SELECT max(greatest(score_a, score_b, score_c)), "
                    "avg(score_a * ln(score_a + 1e-12)) FROM predictions"
                ).fetchall(),
                repeat,
            )
            rows = []
            for name, options in CASES.items():
                wall, cpu, q = _timed(
                    lambda o=options: mon.queue(thresholds=THRESHOLDS, **o),  # type: ignore[misc]
                    repeat,
                )
                rows.append(
                    {
                        "case": name,
                        "picked": len(q.items),
                        "wall_s": round(wall, 4),
                        "cpu_s": round(cpu, 4),
                        "wall_x_anchor": round(wall / anchor_w, 2),
                        "cpu_x_anchor": round(cpu / anchor_c, 2),
                    }
                )
            rss_before = _rss_mib()

            def pandas_queue() -> list[str]:
                df = con.execute(
                    "SELECT id, score_a, score_b, score_c FROM predictions WHERE id NOT IN "
                    "(SELECT id FROM labels)"
                ).df()
                conf = df[["score_a", "score_b", "score_c"]].max(axis=1)
                return list(df.loc[conf.nsmallest(100).index, "id"])

            pw, pc, ids = _timed(pandas_queue, repeat)
            engine_ids = mon.queue(policy="least-confident", budget=100).ids
            rows.append(
                {
                    "case": "pandas: least-confident 100",
                    "picked": len(ids),
                    "wall_s": round(pw, 4),
                    "cpu_s": round(pc, 4),
                    "wall_x_anchor": round(pw / anchor_w, 2),
                    "cpu_x_anchor": round(pc / anchor_c, 2),
                    "same_ids_as_engine": set(ids) == set(engine_ids),
                    "rss_added_mib": round(_rss_mib() - rss_before, 1),
                }
            )
        return {
            "data": str(data),
            "rows": n,
            "labels": report.rows,
            "log_labels_s": round(label_s, 3),
            "anchor_wall_s": round(anchor_w, 4),
            "anchor_cpu_s": round(anchor_c, 4),
            "repeat": repeat,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "cases": rows,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data/1m"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.data, args.repeat)
    print(
        f"{result['rows']:,} predictions, {result['labels']:,} labels (logged in "
        f"{result['log_labels_s']} s); anchor {result['anchor_wall_s']} s wall, "
        f"{result['anchor_cpu_s']} s CPU; load average {result['load_average']}"
    )
    print("| case | picked | wall s | CPU s | wall x anchor | CPU x anchor |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in result["cases"]:
        print(
            f"| {r['case']} | {r['picked']} | {r['wall_s']} | {r['cpu_s']} | "
            f"{r['wall_x_anchor']} | {r['cpu_x_anchor']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
