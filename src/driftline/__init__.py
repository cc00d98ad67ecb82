"""driftline: watch classification models in production.

``__all__`` is kept in ruff's (isort-style) order; tests/test_exported_members.py checks
that it lists exactly the public names.
"""

from driftline._io import to_arrow
from driftline.checks import CHECKS, Alert, CheckReport, CheckResult, WindowStats
from driftline.errors import (
    ConfigError,
    DriftlineError,
    EmptyWindowError,
    IngestError,
    MissingExtraError,
    NotFittedError,
    ProfileError,
    SchemaError,
    StoreError,
    UnsupportedOperationError,
)
from driftline.monitor import Monitor, connect
from driftline.profile import Profile
from driftline.report import render_report
from driftline.spec import Spec, infer_spec, load_spec
from driftline.store import IngestReport

__version__ = "0.1.0"

__all__ = [
    "CHECKS",
    "Alert",
    "CheckReport",
    "CheckResult",
    "ConfigError",
    "DriftlineError",
    "EmptyWindowError",
    "IngestError",
    "IngestReport",
    "MissingExtraError",
    "Monitor",
    "NotFittedError",
    "Profile",
    "ProfileError",
    "SchemaError",
    "Spec",
    "StoreError",
    "UnsupportedOperationError",
    "WindowStats",
    "connect",
    "infer_spec",
    "load_spec",
    "render_report",
    "to_arrow",
]
