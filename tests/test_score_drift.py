"""score_drift: each class's score distribution, per window and scope, against the
reference's: the profile's score bins against numpy, the statistic against scipy, the
baseline a cohort value is judged against, and the edges (a class with no score in a
window, one-row windows, a profile fitted before score drift, Spark)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

import driftline
from driftline.checks import CHECKS, DRIFT_CHECKS, CheckReport, run_checks
from driftline.engine import SparkEngine
from driftline.engine.scores import score_builders
from driftline.errors import ProfileError
from driftline.methods.psi import EPSILON
from driftline.profile import Profile
from driftline.report import render_report
from driftline.spec import load_spec

CLASSES = ("a", "b", "c")
SpecFactory = Any
PredictionsFactory = Any


def _shifted(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` whose scores are sharper: the same predicted class, other score shapes."""
    probs = df[[f"score_{c}" for c in CLASSES]].to_numpy() ** 3
    probs /= probs.sum(axis=1, keepdims=True)
    out = df.copy()
    for j, c in enumerate(CLASSES):
        out[f"score_{c}"] = probs[:, j]
    return out


def _monitor(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    *,
    method: str = "psi",
    list_scores: bool = False,
    **checks: Any,
) -> Any:
    spec = make_spec(list_scores=list_scores, drift={"numeric": method}, checks=checks)
    mon = driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json")
    mon.log_reference(make_predictions(2000, seed=7, id_prefix="ref", list_scores=list_scores))
    return mon


def _days(make_predictions: PredictionsFactory, list_scores: bool = False) -> list[pd.DataFrame]:
    """Three days of 400 rows each; on the third, the scores sharpen."""
    days = [
        make_predictions(
            400, seed=20 + d, id_prefix=f"d{d}-", start=f"2024-03-0{d + 1}", list_scores=False
        )
        for d in range(3)
    ]
    for d in days:  # all of a day's rows in that day
        d["ts"] = pd.Timestamp(d["ts"].iloc[0].date(), tz="UTC") + pd.to_timedelta(
            np.arange(len(d)) * 200, unit="s"
        )
    days[2] = _shifted(days[2])
    if list_scores:
        cols = [f"score_{c}" for c in CLASSES]
        for i, d in enumerate(days):
            d["probs"] = [list(row) for row in d[cols].to_numpy()]
            days[i] = d.drop(columns=cols)
    return days


def _bins(x: npt.NDArray[np.float64], edges: list[float]) -> list[int]:
    """Counts as driftline bins: below the edges, ``[e_i, e_i+1)`` (the last bin closed),
    above. The inner bins are numpy's histogram on the same edges."""
    e = np.asarray(edges)
    inside = x[(x >= e[0]) & (x <= e[-1])]
    counts = np.histogram(inside, bins=e)[0].tolist()
    return [int((x < e[0]).sum()), *counts, int((x > e[-1]).sum())]


def _scipy_value(method: str, ref: list[float], cur: list[int]) -> float:
    p = np.asarray(ref, dtype=float) / sum(ref)
    q = np.asarray(cur, dtype=float) / sum(cur)
    if method == "jensen_shannon":
        return float(jensenshannon(p, q, base=2))
    k = len(p)  # psi: proportions smoothed by EPSILON, renormalised
    p, q = (p + EPSILON) / (1 + k * EPSILON), (q + EPSILON) / (1 + k * EPSILON)
    return float(entropy(q, p) + entropy(p, q))


# -- the profile ----------------------------------------------------------------------------
@pytest.mark.parametrize("list_scores", [False, True], ids=["columns", "list"])
def test_profile_bins_each_class_score_as_numpy(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    list_scores: bool,
) -> None:
    """Each class's score is a source of the profile: edges from the reference's min to
    max, counts equal to numpy's histogram on them, overall and per cohort value."""
    with _monitor(tmp_path, make_spec, make_predictions, list_scores=list_scores) as mon:
        prof = mon.profile
    ref = make_predictions(2000, seed=7, id_prefix="ref")
    assert list(prof.scores_) == [f"score:{c}" for c in CLASSES]
    for c in CLASSES:
        name, x = f"score:{c}", ref[f"score_{c}"].to_numpy()
        edges = prof.bin_edges_[name]
        assert (edges[0], edges[-1]) == (x.min(), x.max())
        assert len(edges) == 21  # spec.drift.bins quantile bins: the scores have no ties
        assert prof.bin_counts_[name] == np.histogram(x, bins=edges)[0].tolist()
        assert prof.scores_[name]["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert prof.scores_[name]["var"] == pytest.approx(x.var(ddof=1), rel=1e-9)
        for value in ("north", "south"):
            own = prof.cohort_baseline("segment", value).profile
            assert own is not None
            mine = x[(ref["segment"] == value).to_numpy()]
            assert own.bin_counts_[name] == np.histogram(mine, bins=edges)[0].tolist()
            assert own.scores_[name]["mean"] == pytest.approx(mine.mean(), rel=1e-12)


def test_a_binary_model_has_one_score_source_of_its_positive_class(tmp_path: Path) -> None:
    """A binary probability p: the negative class's 1 - p mirrors it, so one source."""
    rng = np.random.default_rng(3)
    n = 500
    p = rng.beta(2.0, 2.0, n)
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.date_range("2024-01-01", periods=n, freq="10min", tz="UTC"),
            "proba": p,
            "pred": (p > 0.5).astype(int),
        }
    )
    spec: dict[str, Any] = {
        "prediction": "pred",
        "timestamp": "ts",
        "scores": {"column": "proba", "positive": 1, "negative": 0},
    }
    assert list(score_builders(load_spec(spec))) == ["score:1"]
    with driftline.connect(tmp_path / "b.duckdb", spec) as mon:
        mon.log_reference(df)
        assert list(mon.profile.scores_) == ["score:1"]
        edges = mon.profile.bin_edges_["score:1"]
        assert mon.profile.bin_counts_["score:1"] == np.histogram(p, bins=edges)[0].tolist()
        mon.log_predictions(df.assign(id=df["id"] + n, ts=df["ts"] + pd.Timedelta(days=5)))
        report = mon.check(persist=False)
    assert {r.column for r in report.results_for("score_drift")} == {"score:1"}


# -- the statistic ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["psi", "jensen_shannon"])
def test_score_drift_counts_and_value_equal_numpy_and_scipy(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory, method: str
) -> None:
    """Per window and class, overall: the window's counts on the reference's edges (with
    a bin below and above) equal numpy's; the value equals scipy's on the reference
    counts (plus the outer bins' pseudo-count of 1) and those; the sharpened day alerts."""
    days = _days(make_predictions)
    with _monitor(tmp_path, make_spec, make_predictions, method=method) as mon:
        for d in days:
            mon.log_predictions(d)
        report = mon.check(persist=False)
        prof = mon.profile
    overall = [r for r in report.results_for("score_drift") if r.cohort is None]
    assert len(overall) == 3 * len(CLASSES)
    for r in overall:
        day = days[int(r.window_start[8:10]) - 1]
        name = r.column
        assert name is not None
        assert name.startswith("score:")
        x = day[f"score_{name.removeprefix('score:')}"].to_numpy()
        edges = prof.bin_edges_[name]
        assert r.details["current"] == _bins(x, edges)
        assert (r.method, r.details["kind"], r.details["class"]) == (method, "score", name[6:])
        ref = [1, *prof.bin_counts_[name], 1]
        assert r.value == pytest.approx(_scipy_value(method, ref, r.details["current"]), rel=1e-9)
        assert r.bound is not None
        assert r.bound > 0
    sharp = {r.column: r.status for r in overall if r.window_start.startswith("2024-03-03")}
    assert set(sharp.values()) == {"alert"}, sharp
    calm = [r.status for r in overall if not r.window_start.startswith("2024-03-03")]
    assert set(calm) == {"ok"}
    # the class mix did not move: the sharpened scores keep each row's predicted class
    mix = [r for r in report.results_for("class_mix") if r.cohort is None]
    assert {r.status for r in mix} == {"ok"}
    assert "score_drift" in CHECKS
    assert "score_drift" in DRIFT_CHECKS
    drifted = next(d for d in report.drift if d["window_start"].startswith("2024-03-03"))
    assert drifted["cohort"] is None
    assert {t["column"] for t in drifted["top"][:3]} == {f"score:{c}" for c in CLASSES}


@pytest.mark.parametrize(("least", "kind"), [(200, "own"), (5000, "few_rows")])
def test_a_cohort_value_is_judged_against_its_own_scores_or_the_overall_ones(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    least: int,
    kind: str,
) -> None:
    """Each segment has about 1,000 reference rows: its own score baseline by default;
    with checks.cohort_baseline_min_rows above that, the overall one (and a
    cohort_baseline result saying so)."""
    days = _days(make_predictions)
    with _monitor(tmp_path, make_spec, make_predictions, cohort_baseline_min_rows=least) as mon:
        for d in days:
            mon.log_predictions(d)
        report = mon.check(persist=False)
        prof = mon.profile
    seen = 0
    for r in report.results_for("score_drift"):
        if r.cohort is None:
            continue
        baseline = prof.cohort_baseline("segment", str(r.cohort_value), least)
        assert baseline.kind == kind
        judged = prof if baseline.profile is None else baseline.profile
        assert r.column is not None
        ref = [1, *judged.bin_counts_[r.column], 1]
        assert r.value == pytest.approx(_scipy_value("psi", ref, r.details["current"]), rel=1e-9)
        seen += 1
    assert seen == 3 * 2 * len(CLASSES)
    fallbacks = {r.details["kind"] for r in report.results_for("cohort_baseline")}
    assert fallbacks == (set() if kind == "own" else {"few_rows"})


# -- edges ------------------------------------------------------------------------------------
def test_a_class_without_a_score_in_a_window_is_insufficient(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """A table read straight from the engine (the store refuses null scores) whose third
    day has no score of class c: score:c is insufficient there, saying why; the other
    classes are decided."""
    with _monitor(tmp_path, make_spec, make_predictions) as mon:
        for d in _days(make_predictions):
            mon.log_predictions(d)
        mon.store.con.execute(
            "CREATE VIEW no_c AS SELECT * REPLACE (CASE WHEN ts >= TIMESTAMP '2024-03-03' "
            "THEN NULL ELSE score_c END AS score_c) FROM predictions"
        )
        report = run_checks(mon.engine, mon.engine.table("no_c"), mon.spec, mon.profile)
    day3 = [r for r in report.results_for("score_drift") if r.window_start.startswith("2024-03-03")]
    by = {(r.cohort_value, r.column): r for r in day3}
    assert len(by) == 3 * len(CLASSES)
    for (_, column), r in by.items():
        if column == "score:c":
            assert (r.status, r.value, r.n) == ("insufficient", None, 0)
            assert r.bound_how == "0 non-missing values < checks.min_rows 30"
        else:
            assert r.status in ("ok", "warn", "alert")
            assert r.n > 0


@pytest.mark.parametrize("min_rows", [1, 30])
def test_one_row_windows(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory, min_rows: int
) -> None:
    """One-row windows: below checks.min_rows no drift check is decided, score_drift
    like feature_drift; at min_rows 1 each class's score is, against a bound calibrated
    at one row."""
    spec = make_spec(window="1 rows", checks={"min_rows": min_rows})
    with driftline.connect(tmp_path / "o.duckdb", spec) as mon:
        mon.log_reference(make_predictions(500, seed=7, id_prefix="ref"))
        mon.log_predictions(make_predictions(4, seed=8, id_prefix="one"))
        report = mon.check(persist=False)
    scores = [r for r in report.results_for("score_drift") if r.cohort is None]
    features = [r for r in report.results_for("feature_drift") if r.cohort is None]
    if min_rows > 1:
        assert scores == []
        assert features == []
        return
    assert len(scores) == 4 * len(CLASSES)
    for r in scores:
        assert r.n == 1
        assert sum(r.details["current"]) == 1
        assert r.value is not None
        assert r.bound is not None
        assert r.status in ("ok", "warn", "alert")


def test_a_profile_fitted_before_score_drift_raises_no_score_drift(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """A version-2 profile (no score sources) still loads and checks; it raises no
    score_drift result until it is refitted."""
    with _monitor(tmp_path, make_spec, make_predictions) as mon:
        for d in _days(make_predictions):
            mon.log_predictions(d)
        old = json.loads(json.dumps(mon.profile.to_dict()))
        names = set(old.pop("scores"))
        old["version"] = 2
        for section in (old, *(b for v in old["cohorts"].values() for b in v.values())):
            section.pop("scores", None)
            for key in ("bin_edges", "bin_counts"):
                if key in section:
                    section[key] = {k: v for k, v in section[key].items() if k not in names}
        prof = Profile.from_dict(old, mon.spec)
        assert prof.scores_ == {}
        report = run_checks(mon.engine, mon.engine.table("predictions"), mon.spec, prof)
    assert report.results_for("score_drift") == []
    assert report.results_for("feature_drift")


def _report_dicts(report: CheckReport) -> list[dict[str, Any]]:
    return [asdict(r) for r in report.results_for("score_drift")]


@pytest.mark.spark
def test_list_scores_on_spark_equal_duckdb(
    spark: Any, tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """One list column of scores: the profile's score bins and the score_drift results
    on Spark equal DuckDB's (an element of a list, by index, on both)."""
    with _monitor(tmp_path, make_spec, make_predictions, list_scores=True) as mon:
        for d in _days(make_predictions, list_scores=True):
            mon.log_predictions(d)
        duck = mon.check(persist=False)
        duck_profile = mon.profile
        spec = mon.spec
        reference = mon.store.con.execute("SELECT * FROM reference_reference").to_arrow_table()
        sql = "SELECT * REPLACE (CAST(_raw AS VARCHAR) AS _raw) FROM predictions"
        stored = mon.store.con.execute(sql).to_arrow_table()
    spark.createDataFrame(reference).createOrReplaceTempView("score_reference")
    spark.createDataFrame(stored).createOrReplaceTempView("score_predictions")
    engine = SparkEngine(spark)
    fitted = Profile(spec).fit(engine, engine.table("score_reference"), None)
    for name in duck_profile.scores_:
        assert fitted.bin_edges_[name] == duck_profile.bin_edges_[name]
        assert fitted.bin_counts_[name] == duck_profile.bin_counts_[name]
    got = run_checks(engine, engine.table("score_predictions"), spec, duck_profile)
    want, have = _report_dicts(duck), _report_dicts(got)
    assert len(want) == 3 * 3 * len(CLASSES)
    assert [(r["window"], r["cohort_value"], r["column"]) for r in have] == [
        (r["window"], r["cohort_value"], r["column"]) for r in want
    ]
    for g, w in zip(have, want, strict=True):
        assert (g["status"], g["n"], g["details"]["current"]) == (
            w["status"],
            w["n"],
            w["details"]["current"],
        )
        assert g["value"] == pytest.approx(w["value"], rel=1e-9)


def test_a_feature_named_like_a_score_source_keeps_its_name(
    tmp_path: Path, make_spec: SpecFactory, make_predictions: PredictionsFactory
) -> None:
    """A numeric feature called ``score:a`` is binned as the feature it is; class a then
    has no score source (b and c do), rather than two sources sharing one name."""
    spec = make_spec(features={"numeric": ["x", "score:a"], "categorical": ["color"]}, window="30d")
    ref = make_predictions(1000, seed=7, id_prefix="ref")
    ref["score:a"] = np.linspace(100.0, 200.0, len(ref))
    with driftline.connect(tmp_path / "n.duckdb", spec) as mon:
        mon.log_reference(ref)
        prof = mon.profile
        now = make_predictions(300, seed=8, id_prefix="now", start="2024-02-01")
        mon.log_predictions(now.assign(**{"score:a": np.linspace(100.0, 200.0, len(now))}))
        report = mon.check(persist=False)
    assert list(prof.scores_) == ["score:b", "score:c"]
    assert prof.bin_edges_["score:a"][0] == 100.0
    assert prof.bin_edges_["score:a"][-1] == 200.0
    overall = [r for r in report.results if r.cohort is None and r.column == "score:a"]
    assert {r.check for r in overall} >= {"feature_drift"}
    assert "score_drift" not in {r.check for r in overall}
    assert {r.column for r in report.results_for("score_drift")} == {"score:b", "score:c"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(scores=[]), "scores is a JSON list, expected an object"),
        (
            lambda d: d["scores"]["score:a"].update(mean=float("nan")),
            "mean of score source 'score:a' of the profile is 'nan'",
        ),
        (
            lambda d: d["cohorts"]["segment"]["north"]["scores"].update({"score:a": 1}),
            "score source 'score:a' of the baseline of 'segment' = 'north' is '1'",
        ),
    ],
    ids=["not an object", "not finite", "baseline entry"],
)
def test_a_damaged_score_section_is_refused(
    tmp_path: Path,
    make_spec: SpecFactory,
    make_predictions: PredictionsFactory,
    edit: Any,
    message: str,
) -> None:
    with _monitor(tmp_path, make_spec, make_predictions) as mon:
        data = json.loads(json.dumps(mon.profile.to_dict()))
        spec = mon.spec
    edit(data)
    with pytest.raises(ProfileError, match="refit it") as caught:
        Profile.from_dict(data, spec)
    assert message in str(caught.value)


ODD_CLASSES = ("a'b", "é 😀", "x,y", "<b>", "score:c")


def _odd_rows(n: int, seed: int, start: str, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(len(ODD_CLASSES)), size=n)
    df = pd.DataFrame({f"p{j}": probs[:, j] for j in range(len(ODD_CLASSES))})
    df.insert(0, "id", [f"{prefix}{i}" for i in range(n)])
    df.insert(1, "ts", pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n), unit="min"))
    df["pred"] = [ODD_CLASSES[j] for j in probs.argmax(axis=1)]
    df["x"] = rng.normal(size=n)
    df["region"] = rng.choice(["eu", "us"], size=n)
    return df


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_odd_class_names_get_their_score_drift_on_both_engines(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    """Class names with quotes, commas, markup, non-ASCII and the score prefix itself
    each get a score source and a score_drift result per window and scope, the same on
    Spark as on DuckDB."""
    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": {"columns": {c: f"p{j}" for j, c in enumerate(ODD_CLASSES)}},
        "features": {"numeric": ["x"]},
        "cohorts": ["region"],
        "window": "1d",
    }
    with driftline.connect(tmp_path / "s.duckdb", spec, profile=tmp_path / "p.json") as mon:
        mon.log_reference(_odd_rows(3000, 1, "2024-01-01", "r"))
        mon.log_predictions(_odd_rows(1440, 2, "2024-02-01", "a"))
        mon.log_predictions(_odd_rows(1440, 3, "2024-02-02", "b"))
        duck = mon.check(persist=False)
        profile, spec_model = mon.profile, mon.spec
        sql = "SELECT * REPLACE (CAST(_raw AS VARCHAR) AS _raw) FROM predictions"
        stored = mon.store.con.execute(sql).to_arrow_table()
    assert sorted(profile.scores_) == sorted(f"score:{c}" for c in ODD_CLASSES)
    results = [r for r in duck.results if r.check == "score_drift"]
    assert len(results) == 2 * 3 * len(ODD_CLASSES)  # windows x scopes x classes
    assert {r.column for r in results} == set(profile.scores_)
    assert all(r.status in ("ok", "warn") for r in results)
    page = render_report(duck, tmp_path / "r.html").read_text(encoding="utf-8")
    # logged class names are data, never markup: in the page's embedded JSON, escaped
    assert "score:<b>" not in page
    assert "score:\\u003cb\\u003e" in page
    if engine == "spark":
        spark = request.getfixturevalue("spark")
        spark.createDataFrame(stored).createOrReplaceTempView("odd_score_predictions")
        se = SparkEngine(spark)
        got = run_checks(se, se.table("odd_score_predictions"), spec_model, profile)
        have = [r for r in got.results if r.check == "score_drift"]
        assert [(r.window, r.cohort_value, r.column, r.status, r.n) for r in have] == [
            (r.window, r.cohort_value, r.column, r.status, r.n) for r in results
        ]
        for g, w in zip(have, results, strict=True):
            assert g.value == pytest.approx(w.value, rel=1e-9)
