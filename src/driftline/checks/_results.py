"""Typed results: what a check run returns, serialisable to JSON."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from driftline.checks._registry import DRIFT_CHECKS, Status

if TYPE_CHECKING:
    from driftline.incidents import Incident


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """One window x cohort x check (x column) decision.

    ``window`` is the window's key: its start in epoch seconds for time windows, its
    index for row-count windows (the same across cohorts).
    """

    window: int
    window_start: str
    window_end: str
    cohort: str | None
    cohort_value: str | None
    check: str
    column: str | None
    method: str
    value: float | None
    effect: float | None
    bound: float | None
    bound_how: str
    status: Status
    n: int
    details: dict[str, Any] = field(default_factory=dict)
    #: the materiality floor, in effect units (``spec.checks.floors``), and where it was set
    floor: float | None = None
    floor_how: str | None = None
    #: which threshold the value had to pass to alert: "bound" (the calibrated no-drift
    #: bound was the higher), "floor" (the floor was), "fixed" (``checks.fixed_bounds``)
    decided_by: str | None = None


@dataclass(frozen=True)
class Alert:
    window: int
    window_start: str
    cohort: str | None
    cohort_value: str | None
    check: str
    column: str | None
    value: float | None
    bound: float | None
    message: str
    #: stable across runs: :func:`alert_id` of its window, scope, check and column (the
    #: checks set it; an incident lists its alerts by it)
    id: str = ""


def alert_id(
    window: int, cohort: str | None, cohort_value: str | None, check: str, column: str | None
) -> str:
    """The stable id of an alert: the same window, scope, check and column, the same id,
    in every run.

    >>> alert_id(86400, "region", "eu", "class_mix", None)
    'a-efd7ecabc3abc489'
    """
    key = json.dumps([int(window), cohort, cohort_value, check, column], ensure_ascii=True)
    return "a-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class WindowStats:
    """Predictions over time: one window x cohort value."""

    window: int
    window_start: str
    window_end: str
    cohort: str | None
    cohort_value: str | None
    n: int
    class_counts: dict[str, int]
    conf_mean: float | None
    conf_var: float | None
    conf_min: float | None
    conf_max: float | None
    conf_p10: float | None
    conf_p50: float | None
    conf_p90: float | None
    rolling_n: int
    rolling_mean: float | None
    rolling_var: float | None


@dataclass
class CheckReport:
    """Everything one ``check`` run found; serialises to JSON for every renderer."""

    run_id: str
    created_at: str
    window: str
    since: str | None
    until: str | None
    plan: dict[str, Any]
    stats: list[WindowStats]
    results: list[CheckResult]
    alerts: list[Alert]
    drift: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[str, Any] = field(default_factory=dict)
    #: empty stretches of time windows, as ranges ``{start, end, windows}`` (``end``
    #: exclusive): only windows holding data are checked and listed in ``stats``
    gaps: list[dict[str, Any]] = field(default_factory=list)
    #: the alerts grouped into incidents, newest first, each with its root cause
    #: (:func:`driftline.incidents.find_incidents`; ``Monitor.check`` fills it)
    incidents: list[Incident] = field(default_factory=list)
    #: labels as a whole (:func:`driftline.checks._performance_checks.label_report`):
    #: labelled ids matching no prediction (counted, never dropped), the holdout's
    #: accuracy and the confidence calibration chosen on it; empty without labels
    labels: dict[str, Any] = field(default_factory=dict)
    #: the 2-D view of the embeddings (``embedding_drift``): per class, reference points
    #: and the latest windows' serving points, overall scope; empty without embeddings
    embeddings: dict[str, Any] = field(default_factory=dict)
    #: stored predictions with no value in the spec's timestamp column (it names a
    #: column their batches did not bring): in no window, so left out of every check
    untimed: int = 0

    @property
    def has_alerts(self) -> bool:
        return bool(self.alerts)

    def status_counts(self) -> dict[str, int]:
        """How many results have each status, without building results not yet built."""
        pending: Deferred | None = self.__dict__.get("_deferred")
        if pending is not None:
            return dict(pending.counts)
        return dict(Counter(r.status for r in self.results))

    def window_results(self, windows: Collection[int]) -> list[CheckResult]:
        """The results of ``windows``, in report order, building only theirs when the
        report's results are not built yet (see :class:`Deferred`)."""
        pending: Deferred | None = self.__dict__.get("_deferred")
        if pending is not None:
            return pending.build(windows)
        return [r for r in self.results if r.window in windows]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as ``dataclasses.asdict`` makes it (a deep copy)."""
        plain: dict[str, Any] = _plain(self)
        return plain

    def to_json(self, **kwargs: Any) -> str:
        # the text of json.dumps(self.to_dict(), default=str), without the deep copy; a
        # report is a tree (nothing in it refers back up), so cycles need no check
        options: dict[str, Any] = {"check_circular": False, **kwargs}
        return json.dumps(self, allow_nan=False, default=_json_default, **options)

    def results_for(
        self, check: str | None = None, *, status: str | None = None
    ) -> list[CheckResult]:
        return [
            r
            for r in self.results
            if (check is None or r.check == check) and (status is None or r.status == status)
        ]


#: A part of a deferred report's results: its window and its results, or what builds them.
Part = tuple[int, "list[CheckResult] | Callable[[], list[CheckResult]]"]


@dataclass
class Deferred:
    """A report's results, built when first read.

    An incremental check reads most windows' results back from the store; a year of
    daily windows holds about 200,000 of them. What a check prints by default (the
    incidents, the alerts, a line per window, the count per status) needs few of them,
    so a report may hold its results as ``parts`` in report order, each a window's
    results of one scope and cohort value: built already (the windows this run decided)
    or a function that builds them from the stored text (see
    :func:`driftline.checks._incremental.read_results`). ``CheckReport.results`` builds
    every part on first access, :meth:`CheckReport.window_results` only those of the
    windows asked for, and ``counts`` (the count per status, known without building)
    answers :meth:`CheckReport.status_counts`.
    """

    parts: list[Part]
    counts: Counter[str]
    #: called with the windows about to be built (None: all) before building them, so
    #: their stored texts are fetched in one query
    fetch: Callable[[Collection[int] | None], None] | None = None

    def build(self, windows: Collection[int] | None = None) -> list[CheckResult]:
        if self.fetch is not None:
            self.fetch(windows)
        out: list[CheckResult] = []
        for w, part in self.parts:
            if windows is None or w in windows:
                out.extend(part if isinstance(part, list) else part())
        return out


def _get_results(report: CheckReport) -> list[CheckResult]:
    state = report.__dict__
    pending: Deferred | None = state.pop("_deferred", None)
    if pending is not None:
        state["results"] = pending.build()
    built: list[CheckResult] = state["results"]
    return built


def _set_results(report: CheckReport, value: list[CheckResult]) -> None:
    report.__dict__.pop("_deferred", None)
    report.__dict__["results"] = value


def defer(report: CheckReport, results: Deferred) -> CheckReport:
    """``report``, its results to be built from ``results`` when first read."""
    report.__dict__["_deferred"] = results
    report.__dict__["results"] = []
    return report


# ``CheckReport.results`` stays a dataclass field (in ``__init__``, equality, ``asdict``
# and JSON, by name), read and set through these two: the dataclass decorator would take
# a property written in the class body for the field's default.
setattr(CheckReport, "results", property(_get_results, _set_results))  # noqa: B010


def drift_summary(results: Sequence[CheckResult], top: int = 5) -> list[dict[str, Any]]:
    """Per window and cohort value: how many columns drifted, and which moved most.

    Columns are ranked by severity, the statistic over its bound, which is comparable
    across methods.
    """
    groups: dict[tuple[str, str | None, str | None], list[CheckResult]] = defaultdict(list)
    for r in results:
        if r.check in DRIFT_CHECKS and r.value is not None and r.bound:
            groups[(r.window_start, r.cohort, r.cohort_value)].append(r)
    out = []
    for (start, cohort, value), rs in groups.items():
        ranked = sorted(rs, key=lambda r: -(r.value or 0.0) / (r.bound or 1.0))
        out.append(
            {
                "window_start": start,
                "cohort": cohort,
                "cohort_value": value,
                "columns": len(rs),
                "drifted": sum(r.status == "alert" for r in rs),
                "warned": sum(r.status == "warn" for r in rs),
                "top": [
                    {
                        "column": r.column,
                        "check": r.check,
                        "method": r.method,
                        "value": r.value,
                        "bound": r.bound,
                        "severity": (r.value or 0.0) / (r.bound or 1.0),
                        "status": r.status,
                    }
                    for r in ranked[:top]
                ],
            }
        )
    return out


_FIELDS: dict[type, tuple[str, ...]] = {}
_Record = TypeVar("_Record", "CheckResult", "Alert", "WindowStats")
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` of ``value``, quicker on a report's many scalars.

    Dataclasses become dicts, containers are copied, scalars are kept (they are immutable:
    ``asdict`` would ``copy.deepcopy`` each), anything else is deep-copied.

    >>> from dataclasses import asdict
    >>> from driftline.methods.moments import Moments
    >>> _plain(Moments(2, 1.5, 0.5)) == asdict(Moments(2, 1.5, 0.5))
    True
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is dict:
        return {_plain(k): _plain(v) for k, v in value.items()}
    if cls is list:
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(cls)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return cls(*[_plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return cls(_plain(v) for v in value)
    if isinstance(value, dict):
        return cls((_plain(k), _plain(v)) for k, v in value.items())
    return copy.deepcopy(value)


def record(cls: type[_Record], values: Iterable[Any]) -> _Record:
    """``cls(*values)`` for one of the report's records, built at half the cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``;
    this fills the instance's ``__dict__`` with every field at once, in field order, as
    that ``__init__`` leaves it (the records have no ``__post_init__``, slots, or fields
    outside ``__init__``). ``values`` holds every field, defaults included.

    >>> r = record(Alert, (1, "s", None, None, "class_mix", None, 0.5, 0.1, "message", "a-1"))
    >>> r == Alert(1, "s", None, None, "class_mix", None, 0.5, 0.1, "message", "a-1")
    True
    """
    assert cls in _RECORDS
    built: _Record = object.__new__(cls)
    built.__dict__.update(zip(_field_names(cls), values, strict=True))
    return built


def _json_default(value: Any) -> Any:
    """What ``json.dumps`` cannot encode: a dataclass as the dict of its fields (the
    encoder handles their values), anything else as its ``str``.

    The report's own records (a quarter of a million on a wide table) hand over their
    ``__dict__``, which holds exactly their fields in field order: they are frozen
    dataclasses without slots, and their ``__init__`` sets the fields in that order.
    """
    if type(value) in _RECORDS:
        return value.__dict__
    if is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    return str(value)


#: The report's records: their ``__dict__`` is the dict of their fields, in field order
#: (see :func:`record` and :func:`_json_default`).
_RECORDS = frozenset({CheckResult, Alert, WindowStats})
