"""Argument checks shared by the drift statistics (private).

Every public function in :mod:`driftline.methods` validates its inputs here, at the edge,
so the numeric code can assume clean float arrays. Errors follow the house template:
what, where, what we got, what is allowed, how to fix.
"""

from __future__ import annotations

from typing import SupportsFloat

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError

FloatArray = npt.NDArray[np.float64]


def _preview(value: object, limit: int = 60) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_counts(value: npt.ArrayLike, *, name: str, method: str, batch: bool = False) -> FloatArray:
    """Return ``value`` as a float array of counts, shape ``(k,)`` or ``(reps, k)``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{method}: argument '{name}' must be an array of non-negative counts, got "
            f"{_preview(value)}; pass one number per bin."
        ) from exc
    ndims = (1, 2) if batch else (1,)
    if arr.ndim not in ndims:
        shape = "1-D (k,) or 2-D (reps, k)" if batch else "1-D"
        raise ConfigError(
            f"{method}: argument '{name}' must be a {shape} array of counts per bin, got "
            f"shape {arr.shape}; pass one count per bin."
        )
    if arr.shape[-1] == 0:
        raise ConfigError(
            f"{method}: argument '{name}' has no bins; pass at least one count per bin."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ConfigError(
            f"{method}: argument '{name}' holds a non-finite count ({float(arr[bad][0])!r}); "
            "counts must be finite numbers >= 0, so drop or count missing values separately."
        )
    if (arr < 0).any():
        raise ConfigError(
            f"{method}: argument '{name}' holds a negative count ({float(arr[arr < 0][0])!r}); "
            "counts must be >= 0."
        )
    if (arr.sum(axis=-1) <= 0).any():
        raise ConfigError(
            f"{method}: argument '{name}' has all-zero counts (total 0); a distribution "
            "needs at least one observation, so skip empty windows before calling."
        )
    return arr


def as_pair(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, method: str, batch: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Validate both count arrays and check that they cover the same bins."""
    ref = as_counts(reference, name="reference", method=method, batch=batch)
    cur = as_counts(current, name="current", method=method, batch=batch)
    if ref.shape != cur.shape:
        raise ConfigError(
            f"{method}: 'reference' has shape {ref.shape} but 'current' has shape "
            f"{cur.shape}; both must be counts over the same bins (same length k)."
        )
    return ref, cur


def as_edges(edges: npt.ArrayLike | None, k: int, *, method: str, required: bool) -> FloatArray:
    """Validate bin edges: strictly increasing, finite, length ``k + 1``."""
    if edges is None:
        if required:
            from driftline.methods._registry import available_methods

            others = ", ".join(available_methods("categorical"))
            raise ConfigError(
                f"{method} needs numeric bins: pass `edges` (the k+1 bin edges fitted on the "
                f"reference); for a categorical column use one of {others}."
            )
        return np.empty(0, dtype=np.float64)
    try:
        arr = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{method}: argument 'edges' must be an array of numbers, got {_preview(edges)}."
        ) from exc
    if arr.ndim != 1 or arr.shape[0] != k + 1:
        raise ConfigError(
            f"{method}: argument 'edges' must be 1-D with k+1 = {k + 1} values for {k} bins, "
            f"got shape {arr.shape}; pass the edges the counts were binned on."
        )
    if not np.isfinite(arr).all() or not (np.diff(arr) > 0).all():
        raise ConfigError(
            f"{method}: argument 'edges' must be finite and strictly increasing, got "
            f"{_preview(arr.tolist())}; merge duplicate edges when fitting the bins."
        )
    return arr


def as_rate(
    part: SupportsFloat, total: SupportsFloat, *, part_name: str, total_name: str, method: str
) -> float:
    """Validate a count ``part`` out of ``total`` and return the fraction."""
    numbers: list[float] = []
    for name, value in ((part_name, part), (total_name, total)):
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{method}: argument '{name}' must be a count, got {_preview(value)}."
            ) from exc
        if not np.isfinite(number) or number < 0:
            raise ConfigError(
                f"{method}: argument '{name}' must be a finite count >= 0, got {number:g}."
            )
        numbers.append(number)
    part_value, total_value = numbers
    if total_value <= 0:
        raise ConfigError(
            f"{method}: argument '{total_name}' must be > 0, got {total_value:g}; skip empty "
            "windows before calling."
        )
    if part_value > total_value:
        raise ConfigError(
            f"{method}: argument '{part_name}' ({part_value:g}) exceeds '{total_name}' "
            f"({total_value:g}); it must be a count out of that total."
        )
    return part_value / total_value
