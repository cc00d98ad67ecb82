"""What a check receives: the run's context, resolved once, and one window's inputs.

A check (see :mod:`driftline.checks._registry`) is a small function of a :class:`_Run`
(what depends on the spec and the profile only: the features, the drift sources, the
bounds, the schema's columns) and a :class:`_Window` (one window x cohort value: its
:class:`~driftline.engine.records.WindowSummary` and the small summaries beside it),
returning typed :class:`~driftline.checks._results.CheckResult`\\ s; :func:`decided`
and :func:`skipped` build them. No engine here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np

from driftline._catalog import SOURCE_FILE, type_family
from driftline.checks._bounds import _Bounds
from driftline.checks._registry import CHECKS, Status
from driftline.checks._results import CheckResult, WindowStats, record
from driftline.checks._scopes import _Scope
from driftline.engine.records import WindowSummary
from driftline.errors import SHOWN_CHARS, shorten
from driftline.methods import get_method
from driftline.methods.moments import Moments
from driftline.profile import Profile
from driftline.spec import Spec


@dataclass
class _Run:
    """What every check of a run reads that does not change per window: resolved once
    (per baseline: a cohort value judged against its own has a run of its own)."""

    spec: Spec
    profile: Profile
    bounds: _Bounds
    #: stored batches by sequence number (their missing, extra and source columns)
    batches: Mapping[int, Mapping[str, Any]]
    #: the features the missing-share and range checks read (those the profile knows)
    features: list[_Feature]
    #: the drift sources (numeric, text style, categorical), in result order
    drift_columns: list[_DriftColumn]
    #: per categorical column, the reference's estimate of the share of unseen values
    unseen_p0: dict[str, float]
    #: per column of the schema: what a missing-column result says, and its name, cut
    schema_columns: dict[str, tuple[str, str]]
    #: the timestamp bounds of the data's era, and the first ids beyond them per window,
    #: each with its batch number (None: the table has no batches)
    era: tuple[datetime | None, datetime | None] = (None, None)
    era_ids: dict[int, list[tuple[str, int | None]]] = field(default_factory=dict)
    _retyped_as: dict[tuple[str, str], bool] = field(default_factory=dict)

    def retyped(self, col: str, source_type: str) -> bool:
        """Whether a batch's ``source_type`` for ``col`` differs from the reference's
        type (asked per batch and window: the answer is remembered)."""
        key = (col, source_type)
        found = self._retyped_as.get(key)
        if found is None:
            found = self._retyped_as[key] = self._differs(col, source_type)
        return found

    def _differs(self, col: str, source_type: str) -> bool:
        fam = type_family(source_type)
        ref_family = (self.profile.columns_.get(col) or {}).get("family")
        kind = self.spec.feature_kinds[col]
        if kind == "numeric":
            return fam != "numeric"
        if ref_family is not None:
            return bool(fam != ref_family)
        return fam not in ("string", "boolean")


@dataclass(frozen=True)
class _Window:
    """One window x cohort value as its checks see it."""

    #: the fields every result of it shares with its stats (see :func:`_base`)
    base: dict[str, Any]
    #: its rows, and the moments of their confidence
    n: int
    confidence: Moments
    #: whether its scope is the overall one (no cohort column)
    overall: bool
    #: the wide summary (None: no row)
    summary: WindowSummary | None
    #: rows per predicted class; per categorical column the rows of each known category
    #: (:data:`OTHER` the rest) and of the most frequent unseen values; rows per batch
    classes: Mapping[str, int]
    categories: Mapping[str, Mapping[str, int]]
    unseen: Mapping[str, Mapping[str, int]]
    batches: Mapping[int, int]
    #: ``checks.min_rows``
    min_rows: int

    @property
    def decidable(self) -> bool:
        """Whether it has rows enough to decide on (else only the prediction checks say
        why not)."""
        return self.n > 0 and self.n >= self.min_rows


def decided(
    run: _Run,
    base: dict[str, Any],
    check: str,
    column: str | None,
    value: float,
    effect: float,
    bound: float,
    how: str,
    details: dict[str, Any],
    status: Status | None = None,
    method: str | None = None,
    to_value: Callable[[float], float] | None = None,
    bias: float = 0.0,
) -> CheckResult:
    """A decided result: its verdict (ok / warn / alert, the floor and which threshold
    decided) from :meth:`_Bounds.verdict`, unless ``status`` is forced. ``bias``: the
    effect's no-drift mean at the window's size (see :meth:`_Bounds.verdict`)."""
    method = method or CHECKS[check].method
    verdict = run.bounds.verdict(check, method, column, value, effect, bound, to_value, bias)
    # a wide table has hundreds of thousands of results: built as CheckResult(...)
    # builds them, at half the cost (see record)
    return record(
        CheckResult,
        (
            base["window"],
            base["window_start"],
            base["window_end"],
            base["cohort"],
            base["cohort_value"],
            check,
            column,
            method,
            float(value),
            float(effect),
            float(bound),
            how,
            status or verdict.status,
            base["n"],
            details,
            verdict.floor,
            verdict.floor_how,
            verdict.decided_by,
        ),
    )


def skipped(
    base: dict[str, Any],
    check: str,
    column: str | None,
    method: str,
    status: Status,
    why: str,
    n: int | None = None,
) -> CheckResult:
    """A result that could not be decided (no data, or too little)."""
    if n is not None:
        base = {**base, "n": n}
    return CheckResult(
        **base,
        check=check,
        column=column,
        method=method,
        value=None,
        effect=None,
        bound=None,
        bound_how=why,
        status=status,
    )


@dataclass(frozen=True)
class _Feature:
    """A feature as its missing-share and range checks see it, resolved once per run."""

    name: str
    kind: str
    info: dict[str, Any]
    #: the reference's missing share, the standard deviation of its missing indicator
    #: and its rows with a value
    p_ref: float
    sd: float
    n_present: int

    @classmethod
    def of(cls, name: str, kind: str, profile: Profile) -> _Feature:
        """Feature ``name`` of the spec, with its profile entry."""
        info = profile.columns_[name]
        p_ref = float(info["missing_fraction"])
        return cls(
            name=name,
            kind=kind,
            info=info,
            p_ref=p_ref,
            sd=math.sqrt(p_ref * (1 - p_ref)),
            n_present=max(int(profile.n_rows_ * (1 - p_ref)), 1),
        )


@dataclass(frozen=True)
class _DriftSource:
    """A feature, or a text style feature, as its drift check sees it.

    Numeric sources have bins with ``edges``; categorical ones have ``categories``.
    """

    name: str
    check: str
    method: str
    ref: list[float]
    edges: list[float] | None
    sd: float
    details: dict[str, Any]
    categories: list[str] | None = None
    #: the reference counts a result shows, where ``ref`` is not them (a cohort value's
    #: own counts, ``ref`` being them shrunk toward the overall shares)
    shown: list[int] | None = None


@dataclass(frozen=True)
class _Observed:
    """One drift source in one window x cohort value: its non-missing values, and the
    statistic with the result's details (None below ``checks.min_rows``)."""

    n: int
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


#: Windows x cohort values per vectorised drift-statistic call (bounds the arrays' size).
_ROWS_PER_CALL = 512

#: Categories listed in a categorical drift result: those whose share moved most.
_MOVED = 20


class _DriftColumn:
    """A drift source with what every window needs of it, resolved once per run."""

    def __init__(self, source: _DriftSource, spec: Spec, bounds: _Bounds) -> None:
        self.source = source
        method, check = source.method, source.check
        self.info = get_method(method)
        # the spec admits drift statistics only, and every one has a batched form
        assert self.info.batch is not None
        self.batch = self.info.batch
        self.n_ref = sum(source.ref)
        self.fixed = spec.checks.fixed_bounds.get(check)
        self.ref = _arr(source.ref)
        self.ref_share = self.ref / (self.n_ref or 1)
        self.edges = (
            _arr(source.edges) if source.edges is not None and self.info.needs_edges else None
        )
        self.calibrate = bounds.calibrator(method, source.ref, self.edges)
        #: the reference holds no value of it (its numeric reference is the two pseudo-
        #: counts of the outer bins; a categorical one is all zero)
        self.empty = self.n_ref <= (0 if source.categories is not None else 2)

    def observe(
        self, scope: _Scope, min_rows: int, only: str | None = None
    ) -> dict[tuple[int, str], _Observed]:
        """The statistic in every window x cohort value of ``scope`` (of cohort value
        ``only``, if given) that has at least ``min_rows`` values, computed row by row by
        the method's vectorised form."""
        src = self.source
        found: dict[tuple[int, str], Sequence[int]]
        if src.categories is None:
            found = {
                key: per
                for key, summary in scope.summaries.items()
                if (per := summary.histograms.get(src.name)) is not None
                and (only is None or key[1] == only)
            }
        else:
            counts_of = _counter(src.categories)
            found = {
                key: counts_of(got)
                for key, per in scope.cats.items()
                if (got := per.get(src.name)) is not None and (only is None or key[1] == only)
            }
        out = {key: _Observed(sum(counts)) for key, counts in found.items()}
        if self.empty:  # nothing to compare with (see _drift)
            return out
        enough = [key for key, obs in out.items() if obs.n >= min_rows]
        for start in range(0, len(enough), _ROWS_PER_CALL):
            keys = enough[start : start + _ROWS_PER_CALL]
            cur = np.array([found[key] for key in keys], dtype=float)
            ref = np.broadcast_to(self.ref, cur.shape)
            values = self.batch(ref, cur, edges=self.edges).tolist()
            for i, key in enumerate(keys):
                n = out[key].n
                if src.categories is None:
                    details = {**src.details, "current": list(found[key])}
                else:
                    details = self._categorical_details(cur[i], n)
                out[key] = _Observed(n, float(values[i]), details)
        return out

    def _categorical_details(self, cur: Any, n: int) -> dict[str, Any]:
        """The categories whose share moved most (ties in category order), and totals."""
        names = self.source.categories
        assert names is not None
        moved = _smallest(-np.abs(cur / n - self.ref_share), _MOVED)
        shown = self.source.shown or self.source.ref
        return {
            **self.source.details,
            "categories": {_cut(names[i]): [shown[i], int(cur[i])] for i in moved},
            "reference_total": sum(shown),
            "current_total": n,
        }


def _base(stats: WindowStats) -> dict[str, Any]:
    """The fields every result of a window x cohort value shares with its stats."""
    return {
        "window": stats.window,
        "window_start": stats.window_start,
        "window_end": stats.window_end,
        "cohort": stats.cohort,
        "cohort_value": stats.cohort_value,
        "n": stats.n,
    }


def _cut(value: Any) -> str:
    """A logged value as text, whole when short, else cut as :func:`driftline.errors.shorten`
    cuts it (with its full length stated): what a result's details may hold of it.

    >>> _cut("red")
    'red'
    >>> _cut("x" * 100_000)[-40:]
    "xxxxxxxxxxxxxxxxx…' (100,000 characters)"
    """
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else shorten(text)


def _cut_batch(batch_id: Any) -> str:
    """A batch id as a result's details name it: as :func:`_cut` cuts it, but for a
    file read in place (``file:<path>``), whose path is cut from the left so the file's
    own name stays.

    >>> _cut_batch("file:/" + "d" * 100 + "/day-040.parquet")[-24:]
    'dddddddd/day-040.parquet'
    >>> len(_cut_batch("file:/" + "d" * 100)), _cut_batch("file:/" + "d" * 100)[:6]
    (80, 'file:…')
    """
    text = str(batch_id)
    if text.startswith(SOURCE_FILE) and len(text) > SHOWN_CHARS and text.isprintable():
        return SOURCE_FILE + "…" + text[-(SHOWN_CHARS - len(SOURCE_FILE) - 1) :]
    return _cut(text)


def _batch_names(run: _Run, seqs: Iterable[int]) -> list[str]:
    """The batches numbered ``seqs`` as a result's details name them (:func:`_cut_batch`
    of their ids; the number itself for a batch the run does not know)."""
    return [_cut_batch(run.batches.get(s, {}).get("batch_id", s)) for s in seqs]


def _cut_keys(counts: Mapping[str, int]) -> dict[str, int]:
    """``counts`` with each long key cut (see :func:`_cut`); counts of
    keys that cut alike add up."""
    out: dict[str, int] = {}
    for key, n in counts.items():
        short = _cut(key)
        out[short] = out.get(short, 0) + n
    return out


def _counter(names: Sequence[str]) -> Callable[[Mapping[str, int]], Sequence[int]]:
    """``counts -> [counts.get(name, 0) for name in names]``, in C for the most part.

    >>> _counter(["a", "b", "c"])({"c": 2, "a": 1})
    (1, 0, 2)
    """
    take = itemgetter(*names)
    zeros = dict.fromkeys(names, 0)

    def counts_of(counts: Mapping[str, int]) -> Sequence[int]:
        try:
            found = take(counts)
        except KeyError:  # some category has no rows here
            found = take({**zeros, **counts})
        return found if len(names) > 1 else (found,)  # one name: a value, not a tuple

    return counts_of


def _smallest(keys: Any, k: int) -> list[int]:
    """Indices of the ``k`` smallest ``keys``, ties in index order: the same as
    ``sorted(range(len(keys)), key=keys.__getitem__)[:k]``, without sorting them all.

    >>> _smallest(np.array([3.0, 1.0, 2.0, 1.0, 0.0]), 3)
    [4, 1, 3]
    """
    candidates = np.arange(keys.size)
    if keys.size > k:  # everything up to the k-th smallest value, ties included
        candidates = np.flatnonzero(keys <= np.partition(keys, k - 1)[k - 1])
    order = np.argsort(keys[candidates], kind="stable")
    chosen: list[int] = candidates[order][:k].tolist()
    return chosen


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _arr(values: Sequence[float]) -> Any:
    return np.asarray(values, dtype=float)
