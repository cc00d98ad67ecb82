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

**Many cells: the quantile from the moments.** The draws cost ``reps x bins`` binomial
variates, about 0.1 us each: a column of 5,000 categories costs 1-2 CPU seconds per
window size at 1000 resamples. A statistic that adds up one term per cell (``psi``,
``chi2``, ``jensen_shannon``: :attr:`~driftline.methods.MethodInfo.cell_sum`) over at
least :data:`MOMENT_CELLS` non-empty reference cells, with window and reference of at
least :data:`MOMENT_MIN_N` rows, is a sum of many small, nearly independent terms, and its
no-drift distribution is close to normal (sample skewness 0.01-0.06 and excess kurtosis
about 0.01 over 20,000 resamples for 1,000 and 5,000 categories at windows of 16k-93k
rows). There the bound is the Cornish-Fisher quantile ``mean + sd * (z + (z**2 - 1) * g /
6)`` (``z`` the normal quantile, ``g`` the sample skewness) of ``ceil(0.3 * reps)``
resamples: its Monte-Carlo spread, 0.2-0.3 no-drift standard deviations, is below that of
the 0.999 order statistic of 1000 resamples (0.35-0.45), at 30% of the draws. When the
resamples are skewed after all (``|g| >`` :data:`MOMENT_MAX_SKEW`), the bound falls back to
the order statistic of ``reps`` resamples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
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

__all__ = [
    "MOMENT_CELLS",
    "MOMENT_MAX_SKEW",
    "MOMENT_MIN_N",
    "Calibration",
    "Resampler",
    "calibrate_bound",
    "moment_quantile",
    "size_grid",
]

#: Non-empty reference cells from which a cell-sum statistic's bound is taken from the
#: moments of fewer resamples (see the module docstring).
MOMENT_CELLS = 1000
#: Rows the window and the reference need at least for the moment bound.
MOMENT_MIN_N = 1000
#: Largest sample skewness of the resamples the moment bound accepts; beyond it the bound
#: is the order statistic of the full ``reps``.
MOMENT_MAX_SKEW = 0.5
#: Share of ``reps`` drawn for the moment bound.
MOMENT_SHARE = 0.3


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


def _resolve(
    method: str | Callable[..., float],
) -> tuple[Callable[..., FloatArray], str, bool]:
    """The batched statistic, its display name and whether it is a sum over the cells
    (``MethodInfo.cell_sum``); scalar callables are looped, and never a cell sum."""
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

            return looped, name, False
        info = matches[0]
    if info.batch is None or not info.kinds & DISTRIBUTION_KINDS:
        raise ConfigError(
            f"calibrate_bound: method '{info.name}' is a {'/'.join(sorted(info.kinds))} "
            "metric, not a drift statistic over bin counts; calibrate one of "
            f"{', '.join(available_methods())}."
        )
    return info.batch, info.name, info.cell_sum


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

    Sizes where :meth:`uses_moments` holds take their bound from the moments of
    :attr:`moment_reps` resamples (see the module docstring), drawn the same way from the
    same seed: their own pseudo-references, also kept.

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
        self.batch, self.name, self.cell_sum = _resolve(method_name_or_fn)
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
        self.cells = int(np.count_nonzero(counts))
        self.moment_reps = max(2, math.ceil(MOMENT_SHARE * self.reps))
        self.nbytes = self.reps * counts.size * 8
        self._kept: tuple[FloatArray, Mapping[str, Any]] | None = None
        self._kept_moments: tuple[FloatArray, Mapping[str, Any]] | None = None

    @staticmethod
    def moments_apply(cell_sum: bool, cells: int, n: int, n_reference: int) -> bool:
        """Whether a statistic (``cell_sum``: ``MethodInfo.cell_sum``) over ``cells``
        non-empty reference cells is calibrated from moments at window size ``n``."""
        return cell_sum and cells >= MOMENT_CELLS and min(n, n_reference) >= MOMENT_MIN_N

    def uses_moments(self, n: int) -> bool:
        """Whether the bound at window size ``n`` comes from the moments."""
        return self.moments_apply(self.cell_sum, self.cells, n, self.n_reference)

    def prepare(self, sizes: Iterable[int] | None = None) -> None:
        """Draw the pseudo-references now (with ``keep``) for the window ``sizes`` (default:
        any): afterwards :meth:`bound` only reads shared state, so calls for those sizes
        may run on several threads."""
        if not self.keep:
            return
        wanted = None if sizes is None else {self.uses_moments(n) for n in sizes}
        if wanted is None or False in wanted:
            self._references(self.reps)
        if wanted is None or True in wanted:
            self._references(self.moment_reps)

    def _references(self, reps: int) -> tuple[FloatArray, np.random.Generator]:
        """``reps`` pseudo-references (:attr:`reps` or :attr:`moment_reps`), and a
        generator in the state that follows them."""
        rng = np.random.default_rng(self.seed)
        moments = reps != self.reps
        kept = self._kept_moments if moments else self._kept
        if kept is not None:
            ref, state = kept
            rng.bit_generator.state = state
            return ref, rng
        ref = rng.multinomial(self.n_reference, self.p, size=reps).astype(np.float64)
        if self.keep:
            if moments:
                self._kept_moments = (ref, rng.bit_generator.state)
            else:
                self._kept = (ref, rng.bit_generator.state)
        return ref, rng

    def _statistics(self, n: int, reps: int) -> FloatArray:
        """The statistic on ``reps`` no-drift (pseudo-reference, pseudo-window) pairs."""
        ref, rng = self._references(reps)
        cur = rng.multinomial(n, self.p, size=reps).astype(np.float64)
        return self.batch(ref, cur, edges=self.edges)

    def bound(self, n: int, quantile: float | None = None) -> Calibration:
        """The calibration at window size ``n``, at ``quantile`` (default: the
        resampler's): the same draws whatever the quantile."""
        n = _positive_int(n, "n")
        q = self.quantile if quantile is None else float(quantile)
        sizes = f"window n={n}, reference n={self.n_reference}"
        if self.uses_moments(n):
            stats = self._statistics(n, self.moment_reps)
            found = moment_quantile(stats, q)
            if found is not None:
                bound, skew = found
                how = (
                    f"q{q:g} of {self.moment_reps} no-drift resamples from their mean, sd "
                    f"and skewness {skew:.2g} (Cornish-Fisher; {self.cells} cells, {sizes})"
                )
                return Calibration(
                    bound=bound,
                    n=n,
                    n_reference=self.n_reference,
                    reps=self.moment_reps,
                    quantile=q,
                    mean=float(stats.mean()),
                    std=float(stats.std()),
                    how=how,
                )
        stats = self._statistics(n, self.reps)
        return Calibration(
            bound=float(np.quantile(stats, q, method="higher")),
            n=n,
            n_reference=self.n_reference,
            reps=self.reps,
            quantile=q,
            mean=float(stats.mean()),
            std=float(stats.std()),
            how=f"q{q:g} of {self.reps} no-drift resamples ({sizes})",
        )


def moment_quantile(stats: npt.ArrayLike, quantile: float) -> tuple[float, float] | None:
    """The Cornish-Fisher ``quantile`` of the distribution ``stats`` were drawn from, and
    their skewness; None when ``|skewness| >`` :data:`MOMENT_MAX_SKEW` (too far from
    normal for one correction term) or the draws are constant.

    ``mean + sd * (z + (z**2 - 1) * g / 6)``, ``sd`` with ``ddof=1`` and ``g`` the
    adjusted sample skewness (scipy's ``skew(bias=False)``).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).gamma(400.0, size=2000)  # skewness 0.1
    >>> bound, skew = moment_quantile(x, 0.999)
    >>> print(f"{bound:.2f} {skew:.3f}")  # scipy.stats.gamma(400).ppf(0.999): 464.66
    465.05 0.101
    """
    x = np.asarray(stats, dtype=np.float64)
    m = x.size
    sd = float(x.std(ddof=1)) if m > 1 else 0.0
    if not sd > 0.0 or m < 3:
        return None
    d = x - x.mean()
    biased = float(np.mean(d**3)) / float(np.mean(d**2)) ** 1.5
    skew = biased * math.sqrt(m * (m - 1)) / (m - 2)
    if abs(skew) > MOMENT_MAX_SKEW:
        return None
    z = NormalDist().inv_cdf(quantile)
    return float(x.mean() + sd * (z + (z * z - 1.0) * skew / 6.0)), skew


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
