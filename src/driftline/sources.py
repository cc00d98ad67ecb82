"""Sources: predictions, labels and references read where they lie, on DuckDB or Spark.

A *source* is what ``driftline check --predictions PATH_OR_TABLE`` (or
``Monitor.check(predictions=...)``) names:

- a Parquet file, a directory of Parquet files (searched recursively; names starting
  with ``_`` or ``.`` are skipped, as Spark skips them) or a glob: **one batch per
  file**, files in name order;
- a Delta table (a directory holding ``_delta_log``): the Parquet files of its current
  snapshot, listed by the ``deltalake`` package (Delta's own Spark reader needs JARs a
  session may not have), one batch per file; tables with partition columns or deletion
  vectors are refused (their files do not hold every row's values);
- on Spark, a catalog table (``db.table`` or ``table``) or a URI Spark reads
  (``s3a://...``): one batch, a new one at every check (nothing tells a grown table from
  the one read before), so every window is summarised again; point at the files for
  checks that summarise only what is new.

A batch is what its file holds: partition values in directory names (``day=2024-01-01/``)
are not read, as logging the file would not read them (a spec column that only a
directory name carries is reported missing).

Each batch is judged by the rules of :mod:`driftline._ingest`, as logging it would
judge it: a file refused by them refuses the check with the same message; a file whose
features differ from the spec (a dropped column, a column of another type, a new one)
gets the same schema verdict as logging it would record, and the same values (a retyped
numeric column read with ``TRY_CAST``). Local files are judged by DuckDB row by row,
once, when first seen (one extra scan per new file); a catalog table or a remote URI by
its schema alone (no row rules: required columns and their types).

The store records every batch it has seen (table ``batches``, the batch id naming the
file), so a later check gives a new file the next batch number and summarises only the
windows it feeds (the incremental watermark of :mod:`driftline.checks._incremental`);
nothing is copied into the store and nothing is counted twice. A file that is rewritten
in place is seen again only if its name changes (lakes write new files).

The source is read as the *stored form* of the predictions table
(:func:`driftline.store.prediction_columns`): one Ibis table, the union of one
projection per file, with ``_batch`` and ``ingested_at`` of its batch; ``_raw`` is null
(the retyped values are not kept a second time: they are in the file).
"""

from __future__ import annotations

import glob
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from driftline._catalog import SOURCE_FILE, type_family
from driftline._ingest import (
    NAIVE_TIMESTAMP,
    NUMBER_TEXT,
    TIMESTAMP_TEXT,
    FeatureSelect,
    check_names,
    feature_select,
)
from driftline._io import literal_path
from driftline.engine import Engine
from driftline.engine.summaries import value_text
from driftline.errors import (
    IngestError,
    SourceError,
    UnsupportedOperationError,
    first_line,
    missing_extra,
    name_list,
    shorten,
)
from driftline.spec import Spec
from driftline.store import Store, prediction_columns

__all__ = ["Part", "Source", "labels_source", "predictions_source", "reference_source", "resolve"]

#: The Ibis type of each DuckDB type of the stored form.
_IBIS_TYPES: dict[str, dt.DataType] = {
    "VARCHAR": dt.string,
    "JSON": dt.string,
    "DOUBLE": dt.float64,
    "BIGINT": dt.int64,
    "TIMESTAMP": dt.Timestamp(),
    "DOUBLE[]": dt.Array(dt.float64),
}

_view_ids = itertools.count()
#: Suffixes that make a name that is not there a missing file rather than a table name.
_FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".json", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Part:
    """One batch of a source: a Parquet file (``path``), or a catalog table / URI read
    by Spark (``table`` / ``uri``)."""

    key: str
    shown: str
    path: str | None = None
    table: str | None = None
    uri: str | None = None


@dataclass
class Source:
    """A source resolved on an engine: the table the checks read (stored form for
    predictions and labels, as it came for a reference), its parts and their batches."""

    table: ir.Table
    parts: list[Part]
    #: per part key: its batch number in the store
    seqs: dict[str, int] = field(default_factory=dict)
    #: parts first seen by this call
    new: list[str] = field(default_factory=list)
    #: the column types of the first part (DuckDB's spelling): a reference's columns
    columns: dict[str, str] = field(default_factory=dict)


def _hidden(path: Path, root: Path) -> bool:
    return any(p.startswith(("_", ".")) for p in path.relative_to(root).parts)


def resolve(source: str | Path, engine: Engine) -> list[Part]:
    """The parts of ``source`` on ``engine`` (see the module docstring), or a
    :class:`~driftline.errors.SourceError` naming what was not found and the fix."""
    text = str(source)
    spark = engine.name == "spark"
    if "://" in text and not text.startswith("file://"):
        if not spark:
            raise SourceError(
                f"source {shorten(text)} is a URI; DuckDB reads local Parquet paths: copy it "
                "locally, or read it with --engine spark (Monitor: connect(..., spark=session))."
            )
        return [Part(key=f"uri:{text}@{_now().isoformat()}", shown=text, uri=text)]
    text = text.removeprefix("file://")
    path = Path(text)
    if path.is_dir():
        if (path / "_delta_log").is_dir():
            return _delta_parts(path)
        files = sorted(
            f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in (".parquet", ".pq")
        )
        files = [f for f in files if not _hidden(f, path)]
        if not files:
            raise SourceError(
                f"directory {shorten(text)} holds no Parquet files (*.parquet); point at the "
                "folder the predictions are written to, or at a file."
            )
        return [_file_part(f) for f in files]
    if path.is_file():  # a file of that very name, glob characters and all
        return [_file_part(path)]
    if any(ch in text for ch in "*?["):
        matched = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matched:
            raise SourceError(
                f"no file matches {shorten(text)}; check the pattern (quote it so the shell "
                "does not expand it) and that the files exist."
            )
        return [_file_part(f) for f in matched]
    if "/" in text or "\\" in text or path.suffix.lower() in _FILE_SUFFIXES:
        raise SourceError(
            f"source {shorten(text)} does not exist; give a Parquet file, a directory of "
            "Parquet files, a glob, a Delta table's folder or (with --engine spark) a "
            "catalog table."
        )
    if not spark:
        raise SourceError(
            f"source {shorten(text)} is neither a file nor a directory; a catalog table is "
            "read with --engine spark (Monitor: connect(..., spark=session)); on DuckDB give "
            "a Parquet path."
        )
    from driftline.engine.spark import table_exists

    session = getattr(engine, "session", None)
    if not table_exists(session, text):
        raise SourceError(
            f"the Spark catalog holds no table {shorten(text)}; check the name (db.table), "
            "the session's catalog (spark.sql.catalogImplementation, the metastore) and the "
            "current database, or give a path."
        )
    # no version to tell a grown table from the one read before: a new batch each check
    return [Part(key=f"table:{text}@{_now().isoformat()}", shown=text, table=text)]


def _file_part(path: Path) -> Part:
    full = str(path.resolve())
    return Part(key=SOURCE_FILE + full, shown=str(path), path=full)


def _delta_parts(root: Path) -> list[Part]:
    try:
        from deltalake import DeltaTable
    except ImportError as exc:
        raise missing_extra("reading a Delta table", "deltalake", "spark") from exc
    try:
        table = DeltaTable(str(root))
    except Exception as exc:  # not a Delta log deltalake can read
        raise SourceError(
            f"cannot read the Delta table {shorten(str(root))}: "
            f"{shorten(first_line(exc), 300)}. "
            "Check that its _delta_log is complete, or point at a Parquet folder."
        ) from exc
    meta = table.metadata()
    if meta.partition_columns:
        raise UnsupportedOperationError(
            f"the Delta table {shorten(str(root))} is partitioned by "
            f"{name_list(meta.partition_columns)}, whose values are not in its files; read it "
            "on a session with Delta configured as a catalog table (--engine spark with "
            "the table name), or write it unpartitioned."
        )
    config = meta.configuration or {}
    if str(config.get("delta.enableDeletionVectors", "false")).lower() == "true":
        raise UnsupportedOperationError(
            f"the Delta table {shorten(str(root))} uses deletion vectors, which its files "
            "alone do not apply; read it as a catalog table on a session with Delta "
            "configured (--engine spark), or disable them and OPTIMIZE."
        )
    uris = sorted(table.file_uris())
    if not uris:
        raise SourceError(
            f"the Delta table {shorten(str(root))} holds no files in its current version "
            f"({table.version()}); write data to it first."
        )
    # file URIs are percent-encoded: a folder named "delta table é" is delta%20table%20%C3%A9
    return [_file_part(Path(unquote(u.removeprefix("file://")))) for u in uris]


# -- reading one part -------------------------------------------------------------------
def _raw(engine: Engine, part: Part) -> tuple[ir.Table, dict[str, str] | None]:
    """The part as it came, as an Ibis table; on Spark also its column types."""
    name = f"__dl_source_{next(_view_ids)}"
    if engine.name == "spark":
        from driftline.engine.spark import read_view

        session = getattr(engine, "session", None)
        if part.table is not None:
            types = read_view(session, name, table=part.table)
        else:
            target = part.path or part.uri
            assert target is not None
            types = read_view(session, name, paths=[target])
        return engine.table(name), types
    assert part.path is not None
    try:
        table = engine.backend.read_parquet(literal_path(part.path), table_name=name)
    except Exception as exc:
        raise SourceError(
            f"DuckDB cannot read {shorten(part.shown)}: {shorten(first_line(exc), 300)}."
            " Check that it is a Parquet file (re-export it if it is damaged)."
        ) from exc
    return table, None


def _types_of(store: Store, engine: Engine, part: Part, kind: str) -> tuple[dict[str, str], bool]:
    """The part's column types, judged by the ingest rules: row by row with DuckDB for a
    local file (``True``), by its schema alone otherwise (``False``)."""
    if part.path is not None:
        checked, _ = store.validate_file(part.path, kind)
        return checked, True
    _, types = _raw(engine, part)
    assert types is not None
    return types, False


def _schema_rules(spec: Spec, types: dict[str, str], kind: str, shown: str) -> None:
    """The ingest rules that need no rows: the names, the required columns, their types."""
    what = {"predictions": "batch", "labels": "labels batch"}.get(kind, "reference")
    check_names(spec, list(types), types, what)
    if kind == "labels":
        need = [spec.id, spec.label or "label"]
    elif kind == "reference":
        need = [*spec.score_columns, spec.prediction]
    else:
        need = list(spec.required_columns())
    missing = [c for c in need if c not in types]
    if missing:
        raise IngestError(
            f"{shorten(shown)} is missing required column {missing[0]!r}; columns present: "
            f"{name_list(types)}. Add the column, or map the role to another column in the "
            "spec."
        )
    if kind == "predictions":
        for col in spec.score_columns:
            fam = type_family(types[col])
            if fam not in ("numeric", "list"):
                raise IngestError(
                    f"column {col!r} (scores) of {shorten(shown)} is {types[col]}; scores "
                    "must be numbers in [0, 1]. Cast the column."
                )
        if type_family(types[spec.timestamp]) not in ("temporal", "string"):
            raise IngestError(
                f"column {spec.timestamp!r} (timestamp) of {shorten(shown)} is "
                f"{types[spec.timestamp]}; expected a timestamp or an ISO-8601 string."
            )


# -- the stored form ----------------------------------------------------------------------
def _timestamp(col: ir.Value, duck_type: str) -> ir.Value:
    """A timestamp column as the store keeps it: naive UTC (both engines' sessions are
    in UTC, so casting an instant to a naive timestamp gives its UTC wall time)."""
    if type_family(duck_type) == "string":  # as logging reads it (see utc_timestamp)
        text = col.cast("string")
        return ibis.cases(
            (~text.re_search(TIMESTAMP_TEXT), ibis.null(dt.Timestamp())),
            (text.re_search(NAIVE_TIMESTAMP), text.try_cast(dt.Timestamp())),
            else_=text.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp()),
        )
    return col.cast(dt.Timestamp())


def _number(col: ir.Value) -> ir.FloatingValue:
    """A numeric column sent as text, as logging reads it (``_ingest.number_sql``)."""
    text = col.cast("string")
    return ibis.ifelse(text.re_search(NUMBER_TEXT), text.try_cast("float64"), None)


def _stored_form(
    raw: ir.Table,
    spec: Spec,
    types: dict[str, str],
    feats: FeatureSelect,
    seq: int | ir.Value,
    ingested_at: datetime | ir.Value,
) -> ir.Table:
    """The part as the predictions table would hold it had it been logged: the columns
    of :func:`driftline.store.prediction_columns`, cast as the store casts them."""
    s = spec
    out: dict[str, ir.Value] = {}

    def null(duck: str) -> ir.Value:
        return ibis.null(_IBIS_TYPES[duck])

    out[s.id] = raw[s.id].cast("string")
    out[s.timestamp] = _timestamp(raw[s.timestamp], types[s.timestamp])
    out[s.prediction] = raw[s.prediction].cast("string")
    if s.scores.layout == "list":
        col = s.score_columns[0]
        out[col] = raw[col].cast(dt.Array(dt.float64))
        confidence = out[col].maxs()
    else:
        for col in s.score_columns:
            out[col] = raw[col].cast("float64")
        if s.scores.layout == "binary":
            p = out[s.score_columns[0]]
            confidence = ibis.greatest(p, 1 - p)
        else:
            confidence = ibis.greatest(*(out[c] for c in s.score_columns))
    if s.label:
        out[s.label] = raw[s.label].cast("string") if s.label in types else null("VARCHAR")
    kinds = s.feature_kinds
    for col in [c for c in s.cohorts if c not in kinds]:
        out[col] = value_text(raw[col]) if col in types else null("VARCHAR")
    for col, kind in kinds.items():
        if col not in types:
            out[col] = null("DOUBLE" if kind == "numeric" else "VARCHAR")
        elif kind == "numeric":
            if col not in feats.retyped:
                out[col] = raw[col].cast("float64")
            elif type_family(types[col]) == "string":
                out[col] = _number(raw[col])
            elif type_family(types[col]) == "boolean":
                out[col] = raw[col].try_cast("float64")
            else:  # a date, time, list, struct or blob: no number (and Spark cannot cast)
                out[col] = null("DOUBLE")
        else:
            out[col] = value_text(raw[col]) if kind == "categorical" else raw[col].cast("string")
    if s.embedding:
        if s.embedding in types and type_family(types[s.embedding]) == "list":
            out[s.embedding] = raw[s.embedding].try_cast(dt.Array(dt.float64))
        else:  # not brought, or all null as another type (ingest refuses other values)
            out[s.embedding] = null("DOUBLE[]")
    out["confidence"] = confidence
    out["ingested_at"] = _value(ingested_at).cast(dt.Timestamp())
    out["_batch"] = _value(seq).cast("int64")
    out["_raw"] = null("VARCHAR")
    order = [c for c, _ in prediction_columns(spec)]
    return raw.select(**{c: out[c] for c in order})


def _value(value: Any) -> ir.Value:
    """An expression as it is, a Python value as a literal."""
    return value if isinstance(value, ir.Value) else ibis.literal(value)


def _labels_form(
    raw: ir.Table, spec: Spec, types: dict[str, str], seq: int, at: datetime
) -> ir.Table:
    label = spec.label or "label"
    if "labelled_at" in types:
        labelled = _timestamp(raw["labelled_at"], types["labelled_at"])
    else:
        labelled = ibis.literal(at, dt.Timestamp())
    return raw.select(
        id=raw[spec.id].cast("string"),
        label=raw[label].cast("string"),
        labelled_at=labelled,
        ingested_at=ibis.literal(at, dt.Timestamp()),
        _batch=ibis.literal(seq).cast("int64"),
    )


_FILE_COLUMN = "__dl_file"


def _spark_groups(
    engine: Engine, parts: Sequence[Part], meta: dict[str, dict[str, Any]]
) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[str]]:
    """On Spark, the files of one schema read as one view each (see
    :func:`driftline.engine.spark.read_files_view`): ``(view, file names) -> part keys``.
    Files Spark cannot read together are left out (read one by one)."""
    if engine.name != "spark":
        return {}
    from driftline.engine.spark import nanosecond_columns, read_files_view

    by_schema: dict[str, list[Part]] = {}
    for part in parts:
        if part.path is not None:
            types = meta[part.key]["source_columns"]
            # DuckDB types a nanosecond timestamp as it types a microsecond one; Spark
            # reads a view's files alike (as integers once one is in nanoseconds), so
            # files of either unit are read apart
            nanos = nanosecond_columns([part.path])
            by_schema.setdefault(json.dumps([types, nanos]), []).append(part)
    out: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for group in by_schema.values():
        if len(group) < 2:
            continue
        view = f"__dl_source_{next(_view_ids)}"
        paths = [p.path for p in group if p.path is not None]
        named = read_files_view(getattr(engine, "session", None), view, paths)
        if named is None:
            continue
        file_of = {p.key: named[p.path] for p in group if p.path is not None}
        out[(view, tuple(file_of.items()))] = [p.key for p in group]
    return out


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _read(
    source: str | Path, engine: Engine, store: Store, kind: str
) -> tuple[list[Part], dict[str, dict[str, Any]], list[tuple[Part, dict[str, Any]]]]:
    """The parts, the batches the store recorded for them, and the new ones with the
    types they were judged with."""
    parts = resolve(source, engine)
    known = store.source_batches(kind)
    new: list[tuple[Part, dict[str, Any]]] = []
    seq = store.next_seq()
    now = _now()
    for part in parts:
        if part.key in known:
            continue
        types, by_rows = _types_of(store, engine, part, kind)
        if not by_rows:
            _schema_rules(store.spec, types, kind, part.shown)
        new.append((part, {"seq": seq, "ingested_at": now, "source_columns": types}))
        seq += 1
    return parts, known, new


def predictions_source(source: str | Path, engine: Engine, store: Store) -> Source:
    """Predictions read in place as the stored form, their new batches recorded."""
    spec = store.spec
    parts, known, new = _read(source, engine, store, "predictions")
    meta = {**known, **{p.key: m for p, m in new}}
    tables = []
    feats_of: dict[str, FeatureSelect] = {}
    groups = _spark_groups(engine, parts, meta)
    grouped = {key for keys in groups.values() for key in keys}
    for (view, file_pairs), keys in groups.items():
        file_of = dict(file_pairs)
        raw = engine.table(view)
        first = meta[keys[0]]
        types = first["source_columns"]
        feats = feature_select(spec, types)
        for key in keys:
            feats_of[key] = feats
        which = raw[_FILE_COLUMN]
        seq = ibis.cases(*((which == file_of[k], meta[k]["seq"]) for k in keys))
        at = ibis.cases(*((which == file_of[k], meta[k]["ingested_at"]) for k in keys))
        tables.append(_stored_form(raw, spec, types, feats, seq, at))
    for part in parts:
        if part.key in grouped:
            continue
        m = meta[part.key]
        raw, _ = _raw(engine, part)
        types = m["source_columns"]
        feats_of[part.key] = feats = feature_select(spec, types)
        tables.append(_stored_form(raw, spec, types, feats, m["seq"], m["ingested_at"]))
    table = tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)
    if new:
        seqs = [m["seq"] for _, m in new]
        ts = table[spec.timestamp]
        fresh = table.filter(table["_batch"].isin(seqs))
        stats = engine.run(
            fresh.group_by("_batch").aggregate(n=fresh.count(), a=ts.min(), b=ts.max())
        ).to_pylist()
        by_seq = {int(r["_batch"]): r for r in stats}
        rows = []
        for part, m in new:
            r = by_seq.get(m["seq"], {"n": 0, "a": None, "b": None})
            feats = feats_of[part.key]
            rows.append(
                {
                    "batch_id": part.key,
                    "kind": "predictions",
                    "n_rows": int(r["n"]),
                    "min_ts": r["a"],
                    "max_ts": r["b"],
                    "missing_features": feats.missing,
                    "extra_columns": feats.extra,
                    "retyped": feats.retyped,
                    **m,
                }
            )
        store.record_batches(rows)
    return Source(
        table,
        parts,
        {p.key: meta[p.key]["seq"] for p in parts},
        [p.key for p, _ in new],
        meta[parts[0].key]["source_columns"],
    )


def labels_source(source: str | Path, engine: Engine, store: Store) -> Source:
    """Labels read in place in the form of the labels table (``id, label, labelled_at,
    ingested_at, _batch``), their new batches recorded."""
    parts, known, new = _read(source, engine, store, "labels")
    meta = {**known, **{p.key: m for p, m in new}}
    tables = []
    for part in parts:
        m = meta[part.key]
        raw, _ = _raw(engine, part)
        tables.append(
            _labels_form(raw, store.spec, m["source_columns"], m["seq"], m["ingested_at"])
        )
    table = tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)
    if new:
        seqs = [m["seq"] for _, m in new]
        fresh = table.filter(table["_batch"].isin(seqs))
        counts = {
            int(r["_batch"]): int(r["n"])
            for r in engine.run(fresh.group_by("_batch").aggregate(n=fresh.count())).to_pylist()
        }
        store.record_batches(
            [
                {"batch_id": p.key, "kind": "labels", "n_rows": counts.get(m["seq"], 0), **m}
                for p, m in new
            ]
        )
    return Source(table, parts, {p.key: meta[p.key]["seq"] for p in parts}, [p.key for p, _ in new])


def reference_source(source: str | Path, engine: Engine, store: Store) -> Source:
    """A reference read in place, as it came (the profile is fitted on it); every part
    judged by the reference rules, and all parts of one schema."""
    parts = resolve(source, engine)
    tables: list[ir.Table] = []
    columns: dict[str, str] = {}
    for part in parts:
        types, by_rows = _types_of(store, engine, part, "reference")
        if not by_rows:
            _schema_rules(store.spec, types, "reference", part.shown)
        if not columns:
            columns = types
        elif types != columns:
            differ = sorted(set(types.items()) ^ set(columns.items()))
            raise IngestError(
                f"reference part {shorten(part.shown)} has other columns than "
                f"{shorten(parts[0].shown)} ({name_list(c for c, _ in differ)} differ); a "
                "reference is one table: give files of one schema."
            )
        raw, _ = _raw(engine, part)
        tables.append(raw)
    table = tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)
    return Source(table, parts, columns=columns)


def describe(parts: Sequence[Part]) -> str:
    """The parts named for a message: the first few."""
    return name_list(p.shown for p in parts)
