"""Embedding drift on 1M logged rows of 384-dimensional embeddings, per check.

The data (seeded, written once to ``--data``, default
``/work/main/benchmarks/data/embeddings-1m``): a 20k-row reference and ``--rows``
predictions over 10 days (``--files`` Parquet files, logged into one DuckDB store), 5
classes, the cohort ``region`` (4 values, 40/30/20/10 %), an ``embedding`` of ``--dim``
float32 values per row: a class-conditional Gaussian with a low-rank structure (a class
mean plus 24 shared directions plus noise). On the last day the vectors of class ``c``
move by 0.5 along one of the shared directions (the check should flag ``embedding:c``
there, and only there).

What is timed, in this process, ``--repeat`` times each, in one run (medians):

- ``embedding``: :func:`driftline.checks._embedding_checks.embedding_results` over every
  window: the capped samples drawn in the engine (one query per scope: overall and the
  cohort column), the PCA features, the domain classifier with its null bands and the MMD
  tests: what ``embedding_drift`` adds to a check;
- ``check`` (once, first): the whole check, every check included, not incremental;
- ``scan`` (the anchor): one DuckDB query that reads every vector once
  (``sum(list_sum(embedding))``): what any method that loads the column pays at least.

Reported: wall and CPU seconds (``time.process_time``: this process and DuckDB's threads),
their ratio to the anchor, the load average before and after, and the alerts raised.
Results merge into ``benchmarks/results/embeddings.json``.

Usage::

    python benchmarks/bench_embeddings.py                  # generate if missing, 3 repeats
    python benchmarks/bench_embeddings.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
CLASSES = ("a", "b", "c", "d", "e")
REGIONS = ("north", "south", "east", "west")
SHARES = (0.4, 0.3, 0.2, 0.1)
RANK = 24
SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "prediction",
    "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
    "cohorts": ["region"],
    "embedding": "embedding",
    "window": "1d",
}


def chunk(
    rows: int, dim: int, seed: int, start: datetime, step: float, offset: int, shift_from: int
) -> pa.Table:
    """``rows`` predictions starting at id ``offset``; rows from index ``shift_from`` on
    (of the whole stream) have class ``c`` moved.

    >>> t = chunk(10, 8, 0, datetime(2024, 1, 1), 1.0, 0, 5)
    >>> t.num_rows, t.schema.field("embedding").type
    (10, ListType(list<item: float>))
    """
    structure = np.random.default_rng(12345)
    means = structure.normal(0, 1.0, size=(len(CLASSES), dim)).astype(np.float32)
    basis = structure.normal(0, 1.0 / np.sqrt(dim), size=(RANK, dim)).astype(np.float32)
    rng = np.random.default_rng([seed, offset])
    scores = rng.dirichlet(np.ones(len(CLASSES)) * 2, size=rows)
    pred = scores.argmax(axis=1)
    latent = rng.normal(0, 3.0, size=(rows, RANK)).astype(np.float32)
    emb = means[pred] + latent @ basis + rng.normal(0, 0.3, size=(rows, dim)).astype(np.float32)
    moved = (np.arange(offset, offset + rows) >= shift_from) & (pred == CLASSES.index("c"))
    emb[moved] += 0.5 * basis[0] * np.sqrt(dim)
    flat = pa.array(emb.reshape(-1), pa.float32())
    cols: dict[str, Any] = {
        "id": pa.array([f"p{i}" for i in range(offset, offset + rows)]),
        "ts": pa.array(
            [start + timedelta(seconds=step * i) for i in range(offset, offset + rows)],
            pa.timestamp("us", tz="UTC"),
        ),
        "prediction": pa.array([CLASSES[k] for k in pred]),
        "region": pa.array(rng.choice(REGIONS, size=rows, p=SHARES)),
        "embedding": pa.ListArray.from_arrays(
            pa.array(np.arange(0, rows * dim + 1, dim, dtype=np.int32)), flat
        ),
    }
    for k, c in enumerate(CLASSES):
        cols[f"score_{c}"] = pa.array(scores[:, k])
    return pa.table(cols)


def generate(data: Path, rows: int, dim: int, files: int) -> None:
    """Write the reference and the prediction files (skipped when ``meta.json`` says they
    are there for these arguments)."""
    meta = {"rows": rows, "dim": dim, "files": files, "reference_rows": 20_000}
    done = data / "meta.json"
    if done.exists() and json.loads(done.read_text()) == meta:
        return
    data.mkdir(parents=True, exist_ok=True)
    ref = chunk(20_000, dim, 1, datetime(2024, 1, 1, tzinfo=timezone.utc), 1.0, 0, 10**12)
    pq.write_table(ref, data / "reference.parquet")
    step = 10 * 86400 / rows
    per = rows // files
    last_day = int(rows * 0.9)
    for f in range(files):
        part = chunk(
            per, dim, 0, datetime(2024, 2, 1, tzinfo=timezone.utc), step, f * per, last_day
        )
        pq.write_table(part, data / f"predictions-{f:02d}.parquet")
    done.write_text(json.dumps(meta))


def log_store(data: Path) -> Path:
    import driftline

    store = data / "store.duckdb"
    if (data / "store.ok").exists():
        return store
    store.unlink(missing_ok=True)
    with driftline.connect(store, SPEC, profile=data / "profile.json") as mon:
        mon.log_reference(str(data / "reference.parquet"))
        for path in sorted(data.glob("predictions-*.parquet")):
            mon.log_predictions(str(path))
    (data / "store.ok").write_text("ok")
    return store


def timed(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path("/work/main/benchmarks/data/embeddings-1m")
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import driftline
    from driftline.checks import run_checks
    from driftline.checks._embedding_checks import bases_of, embedding_results
    from driftline.checks._evaluate import _Evaluator

    t0 = time.perf_counter()
    generate(args.data, args.rows, args.dim, args.files)
    store = log_store(args.data)
    print(f"data ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    load_before = os.getloadavg()
    with driftline.connect(store, SPEC, profile=args.data / "profile.json") as mon:
        profile = mon.fit_profile()  # with this tree's code (not timed)
        engine, spec = mon.engine, mon.spec
        t = engine.table("predictions")
        window = spec.window_parsed
        # one whole check (not incremental, nothing stored): its stats give the windows
        check_wall, check_cpu, report = timed(lambda: run_checks(engine, t, spec, profile))
        keys = sorted({s.window for s in report.stats})
        bases = bases_of(report.stats)
        run = _Evaluator(spec, profile, window, {}).run
        con = mon.store.con
        runs: dict[str, list[tuple[float, float]]] = {"embedding": [], "scan": []}
        results: list[Any] = []
        for _ in range(args.repeat):
            wall, cpu, _x = timed(
                lambda: con.execute("SELECT sum(list_sum(embedding)) FROM predictions").fetchone()
            )
            runs["scan"].append((wall, cpu))
            wall, cpu, out = timed(
                lambda: embedding_results(engine, t, spec, profile, run, window, keys, bases)
            )
            runs["embedding"].append((wall, cpu))
            results = out[0]
    load_after = os.getloadavg()
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in runs.items()
    }
    alerts = sorted(
        {
            (r.window_start[:10], r.cohort_value or "overall", r.column)
            for r in results
            if r.status == "alert"
        }
    )
    decided = sum(r.value is not None for r in results)
    summary = {
        "rows": args.rows,
        "dim": args.dim,
        "windows": len(keys),
        "results": len(results),
        "decided": decided,
        "embedding_wall_s": round(med["embedding"][0], 2),
        "embedding_cpu_s": round(med["embedding"][1], 2),
        "scan_wall_s": round(med["scan"][0], 2),
        "scan_cpu_s": round(med["scan"][1], 2),
        "wall_ratio_to_scan": round(med["embedding"][0] / med["scan"][0], 2),
        "check_wall_s": round(check_wall, 2),
        "check_cpu_s": round(check_cpu, 2),
        "repeat": args.repeat,
        "runs": {k: [[round(w, 3), round(c, 3)] for w, c in v] for k, v in runs.items()},
        "load": [round(load_before[0], 2), round(load_after[0], 2)],
        "alerts": [list(a) for a in alerts],
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out_path = HERE / "results" / "embeddings.json"
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
