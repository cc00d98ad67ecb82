"""Honest alert bounds: the statistic's no-drift spread at the window's size.

A drift statistic between a reference and a window is never exactly 0: both are samples,
and the smaller they are the larger the statistic gets by chance alone. A fixed bound
(e.g. PSI > 0.25) therefore floods small windows with false alarms, and a p-value flags
trivial shifts at a million rows. :func:`calibrate_bound` instead simulates the
statistic under no drift at the sizes actually compared:

1. ``p = reference_counts / sum(reference_counts)``, the reference distribution;
2. for each of ``reps`` resamples draw a pseudo-reference ~ Multinomial(n_reference, p)
   and a pseudo-window ~ Multinomial(n, p) (all at once, from
   ``np.random.default_rng(seed)``);
3. compute the statistic on each pair; the bound is their ``quantile`` (``method=
   "higher"``, an observed value).

Alert when the statistic exceeds the bound: with no drift that happens with probability
about ``1 - quantile``. Bounds shrink as ``n`` grows; :func:`size_grid` rounds window
sizes down to a geometric grid so bounds can be cached per grid point, which is
conservative (a smaller ``n`` gives a larger bound).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError
from driftline.methods._registry import (
    _METHODS,
    DISTRIBUTION_KINDS,
    available_methods,
    get_method,
)
from driftline.methods._validate import FloatArray, as_counts, as_edges

__all__ = ["Calibration", "Resampler", "calibrate_bound", "size_grid"]


@dataclass(frozen=True)
class Calibration:
    """A calibrated alert bound and how it was set (JSON-ready plain fields)."""

    bound: float
    n: int
    n_reference: int
    reps: int
    quantile: float
    mean: float
    std: float
    how: str


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(
            f"calibrate_bound: argument '{name}' must be a whole number >= 1, got {value!r}."
        )
    return int(value)


def _resolve(method: str | Callable[..., float]) -> tuple[Callable[..., FloatArray], str]:
    """The batched statistic and its display name; scalar callables are looped."""
    if isinstance(method, str):
        info = get_method(method)
    else:
        matches = [i for i in _METHODS.values() if i.fn is method]
        if not matches:
            name = getattr(method, "__name__", repr(method))
            scalar = method

            def looped(ref: FloatArray, cur: FloatArray, *, edges: FloatArray | None) -> FloatArray:
                rows = [scalar(r, c, edges=edges) for r, c in zip(ref, cur, strict=True)]
                return np.asarray(rows, dtype=np.float64)

            return looped, name
        info = matches[0]
    if info.batch is None or not info.kinds & DISTRIBUTION_KINDS:
        raise ConfigError(
            f"calibrate_bound: method '{info.name}' is a {'/'.join(sorted(info.kinds))} "
            "metric, not a drift statistic over bin counts; calibrate one of "
            f"{', '.join(available_methods())}."
        )
    return info.batch, info.name


def calibrate_bound(
    method_name_or_fn: str | Callable[..., float],
    reference_counts: npt.ArrayLike,
    n: int,
    *,
    n_reference: int | None = None,
    edges: npt.ArrayLike | None = None,
    reps: int = 1000,
    quantile: float = 0.999,
    seed: int = 0,
) -> Calibration:
    """No-drift ``quantile`` of a drift statistic between reference-sized and ``n``-sized samples.

    ``method_name_or_fn`` is a registered name or a function with the drift-statistic
    signature ``fn(reference, current, *, edges=None) -> float``.

    >>> import numpy as np
    >>> reference = np.array([120, 250, 300, 200, 130])
    >>> cal = calibrate_bound("jensen_shannon", reference, 500, reps=1000, seed=0)
    >>> print(f"{cal.bound:.6f}")
    0.106713
    >>> cal.how
    'q0.999 of 1000 no-drift resamples (window n=500, reference n=1000)'
    """
    resampler = Resampler(
        method_name_or_fn,
        reference_counts,
        n_reference=n_reference,
        edges=edges,
        reps=reps,
        quantile=quantile,
        seed=seed,
        keep=False,
    )
    return resampler.bound(n)


class Resampler:
    """:func:`calibrate_bound` for one reference at several window sizes.

    The pseudo-references are the first draws from ``default_rng(seed)``, the same for
    every window size; with ``keep`` they are drawn once and reused (with the generator's
    state after them), which halves the work of every further size and gives exactly the
    bounds :func:`calibrate_bound` gives. They take ``reps * bins * 8`` bytes
    (:attr:`nbytes`): 37 MB for 4,600 categories and 1000 reps.

    >>> import numpy as np
    >>> reference = np.array([120, 250, 300, 200, 130])
    >>> r = Resampler("psi", reference, reps=200)
    >>> [r.bound(n) == calibrate_bound("psi", reference, n, reps=200) for n in (50, 500)]
    [True, True]
    """

    def __init__(
        self,
        method_name_or_fn: str | Callable[..., float],
        reference_counts: npt.ArrayLike,
        *,
        n_reference: int | None = None,
        edges: npt.ArrayLike | None = None,
        reps: int = 1000,
        quantile: float = 0.999,
        seed: int = 0,
        keep: bool = True,
    ) -> None:
        self.batch, self.name = _resolve(method_name_or_fn)
        counts = as_counts(reference_counts, name="reference_counts", method="calibrate_bound")
        self.edges = (
            None if edges is None else as_edges(edges, counts.size, method=self.name, required=True)
        )
        self.n_reference = _positive_int(
            round(counts.sum()) if n_reference is None else n_reference, "n_reference"
        )
        self.reps = _positive_int(reps, "reps")
        if not 0.0 < quantile < 1.0:
            raise ConfigError(
                f"calibrate_bound: argument 'quantile' must be in (0, 1), got {quantile!r}; "
                "e.g. 0.999 for about one false alarm per 1000 windows."
            )
        self.quantile = float(quantile)
        self.seed = seed
        self.keep = keep
        self.p = counts / counts.sum()
        self.nbytes = self.reps * counts.size * 8
        self._kept: tuple[FloatArray, Mapping[str, Any]] | None = None

    def prepare(self) -> None:
        """Draw the pseudo-references now (with ``keep``): afterwards :meth:`bound` only
        reads shared state, so calls for several sizes may run on several threads."""
        if self.keep:
            self._references()

    def _references(self) -> tuple[FloatArray, np.random.Generator]:
        """The pseudo-references, and a generator in the state that follows them."""
        rng = np.random.default_rng(self.seed)
        if self._kept is not None:
            ref, state = self._kept
            rng.bit_generator.state = state
            return ref, rng
        ref = rng.multinomial(self.n_reference, self.p, size=self.reps).astype(np.float64)
        if self.keep:
            self._kept = (ref, rng.bit_generator.state)
        return ref, rng

    def bound(self, n: int, quantile: float | None = None) -> Calibration:
        """The calibration at window size ``n``, at ``quantile`` (default: the
        resampler's): the same draws whatever the quantile."""
        n = _positive_int(n, "n")
        q = self.quantile if quantile is None else float(quantile)
        ref, rng = self._references()
        cur = rng.multinomial(n, self.p, size=self.reps).astype(np.float64)
        stats = self.batch(ref, cur, edges=self.edges)
        how = (
            f"q{q:g} of {self.reps} no-drift resamples "
            f"(window n={n}, reference n={self.n_reference})"
        )
        return Calibration(
            bound=float(np.quantile(stats, q, method="higher")),
            n=n,
            n_reference=self.n_reference,
            reps=self.reps,
            quantile=q,
            mean=float(stats.mean()),
            std=float(stats.std()),
            how=how,
        )


def size_grid(n: int) -> int:
    """Round ``n`` down to the grid ``floor(2 ** (j / 2))``, ``j = 0, 1, 2, ...``.

    >>> [size_grid(n) for n in (1, 3, 100, 500, 1000, 10**6)]
    [1, 2, 90, 362, 724, 741455]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"size_grid: argument 'n' must be a whole number >= 1, got {n!r}.")
    n = int(n)
    j = 2 * n.bit_length()  # isqrt(2**j) = 2**bit_length > n
    while math.isqrt(1 << j) > n:
        j -= 1
    return math.isqrt(1 << j)
