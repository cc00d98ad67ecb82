"""Rows in the spec's layout from a model's inputs and class probabilities.

Shared by the scikit-learn and PyTorch wrappers: an id and a timestamp per row, the
predicted class, the scores in the spec's layout (a column per class, one list column, or
a binary model's probability of the positive class), the features the spec names, fixed
or per-row cohort values, and optionally an embedding.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from driftline.errors import ConfigError, SchemaError, name_list, shorten
from driftline.monitor import Monitor

__all__ = ["RowLogger"]

OnError = Literal["raise", "warn"]


class RowLogger:
    """Builds spec rows from a model call and logs them, at once or every ``buffer`` rows.

    ``classes`` is the model's class order (``predict_proba``'s columns); each must be a
    class of the spec. ``on_error="warn"`` turns a failed log into a warning so that
    serving goes on (the rows of the failed batch are dropped and counted in
    :attr:`dropped`); ``"raise"`` (the default) raises it.
    """

    def __init__(
        self,
        monitor: Monitor,
        classes: Sequence[Any],
        *,
        buffer: int = 0,
        cohorts: Mapping[str, Any] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        if not isinstance(monitor, Monitor):
            raise ConfigError(
                f"monitor is a {type(monitor).__name__}; give the driftline.connect(...) "
                "Monitor the predictions are logged to."
            )
        if buffer < 0:
            raise ConfigError(f"buffer must be 0 (log every call) or more rows; got {buffer}.")
        if on_error not in ("raise", "warn"):
            raise ConfigError(f"on_error must be 'raise' or 'warn'; got {on_error!r}.")
        self.monitor = monitor
        self.spec = monitor.spec
        self.classes = [str(c) for c in classes]
        wanted = self.spec.classes
        unknown = [c for c in self.classes if c not in wanted]
        if unknown or len(self.classes) != len(wanted):
            raise ConfigError(
                f"the model's classes {name_list(self.classes)} are not the spec's classes "
                f"{name_list(wanted)}; log a model for this spec, or fix the spec's scores."
            )
        fixed = dict(cohorts or {})
        extra = [c for c in fixed if c not in self.spec.cohorts]
        if extra:
            raise ConfigError(
                f"cohort {shorten(extra[0])} is not a cohort of the spec; its cohorts are "
                f"{name_list(self.spec.cohorts)}."
            )
        self.cohorts = fixed
        self.buffer = buffer
        self.on_error = on_error
        self.logged = 0
        self.dropped = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._lock = threading.Lock()

    # -- building rows ------------------------------------------------------------------
    def rows(
        self,
        proba: Any,
        features: Mapping[str, Any],
        *,
        ids: Sequence[Any] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        embedding: Any = None,
        predicted: Sequence[Any] | None = None,
        timestamps: Sequence[datetime] | None = None,
    ) -> pa.Table:
        """One row per row of ``proba``; ``predicted`` is the model's own answer when it
        is not the most probable class (e.g. ``SVC.predict``), else the argmax is logged.
        ``timestamps`` (default: now) are the predictions' times, naive ones read as UTC."""
        s = self.spec
        p = np.asarray(proba, dtype=float)
        n = p.shape[0]
        if p.ndim != 2 or p.shape[1] != len(self.classes):
            raise SchemaError(
                f"the model returned probabilities of shape {p.shape}; expected (rows, "
                f"{len(self.classes)}) for the classes {name_list(self.classes)}."
            )
        if ids is None:
            id_values = [uuid.uuid4().hex for _ in range(n)]
        else:
            id_values = [str(i) for i in ids]
            if len(id_values) != n:
                raise SchemaError(f"{len(id_values)} ids for {n} rows; give one id per row.")
        if timestamps is None:
            stamps = [datetime.now(timezone.utc).replace(tzinfo=None)] * n
        else:
            stamps = [_utc(t) for t in timestamps]
            if len(stamps) != n:
                raise SchemaError(
                    f"{len(stamps)} timestamps for {n} rows; give one timestamp per row."
                )
        order = [self.classes.index(c) for c in s.classes]  # spec order -> model column
        by_spec = p[:, order]
        cols: dict[str, Any] = {
            s.id: pa.array(id_values, pa.string()),
            s.timestamp: pa.array(stamps, pa.timestamp("us")),
            s.prediction: pa.array(
                [str(v) for v in predicted]
                if predicted is not None
                else [s.classes[k] for k in by_spec.argmax(axis=1)],
                pa.string(),
            ),
        }
        layout = s.scores.layout
        if layout == "columns":
            assert s.scores.columns is not None
            for k, klass in enumerate(s.classes):
                cols[s.scores.columns[klass]] = pa.array(by_spec[:, k], pa.float64())
        elif layout == "binary":
            positive = s.classes.index(str(s.scores.positive))
            cols[s.score_columns[0]] = pa.array(by_spec[:, positive], pa.float64())
        else:
            cols[s.score_columns[0]] = pa.array(by_spec.tolist(), pa.list_(pa.float64()))
        for name, values in features.items():
            if name in cols:
                continue
            cols[name] = _column(name, values, n)
        given = {**self.cohorts, **(cohorts or {})}
        for name in s.cohorts:
            if name in cols:
                continue
            if name not in given:
                raise SchemaError(
                    f"cohort {shorten(name)} has no value for these rows: it is not among the "
                    "inputs; pass cohorts={...} to the wrapper or to the call."
                )
            cols[name] = _column(name, given[name], n)
        if embedding is not None and s.embedding:
            e = np.asarray(embedding, dtype=float).reshape(n, -1)
            cols[s.embedding] = pa.array(e.tolist(), pa.list_(pa.float64()))
        return pa.table(cols)

    # -- logging ------------------------------------------------------------------------
    def log(self, table: pa.Table) -> None:
        with self._lock:
            self._pending.append(table)
            self._pending_rows += table.num_rows
            if self._pending_rows >= max(self.buffer, 1):
                self._flush_locked()

    def flush(self) -> None:
        """Log the buffered rows now (one batch)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        batch = pa.concat_tables(self._pending, promote_options="permissive")
        self._pending, self._pending_rows = [], 0
        try:
            self.monitor.log_predictions(batch)
        except Exception as exc:  # one boundary: serving must go on when asked to
            if self.on_error == "raise":
                raise
            self.dropped += batch.num_rows
            warnings.warn(
                f"driftline could not log {batch.num_rows} predictions: {exc}",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        self.logged += batch.num_rows


def _column(name: str, values: Any, n: int) -> pa.Array:
    if isinstance(values, (str, int, float, bool)) or values is None:
        return pa.array([values] * n)
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if len(arr) != n:
        raise SchemaError(f"column {shorten(name)} has {len(arr)} values for {n} rows.")
    if arr.dtype.kind == "O":
        return pa.array(list(arr))
    return pa.array(arr)


def _utc(t: Any) -> datetime:
    if hasattr(t, "to_pydatetime"):
        t = t.to_pydatetime()
    if not isinstance(t, datetime):
        raise SchemaError(f"timestamp {shorten(str(t))} is not a datetime; give datetimes.")
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t
