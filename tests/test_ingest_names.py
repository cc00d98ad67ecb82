"""Column names driftline cannot take are refused, in the spec and in every batch.

DuckDB and Spark compare identifiers case-insensitively, and DuckDB silently renames a
column whose name collides with an earlier one (``X`` becomes ``X_1``), cuts a name at a
NUL and names an empty one ``column4``: a batch with such names would store one column's
values under another's name. The store's own columns (``confidence``, ``ingested_at``,
``_batch``, ``_raw``) and the prefix of driftline's internal query columns (``__dl_``)
are not user names either. Everything else - ``window``, ``a AS b``, quotes, dots,
backticks, non-ASCII - is an ordinary name and is stored as it came.

Every refused batch is checked three ways: the error type, a message naming the column
and the fix, and a store left exactly as it was (row counts and a hash of every row).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline import ConfigError, IngestError, Monitor, load_spec
from driftline._catalog import INTERNAL_PREFIX, STORE_COLUMNS
from driftline.errors import shorten
from driftline.spec import RESERVED_COLUMNS

Snapshot = tuple[dict[str, int], dict[str, tuple[Any, ...]]]


def snapshot(monitor: Monitor) -> Snapshot:
    store = monitor.store
    sums: dict[str, tuple[Any, ...]] = {}
    for table in ("predictions", "labels", "batches"):
        if store.has_table(table):
            row = store.con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchone()
            assert row is not None
            sums[table] = tuple(row)
    if store.has_table("reference_reference"):
        row = store.con.execute("SELECT count(*) FROM reference_reference").fetchone()
        assert row is not None
        sums["reference"] = tuple(row)
    return store.counts(), sums


@pytest.fixture
def monitor(tmp_path: Path, make_spec: Any, make_predictions: Any) -> Iterator[Monitor]:
    m = driftline.connect(tmp_path / "store.duckdb", make_spec(), profile=tmp_path / "p.json")
    m.log_predictions(make_predictions(), batch_id="first")
    yield m
    m.close()


@pytest.fixture
def batch(make_predictions: Any) -> pd.DataFrame:
    df: pd.DataFrame = make_predictions(n=10, seed=1, id_prefix="n")
    return df


def refused(monitor: Monitor, data: Any, kind: str = "predictions") -> str:
    before = snapshot(monitor)
    log = {
        "predictions": monitor.log_predictions,
        "labels": monitor.log_labels,
        "reference": monitor.log_reference,
    }[kind]
    with pytest.raises(IngestError) as info:
        log(data)
    assert snapshot(monitor) == before
    msg = str(info.value)
    assert "Nothing was stored" in msg
    return msg


def spec_refused(make_spec: Any, **patch: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(**patch))
    msg = str(info.value)
    assert len(msg) < 700, msg  # the error names the column, never the whole spec
    return msg


# -- the spec ---------------------------------------------------------------------------------
def test_reserved_columns_come_from_the_catalog() -> None:
    assert RESERVED_COLUMNS == STORE_COLUMNS


@pytest.mark.parametrize("name", ["Confidence", "INGESTED_AT", "_Batch", "_RAW"])
def test_store_column_in_another_case_is_refused_in_the_spec(make_spec: Any, name: str) -> None:
    msg = spec_refused(make_spec, features={"numeric": [name, "y"]})
    own = name.lower()
    assert f"column {name!r} (feature (numeric))" in msg
    assert f"the store's own column {own!r} up to case" in msg
    assert "case-insensitive" in msg
    assert "rename the column" in msg


@pytest.mark.parametrize("name", ["__dl_window", "__DL_x", "__dl_"])
def test_internal_prefix_is_refused_in_the_spec(make_spec: Any, name: str) -> None:
    msg = spec_refused(make_spec, cohorts=[name])
    assert f"column {name!r} (cohort) starts with {INTERNAL_PREFIX!r}" in msg
    assert "driftline's internal query columns" in msg
    assert "rename the column" in msg


def test_reserved_name_as_a_role_names_the_role_to_repoint(make_spec: Any) -> None:
    msg = spec_refused(make_spec, timestamp="Ingested_At")
    assert "column 'Ingested_At' (timestamp)" in msg
    assert "or point the spec's 'timestamp' at another column" in msg


@pytest.mark.parametrize(
    ("patch", "first", "second"),
    [
        (
            {"features": {"numeric": ["x", "X"]}},
            "'x' (feature (numeric))",
            "'X' (feature (numeric))",
        ),
        (
            {"cohorts": ["Segment"], "features": {"categorical": ["segment"]}},
            "'Segment' (cohort)",
            "'segment' (feature (categorical))",
        ),
        ({"label": "ID"}, "'id' (id)", "'ID' (label)"),
    ],
    ids=["two-features", "cohort-and-feature", "id-and-label"],
)
def test_names_equal_up_to_case_are_refused_in_the_spec(
    make_spec: Any, patch: dict[str, Any], first: str, second: str
) -> None:
    msg = spec_refused(make_spec, **patch)
    assert f"columns {first} and {second} differ only in case" in msg
    assert "DuckDB and Spark compare column names case-insensitively" in msg
    assert "rename one of them" in msg


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\nb", "a newline (U+000A)"),
        ("a\x00b", "a NUL (U+0000)"),
        ("a\tb", "a tab (U+0009)"),
        ("a\rb", "a carriage return (U+000D)"),
        ("a\x7f", "a control character (U+007F)"),
        ("a\u2028b", "a line separator (U+2028)"),
    ],
    ids=["newline", "nul", "tab", "cr", "del", "line-separator"],
)
def test_control_characters_are_refused_in_the_spec(make_spec: Any, name: str, shown: str) -> None:
    msg = spec_refused(make_spec, features={"numeric": [name]})
    assert f"column {shorten(name)} (feature (numeric)) contains {shown}" in msg
    assert "rename the column" in msg


@pytest.mark.parametrize("name", ["", "   "])
def test_blank_name_is_refused_in_the_spec(make_spec: Any, name: str) -> None:
    msg = spec_refused(make_spec, features={"categorical": [name]})
    assert f"column {name!r} (feature (categorical)) is blank" in msg


def test_long_bad_name_is_shortened_in_the_message(make_spec: Any) -> None:
    name = "\n" + "x" * 5000
    msg = spec_refused(make_spec, features={"numeric": [name]})
    assert "(5,001 characters)" in msg


@pytest.mark.parametrize(
    "name", ["window", "cohort_value", "a AS b", 'a" AS "b', "a`b", "it's", "a.b", "é 😀"]
)
def test_odd_but_legal_names_are_stored_as_they_came(
    tmp_path: Path, make_spec: Any, make_predictions: Any, name: str
) -> None:
    spec = make_spec(features={"numeric": [name, "y"], "categorical": ["color"]})
    with driftline.connect(tmp_path / "odd.duckdb", spec) as m:
        df = make_predictions(n=12).rename(columns={"x": name})
        report = m.log_predictions(df)
        assert (report.rows, report.missing_features, report.extra_columns) == (12, [], [])
        q = '"' + name.replace('"', '""') + '"'
        rows = m.store.con.execute(f"SELECT id, {q} FROM predictions ORDER BY id").fetchall()
    assert dict(rows) == dict(zip(df["id"], df[name], strict=True))


# -- every batch --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("confidence", "is the store's own column 'confidence'"),
        ("Confidence", "equals the store's own column 'confidence' up to case"),
        ("_raw", "is the store's own column '_raw'"),
        ("ingested_AT", "equals the store's own column 'ingested_at' up to case"),
        ("__dl_bin", "starts with '__dl_'"),
        ("a\nb", "contains a newline (U+000A)"),
        ("a\x00b", "contains a NUL (U+0000)"),
        ("", "is blank"),
    ],
    ids=["confidence", "Confidence", "_raw", "ingested_AT", "prefix", "newline", "nul", "empty"],
)
def test_extra_column_driftline_cannot_take_is_refused(
    monitor: Monitor, batch: pd.DataFrame, name: str, why: str
) -> None:
    msg = refused(monitor, batch.assign(**{name: 1.0}))
    assert f"column {shorten(name)} (not in the spec) {why}" in msg
    assert "rename or drop the column before logging" in msg


@pytest.mark.parametrize(
    ("extra", "first", "second"),
    [
        ({"X": 1.0}, "'x' (feature (numeric))", "'X' (not in the spec)"),
        ({"note": "a", "NOTE": "b"}, "'note' (not in the spec)", "'NOTE' (not in the spec)"),
        ({"Pred": "a"}, "'pred' (prediction)", "'Pred' (not in the spec)"),
    ],
    ids=["feature-and-extra", "two-extras", "role-and-extra"],
)
def test_batch_columns_equal_up_to_case_are_refused(
    monitor: Monitor, batch: pd.DataFrame, extra: dict[str, Any], first: str, second: str
) -> None:
    msg = refused(monitor, batch.assign(**extra))
    assert f"columns {first} and {second} differ only in case" in msg
    assert "would read one as the other" in msg
    assert "rename or drop one of them before logging" in msg


def test_batch_with_a_column_twice_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(batch, preserve_index=False)
    table = table.append_column("y", pa.array([0.0] * len(batch)))
    msg = refused(monitor, table)
    assert "column 'y' (feature (numeric)) appears twice" in msg
    assert "rename or drop one of them before logging" in msg


def test_file_with_columns_equal_up_to_case_is_refused(
    monitor: Monitor, batch: pd.DataFrame, tmp_path: Path
) -> None:
    data = batch.assign(X=batch["x"] * 100)
    csv = tmp_path / "b.csv"
    data.to_csv(csv, index=False)
    assert "differ only in case" in refused(monitor, csv)
    parquet = tmp_path / "b.parquet"
    data.to_parquet(parquet, index=False)
    assert "differ only in case" in refused(monitor, parquet)
    jsonl = tmp_path / "b.jsonl"
    data.to_json(jsonl, orient="records", lines=True, date_format="iso")
    assert "differ only in case" in refused(monitor, jsonl)


def test_file_with_a_newline_in_a_column_name_is_refused(
    monitor: Monitor, batch: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "nl.csv"
    batch.assign(**{"a\nb": 1}).to_csv(csv, index=False)
    assert "column 'a\\nb' (not in the spec) contains a newline" in refused(monitor, csv)


def test_semicolon_csv_is_read_with_its_own_header(
    monitor: Monitor, batch: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "semi.csv"
    batch.assign(**{"a,b": 2}).to_csv(csv, index=False, sep=";")
    report = monitor.log_predictions(csv)
    assert (report.rows, report.extra_columns) == (len(batch), ["a,b"])


def test_odd_extra_columns_are_kept_raw_under_their_names(
    monitor: Monitor, batch: pd.DataFrame
) -> None:
    extra = {"a AS b": 1, 'say "hi"': "x", "it's": 2.5, "window": 3}
    report = monitor.log_predictions(batch.assign(**extra))
    assert report.extra_columns == list(extra)
    raws = monitor.store.con.execute(
        "SELECT _raw FROM predictions WHERE id LIKE 'n%' ORDER BY id"
    ).fetchall()
    assert [json.loads(r[0]) for r in raws] == [extra] * len(batch)


def test_labels_batch_with_label_columns_equal_up_to_case_is_refused(monitor: Monitor) -> None:
    labels = pa.table({"Label": ["a", "b"], "id": ["r0", "r1"], "label": ["c", "c"]})
    msg = refused(monitor, labels, kind="labels")
    assert "columns 'Label' (not in the spec) and 'label' (label) differ only in case" in msg


def test_labels_batch_may_carry_store_columns(monitor: Monitor) -> None:
    # a labels export carries ingested_at and _batch; they are not read, so not refused
    labels = pd.DataFrame({"id": ["r0"], "label": ["a"], "ingested_at": ["x"], "_batch": [9]})
    assert monitor.log_labels(labels).rows == 1


def test_reference_with_columns_equal_up_to_case_is_refused(
    monitor: Monitor, make_predictions: Any
) -> None:
    ref = make_predictions(n=50, seed=3)
    msg = refused(monitor, ref.assign(COLOR=ref["color"]), kind="reference")
    assert "columns 'color' (feature (categorical)) and 'COLOR' (not in the spec)" in msg
    assert not monitor.store.has_table("reference_reference")


def test_dataframe_with_a_column_twice_is_refused(monitor: Monitor, batch: pd.DataFrame) -> None:
    twice = pd.concat([batch, batch[["color"]]], axis=1)
    msg = refused(monitor, twice)
    assert "the batch (DataFrame) has column 'color' more than once" in msg
    assert "rename or drop the copies before logging" in msg


def test_csv_header_with_spaces_is_read_as_duckdb_trims_it(
    monitor: Monitor, batch: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "spaced.csv"
    spaced = batch.rename(columns={"x": " x", "color": "color "}).assign(**{" note ": 1})
    spaced.to_csv(csv, index=False)
    report = monitor.log_predictions(csv)
    assert (report.rows, report.missing_features, report.extra_columns) == (10, [], ["note"])
    twice = tmp_path / "twice.csv"
    batch.assign(**{"y ": 1.0}).to_csv(twice, index=False)  # 'y' and 'y ' are one name
    assert "column 'y' (feature (numeric)) appears twice" in refused(monitor, twice)
