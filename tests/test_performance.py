"""Realised performance as labels arrive and the estimate before they do, end to end on
a real DuckDB store: per window x cohort value equal to scikit-learn on the same rows,
ECE equal to numpy, the edges (a window without labels, a one-row window, a cohort of
nulls, odd column names, labels for unknown ids), honest bounds at any labelled count,
and the incremental path (a labels batch re-evaluates exactly the windows it labels)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import driftline
from driftline._catalog import MISSING_COHORT
from driftline.performance import accuracy_bound

CLASSES = ["cat", "dog", "eel"]
#: odd names on purpose: spaces, quotes, non-ASCII, a dash
SPEC: dict[str, Any] = {
    "id": "order id",
    "timestamp": "at",
    "prediction": "pred-class",
    "scores": {"columns": {c: f"p {c}" for c in CLASSES}},
    "label": "truth",
    "cohorts": ["région"],
    "features": {"numeric": ["x"]},
    "window": "1d",
}
DAY0 = datetime(2024, 3, 1)


def _frame(rng: np.random.Generator, n: int, start: datetime, prefix: str) -> pd.DataFrame:
    x = rng.normal(0, 1, n)
    logits = np.stack([x, -x, 0.3 * rng.normal(0, 1, n)], axis=1) + rng.normal(0, 0.7, (n, 3))
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(CLASSES, p=row) for row in p])
    secs = np.sort(rng.integers(0, 86400, n))
    df = pd.DataFrame(
        {
            "order id": [f"{prefix}{i}" for i in range(n)],
            "at": [start + timedelta(seconds=int(s)) for s in secs],
            "pred-class": np.asarray(CLASSES)[p.argmax(axis=1)],
            **{f"p {c}": p[:, i] for i, c in enumerate(CLASSES)},
            "truth": truth,
            "région": rng.choice(["nord", "sud"], n),
            "x": x,
        }
    )
    return df


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with four days: 400 rows, 1 row, 250 rows never labelled, 150 rows whose
    cohort is null; labels for most ids, corrected for some by a later batch, and for
    three ids no prediction has."""
    tmp = tmp_path_factory.mktemp("perf")
    rng = np.random.default_rng(7)
    ref = _frame(rng, 3000, DAY0 - timedelta(days=30), "ref-")
    days = [
        _frame(rng, 400, DAY0, "d0-"),
        _frame(rng, 1, DAY0 + timedelta(days=1), "d1-"),
        _frame(rng, 250, DAY0 + timedelta(days=2), "d2-"),
        _frame(rng, 150, DAY0 + timedelta(days=3), "d3-"),
    ]
    days[3]["région"] = None
    mon = driftline.connect(tmp / "p.duckdb", SPEC, profile=tmp / "p.json")
    with mon:
        mon.log_reference(ref)
        for d in days:
            mon.log_predictions(d.drop(columns=["truth"]))
        labelled = pd.concat([days[0].iloc[:300], days[1], days[3].iloc[:100]])
        first = pd.DataFrame(
            {
                "order id": labelled["order id"],
                "truth": labelled["truth"],
                "labelled_at": labelled["at"] + pd.Timedelta(hours=30),
            }
        )
        mon.log_labels(first)
        # a correction: the later label wins, for 40 rows of day 0
        fixed = days[0].iloc[:40].copy()
        fixed["truth"] = np.where(fixed["truth"] == "cat", "dog", "cat")
        mon.log_labels(
            pd.DataFrame(
                {
                    "order id": fixed["order id"],
                    "truth": fixed["truth"],
                    "labelled_at": fixed["at"] + pd.Timedelta(hours=50),
                }
            )
        )
        days[0].loc[fixed.index, "truth"] = fixed["truth"]
        days[0].loc[fixed.index, "delay"] = 50 * 3600.0
        mon.log_labels(
            pd.DataFrame({"order id": ["ghost-1", "ghost-2", "ghost-3"], "truth": ["cat"] * 3})
        )
        report = mon.check()
    truth = {}
    for i, d in enumerate(days):
        d = d.copy()
        d["labelled"] = False
        if i == 0:
            d.loc[d.index[:300], "labelled"] = True
        elif i in (1,):
            d["labelled"] = True
        elif i == 3:
            d.loc[d.index[:100], "labelled"] = True
        d["delay"] = d["delay"].fillna(30 * 3600.0) if "delay" in d else 30 * 3600.0
        truth[i] = d
    return {"report": report, "days": truth}


def _results(report: Any, check: str) -> dict[tuple[str | None, str | None, str], Any]:
    return {(r.cohort, r.cohort_value, r.window_start[:10]): r for r in report.results_for(check)}


def _scopes(day: pd.DataFrame) -> list[tuple[str | None, str | None, pd.DataFrame]]:
    out: list[tuple[str | None, str | None, pd.DataFrame]] = [(None, None, day)]
    cohort = day["région"].fillna(MISSING_COHORT)
    for value in sorted(cohort.unique()):
        out.append(("région", value, day[cohort == value]))
    return out


def test_performance_per_window_and_cohort_equals_sklearn_and_numpy(
    stream: dict[str, Any],
) -> None:
    report = stream["report"]
    got = _results(report, "performance")
    checked = 0
    for i, day in stream["days"].items():
        date = (DAY0 + timedelta(days=i)).date().isoformat()
        for cohort, value, rows in _scopes(day):
            lab = rows[rows["labelled"]]
            key = (cohort, value, date)
            if lab.empty:
                assert key not in got  # no labelled row, no realised result
                continue
            r = got[key]
            d = r.details
            y, p = lab["truth"].to_numpy(), lab["pred-class"].to_numpy()
            classes = d["classes"]
            assert classes == CLASSES
            assert d["labelled"] == r.n == len(lab)
            assert d["rows"] == len(rows)
            assert d["coverage"] == pytest.approx(len(lab) / len(rows))
            assert d["accuracy"] == pytest.approx(float((y == p).mean()), abs=1e-12)
            assert d["confusion"] == confusion_matrix(y, p, labels=classes).tolist()
            # undefined where scikit-learn divides by zero (NaN): None, never 0
            prec, rec, f1, support = precision_recall_fscore_support(
                y, p, labels=classes, zero_division=np.nan
            )
            for j, c in enumerate(classes):
                m = d["per_class"][c]
                for name, want in (("precision", prec[j]), ("recall", rec[j]), ("f1", f1[j])):
                    if np.isnan(want):
                        assert m[name] is None, (key, c, name)
                    else:
                        assert m[name] == pytest.approx(want), (key, c, name)
                assert m["support"] == support[j]
            for avg in ("macro", "micro"):
                want = precision_recall_fscore_support(y, p, average=avg, zero_division=0)
                got_avg = d[avg]
                assert [got_avg["precision"], got_avg["recall"], got_avg["f1"]] == pytest.approx(
                    list(want[:3])
                )
            # ECE on 10 equal bins, straight from the rows
            conf = lab[[f"p {c}" for c in CLASSES]].max(axis=1).to_numpy()
            b = np.clip(np.floor(conf * 10), 0, 9).astype(int)
            right = y == p
            ece = sum(
                (b == k).mean() * abs(right[b == k].mean() - conf[b == k].mean())
                for k in range(10)
                if (b == k).any()
            )
            # (the summary's sums of confidence are kept to 1e-9: engines' parallel sums
            # differ in their last bits)
            assert d["ece"] == pytest.approx(ece, abs=1e-9)
            assert d["reliability"]["rows"] == np.bincount(b, minlength=10).tolist()
            delay = lab["delay"].to_numpy()
            assert d["delay"]["mean"] == pytest.approx(delay.mean())
            assert d["delay"]["min"] == pytest.approx(delay.min())
            assert d["delay"]["max"] == pytest.approx(delay.max())
            checked += 1
    assert checked >= 7  # overall and both regions of day 0, the one-row day, the null day
    assert ("région", MISSING_COHORT, "2024-03-04") in got


def test_a_window_without_labels_gets_an_estimate_and_no_realised_result(
    stream: dict[str, Any],
) -> None:
    report = stream["report"]
    est = _results(report, "performance_estimate")
    gap = _results(report, "performance_gap")
    assert (None, None, "2024-03-03") in est
    assert (None, None, "2024-03-03") not in gap
    e = est[(None, None, "2024-03-03")]
    assert e.status == "ok"
    assert e.details["accuracy_low"] <= e.value <= e.details["accuracy_high"]
    assert e.details["calibration"].endswith(("isotonic", "temperature"))
    assert {"isotonic", "temperature"} <= set(e.details["calibration_brier"])
    assert e.n == 250
    # every window of rows and every scope has an estimate, labelled or not
    assert len(est) == sum(len(_scopes(d)) for d in stream["days"].values())


def test_labels_for_unknown_ids_are_counted_and_reported(stream: dict[str, Any]) -> None:
    labels = stream["report"].labels
    assert labels["unknown_ids"] == 3
    assert labels["unknown_examples"] == ["ghost-1", "ghost-2", "ghost-3"]
    assert labels["holdout_rows"] == 3000
    assert json.loads(stream["report"].to_json())["labels"]["unknown_ids"] == 3


def test_the_store_keeps_the_labelled_ids_without_a_prediction(tmp_path: Path) -> None:
    """A check reads the labelled ids no prediction has from a table the store keeps as
    it logs (built from the stored tables the first time; a labels batch adds its
    unknown ids, a predictions batch removes the ids it brings). After every step it
    equals the reference: every label joined with every prediction. A check over a
    predictions source joins them instead."""
    from driftline.engine.performance import unknown_labels

    rng = np.random.default_rng(5)
    a, b = _frame(rng, 40, DAY0, "a-"), _frame(rng, 40, DAY0 + timedelta(days=1), "b-")
    mon = driftline.connect(tmp_path / "u.duckdb", SPEC, profile=tmp_path / "u.json")

    def labels(ids: list[str], truth: str = "cat") -> pd.DataFrame:
        return pd.DataFrame({"order id": ids, "truth": [truth] * len(ids)})

    def kept(want: tuple[int, list[str]]) -> None:
        engine = mon.engine
        joined = unknown_labels(
            engine, engine.table("predictions"), engine.table("labels"), mon.spec
        )
        assert mon.store.unknown_labels() == joined == want

    with mon:
        mon.log_reference(_frame(rng, 1500, DAY0 - timedelta(days=9), "ref-"))
        mon.log_labels(labels(["b-1", "b-2", "ghost"]))  # before any prediction
        mon.log_predictions(a.drop(columns=["truth"]))
        assert not mon.store.has_table("unknown_label_ids")  # a store from before it
        report = mon.check()  # builds it from the stored tables
        assert mon.store.has_table("unknown_label_ids")
        assert (report.labels["unknown_ids"], report.labels["unknown_examples"]) == (
            3,
            ["b-1", "b-2", "ghost"],
        )
        kept((3, ["b-1", "b-2", "ghost"]))
        mon.log_predictions(b.drop(columns=["truth"]))  # brings b-1 and b-2
        kept((1, ["ghost"]))
        logged = mon.log_labels(labels(["a-3", "ghost", "ghost-2"]))  # known, repeated, new
        # ghost's label is the one stored: not stored again, so not counted again
        assert (logged.rows, logged.unknown_ids, logged.unknown_id_examples) == (2, 1, ["ghost-2"])
        kept((2, ["ghost", "ghost-2"]))
        mon.log_labels(labels(["ghost-2"], "dog"))  # a correction of an unknown id
        kept((2, ["ghost", "ghost-2"]))
        report = mon.check()
        assert (report.labels["unknown_ids"], report.labels["unknown_examples"]) == (
            2,
            ["ghost", "ghost-2"],
        )
        # over day a as a source, the stored labels of day b's ids are unknown too
        source = tmp_path / "a.parquet"
        a.drop(columns=["truth"]).to_parquet(source)
        over = mon.check(predictions=source, persist=False)
        assert over.labels["unknown_ids"] == 4  # b-1, b-2, ghost, ghost-2 (a-3 is known)
        assert over.labels["unknown_examples"] == ["b-1", "b-2", "ghost", "ghost-2"]


def _links(mon: Any) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The store's label links as kept, and as every label joined with every prediction."""
    con = mon.store.con
    kept = con.execute("SELECT labels_batch, batch FROM label_links").fetchall()
    joined = con.execute(
        "SELECT DISTINCT l._batch, p._batch FROM labels AS l JOIN predictions AS p "
        'ON l.id = p."order id"'
    ).fetchall()
    return sorted(kept), sorted(joined)


def test_labels_out_of_order_read_only_the_batches_they_link_and_decide_as_full(
    tmp_path: Path,
) -> None:
    """A check reads only the labels batches that label the windows it evaluates, and
    joins new labels with only the predictions batches they label: the store keeps which
    batches each labels batch labels as it logs (a labels batch links the batches of its
    ids, a predictions batch the earlier labels batches of the ids it brings). Labels
    before their predictions, for old windows, corrected, and rows late into an old
    window: after every check the kept links equal the full join, and the incremental
    run decides as a full one."""
    rng = np.random.default_rng(19)
    days = [_frame(rng, 120, DAY0 + timedelta(days=i), f"d{i}-") for i in range(3)]
    late = _frame(rng, 30, DAY0, "late-")  # rows for day 0, logged last
    mon = driftline.connect(tmp_path / "k.duckdb", SPEC, profile=tmp_path / "k.json")
    fields = ("window", "cohort", "cohort_value", "check", "column", "value", "status")

    def rows(rep: Any) -> list[str]:
        return sorted(json.dumps([getattr(r, f) for f in fields]) for r in rep.results)

    def labels(frame: pd.DataFrame, flip: bool = False) -> pd.DataFrame:
        truth = frame["truth"]
        if flip:
            truth = truth.map({"cat": "dog", "dog": "eel", "eel": "cat"})
        return pd.DataFrame({"order id": frame["order id"], "truth": truth})

    def checked() -> list[int]:
        report = mon.check()
        evaluated: list[int] = mon.store.runs().to_pylist()[-1]["windows_evaluated"]
        kept, joined = _links(mon)
        assert kept == joined
        assert rows(report) == rows(mon.check(full=True, persist=False))
        assert report.results_for("performance")
        return evaluated

    def key(day: int) -> int:
        return int((DAY0 + timedelta(days=day) - datetime(1970, 1, 1)).total_seconds())

    with mon:
        mon.log_reference(_frame(rng, 2000, DAY0 - timedelta(days=9), "ref-"))
        mon.log_predictions(days[0].drop(columns=["truth"]))
        mon.log_labels(labels(days[0].iloc[:60]))
        assert not mon.store.has_table("label_links")  # a store from before them
        assert checked() == [key(0)]  # built from the stored tables
        # day 1's labels before its predictions, with more of day 0's
        mon.log_labels(labels(pd.concat([days[1].iloc[:80], days[0].iloc[60:90]])))
        assert checked() == [key(0)]
        mon.log_predictions(days[1].drop(columns=["truth"]))  # brings labelled ids
        assert checked() == [key(1)]
        mon.log_predictions(days[2].drop(columns=["truth"]))
        mon.log_labels(labels(days[0].iloc[:20], flip=True))  # corrects day 0
        assert checked() == [key(0), key(2)]
        mon.log_labels(labels(late))  # labels of rows not logged yet, late into day 0
        assert checked() == []
        mon.log_predictions(late.drop(columns=["truth"]))
        assert checked() == [key(0)]
        mon.log_labels(labels(days[1].iloc[80:]))
        assert checked() == [key(1)]
        # day 1's labels are in two batches, of the six: only those are read for it
        day1 = [(DAY0 + timedelta(days=1), DAY0 + timedelta(days=2))]
        of_day1 = mon.store.con.execute(
            "SELECT DISTINCT l._batch FROM labels AS l JOIN predictions AS p "
            'ON l.id = p."order id" WHERE p.at >= ? AND p.at < ? ORDER BY 1',
            list(day1[0]),
        ).fetchall()
        assert mon.store.labels_batches_between(day1) == [r[0] for r in of_day1]
        assert len(of_day1) == 2
        # a store whose links were lost builds them again when a check needs them
        mon.store.con.execute("DROP TABLE label_links")
        mon.log_labels(labels(days[2].iloc[:50]))
        assert not mon.store.has_table("label_links")
        assert checked() == [key(2)]


def test_the_labels_a_window_reads_follow_its_rows_when_the_timestamp_role_moves(
    tmp_path: Path,
) -> None:
    """The labels batches a check reads for a window are found from the rows in that
    window, by the spec's timestamp as it is now: after the role moves to another column
    the rows also hold (here two days later), new labels of rows that now fall in a
    later window reach that window's performance, as in a full run."""
    rng = np.random.default_rng(23)

    def served(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(served_at=frame["at"] + timedelta(days=2))

    days = [served(_frame(rng, 150, DAY0 + timedelta(days=i), f"d{i}-")) for i in range(3)]
    fields = ("window", "cohort", "cohort_value", "check", "column", "value", "status")

    def rows(rep: Any) -> list[str]:
        return sorted(json.dumps([getattr(r, f) for f in fields]) for r in rep.results)

    def labels(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"order id": frame["order id"], "truth": frame["truth"]})

    path, profile = tmp_path / "m.duckdb", tmp_path / "m.json"
    with driftline.connect(path, SPEC, profile=profile) as mon:
        mon.log_reference(served(_frame(rng, 2000, DAY0 - timedelta(days=9), "ref-")))
        for d in days:
            mon.log_predictions(d.drop(columns=["truth"]))
        mon.log_labels(labels(days[2]))
        mon.check()
    moved = {**SPEC, "timestamp": "served_at"}
    profile.unlink()  # fitted on the old spec: fit again
    with driftline.connect(path, moved, profile=profile) as mon:
        mon.fit_profile()
        mon.check()  # the spec changed: every window decided again
        # day 0's rows, now in the window of day 2, get their labels
        mon.log_labels(labels(days[0]))
        report = mon.check()
        evaluated = mon.store.runs().to_pylist()[-1]["windows_evaluated"]
        full = mon.check(full=True, persist=False)
    day2 = int((DAY0 + timedelta(days=2) - datetime(1970, 1, 1)).total_seconds())
    assert evaluated == [day2]
    assert day2 in {r.window for r in report.results_for("performance")}
    assert rows(report) == rows(full)


def test_the_bound_is_honest_at_any_labelled_count() -> None:
    """Under no change a window's accuracy drop passes the q0.999 bound about once in a
    thousand, at 40 labelled rows and at 40,000; the bound narrows as the count grows."""
    rng = np.random.default_rng(3)
    accuracy, n_ref = 0.8, 5000
    ref = rng.binomial(n_ref, accuracy) / n_ref  # one fixed holdout
    for n in (40, 400, 40_000):
        bound = accuracy_bound(n, n_ref, ref, 0.999)
        windows = rng.binomial(n, accuracy, 100_000) / n
        rate = float((ref - windows > bound).mean())
        assert rate < 0.006, (n, bound, rate)
    assert accuracy_bound(40, n_ref, 0.8, 0.999) > 5 * accuracy_bound(40_000, n_ref, 0.8, 0.999)


def test_a_labels_batch_re_evaluates_only_the_windows_it_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    days = [_frame(rng, 200, DAY0 + timedelta(days=i), f"d{i}-") for i in range(4)]
    mon = driftline.connect(tmp_path / "i.duckdb", SPEC, profile=tmp_path / "i.json")
    with mon:
        mon.log_reference(_frame(rng, 2000, DAY0 - timedelta(days=9), "ref-"))
        for d in days:
            mon.log_predictions(d.drop(columns=["truth"]))
        mon.check()
        quiet = mon.check()  # nothing new: nothing evaluated
        assert mon.store.runs().to_pylist()[-1]["windows_evaluated"] == []
        # labels of day 1 arrive on day 3: day 1 is evaluated again, and only it
        old = days[1]
        mon.log_labels(
            pd.DataFrame(
                {
                    "order id": old["order id"],
                    "truth": old["truth"],
                    "labelled_at": [DAY0 + timedelta(days=3)] * len(old),
                }
            )
        )
        after = mon.check()
        evaluated = mon.store.runs().to_pylist()[-1]["windows_evaluated"]
        full = mon.check(full=True, persist=False)
    day1 = int((DAY0 + timedelta(days=1) - datetime(1970, 1, 1)).total_seconds())
    assert evaluated == [day1]
    realised = after.results_for("performance")
    assert {r.window for r in realised} == {day1}
    assert quiet.results_for("performance") == []
    # what the incremental run decided equals a full run
    fields = ("window", "cohort", "cohort_value", "check", "column", "value", "status")

    def rows(rep: Any) -> list[str]:
        return sorted(json.dumps([getattr(r, f) for f in fields]) for r in rep.results)

    assert rows(after) == rows(full)


def test_a_profile_fitted_before_performance_still_loads_and_checks(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    mon = driftline.connect(tmp_path / "o.duckdb", SPEC, profile=tmp_path / "o.json")
    with mon:
        mon.log_reference(_frame(rng, 500, DAY0 - timedelta(days=9), "ref-"))
        day = _frame(rng, 100, DAY0, "d0-")
        mon.log_predictions(day.drop(columns=["truth"]))
        mon.log_labels(pd.DataFrame({"order id": day["order id"], "truth": day["truth"]}))
    data = json.loads((tmp_path / "o.json").read_text())
    del data["performance"]  # as an older driftline wrote it
    (tmp_path / "o.json").write_text(json.dumps(data))
    with driftline.connect(tmp_path / "o.duckdb", SPEC, profile=tmp_path / "o.json") as mon:
        report = mon.check()
    assert report.results_for("performance") == []
    assert report.results_for("class_mix")
    # the labels are kept, and the report says why they are not scored
    assert report.labels["labels_unjudged"] == 100
    assert "fitted before driftline measured performance" in report.labels["unjudged_why"]


def test_a_spec_without_a_label_role_has_no_performance(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    spec = {k: v for k, v in SPEC.items() if k != "label"}
    mon = driftline.connect(tmp_path / "n.duckdb", spec, profile=tmp_path / "n.json")
    with mon:
        mon.log_reference(_frame(rng, 500, DAY0 - timedelta(days=9), "ref-").drop(columns="truth"))
        mon.log_predictions(_frame(rng, 100, DAY0, "d0-").drop(columns=["truth"]))
        report = mon.check()
    assert mon.profile.performance_ is None
    assert [r for r in report.results if r.check.startswith("performance")] == []


def test_the_report_shows_performance_and_escapes_labels(tmp_path: Path) -> None:
    """Section 7: realised next to estimated with its band, the confusion matrix and the
    reliability diagram of the latest labelled window, the count of labels for unknown
    ids; a cohort value is attacker-controlled text and never reaches the page raw (a
    label outside the spec's classes is refused at ingest)."""
    from driftline.report import render_report

    rng = np.random.default_rng(8)
    hostile = "<img src=x onerror=alert(1)>"
    day = _frame(rng, 300, DAY0, "d0-")
    mon = driftline.connect(tmp_path / "r.duckdb", SPEC, profile=tmp_path / "r.json")
    with mon:
        mon.log_reference(_frame(rng, 1000, DAY0 - timedelta(days=9), "ref-"))
        day.loc[day.index[:60], "région"] = hostile
        mon.log_predictions(day.drop(columns=["truth"]))
        mon.log_labels(
            pd.DataFrame(
                {"order id": [*day["order id"], "nobody"], "truth": [*day["truth"], "cat"]}
            )
        )
        report = mon.check(persist=False)
    page = render_report(report, tmp_path / "r.html").read_text()
    assert '<section id="performance">' in page
    assert 'id="perf-chart"' in page
    assert 'id="reliability-chart"' in page
    assert "1 labelled ids match no prediction" in page
    assert hostile not in page
    assert html_escape(hostile) in page  # the scope picker names it, as text
    values = {r.cohort_value for r in report.results_for("performance") if r.cohort}
    assert values == {"nord", "sud", hostile}


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


@pytest.mark.slow
def test_the_estimate_tracks_a_class_prior_shift_within_its_band(tmp_path: Path) -> None:
    """The scenario suite's class-prior shift (class a's share tripled from day 6), no
    labels logged: the realised accuracy of at least 90 % of the windows lies inside the
    estimate's band, before and after the shift."""
    from driftline import scenarios as sc

    scenario = next(s for s in sc.SCENARIOS if s.kind == "class_prior")
    mon = driftline.connect(tmp_path / "c.duckdb", sc.spec(), profile=tmp_path / "c.json")
    realised = {}
    with mon:
        mon.log_reference(sc.reference(5000, seed=100))
        for i in range(12):
            w = sc.window(scenario, i, 2000)
            right = np.asarray(w["prediction"].to_pylist()) == np.asarray(w["label"].to_pylist())
            realised[(sc.START + timedelta(days=i)).strftime("%Y-%m-%d")] = right.mean()
            mon.log_predictions(w.drop(["label"]))
        report = mon.check(persist=False)
    est = {
        r.window_start[:10]: r.details
        for r in report.results_for("performance_estimate")
        if r.cohort is None
    }
    assert sorted(est) == sorted(realised)
    inside = [est[d]["accuracy_low"] <= realised[d] <= est[d]["accuracy_high"] for d in est]
    assert sum(inside) >= 0.9 * len(inside), (inside, est, realised)
    assert report.results_for("performance") == []


def test_a_thresholded_binary_model_is_calibrated_on_its_probability(tmp_path: Path) -> None:
    """A binary model predicting 'yes' above p = 0.65: a row predicted 'no' at p = 0.6 is
    0.4 sure of it, not 0.6: the estimate is calibrated per predicted class (or on the
    probability), and unbiased."""
    rng = np.random.default_rng(12)

    def frame(n: int, start: datetime, prefix: str) -> pd.DataFrame:
        p = rng.beta(2, 2, n)
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(n)],
                "ts": [start + timedelta(seconds=int(s)) for s in rng.integers(0, 86400, n)],
                "pred": np.where(p > 0.65, "yes", "no"),
                "p": p,
                "y": np.where(rng.random(n) < p, "yes", "no"),
            }
        )

    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "label": "y",
        "scores": {"column": "p", "positive": "yes", "negative": "no"},
        "window": "1d",
    }
    day = frame(20_000, DAY0, "d-")
    with driftline.connect(tmp_path / "b.duckdb", spec, profile=tmp_path / "b.json") as mon:
        mon.log_reference(frame(20_000, DAY0 - timedelta(days=9), "r-"))
        mon.log_predictions(day.drop(columns=["y"]))
        report = mon.check(persist=False)
        # maps that know the predicted class, not one pooled map of the confidence
        assert report.labels["calibration"].startswith(
            ("isotonic on the probability of", "per predicted class")
        )
    (e,) = report.results_for("performance_estimate")
    realised = float((day["pred"] == day["y"]).mean())
    assert e.details["accuracy_low"] <= realised <= e.details["accuracy_high"]
    assert abs(e.value - realised) < 0.01
