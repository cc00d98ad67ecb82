"""Alerts -> incidents, each with its root cause.

A check run raises one alert per window x scope x check (x column); one change in
production raises dozens of them. :func:`find_incidents` groups them into incidents, the
unit people read first, and explains each from the report and the fitted profile alone
(pure Python: no engine, no store).

Grouping. Alerts fall in two families:

- **schema** (:data:`SCHEMA_CHECKS`: a column not logged, logged as another type, a
  column the spec does not know, a missing-value spike, rows out of the data's era): one
  incident per check and column, across every scope it appears in; a column's
  missing-value spike in a window where it was not logged, or was logged as another
  type, joins that incident (the values are missing because the column is);
- **change** (every other check: the model's outputs, ``class_mix``, ``class_prior``,
  ``confidence_shift``, ``score_drift``, and its inputs, ``feature_drift``,
  ``text_drift``, ``out_of_range``, ``unseen_category``): alerts of one scope are one
  change while they keep coming, and alerts of different scopes in the same window are
  one change when they move the same column (the outputs count as one column).

Either way an incident spans contiguous checked windows: a gap of one quiet window does
not split it, two do, unless the change is sustained and alerts in only part of its
windows (small, noisy windows): then it survives the quiet stretches its own alert rate
makes likely (:func:`allowed_gap`, at most :data:`MAX_GAP` windows). It is *ongoing*
while it can still grow (it alerted within its allowed gap of the last checked window),
else *closed*; a change after a closed incident is a new incident. A single alert close
to its bound in one cohort value, the window before a change seen overall, is an
incident of its own (:func:`_lead_in`), not that change's start. Its id is a hash of
what it is (the family, and the check and column of a schema incident, or the first
scope of a change) and of the window it started in, so it keeps its id across runs and
as new windows extend it. When a new window shows two ongoing changes to be one, the
merged incident keeps the older id.

Root cause. A change that moved the model's outputs (mean confidence, the class mix) is
decomposed by cohort, shift-share style (:func:`shift_share`): over the incident's
windows, how much of the overall change comes from the traffic mix between a cohort
column's values (a segment grew) and how much from change within each value, each value
against its own reference share and baseline (the profile's per-cohort baselines). The
cohort values that carry the change are those that alert in it (each judged against its
own baseline), or, when none does, the ones the decomposition names. Within the
implicated scope the input columns are ranked by their drift effect; an incident whose
outputs moved while no input did says so. A class-mix change names the classes that
moved, and which way. A schema incident names its column and the first batch that
brought it.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from driftline._catalog import SOURCE_FILE
from driftline.checks import Alert, CheckReport, CheckResult, WindowStats, alert_id
from driftline.errors import SHOWN_CHARS, shorten
from driftline.profile import Profile

__all__ = [
    "INPUT_CHECKS",
    "OUTPUT_CHECKS",
    "SCHEMA_CHECKS",
    "ClassMove",
    "CohortPart",
    "ColumnEffect",
    "Decomposition",
    "Earlier",
    "Incident",
    "IncidentScope",
    "RootCause",
    "SchemaCause",
    "alert_id",
    "find_incidents",
    "group_alerts",
    "shift_share",
]

#: Checks whose alerts are schema incidents: one per check and column.
SCHEMA_CHECKS = frozenset(
    {"missing_column", "type_change", "extra_column", "missing_fraction", "timestamp_era"}
)
#: Which schema check names a schema incident, in order of precedence: a column's
#: missing-value spike in a window it was not logged (or was logged as another type) is
#: one incident with that, named by it.
_SCHEMA_LEAD = (
    "missing_column",
    "type_change",
    "extra_column",
    "timestamp_era",
    "missing_fraction",
)
#: The checks whose alerts in one window join one incident per column (see _SCHEMA_LEAD).
_LOSSES = frozenset({"missing_column", "type_change", "missing_fraction"})
#: Checks of the model's outputs; alerts of these in different scopes join as one column.
OUTPUT_CHECKS = frozenset(
    {
        "class_mix",
        "class_prior",
        "confidence_shift",
        "score_drift",
        "threshold_above",
        "threshold_band",
        "threshold_none",
        "performance",
        "performance_estimate",
        "performance_gap",
    }
)
#: Output checks of the decisions against the thresholds chosen on the holdout.
_THRESHOLD_CHECKS = frozenset({"threshold_above", "threshold_band", "threshold_none"})
#: Checks of the model's inputs, ranked by drift effect in a root cause.
INPUT_CHECKS = frozenset(
    {"feature_drift", "text_drift", "out_of_range", "unseen_category", "embedding_drift"}
)
#: The checks whose effect ranks a column (a distribution's drift).
_EFFECT_CHECKS = ("feature_drift", "text_drift")
#: An alert this many times beyond its bound is a clear change, even in one window.
CLEAR_MULTIPLE = 2.0
#: A column is named in a headline when it alerted in at least this share of the
#: incident's windows: one chance alert in a long incident is evidence, not a cause.
PERSISTENT_SHARE = 0.1
#: A cohort value carries an overall change when its part is at least this share of it.
CARRIER_SHARE = 0.2
#: Quiet windows an incident survives: one does not split it.
GAP = 1
#: A sustained change (alerts in at least this many windows, in at least half of the
#: windows it spans) survives the quiet stretches its own alert rate makes likely: at a
#: rate p, a stretch of g quiet windows has chance (1 - p)^g; it survives the longest
#: whose chance is at least MISS_CHANCE, up to MAX_GAP windows. Small windows are
#: noisy: a change alerting in 80 % of 6-hour windows has stretches of 2 or 3 quiet
#: ones, and splitting there made one change 24 incidents.
SUSTAINED = 4
MISS_CHANCE = 0.01
MAX_GAP = 6

Severity = Literal["critical", "major", "minor"]
Attribution = Literal["traffic_mix", "within"]


def _incident_id(*parts: Any) -> str:
    key = json.dumps(list(parts), ensure_ascii=True, default=str)
    return "i-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------------------
# typed incidents
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentScope:
    """A scope: overall (``cohort`` None) or one value of a cohort column."""

    cohort: str | None
    cohort_value: str | None

    @property
    def label(self) -> str:
        if self.cohort is None:
            return "overall"
        return f"{_name(self.cohort)}={_name(self.cohort_value)}"


@dataclass(frozen=True)
class CohortPart:
    """One cohort value's part in an overall change (see :func:`shift_share`)."""

    value: str
    reference_share: float
    current_share: float
    #: the metric in the value's reference baseline and in the incident's windows
    reference: float | None
    current: float | None
    #: its part of the change from its traffic share moving, and from within it
    mix: float
    within: float


@dataclass(frozen=True)
class Decomposition:
    """An overall change split into traffic mix between a cohort column's values and
    change within each value: ``change == mix + within`` (exactly, up to rounding).

    ``metric`` is ``confidence`` (the change in mean confidence, signed), ``accuracy``
    (the change in realised accuracy of the labelled rows, signed) or ``class_mix`` (the
    total variation distance of the predicted-class mix, each class's shift-share
    projected on the direction it moved in).
    """

    metric: str
    cohort: str
    reference: float | None
    current: float | None
    change: float
    mix: float
    within: float
    attribution: Attribution
    #: the values carrying it: those that grew (traffic mix) or changed (within)
    carriers: list[str]
    parts: list[CohortPart]


@dataclass(frozen=True)
class ColumnEffect:
    """An input column that moved in the incident, with its mean drift effect over the
    incident's windows in the implicated scope, and the number of the incident's windows
    it alerted in."""

    column: str
    check: str
    method: str | None
    effect: float | None
    windows: int


@dataclass(frozen=True)
class ClassMove:
    """A predicted class whose share moved (overall, over the incident's windows)."""

    cls: str
    reference_share: float
    current_share: float
    change: float


@dataclass(frozen=True)
class SchemaCause:
    """What a schema incident is: its check, column, what it says, and the batches that
    brought it (the first one first)."""

    check: str
    column: str | None
    detail: str
    first_batch: str | None
    batches: list[str]


@dataclass(frozen=True)
class RootCause:
    """Where an incident comes from, in words (``summary``) and as data."""

    summary: str
    #: traffic mix between cohort values, or change within them (None: no cohort says)
    attribution: Attribution | None = None
    #: the cohort values carrying the change, and whether they are every value of it
    carriers: list[IncidentScope] = field(default_factory=list)
    every_value: bool = False
    #: the scope the columns are ranked in
    scope: IncidentScope | None = None
    decompositions: list[Decomposition] = field(default_factory=list)
    columns: list[ColumnEffect] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)
    classes: list[ClassMove] = field(default_factory=list)
    outputs_only: bool = False
    schema: SchemaCause | None = None


@dataclass(frozen=True)
class Incident:
    """Alerts that are one change: contiguous windows, the scopes and columns that
    moved together. ``alerts`` holds the ids of its member alerts (the evidence)."""

    id: str
    kind: Literal["schema", "change"]
    status: Literal["ongoing", "closed"]
    start: str
    #: the end of its last alerting window; None while it is ongoing
    end: str | None
    last_window: str
    windows: int
    checks: list[str]
    scopes: list[IncidentScope]
    columns: list[str]
    severity: Severity
    headline: str
    root_cause: RootCause
    alerts: list[str]


# --------------------------------------------------------------------------------------
# grouping
# --------------------------------------------------------------------------------------
class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _scope(a: Alert | CheckResult | WindowStats) -> IncidentScope:
    return IncidentScope(a.cohort, a.cohort_value)


def _track(a: Alert) -> str | None:
    """What an alert moved: the outputs (one track), or its column."""
    return "\x00outputs" if a.check in OUTPUT_CHECKS else a.column


def allowed_gap(alerted: int, span: int) -> int:
    """Quiet windows a change survives after alerting in ``alerted`` of the ``span``
    windows it spans so far (see :data:`SUSTAINED`).

    >>> allowed_gap(3, 3), allowed_gap(10, 10), allowed_gap(8, 10), allowed_gap(5, 10)
    (1, 1, 3, 6)
    """
    if alerted < SUSTAINED or span <= 0 or alerted >= span or 2 * alerted < span:
        return GAP
    found = math.ceil(math.log(MISS_CHANCE) / math.log(1 - alerted / span))
    return max(GAP, min(MAX_GAP, found))


def group_alerts(alerts: Sequence[Alert], windows: Sequence[int]) -> list[list[Alert]]:
    """Alerts grouped into incidents (see the module docstring), each group sorted by
    window; ``windows`` are the checked windows' keys (the gap rule counts these, so an
    empty stretch of time without predictions is no quiet window)."""
    ordered = sorted(windows)
    at = [_position(ordered, a.window) for a in alerts]
    groups = _Union(len(alerts))
    # one chain per schema key or per scope of a change: joined while the gaps are short
    chains: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    same_window: dict[tuple[int, str | None], list[int]] = defaultdict(list)
    lost: dict[tuple[int, str | None], list[int]] = defaultdict(list)
    for i, a in enumerate(alerts):
        if a.check in SCHEMA_CHECKS:
            chains[("schema", a.check, a.column)].append(i)
            if a.check in _LOSSES:
                lost[(a.window, a.column)].append(i)
        else:
            chains[("change", a.cohort, a.cohort_value)].append(i)
            same_window[(a.window, _track(a))].append(i)
    for members in chains.values():
        members.sort(key=lambda i: at[i])
        first, seen = at[members[0]], {at[members[0]]}
        for prev, cur in pairwise(members):
            if at[cur] - at[prev] <= allowed_gap(len(seen), at[prev] - first + 1) + 1:
                groups.join(prev, cur)
                seen.add(at[cur])
            else:  # a new change: its own rate from here on
                first, seen = at[cur], {at[cur]}
    for members in same_window.values():
        for other in members[1:]:
            groups.join(members[0], other)
    # a column not logged, or logged as another type, is missing in that window: its
    # missing-value spike is the same change, evidence of it rather than an incident
    for members in lost.values():
        for other in members[1:]:
            groups.join(members[0], other)
    out: dict[int, list[Alert]] = defaultdict(list)
    for i, a in enumerate(alerts):
        out[groups.find(i)].append(a)
    return [sorted(g, key=lambda a: (a.window, _order(a))) for g in out.values()]


def _marginal(a: Alert) -> bool:
    """Whether ``a`` is less than :data:`CLEAR_MULTIPLE` times beyond its bound."""
    return a.value is None or not a.bound or abs(a.value) < CLEAR_MULTIPLE * abs(a.bound)


def _lead_in(group: list[Alert]) -> list[list[Alert]]:
    """``group`` (sorted by window), or its first window apart when that window holds a
    single alert, in one cohort value and close to its bound, and the change is seen
    overall from the next window on: a chance alert the window before a change is not
    its start (NannyML's car-loan data, one score alert of one size of down payment a
    window early). Apart, it is an incident of its own."""
    first = group[0].window
    lead = [a for a in group if a.window == first]
    rest = [a for a in group if a.window != first]
    if (
        len(lead) != 1
        or lead[0].cohort is None
        or lead[0].check in SCHEMA_CHECKS
        or not _marginal(lead[0])
        or not rest
    ):
        return [group]
    second = rest[0].window
    if not any(a.cohort is None for a in rest if a.window == second):
        return [group]
    return [lead, rest]


def _position(windows: Sequence[int], window: int) -> int:
    """Where ``window`` falls among the sorted checked ``windows``: its index, or that of
    the last one before it (-1 before them all) for a window that is not one of them,
    e.g. of rows dated outside the data's era."""
    return bisect_right(windows, window) - 1


def _lead(alerts: Sequence[Alert]) -> Alert:
    """The alert naming a schema incident: its first of the leading check
    (:data:`_SCHEMA_LEAD`), e.g. the column's first ``missing_column`` rather than the
    missing-value spike that came with it."""
    return min(alerts, key=lambda a: (_SCHEMA_LEAD.index(a.check), a.window, _order(a)))


def _order(a: Alert) -> tuple[bool, str, str, str, str]:
    return (a.cohort is not None, a.cohort or "", a.cohort_value or "", a.check, a.column or "")


# --------------------------------------------------------------------------------------
# decomposition
# --------------------------------------------------------------------------------------
def shift_share(
    reference: Mapping[str, tuple[float, float | None]],
    current: Mapping[str, tuple[float, float | None]],
) -> dict[str, tuple[float, float]]:
    """Per cohort value, its ``(mix, within)`` parts of the change of an overall mean.

    ``reference`` and ``current`` map each value to ``(share, metric)``: its share of the
    rows and the metric among its rows. The overall metric is ``sum(share * metric)``;
    its change splits exactly (the symmetric, Shapley form of shift-share) into
    ``mix = dshare * (metric_ref + metric_cur) / 2`` (the traffic share moved) and
    ``within = dmetric * (share_ref + share_cur) / 2`` (the value itself changed). A value
    absent on one side takes the other side's metric (all of it is mix).

    >>> parts = shift_share({"a": (0.5, 0.9), "b": (0.5, 0.7)}, {"a": (0.2, 0.9), "b": (0.8, 0.6)})
    >>> {k: (round(m, 4), round(w, 4)) for k, (m, w) in parts.items()}
    {'a': (-0.27, 0.0), 'b': (0.195, -0.065)}
    >>> round(sum(m + w for m, w in parts.values()), 4), round((0.2*0.9 + 0.8*0.6) - 0.8, 4)
    (-0.14, -0.14)
    """
    out = {}
    for value in sorted(set(reference) | set(current)):
        w_ref, m_ref = reference.get(value, (0.0, None))
        w_cur, m_cur = current.get(value, (0.0, None))
        if m_ref is None:
            m_ref = m_cur
        if m_cur is None:
            m_cur = m_ref
        if m_ref is None or m_cur is None:
            continue
        mix = (w_cur - w_ref) * (m_ref + m_cur) / 2
        within = (m_cur - m_ref) * (w_ref + w_cur) / 2
        out[value] = (mix, within)
    return out


def _pooled(
    stats: Iterable[WindowStats], cohort: str | None
) -> dict[str | None, tuple[int, float | None, dict[str, int]]]:
    """Per cohort value (None: overall) over ``stats``: rows, mean confidence, class counts."""
    n: dict[str | None, int] = defaultdict(int)
    conf: dict[str | None, float] = defaultdict(float)
    conf_n: dict[str | None, int] = defaultdict(int)
    classes: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in stats:
        if s.cohort != cohort:
            continue
        v = s.cohort_value
        n[v] += s.n
        if s.conf_mean is not None and s.n:
            conf[v] += s.conf_mean * s.n
            conf_n[v] += s.n
        for c, k in s.class_counts.items():
            classes[v][c] += int(k)
    return {
        v: (n[v], conf[v] / conf_n[v] if conf_n[v] else None, dict(classes[v])) for v in n if n[v]
    }


def _shares(counts: Mapping[str, float], classes: Sequence[str]) -> list[float]:
    total = sum(float(counts.get(c, 0)) for c in classes)
    return [float(counts.get(c, 0)) / total if total else 0.0 for c in classes]


def _decompose(
    metric: str, cohort: str, profile: Profile, stats: Sequence[WindowStats]
) -> Decomposition | None:
    """The shift-share decomposition of ``metric`` by ``cohort`` over ``stats`` (the
    incident's windows), each value against its reference share and baseline."""
    baselines = (getattr(profile, "cohorts_", None) or {}).get(cohort)
    if not baselines:
        return None
    cur = _pooled(stats, cohort)
    ref_total = sum(int(b["n_rows"]) for b in baselines.values())
    cur_total = sum(n for n, _, _ in cur.values())
    if not ref_total or not cur_total:
        return None
    classes = sorted({*profile.predicted_mix_, *(c for _, _, k in cur.values() for c in k)})
    values = sorted(set(baselines) | {v for v in cur if v is not None})

    def side(value: str) -> tuple[tuple[float, Any], tuple[float, Any]]:
        base = baselines.get(value)
        ref: tuple[float, Any] = (0.0, None)
        if base is not None:
            w = int(base["n_rows"]) / ref_total
            if metric == "confidence":
                ref = (w, (base.get("confidence") or {}).get("mean"))
            else:
                ref = (w, _shares(base.get("predicted_mix") or {}, classes))
        n, mean, counts = cur.get(value, (0, None, {}))
        now: tuple[float, Any] = (n / cur_total, None)
        if n:
            now = (now[0], mean if metric == "confidence" else _shares(counts, classes))
        return ref, now

    sides = {v: side(v) for v in values}
    if metric == "confidence":
        parts_of = shift_share(
            {v: s[0] for v, s in sides.items()}, {v: s[1] for v, s in sides.items()}
        )
        ref_m = _weighted(s[0] for s in sides.values())
        cur_m = _weighted(s[1] for s in sides.values())
        change = (cur_m or 0.0) - (ref_m or 0.0)
        parts = {v: parts_of.get(v, (0.0, 0.0)) for v in values}
        point = {v: (s[0][1], s[1][1]) for v, s in sides.items()}
    else:
        # per class, then projected on the direction each class moved: the parts add up
        # to the total variation distance between the two overall mixes
        ref_mix = [0.0] * len(classes)
        cur_mix = [0.0] * len(classes)
        for (w_ref, m_ref), (w_cur, m_cur) in sides.values():
            for k in range(len(classes)):
                ref_mix[k] += w_ref * (m_ref[k] if m_ref is not None else 0.0)
                cur_mix[k] += w_cur * (m_cur[k] if m_cur is not None else 0.0)
        sign = [1.0 if c >= r else -1.0 for r, c in zip(ref_mix, cur_mix, strict=True)]
        parts = dict.fromkeys(values, (0.0, 0.0))
        for k in range(len(classes)):
            by_class = shift_share(
                {v: (s[0][0], None if s[0][1] is None else s[0][1][k]) for v, s in sides.items()},
                {v: (s[1][0], None if s[1][1] is None else s[1][1][k]) for v, s in sides.items()},
            )
            for v, (mix, within) in by_class.items():
                m0, w0 = parts[v]
                parts[v] = (m0 + sign[k] * mix / 2, w0 + sign[k] * within / 2)
        change = sum(abs(c - r) for r, c in zip(ref_mix, cur_mix, strict=True)) / 2
        ref_m, cur_m = None, None
        point = dict.fromkeys(values, (None, None))
    mix_total = sum(m for m, _ in parts.values())
    within_total = sum(w for _, w in parts.values())
    attribution: Attribution = "traffic_mix" if abs(mix_total) > abs(within_total) else "within"
    cohort_parts = [
        CohortPart(
            value=v,
            reference_share=sides[v][0][0],
            current_share=sides[v][1][0],
            reference=point[v][0],
            current=point[v][1],
            mix=parts[v][0],
            within=parts[v][1],
        )
        for v in values
    ]
    if attribution == "traffic_mix":
        grew = {p.value: p.current_share - p.reference_share for p in cohort_parts}
        top = max(grew.values(), default=0.0)
        carriers = sorted(
            (v for v, g in grew.items() if g > 0 and g >= top / 2), key=lambda v: -grew[v]
        )
    else:
        direction = 1.0 if within_total >= 0 else -1.0
        least = CARRIER_SHARE * abs(within_total)
        carriers = sorted(
            (p.value for p in cohort_parts if p.within * direction >= least and least > 0),
            key=lambda v: -abs(parts[v][1]),
        )
    return Decomposition(
        metric=metric,
        cohort=cohort,
        reference=ref_m,
        current=cur_m,
        change=change,
        mix=mix_total,
        within=within_total,
        attribution=attribution,
        carriers=carriers,
        parts=cohort_parts,
    )


def _decompose_accuracy(
    cohort: str, profile: Profile, results: Sequence[CheckResult], span: set[int]
) -> Decomposition | None:
    """The shift-share decomposition of realised accuracy by ``cohort`` over the
    incident's windows: each value's share of the labelled rows and its accuracy, against
    its share of the labelled holdout and its holdout accuracy (metric ``accuracy``)."""
    baseline = (getattr(profile, "performance_", None) or {}).get("cohorts", {}).get(cohort)
    if not baseline:
        return None
    labelled: dict[str, int] = defaultdict(int)
    right: dict[str, float] = defaultdict(float)
    for r in results:
        if r.check == "performance" and r.cohort == cohort and r.window in span:
            acc = r.details.get("accuracy")
            if acc is not None and r.cohort_value is not None:
                labelled[r.cohort_value] += r.n
                right[r.cohort_value] += acc * r.n
    ref_total = sum(int(b["n"]) for b in baseline.values())
    cur_total = sum(labelled.values())
    if not ref_total or not cur_total:
        return None
    values = sorted(set(baseline) | set(labelled))
    ref = {
        v: (int(b["n"]) / ref_total, int(b["correct"]) / int(b["n"]) if b["n"] else None)
        for v, b in baseline.items()
    }
    cur = {v: (n / cur_total, right[v] / n if n else None) for v, n in labelled.items()}
    parts = {v: shift_share(ref, cur).get(v, (0.0, 0.0)) for v in values}
    ref_m, cur_m = _weighted(ref.values()), _weighted(cur.values())
    mix_total = sum(m for m, _ in parts.values())
    within_total = sum(w for _, w in parts.values())
    attribution: Attribution = "traffic_mix" if abs(mix_total) > abs(within_total) else "within"
    cohort_parts = [
        CohortPart(
            value=v,
            reference_share=ref.get(v, (0.0, None))[0],
            current_share=cur.get(v, (0.0, None))[0],
            reference=ref.get(v, (0.0, None))[1],
            current=cur.get(v, (0.0, None))[1],
            mix=parts[v][0],
            within=parts[v][1],
        )
        for v in values
    ]
    direction = 1.0 if within_total >= 0 else -1.0
    least = CARRIER_SHARE * abs(within_total)
    carriers = (
        sorted(
            (p.value for p in cohort_parts if p.within * direction >= least and least > 0),
            key=lambda v: -abs(parts[v][1]),
        )
        if attribution == "within"
        else sorted(
            (p.value for p in cohort_parts if p.current_share > p.reference_share),
            key=lambda v: ref.get(v, (0.0, 0.0))[0] - cur.get(v, (0.0, 0.0))[0],
        )
    )
    return Decomposition(
        metric="accuracy",
        cohort=cohort,
        reference=ref_m,
        current=cur_m,
        change=(cur_m or 0.0) - (ref_m or 0.0),
        mix=mix_total,
        within=within_total,
        attribution=attribution,
        carriers=carriers,
        parts=cohort_parts,
    )


def _weighted(pairs: Iterable[tuple[float, Any]]) -> float | None:
    total, weight = 0.0, 0.0
    for w, m in pairs:
        if m is not None and w:
            total += w * float(m)
            weight += w
    return total / weight if weight else None


# --------------------------------------------------------------------------------------
# incidents
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Earlier:
    """What the store holds of the checked windows before a report's range (a check
    ``--since``): their keys and their alerts. An incident that began before the range
    keeps its start and its id; its evidence is the report's alerts."""

    windows: Sequence[int]
    alerts: Sequence[Alert]


def find_incidents(
    report: CheckReport, profile: Profile | None = None, earlier: Earlier | None = None
) -> list[Incident]:
    """The incidents of ``report``, newest first. ``profile`` (the fitted profile the
    report was checked against) gives the cohort decomposition its reference shares and
    baselines; without it an incident has no decomposition. ``earlier`` (the windows
    before the report's range, with their alerts) gives an incident that began before
    the range its start and id; only incidents with alerts in the range are returned."""
    if not report.alerts:
        return []
    current = {a.id for a in report.alerts}
    everything = [*(earlier.alerts if earlier else ()), *report.alerts]
    # a window of rows all dated outside the data's era (a few rows stamped next year)
    # is no window of the traffic: it neither closes an incident nor splits one
    stray = {
        a.window
        for a in everything
        if a.check == "timestamp_era" and a.cohort is None and (a.value or 0.0) >= 1.0
    }
    checked = {s.window for s in report.stats if s.cohort is None}
    checked.update(earlier.windows if earlier else ())
    windows = sorted(checked - stray)
    if not windows:
        windows = sorted({a.window for a in everything})
    ends = {s.window: s.window_end for s in report.stats if s.cohort is None}
    grouped = [part for g in group_alerts(everything, windows) for part in _lead_in(g)]
    groups = [g for g in grouped if any(a.id in current for a in g)]
    # the results a root cause reads: in its incident's windows, of the columns that
    # alerted, by the checks it ranks or explains them by (a wide table has a quarter of
    # a million results; a year of history, most of them read back from the store and
    # built only when asked for)
    spans: set[int] = set()
    for g in groups:
        spans.update(w for w in windows if g[0].window <= w <= g[-1].window)
        spans.update(a.window for a in g)
    wanted = INPUT_CHECKS | SCHEMA_CHECKS
    alerted = {a.column for a in report.alerts}
    by_key: dict[tuple[Any, ...], list[CheckResult]] = defaultdict(list)
    for r in report.window_results(spans):
        if r.column in alerted and r.check in wanted:
            by_key[(r.cohort, r.cohort_value, r.check, r.column)].append(r)
    ctx = _Context(report, profile, windows, ends, by_key, current)
    found = [ctx.incident(g) for g in groups]
    found.sort(key=lambda i: (i.start, i.last_window, i.id), reverse=True)
    return found


@dataclass
class _Context:
    report: CheckReport
    profile: Profile | None
    windows: list[int]
    ends: dict[int, str]
    results: dict[tuple[Any, ...], list[CheckResult]]
    #: the ids of the report's own alerts (an incident lists these as its evidence)
    current: set[str]

    def incident(self, alerts: list[Alert]) -> Incident:
        first, last = alerts[0], alerts[-1]
        schema = first.check in SCHEMA_CHECKS
        if schema:
            lead = _lead(alerts)
            key: tuple[Any, ...] = ("schema", lead.check, lead.column)
        else:
            start_scopes = sorted(
                (_scope(a) for a in alerts if a.window == first.window),
                key=lambda s: (s.cohort is not None, s.cohort or "", s.cohort_value or ""),
            )
            key = ("change", start_scopes[0].cohort, start_scopes[0].cohort_value)
        at = {_position(self.windows, a.window) for a in alerts}
        gap = allowed_gap(len(at), max(at) - min(at) + 1)
        ongoing = _position(self.windows, last.window) >= len(self.windows) - 1 - gap
        scopes = sorted(
            {_scope(a) for a in alerts},
            key=lambda s: (s.cohort is not None, s.cohort or "", s.cohort_value or ""),
        )
        checks = sorted({a.check for a in alerts})
        columns = sorted({a.column for a in alerts if a.column is not None})
        span = sorted(
            {w for w in self.windows if first.window <= w <= last.window}
            | {a.window for a in alerts}
        )
        cause = self._schema_cause(alerts, span) if schema else self._change_cause(alerts, span)
        severity = _severity(alerts, schema)
        when = _when(first.window_start, last.window_start, ongoing)
        return Incident(
            id=_incident_id(*key, first.window),
            kind="schema" if schema else "change",
            status="ongoing" if ongoing else "closed",
            start=first.window_start,
            end=None if ongoing else self.ends.get(last.window, last.window_start),
            last_window=last.window_start,
            windows=len({a.window for a in alerts}),
            checks=checks,
            scopes=scopes,
            columns=columns,
            severity=severity,
            headline=f"{cause.summary}; {when}",
            root_cause=cause,
            alerts=[a.id for a in alerts if a.id in self.current],
        )

    # -- schema ---------------------------------------------------------------------------
    def _schema_cause(self, alerts: list[Alert], span: list[int]) -> RootCause:
        lead = _lead(alerts)
        check, column = lead.check, lead.column
        results = [
            r
            for a in alerts
            for r in self.results.get((a.cohort, a.cohort_value, a.check, a.column), [])
            if r.window == a.window and r.check == check
        ]
        results.sort(key=lambda r: (r.window, r.cohort is not None))
        batches: list[str] = []
        for r in results:
            for b in r.details.get("batches") or []:
                if str(b) not in batches:
                    batches.append(str(b))
        head = results[0] if results else None
        details = head.details if head is not None else {}
        col = _name(column) if column is not None else ""
        carriers = sorted({_scope(a) for a in alerts if a.cohort is not None}, key=_scope_order)
        where = self._where(carriers, span)
        if check == "type_change":
            got = ", ".join(str(t) for t in details.get("current_types") or []) or "another type"
            what = f"column {col} arrives as {got} (reference: {details.get('reference_family')})"
        elif check == "missing_column":
            what = f"column {col} is not logged"
        elif check == "extra_column":
            what = f"unknown column {col} is logged"
        elif check == "missing_fraction":
            shown = carriers[0] if len(carriers) == 1 else IncidentScope(None, None)
            peak = max(
                (r for r in results if _scope(r) == shown),
                key=lambda r: abs(r.effect or 0.0),
                default=head,
            )
            pd = peak.details if peak is not None else {}
            cur, ref = pd.get("current_fraction"), pd.get("reference_fraction")
            share = f" to {cur:.0%} of rows (reference {ref:.1%})" if cur is not None else ""
            moved = "fall" if cur is not None and ref is not None and cur < ref else "spike"
            what = f"missing values of {col} {moved}{share}"
        else:
            what = "rows timestamped outside the data's era"
        brought = f" (first batch {_batch_name(batches[0])})" if batches else ""
        summary = f"{what} {where}{brought}"
        return RootCause(
            summary=summary,
            carriers=carriers,
            every_value=where.startswith("in every "),
            schema=SchemaCause(
                check=check,
                column=column,
                detail=str(details.get("summary") or ""),
                first_batch=batches[0] if batches else None,
                batches=batches[:20],
            ),
        )

    # -- change ---------------------------------------------------------------------------
    def _change_cause(self, alerts: list[Alert], span: list[int]) -> RootCause:
        span_set = set(span)
        stats = [s for s in self.report.stats if s.window in span_set]
        checks = {a.check for a in alerts}
        cohorts = list(self.report.plan.get("cohorts") or [])
        # the values carrying a change of the outputs: those whose outputs alerted, and
        # those whose inputs drifted in a column that drifted with the outputs elsewhere
        # (a value where only another column drifted in the same days is not one)
        outs = {_scope(a) for a in alerts if a.check in OUTPUT_CHECKS and a.cohort is not None}
        moved = {a.column for a in alerts if a.check in INPUT_CHECKS and _scope(a) in outs}
        # an input that drifted overall only (none of its drift located in a cohort value:
        # a column whose mix moved between the values, the cohort column itself) moved
        # with the outputs when these moved overall too
        if any(a.check in OUTPUT_CHECKS and a.cohort is None for a in alerts):
            located = {a.column for a in alerts if a.check in INPUT_CHECKS and a.cohort is not None}
            moved |= {
                a.column
                for a in alerts
                if a.check in INPUT_CHECKS and a.cohort is None and a.column not in located
            }
        said = [
            a
            for a in alerts
            if not outs or _scope(a) in outs or (a.check in INPUT_CHECKS and a.column in moved)
        ]
        alerting = sorted({_scope(a) for a in said if a.cohort is not None}, key=_scope_order)
        overall = any(a.cohort is None for a in alerts)
        decompositions: list[Decomposition] = []
        metrics = []
        if checks & {"class_mix", "class_prior"}:
            metrics.append("class_mix")
        if "confidence_shift" in checks:
            metrics.append("confidence")
        if self.profile is not None:
            for metric in metrics:
                for cohort in cohorts:
                    d = _decompose(metric, cohort, self.profile, stats)
                    if d is not None:
                        decompositions.append(d)
            if "performance" in checks:
                for cohort in cohorts:
                    d = _decompose_accuracy(
                        cohort, self.profile, self.report.window_results(span_set), span_set
                    )
                    if d is not None:
                        decompositions.append(d)
        # the cohort column whose alerting values locate the change: one where only some
        # values alert before one where every value does (a change in region=eu alerts in
        # every channel too), then the one with the most, then the first
        seen: dict[str, set[str | None]] = defaultdict(set)
        for st in stats:
            if st.cohort is not None and st.n:
                seen[st.cohort].add(st.cohort_value)

        def locates(cohort: str) -> tuple[bool, bool, int]:
            values = {s.cohort_value for s in alerting if s.cohort == cohort}
            every = len(seen[cohort]) > 1 and values >= seen[cohort]
            return bool(values), not every, len(values)

        primary = max(cohorts, key=locates, default=None)
        main = next((d for d in decompositions if d.cohort == primary), None)
        attribution: Attribution | None = None
        carriers: list[IncidentScope] = []
        if alerting:
            attribution = "within"
            carriers = [s for s in alerting if s.cohort == primary] or alerting
            if main is not None:
                rank = {p.value: -abs(p.within) for p in main.parts}
                carriers.sort(key=lambda s: rank.get(str(s.cohort_value), 0.0))
        elif main is not None:
            attribution = main.attribution
            carriers = [IncidentScope(main.cohort, v) for v in main.carriers]
        elif overall and primary is not None:
            traffic = self._traffic(stats, primary)
            if traffic:
                attribution = "traffic_mix"
                carriers = [IncidentScope(primary, v) for v in traffic]
        scope = carriers[0] if len(carriers) == 1 and attribution == "within" else None
        if scope is None:
            scope = IncidentScope(None, None) if overall else (alerting[0] if alerting else None)
        columns = self._columns(said, scope, span_set, len({a.window for a in alerts}))
        scores = sorted({a.column for a in alerts if a.check == "score_drift" and a.column})
        outputs = bool(checks & OUTPUT_CHECKS)
        outputs_only = outputs and not checks & INPUT_CHECKS
        classes = self._classes(stats, scope) if checks & {"class_mix", "class_prior"} else []
        where = self._where(carriers, span) if attribution == "within" else "overall"
        summary = _change_summary(
            alerts,
            decompositions,
            main,
            attribution,
            carriers,
            where,
            columns,
            scores,
            classes,
            self._levels(stats, span_set),
        )
        return RootCause(
            summary=summary,
            attribution=attribution,
            carriers=carriers,
            every_value=where.startswith("in every "),
            scope=scope,
            decompositions=decompositions,
            columns=columns,
            scores=scores,
            classes=classes,
            outputs_only=outputs_only,
        )

    def _levels(
        self, stats: Sequence[WindowStats], span: set[int]
    ) -> dict[str, tuple[float, float]]:
        """The overall reference and current level of the mean confidence and of the
        accuracy over the incident's windows (``stats``, ``span``), for a headline with
        no cohort decomposition to take them from (a spec without cohorts)."""
        out: dict[str, tuple[float, float]] = {}
        if self.profile is None:
            return out
        rows = [(s.n, s.conf_mean) for s in stats if s.cohort is None and s.conf_mean is not None]
        n = sum(k for k, _ in rows)
        ref = (getattr(self.profile, "confidence_", None) or {}).get("mean")
        if n and ref is not None:
            out["confidence"] = (float(ref), sum(k * m for k, m in rows) / n)
        perf = getattr(self.profile, "performance_", None) or {}
        if not perf.get("n"):
            return out
        labelled = right = 0.0
        for r in self.report.window_results(span):  # builds no other window's results
            acc = r.details.get("accuracy") if r.check == "performance" else None
            if acc is not None and r.cohort is None and r.n:
                labelled += r.n
                right += float(acc) * r.n
        if labelled:
            out["accuracy"] = (int(perf["correct"]) / int(perf["n"]), right / labelled)
        return out

    def _traffic(self, stats: Sequence[WindowStats], cohort: str) -> list[str]:
        """The values of ``cohort`` whose traffic share grew materially (by at least 5
        points in total variation) against the reference's shares."""
        baselines = (getattr(self.profile, "cohorts_", None) or {}).get(cohort) or {}
        ref_total = sum(int(b["n_rows"]) for b in baselines.values())
        cur = _pooled(stats, cohort)
        cur_total = sum(n for n, _, _ in cur.values())
        if not ref_total or not cur_total:
            return []
        values = set(baselines) | {str(v) for v in cur if v is not None}
        grew = {
            v: cur.get(v, (0, None, {}))[0] / cur_total
            - int((baselines.get(v) or {}).get("n_rows", 0)) / ref_total
            for v in values
        }
        if sum(abs(g) for g in grew.values()) / 2 < 0.05:
            return []
        top = max(grew.values())
        return sorted(
            (v for v, g in grew.items() if g > 0 and g >= top / 2), key=lambda v: -grew[v]
        )

    def _columns(
        self, alerts: list[Alert], scope: IncidentScope | None, span: set[int], total: int
    ) -> list[ColumnEffect]:
        """The input columns that alerted, ranked by their mean drift effect over the
        incident's windows in ``scope`` (overall when the scope has no result of them);
        those that alerted in fewer than :data:`PERSISTENT_SHARE` of the incident's
        ``total`` windows with alerts (:func:`_persistent`, as the headline names them)
        after the others."""
        moved = sorted({a.column for a in alerts if a.check in INPUT_CHECKS and a.column})
        alerted: dict[str, set[int]] = defaultdict(set)
        for a in alerts:
            if a.check in INPUT_CHECKS and a.column:
                alerted[a.column].add(a.window)
        out = []
        for col in moved:
            picked: list[CheckResult] = []
            for where in (scope, IncidentScope(None, None)):
                if where is None:
                    continue
                for check in (*_EFFECT_CHECKS, *sorted(INPUT_CHECKS - set(_EFFECT_CHECKS))):
                    rs = [
                        r
                        for r in self.results.get(
                            (where.cohort, where.cohort_value, check, col), []
                        )
                        if r.window in span and r.effect is not None
                    ]
                    if rs:
                        picked = rs
                        break
                if picked:
                    break
            windows = len(alerted[col])
            if not picked:  # a report without its results: the column, unranked
                check = next(a.check for a in alerts if a.column == col)
                out.append(ColumnEffect(col, check, None, None, windows))
                continue
            effect = sum(float(r.effect or 0.0) for r in picked) / len(picked)
            out.append(ColumnEffect(col, picked[0].check, picked[0].method, effect, windows))
        out.sort(
            key=lambda c: (
                not _persistent(c, total),
                c.check not in _EFFECT_CHECKS,
                -(abs(c.effect or 0.0)),
                c.column,
            )
        )
        return out

    def _where(self, carriers: Sequence[IncidentScope], span: Sequence[int]) -> str:
        """Where a change is, in words: overall, in every value of a cohort column (every
        one that had rows in the incident's windows), or in the values named."""
        if not carriers:
            return "overall"
        cohorts = {s.cohort for s in carriers}
        if len(cohorts) == 1:
            cohort = next(iter(cohorts))
            window_set = set(span)
            seen = {
                s.cohort_value
                for s in self.report.stats
                if s.cohort == cohort and s.n and s.window in window_set
            }
            if seen and {s.cohort_value for s in carriers} >= seen and len(seen) > 1:
                return f"in every {_name(cohort)}"
        return _where_scopes(carriers)

    def _classes(
        self, stats: Sequence[WindowStats], scope: IncidentScope | None
    ) -> list[ClassMove]:
        """The predicted classes whose share moved most over the incident's windows in
        ``scope`` (overall when None), against that scope's reference predicted mix (at
        least half the largest move)."""
        scope = scope or IncidentScope(None, None)
        if self.profile is None:
            ref_counts = self.report.reference.get("predicted_mix") or {}
        else:
            ref_counts = self.profile.predicted_mix_
            own = (
                (getattr(self.profile, "cohorts_", None) or {}).get(scope.cohort or "") or {}
            ).get(scope.cohort_value or "")
            if own and own.get("predicted_mix"):
                ref_counts = own["predicted_mix"]
        pooled = {
            v: p for v, p in _pooled(stats, scope.cohort).items() if v == scope.cohort_value
        }.get(scope.cohort_value)
        if pooled is None or not ref_counts:
            return []
        classes = sorted({*ref_counts, *pooled[2]})
        ref = dict(zip(classes, _shares(ref_counts, classes), strict=True))
        cur = dict(zip(classes, _shares(pooled[2], classes), strict=True))
        moves = [ClassMove(c, ref[c], cur[c], cur[c] - ref[c]) for c in classes]
        top = max((abs(m.change) for m in moves), default=0.0)
        kept = [m for m in moves if top and abs(m.change) >= top / 2]
        kept.sort(key=lambda m: -abs(m.change))
        return kept[:5]


# --------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------
def _persistent(column: ColumnEffect, windows: int) -> bool:
    """Whether ``column`` alerted in at least :data:`PERSISTENT_SHARE` of an incident's
    ``windows`` (and in one at least)."""
    return column.windows >= max(1.0, PERSISTENT_SHARE * windows)


def _name(value: Any) -> str:
    """A name from the data as plain text: whole when short and printable, else quoted
    with its control characters escaped (and cut, with its length, when long), so no
    logged string reaches a terminal as a control sequence or a line break.

    >>> _name("eu"), _name("x" + chr(27) + "[2Jy"), _name("")
    ('eu', "'x\\\\x1b[2Jy'", "''")
    """
    text = str(value)
    return text if 0 < len(text) <= SHOWN_CHARS and text.isprintable() else shorten(text)


def _batch_name(batch: str) -> str:
    """A batch as a headline names it: a file read in place by its path (the result's
    details cut a long one from the left, so the file's own name stays), any other
    batch id as :func:`_name` shows it.

    >>> _batch_name("file:/data/lake/day-040.parquet"), _batch_name("file:…/day-1.pq")
    ('/data/lake/day-040.parquet', '…/day-1.pq')
    """
    return _name(batch.removeprefix(SOURCE_FILE))


def _scope_order(s: IncidentScope) -> tuple[bool, str, str]:
    return (s.cohort is not None, s.cohort or "", s.cohort_value or "")


def _where_scopes(scopes: Sequence[IncidentScope]) -> str:
    cohorts = [s for s in scopes if s.cohort is not None]
    if not cohorts:
        return "overall"
    shown = ", ".join(s.label for s in cohorts[:4])
    more = f" and {len(cohorts) - 4} more" if len(cohorts) > 4 else ""
    return f"in {shown}{more}"


def _day(iso: str) -> str:
    text = iso.replace("T", " ").removesuffix("Z")
    return text.removesuffix(" 00:00:00")[:16]


def _when(start: str, last: str, ongoing: bool) -> str:
    if ongoing:
        return f"since {_day(start)}, ongoing"
    if start == last:
        return f"on {_day(start)}"
    return f"from {_day(start)} to {_day(last)}"


def _severity(alerts: Sequence[Alert], schema: bool) -> Severity:
    """critical: a column lost or retyped, or the model's outputs moved overall; major:
    anything else seen overall, or outputs moved in a cohort; minor: the rest. A change
    seen in one window only, nowhere beyond :data:`CLEAR_MULTIPLE` times its bound (a
    chance alert looks like that), is one step less severe."""
    checks = {a.check for a in alerts}
    overall = {a.check for a in alerts if a.cohort is None}
    if schema and checks & {"missing_column", "type_change"}:
        return "critical"
    lasting = len({a.window for a in alerts}) > 1 or not all(_marginal(a) for a in alerts)
    if overall & OUTPUT_CHECKS - {"score_drift"}:
        return "critical" if lasting else "major"
    if overall or checks & OUTPUT_CHECKS:
        return "major" if lasting else "minor"
    return "minor"


def _change_summary(
    alerts: Sequence[Alert],
    decompositions: Sequence[Decomposition],
    main: Decomposition | None,
    attribution: Attribution | None,
    carriers: Sequence[IncidentScope],
    where: str,
    columns: Sequence[ColumnEffect],
    scores: Sequence[str],
    classes: Sequence[ClassMove],
    levels: Mapping[str, tuple[float, float]] | None = None,
) -> str:
    """One line: what moved (the output with the most alerts first), where, and why.
    ``levels``: a metric's overall reference and current level, for a metric with no
    decomposition."""
    checks = {a.check for a in alerts}
    n_mix = sum(a.check in ("class_mix", "class_prior") for a in alerts)
    said: list[tuple[int, str]] = []
    if classes:
        up = [_name(m.cls) for m in classes if m.change > 0]
        down = [_name(m.cls) for m in classes if m.change < 0]
        text = "class mix moved"
        text += f" toward {_and(up)}" if up else ""
        text += (", away from " if up else " away from ") + _and(down) if down else ""
        said.append((n_mix, text))
    for check, metric, label in (
        ("confidence_shift", "confidence", "mean confidence"),
        ("performance", "accuracy", "accuracy"),
    ):
        if check in checks:
            found = next((d for d in decompositions if d.metric == metric), None)
            level = (levels or {}).get(metric)
            said.append(
                (
                    sum(a.check == check for a in alerts),
                    _moved(label, found, carriers, attribution, level),
                )
            )
    said.sort(key=lambda x: -x[0])
    lead = [t for _, t in said[:1]]
    aside = [t for _, t in said[1:]]
    if not lead and scores:
        lead.append("class scores moved (" + _and([_name(c) for c in scores[:4]]) + ")")
    if not lead and checks & _THRESHOLD_CHECKS:
        moved = sorted({a.column for a in alerts if a.check in _THRESHOLD_CHECKS and a.column})
        named = f" ({_and([_name(c) for c in moved[:4]])})" if moved else ""
        lead.append(f"decisions moved against the chosen thresholds{named}")
    outputs_only = bool(checks & OUTPUT_CHECKS) and not checks & INPUT_CHECKS
    total = len({a.window for a in alerts})
    lasting = [_name(c.column) for c in columns if _persistent(c, total)][:5]
    if not lead:
        cols = lasting or [_name(c.column) for c in columns[:5]]
        lead.append("inputs drifted" + (f" ({_and(cols)})" if cols else ""))
    text = lead[0]
    if attribution == "traffic_mix":
        grown = ", ".join(_grown(c, main) for c in carriers[:3])
        text += " overall, from traffic mix" + (f" ({grown})" if grown else "")
    else:
        text += f" {where}"
    if aside:
        text += f" ({'; '.join(aside)})"
    if attribution == "traffic_mix":
        text += "; no cohort value changed on its own"
    if outputs_only and lead[0].startswith("accuracy"):
        text += "; the inputs did not move"
    elif outputs_only:
        text += "; in the model's outputs only (inputs did not move)"
    elif lasting and lead[0].startswith(
        ("class mix", "mean confidence", "class scores", "accuracy")
    ):
        text += f"; inputs that moved most: {_and(lasting)}"
    return text


def _moved(
    label: str,
    found: Decomposition | None,
    carriers: Sequence[IncidentScope],
    attribution: Attribution | None,
    level: tuple[float, float] | None = None,
) -> str:
    """How a metric moved, in words: in the one cohort value carrying a change within
    it, from that value's reference to its current level (a value the reference never
    had: its level, said to be new), else overall (from the decomposition, else from
    ``level``: the overall reference and current level)."""
    values = {c.cohort_value for c in carriers} if attribution == "within" else set()
    parts = [p for p in (found.parts if found else []) if p.value in values]
    ref: float | None = None
    cur: float | None = None
    if len(parts) == 1:
        ref, cur = parts[0].reference, parts[0].current
        if ref is None and cur is not None:
            base = f"; {found.reference:.2f} overall in it" if found and found.reference else ""
            return f"{label} at {cur:.2f} in a cohort value new since the reference{base}"
    if (ref is None or cur is None) and found is not None:
        ref, cur = found.reference, found.current
    if (ref is None or cur is None) and level is not None:
        ref, cur = level
    if ref is None or cur is None:
        return f"{label} moved"
    return f"{label} {'dropped' if cur < ref else 'rose'} from {ref:.2f} to {cur:.2f}"


def _grown(scope: IncidentScope, main: Decomposition | None) -> str:
    part = next((p for p in (main.parts if main else []) if p.value == scope.cohort_value), None)
    if part is None:
        return f"{scope.label} grew"
    return f"{scope.label} grew from {part.reference_share:.0%} to {part.current_share:.0%} of rows"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
