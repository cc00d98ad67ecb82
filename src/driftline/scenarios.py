"""Synthetic prediction streams with drift of known onset and size.

The tests' scenario suite and the benchmarks' large one share these generators, so
"every injected drift is alerted within one window of onset, and no-drift streams raise
no alert" is checked on the same streams at small and large sizes.

A stream is a sequence of windows (one day each). Rows carry a 3-class model's scores
(softmax of a fixed linear model of the features, so the class mix follows the inputs),
a ``region`` cohort, five numeric and two categorical features, and a ``comment`` text
column whose style is "pasted" (capitalised, punctuated, order numbers) in the reference.

>>> ref = reference(1000, seed=1)
>>> ref.num_rows, sorted(set(ref.column("prediction").to_pylist()))
(1000, ['a', 'b', 'c'])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "COHORTS_DIFFER",
    "COHORT_MIX",
    "COHORT_MOVES",
    "LABEL_SHIFT",
    "NO_DRIFT",
    "SCENARIOS",
    "SCORE_SHIFT",
    "START",
    "STATIONARY_COHORTS",
    "Scenario",
    "reference",
    "spec",
    "window",
]

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
CLASSES = ("a", "b", "c")
REGIONS = ("eu", "us", "apac")
_REGION_P = (0.4, 0.4, 0.2)
SMALL = ("card", "cash", "transfer", "voucher", "crypto")
_SMALL_P = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
BIG = tuple(f"m{i:02d}" for i in range(50))
_BIG_P = 1 / np.arange(1, 51) ** 1.1
_BIG_P /= _BIG_P.sum()
NUMERIC = ("amount_z", "latency", "score_in", "items", "age")
CATEGORICAL = ("payment", "merchant")


@dataclass(frozen=True)
class Scenario:
    """A stream: ``kind`` of drift from window ``onset`` on (in ``cohort`` only, if set).

    ``expect`` names the check, column and cohort value that must alert.
    """

    name: str
    kind: str
    size: float = 1.0
    onset: int = 6
    cohort_value: str | None = None
    #: regions differ from one another, in the reference and in serving alike (see
    #: :data:`COHORTS_DIFFER`); kind ``cohort_mix`` moves traffic between them
    cohorts_differ: bool = False

    @property
    def expect(self) -> tuple[str, str | None, str | None]:
        return {
            "none": ("", None, None),
            "mean_shift": ("feature_drift", "amount_z", self.cohort_value),
            "scale_change": ("feature_drift", "latency", self.cohort_value),
            "new_category": ("unseen_category", "payment", self.cohort_value),
            "class_prior": ("class_mix", None, self.cohort_value),
            "text_style": ("text_drift", "comment", self.cohort_value),
            "cohort_mix": ("class_mix", None, None),
            "cohort_moves": ("class_mix", None, self.cohort_value),
            # any class's score: score:<class>
            "score_shift": ("score_drift", "score", self.cohort_value),
            "label_shift": ("performance", None, self.cohort_value),
        }[self.kind]


NO_DRIFT = Scenario("no drift", "none")
SCENARIOS = (
    Scenario("mean shift 0.5 sd", "mean_shift", 0.5),
    Scenario("scale change x1.5", "scale_change", 1.5),
    Scenario("new category 15 %", "new_category", 0.15),
    Scenario("class-prior shift", "class_prior", 3.0),
    Scenario("typed, not pasted, text (60 %)", "text_style", 0.6),
    Scenario("mean shift 0.5 sd in apac only", "mean_shift", 0.5, cohort_value="apac"),
)

#: Streams whose regions each keep their own normal, the same in the reference and in
#: serving: nothing drifts, so no scope may alert. Judged against the overall reference
#: instead of its own, every region would alert in every window.
STATIONARY_COHORTS = Scenario("regions differ, nothing drifts", "none", cohorts_differ=True)
#: The same regions, and from the onset apac's share of traffic grows from 20 % to 60 %:
#: the overall class mix and feature distributions move (a segment grew), no region does.
COHORT_MIX = Scenario("apac grows from 20 % to 60 % of traffic", "cohort_mix", cohorts_differ=True)
#: How regions differ in :data:`STATIONARY_COHORTS` and :data:`COHORT_MIX`: amount mean
#: (in sd), latency spread (lognormal sigma), payment mix (apac pays by transfer and
#: crypto).
COHORTS_DIFFER = {
    "eu": (0.0, 0.5, _SMALL_P),
    "us": (-0.6, 0.35, np.array([0.55, 0.3, 0.1, 0.04, 0.01])),
    "apac": (1.0, 0.8, np.array([0.15, 0.1, 0.35, 0.1, 0.3])),
}
_COHORT_MIX_P = (0.2, 0.2, 0.6)
#: The same regions, and from the onset apac's rows look like eu's (its amounts, latency
#: and payment mix, hence its class mix, become eu's): apac alone changes.
COHORT_MOVES = Scenario(
    "apac's mix becomes eu's", "cohort_moves", cohort_value="apac", cohorts_differ=True
)
#: The same regions, and from the onset the runner-up class changes: of the score the
#: top class leaves, the class after it (a -> b -> c -> a) takes 90 %, the other the rest.
#: Each row's predicted class and confidence (max score) stay as they were, so the
#: class mix and the mean confidence do not move; each class's score distribution does.
#: Not in :data:`SCENARIOS`: the benchmarks' Evidently comparison watches no score column.
SCORE_SHIFT = Scenario(
    "the runner-up class takes 90 % of what the top class leaves",
    "score_shift",
    0.9,
    cohorts_differ=True,
)

#: From the onset, in apac, 40 % of rows carry the next class's label (a -> b -> c -> a)
#: while inputs and scores stay as they were: nothing but the labels moves, so only the
#: realised performance can see it, and only once the labels are logged
#: (:func:`labels`). Not in :data:`SCENARIOS`: those log no labels.
LABEL_SHIFT = Scenario(
    "apac's labels move to the next class for 40 % of rows", "label_shift", 0.4, cohort_value="apac"
)

_WORDS = [
    "order",
    "arrived",
    "damaged",
    "please",
    "refund",
    "the",
    "full",
    "amount",
    "package",
    "missing",
    "item",
    "wrong",
    "size",
    "colour",
    "delivery",
    "late",
    "courier",
    "left",
    "parcel",
    "outside",
    "invoice",
    "shows",
    "double",
    "charge",
    "account",
    "locked",
    "cannot",
    "login",
    "reset",
    "password",
    "subscription",
    "cancelled",
    "still",
    "billed",
    "thanks",
    "support",
]


def _text_pool(rng: np.random.Generator, n: int, typed: bool) -> np.ndarray:
    out = []
    for _ in range(n):
        k = int(rng.integers(6, 14)) if not typed else int(rng.integers(3, 8))
        words = [str(w) for w in rng.choice(_WORDS, k)]
        if typed:
            for i, w in enumerate(words):  # drop or double a letter: typo-like tokens
                if len(w) > 3 and rng.random() < 0.5:
                    j = int(rng.integers(1, len(w) - 1))
                    words[i] = w[:j] + w[j + 1 :] if rng.random() < 0.5 else w[:j] + w[j] + w[j:]
            out.append(" ".join(words))
        else:
            words[0] = words[0].capitalize()
            order = f"Order #{int(rng.integers(1000, 99999))}"
            out.append(f"{order}: {' '.join(words)}. Ref {int(rng.integers(10, 999))}-AB!")
    return np.asarray(out, dtype=object)


_POOLS: dict[bool, np.ndarray] = {}


def _texts(rng: np.random.Generator, n: int, typed: bool) -> np.ndarray:
    if typed not in _POOLS:
        _POOLS[typed] = _text_pool(np.random.default_rng(99 + typed), 4000, typed)
    return rng.choice(_POOLS[typed], n)


def _rows(rng: np.random.Generator, n: int, scenario: Scenario, active: bool) -> dict[str, Any]:
    mix = _COHORT_MIX_P if scenario.kind == "cohort_mix" and active else _REGION_P
    region = rng.choice(REGIONS, n, p=mix)
    hit = (
        np.full(n, active)
        if scenario.cohort_value is None
        else (active & (region == scenario.cohort_value))
    )
    amount = rng.normal(0.0, 1.0, n)
    latency = rng.lognormal(0.0, 0.5, n)
    score_in = rng.uniform(0.0, 10.0, n)
    items = rng.poisson(3.0, n).astype(float)
    age = rng.normal(40.0, 12.0, n)
    age[rng.random(n) < 0.05] = np.nan  # 5 % missing, as in the reference
    payment = rng.choice(SMALL, n, p=_SMALL_P).astype(object)
    merchant = rng.choice(BIG, n, p=_BIG_P)
    if scenario.cohorts_differ:
        for value, (shift, sigma, p) in COHORTS_DIFFER.items():
            if scenario.kind == "cohort_moves" and active and value == scenario.cohort_value:
                shift, sigma, p = COHORTS_DIFFER["eu"]
            at = region == value
            k = int(at.sum())
            amount[at] += shift
            latency[at] = rng.lognormal(0.0, sigma, k)
            payment[at] = rng.choice(SMALL, k, p=p)
    typed = np.zeros(n, dtype=bool)
    if scenario.kind == "mean_shift":
        amount = np.where(hit, amount + scenario.size, amount)
    elif scenario.kind == "scale_change":
        latency = np.where(hit, latency**scenario.size, latency)
    elif scenario.kind == "new_category":
        payment = np.where(hit & (rng.random(n) < scenario.size), "wallet", payment)
    elif scenario.kind == "text_style":
        typed = hit & (rng.random(n) < scenario.size)
    comment = np.where(typed, _texts(rng, n, True), _texts(rng, n, False))
    logits = np.stack(
        [
            1.2 * amount,
            0.8 * (latency - 1.1) + 0.3 * (payment == "cash"),
            0.25 * (score_in - 5.0),
        ],
        axis=1,
    )
    logits += rng.normal(0, 0.5, logits.shape)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    pred = np.asarray(CLASSES)[proba.argmax(axis=1)]
    cum = proba.cumsum(axis=1)
    u = rng.random((n, 1))
    label = np.asarray(CLASSES)[(u > cum).sum(axis=1).clip(0, 2)]
    if scenario.kind == "score_shift":
        proba = _runner_up_takes(proba, hit, scenario.size)
    if scenario.kind == "label_shift":
        moved = hit & (rng.random(n) < scenario.size)
        following = np.asarray(CLASSES)[(_index(label) + 1) % 3]
        label = np.where(moved, following, label)
    return {
        "region": region,
        "amount_z": amount,
        "latency": latency,
        "score_in": score_in,
        "items": items,
        "age": age,
        "payment": payment,
        "merchant": merchant,
        "comment": comment,
        "prediction": pred,
        "score_a": proba[:, 0],
        "score_b": proba[:, 1],
        "score_c": proba[:, 2],
        "label": label,
        "_hit": hit,
    }


def _index(label: np.ndarray) -> np.ndarray:
    """The index of each label in :data:`CLASSES`."""
    return np.searchsorted(np.asarray(CLASSES), label)


def _runner_up_takes(proba: np.ndarray, hit: np.ndarray, share: float) -> np.ndarray:
    """``proba`` with, in the ``hit`` rows, ``share`` of what the top class leaves given to
    the class after it and the rest to the third (never reaching the top score: a row
    where it would keeps its scores). Each row's top class and top score are unchanged.

    >>> p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    >>> _runner_up_takes(p, np.array([True, True]), 0.9).round(2).tolist()
    [[0.6, 0.36, 0.04], [0.05, 0.5, 0.45]]
    """
    rows = np.arange(len(proba))
    top = proba.argmax(axis=1)
    rest = 1.0 - proba[rows, top]
    shifted = proba.copy()
    shifted[rows, (top + 1) % 3] = share * rest
    shifted[rows, (top + 2) % 3] = (1.0 - share) * rest
    keep = ~hit | (shifted.argmax(axis=1) != top)
    shifted[keep] = proba[keep]
    return shifted


def _table(cols: dict[str, Any], ids: list[str] | np.ndarray, ts: Any | None) -> pa.Table:
    data: dict[str, Any] = {"id": pa.array(ids, pa.string())}
    if ts is not None:
        data["ts"] = pa.array(ts, pa.timestamp("us", tz="UTC"))
    for k, v in cols.items():
        if k.startswith("_"):
            continue
        data[k] = pa.array(v, from_pandas=True) if k != "age" else pa.array(v)
    return pa.table(data)


def reference(n: int, seed: int = 0, *, cohorts_differ: bool = False) -> pa.Table:
    """The labelled holdout scored by the model (no drift, no timestamps); with
    ``cohorts_differ``, of the streams whose regions differ (:data:`COHORTS_DIFFER`)."""
    rng = np.random.default_rng(seed)
    base = STATIONARY_COHORTS if cohorts_differ else NO_DRIFT
    cols = _rows(rng, n, base, False)
    return _table(cols, [f"ref-{i}" for i in range(n)], None)


def window(scenario: Scenario, index: int, n: int, seed: int = 0) -> pa.Table:
    """Window ``index`` (one day from :data:`START`) of ``scenario``'s stream."""
    kind_key = sum(ord(ch) for ch in scenario.kind)  # stable across processes
    rng = np.random.default_rng([seed, index, kind_key])
    active = index >= scenario.onset and scenario.kind != "none"
    if scenario.kind == "class_prior" and active:
        cols = _rows(rng, 3 * n, scenario, active)
        w = np.where(cols["prediction"] == "a", scenario.size, 1.0)
        if scenario.cohort_value is not None:
            w = np.where(cols["region"] == scenario.cohort_value, w, 1.0)
        keep = rng.choice(3 * n, n, replace=False, p=w / w.sum())
        keep.sort()
        cols = {k: v[keep] for k, v in cols.items()}
    else:
        cols = _rows(rng, n, scenario, active)
    start = START + timedelta(days=index)
    secs = np.sort(rng.uniform(0, 86400, n))
    ts = np.datetime64(start.replace(tzinfo=None), "us") + (secs * 1e6).astype("timedelta64[us]")
    ids = np.char.add(f"w{index}-", np.arange(n).astype(str))
    return _table(cols, ids, ts)


def labels(table: pa.Table, labelled_at: datetime | None = None) -> pa.Table:
    """The labels of a window's rows (``id``, ``label``, ``labelled_at``), as they arrive
    later: at ``labelled_at``, or two days after each prediction."""
    ts = table.column("ts").to_numpy(zero_copy_only=False)
    at = (
        np.full(len(ts), np.datetime64(labelled_at.replace(tzinfo=None), "us"))
        if labelled_at is not None
        else ts.astype("datetime64[us]") + np.timedelta64(2, "D")
    )
    return pa.table(
        {
            "id": table.column("id"),
            "label": table.column("label"),
            "labelled_at": pa.array(at, pa.timestamp("us")),
        }
    )


def spec(window_size: str = "1d") -> dict[str, Any]:
    """The spec of every scenario stream."""
    return {
        "id": "id",
        "timestamp": "ts",
        "prediction": "prediction",
        "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
        "label": "label",
        "cohorts": ["region"],
        "features": {
            "numeric": list(NUMERIC),
            "categorical": list(CATEGORICAL),
            "text": ["comment"],
        },
        "window": window_size,
    }
