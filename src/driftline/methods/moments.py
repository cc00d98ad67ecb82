"""Count, mean and spread of a sample, merged exactly from parts.

A window's confidence, a cohort's features, the reference's overall moments: each is
summarised per part (a cohort value, a day) by the engine and merged here, never scanned
again. Chan, Golub and LeVeque's pairwise update keeps the merge exact up to rounding,
in any order of the parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Moments", "merge_moments"]


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations; merge with ``+`` (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def from_var(cls, n: int, mean: float | None, var: float | None) -> Moments:
        if n <= 0 or mean is None or not math.isfinite(float(mean)):
            return cls()
        return cls(n, float(mean), float(var or 0.0) * (n - 1))

    def __add__(self, other: Moments) -> Moments:
        return merge_moments(self, other)

    @property
    def var(self) -> float | None:
        return self.m2 / (self.n - 1) if self.n > 1 else None


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Merge two partial summaries exactly.

    >>> a = Moments.from_var(3, 2.0, 1.0)          # [1, 2, 3]
    >>> b = Moments.from_var(2, 5.0, 2.0)          # [4, 6]
    >>> m = a + b
    >>> (m.n, m.mean, round(m.var, 12))            # [1, 2, 3, 4, 6]
    (5, 3.2, 3.7)
    """
    if a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * b.n / n
    m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n
    return Moments(n, mean, m2)
