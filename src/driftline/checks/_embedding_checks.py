"""The ``embedding_drift`` check: serving embeddings against the reference's, per window x
cohort value, pooled and per predicted class.

The engine draws a capped sample per window x cohort value x predicted class
(``embeddings.sample_cap`` rows, by a hash of the seed and the id:
:mod:`driftline.engine.embeddings`); the vectors become the profile baseline's features
(coordinates on the reference's principal components and the distance from their
subspace, :class:`driftline.embeddings.Baseline`). Each class with serving rows is one
result (column ``<embedding>:<class>``), and all classes together one more (column
``<embedding>``), its reference drawn per class in the serving sample's class proportions,
so a changed class mix (the ``class_mix`` check's business) does not read as moved
embeddings.

The value is the domain-classifier AUC (:func:`driftline.methods.domain_classifier.
domain_auc`): reference half vs serving, cross-validated. Its no-drift band comes from
the reference alone: ``embeddings.null_reps`` random splits of the class's reference
sample into parts of the sizes compared, scored the same way; the bound is a prediction
bound for one more draw at ``checks.alert_quantile`` (the AUC of two samples of one
distribution is close to normal, and the band's mean and sd are estimates: Student's t
with ``null_reps - 1`` degrees of freedom, times ``sqrt(1 + 1/null_reps)``). Beyond the
bound a result warns, and alerts when the AUC is beyond the band's mean by the floor
(``domain_auc``: 0.05 by default). The
details carry the MMD with its permutation p-value, the sample sizes, and in the pooled
result the classes ranked by how far they moved.

A window with no embedding sampled gives no result; fewer than ``embeddings.min_rows``
sampled rows on either side is ``insufficient``. A profile fitted without an embedding
baseline (an older driftline, or a reference without the column) raises no
``embedding_drift`` result until it is refitted. Serving vectors of another length than
the reference's are left out and counted in the details (ingest refuses a batch whose
vectors differ in length or hold NaN; a later batch of another model may still differ).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from driftline._catalog import CHECKS
from driftline.checks._context import _Run, decided, skipped
from driftline.checks._registry import check
from driftline.checks._results import CheckResult
from driftline.embeddings import Baseline, by_class, sample_vectors
from driftline.engine import Engine
from driftline.engine.embeddings import SAMPLE_SCHEMA, embedding_sample, overall_of
from driftline.methods._validate import FloatArray
from driftline.methods.domain_classifier import domain_auc, null_aucs
from driftline.methods.mmd import mmd_test
from driftline.profile import Profile
from driftline.spec import Spec, Window

__all__ = ["SAMPLE_CHECKS", "EmbeddingRun", "bases_of", "embedding_drift", "embedding_results"]

#: Points per class and window kept for the report's scatter plots.
VIEW_POINTS = 100
#: Windows of the overall scope whose serving points the report keeps (the latest).
VIEW_WINDOWS = 12


@dataclass
class EmbeddingRun:
    """What the check reads per run: the overall run (bounds, floors), the baseline and
    the reference halves, and the no-drift bands computed so far."""

    run: _Run
    spec: Spec
    baseline: Baseline
    z: float
    #: per class: the reference sample's features and the fixed half compared with serving
    reference: dict[str, FloatArray]
    half: dict[str, FloatArray]
    nulls: dict[tuple[Any, ...], tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, run: _Run, spec: Spec, baseline: Baseline) -> EmbeddingRun:
        rng = np.random.default_rng(spec.checks.seed)
        half = {}
        for c, f in baseline.classes.items():
            half[c] = f[rng.permutation(len(f))[: len(f) // 2]]
        z = NormalDist().inv_cdf(spec.checks.alert_quantile)
        return cls(run, spec, baseline, z, dict(baseline.classes), half)

    def pooled(self, counts: Mapping[str, int]) -> tuple[FloatArray, dict[str, tuple[int, int]]]:
        """The pooled reference for serving class ``counts``: each class's half, taken in
        the serving proportions; and per class the (reference, serving) sizes."""
        known = {c: n for c, n in counts.items() if c in self.half and len(self.half[c])}
        if not known:
            return np.empty((0, 0)), {}
        f = min(1.0, *(len(self.half[c]) / n for c, n in known.items()))
        sizes = {c: (max(1, int(n * f)), n) for c, n in known.items()}
        ref = np.concatenate([self.half[c][: sizes[c][0]] for c in known])
        return ref, sizes

    def null(
        self, key: str | None, n_ref: int, n_cur: int | Mapping[str, tuple[int, int]]
    ) -> tuple[float, float]:
        """Mean and standard deviation of the AUC under no drift at these sizes."""
        cfg, seed = self.spec.embeddings, self.spec.checks.seed
        # sizes below the cap are rounded down to a grid (a band at a smaller size is a
        # little wider: conservative), so windows of similar sizes share one band
        cap = self.baseline.sample_cap
        if isinstance(n_cur, Mapping):
            n_cur = {c: (_grid(a, cap), _grid(b, cap)) for c, (a, b) in n_cur.items()}
        else:
            n_cur = _grid(n_cur, cap)
        frozen = tuple(sorted(n_cur.items())) if isinstance(n_cur, Mapping) else n_cur
        cache = (key, n_ref, frozen)
        found = self.nulls.get(cache)
        if found is not None:
            return found
        if key is not None:
            assert isinstance(n_cur, int)
            values = null_aucs(
                self.reference[key], n_ref, n_cur, reps=cfg.null_reps, folds=cfg.folds, seed=seed
            )
        else:  # pooled: each rep splits every class's reference sample at its sizes
            assert isinstance(n_cur, Mapping)
            rng = np.random.default_rng(seed)
            values = np.empty(cfg.null_reps)
            for r in range(cfg.null_reps):
                a_parts, b_parts = [], []
                for c, (a, b) in n_cur.items():
                    ref = self.reference[c]
                    a = min(a, len(ref) // 2)
                    b = min(b, len(ref) - a)
                    take = rng.permutation(len(ref))
                    a_parts.append(ref[take[:a]])
                    b_parts.append(ref[take[a : a + b]])
                values[r] = domain_auc(
                    np.concatenate(a_parts), np.concatenate(b_parts), folds=cfg.folds, seed=seed + r
                )
        found = self.nulls[cache] = (float(values.mean()), float(values.std(ddof=1)))
        return found


def t_quantile(q: float, df: int) -> float:
    """Student's t quantile by Hill's expansion around the normal one (scipy is not a
    dependency): within 0.01 of the exact one for ``df`` >= 9 at the alert quantiles,
    within 1e-3 for ``df`` >= 19.

    >>> round(t_quantile(0.999, 29), 3)  # scipy.stats.t.ppf(0.999, 29) = 3.396
    3.396
    """
    z = NormalDist().inv_cdf(q)
    v = float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def _grid(n: int, cap: int) -> int:
    """``n`` rounded down to the grid ``cap``, and ``2 * 1.2^k`` below it.

    >>> [_grid(n, 200) for n in (200, 450, 199, 31, 2)]
    [200, 200, 190, 30, 2]
    """
    if n >= cap:
        return cap
    g = 2.0
    while g * 1.2 <= n:
        g *= 1.2
    return max(2, int(g))


def _subsample(x: FloatArray, rows: int, rng: np.random.Generator) -> FloatArray:
    return x if len(x) <= rows else x[rng.choice(len(x), rows, replace=False)]


@check("embedding_drift")
def embedding_drift(
    erun: EmbeddingRun,
    base: dict[str, Any],
    column: str,
    cls: str | None,
    current: FloatArray,
    counts: Mapping[str, int],
) -> CheckResult:
    """One class's (``cls``; None: every class) serving features against the
    reference's: the domain-classifier AUC against its no-drift band, with the MMD."""
    cfg, seed = erun.spec.embeddings, erun.spec.checks.seed
    method = CHECKS["embedding_drift"].method
    sizes: dict[str, tuple[int, int]] = {}
    if cls is None:
        ref, sizes = erun.pooled(counts)
        current = (
            np.concatenate(
                [current[np.asarray(_rows_of(counts, c), dtype=np.int64)] for c in sizes]
            )
            if sizes
            else current[:0]
        )
    else:
        ref = erun.half.get(cls, np.empty((0, 0)))
    if len(current) < cfg.min_rows or len(ref) < cfg.min_rows:
        why = (
            f"{len(current)} serving and {len(ref)} reference embeddings sampled; each "
            f"side needs embeddings.min_rows {cfg.min_rows}"
        )
        return skipped(base, "embedding_drift", column, method, "insufficient", why)
    value = domain_auc(ref, current, folds=cfg.folds, seed=seed)
    if cls is None:
        mean, sd = erun.null(None, len(ref), sizes)
    else:
        mean, sd = erun.null(cls, len(ref), len(current))
    # a prediction bound for one more draw: the band's mean and sd are themselves
    # estimated from null_reps splits, so Student's t with null_reps - 1 degrees of
    # freedom, widened by sqrt(1 + 1/null_reps), not the normal quantile
    k = t_quantile(erun.spec.checks.alert_quantile, cfg.null_reps - 1)
    bound = mean + k * math.sqrt(1 + 1 / cfg.null_reps) * max(sd, 1e-6)
    how = (
        f"mean + {k:.2f} sd x sqrt(1 + 1/{cfg.null_reps}) of {cfg.null_reps} "
        "reference-vs-reference AUCs at these sizes (Student's t prediction bound)"
    )
    details: dict[str, Any] = {
        "class": cls,
        "reference_rows": len(ref),
        "current_rows": len(current),
        "null_mean": mean,
        "null_sd": sd,
        "summary": f"domain-classifier AUC {value:.3f} (no drift {mean:.3f} +/- {sd:.3f})",
    }
    # the MMD, a second opinion, where it is read: the pooled result and a class beyond
    # its band (a class inside it costs the classifier alone)
    if cls is None or value > bound:
        rng = np.random.default_rng(seed)
        mmd2, p_value, bandwidth = mmd_test(
            _subsample(ref, cfg.mmd_rows, rng),
            _subsample(current, cfg.mmd_rows, rng),
            permutations=cfg.permutations,
            seed=seed,
        )
        details.update(mmd2=mmd2, mmd_p_value=p_value, mmd_bandwidth=bandwidth)
        details["summary"] += f"; MMD^2 {mmd2:.3g}, permutation p {p_value:.3g}"
    return decided(
        erun.run, base, "embedding_drift", column, value, value, bound, how, details, bias=mean
    )


def _rows_of(counts: Mapping[str, int], cls: str) -> list[int]:
    """Row positions of ``cls`` in a sample laid out class by class in ``counts``' order."""
    start = 0
    for c, n in counts.items():
        if c == cls:
            return list(range(start, start + n))
        start += n
    return []


#: The functions :func:`embedding_results` calls (the registry test holds them to it).
SAMPLE_CHECKS = (embedding_drift,)


def embedding_results(
    engine: Engine,
    t: ir.Table,
    spec: Spec,
    profile: Profile,
    run: _Run,
    window: Window,
    windows: Collection[int],
    bases: Mapping[tuple[str | None, str | None, int], dict[str, Any]],
    shown: Collection[int] = (),
) -> tuple[list[CheckResult], dict[str, Any]]:
    """The ``embedding_drift`` results of ``windows`` in every scope, and the report's
    2-D view (reference and the latest windows' serving points per class, overall scope)
    of the latest :data:`VIEW_WINDOWS` of ``windows`` and ``shown`` (the checked windows
    whose results were read back: their points are drawn, their per-class statuses left
    empty for the caller to fill from those results).

    ``bases`` holds each (cohort, cohort value, window)'s shared result fields."""
    raw = getattr(profile, "embeddings_", None)
    latest = set(sorted({*windows, *shown})[-VIEW_WINDOWS:])
    if not spec.embedding or not raw or not latest:
        return [], {}
    decided = set(windows)
    baseline = Baseline.from_dict(raw)
    erun = EmbeddingRun.of(run, spec, baseline)
    column = spec.embedding
    results: list[CheckResult] = []
    view: dict[str, Any] = {
        "column": column,
        "method": "pca",
        "explained_variance": [float(v) for v in baseline.pca.explained_variance[:2]],
        "reference": {
            c: _view_points(baseline.view(f), VIEW_POINTS) for c, f in baseline.classes.items()
        },
        "windows": [],
    }
    samples: dict[str | None, pa.Table] = {}
    scopes: list[str | None] = list(spec.cohorts) or [None]
    if not decided:  # only the view: the overall scope's points
        scopes = [None]
    for cohort in scopes:
        expr = embedding_sample(
            t,
            spec,
            cap=baseline.sample_cap,
            seed=baseline.seed,
            by=spec.prediction,
            window=window,
            cohort=cohort,
            windows=sorted(decided | latest) if cohort == scopes[0] else sorted(decided),
        )
        samples[cohort] = engine.run(expr, SAMPLE_SCHEMA)
    if spec.cohorts and decided:  # the overall sample is in the first cohort column's
        samples = {None: overall_of(samples[spec.cohorts[0]], baseline.sample_cap), **samples}
    for cohort, sample in samples.items():
        if not sample.num_rows:
            continue
        vectors, kept, dropped = sample_vectors(sample, spec, "the predictions", baseline.dim)
        if not len(vectors):
            continue
        features = baseline.features(vectors)
        for (w, cv), per_class in sorted(by_class(kept).items()):
            key = (cohort, None if cohort is None else cv, w)
            base = bases.get(key)
            if base is None:
                continue
            order = sorted(per_class)
            if w not in decided:
                if cohort is None and w in latest:
                    view["windows"].append(_view_window(baseline, base, features, per_class, {}))
                continue
            counts = {c: len(per_class[c]) for c in order}
            current = features[np.concatenate([per_class[c] for c in order])]
            pooled = embedding_drift(erun, base, column, None, current, counts)
            per = [
                embedding_drift(
                    erun, base, f"{column}:{c}", c, features[per_class[c]], {c: counts[c]}
                )
                for c in order
            ]
            moved = sorted(
                (r for r in per if r.value is not None),
                key=lambda r: -((r.value or 0.0) - r.details["null_mean"]),
            )
            pooled.details["classes"] = [
                {
                    "class": r.details["class"],
                    "auc": r.value,
                    "null_mean": r.details["null_mean"],
                    "bound": r.bound,
                    "status": r.status,
                }
                for r in moved
            ]
            if dropped:
                pooled.details["ignored_vectors"] = dropped
            results.append(pooled)
            results.extend(per)
            if cohort is None and w in latest:
                status: dict[str, str] = {c: r.status for c, r in zip(order, per, strict=True)}
                view["windows"].append(_view_window(baseline, base, features, per_class, status))
    view["windows"].sort(key=lambda v: v["window"])
    return results, view


def _view_window(
    baseline: Baseline,
    base: Mapping[str, Any],
    features: FloatArray,
    per_class: Mapping[str, Any],
    status: dict[str, str],
) -> dict[str, Any]:
    """One window of the 2-D view: its serving points per class and their statuses."""
    return {
        "window": base["window"],
        "window_start": base["window_start"],
        "points": {
            c: _view_points(baseline.view(features[per_class[c]]), VIEW_POINTS)
            for c in sorted(per_class)
        },
        "status": status,
    }


def _view_points(xy: FloatArray, limit: int) -> list[list[float]]:
    return [[float(f"{a:.5g}"), float(f"{b:.5g}")] for a, b in xy[:limit]]


def bases_of(stats: Sequence[Any]) -> dict[tuple[str | None, str | None, int], dict[str, Any]]:
    """Each window x scope's shared result fields, from the run's window stats."""
    return {
        (s.cohort, s.cohort_value, s.window): {
            "window": s.window,
            "window_start": s.window_start,
            "window_end": s.window_end,
            "cohort": s.cohort,
            "cohort_value": s.cohort_value,
            "n": s.n,
        }
        for s in stats
    }
