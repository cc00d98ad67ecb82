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

from collections.abc import Callable, Collection, Mapping

import ibis
import ibis.expr.types as ir

from driftline._catalog import INTERNAL_PREFIX
from driftline.engine.summaries import numeric_column
from driftline.spec import Spec

__all__ = [
    "NONE_SOURCE",
    "SCORE_PREFIX",
    "THRESHOLD_PREFIX",
    "score_builders",
    "score_name",
    "threshold_sources",
]

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


#: The histogram source of class ``c``'s score against its decision threshold is named
#: ``THRESHOLD_PREFIX + c``; the source of the rows no class clears is
#: :data:`NONE_SOURCE`. Internal names: no user column can take them.
THRESHOLD_PREFIX = f"{INTERNAL_PREFIX}threshold:"
NONE_SOURCE = f"{INTERNAL_PREFIX}threshold_none"
#: Edges of :data:`NONE_SOURCE`: its value is the largest ``score - threshold`` of a
#: row, in [-1, 1]; the count below 0 is the rows no class clears.
NONE_EDGES = (0.0, 2.0)


def threshold_sources(
    spec: Spec, thresholds: Mapping[str, float], band: float, *, none: bool
) -> dict[str, tuple[list[float], Callable[[ir.Table], ir.NumericValue]]]:
    """``{source: (edges, builder)}`` of the threshold-relative counts: per class with a
    threshold ``t``, its score on the edges ``[t - band, t, t + band]`` (the histogram's
    counts are then: below the band, in it below ``t``, in it at or above ``t``, above
    it); and with ``none``, the largest ``score - t`` of each row on
    :data:`NONE_EDGES`, whose count below the edges is the rows no class clears. Counted
    by :func:`~driftline.engine.summaries.window_summary`'s histograms, so they are
    stored, merged and checked for parity like every other histogram.

    >>> spec = Spec(scores={"columns": {"a": "sa", "b": "sb", "c": "sc"}})
    >>> found = threshold_sources(spec, {"a": 0.4, "b": 0.5}, 0.05, none=True)
    >>> [(name.removeprefix(INTERNAL_PREFIX), edges) for name, (edges, _) in found.items()]
    [('threshold:a', [0.35000000000000003, 0.4, 0.45]), ('threshold:b', [0.45, 0.5, 0.55]), \
('threshold_none', [0.0, 2.0])]
    """
    builders = score_builders(spec)
    out: dict[str, tuple[list[float], Callable[[ir.Table], ir.NumericValue]]] = {}
    for cls, t in thresholds.items():
        build = builders[score_name(cls)]
        out[f"{THRESHOLD_PREFIX}{cls}"] = ([t - band, t, t + band], build)
    if none and thresholds:
        parts = [(builders[score_name(c)], t) for c, t in thresholds.items()]

        def margin(table: ir.Table) -> ir.NumericValue:
            values = [build(table).cast("float64") - _exact(t) for build, t in parts]
            found: ir.NumericValue = values[0] if len(values) == 1 else ibis.greatest(*values)
            return found

        out[NONE_SOURCE] = (list(NONE_EDGES), margin)
    return out


def _exact(value: float) -> ir.FloatingValue:
    """``value`` as an exact SQL double on every engine (a bare literal is a DECIMAL to
    DuckDB, one ulp off after its cast; a string is parsed correctly rounded)."""
    return ibis.literal(repr(float(value))).cast("float64")
