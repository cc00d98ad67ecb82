"""Write the scale benchmark's data: one Parquet file per day, a reference, a spec.

The rows are those of :func:`generate.write` for the same ``--rows``, seed and chunk
size (chunk ``i`` is drawn from ``default_rng([seed, i])``), split so that file ``d``
holds the chunks whose rows fall on day ``d``: ``predictions/day=2024-01-DD/part-0.parquet``
(Hive-style partitions, one per day, as a lake would lay out a prediction log). Memory
stays flat: one 500k-row chunk at a time. The reference (100k rows, seed + 1) and the
spec are those of :func:`generate.generate`.

Usage::

    python benchmarks/scale_data.py --rows 100m --out /work/main/benchmarks/data/scale-100m
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from generate import START, chunk, parse_rows, schema, spec_dict, write


def day_files(rows: int, days: int, chunk_rows: int) -> list[tuple[str, list[int]]]:
    """``(partition, chunk indices)`` per day; each day must hold whole chunks.

    >>> day_files(2_000_000, 2, 500_000)
    [('day=2024-01-01', [0, 1]), ('day=2024-01-02', [2, 3])]
    >>> day_files(1_000_000, 3, 500_000)
    Traceback (most recent call last):
    ...
    ValueError: 1000000 rows in 3 days of 500000-row chunks: a day must hold whole chunks
    """
    per_day, rest = divmod(rows, days)
    if rest or per_day % chunk_rows:
        raise ValueError(
            f"{rows} rows in {days} days of {chunk_rows}-row chunks: a day must hold whole chunks"
        )
    k = per_day // chunk_rows
    out = []
    for d in range(days):
        name = (START + timedelta(days=d)).strftime("day=%Y-%m-%d")
        out.append((name, list(range(d * k, (d + 1) * k))))
    return out


def generate(
    out: Path, rows: int, *, days: int = 10, seed: int = 0, chunk_rows: int = 500_000
) -> dict[str, Any]:
    """Write the day files, the reference, the spec and ``meta.json``; skip what exists."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ref = out / "reference.parquet"
    if not ref.exists():
        write(ref, 100_000, seed=seed + 1, days=days, chunk_rows=chunk_rows, prefix="r")
    for name, indices in day_files(rows, days, chunk_rows):
        path = out / "predictions" / name / "part-0.parquet"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with pq.ParquetWriter(tmp, schema(), compression="zstd") as writer:
            for i in indices:
                batch = chunk(seed, i, i * chunk_rows, chunk_rows, rows, days, "p")
                writer.write_batch(batch, row_group_size=chunk_rows)
        tmp.replace(path)
        print(name, f"{time.perf_counter() - t0:.0f} s", flush=True)
    from driftline.spec import load_spec

    load_spec(spec_dict()).save(out / "driftline.yaml")
    files = sorted((out / "predictions").glob("day=*/part-0.parquet"))
    meta = {
        "rows": rows,
        "days": days,
        "files": len(files),
        "reference_rows": 100_000,
        "seed": seed,
        "chunk_rows": chunk_rows,
        "predictions_mib": round(sum(f.stat().st_size for f in files) / 2**20, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=parse_rows, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--days", type=int, default=10)
    a = p.parse_args(argv)
    print(json.dumps(generate(a.out, a.rows, days=a.days), indent=1))


if __name__ == "__main__":
    main()
