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
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from driftline._catalog import (
    CHECKS,
    DEFAULT_CHECK_FLOORS,
    DEFAULT_FLOORS,
    INTERNAL_PREFIX,
    STORE_COLUMNS,
)
from driftline.errors import ConfigError, name_list, shorten

__all__ = [
    "RESERVED_COLUMNS",
    "Checks",
    "DriftConfig",
    "EmbeddingConfig",
    "Features",
    "Floors",
    "Scores",
    "Spec",
    "ThresholdConfig",
    "Window",
    "column_name_problem",
    "infer_spec",
    "load_spec",
    "parse_window",
]

#: Columns driftline adds to the predictions table; a spec may not use these names, in
#: any case (see :func:`column_name_problem`). The one list is ``_catalog.STORE_COLUMNS``.
RESERVED_COLUMNS = STORE_COLUMNS

#: Characters refused in column names, by Unicode category: control characters (NUL,
#: newline, tab, DEL, ...) and the line and paragraph separators. DuckDB cuts a name at
#: a NUL; the others break messages, terminals, YAML and CSV headers.
_BAD_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_CHAR_NAMES = {
    "\x00": "NUL",
    "\t": "tab",
    "\n": "newline",
    "\r": "carriage return",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}


def column_name_problem(name: str, *, own_columns: bool = True) -> str | None:
    """Why driftline cannot take ``name`` as a column name, or ``None`` if it can.

    Refused: blank names, control characters and line separators, the store's own
    columns (:data:`RESERVED_COLUMNS`, compared up to case: DuckDB and Spark identifiers
    are case-insensitive) and names starting with ``INTERNAL_PREFIX`` (driftline's
    internal query columns). ``own_columns=False`` skips the last two (for a batch whose
    other columns are not read). Everything else, e.g. ``window``, ``a AS b``, quotes,
    dots or backticks, is an ordinary name.

    >>> column_name_problem("age") is None
    True
    >>> column_name_problem("Confidence")
    "equals the store's own column 'confidence' up to case (names are case-insensitive)"
    >>> column_name_problem("a\\nb")
    'contains a newline (U+000A) at position 2'
    """
    if not name.strip():
        return "is blank"
    for i, char in enumerate(name, start=1):
        if unicodedata.category(char) in _BAD_CATEGORIES:
            what = _CHAR_NAMES.get(char, "control character")
            return f"contains a {what} (U+{ord(char):04X}) at position {i}"
    if not own_columns:
        return None
    folded = name.casefold()
    for own in sorted(STORE_COLUMNS):
        if folded == own.casefold():
            if name == own:
                return f"is the store's own column {own!r}"
            return f"equals the store's own column {own!r} up to case (names are case-insensitive)"
    if folded.startswith(INTERNAL_PREFIX.casefold()):
        return f"starts with {INTERNAL_PREFIX!r}, the prefix of driftline's internal query columns"
    return None


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
    """Per-class scores, in one of three layouts:

    - ``columns``: one probability column per class (``{class: column}``);
    - ``column`` with ``classes``: one list column, the probabilities in class order;
    - ``column`` with ``positive`` and ``negative``: a binary model's single probability
      column (the probability of ``positive``), as most servers and NannyML log it.

    >>> Scores(column="y_pred_proba", positive=1, negative=0).class_order
    ['0', '1']
    """

    columns: dict[str, str] | None = None
    column: str | None = None
    classes: list[str] | None = None
    positive: str | None = None
    negative: str | None = None

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

    @field_validator("positive", "negative", mode="before")
    @classmethod
    def _stringify_class(cls, value: Any) -> Any:
        # YAML reads `positive: 1` as an int and `positive: yes` as a bool; the class is
        # the predicted value as stored (a string)
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (int, float)):
            return str(value)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Scores:
        if (self.columns is None) == (self.column is None):
            raise ValueError(
                "give either 'columns' (class -> score column), 'column' (one list column) "
                "with 'classes', or 'column' (a binary model's probability) with 'positive' "
                "and 'negative'"
            )
        binary = self.positive is not None or self.negative is not None
        if binary:
            if self.column is None:
                raise ValueError(
                    "'positive' and 'negative' go with 'column', the probability of the "
                    "positive class; with 'columns' the keys are the classes"
                )
            if self.classes is not None:
                raise ValueError(
                    f"scores.column {self.column!r} is a binary probability (positive "
                    f"{self.positive!r}): the classes are 'negative' and 'positive'; remove "
                    "'classes'"
                )
            if self.positive is None or self.negative is None:
                given, other = (
                    ("positive", "negative")
                    if self.negative is None
                    else (
                        "negative",
                        "positive",
                    )
                )
                raise ValueError(
                    f"scores.{given} needs scores.{other}: name both classes of the binary "
                    f"model, e.g. positive: '1', negative: '0'"
                )
            if self.positive == self.negative:
                raise ValueError(
                    f"scores.positive and scores.negative are both {self.positive!r}; a "
                    "binary model has two different classes"
                )
            return self
        if self.column is not None and not self.classes:
            raise ValueError(
                f"scores.column {self.column!r} needs 'classes' (the class order of a list "
                "column) or 'positive' and 'negative' (a binary model's probability column)"
            )
        if self.columns is not None and self.classes is not None:
            raise ValueError(
                "'classes' goes with 'column'; with 'columns' the keys are the classes"
            )
        if self.columns is not None and len(self.columns) < 2:
            raise ValueError(
                "a classifier has at least two classes; 'columns' lists fewer (a binary "
                "model's single probability column is `column` with 'positive' and "
                "'negative')"
            )
        return self

    @property
    def layout(self) -> str:
        """``"columns"``, ``"list"`` or ``"binary"`` (see the class docstring)."""
        if self.columns is not None:
            return "columns"
        return "binary" if self.positive is not None else "list"

    @property
    def class_order(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        if self.positive is not None:
            assert self.negative is not None
            return [self.negative, self.positive]
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


def _known(
    value: dict[str, float], known: Iterable[str], what: str, where: str
) -> dict[str, float]:
    """``value`` when every key is a known name, else the error naming the first other."""
    names = sorted(known)
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r} in {where}; available: {', '.join(names)}")
    return value


#: How a floor is applied, as the plan prints it.
_FLOOR_RULE = (
    "alert when beyond the bound and |effect| > floor; for feature and text drift, "
    "|effect| - its no-drift mean at the window's size > floor"
)


class Floors(_Strict):
    """Materiality floors, configured in this one place: a result *alerts* when it is
    beyond its calibrated no-drift bound and its effect beyond its floor, and *warns*
    when only the bound is passed (real at this window size, too small to act on). A
    drift statistic's effect is measured beyond its no-drift mean at the window's size
    (``|effect| - mean > floor``): what chance adds to a small window never counts.

    One default per method (:data:`driftline._catalog.DEFAULT_FLOORS`; a few checks have
    their own, :data:`~driftline._catalog.DEFAULT_CHECK_FLOORS`), overridden per method,
    then per check, then per column (a text column's floor covers its style features):
    ``Floors(methods={"psi": 0.01}, columns={"age": 0.05})``.

    >>> Floors(checks={"class_mix": 0.05}).resolve("class_mix", "jensen_shannon", None)
    (0.05, 'checks.floors.checks.class_mix')
    >>> Floors().resolve("feature_drift", "psi", "age")
    (0.02, 'default floor of psi')
    """

    methods: dict[str, float] = Field(default_factory=dict)
    checks: dict[str, float] = Field(default_factory=dict)
    columns: dict[str, float] = Field(default_factory=dict)

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: dict[str, float]) -> dict[str, float]:
        return _known(value, DEFAULT_FLOORS, "method", "floors.methods")

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: dict[str, float]) -> dict[str, float]:
        return _known(value, CHECKS, "check", "floors.checks")

    @field_validator("methods", "checks", "columns")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for name, floor in value.items():
            if not floor >= 0:  # also refuses NaN
                raise ValueError(f"floor of {name!r} is {floor!r}; floors are numbers >= 0")
        return value

    def resolve(self, check: str, method: str, column: str | None) -> tuple[float, str]:
        """The floor of one result and where it was set."""
        if column is not None:
            for name in (column, column.rpartition(":")[0]):
                if name in self.columns:
                    return self.columns[name], f"checks.floors.columns.{name}"
        if check in self.checks:
            return self.checks[check], f"checks.floors.checks.{check}"
        if check in DEFAULT_CHECK_FLOORS:
            return DEFAULT_CHECK_FLOORS[check], f"default floor of {check}"
        if method in self.methods:
            return self.methods[method], f"checks.floors.methods.{method}"
        return DEFAULT_FLOORS.get(method, 0.0), f"default floor of {method}"

    def applied(self) -> dict[str, Any]:
        """The floors every result is decided with: defaults merged with overrides."""
        return {
            "methods": {**DEFAULT_FLOORS, **self.methods},
            "checks": {**DEFAULT_CHECK_FLOORS, **self.checks},
            "columns": dict(self.columns),
            "rule": _FLOOR_RULE,
        }


def _no_min_effect(data: Any, where: str) -> Any:
    """``data`` unless it holds the old ``min_effect`` key, which names where it moved."""
    if isinstance(data, Mapping) and "min_effect" in data:
        raise ValueError(
            f"{where}.min_effect is now checks.floors (one place for every floor): write "
            "`floors: {methods: {psi: 0.01}, checks: {class_mix: 0.05}, columns: {age: 0.02}}` "
            "under checks"
        )
    return data


class Checks(_Strict):
    """How results are decided. Bounds are calibrated on the reference, per window size.

    ``alert_quantile`` is the quantile of the no-drift statistic (simulated from the
    reference at the window's size) used as the bound; ``floors`` (:class:`Floors`) are
    the materiality floors: beyond the bound a result warns, beyond the bound and its
    floor it alerts. ``fixed_bounds`` replaces the calibration for a check (no floor).
    ``confirm_quantile`` lets drift that another drift result of the same window and
    cohort value has shown alert at a lower bound (see ``checks._bounds``: a window with
    no drift alerts no more often for it). ``cohort_baseline_min_rows`` is the number of
    reference rows a cohort value needs to
    be judged against its own baseline (``Profile.baseline``); a value with fewer is
    judged against the overall one. It is read when checks run: changing it needs no
    refit.
    """

    rolling_windows: int = Field(default=7, ge=1)
    alert_quantile: float = Field(default=0.999, gt=0.5, lt=1.0)
    calibration_reps: int = Field(default=1000, ge=100, le=100_000)
    seed: int = 0
    min_rows: int = Field(default=30, ge=1)
    #: below ~200 rows a cohort's 20-bin reference histogram holds ~10 rows a bin and
    #: its class mix misses rare classes: the overall baseline is the better guess
    cohort_baseline_min_rows: int = 200
    floors: Floors = Field(default_factory=Floors)
    fixed_bounds: dict[str, float] = Field(default_factory=dict)
    #: a drift result beyond this no-drift quantile, calibrated at the window's own size,
    #: alerts (beyond its floor) when another drift result of the same window and cohort
    #: value alerts by the usual rule; ``null`` turns confirmation off
    confirm_quantile: float | None = Field(default=0.995, gt=0.5, lt=1.0)
    #: how far before the reference's first timestamp, or after the time of the check
    #: (clock skew), a timestamp may lie before the ``timestamp_era`` check flags it: a
    #: duration such as '1d' or '6h'
    timestamp_tolerance: str = "1d"

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        return _no_min_effect(data, "checks")

    @field_validator("cohort_baseline_min_rows")
    @classmethod
    def _min_rows_of_a_baseline(cls, value: int) -> int:
        if value < 1:
            raise ValueError(
                "the reference rows a cohort value needs for its own baseline (with "
                "fewer, the overall baseline is used) must be a whole number of 1 or "
                "more, e.g. 200"
            )
        return value

    @model_validator(mode="after")
    def _confirm_below_alert(self) -> Checks:
        q, alert = self.confirm_quantile, self.alert_quantile
        # the default above an alert quantile set lower: nothing to confirm (confirm_at)
        if q is not None and q >= alert and "confirm_quantile" in self.model_fields_set:
            raise ValueError(
                f"checks.confirm_quantile {q:g} is not below checks.alert_quantile {alert:g}: "
                "a confirmed result is one beyond a lower bound than the alert's. Set it "
                f"below {alert:g} (e.g. {1 - 5 * (1 - alert):g}), or null to turn "
                "confirmation off"
            )
        return self

    @property
    def confirm_at(self) -> float | None:
        """The confirmation quantile in force: ``confirm_quantile``, or None when it is
        off or (the default) not below ``alert_quantile``."""
        q = self.confirm_quantile
        return q if q is not None and q < self.alert_quantile else None

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

    @field_validator("fixed_bounds")
    @classmethod
    def _known_checks(cls, value: dict[str, float]) -> dict[str, float]:
        return _known(value, CHECKS, "check", "fixed_bounds")


class DriftConfig(_Strict):
    """Which drift statistic each feature gets: one default per kind, overrides per column.

    ``DriftConfig(numeric="psi", by_column={"age": "ks"})``. Text columns drift on their
    style features (length, digits, ...), which are numeric. ``bins`` is the number of
    reference-quantile bins per numeric feature (and text style feature) in the profile.
    Floors are configured in ``checks.floors`` (:class:`Floors`).
    """

    numeric: str = "psi"
    categorical: str = "jensen_shannon"
    text: str = "psi"
    by_column: dict[str, str] = Field(default_factory=dict)
    bins: int = Field(default=20, ge=2, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        return _no_min_effect(data, "drift")

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
        return self

    def method_for(self, column: str, kind: str) -> str:
        if column in self.by_column:
            return self.by_column[column]
        return str(getattr(self, kind))


class ThresholdConfig(_Strict):
    """How ``driftline thresholds`` (``Monitor.thresholds``) chooses each class's decision
    threshold on the labelled holdout, and the band threshold-relative monitoring counts
    around it (see :mod:`driftline.thresholds`). The spec's ``thresholds`` section, the
    keyword arguments of ``Monitor.thresholds`` and the CLI's options carry these names.

    ``objective``: ``f1``, ``fbeta`` (with ``beta``), ``precision`` or ``recall`` (with a
    ``target``: the largest recall at that precision, or the largest precision at that
    recall), or ``cost`` (with a 2x2 ``cost`` matrix ``[[tn, fp], [fn, tp]]``, rows the
    true class, applied to each class one-vs-rest). ``band``: the half-width, in score
    units, of the near-threshold band; ``tolerance``: how far below the best objective the
    margin around the chosen threshold reaches.

    >>> ThresholdConfig(objective="precision", target=0.9).target
    0.9
    >>> try:
    ...     ThresholdConfig(objective="precision")
    ... except ValueError as exc:
    ...     print(exc.errors()[0]["msg"])  # doctest: +NORMALIZE_WHITESPACE
    Value error, thresholds.objective 'precision' needs thresholds.target, the precision
    to reach, in (0, 1]; e.g. target: 0.9
    """

    objective: Literal["f1", "fbeta", "precision", "recall", "cost"] = "f1"
    beta: float = Field(default=1.0, gt=0)
    target: float | None = Field(default=None, gt=0, le=1)
    cost: list[list[float]] | None = None
    band: float = Field(default=0.05, gt=0, lt=0.5)
    tolerance: float = Field(default=0.01, ge=0)

    @model_validator(mode="after")
    def _complete(self) -> ThresholdConfig:
        needs_target = self.objective in ("precision", "recall")
        if needs_target and self.target is None:
            raise ValueError(
                f"thresholds.objective {self.objective!r} needs thresholds.target, the "
                f"{self.objective} to reach, in (0, 1]; e.g. target: 0.9"
            )
        if not needs_target and self.target is not None:
            raise ValueError(
                f"thresholds.target applies to the objectives 'precision' and 'recall', not "
                f"{self.objective!r}; remove it or change the objective"
            )
        if self.objective == "cost":
            shape = [len(row) for row in self.cost or []]
            if shape != [2, 2] or not all(math.isfinite(v) for row in self.cost or [] for v in row):
                raise ValueError(
                    "thresholds.objective 'cost' needs thresholds.cost, a 2x2 matrix of finite "
                    f"costs [[tn, fp], [fn, tp]] (rows the true class), got {self.cost!r}; "
                    "e.g. cost: [[0, 1], [5, 0]]"
                )
        elif self.cost is not None:
            raise ValueError(
                f"thresholds.cost applies to the objective 'cost', not {self.objective!r}; "
                "remove it or set objective: cost"
            )
        if self.beta != 1.0 and self.objective != "fbeta":
            raise ValueError(
                f"thresholds.beta applies to the objective 'fbeta', not {self.objective!r}; "
                "remove it or set objective: fbeta"
            )
        return self


class TextEmbedding(_Strict):
    """Embed a text column into the spec's ``embedding`` column when a batch has none:
    ``model`` is ``sentence`` (driftline[text]), ``tfidf`` (TF-IDF + SVD fitted on the
    reference) or ``auto`` (sentence when installed, else tfidf)."""

    column: str
    model: Literal["auto", "sentence", "tfidf"] = "auto"


class EmbeddingConfig(_Strict):
    """How the ``embedding`` column is sampled, projected and judged (the
    ``embedding_drift`` check, ``Monitor.embeddings``).

    ``sample_cap`` serving rows are drawn per window x cohort value x predicted class, and
    three times as many reference rows per class (a third fits the components), drawn
    reproducibly in the engine (a hash of
    ``checks.seed`` and the id). Vectors are reduced to ``components`` principal components
    fitted on the reference (plus their distance from that subspace) before the domain
    classifier (``folds``-fold cross-validated; its no-drift band from ``null_reps``
    reference-vs-reference splits) and the MMD test (``permutations`` relabellings, on at
    most ``mmd_rows`` rows a side). A class needs ``min_rows`` sampled rows on each side
    to be judged on its own. ``projection`` is the 2-D view of reports and
    ``Monitor.embeddings``: ``pca``, or ``umap`` (``pip install 'driftline[umap]'``).
    Read when the profile is fitted (``sample_cap``, ``components``) or when checks run
    (the rest).
    """

    sample_cap: int = Field(default=200, ge=10, le=100_000)
    components: int = Field(default=16, ge=2, le=256)
    null_reps: int = Field(default=30, ge=10, le=1000)
    folds: int = Field(default=5, ge=2, le=20)
    permutations: int = Field(default=100, ge=19, le=10_000)
    mmd_rows: int = Field(default=200, ge=10, le=5000)
    min_rows: int = Field(default=20, ge=5)
    projection: Literal["pca", "umap"] = "pca"


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
    text_embedding: TextEmbedding | None = None
    window: str = "1d"
    checks: Checks = Field(default_factory=Checks)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    #: how ``driftline thresholds`` chooses the decision thresholds (None: not configured)
    thresholds: ThresholdConfig | None = None
    embeddings: EmbeddingConfig = Field(default_factory=EmbeddingConfig)

    @field_validator("window", mode="before")
    @classmethod
    def _window_ok(cls, value: Any) -> Any:
        parse_window(value)  # before pydantic's str check, so a number gets this message
        return value

    @model_validator(mode="after")
    def _columns_distinct(self) -> Spec:
        roles: dict[str, list[str]] = {}
        for role, col in self.column_roles():
            if (problem := column_name_problem(col)) is not None:
                raise ValueError(f"column {shorten(col)} ({role}) {problem}; {_rename_fix(role)}")
            roles.setdefault(col, []).append(role)
        for col, given in roles.items():
            if len(given) > 1 and sorted(given) != ["cohort", "feature (categorical)"]:
                if given[0] == given[1]:
                    raise ValueError(f"column {col!r} is listed twice as {given[0]}; list it once")
                raise ValueError(
                    f"column {col!r} is given two roles, {given[0]} and {given[1]}; each "
                    "column has one role (a cohort may also be a categorical feature)"
                )
        folded: dict[str, str] = {}
        for col, given in roles.items():
            other = folded.setdefault(col.casefold(), col)
            if other != col:
                raise ValueError(
                    f"columns {shorten(other)} ({roles[other][0]}) and {shorten(col)} "
                    f"({given[0]}) differ only in case; DuckDB and Spark compare column names "
                    "case-insensitively, so both would be one column: rename one of them, in "
                    "the data and in the spec"
                )
        self._drift_overrides_apply()
        self._text_embedding_applies()
        kinds = self.feature_kinds
        for col in self.checks.floors.columns:
            if col not in kinds:
                raise ValueError(
                    f"checks.floors.columns names {shorten(col)}, which is not a feature of the "
                    f"spec (features: {name_list(kinds)}); add it to features or remove the floor"
                )
        return self

    def _text_embedding_applies(self) -> None:
        te = self.text_embedding
        if te is None:
            return
        if te.column not in self.features.text:
            raise ValueError(
                f"text_embedding.column {shorten(te.column)} is not a text feature of the spec "
                f"(text features: {name_list(self.features.text)}); name one of features.text"
            )
        if not self.embedding:
            raise ValueError(
                "text_embedding needs the spec's embedding column to write to; add "
                "`embedding: embedding` (any free column name)"
            )

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

    def category_columns(self) -> list[str]:
        """The columns whose values are categories: the cohort columns (those that are
        not also features) and the categorical features. Their values are spelled as
        :func:`driftline._catalog.value_text_sql` spells them."""
        kinds = self.feature_kinds
        cols = [c for c in self.cohorts if c not in kinds]
        return cols + [c for c, k in kinds.items() if k == "categorical"]

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
        data = self.model_dump(exclude={"window", "checks", "drift", "thresholds", "embeddings"})
        for key in ("positive", "negative"):  # unset, they leave older fingerprints as they were
            if data["scores"][key] is None:
                del data["scores"][key]
        if data["text_embedding"] is None:  # likewise for specs without text embedding
            del data["text_embedding"]
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
        if self.thresholds is not None:
            data["thresholds"] = self.thresholds.model_dump(exclude_defaults=True)
        data["embeddings"] = self.embeddings.model_dump(exclude_defaults=True)
        keys = ("label", "embedding", "text_embedding", "checks", "drift", "thresholds")
        for key in (*keys, "embeddings"):
            if not data[key] and (key != "thresholds" or self.thresholds is None):
                del data[key]
        return yaml.safe_dump(data, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(self.to_yaml())
        return out


#: The spec key each single-column role is set by (cohorts and features are lists).
_ROLE_KEYS = ("id", "timestamp", "prediction", "scores", "label", "embedding")


def _rename_fix(role: str) -> str:
    """How to fix a column name the spec cannot take, for a column playing ``role``."""
    if role in _ROLE_KEYS:
        return (
            f"rename the column (in the data and the spec), or point the spec's {role!r} at "
            "another column"
        )
    return "rename the column, in the data and in the spec"


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
            if err["loc"]:
                lines.append(f"{loc}: {msg} (got {shorten(err.get('input'))})")
            else:  # a check across roles names its columns; the input is the whole spec
                lines.append(msg)
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
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
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
_ID_NAMES = ("id", "prediction_id", "request_id", "uuid", "row_id", "event_id", "identifier")
_TS_NAMES = ("timestamp", "ts", "time", "event_time", "created_at", "datetime", "date")
_PRED_NAMES = ("prediction", "pred", "predicted", "predicted_class", "y_pred", "predicted_label")
_LABEL_NAMES = ("label", "target", "y_true", "y", "actual", "ground_truth")
_COHORT_NAMES = ("cohort", "segment")
_SCORE_PREFIXES = (
    "score_",
    "proba_",
    "prob_",
    "probability_",
    "y_pred_proba_",
    "y_proba_",
    "pred_proba_",
    "predicted_proba_",
)
_LIST_SCORE_NAMES = ("scores", "probas", "probabilities", "proba", "probs")
_BINARY_SCORE_NAMES = (
    "y_pred_proba",
    "y_proba",
    "pred_proba",
    "predicted_proba",
    "proba",
    "probability",
    "prob",
    "y_score",
    "score",
)


def _class_names(score_columns: list[str]) -> list[str]:
    """Class names of per-class score columns: what follows the columns' common prefix,
    cut back to its last underscore.

    >>> _class_names(["y_pred_proba_prepaid_card", "y_pred_proba_upmarket_card"])
    ['prepaid_card', 'upmarket_card']
    >>> _class_names(["score_a", "score_b", "score_c"])
    ['a', 'b', 'c']
    >>> _class_names(["p_cat", "p_car"])
    ['cat', 'car']
    >>> _class_names(["cat", "dog"])
    ['cat', 'dog']
    """
    first, last = min(score_columns), max(score_columns)
    size = next(
        (i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first)
    )
    prefix = first[:size]  # the common prefix of all, character by character
    cut = prefix.rfind("_") + 1
    names = [c[cut:] for c in score_columns]
    if cut == 0 or any(not n for n in names) or len(set(names)) < len(names):
        return list(score_columns)
    return names


def _binary_classes(
    table: pa.Table, score: str, prediction: str | None, positive: str | None
) -> dict[str, str]:
    """``{"positive": ..., "negative": ...}`` of a binary model whose probability column is
    ``score``: the two predicted values, the positive one being the class predicted when
    the probability is high (or ``positive`` when given)."""
    values = (
        sorted({str(v) for v in table[prediction].to_pylist() if v is not None})
        if prediction
        else []
    )
    if positive is not None:
        others = [v for v in values if v != str(positive)]
        if len(others) != 1:
            raise ConfigError(
                f"--positive {positive!r}: the prediction column {prediction!r} should hold "
                f"two classes, {positive!r} and one other; it holds {name_list(values)}. "
                "Check --prediction, or write scores: {column, positive, negative} in the spec."
            )
        return {"positive": str(positive), "negative": others[0]}
    if len(values) != 2:
        raise ConfigError(
            f"score column {score!r} is a single probability, so the model is binary, but the "
            f"prediction column {prediction!r} holds {len(values)} classes "
            f"({name_list(values)}); pass --positive CLASS, or write scores: {{column: "
            f"{score}, positive: ..., negative: ...}} in the spec."
        )
    high: dict[str, int] = dict.fromkeys(values, 0)
    probs = table[score].to_pylist()
    for p, v in zip(probs, table[prediction].to_pylist(), strict=True):
        if p is not None and v is not None and p > 0.5:
            high[str(v)] += 1
    pos = max(values, key=lambda v: (high[v], v == values[1]))
    return {"positive": pos, "negative": next(v for v in values if v != pos)}


def _first(names: Iterable[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {n.lower(): n for n in names}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    return None


def _is_list(table: pa.Table, column: str) -> bool:
    typ = table.schema.field(column).type
    return bool(pa.types.is_list(typ) or pa.types.is_large_list(typ))


def _is_number(table: pa.Table, column: str) -> bool:
    typ = table.schema.field(column).type
    return bool(pa.types.is_floating(typ) or pa.types.is_decimal(typ))


#: Rows of a Parquet reference read to infer its spec (what :func:`_is_text` samples).
_INFERENCE_ROWS = 2000


def _read_for_inference(reference: Any) -> tuple[pa.Table, Callable[[list[str]], pa.Table]]:
    """The reference as :func:`infer_spec` reads it: a table with its columns and types
    (for a Parquet file, its first :data:`_INFERENCE_ROWS` rows: the schema is the
    file's, and the sample is what is inspected row by row), and a function giving whole
    columns, read only where a role needs every value (the classes of a list of scores
    or of a binary model). Other inputs are read whole once."""
    from driftline._io import readable_file

    if isinstance(reference, (str, Path)) and readable_file(reference) == "parquet":
        import pyarrow.parquet as pq

        try:
            f = pq.ParquetFile(reference)
            first = next(f.iter_batches(batch_size=_INFERENCE_ROWS), None)
            sample = (
                pa.Table.from_batches([first])
                if first is not None
                else f.schema_arrow.empty_table()
            )
        except (OSError, pa.ArrowException):  # let the whole read say what is wrong
            sample = _whole(reference)
        if sample.num_columns == 0:
            sample = _whole(reference)  # which says what is wrong
        return sample, lambda columns: pq.read_table(reference, columns=columns)
    table = _whole(reference)
    return table, lambda columns: table.select(columns)


def _whole(reference: Any) -> pa.Table:
    """The reference read whole; a file its reader cannot read is an
    :class:`~driftline.errors.IngestError` naming it and the reader's complaint."""
    from driftline._io import describe_input, to_arrow
    from driftline.errors import IngestError, first_line

    try:
        table = to_arrow(reference)
        table.column_names  # noqa: B018 - names that are not UTF-8 fail only when read
        return table
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        if not isinstance(reference, (str, Path)):
            raise
        raise IngestError(
            f"cannot read {describe_input(reference)}: {shorten(first_line(exc), 300)}. "
            "Check that it "
            "is a Parquet, CSV or JSON-lines file as its name says (re-export it if it is "
            "damaged); no spec was written."
        ) from exc


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
    positive: str | None = None,
    label: str | None = None,
    cohorts: list[str] | None = None,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    text: list[str] | None = None,
    window: str = "1d",
) -> Spec:
    """Infer a spec from a reference table (any input :func:`driftline.to_arrow` takes).

    Common names are recognised (``id``; ``ts``/``timestamp``; ``prediction``/``pred``;
    ``score_*``/``proba_*``/``y_pred_proba_*``, whose suffixes name the classes;
    ``label``/``target``; ``cohort``/``segment``); every keyword overrides one role. One
    score column that is a number (``y_pred_proba``, or ``scores`` naming one column) is
    a binary model's probability of its ``positive`` class: given, or the class predicted
    when the probability is above 0.5. Remaining columns become features: numbers are numeric, short
    strings categorical, long or many-word strings text.
    """
    table, whole = _read_for_inference(reference)
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

    for role in ("id", "timestamp", "prediction"):
        if roles[role] is None:
            raise ConfigError(
                f"could not find the {role} column in the reference (columns: "
                f"{name_list(names)}); pass --{role} COLUMN."
            )

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
    pred = roles["prediction"]
    if len(score_cols) >= 2:
        classes = _class_names(score_cols)
        score_spec = {"columns": dict(zip(classes, score_cols, strict=True))}
    else:
        one = score_cols[0] if score_cols else None
        list_col = one or _first(names, _LIST_SCORE_NAMES)
        if list_col is not None and _is_list(table, list_col):
            found = sorted({str(v) for v in whole([pred])[pred].to_pylist()}) if pred else []
            score_spec = {"column": list_col, "classes": found}
        else:
            binary = one or next(
                (
                    c
                    for c in (_first(names, (b,)) for b in _BINARY_SCORE_NAMES)
                    if c is not None and c != pred and _is_number(table, c)
                ),
                None,
            )
            if binary is None:
                raise ConfigError(
                    "no score columns found in the reference: name them score_<class> or "
                    "proba_<class> (or y_pred_proba for a binary model), or pass --scores "
                    "col1,col2,... (one column: a binary model's probability, with --positive)"
                )
            columns = whole([binary, *([pred] if pred else [])])
            score_spec = {"column": binary, **_binary_classes(columns, binary, pred, positive)}
            score_cols = [binary]

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
    unknown = [c for c in cohorts if c not in names]
    if unknown:
        raise ConfigError(
            f"--cohort {unknown[0]!r} is not a column of the reference; columns are "
            f"{name_list(names)}. A cohort is judged against its values in the reference."
        )
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
