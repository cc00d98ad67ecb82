"""The spec: which column plays which role, and the window checks run over.

A spec lives in the user's repository as YAML (``driftline.yaml``). It is inferred from a
reference table by :func:`infer_spec` and every inference can be overridden. Unknown keys
are errors, at every level.

>>> spec = Spec.model_validate({
...     "id": "id", "timestamp": "ts", "prediction": "pred",
...     "scores": {"columns": {"cat": "score_cat", "dog": "score_dog"}},
...     "cohorts": ["country"], "features": {"numeric": ["age"]},
... })
>>> spec.classes
['cat', 'dog']
>>> spec.window_parsed
Window(seconds=86400, rows=None)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from driftline.errors import ConfigError, name_list

__all__ = [
    "RESERVED_COLUMNS",
    "Checks",
    "DriftConfig",
    "Features",
    "Scores",
    "Spec",
    "Window",
    "infer_spec",
    "load_spec",
    "parse_window",
]

#: Columns driftline adds to the predictions table; a spec may not use these names.
RESERVED_COLUMNS = frozenset({"confidence", "ingested_at", "_batch", "_raw"})

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_ROWS_RE = re.compile(r"^\s*(\d+)\s*rows?\s*$")


@dataclass(frozen=True)
class Window:
    """A parsed window: either a duration in seconds or a number of rows."""

    seconds: int | None = None
    rows: int | None = None

    @property
    def label(self) -> str:
        if self.rows is not None:
            return f"{self.rows} rows"
        assert self.seconds is not None
        for unit, size in sorted(_UNITS.items(), key=lambda kv: -kv[1]):
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"  # pragma: no cover - 's' always divides


def parse_window(text: str) -> Window:
    """Parse ``'1d'``, ``'6h'``, ``'30m'``, ``'7d'``, ``'2w'`` or ``'10000 rows'``.

    >>> parse_window("6h")
    Window(seconds=21600, rows=None)
    >>> parse_window("5000 rows")
    Window(seconds=None, rows=5000)
    """
    if not isinstance(text, str):
        raise ConfigError(
            f"window must be a string such as '1d', '1h' or '10000 rows'; got {text!r}."
        )
    if m := _WINDOW_RE.match(text):
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
        if seconds <= 0:
            raise ConfigError(f"window {text!r} is empty; use a positive size such as '1d'.")
        return Window(seconds=seconds)
    if m := _ROWS_RE.match(text):
        rows = int(m.group(1))
        if rows <= 0:
            raise ConfigError(f"window {text!r} is empty; use a positive row count.")
        return Window(rows=rows)
    raise ConfigError(
        f"window {text!r} is not understood; use a number and a unit (s, m, h, d, w), "
        "e.g. '1d', '6h', '7d', or a row count such as '10000 rows'."
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scores(_Strict):
    """Per-class scores: one column per class, or one list column with a class order."""

    columns: dict[str, str] | None = None
    column: str | None = None
    classes: list[str] | None = None

    @field_validator("columns", mode="before")
    @classmethod
    def _stringify_classes(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("classes", mode="before")
    @classmethod
    def _stringify_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Scores:
        if (self.columns is None) == (self.column is None):
            raise ValueError(
                "give either 'columns' (class -> score column) or 'column' (one list column) "
                "with 'classes'"
            )
        if self.column is not None and not self.classes:
            raise ValueError(f"scores.column {self.column!r} needs 'classes' (the class order)")
        if self.columns is not None and self.classes is not None:
            raise ValueError(
                "'classes' goes with 'column'; with 'columns' the keys are the classes"
            )
        if self.columns is not None and len(self.columns) < 2:
            raise ValueError("a classifier has at least two classes; 'columns' lists fewer")
        return self

    @property
    def class_order(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        assert self.classes is not None
        return list(self.classes)


class Features(_Strict):
    """Model inputs by kind."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)

    def kinds(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind in ("numeric", "categorical", "text"):
            for name in getattr(self, kind):
                out[name] = kind
        return out


class Checks(_Strict):
    """How alerts are decided. Bounds are calibrated on the reference, per window size.

    ``alert_quantile`` is the quantile of the no-drift statistic (simulated from the
    reference at the window's size) used as the bound; ``min_effect`` is a floor on each
    bound so that a shift too small to matter never alerts, whatever the window size.
    """

    rolling_windows: int = Field(default=7, ge=1)
    alert_quantile: float = Field(default=0.999, gt=0.5, lt=1.0)
    calibration_reps: int = Field(default=1000, ge=100, le=100_000)
    seed: int = 0
    min_rows: int = Field(default=30, ge=1)
    min_effect: dict[str, float] = Field(default_factory=dict)
    fixed_bounds: dict[str, float] = Field(default_factory=dict)
    #: how far before the reference's first timestamp, or after the time of the check
    #: (clock skew), a timestamp may lie before the ``timestamp_era`` check flags it: a
    #: duration such as '1d' or '6h'
    timestamp_tolerance: str = "1d"

    @field_validator("timestamp_tolerance")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_window(value).seconds is None:
            raise ValueError(
                f"timestamp_tolerance is a duration such as '1d' or '6h'; got {value!r}"
            )
        return value

    @property
    def timestamp_tolerance_seconds(self) -> int:
        seconds = parse_window(self.timestamp_tolerance).seconds
        assert seconds is not None
        return seconds

    @field_validator("min_effect", "fixed_bounds")
    @classmethod
    def _known_checks(cls, value: dict[str, float]) -> dict[str, float]:
        from driftline.checks import CHECKS  # the one table of check names

        unknown = sorted(set(value) - set(CHECKS))
        if unknown:
            raise ValueError(
                f"unknown check {unknown[0]!r}; available: {', '.join(sorted(CHECKS))}"
            )
        return value


class DriftConfig(_Strict):
    """Which drift statistic each feature gets: one default per kind, overrides per column.

    ``DriftConfig(numeric="psi", by_column={"age": "ks"})``. Text columns drift on their
    style features (length, digits, ...), which are numeric. ``bins`` is the number of
    reference-quantile bins per numeric feature (and text style feature) in the profile.
    ``min_effect`` overrides the per-method floor below which no drift alerts
    (see :data:`driftline.checks.DRIFT_FLOORS`).
    """

    numeric: str = "psi"
    categorical: str = "jensen_shannon"
    text: str = "psi"
    by_column: dict[str, str] = Field(default_factory=dict)
    bins: int = Field(default=20, ge=2, le=1000)
    min_effect: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_methods(self) -> DriftConfig:
        from driftline.methods import available_methods, get_method

        for where, name, kind in [
            ("drift.numeric", self.numeric, "numeric"),
            ("drift.categorical", self.categorical, "categorical"),
            ("drift.text", self.text, "numeric"),
            *[(f"drift.by_column.{c}", m, None) for c, m in self.by_column.items()],
        ]:
            info = get_method(name)  # raises with the list of available methods
            if kind is not None and kind not in info.kinds:
                raise ValueError(
                    f"{where}: method {name!r} does not apply to {kind} columns; use one of "
                    f"{', '.join(available_methods(kind))}"
                )
        for name in self.min_effect:
            get_method(name)
        return self

    def method_for(self, column: str, kind: str) -> str:
        if column in self.by_column:
            return self.by_column[column]
        return str(getattr(self, kind))


class Spec(_Strict):
    """Column roles and the window. See the module docstring for an example."""

    id: str = "id"
    timestamp: str = "timestamp"
    prediction: str = "prediction"
    scores: Scores
    label: str | None = None
    cohorts: list[str] = Field(default_factory=list)
    features: Features = Field(default_factory=Features)
    embedding: str | None = None
    window: str = "1d"
    checks: Checks = Field(default_factory=Checks)
    drift: DriftConfig = Field(default_factory=DriftConfig)

    @field_validator("window", mode="before")
    @classmethod
    def _window_ok(cls, value: Any) -> Any:
        parse_window(value)  # before pydantic's str check, so a number gets this message
        return value

    @model_validator(mode="after")
    def _columns_distinct(self) -> Spec:
        roles: dict[str, list[str]] = {}
        for role, col in self.column_roles():
            if col in RESERVED_COLUMNS:
                raise ValueError(
                    f"column {col!r} ({role}) is a name driftline reserves "
                    f"({', '.join(sorted(RESERVED_COLUMNS))}); rename it before logging"
                )
            roles.setdefault(col, []).append(role)
        for col, given in roles.items():
            if len(given) > 1 and sorted(given) != ["cohort", "feature (categorical)"]:
                if given[0] == given[1]:
                    raise ValueError(f"column {col!r} is listed twice as {given[0]}; list it once")
                raise ValueError(
                    f"column {col!r} is given two roles, {given[0]} and {given[1]}; each "
                    "column has one role (a cohort may also be a categorical feature)"
                )
        self._drift_overrides_apply()
        return self

    def _drift_overrides_apply(self) -> None:
        """Each ``drift.by_column`` entry names a feature, with a method for its kind."""
        from driftline.methods import available_methods, get_method

        kinds = self.feature_kinds
        for col, method in self.drift.by_column.items():
            if col not in kinds:
                raise ValueError(
                    f"drift.by_column names {col!r}, which is not a feature of the spec "
                    f"(features: {name_list(kinds)}); add it to features or remove the override"
                )
            kind = "numeric" if kinds[col] == "text" else kinds[col]  # text drifts on style
            if kind not in get_method(method).kinds:
                raise ValueError(
                    f"drift.by_column.{col}: method {method!r} does not apply to {kind} "
                    f"columns; use one of {', '.join(available_methods(kind))}"
                )

    # -- derived ------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return self.scores.class_order

    @property
    def score_columns(self) -> list[str]:
        if self.scores.columns is not None:
            return list(self.scores.columns.values())
        assert self.scores.column is not None
        return [self.scores.column]

    @property
    def window_parsed(self) -> Window:
        return parse_window(self.window)

    @property
    def feature_kinds(self) -> dict[str, str]:
        return self.features.kinds()

    def column_roles(self) -> list[tuple[str, str]]:
        roles = [("id", self.id), ("timestamp", self.timestamp), ("prediction", self.prediction)]
        roles += [("scores", c) for c in self.score_columns]
        if self.label:
            roles.append(("label", self.label))
        roles += [("cohort", c) for c in self.cohorts]
        # from the lists, not feature_kinds (a dict), so a column under two kinds is seen
        roles += [
            (f"feature ({kind})", c)
            for kind in ("numeric", "categorical", "text")
            for c in getattr(self.features, kind)
        ]
        if self.embedding:
            roles.append(("embedding", self.embedding))
        return roles

    def required_columns(self) -> list[str]:
        return [self.id, self.timestamp, self.prediction, *self.score_columns]

    def fingerprint(self) -> str:
        """Hash of the data roles (not the window or check options) a profile depends on."""
        data = self.model_dump(exclude={"window", "checks", "drift"})
        data["bins"] = self.drift.bins
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    # -- YAML -----------------------------------------------------------------------------
    def to_yaml(self) -> str:
        data = self.model_dump(exclude_defaults=False)
        data["scores"] = {k: v for k, v in data["scores"].items() if v is not None}
        data["features"] = {k: v for k, v in data["features"].items() if v}
        data["checks"] = self.checks.model_dump(exclude_defaults=True)
        data["drift"] = self.drift.model_dump(exclude_defaults=True)
        for key in ("label", "embedding", "checks", "drift"):
            if not data[key]:
                del data[key]
        return yaml.safe_dump(data, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(self.to_yaml())
        return out


def _validation_message(exc: ValidationError, where: str) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(
                f"unknown key {loc!r} in {where}; remove it or check its spelling "
                f"(value {err.get('input')!r})"
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return "; ".join(lines)


def load_spec(source: str | Path | Mapping[str, Any] | Spec) -> Spec:
    """Load a spec from a YAML path, a mapping, or pass a :class:`Spec` through."""
    if isinstance(source, Spec):
        return source
    where = "the spec"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ConfigError(
                f"spec file {str(path)!r} does not exist; create it with "
                "`driftline init --reference FILE`."
            )
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must hold a mapping of roles; got {type(data).__name__}.")
    else:
        data = source
    try:
        return Spec.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc, where)) from exc


# --------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------
_ID_NAMES = ("id", "prediction_id", "request_id", "uuid", "row_id", "event_id")
_TS_NAMES = ("timestamp", "ts", "time", "event_time", "created_at", "datetime", "date")
_PRED_NAMES = ("prediction", "pred", "predicted", "predicted_class", "y_pred", "predicted_label")
_LABEL_NAMES = ("label", "target", "y_true", "y", "actual", "ground_truth")
_COHORT_NAMES = ("cohort", "segment")
_SCORE_PREFIXES = ("score_", "proba_", "prob_", "probability_")
_LIST_SCORE_NAMES = ("scores", "probas", "probabilities", "proba", "probs")


def _first(names: Iterable[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {n.lower(): n for n in names}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    return None


def _is_text(column: pa.ChunkedArray) -> bool:
    sample = [v for v in column.slice(0, 2000).to_pylist() if isinstance(v, str)]
    if not sample:
        return False
    mean_len = sum(len(v) for v in sample) / len(sample)
    spaced = sum(" " in v.strip() for v in sample) / len(sample)
    distinct = len(set(sample)) / len(sample)
    return mean_len > 30 or (spaced > 0.5 and distinct > 0.5)


def infer_spec(
    reference: Any,
    *,
    id: str | None = None,
    timestamp: str | None = None,
    prediction: str | None = None,
    scores: list[str] | None = None,
    label: str | None = None,
    cohorts: list[str] | None = None,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    text: list[str] | None = None,
    window: str = "1d",
) -> Spec:
    """Infer a spec from a reference table (any input :func:`driftline.to_arrow` takes).

    Common names are recognised (``id``; ``ts``/``timestamp``; ``prediction``/``pred``;
    ``score_*``/``proba_*``; ``label``/``target``; ``cohort``/``segment``); every keyword
    overrides one role. Remaining columns become features: numbers are numeric, short
    strings categorical, long or many-word strings text.
    """
    from driftline._io import to_arrow

    table = to_arrow(reference)
    names = table.column_names
    roles: dict[str, Any] = {}

    def pick(role: str, given: str | None, candidates: tuple[str, ...]) -> str | None:
        if given is not None:
            if given not in names:
                raise ConfigError(
                    f"--{role} {given!r} is not a column of the reference; columns are "
                    f"{name_list(names)}."
                )
            return given
        return _first(names, candidates)

    roles["id"] = pick("id", id, _ID_NAMES)
    roles["timestamp"] = pick("timestamp", timestamp, _TS_NAMES)
    roles["prediction"] = pick("prediction", prediction, _PRED_NAMES)
    roles["label"] = pick("label", label, _LABEL_NAMES)

    if scores is not None:
        missing = [c for c in scores if c not in names]
        if missing:
            raise ConfigError(
                f"--scores column {missing[0]!r} is not in the reference; columns are "
                f"{name_list(names)}."
            )
        score_cols = list(scores)
    else:
        score_cols = [n for n in names if n.lower().startswith(_SCORE_PREFIXES)]
    score_spec: dict[str, Any]
    if score_cols:
        classes = [c.split("_", 1)[1] if "_" in c else c for c in score_cols]
        score_spec = {"columns": dict(zip(classes, score_cols, strict=True))}
    else:
        list_col = _first(names, _LIST_SCORE_NAMES)
        if list_col is None:
            raise ConfigError(
                "no score columns found in the reference: name them score_<class> or "
                "proba_<class>, or pass --scores col1,col2,..."
            )
        pred = roles["prediction"]
        found = sorted({str(v) for v in table[pred].to_pylist()}) if pred else []
        score_spec = {"column": list_col, "classes": found}
    for role in ("id", "timestamp", "prediction"):
        if roles[role] is None:
            raise ConfigError(
                f"could not find the {role} column in the reference (columns: "
                f"{name_list(names)}); pass --{role} COLUMN."
            )

    taken = {roles["id"], roles["timestamp"], roles["prediction"], roles["label"], *score_cols}
    if score_spec.get("column"):
        taken.add(score_spec["column"])
    explicit = set(numeric or []) | set(categorical or []) | set(text or [])
    if cohorts is None:  # inferred cohorts yield to every role given or found above
        cohorts = [
            n
            for n in names
            if (n.lower() in _COHORT_NAMES or n.lower().startswith("cohort_"))
            and n not in taken
            and n not in {*(numeric or []), *(text or [])}  # a cohort may be categorical
        ]
    taken.update(cohorts)

    for col in explicit:
        if col not in names:
            raise ConfigError(
                f"feature {col!r} is not a column of the reference; columns are {name_list(names)}."
            )
    num = list(numeric or [])
    cat = list(categorical or [])
    txt = list(text or [])
    embedding = None
    for col in names:
        if col in taken or col in explicit:
            continue
        typ = table.schema.field(col).type
        if pa.types.is_list(typ) or pa.types.is_large_list(typ):
            if embedding is None and col.lower().startswith(("embedding", "emb")):
                embedding = col
            continue
        if pa.types.is_boolean(typ) or pa.types.is_dictionary(typ):
            cat.append(col)
        elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
            num.append(col)
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            (txt if _is_text(table[col]) else cat).append(col)
    roles["cohorts"] = list(cohorts)
    roles["features"] = {"numeric": num, "categorical": cat, "text": txt}
    roles["scores"] = score_spec
    roles["embedding"] = embedding
    roles["window"] = window
    if roles["label"] is None:
        del roles["label"]
    return load_spec(roles)
