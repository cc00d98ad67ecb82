"""NannyML's side of the scale benchmark; runs in ``benchmarks/.venv-nannyml``.

``UnivariateDriftCalculator`` with its defaults (Jensen-Shannon for every column,
threshold: the reference chunks' mean + 3 sd), fitted on the reference and run on the
predictions chunked by day (``chunk_period="D"``, the same windows as driftline's
``1d``). ``--mode whole`` reads every day file into one DataFrame and calls
``calculate`` once, as NannyML's documentation does; ``--mode per-day`` calls
``calculate`` on one day file at a time (one chunk each), so at most a day is in memory.
Prints JSON lines: ``start``, one ``day`` per chunk (rows, the columns NannyML alerted
on), ``end`` (seconds).

    python nannyml_scale_runner.py --reference REF.parquet --days DIR/predictions \
        --timestamp ts --columns a b c --mode whole
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
# NannyML sends usage statistics unless told not to: never from here
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"

import nannyml as nml  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def read(paths: list[Path], columns: list[str], timestamp: str) -> pd.DataFrame:
    df = pd.concat(
        [pq.read_table(p, columns=[timestamp, *columns]).to_pandas() for p in paths],
        ignore_index=True,
    )
    df[timestamp] = df[timestamp].dt.tz_localize(None)  # NannyML wants naive timestamps
    return df


def alerts(result: Any, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    df = result.filter(period="analysis").to_df()
    for _, row in df.iterrows():
        out.append(
            {
                "start": str(row[("chunk", "chunk", "start_date")]),
                "rows": int(row[("chunk", "chunk", "end_index")])
                - int(row[("chunk", "chunk", "start_index")])
                + 1,
                "drifted": sorted(c for c in columns if bool(row[(c, "jensen_shannon", "alert")])),
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--days", type=Path, required=True, help="folder of day=*/ partitions")
    p.add_argument("--timestamp", required=True)
    p.add_argument("--columns", nargs="+", required=True)
    p.add_argument("--mode", choices=["whole", "per-day"], default="whole")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    reference = read([a.reference], a.columns, a.timestamp)
    calc = nml.UnivariateDriftCalculator(
        column_names=a.columns, timestamp_column_name=a.timestamp, chunk_period="D"
    )
    calc.fit(reference)
    emit(
        {
            "event": "start",
            "nannyml": nml.__version__,
            "pandas": pd.__version__,
            "reference_rows": len(reference),
            "fit_seconds": round(time.perf_counter() - t0, 3),
            "import_seconds": round(t0 - T_START, 3),
            "mode": a.mode,
        }
    )
    files = sorted(a.days.glob("day=*/*.parquet"))
    groups = [files] if a.mode == "whole" else [[f] for f in files]
    for group in groups:
        t0 = time.perf_counter()
        analysis = read(group, a.columns, a.timestamp)
        t1 = time.perf_counter()
        result = calc.calculate(analysis)
        for day in alerts(result, a.columns):
            emit({"event": "day", **day})
        emit(
            {
                "event": "calculated",
                "rows": len(analysis),
                "read_seconds": round(t1 - t0, 3),
                "calculate_seconds": round(time.perf_counter() - t1, 3),
            }
        )
        del analysis, result
    emit({"event": "end", "seconds": round(time.perf_counter() - T_START, 3)})


if __name__ == "__main__":
    main()
