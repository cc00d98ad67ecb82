"""Each class's score of a row, as an Ibis expression: the sources of score drift.

A classifier's scores can move before its predicted class does (the runner-up class
gains on the others, the model grows sure or unsure of itself), and neither the
predicted-class mix nor the mean of the max score need show it. So each class's score
is a numeric source of its own, binned on edges fitted on the reference and summarised
like a text style feature: by a builder passed as ``values=`` to
:func:`~driftline.engine.summaries.window_summary` (and to the profile's fit).

A class's source is named :func:`score_name` (``score:<class>``), in the profile's
``bin_edges_`` and ``bin_counts_`` and as the ``column`` of its ``score_drift`` results.
Per layout of ``spec.scores``:

- ``columns``: the class's own column;
- ``column`` with ``classes`` (a list column): the element at the class's index;
- ``column`` with ``positive`` and ``negative`` (a binary probability ``p``): the positive
  class only. The negative class's score is ``1 - p``, the mirror image of the same
  distribution: a second result would repeat the first.

>>> import ibis
>>> from driftline.spec import Spec
>>> spec = Spec(scores={"column": "p", "positive": "yes", "negative": "no"})
>>> sorted(score_builders(spec))
['score:yes']
>>> spec = Spec(scores={"column": "proba", "classes": ["a", "b", "c"]})
>>> t = ibis.table({"proba": "array<float64>"}, name="t")
>>> print(ibis.to_sql(t.select(b=score_builders(spec)["score:b"](t)), dialect="duckdb"))
SELECT
  LIST_EXTRACT("t0"."proba", 2) AS "b"
FROM "t" AS "t0"
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import ibis.expr.types as ir

from driftline.engine.summaries import numeric_column
from driftline.spec import Spec

__all__ = ["SCORE_PREFIX", "score_builders", "score_name"]

#: What a class's score source is named after: ``score:<class>``.
SCORE_PREFIX = "score:"


def score_name(cls: str) -> str:
    """The source (and result column) of class ``cls``'s score.

    >>> score_name("cat")
    'score:cat'
    """
    return f"{SCORE_PREFIX}{cls}"


def _element(col: str, index: int) -> Callable[[ir.Table], ir.NumericValue]:
    def build(t: ir.Table) -> ir.NumericValue:
        return t[col][index].cast("float64")

    return build


def score_builders(
    spec: Spec, names: Collection[str] | None = None
) -> dict[str, Callable[[ir.Table], ir.NumericValue]]:
    """``{score_name(class): builder}`` of each class whose score is a source (see the
    module docstring), in class order; only those named in ``names``, if given (the
    sources a profile holds)."""
    scores = spec.scores
    found: dict[str, Callable[[ir.Table], ir.NumericValue]] = {}
    if scores.layout == "columns":
        assert scores.columns is not None
        found = {score_name(c): numeric_column(col) for c, col in scores.columns.items()}
    elif scores.layout == "binary":
        assert scores.positive is not None
        assert scores.column is not None
        found = {score_name(scores.positive): numeric_column(scores.column)}
    else:
        assert scores.column is not None
        col = scores.column
        found = {score_name(c): _element(col, i) for i, c in enumerate(spec.classes)}
    if names is None:
        return found
    return {name: build for name, build in found.items() if name in names}
