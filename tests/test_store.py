"""The store's ingest policy: required roles refused whole, features stored as they came.

Every refusal is checked three ways: the error type, a message naming the column, the
offending value and the fix, and a store left exactly as it was (row counts of every
table plus a hash over every row of predictions, labels and batches).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline import IngestError, Monitor
from driftline.store import SCORE_SUM_TOLERANCE

Snapshot = tuple[dict[str, int], dict[str, tuple[Any, ...]]]


def snapshot(monitor: Monitor) -> Snapshot:
    """Row counts of every table, and a count and row-hash sum of the data tables."""
    store = monitor.store
    sums: dict[str, tuple[Any, ...]] = {}
    for table in ("predictions", "labels", "batches"):
        if store.has_table(table):
            row = store.con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchone()
            assert row is not None
            sums[table] = tuple(row)
    return store.counts(), sums


def stored(monitor: Monitor, columns: str = "*", where: str = "true") -> list[tuple[Any, ...]]:
    return monitor.store.con.execute(
        f"SELECT {columns} FROM predictions WHERE {where} ORDER BY id"
    ).fetchall()


@pytest.fixture
def monitor(tmp_path: Path, make_spec: Any, make_predictions: Any) -> Iterator[Monitor]:
    """A store that already holds one good batch (ids r0..r19), so refusals can change it."""
    m = driftline.connect(tmp_path / "store.duckdb", make_spec())
    m.log_predictions(make_predictions(), batch_id="first")
    yield m
    m.close()


@pytest.fixture
def list_monitor(tmp_path: Path, make_spec: Any, make_predictions: Any) -> Iterator[Monitor]:
    """The same, with scores as one list column ``probs`` in class order a, b, c."""
    m = driftline.connect(tmp_path / "list.duckdb", make_spec(list_scores=True))
    m.log_predictions(make_predictions(list_scores=True), batch_id="first")
    yield m
    m.close()


@pytest.fixture
def batch(make_predictions: Any) -> pd.DataFrame:
    """A valid second batch with fresh ids n0..n9."""
    df: pd.DataFrame = make_predictions(n=10, seed=1, id_prefix="n")
    return df


@pytest.fixture
def list_batch(make_predictions: Any) -> pd.DataFrame:
    df: pd.DataFrame = make_predictions(n=10, seed=1, id_prefix="n", list_scores=True)
    return df


def refused(monitor: Monitor, data: Any, kind: str = "predictions", **kwargs: Any) -> str:
    """Log ``data``, expect IngestError, prove the store unchanged; return the message."""
    before = snapshot(monitor)
    log = monitor.log_predictions if kind == "predictions" else monitor.log_labels
    with pytest.raises(IngestError) as info:
        log(data, **kwargs)
    assert snapshot(monitor) == before
    return str(info.value)


def with_value(df: pd.DataFrame, column: str, row: int, value: Any) -> pd.DataFrame:
    out = df.copy()
    values = out[column].astype(object).tolist()
    values[row] = value
    out[column] = pd.Series(values, dtype=object if isinstance(value, str) else None)
    return out


def test_good_batch_is_stored_with_its_values(monitor: Monitor, batch: pd.DataFrame) -> None:
    report = monitor.log_predictions(batch)
    assert (report.kind, report.rows, report.already_stored) == ("predictions", 10, False)
    assert (report.missing_features, report.extra_columns, report.retyped) == ([], [], {})
    assert monitor.store.counts()["predictions"] == 30
    rows = stored(monitor, "id, pred, score_a, x, color, _raw", "id LIKE 'n%'")
    expected = batch.sort_values("id")
    assert [r[0] for r in rows] == expected["id"].tolist()
    assert [r[1] for r in rows] == expected["pred"].tolist()
    assert [r[2] for r in rows] == expected["score_a"].tolist()
    assert [r[3] for r in rows] == expected["x"].tolist()
    assert [r[4] for r in rows] == expected["color"].tolist()
    assert all(r[5] is None for r in rows)


# -- a required column missing or of the wrong type --------------------------------------
@pytest.mark.parametrize(
    ("column", "role"),
    [("id", "id"), ("ts", "timestamp"), ("pred", "prediction"), ("score_b", "scores")],
)
def test_missing_required_column_is_refused(
    monitor: Monitor, batch: pd.DataFrame, column: str, role: str
) -> None:
    msg = refused(monitor, batch.drop(columns=column))
    assert f"missing required column {column!r} (role: {role})" in msg
    assert "columns present:" in msg
    assert "Add the column, or map the role" in msg


def test_scores_as_strings_are_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, batch.assign(score_a=batch["score_a"].astype(str)))
    assert "column 'score_a' (scores) is VARCHAR" in msg
    assert "Cast the column" in msg


def test_timestamp_as_integer_epoch_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    epoch = batch["ts"].astype("int64") // 10**9
    msg = refused(monitor, batch.assign(ts=epoch))
    assert "column 'ts' (timestamp) is BIGINT" in msg
    assert "pandas.to_datetime(df['ts'], unit='s')" in msg


def test_timestamp_as_float_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, batch.assign(ts=np.linspace(1.7e9, 1.8e9, len(batch))))
    assert "column 'ts' (timestamp) is DOUBLE" in msg
    assert "Convert epoch numbers to timestamps" in msg


def test_id_as_a_list_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, batch.assign(id=[[i, i + 1] for i in range(len(batch))]))
    assert "column 'id' (id) is BIGINT[]" in msg
    assert "ids must be strings or integers. Cast the column" in msg


def test_prediction_as_a_list_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, batch.assign(pred=[["a"]] * len(batch)))
    assert "column 'pred' (prediction) is VARCHAR[]" in msg
    assert "one of 'a', 'b', 'c'" in msg


# -- invalid per-class scores ----------------------------------------------------------
def test_nan_score_from_pandas_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, with_value(batch, "score_a", 3, np.nan))
    assert "column 'score_a' (scores) has invalid value 'null (NaN or missing)' (id 'n3')" in msg
    assert "finite probabilities in [0, 1]" in msg


def test_nan_score_in_arrow_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(batch, preserve_index=False)
    scores = batch["score_b"].to_numpy().copy()
    scores[4] = np.nan  # a real IEEE NaN, not a null
    table = table.set_column(
        table.schema.get_field_index("score_b"),
        "score_b",
        pa.array(scores, from_pandas=False),
    )
    msg = refused(monitor, table)
    assert "column 'score_b' (scores) has invalid value 'nan' (id 'n4')" in msg
    assert "finite probabilities in [0, 1]" in msg


def test_infinite_score_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, with_value(batch, "score_c", 2, math.inf))
    assert "column 'score_c' (scores) has invalid value 'inf' (id 'n2')" in msg
    assert "apply softmax to logits" in msg


def test_negative_score_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, with_value(batch, "score_a", 5, -0.25))
    assert "column 'score_a' (scores) has invalid value '-0.25' (id 'n5')" in msg
    assert "in [0, 1]" in msg


def test_score_above_one_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, with_value(batch, "score_b", 6, 1.5))
    assert "column 'score_b' (scores) has invalid value '1.5' (id 'n6')" in msg
    assert "in [0, 1]" in msg


def _fixed_scores(df: pd.DataFrame, c_shift: float) -> pd.DataFrame:
    """Scores 0.5 / 0.3 / 0.2 for every row, with ``c_shift`` added to score_c of row 7."""
    shift = np.where(np.arange(len(df)) == 7, c_shift, 0.0)
    return df.assign(pred="a", score_a=0.5, score_b=0.3, score_c=0.2 + shift)


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["above", "below"])
def test_scores_not_summing_to_one_are_refused(
    monitor: Monitor, batch: pd.DataFrame, sign: float
) -> None:
    msg = refused(monitor, _fixed_scores(batch, sign * 1.5 * SCORE_SUM_TOLERANCE))
    total = 1 + sign * 1.5 * SCORE_SUM_TOLERANCE
    found = re.search(r"sum to ([0-9.]+) for id 'n7'", msg)
    assert found is not None, msg
    assert float(found.group(1)) == pytest.approx(total, abs=1e-12)
    assert f"within {SCORE_SUM_TOLERANCE}" in msg
    assert "apply softmax" in msg


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["above", "below"])
def test_scores_summing_to_one_within_tolerance_are_stored(
    monitor: Monitor, batch: pd.DataFrame, sign: float
) -> None:
    data = _fixed_scores(batch, sign * 0.9 * SCORE_SUM_TOLERANCE)
    assert monitor.log_predictions(data).rows == len(batch)
    (row,) = stored(monitor, "score_c", "id = 'n7'")
    assert row[0] == pytest.approx(0.2 + sign * 0.9 * SCORE_SUM_TOLERANCE, abs=1e-15)


# -- timestamps, ids, predictions --------------------------------------------------------
def test_unparsable_timestamp_string_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    as_text = batch.assign(ts=batch["ts"].map(lambda t: t.isoformat()))
    msg = refused(monitor, with_value(as_text, "ts", 4, "yesterday noon"))
    assert "column 'ts' (timestamp) has unparsable value 'yesterday noon' (id 'n4')" in msg
    assert "use ISO-8601" in msg


def test_out_of_range_timestamp_string_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    as_text = batch.assign(ts=batch["ts"].map(lambda t: t.isoformat()))
    msg = refused(monitor, with_value(as_text, "ts", 1, "2024-13-01T00:00:00Z"))
    assert "unparsable value '2024-13-01T00:00:00Z' (id 'n1')" in msg


def test_null_timestamp_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    ts = batch["ts"].copy()
    ts.iloc[8] = pd.NaT
    msg = refused(monitor, batch.assign(ts=ts))
    assert "column 'ts' (timestamp) is null for id 'n8'" in msg
    assert "fill it or drop the row" in msg


def test_null_timestamp_string_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    as_text = batch.assign(ts=batch["ts"].map(lambda t: t.isoformat()))
    msg = refused(monitor, with_value(as_text, "ts", 0, None))
    assert "column 'ts' (timestamp) is null for id 'n0'" in msg


def test_null_id_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    ids = batch["id"].tolist()
    ids[2] = ids[5] = None
    msg = refused(monitor, batch.assign(id=ids))
    assert "column 'id' (id) has 2 null value(s)" in msg
    assert "fill them or drop those rows" in msg


def test_prediction_not_a_class_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, with_value(batch, "pred", 3, "zebra"))
    assert "column 'pred' (prediction) has value 'zebra' (id 'n3')" in msg
    assert "not a class of the spec ('a', 'b', 'c')" in msg
    assert "add the class to scores in the spec" in msg


def test_null_prediction_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, with_value(batch, "pred", 9, None))
    assert "column 'pred' (prediction) has value None (id 'n9')" in msg


def test_duplicate_ids_in_one_batch_are_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    ids = batch["id"].tolist()
    ids[1] = ids[2] = ids[3] = "n0"
    msg = refused(monitor, batch.assign(id=ids))
    assert "column 'id' (id) has duplicate values in one batch: 'n0' (4x)" in msg
    assert "de-duplicate the batch" in msg


def test_empty_dataframe_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    msg = refused(monitor, batch.iloc[:0])
    assert "the batch has 0 rows" in msg
    assert "at least one row" in msg


def test_dataframe_without_columns_is_refused(monitor: Monitor) -> None:
    msg = refused(monitor, pd.DataFrame())
    assert "the batch (DataFrame) has no columns" in msg
    assert "log rows with the columns the spec names" in msg


def test_empty_list_is_refused(monitor: Monitor) -> None:
    msg = refused(monitor, [])
    assert "the batch is an empty list" in msg
    assert "log at least one row" in msg


# -- scores as one list column -----------------------------------------------------------
def test_list_scores_are_stored(list_monitor: Monitor, list_batch: pd.DataFrame) -> None:
    list_monitor.log_predictions(list_batch)
    rows = stored(list_monitor, "id, probs", "id LIKE 'n%'")
    expected = list_batch.sort_values("id")
    assert [r[0] for r in rows] == expected["id"].tolist()
    assert [r[1] for r in rows] == expected["probs"].tolist()


@pytest.mark.parametrize(
    "probs", [[0.5, 0.5], [0.25, 0.25, 0.25, 0.25], []], ids=["short", "long", "empty"]
)
def test_list_scores_of_wrong_length_are_refused(
    list_monitor: Monitor, list_batch: pd.DataFrame, probs: list[float]
) -> None:
    msg = refused(list_monitor, with_value(list_batch, "probs", 2, probs))
    assert f"column 'probs' (scores) has value '{probs}' (id 'n2')".replace(",", ",") in msg
    assert "expected 3 probabilities, one per class 'a', 'b', 'c'" in msg


def test_null_list_scores_are_refused(list_monitor: Monitor, list_batch: pd.DataFrame) -> None:
    msg = refused(list_monitor, with_value(list_batch, "probs", 0, None))
    assert "column 'probs' (scores) has value 'null' (id 'n0')" in msg
    assert "expected 3 probabilities" in msg


@pytest.mark.parametrize(
    ("probs", "shown"),
    [
        ([-0.1, 0.6, 0.5], "[-0.1, 0.6, 0.5]"),
        ([1.5, -0.25, -0.25], "[1.5, -0.25, -0.25]"),
        ([None, 0.5, 0.5], "[NULL, 0.5, 0.5]"),
        ([math.inf, 0.0, 0.0], "[inf, 0.0, 0.0]"),
    ],
    ids=["negative", "above-one", "null-element", "infinite"],
)
def test_invalid_list_scores_are_refused(
    list_monitor: Monitor, list_batch: pd.DataFrame, probs: list[float], shown: str
) -> None:
    msg = refused(list_monitor, with_value(list_batch, "probs", 4, probs))
    assert f"column 'probs' (scores) has invalid value '{shown}' (id 'n4')" in msg
    assert "finite probabilities in [0, 1]" in msg


def test_nan_in_list_scores_is_refused(list_monitor: Monitor, list_batch: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(list_batch.drop(columns="probs"), preserve_index=False)
    probs = [list(p) for p in list_batch["probs"]]
    probs[6] = [math.nan, 0.5, 0.5]
    table = table.append_column("probs", pa.array(probs, from_pandas=False))
    msg = refused(list_monitor, table)
    assert "column 'probs' (scores) has invalid value '[nan, 0.5, 0.5]' (id 'n6')" in msg


def test_list_scores_not_summing_to_one_are_refused(
    list_monitor: Monitor, list_batch: pd.DataFrame
) -> None:
    msg = refused(list_monitor, with_value(list_batch, "probs", 3, [0.25, 0.25, 0.25]))
    assert "scores ('probs') sum to 0.75 for id 'n3'" in msg
    assert f"must sum to 1 within {SCORE_SUM_TOLERANCE}" in msg


@pytest.mark.parametrize(
    ("values", "typ"),
    [(0.5, "DOUBLE"), ("0.2,0.3,0.5", "VARCHAR"), (["0.2", "0.3", "0.5"], "VARCHAR[]")],
    ids=["number", "string", "list-of-strings"],
)
def test_list_scores_of_wrong_type_are_refused(
    list_monitor: Monitor, list_batch: pd.DataFrame, values: Any, typ: str
) -> None:
    msg = refused(list_monitor, list_batch.assign(probs=[values] * len(list_batch)))
    assert f"column 'probs' (scores) is {typ}; expected a list of 3 probabilities" in msg


# -- labels ------------------------------------------------------------------------------
def test_labels_are_stored(monitor: Monitor) -> None:
    labels = pd.DataFrame(
        {
            "id": ["r0", "r1"],
            "label": ["b", "c"],
            "labelled_at": ["2024-02-01T10:00:00+02:00", "2024-02-01T10:00:00Z"],
        }
    )
    report = monitor.log_labels(labels, batch_id="lab-1")
    assert (report.kind, report.rows) == ("labels", 2)
    rows = monitor.store.con.execute(
        "SELECT id, label, labelled_at FROM labels ORDER BY id"
    ).fetchall()
    assert [(r[0], r[1], r[2].isoformat()) for r in rows] == [
        ("r0", "b", "2024-02-01T08:00:00"),
        ("r1", "c", "2024-02-01T10:00:00"),
    ]
    assert monitor.log_labels(labels, batch_id="lab-1").already_stored
    assert monitor.store.counts()["labels"] == 2


@pytest.mark.parametrize("missing", ["id", "label"])
def test_labels_missing_a_column_are_refused(monitor: Monitor, missing: str) -> None:
    labels = pd.DataFrame({"id": ["r0", "r1"], "label": ["a", "b"]}).drop(columns=missing)
    msg = refused(monitor, labels, kind="labels")
    assert f"labels batch is missing column {missing!r}" in msg
    assert "labels need 'id' and 'label'" in msg
    assert "columns present:" in msg


def test_labels_with_unknown_class_are_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame({"id": ["r0", "r1"], "label": ["a", "zebra"]})
    msg = refused(monitor, labels, kind="labels")
    assert "column 'label' (label) has value 'zebra'" in msg
    assert "not a class of the spec ('a', 'b', 'c')" in msg


def test_labels_with_null_label_are_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame({"id": ["r0", "r1"], "label": ["a", None]})
    msg = refused(monitor, labels, kind="labels")
    assert "column 'label' (label) is null for id 'r1'" in msg
    assert "drop unlabelled rows" in msg


def test_labels_with_null_id_are_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame({"id": ["r0", None], "label": ["a", "b"]})
    msg = refused(monitor, labels, kind="labels")
    assert "column 'id' (id) of the labels batch has 1 null value(s)" in msg
    assert "fill them or drop those rows" in msg


def test_labels_with_unparsable_labelled_at_are_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame(
        {"id": ["r0", "r1"], "label": ["a", "b"], "labelled_at": ["2024-02-01", "soon"]}
    )
    msg = refused(monitor, labels, kind="labels")
    assert "column 'labelled_at' has null or unparsable value 'soon' (id 'r1')" in msg
    assert "use ISO-8601" in msg


def test_empty_labels_batch_is_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame({"id": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)})
    msg = refused(monitor, labels, kind="labels")
    assert "the labels batch has 0 rows; log at least one label" in msg


def test_batch_id_reused_for_another_kind_is_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame({"id": ["r0"], "label": ["a"]})
    msg = refused(monitor, labels, kind="labels", batch_id="first")
    assert "batch_id 'first' was already used for a predictions batch" in msg
    assert "needs its own batch_id" in msg


# -- features are stored as they came -----------------------------------------------------
def test_missing_feature_is_stored_as_null(monitor: Monitor, batch: pd.DataFrame) -> None:
    report = monitor.log_predictions(batch.drop(columns=["x", "segment"]))
    assert report.rows == len(batch)
    assert report.missing_features == ["segment", "x"]
    assert (report.extra_columns, report.retyped) == ([], {})
    rows = stored(monitor, "x, segment, y", "id LIKE 'n%'")
    assert [r[:2] for r in rows] == [(None, None)] * len(batch)
    assert [r[2] for r in rows] == batch.sort_values("id")["y"].tolist()
    (batch_row,) = monitor.store.batches().to_pylist()[1:]
    assert json.loads(batch_row["missing_features"]) == ["segment", "x"]


def test_extra_column_is_kept_raw(monitor: Monitor, batch: pd.DataFrame) -> None:
    extra = batch.assign(new_feature=np.arange(len(batch)) * 10, note="hello")
    report = monitor.log_predictions(extra)
    assert report.extra_columns == ["new_feature", "note"]
    assert (report.missing_features, report.retyped) == ([], {})
    rows = stored(monitor, "id, _raw", "id LIKE 'n%'")
    by_id = {r[0]: json.loads(r[1]) for r in rows}
    for i in range(len(batch)):
        assert by_id[f"n{i}"] == {"new_feature": i * 10, "note": "hello"}
    columns = monitor.store.con.execute("DESCRIBE predictions").fetchall()
    assert "new_feature" not in {c[0] for c in columns}


def test_numeric_feature_as_strings_is_cast_and_kept_raw(
    monitor: Monitor, batch: pd.DataFrame
) -> None:
    text = ["1.5", "oops", "-2", "", "3e2", "7", "8", "9", "10", "11"]
    report = monitor.log_predictions(batch.assign(y=text))
    assert report.retyped == {"y": "VARCHAR"}
    assert (report.missing_features, report.extra_columns) == ([], [])
    rows = stored(monitor, "id, y, _raw", "id LIKE 'n%'")
    by_id = {r[0]: (r[1], json.loads(r[2])) for r in rows}
    assert by_id["n0"] == (1.5, {"y": "1.5"})
    assert by_id["n1"] == (None, {"y": "oops"})
    assert by_id["n2"] == (-2.0, {"y": "-2"})
    assert by_id["n3"] == (None, {"y": ""})
    assert by_id["n4"] == (300.0, {"y": "3e2"})


def test_unseen_categories_are_stored_as_they_came(monitor: Monitor, batch: pd.DataFrame) -> None:
    colors = ["purple", "red", "Red ", "", "green"] * 2
    report = monitor.log_predictions(batch.assign(color=colors, segment="west"))
    assert (report.missing_features, report.extra_columns, report.retyped) == ([], [], {})
    rows = stored(monitor, "color, segment", "id LIKE 'n%'")
    ordered = batch.assign(color=colors).sort_values("id")["color"].tolist()
    assert [r[0] for r in rows] == ordered
    assert {r[1] for r in rows} == {"west"}


def test_categorical_feature_as_numbers_is_stored_as_text(
    monitor: Monitor, batch: pd.DataFrame
) -> None:
    report = monitor.log_predictions(batch.assign(color=np.arange(len(batch))))
    assert report.retyped == {"color": "BIGINT"}
    rows = stored(monitor, "id, color", "id LIKE 'n%'")
    assert {r[0]: r[1] for r in rows} == {f"n{i}": str(i) for i in range(len(batch))}


# -- idempotent batch ids -------------------------------------------------------------------
def test_same_batch_id_is_stored_once(monitor: Monitor, batch: pd.DataFrame) -> None:
    first = monitor.log_predictions(batch, batch_id="retry-me")
    before = snapshot(monitor)
    second = monitor.log_predictions(batch, batch_id="retry-me")
    assert (first.already_stored, second.already_stored) == (False, True)
    assert (second.batch_id, second.rows) == ("retry-me", len(batch))
    assert snapshot(monitor) == before
    assert monitor.store.counts()["predictions"] == 20 + len(batch)
    assert monitor.store.counts()["batches"] == 2


def test_refused_batch_id_can_be_retried(monitor: Monitor, batch: pd.DataFrame) -> None:
    refused(monitor, batch.drop(columns="pred"), batch_id="b-2")
    assert monitor.log_predictions(batch, batch_id="b-2").already_stored is False
    assert monitor.store.counts()["predictions"] == 20 + len(batch)


# -- timestamps are stored in UTC ---------------------------------------------------------------
def _stored_ts(monitor: Monitor) -> list[str]:
    return [r[0].isoformat() for r in stored(monitor, "ts", "id LIKE 'n%'")]


def _expected_ts(batch: pd.DataFrame) -> list[str]:
    utc = batch.sort_values("id")["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    return [t.isoformat() for t in utc]


def test_tz_aware_timestamps_are_stored_as_the_same_utc_instant(
    monitor: Monitor, batch: pd.DataFrame
) -> None:
    berlin = batch.assign(ts=batch["ts"].dt.tz_convert("Europe/Berlin"))
    assert berlin["ts"].iloc[0].hour == 1  # 00:00 UTC is 01:00 in Berlin in January
    monitor.log_predictions(berlin)
    assert _stored_ts(monitor) == _expected_ts(batch)


def test_naive_timestamps_are_taken_as_utc(monitor: Monitor, batch: pd.DataFrame) -> None:
    monitor.log_predictions(batch.assign(ts=batch["ts"].dt.tz_localize(None)))
    assert _stored_ts(monitor) == _expected_ts(batch)


def test_iso_strings_with_offsets_parse_to_utc(monitor: Monitor, batch: pd.DataFrame) -> None:
    zones = ["America/New_York", "Asia/Kolkata", "UTC", "Europe/Berlin"]
    text = [t.tz_convert(zones[i % 4]).isoformat() for i, t in enumerate(batch["ts"])]
    assert text[1].endswith("+05:30")
    monitor.log_predictions(batch.assign(ts=text))
    assert _stored_ts(monitor) == _expected_ts(batch)


def test_naive_iso_strings_are_taken_as_utc(monitor: Monitor, batch: pd.DataFrame) -> None:
    text = [t.strftime("%Y-%m-%d %H:%M:%S") for t in batch["ts"]]
    monitor.log_predictions(batch.assign(ts=text))
    assert _stored_ts(monitor) == _expected_ts(batch)


# -- confidence ----------------------------------------------------------------------------
def test_confidence_is_the_max_score(monitor: Monitor) -> None:
    rows = stored(monitor, "score_a, score_b, score_c, confidence")
    assert len(rows) == 20
    for *scores, confidence in rows:
        assert abs(confidence - max(scores)) <= 1e-12


def test_confidence_is_the_max_of_list_scores(list_monitor: Monitor) -> None:
    rows = stored(list_monitor, "probs, confidence")
    assert len(rows) == 20
    for probs, confidence in rows:
        assert abs(confidence - max(probs)) <= 1e-12


def test_store_reopens_with_its_rows(tmp_path: Path, make_spec: Any, make_predictions: Any) -> None:
    path = tmp_path / "reopen.duckdb"
    with driftline.connect(path, make_spec()) as m:
        m.log_predictions(make_predictions(n=7))
    with driftline.connect(path, make_spec()) as m:
        assert m.store.counts()["predictions"] == 7
        assert m.log_predictions(make_predictions(n=3, id_prefix="z")).rows == 3
        assert m.store.counts()["predictions"] == 10


def test_store_caps_duckdb_memory_and_keeps_stdout_clean(tmp_path: Path, make_spec: Any) -> None:
    from driftline.spec import load_spec
    from driftline.store import Store

    store = Store(tmp_path / "m.duckdb", load_spec(make_spec()), memory_limit="512MB")
    limit, bar = store.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('enable_progress_bar')"
    ).fetchone()  # type: ignore[misc]
    assert limit == "488.2 MiB"  # DuckDB reports 512MB in binary units
    assert bar is False
    store.close()
    with pytest.raises(driftline.ConfigError, match=r"memory_limit 'lots'.*'2GB'"):
        Store(tmp_path / "n.duckdb", load_spec(make_spec()), memory_limit="lots")


# -- the tables of a stored run, declared once ---------------------------------------------------
def test_run_tables_are_created_as_declared(monitor: Monitor) -> None:
    from driftline.store import ALERT_COLUMNS, RESULT_COLUMNS

    for table, declared in (("results", RESULT_COLUMNS), ("alerts", ALERT_COLUMNS)):
        described = monitor.store.con.execute(f"DESCRIBE {table}").fetchall()
        assert [(r[0], r[1]) for r in described] == list(declared)


def test_stored_run_rows_take_the_declared_types(monitor: Monitor) -> None:
    from driftline.store import RESULT_COLUMNS

    row: dict[str, Any] = dict.fromkeys((c for c, _ in RESULT_COLUMNS), None)
    row.update(run_id="r", check="class_mix", n=12)  # value, bound, ... null in every row
    monitor.store.save_run([row], [])
    stored_row = monitor.store.con.execute(
        "SELECT typeof(value), value, n FROM results WHERE run_id = 'r'"
    ).fetchall()
    assert stored_row == [("DOUBLE", None, 12)]
    before = snapshot(monitor)
    with pytest.raises(ValueError, match="the table declares"):
        monitor.store.save_run([{**row, "vaule": 1.0}], [])  # a misspelt column
    assert snapshot(monitor) == before


def test_reference_with_invalid_scores_or_predictions_is_refused(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    mon = driftline.connect(tmp_path / "r.duckdb", make_spec(), profile=tmp_path / "p.json")
    ref = make_predictions(50, seed=3).drop(columns=["id"])
    bad = ref.copy()
    bad.loc[4, "pred"] = "zebra"
    with pytest.raises(IngestError, match=r"'pred' \(prediction\) has value 'zebra'.*no id"):
        mon.log_reference(bad)
    bad = ref.copy()
    bad.loc[4, "score_b"] = float("nan")
    with pytest.raises(IngestError, match=r"'score_b' \(scores\) has invalid value"):
        mon.log_reference(bad)
    assert not mon.store.has_table("reference_reference")
    mon.log_reference(ref)  # the same data, fixed, is accepted
    assert mon.profile.n_rows_ == 50
    mon.close()


# -- prediction ids already stored --------------------------------------------------------------
def test_batch_logged_twice_is_refused(monitor: Monitor, make_predictions: Any) -> None:
    msg = refused(monitor, make_predictions())  # the fixture's first batch, again
    assert "20 of the batch's 20 prediction ids are already stored" in msg
    assert "(column 'id'; first: 'r0', 'r1', 'r10', 'r11', 'r12')" in msg
    assert "would count those predictions twice" in msg
    assert "--on-duplicate skip (API: on_duplicate='skip')" in msg
    assert "--batch-id" in msg


def test_stored_ids_are_compared_as_stored_text(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    first = make_predictions(n=3).assign(id=[1, 2, 3])
    with driftline.connect(tmp_path / "ints.duckdb", make_spec()) as m:
        m.log_predictions(first)
        again = make_predictions(n=2, seed=5).assign(id=["3", "4"])
        msg = refused(m, again)
    assert "1 of the batch's 2 prediction ids are already stored (column 'id'; first: '3')" in msg


def test_long_stored_id_is_shortened(tmp_path: Path, make_spec: Any, make_predictions: Any) -> None:
    df = make_predictions(n=2).assign(id=["k" * 3000, "short"])
    with driftline.connect(tmp_path / "long.duckdb", make_spec()) as m:
        m.log_predictions(df)
        msg = refused(m, df)
    assert "(3,000 characters)" in msg
    assert len(msg) < 1000


def test_skip_stores_only_the_new_rows(
    monitor: Monitor, batch: pd.DataFrame, make_predictions: Any
) -> None:
    mixed = pd.concat([make_predictions(n=5, seed=7), batch], ignore_index=True)  # r0..r4 + n*
    old = stored(monitor, where="id LIKE 'r%'")
    report = monitor.log_predictions(mixed, on_duplicate="skip")
    assert (report.rows, report.skipped, report.already_stored) == (len(batch), 5, False)
    assert monitor.store.counts()["predictions"] == 20 + len(batch)
    assert stored(monitor, where="id LIKE 'r%'") == old  # the stored rows are untouched
    assert [r[0] for r in stored(monitor, "id", "id LIKE 'n%'")] == sorted(batch["id"])
    (row,) = monitor.store.batches().to_pylist()[1:]
    assert row["n_rows"] == len(batch)
    assert row["batch_id"] == report.batch_id


def test_skip_with_every_id_stored_stores_nothing(monitor: Monitor, make_predictions: Any) -> None:
    before = snapshot(monitor)
    report = monitor.log_predictions(make_predictions(), on_duplicate="skip")
    assert (report.rows, report.skipped) == (0, 20)
    assert snapshot(monitor) == before  # no rows and no empty batch row


def test_skip_still_validates_the_whole_batch(monitor: Monitor, make_predictions: Any) -> None:
    bad = with_value(make_predictions(), "score_a", 3, -0.5)  # a stored id's row is invalid
    msg = refused(monitor, bad, on_duplicate="skip")
    assert "column 'score_a' (scores) has invalid value '-0.5' (id 'r3')" in msg


def test_batch_id_retry_is_checked_before_stored_ids(monitor: Monitor, batch: pd.DataFrame) -> None:
    monitor.log_predictions(batch, batch_id="b-1")
    again = monitor.log_predictions(batch, batch_id="b-1")  # every id stored; not refused
    assert (again.already_stored, again.rows, again.skipped) == (True, len(batch), 0)


@pytest.mark.parametrize("value", ["ignore", "Skip", None, 1])
def test_unknown_on_duplicate_is_refused(monitor: Monitor, batch: pd.DataFrame, value: Any) -> None:
    before = snapshot(monitor)
    for log in (monitor.log_predictions, monitor.store.log_predictions):
        with pytest.raises(driftline.ConfigError) as info:
            log(batch, on_duplicate=value)
        assert f"on_duplicate {str(value)!r} is not understood" in str(info.value)
        assert "use one of 'refuse', 'skip'" in str(info.value)
    assert snapshot(monitor) == before


# -- labels: one per id and batch; across batches the latest wins -------------------------------
def test_two_labels_for_one_id_in_a_batch_are_refused(monitor: Monitor) -> None:
    labels = pd.DataFrame({"id": ["r1", "r0", "r1", "r2", "r0", "r1"], "label": list("abcabc")})
    msg = refused(monitor, labels, kind="labels")
    assert "labels batch gives 2 id(s) more than one label: 'r0' (2x), 'r1' (3x)" in msg
    assert "the latest label per id wins" in msg


def _latest(monitor: Monitor) -> dict[str, str]:
    table = monitor.store.latest_labels().to_pyarrow()
    return dict(zip(table["id"].to_pylist(), table["label"].to_pylist(), strict=True))


def test_latest_label_per_id_wins_across_batches(monitor: Monitor) -> None:
    def log(ids: list[str], labels: str, at: str) -> None:
        monitor.log_labels(pd.DataFrame({"id": ids, "label": list(labels), "labelled_at": at}))

    log(["r0", "r1", "r2"], "aaa", "2024-02-02T00:00:00Z")
    log(["r0", "r1"], "bb", "2024-02-01T00:00:00Z")  # later batch, older labels: lose
    log(["r1", "r2"], "cc", "2024-02-02T00:00:00Z")  # a tie: the later batch wins
    log(["r3"], "b", "2024-01-01T00:00:00Z")
    assert _latest(monitor) == {"r0": "a", "r1": "c", "r2": "c", "r3": "b"}
    columns = monitor.store.latest_labels().columns
    assert tuple(columns) == ("id", "label", "labelled_at", "ingested_at", "_batch")


def test_new_id_column_in_the_spec_finds_no_stored_ids(
    monitor: Monitor, make_spec: Any, make_predictions: Any
) -> None:
    monitor.close()
    with driftline.connect(monitor.store.path, make_spec(id="request_id")) as m:
        df = make_predictions(n=5).rename(columns={"id": "request_id"})
        assert (m.log_predictions(df).rows, m.store.counts()["predictions"]) == (5, 25)
        msg = refused(m, df)
    assert "5 of the batch's 5 prediction ids are already stored (column 'request_id'" in msg


def test_columns_the_spec_comes_to_name_are_filled_from_what_batches_brought(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """A batch's columns the spec does not name are kept (``_raw``); when the spec comes
    to name them (a feature of each kind, an embedding, a timestamp role), the stored
    rows read the values they were logged with, converted as logging converts them. A
    batch that did not bring the column reads null; so does a value that does not
    convert."""
    path = tmp_path / "fill.duckdb"
    first = make_predictions(n=6, seed=3)
    first["amount"] = [1.5, -2.0, None, 4.25, 1e300, 0.0]
    first["plan"] = ["free", "pro", None, "pro", "free", "x y/z"]
    first["vec"] = [[0.5, 1.0], [2.0, -1.0], None, [0.0, 0.0], [1.0, 1.0], [3.0, 4.0]]
    first["when"] = pd.to_datetime(
        ["2024-01-01T02:00:00+02:00"] * 3 + ["2024-01-02T00:00:00+00:00"] * 3, utc=True
    )
    first["odd/key~"] = ["7", "8", "oops", "9", "10", "11"]  # numbers as text, one not
    second = make_predictions(n=4, seed=4, id_prefix="s")  # brought none of them
    with driftline.connect(path, make_spec()) as m:
        m.log_predictions(first)
        m.log_predictions(second)
    named = make_spec(
        timestamp="when",
        features={
            "numeric": ["x", "y", "amount", "odd/key~"],
            "categorical": ["color", "plan"],
        },
        embedding="vec",
    )
    logged = tmp_path / "logged.duckdb"
    shutil.copy(path, logged)
    third = first.assign(id=[f"t{i}" for i in range(len(first))])
    got = []
    # before a check, and in the transaction of the next batch logged
    for store, add in ((path, None), (logged, third)):
        with driftline.connect(store, named) as m:
            if add is None:
                m.store.ensure_predictions()
            else:
                m.log_predictions(add)
            got.append(
                m.store.con.execute(
                    'SELECT id, amount, plan, vec, "when", "odd/key~" FROM predictions '
                    "WHERE NOT starts_with(id, 't') ORDER BY id"
                ).fetchall()
            )
    assert got[0] == got[1]
    by_id = {r[0]: r[1:] for r in got[0]}
    for i, row in first.reset_index(drop=True).iterrows():
        amount, plan, vec, when, odd = by_id[row["id"]]
        assert amount == (None if pd.isna(row["amount"]) else row["amount"])
        assert plan == (None if pd.isna(row["plan"]) else row["plan"])
        assert vec == row["vec"]
        assert when == row["when"].tz_convert("UTC").tz_localize(None).to_pydatetime()
        assert odd == (None if row["odd/key~"] == "oops" else float(row["odd/key~"])), i
    for sid in second["id"]:
        assert by_id[sid] == (None, None, None, None, None)


def test_a_new_store_is_written_in_the_storage_format_that_reuses_metadata(
    tmp_path: Path, make_spec: Any, make_predictions: Any
) -> None:
    """New stores use DuckDB 1.5's storage format (a checkpoint after a day's batch then
    keeps the metadata of the row groups it did not change); a store made in the older
    default format opens, logs and checks as before, and keeps its format."""
    import duckdb

    def version(m: Monitor) -> str:
        row = m.store.con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal"
        ).fetchone()
        assert row is not None
        return str(row[0])

    with driftline.connect(tmp_path / "new.duckdb", make_spec()) as m:
        assert version(m) == "v1.5.0+"
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # DuckDB's default format
    with driftline.connect(old, make_spec()) as m:
        m.log_reference(make_predictions(n=300, seed=7, id_prefix="ref"))
        m.log_predictions(make_predictions())
        assert m.check().stats
        assert version(m) == "v1.0.0+"
