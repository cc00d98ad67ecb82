"""Spark: the session driftline starts, and what it reads and writes through it.

Everything Spark-specific lives here (and in :class:`SparkEngine`, re-exported):

- :func:`spark_session` starts (or returns) a session with the settings the checks
  assume: session time zone UTC (timestamps are stored and bucketed in UTC), Arrow on
  (summaries and capped samples come back as Arrow, never through pandas), warehouse and
  Derby metastore in a temporary folder (no ``spark-warehouse`` or ``metastore_db`` left
  in the working directory), UI off, few shuffle partitions (summaries are small).
  Before the JVM starts it checks that pyspark is importable and that Java can be found,
  and says what to install otherwise (a JVM that fails to start says the same).
  :func:`session_for` is the same for one block: a session it started is stopped after
  it, and Ctrl-C is left as the process had it.
- :func:`read_view` / :func:`table_columns` read Parquet files, Delta tables and catalog
  tables as temporary views and give their column types in DuckDB's spelling (the
  spelling the ingest rules of :mod:`driftline._ingest` judge).
- :func:`write_table` writes Arrow results to a Spark table, replacing the rows of the
  windows a run decided.

ANSI mode (Spark 4's default) is left as the session has it: the summaries divide by
``nullif(den, 0)`` and cast logged values with ``TRY_CAST``, so they neither raise nor
differ with ANSI on or off; a user's own session is used as it is.

Documented workarounds (see DESIGN.md): Ibis switches the session to UTC when it
connects; ``isnull()`` on a float counts NaN on Spark, so the summaries test NaN apart;
large samples go through ``spark.sql(compiled).toArrow()``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from driftline.engine._backend import SparkEngine
from driftline.errors import (
    ConfigError,
    EngineError,
    SourceError,
    first_line,
    missing_extra,
    shorten,
)

__all__ = [
    "FILE_COLUMN",
    "SESSION_SETTINGS",
    "SparkEngine",
    "active_session",
    "arrow_view",
    "duck_type",
    "java_problem",
    "nanosecond_columns",
    "read_files_view",
    "read_view",
    "spark_session",
    "table_columns",
    "table_exists",
    "write_table",
]

#: What :func:`spark_session` sets unless ``conf`` says otherwise.
SESSION_SETTINGS: dict[str, str] = {
    "spark.master": "local[2]",
    "spark.app.name": "driftline",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
}


def java_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why Java cannot be started (None when a ``java`` is found): Spark needs
    ``$JAVA_HOME/bin/java`` or ``java`` on the PATH."""
    env = os.environ if environ is None else environ
    home = env.get("JAVA_HOME")
    if home:
        if (Path(home) / "bin" / "java").exists():
            return None
        return f"JAVA_HOME is {shorten(home)}, which holds no bin/java"
    if shutil.which("java", path=env.get("PATH", "")) is not None:
        return None
    return "no `java` is on the PATH and JAVA_HOME is not set"


def _java_error(why: str) -> EngineError:
    return EngineError(
        f"the Spark engine cannot start: {why}. Spark runs on Java 17: install it (e.g. "
        "`apt-get install openjdk-17-jre-headless`) and set JAVA_HOME to its folder (e.g. "
        "/usr/lib/jvm/java-17-openjdk-amd64), or run without --engine spark (DuckDB)."
    )


def spark_session(conf: Mapping[str, str] | None = None) -> Any:
    """A Spark session with :data:`SESSION_SETTINGS` (``conf`` overrides and adds any
    ``spark.*`` setting, e.g. ``{"spark.master": "spark://host:7077"}``); an active
    session is returned as it is, with ``conf`` applied to it where Spark allows.

    Raises :class:`~driftline.errors.MissingExtraError` without pyspark and
    :class:`~driftline.errors.EngineError` without Java, before the JVM starts.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise missing_extra("the Spark engine", "pyspark", "spark") from exc
    settings = {**SESSION_SETTINGS, **(conf or {})}
    active = active_session()
    if active is not None:
        for key, value in (conf or {}).items():
            _set_on(active, key, value)
        return active
    if (why := java_problem()) is not None:
        raise _java_error(why)
    scratch = Path(tempfile.mkdtemp(prefix="driftline-spark-"))
    settings.setdefault("spark.sql.warehouse.dir", str(scratch / "warehouse"))
    settings.setdefault("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch}")
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: the gateway exits before any query
        text = str(exc)
        if "Java gateway" in text or "JAVA_HOME" in text or "java" in text.lower():
            raise _java_error(f"the Java gateway did not start ({shorten(text, 200)})") from exc
        raise EngineError(
            f"the Spark engine cannot start: {shorten(text, 300)}. Check the --spark-conf "
            "settings (spark.master, memory) and run again."
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def session_for(conf: Mapping[str, str] | None = None) -> Iterator[Any]:
    """:func:`spark_session` for one block: the active session, or one started for the
    block and stopped when it ends. Stopping also puts back the Ctrl-C handler the
    process had before: pyspark installs its own when a session starts and leaves it
    behind when the session stops, where Ctrl-C then raises ``AttributeError`` (from
    cancelling the stopped session's jobs) instead of ``KeyboardInterrupt``."""
    started = active_session() is None
    before = signal.getsignal(signal.SIGINT)
    session = spark_session(conf)
    try:
        yield session
    finally:
        if started:
            session.stop()
            main = threading.current_thread() is threading.main_thread()
            if main and before is not None:  # None: a handler not set from Python
                signal.signal(signal.SIGINT, before)


def active_session() -> Any:
    """The Spark session active in this process, or None (also without pyspark)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def _set_on(session: Any, key: str, value: str) -> None:
    """Apply ``key=value`` to a running session, or say that it cannot change there."""
    current = session.sparkContext.getConf().get(key) or session.conf.get(key, None)
    if current == value:
        return
    fixed = key.startswith(("spark.master", "spark.driver.", "spark.executor."))
    if not fixed:
        try:
            session.conf.set(key, value)
            return
        except Exception:  # a static setting: fixed when the session started
            pass
    raise ConfigError(
        f"the Spark setting {shorten(key)} is fixed when a session starts, and this "
        f"process already runs one (with {shorten(current)}); set it in that session's "
        "builder, or run driftline in a new process."
    )


# -- reading -------------------------------------------------------------------------------
def duck_type(spark_type: Any) -> str:
    """A Spark SQL type in DuckDB's spelling, as the ingest rules judge types
    (``LongType`` -> ``BIGINT``, ``ArrayType(DoubleType)`` -> ``DOUBLE[]``)."""
    from pyspark.sql import types as t

    simple: list[tuple[type, str]] = [
        (t.StringType, "VARCHAR"),
        (t.LongType, "BIGINT"),
        (t.IntegerType, "INTEGER"),
        (t.ShortType, "SMALLINT"),
        (t.ByteType, "TINYINT"),
        (t.DoubleType, "DOUBLE"),
        (t.FloatType, "FLOAT"),
        (t.BooleanType, "BOOLEAN"),
        (t.TimestampNTZType, "TIMESTAMP"),
        (t.TimestampType, "TIMESTAMP WITH TIME ZONE"),
        (t.DateType, "DATE"),
        (t.BinaryType, "BLOB"),
    ]
    for cls, name in simple:
        if isinstance(spark_type, cls):
            return name
    if isinstance(spark_type, t.DecimalType):
        return f"DECIMAL({spark_type.precision},{spark_type.scale})"
    if isinstance(spark_type, t.ArrayType):
        return duck_type(spark_type.elementType) + "[]"
    if isinstance(spark_type, t.StructType):
        return "STRUCT(" + ", ".join(f"{f.name} {duck_type(f.dataType)}" for f in spark_type) + ")"
    if isinstance(spark_type, t.MapType):
        return f"MAP({duck_type(spark_type.keyType)}, {duck_type(spark_type.valueType)})"
    return str(spark_type.simpleString()).upper()


def table_exists(session: Any, name: str) -> bool:
    """Whether the catalog holds table ``name`` (``db.table`` or ``table``)."""
    try:
        return bool(session.catalog.tableExists(name))
    except Exception:  # a malformed name, or a catalog that refuses the lookup
        return False


def read_view(
    session: Any,
    view: str,
    *,
    paths: Sequence[str] = (),
    table: str | None = None,
    fmt: str = "parquet",
) -> dict[str, str]:
    """Expose Parquet ``paths`` (or Delta ``paths[0]`` with ``fmt="delta"``), or the
    catalog ``table``, as the temporary view ``view``; return its columns' types (from the
    files' footers or the catalog, not from data), in DuckDB's spelling."""
    try:
        if table is not None:
            df = session.table(table)
        elif fmt == "delta":
            df = session.read.format("delta").load(paths[0])
        else:
            df = read_parquet(session, paths)
    except Exception as exc:
        what = f"table {shorten(table)}" if table is not None else f"{shorten(paths[0])}"
        raise SourceError(
            f"Spark cannot read {what}: {shorten(first_line(exc), 300)}. " + _read_fix(str(exc))
        ) from exc
    df.createOrReplaceTempView(view)
    return table_columns(df)


def read_parquet(session: Any, paths: Sequence[str]) -> Any:
    """``session.read.parquet(*paths)``, also for files with nanosecond timestamps (what
    pandas and pyarrow write by default), which Spark refuses (``PARQUET_TYPE_ILLEGAL``):
    their columns are read as integers (``spark.sql.legacy.parquet.nanosAsLong``, set
    on the session; it changes nothing Spark could read before) and turned into
    timestamps by flooring to the microsecond, as DuckDB and the store keep them. Which
    columns those are is read from the footers, so this needs local files; others raise
    Spark's error, which the callers turn into one naming the fix (see
    :func:`_read_fix`)."""
    from pyspark.sql import functions as f
    from pyspark.sql import types as t

    nanos = nanosecond_columns(paths)
    if nanos:  # set before the read: a refused read logs Spark's stack trace
        session.conf.set(_NANOS_AS_LONG, "true")
    df = session.read.parquet(*(_hadoop_literal(p) for p in paths))
    longs = {x.name for x in df.schema.fields if isinstance(x.dataType, t.LongType)}
    for name in nanos:
        if name in longs:
            quoted = "`" + name.replace("`", "``") + "`"
            floor_us = f.expr(f"({quoted} - pmod({quoted}, 1000)) div 1000")
            df = df.withColumn(name, f.timestamp_micros(floor_us))
    return df


_NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def _hadoop_literal(path: str) -> str:
    """``path`` as Spark's (Hadoop's) file reader takes it literally: it reads a name
    holding ``{}[]*?`` as a glob (``x[1].parquet`` finds no file, ``a?.parquet`` every
    ``a`` file of one more letter), so each of those characters, and the backslash, is
    escaped with a backslash.

    >>> print(_hadoop_literal("/data/x[1]{2}?.parquet"))
    /data/x\\[1\\]\\{2\\}\\?.parquet
    """
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", path)


def _read_fix(error: str) -> str:
    """What to do about a source Spark could not read."""
    if "NANOS" in error:
        return (
            "Its timestamps are in nanoseconds, which driftline converts only in local "
            "files: write them in microseconds (pyarrow: coerce_timestamps='us'; pandas: "
            "to_parquet(..., coerce_timestamps='us', allow_truncated_timestamps=True)), "
            "or read the files from a local path."
        )
    if "PARQUET_TYPE_ILLEGAL" in error or "PARQUET_TYPE_NOT_SUPPORTED" in error:
        return (
            "A column is of a Parquet type Spark does not read (e.g. FLOAT16): write it as "
            "a type Spark reads (float16 as float32), or check it on DuckDB (leave out "
            "--engine spark)."
        )
    return "Check the path or table name and that the session can reach it."


def nanosecond_columns(paths: Sequence[str]) -> list[str]:
    """The top-level columns stored as nanosecond timestamps in any of the local Parquet
    files ``paths`` (empty when a path is not a local file)."""
    import pyarrow.parquet as pq

    found: dict[str, None] = {}
    for path in paths:
        if not Path(path).is_file():
            return []
        for field in pq.read_schema(path):
            if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
                found[field.name] = None
    return list(found)


#: The column :func:`read_files_view` adds: the file each row was read from.
FILE_COLUMN = "__dl_file"


def read_files_view(session: Any, view: str, paths: Sequence[str]) -> dict[str, str] | None:
    """Expose the Parquet files ``paths`` (of one schema) as ONE temporary view ``view``
    with the column :data:`FILE_COLUMN` naming each row's file as Spark names it; return
    each path's name there, or None when Spark's names cannot be matched to the paths
    (then read the files one by one). One view instead of a union of one per file keeps
    the plan of every summary query small."""
    from urllib.parse import unquote, urlparse

    from pyspark.sql import functions as f

    try:
        df = read_parquet(session, paths)
        files = list(df.inputFiles())
    except Exception:  # read one by one, where each failure names its file
        return None
    named = {unquote(urlparse(u).path): u for u in files}
    if set(named) != set(paths):
        return None
    df.withColumn(FILE_COLUMN, f.input_file_name()).createOrReplaceTempView(view)
    return {p: named[p] for p in paths}


def table_columns(df: Any) -> dict[str, str]:
    """A Spark DataFrame's columns and their types in DuckDB's spelling."""
    return {f.name: duck_type(f.dataType) for f in df.schema.fields}


# -- writing -------------------------------------------------------------------------------
def write_table(
    session: Any, name: str, rows: pa.Table, *, key: str, replace: Sequence[Any] | None
) -> None:
    """Write ``rows`` to the Spark table ``name``: the rows it holds whose ``key``
    column is one of ``replace`` are replaced by ``rows``, the others kept
    (``replace=None``: every row is replaced). A new table is created. The table is
    small (results, alerts, incidents), so it is read into Arrow, merged and written back
    whole (a Parquet table cannot delete rows)."""
    merged = rows
    if replace is not None and table_exists(session, name):
        existing = session.table(name)
        kept = existing.filter(~existing[key].isin(list(replace))) if replace else existing
        kept_rows = _to_arrow(kept).select(rows.schema.names).cast(rows.schema)
        merged = pa.concat_tables([kept_rows, rows])
    _frame(session, merged).write.mode("overwrite").saveAsTable(name)


def arrow_view(session: Any, name: str, table: pa.Table) -> str:
    """Expose the Arrow ``table`` (small: e.g. the stored labels) as the temporary view
    ``name`` of ``session``; return the name."""
    _frame(session, table).createOrReplaceTempView(name)
    return name


def _frame(session: Any, table: pa.Table) -> Any:
    """A Spark DataFrame of ``table``, typed by its Arrow schema (a column of nulls
    keeps its type); from Arrow directly where Spark takes it (Spark >= 4)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(table.schema)
    try:
        return session.createDataFrame(table, schema=schema)
    except TypeError:  # Spark 3.5 takes pandas, converted through Arrow
        return session.createDataFrame(table.to_pandas(), schema=schema)


def _to_arrow(df: Any) -> pa.Table:
    if hasattr(df, "toArrow"):
        table: pa.Table = df.toArrow()
        return table
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)
