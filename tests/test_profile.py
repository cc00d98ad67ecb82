"""The profile, fitted by ``Monitor.log_reference``, compared with numpy and pandas."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline import Monitor, NotFittedError, Profile, ProfileError, load_spec

N = 300
BINS = 10
CLASSES = ["a", "b", "c", "d"]  # 'd' is never predicted nor labelled


def _reference(seed: int = 0) -> tuple[pa.Table, dict[str, Any]]:
    """A reference with NaN *and* null in ``x``, heavy ties in ``k``, null categories."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([2.0, 1.0, 1.0], size=N)
    probs = np.column_stack([probs, np.zeros(N)])
    x = rng.normal(3.0, 2.0, size=N)
    x[:9] = np.nan  # IEEE NaN, kept as NaN by pyarrow (from_pandas=False)
    x_null = np.zeros(N, dtype=bool)
    x_null[9:20] = True  # and 11 nulls
    k = rng.integers(0, 4, size=N).astype(float)  # 4 distinct values: quantiles tie
    k[[0, 1]] = 7.5
    colors = rng.choice(np.array(["red", "green", "blue", "teal"], dtype=object), size=N)
    colors[rng.random(N) < 0.1] = None
    table = pa.table(
        {
            "id": [f"ref{i}" for i in range(N)],
            "ts": pa.array(pd.date_range("2023-06-01", periods=N, freq="min", tz="UTC")),
            "pred": np.array(CLASSES)[probs.argmax(axis=1)],
            **{f"score_{c}": probs[:, j] for j, c in enumerate(CLASSES)},
            "label": rng.choice(["a", "b", "c"], size=N, p=[0.5, 0.3, 0.2]),
            "x": pa.array(x, mask=x_null, from_pandas=False),
            "k": k,
            "color": pa.array(colors, type=pa.string()),
        }
    )
    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
        "label": "label",
        "features": {"numeric": ["x", "k"], "categorical": ["color"]},
        "drift": {"bins": BINS},
    }
    return table, spec


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Monitor, pa.Table]]:
    table, spec = _reference()
    path = tmp_path_factory.mktemp("profile")
    spec_path = load_spec(spec).save(path / "driftline.yaml")
    with driftline.connect(path / "store.duckdb", spec_path) as monitor:
        monitor.log_reference(table)
        yield monitor, table


@pytest.fixture
def profile(fitted: tuple[Monitor, pa.Table]) -> dict[str, Any]:
    data: dict[str, Any] = fitted[0].profile.to_dict()
    return data


@pytest.fixture
def frame(fitted: tuple[Monitor, pa.Table]) -> pd.DataFrame:
    df: pd.DataFrame = fitted[1].to_pandas()
    return df


def _finite(values: pd.Series) -> npt.NDArray[np.float64]:
    v = values.to_numpy(dtype=float)
    return v[~np.isnan(v)]


def _expected_edges(v: npt.NDArray[np.float64], bins: int) -> list[float]:
    """Reference quantiles (numpy's default, linear), de-duplicated in order."""
    out: list[float] = []
    for q in np.quantile(v, np.linspace(0.0, 1.0, bins + 1)):
        if not out or q > out[-1]:
            out.append(float(q))
    return out


def _counts_on(v: npt.NDArray[np.float64], edges: list[float]) -> list[int]:
    """Bins [e_i, e_i+1), the last one closed."""
    k = len(edges) - 1
    index = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, k - 1)
    return [int(c) for c in np.bincount(index, minlength=k)]


def test_log_reference_saves_the_profile_next_to_the_spec(
    fitted: tuple[Monitor, pa.Table], profile: dict[str, Any]
) -> None:
    monitor, _ = fitted
    assert monitor.profile_path == monitor.profile_path.parent / "driftline.profile.json"
    saved = json.loads(monitor.profile_path.read_text())
    assert saved == json.loads(json.dumps(profile))
    assert saved["n_rows"] == N
    assert saved["spec_fingerprint"] == monitor.spec.fingerprint()


def test_the_reference_is_stored_as_it_came(fitted: tuple[Monitor, pa.Table]) -> None:
    monitor, table = fitted
    got = monitor.store.con.execute(
        "SELECT count(*), count(x), count(color), sum(k) FROM reference_reference"
    ).fetchone()
    assert got is not None
    # stored as it came: NaN stays a value (count(x) skips only the 11 nulls)
    assert got[:3] == (N, N - 11, N - table["color"].null_count)
    assert got[3] == pytest.approx(float(np.sum(table["k"].to_numpy())))


@pytest.mark.parametrize("column", ["x", "k"])
def test_bin_edges_are_reference_quantiles(
    profile: dict[str, Any], frame: pd.DataFrame, column: str
) -> None:
    edges = profile["bin_edges"][column]
    v = _finite(frame[column])
    assert all(b > a for a, b in itertools.pairwise(edges))
    assert edges[0] == v.min()
    assert edges[-1] == v.max()
    expected = _expected_edges(v, BINS)
    assert len(edges) == len(expected)
    np.testing.assert_allclose(edges, expected, rtol=0, atol=1e-9)


def test_tied_quantiles_are_de_duplicated(profile: dict[str, Any]) -> None:
    assert profile["bin_edges"]["k"] == [0.0, 1.0, 2.0, 3.0, 7.5]


@pytest.mark.parametrize("column", ["x", "k"])
def test_bin_counts_sum_to_the_non_missing_count(
    profile: dict[str, Any], frame: pd.DataFrame, column: str
) -> None:
    counts = profile["bin_counts"][column]
    v = _finite(frame[column])
    assert len(counts) == len(profile["bin_edges"][column]) - 1
    assert sum(counts) == len(v)
    assert counts == _counts_on(v, profile["bin_edges"][column])


def test_missing_fraction_counts_nan_and_null(profile: dict[str, Any], frame: pd.DataFrame) -> None:
    columns = profile["columns"]
    assert columns["x"]["missing_fraction"] == pytest.approx(20 / N, abs=1e-12)
    assert columns["k"]["missing_fraction"] == 0.0
    assert columns["color"]["missing_fraction"] == pytest.approx(
        frame["color"].isna().mean(), abs=1e-12
    )
    assert columns["color"]["missing_fraction"] > 0


@pytest.mark.parametrize("column", ["x", "k"])
def test_numeric_moments_equal_numpy(
    profile: dict[str, Any], frame: pd.DataFrame, column: str
) -> None:
    info = profile["columns"][column]
    v = _finite(frame[column])
    assert (info["kind"], info["family"]) == ("numeric", "numeric")
    assert (info["min"], info["max"]) == (v.min(), v.max())
    assert info["mean"] == pytest.approx(v.mean(), abs=1e-9)
    assert info["var"] == pytest.approx(v.var(ddof=1), abs=1e-9)


def test_category_counts_equal_pandas_value_counts(
    profile: dict[str, Any], frame: pd.DataFrame
) -> None:
    expected = frame["color"].value_counts().to_dict()
    assert profile["categories"]["color"] == expected
    assert set(expected) == {"red", "green", "blue", "teal"}
    assert profile["columns"]["color"]["family"] == "string"


def test_max_categories_keeps_the_most_frequent_values_ties_by_value(tmp_path: Path) -> None:
    """Beyond ``max_categories`` values, the most frequent are kept, in that order, ties
    broken by the value (as ``ORDER BY n DESC, value``); the rest are pooled as other,
    overall and in each cohort value's baseline."""
    table, spec = _reference()
    n = table.num_rows
    sizes = {"m": 60, "b": 40, "a": 40, "zz": 40, "é": 20}  # ties: a, b, zz
    shade = [v for v, k in sizes.items() for _ in range(k)]
    shade += [None] * (n - len(shade))
    table = table.append_column("shade", pa.array(shade, type=pa.string()))
    table = table.append_column("half", pa.array(["x", "y"] * (n // 2), type=pa.string()))
    spec["features"]["categorical"] = ["color", "shade"]
    spec["cohorts"] = ["half"]
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        mon.log_reference(table, fit=False)
        prof = mon.fit_profile(max_categories=3).to_dict()
    assert list(prof["categories"]["shade"].items()) == [("m", 60), ("a", 40), ("b", 40)]
    assert prof["columns"]["shade"]["other"] == 60
    frame = table.to_pandas()
    for value in ("x", "y"):
        rows = frame[frame["half"] == value]
        counts = rows["shade"].value_counts()
        baseline = prof["cohorts"]["half"][value]
        assert baseline["categories"]["shade"] == {v: int(counts[v]) for v in ("m", "a", "b")}
        assert baseline["columns"]["shade"]["other"] == int(counts[["zz", "é"]].sum())


def test_predicted_mix_equals_pandas_counts(profile: dict[str, Any], frame: pd.DataFrame) -> None:
    counts = frame["pred"].value_counts()
    expected = {c: int(counts.get(c, 0)) for c in CLASSES}
    assert profile["predicted_mix"] == expected
    assert expected["d"] == 0
    assert sum(expected.values()) == N


def test_class_prior_equals_pandas_counts(profile: dict[str, Any], frame: pd.DataFrame) -> None:
    counts = frame["label"].value_counts()
    assert profile["class_prior"] == {c: int(counts.get(c, 0)) for c in CLASSES}


def test_confidence_equals_numpy(profile: dict[str, Any], frame: pd.DataFrame) -> None:
    conf = frame[[f"score_{c}" for c in CLASSES]].to_numpy().max(axis=1)
    info = profile["confidence"]
    assert info["n"] == N
    assert info["mean"] == pytest.approx(conf.mean(), abs=1e-9)
    assert info["var"] == pytest.approx(conf.var(ddof=1), abs=1e-9)
    assert (info["min"], info["max"]) == (conf.min(), conf.max())
    edges = info["edges"]
    assert all(b > a for a, b in itertools.pairwise(edges))
    assert sum(info["counts"]) == N
    assert info["counts"] == _counts_on(conf, edges)


def test_profile_loads_back_equal(
    fitted: tuple[Monitor, pa.Table], profile: dict[str, Any]
) -> None:
    monitor, _ = fitted
    loaded = Profile.load(monitor.profile_path, monitor.spec)
    assert loaded.to_dict() == json.loads(json.dumps(profile))
    assert loaded.ranges()["x"] == (profile["columns"]["x"]["min"], profile["columns"]["x"]["max"])


def test_list_scores_give_the_same_confidence(
    tmp_path: Path, fitted: tuple[Monitor, pa.Table], profile: dict[str, Any]
) -> None:
    _, table = fitted
    score_cols = [f"score_{c}" for c in CLASSES]
    probs = np.column_stack([table[c].to_numpy() for c in score_cols])
    as_list = table.drop_columns(score_cols).append_column(
        "probs", pa.array([list(row) for row in probs])
    )
    _, spec = _reference()
    spec["scores"] = {"column": "probs", "classes": CLASSES}
    with driftline.connect(tmp_path / "list.duckdb", spec) as monitor:
        monitor.log_reference(as_list)
        conf = monitor.profile.to_dict()["confidence"]
    for key in ("n", "min", "max", "edges", "counts"):
        assert conf[key] == profile["confidence"][key], key
    assert conf["mean"] == pytest.approx(profile["confidence"]["mean"], abs=1e-12)
    assert conf["var"] == pytest.approx(profile["confidence"]["var"], abs=1e-12)


# -- errors -------------------------------------------------------------------------------------
def test_profile_fitted_on_another_spec_is_refused(fitted: tuple[Monitor, pa.Table]) -> None:
    monitor, _ = fitted
    _, spec = _reference()
    other = load_spec({**spec, "features": {"numeric": ["x"], "categorical": ["color"]}})
    with pytest.raises(ProfileError) as info:
        Profile.load(monitor.profile_path, other)
    msg = str(info.value)
    assert f"profile {str(monitor.profile_path)!r} was fitted on a different spec" in msg
    assert monitor.spec.fingerprint() in msg
    assert other.fingerprint() in msg
    assert "Refit it with `driftline fit`" in msg


def test_window_change_keeps_the_profile_valid(fitted: tuple[Monitor, pa.Table]) -> None:
    monitor, _ = fitted
    _, spec = _reference()
    loaded = Profile.load(monitor.profile_path, load_spec({**spec, "window": "1h"}))
    assert loaded.n_rows_ == N


def test_unfitted_profile_raises_not_fitted(fitted: tuple[Monitor, pa.Table]) -> None:
    profile = Profile(fitted[0].spec)
    with pytest.raises(NotFittedError) as info:
        profile.to_dict()
    assert "this Profile is not fitted yet; call fit(engine, reference) first" in str(info.value)
    with pytest.raises(NotFittedError, match="call fit"):
        profile.ranges()


def test_missing_profile_file_names_the_fix(tmp_path: Path) -> None:
    _, spec = _reference()
    path = tmp_path / "nowhere.profile.json"
    with pytest.raises(ProfileError) as info:
        Profile.load(path, load_spec(spec))
    msg = str(info.value)
    assert f"no profile at {str(path)!r}" in msg
    assert "Monitor.log_reference(df)" in msg


def test_monitor_without_reference_names_the_fix(tmp_path: Path) -> None:
    _, spec = _reference()
    with driftline.connect(tmp_path / "empty.duckdb", spec) as monitor:
        with pytest.raises(ProfileError, match=r"no profile at .*log_reference"):
            _ = monitor.profile
        with pytest.raises(ProfileError, match="no reference named 'reference'"):
            monitor.fit_profile()


def test_profile_that_is_not_json_is_refused(tmp_path: Path) -> None:
    _, spec = _reference()
    path = tmp_path / "bad.profile.json"
    path.write_text("{not json")
    with pytest.raises(ProfileError, match="is not valid JSON"):
        Profile.load(path, load_spec(spec))


def test_profile_of_another_version_is_refused(
    tmp_path: Path, fitted: tuple[Monitor, pa.Table], profile: dict[str, Any]
) -> None:
    path = tmp_path / "old.profile.json"
    path.write_text(json.dumps({**profile, "version": 0}))
    with pytest.raises(ProfileError, match=r"has version 0; .* Refit it"):
        Profile.load(path, fitted[0].spec)


def test_profile_missing_fields_is_a_clear_error(tmp_path: Path, make_spec: Any) -> None:
    spec = load_spec(make_spec())
    path = tmp_path / "old.profile.json"
    path.write_text(
        json.dumps({"version": 1, "spec_fingerprint": spec.fingerprint(), "params": {}})
    )
    with pytest.raises(ProfileError, match=r"lacks n_rows.*driftline fit"):
        Profile.load(path, spec)


def test_infinite_reference_values_are_counted_apart(tmp_path: Path) -> None:
    """+-inf in a reference column is a value, not missing, and nothing moments, ranges or
    quantiles can be taken of: it gets its own share, and the rest stays finite."""
    table, spec = _reference()
    x = table.column("x").to_numpy(zero_copy_only=False).copy()
    x[[30, 31, 32]] = np.inf
    x[40] = -np.inf
    valid = table.column("x").is_valid().to_numpy(zero_copy_only=False)
    table = table.set_column(
        table.schema.get_field_index("x"), "x", pa.array(x, mask=~valid, from_pandas=False)
    )
    spec_path = load_spec(spec).save(tmp_path / "driftline.yaml")
    with driftline.connect(tmp_path / "store.duckdb", spec_path) as monitor:
        monitor.log_reference(table)
        prof = monitor.profile.to_dict()
    info = prof["columns"]["x"]
    finite = x[valid & np.isfinite(x)]
    assert info["non_finite_fraction"] == 4 / N
    assert info["missing_fraction"] == (9 + 11) / N  # NaN and null, as before
    assert (info["min"], info["max"]) == (finite.min(), finite.max())
    assert info["mean"] == pytest.approx(finite.mean(), abs=1e-9)
    assert info["var"] == pytest.approx(finite.var(ddof=1), abs=1e-9)
    edges = prof["bin_edges"]["x"]
    assert all(np.isfinite(edges))
    assert edges == pytest.approx(_expected_edges(finite, BINS), rel=1e-9)
    assert sum(prof["bin_counts"]["x"]) == finite.size
    assert prof["columns"]["k"]["non_finite_fraction"] == 0.0


@pytest.mark.parametrize("threads", [1, 4])
def test_quantiles_equal_the_engines_continuous_quantile_bit_for_bit(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edges' quantiles, taken in numpy, are DuckDB's ``quantile_cont`` exactly,
    whether the columns are sorted on one thread or several."""
    import duckdb

    from driftline import profile

    monkeypatch.setattr(profile, "_FIT_THREADS", threads)

    from driftline.engine import DuckDBEngine
    from driftline.profile import _quantiles

    rng = np.random.default_rng(7)
    data = {
        "normal": rng.normal(3.0, 2.0, 997),
        "ties": rng.integers(0, 4, 997).astype(float),
        "tiny": np.array([1e-300, 2.5, -7.0] + [np.nan] * 994),
    }
    table = pa.table({k: pa.array(v, from_pandas=True) for k, v in data.items()})
    con = duckdb.connect()
    con.register("t", table)
    engine = DuckDBEngine.from_connection(con)
    qs = [k / 7 for k in range(1, 7)]
    t = engine.table("t")
    got, _, _ = _quantiles(engine, t, {c: t[c] for c in data}, dict.fromkeys(data, qs), 997)
    for name in data:
        (expected,) = con.execute(f"SELECT quantile_cont({name}, {qs}) FROM t").fetchone()
        assert got[name] == expected, name


@pytest.mark.parametrize(("native", "threads"), [(False, 1), (True, 1), (True, 4)])
def test_bin_counts_from_the_fetched_values_equal_the_engines_histograms(
    native: bool, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fit counts each source's bins from the values it fetches for the quantiles,
    overall and per cohort value; the counts are the engine's histogram counts on the same
    edges, of all rows and of each value's rows (values on an edge, ties, integers, a
    constant column, the maximum in the closed last bin, nulls, a value whose rows are
    all null), on one thread or several."""
    import duckdb
    import ibis

    from driftline import profile

    monkeypatch.setattr(profile, "_FIT_THREADS", threads)

    from driftline.engine import DuckDBEngine
    from driftline.engine.records import read_histograms
    from driftline.engine.summaries import bin_counts
    from driftline.profile import _edges, _quantiles

    rng = np.random.default_rng(11)
    n = 5003
    data = {
        "normal": rng.normal(3.0, 2.0, n),
        "ties": rng.integers(0, 4, n).astype(float),
        "ints": rng.poisson(3.0, n),
        "constant": np.full(n, 2.5),
        "skewed": np.round(rng.lognormal(0.0, 2.0, n), 2),
    }
    region = rng.choice(["north", "south", "east"], n).astype(object)
    data["normal"][region == "east"] = np.nan  # east: no value of this source
    data["skewed"][:40] = np.nan
    con = duckdb.connect()
    con.register("t", pa.table({**data, "region": region}))
    engine = DuckDBEngine.from_connection(con)
    t = engine.table("t")
    qs = [k / 10 for k in range(1, 10)]
    edges: dict[str, list[float]] = {}

    def edges_of(name: str, quantiles: list[float]) -> list[float]:
        lo, hi = float(np.nanmin(data[name])), float(np.nanmax(data[name]))
        edges[name] = _edges(quantiles, lo, hi)
        return edges[name]

    # NaN is missing, as the fit's finite values have it
    columns = {
        c: ibis.ifelse(t[c].cast("float64").isnan(), ibis.null("float64"), t[c].cast("float64"))
        for c in data
    }
    wanted = dict.fromkeys(data, qs)
    key = {"key": t.region.cast("string")}
    _, got, by_group = _quantiles(engine, t, columns, wanted, n, edges_of, key)
    expected = read_histograms(engine.run(bin_counts(t, edges, native=native)), edges)[0]
    for name in data:
        assert got[name] == expected[name][1:-1], name
    assert sum(got["ties"]) == n
    assert sorted(by_group) == [("key", v) for v in ("east", "north", "south")]
    for (_, value), found in by_group.items():
        part = t.filter(t.region == value)
        counted = read_histograms(engine.run(bin_counts(part, edges, native=native)), edges)[0]
        for name in data:
            assert found[name] == counted[name][1:-1], (value, name)
    assert sum(by_group[("key", "east")]["normal"]) == 0


def test_features_named_like_the_fits_own_columns_are_profiled_as_themselves(
    tmp_path: Path,
    make_spec: Any,
    make_predictions: Any,
) -> None:
    """The fit adds the confidence and a row key to the reference; a user's features
    named ``_conf_`` or ``_rk`` (the names it used to add) keep their own statistics."""
    ref = make_predictions(500, seed=3, id_prefix="ref")
    ref["_conf_"] = np.linspace(100.0, 200.0, len(ref))
    ref["_rk"] = np.arange(len(ref)) * 2.0
    spec = make_spec(features={"numeric": ["x", "_conf_", "_rk"], "text": []})
    with driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json") as mon:
        mon.log_reference(ref)
        prof = mon.profile
    assert prof.columns_["_conf_"]["min"] == 100.0
    assert prof.columns_["_conf_"]["max"] == 200.0
    assert prof.columns_["_rk"]["mean"] == pytest.approx(ref["_rk"].mean())
    scores = ref[["score_a", "score_b", "score_c"]].max(axis=1)
    assert prof.confidence_["mean"] == pytest.approx(scores.mean())


def test_overall_moments_merged_from_cohort_values_equal_the_scanned_ones(
    tmp_path: Path,
) -> None:
    """With a cohort column, the overall moments are merged from its values' instead of
    scanned again: the same counts, ranges and shares, and the same means and variances
    (numpy's, and a fit without the cohort's) up to rounding, whatever the values hold -
    a null cohort value, one whose ``x`` is all null, one of a single row, +-inf."""
    table, spec = _reference()
    x = table.column("x").to_numpy(zero_copy_only=False).copy()
    x[[30, 31]] = np.inf
    x[40] = -np.inf
    valid = table.column("x").is_valid().to_numpy(zero_copy_only=False)
    segment = np.array(["north", "south", "east"], dtype=object)[np.arange(N) % 3]
    segment[50:60] = None  # a null cohort value: rows of their own group
    segment[[70, 80, 90]] = "empty"
    valid[[70, 80, 90]] = False  # ... whose x is all null
    segment[100] = "single"  # one row
    table = table.set_column(
        table.schema.get_field_index("x"), "x", pa.array(x, mask=~valid, from_pandas=False)
    ).append_column("segment", pa.array(segment, type=pa.string()))
    profiles = {}
    for name, cohorts in (("merged", ["segment"]), ("scanned", [])):
        path = tmp_path / name
        path.mkdir()
        spec_path = load_spec({**spec, "cohorts": cohorts}).save(path / "driftline.yaml")
        with driftline.connect(path / "store.duckdb", spec_path) as monitor:
            monitor.log_reference(table)
            profiles[name] = monitor.profile.to_dict()
    merged, scanned = profiles["merged"], profiles["scanned"]
    assert merged["cohorts"]["segment"].keys() >= {"north", "empty", "single"}
    finite = x[valid & np.isfinite(x)]
    for col in ("x", "k"):
        got, want = merged["columns"][col], scanned["columns"][col]
        for key in ("min", "max", "missing_fraction", "non_finite_fraction", "kind", "family"):
            assert got[key] == want[key], (col, key)
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-12)
        assert got["var"] == pytest.approx(want["var"], rel=1e-12)
    info = merged["columns"]["x"]
    assert info["non_finite_fraction"] == 3 / N
    assert (info["min"], info["max"]) == (finite.min(), finite.max())
    assert info["mean"] == pytest.approx(finite.mean(), rel=1e-12)
    assert info["var"] == pytest.approx(finite.var(ddof=1), rel=1e-12)
    for key in ("n", "min", "max", "edges", "counts"):
        assert merged["confidence"][key] == scanned["confidence"][key], key
    assert merged["confidence"]["mean"] == pytest.approx(scanned["confidence"]["mean"], rel=1e-12)
    assert merged["confidence"]["var"] == pytest.approx(scanned["confidence"]["var"], rel=1e-12)
    assert merged["bin_edges"] == scanned["bin_edges"]
    assert merged["bin_counts"] == scanned["bin_counts"]
