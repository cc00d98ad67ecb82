"""What refusing stored prediction ids costs a ``log``: the semi-join of a batch's ids
against every stored id, on a store that already holds ``--rows`` predictions.

Writes seeded Parquet files into a temporary directory: the ``--rows`` predictions stored
first (ids ``p*``), and batches of ``--batch-rows`` (default: ``--rows``) with no id
stored (``q*``), half the ids stored, and every id stored. It logs the first into a fresh
store, then times, ``--repeat`` times each: the stored-id check alone
(``Store._stored_ids``) on each batch, and the whole ``log`` of the new batch (which
runs the check). A small batch against a long history (``--rows 10000000 --batch-rows
100000``) is the daily case: the check hashes the batch's ids and the stored ids probe
them, so it costs what the batch costs.
Wall and CPU seconds (this process, all DuckDB threads) are printed with the load average,
because on a shared machine wall time says more about the neighbours than about the code.

Usage::

    python benchmarks/bench_ingest.py                 # 1M stored, 1M logged
    python benchmarks/bench_ingest.py --rows 100000 --repeat 3
    python benchmarks/bench_ingest.py --rows 10000000 --batch-rows 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import driftline

SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {c: f"score_{c}" for c in "abc"}},
    "cohorts": ["segment"],
    "features": {"numeric": ["x", "y"], "categorical": ["color"]},
}


def table(rows: int, prefix: str, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3), size=rows)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    cols: dict[str, Any] = {
        "id": np.char.add(prefix, np.arange(rows).astype(str)),
        "ts": pa.array(start + np.arange(rows).astype("timedelta64[s]")),
        "pred": np.array(list("abc"))[probs.argmax(axis=1)],
    }
    cols |= {f"score_{c}": probs[:, j] for j, c in enumerate("abc")}
    cols["segment"] = rng.choice(["north", "south"], rows)
    cols["x"] = rng.normal(size=rows)
    cols["y"] = rng.normal(size=rows)
    cols["color"] = rng.choice(["red", "green", "blue"], rows)
    return pa.table(cols)


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-rows", type=int, default=None, help="default: --rows")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    batch = a.rows if a.batch_rows is None else min(a.batch_rows, a.rows)
    with tempfile.TemporaryDirectory(prefix="driftline-bench-ingest-") as tmp:
        d = Path(tmp)
        first, second = table(a.rows, "p", 1), table(batch, "q", 2)
        half = pa.concat_tables([first.slice(0, batch // 2), second.slice(batch // 2)])
        batches = (("second", second), ("half", half), ("again", first.slice(0, batch)))
        for name, t in (("first", first), *batches):
            pq.write_table(t, d / f"{name}.parquet")
        del first, second, half, batches
        print(
            f"| measurement ({a.rows:,} rows stored, batches of {batch:,}) | wall s (median) "
            "| CPU s | load |"
        )
        print("|---|---:|---:|---:|")

        def row(what: str, wall: float, used: float) -> None:
            print(f"| {what} | {wall:.2f} | {used:.2f} | {os.getloadavg()[0]:.1f} |", flush=True)

        with driftline.connect(d / "store.duckdb", SPEC) as mon:
            c0, t0 = cpu(), time.perf_counter()
            mon.log_predictions(d / "first.parquet")
            row("log the first file (empty store)", time.perf_counter() - t0, cpu() - c0)
            store = mon.store
            for name, what in (
                ("second", "no id"),
                ("half", "half the ids"),
                ("again", "every id"),
            ):
                with store._staging(d / f"{name}.parquet"):
                    wall, used = timed(lambda: store._stored_ids(batch, "skip"), a.repeat)
                row(f"stored-id check alone, {what} stored", wall, used)
            c0, t0 = cpu(), time.perf_counter()
            mon.log_predictions(d / "second.parquet")
            row(
                "log the batch with no id stored (runs the check)",
                time.perf_counter() - t0,
                cpu() - c0,
            )


if __name__ == "__main__":
    main()
