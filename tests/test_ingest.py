"""Ingest validation on its own: no store, no table, only the staged batch and the spec.

The store's side of the policy (a refusal leaves every table as it was; what is stored
for a missing or retyped feature) is tested through ``Monitor`` in ``test_store.py`` and
``test_ingest_names.py``; here the rules are called directly, over a batch registered as
``__staging`` on a bare DuckDB connection, as the store stages it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from driftline import ConfigError, IngestError
from driftline._ingest import (
    Staged,
    check_names,
    check_on_duplicate,
    feature_select,
    number_sql,
    quote,
    timestamp_expr,
    utc_timestamp,
    validate_labels,
    validate_predictions,
    validate_reference,
)
from driftline.spec import Spec, load_spec

PredictionsFactory = Callable[..., pd.DataFrame]


@pytest.fixture
def spec(make_spec: Callable[..., dict[str, Any]]) -> Spec:
    return load_spec(make_spec())


@contextmanager
def staged(spec: Spec, data: pd.DataFrame) -> Iterator[Staged]:
    """``data`` as the view ``__staging`` on a fresh connection (no store, no table)."""
    con = duckdb.connect()
    try:
        con.register("__staging", pa.Table.from_pandas(data, preserve_index=False))
        types = {r[0]: r[1] for r in con.execute("DESCRIBE __staging").fetchall()}
        yield Staged(spec, types, lambda sql, params: con.execute(sql, params).fetchall())
        assert {r[0] for r in con.execute("SHOW TABLES").fetchall()} == {"__staging"}
    finally:
        con.close()


def test_a_good_batch_passes_and_gives_its_timestamp_in_utc(
    spec: Spec, make_predictions: PredictionsFactory
) -> None:
    with staged(spec, make_predictions()) as batch:
        ts = validate_predictions(batch, rows=20)
    assert ts == "CAST(timezone('UTC', \"ts\") AS TIMESTAMP)"


def test_invalid_score_is_refused_naming_column_value_and_fix(
    spec: Spec, make_predictions: PredictionsFactory
) -> None:
    bad = make_predictions()
    bad.loc[3, "score_a"] = -0.5
    with staged(spec, bad) as batch, pytest.raises(IngestError) as info:
        validate_predictions(batch, rows=20)
    msg = str(info.value)
    assert "column 'score_a' (scores) has invalid value '-0.5' (id 'r3')" in msg
    assert "apply softmax" in msg
    assert "Nothing was stored" in msg


def test_missing_required_role_is_refused_listing_the_columns(
    spec: Spec, make_predictions: PredictionsFactory
) -> None:
    with (
        staged(spec, make_predictions().drop(columns="pred")) as batch,
        pytest.raises(IngestError, match=r"missing required column 'pred' \(role: prediction\)"),
    ):
        validate_predictions(batch, rows=20)


def test_reference_without_ids_names_rows_by_no_id(
    spec: Spec, make_predictions: PredictionsFactory
) -> None:
    bad = make_predictions().drop(columns="id")
    bad.loc[0, "pred"] = "z"
    with staged(spec, bad) as batch, pytest.raises(IngestError) as info:
        validate_reference(batch, rows=20, name="reference")
    assert "has value 'z' (id '(no id column)')" in str(info.value)


def test_labels_give_the_time_of_logging_without_labelled_at(spec: Spec) -> None:
    labels = pd.DataFrame({"id": ["r0", "r1"], "label": ["a", "b"]})
    with staged(spec, labels) as batch:
        assert validate_labels(batch, rows=2) == "CAST(? AS TIMESTAMP)"
    with (
        staged(spec, labels.assign(label=["a", "q"])) as batch,
        pytest.raises(IngestError, match=r"'label' \(label\) has value 'q'"),
    ):
        validate_labels(batch, rows=2)


def test_feature_differences_are_data_not_refusals(spec: Spec) -> None:
    types = {"id": "VARCHAR", "x": "VARCHAR", "color": "BIGINT", "new": "DOUBLE"}
    got = feature_select(spec, types)
    assert got.missing == ["segment", "y"]
    assert got.extra == ["new"]
    assert got.retyped == {"x": "VARCHAR", "color": "BIGINT"}
    assert {name: expr for expr, name in got.items} == {
        "segment": "CAST(NULL AS VARCHAR)",
        "x": number_sql('"x"'),  # numbers sent as text: the grammar both engines read
        "y": "CAST(NULL AS DOUBLE)",
        "color": 'CAST("color" AS VARCHAR)',
    }
    assert got.raw_parts == ["'x': CAST(\"x\" AS VARCHAR)", "'new': \"new\""]


def test_names_equal_up_to_case_are_refused_before_duckdb_renames_them(spec: Spec) -> None:
    with pytest.raises(IngestError, match=r"'x' .* and 'X' .* differ only in case"):
        check_names(
            spec, ["id", "x", "X"], {"id": "VARCHAR", "x": "DOUBLE", "X_1": "DOUBLE"}, "batch"
        )


def test_epoch_numbers_are_refused_as_timestamps() -> None:
    with pytest.raises(IngestError, match=r"column 'ts' \(timestamp\) is BIGINT.*to_datetime"):
        timestamp_expr("ts", "BIGINT")


def test_unknown_on_duplicate_lists_the_choices() -> None:
    check_on_duplicate("skip")
    with pytest.raises(ConfigError, match="use one of 'refuse', 'skip'"):
        check_on_duplicate("ignore")


def test_quote_doubles_quotes() -> None:
    assert quote('a "b"') == '"a ""b"""'


@contextmanager
def counted(spec: Spec, data: pd.DataFrame) -> Iterator[tuple[Staged, list[str]]]:
    """Like :func:`staged`, also giving the SQL of every query run over the batch."""
    with staged(spec, data) as batch:
        queries: list[str] = []

        def fetch(sql: str, params: Any) -> list[tuple[Any, ...]]:
            queries.append(sql)
            return batch.fetch(sql, params)

        yield Staged(spec, batch.types, fetch), queries


@pytest.mark.parametrize("list_scores", [False, True])
def test_a_good_batch_is_validated_in_one_scan(
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: PredictionsFactory,
    list_scores: bool,
) -> None:
    spec = load_spec(make_spec(list_scores=list_scores))
    data = make_predictions(list_scores=list_scores)
    with counted(spec, data) as (batch, queries):
        validate_predictions(batch, rows=20)
    assert len(queries) == 1
    assert "FROM __staging" in queries[0]
    with counted(spec, data) as (batch, queries):
        validate_reference(batch, rows=20, name="reference")
    assert len(queries) == 1


def _broken(make_predictions: PredictionsFactory, *breaks: str) -> pd.DataFrame:
    """A batch with each of ``breaks`` (each breaks one rule, at a different row)."""
    df = make_predictions()
    df["id"] = df["id"].astype(object)
    for br in breaks:
        if br == "null id":
            df.loc[7, "id"] = None
        elif br == "duplicate id":
            df.loc[9, "id"] = "r2"
        elif br == "null ts":
            df["ts"] = df["ts"].astype(object)
            df.loc[4, "ts"] = None
        elif br == "string ts":
            df["ts"] = df["ts"].astype(str)
            df.loc[6, "ts"] = "yesterday"
        elif br == "numeric ts":
            df["ts"] = np.arange(len(df), dtype=np.int64)
        elif br == "prediction":
            df.loc[3, "pred"] = "z"
        elif br == "score_c":
            df.loc[1, "score_c"] = 1.5
        elif br == "score_a":
            df.loc[5, "score_a"] = np.nan
        elif br == "sum":
            df.loc[8, ["score_a", "score_b", "score_c"]] = [0.5, 0.5, 0.5]
    return df


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        (("sum", "prediction", "null id"), "column 'id' (id) has 1 null value(s)"),
        (("null ts", "duplicate id"), "duplicate values in one batch: 'r2' (2x)"),
        (("numeric ts", "duplicate id"), "duplicate values in one batch: 'r2' (2x)"),
        (("numeric ts", "prediction"), "column 'ts' (timestamp) is BIGINT"),
        (("null ts", "prediction"), "column 'ts' (timestamp) is null for id 'r4'"),
        (("string ts", "score_a"), "has unparsable value 'yesterday' (id 'r6')"),
        (("score_c", "prediction"), "column 'pred' (prediction) has value 'z' (id 'r3')"),
        (("score_c", "score_a", "sum"), "column 'score_a' (scores) has invalid value 'null"),
        (("sum",), "sum to 1.5 for id 'r8'"),
    ],
)
def test_the_first_rule_broken_refuses_the_batch_whatever_else_is_wrong(
    spec: Spec, make_predictions: PredictionsFactory, breaks: tuple[str, ...], expected: str
) -> None:
    """The rules are checked in one scan; the batch is refused for the first rule broken,
    in the order the rules are listed (the ingest policy), naming its first row by id."""
    with (
        staged(spec, _broken(make_predictions, *breaks)) as batch,
        pytest.raises(IngestError) as info,
    ):
        validate_predictions(batch, rows=20)
    assert expected in str(info.value)


def test_labels_are_validated_in_one_scan_and_refused_for_the_first_rule_broken(
    spec: Spec,
) -> None:
    labels = pd.DataFrame(
        {
            "id": ["r0", "r1", "r2", "r3"],
            "label": ["a", "b", "c", "a"],
            "labelled_at": ["2024-05-01T00:00:00Z"] * 4,
        }
    )
    with counted(spec, labels) as (batch, queries):
        assert validate_labels(batch, rows=4) == utc_timestamp('"labelled_at"')
    assert len(queries) == 1
    # an unknown class and an unparsable labelled_at: the class rule comes first
    bad = labels.assign(label=["a", "q", "c", "a"], labelled_at=["x", "", "", ""])
    with staged(spec, bad) as batch, pytest.raises(IngestError, match=r"has value 'q'"):
        validate_labels(batch, rows=4)
    # a repeated id and a null label: the id rule comes first
    bad = labels.assign(id=["r0", "r0", "r2", "r3"], label=["a", None, "c", "a"])
    with staged(spec, bad) as batch, pytest.raises(IngestError, match=r"gives 1 id\(s\) more"):
        validate_labels(batch, rows=4)
    bad = labels.assign(labelled_at=["2024-05-01", "soon", "2024-05-01", "2024-05-01"])
    with staged(spec, bad) as batch, pytest.raises(IngestError, match=r"value 'soon' \(id 'r1'\)"):
        validate_labels(batch, rows=4)
