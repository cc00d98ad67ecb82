"""Input formats: every accepted form of one batch gives the same Arrow table and stores
the same rows; unreadable inputs are refused with the fix and leave the store as it was."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import driftline
from driftline import IngestError, Monitor, to_arrow
from driftline._io import describe_input, file_format

# Columns compared: everything the store writes except when and in which batch.
_ROWS = "SELECT * EXCLUDE (ingested_at, _batch) FROM predictions ORDER BY id"


def _write_parquet(df: pd.DataFrame, path: Path) -> Path:
    out = path / "batch.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out)
    return out


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    out = path / "batch.csv"
    df.to_csv(out, index=False)  # floats written with repr: they read back exactly
    return out


def _write_jsonl(df: pd.DataFrame, path: Path) -> Path:
    out = path / "batch.jsonl"
    records = df.assign(ts=df["ts"].map(lambda t: t.isoformat())).to_dict("records")
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    return out


FORMATS: dict[str, Callable[[pd.DataFrame, Path], Any]] = {
    "pandas": lambda df, _: df,
    "polars": lambda df, _: pl.from_pandas(df),
    "arrow-table": lambda df, _: pa.Table.from_pandas(df, preserve_index=False),
    "arrow-batch": lambda df, _: pa.RecordBatch.from_pandas(df, preserve_index=False),
    "parquet-path": _write_parquet,
    "parquet-str": lambda df, path: str(_write_parquet(df, path)),
    "csv-path": _write_csv,
    "jsonl-path": _write_jsonl,
    "list-of-dicts": lambda df, _: df.to_dict("records"),
}


def _stored_rows(tmp_path: Path, spec: dict[str, Any], data: Any) -> list[tuple[Any, ...]]:
    with driftline.connect(tmp_path / "formats.duckdb", spec) as m:
        report = m.log_predictions(data)
        assert (report.missing_features, report.extra_columns, report.retyped) == ([], [], {})
        return m.store.con.execute(_ROWS).fetchall()


@pytest.fixture(scope="module")
def pandas_rows(
    tmp_path_factory: pytest.TempPathFactory, make_spec: Any, make_predictions: Any
) -> dict[bool, list[tuple[Any, ...]]]:
    """Rows stored from the pandas form of the batches below, by ``list_scores``."""
    out = {}
    for list_scores in (False, True):
        df = make_predictions(n=12, seed=3, list_scores=list_scores)
        path = tmp_path_factory.mktemp("pandas")
        out[list_scores] = _stored_rows(path, make_spec(list_scores=list_scores), df)
    return out


@pytest.mark.parametrize("form", sorted(FORMATS))
def test_every_input_format_stores_the_same_rows(
    tmp_path: Path,
    make_spec: Any,
    make_predictions: Any,
    pandas_rows: dict[bool, list[tuple[Any, ...]]],
    form: str,
) -> None:
    df = make_predictions(n=12, seed=3)
    expected = pandas_rows[False]
    assert [r[0] for r in expected] == sorted(df["id"])
    assert [r[3] for r in expected] == df.sort_values("id")["score_a"].tolist()
    assert _stored_rows(tmp_path, make_spec(), FORMATS[form](df, tmp_path)) == expected


@pytest.mark.parametrize("form", ["pandas", "polars", "arrow-table", "list-of-dicts", "jsonl-path"])
def test_every_input_format_stores_the_same_list_scores(
    tmp_path: Path,
    make_spec: Any,
    make_predictions: Any,
    pandas_rows: dict[bool, list[tuple[Any, ...]]],
    form: str,
) -> None:
    df = make_predictions(n=12, seed=3, list_scores=True)
    expected = pandas_rows[True]
    assert [r[3] for r in expected] == df.sort_values("id")["probs"].tolist()
    spec = make_spec(list_scores=True)
    assert _stored_rows(tmp_path, spec, FORMATS[form](df, tmp_path)) == expected


@pytest.mark.parametrize(
    "form", ["pandas", "polars", "arrow-table", "parquet-path", "csv-path", "list-of-dicts"]
)
def test_to_arrow_gives_the_same_values(tmp_path: Path, make_predictions: Any, form: str) -> None:
    df = make_predictions(n=5, seed=5)
    table = to_arrow(FORMATS[form](df, tmp_path))
    assert isinstance(table, pa.Table)
    assert table.column_names == list(df.columns)
    for col in ("id", "pred", "score_a", "x", "color"):
        assert table[col].to_pylist() == df[col].tolist()


def test_to_arrow_passes_a_table_through() -> None:
    table = pa.table({"a": [1, 2]})
    assert to_arrow(table) is table


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("b.parquet", "parquet"),
        ("b.PQ", "parquet"),
        ("b.csv", "csv"),
        ("b.tsv", "csv"),
        ("b.jsonl", "json"),
        ("b.ndjson", "json"),
        ("b.json", "json"),
    ],
)
def test_file_format_by_suffix(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_text("")
    assert file_format(path) == fmt


def test_describe_input() -> None:
    assert describe_input("a/b.csv") == "file 'a/b.csv'"
    assert describe_input(pd.DataFrame()) == "DataFrame"


# -- refusals: the error, the fix, and a store left as it was -----------------------------
@pytest.fixture
def monitor(tmp_path: Path, make_spec: Any, make_predictions: Any) -> Iterator[Monitor]:
    with driftline.connect(tmp_path / "store.duckdb", make_spec()) as m:
        m.log_predictions(make_predictions(n=6))
        yield m


def _refused(monitor: Monitor, data: Any) -> str:
    con = monitor.store.con
    before = (
        monitor.store.counts(),
        con.execute("SELECT sum(hash(p)) FROM predictions p").fetchall(),
    )
    with pytest.raises(IngestError) as info:
        monitor.log_predictions(data)
    after = monitor.store.counts(), con.execute("SELECT sum(hash(p)) FROM predictions p").fetchall()
    assert after == before
    return str(info.value)


def test_unknown_file_suffix_is_refused(monitor: Monitor, tmp_path: Path) -> None:
    path = tmp_path / "batch.xlsx"
    path.write_text("id\n1\n")
    msg = _refused(monitor, path)
    assert f"cannot read {str(path)!r}: unknown file type '.xlsx'" in msg
    assert ".csv, .json, .jsonl, .ndjson, .parquet, .pq, .tsv" in msg
    assert "or pass a DataFrame / Arrow table" in msg


def test_missing_file_is_refused(monitor: Monitor, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.parquet"
    msg = _refused(monitor, path)
    assert f"file {str(path)!r} does not exist; check the path" in msg


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_empty_file_is_refused_as_empty(monitor: Monitor, tmp_path: Path, suffix: str) -> None:
    """A zero-byte CSV would read as one column ``column0`` and be refused for lacking
    the id column, which sends the user looking for a column; the file is empty."""
    path = tmp_path / f"batch{suffix}"
    path.write_bytes(b"")
    msg = _refused(monitor, path)
    assert f"file {str(path)!r} is empty (0 bytes)" in msg
    assert "Nothing was stored." in msg


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize(("name", "lookalike"), [("day[1]", "day1"), ("a?", "ab"), ("x*", "xy")])
def test_a_file_name_with_glob_characters_is_read_as_named(
    monitor: Monitor, tmp_path: Path, make_predictions: Any, suffix: str, name: str, lookalike: str
) -> None:
    """DuckDB's readers take ``[1]``, ``?`` and ``*`` in a name as a glob: logging
    ``day[1].parquet`` next to ``day1.parquet`` would store the other file's rows."""
    writers = {
        ".csv": lambda df, path: df.to_csv(path, index=False),
        ".jsonl": lambda df, path: df.to_json(
            path, orient="records", lines=True, date_format="iso"
        ),
        ".parquet": lambda df, path: df.to_parquet(path),
    }
    mine = make_predictions(n=3, seed=1, id_prefix="mine-")
    other = make_predictions(n=5, seed=2, id_prefix="other-")
    writers[suffix](mine, tmp_path / f"{name}{suffix}")
    writers[suffix](other, tmp_path / f"{lookalike}{suffix}")
    rep = monitor.log_predictions(tmp_path / f"{name}{suffix}")
    assert rep.rows == 3
    stored = monitor.store.con.execute(
        "SELECT id FROM predictions WHERE id LIKE 'mine-%' OR id LIKE 'other-%' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in stored] == ["mine-0", "mine-1", "mine-2"]


def test_unreadable_file_is_refused(monitor: Monitor, tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    msg = _refused(monitor, path)
    assert f"cannot read file {str(path)!r}" in msg


@pytest.mark.parametrize(
    ("data", "shown"),
    [(42, "int"), ({"id": [1]}, "dict"), ([1, 2, 3], "list"), ("not a path", "str")],
    ids=["int", "dict-of-lists", "list-of-ints", "plain-string"],
)
def test_unsupported_input_type_is_refused(monitor: Monitor, data: Any, shown: str) -> None:
    msg = _refused(monitor, data)
    if shown == "str":
        assert "unknown file type ''" in msg
    else:
        assert f"cannot read data of type {shown}" in msg
        assert "pass a pandas or polars DataFrame, a pyarrow Table, a list of dicts" in msg


def test_to_arrow_refuses_an_empty_list() -> None:
    with pytest.raises(IngestError, match="the batch is an empty list; log at least one row"):
        to_arrow([])


@pytest.mark.parametrize(
    "data",
    [pd.DataFrame(), pa.table({}), pl.DataFrame()],
    ids=["pandas", "arrow", "polars"],
)
def test_to_arrow_refuses_a_table_without_columns(data: Any) -> None:
    with pytest.raises(IngestError, match="has no columns; log rows with the columns"):
        to_arrow(data)
