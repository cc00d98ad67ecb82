"""The ``score_drift`` check's sources: each class's score distribution, per window and
scope, against the reference's.

A class's score (``score:<class>``, see :mod:`driftline.engine.scores`) is judged as a
numeric feature is: histogram counts on the bin edges fitted on the reference, the
statistic of ``spec.drift.numeric`` (by default ``psi``), its calibrated no-drift bound,
the materiality floor (``checks.floors.checks.score_drift``, else the method's) and the
warn / alert levels. Each scope
is judged against its own baseline, a cohort value with too few reference rows against
the overall one. A binary model's single probability yields one result, of the positive
class.

A profile fitted before score drift (version 1 or 2) holds no score sources: it raises
no ``score_drift`` result until it is refitted.
"""

from __future__ import annotations

from typing import Any

from driftline.checks._context import _DriftColumn, _Observed, _Run, _Window
from driftline.checks._feature_checks import _drift
from driftline.checks._registry import check
from driftline.checks._results import CheckResult
from driftline.engine.scores import SCORE_PREFIX
from driftline.profile import Profile
from driftline.spec import Spec

__all__ = ["score_drift", "score_sources"]


@check("score_drift")
def score_drift(
    run: _Run, win: _Window, col: _DriftColumn, observed: _Observed | None
) -> CheckResult:
    """One class's score distribution against the reference's, by the numeric drift
    method: judged as a numeric feature is."""
    return _drift(run, win, col, observed)


def score_sources(spec: Spec, profile: Profile) -> list[tuple[str, str, str, Any, dict[str, Any]]]:
    """``(name, check, method, statistics, details)`` of each class score ``profile``
    holds a binned baseline of, in class order: the form ``_numeric_sources`` turns
    into drift sources."""
    method = spec.drift.numeric
    return [
        (name, "score_drift", method, stats, {"kind": "score", "class": name[len(SCORE_PREFIX) :]})
        for name, stats in profile.scores_.items()
        if name in profile.bin_edges_
    ]
