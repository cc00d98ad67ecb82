"""Does in-domain noise change the model? Perturbation checks on any ``predict_proba``.

"Adding in-domain noise should not change the model": a typo, a capital letter, an extra
space or a sensor's jitter are what serving traffic looks like, and a prediction that
flips under them is fragile. :func:`check_robustness` applies each perturbation to a
sample (the reference, for a training-data check, or logged predictions), runs the model
on the original and the perturbed rows, and reports per perturbation and per class (the
class predicted on the original row) the *flip rate* (the predicted class changed) and
the mean absolute change in the confidence of the originally predicted class, plus the
rows that flipped.

Perturbations (one registry, :data:`PERTURBATIONS`):

- text: ``typos`` (per character, at ``rate``: swap with the next, drop, or duplicate),
  ``case`` (each word's case flipped at ``rate``), ``whitespace`` (extra spaces or a tab
  between words at ``rate``), ``punctuation`` (a mark inserted after a word, or one
  removed, at ``rate``);
- numeric: ``gaussian`` (noise of ``numeric_scale`` times each column's reference
  standard deviation);
- categorical: ``swap`` (at ``rate``, a value replaced by another of the reference's
  frequent values, drawn by their frequency).

Randomness comes from ``seed`` only: each perturbation draws from its own stream spawned
from it, so adding a perturbation does not change another's rows.

>>> upper = lambda texts: [[0.9, 0.1] if t.isupper() else [0.1, 0.9] for t in texts]
>>> report = check_robustness(upper, ["HELLO THERE", "fine day"], perturbations=["case"],
...                           rate=1.0, classes=["loud", "calm"])
>>> [(r.perturbation, r.klass, r.flip_rate) for r in report.results]
[('case', 'calm', 1.0), ('case', 'loud', 1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from driftline.errors import ConfigError, SchemaError, name_list, shorten

__all__ = [
    "PERTURBATIONS",
    "FlippedSample",
    "PerturbationResult",
    "RobustnessConfig",
    "RobustnessReport",
    "call_model",
    "check_robustness",
    "perturb_text",
    "predictor",
]

Kind = Literal["text", "numeric", "categorical"]

#: Every perturbation by name, with the kind of column it applies to.
PERTURBATIONS: dict[str, Kind] = {
    "case": "text",
    "gaussian": "numeric",
    "punctuation": "text",
    "swap": "categorical",
    "typos": "text",
    "whitespace": "text",
}

_MARKS = ".,;:!?"


class RobustnessConfig(BaseModel):
    """What to perturb and how hard; the same names as :func:`check_robustness`'s
    keywords and the CLI's options."""

    model_config = ConfigDict(extra="forbid")

    perturbations: list[str] | None = None
    """Names from :data:`PERTURBATIONS`; ``None`` runs every one that applies to the data."""
    rate: float = Field(0.05, gt=0, le=1)
    """Per character (typos) or per word (case, whitespace, punctuation) or per value (swap)."""
    numeric_scale: float = Field(0.1, gt=0)
    """Gaussian noise's standard deviation, in units of each column's reference std."""
    frequent: int = Field(10, ge=2)
    """How many of the reference's most frequent values a categorical swap draws from."""
    max_flipped: int = Field(50, ge=0)
    """How many flipped rows the report lists (all are counted)."""
    seed: int = 0


@dataclass(frozen=True)
class PerturbationResult:
    """One perturbation's effect on the rows predicted as one class."""

    perturbation: str
    klass: str
    rows: int
    flipped: int
    flip_rate: float
    mean_abs_change: float
    """Mean |confidence after - before| of the class predicted on the original row."""


@dataclass(frozen=True)
class FlippedSample:
    """A row whose predicted class changed under a perturbation."""

    row: int
    perturbation: str
    before: str
    after: str
    confidence_before: float
    confidence_after: float
    original: Any
    perturbed: Any


@dataclass(frozen=True)
class RobustnessReport:
    """Flip rates per perturbation and class, the flipped rows, and the plan that ran."""

    results: list[PerturbationResult]
    flipped: list[FlippedSample]
    config: RobustnessConfig
    columns: dict[str, list[str]] = field(default_factory=dict)

    def flip_rate(self, perturbation: str, klass: str | None = None) -> float:
        """The flip rate of one perturbation, over every row or over one class's rows."""
        rows = [
            r
            for r in self.results
            if r.perturbation == perturbation and (klass is None or r.klass == klass)
        ]
        if not rows:
            known = sorted({r.perturbation for r in self.results})
            raise KeyError(
                f"no result for perturbation {perturbation!r} and class {klass!r}; "
                f"perturbations run: {name_list(known)}"
            )
        total = sum(r.rows for r in rows)
        return sum(r.flipped for r in rows) / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [asdict(r) for r in self.results],
            "flipped": [
                {**asdict(f), "original": _plain(f.original), "perturbed": _plain(f.perturbed)}
                for f in self.flipped
            ],
            "config": self.config.model_dump(),
            "columns": self.columns,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- text ------------------------------------------------------------------------------
def perturb_text(text: str, perturbation: str, rate: float, rng: np.random.Generator) -> str:
    """One text perturbation of one string.

    >>> rng = np.random.default_rng(0)
    >>> perturb_text("monitor the model", "case", 1.0, rng)
    'MONITOR THE MODEL'
    >>> perturb_text("abc", "typos", 0.0, rng)
    'abc'
    """
    if perturbation == "typos":
        chars = list(text)
        out: list[str] = []
        i = 0
        while i < len(chars):
            c = chars[i]
            if c.isalnum() and rng.random() < rate:
                what = rng.integers(3)
                if what == 0 and i + 1 < len(chars):  # swap with the next character
                    out += [chars[i + 1], c]
                    i += 2
                    continue
                if what == 1:  # drop
                    i += 1
                    continue
                out += [c, c]  # duplicate (or a swap at the end of the text)
                i += 1
                continue
            out.append(c)
            i += 1
        return "".join(out)
    words = text.split(" ")
    if perturbation == "case":
        return " ".join(w.swapcase() if rng.random() < rate else w for w in words)
    if perturbation == "whitespace":
        return "".join(
            w + (("  " if rng.integers(2) else "\t ") if rng.random() < rate else " ")
            for w in words
        ).removesuffix(" ")
    if perturbation == "punctuation":
        out_words = []
        for w in words:
            if rng.random() < rate:
                mark = _MARKS[int(rng.integers(len(_MARKS)))]
                w = w[:-1] if w and w[-1] in _MARKS else w + mark
            out_words.append(w)
        return " ".join(out_words)
    raise ConfigError(
        f"unknown text perturbation {perturbation!r}; available: "
        f"{name_list(sorted(k for k, v in PERTURBATIONS.items() if v == 'text'))}"
    )


# -- the check ---------------------------------------------------------------------------
def check_robustness(
    predict_proba: Callable[[Any], Any] | Any,
    data: Any,
    *,
    classes: Sequence[Any] | None = None,
    reference: Any = None,
    text_columns: Sequence[str] = (),
    config: RobustnessConfig | None = None,
    **options: Any,
) -> RobustnessReport:
    """Perturb ``data`` and report how often the model's prediction flips.

    ``predict_proba`` is a callable or a fitted model with ``predict_proba`` (a
    :class:`driftline.integrations.sklearn.MonitoredModel` is unwrapped, so perturbed
    rows are not logged). ``data`` is a sequence of strings (a text model) or a pandas
    DataFrame (a tabular model, called with a DataFrame of the same columns).
    ``reference`` (a DataFrame, default ``data``) gives each numeric column's standard
    deviation and each categorical column's frequent values. ``options`` are
    :class:`RobustnessConfig`'s fields.
    """
    try:
        cfg = RobustnessConfig(**{**(config.model_dump() if config else {}), **options})
    except ValidationError as exc:
        raise ConfigError(f"robustness options: {exc.errors()[0]['msg']} ({exc})") from exc
    predict = predictor(predict_proba)
    names = [str(c) for c in classes] if classes is not None else _classes(predict_proba)

    if _is_frame(data):
        texts, numeric, categorical = _split_columns(data, text_columns)
        columns = {"text": texts, "numeric": numeric, "categorical": categorical}
        n = len(data)
    else:
        if isinstance(data, str) or not isinstance(data, Sequence):
            raise SchemaError(
                f"robustness data is a {type(data).__name__}; give a list of strings (a "
                "text model) or a pandas DataFrame (a tabular model)."
            )
        bad = next((i for i, t in enumerate(data) if not isinstance(t, str)), None)
        if bad is not None:
            raise SchemaError(
                f"robustness data row {bad} is {type(data[bad]).__name__}, not a string; "
                "give a list of strings or a DataFrame."
            )
        columns = {"text": ["<text>"], "numeric": [], "categorical": []}
        n = len(data)
    if n == 0:
        raise SchemaError("robustness data has no rows; give at least one row to perturb.")

    applicable = [p for p, kind in PERTURBATIONS.items() if columns[kind]]
    wanted = cfg.perturbations if cfg.perturbations is not None else applicable
    unknown = [p for p in wanted if p not in PERTURBATIONS]
    if unknown:
        raise ConfigError(
            f"unknown perturbation {unknown[0]!r}; available: {name_list(sorted(PERTURBATIONS))}"
        )
    unusable = [p for p in wanted if p not in applicable]
    if unusable:
        kind = PERTURBATIONS[unusable[0]]
        raise ConfigError(
            f"perturbation {unusable[0]!r} needs a {kind} column and the data has none; "
            f"perturbations that apply: {name_list(applicable)}"
        )

    before = _probabilities(predict, data, n, names)
    base_class = before.argmax(axis=1)
    base_conf = before[np.arange(n), base_class]
    streams = np.random.SeedSequence(cfg.seed).spawn(len(PERTURBATIONS))
    stream_of = dict(zip(sorted(PERTURBATIONS), streams, strict=True))

    results: list[PerturbationResult] = []
    flipped: list[FlippedSample] = []
    for name in wanted:
        rng = np.random.default_rng(stream_of[name])
        perturbed = _perturb(data, name, cfg, rng, columns, reference)
        after = _probabilities(predict, perturbed, n, names)
        new_class = after.argmax(axis=1)
        change = np.abs(after[np.arange(n), base_class] - base_conf)
        flips = new_class != base_class
        for k in np.unique(base_class):
            rows = base_class == k
            results.append(
                PerturbationResult(
                    perturbation=name,
                    klass=names[k],
                    rows=int(rows.sum()),
                    flipped=int(flips[rows].sum()),
                    flip_rate=float(flips[rows].mean()),
                    mean_abs_change=float(change[rows].mean()),
                )
            )
        for i in np.flatnonzero(flips)[: max(0, cfg.max_flipped - len(flipped))]:
            flipped.append(
                FlippedSample(
                    row=int(i),
                    perturbation=name,
                    before=names[base_class[i]],
                    after=names[new_class[i]],
                    confidence_before=float(base_conf[i]),
                    confidence_after=float(after[i, new_class[i]]),
                    original=_row(data, int(i)),
                    perturbed=_row(perturbed, int(i)),
                )
            )
    results.sort(key=lambda r: (r.perturbation, r.klass))
    return RobustnessReport(results=results, flipped=flipped, config=cfg, columns=columns)


def predictor(model: Any) -> Callable[[Any], Any]:
    """The model's ``predict_proba`` (or the model, when it is that function). A wrapper
    that logs (:class:`driftline.integrations.sklearn.MonitoredModel`) is unwrapped: the
    perturbed rows of a robustness check or of LIME must not be logged."""
    inner = getattr(model, "unwrapped", model)
    if callable(getattr(inner, "predict_proba", None)):
        return inner.predict_proba  # type: ignore[no-any-return]
    if callable(inner) and not isinstance(inner, type):
        return inner  # type: ignore[no-any-return]
    raise ConfigError(
        f"the model ({type(model).__name__}) has no predict_proba; give a fitted classifier "
        "with predict_proba, or a function from rows to class probabilities."
    )


def _classes(model: Any) -> list[str]:
    inner = getattr(model, "unwrapped", model)
    found = getattr(inner, "classes_", None)
    return [str(c) for c in found] if found is not None else []


def _probabilities(predict: Callable[[Any], Any], rows: Any, n: int, names: list[str]) -> Any:
    proba = np.asarray(call_model(predict, rows), dtype=float)
    if proba.ndim != 2 or proba.shape[0] != n:
        raise SchemaError(
            f"predict_proba returned shape {proba.shape} for {n} rows; it must return one "
            "row of class probabilities per input row."
        )
    if not names:
        names.extend(str(i) for i in range(proba.shape[1]))
    if proba.shape[1] != len(names):
        raise SchemaError(
            f"predict_proba returned {proba.shape[1]} columns but the classes are "
            f"{name_list(names)}; pass classes= in the model's column order."
        )
    return proba


def call_model(predict: Callable[[Any], Any], rows: Any) -> Any:
    """``predict(rows)``; the model's own failure becomes a :class:`SchemaError` naming
    it (the rows are the user's data and the model is the user's code)."""
    try:
        return predict(rows)
    except Exception as exc:  # the user's model is the boundary
        raise SchemaError(
            f"the model's predict_proba failed on {len(rows)} rows "
            f"({type(exc).__name__}: {shorten(str(exc), 300)}); check that the rows have "
            "the columns and types the model was fitted on."
        ) from exc


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "iloc")


def _split_columns(frame: Any, text_columns: Sequence[str]) -> tuple[list[str], ...]:
    missing = [c for c in text_columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"text column {shorten(missing[0])} is not in the data; its columns are "
            f"{name_list([str(c) for c in frame.columns])}."
        )
    texts = [str(c) for c in text_columns]
    numeric: list[str] = []
    categorical: list[str] = []
    for col in frame.columns:
        if col in texts:
            continue
        kind = frame[col].dtype.kind
        (numeric if kind in "iuf" else categorical).append(str(col))
    return texts, numeric, categorical


def _perturb(
    data: Any,
    name: str,
    cfg: RobustnessConfig,
    rng: np.random.Generator,
    columns: dict[str, list[str]],
    reference: Any,
) -> Any:
    kind = PERTURBATIONS[name]
    if not _is_frame(data):
        return [perturb_text(t, name, cfg.rate, rng) for t in data]
    out = data.copy()
    ref = data if reference is None else reference
    for col in columns[kind]:
        if col not in ref.columns:
            raise SchemaError(
                f"column {shorten(col)} is in the data but not in the reference; give a "
                "reference with the same columns."
            )
        values = data[col]
        if kind == "text":
            out[col] = [
                perturb_text(v, name, cfg.rate, rng) if isinstance(v, str) else v for v in values
            ]
        elif kind == "numeric":
            std = float(np.nanstd(np.asarray(ref[col], dtype=float)))
            noise = rng.normal(
                0.0, cfg.numeric_scale * std if math.isfinite(std) else 0.0, len(out)
            )
            out[col] = np.asarray(values, dtype=float) + noise
            if values.dtype.kind in "iu":
                out[col] = np.rint(out[col]).astype(values.dtype)
        else:
            counts = ref[col].dropna().value_counts().head(cfg.frequent)
            if len(counts) < 2:
                continue  # nothing to swap with
            pool = np.asarray(counts.index, dtype=object)
            p = counts.to_numpy(dtype=float) / counts.sum()
            swapped = np.asarray(values, dtype=object).copy()
            for i in np.flatnonzero(rng.random(len(out)) < cfg.rate):
                others = pool != swapped[i]
                if others.any():
                    q = p[others] / p[others].sum()
                    swapped[i] = pool[others][rng.choice(int(others.sum()), p=q)]
            out[col] = swapped
    return out


def _row(data: Any, i: int) -> Any:
    if _is_frame(data):
        return {str(k): _plain(v) for k, v in data.iloc[i].to_dict().items()}
    return data[i]
