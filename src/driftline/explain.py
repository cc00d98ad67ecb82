"""LIME explanations of logged predictions, one at a time and aggregated per class.

:func:`explain` runs the `lime` package on one row, with the model's ``predict_proba``:
``LimeTextExplainer`` for a text (the words that pushed the prediction), or
``LimeTabularExplainer`` for a row of features, with the reference as LIME's training
data (its quartiles discretise the numeric columns; its category sets encode the
categorical ones). The weights are LIME's own, for the same ``seed`` the same numbers as
calling `lime` directly.

:func:`explain_class` aggregates over up to ``n`` rows predicted as one class (drawn
reproducibly, or the least confident ones): per word or feature condition, the mean
weight over the ``n`` explanations (0 where it did not appear), its standard deviation,
how often it appeared, and its mean where it appeared, ranked by the absolute mean. It
answers "what does the model look at when it says *spam*?" rather than one anecdote.

`lime` is an optional dependency (``pip install 'driftline[explain]'``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from driftline.errors import ConfigError, SchemaError, missing_extra, name_list, shorten
from driftline.robustness import call_model, predictor

__all__ = [
    "ClassExplanation",
    "Explanation",
    "TermWeight",
    "check_lime_options",
    "explain",
    "explain_class",
]


@dataclass(frozen=True)
class Explanation:
    """LIME's weights for one row and one class: ``(term, weight)``, largest |weight| first."""

    klass: str
    probability: float
    weights: list[tuple[str, float]]
    intercept: float
    score: float
    """LIME's local fit R^2: how well the linear surrogate matches the model near the row."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TermWeight:
    term: str
    mean: float
    """Mean weight over every explained row (0 where the term did not appear)."""
    std: float
    frequency: float
    """Share of the explained rows whose explanation holds the term."""
    mean_present: float


@dataclass(frozen=True)
class ClassExplanation:
    """The terms with the largest mean LIME weight for one class, over ``rows`` rows."""

    klass: str
    rows: int
    selection: str
    terms: list[TermWeight]
    #: rows predicted as the class LIME cannot explain, left out: a value of a category
    #: column the reference never had (LIME perturbs only values it has seen), a text
    #: without words
    left_out: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lime() -> Any:
    try:
        import lime.lime_tabular
        import lime.lime_text
    except ImportError as exc:  # pragma: no cover - the test extra installs lime
        raise missing_extra("LIME explanations", "lime", "explain") from exc
    return lime


def _class_names(model: Any, classes: Sequence[Any] | None) -> list[str]:
    if classes is not None:
        return [str(c) for c in classes]
    found = getattr(getattr(model, "unwrapped", model), "classes_", None)
    if found is None:
        raise ConfigError(
            "the model has no classes_; pass classes= in the order of predict_proba's columns."
        )
    return [str(c) for c in found]


class _Tabular:
    """The reference encoded for LIME: categorical columns as integer codes, and the way
    back to a DataFrame of the user's values for the model."""

    def __init__(self, reference: Any, columns: Sequence[str] | None) -> None:
        if not (hasattr(reference, "columns") and hasattr(reference, "iloc")):
            raise SchemaError(
                "a tabular explanation needs the reference as a pandas DataFrame (LIME's "
                f"training data); got {type(reference).__name__}."
            )
        if len(reference) == 0:
            raise SchemaError("the reference has no rows; LIME needs its training data.")
        self.columns = [str(c) for c in (columns if columns is not None else reference.columns)]
        missing = [c for c in self.columns if c not in reference.columns]
        if missing:
            raise SchemaError(
                f"column {shorten(missing[0])} is not in the reference; its columns are "
                f"{name_list([str(c) for c in reference.columns])}."
            )
        self.categories: dict[int, list[Any]] = {}
        self.dtypes = {c: reference[c].dtype for c in self.columns}
        encoded = []
        for i, c in enumerate(self.columns):
            values = reference[c]
            if values.dtype.kind in "iufb":
                encoded.append(np.asarray(values, dtype=float))
            else:
                cats = sorted(values.dropna().astype(str).unique().tolist())
                self.categories[i] = cats
                encoded.append(self._codes(i, values))
        self.training = np.column_stack(encoded)

    def _codes(self, i: int, values: Any) -> Any:
        index = {v: k for k, v in enumerate(self.categories[i])}
        return np.asarray([index.get(str(v), -1) for v in values], dtype=float)

    def known(self, row: Any) -> bool:
        """Whether every category value of ``row`` is one the reference has."""
        return all(str(row[self.columns[i]]) in cats for i, cats in self.categories.items())

    def encode(self, row: Any) -> Any:
        out = np.empty(len(self.columns))
        for i, c in enumerate(self.columns):
            v = row[c]
            if i in self.categories:
                if str(v) not in self.categories[i]:
                    raise SchemaError(
                        f"column {shorten(c)} has value {shorten(str(v))}, unseen in the "
                        "reference; LIME can only perturb values it has seen. Explain a row "
                        "with known categories, or add the value to the reference."
                    )
                out[i] = self.categories[i].index(str(v))
            else:
                out[i] = float(v)
        return out

    def decode(self, rows: Any) -> Any:
        import pandas as pd

        data: dict[str, Any] = {}
        for i, c in enumerate(self.columns):
            col = rows[:, i]
            if i in self.categories:
                cats = np.asarray(self.categories[i], dtype=object)
                data[c] = cats[np.clip(np.rint(col).astype(int), 0, len(cats) - 1)]
            elif self.dtypes[c].kind in "iu":
                data[c] = np.rint(col).astype(self.dtypes[c])
            else:
                data[c] = col
        return pd.DataFrame(data)


def explain(
    model: Any,
    row: Any,
    *,
    reference: Any = None,
    classes: Sequence[Any] | None = None,
    klass: Any = None,
    columns: Sequence[str] | None = None,
    num_features: int = 10,
    num_samples: int = 5000,
    seed: int = 0,
) -> Explanation:
    """Explain one prediction with LIME.

    ``row`` is a string (text model) or a mapping / one-row DataFrame of features
    (tabular model; ``reference`` is then required). ``klass`` is the class to explain,
    the predicted one by default.
    """
    check_lime_options(num_features, num_samples)
    names = _class_names(model, classes)
    explainer, instance, fn, tabular = _setup(model, row, reference, names, columns, seed)
    return _explain_one(explainer, instance, fn, names, klass, num_features, num_samples, tabular)


def _setup(
    model: Any,
    row: Any,
    reference: Any,
    names: list[str],
    columns: Sequence[str] | None,
    seed: int,
) -> tuple[Any, Any, Callable[[Any], Any], _Tabular | None]:
    lime = _lime()
    predict = predictor(model)
    if isinstance(row, str):
        explainer = lime.lime_text.LimeTextExplainer(class_names=names, random_state=seed)
        return explainer, row, lambda x: call_model(predict, x), None
    if reference is None:
        raise ConfigError(
            "a tabular explanation needs reference= (a DataFrame of training rows): LIME "
            "perturbs a row around the reference's distribution."
        )
    tab = _Tabular(reference, columns)
    explainer = lime.lime_tabular.LimeTabularExplainer(
        tab.training,
        mode="classification",
        feature_names=tab.columns,
        class_names=names,
        categorical_features=sorted(tab.categories),
        categorical_names={i: list(c) for i, c in tab.categories.items()},
        random_state=seed,
    )
    return explainer, row, lambda x: call_model(predict, tab.decode(np.atleast_2d(x))), tab


def _explain_one(
    explainer: Any,
    row: Any,
    fn: Callable[[Any], Any],
    names: list[str],
    klass: Any,
    num_features: int,
    num_samples: int,
    tabular: _Tabular | None,
) -> Explanation:
    if tabular is not None:
        if hasattr(row, "iloc") and hasattr(row, "columns"):
            if len(row) != 1:
                raise SchemaError(f"explain one row at a time; got a DataFrame of {len(row)}.")
            row = row.iloc[0]
        instance = tabular.encode(row)
    else:
        instance = row
        if not _has_words(instance):
            raise SchemaError(
                f"the text to explain holds no word ({shorten(str(instance))}): LIME explains "
                "a text prediction by the words it holds; explain a row with text."
            )
    proba = np.asarray(fn([instance] if tabular is None else instance[None, :]), dtype=float)[0]
    if proba.shape[0] != len(names):
        raise SchemaError(
            f"predict_proba returned {proba.shape[0]} columns but the classes are "
            f"{name_list(names)}; pass classes= in the model's column order."
        )
    if klass is None:
        index = int(proba.argmax())
    elif str(klass) in names:
        index = names.index(str(klass))
    else:
        raise ConfigError(f"class {shorten(str(klass))} is not one of {name_list(names)}.")
    exp = explainer.explain_instance(
        instance, fn, labels=(index,), num_features=num_features, num_samples=num_samples
    )
    weights = sorted(exp.as_list(label=index), key=lambda tw: -abs(tw[1]))
    return Explanation(
        klass=names[index],
        probability=float(proba[index]),
        weights=[(str(t), float(w)) for t, w in weights],
        intercept=float(exp.intercept[index]),
        score=float(np.ravel(np.asarray(exp.score, dtype=float))[-1]),
    )


def check_lime_options(num_features: Any = None, num_samples: Any = None) -> None:
    """Refuse LIME settings it cannot run with (it failed on them with an IndexError):
    ``num_samples`` below 2, ``num_features`` below 1, or either not a whole number."""
    for key, value, least in (("num_samples", num_samples, 2), ("num_features", num_features, 1)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < least
        ):
            raise ConfigError(
                f"{key} is {value!r}; LIME needs a whole number of at least {least} "
                f"(--{key.replace('_', '-')}; e.g. 1000 samples, 10 features)."
            )


def _has_words(text: Any) -> bool:
    """Whether LIME's text explainer finds a word in ``text`` (it splits on non-word
    characters, and fails on a text without any)."""
    return isinstance(text, str) and re.search(r"\w", text) is not None


def explain_class(
    model: Any,
    rows: Any,
    klass: Any,
    *,
    reference: Any = None,
    classes: Sequence[Any] | None = None,
    columns: Sequence[str] | None = None,
    n: int = 100,
    select: Literal["random", "least-confident"] = "random",
    top: int = 10,
    num_features: int = 10,
    num_samples: int = 1000,
    seed: int = 0,
) -> ClassExplanation:
    """Aggregate LIME over up to ``n`` of ``rows`` predicted as ``klass``.

    ``rows`` is a list of strings or a DataFrame. ``select`` draws the ``n`` rows at
    random (seeded) or takes the least confident ones.
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1; got {n}.")
    check_lime_options(num_features, num_samples)
    if select not in ("random", "least-confident"):
        raise ConfigError(f"select must be 'random' or 'least-confident'; got {select!r}.")
    names = _class_names(model, classes)
    if str(klass) not in names:
        raise ConfigError(f"class {shorten(str(klass))} is not one of {name_list(names)}.")
    index = names.index(str(klass))
    frame = hasattr(rows, "iloc") and hasattr(rows, "columns")
    count = len(rows)
    if count == 0:
        raise SchemaError("no rows to explain; give at least one.")
    predict = predictor(model)
    proba = np.asarray(call_model(predict, rows if frame else list(rows)), dtype=float)
    predicted = proba.argmax(axis=1)
    candidates = np.flatnonzero(predicted == index)
    first = rows.iloc[0] if frame else rows[0]
    explainer, _, fn, tab = _setup(model, first, reference, names, columns, seed)

    # rows LIME cannot perturb are left out and counted (see ClassExplanation.left_out)
    def can(i: int) -> bool:
        return tab.known(rows.iloc[i]) if tab is not None else _has_words(rows[i])

    keep = np.array([can(int(i)) for i in candidates], dtype=bool)
    left_out = int((~keep).sum())
    candidates = candidates[keep]
    if select == "random":
        rng = np.random.default_rng(seed)
        chosen = rng.permutation(candidates)[:n]
    else:
        chosen = candidates[np.argsort(proba[candidates, index], kind="stable")][:n]
    sums: dict[str, list[float]] = defaultdict(list)
    for i in chosen:
        row = rows.iloc[int(i)] if frame else rows[int(i)]
        exp = _explain_one(explainer, row, fn, names, klass, num_features, num_samples, tab)
        for term, weight in exp.weights:
            sums[term].append(weight)
    k = len(chosen)
    terms = []
    for term, ws in sums.items():
        full = np.zeros(k)
        full[: len(ws)] = ws
        terms.append(
            TermWeight(
                term=term,
                mean=float(full.mean()),
                std=float(full.std()),
                frequency=len(ws) / k,
                mean_present=float(np.mean(ws)),
            )
        )
    terms.sort(key=lambda t: (-abs(t.mean), t.term))
    return ClassExplanation(
        klass=names[index], rows=k, selection=select, terms=terms[:top], left_out=left_out
    )
