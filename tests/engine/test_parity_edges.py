"""Engine parity at the edges: time zones, unicode values, a single-row cohort, and the
summaries beyond the window summary (eras, performance, queues, embedding samples).

``test_parity.py`` checks the window summaries on a large seeded data set built in
memory. This module takes the path a user's data takes: rows are logged through a real
store (``driftline.connect``) with timestamps as ISO strings carrying offsets (+05:30,
-08:00, +13:00, +00:00) at 23:59:59, 00:00:00 and 00:00:01 local time, and one 0.6 s
before an empty UTC day; the store's tables and the raw rows (their timestamps
zone-aware) are written to Parquet files, and each engine reads the files - DuckDB on a
connection whose time zone is ``Pacific/Auckland``, Spark in a session whose zone is
``America/Los_Angeles`` when the files are read and the engine is built (and again,
behind the engine's back, in ``test_zone_changed_after_the_engine_was_built``). No
engine's zone may leak in: every row lands in the UTC window of the instant it was
logged with, on both engines.

The values are hostile: categories, cohort values and class names with accents, CJK,
emoji, quotes and a backslash; one cohort value held by a single row; nulls and NaN in a
numeric feature, nulls in an integer one whose values lie on its range bounds and bin
edges; an empty day; categories unseen in the reference.

One test body per summary, parametrised over ``duckdb`` and ``spark``, checks it
against an independent computation in Python (pandas, numpy, ``hashlib``); a second
test compares the engines with each other row for row (DuckDB's native histograms
against Spark's portable ones too). Tolerances: counts, group keys, timestamps, ids,
hashes and row orders exactly; moments, score sums and vectors to 1e-9 (relative,
absolute near zero). Approximate quantiles (``conf_q``): each engine's q-quantile lies
between the exact numpy quantiles at q - 0.05 and q + 0.05, rounded outward to whole
observations (an approximate quantile is an observation; groups here hold 1 to about
50 values, where one rank is 2 % or more, so a narrower band would only test rounding);
they are not compared across engines (DuckDB's t-digest and Spark's Greenwald-Khanna
need not agree). Then ``run_checks`` and ``find_incidents`` on both engines over the
stored tables: the same results, alerts and incidents.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from parity_tree import assert_same_report, assert_tree_close, row_diffs

import driftline
from driftline.checks import CHECKS, CheckReport, run_checks
from driftline.engine import MISSING_COHORT, OVERALL, DuckDBEngine, Engine, SparkEngine
from driftline.engine.embeddings import SAMPLE_SCHEMA, embedding_sample
from driftline.engine.performance import performance_summary
from driftline.engine.queues import ID, LABEL, PRIORITY, STRATUM, TIE, candidates, ranked
from driftline.engine.records import ThresholdCounts, threshold_counts
from driftline.engine.scores import (
    NONE_SOURCE,
    THRESHOLD_PREFIX,
    score_builders,
    score_name,
    threshold_sources,
)
from driftline.engine.summaries import (
    CATEGORY_SCHEMA,
    CATEGORY_SUMMARY_SCHEMA,
    CLASS_COUNTS_SCHEMA,
    HISTOGRAM_SCHEMA,
    OTHER,
    PREDICTION_STATS_SCHEMA,
    batch_rows,
    category_counts,
    category_summary,
    class_counts,
    confidence_quantiles,
    era_rows,
    expand_histograms,
    feature_stats,
    histograms,
    prediction_stats,
    window_key,
    window_summary,
)
from driftline.incidents import find_incidents
from driftline.profile import Profile
from driftline.spec import load_spec, parse_window
from driftline.thresholds import ThresholdConfig, fit_thresholds, holdout

REL = 1e-9
RANK = 0.05

SEED = 20261130
DAY = 86_400
START = datetime(2024, 3, 8)  # UTC; days 0 .. 5
DAYS = 6
EMPTY_DAY = 3  # 2024-03-11: no row, in any zone
ROWS_PER_DAY = 40
CLASSES = ("cat", "chien", "鳥 🐦")
COLOURS = ("rouge", "crème brûlée", "緑", "🔵", 'say "blue"', "it's", "back\\slash")
UNSEEN = ("naïve", "新しい", "🟣 '")
REGIONS = ("north", "Süd-Ost", "東京", "🌊 coast")
SINGLE = 'O\'Hare "1"'  # the cohort value of exactly one row
#: Logged as text with these offsets at 23:59:59, 00:00:00 and 00:00:01 local time around
#: 2024-03-10 (none lands in the empty day), and one row 0.6 s before the empty day.
OFFSETS = ("+05:30", "-08:00", "+13:00", "+00:00")
LOCAL_TIMES = ("2024-03-09T23:59:59", "2024-03-10T00:00:00", "2024-03-10T00:00:01")
JUST_BEFORE_EMPTY = "2024-03-10T23:59:59.600000+00:00"
DUCKDB_ZONE = "Pacific/Auckland"
SPARK_ZONE = "America/Los_Angeles"

SPEC_MAP: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {c: f"p{i}" for i, c in enumerate(CLASSES)}},
    "label": "label",
    "cohorts": ["region"],
    "features": {"numeric": ["x", "k"], "categorical": ["colour"]},
    "window": "1d",
}
SPEC = load_spec(SPEC_MAP)
EMB_SPEC = load_spec({**SPEC_MAP, "embedding": "emb"})
WINDOW = parse_window("1d")
COHORTS = (None, "region")
#: Most summaries run for the region scope only: its groups hold the null, unicode and
#: single-row cohort values; the overall scope's literal value is the same code path,
#: run here by the prediction stats and the window summary (and by every test_parity case).
REGION = ("region",)
#: Every Spark or DuckDB table of this module, by its role (prefixed: the Spark session
#: is shared with the other modules' temp views).
TABLES = ("source", "stored", "labels", "reference")

ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]

Row = dict[str, Any]


# -- data -------------------------------------------------------------------------------
def _float(values: npt.NDArray[np.float64], nulls: Any, nans: Any) -> pa.Array:
    out = values.copy()
    out[nans] = np.nan
    return pa.array(out, pa.float64(), mask=nulls & ~nans)


def _rows(seed: int, days: Sequence[int], *, unseen_from: int | None, zones: bool) -> pa.Table:
    """Rows to log: ``ts`` is ISO text with an offset; ids ``<seed % 1000>-<n>``."""
    rng = np.random.default_rng(seed)
    stamps = [
        (START + timedelta(days=d, microseconds=int(rng.integers(0, DAY * 10**6)))).isoformat()
        + "+00:00"
        for d in days
        for _ in range(ROWS_PER_DAY)
    ]
    if zones:
        stamps += [f"{t}{o}" for o in OFFSETS for t in LOCAL_TIMES] + [JUST_BEFORE_EMPTY]
    n = len(stamps)
    day = np.array([(_utc(s) - START).days for s in stamps])
    logits = rng.normal(0.0, 1.2, (n, len(CLASSES)))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = np.array(CLASSES, dtype=object)[p.argmax(axis=1)]
    label = np.array(CLASSES, dtype=object)[rng.integers(0, 3, n)]
    region = np.array(REGIONS, dtype=object)[rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])]
    region[rng.random(n) < 0.1] = None
    colour = np.array(COLOURS, dtype=object)[rng.integers(0, len(COLOURS), n)]
    if unseen_from is not None:
        late = (day >= unseen_from) & (rng.random(n) < 0.25)
        colour[late] = np.array(UNSEEN, dtype=object)[rng.integers(0, 3, late.sum())]
    colour[rng.random(n) < 0.08] = None
    x = rng.normal(5.0, 2.0, n) + 0.8 * (day >= 4)
    k = rng.poisson(4.0, n)
    emb = rng.normal(0.0, 1.0, (n, 4))
    table = pa.table(
        {
            "id": [f"{seed % 1000}-{i:04d}" for i in rng.permutation(n)],
            "ts": pa.array(stamps, pa.string()),
            "pred": pa.array(pred, pa.string()),
            **{f"p{i}": pa.array(p[:, i]) for i in range(len(CLASSES))},
            "label": pa.array(label, pa.string()),
            "region": pa.array(region, pa.string()),
            "x": _float(x, rng.random(n) < 0.06, rng.random(n) < 0.06),
            "k": pa.array(k, pa.int64(), mask=rng.random(n) < 0.05),
            "colour": pa.array(colour, pa.string()),
            "emb": pa.array(
                [list(v) for v in emb], pa.list_(pa.float64()), mask=rng.random(n) < 0.1
            ),
        }
    )
    if zones:  # the single-row cohort: one row of the last day
        last = int(np.flatnonzero(day == DAYS - 1)[0])
        regions = table["region"].to_pylist()
        regions[last] = SINGLE
        index = table.schema.get_field_index("region")
        table = table.set_column(index, "region", pa.array(regions, pa.string()))
    return table


def _utc(iso: str) -> datetime:
    """An ISO string with an offset as a naive UTC datetime (the oracle of the store)."""
    return datetime.fromisoformat(iso).astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Data:
    logged: pa.Table  # as logged (ISO text)
    source: pa.Table  # the logged rows with zone-aware timestamps (a lake's Parquet)
    stored: pa.Table  # the store's predictions table
    labels: pa.Table
    reference: pa.Table
    batches: list[dict[str, Any]]
    profile: Profile
    files: dict[str, Path]


CHECK_TIME = datetime(2024, 3, 15)


def _make_data(root: Path) -> Data:
    current = _rows(SEED, [d for d in range(DAYS) if d != EMPTY_DAY], unseen_from=4, zones=True)
    reference = _rows(SEED + 1, range(-8, 0), unseen_from=None, zones=False).drop_columns("emb")
    days = np.array([(_utc(s) - START).days for s in current["ts"].to_pylist()])
    with driftline.connect(root / "store.duckdb", SPEC, profile=root / "profile.json") as mon:
        mon.log_reference(reference)
        early = pa.array(days < EMPTY_DAY)
        mon.log_predictions(current.filter(early).drop_columns("emb"))
        mon.log_predictions(current.filter(pc.invert(early)).drop_columns("emb"))
        labelled = current.filter(pc.less(pc.bit_wise_and(pa.array(range(len(current))), 3), 3))
        mon.log_labels(
            pa.table(
                {
                    "id": pa.concat_arrays([labelled["id"].combine_chunks(), pa.array(["ghost"])]),
                    "label": pa.concat_arrays(
                        [labelled["label"].combine_chunks(), pa.array([CLASSES[2]])]
                    ),
                    "labelled_at": pa.array(
                        [
                            *(_utc(s) + timedelta(hours=7) for s in labelled["ts"].to_pylist()),
                            CHECK_TIME,
                        ],
                        pa.timestamp("us"),
                    ),
                }
            )
        )
        con = mon.store.con
        stored = con.execute(
            "SELECT * REPLACE (CAST(_raw AS VARCHAR) AS _raw) FROM predictions"
        ).to_arrow_table()
        labels = con.execute("SELECT * FROM labels").to_arrow_table()
        ref = con.execute("SELECT * FROM reference_reference").to_arrow_table()
        batches = mon.store.batches().to_pylist()
        profile = Profile.from_dict(mon.profile.to_dict(), SPEC)
    source = current.set_column(
        1,
        "ts",
        pa.array([_utc(s) for s in current["ts"].to_pylist()], pa.timestamp("us", tz="UTC")),
    )
    files = {}
    for name, table in (
        ("source", source),
        ("stored", stored),
        ("labels", labels),
        ("reference", ref),
    ):
        files[name] = root / f"{name}.parquet"
        pq.write_table(table, files[name])
    return Data(current, source, stored, labels, ref, batches, profile, files)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    return _make_data(tmp_path_factory.mktemp("parity-edges"))


@pytest.fixture(scope="module")
def duckdb_engine(data: Data) -> DuckDBEngine:
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{DUCKDB_ZONE}'")
    for name, path in data.files.items():
        con.execute(f"CREATE TABLE edges_{name} AS SELECT * FROM read_parquet(?)", [str(path)])
    return DuckDBEngine.from_connection(con)


@pytest.fixture(scope="module")
def spark_engine(spark: Any, data: Data) -> Iterator[SparkEngine]:
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", SPARK_ZONE)
    try:
        for name, path in data.files.items():
            spark.read.parquet(str(path)).createOrReplaceTempView(f"edges_{name}")
        yield SparkEngine(spark)
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    result: Engine = request.getfixturevalue(f"{request.param}_engine")
    return result


def _table(engine: Engine, name: str) -> Any:
    return engine.table(f"edges_{name}")


# -- the oracle's view of the data -------------------------------------------------------
def _window_of(ts: datetime) -> int:
    """The UTC day of a naive UTC timestamp, truncated to the second."""
    secs = int((ts - datetime(1970, 1, 1)).total_seconds() // 1)
    return secs // DAY * DAY


def _frame(table: pa.Table, cohort: str | None) -> pd.DataFrame:
    df = table.to_pandas(timestamp_as_object=True)  # null and NaN both become missing
    df["ts"] = [t.replace(tzinfo=None) if t is not None else None for t in table["ts"].to_pylist()]
    df["window"] = [_window_of(t) for t in df["ts"]]
    if cohort is None:
        df["cohort_value"] = OVERALL
    else:
        df["cohort_value"] = [MISSING_COHORT if v is None else v for v in table[cohort].to_pylist()]
    return df


def _groups(df: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple[Row, pd.DataFrame]]:
    for k, g in df.groupby(list(keys), dropna=False, sort=True):
        values = k if isinstance(k, tuple) else (k,)
        yield (
            {
                n: int(v)
                if isinstance(v, np.integer)
                else (bool(v) if isinstance(v, np.bool_) else v)
                for n, v in zip(keys, values, strict=True)
            },
            g,
        )


def _clean(s: pd.Series) -> npt.NDArray[np.float64]:
    return s.dropna().to_numpy(dtype=np.float64)


def _moments(v: npt.NDArray[np.float64]) -> tuple[float | None, float | None]:
    return (float(v.mean()) if len(v) else None, float(v.var(ddof=1)) if len(v) > 1 else None)


def _bins(v: npt.NDArray[np.float64], edges: Sequence[float]) -> npt.NDArray[np.int64]:
    """Bin i is ``[e_i, e_i+1)``, the last closed; -1 below the edges, ``len - 1`` above."""
    e = np.asarray(edges)
    k = len(e) - 1
    idx = np.clip(np.searchsorted(e, v, side="right") - 1, 0, k - 1)
    return np.where(v < e[0], -1, np.where(v > e[-1], k, idx))


#: Summary parameters, as a profile would hold them: values lie exactly on the integer
#: feature's range bounds and edges; the scores are binned too, and against thresholds.
RANGES = {"x": (3.0, 7.0), "k": (1.0, 8.0)}
EDGES: dict[str, list[float]] = {
    "x": [2.0, 4.0, 5.0, 6.0, 8.0],
    "k": [0.0, 2.0, 4.0, 6.0, 9.0],
    **{score_name(c): [0.0, 0.25, 0.5, 0.75, 1.0] for c in CLASSES},
}
THRESHOLDS = {CLASSES[0]: 0.45, CLASSES[2]: 0.4}
BAND = 0.05
SOURCES = threshold_sources(SPEC, THRESHOLDS, BAND, none=True)
ALL_EDGES = {**EDGES, **{name: edges for name, (edges, _) in SOURCES.items()}}
BUILDERS = {**score_builders(SPEC), **{name: build for name, (_, build) in SOURCES.items()}}
SCORE_COLUMNS = {score_name(c): f"p{i}" for i, c in enumerate(CLASSES)}
#: ``era_rows`` / ``era_early`` bounds: the +05:30 row at local midnight is not early (one
#: second before it is), the -08:00 row at local midnight is late (one second before not).
EARLIEST = datetime(2024, 3, 9, 18, 30, 0)
LATEST = datetime(2024, 3, 10, 7, 59, 59)
KNOWN = {"colour": list(COLOURS[:4]), "pred": [CLASSES[0]], "label": []}
SUMMARY_KNOWN = {"colour": list(COLOURS), "region": [], "id": []}
TOP = 3
QUEUE_SEED, QUEUE_LIMIT = 7, 4
QUEUE_SINCE, QUEUE_UNTIL = datetime(2024, 3, 9, 18, 30), datetime(2024, 3, 13, 0, 0, 1)
EMB_SEED, EMB_CAP = 11, 3


def _source_values(df: pd.DataFrame) -> dict[str, npt.NDArray[np.float64]]:
    """Each histogram source's value per row (NaN: missing)."""
    out = {"x": df["x"].to_numpy(dtype=np.float64), "k": df["k"].to_numpy(dtype=np.float64)}
    scores = {c: df[f"p{i}"].to_numpy(dtype=np.float64) for i, c in enumerate(CLASSES)}
    out |= {score_name(c): v for c, v in scores.items()}
    out |= {f"{THRESHOLD_PREFIX}{c}": scores[c] for c in THRESHOLDS}
    out[NONE_SOURCE] = np.max([scores[c] - t for c, t in THRESHOLDS.items()], axis=0)
    return out


def _o_prediction_stats(df: pd.DataFrame) -> list[Row]:
    out = []
    for key, g in _groups(df, ["window", "cohort_value"]):
        conf = _clean(g["confidence"])
        mean, var = _moments(conf)
        out.append(
            {
                **key,
                "n": len(g),
                "conf_mean": mean,
                "conf_var": var,
                "conf_min": float(conf.min()) if len(conf) else None,
                "conf_max": float(conf.max()) if len(conf) else None,
                "conf_q": np.sort(conf),
                "ts_min": min(g["ts"]),
                "ts_max": max(g["ts"]),
            }
        )
    return out


def _o_feature_stats(df: pd.DataFrame) -> list[Row]:
    out = []
    for key, g in _groups(df, ["window", "cohort_value"]):
        row: Row = {**key, "n": len(g)}
        for i, col in enumerate(SPEC.feature_kinds):
            row[f"m{i}"] = int(g[col].isna().sum())
            if col in RANGES:
                v = _clean(g[col])
                lo, hi = RANGES[col]
                row |= {f"lo{i}": int((v < lo).sum()), f"hi{i}": int((v > hi).sum())}
                row |= {f"nf{i}": int(np.isinf(v).sum())}
                row[f"mean{i}"], row[f"var{i}"] = _moments(v)
        out.append(row)
    return out


def _o_histograms(df: pd.DataFrame) -> list[Row]:
    values = _source_values(df)
    out = []
    for name, e in ALL_EDGES.items():
        keep = ~np.isnan(values[name])
        sub = df[keep].assign(column=name, bin=_bins(values[name][keep], e))
        out += [
            {**k, "n": len(g)} for k, g in _groups(sub, ["window", "cohort_value", "column", "bin"])
        ]
    return out


def _o_window_summary(df: pd.DataFrame) -> list[Row]:
    values = _source_values(df)
    out = []
    for _, g in _groups(df, ["window", "cohort_value"]):
        row = {**_o_prediction_stats(g)[0], **_o_feature_stats(g)[0]}
        for k, (name, e) in enumerate(ALL_EDGES.items()):
            v = values[name][df.index.get_indexer(g.index)]
            counts = np.bincount(_bins(v[~np.isnan(v)], e) + 1, minlength=len(e) + 1)
            row |= {f"h{k}_{j}": int(c) for j, c in enumerate(counts)}
        row["era_early"] = int(sum(t < EARLIEST for t in g["ts"]))
        row["era_late"] = int(sum(t > LATEST for t in g["ts"]))
        out.append(row)
    return out


def _o_class_counts(df: pd.DataFrame) -> list[Row]:
    df = df.assign(value=df["pred"].fillna(MISSING_COHORT))
    return [{**k, "n": len(g)} for k, g in _groups(df, ["window", "cohort_value", "value"])]


def _o_category_counts(df: pd.DataFrame) -> list[Row]:
    out = []
    for col in ("colour", "region", "pred"):
        sub = df[df[col].notna()].assign(column=col, value=lambda d, c=col: d[c])
        out += [
            {**k, "n": len(g)}
            for k, g in _groups(sub, ["window", "cohort_value", "column", "value"])
        ]
    return out


def _o_known_counts(df: pd.DataFrame) -> list[Row]:
    out = []
    for col, known in KNOWN.items():
        sub = df[df[col].notna()]
        sub = sub.assign(column=col, value=sub[col].where(sub[col].isin(known), OTHER))
        out += [
            {**k, "n": len(g)}
            for k, g in _groups(sub, ["window", "cohort_value", "column", "value"])
        ]
    return out


def _o_category_summary(df: pd.DataFrame) -> list[Row]:
    """Known values, OTHER, and the TOP most frequent others (ties by code point)."""
    out = []
    for col, known in SUMMARY_KNOWN.items():
        for key, g in _groups(df[df[col].notna()], ["window", "cohort_value"]):
            counts = g[col].value_counts().to_dict()
            new = {v: int(n) for v, n in counts.items() if v not in known}
            out += [
                {**key, "column": col, "value": v, "n": int(n), "unseen": False}
                for v, n in counts.items()
                if v in known
            ]
            if new:
                out.append(
                    {**key, "column": col, "value": OTHER, "n": sum(new.values()), "unseen": False}
                )
            top = sorted(new.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
            out += [{**key, "column": col, "value": v, "n": n, "unseen": True} for v, n in top]
    return out


def _o_batch_rows(df: pd.DataFrame) -> list[Row]:
    return [{**k, "n": len(g)} for k, g in _groups(df, ["window", "cohort_value", "_batch"])]


def _o_quantiles(df: pd.DataFrame) -> list[Row]:
    return [
        {**k, "conf_q": np.sort(_clean(g["confidence"]))}
        for k, g in _groups(df, ["window", "cohort_value"])
    ]


def _o_era_rows(df: pd.DataFrame) -> list[Row]:
    bad = df[[t < EARLIEST or t > LATEST for t in df["ts"]]]
    out = []
    for key, g in _groups(bad, ["window"]):
        batches = g["_batch"] if "_batch" in g else [None] * len(g)
        rows = sorted(zip(g["ts"], g["id"], batches, strict=True), key=lambda r: r[:2])[:5]
        out += [{**key, "id": i, "ts": t, "batch": b} for t, i, b in rows]
    return sorted(out, key=lambda r: (r["window"], r["ts"], r["id"]))


def _o_window_keys(df: pd.DataFrame) -> list[Row]:
    return [{"id": i, "window": w} for i, w in zip(df["id"], df["window"], strict=True)]


def _o_performance(df: pd.DataFrame, data: Data) -> list[Row]:
    """Per scope, window, cohort value, predicted class, latest label and confidence bin
    (of the predicted class's score, 100 bins): rows, score sum, label delays."""
    labels = data.labels.to_pandas()
    labels["labelled_at"] = list(data.labels["labelled_at"].to_pylist())
    labels = labels.sort_values(["labelled_at", "_batch"]).groupby("id").tail(1).set_index("id")
    col = {c: f"p{i}" for i, c in enumerate(CLASSES)}
    df = df.assign(
        lab=[labels["label"].get(i) for i in df["id"]],
        conf=[row[col[p]] for p, (_, row) in zip(df["pred"], df.iterrows(), strict=True)],
    )
    df["bin"] = [min(max(math.floor(c * 100), 0), 99) for c in df["conf"]]
    df["delay"] = [
        (labels["labelled_at"][i].replace(microsecond=0) - t.replace(microsecond=0)).total_seconds()
        if i in labels.index
        else None
        for i, t in zip(df["id"], df["ts"], strict=True)
    ]
    out = []
    for scope, values in (
        ("", [OVERALL] * len(df)),
        ("region", df["region"].fillna(MISSING_COHORT)),
    ):
        sub = df.assign(scope=scope, cohort_value=list(values), label=df["lab"].fillna("\x00"))
        for key, g in _groups(sub, ["scope", "window", "cohort_value", "pred", "label", "bin"]):
            d = np.array([x for x in g["delay"] if x is not None and not math.isnan(x)])
            predicted = key.pop("pred")
            out.append(
                {
                    **key,
                    "predicted": predicted,
                    "label": None if key["label"] == "\x00" else key["label"],
                    "n": len(g),
                    "conf_sum": float(g["conf"].sum()),
                    "delay_sum": float(d.sum()),
                    "delay_sq": float((d * d).sum()),
                    "delay_min": float(d.min()) if len(d) else None,
                    "delay_max": float(d.max()) if len(d) else None,
                }
            )
    return out


def _md5(seed: int, ident: str) -> str:
    return hashlib.md5(f"{seed}:{ident}".encode()).hexdigest()


def _o_queue(df: pd.DataFrame, data: Data) -> list[Row]:
    """least-confident (1 - the top score) per region, since/until, top QUEUE_LIMIT by
    priority, then the seeded md5 tie hash, then id."""
    labels = {r["id"]: r["label"] for r in data.labels.to_pylist()}
    out = []
    for _, r in df.iterrows():
        if not QUEUE_SINCE <= r["ts"] < QUEUE_UNTIL:
            continue
        top = max(r[f"p{i}"] for i in range(len(CLASSES)))
        out.append(
            {
                ID: r["id"],
                STRATUM: MISSING_COHORT if pd.isna(r["region"]) else r["region"],
                PRIORITY: 1.0 - top,
                TIE: _md5(QUEUE_SEED, r["id"]),
                "label": labels.get(r["id"]),
            }
        )
    out.sort(key=lambda r: (-r[PRIORITY], r[TIE], r[ID]))
    picked = []
    for stratum in _strata(data):
        picked += [r for r in out if r[STRATUM] == stratum][:QUEUE_LIMIT]
    return picked


def _strata(data: Data) -> list[str]:
    return [*REGIONS, SINGLE, MISSING_COHORT]


def _o_embedding_sample(df: pd.DataFrame, data: Data) -> list[Row]:
    """Per window, region and predicted class, the EMB_CAP rows with an embedding of the
    smallest seeded md5 of their id."""
    src = _frame(data.source, "region")
    src = src[src["emb"].notna() & src["pred"].notna()]
    out = []
    for key, g in _groups(src, ["window", "cohort_value", "pred"]):
        ranked_rows = sorted(
            zip(g["id"], g["emb"], strict=True), key=lambda iv: (_md5(EMB_SEED, iv[0]), iv[0])
        )
        out += [
            {
                "window": key["window"],
                "cohort_value": key["cohort_value"],
                "class": key["pred"],
                "id": i,
                "hash": _md5(EMB_SEED, i),
                "vector": [float(x) for x in v],
            }
            for i, v in ranked_rows[:EMB_CAP]
        ]
    return sorted(out, key=lambda r: (r["window"], r["cohort_value"], r["class"], r["id"]))


# -- the summaries under test --------------------------------------------------------------
Run = Callable[[Engine, Any, "str | None"], pa.Table]


def _window_summary(native: bool) -> Run:
    def run(engine: Engine, t: Any, c: str | None) -> pa.Table:
        expr = window_summary(
            t,
            SPEC,
            WINDOW,
            c,
            ranges=RANGES,
            edges=ALL_EDGES,
            values=BUILDERS,
            native=native,
            era=(EARLIEST, LATEST),
        )
        return expand_histograms(engine.run(expr), ALL_EDGES)

    return run


def _queue(engine: Engine, t: Any, c: str | None) -> pa.Table:
    cands = candidates(
        t,
        SPEC,
        policy="least-confident",
        seed=QUEUE_SEED,
        thresholds={},
        band=None,
        labels=_table(engine, "labels"),
        stratify="region",
        since=QUEUE_SINCE,
        until=QUEUE_UNTIL,
    )
    out = engine.run(ranked(cands, QUEUE_LIMIT, [*REGIONS, SINGLE, MISSING_COHORT]))
    return out.rename_columns([("label" if n == LABEL else n) for n in out.column_names])


def _expr(build: Callable[[Any, str | None], Any], schema: pa.Schema | None = None) -> Run:
    return lambda engine, t, c: engine.run(build(t, c), schema)


@dataclass(frozen=True)
class Summary:
    run: Run
    oracle: Callable[[pd.DataFrame, Data], list[Row]]
    keys: tuple[str, ...]
    close: frozenset[str] = frozenset()  # float fields compared to REL (prefixes)
    table: str = "stored"
    cohorts: tuple[str | None, ...] = REGION
    ordered: bool = False  # rows come in the oracle's order
    native: bool = False  # DuckDB's own histogram aggregate: DuckDB only

    def is_close(self, name: str) -> bool:
        return name.startswith(tuple(self.close))


def _plain(
    oracle: Callable[[pd.DataFrame], list[Row]],
) -> Callable[[pd.DataFrame, Data], list[Row]]:
    return lambda df, data: oracle(df)


WS_CLOSE = frozenset({"conf_mean", "conf_var", "conf_min", "conf_max", "mean", "var"})
SUMMARIES: dict[str, Summary] = {
    "window_keys": Summary(
        _expr(lambda t, c: t.select(id=t.id, window=window_key(t, SPEC, WINDOW))),
        _plain(_o_window_keys),
        ("id",),
        table="source",
        cohorts=(None,),
    ),
    "window_keys_stored": Summary(
        _expr(lambda t, c: t.select(id=t.id, window=window_key(t, SPEC, WINDOW))),
        _plain(_o_window_keys),
        ("id",),
        cohorts=(None,),
    ),
    "prediction_stats": Summary(
        _expr(lambda t, c: prediction_stats(t, SPEC, WINDOW, c), PREDICTION_STATS_SCHEMA),
        _plain(_o_prediction_stats),
        ("window", "cohort_value"),
        WS_CLOSE,
        cohorts=COHORTS,
    ),
    "prediction_stats_source": Summary(
        _expr(
            lambda t, c: prediction_stats(t.mutate(confidence=_top_score(t)), SPEC, WINDOW, c),
            PREDICTION_STATS_SCHEMA,
        ),
        lambda df, d: _o_prediction_stats(df.assign(confidence=df[["p0", "p1", "p2"]].max(axis=1))),
        ("window", "cohort_value"),
        WS_CLOSE,
        table="source",
    ),
    "class_counts": Summary(
        _expr(lambda t, c: class_counts(t, SPEC, WINDOW, c), CLASS_COUNTS_SCHEMA),
        _plain(_o_class_counts),
        ("window", "cohort_value", "value"),
    ),
    "feature_stats": Summary(
        _expr(lambda t, c: feature_stats(t, SPEC, WINDOW, c, ranges=RANGES)),
        _plain(_o_feature_stats),
        ("window", "cohort_value"),
        frozenset({"mean", "var"}),
    ),
    "histograms": Summary(
        _expr(
            lambda t, c: histograms(t, SPEC, WINDOW, c, ALL_EDGES, values=BUILDERS),
            HISTOGRAM_SCHEMA,
        ),
        _plain(_o_histograms),
        ("window", "cohort_value", "column", "bin"),
    ),
    "window_summary": Summary(
        _window_summary(native=False),
        _plain(_o_window_summary),
        ("window", "cohort_value"),
        WS_CLOSE,
        ordered=True,
        cohorts=COHORTS,
    ),
    "window_summary_native": Summary(
        _window_summary(native=True),
        _plain(_o_window_summary),
        ("window", "cohort_value"),
        WS_CLOSE,
        ordered=True,
        native=True,
        cohorts=COHORTS,
    ),
    "category_counts": Summary(
        _expr(
            lambda t, c: category_counts(t, SPEC, WINDOW, c, ["colour", "region", "pred"]),
            CATEGORY_SCHEMA,
        ),
        _plain(_o_category_counts),
        ("window", "cohort_value", "column", "value"),
    ),
    "known_category_counts": Summary(
        _expr(lambda t, c: category_counts(t, SPEC, WINDOW, c, KNOWN), CATEGORY_SCHEMA),
        _plain(_o_known_counts),
        ("window", "cohort_value", "column", "value"),
    ),
    "category_summary": Summary(
        _expr(
            lambda t, c: category_summary(t, SPEC, WINDOW, c, SUMMARY_KNOWN, top=TOP),
            CATEGORY_SUMMARY_SCHEMA,
        ),
        _plain(_o_category_summary),
        ("window", "cohort_value", "column", "value", "unseen"),
    ),
    "batch_rows": Summary(
        _expr(lambda t, c: batch_rows(t, SPEC, WINDOW, c)),
        _plain(_o_batch_rows),
        ("window", "cohort_value", "_batch"),
    ),
    "confidence_quantiles": Summary(
        _expr(lambda t, c: confidence_quantiles(t, SPEC, WINDOW)),
        _plain(_o_quantiles),
        ("window", "cohort_value"),
        cohorts=(None,),
    ),
    "era_rows": Summary(
        _expr(lambda t, c: era_rows(t, SPEC, WINDOW, EARLIEST, LATEST)),
        _plain(_o_era_rows),
        ("window", "id"),
        cohorts=(None,),
        ordered=True,
    ),
    "era_rows_source": Summary(
        _expr(lambda t, c: era_rows(t, SPEC, WINDOW, EARLIEST, LATEST)),
        _plain(_o_era_rows),
        ("window", "id"),
        table="source",
        cohorts=(None,),
        ordered=True,
    ),
    "performance": Summary(
        lambda e, t, c: performance_summary(e, t, _table(e, "labels"), SPEC, WINDOW),
        _o_performance,
        ("scope", "window", "cohort_value", "predicted", "label", "bin"),
        frozenset({"conf_sum", "delay_"}),
        cohorts=(None,),
    ),
    "queue": Summary(
        # the strata come as a union of one ordered part each: the caller sorts the picks
        _queue,
        _o_queue,
        (ID,),
        frozenset({PRIORITY}),
        cohorts=(None,),
    ),
    "embedding_sample": Summary(
        _expr(
            lambda t, c: embedding_sample(
                t, EMB_SPEC, cap=EMB_CAP, seed=EMB_SEED, by="pred", window=WINDOW, cohort="region"
            ),
            SAMPLE_SCHEMA,
        ),
        _o_embedding_sample,
        ("window", "cohort_value", "class", "id"),
        frozenset({"vector"}),
        table="source",
        cohorts=(None,),
        ordered=True,
    ),
}
CASES = [
    pytest.param(name, c, id=f"{name}-{c or 'overall'}")
    for name, s in SUMMARIES.items()
    for c in s.cohorts
]


def _top_score(t: Any) -> Any:
    """The confidence of a raw row (the store adds it): its top class score."""
    return ibis.greatest(*(t[f"p{i}"] for i in range(len(CLASSES))))


class Results:
    """Each (engine, summary, cohort) run once per module."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str | None], pa.Table] = {}

    def __call__(self, engine: Engine, name: str, cohort: str | None) -> pa.Table:
        key = (engine.name, name, cohort)
        if key not in self._cache:
            s = SUMMARIES[name]
            self._cache[key] = s.run(engine, _table(engine, s.table), cohort)
        return self._cache[key]


@pytest.fixture(scope="module")
def results() -> Results:
    return Results()


def _oracle(data: Data, name: str, cohort: str | None) -> list[Row]:
    s = SUMMARIES[name]
    table = data.source if s.table == "source" else data.stored
    return s.oracle(_frame(table, cohort), data)


# -- comparison ---------------------------------------------------------------------------
def _close(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return (
            isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
            and all(_close(x, y) for x, y in zip(a, b, strict=True))
        )
    a = None if a is None or (isinstance(a, float) and math.isnan(a)) else float(a)
    b = None if b is None or (isinstance(b, float) and math.isnan(b)) else float(b)
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=REL)


def _naive(v: Any) -> Any:
    return v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v


def _assert_rows(got: Sequence[Row], want: Sequence[Row], s: Summary, what: str) -> None:
    got = [{k: _naive(v) for k, v in r.items()} for r in got]
    keyed_got = {tuple(r[k] for k in s.keys): r for r in got}
    keyed_want = {tuple(r[k] for k in s.keys): r for r in want}
    assert len(keyed_got) == len(got), f"{what}: duplicate groups"
    extra, missing = set(keyed_got) - set(keyed_want), set(keyed_want) - set(keyed_got)
    assert (sorted(map(str, extra))[:5], sorted(map(str, missing))[:5]) == ([], []), (
        f"{what}: groups differ (unexpected, missing)"
    )
    if s.ordered:
        assert [tuple(r[k] for k in s.keys) for r in got] == [
            tuple(r[k] for k in s.keys) for r in want
        ], f"{what}: rows out of order"
    bad = row_diffs(
        keyed_got,
        keyed_want,
        what,
        is_close=s.is_close,
        close=_close,
        rank=RANK,
        skip=frozenset(s.keys),
    )
    assert not bad, f"{what}: {len(bad)} values differ:\n" + "\n".join(bad[:10])


# -- the data is what the docstring says -----------------------------------------------------
def test_data_covers_the_edges(data: Data) -> None:
    """Guards the generator and the store: every case the tests rely on is there."""
    days = {(t - START).days for t in data.stored["ts"].to_pylist()}
    assert days == set(range(DAYS)) - {EMPTY_DAY}
    regions = Counter(data.stored["region"].to_pylist())
    assert regions[SINGLE] == 1
    assert regions[None] > 0
    assert set(REGIONS) <= set(regions)
    colours = set(data.stored["colour"].to_pylist())
    assert {*COLOURS, *UNSEEN, None} <= colours
    x = data.stored["x"]
    assert x.null_count > 0
    assert pc.sum(pc.is_nan(x)).as_py() > 0
    assert data.stored["k"].null_count > 0
    # every logged offset row is stored at its UTC instant, and some lie on UTC midnight
    logged = dict(zip(data.logged["id"].to_pylist(), data.logged["ts"].to_pylist(), strict=True))
    stored = dict(zip(data.stored["id"].to_pylist(), data.stored["ts"].to_pylist(), strict=True))
    assert {i: _utc(s) for i, s in logged.items()} == stored
    zoned = [s for s in logged.values() if not s.endswith("+00:00")]
    assert len(zoned) == len(OFFSETS[:-1]) * len(LOCAL_TIMES)
    assert datetime(2024, 3, 10) in stored.values()
    assert datetime(2024, 3, 10, 23, 59, 59, 600000) in stored.values()
    # the era bounds fall between rows one second apart
    assert EARLIEST in stored.values()
    assert EARLIEST - timedelta(seconds=1) in stored.values()
    assert LATEST in stored.values()
    assert LATEST + timedelta(seconds=1) in stored.values()
    # an integer feature on its range bounds and edges
    k = set(data.stored["k"].to_pylist())
    assert {*RANGES["k"], *EDGES["k"][1:-1]} <= k


def test_engines_switch_a_foreign_zone_to_utc(engine: Engine, data: Data) -> None:
    """The connection (session) was in a foreign zone when the files were read and the
    engine was built; it is in UTC now, the zone every summary assumes (Ibis sets it in
    ``connect``, ``Engine.run`` before each query: see below). The source's timestamps
    are zone-aware on both engines, the store's naive."""
    if isinstance(engine, SparkEngine):
        zone = engine.session.conf.get("spark.sql.session.timeZone")
        types = [str(engine.session.table(f"edges_{t}").schema["ts"].dataType) for t in TABLES[:2]]
        assert types == ["TimestampType()", "TimestampNTZType()"]
    else:
        con = engine.backend.con
        (zone,) = con.execute("SELECT current_setting('TimeZone')").fetchone()
        types = [
            con.execute(f"SELECT typeof(ts) FROM edges_{t} LIMIT 1").fetchone()[0]
            for t in TABLES[:2]
        ]
        assert types == ["TIMESTAMP WITH TIME ZONE", "TIMESTAMP"]
    assert zone == "UTC"


@pytest.mark.parametrize(
    ("engine_name", "table"),
    [("duckdb", "source"), pytest.param("spark", "stored", marks=pytest.mark.spark)],
)
def test_zone_changed_after_the_engine_was_built(
    request: pytest.FixtureRequest, data: Data, engine_name: str, table: str
) -> None:
    """A zone set on the connection (session) after the engine was built does not leak
    into the window keys or the era bounds: each query puts it back in UTC
    (``Engine.run``). Without that,
    DuckDB keyed a TIMESTAMPTZ in the connection's zone (Ibis compiles its epoch as
    ``EPOCH(CAST(ts AS TIMESTAMP))``, the connection's wall clock) and Spark a
    TIMESTAMP_NTZ in the session's (``UNIX_TIMESTAMP(CAST(ts AS TIMESTAMP))``)."""
    if engine_name == "duckdb":
        con = duckdb.connect()
        path = str(data.files[table])
        con.execute(f"CREATE TABLE edges_{table} AS SELECT * FROM read_parquet(?)", [path])
        engine: Engine = DuckDBEngine.from_connection(con)

        def zone() -> str:
            (found,) = con.execute("SELECT current_setting('TimeZone')").fetchone()
            return str(found)

        def foreign() -> None:
            con.execute(f"SET TimeZone = '{DUCKDB_ZONE}'")
    else:
        engine = request.getfixturevalue("spark_engine")
        conf = request.getfixturevalue("spark").conf

        def zone() -> str:
            return str(conf.get("spark.sql.session.timeZone"))

        def foreign() -> None:
            conf.set("spark.sql.session.timeZone", SPARK_ZONE)

    try:
        for name in ("window_keys", "era_rows"):
            foreign()
            got = SUMMARIES[name].run(engine, _table(engine, table), None)
            assert zone() == "UTC"
            s = SUMMARIES[name]
            want = s.oracle(_frame(data.source if table == "source" else data.stored, None), data)
            _assert_rows(got.to_pylist(), want, s, f"{engine_name} {name}")
    finally:
        if engine_name == "spark":
            conf.set("spark.sql.session.timeZone", "UTC")


@pytest.mark.parametrize("table", ["source", "stored"])
def test_rows_land_in_their_utc_windows(
    engine: Engine, data: Data, results: Results, table: str
) -> None:
    """Every row's window is the UTC day of the instant it was logged with, whatever the
    offset it was logged with and the engine's zone: from the zone-aware source table
    and from the store's naive UTC one."""
    want = {
        i: _window_of(_utc(s))
        for i, s in zip(data.logged["id"].to_pylist(), data.logged["ts"].to_pylist(), strict=True)
    }
    name = "window_keys" if table == "source" else "window_keys_stored"
    got = results(engine, name, None)
    assert dict(zip(got["id"].to_pylist(), got["window"].to_pylist(), strict=True)) == want


def _engine_cases() -> list[Any]:
    cases = []
    for name, s in SUMMARIES.items():
        for c in s.cohorts:
            for engine in ("duckdb", "spark"):
                if s.native and engine == "spark":
                    continue  # DuckDB's own aggregate; Spark's portable form is checked above
                marks = [pytest.mark.spark] if engine == "spark" else []
                cases.append(
                    pytest.param(
                        engine, name, c, id=f"{engine}-{name}-{c or 'overall'}", marks=marks
                    )
                )
    return cases


@pytest.mark.parametrize(("engine_name", "name", "cohort"), _engine_cases())
def test_summary_matches_python(
    request: pytest.FixtureRequest,
    results: Results,
    data: Data,
    engine_name: str,
    name: str,
    cohort: str | None,
) -> None:
    """One body per summary, on each engine: equal to the Python computation."""
    engine: Engine = request.getfixturevalue(f"{engine_name}_engine")
    got = results(engine, name, cohort).to_pylist()
    _assert_rows(got, _oracle(data, name, cohort), SUMMARIES[name], f"{engine_name} {name}")


def test_threshold_counts_match_python(engine: Engine, data: Data, results: Results) -> None:
    """The threshold-relative counts the checks read from the window summary's
    histograms (:func:`~driftline.engine.records.threshold_counts`), per window and
    region: rows with a score, at or above the threshold, within the band; and the rows
    some class clears. Scores at exactly ``t`` count as above."""
    table = results(engine, "window_summary", "region")
    df = _frame(data.stored, "region")
    values = _source_values(df)
    position = {name: k for k, name in enumerate(ALL_EDGES)}
    got, want = {}, {}
    for row in table.to_pylist():
        key = (row["window"], row["cohort_value"])
        rows = ((df["window"] == key[0]) & (df["cohort_value"] == key[1])).to_numpy()
        for name, (edges, _) in SOURCES.items():
            k = position[name]
            counts = [row[f"h{k}_{j}"] for j in range(len(edges) + 1)]
            got[(*key, name)] = threshold_counts({name: counts}, name)
            v = values[name][rows]
            v = v[~np.isnan(v)]
            if name == NONE_SOURCE:
                want[(*key, name)] = ThresholdCounts(len(v), int((v >= 0).sum()), 0)
            else:
                lo, t, hi = edges
                band = int(((v >= lo) & (v <= hi)).sum())
                want[(*key, name)] = ThresholdCounts(len(v), int((v >= t).sum()), band)
    assert got == want
    assert any(c.band for c in got.values())  # rows near the thresholds


#: (summary on DuckDB, summary on Spark, cohort): each summary against itself, and DuckDB's
#: native histograms (as the checks run them there) against Spark's portable ones.
CROSS = [
    *(
        pytest.param(name, name, c, id=f"{name}-{c or 'overall'}")
        for name, s in SUMMARIES.items()
        if not s.native
        for c in s.cohorts
    ),
    *(
        pytest.param("window_summary_native", "window_summary", c, id=f"native-{c or 'overall'}")
        for c in COHORTS
    ),
]


@pytest.mark.spark
@pytest.mark.parametrize(("duck_name", "spark_name", "cohort"), CROSS)
def test_spark_equals_duckdb(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    results: Results,
    duck_name: str,
    spark_name: str,
    cohort: str | None,
) -> None:
    """The engines agree row for row: same schema, same groups (in the same order where
    the summary orders them), counts exactly, floats to 1e-9; approximate quantiles are
    not compared (each is checked against numpy above)."""
    duck = results(duckdb_engine, duck_name, cohort)
    spark = results(spark_engine, spark_name, cohort)
    assert spark.schema == duck.schema
    drop = {"conf_q"}
    want = [{k: _naive(v) for k, v in r.items() if k not in drop} for r in duck.to_pylist()]
    got = [{k: v for k, v in r.items() if k not in drop} for r in spark.to_pylist()]
    s = SUMMARIES[spark_name]
    close = Summary(s.run, s.oracle, s.keys, s.close | {"conf_", "mean", "var"}, ordered=s.ordered)
    _assert_rows(got, want, close, f"{duck_name} vs {spark_name}")


# -- end to end: run_checks and incidents ------------------------------------------------------
def _assert_tree_close(got: Any, want: Any, path: str) -> None:
    assert_tree_close(got, want, path, _close)


@pytest.fixture(scope="module")
def check_profile(data: Data, duckdb_engine: DuckDBEngine) -> Profile:
    """The profile the store fitted on the reference (on DuckDB), with decision
    thresholds chosen on the reference's labels, so the threshold-relative checks run:
    the checks run with it on both engines, so only the engine differs."""
    prof = Profile.from_dict(data.profile.to_dict(), SPEC)
    holdout_data = holdout(duckdb_engine, _table(duckdb_engine, "reference"), SPEC)
    prof.thresholds_ = fit_thresholds(holdout_data, SPEC, ThresholdConfig())
    return prof


@pytest.fixture(scope="module")
def reports() -> dict[str, CheckReport]:
    return {}


def _report(
    engine: Engine, data: Data, profile: Profile, cache: dict[str, CheckReport]
) -> CheckReport:
    if engine.name not in cache:
        report = run_checks(
            engine,
            _table(engine, "stored"),
            SPEC,
            profile,
            batches=data.batches,
            now=CHECK_TIME,
            labels=_table(engine, "labels"),
        )
        report.incidents = find_incidents(report, profile)
        cache[engine.name] = report
    return cache[engine.name]


def test_run_checks_decides_every_check(
    engine: Engine, data: Data, check_profile: Profile, reports: dict[str, CheckReport]
) -> None:
    """On each engine: every check decided (but those of columns the data lacks), the empty
    day seen, each row counted once per grouping (the single-row cohort too), the unseen
    colours and the shift of x alerted, and the alerts grouped into incidents."""
    report = _report(engine, data, check_profile, reports)
    absent = {"embedding_drift", "text_drift", "extra_column"}  # no such column or batch
    assert {r.check for r in report.results} == set(CHECKS) - absent
    assert {"ok", "alert", "no_data"} <= {r.status for r in report.results}
    for cohort in (None, "region"):
        assert sum(st.n for st in report.stats if st.cohort == cohort) == data.stored.num_rows
    assert [st.n for st in report.stats if st.cohort_value == SINGLE and st.n] == [1]
    alerted = {(r.check, r.column) for r in report.results if r.status == "alert"}
    assert ("unseen_category", "colour") in alerted
    assert report.incidents
    assert {a for i in report.incidents for a in i.alerts} <= {a.id for a in report.alerts}


@pytest.mark.spark
def test_run_checks_and_incidents_spark_equal_duckdb(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    data: Data,
    check_profile: Profile,
    reports: dict[str, CheckReport],
) -> None:
    """The same stored tables, profile and batches give the same report on Spark as on
    DuckDB: results in the same order with the same status (floats to 1e-9), the same
    alerts, window stats (approximate quantiles excepted), drift summary and incidents."""
    duck = _report(duckdb_engine, data, check_profile, reports)
    spark = _report(spark_engine, data, check_profile, reports)
    assert_same_report(spark, duck, _close)
    _assert_tree_close(
        [asdict(i) for i in spark.incidents], [asdict(i) for i in duck.incidents], "incidents"
    )
    for part in ("window", "since", "until", "plan", "reference"):
        assert getattr(spark, part) == getattr(duck, part), part
