"""NannyML's side of the performance-estimate benchmark; runs in ``benchmarks/.venv-nannyml``.

Fits NannyML's ``CBPE`` (confidence-based performance estimation) on a data set's
reference and estimates accuracy per chunk of its analysis period, the targets removed,
printing per chunk its first and last row and the estimate with its confidence band as
JSON lines.

    python cbpe_runner.py --data benchmarks/data/nannyml --dataset car_loan --chunk-size 5000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# NannyML sends usage statistics unless told not to: never from here
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"

import nannyml as nml
import pandas as pd

CLASSES = ("prepaid_card", "highstreet_card", "upmarket_card")
SETUP = {
    "car_loan": {
        "y_true": "repaid",
        "y_pred_proba": "y_pred_proba",
        "problem_type": "classification_binary",
    },
    "multiclass": {
        "y_true": "y_true",
        "y_pred_proba": {c: f"y_pred_proba_{c}" for c in CLASSES},
        "problem_type": "classification_multiclass",
    },
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--dataset", choices=sorted(SETUP), required=True)
    p.add_argument("--chunk-size", type=int, required=True)
    a = p.parse_args()
    setup = SETUP[a.dataset]
    reference = pd.read_parquet(a.data / f"{a.dataset}_reference.parquet")
    analysis = pd.read_parquet(a.data / f"{a.dataset}_analysis.parquet")
    started = time.process_time()
    est = nml.CBPE(
        y_pred="y_pred",
        timestamp_column_name="timestamp",
        metrics=["accuracy"],
        chunk_size=a.chunk_size,
        **setup,
    )
    est.fit(reference)
    result = est.estimate(analysis.drop(columns=[setup["y_true"]]))
    df = result.filter(period="analysis").to_df()
    seconds = time.process_time() - started
    for _, row in df.iterrows():
        print(
            json.dumps(
                {
                    "start_index": int(row[("chunk", "start_index")]),
                    "end_index": int(row[("chunk", "end_index")]),
                    "estimate": float(row[("accuracy", "value")]),
                    "low": float(row[("accuracy", "lower_confidence_boundary")]),
                    "high": float(row[("accuracy", "upper_confidence_boundary")]),
                }
            )
        )
    print(json.dumps({"cpu_seconds": seconds, "nannyml": nml.__version__}), file=sys.stderr)


if __name__ == "__main__":
    main()
