"""Decision thresholds chosen on the labelled holdout, and what monitoring reads of them.

``Monitor.thresholds()`` (``driftline thresholds``) fetches the holdout's labels and
scores once from the engine (:func:`holdout`), chooses each class's threshold by
:func:`~driftline.methods.threshold_search.threshold_search` for the configured
objective (:class:`~driftline.spec.ThresholdConfig`, the spec's ``thresholds`` section)
and stores the fitted :class:`Thresholds` in the profile. A binary model (two classes)
gets one threshold, on its positive class's score (``scores.positive``, else the second
class); a multi-class model one per class, one-vs-rest. For each class the result holds
the holdout's precision, recall and F1 at the default decision (``score >= 0.5`` for a
binary model, the argmax for a multi-class one) and at the chosen threshold, the
precision-recall curve (at most :data:`CURVE_POINTS` points, the chosen one among
them) and the margin: the thresholds around the chosen one whose objective stays within
``tolerance`` of the best.

Monitoring reads, per class with a threshold, the share of rows whose score is at or
above it (``threshold_above``), the share within ``band`` of it (``threshold_band``),
and for a multi-class model the share that no class clears (``threshold_none``); the
holdout's shares, overall and per cohort value, are their baselines. Other modules ask
:func:`thresholds_for` for the threshold each class's decisions are judged at.

A class the holdout has no positive row of keeps its default (it is named in the
result's ``note``); a holdout with one class only, scores equal on every row, or a
target no threshold reaches is an error naming the class and the fix, and nothing is
stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from driftline._catalog import INTERNAL_PREFIX
from driftline.engine import Engine
from driftline.engine.scores import score_builders, score_name, threshold_sources
from driftline.engine.summaries import cohort_text
from driftline.errors import ConfigError, ProfileError, SchemaError, name_list, shorten
from driftline.methods.threshold_search import threshold_search
from driftline.spec import Spec, ThresholdConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    import ibis.expr.types as ir

__all__ = [
    "CURVE_POINTS",
    "ClassThreshold",
    "Holdout",
    "ThresholdConfig",
    "Thresholds",
    "fit_thresholds",
    "holdout",
    "monitored_sources",
    "thresholds_for",
]

#: Points of a class's precision-recall curve kept in the profile (the chosen one, the
#: default's and the curve's ends among them).
CURVE_POINTS = 200
#: The default threshold of a binary model's positive class.
BINARY_DEFAULT = 0.5

_LABEL = f"{INTERNAL_PREFIX}label"


class Holdout(NamedTuple):
    """The holdout's rows as the threshold search reads them: each row's label (None:
    unlabelled), its score per class (columns in ``classes`` order), and its value of
    each cohort column."""

    labels: list[str | None]
    scores: npt.NDArray[np.float64]
    classes: list[str]
    cohorts: dict[str, list[str]]


def _scored_classes(spec: Spec) -> tuple[list[str], bool]:
    """The classes that get a threshold, and whether the model is binary."""
    classes = list(spec.classes)
    if len(classes) == 2:
        positive = spec.scores.positive if spec.scores.positive is not None else classes[1]
        return [positive], True
    return classes, False


def holdout(engine: Engine, table: ir.Table, spec: Spec) -> Holdout:
    """Fetch the labels, the scores and the cohort values of the holdout ``table`` (the
    reference, with the label column ``spec.label``) in one query."""
    if not spec.label:
        raise ConfigError(
            "choosing thresholds needs labels, but the spec has no label column; add "
            "`label: <column>` to the spec (the holdout's true class) and log the reference "
            "again."
        )
    if spec.label not in table.columns:
        raise SchemaError(
            f"the label column {shorten(spec.label)} of the spec is not in the stored "
            f"reference (columns: {name_list(table.columns)}); log a reference that "
            "carries it (`driftline log --reference FILE`)."
        )
    classes, _ = _scored_classes(spec)
    builders = score_builders(spec)
    select: dict[str, ir.Value] = {_LABEL: table[spec.label].cast("string")}
    for i, cls in enumerate(classes):
        select[f"{INTERNAL_PREFIX}s{i}"] = builders[score_name(cls)](table).cast("float64")
    for j, col in enumerate(c for c in spec.cohorts if c in table.columns):
        select[f"{INTERNAL_PREFIX}c{j}"] = cohort_text(table[col])
    got = engine.run(table.select(**select))
    scores = np.column_stack(
        [
            np.asarray(got.column(f"{INTERNAL_PREFIX}s{i}").to_numpy(zero_copy_only=False), float)
            for i in range(len(classes))
        ]
    ).reshape(got.num_rows, len(classes))
    cohorts = {
        col: [str(v) for v in got.column(f"{INTERNAL_PREFIX}c{j}").to_pylist()]
        for j, col in enumerate(c for c in spec.cohorts if c in table.columns)
    }
    labels = _as_classes(got.column(_LABEL), spec)
    return Holdout(labels, scores, classes, cohorts)


def _as_classes(column: pa.ChunkedArray, spec: Spec) -> list[str | None]:
    """The labels as the spec's class names: a float label ``1.0`` reads as class
    ``'1'``; a label no class has is an error naming it."""
    known = set(spec.classes)
    out: list[str | None] = []
    for value in column.to_pylist():
        if value is None or value in known:
            out.append(value)
            continue
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if number.is_integer() and str(int(number)) in known:
            out.append(str(int(number)))
            continue
        raise SchemaError(
            f"the label column {shorten(spec.label)} of the reference holds {shorten(value)}, "
            f"which is not a class of the spec ({name_list(spec.classes)}); fix the labels, "
            "or the classes in the spec's scores section."
        )
    return out


@dataclass(frozen=True)
class ClassThreshold:
    """One class's threshold and what it gains on the holdout.

    ``threshold`` is None when the class keeps its default (``note`` says why);
    ``default`` is 0.5 for a binary model's positive class, None (the argmax) for a
    multi-class model. ``before`` / ``after``: precision, recall, F1 and predicted
    positives at the default and at the threshold. ``curve``: the precision-recall
    curve's ``threshold``, ``precision`` and ``recall`` lists.
    """

    cls: str
    threshold: float | None
    default: float | None
    positives: int
    before: dict[str, float]
    after: dict[str, float] | None = None
    value: float | None = None
    margin: tuple[float, float] | None = None
    curve: dict[str, list[float]] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """Fitted thresholds, as the profile stores them (:meth:`to_dict` is their JSON).

    ``reference``: the holdout's shares at the thresholds (``n``, ``above`` and ``band``
    per class, ``none``: the share no class clears, None for a binary model);
    ``cohorts``: the same per cohort column and value.
    """

    config: ThresholdConfig
    binary: bool
    classes: dict[str, ClassThreshold]
    rows: int
    labelled: int
    reference: dict[str, Any]
    cohorts: dict[str, dict[str, dict[str, Any]]]
    fitted_at: str

    @property
    def chosen(self) -> dict[str, float]:
        """The classes that have a threshold, and it."""
        return {c: t.threshold for c, t in self.classes.items() if t.threshold is not None}

    def baseline(self, cohort: str | None, value: str | None) -> tuple[dict[str, Any], str]:
        """The holdout's shares a scope is judged against, and whose they are: a cohort
        value's own (when the holdout has rows of it), else the overall ones."""
        if cohort is not None and value is not None:
            own = self.cohorts.get(cohort, {}).get(value)
            if own is not None and own["n"] > 0:
                return own, f"the holdout's rows of {shorten(cohort)}={shorten(value)}"
        return self.reference, "the whole holdout"

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "binary": self.binary,
            "classes": {c: _class_dict(t) for c, t in self.classes.items()},
            "rows": self.rows,
            "labelled": self.labelled,
            "reference": self.reference,
            "cohorts": self.cohorts,
            "fitted_at": self.fitted_at,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "profile") -> Thresholds:
        """Read :meth:`to_dict`'s form back; a damaged one is a :class:`ProfileError`."""
        try:
            classes = {
                str(c): ClassThreshold(
                    **{**t, "margin": tuple(t["margin"]) if t.get("margin") else None}
                )
                for c, t in data["classes"].items()
            }
            found = cls(
                config=ThresholdConfig.model_validate(data["config"]),
                binary=bool(data["binary"]),
                classes=classes,
                rows=int(data["rows"]),
                labelled=int(data["labelled"]),
                reference=dict(data["reference"]),
                cohorts={str(k): dict(v) for k, v in data["cohorts"].items()},
                fitted_at=str(data["fitted_at"]),
            )
            for t in classes.values():
                if t.threshold is not None and not math.isfinite(t.threshold):
                    raise ValueError(f"threshold {t.threshold!r} of class {t.cls!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProfileError(
                f"{where}: its thresholds cannot be read ({shorten(exc)}); the file was "
                "edited by hand or damaged. Choose them again with `driftline thresholds`."
            ) from exc
        return found


def _class_dict(t: ClassThreshold) -> dict[str, Any]:
    out = asdict(t)
    out["margin"] = list(t.margin) if t.margin is not None else None
    return out


def _metrics(predicted: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> dict[str, float]:
    """Precision, recall, F1 and predicted positives (precision 0 when nothing is
    predicted positive, as scikit-learn's ``zero_division=0``)."""
    tp = float(np.sum(predicted & truth))
    pred, pos = float(predicted.sum()), float(truth.sum())
    precision = tp / pred if pred else 0.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * tp / (pred + pos) if pred + pos else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "predicted": pred}


def _curve(
    thresholds: npt.NDArray[np.float64],
    precision: npt.NDArray[np.float64],
    recall: npt.NDArray[np.float64],
    keep: Sequence[int],
) -> dict[str, list[float]]:
    """At most :data:`CURVE_POINTS` points of the curve, evenly spaced in rank, the
    indices ``keep`` among them."""
    n = thresholds.size
    picked = np.unique(
        np.r_[np.linspace(0, n - 1, min(n, CURVE_POINTS - len(keep))).round().astype(int), keep]
    )
    return {
        "threshold": thresholds[picked].tolist(),
        "precision": precision[picked].tolist(),
        "recall": recall[picked].tolist(),
    }


def fit_thresholds(data: Holdout, spec: Spec, config: ThresholdConfig) -> Thresholds:
    """Choose each class's threshold on the labelled rows of ``data`` (see the module
    docstring); pure, no engine."""
    classes, binary = _scored_classes(spec)
    labelled = np.array([label is not None for label in data.labels])
    if not labelled.any():
        raise SchemaError(
            f"the label column {shorten(spec.label)} of the reference is empty on all "
            f"{len(data.labels)} rows; thresholds are chosen on labelled rows: log a "
            "reference with its labels."
        )
    labels = np.array([label for label in data.labels if label is not None], dtype=object)
    scores = data.scores[labelled]
    present = sorted(set(labels.tolist()))
    if len(present) < 2:
        raise SchemaError(
            f"the label column {shorten(spec.label)} of the reference holds one class only "
            f"({shorten(present[0])}, {labels.size} labelled rows); a threshold trades one "
            "class's errors against another's, so the holdout needs rows of at least two "
            "classes. Log a holdout with every class."
        )
    if binary:
        default_pred = scores[:, :1] >= BINARY_DEFAULT
    else:
        default_pred = np.arange(len(classes))[None, :] == scores.argmax(axis=1)[:, None]
    found: dict[str, ClassThreshold] = {}
    for i, cls in enumerate(classes):
        truth = labels == cls
        before = _metrics(default_pred[:, i], truth)
        default = BINARY_DEFAULT if binary else None
        if not truth.any():
            found[cls] = ClassThreshold(
                cls, None, default, 0, before, note="no labelled row of this class in the holdout"
            )
            continue
        search = threshold_search(
            scores[:, i],
            truth,
            objective=config.objective,
            beta=config.beta,
            target=config.target,
            cost=config.cost,
            tolerance=config.tolerance,
            name=f"the holdout's scores of class {shorten(cls)}",
        )
        chosen = int(np.searchsorted(search.thresholds, search.threshold))
        keep = [0, chosen, search.thresholds.size - 1]
        if default is not None:  # the curve's point at the default threshold
            at = int(np.searchsorted(search.thresholds, default))
            keep.append(min(at, search.thresholds.size - 1))
        found[cls] = ClassThreshold(
            cls=cls,
            threshold=search.threshold,
            default=default,
            positives=search.positives,
            before=before,
            after=_metrics(scores[:, i] >= search.threshold, truth),
            value=search.value,
            margin=search.margin,
            curve=_curve(search.thresholds, search.precision, search.recall, keep),
        )
    chosen_t = {c: t.threshold for c, t in found.items() if t.threshold is not None}
    order = [classes.index(c) for c in chosen_t]
    values = np.array(list(chosen_t.values()), dtype=float)
    reference = _shares(data.scores[:, order], list(chosen_t), values, config.band, binary)
    cohorts: dict[str, dict[str, dict[str, Any]]] = {}
    for col, per_row in data.cohorts.items():
        rows = np.array(per_row, dtype=object)
        cohorts[col] = {
            str(v): _shares(
                data.scores[rows == v][:, order], list(chosen_t), values, config.band, binary
            )
            for v in sorted(set(per_row))
        }
    return Thresholds(
        config=config,
        binary=binary,
        classes=found,
        rows=len(data.labels),
        labelled=int(labelled.sum()),
        reference=reference,
        cohorts=cohorts,
        fitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _shares(
    scores: npt.NDArray[np.float64],
    classes: list[str],
    thresholds: npt.NDArray[np.float64],
    band: float,
    binary: bool,
) -> dict[str, Any]:
    """The share of rows at or above each class's threshold, within ``band`` of it
    (``t - band <= score <= t + band``), and (multi-class) clearing none."""
    n = scores.shape[0]
    above = scores >= thresholds[None, :]
    # the engine counts the band on the edges [t - band, t, t + band]: the same floats
    near = (scores >= (thresholds - band)[None, :]) & (scores <= (thresholds + band)[None, :])
    div = max(n, 1)
    return {
        "n": n,
        "above": {c: float(above[:, i].sum() / div) for i, c in enumerate(classes)},
        "band": {c: float(near[:, i].sum() / div) for i, c in enumerate(classes)},
        "none": None if binary or not classes else float((~above.any(axis=1)).sum() / div),
    }


def thresholds_for(profile: Any) -> Mapping[str, float | None]:
    """The threshold each class's decisions are judged at, per class: those chosen on the
    holdout (``driftline thresholds``) when the profile holds them; else the defaults,
    0.5 for a binary model's positive class and None (the argmax) for each class of a
    multi-class model. A multi-class class the holdout had no row of stays None.

    >>> from driftline.spec import Spec
    >>> class Unfitted:  # a profile without chosen thresholds
    ...     spec = Spec(scores={"column": "p", "positive": "yes", "negative": "no"})
    ...     thresholds_ = None
    >>> dict(thresholds_for(Unfitted()))
    {'yes': 0.5}
    """
    spec: Spec = profile.spec
    fitted: Thresholds | None = getattr(profile, "thresholds_", None)
    classes, binary = _scored_classes(spec)
    if fitted is None:
        return dict.fromkeys(classes, BINARY_DEFAULT if binary else None)
    return {
        c: t.threshold if t.threshold is not None else t.default for c, t in fitted.classes.items()
    }


def monitored_sources(
    spec: Spec, fitted: Thresholds | None
) -> dict[str, tuple[list[float], Callable[[ir.Table], ir.NumericValue]]]:
    """The engine's sources of the threshold-relative counts of ``fitted`` (none when no
    threshold was chosen): see :func:`driftline.engine.scores.threshold_sources`."""
    if fitted is None or not fitted.chosen:
        return {}
    return threshold_sources(spec, fitted.chosen, fitted.config.band, none=not fitted.binary)
