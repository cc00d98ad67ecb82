"""The table of checks lives in the leaf module :mod:`driftline._catalog` (the spec and the
renderers read it without importing the checks); re-exported here for the checks.

Each check is one function, registered here under its catalog name by :func:`check`
(see :mod:`driftline.checks._prediction_checks`, ``_feature_checks`` and
``_schema_checks``): :data:`FUNCTIONS` holds exactly one per name of :data:`CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from driftline._catalog import CHECKS, DRIFT_CHECKS, CheckInfo, Status

__all__ = ["CHECKS", "DRIFT_CHECKS", "FUNCTIONS", "CheckInfo", "Status", "check"]

#: The function of each check, by name (filled by :func:`check` as the check modules load).
FUNCTIONS: dict[str, Callable[..., object]] = {}

_F = TypeVar("_F", bound=Callable[..., object])


def check(name: str) -> Callable[[_F], _F]:
    """Register the decorated function as check ``name`` of :data:`CHECKS` (once)."""

    def register(function: _F) -> _F:
        if name not in CHECKS:
            raise ValueError(f"unknown check {name!r}; add it to driftline._catalog.CHECKS")
        if name in FUNCTIONS:
            raise ValueError(f"check {name!r} is registered twice")
        FUNCTIONS[name] = function
        return function

    return register
