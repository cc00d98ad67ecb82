"""NannyML's side of the detection benchmark; runs in ``benchmarks/.venv-nannyml``.

``export`` writes NannyML's bundled synthetic data sets (car loan, multiclass) to Parquet
for driftline. ``drift`` runs NannyML's ``UnivariateDriftCalculator`` with its defaults
(Jensen-Shannon for every column, threshold: reference chunks' mean + 3 sd) at the
given chunking and prints, per analysis chunk and column, the value, the threshold and
whether it alerted, as JSON lines.

    python nannyml_runner.py export --out benchmarks/data/nannyml
    python nannyml_runner.py drift --dataset car_loan --chunks 10
    python nannyml_runner.py drift --dataset multiclass --period D
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# NannyML sends usage statistics unless told not to: never from here
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"

import nannyml as nml
import pandas as pd

#: Features of each data set (everything NannyML's docs run univariate drift on).
DATASETS: dict[str, dict[str, Any]] = {
    "car_loan": {
        "load": nml.load_synthetic_car_loan_dataset,
        "features": [
            "car_value",
            "salary_range",
            "debt_to_income_ratio",
            "loan_length",
            "repaid_loan_on_prev_car",
            "size_of_downpayment",
            "driver_tenure",
        ],
    },
    "multiclass": {
        "load": nml.load_synthetic_multiclass_classification_dataset,
        "features": [
            "acq_channel",
            "app_behavioral_score",
            "requested_credit_limit",
            "app_channel",
            "credit_bureau_score",
            "stated_income",
            "is_customer",
        ],
    },
}


def _load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference, analysis, targets = DATASETS[name]["load"]()
    analysis = analysis.merge(targets, on="id", how="left")
    for df in (reference, analysis):
        df["timestamp"] = pd.to_datetime(df["timestamp"])
        if "repaid" in df:  # a float 0.0/1.0 target: the classes are the ints y_pred holds
            df["repaid"] = df["repaid"].astype("Int64")
    return reference, analysis


def export(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in DATASETS:
        reference, analysis = _load(name)
        reference.to_parquet(out / f"{name}_reference.parquet", index=False)
        analysis.to_parquet(out / f"{name}_analysis.parquet", index=False)
        print(json.dumps({"dataset": name, "reference": len(reference), "analysis": len(analysis)}))


def drift(name: str, chunks: int | None, period: str | None) -> None:
    reference, analysis = _load(name)
    features = DATASETS[name]["features"]
    chunking: dict[str, Any] = (
        {"chunk_number": chunks} if chunks is not None else {"chunk_period": period}
    )
    started = time.perf_counter()
    calc = nml.UnivariateDriftCalculator(
        column_names=features, timestamp_column_name="timestamp", **chunking
    )
    calc.fit(reference)
    result = calc.calculate(analysis).filter(period="analysis").to_df()
    seconds = time.perf_counter() - started
    for _, row in result.iterrows():
        for col in features:
            print(
                json.dumps(
                    {
                        "chunk": int(row[("chunk", "chunk", "chunk_index")]),
                        "start_index": int(row[("chunk", "chunk", "start_index")]),
                        "end_index": int(row[("chunk", "chunk", "end_index")]),
                        "start": str(row[("chunk", "chunk", "start_date")]),
                        "end": str(row[("chunk", "chunk", "end_date")]),
                        "column": col,
                        "value": float(row[(col, "jensen_shannon", "value")]),
                        "upper": float(row[(col, "jensen_shannon", "upper_threshold")]),
                        "alert": bool(row[(col, "jensen_shannon", "alert")]),
                    }
                )
            )
    print(json.dumps({"seconds": seconds, "nannyml": nml.__version__}), file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--out", type=Path, required=True)
    d = sub.add_parser("drift")
    d.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    g = d.add_mutually_exclusive_group(required=True)
    g.add_argument("--chunks", type=int)
    g.add_argument("--period")
    a = p.parse_args()
    if a.cmd == "export":
        export(a.out)
    else:
        drift(a.dataset, a.chunks, a.period)


if __name__ == "__main__":
    main()
