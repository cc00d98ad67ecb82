"""The DuckDB file: predictions, labels, references, batches, results and alerts.

Writes go through one DuckDB connection; reads go through Ibis expressions over the same
connection (see :mod:`driftline.engine`). A batch is validated with SQL over a staging
view *before* the transaction that stores it begins, and the insert itself runs in one
transaction, so a refused batch leaves the store exactly as it was.

Ingest policy: a batch lacking a required role (id, timestamp, prediction, scores) or
carrying invalid scores is refused whole. A batch whose *features* differ from the spec -
a column missing or new, values of another type - is stored as it came (a missing
feature as null; values that do not fit the column's type, and extra columns, kept raw as
JSON in ``_raw``), and the difference is recorded per batch in ``batches`` so checks
report it as schema skew.

Scores must be finite, in [0, 1], and sum to 1 within :data:`SCORE_SUM_TOLERANCE`
(absolute), which admits float32 softmax outputs over thousands of classes.

Every column of a batch, also those the spec does not know, must have a name driftline
can take (:func:`driftline.spec.column_name_problem`), and no two names may be equal up
to case: names are checked as the user wrote them, before DuckDB renames any. A
prediction id already stored refuses the batch (or, with ``on_duplicate="skip"``, its
row is left out); a ``batch_id`` already stored makes the call a no-op. Labels are
append-only, one per id and batch; the latest ``labelled_at`` per id wins
(:meth:`Store.latest_labels`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from driftline._catalog import ON_DUPLICATE, OnDuplicate, type_family
from driftline._io import describe_input, file_format, to_arrow
from driftline.errors import ConfigError, IngestError, StoreError, name_list, shorten
from driftline.spec import Spec, column_name_problem

if TYPE_CHECKING:
    import ibis

__all__ = [
    "ON_DUPLICATE",
    "RESULT_COLUMNS",
    "SCORE_SUM_TOLERANCE",
    "IngestReport",
    "Store",
    "quote",
]

SCORE_SUM_TOLERANCE = 1e-3

#: The results table, declared once: one row per window x scope x check (x column) of a
#: stored run. ``Monitor`` writes the rows by these names.
RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("window_start", "TIMESTAMP"),
    ("window_end", "TIMESTAMP"),
    ("cohort", "VARCHAR"),
    ("cohort_value", "VARCHAR"),
    ("check", "VARCHAR"),
    ("column", "VARCHAR"),
    ("method", "VARCHAR"),
    ("value", "DOUBLE"),
    ("bound", "DOUBLE"),
    ("effect", "DOUBLE"),
    ("status", "VARCHAR"),
    ("n", "BIGINT"),
    ("bound_how", "VARCHAR"),
    ("details", "JSON"),
    ("floor", "DOUBLE"),
    ("floor_how", "VARCHAR"),
    ("decided_by", "VARCHAR"),
)

#: How many JSON objects are read for their keys (DuckDB's own schema sample size).
_JSON_SAMPLE = 20480


def quote(name: str) -> str:
    """Quote an identifier for DuckDB SQL: user strings never reach SQL unquoted."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class IngestReport:
    """What one logged batch did to the store."""

    kind: str
    #: the batch's key; ``""`` when nothing was stored (every id skipped) and none was given
    batch_id: str
    rows: int
    already_stored: bool = False
    #: rows not stored because their prediction id was already stored (``on_duplicate="skip"``)
    skipped: int = 0
    missing_features: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    retyped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: One item of a SELECT list: (SQL expression, output column name). The name is quoted
#: once, where the statement is assembled; nothing is recovered by parsing SQL text.
_Item = tuple[str, str]


@dataclass
class _FeatureSelect:
    items: list[_Item]
    raw_parts: list[str]
    missing: list[str]
    extra: list[str]
    retyped: dict[str, str]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """An open driftline DuckDB file for one spec."""

    def __init__(self, path: str | Path, spec: Spec, *, memory_limit: str | None = None) -> None:
        """Open (or create) the store. ``memory_limit`` caps DuckDB's memory (e.g.
        ``"2GB"``; default: ``DRIFTLINE_MEMORY_LIMIT`` or 2GB); DuckDB spills to disk
        beyond it rather than growing with the data."""
        self.path = str(path)
        self.spec = spec
        self._staged_has_id = True
        self.con = _connect(Path(path))
        opened = False
        try:
            self._configure(memory_limit)
            opened = True
        finally:
            if not opened:  # a refused setting or a damaged catalogue: release the file
                self.con.close()

    def _configure(self, memory_limit: str | None) -> None:
        try:
            self.con.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for long queries: it would corrupt
            # `driftline check --json`.
            self.con.execute("SET enable_progress_bar = false")
            limit = memory_limit or os.environ.get("DRIFTLINE_MEMORY_LIMIT") or "2GB"
            try:
                self.con.execute(f"SET memory_limit = '{_sql_string(limit)}'")
            except duckdb.Error as exc:
                raise ConfigError(
                    f"memory_limit {shorten(limit)} is not a size DuckDB understands; use e.g. "
                    "'2GB' or '512MB' (set by DRIFTLINE_MEMORY_LIMIT or memory_limit=; DuckDB: "
                    f"{shorten(_first_line(exc), 200)})."
                ) from exc
            self._ensure_meta_tables()
        except duckdb.Error as exc:
            raise _store_error(Path(self.path), exc) from exc

    def close(self) -> None:
        self.con.close()

    # -- tables --------------------------------------------------------------------------
    def _ensure_meta_tables(self) -> None:
        self.con.execute(
            """
            CREATE TABLE IF NOT EXISTS batches (
                batch_id VARCHAR PRIMARY KEY, seq BIGINT, kind VARCHAR,
                ingested_at TIMESTAMP, n_rows BIGINT, min_ts TIMESTAMP, max_ts TIMESTAMP,
                source_columns JSON, missing_features JSON, extra_columns JSON, retyped JSON
            );
            CREATE TABLE IF NOT EXISTS labels (
                id VARCHAR, label VARCHAR, labelled_at TIMESTAMP,
                ingested_at TIMESTAMP, _batch BIGINT
            );
            CREATE TABLE IF NOT EXISTS calibrations (
                key VARCHAR PRIMARY KEY, bound DOUBLE, n BIGINT, n_reference BIGINT,
                reps BIGINT, quantile DOUBLE, mean DOUBLE, std DOUBLE, how VARCHAR
            );
            CREATE TABLE IF NOT EXISTS alerts (
                run_id VARCHAR, created_at TIMESTAMP, window_start TIMESTAMP,
                cohort VARCHAR, cohort_value VARCHAR, "check" VARCHAR, "column" VARCHAR,
                message VARCHAR
            );
            """
        )
        body = ", ".join(f"{quote(c)} {t}" for c, t in RESULT_COLUMNS)
        self.con.execute(f"CREATE TABLE IF NOT EXISTS results ({body})")
        # a store written before the last columns were added gains them
        for col, typ in RESULT_COLUMNS[-3:]:
            self.con.execute(f"ALTER TABLE results ADD COLUMN IF NOT EXISTS {quote(col)} {typ}")

    def _prediction_columns(self) -> list[tuple[str, str]]:
        s = self.spec
        cols: list[tuple[str, str]] = [
            (s.id, "VARCHAR"),
            (s.timestamp, "TIMESTAMP"),
            (s.prediction, "VARCHAR"),
        ]
        if s.scores.layout == "list":
            cols.append((s.score_columns[0], "DOUBLE[]"))
        else:
            cols += [(c, "DOUBLE") for c in s.score_columns]
        if s.label:
            cols.append((s.label, "VARCHAR"))
        kinds = s.feature_kinds
        cols += [(c, "VARCHAR") for c in s.cohorts if c not in kinds]
        for col, kind in kinds.items():
            cols.append((col, "DOUBLE" if kind == "numeric" else "VARCHAR"))
        if s.embedding:
            cols.append((s.embedding, "DOUBLE[]"))
        cols += [
            ("confidence", "DOUBLE"),
            ("ingested_at", "TIMESTAMP"),
            ("_batch", "BIGINT"),
            ("_raw", "JSON"),
        ]
        return cols

    def has_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()
        return bool(row and row[0])

    def _table_columns(self, name: str) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def _ensure_predictions(self) -> None:
        wanted = self._prediction_columns()
        if not self.has_table("predictions"):
            body = ", ".join(f"{quote(c)} {t}" for c, t in wanted)
            self.con.execute(f"CREATE TABLE predictions ({body})")
            return
        have = self._table_columns("predictions")
        for col, typ in wanted:
            if col not in have:  # the spec gained a column: older rows read it as null
                self.con.execute(f"ALTER TABLE predictions ADD COLUMN {quote(col)} {typ}")

    # -- staging --------------------------------------------------------------------------
    @contextmanager
    def _staging(self, data: Any) -> Iterator[dict[str, str]]:
        """Expose the input as a view named ``__staging``; yield its column types."""
        name = "__staging"
        if isinstance(data, (str, Path)):
            fmt = file_format(data)
            readers: dict[str, Any] = {
                "parquet": self.con.read_parquet,
                "csv": self.con.read_csv,
                "json": self.con.read_json,
            }
            try:
                readers[fmt](str(data)).create_view(name, replace=True)
            except duckdb.Error as exc:
                raise IngestError(
                    f"cannot read {describe_input(data)}: DuckDB reports "
                    f"{shorten(_first_line(exc), 300)}. Check that it is a {_FORMAT_NAMES[fmt]} "
                    "file (re-export it if it is damaged). Nothing was stored."
                ) from exc
        else:
            table = to_arrow(data)
            self.con.register(name, table)
        try:
            rows = self.con.execute(f"DESCRIBE {name}").fetchall()
            types = {r[0]: r[1] for r in rows}
            self._staged_has_id = self.spec.id in types
            yield types
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            # DuckDB reads a file lazily: damaged pages surface in whichever query first
            # reads them (validation or the insert, which was rolled back), not at
            # read_parquet; each is a refusal of this file, not an internal error
            if not isinstance(data, (str, Path)):
                raise
            raise IngestError(
                f"cannot read {describe_input(data)}: DuckDB reports "
                f"{shorten(_first_line(exc), 300)}. The file is damaged (e.g. corrupt pages) "
                "or not in the format its name says; re-export it and log it again. Nothing "
                "was stored."
            ) from exc
        finally:
            if isinstance(data, (str, Path)):
                self.con.execute(f"DROP VIEW IF EXISTS {name}")
            else:
                self.con.unregister(name)

    def _scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    def _row_id(self) -> str:
        """SQL naming a staged row in messages: its id (a reference may have none)."""
        if self._staged_has_id:
            return f"CAST({quote(self.spec.id)} AS VARCHAR)"
        return "CAST('(no id column)' AS VARCHAR)"

    def _first_bad(self, condition: str, show: str, order: str | None = None) -> Any:
        """The first staged row (by id) where ``condition`` holds, as (id, shown value)."""
        row_id = self._row_id()
        order_by = order or row_id
        return self.con.execute(
            f"SELECT {row_id}, {show} FROM __staging WHERE {condition} ORDER BY {order_by} LIMIT 1"
        ).fetchone()

    # -- validation ---------------------------------------------------------------------
    def _check_names(self, names: list[str], types: dict[str, str], what: str) -> None:
        """Refuse a batch with a column name driftline cannot take (see
        :func:`driftline.spec.column_name_problem`), two columns of one name up to case,
        or names DuckDB read otherwise than they are. Every column counts, also those the
        spec does not know (they are kept raw). A labels batch stores only its id, label
        and labelled_at, so its other columns may carry the store's own names."""
        s = self.spec
        if what == "labels batch":
            roles = {s.id: "id", s.label or "label": "label", "labelled_at": "labelled_at"}
        else:
            roles = {c: r for r, c in s.column_roles()}

        def named(col: str) -> str:
            return f"{shorten(col)} ({roles.get(col, 'not in the spec')})"

        seen: dict[str, str] = {}
        for col in names:
            problem = column_name_problem(col, own_columns=what != "labels batch")
            if problem is not None:
                raise IngestError(
                    f"{what} column {named(col)} {problem}; rename or drop the column before "
                    "logging. Nothing was stored."
                )
            other = seen.get(col.casefold())
            if other is None:
                seen[col.casefold()] = col
                continue
            if other == col:
                problem = f"column {named(col)} appears twice in the {what}"
            else:
                problem = (
                    f"columns {named(other)} and {named(col)} differ only in case; DuckDB "
                    "and Spark compare column names case-insensitively and would read one as "
                    "the other"
                )
            raise IngestError(
                f"{problem}: rename or drop one of them before logging. Nothing was stored."
            )
        if set(names) != set(types):  # a renaming the checks above did not foresee
            raise IngestError(
                f"the {what}'s columns {name_list(names)} were read as {name_list(types)}; "
                "rename the columns to plain names before logging. Nothing was stored."
            )

    def _timestamp_expr(self, col: str, duck_type: str) -> str:
        fam = type_family(duck_type)
        c = quote(col)
        if fam == "temporal":
            return (
                f"CAST({c} AS TIMESTAMP)"
                if "TIME ZONE" not in duck_type.upper()
                else (f"CAST(timezone('UTC', {c}) AS TIMESTAMP)")
            )
        if fam == "string":
            return f"CAST(timezone('UTC', TRY_CAST({c} AS TIMESTAMPTZ)) AS TIMESTAMP)"
        raise IngestError(
            f"column {col!r} (timestamp) is {duck_type}; expected a timestamp or an ISO-8601 "
            f"string such as '2024-05-01T12:00:00Z'. Convert epoch numbers to timestamps "
            f"(e.g. pandas.to_datetime(df[{col!r}], unit='s')) before logging."
        )

    def _repeated_ids(self) -> tuple[int, str]:
        """How many staged ids occur more than once, and the first five (by id) shown
        with their counts, for the message that refuses the batch."""
        rows = self.con.execute(
            f"SELECT count(*) OVER (), i, n FROM (SELECT CAST({quote(self.spec.id)} AS VARCHAR) "
            "AS i, count(*) AS n FROM __staging GROUP BY 1 HAVING count(*) > 1) ORDER BY i LIMIT 5"
        ).fetchall()
        if not rows:
            return 0, ""
        shown = ", ".join(f"{shorten(r[1])} ({r[2]}x)" for r in rows)
        return int(rows[0][0]), shown + (" and more" if rows[0][0] > 5 else "")

    def _validate_required(self, types: dict[str, str], rows: int) -> str:
        """Refuse the batch (raise) if a required role is missing or invalid."""
        s = self.spec
        missing = [c for c in s.required_columns() if c not in types]
        if missing:
            roles = {c: r for r, c in s.column_roles()}
            col = missing[0]
            raise IngestError(
                f"batch is missing required column {col!r} (role: {roles.get(col)}); columns "
                f"present: {name_list(types)}. Add the column, or map the role to another "
                "column in the spec. Nothing was stored."
            )
        if rows == 0:
            raise IngestError(
                "the batch has 0 rows; log a batch with at least one row. Nothing was stored."
            )
        idc = quote(s.id)
        if type_family(types[s.id]) not in ("numeric", "string"):
            raise IngestError(
                f"column {s.id!r} (id) is {types[s.id]}; ids must be strings or integers. "
                "Cast the column. Nothing was stored."
            )
        n_null = self._scalar(f"SELECT count(*) FROM __staging WHERE {idc} IS NULL")
        if n_null:
            raise IngestError(
                f"column {s.id!r} (id) has {n_null} null value(s); every prediction needs an "
                "id: fill them or drop those rows. Nothing was stored."
            )
        repeated, shown = self._repeated_ids()
        if repeated:
            raise IngestError(
                f"column {s.id!r} (id) has duplicate values in one batch: {shown}. Each "
                "prediction needs a unique id; de-duplicate the batch. Nothing was stored."
            )
        ts_expr = self._timestamp_expr(s.timestamp, types[s.timestamp])
        tsc = quote(s.timestamp)
        bad = self._first_bad(f"{tsc} IS NULL", "NULL")
        if bad:
            raise IngestError(
                f"column {s.timestamp!r} (timestamp) is null for id {bad[0]!r}; every "
                "prediction needs a timestamp: fill it or drop the row. Nothing was stored."
            )
        bad = self._first_bad(f"({ts_expr}) IS NULL", f"CAST({tsc} AS VARCHAR)")
        if bad:
            raise IngestError(
                f"column {s.timestamp!r} (timestamp) has unparsable value {bad[1]!r} (id "
                f"{bad[0]!r}); use ISO-8601 such as '2024-05-01T12:00:00Z'. Nothing was stored."
            )
        self._validate_prediction(types)
        self._validate_scores(types)
        return ts_expr

    def _validate_prediction(self, types: dict[str, str]) -> None:
        s = self.spec
        pc = quote(s.prediction)
        if type_family(types[s.prediction]) not in ("numeric", "string", "boolean"):
            raise IngestError(
                f"column {s.prediction!r} (prediction) is {types[s.prediction]}; expected the "
                f"predicted class, one of {name_list(s.classes)}. Nothing was stored."
            )
        row_id = self._row_id()
        bad = self.con.execute(
            f"SELECT {row_id}, CAST({pc} AS VARCHAR) FROM __staging "
            f"WHERE {pc} IS NULL OR CAST({pc} AS VARCHAR) NOT IN (SELECT unnest(?)) "
            f"ORDER BY {row_id} LIMIT 1",
            [s.classes],
        ).fetchone()
        if bad:
            raise IngestError(
                f"column {s.prediction!r} (prediction) has value {bad[1]!r} (id {bad[0]!r}), "
                f"which is not a class of the spec ({name_list(s.classes)}). Log the predicted "
                "class label, or add the class to scores in the spec. Nothing was stored."
            )

    def _validate_scores(self, types: dict[str, str]) -> None:
        s = self.spec
        k = len(s.classes)
        if s.scores.layout != "list":
            for col in s.score_columns:
                if type_family(types[col]) != "numeric":
                    raise IngestError(
                        f"column {col!r} (scores) is {types[col]}; scores must be numbers in "
                        "[0, 1]. Cast the column. Nothing was stored."
                    )
            for col in s.score_columns:
                c = quote(col)
                bad = self._first_bad(
                    f"{c} IS NULL OR NOT isfinite(CAST({c} AS DOUBLE)) OR {c} < 0 OR {c} > 1",
                    f"coalesce(CAST({c} AS VARCHAR), 'null (NaN or missing)')",
                )
                if bad:
                    raise IngestError(
                        f"column {col!r} (scores) has invalid value {bad[1]!r} (id {bad[0]!r}); "
                        "scores must be finite probabilities in [0, 1] (apply softmax to "
                        "logits). Nothing was stored."
                    )
            if s.scores.layout == "binary":  # one probability: nothing to sum
                return
            total = " + ".join(f"CAST({quote(c)} AS DOUBLE)" for c in s.score_columns)
        else:
            col = s.score_columns[0]
            c = quote(col)
            element = types[col].rsplit("[", 1)[0]
            if type_family(types[col]) != "list" or type_family(element) != "numeric":
                raise IngestError(
                    f"column {col!r} (scores) is {types[col]}; expected a list of {k} "
                    "probabilities per row. Nothing was stored."
                )
            bad = self._first_bad(
                f"{c} IS NULL OR len({c}) != {k}", f"coalesce(CAST({c} AS VARCHAR), 'null')"
            )
            if bad:
                raise IngestError(
                    f"column {col!r} (scores) has value {bad[1]!r} (id {bad[0]!r}); expected "
                    f"{k} probabilities, one per class {name_list(s.classes)}. Nothing was "
                    "stored."
                )
            fc = f"CAST({c} AS DOUBLE[])"
            bad = self._first_bad(
                f"NOT isfinite(list_sum({fc})) OR list_min({fc}) < 0 OR list_max({fc}) > 1 "
                f"OR list_count({fc}) != {k}",
                f"CAST({c} AS VARCHAR)",
            )
            if bad:
                raise IngestError(
                    f"column {col!r} (scores) has invalid value {bad[1]!r} (id {bad[0]!r}); "
                    "scores must be finite probabilities in [0, 1]. Nothing was stored."
                )
            total = f"list_sum({fc})"
        bad = self._first_bad(
            f"abs(({total}) - 1) > {SCORE_SUM_TOLERANCE}", f"CAST(({total}) AS VARCHAR)"
        )
        if bad:
            raise IngestError(
                f"scores ({name_list(s.score_columns)}) sum to {bad[1]} for id {bad[0]!r}; "
                f"they must sum to 1 within {SCORE_SUM_TOLERANCE} (apply softmax, or log the "
                "probabilities of every class). Nothing was stored."
            )

    # -- feature columns, stored as they came ---------------------------------------------
    def _feature_select(self, types: dict[str, str]) -> _FeatureSelect:
        """SQL expressions for cohort/feature columns, plus what differed from the spec."""
        s = self.spec
        kinds = s.feature_kinds
        items: list[_Item] = []
        raw_parts: list[str] = []
        missing: list[str] = []
        retyped: dict[str, str] = {}
        for col in [c for c in s.cohorts if c not in kinds]:
            if col in types:
                items.append((f"CAST({quote(col)} AS VARCHAR)", col))
            else:
                missing.append(col)
                items.append(("CAST(NULL AS VARCHAR)", col))
        for col, kind in kinds.items():
            q = quote(col)
            if col not in types:
                missing.append(col)
                typ = "DOUBLE" if kind == "numeric" else "VARCHAR"
                items.append((f"CAST(NULL AS {typ})", col))
                continue
            fam = type_family(types[col])
            if kind == "numeric":
                if fam == "numeric":
                    items.append((f"CAST({q} AS DOUBLE)", col))
                else:
                    retyped[col] = types[col]
                    items.append((f"TRY_CAST({q} AS DOUBLE)", col))
                    raw_parts.append(f"{_json_key(col)}: CAST({q} AS VARCHAR)")
            else:
                if fam not in ("string", "boolean") or (kind == "text" and fam != "string"):
                    retyped[col] = types[col]
                items.append((f"CAST({q} AS VARCHAR)", col))
        if s.embedding:
            q = quote(s.embedding)
            if s.embedding in types:
                items.append((f"TRY_CAST({q} AS DOUBLE[])", s.embedding))
            else:
                missing.append(s.embedding)
                items.append(("CAST(NULL AS DOUBLE[])", s.embedding))
        known = {c for _, c in s.column_roles()}
        extra = [c for c in types if c not in known]
        raw_parts += [f"{_json_key(c)}: {quote(c)}" for c in extra]
        return _FeatureSelect(items, raw_parts, missing, extra, retyped)

    # -- public writes --------------------------------------------------------------------
    def _next_seq(self) -> int:
        return int(self._scalar("SELECT coalesce(max(seq), 0) + 1 FROM batches"))

    def _already(self, batch_id: str | None, kind: str) -> IngestReport | None:
        if batch_id is None:
            return None
        row = self.con.execute(
            "SELECT n_rows, kind FROM batches WHERE batch_id = ?", [batch_id]
        ).fetchone()
        if row is None:
            return None
        if row[1] != kind:
            raise IngestError(
                f"batch_id {batch_id!r} was already used for a {row[1]} batch; a {kind} batch "
                "needs its own batch_id (e.g. prefix it with the kind). Nothing was stored."
            )
        return IngestReport(kind=kind, batch_id=batch_id, rows=int(row[0]), already_stored=True)

    def log_predictions(
        self, data: Any, batch_id: str | None = None, *, on_duplicate: OnDuplicate = "refuse"
    ) -> IngestReport:
        """Validate and append one batch of predictions; all or nothing.

        A prediction id the store already holds refuses the batch whole
        (``on_duplicate="refuse"``, the default), or its row is left out
        (``on_duplicate="skip"``; the report counts them in ``skipped``). A ``batch_id``
        already stored returns its report without reading the data, so a retry is a no-op.
        """
        _check_on_duplicate(on_duplicate)
        if (done := self._already(batch_id, "predictions")) is not None:
            return done
        s = self.spec
        data = _in_memory(data)
        with self._staging(data) as types:
            self._check_names(_source_columns(self.con, data, types), types, "batch")
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            ts_expr = self._validate_required(types, rows)
            skipped = self._stored_ids(rows, on_duplicate)
            if skipped == rows:  # every row already stored: nothing to add, no empty batch
                return IngestReport(
                    kind="predictions", batch_id=batch_id or "", rows=0, skipped=skipped
                )
            feats = self._feature_select(types)
            if s.scores.layout == "binary":
                c = quote(s.score_columns[0])
                score_items = [(f"CAST({c} AS DOUBLE)", s.score_columns[0])]
                conf = f"greatest(CAST({c} AS DOUBLE), 1 - CAST({c} AS DOUBLE))"
            elif s.scores.layout == "columns":
                score_items = [(f"CAST({quote(c)} AS DOUBLE)", c) for c in s.score_columns]
                conf = (
                    "greatest("
                    + ", ".join(f"CAST({quote(c)} AS DOUBLE)" for c in s.score_columns)
                    + ")"
                )
            else:
                c = quote(s.score_columns[0])
                score_items = [(f"CAST({c} AS DOUBLE[])", s.score_columns[0])]
                conf = f"list_max(CAST({c} AS DOUBLE[]))"
            label: list[_Item] = []
            if s.label:
                if s.label in types:
                    label = [(f"CAST({quote(s.label)} AS VARCHAR)", s.label)]
                else:
                    label = [("CAST(NULL AS VARCHAR)", s.label)]
            raw_parts = feats.raw_parts
            raw = "to_json({" + ", ".join(raw_parts) + "})" if raw_parts else "NULL"
            source = "__staging"
            if skipped:  # only the new rows: an anti-join on the stored ids
                idc = quote(s.id)
                source = (
                    "(SELECT s.* FROM __staging AS s ANTI JOIN predictions AS p "
                    f"ON CAST(s.{idc} AS VARCHAR) = p.{idc}) AS __staging"
                )
            stored_rows = rows - skipped
            batch = batch_id or uuid.uuid4().hex
            now = _now()
            with self._transaction():
                self._ensure_predictions()
                seq = self._next_seq()
                select: list[_Item] = [
                    (f"CAST({quote(s.id)} AS VARCHAR)", s.id),
                    (ts_expr, s.timestamp),
                    (f"CAST({quote(s.prediction)} AS VARCHAR)", s.prediction),
                    *score_items,
                    *label,
                    *feats.items,
                    (conf, "confidence"),
                    ("CAST(? AS TIMESTAMP)", "ingested_at"),
                    (f"CAST({seq} AS BIGINT)", "_batch"),
                    (f"CAST({raw} AS JSON)", "_raw"),
                ]
                names = ", ".join(quote(name) for _, name in select)
                exprs = ", ".join(expr for expr, _ in select)
                self.con.execute(
                    f"INSERT INTO predictions ({names}) SELECT {exprs} FROM {source}", [now]
                )
                span = self.con.execute(
                    f"SELECT min({quote(s.timestamp)}), max({quote(s.timestamp)}) "
                    "FROM predictions WHERE _batch = ?",
                    [seq],
                ).fetchone()
                assert span is not None
                self.con.execute(
                    "INSERT INTO batches VALUES (?, ?, 'predictions', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        batch,
                        seq,
                        now,
                        stored_rows,
                        span[0],
                        span[1],
                        json.dumps(types),
                        json.dumps(feats.missing),
                        json.dumps(feats.extra),
                        json.dumps(feats.retyped),
                    ],
                )
        return IngestReport(
            kind="predictions",
            batch_id=batch,
            rows=stored_rows,
            skipped=skipped,
            missing_features=feats.missing,
            extra_columns=feats.extra,
            retyped=feats.retyped,
        )

    def _stored_ids(self, rows: int, on_duplicate: str) -> int:
        """How many staged prediction ids the store already holds (0 if none), found by
        one semi-join on the ids as stored (VARCHAR). Refuses the batch if there are any
        and ``on_duplicate`` is ``"refuse"``."""
        stored = {c.casefold() for c in self._table_columns("predictions")}
        if self.spec.id.casefold() not in stored:  # no table yet, or the id role is new
            return 0
        idc = quote(self.spec.id)
        found = self.con.execute(
            f"SELECT count(*) OVER (), i FROM (SELECT CAST(s.{idc} AS VARCHAR) AS i "
            f"FROM __staging AS s SEMI JOIN predictions AS p ON CAST(s.{idc} AS VARCHAR) = "
            f"p.{idc}) ORDER BY i LIMIT 5"
        ).fetchall()
        if not found:
            return 0
        n = int(found[0][0])
        if on_duplicate == "skip":
            return n
        raise IngestError(
            f"{n:,} of the batch's {rows:,} prediction ids are already stored (column "
            f"{self.spec.id!r}; first: {name_list([r[1] for r in found])}); "
            "storing them again would count those predictions twice. To store only the new "
            "rows, pass --on-duplicate skip (API: on_duplicate='skip'); to make retries of "
            "one batch safe, give it a --batch-id (API: batch_id=...). Nothing was stored."
        )

    def log_labels(self, data: Any, batch_id: str | None = None) -> IngestReport:
        """Append labels (``id``, ``label``, optional ``labelled_at``); latest per id wins."""
        if (done := self._already(batch_id, "labels")) is not None:
            return done
        s = self.spec
        label_col = s.label or "label"
        data = _in_memory(data)
        with self._staging(data) as types:
            self._check_names(_source_columns(self.con, data, types), types, "labels batch")
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            for col in (s.id, label_col):
                if col not in types:
                    raise IngestError(
                        f"labels batch is missing column {col!r}; labels need {s.id!r} and "
                        f"{label_col!r} (optionally 'labelled_at'); columns present: "
                        f"{name_list(types)}. Nothing was stored."
                    )
            if rows == 0:
                raise IngestError(
                    "the labels batch has 0 rows; log at least one label. Nothing was stored."
                )
            n_null = self._scalar(f"SELECT count(*) FROM __staging WHERE {quote(s.id)} IS NULL")
            if n_null:
                raise IngestError(
                    f"column {s.id!r} (id) of the labels batch has {n_null} null value(s); a "
                    "label needs the id of its prediction: fill them or drop those rows. "
                    "Nothing was stored."
                )
            repeated, shown = self._repeated_ids()
            if repeated:
                raise IngestError(
                    f"column {s.id!r} (id) of the labels batch gives {repeated:,} id(s) more "
                    f"than one label: {shown}. A batch "
                    "holds one label per id: keep one (a correction goes in a later batch, "
                    "with a later labelled_at; the latest label per id wins). Nothing was "
                    "stored."
                )
            bad = self._first_bad(f"{quote(label_col)} IS NULL", "NULL")
            if bad:
                raise IngestError(
                    f"column {label_col!r} (label) is null for id {bad[0]!r}; drop unlabelled "
                    "rows before logging labels. Nothing was stored."
                )
            bad = self.con.execute(
                f"SELECT CAST({quote(label_col)} AS VARCHAR) FROM __staging "
                f"WHERE CAST({quote(label_col)} AS VARCHAR) NOT IN (SELECT unnest(?)) LIMIT 1",
                [s.classes],
            ).fetchone()
            if bad:
                raise IngestError(
                    f"column {label_col!r} (label) has value {bad[0]!r}, which is not a class of "
                    f"the spec ({name_list(s.classes)}). Nothing was stored."
                )
            at = (
                self._timestamp_expr("labelled_at", types["labelled_at"])
                if "labelled_at" in types
                else "CAST(? AS TIMESTAMP)"
            )
            if "labelled_at" in types:
                bad = self._first_bad(f"({at}) IS NULL", "CAST(labelled_at AS VARCHAR)")
                if bad:
                    raise IngestError(
                        f"column 'labelled_at' has null or unparsable value {bad[1]!r} (id "
                        f"{bad[0]!r}); use ISO-8601 such as '2024-05-01T12:00:00Z', or drop the "
                        "column to use the time of logging. Nothing was stored."
                    )
            now = _now()
            batch = batch_id or uuid.uuid4().hex
            params: list[Any] = [] if "labelled_at" in types else [now]
            with self._transaction():
                seq = self._next_seq()
                self.con.execute(
                    f"INSERT INTO labels SELECT CAST({quote(s.id)} AS VARCHAR), "
                    f"CAST({quote(label_col)} AS VARCHAR), {at}, CAST(? AS TIMESTAMP), {seq} "
                    "FROM __staging",
                    [*params, now],
                )
                self.con.execute(
                    "INSERT INTO batches VALUES (?, ?, 'labels', ?, ?, NULL, NULL, ?, '[]', '[]', "
                    "'{}')",
                    [batch, seq, now, rows, json.dumps(types)],
                )
        return IngestReport(kind="labels", batch_id=batch, rows=rows)

    def log_reference(self, data: Any, name: str = "reference") -> IngestReport:
        """Store (replace) a reference table, e.g. the labelled holdout with model scores."""
        table = "reference_" + name
        data = _in_memory(data)
        with self._staging(data) as types:
            self._check_names(_source_columns(self.con, data, types), types, "reference")
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            if rows == 0:
                raise IngestError(f"reference {name!r} has no rows; nothing was stored.")
            missing = [
                c for c in [*self.spec.score_columns, self.spec.prediction] if c not in types
            ]
            if missing:
                raise IngestError(
                    f"reference {name!r} lacks column {missing[0]!r}; the reference is the "
                    "labelled holdout scored by the model, with the same columns as "
                    "predictions. Nothing was stored."
                )
            # the profile's class mixes and confidence come from these: same rules as
            # for predictions
            self._validate_prediction(types)
            self._validate_scores(types)
            with self._transaction():
                self.con.execute(
                    f"CREATE OR REPLACE TABLE {quote(table)} AS SELECT * FROM __staging"
                )
        return IngestReport(kind="reference", batch_id=name, rows=rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        committed = False
        try:
            yield
            self.con.execute("COMMIT")
            committed = True
        finally:
            if not committed:
                # DuckDB may have aborted it already (e.g. an interrupted query): keep the
                # cause rather than replacing it with "no transaction is active"
                with suppress(duckdb.TransactionException):
                    self.con.execute("ROLLBACK")

    # -- reads used by checks ---------------------------------------------------------------
    def batches(self, kind: str = "predictions") -> pa.Table:
        return self.con.execute(
            "SELECT * FROM batches WHERE kind = ? ORDER BY seq", [kind]
        ).to_arrow_table()

    def latest_labels(self) -> ibis.Table:
        """The latest label per prediction id, as an Ibis expression over the labels table
        (see :func:`driftline.engine.labels.latest_labels`)."""
        from driftline.engine import DuckDBEngine
        from driftline.engine.labels import latest_labels

        engine = DuckDBEngine.from_connection(self.con)
        return latest_labels(engine.table("labels"))

    def reference_columns(self, name: str = "reference") -> dict[str, str]:
        return self._table_columns("reference_" + name)

    def load_calibrations(self) -> dict[str, Any]:
        """The stored alert-bound calibrations, by key (see ``driftline.checks``)."""
        from driftline.methods import Calibration

        rows = self.con.execute(
            "SELECT key, bound, n, n_reference, reps, quantile, mean, std, how FROM calibrations"
        ).fetchall()
        return {
            r[0]: Calibration(
                bound=r[1],
                n=r[2],
                n_reference=r[3],
                reps=r[4],
                quantile=r[5],
                mean=r[6],
                std=r[7],
                how=r[8],
            )
            for r in rows
        }

    def _insert_rows(self, table: str, rows: list[dict[str, Any]], *, skip_existing: bool) -> None:
        """Append ``rows`` (dicts named like the table's columns) through Arrow; call
        inside a transaction. ``skip_existing`` leaves rows whose key is stored alone."""
        if not rows:
            return
        arrow = pa.Table.from_pylist(rows)
        self.con.register("__rows", arrow)
        try:
            names = ", ".join(quote(c) for c in arrow.column_names)
            conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
            self.con.execute(
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM __rows{conflict}"
            )
        finally:
            self.con.unregister("__rows")

    def save_run(self, results: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> None:
        """Store one check run's results and alerts together (one transaction)."""
        with self._transaction():
            self._insert_rows("results", results, skip_existing=False)
            self._insert_rows("alerts", alerts, skip_existing=False)

    def save_calibrations(self, calibrations: dict[str, Any], known: set[str]) -> None:
        """Store the calibrations whose keys are not in ``known`` (one transaction)."""
        new = [
            {"key": k, **{f: getattr(c, f) for f in _CALIBRATION_FIELDS}}
            for k, c in calibrations.items()
            if k not in known
        ]
        if new:
            with self._transaction():
                self._insert_rows("calibrations", new, skip_existing=True)

    def counts(self) -> dict[str, int]:
        """Row counts of every table (tests use it to prove refusals change nothing)."""
        out = {}
        for table in ("predictions", "labels", "batches", "results", "alerts"):
            if self.has_table(table):
                out[table] = int(self._scalar(f"SELECT count(*) FROM {quote(table)}"))
        return out


# -- opening the file: say what failed and how to fix it ------------------------------------------
_FORMAT_NAMES = {"parquet": "Parquet", "csv": "CSV", "json": "JSON-lines"}
#: The bytes every DuckDB database file carries at offset 8.
_DUCKDB_MAGIC = b"DUCK"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _file_kind(path: Path) -> str | None:
    """What a file that is not a DuckDB database looks like, or None if it is one."""
    with path.open("rb") as f:
        head = f.read(16)
    if len(head) >= 12 and head[8:12] == _DUCKDB_MAGIC:
        return None
    if not head:
        return "an empty"
    if head.startswith(b"PAR1"):
        return "a Parquet"
    if head.startswith(b"SQLite format 3"):
        return "an SQLite"
    suffix = path.suffix.lower()
    named = {".csv": "a CSV", ".tsv": "a CSV", ".json": "a JSON", ".jsonl": "a JSON-lines"}
    if suffix in named:
        return named[suffix]
    return "an unknown"


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the store file, or raise :class:`StoreError` saying what failed and the fix."""
    shown = shorten(str(path))
    if path.is_dir():
        raise StoreError(
            f"the store {shown} is a directory; give a file path such as "
            f"{shorten((path / 'driftline.duckdb').as_posix())} (--store, or the path of "
            "driftline.connect)."
        )
    parent = path.parent
    if not parent.is_dir():
        raise StoreError(
            f"cannot create the store {shown}: its directory {shorten(str(parent))} does not "
            f"exist; create it first (mkdir -p {shorten(str(parent))}) or choose another path."
        )
    if path.exists():
        try:
            kind = _file_kind(path)
        except PermissionError as exc:
            raise StoreError(
                f"cannot read the store {shown}: permission denied. Give your user read and "
                f"write access (chmod u+rw {shown}) or run as its owner."
            ) from exc
        if kind is not None:
            raise StoreError(
                f"the store {shown} is not a DuckDB database: it looks like {kind} file. The "
                "store is the DuckDB file driftline writes (default driftline.duckdb, created "
                f"on first use); to store this data, log it: `driftline log {path}` (or "
                "Monitor.log_predictions(path)) with --store pointing at the DuckDB file."
            )
        if not os.access(path, os.W_OK):
            raise StoreError(
                f"the store {shown} is read-only (permission denied for writing): driftline "
                "writes to its store on every command (results, calibrations). Make it "
                f"writable (chmod u+w {shown}) or copy it to a place you can write."
            )
    if not os.access(parent, os.W_OK):
        raise StoreError(
            f"the directory {shorten(str(parent))} of the store {shown} is not writable "
            f"(permission denied): DuckDB writes the store and its write-ahead log "
            f"({path.name}.wal) there. Make the directory writable (chmod u+w) or move the "
            "store to one you can write."
        )
    try:
        return duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise _store_error(path, exc) from exc


def _store_error(path: Path, exc: duckdb.Error) -> StoreError:
    """DuckDB's reason for refusing the store file, turned into what happened and the fix."""
    shown = shorten(str(path))
    text = _first_line(exc)
    reported = shorten(text.removeprefix("IO Error: "), 240)
    lock = re.search(r"Conflicting lock is held in (.*) \(PID (\d+)\)", text)
    if lock:
        program, pid = lock.group(1), lock.group(2)
        return StoreError(
            f"the store {shown} is in use by another process: {shorten(program)} (PID {pid}) "
            "holds its lock, and DuckDB lets one process open a store file at a time (even "
            f"for reading). Wait for it to finish or stop it (kill {pid}), then run again."
        )
    if "checksum" in text or "Corrupt" in text or "corrupt" in text:
        return StoreError(
            f"the store {shown} is corrupt: DuckDB reports {reported}. Restore it from a "
            "backup, or move it aside and build a new store (log the reference and the "
            "predictions again)."
        )
    if "not a valid DuckDB database" in text:
        return StoreError(
            f"the store {shown} is not a DuckDB database, or its header is damaged: DuckDB "
            f"reports {reported}. Point --store at the DuckDB file driftline wrote, or move "
            "this file aside to start a new store."
        )
    if "Permission denied" in text or "Read-only" in text or "read-only" in text:
        return StoreError(
            f"cannot write the store {shown}: DuckDB reports {reported}. Make the file and "
            "its directory writable (chmod u+w), or copy the store to a place you can write."
        )
    if "version" in text:
        return StoreError(
            f"the store {shown} was written by another DuckDB version: DuckDB reports "
            f"{reported}. Open it with the driftline (and DuckDB {duckdb.__version__}) "
            "that wrote it, or build a new store."
        )
    return StoreError(f"cannot open the store {shown}: DuckDB reports {reported}.")


_CALIBRATION_FIELDS = ("bound", "n", "n_reference", "reps", "quantile", "mean", "std", "how")


def _sql_string(value: str) -> str:
    """Escape a value for a single-quoted SQL literal (settings take no parameters)."""
    return value.replace("'", "''")


def _json_key(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _check_on_duplicate(value: object) -> None:
    if value not in ON_DUPLICATE:
        raise ConfigError(
            f"on_duplicate {shorten(value)} is not understood; use one of "
            f"{', '.join(repr(v) for v in ON_DUPLICATE)} ('refuse' keeps a batch holding "
            "stored prediction ids out whole, 'skip' stores only its new rows)."
        )


def _in_memory(data: Any) -> Any:
    """Files stay paths (DuckDB reads them); anything else becomes one Arrow table, whose
    column names are the user's (DuckDB renames some on registering it)."""
    if isinstance(data, (str, Path)):
        return data
    return to_arrow(data)


def _source_columns(con: duckdb.DuckDBPyConnection, data: Any, types: dict[str, str]) -> list[str]:
    """The batch's column names as the user wrote them, duplicates included.

    DuckDB renames a column whose name repeats an earlier one up to case (``X`` becomes
    ``X_1``), names an empty one ``column4`` and cuts a registered name at a NUL, so the
    names it shows (``types``) can hide a collision that would store one column's values
    under another's name. The source names come from the Arrow schema, the Parquet
    schema, the CSV header (parsed with the dialect DuckDB sniffed) or the JSON keys.
    """
    if isinstance(data, pa.Table):
        return list(data.column_names)
    path = str(data)
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if fmt == "csv":
            return _csv_header(con, path) or list(types)
        keys = con.execute(
            "SELECT json_keys(json) FROM (SELECT json FROM read_json_objects(?) "
            f"LIMIT {_JSON_SAMPLE})",
            [path],
        ).fetchall()
        return list(dict.fromkeys(k for row in keys for k in row[0] or []))
    except (duckdb.Error, pa.ArrowException, OSError):  # DuckDB read it: keep what it saw
        return list(types)


def _csv_header(con: duckdb.DuckDBPyConnection, path: str) -> list[str] | None:
    """The header of a CSV file, parsed with the dialect DuckDB sniffs and trimmed of
    spaces as DuckDB trims it; None without one (DuckDB then names the columns column0,
    column1, ...)."""
    sniffed = con.execute(
        "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader FROM sniff_csv(?)", [path]
    ).fetchone()
    if sniffed is None or not sniffed[4]:
        return None
    delim, quote_char, escape, skip = ("" if v == "(empty)" else v for v in sniffed[:4])
    header = con.execute(
        "SELECT * FROM read_csv(?, header = false, all_varchar = true, delim = ?, quote = ?, "
        "escape = ?, skip = ?) LIMIT 1",
        [path, delim, quote_char, escape, skip],
    ).fetchone()
    return None if header is None else ["" if v is None else v.strip(" ") for v in header]
