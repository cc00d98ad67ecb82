"""Backends: run an Ibis expression, return Arrow with the schema we asked for."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

__all__ = ["DuckDBEngine", "Engine", "SparkEngine"]

#: The package of Ibis' SQL compilers, one submodule per dialect (see :func:`lazy_package`).
IBIS_COMPILERS = "ibis.backends.sql.compilers"
_LAZY = threading.Lock()


def lazy_package(name: str) -> bool:
    """Register the package ``name``, not imported yet, as a module that imports each of
    its names from its own submodule when first asked for (PEP 562), instead of running
    its ``__init__``; whether it did.

    For Ibis' SQL compilers (:data:`IBIS_COMPILERS`): loading any Ibis backend imports
    that package, whose ``__init__`` imports the compiler of each of the twenty dialects
    Ibis speaks, about 0.1 s of every driftline command, which needs DuckDB's (and with
    the Spark engine PySpark's). Which name lives in which submodule is read from the
    ``__init__``'s own ``from name.sub import X`` lines; if it holds anything but those,
    ``__all__``, a docstring and ``from __future__``, the package is left to import as
    it is. A submodule still imports as ever (``import name.sub``, ``name.sub``), and
    ``from name import X`` imports ``X``'s submodule only."""
    with _LAZY:
        if name in sys.modules:
            return False
        parent, _, leaf = name.rpartition(".")
        if parent:
            importlib.import_module(parent)
            if name in sys.modules:  # the parent imported it
                return False
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or spec.submodule_search_locations is None:
            return False
        where = _names_by_submodule(Path(spec.origin).read_text(encoding="utf-8"), name)
        if where is None:  # more than imports: run it as it is
            return False
        module = importlib.util.module_from_spec(spec)

        def attribute(attr: str) -> Any:
            if attr in where:
                return getattr(importlib.import_module(where[attr]), attr)
            if attr.startswith("__"):
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")
            try:  # a submodule not imported yet, e.g. ``sc.duckdb``
                return importlib.import_module(f"{name}.{attr}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{name}.{attr}":
                    raise
                raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

        module.__dict__.update(__getattr__=attribute, __all__=sorted(where))
        sys.modules[name] = module
        if parent:
            setattr(sys.modules[parent], leaf, module)
        return True


def _names_by_submodule(source: str, name: str) -> dict[str, str] | None:
    """Each name the package ``name``'s ``__init__`` (``source``) imports from one of
    its submodules, and that submodule; None if it does anything else (beyond a
    docstring, ``from __future__`` and ``__all__``)."""
    where: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(name + "."):
            module = str(node.module)
            where.update({a.asname or a.name: module for a in node.names})
            continue
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        listed = isinstance(node, ast.Assign) and [
            getattr(t, "id", None) for t in node.targets
        ] == ["__all__"]
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (future or listed or docstring):
            return None
    return where


def _ibis_backend(name: str) -> Any:
    """Ibis' backend ``name`` (``duckdb``, ``pyspark``), loaded without every other
    dialect's compiler (:func:`lazy_package`)."""
    lazy_package(IBIS_COMPILERS)
    return getattr(ibis, name)


class Engine:
    """Runs Ibis expressions on one backend and normalises the Arrow result."""

    name = "engine"
    #: whether summaries may use the engine's own ``histogram(x, boundaries)`` aggregate
    #: (see :func:`driftline.engine.summaries.window_summary`)
    native_histograms = False
    #: whether numeric features are counted by a kernel over streamed batches
    #: (see :mod:`driftline.engine.numeric`) rather than in the summary query
    numeric_kernel = False

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def table(self, name: str) -> ibis.Table:
        return self.backend.table(name)

    def _fetch(self, expr: ibis.Expr) -> pa.Table:
        table: pa.Table = self.backend.to_pyarrow(expr)
        return table

    def _pin_utc(self) -> None:
        """Put the connection back in UTC before a query (see :meth:`run`)."""

    def run(self, expr: ibis.Table, schema: pa.Schema | None = None) -> pa.Table:
        """Execute and, given ``schema``, cast to it so every engine returns the same types;
        without one, normalise what engines spell differently (see :func:`_normal`).

        Every query runs with the connection's time zone set to UTC: Ibis sets it when it
        wraps a connection, but a zone set afterwards (by the user's own code on the same
        Spark session, say) would leak into the window keys and the comparisons with
        timestamp bounds - DuckDB reads a TIMESTAMPTZ's epoch through a cast to the
        connection's wall clock, Spark a TIMESTAMP_NTZ's and every timestamp literal in the
        session's zone (tests/engine/test_parity_edges.py)."""
        self._pin_utc()
        return self._shaped(self._fetch(expr), schema)

    def _shaped(self, table: pa.Table, schema: pa.Schema | None) -> pa.Table:
        if schema is None:
            normal = pa.schema([pa.field(f.name, _normal(f.type)) for f in table.schema])
            return table.cast(normal)
        return table.select(schema.names).cast(schema)


def _normal(t: pa.DataType) -> pa.DataType:
    """One spelling of a result type, whatever the engine: every field nullable (Spark
    marks group keys, count() and list elements NOT NULL, DuckDB does not), timestamps
    naive UTC (Spark's carry tz=UTC), list items named ``item`` (DuckDB also uses ``l``).
    """
    if pa.types.is_timestamp(t):
        return pa.timestamp(t.unit)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(_normal(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _normal(f.type)) for f in t])
    return t


class DuckDBEngine(Engine):
    """The default: the embedded DuckDB file the store writes."""

    name = "duckdb"
    native_histograms = True
    numeric_kernel = True

    def _pin_utc(self) -> None:
        self.backend.con.execute("SET TimeZone = 'UTC'")

    def batches(self, expr: ibis.Table, rows: int) -> pa.RecordBatchReader:
        """Stream the result as Arrow record batches of about ``rows`` rows (in UTC, as
        :meth:`Engine.run`)."""
        self._pin_utc()
        reader: pa.RecordBatchReader = self.backend.to_pyarrow_batches(expr, chunk_size=rows)
        return reader

    def run_sql(self, sql: str, columns: ibis.Schema, schema: pa.Schema | None = None) -> pa.Table:
        """Run SQL Ibis compiled from an expression of ``columns`` earlier (see
        :mod:`driftline.checks._compiled`): fetched and converted as Ibis' ``to_pyarrow``
        does, then as :meth:`run`."""
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        self._pin_utc()
        table = self.backend.con.sql(sql).to_arrow_table()
        return self._shaped(DuckDBPyArrowData.convert_table(table, columns), schema)

    @classmethod
    def from_connection(cls, con: Any) -> DuckDBEngine:
        return cls(_ibis_backend("duckdb").from_connection(con))


class SparkEngine(Engine):
    """A Spark session (``pip install 'driftline[spark]'``); tables are Spark tables/views."""

    name = "spark"

    def __init__(self, session: Any) -> None:
        try:
            import pyspark  # noqa: F401
        except ImportError as exc:
            from driftline.errors import missing_extra

            raise missing_extra("the Spark engine", "pyspark", "spark") from exc
        self.session = session
        super().__init__(_ibis_backend("pyspark").connect(session))

    def _pin_utc(self) -> None:
        conf = self.session.conf
        if conf.get("spark.sql.session.timeZone") != "UTC":
            conf.set("spark.sql.session.timeZone", "UTC")

    def _fetch(self, expr: ibis.Expr) -> pa.Table:
        # what Ibis' own execute does first: register memtables (e.g. a vocabulary) as
        # temp views, else the compiled SQL names a view Spark has never seen
        self.backend._run_pre_execute_hooks(expr)
        df = self.session.sql(self.backend.compile(expr))
        if hasattr(df, "toArrow"):  # Spark >= 4: no pandas round trip
            table: pa.Table = df.toArrow()
            return table
        return pa.Table.from_pandas(df.toPandas(), preserve_index=False)
