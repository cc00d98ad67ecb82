"""New (unseen) categories: the observed rate and the Good–Turing expectation.

:func:`new_category_rate` is the fraction of the current window's values whose category
is not in the reference category set, ``unseen / total``.

:func:`good_turing_unseen` says how large that rate should be with no drift at all. A
reference sample of size ``N`` never contains every rare category; the Good–Turing
estimate of the probability that one more draw from the reference distribution is a
category not seen in the reference is::

    P(unseen) = n_1 / N        (n_1 = number of categories seen exactly once)

So a window whose unseen rate is well above ``n_1 / N`` shows new categories, not just
the reference's long tail. Counts must be whole numbers; zeros (categories listed but
not observed) are allowed and ignored.
"""

from __future__ import annotations

from typing import SupportsFloat

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError
from driftline.methods._validate import as_counts, as_rate

__all__ = ["good_turing_unseen", "new_category_rate"]


def new_category_rate(unseen: SupportsFloat, total: SupportsFloat) -> float:
    """Fraction of current values whose category is not in the reference set.

    >>> print(f"{new_category_rate(12, 400):.6f}")
    0.030000
    """
    return as_rate(
        unseen, total, part_name="unseen", total_name="total", method="new_category_rate"
    )


def good_turing_unseen(reference_counts: npt.ArrayLike) -> float:
    """Good–Turing probability that a new reference draw is an unseen category.

    Three categories were seen once among 11 observations:

    >>> print(f"{good_turing_unseen([5, 1, 1, 3, 0, 1]):.6f}")
    0.272727
    """
    counts = as_counts(reference_counts, name="reference_counts", method="good_turing_unseen")
    if not np.array_equal(counts, np.round(counts)):
        raise ConfigError(
            "good_turing_unseen: argument 'reference_counts' must hold whole counts per "
            f"category, got {float(counts[counts != np.round(counts)][0])!r}; pass raw counts, "
            "not proportions."
        )
    return float(np.count_nonzero(counts == 1)) / float(counts.sum())
