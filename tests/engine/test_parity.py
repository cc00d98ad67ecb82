"""Engine parity: every summary gives the same answer on DuckDB and on Spark.

One seeded data set is loaded into an in-memory DuckDB (``ibis.duckdb.connect()``) and
into a local Spark session (a temp view built from Arrow: from pandas a float null would
arrive as NaN). One test body, parametrised over both engines, checks each summary
against an independent pandas/numpy/Python computation of the same quantity; a second
test compares the two engines with each other directly. So parity is not "both wrong the
same way", nor "both right only up to the oracle's tolerance".

The data (see :func:`_predictions`): 3000 rows over 10 days with day 4 empty, 3 cohort
values plus null cohorts, numeric features with nulls *and* NaN (and an integer one with
nulls), a categorical feature with nulls and categories unseen in the reference, a text
feature (nulls, empty texts, non-ASCII, every ASCII whitespace), scores for 3 classes,
null predictions, NaN and null confidences, ``_batch`` numbers, timestamp ties across
every 500-row window boundary, a row 0.6 s before the empty day, values lying exactly on
bin edges and range bounds (17 significant digits), +inf and -inf in x1 and x2 (beyond
the range: out of range, in the outer histogram bins, left out of the moments), and a
last day (and last 500-row
window) whose rows are all in one cohort. x1 and x2 are binned a second time on edges
running from range bound to range bound, so values also lie exactly on the outer edges.

Summaries covered: the per-purpose ones (prediction and feature stats, class counts,
histograms, category counts, batch rows), the one-scan ``window_summary`` the checks use
(numeric and character-level text histograms held wide), ``confidence_quantiles``, the
mapping form of ``category_counts`` (unknown values pooled as OTHER, by a join with an
in-memory table; one column with no known value) and ``category_summary`` (known counts,
OTHER, and the top 5 values outside the known ones, ties broken by value: ids and texts
are nearly all ties). Each class's score is a binned source of the profile (checked
against numpy like a numeric feature) and of the checks' ``score_drift``. Then
``run_checks`` end to end, on a copy of
the data shaped as the store writes it, with the DuckDB-fitted profile on both engines.

Tolerances, for every cohort scope (overall and ``region``) and both window kinds
(``1d`` and ``500 rows``):

- counts (``n``, class, missing, out-of-range, unseen, histogram, category and batch
  counts): exact; the set of ``(window, cohort_value, ...)`` groups: exact; result
  schemas: identical (also of summaries run without a fixed schema: ``Engine.run``
  normalises nullability, time zones and list item names).
- moments (mean, sample variance), min and max, text features: relative 1e-9 (absolute
  1e-9 near zero).
- ``ts_min`` / ``ts_max``: exact, to the microsecond.
- ``window_summary``: as the oracles above, and equal on each engine to that engine's
  ``prediction_stats``, ``feature_stats`` and long histograms reshaped wide. On DuckDB
  also its ``native`` form (DuckDB's own ``histogram(x, boundaries)`` aggregate, the one
  the checks run there), expanded by ``expand_histograms``: the same oracle, exactly;
  and the form the checks run on DuckDB, numeric features counted by
  :func:`~driftline.engine.numeric.numeric_summary`'s kernel over streamed batches and
  the rest by the query: the same oracle, counts exactly, moments to 1e-9.
- row order: ``window_summary`` rows sorted by group, ``category_summary`` rows by
  group, column, ``unseen`` and rank; both exact (checks build ranked lists from them).
- approximate quantiles (``conf_q``, also of ``confidence_quantiles``): a *rank*
  tolerance of 0.02. Each engine's q-quantile of a group lies between the exact numpy
  quantiles of that group's values at q - 0.02 and q + 0.02, the band rounded outward to
  whole observations (numpy ``method="lower"`` / ``"higher"``): an approximate quantile
  is an observation, and in a group of 25 values one rank is 0.04, so linear
  interpolation at the band's ends would reject Spark's exact answers. The engines are
  not compared with each other on ``conf_q`` (DuckDB uses a t-digest, Spark
  Greenwald-Khanna; they need not agree).
- the fitted :class:`~driftline.profile.Profile`: ``to_dict()`` equal across engines
  section by section, counts exact and floats to 1e-9 (``fitted_at`` excepted). Its
  quantiles are exact on both (``quantile_cont`` / ``percentile``); one known gap,
  handled in ``driftline.profile._edges`` (inner edges rounded to 12 significant digits).
- the :class:`~driftline.checks.CheckReport` of ``run_checks`` (``1d`` and ``500 rows``):
  results in the same order with the same keys, status, ``n``, method and bound text;
  value, effect, bound and the floats in details to 1e-9; alerts, drift summary and window
  stats likewise (``conf_p10``/``p50``/``p90`` excepted: approximate).
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from parity_tree import assert_same_report, assert_tree_close, result_key, row_diffs

from driftline.checks import CHECKS, CheckReport, run_checks
from driftline.engine import MISSING_COHORT, OVERALL, DuckDBEngine, Engine, SparkEngine, numeric
from driftline.engine.numeric import numeric_summary
from driftline.engine.summaries import (
    CATEGORY_SCHEMA,
    CATEGORY_SUMMARY_SCHEMA,
    CLASS_COUNTS_SCHEMA,
    HISTOGRAM_SCHEMA,
    OTHER,
    PREDICTION_STATS_SCHEMA,
    TEXT_FEATURES,
    TOKEN_FEATURES,
    batch_rows,
    category_counts,
    category_summary,
    class_counts,
    confidence_quantiles,
    expand_histograms,
    feature_stats,
    histograms,
    numeric_column,
    prediction_stats,
    text_feature,
    text_feature_builders,
    token_shares,
    vocabulary,
    window_summary,
)
from driftline.profile import Profile
from driftline.spec import Spec, Window, parse_window
from driftline.store import Store
from driftline.thresholds import ThresholdConfig, fit_thresholds, holdout

REL = 1e-9  # moments, min, max: relative tolerance (and absolute, near zero)
RANK = 0.02  # approximate quantiles: rank tolerance against the exact numpy quantiles

SEED = 20240601
START = datetime(2024, 3, 1)  # naive timestamps are UTC
DAYS = 10
EMPTY_DAY = 4
ONE_COHORT_DAY = 9  # every row of this day (and of the last 500-row window) is "north"
UNSEEN_FROM_DAY = 6
ROWS_PER_DAY = 300
ONE_COHORT_ROWS = 600
ROW_WINDOW = 500
CLASSES = ("cat", "dog", "bird")
CATEGORIES = ("red", "green", "blue")
UNSEEN = ("purple", "teal")
REGIONS = ("north", "south", "east")
NUMERIC = ("x1", "x2", "x3")
SOURCE_TYPES = {
    "x1": "DOUBLE",
    "x2": "DOUBLE",
    "x3": "BIGINT",
    "color": "VARCHAR",
    "comment": "VARCHAR",
}

SPEC = Spec.model_validate(
    {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
        "label": "label",
        "cohorts": ["region"],
        "features": {"numeric": list(NUMERIC), "categorical": ["color"], "text": ["comment"]},
        "window": "1d",
    }
)
WINDOWS = ("1d", f"{ROW_WINDOW} rows")
COHORTS = (None, "region")
SCOPES = [(w, c) for w in WINDOWS for c in COHORTS]
SCOPE_IDS = [f"{w.replace(' ', '')}-{c or 'overall'}" for w, c in SCOPES]

ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]

RANGE_SUFFIX = ":range"  # a numeric column binned on range-bound edges (``Data.range_edges``)

ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("pred", pa.string()),
        *[(f"score_{c}", pa.float64()) for c in CLASSES],
        ("confidence", pa.float64()),
        ("label", pa.string()),
        ("region", pa.string()),
        ("x1", pa.float64()),
        ("x2", pa.float64()),
        ("x3", pa.int64()),
        ("color", pa.string()),
        ("comment", pa.string()),
        ("_batch", pa.int64()),
    ]
)

Row = dict[str, Any]


# -- data -------------------------------------------------------------------------------
def _mask(rng: np.random.Generator, n: int, p: float) -> npt.NDArray[np.bool_]:
    return rng.random(n) < p


def _float_column(
    values: npt.NDArray[np.float64], nulls: npt.NDArray[np.bool_], nans: npt.NDArray[np.bool_]
) -> pa.Array:
    """A float64 Arrow column where ``nulls`` are null and ``nans`` are NaN (not null)."""
    out = values.copy()
    out[nans] = np.nan
    return pa.array(out, type=pa.float64(), mask=nulls & ~nans)


# text: ASCII words and typos, non-ASCII words (U+0130 lower-cases differently in Java),
# digits, punctuation, and runs of every ASCII whitespace (\v is \s in Java, not in RE2)
WORDS = ("order", "arrived", "damaged", "please", "refund", "package", "late", "thanks")
ODD_WORDS = ("ordr", "refnud", "pakage", "café", "İstanbul", "naïve", "😀", "日本", "2", "#4567")
SEPARATORS = (" ", " ", " ", "  ", "\t", "\n", "\x0b", "\x0b\x0b", "\r\n", ", ", "!! ", "... ")


def _comment(rng: np.random.Generator) -> str:
    words = [
        str(rng.choice(ODD_WORDS)) if rng.random() < 0.2 else str(rng.choice(WORDS))
        for _ in range(rng.integers(0, 9))
    ]
    words = [w.upper() if rng.random() < 0.1 else w for w in words]
    return "".join(w + str(rng.choice(SEPARATORS)) for w in words).rstrip(" ")


def _predictions(
    seed: int,
    rows_per_day: Mapping[int, int],
    *,
    one_cohort_day: int | None,
    unseen_from_day: int | None,
    dirty_confidence: bool,
) -> pa.Table:
    """Seeded prediction rows; days are offsets from :data:`START` (UTC)."""
    rng = np.random.default_rng(seed)
    day = np.concatenate([np.full(k, d) for d, k in rows_per_day.items()])
    n = len(day)
    micros = rng.integers(0, 86_400_000_000, n)
    minute = _mask(rng, n, 0.5)  # half the rows on whole minutes: timestamp ties
    micros[minute] = micros[minute] // 60_000_000 * 60_000_000
    start_us = np.datetime64(START, "us")
    ts = start_us + (day * 86_400_000_000 + micros).astype("timedelta64[us]")
    # 0.6 s before the empty day: its window is the day before, on every engine
    ts[np.argmax(day == EMPTY_DAY - 1)] = start_us + np.timedelta64(
        EMPTY_DAY * 86_400_000_000 - 400_000, "us"
    )
    # ties across each 500-row window boundary: only the id orders them
    order = np.argsort(ts, kind="stable")
    for b in range(ROW_WINDOW, n, ROW_WINDOW):
        ts[order[b - 3 : b + 3]] = ts[order[b]]

    logits = rng.normal(0.0, 1.5, (n, len(CLASSES))) + np.array([0.4, 0.0, -0.4])
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = np.array(CLASSES, dtype=object)[scores.argmax(axis=1)]
    pred[_mask(rng, n, 0.01)] = None
    label = np.where(
        _mask(rng, n, 0.7), np.array(CLASSES, dtype=object)[rng.integers(0, 3, n)], None
    )
    region = np.array(REGIONS, dtype=object)[rng.choice(3, n, p=[0.4, 0.35, 0.25])]
    region[_mask(rng, n, 0.1)] = None
    if one_cohort_day is not None:
        region[day == one_cohort_day] = "north"

    x1 = rng.normal(50.0, 10.0, n) + 0.5 * day
    x2 = rng.lognormal(-3.5, 0.6, n) * (1.0 + 0.1 * (day > 5))  # below 1: 17-18 digits
    x3 = rng.poisson(3.0, n)
    color = np.array(CATEGORIES, dtype=object)[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    if unseen_from_day is not None:
        late = (day >= unseen_from_day) & _mask(rng, n, 0.1)
        color[late] = np.array(UNSEEN, dtype=object)[rng.integers(0, 2, late.sum())]
    color[_mask(rng, n, 0.06)] = None
    batch = day // 3 + _mask(rng, n, 0.05)
    comment = np.array([_comment(rng) for _ in range(n)], dtype=object)
    comment[_mask(rng, n, 0.03)] = ""
    comment[_mask(rng, n, 0.03)] = None

    no = np.zeros(n, dtype=bool)
    conf_nan = _mask(rng, n, 0.015) if dirty_confidence else no
    conf_null = _mask(rng, n, 0.015) if dirty_confidence else no
    ids = np.array([f"p{i:05d}" for i in rng.permutation(n)], dtype=object)
    columns = {
        "id": pa.array(ids, pa.string()),
        "ts": pa.array(ts, pa.timestamp("us")),
        "pred": pa.array(pred, pa.string()),
        **{f"score_{c}": pa.array(scores[:, j]) for j, c in enumerate(CLASSES)},
        "confidence": _float_column(scores.max(axis=1), conf_null, conf_nan),
        "label": pa.array(label, pa.string()),
        "region": pa.array(region, pa.string()),
        "x1": _float_column(x1, _mask(rng, n, 0.05), _mask(rng, n, 0.05)),
        "x2": _float_column(x2, _mask(rng, n, 0.03), _mask(rng, n, 0.08)),
        "x3": pa.array(x3, pa.int64(), mask=_mask(rng, n, 0.04)),
        "color": pa.array(color, pa.string()),
        "comment": pa.array(comment, pa.string()),
        "_batch": pa.array(batch, pa.int64()),
    }
    table = pa.table(columns, schema=ARROW_SCHEMA)
    return table.take(pa.array(rng.permutation(n)))  # stored order is not time order


@dataclass(frozen=True)
class Data:
    """The current and reference tables and the reference-derived summary parameters."""

    current: pa.Table
    reference: pa.Table
    stored: pa.Table  # ``current`` as the store writes it, for ``run_checks``
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    edges: dict[str, list[float]] = field(default_factory=dict)
    range_edges: dict[str, list[float]] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)
    text_edges: dict[str, list[float]] = field(default_factory=dict)


def _make_data() -> Data:
    counts = {d: ROWS_PER_DAY for d in range(DAYS) if d not in (EMPTY_DAY, ONE_COHORT_DAY)}
    counts[ONE_COHORT_DAY] = ONE_COHORT_ROWS
    current = _predictions(
        SEED,
        counts,
        one_cohort_day=ONE_COHORT_DAY,
        unseen_from_day=UNSEEN_FROM_DAY,
        dirty_confidence=True,
    )
    reference = _predictions(
        SEED + 1,
        dict.fromkeys(range(-10, 0), 200),
        one_cohort_day=None,
        unseen_from_day=None,
        dirty_confidence=False,
    )
    ranges, edges = {}, {}
    for col in NUMERIC:
        v = _clean(reference[col])
        lo, hi = np.quantile(v, 0.01, method="lower"), np.quantile(v, 0.99, method="higher")
        ranges[col] = (float(lo), float(hi))
        # x3 is integer: repeated edges dropped, many values on edges
        edges[col] = _quantile_edges(v)
    for col in ("x1", "x2"):  # current values exactly on every bound and inner edge, and
        # +-inf (counted beyond the range, in the outer bins, not in the moments)
        current = _put_values(current, col, [*ranges[col], *edges[col][1:-1], math.inf, -math.inf])
    # x1 and x2 again on edges from range bound to range bound: values lie exactly on the
    # outer edges (bins 0 and last, not -1 and len(edges) - 1) and beyond them
    range_edges = {
        f"{col}{RANGE_SUFFIX}": [
            ranges[col][0],
            *[e for e in edges[col] if ranges[col][0] < e < ranges[col][1]],
            ranges[col][1],
        ]
        for col in ("x1", "x2")
    }
    texts = reference["comment"].to_pylist()
    vocab = sorted(w for w, _ in _tokens_counted(texts)[:6])
    features = [_text_features(x, vocab) for x in texts]
    text_edges = {
        f"comment:{name}": _quantile_edges(
            np.array([f[name] for f in features if f[name] is not None], dtype=np.float64)
        )
        for name in TEXT_FEATURES
    }
    return Data(
        current,
        reference,
        _stored(current),
        ranges,
        edges,
        range_edges,
        {"color": list(CATEGORIES)},
        vocab,
        text_edges,
    )


#: Types of the columns the store writes (``Store._prediction_columns``), as Arrow.
STORE_TYPES = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "JSON": pa.string(),
}
STORED_SCHEMA = pa.schema(
    [
        *[
            pa.field(f.name, pa.float64()) if f.name == "x3" else f  # numeric: DOUBLE
            for f in ARROW_SCHEMA
            if f.name not in ("confidence", "_batch")
        ],
        pa.field("confidence", pa.float64()),
        pa.field("ingested_at", pa.timestamp("us")),
        pa.field("_batch", pa.int64()),
        pa.field("_raw", pa.string()),
    ]
)
#: Batch metadata as ``Store.batches()`` returns it: batch 1 lacked x2, batch 2 carried an
#: unknown column, batch 3 sent x1 as text (the store kept the raw values in ``_raw``).
BATCH_COLUMNS = {
    0: SOURCE_TYPES,
    1: {c: t for c, t in SOURCE_TYPES.items() if c != "x2"},
    2: {**SOURCE_TYPES, "note": "VARCHAR"},
    3: {**SOURCE_TYPES, "x1": "VARCHAR"},
    4: SOURCE_TYPES,
}
BATCHES = [
    {
        "batch_id": f"b{seq}",
        "seq": seq,
        "kind": "predictions",
        "source_columns": json.dumps({"id": "VARCHAR", "ts": "TIMESTAMP", **cols}),
        "missing_features": json.dumps(sorted(set(SOURCE_TYPES) - set(cols))),
        "extra_columns": json.dumps(sorted(set(cols) - set(SOURCE_TYPES))),
        "retyped": json.dumps({c: t for c, t in cols.items() if SOURCE_TYPES.get(c, t) != t}),
    }
    for seq, cols in BATCH_COLUMNS.items()
]


def _stored(current: pa.Table) -> pa.Table:
    """The predictions as the store holds them: its column order and types, the time of
    ingestion per batch and the raw values of batch 3's retyped x1 as JSON."""
    batch = current["_batch"].to_numpy()
    ingested = np.datetime64(START, "us") + (batch * 3 + 3).astype("timedelta64[D]")
    raw = [
        json.dumps({"x1": str(x)}) if b == 3 else None
        for b, x in zip(batch, current["x1"].to_pylist(), strict=True)
    ]
    columns = {
        **{name: current[name] for name in current.column_names},
        "x3": pc.cast(current["x3"], pa.float64()),
        "ingested_at": pa.array(ingested, pa.timestamp("us")),
        "_raw": pa.array(raw, pa.string()),
    }
    return pa.table({f.name: columns[f.name] for f in STORED_SCHEMA}, schema=STORED_SCHEMA)


def _quantile_edges(v: npt.NDArray[np.float64], bins: int = 20) -> list[float]:
    """Edges at ``bins`` quantiles of ``v``, each an observed value (17 significant digits)."""
    quantiles = np.quantile(v, np.linspace(0, 1, bins + 1), method="inverted_cdf")
    edges = [float(e) for e in np.unique(quantiles)]
    return edges if len(edges) > 1 else [edges[0], edges[0] + 1.0]


def _put_values(table: pa.Table, col: str, values: Sequence[float]) -> pa.Table:
    """``table`` with each of ``values`` written into three rows of ``col`` that hold a
    number (so its null and NaN counts stay as they were)."""
    column = table[col].to_pylist()
    slots = [i for i, x in enumerate(column) if x is not None and not math.isnan(x)]
    for k, value in enumerate(values):
        for j in range(3):
            column[slots[(37 * k + 401 * j) % len(slots)]] = value
    index = table.schema.get_field_index(col)
    return table.set_column(index, table.field(col), pa.array(column, pa.float64()))


_SPACE = "[ \t\n\x0b\f\r]"
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _tokens(text: str) -> list[str]:
    return [tok for tok in re.split("[^a-z0-9]+", text.translate(_LOWER)) if tok]


def _tokens_counted(texts: Sequence[str | None]) -> list[tuple[str, int]]:
    """Token counts, most frequent first, ties by token (the engine's vocabulary order)."""
    counts = Counter(tok for x in texts if x is not None for tok in _tokens(x))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _text_features(text: str | None, vocab: Sequence[str]) -> dict[str, float | None]:
    """The text style features in plain Python (see ``summaries.TEXT_FEATURES``)."""
    if text is None:
        return dict.fromkeys(TEXT_FEATURES, None)
    n = len(text)
    toks = _tokens(text)
    unknown = [tok for tok in toks if tok not in vocab]

    def share(k: int, of: int) -> float | None:
        return k / of if of else None

    return {
        "length": float(n),
        "words": float(len(re.findall("[^ \t\n\x0b\f\r]+", text))),
        "upper": share(sum(c in string.ascii_uppercase for c in text), n),
        "digits": share(sum(c in string.digits for c in text), n),
        "punct": share(sum(c in string.punctuation for c in text), n),
        "space_runs": float(len(re.findall(_SPACE + "{2,}", text))),
        "non_ascii": share(sum(ord(c) > 127 for c in text), n),
        "oov": share(len(unknown), len(toks)),
        "typo": share(
            sum(re.fullmatch("[a-z]{3,}", tok) is not None for tok in unknown), len(toks)
        ),
    }


def _clean(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.float64]:
    """The non-missing values (neither null nor NaN) of a numeric column."""
    keep = pc.invert(pc.is_null(column, nan_is_null=True))
    return np.asarray(pc.filter(column, keep).to_numpy(zero_copy_only=False), dtype=np.float64)


@pytest.fixture(scope="module")
def data() -> Data:
    return _make_data()


def _labels(data: Data) -> pa.Table:
    """The labels table of the stored predictions: the ids with a label, labelled a day
    later, and two ids no prediction has (counted by the performance checks)."""
    t = data.stored.filter(pc.is_valid(data.stored["label"]))
    at = pc.add(t["ts"], pa.scalar(timedelta(days=1), pa.duration("us")))
    return pa.table(
        {
            "id": pa.concat_arrays([t["id"].combine_chunks(), pa.array(["ghost-1", "ghost-2"])]),
            "label": pa.concat_arrays([t["label"].combine_chunks(), pa.array(["a", "b"])]),
            "labelled_at": pa.concat_arrays(
                [
                    at.combine_chunks().cast(pa.timestamp("us")),
                    pa.array([CHECK_TIME] * 2, pa.timestamp("us")),
                ]
            ),
            "ingested_at": pa.array([CHECK_TIME] * (t.num_rows + 2), pa.timestamp("us")),
            "_batch": pa.array([100] * (t.num_rows + 2), pa.int64()),
        }
    )


@pytest.fixture(scope="module")
def duckdb_engine(data: Data) -> DuckDBEngine:
    con = ibis.duckdb.connect()
    con.create_table("predictions", data.current)
    con.create_table("reference", data.reference)
    con.create_table("stored", data.stored)
    con.create_table("labels", _labels(data))
    return DuckDBEngine(con)


@pytest.fixture(scope="module")
def spark_engine(spark: Any, data: Data) -> SparkEngine:
    tables = {
        "predictions": data.current,
        "reference": data.reference,
        "stored": data.stored,
        "labels": _labels(data),
    }
    for name, table in tables.items():
        # from Arrow, not pandas: pandas holds a float null as NaN, and Spark keeps it NaN
        spark.createDataFrame(table).createOrReplaceTempView(name)
    return SparkEngine(spark)


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    result: Engine = request.getfixturevalue(f"{request.param}_engine")
    return result


def _sql_row(engine: Engine, sql: str) -> tuple[Any, ...]:
    """One row of plain SQL, bypassing Ibis (whose ``isnull`` on Spark also counts NaN)."""
    if isinstance(engine, SparkEngine):
        return tuple(engine.session.sql(sql).collect()[0])
    row = engine.backend.con.execute(sql).fetchone()
    assert row is not None
    return tuple(row)


# -- summaries, and their independent pandas/numpy computation --------------------------
def _frame(data: Data, window: Window, cohort: str | None) -> pd.DataFrame:
    """The current rows with ``window`` and ``cohort_value`` computed in numpy/pandas."""
    df = data.current.to_pandas()  # null and NaN both become NaN: both are missing
    us = data.current["ts"].to_numpy().astype("datetime64[us]").astype(np.int64)
    if window.seconds is not None:
        key = us // 1_000_000 // window.seconds * window.seconds
    else:
        assert window.rows is not None
        key = np.empty(len(df), dtype=np.int64)
        order = df.sort_values(["ts", "id"], kind="stable").index.to_numpy()
        key[order] = np.arange(len(df)) // window.rows
    df["window"] = key
    df["cohort_value"] = OVERALL if cohort is None else df[cohort].fillna(MISSING_COHORT)
    return df


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _groups(df: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple[Row, pd.DataFrame]]:
    for k, g in df.groupby(list(keys), dropna=False, sort=True):
        values = k if isinstance(k, tuple) else (k,)
        yield (
            {
                name: (int(v) if isinstance(v, np.integer) else v)
                for name, v in zip(keys, values, strict=True)
            },
            g,
        )


def _moments(v: npt.NDArray[np.float64]) -> tuple[float | None, float | None]:
    mean = float(v.mean()) if len(v) else None
    var = float(v.var(ddof=1)) if len(v) > 1 else None
    return mean, var


def _oracle_prediction_stats(df: pd.DataFrame, data: Data) -> list[Row]:
    out = []
    for key, g in _groups(df, ["window", "cohort_value"]):
        conf = g["confidence"].dropna().to_numpy(dtype=np.float64)
        mean, var = _moments(conf)
        out.append(
            {
                **key,
                "n": len(g),
                "conf_mean": mean,
                "conf_var": var,
                "conf_min": float(conf.min()) if len(conf) else None,
                "conf_max": float(conf.max()) if len(conf) else None,
                "conf_q": np.sort(
                    conf
                ),  # checked by rank tolerance, see parity_tree.quantiles_within
                "ts_min": g["ts"].min().to_pydatetime(),
                "ts_max": g["ts"].max().to_pydatetime(),
            }
        )
    return out


def _oracle_class_counts(df: pd.DataFrame, data: Data) -> list[Row]:
    df = df.assign(value=df["pred"].fillna(MISSING_COHORT))
    return [{**k, "n": len(g)} for k, g in _groups(df, ["window", "cohort_value", "value"])]


def _oracle_feature_stats(df: pd.DataFrame, data: Data) -> list[Row]:
    out = []
    for key, g in _groups(df, ["window", "cohort_value"]):
        row: Row = {**key, "n": len(g)}
        for i, (col, kind) in enumerate(SPEC.feature_kinds.items()):
            x = g[col]
            row[f"m{i}"] = int(x.isna().sum())
            if kind == "numeric":
                v = x.dropna().to_numpy(dtype=np.float64)
                lo, hi = data.ranges[col]
                row[f"lo{i}"] = int((v < lo).sum())  # -inf included
                row[f"hi{i}"] = int((v > hi).sum())  # +inf included
                row[f"nf{i}"] = int(np.isinf(v).sum())
                row[f"mean{i}"], row[f"var{i}"] = _moments(v[np.isfinite(v)])
        out.append(row)
    return out


def _bins(
    values: npt.NDArray[np.float64], edges: Sequence[float], *, outer: bool
) -> npt.NDArray[np.int64]:
    """Bin i is ``[e_i, e_i+1)``, the last closed; outside the edges: clipped into the end
    bins, or with ``outer`` bin -1 below and bin ``len(edges) - 1`` above."""
    e = np.asarray(edges)
    k = len(e) - 1
    idx = np.clip(np.searchsorted(e, values, side="right") - 1, 0, k - 1)
    if outer:
        idx = np.where(values < e[0], -1, np.where(values > e[-1], k, idx))
    return idx


def _numeric_edges(data: Data) -> dict[str, list[float]]:
    """Edges of the numeric sources: each column on its quantile edges, and x1 and x2
    once more on edges from range bound to range bound."""
    return {**data.edges, **data.range_edges}


def _range_builders(data: Data) -> dict[str, Callable[[ir.Table], ir.NumericValue]]:
    return {name: numeric_column(name.removesuffix(RANGE_SUFFIX)) for name in data.range_edges}


def _wide_edges(data: Data) -> dict[str, list[float]]:
    """Edges of :func:`window_summary`: every numeric source and the character-level text
    features (token-level ones need a scan of their own)."""
    chars = {k: e for k, e in data.text_edges.items() if not k.endswith(TOKEN_FEATURES)}
    return {**_numeric_edges(data), **chars}


def _source_values(
    df: pd.DataFrame, data: Data, names: Iterable[str]
) -> dict[str, npt.NDArray[np.float64]]:
    """Per row of ``df``, the value of each named source; NaN where it is missing."""
    names = list(names)
    out = {}
    if any(name.startswith("comment:") for name in names):
        texts = [x if isinstance(x, str) else None for x in df["comment"]]
        feats = pd.DataFrame([_text_features(x, data.vocabulary) for x in texts], dtype=float)
    for name in names:
        col, _, feature = name.partition(":")
        v = feats[feature] if col == "comment" else df[col]
        out[name] = v.to_numpy(dtype=np.float64)
    return out


def _oracle_long_histograms(
    df: pd.DataFrame, data: Data, edges: Mapping[str, Sequence[float]]
) -> list[Row]:
    values = _source_values(df, data, edges)
    out = []
    for name, e in edges.items():
        v = values[name]
        keep = ~np.isnan(v)
        sub = df[keep].assign(column=name, bin=_bins(v[keep], e, outer=True))
        out += [
            {**key, "n": len(g)}
            for key, g in _groups(sub, ["window", "cohort_value", "column", "bin"])
        ]
    return out


def _oracle_histograms(df: pd.DataFrame, data: Data) -> list[Row]:
    return _oracle_long_histograms(df, data, _numeric_edges(data))


def _oracle_text_histograms(df: pd.DataFrame, data: Data) -> list[Row]:
    return _oracle_long_histograms(df, data, data.text_edges)


def _oracle_window_summary(df: pd.DataFrame, data: Data) -> list[Row]:
    """One row per group: the prediction and feature stats oracles' columns, and the
    counts ``h{k}_{j}`` of source k in bin ``j - 1``."""
    edges = _wide_edges(data)
    values = _source_values(df, data, edges)
    out = []
    for _, g in _groups(df, ["window", "cohort_value"]):
        ((pred,), (feats,)) = _oracle_prediction_stats(g, data), _oracle_feature_stats(g, data)
        row = {**pred, **feats}
        for k, (name, e) in enumerate(edges.items()):
            v = values[name][g.index.to_numpy()]
            v = v[~np.isnan(v)]
            counts = np.bincount(_bins(v, e, outer=True) + 1, minlength=len(e) + 1)
            row.update({f"h{k}_{j}": int(c) for j, c in enumerate(counts)})
        out.append(row)
    return out


def _oracle_confidence_quantiles(df: pd.DataFrame, data: Data) -> list[Row]:
    return [
        {**key, "conf_q": np.sort(g["confidence"].dropna().to_numpy(dtype=np.float64))}
        for key, g in _groups(df, ["window", "cohort_value"])
    ]


CATEGORY_COLUMNS = ("color", "pred")


def _oracle_category_counts(df: pd.DataFrame, data: Data) -> list[Row]:
    out = []
    for col in CATEGORY_COLUMNS:
        sub = df[df[col].notna()].assign(column=col, value=lambda d, c=col: d[c].astype(str))
        out += [
            {**k, "n": len(g)}
            for k, g in _groups(sub, ["window", "cohort_value", "column", "value"])
        ]
    return out


#: Known categories of the mapping form of ``category_counts``: other values are pooled
#: as OTHER; ``label`` has none known (a reference whose column was all null).
KNOWN_CATEGORIES: dict[str, list[str]] = {
    "color": list(CATEGORIES),
    "pred": ["cat", "dog"],
    "label": [],
}
#: Known values for ``category_summary``: ``id`` (all unique) and ``comment`` (mostly
#: unique, non-ASCII) make the top-k of values outside them a matter of ties, broken by
#: value; ``label`` has none known.
SUMMARY_KNOWN: dict[str, list[str]] = {
    "color": list(CATEGORIES),
    "pred": ["cat"],
    "label": [],
    "id": [],
    "comment": [""],
}
TOP = 5


def _oracle_known_counts(df: pd.DataFrame, data: Data) -> list[Row]:
    out = []
    for col, known in KNOWN_CATEGORIES.items():
        sub = df[df[col].notna()]
        value = sub[col].astype(str)
        sub = sub.assign(column=col, value=value.where(value.isin(known), OTHER))
        out += [
            {**k, "n": len(g)}
            for k, g in _groups(sub, ["window", "cohort_value", "column", "value"])
        ]
    return out


def _oracle_category_summary(df: pd.DataFrame, data: Data) -> list[Row]:
    """Known values counted, the rest pooled as OTHER, and the TOP most frequent of the
    rest flagged ``unseen``, ties broken by value (code point order, which is UTF-8 byte
    order: how both engines compare strings)."""
    out = []
    for col, known in SUMMARY_KNOWN.items():
        sub = df[df[col].notna()]
        for key, g in _groups(sub, ["window", "cohort_value"]):
            counts = Counter(g[col].astype(str))
            new = {v: n for v, n in counts.items() if v not in known}
            out += [
                {**key, "column": col, "value": v, "n": n, "unseen": False}
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


def _oracle_batch_rows(df: pd.DataFrame, data: Data) -> list[Row]:
    return [{**k, "n": len(g)} for k, g in _groups(df, ["window", "cohort_value", "_batch"])]


Builder = Callable[[ir.Table, Window, "str | None", Data], ir.Table]


@dataclass(frozen=True)
class Summary:
    """A summary under test: how to build it, its schema, its group keys, its oracle."""

    build: Builder
    schema: pa.Schema | None
    keys: tuple[str, ...]
    oracle: Callable[[pd.DataFrame, Data], list[Row]]
    close: Callable[[str], bool] = lambda name: False  # float fields compared to REL
    cohorts: tuple[str | None, ...] = COHORTS  # the groupings it is built for
    #: the result as the checks read it (e.g. native histogram maps expanded)
    finish: Callable[[pa.Table, Data], pa.Table] = lambda table, data: table
    native: bool = False  # uses an engine's own aggregate: only where it has one
    kernel: bool = False  # numeric features counted by the engine's kernel (see below)


def _histograms(t: ir.Table, w: Window, c: str | None, d: Data) -> ir.Table:
    expr = histograms(t, SPEC, w, c, _numeric_edges(d), values=_range_builders(d))
    assert expr is not None
    return expr


def _window_summary(
    t: ir.Table, w: Window, c: str | None, d: Data, *, native: bool = False
) -> ir.Table:
    values = {**_range_builders(d), **text_feature_builders(["comment"])}
    return window_summary(
        t, SPEC, w, c, ranges=d.ranges, edges=_wide_edges(d), values=values, native=native
    )


def _kernel_window_summary(
    engine: Engine, t: ir.Table, w: Window, c: str | None, d: Data
) -> pa.Table:
    """``window_summary`` as the checks run it on DuckDB: the numeric features counted by
    :func:`numeric_summary` over streamed batches, the rest by the query (native
    histograms), put together with the ``h{k}`` numbering of the whole edges."""
    edges = _wide_edges(d)
    position = {name: k for k, name in enumerate(edges)}
    numeric = {col for col, kind in SPEC.feature_kinds.items() if kind == "numeric"}
    query_edges = {k: e for k, e in edges.items() if k not in numeric}
    kernel_edges = {k: e for k, e in edges.items() if k in numeric}
    values = {**_range_builders(d), **text_feature_builders(["comment"])}
    expr = window_summary(
        t,
        SPEC,
        w,
        c,
        ranges=d.ranges,
        edges=query_edges,
        values=values,
        native=True,
        numeric=False,
    )
    query = expand_histograms(engine.run(expr), query_edges)
    keys = list(zip(query["window"].to_pylist(), query["cohort_value"].to_pylist(), strict=True))
    counted = numeric_summary(engine, t, SPEC, w, c, keys, ranges=d.ranges, edges=kernel_edges)
    assert counted["window"].to_pylist() == query["window"].to_pylist()
    assert counted["cohort_value"].to_pylist() == query["cohort_value"].to_pylist()
    out: dict[str, pa.ChunkedArray] = {}
    for part, table in ((query_edges, query), (kernel_edges, counted)):
        order = list(part)
        for name in table.column_names:
            column = table.column(name)
            if re.fullmatch(r"h\d+_\d+", name):
                k, _, j = name[1:].partition("_")
                name = f"h{position[order[int(k)]]}_{j}"
            out.setdefault(name, column)
    return pa.table(out)


def _known_counts(t: ir.Table, w: Window, c: str | None, d: Data) -> ir.Table:
    expr = category_counts(t, SPEC, w, c, KNOWN_CATEGORIES)
    assert expr is not None
    return expr


def _category_summary(t: ir.Table, w: Window, c: str | None, d: Data) -> ir.Table:
    expr = category_summary(t, SPEC, w, c, SUMMARY_KNOWN, top=TOP)
    assert expr is not None
    return expr


def _text_histograms(t: ir.Table, w: Window, c: str | None, d: Data) -> ir.Table:
    builders = text_feature_builders(["comment"])
    vocabularies = {"comment": d.vocabulary}
    expr = histograms(t, SPEC, w, c, d.text_edges, values=builders, vocabularies=vocabularies)
    assert expr is not None
    return expr


def _category_counts(t: ir.Table, w: Window, c: str | None, d: Data) -> ir.Table:
    expr = category_counts(t, SPEC, w, c, CATEGORY_COLUMNS)
    assert expr is not None
    return expr


SUMMARIES: dict[str, Summary] = {
    "prediction_stats": Summary(
        lambda t, w, c, d: prediction_stats(t, SPEC, w, c),
        PREDICTION_STATS_SCHEMA,
        ("window", "cohort_value"),
        _oracle_prediction_stats,
        lambda name: name.startswith("conf_") and name != "conf_q",
    ),
    "class_counts": Summary(
        lambda t, w, c, d: class_counts(t, SPEC, w, c),
        CLASS_COUNTS_SCHEMA,
        ("window", "cohort_value", "value"),
        _oracle_class_counts,
    ),
    "feature_stats": Summary(
        lambda t, w, c, d: feature_stats(t, SPEC, w, c, ranges=d.ranges),
        None,
        ("window", "cohort_value"),
        _oracle_feature_stats,
        lambda name: name.startswith(("mean", "var")),
    ),
    "histograms": Summary(
        _histograms,
        HISTOGRAM_SCHEMA,
        ("window", "cohort_value", "column", "bin"),
        _oracle_histograms,
    ),
    "text_histograms": Summary(
        _text_histograms,
        HISTOGRAM_SCHEMA,
        ("window", "cohort_value", "column", "bin"),
        _oracle_text_histograms,
    ),
    "category_counts": Summary(
        _category_counts,
        CATEGORY_SCHEMA,
        ("window", "cohort_value", "column", "value"),
        _oracle_category_counts,
    ),
    "batch_rows": Summary(
        lambda t, w, c, d: batch_rows(t, SPEC, w, c),
        None,
        ("window", "cohort_value", "_batch"),
        _oracle_batch_rows,
    ),
    "window_summary": Summary(
        _window_summary,
        None,
        ("window", "cohort_value"),
        _oracle_window_summary,
        lambda name: name.startswith(("conf_", "mean", "var")) and name != "conf_q",
    ),
    # DuckDB's own histogram aggregate, as the checks run it there
    "window_summary_native": Summary(
        lambda t, w, c, d: _window_summary(t, w, c, d, native=True),
        None,
        ("window", "cohort_value"),
        _oracle_window_summary,
        lambda name: name.startswith(("conf_", "mean", "var")) and name != "conf_q",
        finish=lambda table, d: expand_histograms(table, _wide_edges(d)),
        native=True,
    ),
    # numeric features counted by DuckDB's kernel over streamed batches, as the checks do
    "window_summary_kernel": Summary(
        lambda t, w, c, d: t,  # run by Results through _kernel_window_summary
        None,
        ("window", "cohort_value"),
        _oracle_window_summary,
        lambda name: name.startswith(("conf_", "mean", "var")) and name != "conf_q",
        native=True,
        kernel=True,
    ),
    "confidence_quantiles": Summary(
        lambda t, w, c, d: confidence_quantiles(t, SPEC, w),
        None,
        ("window", "cohort_value"),
        _oracle_confidence_quantiles,
        cohorts=(None,),  # overall only: quantiles do not merge
    ),
    "known_category_counts": Summary(
        _known_counts,
        CATEGORY_SCHEMA,
        ("window", "cohort_value", "column", "value"),
        _oracle_known_counts,
    ),
    "category_summary": Summary(
        _category_summary,
        CATEGORY_SUMMARY_SCHEMA,
        ("window", "cohort_value", "column", "value", "unseen"),
        _oracle_category_summary,
    ),
}
#: Every (summary, window, cohort) the parity tests run.
CASES = [
    pytest.param(name, (w, c), id=f"{name}-{w.replace(' ', '')}-{c or 'overall'}")
    for name, summary in SUMMARIES.items()
    for w in WINDOWS
    for c in summary.cohorts
]


class Results:
    """Runs each (engine, summary, window, cohort) once per module and keeps the Arrow."""

    def __init__(self, data: Data) -> None:
        self.data = data
        self._cache: dict[tuple[str, str, str, str | None], pa.Table] = {}

    def __call__(self, engine: Engine, summary: str, window: str, cohort: str | None) -> pa.Table:
        key = (engine.name, summary, window, cohort)
        if key not in self._cache:
            s = SUMMARIES[summary]
            assert engine.native_histograms or not s.native, f"{engine.name}: no {summary}"
            t, w = engine.table("predictions"), parse_window(window)
            if s.kernel:
                self._cache[key] = _kernel_window_summary(engine, t, w, cohort, self.data)
            else:
                expr = s.build(t, w, cohort, self.data)
                self._cache[key] = s.finish(engine.run(expr, s.schema), self.data)
        return self._cache[key]


@pytest.fixture(scope="module")
def results(data: Data) -> Results:
    return Results(data)


# -- comparison ---------------------------------------------------------------------------
def _close(a: Any, b: Any) -> bool:
    a, b = _num(a), _num(b)
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=REL)


def _by_key(rows: Sequence[Row], keys: Sequence[str], what: str) -> dict[tuple[Any, ...], Row]:
    out = {tuple(r[k] for k in keys): r for r in rows}
    assert len(out) == len(rows), f"{what}: duplicate groups"
    return out


def _assert_same(
    got: Sequence[Row],
    want: Sequence[Row],
    summary: Summary,
    what: str,
    *,
    skip: frozenset[str] = frozenset(),
) -> None:
    g, w = _by_key(got, summary.keys, what), _by_key(want, summary.keys, what)
    extra, missing = sorted(set(g) - set(w)), sorted(set(w) - set(g))
    assert (extra, missing) == ([], []), (
        f"{what}: groups differ; unexpected {extra[:5]} ({len(extra)}), "
        f"missing {missing[:5]} ({len(missing)})"
    )
    bad = row_diffs(
        g, w, what, is_close=summary.close, close=_close, rank=RANK, skip=skip | set(summary.keys)
    )
    assert not bad, f"{what}: {len(bad)} values differ:\n" + "\n".join(bad[:10])


# -- the data is what the docstring says -----------------------------------------------------
def test_data_covers_the_edge_cases(data: Data) -> None:
    """Guards the generator: every case the parity tests rely on is in the data."""
    t = data.current
    days = (
        pc.divide(
            pc.cast(pc.subtract(t["ts"], pa.scalar(START, pa.timestamp("us"))), pa.int64()),
            86_400_000_000,
        )
        .to_numpy()
        .astype(int)
    )
    assert EMPTY_DAY not in set(days)
    assert {EMPTY_DAY - 1, EMPTY_DAY + 1} <= set(days)
    assert set(days) <= set(range(DAYS))
    for col in ("x1", "x2", "confidence"):
        assert pc.sum(pc.is_nan(t[col])).as_py() > 0, f"{col} has no NaN"
        assert t[col].null_count > 0, f"{col} has no null"
    for col in ("x3", "color", "region", "pred", "comment"):
        assert t[col].null_count > 0, f"{col} has no null"
    assert set(pc.unique(t["color"]).to_pylist()) >= {*UNSEEN}
    texts = [x for x in t["comment"].to_pylist() if x is not None]
    assert "" in texts
    for needle in ("\x0b", "İ", "😀", "  ", "\r\n"):
        assert any(needle in x for x in texts), repr(needle)
    just_before = np.datetime64(START, "us") + np.timedelta64(
        EMPTY_DAY * 86_400_000_000 - 400_000, "us"
    )
    assert just_before in t["ts"].to_numpy()
    last_day = pc.filter(t["region"], pa.array(days == ONE_COHORT_DAY))
    assert pc.unique(last_day).to_pylist() == ["north"]
    # the last 500-row window lies inside the one-cohort day
    assert len(t) % ROW_WINDOW == 0
    assert len(t) - len(last_day) <= len(t) - ROW_WINDOW
    assert len(set(t["id"].to_pylist())) == len(t)
    for col in ("x1", "x2"):  # +inf and -inf, beyond the range
        v = _clean(t[col])
        assert (v == math.inf).any(), col
        assert (v == -math.inf).any(), col
    for name, edges in data.range_edges.items():  # on both outer edges, and beyond them
        v = _clean(t[name.removesuffix(RANGE_SUFFIX)])
        on_edges = [(v == edges[0]).any(), (v == edges[-1]).any()]
        beyond = [(v < edges[0]).any(), (v > edges[-1]).any()]
        assert on_edges == beyond == [True, True], name
    assert data.stored.num_rows == len(t)


# -- parity: one body, every engine, every summary and scope ---------------------------------
def test_engine_holds_nan_and_null(engine: Engine, data: Data) -> None:
    """NaN and null arrive distinct on every engine (pandas -> Spark would turn null into
    NaN; the Spark view is built from Arrow so it does not)."""
    columns = ("x1", "x2", "confidence")
    counts = ", ".join(
        f"sum(CASE WHEN isnan({c}) THEN 1 ELSE 0 END), sum(CASE WHEN {c} IS NULL THEN 1 ELSE 0 END)"
        for c in columns
    )
    row = _sql_row(engine, f"SELECT {counts} FROM predictions")
    for k, col in enumerate(columns):
        nans, nulls = row[2 * k], row[2 * k + 1]
        want_nans = pc.sum(pc.is_nan(data.current[col])).as_py()
        assert (nans, nulls) == (want_nans, data.current[col].null_count), col
        assert nans > 0, col
        assert nulls > 0, col


@pytest.mark.parametrize("cohort", COHORTS, ids=["overall", "region"])
def test_missing_counts_include_nan_and_null(
    engine: Engine, results: Results, data: Data, cohort: str | None
) -> None:
    """The missing-value policy: a numeric value is missing if null or NaN, on every engine."""
    table = results(engine, "feature_stats", "1d", cohort)
    for i, col in enumerate(SPEC.feature_kinds):
        column = data.current[col]
        nans = pc.sum(pc.is_nan(column)).as_py() if pa.types.is_floating(column.type) else 0
        assert pc.sum(table[f"m{i}"]).as_py() == column.null_count + nans, col
    stats = results(engine, "prediction_stats", "1d", cohort)
    assert pc.sum(stats["n"]).as_py() == len(data.current)


#: Cases of the portable summaries (every engine) and of the engine-specific ones (DuckDB).
PORTABLE = [c for c in CASES if not SUMMARIES[c.values[0]].native]
NATIVE = [c for c in CASES if SUMMARIES[c.values[0]].native]


def _matches_pandas(
    engine: Engine, results: Results, data: Data, summary: str, scope: tuple[str, str | None]
) -> None:
    window, cohort = scope
    got = results(engine, summary, window, cohort)
    if SUMMARIES[summary].schema is not None:
        assert got.schema == SUMMARIES[summary].schema
    want = SUMMARIES[summary].oracle(_frame(data, parse_window(window), cohort), data)
    _assert_same(got.to_pylist(), want, SUMMARIES[summary], f"{engine.name} {summary} {scope}")


@pytest.mark.parametrize(("summary", "scope"), PORTABLE)
def test_summary_matches_pandas(
    engine: Engine, results: Results, data: Data, summary: str, scope: tuple[str, str | None]
) -> None:
    """Each summary on each engine equals an independent pandas/numpy computation."""
    _matches_pandas(engine, results, data, summary, scope)


@pytest.mark.parametrize(("summary", "scope"), NATIVE)
def test_native_summary_matches_pandas(
    duckdb_engine: DuckDBEngine,
    results: Results,
    data: Data,
    summary: str,
    scope: tuple[str, str | None],
) -> None:
    """DuckDB's native form of a summary equals the same oracle as the portable form."""
    _matches_pandas(duckdb_engine, results, data, summary, scope)


@pytest.mark.spark
@pytest.mark.parametrize(("summary", "scope"), PORTABLE)
def test_spark_equals_duckdb(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    results: Results,
    summary: str,
    scope: tuple[str, str | None],
) -> None:
    """Spark and DuckDB agree with each other directly: same groups, same schema, counts
    exact, floats to 1e-9 (approximate quantiles excepted, see the module docstring)."""
    window, cohort = scope
    duck = results(duckdb_engine, summary, window, cohort)
    spark = results(spark_engine, summary, window, cohort)
    assert spark.schema == duck.schema
    _assert_same(
        spark.to_pylist(),
        duck.to_pylist(),
        SUMMARIES[summary],
        f"spark vs duckdb {summary} {scope}",
        skip=frozenset({"conf_q"}),
    )


#: Summaries whose row order is part of their contract, and that order: checks build
#: ranked lists and merges from their rows, and an engine's own group order differs by
#: engine and, on DuckDB, from run to run.
ORDERED: dict[str, Callable[[Row], tuple[Any, ...]]] = {
    "window_summary": lambda r: (r["window"], r["cohort_value"]),
    "window_summary_native": lambda r: (r["window"], r["cohort_value"]),
    "window_summary_kernel": lambda r: (r["window"], r["cohort_value"]),
    "category_summary": lambda r: (
        r["window"],
        r["cohort_value"],
        r["column"],
        r["unseen"],
        -r["n"],
        r["value"],
    ),
}


@pytest.mark.parametrize(("summary", "scope"), [c for c in CASES if c.values[0] in ORDERED])
def test_summary_rows_come_in_order(
    request: pytest.FixtureRequest,
    engine: Engine,
    results: Results,
    summary: str,
    scope: tuple[str, str | None],
) -> None:
    """Rows come sorted by the summary's order on every engine (strings in code point
    order, which is the UTF-8 byte order both engines sort by); native forms on the
    engine that has them."""
    if SUMMARIES[summary].native:
        engine = request.getfixturevalue("duckdb_engine")
    window, cohort = scope
    keys = [ORDERED[summary](r) for r in results(engine, summary, window, cohort).to_pylist()]
    assert keys == sorted(keys), f"{engine.name} {summary} {scope}: rows out of order"


@pytest.mark.parametrize("scope", SCOPES, ids=SCOPE_IDS)
def test_window_summary_equals_its_parts(
    engine: Engine, results: Results, data: Data, scope: tuple[str, str | None]
) -> None:
    """The one-scan window summary holds the numbers of the summaries it replaces, on the
    same engine: ``prediction_stats`` and ``feature_stats`` column by column (``conf_q``
    excepted: approximate) and the long histograms, numeric and character-level text,
    reshaped wide (``h{k}_{j}`` = source k, bin j - 1)."""
    window, cohort = scope
    what = f"{engine.name} window_summary vs its parts {scope}"
    keys = ("window", "cohort_value")
    pred = _by_key(results(engine, "prediction_stats", window, cohort).to_pylist(), keys, what)
    feats = _by_key(results(engine, "feature_stats", window, cohort).to_pylist(), keys, what)
    assert set(pred) == set(feats), what
    edges = _wide_edges(data)
    want = {
        key: {**pred[key], **feats[key]}
        | {f"h{k}_{j}": 0 for k, e in enumerate(edges.values()) for j in range(len(e) + 1)}
        for key in pred
    }
    index = {name: k for k, name in enumerate(edges)}
    long = [
        *results(engine, "histograms", window, cohort).to_pylist(),
        *results(engine, "text_histograms", window, cohort).to_pylist(),
    ]
    assert {r["column"] for r in long} >= set(edges), what
    for r in long:
        if r["column"] in index:  # not the token-level text features
            want[(r["window"], r["cohort_value"])][f"h{index[r['column']]}_{r['bin'] + 1}"] += r[
                "n"
            ]
    wide = results(engine, "window_summary", window, cohort).to_pylist()
    _assert_same(
        wide, list(want.values()), SUMMARIES["window_summary"], what, skip=frozenset({"conf_q"})
    )


# -- the profile ----------------------------------------------------------------------------
def _assert_tree_close(got: Any, want: Any, path: str = "profile") -> None:
    assert_tree_close(got, want, path, _close)


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    """Profiles fitted on the reference, one per engine, fitted once per module."""
    return {}


def _fitted(engine: Engine, cache: dict[str, Profile]) -> Profile:
    if engine.name not in cache:
        cache[engine.name] = Profile(SPEC).fit(engine, engine.table("reference"), SOURCE_TYPES)
    return cache[engine.name]


def _profile(engine: Engine, cache: dict[str, Profile]) -> dict[str, Any]:
    d = _fitted(engine, cache).to_dict()
    d.pop("fitted_at")
    return d


def _assert_source_matches(
    got: Mapping[str, Any], info: Mapping[str, Any], name: str, v: npt.NDArray[np.float64]
) -> None:
    """Moments, quantile edges and bin counts of one numeric source equal numpy's."""
    bins = SPEC.drift.bins
    for stat, want in (("min", v.min()), ("max", v.max()), ("mean", v.mean())):
        assert _close(info[stat], want), (name, stat)
    assert _close(info["var"], v.var(ddof=1)), (name, "var")
    want_edges = [float(v.min())]
    for q in np.quantile(v, [i / bins for i in range(1, bins)]):
        if q > want_edges[-1]:
            want_edges.append(float(q))
    if v.max() > want_edges[-1]:
        want_edges.append(float(v.max()))
    if len(want_edges) == 1:  # a constant source: one bin of zero width
        want_edges.append(want_edges[0])
    _assert_tree_close(got["bin_edges"][name], want_edges, f"bin_edges.{name}")
    e = got["bin_edges"][name]
    idx = _bins(v, e, outer=False)
    assert got["bin_counts"][name] == np.bincount(idx, minlength=len(e) - 1).tolist(), name


def test_profile_matches_numpy(engine: Engine, data: Data, profiles: dict[str, Profile]) -> None:
    """The fitted profile on each engine equals numpy/Python on the raw reference
    (quantiles exact, linear interpolation as ``np.quantile``)."""
    got = _profile(engine, profiles)
    ref = data.reference
    n = len(ref)
    assert got["n_rows"] == n
    for col in SPEC.feature_kinds:
        info = got["columns"][col]
        missing = pc.sum(pc.is_null(ref[col], nan_is_null=True)).as_py()
        assert _close(info["missing_fraction"], missing / n), col
        if col in NUMERIC:
            _assert_source_matches(got, info, col, _clean(ref[col]))
    texts = ref["comment"].to_pylist()
    vocab = [tok for tok, _ in _tokens_counted(texts)]
    assert got["text"]["comment"]["vocabulary"] == vocab
    features = [_text_features(x, vocab) for x in texts]
    for name in TEXT_FEATURES:
        info = got["text"]["comment"]["features"][name]
        v = np.array([f[name] for f in features if f[name] is not None], dtype=np.float64)
        assert _close(info["missing_fraction"], 1 - len(v) / n), name
        _assert_source_matches(got, info, f"comment:{name}", v)
    colors = pd.Series(ref["color"].to_pylist()).dropna().value_counts().to_dict()
    assert got["categories"]["color"] == colors
    for key, col in (("predicted_mix", "pred"), ("class_prior", "label")):
        counts = pd.Series(ref[col].to_pylist()).fillna(MISSING_COHORT).value_counts().to_dict()
        assert got[key] == {**dict.fromkeys(CLASSES, 0), **counts}, key
    assert sorted(got["scores"]) == sorted(f"score:{c}" for c in CLASSES)
    for c in CLASSES:  # each class's score: a binned source of its own
        info = got["scores"][f"score:{c}"]
        assert info["missing_fraction"] == 0.0, c
        _assert_source_matches(got, info, f"score:{c}", _clean(ref[f"score_{c}"]))
    conf = np.max(np.column_stack([ref[f"score_{c}"].to_numpy() for c in CLASSES]), axis=1)
    assert _close(got["confidence"]["mean"], conf.mean())
    assert _close(got["confidence"]["var"], conf.var(ddof=1))


def test_text_features_match_python(engine: Engine, data: Data) -> None:
    """Every text style feature, row by row, and the vocabulary equal plain Python."""
    t = engine.table("predictions")
    chars = [f for f in TEXT_FEATURES if f not in TOKEN_FEATURES]
    expr = t.select("id", **{name: text_feature(t.comment, name) for name in chars})
    got = {r.pop("id"): r for r in engine.run(expr).to_pylist()}
    shares = engine.run(token_shares(t, "comment", data.vocabulary, ["id"])).to_pylist()
    for r in shares:  # rows without tokens have no token shares
        got[r["id"]].update(oov=r["oov"], typo=r["typo"])
    bad = []
    ids, texts = data.current["id"].to_pylist(), data.current["comment"].to_pylist()
    for i, text in zip(ids, texts, strict=True):
        for name, want in _text_features(text, data.vocabulary).items():
            if not _close(got[i].get(name), want):
                bad.append(f"{text!r} {name}: got {got[i].get(name)!r}, expected {want!r}")
    assert not bad, f"{engine.name}: {len(bad)} text features differ:\n" + "\n".join(bad[:10])
    vocab = engine.run(vocabulary(t, "comment", 20)).to_pylist()
    want_vocab = _tokens_counted(data.current["comment"].to_pylist())[:20]
    assert [(r["token"], r["n"]) for r in vocab] == want_vocab


#: ``Profile.to_dict()`` sections compared across engines (``fitted_at`` excepted).
PROFILE_SECTIONS = [
    "version",
    "params",
    "n_rows",
    "columns",
    "bin_edges",
    "bin_counts",
    "categories",
    "class_prior",
    "predicted_mix",
    "confidence",
    "text",
    "scores",
    "cohorts",
    "spec_fingerprint",
    "timestamps",
    "performance",
    "embeddings",
]


@pytest.mark.spark
@pytest.mark.parametrize("section", PROFILE_SECTIONS)
def test_profile_spark_equals_duckdb(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    profiles: dict[str, Profile],
    section: str,
) -> None:
    """``Profile.fit`` gives the same ``to_dict()`` on both engines, section by section:
    counts exact, floats to 1e-9."""
    duck = _profile(duckdb_engine, profiles)
    spark = _profile(spark_engine, profiles)
    names = [p if isinstance(p, str) else p.values[0] for p in PROFILE_SECTIONS]
    assert sorted(duck) == sorted(spark) == sorted(names)
    _assert_tree_close(spark[section], duck[section], f"profile.{section}")


def test_profile_same_with_the_numeric_kernel(
    duckdb_engine: DuckDBEngine,
    profiles: dict[str, Profile],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a wide reference (``MIN_FEATURES`` numeric features or more) DuckDB fits the
    numeric columns' moments, ranges, bin counts and per-cohort baselines through the
    numeric kernel: the same ``to_dict()`` as by the queries, counts exact, floats to
    1e-9."""
    query = _profile(duckdb_engine, profiles)
    monkeypatch.setattr(numeric, "MIN_FEATURES", 1)
    kernel = _profile(duckdb_engine, {})  # fitted again, not cached
    assert sorted(kernel) == sorted(query)
    for section in query:
        _assert_tree_close(kernel[section], query[section], f"profile.{section}")


# -- end to end: run_checks -----------------------------------------------------------------
#: ``run_checks`` windows, each with the end of the span checked (None: all of it; the
#: last row window holds one cohort value only, see
#: :func:`test_row_window_without_a_cohort_value`).
CHECK_RUNS: dict[str, datetime | None] = {
    "1d": None,
    f"{ROW_WINDOW} rows": None,
}
#: The time the checks run at (``timestamp_era`` measures "later than now" from it).
CHECK_TIME = datetime(2024, 3, 12)


def _check_spec(window: str) -> Spec:
    """The spec the checks run with: each region judged against its own baseline, but
    the null one (207 reference rows) against the overall one (``cohort_baseline``)."""
    spec = SPEC.model_dump()
    spec["checks"] = {**spec["checks"], "cohort_baseline_min_rows": 300}
    return Spec.model_validate({**spec, "window": window})


@pytest.fixture(scope="module")
def reference_profile(duckdb_engine: DuckDBEngine, profiles: dict[str, Profile]) -> Profile:
    """The DuckDB-fitted profile: the checks run with it on every engine, so only the
    engine differs (the profiles themselves agree, see test_profile_spark_equals_duckdb);
    a copy, with decision thresholds chosen on the reference's labels (F1), so the
    threshold-relative checks run too."""
    prof = Profile.from_dict(_fitted(duckdb_engine, profiles).to_dict(), SPEC)
    data = holdout(duckdb_engine, duckdb_engine.table("reference"), SPEC)
    prof.thresholds_ = fit_thresholds(data, SPEC, ThresholdConfig())
    return prof


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, str], CheckReport]:
    return {}


def _report(
    engine: Engine, window: str, profile: Profile, cache: dict[tuple[str, str], CheckReport]
) -> CheckReport:
    if (engine.name, window) not in cache:
        cache[(engine.name, window)] = run_checks(
            engine,
            engine.table("stored"),
            _check_spec(window),
            profile,
            batches=BATCHES,
            until=CHECK_RUNS[window],
            now=CHECK_TIME,
            labels=engine.table("labels"),
        )
    return cache[(engine.name, window)]


def test_stored_table_has_the_store_columns(data: Data, tmp_path: Path) -> None:
    """The table the checks run on is shaped as the store writes predictions."""
    store = Store(tmp_path / "store.duckdb", SPEC)
    try:
        want = [(c, STORE_TYPES[t]) for c, t in store._prediction_columns()]
    finally:
        store.close()
    assert [(f.name, f.type) for f in data.stored.schema] == want


@pytest.mark.parametrize("window", list(CHECK_RUNS))
def test_run_checks_decides_every_check(
    engine: Engine,
    reference_profile: Profile,
    reports: dict[tuple[str, str], CheckReport],
    data: Data,
    window: str,
) -> None:
    """On each engine, ``run_checks`` over the stored predictions decides every check of
    :data:`CHECKS`, counts each row once per grouping, and alerts on the drift the data
    holds (unseen colors from day 6, x1 creeping up, a retyped and a missing column)."""
    report = _report(engine, window, reference_profile, reports)
    # embeddings (not in this data) are decided on both engines in test_embedding_sample.py
    assert {r.check for r in report.results} == set(CHECKS) - {"embedding_drift"}
    statuses = {r.status for r in report.results}
    assert {"ok", "alert", "warn"} <= statuses
    if window == "1d":  # the empty day
        assert "no_data" in statuses
    until = CHECK_RUNS[window]
    ts = data.stored["ts"]
    rows = len(ts) if until is None else pc.sum(pc.less(ts, pa.scalar(until))).as_py()
    for cohort in (None, "region"):
        assert sum(st.n for st in report.stats if st.cohort == cohort) == rows, cohort
    alerted = {(r.check, r.column) for r in report.results if r.status == "alert"}
    assert {("unseen_category", "color"), ("type_change", "x1"), ("missing_column", "x2")} <= (
        alerted
    )
    assert [(a.window, a.cohort_value, a.check, a.column) for a in report.alerts] == [
        (r.window, r.cohort_value, r.check, r.column) for r in report.results if r.status == "alert"
    ]


@pytest.mark.spark
@pytest.mark.parametrize("window", list(CHECK_RUNS))
def test_run_checks_spark_equals_duckdb(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    reference_profile: Profile,
    reports: dict[tuple[str, str], CheckReport],
    window: str,
) -> None:
    """The same predictions, profile and batches give the same ``CheckReport`` on Spark
    as on DuckDB: the same results in the same order (status, n, method and bound text
    equal; value, effect, bound and details' floats to 1e-9), the same alerts, window
    stats (approximate quantiles excepted) and drift summary."""
    duck = _report(duckdb_engine, window, reference_profile, reports)
    spark = _report(spark_engine, window, reference_profile, reports)
    assert_same_report(spark, duck, _close)
    for part in ("window", "since", "until", "plan", "reference"):
        assert getattr(spark, part) == getattr(duck, part), part


@pytest.mark.parametrize("window", list(CHECK_RUNS))
def test_run_checks_same_with_the_numeric_kernel(
    duckdb_engine: DuckDBEngine,
    reference_profile: Profile,
    reports: dict[tuple[str, str], CheckReport],
    window: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DuckDB counts the numeric features of a wide table (``MIN_FEATURES`` or more) by
    the kernel, of a narrow one by the summary query: end to end, ``run_checks`` gives
    the same report either way (results in the same order, statuses exactly, floats to
    1e-9)."""
    query = _report(duckdb_engine, window, reference_profile, reports)
    monkeypatch.setattr(numeric, "MIN_FEATURES", 1)
    assert numeric.uses_kernel(duckdb_engine, 1)
    kernel = _report(duckdb_engine, window, reference_profile, {})  # run again, not cached
    assert [result_key(r) for r in kernel.results] == [result_key(r) for r in query.results]
    _assert_tree_close(
        [asdict(r) for r in kernel.results], [asdict(r) for r in query.results], "results"
    )
    _assert_tree_close(
        [asdict(a) for a in kernel.alerts], [asdict(a) for a in query.alerts], "alerts"
    )


def test_row_window_without_a_cohort_value(
    duckdb_engine: DuckDBEngine, reference_profile: Profile
) -> None:
    """A row window holding no rows of a cohort value still gets results (no_data) for it.
    Engine-independent, so checked on DuckDB only."""
    window = f"{ROW_WINDOW} rows"
    report = run_checks(
        duckdb_engine,
        duckdb_engine.table("stored"),
        _check_spec(window),
        reference_profile,
        batches=BATCHES,
    )
    missing = [st for st in report.stats if st.cohort == "region" and st.n == 0]
    assert missing, "every region has rows in every row window"
