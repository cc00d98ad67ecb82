"""Per-cohort baselines of the profile, compared with numpy and pandas on DuckDB and Spark.

One seeded reference of 1,200 rows with two cohort columns. ``region`` has a null value,
values with quotes and non-ASCII characters, one named like the overall scope
(``__all__``), one below ``checks.cohort_baseline_min_rows`` (``tiny``), and one
(``Zürich 東京``) in which the numeric feature ``x`` is null on every row; ``tier`` has a
value named like one of the fit's internal columns. Each cohort value's baseline is
checked against an independent computation on that value's rows: row counts, missing and
non-finite shares, moments, bin counts on the *overall* edges, category counts on the
overall categories (the rest pooled), class mixes, the confidence and text features.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pytest

from driftline import ConfigError, Profile, ProfileError, load_spec
from driftline._catalog import MISSING_COHORT
from driftline.checks import reference_excerpt
from driftline.engine import DuckDBEngine, Engine, SparkEngine
from driftline.profile import PROFILE_VERSION
from driftline.spec import Spec

N = 1200
BINS = 8
MIN_ROWS = 100
MAX_CATEGORIES = 4
CLASSES = ["a", "b", "c"]
QUOTED = 'say "hi", it\'s'
UNICODE = "Zürich 東京"
#: rows per region value (None: a null cohort value)
REGIONS: dict[str | None, int] = {
    "north": 420,
    QUOTED: 300,
    UNICODE: 240,
    "__all__": 150,
    None: 60,
    "tiny": 30,
}
TIERS = ["gold", "silver", "__dl_cohort_value"]
COLORS = ["red", "green", "blue", "teal", "plum", "gold"]
WORDS = ["good", "bad", "fine", "slow", "fast", "ok", "refund", "broken", "great", "late"]

SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
    "label": "label",
    "cohorts": ["region", "tier"],
    "features": {"numeric": ["x", "k"], "categorical": ["color"], "text": ["comment"]},
    "drift": {"bins": BINS},
    "checks": {"cohort_baseline_min_rows": MIN_ROWS},
}


def _comment(rng: np.random.Generator, i: int) -> str | None:
    if i % 23 == 0:
        return None
    if i % 31 == 0:
        return ""  # no token: missing for the token features
    words = list(rng.choice(WORDS, size=int(rng.integers(1, 6))))
    if i % 7 == 0:
        words.append(f"typo{i}")  # seen once: out of the vocabulary's known tokens
    text = " ".join(words)
    return text.capitalize() + ("!" if i % 3 == 0 else "") + (" 42" if i % 5 == 0 else "")


def _reference() -> pa.Table:
    rng = np.random.default_rng(11)
    region = np.array([v for v, n in REGIONS.items() for _ in range(n)], dtype=object)
    rng.shuffle(region)
    alphas = {"north": [4.0, 1.0, 1.0], QUOTED: [1.0, 4.0, 1.0], "tiny": [1.0, 1.0, 4.0]}
    probs = np.array([rng.dirichlet(alphas.get(r, [2.0, 2.0, 2.0])) for r in region])
    shift = np.array([{"north": 0.0, QUOTED: 3.0}.get(r, 1.0) for r in region])
    x = rng.normal(shift, 1.0)
    x[rng.random(N) < 0.03] = np.nan
    x_null = (rng.random(N) < 0.05) | (region == UNICODE)  # all null in one cohort value
    k = rng.integers(0, 6, size=N).astype(float)
    color_p = [0.4, 0.3, 0.1, 0.1, 0.05, 0.05]
    colors = np.array(
        [rng.choice(COLORS, p=color_p if r != "north" else color_p[::-1]) for r in region],
        dtype=object,
    )
    colors[rng.random(N) < 0.08] = None
    return pa.table(
        {
            "id": [f"r{i}" for i in range(N)],
            "ts": pa.array(pd.date_range("2024-01-01", periods=N, freq="min", tz="UTC")),
            "pred": np.array(CLASSES)[probs.argmax(axis=1)],
            **{f"score_{c}": probs[:, j] for j, c in enumerate(CLASSES)},
            "label": rng.choice(CLASSES, size=N),
            "region": pa.array(region, type=pa.string()),
            "tier": rng.choice(TIERS, size=N, p=[0.5, 0.3, 0.2]),
            "x": pa.array(x, mask=x_null, from_pandas=False),
            "k": k,
            "color": pa.array(colors, type=pa.string()),
            "comment": pa.array([_comment(rng, i) for i in range(N)], type=pa.string()),
        }
    )


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    return _reference()


@pytest.fixture(scope="module")
def frame(reference: pa.Table) -> pd.DataFrame:
    df: pd.DataFrame = reference.to_pandas()
    df["region"] = df["region"].fillna(MISSING_COHORT)
    return df


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(SPEC)


def _engine(name: str, reference: pa.Table, request: pytest.FixtureRequest) -> Engine:
    if name == "duckdb":
        con = ibis.duckdb.connect()
        con.create_table("cohort_reference", reference)
        return DuckDBEngine(con)
    spark = request.getfixturevalue("spark")
    # from Arrow, not pandas: pandas holds a float null as NaN
    spark.createDataFrame(reference).createOrReplaceTempView("cohort_reference")
    return SparkEngine(spark)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def fitted(request: pytest.FixtureRequest, reference: pa.Table, spec: Spec) -> Profile:
    engine = _engine(request.param, reference, request)
    return Profile(spec, max_categories=MAX_CATEGORIES).fit(
        engine, engine.table("cohort_reference")
    )


# -- independent computations ------------------------------------------------------------------
def _rows(frame: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    return frame[frame[column] == value]


def _finite(values: pd.Series) -> npt.NDArray[np.float64]:
    v = values.to_numpy(dtype=float)
    return v[np.isfinite(v)]


def _counts_on(v: npt.NDArray[np.float64], edges: list[float]) -> list[int]:
    """Bins [e_i, e_i+1), the last one closed."""
    k = len(edges) - 1
    index = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, k - 1)
    return [int(c) for c in np.bincount(index, minlength=k)]


def _confidence(rows: pd.DataFrame) -> npt.NDArray[np.float64]:
    scores: npt.NDArray[np.float64] = rows[[f"score_{c}" for c in CLASSES]].to_numpy(dtype=float)
    return scores.max(axis=1)


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


def _oov_shares(frame: pd.DataFrame, rows: pd.DataFrame) -> list[float]:
    """Per text of ``rows`` with tokens: its share of tokens seen fewer than twice in the
    whole reference (the profile's leave-one-out vocabulary)."""
    seen = Counter(t for text in frame["comment"].dropna() for t in _tokens(text))
    shares = []
    for text in rows["comment"].dropna():
        toks = _tokens(text)
        if toks:
            shares.append(sum(seen[t] < 2 for t in toks) / len(toks))
    return shares


def _close(got: float | None, want: float) -> None:
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def _all_values() -> list[tuple[str, str]]:
    regions = [("region", MISSING_COHORT if v is None else v) for v in REGIONS]
    return regions + [("tier", v) for v in TIERS]


VALUES = _all_values()
VALUE_IDS = [f"{c}={v}" for c, v in VALUES]


# -- what is stored ----------------------------------------------------------------------------
def test_every_value_of_every_cohort_column_has_a_baseline(
    fitted: Profile, frame: pd.DataFrame
) -> None:
    assert fitted.cohorts_ is not None
    assert sorted(fitted.cohorts_) == ["region", "tier"]
    for column in ("region", "tier"):
        counts = frame[column].value_counts().to_dict()
        got = {v: b["n_rows"] for v, b in fitted.cohorts_[column].items()}
        assert got == counts
    assert fitted.cohorts_["region"][MISSING_COHORT]["n_rows"] == REGIONS[None]


@pytest.mark.parametrize(("column", "value"), VALUES, ids=VALUE_IDS)
def test_numeric_statistics_equal_numpy(
    fitted: Profile, frame: pd.DataFrame, column: str, value: str
) -> None:
    """Missing shares (null and NaN), moments and ranges of the cohort value's rows, and
    their counts in the bins of the overall edges."""
    rows = _rows(frame, column, value)
    assert fitted.cohorts_ is not None
    base = fitted.cohorts_[column][value]
    for col in ("x", "k"):
        v = _finite(rows[col])
        info = base["columns"][col]
        _close(info["missing_fraction"], 1 - v.size / len(rows))
        assert info["non_finite_fraction"] == 0.0
        assert base["bin_counts"][col] == _counts_on(v, fitted.bin_edges_[col])
        if v.size == 0:
            assert "mean" not in info
            continue
        _close(info["mean"], float(v.mean()))
        _close(info["var"], float(v.var(ddof=1)) if v.size > 1 else np.nan)
        assert (info["min"], info["max"]) == (v.min(), v.max())


def test_overall_statistics_merged_from_the_cohort_values_equal_numpy(
    fitted: Profile, frame: pd.DataFrame
) -> None:
    """With cohorts, the overall moments are merged from the first cohort column's values
    (a null region and a region whose ``x`` is all null among them), on either engine:
    they are numpy's over every row."""
    for col in ("x", "k"):
        v = _finite(frame[col])
        info = fitted.columns_[col]
        _close(info["missing_fraction"], 1 - v.size / len(frame))
        _close(info["mean"], float(v.mean()))
        _close(info["var"], float(v.var(ddof=1)))
        assert (info["min"], info["max"]) == (v.min(), v.max())
    for c in CLASSES:
        score = frame[f"score_{c}"].to_numpy(dtype=float)
        _close(fitted.scores_[f"score:{c}"]["mean"], float(score.mean()))
        _close(fitted.scores_[f"score:{c}"]["var"], float(score.var(ddof=1)))
    confidence = _confidence(frame)
    _close(fitted.confidence_["mean"], float(confidence.mean()))
    _close(fitted.confidence_["var"], float(confidence.var(ddof=1)))
    assert (fitted.confidence_["min"], fitted.confidence_["max"]) == (
        confidence.min(),
        confidence.max(),
    )


def test_a_column_null_in_every_row_of_a_value_has_an_empty_baseline(fitted: Profile) -> None:
    view = fitted.baseline("region", UNICODE)
    assert view is not None
    assert view.columns_["x"]["missing_fraction"] == 1.0
    assert "mean" not in view.columns_["x"]
    assert "cohort_min" not in view.columns_["x"]
    assert view.bin_counts_["x"] == [0] * (len(fitted.bin_edges_["x"]) - 1)
    # the range is the schema's: what serving values are counted out of range against
    assert view.ranges()["x"] == fitted.ranges()["x"]


@pytest.mark.parametrize(("column", "value"), VALUES, ids=VALUE_IDS)
def test_categories_class_mixes_and_confidence_equal_pandas(
    fitted: Profile, frame: pd.DataFrame, column: str, value: str
) -> None:
    rows = _rows(frame, column, value)
    view = fitted.baseline(column, value) if len(rows) >= MIN_ROWS else None
    assert fitted.cohorts_ is not None
    base = fitted.cohorts_[column][value]
    # categories: the overall ones (the most frequent MAX_CATEGORIES), the rest pooled
    known = list(fitted.categories_["color"])
    assert len(known) == MAX_CATEGORIES
    counts = rows["color"].value_counts().to_dict()
    assert base["categories"]["color"] == {c: counts[c] for c in known if c in counts}
    present = int(rows["color"].notna().sum())
    assert base["columns"]["color"]["other"] == present - sum(counts.get(c, 0) for c in known)
    _close(base["columns"]["color"]["missing_fraction"], 1 - present / len(rows))
    # class mixes, every class of the spec
    assert base["predicted_mix"] == {c: int((rows["pred"] == c).sum()) for c in CLASSES}
    assert base["class_prior"] == {c: int((rows["label"] == c).sum()) for c in CLASSES}
    # confidence: moments, range and counts on the overall confidence edges
    conf = _confidence(rows)
    got = base["confidence"]
    assert got["n"] == len(rows)
    _close(got["mean"], float(conf.mean()))
    _close(got["var"], float(conf.var(ddof=1)))
    assert (got["min"], got["max"]) == (conf.min(), conf.max())
    assert got["counts"] == _counts_on(conf, fitted.confidence_["edges"])
    if view is not None:  # the view: every overall category, in the overall order
        assert list(view.categories_["color"]) == known
        assert view.categories_["color"] == {c: counts.get(c, 0) for c in known}
        assert view.confidence_["edges"] == fitted.confidence_["edges"]


@pytest.mark.parametrize(("column", "value"), VALUES, ids=VALUE_IDS)
def test_text_features_equal_python(
    fitted: Profile, frame: pd.DataFrame, column: str, value: str
) -> None:
    """Text length (a character-level feature) and the out-of-vocabulary share (a
    token-level one, against the overall leave-one-out vocabulary)."""
    rows = _rows(frame, column, value)
    assert fitted.cohorts_ is not None
    base = fitted.cohorts_[column][value]
    texts = rows["comment"].dropna()
    lengths = texts.str.len().to_numpy(dtype=float)
    features = base["text"]["comment"]["features"]
    _close(features["length"]["mean"], float(lengths.mean()))
    _close(features["length"]["missing_fraction"], 1 - len(texts) / len(rows))
    assert base["bin_counts"]["comment:length"] == _counts_on(
        lengths, fitted.bin_edges_["comment:length"]
    )
    oov = np.asarray(_oov_shares(frame, rows))
    _close(features["oov"]["mean"], float(oov.mean()))
    _close(features["oov"]["missing_fraction"], 1 - oov.size / len(rows))
    assert base["bin_counts"]["comment:oov"] == _counts_on(oov, fitted.bin_edges_["comment:oov"])


# -- the baseline a check reads ------------------------------------------------------------------
def test_baseline_reads_like_the_overall_profile(fitted: Profile) -> None:
    view = fitted.baseline("region", "north")
    assert isinstance(view, Profile)
    assert view.n_rows_ == REGIONS["north"]
    assert view.bin_edges_ == fitted.bin_edges_
    assert view.bin_counts_.keys() == fitted.bin_counts_.keys()
    assert view.columns_.keys() == fitted.columns_.keys()
    for col, info in view.columns_.items():
        assert info["kind"] == fitted.columns_[col]["kind"]
        assert info["family"] == fitted.columns_[col]["family"]
    assert view.ranges() == fitted.ranges()
    assert view.text_["comment"]["vocabulary"] == fitted.text_["comment"]["vocabulary"]
    assert view.timestamps_ == fitted.timestamps_
    excerpt = reference_excerpt(view)  # what a report reads of a baseline
    assert excerpt["n_rows"] == REGIONS["north"]
    assert fitted.baseline("region", "north") is view  # built once


def test_each_kind_of_baseline_says_why(fitted: Profile) -> None:
    own = fitted.cohort_baseline("region", QUOTED)
    assert (own.kind, own.reference_rows) == ("own", REGIONS[QUOTED])
    assert own.profile is not None
    assert (
        own.reason == f"its own baseline: 300 reference rows of value {QUOTED!r} of cohort 'region'"
    )
    few = fitted.cohort_baseline("region", "tiny")
    assert (few.kind, few.reference_rows, few.profile) == ("few_rows", 30, None)
    assert few.reason == (
        "the overall baseline: value 'tiny' of cohort 'region' has 30 reference rows, fewer "
        "than checks.cohort_baseline_min_rows (100)"
    )
    assert fitted.baseline("region", "tiny") is None
    assert fitted.baseline_reason("region", "tiny") == few.reason
    new = fitted.cohort_baseline("region", "west")
    assert (new.kind, new.reference_rows, new.profile) == ("new_value", 0, None)
    assert "does not occur in the reference (a new segment)" in new.reason
    # the null cohort value, and a value named like the overall scope, are values
    assert fitted.cohort_baseline("region", MISSING_COHORT).kind == "few_rows"
    assert fitted.cohort_baseline("region", "__all__").kind == "own"
    with pytest.raises(ConfigError, match=r"'color' is not a cohort column of the spec"):
        fitted.cohort_baseline("color", "red")
    own_view = own.profile
    with pytest.raises(ProfileError, match="is itself the baseline of cohort 'region'"):
        own_view.baseline("tier", "gold")


def test_the_minimum_is_read_when_checks_run(fitted: Profile, spec: Spec) -> None:
    """The minimum is a check option (no refit): the same fitted baselines, another spec."""
    lower = Spec.model_validate({**SPEC, "checks": {"cohort_baseline_min_rows": 30}})
    prof = Profile.from_dict(json.loads(json.dumps(fitted.to_dict())), lower)
    assert prof.cohort_baseline("region", "tiny").kind == "own"
    assert prof.cohort_baseline("region", MISSING_COHORT).kind == "own"


def test_a_cohort_column_the_reference_lacks_has_no_baselines(spec: Spec) -> None:
    table = _reference().drop_columns(["tier"])
    con = ibis.duckdb.connect()
    con.create_table("no_tier", table)
    engine = DuckDBEngine(con)
    prof = Profile(spec).fit(engine, engine.table("no_tier"))
    assert prof.cohorts_ is not None
    assert sorted(prof.cohorts_) == ["region"]
    got = prof.cohort_baseline("tier", "gold")
    assert (got.kind, got.profile) == ("unavailable", None)
    assert got.reason == "the overall baseline: the reference has no column 'tier'"


# -- saved and loaded ----------------------------------------------------------------------------
def test_save_and_load_keep_the_baselines(fitted: Profile, spec: Spec, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "p.json")
    loaded = Profile.load(path, spec)
    assert loaded.to_dict() == json.loads(json.dumps(fitted.to_dict()))
    for column, value in VALUES:
        want, got = fitted.baseline(column, value), loaded.baseline(column, value)
        assert (want is None) == (got is None)
        if want is not None and got is not None:
            assert got.to_dict() == json.loads(json.dumps(want.to_dict()))


def test_a_version_1_profile_loads_without_baselines(fitted: Profile, spec: Spec) -> None:
    """A profile fitted before per-cohort baselines keeps working after an upgrade: each
    cohort value is judged against the overall baseline, and its reason names the refit."""
    old = fitted.to_dict()
    old["version"] = 1
    del old["cohorts"]
    prof = Profile.from_dict(json.loads(json.dumps(old)), spec)
    assert prof.cohorts_ is None
    got = prof.cohort_baseline("region", "north")
    assert (got.kind, got.profile, got.reference_rows) == ("unavailable", None, None)
    assert "fitted by an older driftline" in got.reason
    assert "refit it with `driftline fit`" in got.reason
    # saved again: the current version, still without baselines
    assert prof.to_dict()["version"] == PROFILE_VERSION
    assert Profile.from_dict(prof.to_dict(), spec).cohorts_ is None


def _edit(data: dict[str, Any], how: str) -> None:
    north = data["cohorts"]["region"]["north"]
    if how == "unknown-column":
        data["cohorts"]["segment"] = data["cohorts"].pop("tier")
    elif how == "bin-counts":
        north["bin_counts"]["x"] = north["bin_counts"]["x"][:-1]
    elif how == "negative-count":
        north["predicted_mix"]["a"] = -1
    elif how == "unknown-category":
        north["categories"]["color"]["mauve"] = 3
    elif how == "lacks-section":
        del north["confidence"]
    elif how == "missing-fraction":
        north["columns"]["k"]["missing_fraction"] = 1.5
    elif how == "lacks-column":
        del north["columns"]["k"]


EDITS = {
    "unknown-column": r"cohorts names 'segment', which is not a cohort column of the spec",
    "bin-counts": r"column 'x' of the baseline of 'region' = 'north' has \d+ bin edges but",
    "negative-count": r"count of 'a' in the mix of the baseline of 'region' = 'north' is '-1'",
    "unknown-category": r"counts 'mauve', which is not a category of the overall profile",
    "lacks-section": r"the baseline of 'region' = 'north' lacks confidence",
    "missing-fraction": r"missing_fraction of column 'k' of the baseline of .* expected 0 to 1",
    "lacks-column": r"the columns of the baseline of .* name other columns .*\['k'\]",
}


@pytest.mark.parametrize("how", list(EDITS))
def test_a_hand_edited_baseline_is_refused(fitted: Profile, spec: Spec, how: str) -> None:
    data = json.loads(json.dumps(fitted.to_dict()))
    _edit(data, how)
    with pytest.raises(ProfileError, match=EDITS[how]) as info:
        Profile.from_dict(data, spec)
    assert "refit it with `driftline fit`" in str(info.value)
