"""Write a synthetic, seeded prediction log for benchmarks: predictions, reference, spec.

The predictions are streamed to Parquet in chunks (``pyarrow.parquet.ParquetWriter``), so
memory stays flat whatever ``--rows`` is. Every chunk draws from its own generator,
``numpy.random.default_rng([seed, chunk_index])``, so a file is reproducible from its
seed and chunk size. There is no drift between the reference and the predictions: both
come from one generator with different seeds, so any alert is a false alarm.

Columns: ``id`` (string), ``ts`` (timestamp UTC, increasing, spread over ``--days``),
``prediction`` (``a``/``b``/``c`` = argmax of the scores), ``score_a``/``score_b``/
``score_c`` (Dirichlet), the cohort ``region`` (4 values) and 20 features: 14 numeric
(see :data:`NUMERIC`; six carry ~5 % nulls, three a few NaN) and 6 categorical with
3, 10, 50, 200, 1000 and 5000 values, zipf-distributed (see :data:`CATEGORICAL`).

Usage::

    python benchmarks/generate.py --rows 1000000 --out benchmarks/data/1m

writes ``predictions.parquet``, ``reference.parquet`` (``--reference-rows``, seed + 1),
``driftline.yaml`` and ``meta.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

Draw = Callable[[np.random.Generator, int], np.ndarray]

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
CLASSES = ("a", "b", "c")
ALPHA = np.array([3.0, 2.25, 1.5])  # Dirichlet concentration of the scores
REGIONS = ("north", "south", "east", "west")
REGION_P = np.array([0.4, 0.3, 0.2, 0.1])
ZIPF_S = 1.1


@dataclass(frozen=True)
class Numeric:
    """A numeric feature: how to draw it, int64 or float64, null and NaN shares."""

    name: str
    draw: Draw
    integer: bool = False
    null: float = 0.0
    nan: float = 0.0


def _bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    left = rng.random(n) < 0.35
    return np.where(left, rng.normal(-2.0, 0.5, n), rng.normal(3.0, 1.0, n))


def _zero_inflated(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.6, 0.0, rng.lognormal(1.0, 0.8, n))


NUMERIC: tuple[Numeric, ...] = (
    Numeric("num_normal", lambda r, n: r.normal(0.0, 1.0, n)),
    Numeric("num_lognormal", lambda r, n: r.lognormal(3.0, 1.0, n), null=0.05),
    Numeric("num_exponential", lambda r, n: r.exponential(2.0, n)),
    Numeric("num_uniform", lambda r, n: r.uniform(-10.0, 10.0, n), null=0.05),
    Numeric("num_gamma", lambda r, n: r.gamma(2.0, 3.0, n)),
    Numeric("num_beta", lambda r, n: r.beta(2.0, 5.0, n), nan=0.005),
    Numeric("num_student_t", lambda r, n: r.standard_t(3.0, n), null=0.05),
    Numeric("num_poisson", lambda r, n: r.poisson(4.0, n), integer=True),
    Numeric("num_bimodal", _bimodal, null=0.05),
    Numeric(
        "num_age",
        lambda r, n: np.clip(np.rint(r.normal(42.0, 14.0, n)), 18, 90),
        integer=True,
    ),
    Numeric("num_binary", lambda r, n: (r.random(n) < 0.3).astype(np.float64)),
    Numeric("num_pareto", lambda r, n: r.pareto(2.5, n) + 1.0, nan=0.002),
    Numeric("num_zero_inflated", _zero_inflated, null=0.05),
    Numeric("num_weibull", lambda r, n: 10.0 * r.weibull(1.5, n), null=0.05, nan=0.001),
)

#: Categorical features: name -> (cardinality, null share). Values ``v0`` .. ``v{k-1}``,
#: drawn with probability proportional to ``(rank + 1) ** -ZIPF_S``.
CATEGORICAL: dict[str, tuple[int, float]] = {
    "cat_3": (3, 0.0),
    "cat_10": (10, 0.01),
    "cat_50": (50, 0.0),
    "cat_200": (200, 0.02),
    "cat_1000": (1000, 0.0),
    "cat_5000": (5000, 0.01),
}


def schema() -> pa.Schema:
    fields = [
        pa.field("id", pa.string()),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("prediction", pa.string()),
        *[pa.field(f"score_{c}", pa.float64()) for c in CLASSES],
        pa.field("region", pa.string()),
        *[pa.field(f.name, pa.int64() if f.integer else pa.float64()) for f in NUMERIC],
        *[pa.field(name, pa.string()) for name in CATEGORICAL],
    ]
    return pa.schema(fields)


def _zipf_p(k: int) -> np.ndarray:
    w = (np.arange(k) + 1.0) ** -ZIPF_S
    return w / w.sum()


_LABELS: dict[int, pa.Array] = {}
_PROBS: dict[int, np.ndarray] = {}


def _labels(k: int) -> pa.Array:
    if k not in _LABELS:
        _LABELS[k] = pa.array([f"v{i}" for i in range(k)], pa.string())
        _PROBS[k] = _zipf_p(k)
    return _LABELS[k]


def prediction_columns(
    rng: np.random.Generator, start_row: int, n: int, total: int, days: float, prefix: str
) -> list[pa.Array]:
    """``id``, ``ts``, ``prediction``, the three scores and ``region`` of rows
    ``start_row`` .. ``start_row + n`` of a file of ``total`` rows spread over ``days``
    (the features' draws follow, from the same generator)."""
    rows = np.arange(start_row, start_row + n, dtype=np.int64)
    ids = pc.binary_join_element_wise(prefix, pa.array(rows).cast(pa.string()), "")
    span_us = days * 86400 * 1_000_000
    # increasing timestamps, jittered within each row's slot of the span
    offs = ((rows + rng.random(n)) * (span_us / total)).astype(np.int64)
    start_us = int(START.timestamp() * 1_000_000)
    ts = pa.array(offs + start_us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    scores = rng.dirichlet(ALPHA, n)
    pred = pa.array(np.array(CLASSES)[scores.argmax(axis=1)], pa.string())
    region = pa.array(np.array(REGIONS)[rng.choice(len(REGIONS), n, p=REGION_P)], pa.string())
    return [ids, ts, pred, *[pa.array(scores[:, j]) for j in range(3)], region]


def chunk(
    seed: int, index: int, start_row: int, n: int, total: int, days: float, prefix: str
) -> pa.RecordBatch:
    """Rows ``start_row`` .. ``start_row + n`` of a file of ``total`` rows."""
    rng = np.random.default_rng([seed, index])
    cols = prediction_columns(rng, start_row, n, total, days, prefix)
    for f in NUMERIC:
        x = np.asarray(f.draw(rng, n), dtype=np.float64)
        if f.nan:
            x[rng.random(n) < f.nan] = np.nan
        mask = rng.random(n) < f.null if f.null else None
        if f.integer:
            cols.append(pa.array(x.astype(np.int64), pa.int64(), mask=mask))
        else:
            cols.append(pa.array(x, pa.float64(), mask=mask))
    for k, null in CATEGORICAL.values():
        labels = _labels(k)
        idx = rng.choice(k, n, p=_PROBS[k])
        mask = rng.random(n) < null if null else None
        cols.append(labels.take(pa.array(idx, pa.int32(), mask=mask)))
    return pa.RecordBatch.from_arrays(cols, schema=schema())


def write(
    path: Path,
    rows: int,
    *,
    seed: int,
    days: float,
    chunk_rows: int = 500_000,
    prefix: str = "p",
) -> None:
    """Stream ``rows`` rows to ``path`` (written to a temporary name, then renamed)."""
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema(), compression="zstd") as writer:
        for index, start in enumerate(range(0, rows, chunk_rows)):
            n = min(chunk_rows, rows - start)
            batch = chunk(seed, index, start, n, rows, days, prefix)
            writer.write_batch(batch, row_group_size=chunk_rows)
    tmp.replace(path)


def spec_dict() -> dict[str, Any]:
    """The spec for these columns (roles given explicitly, nothing left to inference)."""
    return {
        "id": "id",
        "timestamp": "ts",
        "prediction": "prediction",
        "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
        "cohorts": ["region"],
        "features": {
            "numeric": [f.name for f in NUMERIC],
            "categorical": list(CATEGORICAL),
        },
        "window": "1d",
    }


def generate(
    out: Path,
    rows: int,
    *,
    reference_rows: int = 100_000,
    seed: int = 0,
    days: float = 10.0,
    chunk_rows: int = 500_000,
) -> dict[str, Any]:
    """Write predictions, reference, spec and ``meta.json`` into ``out``; return the meta."""
    from driftline.spec import load_spec

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write(
        out / "reference.parquet",
        reference_rows,
        seed=seed + 1,
        days=days,
        chunk_rows=chunk_rows,
        prefix="r",
    )
    t1 = time.perf_counter()
    write(out / "predictions.parquet", rows, seed=seed, days=days, chunk_rows=chunk_rows)
    t2 = time.perf_counter()
    load_spec(spec_dict()).save(out / "driftline.yaml")
    meta = {
        "rows": rows,
        "reference_rows": reference_rows,
        "seed": seed,
        "days": days,
        "chunk_rows": chunk_rows,
        "reference_seconds": round(t1 - t0, 2),
        "predictions_seconds": round(t2 - t1, 2),
        "predictions_mib": round((out / "predictions.parquet").stat().st_size / 2**20, 1),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def parse_rows(text: str) -> int:
    """``1000000``, ``1m``, ``10M``, ``100k`` or ``1_000_000``.

    >>> [parse_rows(t) for t in ("1m", "10M", "100k", "1_000_000", "2.5m")]
    [1000000, 10000000, 100000, 1000000, 2500000]
    """
    t = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    number = t[:-1] if scale > 1 else t
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"row count {text!r} is not understood; use e.g. 1000000, 100k or 10m."
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"row count {text!r} must be positive.")
    return value


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=parse_rows, required=True, help="prediction rows, e.g. 1m")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--reference-rows", type=parse_rows, default=100_000)
    p.add_argument("--seed", type=int, default=0, help="predictions seed; reference: seed+1")
    p.add_argument("--days", type=float, default=10.0, help="span of the timestamps")
    p.add_argument("--chunk-rows", type=parse_rows, default=500_000, help="rows per chunk")
    a = p.parse_args(argv)
    meta = generate(
        a.out,
        a.rows,
        reference_rows=a.reference_rows,
        seed=a.seed,
        days=a.days,
        chunk_rows=a.chunk_rows,
    )
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
