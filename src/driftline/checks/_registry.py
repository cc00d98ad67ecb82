"""The table of checks lives in the leaf module :mod:`driftline._catalog` (the spec and the
renderers read it without importing the checks); re-exported here for the checks."""

from driftline._catalog import CHECKS, DRIFT_CHECKS, CheckInfo, Status

__all__ = ["CHECKS", "DRIFT_CHECKS", "CheckInfo", "Status"]
