"""Label-queue candidates as Ibis expressions (DuckDB or Spark): what to label next.

Every policy is a *priority* per prediction row, higher first, computed from the row's
class scores in the engine (the table is never loaded whole):

- ``least-confident``: ``1 - confidence`` (confidence: the highest class score);
- ``margin``: ``-(top1 - top2)``, the smallest gap between the two best classes first;
- ``entropy``: ``-sum(p * ln p)`` over the class scores (natural log);
- ``high-confidence``: ``confidence`` (negative-sample mining: sure rows to audit);
- ``near-threshold``: ``-|gap|``, where ``gap`` is the row's distance to its decision
  boundary (see :func:`boundary_gap`), kept only within ``band`` when one is given;
- ``below-threshold-correct``: ``-gap`` over labelled rows whose latest label equals the
  predicted class and whose gap is below the class's cut (0 for a class with a threshold,
  ``band`` for one decided by the margin): correct rows the threshold would not call.

Ties are broken by ``md5(seed || ':' || id)``, which DuckDB and Spark compute alike, so
a queue is the same on both engines and for the same seed, and differs across seeds.
Columns added here start with :data:`~driftline._catalog.INTERNAL_PREFIX`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import combinations

import ibis
import ibis.expr.types as ir

from driftline._catalog import INTERNAL_PREFIX, QueuePolicy
from driftline.engine.labels import latest_labels
from driftline.engine.scores import SCORE_PREFIX, score_builders
from driftline.engine.summaries import cohort_text
from driftline.spec import Spec

__all__ = [
    "ID",
    "LABEL",
    "PRIORITY",
    "STRATUM",
    "TIE",
    "UNION_STRATA",
    "boundary_gap",
    "candidates",
    "class_scores",
    "ranked",
    "rows_of",
]

ID = INTERNAL_PREFIX + "id"
LABEL = INTERNAL_PREFIX + "label"
STRATUM = INTERNAL_PREFIX + "stratum"
PRIORITY = INTERNAL_PREFIX + "priority"
TIE = INTERNAL_PREFIX + "tie"
_RANK = INTERNAL_PREFIX + "rank"
_KEY = INTERNAL_PREFIX + "key"

Builder = Callable[[ir.Table], ir.NumericValue]


def class_scores(spec: Spec) -> dict[str, Builder]:
    """``{class: builder}`` of every class's score, in class order; a binary model's
    negative class scores ``1 - p``.

    >>> from driftline.spec import Spec
    >>> sorted(class_scores(Spec(scores={"column": "p", "positive": "y", "negative": "n"})))
    ['n', 'y']
    """
    found = {name.removeprefix(SCORE_PREFIX): build for name, build in score_builders(spec).items()}
    scores = spec.scores
    if scores.layout == "binary":
        assert scores.negative is not None
        assert scores.positive is not None
        positive = found[scores.positive]

        def negative(t: ir.Table) -> ir.NumericValue:
            return 1.0 - positive(t)

        return {scores.negative: negative, scores.positive: positive}
    return found


def _top_two(values: Sequence[ir.NumericValue]) -> tuple[ir.NumericValue, ir.NumericValue]:
    """The highest and second-highest of ``values`` (ties count twice): the second is
    the greatest of the pairwise minima, which both engines compute without sorting."""
    top = ibis.greatest(*values)
    pairs = [ibis.least(a, b) for a, b in combinations(values, 2)]
    second = pairs[0] if len(pairs) == 1 else ibis.greatest(*pairs)
    return top, second


def boundary_gap(
    t: ir.Table, spec: Spec, thresholds: Mapping[str, float]
) -> tuple[ir.NumericValue, ir.NumericValue]:
    """``(gap, cut)`` of each row, by its predicted class ``c``: with a threshold ``t_c``,
    ``gap = score_c - t_c`` (negative: the threshold would not call ``c``) and ``cut =
    0``; without one, ``gap`` is the margin ``top1 - top2`` (the boundary is the
    runner-up class) and ``cut`` is None (the caller's band)."""
    scores = {c: build(t) for c, build in class_scores(spec).items()}
    top, second = _top_two(list(scores.values()))
    margin = top - second
    pred = t[spec.prediction].cast("string")
    held = [(c, v) for c, v in thresholds.items() if c in scores]
    if not held:
        return margin, ibis.null("float64")
    gap = ibis.cases(*((pred == c, scores[c] - v) for c, v in held), else_=margin)
    cut = ibis.cases(*((pred == c, ibis.literal(0.0)) for c, _ in held), else_=ibis.null("float64"))
    return gap, cut


def _priority(
    t: ir.Table,
    spec: Spec,
    policy: QueuePolicy,
    thresholds: Mapping[str, float],
    band: float | None,
) -> tuple[ir.NumericValue, ir.BooleanValue | None]:
    """The policy's priority (higher first) and the filter its rows must pass."""
    values = [build(t) for build in class_scores(spec).values()]
    top, second = _top_two(values)
    if policy == "least-confident":
        return 1.0 - top, None
    if policy == "high-confidence":
        return top, None
    if policy == "margin":
        return second - top, None
    if policy == "entropy":
        terms = [ibis.ifelse(p > 0, -p * p.ln(), 0.0) for p in values]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total, None
    gap, cut = boundary_gap(t, spec, thresholds)
    if policy == "near-threshold":
        keep = None if band is None else gap.abs() <= band
        return -gap.abs(), keep
    assert policy == "below-threshold-correct"
    assert band is not None  # resolved by the caller for margin-decided classes
    correct = t[LABEL].notnull() & (t[LABEL] == t[spec.prediction].cast("string"))
    return -gap, correct & (gap < cut.fill_null(band))


def candidates(
    table: ir.Table,
    spec: Spec,
    *,
    policy: QueuePolicy,
    seed: int,
    thresholds: Mapping[str, float],
    band: float | None,
    labels: ir.Table | None,
    stratify: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
    cohorts: Mapping[str, Sequence[str]] | None = None,
    classes: Sequence[str] | None = None,
    exclude_labelled: bool = False,
    exclude: ir.Table | None = None,
    unique_ids: bool = True,
) -> ir.Table:
    """The predictions a queue may pick from, with :data:`ID`, :data:`LABEL` (the latest
    label, null if none), :data:`STRATUM` (the predicted class for ``stratify="class"``,
    a cohort column's value, :data:`~driftline._catalog.MISSING_COHORT` for null, or
    ``""``), :data:`PRIORITY` and :data:`TIE` added.

    Filtered by ``[since, until)`` on the timestamp, the cohort values and predicted
    classes given, the policy's own filter, ``exclude`` (a table of ids in column
    :data:`ID`, e.g. those an earlier policy picked) and, with ``exclude_labelled``, ids
    that carry a label. ``labels`` is the labels table (``id``, ``label``,
    ``labelled_at``, ``_batch``): labelled ids are excluded by an anti-join on it, or
    else the latest label per id is joined (:func:`driftline.engine.labels.latest_labels`).
    ``unique_ids=False`` keeps one row
    per id (the latest) for tables whose ids may repeat; the store's never do.
    """
    t = table.mutate(**{ID: table[spec.id].cast("string")})
    if since is not None:
        t = t.filter(t[spec.timestamp] >= since)
    if until is not None:
        t = t.filter(t[spec.timestamp] < until)
    for col, values in (cohorts or {}).items():
        wanted = list(values)
        shown = cohort_text(t[col])
        t = t.filter(shown.isin(wanted))
    if classes is not None:
        t = t.filter(t[spec.prediction].cast("string").isin(list(classes)))
    if not unique_ids:
        latest = ibis.row_number().over(group_by=t[ID], order_by=t[spec.timestamp].desc())
        t = t.mutate(**{_RANK: latest})
        t = t.filter(t[_RANK] == 0).drop(_RANK)
    if labels is not None and exclude_labelled:  # any label at all: no window needed
        ids = labels.select(**{_KEY: labels["id"].cast("string")})
        t = t.anti_join(ids, t[ID] == ids[_KEY])
    if labels is not None and not exclude_labelled:
        latest = latest_labels(labels)
        lab = latest.select(**{_KEY: latest["id"].cast("string"), LABEL: latest["label"]})
        t = t.left_join(lab, t[ID] == lab[_KEY]).drop(_KEY)
    else:
        t = t.mutate(**{LABEL: ibis.null("string")})
    if exclude is not None:
        t = t.anti_join(exclude, t[ID] == exclude[ID])
    if stratify == "class":
        stratum = t[spec.prediction].cast("string")
    elif stratify is not None:
        stratum = cohort_text(t[stratify])
    else:
        stratum = ibis.literal("")
    priority, keep = _priority(t, spec, policy, thresholds, band)
    t = t.mutate(
        **{
            STRATUM: stratum,
            PRIORITY: priority,
            TIE: (ibis.literal(f"{seed}:") + t[ID]).hexdigest("md5"),
        }
    )
    t = t.filter(t[PRIORITY].notnull())
    if keep is not None:
        t = t.filter(keep)
    return t


#: Up to this many strata, each is ranked by its own top-N (a UNION ALL of ORDER BY ...
#: LIMIT), about half the cost of one row_number() window over every row (1M rows,
#: DuckDB: benchmarks/bench_queue.py); beyond it, the window.
UNION_STRATA = 32


def ranked(cands: ir.Table, limit: int, strata: Sequence[str] | None = None) -> ir.Table:
    """The first ``limit`` rows of ``cands`` (from :func:`candidates`), of each of
    ``strata`` if given, by priority, then tie hash, then id, as :data:`ID`,
    :data:`STRATUM`, :data:`PRIORITY`, :data:`TIE` and :data:`LABEL` only (the rest of a
    row is fetched for the rows picked, not carried through the sort). The caller cuts
    each stratum to its own quota."""
    narrow = cands.select(ID, STRATUM, PRIORITY, TIE, LABEL)
    order = [narrow[PRIORITY].desc(), narrow[TIE].asc(), narrow[ID].asc()]
    if strata is None:
        return narrow.order_by(order).limit(limit)
    if len(strata) <= UNION_STRATA:
        parts = [narrow.filter(narrow[STRATUM] == s).order_by(order).limit(limit) for s in strata]
        return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    rank = ibis.row_number().over(group_by=narrow[STRATUM], order_by=order)
    t = narrow.mutate(**{_RANK: rank})
    return t.filter(t[_RANK] < limit).drop(_RANK)


def rows_of(table: ir.Table, spec: Spec, ids: ir.Table, columns: Mapping[str, Builder]) -> ir.Table:
    """The rows of ``table`` whose id is in ``ids`` (column :data:`ID`), as :data:`ID`
    and ``columns`` (``{output name: builder}``)."""
    t = table.mutate(**{ID: table[spec.id].cast("string")})
    t = t.semi_join(ids, t[ID] == ids[ID])
    return t.select(ID, **{name: build(t) for name, build in columns.items()})
