"""The one table of drift methods: stable name -> function and metadata.

Everything that lists methods (config validation, CLI choices, docs, error messages)
reads this table; never write the list of names anywhere else.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from driftline.errors import ConfigError
from driftline.methods._validate import FloatArray
from driftline.methods.chi2 import _chi2_batch, chi2
from driftline.methods.jensen_shannon import _jensen_shannon_batch, jensen_shannon
from driftline.methods.ks import _ks_batch, ks
from driftline.methods.missing import missing_fraction_change
from driftline.methods.psi import _psi_batch, psi
from driftline.methods.threshold_search import threshold_search
from driftline.methods.wasserstein import _wasserstein_batch, wasserstein

__all__ = ["DISTRIBUTION_KINDS", "MethodInfo", "available_methods", "get_method"]

#: Column kinds whose drift statistics take ``(reference, current, *, edges)``.
DISTRIBUTION_KINDS = frozenset({"numeric", "categorical"})

BatchFn = Callable[..., FloatArray]


@dataclass(frozen=True)
class MethodInfo:
    """A registered method.

    ``fn`` is the public function. For the kinds ``"numeric"`` and ``"categorical"`` it is
    ``fn(reference, current, *, edges=None) -> float`` and ``batch`` computes the same
    statistic row by row on ``(reps, k)`` arrays (used by calibration). ``"rate"`` methods
    have their own signature and no ``batch``; so has ``"threshold"``'s, which returns a
    :class:`~driftline.methods.threshold_search.ThresholdSearch`.

    ``cell_sum`` marks a statistic that adds up one term per bin (or a monotone function
    of such a sum): over many bins its no-drift distribution is close to normal, which
    calibration uses (:class:`~driftline.methods.Resampler`). A maximum over the bins
    (``ks``) or a sum over the running difference of the cumulative shares
    (``wasserstein``) is not marked.
    """

    name: str
    fn: Callable[..., Any]
    kinds: frozenset[str]
    needs_edges: bool
    description: str
    batch: BatchFn | None = None
    cell_sum: bool = False


_NUMERIC = frozenset({"numeric"})
_ANY = frozenset({"numeric", "categorical"})

_METHODS: Mapping[str, MethodInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            MethodInfo(
                "chi2",
                chi2,
                _ANY,
                False,
                "Pearson chi-squared of [reference; current]",
                _chi2_batch,
                cell_sum=True,
            ),
            MethodInfo(
                "jensen_shannon",
                jensen_shannon,
                _ANY,
                False,
                "Jensen-Shannon distance, base 2, in [0, 1]",
                _jensen_shannon_batch,
                cell_sum=True,
            ),
            MethodInfo(
                "ks", ks, _NUMERIC, True, "Kolmogorov-Smirnov statistic at the bin edges", _ks_batch
            ),
            MethodInfo(
                "psi",
                psi,
                _ANY,
                False,
                "population stability index (epsilon 1e-4)",
                _psi_batch,
                cell_sum=True,
            ),
            MethodInfo(
                "wasserstein",
                wasserstein,
                _NUMERIC,
                True,
                "Wasserstein-1 distance, bin mass at midpoints",
                _wasserstein_batch,
            ),
            MethodInfo(
                "missing_fraction_change",
                missing_fraction_change,
                frozenset({"rate"}),
                False,
                "current minus reference missing fraction, signed",
            ),
            MethodInfo(
                "threshold_search",
                threshold_search,
                frozenset({"threshold"}),
                False,
                "decision threshold of a class's score meeting an objective on labelled rows",
            ),
        )
    }
)


def available_methods(kind: str | None = None) -> list[str]:
    """Sorted method names for ``kind``; ``None`` lists the drift statistics.

    The drift statistics are the methods for numeric or categorical columns, all with the
    ``(reference, current, *, edges=None)`` signature; pass ``kind="rate"`` for the rate
    metrics.

    >>> available_methods()
    ['chi2', 'jensen_shannon', 'ks', 'psi', 'wasserstein']
    >>> available_methods("categorical")
    ['chi2', 'jensen_shannon', 'psi']
    """
    kinds = DISTRIBUTION_KINDS if kind is None else frozenset({kind})
    return sorted(name for name, info in _METHODS.items() if info.kinds & kinds)


def get_method(name: str) -> MethodInfo:
    """The registered method called ``name``; unknown names raise :class:`ConfigError`.

    >>> get_method("psi").needs_edges
    False
    >>> get_method("pis")
    Traceback (most recent call last):
    ...
    driftline.errors.ConfigError: unknown drift method 'pis'; available: chi2, \
jensen_shannon, ks, psi, wasserstein; did you mean 'psi'?
    """
    info = _METHODS.get(name) if isinstance(name, str) else None
    if info is not None:
        return info
    message = f"unknown drift method {name!r}; available: {', '.join(available_methods())}"
    close = difflib.get_close_matches(str(name), list(_METHODS), n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    raise ConfigError(message)
