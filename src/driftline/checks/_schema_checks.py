"""Checks of a window's schema against the reference's: columns not logged, values of
another type, columns the spec does not know. One function per check (see
:mod:`driftline.checks._context`); the three read one :class:`_SchemaFacts` of the
window, gathered from the metadata of the batches that fed it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from driftline.checks._context import _cut, _cut_batch, _json, _Run, _Window, decided
from driftline.checks._registry import check
from driftline.checks._results import CheckResult
from driftline.errors import shorten


@dataclass(frozen=True)
class _SchemaFacts:
    """Of one window x cohort value's rows: per column, the rows whose batch lacked it,
    the rows whose batch held it as another type (and which types), and per column the
    spec does not know, the rows whose batch held it."""

    missing_rows: dict[str, int]
    retyped_rows: dict[str, int]
    retyped_as: dict[str, set[str]]
    extra: dict[str, int]
    #: per column, the ids of the batches that lacked it, retyped it, or added it (a
    #: result's details name the first few: which batch brought a schema change)
    missing_batches: dict[str, list[str]]
    retyped_batches: dict[str, list[str]]
    extra_batches: dict[str, list[str]]


#: How many batch ids a schema result's details name.
_BATCHES_SHOWN = 5


def _batch_ids(ids: dict[str, list[str]], col: str) -> dict[str, list[str]]:
    """``{"batches": [...]}`` for a result's details when some batch is to blame."""
    got = ids.get(col)
    return {"batches": got[:_BATCHES_SHOWN]} if got else {}


def schema_facts(run: _Run, win: _Window) -> _SchemaFacts:
    """The :class:`_SchemaFacts` of ``win`` (once per window, for its three checks)."""
    missing_rows: dict[str, int] = defaultdict(int)
    retyped_rows: dict[str, int] = defaultdict(int)
    retyped_as: dict[str, set[str]] = defaultdict(set)
    extra: dict[str, int] = defaultdict(int)
    missing_batches: dict[str, list[str]] = defaultdict(list)
    retyped_batches: dict[str, list[str]] = defaultdict(list)
    extra_batches: dict[str, list[str]] = defaultdict(list)
    kinds = run.spec.feature_kinds
    # judged against the spec of this check, not the one the batch was logged under: a
    # column the spec names now that a batch did not bring is missing from it, and one it
    # brought that the spec names now is no longer unknown (its values were kept, and the
    # store filled them in when the spec came to name it)
    named = {c for _, c in run.spec.column_roles()}
    for seq, rows in sorted(win.batches.items()):
        meta = run.batches.get(seq)
        if meta is None:
            continue
        batch = _cut_batch(meta.get("batch_id", seq))
        source = _json(meta["source_columns"]) or {}
        if source:
            lost = [c for c in run.schema_columns if c not in source]
            unknown = [c for c in source if c not in named]
        else:  # a batch that recorded no columns: what its ingest said
            lost = _json(meta["missing_features"])
            unknown = [c for c in _json(meta["extra_columns"]) if c not in named]
        for col in lost:
            missing_rows[col] += rows
            missing_batches[col].append(batch)
        for col in unknown:
            extra[col] += rows
            extra_batches[col].append(batch)
        for col in kinds:
            if col not in source:
                continue
            if run.retyped(col, source[col]):
                retyped_rows[col] += rows
                retyped_as[col].add(source[col])
                retyped_batches[col].append(batch)
    return _SchemaFacts(
        missing_rows,
        retyped_rows,
        retyped_as,
        extra,
        missing_batches,
        retyped_batches,
        extra_batches,
    )


@check("missing_column")
def missing_column(run: _Run, win: _Window, facts: _SchemaFacts) -> Iterator[CheckResult]:
    """Per column of the schema (features and cohorts): the share of rows logged without it."""
    for col, (not_logged, _) in run.schema_columns.items():
        rows = facts.missing_rows.get(col, 0)
        frac = rows / win.n
        yield decided(
            run,
            win.base,
            "missing_column",
            col,
            frac,
            frac,
            0.0,
            "any row without the column",
            {"rows": rows, "summary": not_logged, **_batch_ids(facts.missing_batches, col)},
        )


@check("type_change")
def type_change(run: _Run, win: _Window, facts: _SchemaFacts) -> Iterator[CheckResult]:
    """Per feature: the share of rows logged with a type of another family than the
    reference's."""
    for col in run.spec.feature_kinds:
        frac = facts.retyped_rows.get(col, 0) / win.n
        ref_family = (run.profile.columns_.get(col) or {}).get("family")
        got = sorted(_cut(t) for t in facts.retyped_as.get(col, ()))
        name = run.schema_columns[col][1]
        yield decided(
            run,
            win.base,
            "type_change",
            col,
            frac,
            frac,
            0.0,
            "any row of another type",
            {
                "reference_family": ref_family,
                "current_types": got,
                "summary": f"{name} was {ref_family}, now {', '.join(got)}" if got else "",
                **_batch_ids(facts.retyped_batches, col),
            },
        )


@check("extra_column")
def extra_column(run: _Run, win: _Window, facts: _SchemaFacts) -> Iterator[CheckResult]:
    """Per column logged that the spec does not know: the share of rows that held it
    (a warning: it is kept, not checked)."""
    for col, rows in sorted(facts.extra.items()):
        yield decided(
            run,
            win.base,
            "extra_column",
            col,
            rows / win.n,
            rows / win.n,
            0.0,
            "any unknown column",
            {
                "rows": rows,
                "summary": f"unknown column {shorten(col)} logged",
                **_batch_ids(facts.extra_batches, col),
            },
            status="warn",
        )
