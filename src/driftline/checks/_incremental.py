"""Incremental checks: summaries kept in the store, computed only where data changed.

A check run on a store (:class:`History`, passed to :func:`driftline.checks.run_checks`)
works in three steps.

1. **Which windows to summarise.** Each stored summary (one per scope x window x cohort
   value, table ``summaries``) records ``seen``, the newest batch its window held when
   it was computed, and the store keeps a *watermark* per summary fingerprint: every
   window holding rows of batches up to it has its summaries stored. A run asks the
   predictions for the windows of the rows of newer batches (``_batch > watermark``; the
   table is appended batch by batch, so DuckDB skips the older row groups) and their
   newest batch, and summarises those whose stored ``seen`` is older, or which have
   none: new days, and old days that received late rows. A window whose late-row count
   (``timestamp_era``) was taken against another "now" and could differ is summarised
   again too. Windows cut by ``since`` / ``until`` are summarised from the rows in range
   and neither stored nor persisted; row-count windows (``window: N rows``), whose keys
   shift with every late row, are always summarised in full and never stored.
2. **Which windows to evaluate.** Results are stored once per window x scope x check x
   column (:meth:`driftline.store.Store.save_run`), with the result fingerprint they
   were decided under and the run whose summaries they were decided from, and once more
   per window as one JSON text (table ``decided``), the form they are read back in. A
   window is evaluated again when it was summarised by this run, its stored results were
   decided under another fingerprint or from other summaries, or a cohort value in
   range has none there (a value first seen later has "no data" results in every
   earlier window); the results of every other window are read back. Each window's
   stats (and so the rolling aggregates) are rebuilt from the stored summaries'
   prediction statistics, which are read without their features.
3. **What a change invalidates.** The *summary fingerprint* hashes what a summary is
   computed from: the spec without its ``checks`` and ``drift`` sections (column roles,
   cohorts, features, window), ``checks.timestamp_tolerance``, and the profile's bin
   edges, ranges, known categories, text vocabularies, score sources and reference
   timestamps. The *result fingerprint* hashes the summary fingerprint, the whole spec
   and the whole profile but the times it (and its thresholds) were fitted at: a refit
   that learns the same profile re-decides nothing. A refit that moves any edge or
   category, or a change of a column role, of the cohorts or of the window, invalidates
   every stored summary (they are dropped on the next store) and so every result; a
   change of a floor, a method or a bound, or a refit that changes only the calibration
   inputs, keeps the summaries and re-evaluates every window from them. ``full=True``
   ignores both and recomputes everything in range; when it stores no results
   (``persist=False``, a dry run), it replaces only the stored summaries that are stale,
   so the next check has nothing more to decide than it had. A stored check's range
   holds what a fresh store would: the results decided there under another result
   fingerprint (the days of a spec whose window is now a week) and the alerts of windows
   left without results are deleted with the run's store (``Store.save_run``); rows
   outside the range are left.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import ibis
import ibis.expr.types as ir

from driftline.checks._results import CheckResult, drift_summary, record
from driftline.checks._scopes import _Scope
from driftline.engine import Engine
from driftline.engine.records import (
    summary_body,
    summary_from_dicts,
    summary_stats_to_dict,
)
from driftline.engine.summaries import OVERALL, window_key
from driftline.errors import StoreError
from driftline.profile import Profile
from driftline.spec import Spec, Window
from driftline.store import Store
from driftline.thresholds import monitored_sources

#: Bumped when the storage form of a summary or a result changes: older ones are then
#: invalid and recomputed.
FORMAT = 1
#: The scope name of the overall scope in the ``summaries`` table (no cohort column is
#: named "").
OVERALL_SCOPE = ""
#: Time windows are keyed by their start in seconds since this (naive UTC) instant.
EPOCH = datetime(1970, 1, 1)


def epoch_seconds(dt: datetime | None) -> int | None:
    """``dt`` (naive UTC) in whole seconds since :data:`EPOCH`; None stays None."""
    return None if dt is None else int((dt - EPOCH).total_seconds())


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprints(spec: Spec, profile: Profile) -> tuple[str, str]:
    """``(summary fingerprint, result fingerprint)`` of a spec and profile (see the
    module docstring for what each covers)."""
    data = spec.model_dump(mode="json")
    if data.get("thresholds") is None:  # unset, it leaves older fingerprints as they were
        data.pop("thresholds", None)
    shape = {k: v for k, v in data.items() if k not in ("checks", "drift", "thresholds")}
    relative = {
        name: edges for name, (edges, _) in monitored_sources(spec, profile.thresholds_).items()
    }
    summary = _digest(
        {
            "format": FORMAT,
            "spec": shape,
            "tolerance": spec.checks.timestamp_tolerance_seconds,
            "edges": profile.bin_edges_,
            "ranges": profile.ranges(),
            # sets, whatever order a fitted or a loaded profile holds them in
            "categories": {c: sorted(v) for c, v in profile.categories_.items()},
            "vocabularies": {
                c: sorted(v.get("vocabulary") or ()) for c, v in profile.text_.items()
            },
            "scores": profile.scores_,
            "timestamps": getattr(profile, "timestamps_", None),
            # the decision thresholds' edges, when chosen (older fingerprints unchanged)
            **({"thresholds": relative} if relative else {}),
        }
    )
    fitted = profile.to_dict()
    fitted.pop("fitted_at", None)  # when, not what: a refit that learns the same keeps it
    if isinstance(fitted.get("thresholds"), dict):
        fitted["thresholds"] = {k: v for k, v in fitted["thresholds"].items() if k != "fitted_at"}
    result = _digest({"summary": summary, "spec": data, "profile": fitted})
    return summary, result


@dataclass
class History:
    """A check run's link to what the store keeps: given to ``run_checks``, which fills
    in what it summarised and evaluated; ``Monitor`` then persists by it."""

    store: Store
    #: recompute every window in range, whatever is stored
    full: bool = False
    #: whether the run's results will be stored: a full run that stores none keeps the
    #: stored summaries that are current (with the run ids the stored results name)
    persist: bool = True
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    summary_fp: str = ""
    result_fp: str = ""
    #: windows whose summaries this run computed and stored
    summarised: list[int] = field(default_factory=list)
    #: windows cut by since / until: summarised from the rows in range, not persisted
    transient: set[int] = field(default_factory=set)
    #: windows whose checks this run decided (the others' results were read back)
    evaluated: set[int] = field(default_factory=set)
    #: per window, the run whose summaries its results are decided from
    summarised_by: dict[int, str] = field(default_factory=dict)
    #: row-count windows: nothing stored, everything evaluated
    rows: bool = False
    #: results read back, per (cohort, cohort value, window), built when asked for
    stored: dict[tuple[str | None, str | None, int], StoredPart] = field(default_factory=dict)
    #: what fetches their results from the store (see StoredTexts)
    texts: StoredTexts | None = None
    #: per cohort column, every value the store's summaries of this fingerprint hold, in
    #: range or not: a check over a range judges them all (a value with no rows in a
    #: window has "no data" results there), as a check over every window does
    values: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Stored:
    """The stored summaries of one fingerprint, without their bodies."""

    records: list[dict[str, Any]]
    #: per window: the oldest ``seen``, the run that computed it, its era bound, ts_max
    seen: dict[int, int]
    run: dict[int, str]
    era_late: dict[int, datetime | None]
    ts_max: dict[int, datetime | None]


def _stored(store: Store, fingerprint: str) -> _Stored:
    table = store.summary_index(fingerprint)
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    records: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    run: dict[int, str] = {}
    era_late: dict[int, datetime | None] = {}
    ts_max: dict[int, datetime | None] = {}
    for scope, w, cv, s, r, late, stats in zip(
        cols["scope"],
        cols["window"],
        cols["cohort_value"],
        cols["seen"],
        cols["run_id"],
        cols["era_late"],
        cols["stats"],
        strict=True,
    ):
        data = json.loads(stats)
        records.append({"scope": scope, "window": w, "cohort_value": cv, "stats": data})
        seen[w] = min(seen.get(w, s), s)
        run[w] = r
        era_late[w] = late
        if data.get("ts_max") is not None:
            t = datetime.fromisoformat(data["ts_max"])
            prev = ts_max.get(w)
            ts_max[w] = t if prev is None else max(prev, t)
    return _Stored(records, seen, run, era_late, ts_max)


def _changed(
    engine: Engine, table: ir.Table, spec: Spec, window: Window, watermark: int
) -> dict[int, int]:
    """The windows of the rows of batches newer than ``watermark``, with the newest
    batch each holds."""
    new = table.filter(table["_batch"] > watermark)
    w = window_key(new, spec, window)
    expr = new.group_by(w=w).aggregate(b=new["_batch"].max())
    return {int(r["w"]): int(r["b"]) for r in engine.run(expr).to_pylist()}


def _ranges(keys: Iterable[int], step: int) -> list[tuple[int, int]]:
    """Contiguous runs of window keys as ``[start, end)`` epoch-second ranges."""
    out: list[tuple[int, int]] = []
    for k in sorted(keys):
        if out and out[-1][1] == k:
            out[-1] = (out[-1][0], k + step)
        else:
            out.append((k, k + step))
    return out


def moment(seconds: int) -> datetime:
    """The time ``seconds`` after the epoch (a window's start or end); the end of the
    last window a timestamp can fall in (year 10000) is the last time Python holds."""
    return EPOCH + timedelta(seconds=min(seconds, _LAST))


#: seconds from the epoch to the last time Python can hold (9999-12-31 23:59:59)
_LAST = int((datetime(9999, 12, 31, 23, 59, 59) - datetime(1970, 1, 1)).total_seconds())


def rows_between(t: ir.Table, spec: Spec, spans: Sequence[tuple[datetime, datetime]]) -> ir.Table:
    """The rows of ``t`` in the given ``[start, end)`` timestamp ranges (on the
    timestamp, so DuckDB prunes row groups by their min/max)."""
    ts = t[spec.timestamp]
    return t.filter(ibis.or_(*((ts >= a) & (ts < b) for a, b in spans)))


@dataclass
class Plan:
    """What one incremental run summarises and what it reads back."""

    #: the rows to summarise (None: nothing to summarise)
    rows: ir.Table | None
    #: their timestamp ranges ``[start, end)``
    spans: list[tuple[datetime, datetime]]
    #: windows to store the summaries of, and the newest batch each holds
    store: dict[int, int]
    stored: _Stored
    #: the watermark after this run, and before it
    watermark: int | None
    previous: int | None


def plan(
    engine: Engine,
    table: ir.Table,
    t: ir.Table,
    spec: Spec,
    window: Window,
    history: History,
    lo: datetime | None,
    hi: datetime | None,
    era_late: datetime | None,
) -> Plan:
    """Which windows of ``t`` (``table`` in ``[lo, hi)``) this run summarises."""
    step = window.seconds
    assert step is not None
    store = history.store
    stored = _Stored([], {}, {}, {}, {})
    before = store.summary_watermark(history.summary_fp)
    watermark = None
    if not history.full:
        stored = _stored(store, history.summary_fp)
        watermark = before
    # a full run redoes the windows in range only (the others keep what they have)
    source = t if history.full else table
    changed = _changed(engine, source, spec, window, -1 if watermark is None else watermark)
    lo_s, hi_s = epoch_seconds(lo), epoch_seconds(hi)

    def full_in_range(w: int) -> bool:
        return (lo_s is None or w >= lo_s) and (hi_s is None or w + step <= hi_s)

    todo = _stale(changed, stored, era_late)
    keep = {w: b for w, b in todo.items() if full_in_range(w)}
    # every window with rows of older batches is stored once nothing is left to do
    # outside the range (else the watermark stays, and the rest is done by a later run)
    top_batch = max(changed.values(), default=watermark)
    advance = top_batch if len(keep) == len(todo) else watermark
    if history.full and (lo is not None or hi is not None):
        advance = before  # windows out of range were not looked at
    cut = set()
    for edge in (lo_s, hi_s):
        if edge is not None and edge % step:
            cut.add(edge // step * step)
    history.transient = cut
    spans = [(moment(a), moment(b)) for a, b in _ranges([*keep, *cut], step)]
    rows = rows_between(t, spec, spans) if spans else None
    if history.full and not history.persist:
        # everything in range is summarised again, but only the summaries whose stored
        # ones are stale replace them: a current one is the same, and replacing it would
        # make the next check decide its window again (its stored results name the run
        # that made the stored summary)
        stale = _stale(keep, _stored(store, history.summary_fp), era_late)
        keep = {w: b for w, b in keep.items() if w in stale}
    return Plan(rows, spans, keep, stored, advance, before)


def _stale(
    changed: Mapping[int, int], stored: _Stored, era_late: datetime | None
) -> dict[int, int]:
    """The windows of ``changed`` (each with its newest batch) whose ``stored`` summaries
    are older or missing, and those whose late-row count was taken against another
    "now" and could differ, with the batch each is summarised up to."""
    todo = {w: b for w, b in changed.items() if b > stored.seen.get(w, -1)}
    for w, bound in stored.era_late.items():  # counted against another "now"
        top = stored.ts_max.get(w)
        if top is None or bound is None or era_late is None or bound == era_late:
            continue
        if top > min(bound, era_late):
            todo.setdefault(w, stored.seen[w])
    return todo


def records(scopes: Sequence[_Scope], spec: Spec) -> list[tuple[str, int, str, Any, Any]]:
    """The storage rows ``(scope, window, cohort value, stats, body)`` of freshly
    computed scopes (overall, then one per cohort column): the raw scopes, and with
    cohorts the overall quantiles (the overall scope is merged from the first cohort
    column's)."""
    out: list[tuple[str, int, str, Any, Any]] = []
    if not scopes:
        return out
    raw = scopes[1:] if spec.cohorts else scopes
    for scope in raw:
        name = OVERALL_SCOPE if scope.cohort is None else scope.cohort
        for key, s in scope.summaries.items():
            stats = summary_stats_to_dict(s)
            stats["classes"] = scope.classes.get(key, {})
            body = summary_body(s)
            body["batches"] = {str(b): n for b, n in scope.batches.get(key, {}).items()}
            body["cats"] = scope.cats.get(key, {})
            body["unseen"] = scope.unseen.get(key, {})
            out.append((name, key[0], key[1], stats, body))
    if spec.cohorts:
        for (w, _), s in scopes[0].summaries.items():
            out.append((OVERALL_SCOPE, w, OVERALL, {"conf_q": s.conf_q}, None))
    return out


def save(
    history: History,
    scopes: Sequence[_Scope],
    spec: Spec,
    plan: Plan,
    era_late: datetime | None,
) -> None:
    """Store the summaries of the windows ``plan`` summarised for keeping."""
    rows = []
    for scope, w, cv, stats, body in records(scopes, spec):
        if w not in plan.store:
            continue
        rows.append(
            {
                "scope": scope,
                "window": w,
                "cohort_value": cv,
                "fingerprint": history.summary_fp,
                "seen": plan.store[w],
                "run_id": history.run_id,
                "era_late": era_late,
                "stats": json.dumps(stats),
                "body": None if body is None else json.dumps(body),
            }
        )
    history.store.save_summaries(history.summary_fp, rows, list(plan.store), plan.watermark)
    history.summarised = sorted(plan.store)


def assemble(
    spec: Spec,
    fresh: Sequence[_Scope] | None,
    plan: Plan,
    bodies: Mapping[Any, Any],
    keys: set[int],
) -> tuple[list[_Scope], dict[int, list[float]]]:
    """The raw scopes over the windows ``keys``: fresh where summarised, stored (with
    their bodies where given) elsewhere; and the overall quantiles per window."""
    raw: dict[str, _Scope] = {}
    names: list[str | None] = [*spec.cohorts] or [None]
    for name in names:
        raw[OVERALL_SCOPE if name is None else name] = _Scope(name, {}, {}, {}, {}, {})
    quantiles: dict[int, list[float]] = {}
    for rec in plan.stored.records:
        w, cv, scope = rec["window"], rec["cohort_value"], rec["scope"]
        if w not in keys or w in plan.store:
            continue
        if spec.cohorts and scope == OVERALL_SCOPE:
            quantiles[w] = rec["stats"]["conf_q"]
            continue
        target = raw.get(scope)
        if target is None:
            continue
        body = bodies.get((scope, w, cv))
        key = (w, cv)
        target.summaries[key] = summary_from_dicts(w, cv, rec["stats"], body)
        target.classes[key] = dict(rec["stats"].get("classes") or {})
        if body is not None:
            target.batches[key] = {int(b): n for b, n in body["batches"].items()}
            target.cats[key] = body["cats"]
            target.unseen[key] = body["unseen"]
    if fresh is not None:
        for scope in fresh[1:] if spec.cohorts else fresh:
            target = raw[OVERALL_SCOPE if scope.cohort is None else scope.cohort]
            target.summaries.update(scope.summaries)
            target.classes.update(scope.classes)
            target.batches.update(scope.batches)
            target.cats.update(scope.cats)
            target.unseen.update(scope.unseen)
        if spec.cohorts:
            for (w, _), s in fresh[0].summaries.items():
                if s.conf_q is not None:
                    quantiles[w] = s.conf_q
    return list(raw.values()), quantiles


def read_bodies(history: History, windows: Sequence[int]) -> dict[tuple[str, int, str], Any]:
    if not windows:
        return {}
    table = history.store.summary_bodies(history.summary_fp, windows)
    out: dict[tuple[str, int, str], Any] = {}
    for scope, w, cv, body in zip(
        *(table.column(n).to_pylist() for n in ("scope", "window", "cohort_value", "body")),
        strict=True,
    ):
        if body is not None:
            out[(scope, w, cv)] = json.loads(body)
    return out


#: The fields of a result in its ``decided`` form (its window's are stored once).
_DECIDED = (
    "cohort",
    "cohort_value",
    "check",
    "column",
    "method",
    "value",
    "effect",
    "bound",
    "bound_how",
    "status",
    "n",
    "details",
    "floor",
    "floor_how",
    "decided_by",
)


def decided_rows(
    results: Iterable[CheckResult], keep: set[int], history: History, run_id: str
) -> list[dict[str, Any]]:
    """The ``decided`` table's rows of the windows ``keep``: per window, one text read
    back by :func:`read_results`, two JSON documents on two lines. The first is the
    window's digest: its bounds and, per scope and cohort value in report order, the
    count per status, the drift summary (:func:`driftline.checks._results.drift_summary`)
    and the alerting results; the second holds every result. A check reads the digests of
    the windows it does not decide again, and the second line only when their results are
    asked for (see :class:`driftline.checks._results.Deferred`)."""
    per: dict[int, dict[tuple[str | None, str | None], list[CheckResult]]] = defaultdict(dict)
    for r in results:
        if r.window in keep:
            per[r.window].setdefault((r.cohort, r.cohort_value), []).append(r)
    out = []
    for w, groups in per.items():
        head = next(iter(groups.values()))[0]
        scopes = []
        rows: list[list[Any]] = []
        for (cohort, value), rs in groups.items():
            counts = Counter(r.status for r in rs)
            alerting = [_row(r) for r in rs if r.status == "alert"]
            scopes.append([cohort, value, dict(counts), drift_summary(rs), alerting])
            rows.extend(_row(r) for r in rs)
        # the newest labels batch the window's performance saw (see
        # driftline.checks._performance_checks.relabelled): a later one re-decides it
        seen = [
            int(r.details.get("labels_batch", -1) or -1)
            for r in groups.get((None, None), ())
            if r.check == "performance_estimate"
        ]
        digest = {
            "start": head.window_start,
            "end": head.window_end,
            "scopes": scopes,
            "labels_batch": max(seen, default=-1),
        }
        head_line = _dumps(digest)
        out.append(
            {
                "window": w,
                "fingerprint": history.result_fp,
                "summarised_by": history.summarised_by.get(w, run_id),
                "run_id": run_id,
                "results": head_line + "\n" + _dumps(rows),
                "digest": head_line,  # read without the results (Store.decided, line 1)
            }
        )
    return out


def _dumps(data: Any) -> str:
    # one line: a string's line break is escaped, so "\n" parts the two documents
    return json.dumps(data, default=str, separators=(",", ":"))


def _row(r: CheckResult) -> list[Any]:
    return [getattr(r, name) for name in _DECIDED]


def _result(window: int, start: str, end: str, row: Sequence[Any]) -> CheckResult:
    return record(CheckResult, (window, start, end, *row))


@dataclass
class StoredPart:
    """The stored results of one window x scope x cohort value, from its window's digest:
    the count per status, the drift summary and the alerting results; ``build`` returns
    every result (decoding the window's results once, on first use)."""

    counts: Counter[str]
    drift: list[dict[str, Any]]
    alerts: list[CheckResult]
    build: Callable[[], list[CheckResult]]
    labels_batch: int = -1
    """The newest labels batch the window's performance results saw (-1: none)."""


class StoredTexts:
    """The second lines (every result) of the stored texts of a run's read-back windows,
    fetched from the store when first asked for, one query per request. ``fetch()``
    without windows fetches every one still pending: ``Monitor`` calls it before the
    ``decided`` table changes or the store closes, so a report's results stay those it
    read back, whenever they are built."""

    def __init__(self, store: Store, fingerprint: str, summarised_by: dict[int, str]) -> None:
        self.store, self.fingerprint = store, fingerprint
        self.pending = dict(summarised_by)  # not fetched yet
        self.texts: dict[int, str] = {}

    def fetch(self, windows: Collection[int] | None = None) -> None:
        wanted = dict(self.pending)
        if windows is not None:
            wanted = {w: run for w, run in wanted.items() if w in windows}
        if not wanted:
            return
        table = self.store.decided(self.fingerprint, wanted, line=2)
        got = table.column("window").to_pylist()
        self.texts.update(zip(got, table.column("results").to_pylist(), strict=True))
        for w in wanted:
            del self.pending[w]
        if len(got) != len(wanted):
            lost = sorted(set(wanted) - set(got))[:5]
            raise StoreError(
                f"the stored results of windows {lost} changed after this report read "
                "them back; run the check again for a report of what the store holds now."
            )

    def text(self, window: int) -> str:
        self.fetch((window,))
        return self.texts.pop(window)


class _StoredWindow:
    """One window's stored results, decoded on first use."""

    def __init__(self, window: int, start: str, end: str, texts: StoredTexts) -> None:
        self.window, self.start, self.end, self.texts = window, start, end, texts
        self.groups: dict[tuple[str | None, str | None], list[CheckResult]] | None = None

    def results(self, cohort: str | None, value: str | None) -> list[CheckResult]:
        if self.groups is None:
            groups: dict[tuple[str | None, str | None], list[CheckResult]] = defaultdict(list)
            w, start, end = self.window, self.start, self.end
            for row in json.loads(self.texts.text(w)):
                groups[(row[0], row[1])].append(_result(w, start, end, row))
            self.groups = dict(groups)
        return list(self.groups.get((cohort, value), ()))


def read_results(
    history: History, summarised_by: dict[int, str]
) -> tuple[dict[tuple[str | None, str | None, int], StoredPart], StoredTexts]:
    """The stored results of the windows of ``summarised_by`` decided under the result
    fingerprint from the summaries of the run it names, per (cohort, cohort value,
    window), in their order: each window's digest is read, its results are fetched and
    decoded when first built (see :func:`decided_rows`); and what fetches them. A window
    stored in the earlier one-document form is left out, so it is decided again (and
    stored in this form)."""
    out: dict[tuple[str | None, str | None, int], StoredPart] = {}
    texts = StoredTexts(history.store, history.result_fp, {})
    if not summarised_by:
        return out, texts
    table = history.store.decided(history.result_fp, summarised_by, line=1)
    for w, first in zip(
        table.column("window").to_pylist(), table.column("results").to_pylist(), strict=True
    ):
        digest = json.loads(first)
        if "scopes" not in digest:
            continue  # the one-document form
        start, end = digest["start"], digest["end"]
        texts.pending[w] = summarised_by[w]
        stored = _StoredWindow(w, start, end, texts)
        for cohort, value, counts, drift, alerting in digest["scopes"]:
            out[(cohort, value, w)] = StoredPart(
                Counter(counts),
                drift,
                [_result(w, start, end, row) for row in alerting],
                partial(stored.results, cohort, value),
                int(digest.get("labels_batch", -1)),
            )
    return out, texts
