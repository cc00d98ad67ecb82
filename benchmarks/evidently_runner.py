"""Run Evidently's default ``DataDriftPreset`` on Parquet files; print JSON lines.

Runs INSIDE ``benchmarks/.venv-evidently`` (see ``setup_evidently.sh``) and must not
import driftline. The driftline-side benchmarks (``bench_scenarios.py``,
``bench_vs_evidently.py``) call it as a subprocess with that venv's python.

One reference, one or more current files: the reference is read once, then each current
file gets its own ``Report([DataDriftPreset()])`` run, with Evidently's DEFAULT methods
and thresholds (at more than 1,000 rows: normed Wasserstein > 0.1 for numeric columns,
Jensen-Shannon > 0.1 for categorical ones, a domain classifier's ROC AUC > 0.55 for text;
dataset drift when at least half of the columns drift). ``include_tests=True`` is set only
to read Evidently's own per-column decision ("Value Drift for column X": FAIL = drift);
it does not change what is computed.

Output, one JSON object per line (flushed, so a caller that kills a slow run keeps the
finished lines)::

    {"event": "start", "evidently": "0.7.23", "reference_rows": ..., "read_seconds": ...}
    {"event": "report", "current": PATH, "rows": ..., "read_seconds": ...,
     "report_seconds": ..., "columns": {col: {"drift": bool, "score": float,
     "method": str, "threshold": float}}, "drifted_count": ..., "drift_share": ...,
     "dataset_drift": bool}
    {"event": "end", "seconds": ...}

**Split mode** (``--split-by-window SECONDS --timestamp TS [--cohort COL ...]``): the same
work as a driftline check, one report per (window, scope). The one current file is read
once, with the timestamp and cohort columns as well (used only to split the rows; the
reports get the feature columns only, converted exactly as above). Each row goes to the
window driftline puts it in: its epoch seconds truncated to whole seconds, floor-divided
by the window length (timestamps are taken as UTC, as driftline does); windows with no
row are skipped. Per window, the scopes are ``all`` (every row of the window) and
``COL=VALUE`` for each value of each cohort column (a null value is the scope
``COL=(missing)``, as in driftline). Every report compares its rows with the SAME whole
reference. Evidently has no reusable reference profile: the reference ``Dataset`` is built
once and passed to every report (all the reuse its API offers; it only wraps a copy of the
frame), and every ``Report.run`` recomputes the reference side of every column's statistic
(value counts, histograms, the Wasserstein / Jensen-Shannon inputs) from the whole
reference again (100k rows in ``bench_vs_evidently.py``). That repeated reference work is
Evidently's real cost for this many answers, and it is counted. Output::

    {"event": "start", ...}  (as above)
    {"event": "split", "current": PATH, "rows": ..., "read_seconds": ...,
     "split_seconds": ..., "window_seconds": ..., "windows": ..., "timestamp": ...,
     "cohorts": {col: [values]}, "rows_without_timestamp": ...,
     "reference_dataset_seconds": ...}
    {"event": "report", "window": EPOCH_S, "window_start": ISO, "scope": "all" | "COL=V",
     "rows": ..., "slice_seconds": ..., "report_seconds": ..., "drifted_columns": [...],
     "columns": {...}, "drifted_count": ..., "drift_share": ..., "dataset_drift": bool}
    ...  (one per window and scope, window by window, ``all`` first)
    {"event": "summary", "reports": N, "windows": ..., "scopes": [...],
     "report_seconds": SUM, "slice_seconds": SUM, "seconds": ...}
    {"event": "end", "seconds": ...}

Usage::

    benchmarks/.venv-evidently/bin/python benchmarks/evidently_runner.py \\
        --reference ref.parquet --current w0.parquet w1.parquet \\
        --numeric amount_z latency --categorical payment --text comment

    benchmarks/.venv-evidently/bin/python benchmarks/evidently_runner.py \\
        --reference ref.parquet --current predictions.parquet \\
        --numeric num_normal ... --categorical cat_3 ... \\
        --split-by-window 86400 --timestamp ts --cohort region
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry (there is no network here anyway)
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently import __version__ as evidently_version  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

_TEST_NAME = re.compile(r"^Value Drift for column (?P<column>.+)$")
MISSING_COHORT = "(missing)"  # driftline's scope name for a null cohort value
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def read(path: str, columns: list[str]) -> pd.DataFrame:
    return pq.read_table(path, columns=columns).to_pandas()


def run_report(
    reference: pd.DataFrame | Dataset, current: pd.DataFrame, definition: DataDefinition
) -> dict[str, Any]:
    """One ``Report([DataDriftPreset()])``. A reference DataFrame is wrapped in a
    ``Dataset`` inside the timed part (single mode, as it always was); the split mode passes
    one ``Dataset`` built once, so only the report itself is timed per report."""
    t0 = time.perf_counter()
    report = Report([DataDriftPreset()], include_tests=True)
    if not isinstance(reference, Dataset):
        reference = Dataset.from_pandas(reference, data_definition=definition)
    snapshot = report.run(Dataset.from_pandas(current, data_definition=definition), reference)
    seconds = time.perf_counter() - t0
    out = snapshot.dict()
    columns: dict[str, dict[str, Any]] = {}
    count: dict[str, Any] = {}
    for metric in out["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            columns[config["column"]] = {
                "score": metric["value"],
                "method": config.get("method"),
                "threshold": config.get("threshold"),
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            count = {"drifted_count": metric["value"]["count"], "share": metric["value"]["share"]}
    for test in out["tests"]:
        m = _TEST_NAME.match(test["name"])
        if m and m["column"] in columns:
            columns[m["column"]]["drift"] = test["status"] == "FAIL"
    missing = [c for c, v in columns.items() if "drift" not in v]
    if missing:
        raise RuntimeError(f"no Evidently drift test found for columns {missing[:5]}")
    share = count.get("share", 0.0)
    return {
        "report_seconds": round(seconds, 3),
        "columns": columns,
        "drifted_count": count.get("drifted_count"),
        "drift_share": share,
        # DataDriftPreset's default: the dataset drifts when >= drift_share (0.5) of the
        # columns drift (its test "Share of Drifted Columns: Less 0.500" then fails)
        "dataset_drift": share >= 0.5,
    }


def window_starts(ts: pa.ChunkedArray, seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's window start in epoch seconds, as driftline computes it, and whether the
    row has a timestamp: the stored value (UTC, whatever the column's time zone) truncated
    to whole seconds, then ``secs // seconds * seconds``.

    >>> t = pa.chunked_array([pa.array([0, 86_399_999_999, 86_400_000_000, None],
    ...                                pa.timestamp("us", tz="UTC"))])
    >>> keys, valid = window_starts(t, 86_400)
    >>> keys.tolist(), valid.tolist()
    ([0, 0, 86400, 0], [True, True, True, False])
    """
    if not pa.types.is_timestamp(ts.type):
        raise SystemExit(
            f"the --timestamp column is {ts.type}, not a timestamp; name a timestamp column, "
            "or cast this one to a timestamp in the Parquet file."
        )
    valid = pc.is_valid(ts).to_numpy(zero_copy_only=False)
    raw = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy().astype(np.int64)
    secs = raw // _PER_SECOND[ts.type.unit]  # floor: truncation to whole seconds
    return secs // seconds * seconds, valid


def run_split(
    a: argparse.Namespace,
    features: list[str],
    reference: pd.DataFrame,
    definition: DataDefinition,
) -> None:
    """One report per (window, scope) of the one current file; see the module docstring."""
    path = a.current[0]
    t0 = time.perf_counter()
    table = pq.read_table(path, columns=list(dict.fromkeys([*features, a.timestamp, *a.cohort])))
    current = table.select(features).to_pandas()  # what the single mode reads, converted alike
    read_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    keys, valid = window_starts(table[a.timestamp], a.split_by_window)
    cohorts = {
        c: pc.fill_null(table[c].cast(pa.string()), MISSING_COHORT).to_numpy(zero_copy_only=False)
        for c in a.cohort
    }
    del table
    windows = sorted(int(w) for w in np.unique(keys[valid]))
    split_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference_ds = Dataset.from_pandas(reference, data_definition=definition)
    emit(
        {
            "event": "split",
            "current": path,
            "rows": len(current),
            "read_seconds": round(read_seconds, 3),
            "split_seconds": round(split_seconds, 3),
            "reference_dataset_seconds": round(time.perf_counter() - t0, 3),
            "window_seconds": a.split_by_window,
            "windows": len(windows),
            "timestamp": a.timestamp,
            "cohorts": {c: sorted(set(v.tolist())) for c, v in cohorts.items()},
            "rows_without_timestamp": int((~valid).sum()),
        }
    )
    reports, report_s, slice_s, scopes = 0, 0.0, 0.0, set()
    for w in windows:
        in_window = np.flatnonzero(valid & (keys == w))
        parts = [("all", in_window)]
        for c, values in cohorts.items():
            of_window = values[in_window]
            parts += [(f"{c}={v}", in_window[of_window == v]) for v in sorted(set(of_window))]
        for scope, idx in parts:
            t0 = time.perf_counter()
            rows = current.take(idx).reset_index(drop=True)
            slice_seconds = time.perf_counter() - t0
            result = run_report(reference_ds, rows, definition)
            emit(
                {
                    "event": "report",
                    "window": w,
                    "window_start": datetime.fromtimestamp(w, timezone.utc)
                    .replace(tzinfo=None)
                    .isoformat(),
                    "scope": scope,
                    "rows": len(rows),
                    "slice_seconds": round(slice_seconds, 3),
                    "drifted_columns": sorted(
                        k for k, v in result["columns"].items() if v["drift"]
                    ),
                    **result,
                }
            )
            del rows
            reports += 1
            report_s += result["report_seconds"]
            slice_s += slice_seconds
            scopes.add(scope)
    emit(
        {
            "event": "summary",
            "reports": reports,
            "windows": len(windows),
            "scopes": sorted(scopes, key=lambda x: (x != "all", x)),
            "report_seconds": round(report_s, 3),
            "slice_seconds": round(slice_s, 3),
            "seconds": round(time.perf_counter() - T_START, 3),
        }
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", required=True, help="reference Parquet file")
    p.add_argument("--current", required=True, nargs="+", help="current Parquet file(s)")
    p.add_argument("--numeric", nargs="*", default=[], help="numerical columns")
    p.add_argument("--categorical", nargs="*", default=[], help="categorical columns")
    p.add_argument("--text", nargs="*", default=[], help="text columns")
    p.add_argument(
        "--split-by-window",
        type=int,
        metavar="SECONDS",
        help="one report per window of SECONDS and scope (all rows, each cohort value)",
    )
    p.add_argument("--timestamp", help="timestamp column (with --split-by-window)")
    p.add_argument(
        "--cohort", nargs="*", default=[], help="cohort column(s) (with --split-by-window)"
    )
    a = p.parse_args(argv)
    columns = [*a.numeric, *a.categorical, *a.text]
    if not columns:
        p.error("name at least one column with --numeric, --categorical or --text")
    if a.split_by_window is None and (a.timestamp or a.cohort):
        p.error("--timestamp and --cohort only apply with --split-by-window SECONDS")
    if a.split_by_window is not None:
        if a.split_by_window <= 0:
            p.error(
                f"--split-by-window must be a positive number of seconds; got {a.split_by_window}"
            )
        if not a.timestamp:
            p.error("--split-by-window needs --timestamp COLUMN")
        if len(a.current) != 1:
            p.error(f"--split-by-window takes one --current file; got {len(a.current)}")
    definition = DataDefinition(
        numerical_columns=a.numeric or None,
        categorical_columns=a.categorical or None,
        text_columns=a.text or None,
    )
    t0 = time.perf_counter()
    reference = read(a.reference, columns)
    emit(
        {
            "event": "start",
            "evidently": evidently_version,
            "pandas": pd.__version__,
            "reference": a.reference,
            "reference_rows": len(reference),
            "read_seconds": round(time.perf_counter() - t0, 3),
            "import_seconds": round(t0 - T_START, 3),
        }
    )
    if a.split_by_window is not None:
        run_split(a, columns, reference, definition)
        emit({"event": "end", "seconds": round(time.perf_counter() - T_START, 3)})
        return
    for path in a.current:
        t0 = time.perf_counter()
        current = read(path, columns)
        read_seconds = time.perf_counter() - t0
        result = run_report(reference, current, definition)
        emit(
            {
                "event": "report",
                "current": path,
                "rows": len(current),
                "read_seconds": round(read_seconds, 3),
                **result,
            }
        )
        del current
    emit({"event": "end", "seconds": round(time.perf_counter() - T_START, 3)})


if __name__ == "__main__":
    main()
