"""driftline: watch classification models in production.

``__all__`` is kept in ruff's (isort-style) order; tests/test_exported_members.py checks
that it lists exactly the public names.

Public names are imported on first use (PEP 562): ``import driftline`` loads neither the
engine nor Ibis nor DuckDB, so rendering a saved report (``driftline.render_report``)
or reading the check table costs what those need, not a second of engine imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftline._catalog import CHECKS
    from driftline._io import to_arrow
    from driftline.checks import Alert, CheckReport, CheckResult, WindowStats
    from driftline.embeddings import EmbeddingProjection
    from driftline.engine.spark import spark_session
    from driftline.errors import (
        ConfigError,
        DriftlineError,
        EmptyWindowError,
        EngineError,
        IngestError,
        MissingExtraError,
        NotFittedError,
        ProfileError,
        SchemaError,
        SourceError,
        StoreError,
        UnsupportedOperationError,
    )
    from driftline.incidents import Incident, find_incidents
    from driftline.monitor import Monitor, connect
    from driftline.profile import Profile
    from driftline.queues import LabelQueue, QueueConfig, QueueItem, write_queue
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
    "EmbeddingProjection",
    "EmptyWindowError",
    "EngineError",
    "Incident",
    "IngestError",
    "IngestReport",
    "LabelQueue",
    "MissingExtraError",
    "Monitor",
    "NotFittedError",
    "Profile",
    "ProfileError",
    "QueueConfig",
    "QueueItem",
    "SchemaError",
    "SourceError",
    "Spec",
    "StoreError",
    "UnsupportedOperationError",
    "WindowStats",
    "connect",
    "find_incidents",
    "infer_spec",
    "load_spec",
    "render_report",
    "spark_session",
    "to_arrow",
    "write_queue",
]

#: The module each public name lives in.
_HOME: dict[str, str] = {
    "CHECKS": "driftline._catalog",
    "Alert": "driftline.checks",
    "CheckReport": "driftline.checks",
    "CheckResult": "driftline.checks",
    "ConfigError": "driftline.errors",
    "DriftlineError": "driftline.errors",
    "EmbeddingProjection": "driftline.embeddings",
    "EmptyWindowError": "driftline.errors",
    "EngineError": "driftline.errors",
    "Incident": "driftline.incidents",
    "IngestError": "driftline.errors",
    "IngestReport": "driftline.store",
    "LabelQueue": "driftline.queues",
    "MissingExtraError": "driftline.errors",
    "Monitor": "driftline.monitor",
    "NotFittedError": "driftline.errors",
    "Profile": "driftline.profile",
    "ProfileError": "driftline.errors",
    "QueueConfig": "driftline.queues",
    "QueueItem": "driftline.queues",
    "SchemaError": "driftline.errors",
    "SourceError": "driftline.errors",
    "Spec": "driftline.spec",
    "StoreError": "driftline.errors",
    "UnsupportedOperationError": "driftline.errors",
    "WindowStats": "driftline.checks",
    "connect": "driftline.monitor",
    "find_incidents": "driftline.incidents",
    "infer_spec": "driftline.spec",
    "load_spec": "driftline.spec",
    "render_report": "driftline.report",
    "spark_session": "driftline.engine.spark",
    "to_arrow": "driftline._io",
    "write_queue": "driftline.queues",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'driftline' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
