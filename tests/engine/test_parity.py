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
bin edges and range bounds (17 significant digits), and a last day (and last 500-row
window) whose rows are all in one cohort.

Tolerances, for every cohort scope (overall and ``region``) and both window kinds
(``1d`` and ``500 rows``):

- counts (``n``, class, missing, out-of-range, unseen, histogram, category and batch
  counts): exact; the set of ``(window, cohort_value, ...)`` groups: exact; result
  schemas: identical.
- moments (mean, sample variance), min and max, text features: relative 1e-9 (absolute
  1e-9 near zero).
- ``ts_min`` / ``ts_max``: exact, to the microsecond.
- approximate quantiles (``conf_q``): a *rank* tolerance of 0.02. Each engine's
  q-quantile of a group lies between the exact numpy quantiles of that group's values at
  q - 0.02 and q + 0.02, the band rounded outward to whole observations (numpy
  ``method="lower"`` / ``"higher"``): an approximate quantile is an observation, and in a
  group of 25 values one rank is 0.04, so linear interpolation at the band's ends would
  reject Spark's exact answers. The engines are not compared with each other on
  ``conf_q`` (DuckDB uses a t-digest, Spark Greenwald-Khanna; they need not agree).
- the fitted :class:`~driftline.profile.Profile`: ``to_dict()`` equal across engines
  section by section, counts exact and floats to 1e-9 (``fitted_at`` excepted). Its
  quantiles are exact on both (``quantile_cont`` / ``percentile``); one known gap,
  handled in ``driftline.profile._edges`` (inner edges rounded to 12 significant digits).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from driftline.engine import MISSING_COHORT, OVERALL, DuckDBEngine, Engine, SparkEngine
from driftline.engine.summaries import (
    CATEGORY_SCHEMA,
    CLASS_COUNTS_SCHEMA,
    HISTOGRAM_SCHEMA,
    PREDICTION_STATS_SCHEMA,
    QUANTILES,
    TEXT_FEATURES,
    TOKEN_FEATURES,
    batch_rows,
    category_counts,
    class_counts,
    feature_stats,
    histograms,
    prediction_stats,
    text_feature,
    text_feature_builders,
    token_shares,
    vocabulary,
)
from driftline.profile import Profile
from driftline.spec import Spec, Window, parse_window

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
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    edges: dict[str, list[float]] = field(default_factory=dict)
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
    for col in ("x1", "x2"):  # current values exactly on every bound and inner edge
        current = _put_values(current, col, [*ranges[col], *edges[col][1:-1]])
    texts = reference["comment"].to_pylist()
    vocab = sorted(w for w, _ in _tokens_counted(texts)[:6])
    features = [_text_features(x, vocab) for x in texts]
    text_edges = {
        f"comment:{name}": _quantile_edges(
            np.array([f[name] for f in features if f[name] is not None], dtype=np.float64)
        )
        for name in TEXT_FEATURES
    }
    return Data(current, reference, ranges, edges, {"color": list(CATEGORIES)}, vocab, text_edges)


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


@pytest.fixture(scope="module")
def duckdb_engine(data: Data) -> DuckDBEngine:
    con = ibis.duckdb.connect()
    con.create_table("predictions", data.current)
    con.create_table("reference", data.reference)
    return DuckDBEngine(con)


@pytest.fixture(scope="module")
def spark_engine(spark: Any, data: Data) -> SparkEngine:
    for name, table in (("predictions", data.current), ("reference", data.reference)):
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
                "conf_q": np.sort(conf),  # checked by rank tolerance, see _quantiles_ok
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
                row[f"lo{i}"] = int((v < lo).sum())
                row[f"hi{i}"] = int((v > hi).sum())
                row[f"mean{i}"], row[f"var{i}"] = _moments(v)
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


def _oracle_histograms(df: pd.DataFrame, data: Data) -> list[Row]:
    out = []
    for col, edges in data.edges.items():
        sub = df[df[col].notna()]
        sub = sub.assign(column=col, bin=_bins(sub[col].to_numpy(), edges, outer=True))
        out += [
            {**key, "n": len(g)}
            for key, g in _groups(sub, ["window", "cohort_value", "column", "bin"])
        ]
    return out


def _oracle_text_histograms(df: pd.DataFrame, data: Data) -> list[Row]:
    texts = [x if isinstance(x, str) else None for x in df["comment"]]
    feats = pd.DataFrame([_text_features(x, data.vocabulary) for x in texts], dtype=float)
    out = []
    for name in TEXT_FEATURES:
        col = f"comment:{name}"
        v = feats[name].to_numpy()
        keep = ~np.isnan(v)
        sub = df[keep].assign(column=col, bin=_bins(v[keep], data.text_edges[col], outer=True))
        out += [
            {**key, "n": len(g)}
            for key, g in _groups(sub, ["window", "cohort_value", "column", "bin"])
        ]
    return out


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


def _histograms(t: ir.Table, w: Window, c: str | None, d: Data) -> ir.Table:
    expr = histograms(t, SPEC, w, c, d.edges)
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
}


class Results:
    """Runs each (engine, summary, window, cohort) once per module and keeps the Arrow."""

    def __init__(self, data: Data) -> None:
        self.data = data
        self._cache: dict[tuple[str, str, str, str | None], pa.Table] = {}

    def __call__(self, engine: Engine, summary: str, window: str, cohort: str | None) -> pa.Table:
        key = (engine.name, summary, window, cohort)
        if key not in self._cache:
            s = SUMMARIES[summary]
            expr = s.build(engine.table("predictions"), parse_window(window), cohort, self.data)
            self._cache[key] = engine.run(expr, s.schema)
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


def _quantiles_ok(got: Sequence[float | None] | None, values: npt.NDArray[np.float64]) -> bool:
    """Each approximate q-quantile lies within the exact quantiles at q -/+ RANK (the band
    rounded outward to whole observations, see the module docstring)."""
    if len(values) == 0:
        return got is None or all(g is None for g in got)
    assert got is not None
    for q, g in zip(QUANTILES, got, strict=True):
        lo = np.quantile(values, max(q - RANK, 0.0), method="lower")
        hi = np.quantile(values, min(q + RANK, 1.0), method="higher")
        if g is None or not lo - 1e-12 <= g <= hi + 1e-12:
            return False
    return True


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
    bad = []
    for key, want_row in w.items():
        got_row = g[key]
        assert set(got_row) == set(want_row), f"{what}: columns {sorted(got_row)}"
        for name, expected in want_row.items():
            if name in summary.keys or name in skip:
                continue
            actual = got_row[name]
            if name == "conf_q":
                ok = _quantiles_ok(actual, expected)
            elif summary.close(name):
                ok = _close(actual, expected)
            else:
                ok = actual == expected
            if not ok:
                bad.append(f"{key} {name}: got {actual!r}, expected {expected!r}")
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


@pytest.mark.parametrize("scope", SCOPES, ids=SCOPE_IDS)
@pytest.mark.parametrize("summary", list(SUMMARIES))
def test_summary_matches_pandas(
    engine: Engine, results: Results, data: Data, summary: str, scope: tuple[str, str | None]
) -> None:
    """Each summary on each engine equals an independent pandas/numpy computation."""
    window, cohort = scope
    got = results(engine, summary, window, cohort)
    if SUMMARIES[summary].schema is not None:
        assert got.schema == SUMMARIES[summary].schema
    want = SUMMARIES[summary].oracle(_frame(data, parse_window(window), cohort), data)
    _assert_same(got.to_pylist(), want, SUMMARIES[summary], f"{engine.name} {summary} {scope}")


@pytest.mark.spark
@pytest.mark.parametrize("scope", SCOPES, ids=SCOPE_IDS)
@pytest.mark.parametrize("summary", list(SUMMARIES))
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


# -- the profile ----------------------------------------------------------------------------
def _tree_diff(got: Any, want: Any, path: str = "profile") -> list[str]:
    """Where two nested dicts/lists differ: floats beyond REL, anything else not equal."""
    if isinstance(want, dict) and isinstance(got, dict):
        if sorted(got) != sorted(want):
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        return [d for k in want for d in _tree_diff(got[k], want[k], f"{path}.{k}")]
    if isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in _tree_diff(g, w, f"{path}[{i}]")
        ]
    if isinstance(want, float) or isinstance(got, float):
        return [] if _close(got, want) else [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def _assert_tree_close(got: Any, want: Any, path: str = "profile") -> None:
    diff = _tree_diff(got, want, path)
    assert not diff, f"{len(diff)} differences:\n" + "\n".join(diff[:20])


@pytest.fixture(scope="module")
def profiles() -> dict[str, dict[str, Any]]:
    return {}


def _profile(engine: Engine, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if engine.name not in cache:
        prof = Profile(SPEC).fit(engine, engine.table("reference"), SOURCE_TYPES)
        d = prof.to_dict()
        d.pop("fitted_at")
        cache[engine.name] = d
    return cache[engine.name]


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


def test_profile_matches_numpy(
    engine: Engine, data: Data, profiles: dict[str, dict[str, Any]]
) -> None:
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
    "spec_fingerprint",
]


@pytest.mark.spark
@pytest.mark.parametrize("section", PROFILE_SECTIONS)
def test_profile_spark_equals_duckdb(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    profiles: dict[str, dict[str, Any]],
    section: str,
) -> None:
    """``Profile.fit`` gives the same ``to_dict()`` on both engines, section by section:
    counts exact, floats to 1e-9."""
    duck = _profile(duckdb_engine, profiles)
    spark = _profile(spark_engine, profiles)
    names = [p if isinstance(p, str) else p.values[0] for p in PROFILE_SECTIONS]
    assert sorted(duck) == sorted(spark) == sorted(names)
    _assert_tree_close(spark[section], duck[section], f"profile.{section}")
