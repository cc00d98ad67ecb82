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

Usage::

    benchmarks/.venv-evidently/bin/python benchmarks/evidently_runner.py \\
        --reference ref.parquet --current w0.parquet w1.parquet \\
        --numeric amount_z latency --categorical payment --text comment
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry (there is no network here anyway)
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

T_START = time.perf_counter()

import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently import __version__ as evidently_version  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

_TEST_NAME = re.compile(r"^Value Drift for column (?P<column>.+)$")


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def read(path: str, columns: list[str]) -> pd.DataFrame:
    return pq.read_table(path, columns=columns).to_pandas()


def run_report(
    reference: pd.DataFrame, current: pd.DataFrame, definition: DataDefinition
) -> dict[str, Any]:
    t0 = time.perf_counter()
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", required=True, help="reference Parquet file")
    p.add_argument("--current", required=True, nargs="+", help="current Parquet file(s)")
    p.add_argument("--numeric", nargs="*", default=[], help="numerical columns")
    p.add_argument("--categorical", nargs="*", default=[], help="categorical columns")
    p.add_argument("--text", nargs="*", default=[], help="text columns")
    a = p.parse_args(argv)
    columns = [*a.numeric, *a.categorical, *a.text]
    if not columns:
        p.error("name at least one column with --numeric, --categorical or --text")
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
