"""Ingest validation: what a batch must be to be stored, and what of it is kept as data.

Pure rules over the batch being logged, which the store stages as the SQL view
``__staging`` (DuckDB reads files lazily, so a batch is validated where it lies, never
loaded whole into memory). This module holds no connection and touches no table: the
store runs its queries through :class:`Staged`, and decides what to write.

Ingest policy: a batch lacking a required role (id, timestamp, prediction, scores) or
carrying invalid scores is refused whole, with an error naming the column, the value and
the fix. A batch whose *features* differ from the spec - a column missing or new, values
of another type - is stored as it came (a missing feature as null; values that do not fit
the column's type, and extra columns, kept raw as JSON in ``_raw``), and the difference
(:class:`FeatureSelect`) is recorded per batch so checks report it as schema skew.

Scores must be finite, in [0, 1], and sum to 1 within :data:`SCORE_SUM_TOLERANCE`
(absolute), which admits float32 softmax outputs over thousands of classes.

Every column of a batch, also those the spec does not know, must have a name driftline
can take (:func:`driftline.spec.column_name_problem`), and no two names may be equal up
to case: names are checked as the user wrote them, before DuckDB renames any.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from driftline._catalog import ON_DUPLICATE, type_family, value_text_sql
from driftline.errors import ConfigError, IngestError, name_list, shorten
from driftline.spec import Spec, column_name_problem

__all__ = [
    "SCORE_SUM_TOLERANCE",
    "FeatureSelect",
    "Item",
    "Staged",
    "check_names",
    "check_on_duplicate",
    "feature_select",
    "quote",
    "timestamp_expr",
    "utc_timestamp",
    "validate_labels",
    "validate_predictions",
    "validate_reference",
]

SCORE_SUM_TOLERANCE = 1e-3

#: Runs one SQL query (with parameters) over the staged batch and returns its rows.
Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

#: One item of a SELECT list: (SQL expression, output column name). The name is quoted
#: once, where the statement is assembled; nothing is recovered by parsing SQL text.
Item = tuple[str, str]


def quote(name: str) -> str:
    """Quote an identifier for DuckDB SQL: user strings never reach SQL unquoted."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Staged:
    """The batch being logged: the view ``__staging``, its column ``types`` as DuckDB
    read them, the spec it is logged against, and ``fetch`` to query it."""

    spec: Spec
    types: dict[str, str]
    fetch: Fetch

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetch(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.first(sql, params)
        return None if row is None else row[0]

    def row_id(self) -> str:
        """SQL naming a staged row in messages: its id (a reference may have none)."""
        if self.spec.id in self.types:
            return f"CAST({quote(self.spec.id)} AS VARCHAR)"
        return "CAST('(no id column)' AS VARCHAR)"

    def first_bad(
        self, condition: str, show: str, order: str | None = None, params: Sequence[Any] = ()
    ) -> Any:
        """The first staged row (by id) where ``condition`` holds, as (id, shown value)."""
        row_id = self.row_id()
        order_by = order or row_id
        return self.first(
            f"SELECT {row_id}, {show} FROM __staging WHERE {condition} ORDER BY {order_by} LIMIT 1",
            params,
        )

    def repeated_ids(self) -> tuple[int, str]:
        """How many staged ids occur more than once, and the first five (by id) shown
        with their counts, for the message that refuses the batch."""
        rows = self.fetch(
            f"SELECT count(*) OVER (), i, n FROM (SELECT CAST({quote(self.spec.id)} AS VARCHAR) "
            "AS i, count(*) AS n FROM __staging GROUP BY 1 HAVING count(*) > 1) ORDER BY i LIMIT 5",
            (),
        )
        if not rows:
            return 0, ""
        shown = ", ".join(f"{shorten(r[1])} ({r[2]}x)" for r in rows)
        return int(rows[0][0]), shown + (" and more" if rows[0][0] > 5 else "")


@dataclass
class FeatureSelect:
    """How the cohort, feature and embedding columns are stored, and how they differed
    from the spec (kept as data: the batch's schema skew)."""

    items: list[Item]
    raw_parts: list[str]
    missing: list[str]
    extra: list[str]
    retyped: dict[str, str]


def check_on_duplicate(value: object) -> None:
    if value not in ON_DUPLICATE:
        raise ConfigError(
            f"on_duplicate {shorten(value)} is not understood; use one of "
            f"{', '.join(repr(v) for v in ON_DUPLICATE)} ('refuse' keeps a batch holding "
            "stored prediction ids out whole, 'skip' stores only its new rows)."
        )


def check_names(spec: Spec, names: list[str], types: dict[str, str], what: str) -> None:
    """Refuse a batch with a column name driftline cannot take (see
    :func:`driftline.spec.column_name_problem`), two columns of one name up to case,
    or names DuckDB read otherwise than they are. Every column counts, also those the
    spec does not know (they are kept raw). A labels batch stores only its id, label
    and labelled_at, so its other columns may carry the store's own names."""
    s = spec
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


#: The timestamp strings driftline reads, read alike by DuckDB and Spark: an ISO-8601
#: date, then optionally a time (hours 00-23) and, after its seconds, a zone: ``Z``, an
#: offset up to +-18:00, ``UTC``/``GMT`` or a region name (``Europe/Paris``). Either
#: engine reads more, each differently (DuckDB: ``epoch``, ``infinity``, ``2024/05/01``,
#: ``T24:00``, a lower-case ``utc``, offsets to +-23:59; Spark: ``2024``, ``2024-05``,
#: ``GMT+5``, a zone after minutes), so a row logged or checked on one would be in
#: another window, or none, on the other. ``{0,1}``, not ``?``: the SQL around it counts
#: ``?`` as its parameters.
TIMESTAMP_TEXT = (
    r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([T ]([01]{0,1}[0-9]|2[0-3]):[0-9]{2}(:[0-9]{2}(\.[0-9]+){0,1}"
    r"(\s*(Z|[+-](0[0-9]|1[0-8])(:{0,1}[0-9]{2}){0,1}|UTC|GMT"
    r"|[A-Za-z]+/[A-Za-z_]+(/[A-Za-z_]+){0,1})){0,1}){0,1}){0,1}\s*$"
)
#: a timestamp string without a zone or offset: read as UTC, never through a zone-aware
#: cast (DuckDB's carries a zone named on one row over to the naive rows after it)
NAIVE_TIMESTAMP = (
    r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]*){0,1}){0,1}){0,1}\s*$"
)
#: The number strings a numeric column sent as text is read from, read alike by DuckDB
#: and Spark: decimal notation with an optional exponent, or inf / infinity / nan in any
#: case. Either engine reads more, differently (DuckDB: ``1_000``; Spark, as Java:
#: ``1.5d``, ``2F``, ``0x1p3``); anything else is a missing value on both. (No ``?``:
#: the SQL around it counts ``?`` as its parameters.)
NUMBER_TEXT = (
    r"^\s*[+-]{0,1}(([0-9]+(\.[0-9]*){0,1}|\.[0-9]+)([eE][+-]{0,1}[0-9]+){0,1}"
    r"|[iI][nN][fF]([iI][nN][iI][tT][yY]){0,1}|[nN][aA][nN])\s*$"
)


def number_sql(text: str) -> str:
    """SQL reading the string expression ``text`` as a double (see :data:`NUMBER_TEXT`;
    null when it is not one)."""
    return f"CASE WHEN regexp_matches({text}, '{NUMBER_TEXT}') THEN TRY_CAST({text} AS DOUBLE) END"


#: what an unreadable timestamp string's refusal says to write instead
TIMESTAMP_FIX = (
    "use ISO-8601 such as '2024-05-01T12:00:00Z' (a date, a time with hours 00-23, and "
    "after its seconds Z, an offset, UTC or a zone name such as Europe/Paris)"
)


def utc_timestamp(text: str) -> str:
    """The SQL turning the string expression ``text`` into a stored timestamp: an
    ISO-8601 string in UTC unless it carries a zone or an offset; null if it is not one
    both engines read alike (:data:`TIMESTAMP_TEXT`) or does not parse."""
    return (
        f"CASE WHEN NOT regexp_matches({text}, '{TIMESTAMP_TEXT}') THEN NULL "
        f"WHEN regexp_matches({text}, '{NAIVE_TIMESTAMP}') THEN TRY_CAST({text} AS TIMESTAMP) "
        f"ELSE CAST(timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) AS TIMESTAMP) END"
    )


def timestamp_expr(col: str, duck_type: str) -> str:
    fam = type_family(duck_type)
    c = quote(col)
    if fam == "temporal":
        return (
            f"CAST({c} AS TIMESTAMP)"
            if "TIME ZONE" not in duck_type.upper()
            else (f"CAST(timezone('UTC', {c}) AS TIMESTAMP)")
        )
    if fam == "string":
        return utc_timestamp(c)
    raise IngestError(
        f"column {col!r} (timestamp) is {duck_type}; expected a timestamp or an ISO-8601 "
        f"string such as '2024-05-01T12:00:00Z'. Convert epoch numbers to timestamps "
        f"(e.g. pandas.to_datetime(df[{col!r}], unit='s')) before logging."
    )


class _Rules:
    """The rules a batch is checked against, in the order they are checked, run as ONE
    aggregate over the staged batch: each rule on rows contributes a count (rows breaking
    it), and only a broken rule queries the batch again, for the first breaking row its
    message names. A refusal known from the column types alone ends the list: rules after
    it could not even be written as SQL (a timestamp column of no time type), and are
    never reached.

    Each rule's count and its message's query share one condition, so a count above zero
    always finds the row the message shows, and the first rule broken is the one the
    checks one by one would have refused the batch for: the same message, on every batch.
    """

    def __init__(self, staged: Staged) -> None:
        self.staged = staged
        self._counts: list[tuple[str, Sequence[Any], Callable[[int], IngestError]]] = []
        self._refused: IngestError | None = None

    @property
    def open(self) -> bool:
        """Whether later rules can still be reached (no refusal from types alone yet)."""
        return self._refused is None

    def refuse(self, error: IngestError) -> None:
        """A refusal known from the column types: reached if every rule before it holds."""
        if self._refused is None:
            self._refused = error

    def count(
        self, aggregate: str, refuse: Callable[[int], IngestError], params: Sequence[Any] = ()
    ) -> None:
        """A rule on rows: ``aggregate`` counts the rows breaking it (``params`` bound in
        it); ``refuse(count)`` builds the error when it is above zero."""
        if self._refused is None:
            self._counts.append((aggregate, params, refuse))

    def rows_where(
        self,
        condition: str,
        refuse: Callable[[Any], IngestError],
        show: str,
        params: Sequence[Any] = (),
    ) -> None:
        """A rule broken by the rows where ``condition`` holds; ``refuse`` gets the first
        of them (by id) as (id, ``show``)."""

        def first(_: int) -> IngestError:
            return refuse(self.staged.first_bad(condition, show, params=params))

        self.count(f"count_if({condition})", first, params)

    def check(self) -> None:
        """Raise the error of the first broken rule, if any."""
        if self._counts:
            sql = ", ".join(aggregate for aggregate, _, _ in self._counts)
            params = [p for _, ps, _ in self._counts for p in ps]
            found = self.staged.first(f"SELECT {sql} FROM __staging", params)
            assert found is not None  # an aggregate without GROUP BY gives one row
            for n, (_, _, refuse) in zip(found, self._counts, strict=True):
                if n:
                    raise refuse(int(n))
        if self._refused is not None:
            raise self._refused


def validate_predictions(staged: Staged, rows: int) -> str:
    """Refuse the batch (raise) if a required role is missing or invalid; return the SQL
    of its timestamp in UTC. One scan of the batch checks every rule (:class:`_Rules`)."""
    s, types = staged.spec, staged.types
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
    rules = _Rules(staged)
    rules.count(
        f"count_if({idc} IS NULL)",
        lambda n: IngestError(
            f"column {s.id!r} (id) has {n} null value(s); every prediction needs an "
            "id: fill them or drop those rows. Nothing was stored."
        ),
    )
    rules.count(
        f"count(*) - count(DISTINCT CAST({idc} AS VARCHAR))",
        lambda _: IngestError(
            f"column {s.id!r} (id) has duplicate values in one batch: "
            f"{staged.repeated_ids()[1]}. Each prediction needs a unique id; de-duplicate "
            "the batch. Nothing was stored."
        ),
    )
    tsc = quote(s.timestamp)
    ts_expr = ""
    try:
        ts_expr = timestamp_expr(s.timestamp, types[s.timestamp])
    except IngestError as exc:
        rules.refuse(exc)
    rules.rows_where(
        f"{tsc} IS NULL",
        lambda bad: IngestError(
            f"column {s.timestamp!r} (timestamp) is null for id {bad[0]!r}; every "
            "prediction needs a timestamp: fill it or drop the row. Nothing was stored."
        ),
        "NULL",
    )
    rules.rows_where(
        f"({ts_expr}) IS NULL",
        lambda bad: IngestError(
            f"column {s.timestamp!r} (timestamp) has unparsable value {bad[1]!r} (id "
            f"{bad[0]!r}); {TIMESTAMP_FIX}. Nothing was stored."
        ),
        f"CAST({tsc} AS VARCHAR)",
    )
    _prediction_rules(rules)
    _score_rules(rules)
    _embedding_rules(rules)
    rules.check()
    return ts_expr


def _prediction_rules(rules: _Rules) -> None:
    s, types = rules.staged.spec, rules.staged.types
    pc = quote(s.prediction)
    if type_family(types[s.prediction]) not in ("numeric", "string", "boolean"):
        rules.refuse(
            IngestError(
                f"column {s.prediction!r} (prediction) is {types[s.prediction]}; expected "
                f"the predicted class, one of {name_list(s.classes)}. Nothing was stored."
            )
        )
        return
    rules.rows_where(
        f"{pc} IS NULL OR NOT list_contains(?, CAST({pc} AS VARCHAR))",
        lambda bad: IngestError(
            f"column {s.prediction!r} (prediction) has value {bad[1]!r} (id {bad[0]!r}), "
            f"which is not a class of the spec ({name_list(s.classes)}). Log the predicted "
            "class label, or add the class to scores in the spec. Nothing was stored."
        ),
        f"CAST({pc} AS VARCHAR)",
        params=[list(s.classes)],
    )


def _invalid_score(col: str, bad: Any) -> IngestError:
    return IngestError(
        f"column {col!r} (scores) has invalid value {bad[1]!r} (id {bad[0]!r}); scores "
        "must be finite probabilities in [0, 1] (apply softmax to logits). Nothing was stored."
    )


def _score_rules(rules: _Rules) -> None:
    s, types = rules.staged.spec, rules.staged.types
    k = len(s.classes)
    if s.scores.layout != "list":
        for col in s.score_columns:
            if type_family(types[col]) != "numeric":
                rules.refuse(
                    IngestError(
                        f"column {col!r} (scores) is {types[col]}; scores must be numbers "
                        "in [0, 1]. Cast the column. Nothing was stored."
                    )
                )
                return
        for col in s.score_columns:
            c = quote(col)
            rules.rows_where(
                f"{c} IS NULL OR NOT isfinite(CAST({c} AS DOUBLE)) OR {c} < 0 OR {c} > 1",
                functools.partial(_invalid_score, col),
                f"coalesce(CAST({c} AS VARCHAR), 'null (NaN or missing)')",
            )
        if s.scores.layout == "binary":  # one probability: nothing to sum
            return
        total = " + ".join(f"CAST({quote(c)} AS DOUBLE)" for c in s.score_columns)
    else:
        col = s.score_columns[0]
        c = quote(col)
        element = types[col].rsplit("[", 1)[0]
        if type_family(types[col]) != "list" or type_family(element) != "numeric":
            rules.refuse(
                IngestError(
                    f"column {col!r} (scores) is {types[col]}; expected a list of {k} "
                    "probabilities per row. Nothing was stored."
                )
            )
            return
        rules.rows_where(
            f"{c} IS NULL OR len({c}) != {k}",
            lambda bad: IngestError(
                f"column {col!r} (scores) has value {bad[1]!r} (id {bad[0]!r}); expected "
                f"{k} probabilities, one per class {name_list(s.classes)}. Nothing was "
                "stored."
            ),
            f"coalesce(CAST({c} AS VARCHAR), 'null')",
        )
        fc = f"CAST({c} AS DOUBLE[])"
        rules.rows_where(
            f"NOT isfinite(list_sum({fc})) OR list_min({fc}) < 0 OR list_max({fc}) > 1 "
            f"OR list_count({fc}) != {k}",
            lambda bad: IngestError(
                f"column {col!r} (scores) has invalid value {bad[1]!r} (id {bad[0]!r}); "
                "scores must be finite probabilities in [0, 1]. Nothing was stored."
            ),
            f"CAST({c} AS VARCHAR)",
        )
        total = f"list_sum({fc})"
    rules.rows_where(
        f"abs(({total}) - 1) > {SCORE_SUM_TOLERANCE}",
        lambda bad: IngestError(
            f"scores ({name_list(s.score_columns)}) sum to {bad[1]} for id {bad[0]!r}; "
            f"they must sum to 1 within {SCORE_SUM_TOLERANCE} (apply softmax, or log the "
            "probabilities of every class). Nothing was stored."
        ),
        f"CAST(({total}) AS VARCHAR)",
    )


def _embedding_rules(rules: _Rules) -> None:
    """The embedding is the model's own output, as the scores are: a batch whose vectors
    are not lists of numbers, differ in length, or hold NaN, infinite or null elements is
    refused whole (a null embedding, the whole vector missing, is stored). A batch whose
    vectors differ in length from the stored ones is stored; the check leaves those
    vectors out and says how many (see ``checks._embedding_checks``)."""
    staged = rules.staged
    col = staged.spec.embedding
    if not col or col not in staged.types:
        return
    c, typ = quote(col), staged.types[col]
    if type_family(typ) != "list" or type_family(typ.rsplit("[", 1)[0]) != "numeric":
        # a column of nulls only (no vector in the batch) reads as some other type
        rules.count(
            f"count({c})",
            lambda _: IngestError(
                f"column {col!r} (embedding) is {typ}; expected a list of floats per row "
                "(a DOUBLE[] column; in pandas, a list or array per row). Cast it, or remove "
                "`embedding` from the spec. Nothing was stored."
            ),
        )
        return

    def varying(_: int) -> IngestError:
        common = staged.scalar(f"SELECT mode(len({c})) FROM __staging WHERE {c} IS NOT NULL")
        bad = staged.first_bad(f"{c} IS NOT NULL AND len({c}) != ?", f"len({c})", params=[common])
        return IngestError(
            f"column {col!r} (embedding) holds vectors of different lengths: id {bad[0]!r} has "
            f"{bad[1]} values where most rows have {common}. Every embedding must have the "
            "model's one size: log the same layer's full output for every row. Nothing was "
            "stored."
        )

    rules.count(f"CAST(count(DISTINCT len({c})) > 1 AS INTEGER)", varying)
    rules.rows_where(
        f"{c} IS NOT NULL AND (len({c}) = 0 OR list_count({c}) != len({c}) OR "
        f"NOT isfinite(list_sum(CAST({c} AS DOUBLE[]))))",
        lambda bad: IngestError(
            f"column {col!r} (embedding) has value {shorten(bad[1])} (id {bad[0]!r}), which is "
            "empty or holds NaN, infinite or null elements; embeddings must be lists of "
            "finite floats: repair or drop those rows (a row without an embedding may hold "
            "null). Nothing was stored."
        ),
        f"CAST({c} AS VARCHAR)",
    )


# -- feature columns, stored as they came ---------------------------------------------
def feature_select(spec: Spec, types: dict[str, str]) -> FeatureSelect:
    """SQL expressions for cohort/feature columns, plus what differed from the spec."""
    s = spec
    kinds = s.feature_kinds
    items: list[Item] = []
    raw_parts: list[str] = []
    missing: list[str] = []
    retyped: dict[str, str] = {}
    for col in [c for c in s.cohorts if c not in kinds]:
        if col in types:
            items.append((value_text_sql(quote(col), types[col]), col))
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
                number = number_sql(q) if fam == "string" else f"TRY_CAST({q} AS DOUBLE)"
                items.append((number, col))
                raw_parts.append(f"{_json_key(col)}: CAST({q} AS VARCHAR)")
        else:
            if fam not in ("string", "boolean") or (kind == "text" and fam != "string"):
                retyped[col] = types[col]
            text = (
                value_text_sql(q, types[col]) if kind == "categorical" else f"CAST({q} AS VARCHAR)"
            )
            items.append((text, col))
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
    return FeatureSelect(items, raw_parts, missing, extra, retyped)


def validate_labels(staged: Staged, rows: int) -> str:
    """Refuse a labels batch (raise) unless it holds one known class per id; return the
    SQL of its ``labelled_at`` (a parameter, the time of logging, when it has none). One
    scan of the batch checks every rule (:class:`_Rules`)."""
    s, types = staged.spec, staged.types
    label_col = s.label or "label"
    for col in (s.id, label_col):
        if col not in types:
            unnamed = (
                " The spec names no label column (`label:`), so a labels batch's is "
                "'label'; set `label:` to the column the reference and the labels hold the "
                "true class in (then refit: the reference's labels are the holdout "
                "performance is judged against)."
                if col == label_col and s.label is None
                else ""
            )
            raise IngestError(
                f"labels batch is missing column {col!r}; labels need {s.id!r} and "
                f"{label_col!r} (optionally 'labelled_at'); columns present: "
                f"{name_list(types)}.{unnamed} Nothing was stored."
            )
    if rows == 0:
        raise IngestError(
            "the labels batch has 0 rows; log at least one label. Nothing was stored."
        )
    idc, lc = quote(s.id), quote(label_col)
    rules = _Rules(staged)
    rules.count(
        f"count_if({idc} IS NULL)",
        lambda n: IngestError(
            f"column {s.id!r} (id) of the labels batch has {n} null value(s); a "
            "label needs the id of its prediction: fill them or drop those rows. "
            "Nothing was stored."
        ),
    )

    def repeated(_: int) -> IngestError:
        n, shown = staged.repeated_ids()
        return IngestError(
            f"column {s.id!r} (id) of the labels batch gives {n:,} id(s) more "
            f"than one label: {shown}. A batch "
            "holds one label per id: keep one (a correction goes in a later batch, "
            "with a later labelled_at; the latest label per id wins). Nothing was "
            "stored."
        )

    rules.count(f"count(*) - count(DISTINCT CAST({idc} AS VARCHAR))", repeated)
    rules.rows_where(
        f"{lc} IS NULL",
        lambda bad: IngestError(
            f"column {label_col!r} (label) is null for id {bad[0]!r}; drop unlabelled "
            "rows before logging labels. Nothing was stored."
        ),
        "NULL",
    )

    def unknown(_: int) -> IngestError:
        bad = staged.first(
            f"SELECT CAST({lc} AS VARCHAR) FROM __staging "
            f"WHERE NOT list_contains(?, CAST({lc} AS VARCHAR)) LIMIT 1",
            [list(s.classes)],
        )
        value = None if bad is None else bad[0]
        return IngestError(
            f"column {label_col!r} (label) has value {shorten(value)}, which is not a class "
            f"of the spec ({name_list(s.classes)}). Map it to the model's class names (a "
            "typo, or another spelling such as 1 for 'yes'), or, if the model does predict "
            "it, add it to the spec's scores. Nothing was stored."
        )

    rules.count(
        f"count_if(NOT list_contains(?, CAST({lc} AS VARCHAR)))", unknown, [list(s.classes)]
    )
    at = "CAST(? AS TIMESTAMP)"
    if "labelled_at" in types:
        try:
            at = timestamp_expr("labelled_at", types["labelled_at"])
        except IngestError as exc:
            rules.refuse(exc)
        rules.rows_where(
            f"({at}) IS NULL",
            lambda bad: IngestError(
                f"column 'labelled_at' has null or unparsable value {bad[1]!r} (id "
                f"{bad[0]!r}); {TIMESTAMP_FIX}, or drop the column to use the time of "
                "logging. Nothing was stored."
            ),
            "CAST(labelled_at AS VARCHAR)",
        )
    rules.check()
    return at


def validate_reference(staged: Staged, rows: int, name: str) -> None:
    """Refuse a reference table (raise) without rows, predictions or scores, or whose
    predictions or scores break the rules for predictions (the profile's class mixes and
    confidence come from them). One scan checks them all (:class:`_Rules`)."""
    if rows == 0:
        raise IngestError(f"reference {name!r} has no rows; nothing was stored.")
    spec = staged.spec
    missing = [c for c in [*spec.score_columns, spec.prediction] if c not in staged.types]
    if missing:
        raise IngestError(
            f"reference {name!r} lacks column {missing[0]!r}; the reference is the "
            "labelled holdout scored by the model, with the same columns as "
            "predictions. Nothing was stored."
        )
    rules = _Rules(staged)
    _prediction_rules(rules)
    _score_rules(rules)
    _embedding_rules(rules)
    rules.check()


def _json_key(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"
