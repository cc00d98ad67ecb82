"""The DuckDB file: predictions, labels, references, batches, results and alerts.

Writes go through one DuckDB connection; reads go through Ibis expressions over the same
connection (see :mod:`driftline.engine`). A batch is validated with SQL over a staging
view *before* the transaction that stores it begins, and the insert itself runs in one
transaction, so a refused batch leaves the store exactly as it was.

The ingest policy (what is refused whole, what is stored as it came and recorded per
batch in ``batches`` as schema skew) is :mod:`driftline._ingest`; this module stages the
batch, stores it and keeps the runs. A
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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from driftline._catalog import ON_DUPLICATE, OnDuplicate, fractional, value_text_sql
from driftline._ingest import (
    SCORE_SUM_TOLERANCE,
    Item,
    Staged,
    check_names,
    check_on_duplicate,
    feature_select,
    number_sql,
    quote,
    utc_timestamp,
    validate_labels,
    validate_predictions,
    validate_reference,
)
from driftline._io import describe_input, file_format, literal_path, readable_file, to_arrow
from driftline.errors import (
    ConfigError,
    IngestError,
    StoreError,
    first_line,
    name_list,
    shorten,
)
from driftline.spec import Spec

if TYPE_CHECKING:
    import ibis

__all__ = [
    "ALERT_COLUMNS",
    "DECIDED_COLUMNS",
    "LOOKUP_PREFIX",
    "ON_DUPLICATE",
    "RESULT_COLUMNS",
    "RUN_COLUMNS",
    "SCORE_SUM_TOLERANCE",
    "SUMMARY_COLUMNS",
    "WAL_KEEP_BYTES",
    "IngestReport",
    "Store",
    "prediction_columns",
    "quote",
    "table_rows",
]

#: The name of every lookup table a kept summary query reads (:meth:`Store.save_lookup`).
LOOKUP_PREFIX = "compiled_lookup_"

#: The results table, declared once: one row per window x scope x check (x column) of a
#: stored run. ``Monitor`` writes the rows by these names; the table's DDL, the columns a
#: store written by an older driftline gains, and the Arrow schema the rows are converted
#: to on their way in all come from this tuple.
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
    # the window's key (see CheckResult.window); the fingerprint of the spec and profile
    # it was decided with; the run whose summaries it was decided from; its place among
    # the window x scope's results
    ("window", "BIGINT"),
    ("fingerprint", "VARCHAR"),
    ("summarised_by", "VARCHAR"),
    ("ord", "BIGINT"),
)

#: The alerts table, declared once like the results table: one row per alert of a run.
ALERT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("window_start", "TIMESTAMP"),
    ("cohort", "VARCHAR"),
    ("cohort_value", "VARCHAR"),
    ("check", "VARCHAR"),
    ("column", "VARCHAR"),
    ("message", "VARCHAR"),
    ("id", "VARCHAR"),
)

#: The stored summaries: one row per scope (a cohort column, or "" for the overall
#: scope of a spec without cohorts and for the overall quantiles of one with them) x
#: window x cohort value, valid for the summary fingerprint it was computed under.
#: ``seen`` is the newest batch the window held then, ``run_id`` the run that computed
#: it, ``era_late`` the era's upper bound its late-row count was taken against; ``stats``
#: and ``body`` are the storage form of :mod:`driftline.engine.records`.
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("scope", "VARCHAR"),
    ("window", "BIGINT"),
    ("cohort_value", "VARCHAR"),
    ("fingerprint", "VARCHAR"),
    ("seen", "BIGINT"),
    ("run_id", "VARCHAR"),
    ("era_late", "TIMESTAMP"),
    ("stats", "JSON"),
    ("body", "JSON"),
)

#: The stored results of each window once more, in the form a check reads back (one
#: JSON text per window, see :mod:`driftline.checks._incremental`): reading them as rows
#: of the results table took seconds for a year of windows. ``digest`` repeats the
#: text's first line, read by every check for the windows it does not decide again:
#: taken from the whole text it meant reading a year's 73 MB of results (0.2 CPU s).
DECIDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("window", "BIGINT"),
    ("fingerprint", "VARCHAR"),
    ("summarised_by", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("results", "VARCHAR"),
    ("digest", "VARCHAR"),
)

#: The run log: one row per stored check run, what it summarised and decided.
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("since", "TIMESTAMP"),
    ("until", "TIMESTAMP"),
    ("full", "BOOLEAN"),
    ("summary_fingerprint", "VARCHAR"),
    ("result_fingerprint", "VARCHAR"),
    ("windows_summarised", "BIGINT[]"),
    ("windows_evaluated", "BIGINT[]"),
    ("results", "BIGINT"),
    ("alerts", "BIGINT"),
)

#: The Arrow type of each DuckDB type the declared tables use (JSON arrives as its text).
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "BIGINT[]": pa.list_(pa.int64()),
    "TIMESTAMP": pa.timestamp("us"),
}

#: The tables of a stored run, by name: their columns as declared.
_RUN_TABLES = {
    "results": RESULT_COLUMNS,
    "alerts": ALERT_COLUMNS,
    "summaries": SUMMARY_COLUMNS,
    "decided": DECIDED_COLUMNS,
    "runs": RUN_COLUMNS,
}

#: Tables of large texts (a window x cohort value's summaries, ~40 KB; a window's
#: results, ~200 KB), kept in parts of at most this many rows: ``summaries``, then
#: ``summaries__1``, ``summaries__2``, ... A checkpoint rewrites every row group a commit
#: appended to, and DuckDB appends to a table's last row group: in one table, each
#: check's few new rows made the next checkpoint rewrite the whole history's texts
#: (at a year, 70 MB of summaries: 0.6 s). A part that is full is never appended to
#: again; one insert larger than a part (a full check) fills a part of its own.
_PARTED: dict[str, int] = {"summaries": 256, "decided": 64}

#: A store whose connection wrote derived data only leaves a write-ahead log below this
#: size for the next write to checkpoint (DuckDB's default ``checkpoint_threshold``: a
#: commit beyond it checkpoints anyway); see :meth:`Store.close`.
WAL_KEEP_BYTES = 16 * 1024 * 1024


def _wal_bytes(path: str) -> int:
    """The size of the store's write-ahead log (0: none)."""
    try:
        return os.path.getsize(path + ".wal")
    except OSError:
        return 0


#: Prefix of a reference set aside while a new one is stored and fitted.
_KEPT = "__dl_kept_reference_"
#: How many JSON objects are read for their keys (DuckDB's own schema sample size).
_JSON_SAMPLE = 20480
#: the staged labels' ``labelled_at`` as stored, while a batch is compared with the store
_LABEL_AT = "__driftline_labelled_at"


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
    #: labels stored for ids the store holds no prediction of (yet): counted, never
    #: dropped; they apply once the predictions are logged. The first few, by id.
    unknown_ids: int = 0
    unknown_id_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def prediction_columns(spec: Spec) -> list[tuple[str, str]]:
    """The predictions table's columns and DuckDB types, in order: the spec's columns in
    the types they are stored in, then ``confidence``, ``ingested_at``, ``_batch`` and
    ``_raw`` (the *stored form* every check reads, also of a source read in place)."""
    s = spec
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


class Store:
    """An open driftline DuckDB file for one spec."""

    def __init__(self, path: str | Path, spec: Spec, *, memory_limit: str | None = None) -> None:
        """Open (or create) the store. ``memory_limit`` caps DuckDB's memory (e.g.
        ``"2GB"``; default: ``DRIFTLINE_MEMORY_LIMIT`` or 2GB); DuckDB spills to disk
        beyond it rather than growing with the data."""
        self.path = str(path)
        self.spec = spec
        self.con = _connect(Path(path))
        #: whether every transaction so far wrote derived data only (see :meth:`close`)
        self._derived_only = True
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
            _limit_memory(self.con, memory_limit)
            self._ensure_meta_tables()
            self._respell_whole_numbers()
            self._roll_back_references()
        except duckdb.Error as exc:
            raise _store_error(Path(self.path), exc) from exc

    def close(self) -> None:
        """Close the connection. DuckDB checkpoints on close: it writes the write-ahead
        log's changes into the file, a rewrite of the file's metadata that costs a 4.5 GB
        store about 0.3 CPU s (0.5 s wall) however little changed. When every write of
        this connection was derived data (a check's results, summaries and calibrations:
        :meth:`_transaction` with ``derived=True``) and the log is below DuckDB's own
        checkpoint threshold (:data:`WAL_KEEP_BYTES`), the changes stay in the log,
        durable since their commit, and are checkpointed with the next write that needs
        one (a logged batch, or the log passing the threshold). Every open, read-only
        included, replays the log, so nothing is lost; a copy of the store made without
        its ``.wal`` file lacks the last checks' results, which the next check computes
        again. Logged batches are checkpointed on close, as ever."""
        if self._derived_only and _wal_bytes(self.path) < WAL_KEEP_BYTES:
            with suppress(duckdb.Error):
                self.con.execute("PRAGMA disable_checkpoint_on_shutdown")
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
            CREATE TABLE IF NOT EXISTS summary_watermarks (
                fingerprint VARCHAR PRIMARY KEY, watermark BIGINT
            );
            CREATE TABLE IF NOT EXISTS compiled_queries (
                key VARCHAR PRIMARY KEY, fingerprint VARCHAR, sql VARCHAR, columns VARCHAR
            );
            CREATE TABLE IF NOT EXISTS calibrations (
                key VARCHAR PRIMARY KEY, bound DOUBLE, n BIGINT, n_reference BIGINT,
                reps BIGINT, quantile DOUBLE, mean DOUBLE, std DOUBLE, how VARCHAR
            );
            """
        )
        for table, columns in _RUN_TABLES.items():
            body = ", ".join(f"{quote(c)} {t}" for c, t in columns)
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
            # a store written before a column was declared gains it (older rows read null);
            # the names from an empty scan: information_schema costs more memory than a
            # low memory_limit leaves when the store opens
            for part in self._parts(table):
                scan = self.con.execute(f"SELECT * FROM {quote(part)} LIMIT 0").description
                have = {d[0] for d in scan or []}
                for col, typ in columns:
                    if col not in have:
                        self.con.execute(f"ALTER TABLE {quote(part)} ADD COLUMN {quote(col)} {typ}")

    def _prediction_columns(self) -> list[tuple[str, str]]:
        return prediction_columns(self.spec)

    def _feature_columns(self) -> set[str]:
        """The columns whose stored type follows the spec's kind of them: the features
        and the cohort columns (the store's own columns and the roles keep theirs)."""
        return {*self.spec.feature_kinds, *self.spec.cohorts}

    def _respell_whole_numbers(self) -> None:
        """Once per store (table ``store_facts`` records it): the stored cohort values and
        categories that a driftline before this one spelled from a float or decimal
        column as ``3.0`` or ``3.00`` are respelled as :func:`value_text_sql` spells them
        now (``3``), in the batches whose recorded column type was fractional. Where any
        changed, the stored summaries (keyed and counted by those values) are dropped:
        the next check summarises every window again and replaces their results."""
        tables = {
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                "current_database() AND schema_name = 'main'"
            ).fetchall()
        }
        if "store_facts" in tables:
            return
        with self._transaction():
            self.con.execute(
                "CREATE TABLE store_facts (key VARCHAR PRIMARY KEY, value VARCHAR);"
                "INSERT INTO store_facts VALUES ('whole_numbers', 'integers')"
            )
            if "predictions" in tables and self._respell_stored() and "summaries" in tables:
                self.con.execute("DELETE FROM summary_watermarks")
                for part in self._parts("summaries"):
                    self.con.execute(f"DELETE FROM {quote(part)}")

    def _respell_stored(self) -> int:
        """Respell the stored values of :meth:`_respell_whole_numbers`; the rows changed."""
        scan = self.con.execute("SELECT * FROM predictions LIMIT 0").description or []
        have = {d[0] for d in scan}
        batches = [
            (int(seq), json.loads(types) if types else {})
            for seq, types in self.con.execute(
                "SELECT seq, source_columns FROM batches WHERE kind = 'predictions'"
            ).fetchall()
        ]
        sets, changed, params = [], [], []
        for col in [c for c in self.spec.category_columns() if c in have]:
            seqs = [seq for seq, types in batches if fractional(str(types.get(col, "")))]
            if not seqs:
                continue
            q = quote(col)
            new = f"coalesce({value_text_sql(f'TRY_CAST({q} AS DOUBLE)', 'DOUBLE')}, {q})"
            sets.append(f"{q} = CASE WHEN list_contains(?, _batch) THEN {new} ELSE {q} END")
            changed.append(f"(list_contains(?, _batch) AND {q} IS DISTINCT FROM {new})")
            params.append(seqs)
        if not sets:
            return 0
        # only the rows whose spelling changes: the count says whether any did
        row = self.con.execute(
            f"UPDATE predictions SET {', '.join(sets)} WHERE {' OR '.join(changed)}",
            [*params, *params],
        ).fetchone()
        return int(row[0]) if row else 0

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
        """Create the predictions table, or bring it to the columns the spec names now,
        in the caller's transaction (:meth:`ensure_predictions` opens one): a column the
        spec gained is added, and filled from the values the batches brought unnamed
        (:meth:`_fill_from_raw`); a column the spec names again after leaving it out for
        a while (table ``store_facts``, key ``named``: the columns it named at the last
        change) gets the values the batches logged meanwhile brought unnamed; a column
        whose stored type the spec changed (a numeric feature made categorical; a feature
        or cohort column only) is converted, each row from the value its batch brought
        where logging kept it (a retyped or unnamed column's), else from the stored value.
        So the table holds what logging the same batches under the spec of now would have
        stored."""
        wanted = self._prediction_columns()
        if not self.has_table("predictions"):
            body = ", ".join(f"{quote(c)} {t}" for c, t in wanted)
            self.con.execute(f"CREATE TABLE predictions ({body})")
            self._set_named(wanted)
            return
        have = self._table_columns("predictions")
        named = self._named()
        features = self._feature_columns()
        for col, typ in wanted:
            if col in have and have[col] != typ and col in features:
                self._convert(col, have[col], typ)
        added = [(col, typ) for col, typ in wanted if col not in have]
        for col, typ in added:
            self.con.execute(f"ALTER TABLE predictions ADD COLUMN {quote(col)} {typ}")
        again = [
            (col, typ)
            for col, typ in wanted
            if col in have and have[col] == typ and named is not None and col not in named
        ]
        if added or again:
            self._fill_from_raw(added, again)
        self._set_named(wanted)

    def _named(self) -> set[str] | None:
        """The columns the spec named when the table last changed (None: not recorded, a
        store written before this was kept)."""
        row = self.con.execute("SELECT value FROM store_facts WHERE key = 'named'").fetchone()
        return None if row is None else set(json.loads(row[0]))

    def _set_named(self, wanted: Sequence[tuple[str, str]]) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO store_facts VALUES ('named', ?)",
            [json.dumps(sorted(col for col, _ in wanted))],
        )

    def _up_to_date(self) -> bool:
        """Whether the predictions table has every column the spec names, in its type,
        and the spec names no column it left out at the last change."""
        have = self._table_columns("predictions")
        wanted = self._prediction_columns()
        features = self._feature_columns()
        if any(col not in have or (have[col] != typ and col in features) for col, typ in wanted):
            return False
        return self._named() in (None, {col for col, _ in wanted})

    def ensure_predictions(self) -> None:
        """Before a check: the predictions table as the spec names it (see
        :meth:`_ensure_predictions`), in one transaction when anything changes."""
        if self.has_table("predictions") and self._up_to_date():
            return
        with self._transaction():
            self._ensure_predictions()

    def _convert(self, col: str, stored: str, typ: str) -> None:
        """Change the stored type of ``col`` to ``typ`` (see :meth:`_ensure_predictions`).
        ``ALTER ... USING`` takes no bound parameters: the JSON pointer goes in as an
        escaped literal."""
        pointer = f"'{_sql_string(_pointer(col))}'"
        q = quote(col)
        if typ == "VARCHAR" and col in self.spec.category_columns():
            converted = value_text_sql(q, stored)
        elif typ == "VARCHAR":
            converted = f"CAST({q} AS VARCHAR)"
        else:
            converted = f"TRY_CAST({q} AS {typ})"
        value = self._raw_value(col, typ, pointer)
        self.con.execute(
            f"ALTER TABLE predictions ALTER COLUMN {q} SET DATA TYPE {typ} USING (CASE WHEN "
            f"json_exists(_raw, {pointer}) THEN {value} ELSE {converted} END)"
        )

    def _raw_value(self, col: str, typ: str, pointer: str) -> str:
        """SQL of ``col``'s value kept in ``_raw`` (at the JSON pointer ``pointer``, a
        parameter or a literal) as the stored type ``typ``, as logging converts it: a
        cohort value or category that came as a number spelled as logging spells it
        (:func:`value_text_sql`: ``3``, not ``3.0``)."""
        if typ.endswith("[]"):
            return f"TRY_CAST(json_extract(_raw, {pointer}) AS {typ})"
        if typ == "TIMESTAMP":  # as logging converts a string
            return utc_timestamp(f"json_extract_string(_raw, {pointer})")
        if col in self.spec.category_columns():
            number = value_text_sql(f"CAST(json_extract(_raw, {pointer}) AS DOUBLE)", "DOUBLE")
            return (
                f"CASE WHEN json_type(_raw, {pointer}) = 'DOUBLE' "
                f"THEN {number} ELSE json_extract_string(_raw, {pointer}) END"
            )
        if typ == "DOUBLE":  # a number sent as text, as logging reads it
            return number_sql(f"json_extract_string(_raw, {pointer})")
        return f"TRY_CAST(json_extract_string(_raw, {pointer}) AS {typ})"

    def _fill_from_raw(
        self, added: Sequence[tuple[str, str]], again: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Fill the columns ``added`` (name, stored type), just added because the spec
        now names them, from the rows that brought them as columns the spec did not name
        then: logging kept those values in ``_raw``. Rows that never had one, or whose
        value does not convert, read it as null. So moving a role (the timestamp, say)
        or a feature to a column the batches carried all along loses none of it. The
        columns named ``again`` keep their stored values and take the kept ones where
        they have none. One update for all of them (DuckDB refuses a second update of a
        table altered in the same transaction)."""
        sets: list[str] = []
        params: list[str] = []
        for col, typ in [*added, *again]:
            value = self._raw_value(col, typ, "?")
            params += [_pointer(col)] * value.count("?")
            if (col, typ) in again:
                value = f"coalesce({quote(col)}, {value})"
            sets.append(f"{quote(col)} = {value}")
        self.con.execute(f"UPDATE predictions SET {', '.join(sets)} WHERE _raw IS NOT NULL", params)

    # -- staging --------------------------------------------------------------------------
    @contextmanager
    def _staging(self, data: Any) -> Iterator[dict[str, str]]:
        """Expose the input as a view named ``__staging``; yield its column types."""
        name = "__staging"
        if isinstance(data, (str, Path)):
            fmt = readable_file(data)
            readers: dict[str, Any] = {
                "parquet": self.con.read_parquet,
                "csv": self.con.read_csv,
                "json": self.con.read_json,
            }
            try:
                readers[fmt](literal_path(data)).create_view(name, replace=True)
            except duckdb.Error as exc:
                raise IngestError(
                    f"cannot read {describe_input(data)}: DuckDB reports "
                    f"{shorten(first_line(exc), 300)}. Check that it is a {_FORMAT_NAMES[fmt]} "
                    "file (re-export it if it is damaged). Nothing was stored."
                ) from exc
        else:
            table = to_arrow(data)
            self.con.register(name, table)
        try:
            rows = self.con.execute(f"DESCRIBE {name}").fetchall()
            types = {r[0]: r[1] for r in rows}
            yield types
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            # DuckDB reads a file lazily: damaged pages surface in whichever query first
            # reads them (validation or the insert, which was rolled back), not at
            # read_parquet; each is a refusal of this file, not an internal error
            if not isinstance(data, (str, Path)):
                raise
            raise IngestError(
                f"cannot read {describe_input(data)}: DuckDB reports "
                f"{shorten(first_line(exc), 300)}. The file is damaged (e.g. corrupt pages) "
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

    def _staged(self, types: dict[str, str]) -> Staged:
        """The staged batch as ingest validation queries it (see :mod:`driftline._ingest`)."""
        return Staged(
            self.spec, types, lambda sql, params: self.con.execute(sql, params).fetchall()
        )

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

    def _all_null(self, columns: list[str]) -> list[str]:
        """The staged batch's ``columns`` that are null on every row."""
        counts = self.con.execute(
            "SELECT " + ", ".join(f"count({quote(c)})" for c in columns) + " FROM __staging"
        ).fetchone()
        assert counts is not None
        return [c for c, n in zip(columns, counts, strict=True) if n == 0]

    def _same_batch(
        self, done: IngestReport, data: Any, table: str, id_col: str, stored_id: str
    ) -> None:
        """Refuse ``data`` given a ``batch_id`` already stored (``done``) when it is not a
        retry of that batch: it holds an id ``table`` (predictions or labels) has none
        of. A retry's ids are all stored (rows a skipping batch left out were stored by
        another batch); another file under a reused id was reported stored and dropped."""
        with self._staging(_in_memory(data)) as types:
            if id_col not in types:
                return  # the ingest rules would refuse it anyway; nothing is stored
            new = self._scalar(
                f"SELECT min(CAST(s.{quote(id_col)} AS VARCHAR)) FROM __staging AS s ANTI JOIN "
                f"{table} AS t ON CAST(s.{quote(id_col)} AS VARCHAR) = t.{quote(stored_id)}"
            )
        if new is not None:
            raise IngestError(
                f"batch_id {done.batch_id!r} is already stored ({done.rows} {done.kind}), "
                f"but this data holds id {new!r}, which the store has no {done.kind} of: "
                "it is another batch, not a retry. Give it its own batch_id (or leave it "
                "out to name it by its content). Nothing was stored."
            )

    def log_predictions(
        self, data: Any, batch_id: str | None = None, *, on_duplicate: OnDuplicate = "refuse"
    ) -> IngestReport:
        """Validate and append one batch of predictions; all or nothing.

        A prediction id the store already holds refuses the batch whole
        (``on_duplicate="refuse"``, the default), or its row is left out
        (``on_duplicate="skip"``; the report counts them in ``skipped``). A ``batch_id``
        already stored returns its report, so a retry is a no-op; data holding an id the
        store has none of is another batch under a reused ``batch_id``, and is refused.
        """
        check_on_duplicate(on_duplicate)
        if (done := self._already(batch_id, "predictions")) is not None:
            self._same_batch(done, data, "predictions", self.spec.id, self.spec.id)
            return done
        s = self.spec
        data = _in_memory(data)
        with self._staging(data) as types:
            check_names(s, _source_columns(self.con, data, types), types, "batch")
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            ts_expr = validate_predictions(self._staged(types), rows)
            skipped = self._stored_ids(rows, on_duplicate)
            if skipped == rows:  # every row already stored: nothing to add, no empty batch
                return IngestReport(
                    kind="predictions", batch_id=batch_id or "", rows=0, skipped=skipped
                )
            feats = feature_select(s, types)
            if feats.retyped and (empty := self._all_null(list(feats.retyped))):
                # a column null on every row has no type of its own (Parquet's null
                # type reads as INTEGER, an empty CSV column as VARCHAR): missing values
                # of the type the spec expects, not a type change
                kinds = s.feature_kinds
                types = {
                    **types,
                    **{c: "DOUBLE" if kinds[c] == "numeric" else "VARCHAR" for c in empty},
                }
                feats = feature_select(s, types)
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
            label: list[Item] = []
            if s.label:
                if s.label in types:
                    label = [(f"CAST({quote(s.label)} AS VARCHAR)", s.label)]
                else:
                    label = [("CAST(NULL AS VARCHAR)", s.label)]
            raw_parts = feats.raw_parts
            raw = "to_json({" + ", ".join(raw_parts) + "})" if raw_parts else "NULL"
            source = "__staging"
            if skipped:  # only the new rows: an anti-join on the stored ids among them
                idc = quote(s.id)
                source = (
                    f"(SELECT s.* FROM __staging AS s ANTI JOIN ({_stored_among(idc)}) AS p "
                    f"ON CAST(s.{idc} AS VARCHAR) = p.i) AS __staging"
                )
            stored_rows = rows - skipped
            batch = batch_id or new_batch_id(data)
            now = _now()
            with self._transaction():
                self._ensure_predictions()
                seq = self._next_seq()
                select: list[Item] = [
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
                if self._keeps_unknown_labels():  # labelled ids this batch predicts
                    self._link_earlier_labels(seq)
                    self.con.execute(
                        f"DELETE FROM {UNKNOWN_LABELS} WHERE id IN "
                        f"(SELECT CAST({quote(s.id)} AS VARCHAR) FROM __staging)"
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
        one semi-join on the ids as stored (VARCHAR), :func:`_stored_among`. Refuses the
        batch if there are any and ``on_duplicate`` is ``"refuse"``."""
        if not self._holds_ids():
            return 0
        idc = quote(self.spec.id)
        found = self.con.execute(
            f"SELECT count(*) OVER (), i FROM ({_stored_among(idc)}) ORDER BY i LIMIT 5"
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
        """Append labels (``id``, ``label``, optional ``labelled_at``); latest per id wins.

        A label that cannot change which label is its id's latest is not stored again
        (the report counts it in ``skipped``; a batch of only such rows stores nothing):
        with a ``labelled_at``, one whose id holds the same label stored at that time or
        later; without (it is labelled at logging), one equal to its id's latest stored
        label. So a file logged twice without a ``batch_id`` stores nothing twice, and
        the latest label does not depend on the order files are logged in; a
        ``batch_id`` already stored returns its report (data holding an id no stored label
        has is another batch under a reused ``batch_id``, and is refused). Labels
        for ids the store holds no prediction of are stored (they apply once the
        predictions are logged) and counted in ``unknown_ids``."""
        if (done := self._already(batch_id, "labels")) is not None:
            self._same_batch(done, data, "labels", self.spec.id, "id")
            unknown, examples = self._unknown_label_ids(
                "SELECT l.id AS i FROM labels AS l JOIN batches AS b ON l._batch = b.seq "
                "WHERE b.batch_id = ?",
                [done.batch_id],
            )
            return replace(done, unknown_ids=unknown, unknown_id_examples=examples)
        s = self.spec
        label_col = s.label or "label"
        data = _in_memory(data)
        with self._staging(data) as types:
            check_names(s, _source_columns(self.con, data, types), types, "labels batch")
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            at = validate_labels(self._staged(types), rows)
            idc, lc = quote(s.id), quote(label_col)
            same = f"l.id = CAST(s.{idc} AS VARCHAR) AND l.label = CAST(s.{lc} AS VARCHAR)"
            if "labelled_at" in types:
                # rows whose id holds the same label stored as late or later: any label
                # that would outrank them outranks that one. A label equal to the latest
                # but later than it is stored: a label dated between the two may come
                new_rows = (
                    f"FROM (SELECT *, {at} AS {_LABEL_AT} FROM __staging) AS s WHERE NOT "
                    "EXISTS (SELECT 1 FROM (SELECT x.* FROM labels AS x SEMI JOIN __staging "
                    f"AS b ON x.id = CAST(b.{idc} AS VARCHAR)) AS l WHERE {same} "
                    f"AND l.labelled_at >= s.{_LABEL_AT})"
                )
            else:
                # rows whose id's latest stored label is the same: storing them changes
                # nothing. Only the stored labels of the batch's ids are ranked (a
                # semi-join whose hash table holds the batch's ids): a day's labels cost
                # the same after a year of them
                new_rows = (
                    "FROM __staging AS s WHERE NOT EXISTS (SELECT 1 FROM (SELECT x.id, "
                    "x.label, row_number() OVER (PARTITION BY x.id ORDER BY x.labelled_at "
                    "DESC, x._batch DESC) AS r FROM labels AS x SEMI JOIN __staging AS b "
                    f"ON x.id = CAST(b.{idc} AS VARCHAR)) AS l WHERE l.r = 1 AND {same})"
                )
            stored = int(self._scalar(f"SELECT count(*) {new_rows}"))
            if stored == 0:  # every label already stored: nothing to add, no empty batch
                return IngestReport(kind="labels", batch_id=batch_id or "", rows=0, skipped=rows)
            now = _now()
            batch = batch_id or new_batch_id(data)
            params: list[Any] = [] if "labelled_at" in types else [now]
            with self._transaction():
                seq = self._next_seq()
                self.con.execute(
                    f"INSERT INTO labels SELECT CAST(s.{idc} AS VARCHAR), "
                    f"CAST(s.{lc} AS VARCHAR), {at}, CAST(? AS TIMESTAMP), {seq} {new_rows}",
                    [*params, now],
                )
                self.con.execute(
                    "INSERT INTO batches VALUES (?, ?, 'labels', ?, ?, NULL, NULL, ?, '[]', '[]', "
                    "'{}')",
                    [batch, seq, now, stored, json.dumps(types)],
                )
                unknown, examples = self._batch_unknown_ids(seq)
        return IngestReport(
            kind="labels",
            batch_id=batch,
            rows=stored,
            skipped=rows - stored,
            unknown_ids=unknown,
            unknown_id_examples=examples,
        )

    def _batch_unknown_ids(self, seq: int) -> tuple[int, list[str]]:
        """How many ids of the labels batch ``seq`` (just stored) no stored prediction
        has, and the first five; the store's kept ids (:meth:`unknown_labels`) gain them,
        and its label links (:meth:`labelled_batches`) the predictions batches the
        batch labels. With the kept ids, the stored predictions are probed once: the
        batch's unknown ids are then those it holds of the kept ones."""
        batch = "SELECT id AS i FROM labels WHERE _batch = ?"
        if not self._keeps_unknown_labels():
            return self._unknown_label_ids(batch, [seq])
        hits, params = self._predicted(batch, [seq])
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE __hits AS {hits}", params)
        try:
            if self.has_table(LABEL_LINKS):
                self.con.execute(
                    f"INSERT INTO {LABEL_LINKS} SELECT DISTINCT CAST(? AS BIGINT), b FROM __hits",
                    [seq],
                )
            self.con.execute(
                f"INSERT INTO {UNKNOWN_LABELS} SELECT DISTINCT u.i FROM ({batch}) AS u "
                f"ANTI JOIN __hits AS h ON u.i = h.i ANTI JOIN {UNKNOWN_LABELS} AS x "
                "ON u.i = x.id",
                [seq],
            )
        finally:
            self.con.execute("DROP TABLE IF EXISTS __hits")
        return self._counted(
            f"SELECT l.id AS i FROM labels AS l SEMI JOIN {UNKNOWN_LABELS} AS x "
            "ON l.id = x.id WHERE l._batch = ?",
            [seq],
        )

    def _link_earlier_labels(self, seq: int) -> None:
        """Link the predictions batch ``seq`` (being stored, its rows in ``__staging``)
        to the labels batches that labelled its ids before it came: those of the kept
        unknown ids it brings (read before they leave the kept ids)."""
        if not self.has_table(LABEL_LINKS):
            return
        idc = quote(self.spec.id)
        brought = (
            f"SELECT x.id FROM {UNKNOWN_LABELS} AS x SEMI JOIN __staging AS s "
            f"ON x.id = CAST(s.{idc} AS VARCHAR)"
        )
        if not self._scalar(f"SELECT count(*) FROM ({brought})"):
            return  # the usual case: labels come after their predictions
        self.con.execute(
            f"INSERT INTO {LABEL_LINKS} SELECT DISTINCT l._batch, CAST({int(seq)} AS BIGINT) "
            f"FROM labels AS l SEMI JOIN ({brought}) AS k ON l.id = k.id"
        )

    def _unknown_label_ids(self, ids_sql: str, params: list[Any]) -> tuple[int, list[str]]:
        """How many of the ids ``ids_sql`` selects (as column ``i``) the predictions
        table lacks, and the first five of them (by id)."""
        return self._counted(*self._unpredicted(ids_sql, params))

    def _counted(self, ids_sql: str, params: list[Any], first: int = 5) -> tuple[int, list[str]]:
        """How many rows ``ids_sql`` selects (column ``i``), and the first ``first`` of
        their ids (by id), in one query."""
        found = self.con.execute(
            f"SELECT count(*) OVER (), i FROM ({ids_sql}) ORDER BY i LIMIT {int(first)}", params
        ).fetchall()
        if not found:
            return 0, []
        return int(found[0][0]), [str(r[1]) for r in found]

    def _holds_ids(self) -> bool:
        """Whether the predictions table has the spec's id column (not so with no table
        yet, or when the id role names a new column)."""
        stored = {c.casefold() for c in self._table_columns("predictions")}
        return self.spec.id.casefold() in stored

    def _predicted(self, ids_sql: str, params: list[Any]) -> tuple[str, list[Any]]:
        """The query of the stored predictions whose ids ``ids_sql`` (with ``params``)
        selects as column ``i``: their id ``i`` and batch ``b``; and its parameters. The
        given ids are the join's hash table and the stored ids probe it (as for
        predictions, :func:`_stored_among`)."""
        if not self._holds_ids():
            return "SELECT CAST(NULL AS VARCHAR) AS i, CAST(NULL AS BIGINT) AS b LIMIT 0", []
        idc = quote(self.spec.id)
        sql = (
            f"SELECT p.{idc} AS i, p._batch AS b FROM predictions AS p "
            f"SEMI JOIN ({ids_sql}) AS x ON p.{idc} = x.i"
        )
        return sql, params

    def _unpredicted(self, ids_sql: str, params: list[Any]) -> tuple[str, list[Any]]:
        """The query of the ids ``ids_sql`` (with ``params``) selects as column ``i``
        that no stored prediction has (:meth:`_predicted`), and its parameters."""
        hits, found = self._predicted(ids_sql, params)
        sql = f"SELECT u.i FROM ({ids_sql}) AS u ANTI JOIN ({hits}) AS p ON u.i = p.i"
        return sql, [*params, *found]

    def _keeps_unknown_labels(self) -> bool:
        """Whether the store keeps its labelled ids without a prediction
        (:meth:`unknown_labels` builds the table on a check's first need of it)."""
        return self.has_table(UNKNOWN_LABELS)

    def _ensure_unknown_labels(self) -> None:
        if not self._keeps_unknown_labels():
            with self._transaction(derived=True):
                self.con.execute(f"CREATE TABLE {UNKNOWN_LABELS} (id VARCHAR)")
                ids, _ = self._unpredicted("SELECT id AS i FROM labels", [])
                self.con.execute(f"INSERT INTO {UNKNOWN_LABELS} SELECT DISTINCT i FROM ({ids})")

    def unknown_labels(self, examples: int = 5) -> tuple[int, list[str]]:
        """How many labelled ids no stored prediction has, and the first ``examples`` of
        them (by id). Kept in the table :data:`UNKNOWN_LABELS`, which logging maintains
        (a labels batch adds its ids without a prediction, a predictions batch removes
        the ids it brings), so a check reads it instead of joining every label with
        every prediction; built from the stored tables the first time it is missing."""
        self._ensure_unknown_labels()
        return self._counted(f"SELECT id AS i FROM {UNKNOWN_LABELS}", [], examples)

    def _ensure_label_links(self) -> None:
        """Build the table :data:`LABEL_LINKS` from the stored tables if it is missing
        (after the kept unknown ids, which it is kept up to date with)."""
        if self.has_table(LABEL_LINKS):
            return
        self._ensure_unknown_labels()
        with self._transaction(derived=True):
            self.con.execute(f"CREATE TABLE {LABEL_LINKS} (labels_batch BIGINT, batch BIGINT)")
            hits, params = self._predicted("SELECT DISTINCT id AS i FROM labels", [])
            self.con.execute(
                f"INSERT INTO {LABEL_LINKS} SELECT DISTINCT l._batch, p.b FROM labels AS l "
                f"JOIN ({hits}) AS p ON l.id = p.i",
                params,
            )

    def labelled_batches(self, after: int) -> list[int]:
        """The predictions batches holding ids that labels batches newer than ``after``
        label (ascending). Kept as the store logs, in the table :data:`LABEL_LINKS`: a
        labels batch links the predictions batches of its ids, a predictions batch the
        labels batches of the ids it brings that were labelled before it (the kept
        unknown ids); built from the stored tables the first time it is missing. A check
        finds the windows newer labels changed by reading only those batches' rows."""
        self._ensure_label_links()
        rows = self.con.execute(
            f"SELECT DISTINCT batch FROM {LABEL_LINKS} WHERE labels_batch > ? ORDER BY batch",
            [after],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def labels_batches_between(self, spans: Sequence[tuple[datetime, datetime]]) -> list[int]:
        """The labels batches (ascending) that label ids of the predictions batches with
        rows in the ``[start, end)`` timestamp ``spans``: every label of those rows is in
        them (:meth:`labelled_batches`). The predictions batches are found from the rows
        themselves, by the spec's timestamp as it is now (the role may have moved since a
        batch was logged); batches are appended in time order, so DuckDB reads only the
        row groups whose timestamps meet the spans."""
        self._ensure_label_links()
        if not spans or not self.has_table("predictions"):
            return []
        ts = quote(self.spec.timestamp)
        overlap = " OR ".join(f"({ts} >= ? AND {ts} < ?)" for _ in spans)
        rows = self.con.execute(
            f"SELECT DISTINCT k.labels_batch FROM {LABEL_LINKS} AS k SEMI JOIN "
            f"(SELECT DISTINCT _batch AS b FROM predictions WHERE {overlap}) AS p "
            "ON k.batch = p.b ORDER BY 1",
            [x for span in spans for x in span],
        ).fetchall()
        return [int(r[0]) for r in rows]

    @contextmanager
    def reference_kept(self, name: str = "reference") -> Iterator[None]:
        """The stored reference ``name`` put back as it was if the block raises (or the
        process dies in it: the next open puts it back), so a new reference whose profile
        cannot be fitted replaces nothing. The old one is renamed aside, not copied."""
        table, kept = "reference_" + name, _KEPT + name
        had = self.has_table(table)
        if had:
            self.con.execute(f"DROP TABLE IF EXISTS {quote(kept)}")
            self.con.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(kept)}")
        try:
            yield
        except BaseException:
            self.con.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            if had:
                self.con.execute(f"ALTER TABLE {quote(kept)} RENAME TO {quote(table)}")
            raise
        if had:
            self.con.execute(f"DROP TABLE {quote(kept)}")

    def _roll_back_references(self) -> None:
        """Put back a reference set aside by :meth:`reference_kept` in a process that
        died before its new one was fitted."""
        left = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND starts_with(table_name, ?)",
            [_KEPT],
        ).fetchall()
        for (kept,) in left:
            table = "reference_" + kept.removeprefix(_KEPT)
            self.con.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            self.con.execute(f"ALTER TABLE {quote(kept)} RENAME TO {quote(table)}")

    def log_reference(self, data: Any, name: str = "reference") -> IngestReport:
        """Store (replace) a reference table, e.g. the labelled holdout with model scores."""
        table = "reference_" + name
        data = _in_memory(data)
        with self._staging(data) as types:
            check_names(self.spec, _source_columns(self.con, data, types), types, "reference")
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            validate_reference(self._staged(types), rows, name)
            with self._transaction():
                self.con.execute(
                    f"CREATE OR REPLACE TABLE {quote(table)} AS SELECT * FROM __staging"
                )
        return IngestReport(kind="reference", batch_id=name, rows=rows)

    @contextmanager
    def _transaction(self, *, derived: bool = False) -> Iterator[None]:
        """One transaction; ``derived``: it writes only what a check derives from the
        stored batches (results, summaries, calibrations), which :meth:`close` may leave
        in the write-ahead log."""
        if not derived:
            self._derived_only = False
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

    # -- sources read in place (see driftline.sources) -------------------------------------
    def validate_file(self, path: str, kind: str) -> tuple[dict[str, str], int]:
        """Judge the Parquet file ``path`` by the rules a logged batch of ``kind``
        (``predictions``, ``labels`` or ``reference``) is judged by, where it lies, and
        return its column types (DuckDB's spelling) and row count; raise the error its
        logging would raise. Nothing is stored."""
        what = {"predictions": "batch", "labels": "labels batch"}.get(kind, "reference")
        with self._staging(path) as types:
            check_names(self.spec, _source_columns(self.con, path, types), types, what)
            rows = int(self._scalar("SELECT count(*) FROM __staging"))
            staged = self._staged(types)
            if kind == "predictions":
                validate_predictions(staged, rows)
            elif kind == "labels":
                validate_labels(staged, rows)
            else:
                validate_reference(staged, rows, "reference")
        return types, rows

    def source_batches(self, kind: str) -> dict[str, dict[str, Any]]:
        """The batches of ``kind`` recorded for sources read in place, by batch id:
        ``seq``, ``ingested_at`` and ``source_columns`` (the types they were read with)."""
        rows = self.con.execute(
            "SELECT batch_id, seq, ingested_at, source_columns FROM batches WHERE kind = ?",
            [kind],
        ).fetchall()
        return {
            r[0]: {"seq": int(r[1]), "ingested_at": r[2], "source_columns": json.loads(r[3])}
            for r in rows
        }

    def next_seq(self) -> int:
        """The ``seq`` the next recorded batch takes."""
        return self._next_seq()

    def record_batches(self, rows: list[dict[str, Any]]) -> None:
        """Record batches of a source read in place (one transaction): each row holds the
        columns of the ``batches`` table, ``seq`` as :meth:`next_seq` gave it."""
        if not rows:
            return
        with self._transaction():
            for r in rows:
                self.con.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        r["batch_id"],
                        r["seq"],
                        r["kind"],
                        r["ingested_at"],
                        r["n_rows"],
                        r.get("min_ts"),
                        r.get("max_ts"),
                        json.dumps(r["source_columns"]),
                        json.dumps(r.get("missing_features", [])),
                        json.dumps(r.get("extra_columns", [])),
                        json.dumps(r.get("retyped", {})),
                    ],
                )

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

    def _insert_rows(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        skip_existing: bool,
        into: str | None = None,
    ) -> None:
        """Append ``rows`` (dicts named like the table's columns) through Arrow; call
        inside a transaction. ``skip_existing`` leaves rows whose key is stored alone. The
        rows of a declared table (:data:`RESULT_COLUMNS`, :data:`ALERT_COLUMNS`) are
        converted to its declared types, and must carry exactly its columns. ``into``: the
        part of ``table`` to append to (:meth:`_append_parted`)."""
        if not rows:
            return
        arrow = _to_arrow(table, rows)
        self.con.register("__rows", arrow)
        try:
            names = ", ".join(quote(c) for c in arrow.column_names)
            conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
            self.con.execute(
                f"INSERT INTO {quote(into or table)} ({names}) SELECT {names} FROM __rows{conflict}"
            )
        finally:
            self.con.unregister("__rows")

    # -- tables kept in parts (see _PARTED) ----------------------------------------------
    def _parts(self, table: str) -> list[str]:
        """The parts of ``table``, oldest first: the table itself, then ``table__1``, ...
        (only the table itself for a table not in :data:`_PARTED`)."""
        if table not in _PARTED:
            return [table]
        found = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND starts_with(table_name, ?)",
            [f"{table}__"],
        ).fetchall()
        numbered = sorted(
            int(name[len(table) + 2 :]) for (name,) in found if name[len(table) + 2 :].isdigit()
        )
        return [table, *(f"{table}__{n}" for n in numbered)]

    def _every_part(self, table: str) -> str:
        """A FROM item reading every part of ``table`` as one (by column name)."""
        parts = self._parts(table)
        if len(parts) == 1:
            return quote(table)
        return "(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {quote(p)}" for p in parts) + ")"

    def _append_parted(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` to the last part of ``table``, or to a new part when they would
        take the last one beyond its size (:data:`_PARTED`); in the caller's transaction."""
        if not rows:
            return
        parts = self._parts(table)
        last = parts[-1]
        held = int(self._scalar(f"SELECT count(*) FROM {quote(last)}"))
        if held and held + len(rows) > _PARTED[table]:
            number = int(last.rsplit("__", 1)[1]) + 1 if last != table else 1
            last = f"{table}__{number}"
            body = ", ".join(f"{quote(c)} {t}" for c, t in _RUN_TABLES[table])
            self.con.execute(f"CREATE TABLE {quote(last)} ({body})")
        self._insert_rows(table, rows, skip_existing=False, into=last)

    def _drop_empty_parts(self, table: str) -> None:
        """Drop the parts of ``table`` beyond the first that deletes left empty."""
        for part in self._parts(table)[1:]:
            if not self._scalar(f"SELECT count(*) FROM {quote(part)}"):
                self.con.execute(f"DROP TABLE {quote(part)}")

    def save_run(
        self,
        results: list[dict[str, Any]],
        alerts: list[dict[str, Any]],
        run: dict[str, Any] | None = None,
        *,
        windows: Sequence[datetime] | None = None,
        between: tuple[datetime | None, datetime | None] | None = None,
        decided: list[dict[str, Any]] | None = None,
        checked: tuple[datetime | None, datetime | None, str] | None = None,
        overlapping: bool = False,
    ) -> None:
        """Store one check run's results and alerts together (one transaction), the
        latest evaluation winning: the stored results and alerts of the windows starting
        at ``windows``, and of every window starting in ``between`` (``[since, until)``,
        None open), are replaced by the run's; with ``overlapping``, of every window
        reaching into ``between`` too (row-count windows: a run over a range counts its
        windows from ``since``, and one stored before may straddle it). ``run`` is its
        row of the run log; ``decided`` the rows of the ``decided`` table, replacing those
        of their windows.

        ``checked`` (``since, until, fingerprint``): the range the run decided and the
        fingerprint it decided under. The results in that range decided under another
        (an earlier spec's windows, e.g. days before the window became a week) and the
        alerts of windows the run does not have are gone: the range holds what a fresh
        store would."""
        with self._transaction(derived=True):
            if decided:
                keys = pa.array([d["window"] for d in decided], pa.int64())
                self._delete_in("decided", "window", keys)
                self._drop_empty_parts("decided")
                self._append_parted("decided", decided)
            if between is not None and overlapping and between[0] is not None:
                lo, hi = between
                reach = "window_end > ? AND window_start < ?" if hi else "window_end > ?"
                values = [lo, hi] if hi else [lo]
                self.con.execute(
                    "DELETE FROM alerts WHERE window_start IN (SELECT window_start FROM "
                    f"results WHERE {reach})",
                    values,
                )
                self.con.execute(f"DELETE FROM results WHERE {reach}", values)
            for table in ("results", "alerts"):
                if windows:
                    self._delete_in(table, "window_start", pa.array(windows, pa.timestamp("us")))
                if between is not None:
                    span, params = _window_starts(*between)
                    self.con.execute(f"DELETE FROM {table} WHERE {span}", params)
            self._insert_rows("results", results, skip_existing=False)
            self._insert_rows("alerts", alerts, skip_existing=False)
            if checked is not None:
                self._drop_stale(*checked)
            if run is not None:
                self._insert_rows("runs", [run], skip_existing=False)

    def _drop_stale(self, lo: datetime | None, hi: datetime | None, fingerprint: str) -> None:
        """Delete the results in ``[lo, hi)`` decided under a fingerprint other than
        ``fingerprint`` (a result stored before results had one is left), then the
        alerts in that range of windows with no result left."""
        span, params = _window_starts(lo, hi)
        gone = self.con.execute(
            f"DELETE FROM results WHERE {span} AND fingerprint <> ?", [*params, fingerprint]
        ).fetchone()
        if gone and gone[0]:
            self.con.execute(
                f"DELETE FROM alerts WHERE {span} AND window_start NOT IN (SELECT DISTINCT "
                f"window_start FROM results WHERE {span} AND window_start IS NOT NULL)",
                [*params, *params],
            )

    def _delete_in(self, table: str, column: str, keys: pa.Array) -> None:
        """Delete the rows of ``table`` whose ``column`` is one of ``keys`` (a join on
        the keys registered as an Arrow table, not an IN list of literals)."""
        self.con.register("__keys", pa.table({"k": keys}))
        try:
            for part in self._parts(table):
                self.con.execute(
                    f"DELETE FROM {quote(part)} WHERE {quote(column)} IN (SELECT k FROM __keys)"
                )
        finally:
            self.con.unregister("__keys")

    def runs(self) -> pa.Table:
        """The run log, oldest first."""
        return self.con.execute("SELECT * FROM runs ORDER BY created_at").to_arrow_table()

    # -- stored summaries (see driftline.checks._incremental) -------------------------------
    def summary_index(self, fingerprint: str) -> pa.Table:
        """Every stored summary of ``fingerprint`` without its body: ``scope, window,
        cohort_value, seen, run_id, era_late, stats``."""
        return self.con.execute(
            'SELECT scope, "window", cohort_value, seen, run_id, era_late, stats FROM '
            f"{self._every_part('summaries')} "
            'WHERE fingerprint = ? ORDER BY scope, "window", cohort_value',
            [fingerprint],
        ).to_arrow_table()

    def summary_bodies(self, fingerprint: str, windows: Sequence[int]) -> pa.Table:
        """``scope, window, cohort_value, body`` of the stored summaries of ``windows``."""
        self.con.register("__windows", pa.table({"w": pa.array(list(windows), pa.int64())}))
        try:
            return self.con.execute(
                'SELECT scope, "window", cohort_value, body FROM '
                f"{self._every_part('summaries')} WHERE fingerprint = ? "
                'AND "window" IN (SELECT w FROM __windows)',
                [fingerprint],
            ).to_arrow_table()
        finally:
            self.con.unregister("__windows")

    def summary_watermark(self, fingerprint: str) -> int | None:
        """The newest batch every window of whose rows has its summaries stored under
        ``fingerprint`` (None: none stored)."""
        row = self.con.execute(
            "SELECT watermark FROM summary_watermarks WHERE fingerprint = ?", [fingerprint]
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def save_summaries(
        self,
        fingerprint: str,
        rows: list[dict[str, Any]],
        windows: Sequence[int],
        watermark: int | None,
    ) -> None:
        """Replace the stored summaries of ``windows`` by ``rows`` and set the watermark
        (one transaction); summaries stored under another fingerprint (another profile
        or spec) are dropped."""
        with self._transaction(derived=True):
            for part in self._parts("summaries"):
                self.con.execute(f"DELETE FROM {quote(part)} WHERE fingerprint <> ?", [fingerprint])
            self.con.execute("DELETE FROM summary_watermarks WHERE fingerprint <> ?", [fingerprint])
            self.con.execute(
                "INSERT OR REPLACE INTO summary_watermarks VALUES (?, ?)", [fingerprint, watermark]
            )
            self._delete_in("summaries", "window", pa.array(list(windows), pa.int64()))
            self._drop_empty_parts("summaries")
            self._append_parted("summaries", rows)

    def compiled_queries(self, fingerprint: str) -> dict[str, tuple[str | None, str]]:
        """The summary query templates kept for ``fingerprint``: ``{key: (sql or None
        when the query is not kept, its columns as JSON)}`` (see
        :mod:`driftline.checks._compiled`)."""
        rows = self.con.execute(
            "SELECT key, sql, columns FROM compiled_queries WHERE fingerprint = ?", [fingerprint]
        ).fetchall()
        return {key: (sql, columns) for key, sql, columns in rows}

    def save_compiled_query(
        self, key: str, fingerprint: str, sql: str | None, columns: str
    ) -> None:
        """Keep one query template (``sql`` None: the query is not kept, compile it each
        run); the templates of every other summary fingerprint are deleted with it, and
        the lookup tables (:meth:`save_lookup`) no kept template reads any more."""
        with self._transaction(derived=True):
            self.con.execute(
                "DELETE FROM compiled_queries WHERE fingerprint <> ? OR key = ?", [fingerprint, key]
            )
            self.con.execute(
                "INSERT INTO compiled_queries VALUES (?, ?, ?, ?)", [key, fingerprint, sql, columns]
            )
            for name in self._lookup_tables():
                read = self.con.execute(
                    "SELECT count(*) FROM compiled_queries WHERE contains(sql, ?)", [quote(name)]
                ).fetchone()
                if not (read and read[0]):
                    self.con.execute(f"DROP TABLE {quote(name)}")

    def save_lookup(self, name: str, table: pa.Table) -> None:
        """Keep ``table`` (a query's in-memory lookup: the known categories of a column, a
        vocabulary) as the store table ``name``, which names its content (see
        :mod:`driftline.checks._compiled`); kept as is when it exists."""
        if not name.startswith(LOOKUP_PREFIX):
            raise ValueError(f"a lookup table's name starts with {LOOKUP_PREFIX}: {name!r}")
        if name in self._lookup_tables():
            return
        self.con.register("__lookup", table)
        try:
            with self._transaction(derived=True):
                self.con.execute(f"CREATE TABLE {quote(name)} AS SELECT * FROM __lookup")
        finally:
            self.con.unregister("__lookup")

    def _lookup_tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            f"AND schema_name = current_schema() AND starts_with(table_name, '{LOOKUP_PREFIX}')"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def decided(
        self, fingerprint: str, summarised_by: dict[int, str], line: int | None = None
    ) -> pa.Table:
        """``window, results`` of the ``decided`` table for the windows decided under
        ``fingerprint`` from the summaries the run ``summarised_by[window]`` computed;
        with ``line`` (1, 2, ...), only that line of each ``results`` text."""
        keys = pa.table(
            {
                "w": pa.array(list(summarised_by), pa.int64()),
                "r": pa.array(list(summarised_by.values()), pa.string()),
            }
        )
        self.con.register("__summarised", keys)
        try:

            def read(text: str, params: list[Any]) -> pa.Table:
                return self.con.execute(
                    f'SELECT x."window", {text} AS results FROM {self._every_part("decided")} x '
                    "JOIN __summarised k "
                    'ON x."window" = k.w AND x.summarised_by = k.r WHERE x.fingerprint = ? '
                    'ORDER BY x."window"',
                    [*params, fingerprint],
                ).to_arrow_table()

            if line == 1:  # the digest, kept in its own column
                table = read("x.digest", [])
                if table.column("results").null_count:
                    # rows stored before the column: their digest copied from the text once
                    with self._transaction(derived=True):
                        for part in self._parts("decided"):
                            self.con.execute(
                                f"UPDATE {quote(part)} SET digest = "
                                "split_part(results, chr(10), 1) WHERE digest IS NULL"
                            )
                    table = read("x.digest", [])
                return table
            if line is None:
                return read("x.results", [])
            return read("split_part(x.results, chr(10), ?)", [line])
        finally:
            self.con.unregister("__summarised")

    def save_calibrations(self, calibrations: dict[str, Any], known: set[str]) -> None:
        """Store the calibrations whose keys are not in ``known`` (one transaction)."""
        new = [
            {"key": k, **{f: getattr(c, f) for f in _CALIBRATION_FIELDS}}
            for k, c in calibrations.items()
            if k not in known
        ]
        if new:
            with self._transaction(derived=True):
                self._insert_rows("calibrations", new, skip_existing=True)

    def counts(self) -> dict[str, int]:
        """Row counts of every table (tests use it to prove refusals change nothing)."""
        out = {}
        tables = ("predictions", "labels", "batches", "results", "alerts", "summaries", "runs")
        for table in tables:
            if self.has_table(table):
                out[table] = int(self._scalar(f"SELECT count(*) FROM {self._every_part(table)}"))
        return out


def table_rows(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> pa.Table:
    """``rows`` (dicts holding exactly ``columns``' names) as Arrow typed by ``columns``
    (one of the declared tables, e.g. :data:`RESULT_COLUMNS`), also when empty."""
    schema = pa.schema([(c, _ARROW_TYPES[t]) for c, t in columns])
    return pa.Table.from_pylist([{c: r[c] for c in schema.names} for r in rows], schema=schema)


def _to_arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """``rows`` as Arrow: typed by the table's declaration when it has one (the types are
    then not guessed from the values, e.g. a column of nulls), inferred otherwise."""
    columns = _RUN_TABLES.get(table)
    if columns is None:
        return pa.Table.from_pylist(rows)
    names = [c for c, _ in columns]
    for row in rows:
        if row.keys() != set(names):  # a misspelt key would be dropped, a missing one null
            raise ValueError(
                f"a row for the {table} table has columns {sorted(row)}; the table declares {names}"
            )
    return pa.Table.from_pylist(rows, schema=pa.schema([(c, _ARROW_TYPES[t]) for c, t in columns]))


# -- opening the file: say what failed and how to fix it ------------------------------------------
_FORMAT_NAMES = {"parquet": "Parquet", "csv": "CSV", "json": "JSON-lines"}
#: The bytes every DuckDB database file carries at offset 8.
_DUCKDB_MAGIC = b"DUCK"


#: The labelled ids no stored prediction has (see :meth:`Store.unknown_labels`).
UNKNOWN_LABELS = "unknown_label_ids"
#: Which predictions batches hold ids each labels batch labels (see
#: :meth:`Store.labelled_batches`).
LABEL_LINKS = "label_links"


def _window_starts(lo: datetime | None, hi: datetime | None) -> tuple[str, list[Any]]:
    """The condition of a window starting in ``[lo, hi)`` (None open), and its values."""
    where, params = ["TRUE"], []
    if lo is not None:
        where.append("window_start >= ?")
        params.append(lo)
    if hi is not None:
        where.append("window_start < ?")
        params.append(hi)
    return " AND ".join(where), params


def new_batch_id(data: Any) -> str:
    """The id of a batch logged without one: unique, and for a file its name first, so an
    incident's "first batch" and the batches table say which file brought it.

    >>> new_batch_id("/data/day-004.parquet")[:16]
    'day-004.parquet#'
    >>> len(new_batch_id(None))
    32
    """
    if isinstance(data, (str, Path)):
        return f"{Path(data).name}#{uuid.uuid4().hex[:12]}"
    return uuid.uuid4().hex


def _stored_among(idc: str) -> str:
    """The stored prediction ids (column ``i``) that the staged batch holds too.

    The batch's ids are the join's build side and the stored ids probe it, so a
    one-day batch logged into a year of history hashes the day's ids, not the year's
    (2.0 s -> 0.04 s for 100k ids against 36.8M stored ones when ids grow with time,
    DuckDB pruning the stored row groups outside the batch's id range; about the same
    cost as before when every row group must be probed: benchmarks/bench_ingest.py).
    The batch's ids are unique (validated), so its count is the number of staged rows
    already stored."""
    return (
        f"SELECT p.{idc} AS i FROM predictions AS p SEMI JOIN __staging AS s "
        f"ON p.{idc} = CAST(s.{idc} AS VARCHAR)"
    )


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


def _limit_memory(con: duckdb.DuckDBPyConnection, memory_limit: str | None) -> None:
    """Cap DuckDB's memory on ``con``: ``memory_limit``, else ``DRIFTLINE_MEMORY_LIMIT``,
    else 2GB (DuckDB's own default is 80% of the machine's memory)."""
    limit = memory_limit or os.environ.get("DRIFTLINE_MEMORY_LIMIT") or "2GB"
    try:
        con.execute(f"SET memory_limit = '{_sql_string(limit)}'")
    except duckdb.Error as exc:
        raise ConfigError(
            f"memory_limit {shorten(limit)} is not a size DuckDB understands; use e.g. "
            "'2GB' or '512MB' (set by DRIFTLINE_MEMORY_LIMIT or memory_limit=; DuckDB: "
            f"{shorten(first_line(exc), 200)})."
        ) from exc


#: The DuckDB storage format a new store is written in (``storage_compatibility_version``).
STORAGE_VERSION = "v1.5.0"


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
        # a new store is written in DuckDB 1.5's storage format (DuckDB's default is 1.0's,
        # for older readers; driftline pins DuckDB): a checkpoint then re-uses the metadata
        # of the row groups it did not change, so committing a day's batch to a year of
        # history costs what it costs in a new store. A store made before keeps its format.
        return duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})
    except duckdb.Error as exc:
        raise _store_error(path, exc) from exc


@dataclass(frozen=True)
class UpgradeReport:
    """What :func:`upgrade_store` did."""

    #: the store's storage format before (DuckDB's tag, e.g. ``v1.0.0+``)
    before: str
    #: the storage format it is in now
    after: str
    #: the file the store was before the upgrade (None: nothing to do)
    backup: Path | None
    #: rows per table, equal in both files
    rows: dict[str, int]


def _storage_version(con: duckdb.DuckDBPyConnection, database: str) -> str:
    row = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?",
        [database],
    ).fetchone()
    return "" if row is None or row[0] is None else str(row[0])


def _table_rows(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, int]:
    names = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1, 2",
        [database],
    ).fetchall()
    rows: dict[str, int] = {}
    for schema, table in names:
        name = f"{quote(database)}.{quote(schema)}.{quote(table)}"
        count = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        rows[f"{schema}.{table}" if schema != "main" else table] = int(count[0] if count else 0)
    return rows


def upgrade_store(path: str | Path, *, memory_limit: str | None = None) -> UpgradeReport:
    """Rewrite a store made in an older DuckDB storage format into :data:`STORAGE_VERSION`,
    the format new stores are written in, where committing a batch to a long history
    costs what it costs in a new store (see :func:`_connect`).

    The store is checkpointed (its write-ahead log written into it), copied table by
    table into ``<store>.upgrading`` (DuckDB's ``COPY FROM DATABASE``), every table's row
    count compared, and only then swapped in: the file it was is kept as
    ``<store>.before-upgrade`` (delete it once satisfied). It needs the store's size in
    free disk space, and no other process may have the store open. A failure leaves the
    store as it was. A store already in the format is left alone. DuckDB's memory is
    capped as for every store (``memory_limit``, ``DRIFTLINE_MEMORY_LIMIT``, 2GB): left
    to its default, copying a 4.7 GB store peaked at 9.7 GB resident."""
    path = Path(path)
    if not path.exists():
        raise StoreError(
            f"there is no store {shorten(str(path))} to upgrade; give the DuckDB file "
            "driftline writes (--store, default driftline.duckdb)."
        )
    con = _connect(path)
    try:
        con.execute("SET enable_progress_bar = false")
        name = _database_name(con)
        before = _storage_version(con, name)
        if before.removesuffix("+") == STORAGE_VERSION:
            return UpgradeReport(before, before, None, _table_rows(con, name))
        con.execute("CHECKPOINT")  # the write-ahead log's changes into the file
    except duckdb.Error as exc:
        raise _store_error(path, exc) from exc
    finally:
        con.close()
    if Path(f"{path}.wal").exists():  # it would be replayed into the upgraded file
        raise StoreError(
            f"the write-ahead log of {shorten(str(path))} is still there after a checkpoint: "
            "another process may have the store open (a `driftline check`, a notebook "
            "holding a Monitor), or the log is damaged. Stop any such process and try again; "
            "if none holds the store, move the .wal file aside. The store is as it was."
        )
    staged = path.with_name(path.name + ".upgrading")
    backup = path.with_name(path.name + ".before-upgrade")
    if backup.exists():
        raise StoreError(
            f"{shorten(str(backup))} exists, from an earlier upgrade: move or delete it "
            "first (it is the store as it was before that upgrade)."
        )
    for leftover in (staged, Path(f"{staged}.wal")):  # an upgrade interrupted before
        leftover.unlink(missing_ok=True)
    copier = duckdb.connect()
    try:
        _limit_memory(copier, memory_limit)
        copier.execute("SET enable_progress_bar = false")
        # ATTACH takes no bound parameters: the paths as escaped literals
        copier.execute(f"ATTACH '{_sql_string(str(path))}' AS src (READ_ONLY)")
        copier.execute(
            f"ATTACH '{_sql_string(str(staged))}' AS dst "
            f"(STORAGE_VERSION '{_sql_string(STORAGE_VERSION)}')"
        )
        copier.execute("COPY FROM DATABASE src TO dst")
        rows, copied = _table_rows(copier, "src"), _table_rows(copier, "dst")
        after = _storage_version(copier, "dst")
        copier.execute("DETACH dst")
        copier.execute("DETACH src")
    except duckdb.Error as exc:
        copier.close()  # before the files go: closing may write to them
        staged.unlink(missing_ok=True)
        Path(f"{staged}.wal").unlink(missing_ok=True)
        raise StoreError(
            f"could not upgrade the store {shorten(str(path))}: DuckDB reports "
            f"{shorten(first_line(exc), 300)}. The store is as it was. Check the free disk "
            "space (the upgrade needs the store's size) and that no other process has it "
            "open, then try again."
        ) from exc
    finally:
        copier.close()
    if rows != copied:
        staged.unlink(missing_ok=True)
        differ = [t for t in sorted(set(rows) | set(copied)) if rows.get(t) != copied.get(t)]
        raise StoreError(
            f"the upgraded copy of {shorten(str(path))} differs in {name_list(differ)} "
            "(row counts); it was discarded and the store is as it was. Please report this."
        )
    os.replace(path, backup)
    try:
        os.replace(staged, path)
    except OSError:
        os.replace(backup, path)  # put the store back as it was
        raise
    return UpgradeReport(before, after, backup, rows)


def _database_name(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def _store_error(path: Path, exc: duckdb.Error) -> StoreError:
    """DuckDB's reason for refusing the store file, turned into what happened and the fix."""
    shown = shorten(str(path))
    text = first_line(exc)
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


def _pointer(column: str) -> str:
    """The JSON pointer of ``column``'s value in ``_raw``."""
    return "/" + column.replace("~", "~0").replace("/", "~1")


def _sql_string(value: str) -> str:
    """Escape a value for a single-quoted SQL literal (settings take no parameters)."""
    return value.replace("'", "''")


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
            [literal_path(path)],
        ).fetchall()
        return list(dict.fromkeys(k for row in keys for k in row[0] or []))
    except (duckdb.Error, pa.ArrowException, OSError):  # DuckDB read it: keep what it saw
        return list(types)


def _csv_header(con: duckdb.DuckDBPyConnection, path: str) -> list[str] | None:
    """The header of a CSV file, parsed with the dialect DuckDB sniffs and trimmed of
    spaces as DuckDB trims it; None without one (DuckDB then names the columns column0,
    column1, ...)."""
    sniffed = con.execute(
        "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader FROM sniff_csv(?)",
        [literal_path(path)],
    ).fetchone()
    if sniffed is None or not sniffed[4]:
        return None
    delim, quote_char, escape, skip = ("" if v == "(empty)" else v for v in sniffed[:4])
    header = con.execute(
        "SELECT * FROM read_csv(?, header = false, all_varchar = true, delim = ?, quote = ?, "
        "escape = ?, skip = ?) LIMIT 1",
        [literal_path(path), delim, quote_char, escape, skip],
    ).fetchone()
    return None if header is None else ["" if v is None else v.strip(" ") for v in header]
