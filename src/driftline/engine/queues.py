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

from driftline._catalog import INTERNAL_PREFIX, MISSING_COHORT, QueuePolicy
from driftline.engine.scores import SCORE_PREFIX, score_builders
from driftline.spec import Spec

__all__ = [
    "ID",
    "LABEL",
    "PRIORITY",
    "STRATUM",
    "TIE",
    "boundary_gap",
    "candidates",
    "class_scores",
    "ranked",
]

ID = INTERNAL_PREFIX + "id"
LABEL = INTERNAL_PREFIX + "label"
STRATUM = INTERNAL_PREFIX + "stratum"
PRIORITY = INTERNAL_PREFIX + "priority"
TIE = INTERNAL_PREFIX + "tie"
_RANK = INTERNAL_PREFIX + "rank"
_QUOTA = INTERNAL_PREFIX + "quota"
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
    that carry a label. ``labels`` is the latest label per id
    (:func:`driftline.engine.labels.latest_labels`). ``unique_ids=False`` keeps one row
    per id (the latest) for tables whose ids may repeat; the store's never do.
    """
    t = table.mutate(**{ID: table[spec.id].cast("string")})
    if since is not None:
        t = t.filter(t[spec.timestamp] >= since)
    if until is not None:
        t = t.filter(t[spec.timestamp] < until)
    for col, values in (cohorts or {}).items():
        wanted = list(values)
        shown = t[col].cast("string").fill_null(MISSING_COHORT)
        t = t.filter(shown.isin(wanted))
    if classes is not None:
        t = t.filter(t[spec.prediction].cast("string").isin(list(classes)))
    if not unique_ids:
        latest = ibis.row_number().over(group_by=t[ID], order_by=t[spec.timestamp].desc())
        t = t.mutate(**{_RANK: latest})
        t = t.filter(t[_RANK] == 0).drop(_RANK)
    if labels is not None:
        lab = labels.select(**{_KEY: labels["id"].cast("string"), LABEL: labels["label"]})
        t = t.left_join(lab, t[ID] == lab[_KEY]).drop(_KEY)
        if exclude_labelled:
            t = t.filter(t[LABEL].isnull())
    else:
        t = t.mutate(**{LABEL: ibis.null("string")})
    if exclude is not None:
        t = t.anti_join(exclude, t[ID] == exclude[ID])
    if stratify == "class":
        stratum = t[spec.prediction].cast("string")
    elif stratify is not None:
        stratum = t[stratify].cast("string").fill_null(MISSING_COHORT)
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


def ranked(cands: ir.Table, quotas: ir.Table) -> ir.Table:
    """The first ``quota`` rows of each stratum of ``cands`` (from :func:`candidates`)
    by priority, then tie hash, then id; ``quotas`` holds :data:`STRATUM` and
    ``__dl_quota``. Adds ``__dl_rank`` (0-based within the stratum)."""
    rank = ibis.row_number().over(
        group_by=cands[STRATUM],
        order_by=[cands[PRIORITY].desc(), cands[TIE].asc(), cands[ID].asc()],
    )
    t = cands.mutate(**{_RANK: rank})
    q = quotas.rename(**{_KEY: STRATUM})
    t = t.inner_join(q, t[STRATUM] == q[_KEY]).drop(_KEY)
    return t.filter(t[_RANK] < t[_QUOTA]).drop(_QUOTA)
