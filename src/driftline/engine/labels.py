"""The latest label per prediction id, as an Ibis expression (DuckDB or Spark).

Labels are append-only: a correction is a later row. The label of an id is its row with
the greatest ``labelled_at``; on a tie, the row of the later batch (``_batch``). Picked
with ``row_number()`` over the id, which both engines run alike (not an as-of join, not
an UPDATE).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from driftline._catalog import INTERNAL_PREFIX

__all__ = ["latest_labels"]

_RANK = INTERNAL_PREFIX + "label_rank"


def latest_labels(labels: ir.Table) -> ir.Table:
    """One row per ``id`` of a labels table (``id``, ``label``, ``labelled_at``,
    ``_batch``, ...): the latest label, ties going to the later batch."""
    rank = ibis.row_number().over(
        group_by=labels["id"],
        order_by=[labels["labelled_at"].desc(), labels["_batch"].desc()],
    )
    ranked = labels.mutate(**{_RANK: rank})
    return ranked.filter(ranked[_RANK] == 0).drop(_RANK)
