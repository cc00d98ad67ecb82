"""Plan -> engine summaries -> methods -> typed results and alerts.

:data:`CHECKS` is the one table of check names; the spec's ``checks.floors.checks`` and
``checks.fixed_bounds``, the CLI and the docs all read it.
Each check is one small function registered under its name
(:func:`driftline.checks._registry.check`), receiving the run's resolved context and one
window x cohort value's typed summaries (:mod:`driftline.checks._context`) and returning
typed results; the evaluator calls them in a fixed order.

The decision rule is honest at any window size, on two levels. Each check's bound is the
``alert_quantile`` (default 0.999) of its statistic under no drift, simulated from the
reference at the window's size *and* the reference's size (both are samples): beyond it,
a result *warns* (the change is real at this window size). It *alerts* when its effect is
also beyond the materiality floor (``spec.checks.floors``, defaults per method in
:data:`driftline._catalog.DEFAULT_FLOORS`), so a trivial shift on a million rows does
not alert. ``fixed_bounds`` replaces the calibration for a check. Every result carries
the value, the effect, the calibrated bound, the floor, where each was set, and which of
the two decided.

A check visits only the windows that hold rows, so its cost follows the rows, not the
time span they cover; the empty stretches between them are reported as compact ranges
(:attr:`CheckReport.gaps`). Rows dated before the reference's first timestamp, or after
the time of the check, by more than ``checks.timestamp_tolerance``, are a
``timestamp_era`` result of their own, naming the first ids.
"""

from __future__ import annotations

import gc
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from functools import partial
from itertools import pairwise
from typing import Any

import ibis.expr.types as ir

from driftline._catalog import DEFAULT_FLOORS
from driftline.checks import _incremental, _performance_checks
from driftline.checks._compiled import Queries, inputs_digest, over_stored_table
from driftline.checks._embedding_checks import bases_of, embedding_results
from driftline.checks._evaluate import _cut, _Evaluator
from driftline.checks._incremental import History, fingerprints
from driftline.checks._registry import CHECKS, DRIFT_CHECKS, CheckInfo
from driftline.checks._results import (
    Alert,
    CheckReport,
    CheckResult,
    Deferred,
    Part,
    WindowStats,
    alert_id,
    defer,
    drift_summary,
)
from driftline.checks._scopes import _all_scopes, _merge_overall, _Scope
from driftline.engine import Engine
from driftline.engine.performance import label_watermark as performance_label_watermark
from driftline.engine.records import WindowSummary
from driftline.engine.summaries import OTHER, OVERALL, era_rows
from driftline.errors import ConfigError, EmptyWindowError, shorten
from driftline.methods import Calibration
from driftline.methods.moments import Moments, merge_moments
from driftline.profile import CohortBaseline, Profile
from driftline.spec import Spec, Window
from driftline.store import Store

__all__ = [
    "CHECKS",
    "DRIFT_CHECKS",
    "Alert",
    "CheckInfo",
    "CheckReport",
    "CheckResult",
    "History",
    "Moments",
    "WindowStats",
    "alert_id",
    "gaps",
    "merge_moments",
    "run_checks",
]


def _ts(value: datetime | date | str | None, name: str = "since") -> datetime | None:
    """A time bound as naive UTC; ``name`` (the option or argument) is named when
    ``value`` is not an ISO-8601 date or time."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            reason = str(exc)
            why = f" ({reason})" if text not in reason else ""
            raise ConfigError(
                f"{name} {shorten(text)} is not an ISO-8601 date or time{why}; use e.g. "
                "'2024-05-01' or '2024-05-01T12:00:00Z' (UTC unless an offset is given)."
            ) from exc
    elif not isinstance(value, datetime):
        if not isinstance(value, date):
            raise ConfigError(
                f"{name} must be a datetime, a date or an ISO-8601 string such as "
                f"'2024-05-01'; got {type(value).__name__}."
            )
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _iso(dt: datetime) -> str:
    return dt.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def _window_bounds(window: Window, key: int, stat: WindowSummary | None) -> tuple[str, str]:
    if window.seconds is not None:
        start, end = _incremental.moment(key), _incremental.moment(key + window.seconds)
        return _iso(start), _iso(end)
    assert stat is not None
    assert stat.ts_min is not None
    assert stat.ts_max is not None
    return _iso(stat.ts_min), _iso(stat.ts_max)


def run_checks(
    engine: Engine,
    table: ir.Table,
    spec: Spec,
    profile: Profile,
    *,
    batches: Sequence[Mapping[str, Any]] = (),
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    calibrations: MutableMapping[str, Calibration] | None = None,
    now: datetime | None = None,
    history: History | None = None,
    labels: ir.Table | None = None,
) -> CheckReport:
    """Run every check per window and cohort value over ``[since, until)``.

    ``calibrations`` is a cache of alert-bound calibrations (see ``_Bounds``); new ones
    are added to it. ``now`` (default: the current time) is the time of the check, which
    the ``timestamp_era`` check measures "later than now" from. ``history`` (a DuckDB
    store's, see :mod:`driftline.checks._incremental`) makes the run incremental: it
    summarises only the windows whose data changed, storing their summaries, and reads
    back the stored results of the windows it need not evaluate again; without it every
    window is summarised and evaluated. ``labels`` (the labels table, on the same engine)
    adds the performance checks (:mod:`driftline.checks._performance_checks`) when the
    profile holds a labelled holdout's baseline; an incremental run then also evaluates
    again the windows whose predictions newer labels batches label.
    """
    profile.check_is_fitted()
    window = spec.window_parsed
    lo, hi = _ts(since, "since"), _ts(until, "until")
    t = table
    ts = t[spec.timestamp]
    if lo is not None:
        t = t.filter(ts >= lo)
    if hi is not None:
        t = t.filter(ts < hi)
    counted = engine.run(t.aggregate(n=t.count(), k=ts.count(), a=ts.min(), b=ts.max()))
    span = counted.to_pylist()[0]
    # rows with no timestamp: the role names a column their batches did not bring (it
    # moved since). They are in no window: left out, and counted in the report. Only
    # without since/until: their bounds already leave such rows out of ``t``
    untimed = int(span["n"] - span["k"])
    if untimed:
        table = t = table.filter(table[spec.timestamp].notnull())
        ts = t[spec.timestamp]
        span["n"] = span["k"]
    if not span["n"]:
        whole = engine.run(table.aggregate(a=ts.min(), b=ts.max(), n=table.count())).to_pylist()[0]
        held = (
            f"the store holds {whole['n']} predictions from {whole['a']} to {whole['b']}"
            if whole["n"]
            else "the store holds no predictions yet"
        )
        raise EmptyWindowError(
            f"no predictions between {lo or 'the start'} and {hi or 'the end'}; {held}. "
            "Widen --since/--until, or log predictions first."
        )
    now = datetime.now(timezone.utc) if now is None else now
    if now.tzinfo is None:  # naive: UTC, as every stored timestamp
        now = now.replace(tzinfo=timezone.utc)
    era = _era(spec, profile, now)
    evaluated: set[int] | None = None
    stored: dict[tuple[str | None, str | None, int], _incremental.StoredPart] = {}
    # the store ``table`` and ``labels`` are the tables of: it keeps what logging knows
    # of labels (their ids without a prediction, the batches they label)
    own = None
    if (
        history is not None
        and labels is not None
        and over_stored_table(table, "predictions")
        and over_stored_table(labels, "labels")
    ):
        own = history.store
    if history is not None and window.seconds is not None:
        scopes, evaluated = _incremental_scopes(
            engine, table, t, spec, profile, window, era, lo, hi, history, labels, own
        )
        stored = history.stored
    else:
        scopes = _all_scopes(engine, t, spec, profile, window, era)
    keys = _window_keys(window, scopes[0])
    if history is not None and evaluated is None:  # row windows: everything, nothing kept
        if not history.summary_fp:  # the results are stored under it all the same
            history.summary_fp, history.result_fp = fingerprints(spec, profile)
        history.rows = True
        history.evaluated = set(keys)
        history.summarised_by = dict.fromkeys(keys, history.run_id)
    batch_meta = {int(b["seq"]): b for b in batches}
    evaluator = _Evaluator(spec, profile, window, batch_meta, calibrations)
    evaluator.era = era
    decided = scopes[0]
    if evaluated is not None:
        decided = _Scope(
            None, {k: v for k, v in decided.summaries.items() if k[0] in evaluated}, {}, {}, {}, {}
        )
    evaluator.era_ids = _era_ids(engine, t, spec, window, era, decided)
    stats: list[WindowStats] = []
    # the results in report order, per window x scope x cohort value: decided by this
    # run, or read back and built only when asked for (see Deferred)
    parts: list[Part] = []
    counts: Counter[str] = Counter()
    alerts: list[Alert] = []
    drift: list[dict[str, Any]] = []
    deferred = False
    # a window's bounds come from the overall scope: a row-count window may hold no row
    # of some cohort value, and its bounds are the same for every cohort value anyway
    evaluator.spans = {
        w: _window_bounds(window, w, scopes[0].summaries.get((w, OVERALL))) for w in keys
    }
    performance: dict[tuple[str | None, str | None, int], list[CheckResult]] = {}
    label_info: dict[str, Any] = {}
    if labels is not None and _performance_checks.baseline_of(profile) is not None:
        performance = _performance(
            engine, t, labels, spec, profile, window, evaluator, evaluated, own
        )
        # the store keeps its labelled ids without a prediction: read, not joined again
        label_info = _performance_checks.label_report(engine, table, labels, spec, profile, own)
    elif labels is not None:
        label_info = _performance_checks.unjudged(engine, labels, spec)
    # every (scope, cohort value) in report order, judged a group at a time: the group's
    # evaluators are made first and every bound any of them needs is calibrated at once
    # (one set of threads for their simulations), and only a group's evaluators are
    # alive at once (each holds its baseline's reference counts)
    known = history.values if history is not None else {}
    judged = [
        (scope, cv)
        for scope in scopes
        for cv in sorted(
            {cv for _, cv in scope.summaries}
            | (known.get(scope.cohort, set()) if scope.cohort is not None else set())
        )
    ]
    with _collector_paused():
        for start in range(0, len(judged), _JUDGED_AT_ONCE):
            group = judged[start : start + _JUDGED_AT_ONCE]
            judges = [
                (evaluator, None)
                if scope.cohort is None
                else _judge(evaluator, profile, scope.cohort, cv)
                for scope, cv in group
            ]
            evaluator.bounds.prefetch(
                [
                    want
                    for (scope, _), (judge, _) in zip(group, judges, strict=True)
                    for want in judge.wanted(scope)
                ]
            )
            for (scope, cv), (judge, baseline) in zip(group, judges, strict=True):
                past: list[tuple[int, Moments]] = []
                cvalue = None if scope.cohort is None else cv
                for w in keys:
                    decide = evaluated is None or w in evaluated
                    st, res = judge.evaluate(scope, w, cv, past, decide=decide)
                    stats.append(st)
                    if not decide:
                        part = stored.get((scope.cohort, cvalue, w))
                        if part is not None:
                            parts.append((w, part.build))
                            counts.update(part.counts)
                            alerts.extend(_alert(r) for r in part.alerts)
                            drift.extend(part.drift)
                            deferred = True
                        continue
                    res = list(res)
                    res.extend(performance.get((scope.cohort, cvalue, w), ()))
                    if baseline is not None and st.n:
                        whole = scopes[0].summaries.get((w, OVERALL))
                        share = st.n / max(whole.n if whole else 0, st.n)
                        res.append(judge.baseline_result(st, baseline, share))
                    parts.append((w, res))
                    counts.update(r.status for r in res)
                    alerts.extend(_alert(r) for r in res if r.status == "alert")
                    drift.extend(drift_summary(res))
    # embeddings are judged on capped samples the engine draws per window (not summaries)
    decided_keys = [w for w in keys if evaluated is None or w in evaluated]
    read_back = [w for w in keys if evaluated is not None and w not in evaluated]
    embedded, view = embedding_results(
        engine, t, spec, profile, evaluator.run, window, decided_keys, bases_of(stats), read_back
    )
    by_window: dict[int, list[CheckResult]] = defaultdict(list)
    for r in embedded:
        by_window[r.window].append(r)
    for w, res in sorted(by_window.items()):
        parts.append((w, res))
        counts.update(r.status for r in res)
        alerts.extend(_alert(r) for r in res if r.status == "alert")
        drift.extend(drift_summary(res))
    texts = None if history is None else history.texts
    results = Deferred(parts, counts, None if texts is None else texts.fetch)
    _view_statuses(view, results, spec)
    report = CheckReport(
        run_id=history.run_id if history is not None else uuid.uuid4().hex,
        created_at=_iso(now.replace(tzinfo=None, microsecond=0)),
        window=window.label,
        since=_iso(lo) if lo else None,
        until=_iso(hi) if hi else None,
        plan=plan(spec),
        stats=stats,
        results=[] if deferred else results.build(),
        alerts=alerts,
        drift=drift,
        reference=reference_excerpt(profile),
        gaps=gaps(window, keys, lo, hi),
        labels=label_info,
        embeddings=view,
        untimed=untimed,
    )
    return defer(report, results) if deferred else report


def _view_statuses(view: dict[str, Any], results: Deferred, spec: Spec) -> None:
    """Fill the per-class statuses of the embedding view's windows whose results were
    read back (``embedding_results`` drew their points only), from those results."""
    empty = {v["window"]: v for v in view.get("windows") or [] if not v["status"]}
    if not empty:
        return
    prefix = f"{spec.embedding}:"
    for r in results.build(set(empty)):
        column = r.column or ""
        if r.check == "embedding_drift" and r.cohort is None and column.startswith(prefix):
            empty[r.window]["status"][column[len(prefix) :]] = r.status


def _performance(
    engine: Engine,
    t: ir.Table,
    labels: ir.Table,
    spec: Spec,
    profile: Profile,
    window: Window,
    evaluator: _Evaluator,
    evaluated: set[int] | None,
    store: Store | None = None,
) -> dict[tuple[str | None, str | None, int], list[CheckResult]]:
    """The performance checks' results of the windows this run evaluates (every window
    of ``t`` when ``evaluated`` is None), from one engine query over their rows. With
    the ``store`` the tables are of, only the labels batches that label those rows'
    batches are read (:meth:`Store.labels_batches_between`)."""
    rows = t
    label_batches = None
    if evaluated is not None:
        if not evaluated:
            return {}
        step = window.seconds
        assert step is not None
        ranges = _incremental._ranges(evaluated, step)
        spans = [(_incremental.moment(a), _incremental.moment(b)) for a, b in ranges]
        rows = _incremental.rows_between(t, spec, spans)
        if store is not None:
            label_batches = store.labels_batches_between(spans)
    watermark = performance_label_watermark(engine, labels)
    return _performance_checks.performance_results(
        engine,
        rows,
        labels,
        spec,
        profile,
        window,
        evaluator.spans,
        evaluated,
        watermark,
        label_batches,
    )


def _incremental_scopes(
    engine: Engine,
    table: ir.Table,
    t: ir.Table,
    spec: Spec,
    profile: Profile,
    window: Window,
    era: tuple[datetime | None, datetime | None],
    lo: datetime | None,
    hi: datetime | None,
    history: History,
    labels: ir.Table | None = None,
    own: Store | None = None,
) -> tuple[list[_Scope], set[int]]:
    """Every scope over the windows in ``[lo, hi)``: the windows whose data changed
    summarised (and their summaries stored), the others read from the store; and the
    windows to evaluate (the others' results are read back into ``history.stored``).
    See :mod:`driftline.checks._incremental`."""
    if not history.summary_fp:
        history.summary_fp, history.result_fp = fingerprints(spec, profile)
    step = window.seconds
    assert step is not None
    todo = _incremental.plan(engine, table, t, spec, window, history, lo, hi, era[1])
    fresh = None
    if todo.rows is not None:
        queries = None
        # every run the same queries but for the bounds, over the same table; kept from
        # the second run under this fingerprint on (making a template costs a compile
        # more, which the first run over a store, often its only one, would pay in vain)
        if lo is None and hi is None and over_stored_table(table) and todo.previous is not None:
            queries = Queries(
                engine,
                todo.rows,
                era,
                store=history.store,
                fingerprint=history.summary_fp,
                rows_in=partial(_incremental.rows_between, t, spec),
                spans=todo.spans,
                inputs=inputs_digest(spec, profile),
            )
        fresh = _all_scopes(engine, todo.rows, spec, profile, window, era, queries)
    if todo.store or todo.watermark != todo.previous:
        _incremental.save(history, fresh or [], spec, todo, era[1])
    lo_s, hi_s = _incremental.epoch_seconds(lo), _incremental.epoch_seconds(hi)
    new = {w for (w, _) in fresh[0].summaries} if fresh is not None else set()
    kept = {
        w
        for w in todo.stored.run
        if w not in new
        and w not in history.transient
        and (lo_s is None or w >= lo_s)
        and (hi_s is None or w + step <= hi_s)
    }
    history.summarised_by = {w: todo.stored.run[w] for w in kept}
    history.summarised_by.update(dict.fromkeys(new, history.run_id))
    if not history.full:
        history.stored, history.texts = _incremental.read_results(
            history, {w: todo.stored.run[w] for w in kept}
        )
    raw, quantiles = _incremental.assemble(spec, fresh, todo, {}, kept)
    history.values = defaultdict(set)
    for rec in todo.stored.records:
        if rec["scope"] != _incremental.OVERALL_SCOPE:
            history.values[rec["scope"]].add(rec["cohort_value"])
    for scope in raw:
        if scope.cohort is not None:
            history.values[scope.cohort].update(cv for (_, cv) in scope.summaries)
    # a window is read back only if every cohort value the store knows has its results
    # there (a value first seen later has "no data" results in every earlier window)
    read_back = {w for (_, _, w) in history.stored}
    for scope in raw:
        values = history.values.get(scope.cohort or "", {cv for (_, cv) in scope.summaries})
        for w in list(read_back):
            if any((scope.cohort, cv, w) not in history.stored for cv in values):
                read_back.discard(w)
    if spec.cohorts:  # the overall scope, present in every window
        read_back = {w for w in read_back if (None, None, w) in history.stored}
    if labels is not None and _performance_checks.baseline_of(profile) is not None:
        # a labels batch changes the performance of the windows of the ids it labels
        read_back -= _performance_checks.relabelled(
            engine, table, labels, spec, window, history.stored, read_back, own
        )
    evaluate = (kept | new) - read_back
    bodies = _incremental.read_bodies(history, sorted(evaluate - new))
    if bodies:
        raw, quantiles = _incremental.assemble(spec, fresh, todo, bodies, kept)
    history.evaluated = evaluate
    if spec.cohorts:
        return [_merge_overall(raw[0], quantiles), *raw], evaluate
    return raw, evaluate


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for the block, as it was before after it.

    Evaluating a wide table allocates a quarter of a million results, none of them part
    of a reference cycle; each of the collector's full passes, triggered as they pile up,
    walks every object the process holds, and together they took about half of the
    evaluation's time on 1,000 features. Cycles made meanwhile are collected later.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: (scope, cohort value) pairs whose evaluators are made, and whose bounds are
#: calibrated together, at once (see :func:`run_checks`)
_JUDGED_AT_ONCE = 16


def _judge(
    overall: _Evaluator, profile: Profile, cohort: str, value: str
) -> tuple[_Evaluator, CohortBaseline | None]:
    """The evaluator a cohort value is judged by: one against its own baseline, bounds
    calibrated at its own reference size (columns it holds no reference value of judged
    against the overall reference); or, with the reason, the overall one."""
    baseline = profile.cohort_baseline(cohort, value, overall.spec.checks.cohort_baseline_min_rows)
    if baseline.profile is None:
        return overall, baseline
    own = _Evaluator(
        overall.spec,
        baseline.profile,
        overall.window,
        overall.batches,
        overall.bounds.cache,
        only=value,
        prior=profile,
        kept=overall.bounds.kept,
    )
    own.era, own.era_ids, own.spans = overall.era, overall.era_ids, overall.spans
    own.lend(overall)
    return own, None


def reference_excerpt(profile: Profile, max_categories: int = 50) -> dict[str, Any]:
    """What renderers need of the reference: bins, top categories, class mixes."""
    cats = {}
    for col, counts in profile.categories_.items():
        top_items = sorted(counts.items(), key=lambda kv: -kv[1])[:max_categories]
        rest = sum(counts.values()) - sum(v for _, v in top_items)
        rest += int(profile.columns_.get(col, {}).get("other", 0))
        shown: dict[str, int] = {}
        for value, n in top_items:  # a long category is cut, as in every result
            shown[_cut(value)] = shown.get(_cut(value), 0) + n
        cats[col] = {**shown, OTHER: rest}
    return {
        "n_rows": profile.n_rows_,
        "columns": profile.columns_,
        "bin_edges": profile.bin_edges_,
        "bin_counts": profile.bin_counts_,
        "categories": cats,
        "confidence": profile.confidence_,
        "predicted_mix": profile.predicted_mix_,
        "class_prior": profile.class_prior_,
        "text_features": {c: v["features"] for c, v in profile.text_.items()},
        # the decision thresholds chosen on the holdout, with their gain and curves
        "thresholds": profile.thresholds_.to_dict() if profile.thresholds_ else None,
    }


def plan(spec: Spec) -> dict[str, Any]:
    """The resolved plan, echoed in every report."""
    cfg = spec.checks
    return {
        "window": spec.window_parsed.label,
        "cohorts": list(spec.cohorts),
        "alert_quantile": cfg.alert_quantile,
        "confirm_quantile": cfg.confirm_at,
        "calibration_reps": cfg.calibration_reps,
        "seed": cfg.seed,
        "min_rows": cfg.min_rows,
        "cohort_baseline_min_rows": cfg.cohort_baseline_min_rows,
        "rolling_windows": cfg.rolling_windows,
        # the floors every result is decided with (defaults merged with the spec's)
        "floors": cfg.floors.applied(),
        "drift": {
            "numeric": spec.drift.numeric,
            "categorical": spec.drift.categorical,
            "text": spec.drift.text,
            "by_column": dict(spec.drift.by_column),
            "bins": spec.drift.bins,
        },
        "embeddings": spec.embeddings.model_dump(),
        "checks": {
            name: {
                "method": info.method,
                "floor": cfg.floors.resolve(name, info.method, None)[0]
                if info.method in DEFAULT_FLOORS or name in cfg.floors.checks
                else None,
                "fixed_bound": cfg.fixed_bounds.get(name),
                "description": info.description,
            }
            for name, info in CHECKS.items()
        },
    }


def _window_keys(window: Window, overall: _Scope) -> list[int]:
    """The windows that hold data, in order: a check's cost follows its rows, not the
    time span they cover (a stray row in 1970 adds one window, not 20,000)."""
    return sorted({w for (w, _) in overall.summaries})


def gaps(
    window: Window, keys: Sequence[int], lo: datetime | None, hi: datetime | None
) -> list[dict[str, Any]]:
    """The empty stretches of time windows between the windows of ``keys`` (and from
    ``lo`` / to ``hi`` when given), as compact ranges ``{start, end, windows}``: ``end``
    is exclusive, ``windows`` the number of empty windows. Row windows have no gaps.

    >>> from driftline.spec import parse_window
    >>> gaps(parse_window("1d"), [0, 86400 * 3], None, None)
    [{'start': '1970-01-02T00:00:00Z', 'end': '1970-01-04T00:00:00Z', 'windows': 2}]
    """
    if window.seconds is None or not keys:
        return []
    step = window.seconds
    epoch = _incremental.EPOCH
    edges = list(keys)
    first, last = edges[0], edges[-1]
    if lo is not None:
        first = min(first, int((lo - epoch).total_seconds()) // step * step)
    if hi is not None:
        last = max(last, (math.ceil((hi - epoch).total_seconds() / step) - 1) * step)
    out = []
    bounds = [first - step, *edges, last + step]
    for a, b in pairwise(bounds):
        if b - a > step:
            start, end = epoch + timedelta(seconds=a + step), epoch + timedelta(seconds=b)
            out.append({"start": _iso(start), "end": _iso(end), "windows": (b - a) // step - 1})
    return out


def _era(spec: Spec, profile: Profile, now: datetime) -> tuple[datetime | None, datetime | None]:
    """Timestamps outside ``(earliest, latest)`` are out of the data's era: earlier than
    the reference's first timestamp (when the profile knows it) or later than the time of
    the check, by more than ``checks.timestamp_tolerance`` either way (a reference and
    its first serving rows may overlap by a little). Naive UTC, as stored."""
    known = getattr(profile, "timestamps_", None) or {}
    tolerance = timedelta(seconds=spec.checks.timestamp_tolerance_seconds)
    first = _ts(known.get("min"))
    earliest = first - tolerance if first is not None else None
    latest = now.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0) + tolerance
    return earliest, latest


def _era_ids(
    engine: Engine,
    t: ir.Table,
    spec: Spec,
    window: Window,
    era: tuple[datetime | None, datetime | None],
    overall: _Scope,
) -> dict[int, list[tuple[str, int | None]]]:
    """The first ids (by timestamp) of the out-of-era rows of each window, each with its
    batch number; queried only when the window summaries counted some."""
    if not any(st.era_early + st.era_late for st in overall.summaries.values()):
        return {}
    out: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    for r in engine.run(era_rows(t, spec, window, *era)).to_pylist():
        batch = None if r["batch"] is None else int(r["batch"])
        out[int(r["window"])].append((str(r["id"]), batch))
    return dict(out)


def _alert(r: CheckResult) -> Alert:
    value = shorten(r.cohort_value) if r.cohort_value == "" else _cut(r.cohort_value)
    where = "overall" if r.cohort is None else f"{_cut(r.cohort)}={value}"
    col = f" column {shorten(r.column)}" if r.column else ""
    got = "n/a" if r.value is None else f"{r.value:.4g}"
    bound = "n/a" if r.bound is None else f"{r.bound:.4g}"
    msg = (
        f"{r.check}{col} in {where}, window starting {r.window_start}: value {got} "
        f"beyond bound {bound} ({r.method}, n={r.n})"
    )
    if r.details.get("summary"):
        msg += f"; {r.details['summary']}"
    return Alert(
        r.window,
        r.window_start,
        r.cohort,
        r.cohort_value,
        r.check,
        r.column,
        r.value,
        r.bound,
        msg,
        alert_id(r.window, r.cohort, r.cohort_value, r.check, r.column),
    )
