"""Capped, reproducible samples of the embedding column, drawn in the engine.

A check never loads the table: per window x cohort value x class it takes at most ``cap``
rows, those whose ``md5('<seed>:' || id)`` sorts first (``row_number() over (partition
by window, cohort value, class order by that hash)``). md5 of a string is the same on
DuckDB and Spark, so both engines draw the same rows; the same seed and id draw the same
row in every run, and a window gaining rows keeps the sampled rows that still rank
within the cap. The ranking runs over the keys only; the vectors of the drawn rows are
fetched by a join on the id, so the sort never carries the vectors.

A table without an id column (a reference may have none) is ranked by the hash of the
vector's text instead, in one query.
"""

from __future__ import annotations

from collections.abc import Collection

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from driftline._catalog import INTERNAL_PREFIX, OVERALL
from driftline.engine.summaries import cohort_text, window_key
from driftline.spec import Spec, Window

__all__ = ["SAMPLE_SCHEMA", "embedding_sample", "overall_of"]

#: The one shape a sample crosses the engine boundary in, on every engine.
SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("window", pa.int64()),
        pa.field("cohort_value", pa.string()),
        pa.field("class", pa.string()),
        pa.field("id", pa.string()),
        pa.field("hash", pa.string()),
        pa.field("vector", pa.list_(pa.float64())),
    ]
)

_W = f"{INTERNAL_PREFIX}window"
_C = f"{INTERNAL_PREFIX}cohort"
_K = f"{INTERNAL_PREFIX}class"
_ID = f"{INTERNAL_PREFIX}id"
_H = f"{INTERNAL_PREFIX}hash"
_R = f"{INTERNAL_PREFIX}rank"
_V = f"{INTERNAL_PREFIX}vector"


def embedding_sample(
    t: ir.Table,
    spec: Spec,
    *,
    cap: int,
    seed: int,
    by: str,
    window: Window | None = None,
    cohort: str | None = None,
    windows: Collection[int] | None = None,
) -> ir.Table:
    """At most ``cap`` rows with an embedding per window x cohort value x value of column
    ``by`` (the predicted class, or a label column), as :data:`SAMPLE_SCHEMA`.

    ``window`` None puts every row in window 0 (a reference); ``cohort`` None is the
    overall scope (:data:`OVERALL`), a null cohort value reads :data:`MISSING_COHORT`;
    ``windows`` keeps only those window keys.
    """
    assert spec.embedding is not None
    emb = spec.embedding
    keyed = spec.id in t.columns
    w = window_key(t, spec, window) if window is not None else ibis.literal(0, type="int64")
    value: ir.StringValue = (
        ibis.literal(OVERALL, type="string") if cohort is None else cohort_text(t[cohort])
    )
    ident = t[spec.id].cast("string") if keyed else t[emb].cast("string")
    s = t.mutate(**{_W: w, _C: value, _K: t[by].cast("string"), _ID: ident})
    s = s.filter(s[emb].notnull() & s[_K].notnull())
    if windows is not None:
        s = s.filter(s[_W].isin(sorted(int(k) for k in windows)))
    h = (ibis.literal(f"{seed}:", type="string") + s[_ID]).hexdigest("md5")
    s = s.mutate(**{_H: h})
    rank = ibis.row_number().over(group_by=[s[_W], s[_C], s[_K]], order_by=[s[_H], s[_ID]])
    if keyed:
        keys = s.select(_W, _C, _K, _ID, _H).mutate(**{_R: rank})
        keys = keys.filter(keys[_R] < cap)
        vectors = t.select(**{_ID: t[spec.id].cast("string"), _V: t[emb].cast("array<float64>")})
        joined = keys.join(vectors, keys[_ID] == vectors[_ID])
    else:
        joined = s.mutate(**{_R: rank, _V: s[emb].cast("array<float64>")})
        joined = joined.filter(joined[_R] < cap)
    return joined.select(
        window=joined[_W],
        cohort_value=joined[_C],
        **{"class": joined[_K]},
        id=joined[_ID],
        hash=joined[_H],
        vector=joined[_V],
    ).order_by(["window", "cohort_value", "class", "id"])


def overall_of(sample: pa.Table, cap: int) -> pa.Table:
    """The overall scope's sample from a cohort column's sample (both at ``cap``): per
    window and class, the ``cap`` rows of smallest (hash, id) among the cohort values'.

    Exact: a row among the ``cap`` first of its window and class is among the ``cap``
    first of its cohort value too, so one engine query serves both scopes.

    >>> t = pa.table({"window": [0, 0, 0], "cohort_value": ["x", "y", "y"],
    ...               "class": ["a", "a", "a"], "id": ["1", "2", "3"],
    ...               "hash": ["c", "a", "b"], "vector": [[1.0], [2.0], [3.0]]})
    >>> overall_of(t.cast(SAMPLE_SCHEMA), 2).column("id").to_pylist()
    ['2', '3']
    """
    ordered = sample.sort_by(
        [
            ("window", "ascending"),
            ("class", "ascending"),
            ("hash", "ascending"),
            ("id", "ascending"),
        ]
    )
    windows = ordered.column("window").to_pylist()
    classes = ordered.column("class").to_pylist()
    keep, prev, rank = [], None, 0
    for i, key in enumerate(zip(windows, classes, strict=True)):
        rank = rank + 1 if key == prev else 0
        prev = key
        if rank < cap:
            keep.append(i)
    out = ordered.take(pa.array(keep, pa.int64()))
    out = out.set_column(1, "cohort_value", pa.array([OVERALL] * out.num_rows, pa.string()))
    return out.sort_by([(c, "ascending") for c in ("window", "cohort_value", "class", "id")]).cast(
        SAMPLE_SCHEMA
    )
