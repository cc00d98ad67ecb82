"""Summary queries compiled once per summary fingerprint and kept in the store.

Building a check's summary expressions with Ibis and compiling them to SQL cost a
next-day check about a third of a CPU second, every day the same SQL but for the
window's bounds. An incremental check on DuckDB (:class:`Queries` with a store) keeps
each query's SQL as a *template* in the store (table ``compiled_queries``, see
:meth:`driftline.store.Store.compiled_queries`): the SQL Ibis compiles with stand-in
timestamps for what varies from run to run, the bounds of the windows summarised and
the era bounds (:func:`driftline.checks._era`), each stand-in replaced by a marker. A
later run renders the template with its own timestamps, written exactly as Ibis writes
a timestamp literal, and runs it, converting the result as Ibis' own ``to_pyarrow``
does: no expression is built and nothing compiled.

What keeps a template right:

- **Its key** (:meth:`Queries.key`) holds the summary fingerprint (what the queries are
  built from: spec columns, bin edges, categories, ...), the order the builders read
  them in (:func:`inputs_digest`), the query's name and shape (its
  cohort, how many contiguous window ranges, which era bounds are set), the versions of
  Ibis, sqlglot and DuckDB, and a digest of driftline's own source. A template is used
  only under the key it was made under, and a new fingerprint deletes the templates of
  every other (:meth:`~driftline.store.Store.save_compiled_query`): they are invalid
  exactly when the summaries stored under them are.
- **It is checked when made:** Ibis compiles the query twice, with the stand-ins and
  with the run's own values; the template rendered with the run's values must equal the
  second compile character for character, or the query is marked as not kept (and is
  compiled on every run, as before).
- **Its lookups are in the store:** the known categories and vocabularies a query
  hash-joins are Ibis memtables, named anew by each process. A query kept reads them
  from store tables instead, each named by its content (``compiled_lookup_<digest>``,
  :meth:`~driftline.store.Store.save_lookup`), and dropped with the last template that
  reads it. Queries over Python UDFs are never kept.

Templates are made from the second check under a summary fingerprint on: making one
costs a compile more than running the query, which the first check of a store (often
its only one, as in a CI gate) would pay for nothing. Windows cut by ``since`` /
``until`` and the Spark engine compile as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.expr.operations.udf import InputType

from driftline.engine import DuckDBEngine, Engine
from driftline.profile import Profile
from driftline.spec import Spec
from driftline.store import LOOKUP_PREFIX, Store

__all__ = ["Era", "Queries", "inputs_digest", "over_stored_table", "render", "timestamp_sql"]

Era = tuple[datetime | None, datetime | None] | None
#: Builds one query over the rows to summarise and the era bounds (None: no query).
Build = Callable[[ir.Table, Era], ir.Table | None]
#: Builds the rows to summarise from the window ranges ``[start, end)`` given.
Rows = Callable[[Sequence[tuple[datetime, datetime]]], ir.Table]

#: The marker of the i-th varying timestamp in a template.
_MARK = "\x00{}\x00"


def timestamp_sql(value: datetime) -> str:
    """A naive timestamp as DuckDB SQL, written as Ibis 12 writes a timestamp literal."""
    seconds = value.second + value.microsecond / 1e6
    return (
        f"MAKE_TIMESTAMP({value.year}, {value.month}, {value.day}, {value.hour}, "
        f"{value.minute}, {seconds!r})"
    )


def render(template: str, values: Sequence[datetime]) -> str:
    """The SQL of ``template`` with its i-th marker replaced by ``values[i]``."""
    for i, value in enumerate(values):
        template = template.replace(_MARK.format(i), timestamp_sql(value))
    return template


def _stand_ins(ranges: int, era: Era) -> tuple[list[tuple[datetime, datetime]], Era]:
    """Timestamps no run uses, each written differently: one pair per window range, and
    the era bounds that are set."""
    spans = [(datetime(1101 + 2 * i, 1, 1), datetime(1102 + 2 * i, 1, 1)) for i in range(ranges)]
    if era is None:
        return spans, None
    early = None if era[0] is None else datetime(1001, 1, 1)
    late = None if era[1] is None else datetime(1002, 1, 1)
    return spans, (early, late)


def _flat(spans: Sequence[tuple[datetime, datetime]], era: Era) -> list[datetime]:
    out = [t for span in spans for t in span]
    if era is not None:
        out.extend(t for t in era if t is not None)
    return out


@cache
def _code_digest() -> str:
    """Versions of the query builders and compilers: driftline's source, Ibis, sqlglot
    and DuckDB."""
    import duckdb
    import sqlglot

    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    for version in (ibis.__version__, getattr(sqlglot, "__version__", ""), duckdb.__version__):
        h.update(version.encode())
    return h.hexdigest()[:32]


def inputs_digest(spec: Spec, profile: Profile) -> str:
    """What the query builders read, in the order they read it. The summary fingerprint
    holds the spec and profile as sorted mappings and sets, but a query numbers its
    columns in the order of its inputs (the k-th histogram counts the k-th column with
    edges, the i-th feature's aggregates follow the spec's order), so a template is kept
    per order too: a reordered spec or a profile loaded in another order makes new ones.
    The spec's ``checks`` and ``drift`` sections (floors, methods, bounds) are left out:
    they decide, they build no query."""
    shape = {k: v for k, v in spec.model_dump(mode="json").items() if k not in ("checks", "drift")}
    data = [
        shape,
        list(profile.bin_edges_),
        list(profile.columns_),
        {c: list(v) for c, v in profile.categories_.items()},
        list(profile.text_),
        profile.scores_,
        getattr(profile, "thresholds_", None),
    ]
    text = json.dumps(data, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def over_stored_table(table: ir.Table, name: str = "predictions") -> bool:
    """Whether ``table`` is the store's own table ``name`` (on DuckDB: a Spark catalog
    table of that name is not). The predictions table is the only one a template may be
    kept for: a source read in place (:mod:`driftline.sources`) is a union of its files,
    which grows with every new file, and a template would keep reading the files it was
    made over."""
    op = table.op()
    return (
        isinstance(op, ops.DatabaseTable)
        and op.name == name
        and getattr(op.source, "name", None) == "duckdb"
    )


def _kept(expr: ir.Table) -> bool:
    """Whether a query may be kept as a template: not over Python UDFs, which a later
    process would have to register again (a builtin, such as DuckDB's ``histogram``, is
    only a name)."""
    udfs = expr.op().find((ops.ScalarUDF, ops.AggUDF))
    return all(u.__input_type__ == InputType.BUILTIN for u in udfs)


def _stored_lookups(expr: ir.Table, engine: DuckDBEngine, store: Store) -> ir.Table:
    """``expr`` with each in-memory table replaced by a store table of the same rows,
    named by its content (see the module docstring)."""
    found = expr.op().find(ops.InMemoryTable)
    if not found:
        return expr
    swap: dict[ops.Node, ops.Node] = {}
    for mem in found:
        data = mem.data.to_pyarrow(mem.schema)
        h = hashlib.sha256(str(data.schema).encode())
        h.update(json.dumps(data.to_pylist(), default=str, separators=(",", ":")).encode())
        name = f"{LOOKUP_PREFIX}{h.hexdigest()[:32]}"
        store.save_lookup(name, data)
        swap[mem] = engine.table(name).op()
    replaced: ir.Table = expr.op().replace(swap).to_expr()
    return replaced


class Queries:
    """Runs one check's summary queries over ``rows`` (the rows to summarise) and
    ``era``; with ``store`` (DuckDB only), through templates kept in the store, see the
    module docstring. ``rows_in(spans)`` builds the rows of other window ranges (the
    stand-ins), ``spans`` are this run's."""

    def __init__(
        self,
        engine: Engine,
        rows: ir.Table,
        era: Era,
        *,
        store: Store | None = None,
        fingerprint: str = "",
        rows_in: Rows | None = None,
        spans: Sequence[tuple[datetime, datetime]] = (),
        inputs: str = "",
    ) -> None:
        self.engine, self.rows, self.era = engine, rows, era
        self.store = store if isinstance(engine, DuckDBEngine) and rows_in else None
        self.fingerprint, self.rows_in, self.spans = fingerprint, rows_in, list(spans)
        self.inputs = inputs
        self._templates: dict[str, tuple[str | None, str]] | None = None
        #: how many queries ran from a kept template, and how many were compiled
        self.bound = self.compiled = 0

    def key(self, name: str) -> str:
        era = self.era
        shape = {
            "fingerprint": self.fingerprint,
            "inputs": self.inputs,
            "name": name,
            "ranges": len(self.spans),
            "era": None if era is None else [era[0] is not None, era[1] is not None],
            "code": _code_digest(),
        }
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:32]

    def run(self, name: str, build: Build, schema: pa.Schema | None = None) -> pa.Table | None:
        """The result of the query ``build`` makes (None when it makes none), named
        ``name`` (unique within a run: the summary and its cohort column)."""
        if self.store is None:
            expr = build(self.rows, self.era)
            if expr is None:
                return None
            self.compiled += 1
            return self.engine.run(expr, schema)
        assert isinstance(self.engine, DuckDBEngine)
        if self._templates is None:
            self._templates = self.store.compiled_queries(self.fingerprint)
        key = self.key(name)
        values = _flat(self.spans, self.era)
        found = self._templates.get(key)
        if found is not None and found[0] is not None:
            self.bound += 1
            return self.engine.run_sql(render(found[0], values), _schema(found[1]), schema)
        expr = build(self.rows, self.era)
        if expr is None:
            return None
        self.compiled += 1
        if found is None:  # not tried yet under this key
            sql = self._keep(key, expr, build, values)
            if sql is not None:  # the run's own SQL, checked to be what Ibis compiled
                return self.engine.run_sql(sql, expr.schema(), schema)
        return self.engine.run(expr, schema)

    def _keep(self, key: str, expr: ir.Table, build: Build, values: list[datetime]) -> str | None:
        """Make the template of ``expr`` and store it (or store that it is not kept);
        the SQL of ``expr`` when kept."""
        assert self.store is not None
        assert self.rows_in is not None
        template = sql = None
        columns = json.dumps([[n, str(t)] for n, t in expr.schema().items()])
        if _kept(expr):
            assert isinstance(self.engine, DuckDBEngine)
            expr = _stored_lookups(expr, self.engine, self.store)
            spans, era = _stand_ins(len(self.spans), self.era)
            probe = build(self.rows_in(spans), era)
            if probe is not None and _kept(probe):
                probe = _stored_lookups(probe, self.engine, self.store)
                backend = self.engine.backend
                text = backend.compile(probe)
                for i, stand_in in enumerate(_flat(spans, era)):
                    text = text.replace(timestamp_sql(stand_in), _MARK.format(i))
                sql = backend.compile(expr)
                if render(text, values) == sql:
                    template = text
        self.store.save_compiled_query(key, self.fingerprint, template, columns)
        assert self._templates is not None
        self._templates[key] = (template, columns)
        return sql if template is not None else None


def _schema(columns: str) -> ibis.Schema:
    pairs: list[list[str]] = json.loads(columns)
    return ibis.schema([(name, ibis.dtype(kind)) for name, kind in pairs])
