"""Labels' bad input: ids never predicted are stored, counted and reported; an unknown
class is refused naming the value and the fix; a batch logged twice (with or without a
batch_id) stores nothing twice."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import driftline
from driftline.errors import IngestError


@pytest.fixture
def monitor(tmp_path: Path, make_spec: Any, make_predictions: Any) -> Any:
    m = driftline.connect(tmp_path / "labels.duckdb", make_spec())
    m.log_predictions(make_predictions(10))  # ids r0 .. r9
    yield m
    m.close()


def stored_labels(m: Any) -> list[tuple[str, str]]:
    return m.store.con.execute("SELECT id, label FROM labels ORDER BY id, _batch").fetchall()


def test_labels_for_ids_never_predicted_are_stored_counted_and_reported(monitor: Any) -> None:
    labels = pd.DataFrame({"id": ["r1", "ghost2", "r2", "ghost1"], "label": ["a", "b", "c", "a"]})
    report = monitor.log_labels(labels, batch_id="lab-1")
    assert (report.rows, report.unknown_ids) == (4, 2)
    assert report.unknown_id_examples == ["ghost1", "ghost2"]
    assert len(stored_labels(monitor)) == 4  # never dropped
    again = monitor.log_labels(labels, batch_id="lab-1")  # the retry says the same
    assert again.already_stored
    assert (again.rows, again.unknown_ids, again.unknown_id_examples) == (
        4,
        2,
        ["ghost1", "ghost2"],
    )
    assert len(stored_labels(monitor)) == 4


def test_labels_before_any_prediction_are_all_unknown(tmp_path: Path, make_spec: Any) -> None:
    with driftline.connect(tmp_path / "fresh.duckdb", make_spec()) as m:
        report = m.log_labels(pd.DataFrame({"id": ["p1", "p2"], "label": ["a", "b"]}))
        assert report.unknown_ids == 2


def test_a_label_of_an_unknown_class_is_refused_naming_value_and_fix(monitor: Any) -> None:
    before = monitor.store.counts()
    with pytest.raises(IngestError) as info:
        monitor.log_labels(pd.DataFrame({"id": ["r1", "r2"], "label": ["a", "zebra"]}))
    message = str(info.value)
    assert "column 'label' (label) has value 'zebra'" in message
    assert "not a class of the spec ('a', 'b', 'c')" in message
    assert "Map it to the model's class names" in message
    assert "Nothing was stored" in message
    assert monitor.store.counts() == before


def test_a_batch_logged_twice_without_batch_id_stores_nothing_twice(monitor: Any) -> None:
    labels = pd.DataFrame({"id": ["r1", "r2", "r3"], "label": ["a", "b", "c"]})
    first = monitor.log_labels(labels)
    assert (first.rows, first.skipped) == (3, 0)
    batches = len(monitor.store.batches("labels"))
    second = monitor.log_labels(labels)
    assert (second.rows, second.skipped, second.batch_id) == (0, 3, "")
    assert len(stored_labels(monitor)) == 3
    assert len(monitor.store.batches("labels")) == batches  # no empty batch recorded
    # a correction and a repeat in one batch: only the correction is stored
    changed = pd.DataFrame({"id": ["r1", "r2"], "label": ["a", "c"]})
    third = monitor.log_labels(changed)
    assert (third.rows, third.skipped) == (1, 1)
    latest = monitor.store.latest_labels().to_pyarrow()
    latest = dict(zip(latest["id"].to_pylist(), latest["label"].to_pylist(), strict=True))
    assert latest == {"r1": "a", "r2": "c", "r3": "c"}
    # going back to an earlier label is a change, and is stored
    assert monitor.log_labels(pd.DataFrame({"id": ["r2"], "label": ["b"]})).rows == 1


def latest(m: Any) -> dict[str, str]:
    table = m.store.latest_labels().to_pyarrow()
    return dict(zip(table["id"].to_pylist(), table["label"].to_pylist(), strict=True))


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_latest_labelled_at_wins_in_whatever_order_files_come(
    tmp_path: Path, make_spec: Any, make_predictions: Any, order: tuple[int, ...]
) -> None:
    """A label confirmed again later (day 23) outranks a correction dated between (day
    22), however the three files are logged. The confirmation was skipped as "already
    the latest" when it came second, and the correction then won."""
    ids = [f"r{i}" for i in range(6)]

    def batch(label: str, day: int) -> pd.DataFrame:
        at = pd.Timestamp(f"2026-11-{day}T09:00:00Z")
        return pd.DataFrame({"id": ids, "label": [label] * 6, "labelled_at": [at] * 6})

    files = [batch("a", 21), batch("a", 23), batch("b", 22)]
    with driftline.connect(tmp_path / "order.duckdb", make_spec()) as m:
        m.log_predictions(make_predictions(6))
        for i in order:
            m.log_labels(files[i])
        assert latest(m) == dict.fromkeys(ids, "a")
        again = m.log_labels(files[order[-1]])  # a file logged twice stores nothing twice
        assert (again.rows, again.skipped) == (0, 6)
        older = m.log_labels(batch("a", 20))  # outranked by the same label, later
        assert (older.rows, older.skipped) == (0, 6)


def test_log_labels_prints_the_unknown_ids(
    tmp_path: Path, run_cli: Any, make_spec: Any, make_predictions: Any
) -> None:
    import yaml

    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(make_spec()))
    make_predictions(1).to_parquet(tmp_path / "p.parquet")  # id r0
    assert run_cli("log", "p.parquet", cwd=tmp_path).code == 0
    pd.DataFrame({"id": ["r0", "nope"], "label": ["a", "b"]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    r = run_cli("log", "--labels", "labels.csv", cwd=tmp_path)
    assert r.code == 0, r.output
    assert "labels.csv: stored 2 labels" in r.out
    assert "1 label(s) for ids never predicted (first: 'nope')" in r.err
    r = run_cli("log", "--labels", "labels.csv", cwd=tmp_path)
    assert "labels.csv: stored 0 labels, skipped 2 already stored" in r.out


def test_labels_without_a_label_role_are_refused_or_said_unscored(
    tmp_path: Path, make_spec: Any, make_predictions: Any, run_cli: Any
) -> None:
    """A spec naming no label column: a labels batch whose label column is not called
    'label' is refused with the fix (set `label:`); one called 'label' is stored, and
    every check says its labels are not scored and why, instead of nothing."""
    spec = make_spec(label=None)
    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(spec))
    reference = make_predictions(n=600, seed=7, id_prefix="ref").drop(columns=["label"])
    preds = make_predictions(n=200, seed=3, id_prefix="p", start="2024-03-01")
    labels = preds[["id", "label"]]
    with driftline.connect(tmp_path / "driftline.duckdb", spec) as mon:
        mon.log_reference(reference)
        mon.log_predictions(preds.drop(columns=["label"]))
        with pytest.raises(IngestError, match=r"names no label column \(`label:`\).*set `label:`"):
            mon.log_labels(labels.rename(columns={"label": "outcome"}))
        mon.log_labels(labels)
        report = mon.check(persist=False)
    assert report.labels["labels_unjudged"] == 200
    assert "set `label:`" in report.labels["unjudged_why"]
    assert not [r for r in report.results if r.check.startswith("performance")]
    done = run_cli("check", cwd=tmp_path)
    assert "200 stored label(s) are not scored: the spec names no label column" in done.out


def test_a_reused_batch_id_on_other_data_is_refused_a_retry_is_not(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """A batch_id names one batch: logging other rows under it was reported "already
    stored" and dropped them. A retry (same rows, or a batch that skipped duplicates)
    is still a no-op."""
    with driftline.connect(tmp_path / "s.duckdb", make_spec()) as m:
        m.log_predictions(make_predictions(10), batch_id="day1")
        assert m.log_predictions(make_predictions(10), batch_id="day1").already_stored
        other = make_predictions(20, id_prefix="q")
        with pytest.raises(IngestError) as info:
            m.log_predictions(other, batch_id="day1")
        message = str(info.value)
        assert "batch_id 'day1' is already stored (10 predictions)" in message
        assert "holds id 'q0', which the store has no predictions of" in message
        assert "Nothing was stored" in message
        # a batch that left out the rows stored before, retried
        mixed = pd.concat([make_predictions(10), make_predictions(5, id_prefix="s")])
        first = m.log_predictions(mixed, batch_id="day2", on_duplicate="skip")
        assert (first.rows, first.skipped) == (5, 10)
        assert m.log_predictions(mixed, batch_id="day2", on_duplicate="skip").already_stored
        labels = pd.DataFrame({"id": ["r1", "r2"], "label": ["a", "b"]})
        m.log_labels(labels, batch_id="lab")
        with pytest.raises(IngestError, match="holds id 's3', which the store has no labels of"):
            m.log_labels(pd.DataFrame({"id": ["s3"], "label": ["c"]}), batch_id="lab")
        assert m.store.counts()["predictions"] == 15
