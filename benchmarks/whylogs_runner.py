"""whylogs' side of the scale benchmark; runs in ``benchmarks/.venv-whylogs``.

Profiles the reference, then each day file of the predictions (one whylogs profile per
day, the same windows as driftline's ``1d``), reading ``--batch-rows`` rows at a time
(``pyarrow`` record batches to pandas) and merging the batch profiles, as whylogs'
mergeable profiles are meant to be used on large data. Each day's profile is compared
with the reference by whylogs' own drift scores (``calculate_drift_scores``: KS on the
KLL sketches for numeric columns, chi-square on the frequent items for the others, with
whylogs' default thresholds). Prints JSON lines: ``start``, one ``day`` per file (rows,
seconds, the columns whylogs calls drifted), ``end``.

    python whylogs_runner.py --reference REF.parquet --days DIR/predictions --columns a b c
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")  # no usage statistics from here

import pyarrow.parquet as pq  # noqa: E402
import whylogs as why  # noqa: E402
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores  # noqa: E402


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def profile(path: Path, columns: list[str], batch_rows: int) -> tuple[Any, int]:
    """The merged whylogs profile view of ``columns`` of one Parquet file, and its rows."""
    view, rows = None, 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns):
        part = why.log(pandas=batch.to_pandas()).view()
        view = part if view is None else view.merge(part)
        rows += batch.num_rows
    return view, rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--days", type=Path, required=True, help="folder of day=*/ partitions")
    p.add_argument("--columns", nargs="+", required=True)
    p.add_argument("--batch-rows", type=int, default=1_000_000)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    ref, ref_rows = profile(a.reference, a.columns, a.batch_rows)
    emit(
        {
            "event": "start",
            "whylogs": why.__version__,
            "reference_rows": ref_rows,
            "reference_seconds": round(time.perf_counter() - t0, 3),
            "import_seconds": round(t0 - T_START, 3),
        }
    )
    for path in sorted(a.days.glob("day=*/*.parquet")):
        t0 = time.perf_counter()
        view, rows = profile(path, a.columns, a.batch_rows)
        t1 = time.perf_counter()
        scores = calculate_drift_scores(target_view=view, reference_view=ref, with_thresholds=True)
        drifted = sorted(c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT")
        emit(
            {
                "event": "day",
                "day": path.parent.name,
                "rows": rows,
                "profile_seconds": round(t1 - t0, 3),
                "drift_seconds": round(time.perf_counter() - t1, 3),
                "scored_columns": sum(1 for s in scores.values() if s),
                "drifted": drifted,
            }
        )
    emit({"event": "end", "seconds": round(time.perf_counter() - T_START, 3)})


if __name__ == "__main__":
    main()
