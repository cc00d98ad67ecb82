"""Change in the fraction of missing values between the reference and a window.

::

    change = cur_missing / cur_total - ref_missing / ref_total

Signed, in [-1, 1]: +0.05 means five percentage points more missing values in the
current window than in the reference (a broken upstream join often shows up here first);
negative means fewer. It is a rate metric over four counts, not a distribution statistic,
so it is registered under the kind ``"rate"`` and does not share the ``(reference,
current, *, edges)`` signature.
"""

from __future__ import annotations

from typing import SupportsFloat

from driftline.methods._validate import as_rate

__all__ = ["missing_fraction_change"]


def missing_fraction_change(
    ref_missing: SupportsFloat,
    ref_total: SupportsFloat,
    cur_missing: SupportsFloat,
    cur_total: SupportsFloat,
) -> float:
    """Current missing fraction minus reference missing fraction (signed).

    >>> print(f"{missing_fraction_change(20, 1000, 45, 500):.6f}")
    0.070000
    """
    method = "missing_fraction_change"
    ref = as_rate(
        ref_missing, ref_total, part_name="ref_missing", total_name="ref_total", method=method
    )
    cur = as_rate(
        cur_missing, cur_total, part_name="cur_missing", total_name="cur_total", method=method
    )
    return cur - ref
