"""Embeddings: the reference's baseline of the ``embedding`` column, and 2-D projections of
reference vs serving vectors per class.

The baseline (:func:`fit_baseline`, kept in the profile as ``embeddings``) is fitted on a
capped sample of the reference drawn in the engine (:mod:`driftline.engine.embeddings`):
``3 * embeddings.sample_cap`` rows per predicted class. It holds the reference's
principal components (``embeddings.components`` of them, fitted on a third of each
class's rows) and, per class, the other rows' *features*: their coordinates on those
components plus their distance from the components' subspace (what the components
miss: a change in directions the reference never varied in), each divided by its
reference standard deviation. Serving vectors are turned into the same
features by :meth:`Baseline.features`, so reference and serving are compared in one
coordinate system, fitted on the reference alone. The first two coordinates are the
PCA view of the report.

:func:`project` draws both samples in the engines holding them (the store, or sources
read where they lie, on DuckDB or Spark) and fits the 2-D view on the reference
sample: PCA (the same numbers as scikit-learn's ``PCA(2)`` on that sample) or UMAP
(``pip install 'driftline[umap]'``), applied to serving unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.engine import Engine
from driftline.engine.embeddings import SAMPLE_SCHEMA, embedding_sample
from driftline.errors import ConfigError, ProfileError, SchemaError, missing_extra, shorten
from driftline.methods._validate import FloatArray
from driftline.methods.pca import PCAFit, fit_pca
from driftline.methods.pca import project as pca_project
from driftline.spec import Spec, Window

__all__ = [
    "Baseline",
    "EmbeddingPoint",
    "EmbeddingProjection",
    "by_class",
    "fit_baseline",
    "project",
    "sample_vectors",
]

Source = Literal["reference", "serving"]


def _round(values: FloatArray) -> list[Any]:
    """Floats kept to 7 significant digits: the profile is JSON, and a sample's
    features need no more."""
    out: list[Any] = np.vectorize(lambda v: float(f"{v:.7g}"), otypes=[float])(values).tolist()
    return out


def sample_vectors(
    table: pa.Table, spec: Spec, where: str, dim: int | None = None
) -> tuple[FloatArray, pa.Table, int]:
    """The vectors of a sample (:data:`SAMPLE_SCHEMA`) as a ``(rows, dim)`` array, the
    rows kept, and how many were dropped for another length than ``dim``.

    Without ``dim`` (the reference) every vector must have one length: a sample of
    several lengths, or holding NaN or infinite values, raises an error naming the
    column, the id and the fix (ingest refuses such batches; a table written around
    it must not reach the statistics).
    """
    col = spec.embedding
    lengths = pc.list_value_length(table.column("vector")).to_numpy(zero_copy_only=False)
    if dim is None and len(lengths):
        dim = int(lengths[0])
        other = np.flatnonzero(lengths != dim)
        if other.size:
            row = int(other[0])
            raise SchemaError(
                f"column {shorten(col)} (embedding) of {where} holds vectors of "
                f"{dim} and {int(lengths[row])} values (id {shorten(table.column('id')[row])}); "
                "every embedding must have one length: log vectors of the model's one "
                "embedding size."
            )
    keep = lengths == dim
    dropped = int((~keep).sum())
    kept = table.filter(pa.array(keep)) if dropped else table
    flat = pc.list_flatten(kept.column("vector")).to_numpy(zero_copy_only=False)
    vectors = np.asarray(flat, dtype=np.float64).reshape(kept.num_rows, dim or 0)
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SchemaError(
            f"column {shorten(col)} (embedding) of {where} holds NaN or infinite values "
            f"(id {shorten(kept.column('id')[row])}); embeddings must be finite: repair or "
            "drop those rows and log them again."
        )
    return vectors, kept, dropped


@dataclass(frozen=True)
class Baseline:
    """The reference's embedding baseline (see the module docstring)."""

    dim: int
    pca: PCAFit
    #: each feature's reference standard deviation (the features are divided by it)
    scale: FloatArray
    #: per predicted class, the reference sample's features, ``(rows, components + 1)``
    classes: dict[str, FloatArray]
    sample_cap: int
    seed: int

    def features(self, vectors: FloatArray) -> FloatArray:
        """Coordinates on the reference's components and distance from their subspace,
        in reference standard deviations."""
        coords = pca_project(self.pca, vectors)
        residual = (vectors - self.pca.mean) - coords @ self.pca.components
        dist = np.sqrt(np.sum(residual * residual, axis=1))
        out: FloatArray = np.column_stack([coords, dist]) / self.scale
        return out

    def view(self, features: FloatArray) -> FloatArray:
        """The 2-D PCA view of features: the first two coordinates, unscaled."""
        out: FloatArray = features[:, :2] * self.scale[:2]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "mean": _round(self.pca.mean),
            "components": _round(self.pca.components),
            "explained_variance": _round(self.pca.explained_variance),
            "scale": _round(self.scale),
            "classes": {c: _round(f) for c, f in self.classes.items()},
            "sample_cap": self.sample_cap,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "profile") -> Baseline:
        """A saved baseline, checked so a hand edit cannot reach the statistics."""
        try:
            dim = int(data["dim"])
            mean = np.asarray(data["mean"], dtype=np.float64)
            components = np.asarray(data["components"], dtype=np.float64)
            var = np.asarray(data["explained_variance"], dtype=np.float64)
            scale = np.asarray(data["scale"], dtype=np.float64)
            k = components.shape[0]
            classes = {
                str(c): np.asarray(f, dtype=np.float64).reshape(-1, k + 1)
                for c, f in data["classes"].items()
            }
            ok = (
                mean.shape == (dim,)
                and components.shape == (k, dim)
                and var.shape == (k,)
                and scale.shape == (k + 1,)
                and bool(np.all(scale > 0))
                and all(np.isfinite(a).all() for a in (mean, components, var, scale))
                and all(np.isfinite(f).all() for f in classes.values())
            )
            cap, seed = int(data["sample_cap"]), int(data["seed"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ProfileError(
                f"{where}'s embeddings baseline is malformed ({exc}); refit the profile with "
                "`driftline fit`."
            ) from exc
        if not ok:
            raise ProfileError(
                f"{where}'s embeddings baseline has arrays of inconsistent shapes or "
                "non-finite values; refit the profile with `driftline fit`."
            )
        return cls(dim, PCAFit(mean, components, var), scale, classes, cap, seed)


def fit_baseline(engine: Engine, reference: ir.Table, spec: Spec) -> Baseline | None:
    """The embedding baseline of ``reference``, or None when the spec names no embedding
    column, the reference lacks it, or it holds fewer than 6 vectors."""
    if not spec.embedding or spec.embedding not in reference.columns:
        return None
    cfg, seed = spec.embeddings, spec.checks.seed
    expr = embedding_sample(reference, spec, cap=3 * cfg.sample_cap, seed=seed, by=spec.prediction)
    sample = engine.run(expr, SAMPLE_SCHEMA)
    if sample.num_rows < 6:
        return None
    vectors, kept, _ = sample_vectors(sample, spec, "the reference")
    # a third of each class fits the components; the rest is the baseline. Rows a PCA
    # was fitted on sit closer to its subspace than new rows do, so an in-sample
    # baseline would make every serving window look a little drifted.
    labels = np.asarray(kept.column("class").to_pylist(), dtype=object)
    rng = np.random.default_rng(seed)
    fit_rows = np.zeros(len(labels), dtype=bool)
    for c in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == c)
        fit_rows[rng.permutation(rows)[: max(1, len(rows) // 3)]] = True
    pca = fit_pca(vectors[fit_rows], cfg.components)
    raw = Baseline(vectors.shape[1], pca, np.ones(pca.components.shape[0] + 1), {}, 0, seed)
    scale = raw.features(vectors[fit_rows]).std(axis=0)
    scale[~(scale > 1e-12)] = 1.0
    feats = raw.features(vectors[~fit_rows]) / scale
    held = labels[~fit_rows]
    classes = {str(c): feats[held == c] for c in sorted(set(held.tolist()))}
    return Baseline(vectors.shape[1], pca, scale, classes, cfg.sample_cap, seed)


# -- 2-D projections for people ------------------------------------------------------------
@dataclass(frozen=True)
class EmbeddingPoint:
    """One sampled vector in the 2-D view."""

    source: Source
    cls: str
    window: int | None
    cohort_value: str | None
    id: str
    x: float
    y: float


@dataclass
class EmbeddingProjection:
    """Reference and serving samples in one 2-D view fitted on the reference."""

    method: str
    by: str
    #: per component of a PCA view, the variance it explains on the reference sample
    explained_variance: list[float] | None
    points: list[EmbeddingPoint] = field(default_factory=list)
    #: serving vectors left out for another length than the reference's
    dropped: int = 0

    def for_class(self, cls: str, source: Source) -> FloatArray:
        """The ``(rows, 2)`` coordinates of one class's points from one source."""
        rows = [(p.x, p.y) for p in self.points if p.cls == cls and p.source == source]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "by": self.by,
            "explained_variance": self.explained_variance,
            "dropped": self.dropped,
            "points": [
                {
                    "source": p.source,
                    "class": p.cls,
                    "window": p.window,
                    "cohort_value": p.cohort_value,
                    "id": p.id,
                    "x": p.x,
                    "y": p.y,
                }
                for p in self.points
            ],
        }


def _umap(reference: FloatArray, serving: FloatArray, seed: int) -> tuple[FloatArray, FloatArray]:
    try:
        import umap
    except ImportError as exc:
        raise missing_extra("the UMAP projection of embeddings", "umap-learn", "umap") from exc
    model = umap.UMAP(n_components=2, random_state=seed).fit(reference)
    ref: FloatArray = np.asarray(model.embedding_, dtype=np.float64)
    cur: FloatArray = (
        np.asarray(model.transform(serving), dtype=np.float64) if len(serving) else np.empty((0, 2))
    )
    return ref, cur


def project(
    engine: Engine,
    reference: ir.Table,
    serving: ir.Table,
    spec: Spec,
    *,
    by: str,
    serving_by: str | None = None,
    method: str | None = None,
    window: Window | None = None,
    cohort: str | None = None,
    cap: int | None = None,
    reference_engine: Engine | None = None,
) -> EmbeddingProjection:
    """Reference and serving samples (``cap`` rows per class, per window of ``window``
    and value of ``cohort`` on the serving side) in one 2-D view fitted on the reference
    sample. ``by`` is the column naming each row's class (the predicted class, or the
    label), in the serving table ``serving_by`` when given. ``reference_engine`` draws
    the reference sample when its table lies elsewhere than the serving table (e.g. a
    stored reference and predictions on Spark); default ``engine``."""
    if not spec.embedding:
        raise ConfigError(
            "the spec names no embedding column; add `embedding: <column>` to the spec "
            "(a list-of-float column) and log it with the predictions and the reference."
        )
    method = method or spec.embeddings.projection
    if method not in ("pca", "umap"):
        raise ConfigError(
            f"embedding projection {shorten(method)} is not known; use 'pca' (default) or 'umap'."
        )
    serving_by = serving_by or by
    for name, t, col in (("reference", reference, by), ("predictions", serving, serving_by)):
        if col not in t.columns or spec.embedding not in t.columns:
            missing = col if col not in t.columns else spec.embedding
            raise SchemaError(
                f"the {name} table has no column {shorten(missing)}; embeddings are drawn "
                f"per class of {shorten(by)}: log it, or choose another class column."
            )
    cap = cap or spec.embeddings.sample_cap
    seed = spec.checks.seed
    ref_tab = (reference_engine or engine).run(
        embedding_sample(reference, spec, cap=cap, seed=seed, by=by), SAMPLE_SCHEMA
    )
    if ref_tab.num_rows < 3:
        raise SchemaError(
            f"the reference holds {ref_tab.num_rows} embedding(s) in column "
            f"{shorten(spec.embedding)}; a projection needs at least 3: log a reference "
            "with embeddings."
        )
    ref, ref_kept, _ = sample_vectors(ref_tab, spec, "the reference")
    cur_tab = engine.run(
        embedding_sample(
            serving, spec, cap=cap, seed=seed, by=serving_by, window=window, cohort=cohort
        ),
        SAMPLE_SCHEMA,
    )
    cur, cur_kept, dropped = sample_vectors(cur_tab, spec, "the predictions", ref.shape[1])
    explained: list[float] | None = None
    if method == "pca":
        fit = fit_pca(ref, 2)
        ref_xy, cur_xy = (
            pca_project(fit, ref),
            (pca_project(fit, cur) if len(cur) else np.empty((0, 2))),
        )
        explained = [float(v) for v in fit.explained_variance]
    else:
        ref_xy, cur_xy = _umap(ref, cur, seed)
    out = EmbeddingProjection(method, by, explained, dropped=dropped)
    for source, tab, xy in (("reference", ref_kept, ref_xy), ("serving", cur_kept, cur_xy)):
        cols = {
            name: tab.column(name).to_pylist() for name in ("window", "cohort_value", "class", "id")
        }
        for i in range(tab.num_rows):
            out.points.append(
                EmbeddingPoint(
                    source,  # type: ignore[arg-type]
                    str(cols["class"][i]),
                    None if source == "reference" or window is None else int(cols["window"][i]),
                    None if source == "reference" or cohort is None else cols["cohort_value"][i],
                    str(cols["id"][i]),
                    float(xy[i, 0]),
                    float(xy[i, 1]),
                )
            )
    return out


def by_class(table: pa.Table) -> dict[tuple[int, str], dict[str, list[int]]]:
    """Row indices of a sample per (window, cohort value), then per class."""
    out: dict[tuple[int, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    cols: Sequence[list[Any]] = [
        table.column(n).to_pylist() for n in ("window", "cohort_value", "class")
    ]
    for i, (w, cv, c) in enumerate(zip(*cols, strict=True)):
        out[(int(w), str(cv))][str(c)].append(i)
    return out
