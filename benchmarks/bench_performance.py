"""What the performance checks add to a check: the engine's performance summary and its
evaluation, against the predictions' own window summary, on the 1M-row benchmark data.

The 1M predictions (``benchmarks/data/1m``, ``generate.py``) carry no labels; this logs
labels for half their ids (the predicted class for 60 % of them, another class for the
rest) into an in-memory DuckDB, and times, in CPU seconds of the whole process (DuckDB's
threads included), the median of ``--repeat`` runs of each step over all ten daily
windows and the region cohort: the performance summary plus its evaluation into typed
per window x cohort value results, and, as the anchor in the same run, the engine's
prediction statistics of the same rows (``prediction_stats``).

    python benchmarks/bench_performance.py --data benchmarks/data/1m --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from driftline.engine import DuckDBEngine, prediction_stats
from driftline.engine.performance import performance_summary
from driftline.performance import baseline_from_rows, performance_by_scope
from driftline.spec import load_spec

HERE = Path(__file__).resolve().parent
SPEC = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "prediction",
    "scores": {"columns": {c: f"score_{c}" for c in "abc"}},
    "label": "label",
    "cohorts": ["region"],
    "window": "1d",
}


def _cpu(step: object) -> float:
    started = time.process_time()
    step()  # type: ignore[operator]
    return time.process_time() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=HERE / "data" / "1m")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    cols = ["id", "ts", "prediction", "score_a", "score_b", "score_c", "region"]
    preds = pq.read_table(a.data / "predictions.parquet", columns=cols)
    conf = pc.max_element_wise(preds["score_a"], preds["score_b"], preds["score_c"])
    preds = preds.append_column("confidence", conf)
    rng = np.random.default_rng(0)
    n = preds.num_rows
    take = np.sort(rng.choice(n, n // 2, replace=False))
    predicted = np.asarray(preds["prediction"].take(pa.array(take)).to_pylist(), dtype=object)
    other = np.array(["a", "b", "c"], dtype=object)[rng.integers(0, 3, len(take))]
    label = np.where(rng.random(len(take)) < 0.6, predicted, other)
    labels = pa.table(
        {
            "id": preds["id"].take(pa.array(take)).cast(pa.string()),
            "label": pa.array(label, pa.string()),
            "labelled_at": pc.add(
                preds["ts"].take(pa.array(take)),
                pa.scalar(np.timedelta64(1, "D").astype("timedelta64[us]")),
            ),
            "_batch": pa.array(np.ones(len(take), dtype=np.int64)),
        }
    )
    con = ibis.duckdb.connect()
    con.create_table("predictions", preds)
    con.create_table("labels", labels)
    engine = DuckDBEngine(con)
    spec = load_spec(SPEC)
    window = spec.window_parsed
    ref = baseline_from_rows(
        pa.table(
            {
                "label": pa.array(label[:50_000], pa.string()),
                "predicted": pa.array(predicted[:50_000], pa.string()),
                "conf": pc.take(conf, pa.array(take[:50_000])),
            }
        ),
        [],
    )
    assert ref is not None
    t, lab = engine.table("predictions"), engine.table("labels")
    perf, anchor = [], []
    for _ in range(a.repeat):
        anchor.append(_cpu(lambda: engine.run(prediction_stats(t, spec, window, "region"))))
        perf.append(
            _cpu(
                lambda: performance_by_scope(performance_summary(engine, t, lab, spec, window), ref)
            )
        )
    m_perf, m_anchor = statistics.median(perf), statistics.median(anchor)
    print(
        f"1M predictions, 500k labels, 10 daily windows x (overall + 3 regions): performance "
        f"{m_perf:.2f} s CPU median, prediction stats {m_anchor:.2f} s, ratio "
        f"{m_perf / m_anchor:.2f}x ({a.repeat} runs each; load {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
