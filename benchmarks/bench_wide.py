"""Wide tables: ``driftline`` on 1,000 numeric features, each step as a whole process.

The data (seeded, no drift, streamed to Parquet in chunks so memory stays flat): ``id``,
``ts`` (10 days), ``prediction``/``score_a``/``score_b``/``score_c``, the cohort
``region`` (4 values, 40/30/20/10 %) and ``--features`` float64 features ``f0000`` ..
drawn from four families in turn (normal, lognormal, exponential, uniform, each with its
own location and scale); every tenth feature carries 1 % nulls. The predictions are
written as ``--files`` Parquet files, logged by one ``driftline log`` command.

Steps, each a child process under ``/usr/bin/time -v`` (wall seconds and peak RSS, as in
:mod:`bench_check`):

1. ``driftline log --reference`` (stores the reference and fits the profile);
2. ``driftline fit`` ``--repeat`` times (the profile fit alone);
3. ``driftline log`` of the predictions;
4. ``driftline check --json --no-persist``: the first check (which simulates the alert
   bounds and caches them in the store), then ``--repeat`` later checks.

Usage::

    python benchmarks/bench_wide.py                                  # 1,000 x 100k / 1M
    python benchmarks/bench_wide.py --features 1000 --reference-rows 20k --rows 100k
    python benchmarks/bench_wide.py --source head                    # the last commit
    python benchmarks/bench_wide.py --reuse-store --repeat 1         # keep the logged store

prints a Markdown table and merges the result into ``benchmarks/results/wide.json``
(an entry of the same shape, features x reference rows x rows, is replaced).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_check import Run, Runner, _gnu_time, _ok, _report, label, machine, snapshot  # noqa: E402
from generate import CLASSES, parse_rows, prediction_columns  # noqa: E402


def feature_names(features: int) -> list[str]:
    """``f0000``, ``f0001``, ...

    >>> feature_names(3)
    ['f0000', 'f0001', 'f0002']
    """
    return [f"f{j:04d}" for j in range(features)]


def schema(features: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("ts", pa.timestamp("us", tz="UTC")),
            pa.field("prediction", pa.string()),
            *[pa.field(f"score_{c}", pa.float64()) for c in CLASSES],
            pa.field("region", pa.string()),
            *[pa.field(name, pa.float64()) for name in feature_names(features)],
        ]
    )


def _features(rng: np.random.Generator, n: int, features: int) -> np.ndarray:
    """``(features, n)`` values: column j from family ``j % 4`` with its own parameters."""
    j = np.arange(features)
    loc = (j % 7).astype(np.float64)[:, None]
    scale = (1.0 + (j % 5) * 0.5)[:, None]
    z = rng.standard_normal((features, n))
    family = j % 4
    out = np.empty_like(z)
    out[family == 0] = (loc + scale * z)[family == 0]
    out[family == 1] = np.exp(0.5 * z[family == 1] + 1.0)
    u = rng.random((features, n))
    out[family == 2] = (-np.log1p(-u) * scale)[family == 2]
    out[family == 3] = (loc + scale * (u - 0.5) * 10)[family == 3]
    return out


def chunk(
    seed: int,
    index: int,
    start_row: int,
    n: int,
    total: int,
    features: int,
    days: float,
    prefix: str,
) -> pa.RecordBatch:
    """Rows ``start_row`` .. ``start_row + n`` of a table of ``total`` rows."""
    rng = np.random.default_rng([seed, index])
    cols = prediction_columns(rng, start_row, n, total, days, prefix)
    values = _features(rng, n, features)
    for j in range(features):
        mask = rng.random(n) < 0.01 if j % 10 == 9 else None
        cols.append(pa.array(values[j], pa.float64(), mask=mask))
    return pa.RecordBatch.from_arrays(cols, schema=schema(features))


def write(
    paths: list[Path],
    rows: int,
    features: int,
    *,
    seed: int,
    days: float,
    chunk_rows: int,
    prefix: str,
) -> None:
    """Stream ``rows`` rows into ``paths`` (consecutive ranges of rows, one per file)."""
    per_file = -(-rows // len(paths))
    index = 0
    for f, path in enumerate(paths):
        lo, hi = f * per_file, min(rows, (f + 1) * per_file)
        tmp = path.with_name(path.name + ".tmp")
        with pq.ParquetWriter(tmp, schema(features), compression="snappy") as writer:
            for start in range(lo, hi, chunk_rows):
                n = min(chunk_rows, hi - start)
                batch = chunk(seed, index, start, n, rows, features, days, prefix)
                writer.write_batch(batch, row_group_size=chunk_rows)
                index += 1
        tmp.replace(path)


def spec_dict(features: int) -> dict[str, Any]:
    return {
        "id": "id",
        "timestamp": "ts",
        "prediction": "prediction",
        "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
        "cohorts": ["region"],
        "features": {"numeric": feature_names(features)},
        "window": "1d",
    }


def prediction_files(d: Path, files: int) -> list[Path]:
    return [d / f"predictions-{i:02d}.parquet" for i in range(files)]


def generate(
    d: Path,
    *,
    features: int,
    reference_rows: int,
    rows: int,
    files: int,
    chunk_rows: int,
    seed: int = 0,
    days: float = 10.0,
) -> dict[str, Any]:
    from driftline.spec import load_spec

    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write(
        [d / "reference.parquet"],
        reference_rows,
        features,
        seed=seed + 1,
        days=days,
        chunk_rows=chunk_rows,
        prefix="r",
    )
    t1 = time.perf_counter()
    paths = prediction_files(d, files)
    write(paths, rows, features, seed=seed, days=days, chunk_rows=chunk_rows, prefix="p")
    t2 = time.perf_counter()
    load_spec(spec_dict(features)).save(d / "driftline.yaml")
    meta = {
        "features": features,
        "reference_rows": reference_rows,
        "rows": rows,
        "files": files,
        "seed": seed,
        "days": days,
        "chunk_rows": chunk_rows,
        "reference_seconds": round(t1 - t0, 2),
        "predictions_seconds": round(t2 - t1, 2),
        "predictions_mib": round(sum(p.stat().st_size for p in paths) / 2**20, 1),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def shape(features: int, reference_rows: int, rows: int) -> str:
    """Directory name of a data shape.

    >>> shape(1000, 100_000, 1_000_000)
    'wide-1000x100k-1m'
    """
    return f"wide-{features}x{label(reference_rows)}-{label(rows)}"


def _step(run: Run) -> dict[str, Any]:
    return {
        "seconds": round(run.seconds, 2),
        "peak_rss_mib": round(run.peak_rss_mib, 1),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "exit_code": run.exit_code,
        "load": round(os.getloadavg()[0], 2),
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": runs,
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs), 1),
    }


def bench(a: argparse.Namespace, runner: Runner) -> dict[str, Any]:
    name = shape(a.features, a.reference_rows, a.rows)
    d = a.data / name
    spec, store = d / "driftline.yaml", d / "store.duckdb"
    entry: dict[str, Any] = {
        "shape": name,
        "features": a.features,
        "reference_rows": a.reference_rows,
        "rows": a.rows,
    }
    if not (d / "meta.json").exists():
        print(f"[{name}] generating into {d} ...", flush=True)
        gen = _ok(
            runner.measure(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--generate-only",
                    "--features",
                    str(a.features),
                    "--reference-rows",
                    str(a.reference_rows),
                    "--rows",
                    str(a.rows),
                    "--files",
                    str(a.files),
                    "--chunk-rows",
                    str(a.chunk_rows),
                    "--data",
                    str(a.data),
                ]
            )
        )
        entry["generate"] = _step(gen)
    entry["data"] = json.loads((d / "meta.json").read_text())
    files = prediction_files(d, entry["data"]["files"])
    cli = [sys.executable, "-m", "driftline.cli"]
    common = ["--spec", str(spec), "--store", str(store)]
    reuse = a.reuse_store and store.exists()
    if not reuse:
        for stale in (store, store.with_name(store.name + ".wal"), d / "profile.json"):
            stale.unlink(missing_ok=True)

    def step(what: str, cmd: list[str], allowed: tuple[int, ...] = (0,)) -> Run:
        run = _ok(runner.measure(cmd), allowed)
        print(
            f"[{name}] {what}: {run.seconds:.1f} s ({run.cpu_seconds:.1f} s CPU), "
            f"{run.peak_rss_mib:.0f} MiB, "
            f"exit {run.exit_code}, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        return run

    if reuse:
        # the store's cached alert bounds go, so that the first check is a first check
        import duckdb

        with duckdb.connect(str(store)) as con:
            con.execute("DELETE FROM calibrations")
        print(f"[{name}] reusing {store} (--reuse-store): logging not timed", flush=True)
        entry["log_reference"] = entry["log_predictions"] = None
    else:
        ref = [*cli, "log", "--reference", str(d / "reference.parquet"), *common]
        entry["log_reference"] = _step(step("log --reference", ref))
    fits = [_step(step(f"fit {i + 1}/{a.repeat}", [*cli, "fit", *common])) for i in range(a.repeat)]
    entry["fit"] = _summary(fits)
    if not reuse:
        pred = step("log predictions", [*cli, "log", *map(str, files), *common])
        entry["log_predictions"] = _step(pred)
    check = [*cli, "check", "--json", "--no-persist", *common]
    first = step("first check", check, (0, 1))
    entry["first_check"] = _summary([_step(first)])
    later = [step(f"later check {i + 1}/{a.repeat}", check, (0, 1)) for i in range(a.repeat)]
    entry["later_check"] = _summary([_step(r) for r in later])
    report, _ = _report(later[-1].stdout)
    statuses: dict[str, int] = {}
    for r in report.get("results", []):
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    entry["check_results"] = statuses
    entry["alerts"] = len(report.get("alerts", []))
    entry["store_mib"] = round(store.stat().st_size / 2**20, 1)
    return entry


def table(e: dict[str, Any]) -> str:
    def cell(s: dict[str, Any]) -> str:
        runs = ", ".join(f"{r['seconds']:.1f}" for r in s["runs"])
        return (
            f"{s['median_seconds']:.1f} ({runs}) | {s['median_cpu_seconds']:.1f} "
            f"| {s['peak_rss_mib']:.0f}"
        )

    def once(s: dict[str, Any] | None) -> str:
        if s is None:
            return "not timed (--reuse-store) | - | -"
        return f"{s['seconds']:.1f} | {s['cpu_seconds']:.1f} | {s['peak_rss_mib']:.0f}"

    return (
        "| step | median wall s (each run) | CPU s (user + sys) | peak RSS MiB |\n"
        "|---|---|---:|---:|\n"
        f"| `log --reference` (store + fit) | {once(e['log_reference'])} |\n"
        f"| `fit` (profile fit alone) | {cell(e['fit'])} |\n"
        f"| `log` predictions ({e['data']['files']} files) | {once(e['log_predictions'])} |\n"
        f"| first `check` (calibrates, caches bounds) | {cell(e['first_check'])} |\n"
        f"| later `check` | {cell(e['later_check'])} |"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", type=int, default=1000)
    p.add_argument("--reference-rows", type=parse_rows, default=100_000)
    p.add_argument("--rows", type=parse_rows, default=1_000_000, help="prediction rows")
    p.add_argument("--files", type=int, default=10, help="prediction files")
    p.add_argument("--chunk-rows", type=parse_rows, default=25_000, help="rows per chunk")
    p.add_argument("--repeat", type=int, default=3, help="fits and later checks")
    p.add_argument("--data", type=Path, default=HERE / "data")
    p.add_argument("--out", type=Path, default=HERE / "results" / "wide.json")
    p.add_argument(
        "--reuse-store",
        action="store_true",
        help="keep an existing store.duckdb (logging not timed; its cached bounds are cleared)",
    )
    p.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--source",
        choices=["tree", "head"],
        default="tree",
        help="driftline to run: a copy of the working tree (default) or of the last commit",
    )
    a = p.parse_args(argv)
    if a.generate_only:
        d = a.data / shape(a.features, a.reference_rows, a.rows)
        meta = generate(
            d,
            features=a.features,
            reference_rows=a.reference_rows,
            rows=a.rows,
            files=a.files,
            chunk_rows=a.chunk_rows,
        )
        print(json.dumps(meta, indent=1))
        return
    with tempfile.TemporaryDirectory(prefix="driftline-src-") as tmp:
        env = dict(os.environ)
        src = snapshot(Path(tmp), head=a.source == "head")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, env.get("PYTHONPATH")]))
        runner = Runner(_gnu_time(), env)
        where = _ok(
            runner.measure([sys.executable, "-c", "import driftline; print(driftline.__file__)"])
        )
        if not where.stdout.strip().startswith(tmp):
            raise SystemExit(f"the copy of src/driftline is not what children import: {where}")
        print(f"measuring driftline {src}", flush=True)
        t0 = time.time()
        entry = bench(a, runner)
    entry["source"] = src
    entry["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entry["wall_minutes"] = round((time.time() - t0) / 60, 1)
    entry["machine"] = machine()
    old: dict[str, Any] = json.loads(a.out.read_text()) if a.out.exists() else {}
    kept = [e for e in old.get("entries", []) if e["shape"] != entry["shape"]]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"entries": [*kept, entry]}, indent=1) + "\n")
    print()
    print(
        f"{entry['shape']}: {a.features} numeric features, {a.reference_rows:,} reference "
        f"rows, {a.rows:,} predictions, cohort of 4 values, 10 daily windows"
    )
    print(table(entry))
    print(f"alerts: {entry['alerts']}; results: {entry['check_results']}")
    print(f"results: {a.out}")


if __name__ == "__main__":
    main()
