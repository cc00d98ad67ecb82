"""Sufficient statistics of realised and estimated performance, as Ibis expressions
(DuckDB or Spark).

Labels arrive later than predictions and are attributed to the window of the
*prediction* they label: the latest label per id (:func:`~driftline.engine.labels.latest_labels`)
is left-joined to the predictions by id, after each prediction has its window key. One
grouped aggregate per scope then counts, per window x cohort value x predicted class x
true label (null: not labelled yet) x confidence bin (``floor(confidence * 100)``, so
the 10-bin reliability diagram merges from it exactly):

- ``n`` rows and ``conf_sum``, the sum of their confidence: the predicted class's score,
  the max score for an argmax model (:func:`predicted_score`);
- for labelled rows, the label delay (``labelled_at - timestamp``, in whole seconds):
  ``delay_sum``, ``delay_sq`` (sum of squares), ``delay_min``, ``delay_max``.

From these the confusion matrix, the labelled count and coverage, the reliability
diagram and the label-free estimate's sums (:mod:`driftline.performance`) follow in
numpy. Every count is 0, never NULL, at the boundary; the schema is
:data:`PERFORMANCE_SCHEMA` on every engine. With cohorts, the overall scope's rows are
merged from the first cohort column's (counts, sums, min and max merge exactly), so the
join is aggregated once per cohort column.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from driftline._catalog import INTERNAL_PREFIX, OVERALL
from driftline.engine._backend import Engine
from driftline.engine.labels import latest_labels
from driftline.engine.summaries import cohort_text, window_key
from driftline.spec import Spec, Window

__all__ = [
    "FINE_BINS",
    "PERFORMANCE_SCHEMA",
    "label_watermark",
    "labelled_windows",
    "performance_summary",
    "predicted_score",
    "unknown_labels",
]

#: Confidence bins of the summary: ``floor(confidence * FINE_BINS)``, clipped.
FINE_BINS = 100

#: One row per scope x window x cohort value x predicted class x label x confidence bin.
PERFORMANCE_SCHEMA = pa.schema(
    [
        ("scope", pa.string()),  # "" for the overall scope, else the cohort column
        ("window", pa.int64()),
        ("cohort_value", pa.string()),
        ("predicted", pa.string()),
        ("label", pa.string()),  # null: not labelled (yet)
        ("bin", pa.int64()),  # null: the confidence is missing
        ("n", pa.int64()),
        ("conf_sum", pa.float64()),
        ("delay_sum", pa.float64()),
        ("delay_sq", pa.float64()),
        ("delay_min", pa.float64()),
        ("delay_max", pa.float64()),
    ]
)

_W = INTERNAL_PREFIX + "pw"
_ID = INTERNAL_PREFIX + "pid"
_LABEL = INTERNAL_PREFIX + "plabel"
_AT = INTERNAL_PREFIX + "pat"
_B = INTERNAL_PREFIX + "pb"


def _epoch(x: ir.TimestampValue) -> ir.FloatingValue:
    return x.truncate("s").epoch_seconds().cast("float64")


def _joined(
    predictions: ir.Table,
    labels: ir.Table,
    spec: Spec,
    window: Window,
    *,
    own: bool = False,
    label_batches: Sequence[int] | None = None,
) -> ir.Table:
    """The predictions with their window key and their latest label (null: none yet).
    With ``own``, only the labels of the predictions' ids are ranked (a semi-join on
    them first): for the few windows a check evaluates, the cost of their labels, not of
    every label stored. ``label_batches``: the labels batches that hold every label of
    the predictions' ids (the store knows them, :meth:`Store.labels_batches_between`);
    only their rows are read."""
    keyed = predictions.mutate(**{_W: window_key(predictions, spec, window)})
    if label_batches is not None:
        labels = labels.filter(_in_batches(labels, label_batches))
    if own:
        ids = predictions.select(**{_ID: predictions[spec.id].cast("string")})
        labels = labels.semi_join(ids, labels["id"] == ids[_ID])
    latest = latest_labels(labels)
    lab = latest.select(
        **{_ID: latest["id"], _LABEL: latest["label"].cast("string"), _AT: latest["labelled_at"]}
    )
    return keyed.left_join(lab, keyed[spec.id].cast("string") == lab[_ID])


def predicted_score(t: ir.Table, spec: Spec) -> ir.FloatingValue:
    """The score of each row's predicted class: what its prediction is as sure as (null
    when the predicted class has no score). For an argmax model it is the confidence
    (the max score); for a thresholded one it is not (a binary model predicting the
    negative class at p = 0.6 is 0.4 sure of it)."""
    pred = t[spec.prediction].cast("string")
    scores = spec.scores
    if scores.layout == "binary":
        assert scores.column is not None
        p = t[scores.column].cast("float64")
        return ibis.cases(
            (pred == scores.positive, p), (pred == scores.negative, 1.0 - p), else_=None
        ).cast("float64")
    if scores.layout == "columns":
        assert scores.columns is not None
        pairs = [(pred == c, t[col].cast("float64")) for c, col in scores.columns.items()]
        return ibis.cases(*pairs, else_=None).cast("float64")
    assert scores.column is not None
    values = t[scores.column]
    pairs = [(pred == c, values[i].cast("float64")) for i, c in enumerate(scores.class_order)]
    return ibis.cases(*pairs, else_=None).cast("float64")


def performance_summary(
    engine: Engine,
    predictions: ir.Table,
    labels: ir.Table,
    spec: Spec,
    window: Window,
    *,
    some: bool = False,
    label_batches: Sequence[int] | None = None,
) -> pa.Table:
    """The performance summary of ``predictions`` (the store's table, or its rows in some
    windows: say so with ``some``, and only their labels are read) for the overall scope
    and each cohort column, as :data:`PERFORMANCE_SCHEMA`; the confidence binned is the
    predicted class's score (:func:`predicted_score`). ``label_batches`` limits the
    labels read to those batches, which must hold every label of the predictions' ids
    (:func:`_joined`)."""
    j = _joined(predictions, labels, spec, window, own=some, label_batches=label_batches)
    raw = predicted_score(j, spec)
    # a missing confidence (null or NaN) has no bin and adds nothing to the sums
    conf = ibis.ifelse(raw.isnan().fill_null(True), ibis.null("float64"), raw)
    fine = (conf * FINE_BINS).floor().cast("int64")
    bin_ = ibis.greatest(ibis.least(fine, FINE_BINS - 1), 0)
    labelled = j[_LABEL].notnull()
    delay = ibis.ifelse(labelled, _epoch(j[_AT]) - _epoch(j[spec.timestamp]), ibis.null("float64"))
    # the overall scope is merged from the first cohort column's groups (exact: counts,
    # sums, min and max), so the join is scanned once per cohort column, not once more
    scopes: list[tuple[str, ir.StringValue]] = [(c, cohort_text(j[c])) for c in spec.cohorts] or [
        ("", ibis.literal(OVERALL, type="string"))
    ]
    parts = []
    for name, value in scopes:
        d = delay
        part = j.group_by(
            scope=ibis.literal(name, type="string"),
            window=j[_W],
            cohort_value=value,
            predicted=j[spec.prediction].cast("string"),
            label=j[_LABEL],
            bin=bin_,
        ).aggregate(
            n=j.count(),
            conf_sum=conf.sum().fill_null(0.0),
            delay_sum=d.sum().fill_null(0.0),
            delay_sq=(d * d).sum().fill_null(0.0),
            delay_min=d.min(),
            delay_max=d.max(),
        )
        parts.append(part)
    expr = parts[0] if len(parts) == 1 else ibis.union(*parts)
    table = engine.run(expr, PERFORMANCE_SCHEMA)
    if not spec.cohorts:
        return table
    return pa.concat_tables([_overall(table, spec.cohorts[0]), table])


def _overall(table: pa.Table, cohort: str) -> pa.Table:
    """The overall scope's rows, merged from ``cohort``'s groups."""
    first = table.filter(pc.equal(table["scope"], cohort))
    keys = ["window", "predicted", "label", "bin"]
    merged = first.group_by(keys, use_threads=False).aggregate(
        [
            ("n", "sum"),
            ("conf_sum", "sum"),
            ("delay_sum", "sum"),
            ("delay_sq", "sum"),
            ("delay_min", "min"),
            ("delay_max", "max"),
        ]
    )
    rows = merged.num_rows
    out = {
        "scope": pa.array([""] * rows, pa.string()),
        "window": merged["window"],
        "cohort_value": pa.array([OVERALL] * rows, pa.string()),
        **{k: merged[k] for k in ("predicted", "label", "bin")},
        **{
            k: merged[f"{k}_{how}"]
            for k, how in (
                ("n", "sum"),
                ("conf_sum", "sum"),
                ("delay_sum", "sum"),
                ("delay_sq", "sum"),
                ("delay_min", "min"),
                ("delay_max", "max"),
            )
        },
    }
    return pa.table(out).cast(PERFORMANCE_SCHEMA)


def unknown_labels(
    engine: Engine, predictions: ir.Table, labels: ir.Table, spec: Spec, examples: int = 5
) -> tuple[int, list[str]]:
    """How many labelled ids match no prediction, and the first ``examples`` of them
    (sorted): labels are counted and reported, never dropped. The store keeps this for
    its own tables as it logs (:meth:`driftline.store.Store.unknown_labels`); this join
    serves sources and Spark."""
    labelled = labels.select("id").distinct()
    ids = predictions.select(**{_ID: predictions[spec.id].cast("string")})
    # the predicted ids among the labelled first (the labelled ids are the join's hash
    # table), then the labelled ids not among them: one query, count and first ids
    known = ids.semi_join(labelled, ids[_ID] == labelled["id"])
    lost = labelled.anti_join(known, labelled["id"] == known[_ID])
    first = lost.mutate(n=lost["id"].count().over(ibis.window())).order_by("id").limit(examples)
    found = engine.run(first).to_pylist()
    if not found:
        return 0, []
    return int(found[0]["n"]), [str(r["id"]) for r in found]


def _in_batches(t: ir.Table, batches: Sequence[int]) -> ir.BooleanValue:
    """Whether a row of ``t`` (a stored table) is of one of ``batches``: batches are
    appended in order, so DuckDB skips the row groups of every other batch."""
    if not batches:
        return ibis.literal(False)
    return t["_batch"].isin([int(b) for b in batches])


def label_watermark(engine: Engine, labels: ir.Table) -> int:
    """The newest labels batch (-1: none)."""
    top = engine.run(labels.aggregate(b=labels["_batch"].max())).to_pylist()[0]["b"]
    return -1 if top is None else int(top)


def labelled_windows(
    engine: Engine,
    predictions: ir.Table,
    labels: ir.Table,
    spec: Spec,
    window: Window,
    after: int,
    windows: Sequence[int] | None = None,
    batches: Sequence[int] | None = None,
) -> dict[int, int]:
    """The windows of the predictions labelled by batches newer than ``after``, with the
    newest such batch: their realised performance may have changed (a label for an id
    of an old window changes that window, not the window it arrived in). ``batches``:
    the predictions batches that hold every id those labels batches label (the store
    knows them, :meth:`Store.labelled_batches`); only their rows are read."""
    if batches is not None:
        predictions = predictions.filter(_in_batches(predictions, batches))
    new = labels.filter(labels["_batch"] > after)
    ids = new.group_by(**{_ID: new["id"]}).aggregate(**{_B: new["_batch"].max()})
    # the window key of the labelled predictions only, not of every prediction
    joined = predictions.inner_join(ids, predictions[spec.id].cast("string") == ids[_ID])
    hit = joined.mutate(**{_W: window_key(joined, spec, window)})
    expr = hit.group_by(w=hit[_W]).aggregate(b=hit[_B].max())
    found = {int(r["w"]): int(r["b"]) for r in engine.run(expr).to_pylist()}
    if windows is None:
        return found
    keep = set(windows)
    return {w: b for w, b in found.items() if w in keep}
