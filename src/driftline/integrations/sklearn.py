"""Monitor a scikit-learn model as it is: every ``predict``/``predict_proba`` call logs.

Usage (a fitted estimator ``fitted``, inputs ``x``)::

    import driftline
    from driftline.integrations.sklearn import MonitoredModel

    model = MonitoredModel(fitted, driftline.connect("store.duckdb", "spec.yaml"))
    model.predict(x)  # the estimator's own answer; the rows are logged

The wrapper is a drop-in: ``predict``, ``predict_proba`` and ``classes_`` return exactly
what the estimator returns, every other attribute is the estimator's, and
:attr:`MonitoredModel.unwrapped` is the estimator itself (LIME and the robustness checks
call it directly, so their perturbed rows are never logged). Inputs are a pandas
DataFrame (its columns named as in the spec), a 2-D array (the columns named by
``feature_names``, the estimator's ``feature_names_in_``, or the spec's numeric features
in order), or a list of strings (the spec's one text feature). ``buffer=N`` logs in
batches of at least N rows (call :meth:`flush` or use the wrapper as a context manager to
log the rest); ``ids=`` and ``cohorts=`` may be passed per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from driftline.errors import ConfigError, SchemaError, name_list
from driftline.integrations._rows import OnError, RowLogger
from driftline.monitor import Monitor

__all__ = ["MonitoredModel"]


class MonitoredModel:
    """A fitted classifier with ``predict_proba`` that logs each prediction to ``monitor``."""

    def __init__(
        self,
        model: Any,
        monitor: Monitor,
        *,
        feature_names: Sequence[str] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        buffer: int = 0,
        on_error: OnError = "raise",
    ) -> None:
        if not callable(getattr(model, "predict_proba", None)):
            raise ConfigError(
                f"{type(model).__name__} has no predict_proba; driftline logs class "
                "probabilities. Wrap a classifier that has it (for SVC, probability=True; "
                "or CalibratedClassifierCV around the model)."
            )
        classes = getattr(model, "classes_", None)
        if classes is None:
            raise ConfigError(f"{type(model).__name__} has no classes_: fit it before wrapping.")
        self.unwrapped = model
        self._names = list(feature_names) if feature_names is not None else None
        self._logger = RowLogger(
            monitor, list(classes), buffer=buffer, cohorts=cohorts, on_error=on_error
        )

    # -- the estimator's surface, unchanged -----------------------------------------------
    @property
    def classes_(self) -> Any:
        return self.unwrapped.classes_

    def predict_proba(
        self,
        x: Any,
        *,
        ids: Sequence[Any] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        timestamps: Sequence[Any] | None = None,
    ) -> Any:
        proba = self.unwrapped.predict_proba(x)
        self._log(x, proba, ids, cohorts, None, timestamps)
        return proba

    def predict(
        self,
        x: Any,
        *,
        ids: Sequence[Any] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        timestamps: Sequence[Any] | None = None,
    ) -> Any:
        answer = self.unwrapped.predict(x)
        self._log(x, self.unwrapped.predict_proba(x), ids, cohorts, answer, timestamps)
        return answer

    def __getattr__(self, name: str) -> Any:
        if name in ("unwrapped", "_logger", "_names"):
            raise AttributeError(name)
        return getattr(self.unwrapped, name)

    # -- logging --------------------------------------------------------------------------
    @property
    def logged(self) -> int:
        """Rows logged so far (buffered rows are not counted until flushed)."""
        return self._logger.logged

    @property
    def dropped(self) -> int:
        """Rows that failed to log with ``on_error="warn"``."""
        return self._logger.dropped

    def flush(self) -> None:
        self._logger.flush()

    def __enter__(self) -> MonitoredModel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()

    def _log(
        self,
        x: Any,
        proba: Any,
        ids: Sequence[Any] | None,
        cohorts: Mapping[str, Any] | None,
        predicted: Any = None,
        timestamps: Sequence[Any] | None = None,
    ) -> None:
        logger = self._logger
        table = logger.rows(
            proba,
            self._features(x),
            ids=ids,
            cohorts=cohorts,
            predicted=predicted,
            timestamps=timestamps,
        )
        logger.log(table)

    def _features(self, x: Any) -> dict[str, Any]:
        spec = self._logger.spec
        wanted = list(spec.feature_kinds) + list(spec.cohorts)
        if hasattr(x, "columns") and hasattr(x, "iloc"):
            return {str(c): x[c] for c in x.columns if str(c) in wanted}
        if isinstance(x, (list, tuple)) and x and isinstance(x[0], str):
            texts = spec.features.text
            if len(texts) != 1:
                raise SchemaError(
                    "the model was called with a list of strings but the spec has "
                    f"{len(texts)} text features; name exactly one in features.text."
                )
            return {texts[0]: list(x)}
        arr = np.asarray(x)
        if arr.ndim != 2:
            raise SchemaError(
                f"inputs of shape {arr.shape}; give a DataFrame, a 2-D array or a list of strings."
            )
        names = self._names
        if names is None:
            found = getattr(self.unwrapped, "feature_names_in_", None)
            names = [str(c) for c in found] if found is not None else list(spec.features.numeric)
        if len(names) != arr.shape[1]:
            raise SchemaError(
                f"inputs have {arr.shape[1]} columns but {len(names)} feature names "
                f"({name_list(names)}); pass feature_names= naming each column."
            )
        return {n: arr[:, i] for i, n in enumerate(names) if n in wanted}
