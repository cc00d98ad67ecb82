"""Turn what users hand us into Arrow, or into a DuckDB relation for files.

Accepted everywhere: pandas and polars DataFrames, pyarrow Tables and RecordBatches,
Parquet / CSV / JSON-lines paths, and lists of dicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from driftline.errors import IngestError, name_list

__all__ = ["describe_input", "file_format", "literal_path", "readable_file", "to_arrow"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
_FORMATS |= {".jsonl": "json", ".ndjson": "json", ".json": "json"}


def file_format(path: str | Path) -> str:
    """The format of a data file by its suffix, or a clear error."""
    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"cannot read {str(p)!r}: unknown file type {p.suffix!r}; use one of "
            f"{', '.join(sorted(_FORMATS))} or pass a DataFrame / Arrow table."
        )
    if not p.exists():
        raise IngestError(f"file {str(p)!r} does not exist; check the path.")
    return fmt


def readable_file(path: str | Path) -> str:
    """The format of a data file about to be read (:func:`file_format`), refusing an
    empty one: a CSV reader would see one column ``column0`` in it and the refusal would
    send the user looking for a missing column."""
    fmt = file_format(path)
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise IngestError(
            f"file {str(path)!r} is empty (0 bytes): no header, no rows. Write it again with "
            "its columns and rows. Nothing was stored."
        )
    return fmt


def literal_path(path: str | Path) -> str:
    """``path`` as DuckDB's file readers take it literally: they read a name holding
    ``*``, ``?`` or ``[`` as a glob (``day[1].parquet`` would read ``day1.parquet``,
    ``a?.parquet`` every ``a`` file of one more letter), so each of those characters is
    put in a one-character class.

    >>> literal_path("/data/day[1]?.parquet")
    '/data/day[[]1][?].parquet'
    """
    return re.sub(r"([*?\[])", r"[\1]", str(path))


def describe_input(data: Any) -> str:
    if isinstance(data, (str, Path)):
        return f"file {str(data)!r}"
    return type(data).__name__


def to_arrow(data: Any) -> pa.Table:
    """Convert any accepted input to a pyarrow Table (files are read whole)."""
    table = _to_arrow(data)
    if table.num_columns == 0:  # e.g. pandas.DataFrame(); DuckDB cannot even register it
        raise IngestError(
            f"the batch ({describe_input(data)}) has no columns; log rows with the columns "
            "the spec names."
        )
    return table


def _to_arrow(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, (str, Path)):
        fmt = readable_file(data)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(data)
        if fmt == "csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(data)
        import pyarrow.json as pajson

        return pajson.read_json(data)
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        twice = [str(c) for c in data.columns[data.columns.duplicated()].unique()]
        if twice:  # pyarrow would raise a bare ValueError
            raise IngestError(
                f"the batch (DataFrame) has column {name_list(twice)} more than once; rename "
                "or drop the copies before logging. Nothing was stored."
            )
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        table: pa.Table = data.to_arrow()
        return table
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        if not data:
            raise IngestError("the batch is an empty list; log at least one row.")
        if all(isinstance(row, Mapping) for row in data):
            return pa.Table.from_pylist(list(data))
    raise IngestError(
        f"cannot read data of type {type(data).__name__}; pass a pandas or polars DataFrame, "
        "a pyarrow Table, a list of dicts, or a Parquet/CSV/JSON-lines path."
    )
