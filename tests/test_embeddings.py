"""Embeddings end to end: a real model's hidden layer (scikit-learn's digits, an MLP),
logged with its predictions into a DuckDB store; the 2-D projections against
scikit-learn's PCA; ``embedding_drift`` in ``check``, ``--json``, incidents and the
report; bad embeddings refused at ingest; edges (few rows, null cohort values, odd names,
older profiles)."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import driftline
from driftline.engine.embeddings import SAMPLE_SCHEMA, embedding_sample
from driftline.errors import IngestError, MissingExtraError, ProfileError

CLASSES = [str(k) for k in range(10)]
SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "label": "label",
    "scores": {"columns": {c: f"s{c}" for c in CLASSES}},
    "cohorts": ["region"],
    "embedding": "embedding",
    "window": "1d",
}


@dataclass
class Digits:
    x: np.ndarray
    y: np.ndarray
    holdout: np.ndarray
    model: MLPClassifier

    def embed(self, x: np.ndarray) -> np.ndarray:
        """The hidden layer's output: what the torch wrapper would hook."""
        out: np.ndarray = np.maximum(x @ self.model.coefs_[0] + self.model.intercepts_[0], 0)
        return out

    def frame(self, x: np.ndarray, ids: list[str], start: str, labels: Any = None) -> pd.DataFrame:
        p = self.model.predict_proba(x)
        rng = np.random.default_rng(len(ids))
        df = pd.DataFrame(
            {
                "id": ids,
                "ts": pd.date_range(start, periods=len(ids), freq="20s", tz="UTC"),
                "pred": [CLASSES[k] for k in p.argmax(axis=1)],
            }
        )
        for k, c in enumerate(CLASSES):
            df[f"s{c}"] = p[:, k]
        df["region"] = rng.choice(["eu", "us"], size=len(ids))
        df["embedding"] = list(self.embed(x))
        if labels is not None:
            df["label"] = [str(v) for v in labels]
        return df


@pytest.fixture(scope="module")
def digits() -> Digits:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    perm = np.random.default_rng(0).permutation(len(x))
    train, holdout = perm[:900], perm[900:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
        model.fit(x[train], y[train])
    return Digits(x, y, holdout, model)


def darken(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dimmer, noisier images (a camera whose exposure changed)."""
    out: np.ndarray = np.clip(x * 0.6 + rng.normal(0, 0.15, x.shape), 0, 1)
    return out


@dataclass
class Run:
    path: Path
    report: driftline.CheckReport
    day2: pd.DataFrame
    day3: pd.DataFrame


@pytest.fixture(scope="module")
def run(digits: Digits, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Reference: the labelled holdout; day 2: clean traffic; day 3: the images of
    class 3 darkened and noisier."""
    path = tmp_path_factory.mktemp("emb") / "store.duckdb"
    rng = np.random.default_rng(1)
    ho = digits.holdout
    ref = digits.frame(digits.x[ho], [f"r{i}" for i in ho], "2024-01-01", digits.y[ho])
    frames = []
    for day, shift in ((2, False), (3, True)):
        idx = rng.choice(len(digits.x), 1500)
        x = digits.x[idx].copy()
        if shift:
            three = digits.y[idx] == 3
            x[three] = darken(x[three], rng)
        ids = [f"d{day}-{i}" for i in range(len(idx))]
        frames.append(digits.frame(x, ids, f"2024-01-0{day}"))
    with driftline.connect(path, SPEC) as mon:
        mon.log_reference(ref)
        for f in frames:
            mon.log_predictions(f)
        report = mon.check()
    return Run(path, report, frames[0], frames[1])


def _embedding(report: driftline.CheckReport, day: str, cohort: str | None = None) -> list[Any]:
    return [
        r
        for r in report.results_for("embedding_drift")
        if r.window_start.startswith(day) and r.cohort == cohort
    ]


def test_the_shifted_class_is_flagged_and_the_clean_day_is_not(run: Run) -> None:
    clean = _embedding(run.report, "2024-01-02")
    assert clean
    assert all(r.status == "ok" for r in clean), [
        (r.column, r.status, r.value, r.bound) for r in clean if r.status != "ok"
    ]
    shifted = _embedding(run.report, "2024-01-03")
    alerted = {r.column for r in shifted if r.status == "alert"}
    assert "embedding:3" in alerted
    # the other classes stay inside their band (their images did not change)
    assert alerted <= {"embedding", "embedding:3"}, alerted
    three = next(r for r in shifted if r.column == "embedding:3")
    assert three.value > three.bound > three.details["null_mean"]
    assert three.details["mmd_p_value"] < 0.01
    pooled = next(r for r in shifted if r.column == "embedding")
    assert pooled.details["classes"][0]["class"] == "3"  # moved most
    # each cohort value is judged too: class 3 alerts in both regions
    for region in ("eu", "us"):
        by_region = {
            r.column: r.status
            for r in _embedding(run.report, "2024-01-03", "region")
            if r.cohort_value == region
        }
        assert by_region["embedding:3"] == "alert"


def test_alerts_reach_incidents_json_and_the_report(run: Run, tmp_path: Path) -> None:
    alerts = [a for a in run.report.alerts if a.check == "embedding_drift"]
    assert alerts
    members = {i for inc in run.report.incidents for i in inc.alerts}
    assert {a.id for a in alerts} <= members
    data = json.loads(run.report.to_json())
    assert any(r["check"] == "embedding_drift" for r in data["results"])
    view = data["embeddings"]
    assert view["column"] == "embedding"
    assert set(view["reference"]) == set(CLASSES)
    assert [w["window_start"][:10] for w in view["windows"]] == ["2024-01-02", "2024-01-03"]
    assert view["windows"][1]["status"]["3"] == "alert"
    html = driftline.render_report(run.report, tmp_path / "r.html").read_text()
    assert 'id="embeddings"' in html
    assert 'id="emb-chart-0"' in html


def test_the_view_of_windows_read_back_equals_the_view_of_a_full_check(
    run: Run, tmp_path: Path
) -> None:
    """A check with nothing new reads every window's results back: its 2-D view still
    has the latest windows' points, with their statuses read back, as a full check's."""
    path = tmp_path / "store.duckdb"
    shutil.copyfile(run.path, path)
    shutil.copyfile(run.path.with_suffix(".profile.json"), path.with_suffix(".profile.json"))
    with driftline.connect(path, SPEC) as mon:
        again = mon.check(persist=False)
        full = mon.check(persist=False, full=True)
    assert again.embeddings["windows"]
    assert again.embeddings == full.embeddings
    assert again.embeddings == json.loads(run.report.to_json())["embeddings"]
    assert again.embeddings["windows"][1]["status"]["3"] == "alert"


def test_projection_matches_sklearn_pca_on_the_same_sample(run: Run, digits: Digits) -> None:
    with driftline.connect(run.path, SPEC) as mon:
        view = mon.embeddings(since="2024-01-03")
    vectors = {
        str(i): np.asarray(v)
        for df in (run.day2, run.day3)
        for i, v in zip(df["id"], df["embedding"], strict=True)
    }
    ho = digits.holdout
    for i, e in zip(ho, digits.embed(digits.x[ho]), strict=True):
        vectors[f"r{i}"] = e
    ref = [p for p in view.points if p.source == "reference"]
    cur = [p for p in view.points if p.source == "serving"]
    assert ref
    assert cur
    assert all(p.window is not None and p.window >= 0 for p in cur)
    assert {p.id[:2] for p in cur} == {"d3"}  # since= keeps day 3 only
    pca = PCA(2, svd_solver="full").fit(np.stack([vectors[p.id] for p in ref]))
    theirs = pca.transform(np.stack([vectors[p.id] for p in cur]))
    ours = np.array([[p.x, p.y] for p in cur])
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(view.explained_variance, pca.explained_variance_, rtol=1e-9)
    # capped per class and window, the same rows on every call
    per_class = pd.Series([p.cls for p in cur]).value_counts()
    assert per_class.max() <= SPEC_CAP
    again = driftline.connect(run.path, SPEC)
    try:
        assert [p.id for p in again.embeddings(since="2024-01-03").points] == [
            p.id for p in view.points
        ]
    finally:
        again.close()


SPEC_CAP = 200  # embeddings.sample_cap's default


def test_projection_by_true_class_uses_the_labels(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    with driftline.connect(store, SPEC) as mon:
        mon.log_reference(pd.read_parquet(_reference_parquet(run, tmp_path)))
        mon.log_predictions(run.day2)
        labelled = run.day2.iloc[:300]
        truth = pd.DataFrame({"id": labelled["id"], "label": ["7"] * 300})
        mon.log_labels(truth)
        view = mon.embeddings(by="label")
    cur = [p for p in view.points if p.source == "serving"]
    assert {p.cls for p in cur} == {"7"}
    assert {p.id for p in cur} <= set(labelled["id"])
    assert {p.cls for p in view.points if p.source == "reference"} == set(CLASSES)


def _reference_parquet(run: Run, tmp_path: Path) -> Path:
    import duckdb

    out = tmp_path / "ref.parquet"
    con = duckdb.connect(str(run.path), read_only=True)
    try:
        con.sql("SELECT * FROM reference_reference").write_parquet(str(out))
    finally:
        con.close()
    return out


def _points(view: Any) -> list[tuple[Any, ...]]:
    return [(p.source, p.cls, p.window, p.cohort_value, p.id, p.x, p.y) for p in view.points]


def test_projection_over_a_parquet_directory_equals_the_logged_store(
    run: Run, tmp_path: Path
) -> None:
    """``Monitor.embeddings(predictions=..., reference=..., labels=...)`` over files read
    in place on DuckDB: the same points (ids, classes, windows, coordinates) as the same
    days logged into the store, by predicted class and by label, per cohort value; the
    reference read in place or the stored one; nothing copied into the store."""
    days = tmp_path / "days"
    days.mkdir()
    run.day2.to_parquet(days / "day-2.parquet")
    run.day3.to_parquet(days / "day-3.parquet")
    ref = _reference_parquet(run, tmp_path)
    labelled = run.day3.iloc[::3]
    truth = pd.DataFrame({"id": labelled["id"], "label": labelled["pred"].iloc[::-1].to_numpy()})
    truth.to_parquet(tmp_path / "labels.parquet")
    logged = tmp_path / "logged.duckdb"
    with driftline.connect(logged, SPEC) as mon:
        mon.log_reference(pd.read_parquet(ref))
        mon.log_predictions(run.day2)
        mon.log_predictions(run.day3)
        mon.log_labels(truth)
        want = mon.embeddings(cohort="region", cap=50)
        want_since = mon.embeddings(since="2024-01-03")
        want_label = mon.embeddings(by="label")
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        got = mon.embeddings(predictions=days, reference=ref, cohort="region", cap=50)
        got_since = mon.embeddings(since="2024-01-03", predictions=days, reference=ref)
        got_label = mon.embeddings(
            by="label", predictions=days, reference=ref, labels=tmp_path / "labels.parquet"
        )
        assert mon.store.counts().get("predictions", 0) == 0  # nothing copied
        with pytest.raises(ProfileError, match=r"no labels yet.*labels=\.\.\."):
            mon.embeddings(by="label", predictions=days, reference=ref)
        with pytest.raises(ProfileError, match=r"no reference named 'reference'.*reference="):
            mon.embeddings(predictions=days)
    assert _points(got) == _points(want)
    assert {p.cohort_value for p in got.points if p.source == "serving"} == {"eu", "us"}
    assert (
        max(pd.Series([(p.window, p.cohort_value, p.cls) for p in got.points]).value_counts()) <= 50
    )
    assert _points(got_since) == _points(want_since)
    assert {p.id[:2] for p in got_since.points if p.source == "serving"} == {"d3"}
    assert _points(got_label) == _points(want_label)
    assert {p.id for p in got_label.points if p.source == "serving"} <= set(truth["id"])
    # the stored reference with predictions read in place
    with driftline.connect(logged, SPEC) as mon:
        mixed = mon.embeddings(predictions=days, cohort="region", cap=50)
    assert _points(mixed) == _points(want)


def test_umap_view_equals_umap_learn_on_the_same_sample(run: Run, digits: Digits) -> None:
    import umap

    with driftline.connect(run.path, SPEC) as mon:
        view = mon.embeddings(since="2024-01-03", method="umap")
        seed = mon.spec.checks.seed
    vectors = {
        str(i): np.asarray(v)
        for df in (run.day2, run.day3)
        for i, v in zip(df["id"], df["embedding"], strict=True)
    }
    for i, e in zip(digits.holdout, digits.embed(digits.x[digits.holdout]), strict=True):
        vectors[f"r{i}"] = e
    ref = [p for p in view.points if p.source == "reference"]
    cur = [p for p in view.points if p.source == "serving"]
    model = umap.UMAP(n_components=2, random_state=seed).fit(np.stack([vectors[p.id] for p in ref]))
    np.testing.assert_allclose([[p.x, p.y] for p in ref], model.embedding_, rtol=1e-5)
    theirs = model.transform(np.stack([vectors[p.id] for p in cur]))
    np.testing.assert_allclose([[p.x, p.y] for p in cur], theirs, rtol=1e-5, atol=1e-6)


def test_umap_without_its_extra_names_the_extra(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    with driftline.connect(run.path, SPEC) as mon, pytest.raises(MissingExtraError) as err:
        mon.embeddings(method="umap")
    assert "pip install 'driftline[umap]'" in str(err.value)


# -- ingest ----------------------------------------------------------------------------------
def _small(digits: Digits, n: int, prefix: str, start: str = "2024-01-02") -> pd.DataFrame:
    idx = np.arange(n)
    return digits.frame(digits.x[idx], [f"{prefix}{i}" for i in idx], start, digits.y[idx])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda e: e[:5], "different lengths: id 'b3' has 5 values where most rows have 32"),
        (lambda e: np.where(np.arange(len(e)) == 2, np.nan, e), "NaN, infinite or null"),
        (lambda e: np.where(np.arange(len(e)) == 2, np.inf, e), "NaN, infinite or null"),
        (lambda e: e[:0], "id 'b3' has 0 values where most rows have 32"),
    ],
)
def test_bad_vectors_are_refused_whole_naming_column_id_and_fix(
    digits: Digits,
    tmp_path: Path,
    damage: Callable[[np.ndarray], np.ndarray],
    message: str,
) -> None:
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        mon.log_reference(_small(digits, 300, "r"))
        mon.log_predictions(_small(digits, 20, "a"))
        bad = _small(digits, 20, "b", "2024-01-03")
        bad.at[3, "embedding"] = damage(np.asarray(bad.at[3, "embedding"]))
        with pytest.raises(IngestError) as err:
            mon.log_predictions(bad)
        text = str(err.value)
        assert "column 'embedding' (embedding)" in text
        assert message in text
        assert "Nothing was stored" in text
        n = mon.store.con.sql("SELECT count(*) FROM predictions").fetchone()
        assert n is not None
        assert n[0] == 20
        ref = _small(digits, 300, "r")
        ref.at[3, "embedding"] = damage(np.asarray(ref.at[3, "embedding"]))
        with pytest.raises(IngestError, match="column 'embedding' \\(embedding\\)"):
            mon.log_reference(ref)


def test_an_embedding_of_text_is_refused_with_the_fix(digits: Digits, tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        mon.log_reference(_small(digits, 300, "r"))
        bad = _small(digits, 5, "b")
        bad["embedding"] = "0.1,0.2"
        with pytest.raises(IngestError, match="is VARCHAR; expected a list of floats per row"):
            mon.log_predictions(bad)


def test_a_null_embedding_is_stored_and_skipped(digits: Digits, tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        mon.log_reference(_small(digits, 600, "r"))
        some = _small(digits, 200, "a")
        some["embedding"] = None
        mon.log_predictions(some)
        report = mon.check()
    assert report.results_for("embedding_drift") == []  # no vector in the window: no result
    assert report.stats  # the other checks ran


# -- edges --------------------------------------------------------------------------------
def test_few_rows_one_row_and_missing_cohort_values(digits: Digits, tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        mon.log_reference(_small(digits, 800, "r"))
        day = _small(digits, 60, "a")
        day.loc[:9, "region"] = None
        mon.log_predictions(day)
        mon.log_predictions(_small(digits, 1, "one", "2024-01-05"))
        report = mon.check()
    emb = report.results_for("embedding_drift")
    assert emb
    # 60 rows over 10 classes: no class has embeddings.min_rows (20) rows sampled
    assert {r.status for r in emb if r.column != "embedding"} == {"insufficient"}
    one = [r for r in emb if r.window_start.startswith("2024-01-05")]
    assert one
    assert {r.status for r in one} == {"insufficient"}
    assert "(missing)" in {r.cohort_value for r in emb if r.cohort == "region"}


def test_odd_column_names(digits: Digits, tmp_path: Path) -> None:
    odd = {**SPEC, "embedding": 'emb "v"; drop', "cohorts": ["ré gion'"]}
    ref = _small(digits, 900, "r").rename(
        columns={"embedding": 'emb "v"; drop', "region": "ré gion'"}
    )
    day = _small(digits, 900, "a").rename(
        columns={"embedding": 'emb "v"; drop', "region": "ré gion'"}
    )
    with driftline.connect(tmp_path / "s.duckdb", odd) as mon:
        mon.log_reference(ref)
        mon.log_predictions(day)
        report = mon.check()
        view = mon.embeddings(cohort="ré gion'")
    cols = {r.column for r in report.results_for("embedding_drift")}
    assert 'emb "v"; drop' in cols
    assert 'emb "v"; drop:3' in cols
    assert {p.cohort_value for p in view.points if p.source == "serving"} == {"eu", "us"}


def test_profiles_without_embeddings_load_and_raise_no_embedding_result(
    run: Run, tmp_path: Path
) -> None:
    with driftline.connect(run.path, SPEC, profile=tmp_path / "p.json") as mon:
        prof = mon.fit_profile()
        saved = json.loads((tmp_path / "p.json").read_text())
        assert saved["embeddings"]["dim"] == 32
        assert len(saved["embeddings"]["components"]) == 16
        del saved["embeddings"]  # as a profile from before embedding drift
        (tmp_path / "p.json").write_text(json.dumps(saved))
        mon._profile = None
        report = mon.check(persist=False, full=True)
        assert report.results_for("embedding_drift") == []
        assert prof.embeddings_ is not None
        saved["embeddings"] = {**prof.embeddings_, "scale": [0.0]}
        (tmp_path / "p.json").write_text(json.dumps(saved))
        mon._profile = None
        with pytest.raises(ProfileError, match="embeddings baseline"):
            mon.profile  # noqa: B018


def test_the_cli_reports_embedding_drift_in_json(run: Run, tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(SPEC))
    _reference_parquet(run, tmp_path)
    run.day3.to_parquet(tmp_path / "day3.parquet")
    assert run_cli("log", "--reference", "ref.parquet", cwd=tmp_path).code == 0
    assert run_cli("log", "day3.parquet", cwd=tmp_path).code == 0
    done = run_cli("check", "--json", cwd=tmp_path)
    assert done.code == 1, done.err
    found = json.loads(done.out)
    assert any(
        a["check"] == "embedding_drift" and a["column"] == "embedding:3" for a in found["alerts"]
    )


def test_engine_sample_is_capped_and_reproducible(run: Run) -> None:
    with driftline.connect(run.path, SPEC) as mon:
        t = mon.engine.table("predictions")
        window = mon.spec.window_parsed
        spec = mon.spec
        a = mon.engine.run(
            embedding_sample(t, spec, cap=7, seed=3, by="pred", window=window), SAMPLE_SCHEMA
        )
        b = mon.engine.run(
            embedding_sample(t, spec, cap=7, seed=3, by="pred", window=window), SAMPLE_SCHEMA
        )
        c = mon.engine.run(
            embedding_sample(t, spec, cap=7, seed=4, by="pred", window=window), SAMPLE_SCHEMA
        )
    assert a.equals(b)
    assert a.column("id").to_pylist() != c.column("id").to_pylist()
    counts = a.group_by(["window", "class"]).aggregate([("id", "count")])
    assert max(counts.column("id_count").to_pylist()) == 7
    assert len(set(a.column("window").to_pylist())) == 2


def test_incremental_check_keeps_the_stored_embedding_results(
    digits: Digits, run: Run, tmp_path: Path
) -> None:
    """A later check evaluates only the new window; the earlier windows' embedding
    results are read back from the store unchanged."""
    with driftline.connect(tmp_path / "s.duckdb", SPEC) as mon:
        mon.log_reference(pd.read_parquet(_reference_parquet(run, tmp_path)))
        mon.log_predictions(run.day2)
        first = mon.check()
        mon.log_predictions(run.day3)
        second = mon.check()
    before = {(r.window, r.cohort_value, r.column): r for r in first.results_for("embedding_drift")}
    after = {(r.window, r.cohort_value, r.column): r for r in second.results_for("embedding_drift")}
    assert before
    assert set(before) < set(after)
    for key, r in before.items():
        assert after[key].value == pytest.approx(r.value)
        assert after[key].status == r.status
    assert any(r.status == "alert" and r.column == "embedding:3" for r in after.values())


def test_t_quantile_matches_scipy() -> None:
    from scipy.stats import t

    from driftline.checks._embedding_checks import t_quantile

    for q in (0.99, 0.995, 0.999):
        for df in (9, 19, 29, 99, 999):
            tol = 0.01 if df < 19 else 1e-3
            assert t_quantile(q, df) == pytest.approx(t.ppf(q, df), abs=tol), (q, df)
