"""Label queues: each policy on data whose right answer is known by construction (and
checked against numpy / scipy on random data), stratified quotas, seeds, filters, no id
twice, the exports (CSV, JSON lines, Label Studio tasks validated against Label Studio's
documented task format; the labelling config follows
https://labelstud.io/templates/tabular_data) and the command line; the same queue on
Spark."""

from __future__ import annotations

import csv
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import entropy

import driftline
from driftline.errors import ConfigError, EmptyWindowError
from driftline.queues import (
    LS_FROM_NAME,
    LS_TO_NAME,
    allocate,
    label_config,
    label_studio_tasks,
    write_queue,
)

CLASSES = ("a", "b", "c")
SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
    "cohorts": ["segment"],
    "features": {"numeric": ["x"]},
}
BINARY: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"column": "p", "positive": "yes", "negative": "no"},
}


def frame(rows: list[tuple[str, tuple[float, ...]]], segment: list[Any] | None = None) -> Any:
    """Predictions with the given (id, class scores); predicted class = argmax."""
    probs = np.array([s for _, s in rows], dtype=float)
    df = pd.DataFrame(
        {
            "id": [i for i, _ in rows],
            "ts": pd.date_range("2024-03-01", periods=len(rows), freq="min", tz="UTC"),
            "pred": np.array(CLASSES)[probs.argmax(axis=1)],
        }
    )
    for j, c in enumerate(CLASSES):
        df[f"score_{c}"] = probs[:, j]
    df["segment"] = segment if segment is not None else ["north"] * len(rows)
    df["x"] = np.arange(len(rows), dtype=float)
    return df


def groups() -> Any:
    """Three groups whose rankings differ by policy, by construction:

    - ``flat*``: near-uniform (confidence 0.35-0.36, margin >= 0.02): least confident,
      highest entropy;
    - ``tied*``: two classes nearly tied (confidence 0.45, margin < 0.01): smallest margin;
    - ``sure*``: confidence 0.90-0.99: most confident.
    """
    rows: list[tuple[str, tuple[float, ...]]] = []
    for i in range(5):
        d = 0.002 * i
        rows.append((f"flat{i}", (0.35 + d, 0.33, 0.32 - d)))
    for i in range(5):
        e = 0.001 * (i + 1)
        rows.append((f"tied{i}", (0.45, 0.45 - e, 0.10 + e)))
    for i in range(5):
        top = 0.90 + 0.02 * i
        rows.append((f"sure{i}", (top, 1 - top - 0.01, 0.01)))
    return frame(rows)


def connect(tmp_path: Path, spec: dict[str, Any], df: Any, name: str = "q") -> Any:
    monitor = driftline.connect(tmp_path / f"{name}.duckdb", spec)
    monitor.log_predictions(df)
    return monitor


# -- each policy, the answer known by construction --------------------------------------------
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("least-confident", ["flat0", "flat1", "flat2", "flat3", "flat4"]),
        ("margin", ["tied0", "tied1", "tied2", "tied3", "tied4"]),
        ("entropy", ["flat0", "flat1", "flat2", "flat3", "flat4"]),
        ("high-confidence", ["sure4", "sure3", "sure2", "sure1", "sure0"]),
        # multi-class without thresholds: the boundary is the runner-up (the margin)
        ("near-threshold", ["tied0", "tied1", "tied2", "tied3", "tied4"]),
    ],
)
def test_each_policy_ranks_the_rows_built_to_come_first(
    tmp_path: Path, policy: str, expected: list[str]
) -> None:
    with connect(tmp_path, SPEC, groups()) as m:
        q = m.queue(policy=policy, budget=5)
    assert q.ids == expected
    assert [i.rank for i in q.items] == [0, 1, 2, 3, 4]
    assert all(i.policy == policy for i in q.items)


def test_priorities_equal_numpy_and_scipy_on_random_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(3), size=300)
    df = frame([(f"r{i}", tuple(p)) for i, p in enumerate(probs)])
    ordered = np.sort(probs, axis=1)
    reference = {
        "least-confident": 1 - ordered[:, -1],
        "margin": ordered[:, -2] - ordered[:, -1],
        "entropy": entropy(probs, axis=1),  # natural log, like the engine's
        "high-confidence": ordered[:, -1],
    }
    with connect(tmp_path, SPEC, df) as m:
        for policy, want in reference.items():
            q = m.queue(policy=policy, budget=20)
            top = np.argsort(-want, kind="stable")[:20]
            assert q.ids == [f"r{i}" for i in top], policy
            np.testing.assert_allclose([i.priority for i in q.items], want[top], rtol=1e-9)
            for item in q.items:
                row = probs[int(item.id[1:])]
                assert item.scores == pytest.approx(dict(zip(CLASSES, row, strict=True)))


def binary_frame(ps: dict[str, float]) -> Any:
    return pd.DataFrame(
        {
            "id": list(ps),
            "ts": pd.date_range("2024-03-01", periods=len(ps), freq="min", tz="UTC"),
            "pred": ["yes" if p >= 0.5 else "no" for p in ps.values()],
            "p": list(ps.values()),
        }
    )


PS = {"u": 0.05, "v": 0.48, "w": 0.55, "x": 0.66, "y": 0.72, "z": 0.95}


def test_near_threshold_binary_default_half_and_given_threshold(tmp_path: Path) -> None:
    with connect(tmp_path, BINARY, binary_frame(PS)) as m:
        q = m.queue(policy="near-threshold", budget=3)
        assert q.ids == ["v", "w", "x"]  # |p - 0.5|: 0.02, 0.05, 0.16
        assert q.thresholds == {"yes": 0.5, "no": 0.5}
        q = m.queue(policy="near-threshold", budget=6, band=0.1, thresholds={"yes": 0.7})
        assert q.ids == ["y", "x"]  # |p - 0.7| within 0.1: 0.02, 0.04
        assert q.thresholds == pytest.approx({"yes": 0.7, "no": 0.3})
        assert [i.priority for i in q.items] == pytest.approx([-0.02, -0.04])


def test_near_threshold_multiclass_uses_the_predicted_class_threshold(tmp_path: Path) -> None:
    rows = [
        ("p0", (0.60, 0.30, 0.10)),  # a: 0.60 - 0.62 = -0.02
        ("p1", (0.70, 0.20, 0.10)),  # a: 0.70 - 0.62 = 0.08
        ("p2", (0.20, 0.75, 0.05)),  # b: 0.75 - 0.80 = -0.05
        ("p3", (0.10, 0.10, 0.80)),  # c has no threshold: margin 0.70
    ]
    with connect(tmp_path, SPEC, frame(rows)) as m:
        q = m.queue(policy="near-threshold", budget=4, thresholds={"a": 0.62, "b": 0.8})
    assert q.ids == ["p0", "p2", "p1", "p3"]
    assert [i.priority for i in q.items] == pytest.approx([-0.02, -0.05, -0.08, -0.70])


def test_below_threshold_correct_picks_labelled_correct_rows_under_the_threshold(
    tmp_path: Path,
) -> None:
    ps = {"in1": 0.6, "in2": 0.65, "wrong": 0.6, "above": 0.8, "unlabelled": 0.62, "neg": 0.2}
    labels = pd.DataFrame(
        {
            "id": ["in1", "in2", "wrong", "above", "neg", "ghost"],
            "label": ["yes", "yes", "no", "yes", "no", "yes"],
        }
    )
    with connect(tmp_path, BINARY, binary_frame(ps)) as m:
        m.log_labels(labels)
        q = m.queue(policy="below-threshold-correct", budget=10, thresholds={"yes": 0.7})
        # furthest below the threshold first; 'neg' scores 0.8 for 'no' (threshold 0.3)
        assert q.ids == ["in1", "in2"]
        assert [i.label for i in q.items] == ["yes", "yes"]
        assert [i.priority for i in q.items] == pytest.approx([0.1, 0.05])
        # at the default 0.5 a correct argmax prediction is never below its threshold
        assert m.queue(policy="below-threshold-correct", budget=10).ids == []
        with pytest.raises(ConfigError, match="picks among labelled rows"):
            m.queue(policy="below-threshold-correct", exclude_labelled=True)


def test_below_threshold_correct_multiclass_without_thresholds_uses_the_band(
    tmp_path: Path,
) -> None:
    rows = [
        ("close", (0.45, 0.40, 0.15)),  # margin 0.05
        ("closer", (0.42, 0.40, 0.18)),  # margin 0.02
        ("clear", (0.80, 0.10, 0.10)),  # margin 0.70
        ("closewrong", (0.44, 0.40, 0.16)),
    ]
    with connect(tmp_path, SPEC, frame(rows)) as m:
        m.log_labels(
            pd.DataFrame(
                {"id": ["close", "closer", "clear", "closewrong"], "label": ["a", "a", "a", "b"]}
            )
        )
        assert m.queue(policy="below-threshold-correct").ids == ["closer", "close"]
        assert m.queue(policy="below-threshold-correct", band=0.03).ids == ["closer"]


# -- stratification ------------------------------------------------------------------------
def quota_frame() -> Any:
    """50 rows predicted 'a', 50 'b', 3 'c', confidences all distinct."""
    rows = []
    for cls, n in (("a", 50), ("b", 50), ("c", 3)):
        j = CLASSES.index(cls)
        for i in range(n):
            top = 0.4 + 0.005 * i + 0.001 * j
            s = [(1 - top) / 2] * 3
            s[j] = top
            rows.append((f"{cls}{i}", tuple(s)))
    return frame(rows)


@pytest.mark.parametrize(
    ("allocation", "quotas"),
    [("equal", {"a": 14, "b": 13, "c": 3}), ("proportional", {"a": 15, "b": 14, "c": 1})],
)
def test_stratified_quotas_hold_and_leftovers_are_redistributed(
    tmp_path: Path, allocation: str, quotas: dict[str, int]
) -> None:
    with connect(tmp_path, SPEC, quota_frame()) as m:
        q = m.queue(policy="least-confident", budget=30, stratify="class", allocation=allocation)
    got: dict[str, list[str]] = {}
    for item in q.items:
        assert item.stratum == item.prediction
        got.setdefault(item.stratum, []).append(item.id)
    assert {s: len(ids) for s, ids in got.items()} == quotas
    for s, ids in got.items():  # each stratum's own least confident rows
        assert sorted(ids, key=lambda i: int(i[1:])) == [f"{s}{i}" for i in range(quotas[s])]
    assert {(s["stratum"], s["available"], s["quota"], s["picked"]) for s in q.strata} == {
        (s, {"a": 50, "b": 50, "c": 3}[s], n, n) for s, n in quotas.items()
    }


def test_allocate_never_exceeds_availability_and_spends_the_budget() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        available = {f"s{i}": int(n) for i, n in enumerate(rng.integers(0, 30, size=5))}
        budget = int(rng.integers(1, 120))
        for how in ("equal", "proportional"):
            quota = allocate(budget, available, how)  # type: ignore[arg-type]
            assert all(0 <= quota[s] <= available[s] for s in available)
            assert sum(quota.values()) == min(budget, sum(available.values()))


def test_stratify_by_cohort_puts_null_values_in_a_missing_stratum(tmp_path: Path) -> None:
    df = frame(
        [(f"r{i}", (0.5 + 0.01 * i, 0.3, 0.2 - 0.01 * i)) for i in range(9)],
        segment=["north", "south", None] * 3,
    )
    with connect(tmp_path, SPEC, df) as m:
        q = m.queue(budget=6, stratify="cohort")
        assert (
            sorted(i.stratum for i in q.items) == ["(missing)"] * 2 + ["north"] * 2 + ["south"] * 2
        )
        assert m.queue(budget=9, cohorts={"segment": ["(missing)"]}).ids == ["r2", "r5", "r8"]
        with pytest.raises(ConfigError, match="not a cohort of the spec"):
            m.queue(stratify="cohort:nope")


# -- no id twice, seeds, filters -------------------------------------------------------------
def test_several_policies_never_pick_an_id_twice(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    df = frame([(f"r{i}", tuple(p)) for i, p in enumerate(rng.dirichlet(np.ones(3), 200))])
    with connect(tmp_path, SPEC, df) as m:
        both = m.queue(policy=["least-confident", "entropy"], budget=15, stratify="class")
        alone = m.queue(policy="least-confident", budget=15, stratify="class")
    assert len(both.ids) == len(set(both.ids)) == 30
    assert both.ids[:15] == alone.ids
    entropy_ids = [i.id for i in both.items if i.policy == "entropy"]
    assert not set(entropy_ids) & set(alone.ids)


def test_ties_are_broken_by_a_seeded_hash_of_the_id(tmp_path: Path) -> None:
    df = frame([(f"t{i}", (0.5, 0.3, 0.2)) for i in range(40)])  # every priority equal

    def by_hash(seed: int) -> list[str]:
        ids = [f"t{i}" for i in range(40)]
        return sorted(ids, key=lambda i: hashlib.md5(f"{seed}:{i}".encode()).hexdigest())[:10]

    with connect(tmp_path, SPEC, df) as m:
        first = m.queue(budget=10, seed=1).ids
        assert m.queue(budget=10, seed=1).ids == first
        assert first == by_hash(1)
        assert m.queue(budget=10, seed=2).ids == by_hash(2) != first


def test_filters_time_range_classes_cohorts_and_labelled(tmp_path: Path) -> None:
    df = groups()  # timestamps one minute apart from 2024-03-01 00:00
    df["segment"] = ["north", "south", "east"] * 5
    with connect(tmp_path, SPEC, df) as m:
        q = m.queue(budget=20, since="2024-03-01T00:05:00Z", until="2024-03-01T00:10:00")
        assert sorted(q.ids) == sorted(f"tied{i}" for i in range(5))
        assert {i.prediction for i in m.queue(budget=20, classes=["a"]).items} == {"a"}
        q = m.queue(budget=20, cohorts={"segment": "south"})
        assert {i.cohorts["segment"] for i in q.items} == {"south"}
        assert m.queue(budget=20, cohorts={"segment": ["west"]}).ids == []  # absent value
        m.log_labels(pd.DataFrame({"id": ["flat0", "flat1"], "label": ["a", "b"]}))
        assert m.queue(budget=2).ids == ["flat2", "flat3"]
        kept = m.queue(budget=2, exclude_labelled=False)
        assert kept.ids == ["flat0", "flat1"]
        assert [i.label for i in kept.items] == ["a", "b"]
        for bad, match in [
            ({"classes": ["zebra"]}, "not a class of the spec"),
            ({"cohorts": {"color": ["red"]}}, "not a cohort of the spec"),
            ({"since": "2024-03-02", "until": "2024-03-01"}, "not before until"),
            ({"policy": "most-fun"}, "unknown queue policy 'most-fun'; available: least"),
            ({"budget": 0}, "budget"),
            ({"band": -1}, "band"),
            ({"since": "yesterday"}, "not an ISO-8601 date"),
            ({"colour": 1}, "unknown key 'colour'"),
            ({"thresholds": {"zebra": 0.5}}, "thresholds name class 'zebra'"),
            ({"thresholds": {"a": 1.5}}, "between 0 and 1"),
        ]:
            with pytest.raises(ConfigError, match=match):
                m.queue(**bad)


def test_edges_empty_store_one_row_small_budget_and_odd_names(tmp_path: Path) -> None:
    with (
        driftline.connect(tmp_path / "empty.duckdb", SPEC) as m,
        pytest.raises(EmptyWindowError, match="no predictions to queue"),
    ):
        m.queue()
    odd = {
        "id": 'the "id"',
        "timestamp": "t s",
        "prediction": "prédiction",
        "scores": {"columns": {"x'1": "score x'1", "y;2": 'score "y"'}},
        "cohorts": ["seg-ment"],
    }
    df = pd.DataFrame(
        {
            'the "id"': ["=1+1", "two"],
            "t s": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "prédiction": ["x'1", "y;2"],
            "score x'1": [0.6, 0.3],
            'score "y"': [0.4, 0.7],
            "seg-ment": ["'; DROP TABLE predictions; --", None],
        }
    )
    with connect(tmp_path, odd, df.head(1), "odd") as m:
        q = m.queue(budget=100, stratify="cohort")
        assert q.ids == ["=1+1"]  # one row, a budget far above it
        m.log_predictions(df.tail(1))
        q = m.queue(budget=100, stratify="class", policy="margin")
        assert sorted(q.ids) == ["=1+1", "two"]
        assert {i.cohorts["seg-ment"] for i in q.items} == {"'; DROP TABLE predictions; --", None}
        assert m.store.counts()["predictions"] == 2


# -- exports --------------------------------------------------------------------------------
class _Choices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choices: list[str] = Field(min_length=1)


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow")
    from_name: str
    to_name: str
    type: Literal["choices"]
    value: _Choices


class _Prediction(BaseModel):
    model_config = ConfigDict(extra="allow")
    model_version: str
    score: float
    result: list[_Result]


class _Task(BaseModel):
    """A task of Label Studio's JSON import with a pre-annotation, as documented at
    https://labelstud.io/guide/predictions and https://labelstud.io/guide/task_format:
    ``data`` (the fields the labelling config's ``$variables`` name) and ``predictions``,
    each with ``model_version``, ``score`` and a ``result`` list of ``from_name`` (the
    control tag), ``to_name`` (the object tag), ``type`` and ``value`` (for a
    ``Choices`` control: ``{"choices": [...]}``)."""

    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any]
    predictions: list[_Prediction] = Field(default_factory=list)


def hostile_queue(tmp_path: Path) -> Any:
    df = groups()
    df["id"] = [f"=cmd{i}" if i % 2 else f"r{i}" for i in range(len(df))]
    df["segment"] = ["+SUM(A1)", "@x", "-1", "<b>&</b>", "ok"] * 3
    df.loc[0, "x"] = np.nan  # a missing feature: null in JSON, empty in CSV
    monitor = connect(tmp_path, SPEC, df)
    q = monitor.queue(budget=6, policy=["least-confident", "high-confidence"])
    monitor.close()
    return q


def test_label_studio_tasks_follow_the_documented_format_and_the_config(tmp_path: Path) -> None:
    q = hostile_queue(tmp_path)
    files = write_queue(q, tmp_path / "tasks.json", "label-studio")
    assert [f.name for f in files] == ["tasks.json", "tasks.label-config.xml"]
    tasks = json.loads(files[0].read_text())
    assert tasks == label_studio_tasks(q)
    assert len(tasks) == 12
    config = ET.fromstring(files[1].read_text())
    objects = {el.get("name"): el for el in config if el.tag in ("Table", "Text")}
    controls = {el.get("name"): el for el in config if el.tag == "Choices"}
    choices = {c.get("value") for c in controls[LS_FROM_NAME]}
    assert choices == set(CLASSES)
    for task, item in zip(tasks, q.items, strict=True):
        parsed = _Task.model_validate(task)
        # each $variable of the config is a field of data
        for el in config.iter():
            value = el.get("value", "")
            if el.tag != "Choice" and value.startswith("$"):
                assert value[1:] in parsed.data
        assert parsed.data["id"] == item.id
        (prediction,) = parsed.predictions
        assert prediction.score == pytest.approx(item.confidence)
        (result,) = prediction.result
        assert result.from_name in controls
        assert result.to_name in objects
        assert (result.from_name, result.to_name) == (LS_FROM_NAME, LS_TO_NAME)
        assert controls[result.from_name].get("toName") == result.to_name
        assert result.value.choices == [item.prediction]
        assert set(result.value.choices) <= choices


def test_label_config_escapes_class_names() -> None:
    config = ET.fromstring(label_config(['a"b', "<c>&d"]))
    assert [c.get("value") for c in config.iter("Choice")] == ['a"b', "<c>&d"]


def test_csv_is_plain_text_without_formulas_and_jsonl_round_trips(tmp_path: Path) -> None:
    q = hostile_queue(tmp_path)
    (path,) = write_queue(q, tmp_path / "queue.csv", "csv")
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["id"] for r in rows] == ["'" + i if i.startswith("=") else i for i in q.ids]
    shown = [i.cohorts["segment"] for i in q.items]
    assert {"+SUM(A1)", "@x", "-1", "<b>&</b>"} <= set(shown)  # the queue holds them all
    assert [r["segment"] for r in rows] == ["'" + v if v[0] in "=+-@" else v for v in shown]
    for r, i in zip(rows, q.items, strict=True):
        x = i.features["x"]
        assert r["x"] == "" if x is None or np.isnan(x) else float(r["x"]) == x
    (path,) = write_queue(q, tmp_path / "queue.jsonl", "jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert "NaN" not in path.read_text()
    assert None in [line["features"]["x"] for line in lines]
    assert [line["id"] for line in lines] == q.ids
    assert lines[0]["scores"] == q.items[0].scores
    # written atomically: the old file is replaced whole, no temporary file is left
    write_queue(q, path, "jsonl")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# -- command line ---------------------------------------------------------------------------
def test_cli_queue_writes_label_studio_tasks_and_refuses_bad_input(
    tmp_path: Path, run_cli: Any
) -> None:
    import yaml

    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(SPEC))
    groups().to_parquet(tmp_path / "p.parquet")
    assert run_cli("log", "p.parquet", cwd=tmp_path).code == 0
    r = run_cli(
        "queue",
        "--policy",
        "least-confident",
        "--budget",
        "4",
        "--stratify",
        "class",
        "--format",
        "label-studio",
        "--out",
        "tasks.json",
        cwd=tmp_path,
    )
    assert r.code == 0, r.output
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == 4
    assert (tmp_path / "tasks.label-config.xml").exists()
    assert "least-confident 'a': 4 picked (quota 4 of 15 candidates)" in r.err
    r = run_cli("queue", "--budget", "3", "--policy", "margin", cwd=tmp_path)
    assert r.code == 0
    assert "tied0" in r.out
    r = run_cli("queue", "--json", "--budget", "2", "--seed", "4", cwd=tmp_path)
    assert r.code == 0, r.output
    printed = json.loads(r.out)
    assert [i["id"] for i in printed["items"]] == ["flat0", "flat1"]
    assert printed["config"]["seed"] == 4
    r = run_cli("queue", "--out", "q.csv", "--threshold", "a=0.6", cwd=tmp_path)
    assert r.code == 0, r.output
    assert (tmp_path / "q.csv").read_text().startswith("id,policy,rank")
    for args, message in [
        (["--policy", "nope"], "unknown queue policy 'nope'"),
        (["--stratify", "colour"], "stratify is 'colour'"),
        (["--format", "csv"], "--format needs --out"),
        (["--out", "q.txt"], "does not say its format"),
        (["--out", "."], "is a directory"),
        (["--threshold", "a"], "is not NAME=VALUE"),
        (["--threshold", "a=high"], "is not a number"),
        (["--cohorts", "segment"], "is not NAME=VALUE"),
        (["--budget", "0"], "budget"),
    ]:
        r = run_cli("queue", *args, cwd=tmp_path)
        assert r.code == 2, (args, r.output)
        assert message in r.err, (args, r.err)


# -- Spark ------------------------------------------------------------------------------------
@pytest.mark.spark
def test_the_same_queue_on_spark_as_on_duckdb(spark: Any, tmp_path: Path) -> None:
    from driftline.engine import SparkEngine
    from driftline.queues import build_queue, queue_config

    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(3), size=120)
    probs[:30] = [0.5, 0.3, 0.2]  # ties: the seeded md5 decides, alike on both engines
    df = frame(
        [(f"r{i}", tuple(p)) for i, p in enumerate(probs)],
        segment=list(rng.choice(["north", "south", None], size=120)),
    )
    labels = pd.DataFrame({"id": [f"r{i}" for i in range(0, 120, 3)]})
    labels["label"] = df.set_index("id").loc[labels["id"], "pred"].to_numpy()
    configs = [
        queue_config(policy=["least-confident", "entropy"], budget=12, stratify="class", seed=3),
        queue_config(policy="margin", budget=9, stratify="cohort", allocation="proportional"),
        queue_config(policy="below-threshold-correct", band=0.3, budget=5),
        queue_config(
            policy="near-threshold",
            budget=7,
            cohorts={"segment": ["(missing)"]},
            since="2024-03-01T00:30:00Z",
            until="2024-03-01T01:40:00",
        ),
    ]
    with connect(tmp_path, SPEC, df) as m:
        m.log_labels(labels)
        local = [m.queue(c, thresholds={"a": 0.6}) for c in configs]
        for table in ("predictions", "labels"):  # the store's tables, as Parquet files
            m.store.con.execute(
                f"COPY (SELECT * EXCLUDE (_raw) FROM {table}) TO '{tmp_path / table}.parquet'"
                if table == "predictions"
                else f"COPY labels TO '{tmp_path / table}.parquet'"
            )
    for table in ("predictions", "labels"):
        spark.read.parquet(str(tmp_path / f"{table}.parquet")).createOrReplaceTempView(
            f"dl_q_{table}"
        )
    engine = SparkEngine(spark)
    spec = driftline.Spec.model_validate(SPEC)
    for config, want in zip(configs, local, strict=True):
        got = build_queue(
            engine,
            engine.table("dl_q_predictions"),
            spec,
            config,
            labels=engine.table("dl_q_labels"),
            thresholds={"a": 0.6},
            unique_ids=False,
        )
        assert want.ids, config  # each configuration picks something
        assert got.ids == want.ids, config
        assert got.strata == want.strata
        np.testing.assert_allclose(
            [i.priority for i in got.items], [i.priority for i in want.items], rtol=1e-12
        )
        assert [i.label for i in got.items] == [i.label for i in want.items]


def test_many_strata_are_ranked_by_one_window_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline.engine import queues as engine_queues

    rng = np.random.default_rng(11)
    probs = rng.dirichlet(np.ones(3), size=150)
    probs[:20] = [0.5, 0.3, 0.2]  # ties
    df = frame(
        [(f"r{i}", tuple(p)) for i, p in enumerate(probs)],
        segment=list(rng.choice(["n", "s", "e", None], size=150)),
    )
    with connect(tmp_path, SPEC, df) as m:
        options: dict[str, Any] = {
            "policy": ["least-confident", "margin"],
            "budget": 17,
            "stratify": "cohort",
            "allocation": "proportional",
        }
        by_union = m.queue(**options)
        monkeypatch.setattr(engine_queues, "UNION_STRATA", 0)
        by_window = m.queue(**options)
    assert by_window.ids == by_union.ids
    assert by_window.strata == by_union.strata
    assert len(set(by_union.ids)) == 34
