"""Drift statistics over binned summaries, their registry and alert-bound calibration.

Every drift statistic is a small pure function over counts per bin (the engine computes
the counts; these functions never see rows) with one signature::

    fn(reference, current, *, edges=None) -> float

``reference`` and ``current`` are 1-D arrays of non-negative counts over the same ``k``
bins. For numeric columns ``edges`` holds the ``k + 1`` strictly increasing bin edges
fitted on the reference (bin ``i`` is ``[edges[i], edges[i+1])``, the last bin closed;
out-of-range values are clipped into the outer bins by the caller). For categorical
columns ``edges`` is None and the bins are categories; ``ks`` and ``wasserstein`` need
positions and refuse it.

>>> available_methods()
['chi2', 'jensen_shannon', 'ks', 'psi', 'wasserstein']
"""

from driftline.methods._registry import MethodInfo, available_methods, get_method
from driftline.methods.calibrate import Calibration, Resampler, calibrate_bound, size_grid
from driftline.methods.chi2 import chi2, chi2_pvalue
from driftline.methods.jensen_shannon import jensen_shannon
from driftline.methods.ks import ks
from driftline.methods.missing import missing_fraction_change
from driftline.methods.new_category import good_turing_unseen, new_category_rate
from driftline.methods.psi import psi
from driftline.methods.threshold_search import ThresholdSearch, threshold_search
from driftline.methods.wasserstein import wasserstein

__all__ = [
    "Calibration",
    "MethodInfo",
    "Resampler",
    "ThresholdSearch",
    "available_methods",
    "calibrate_bound",
    "chi2",
    "chi2_pvalue",
    "get_method",
    "good_turing_unseen",
    "jensen_shannon",
    "ks",
    "missing_fraction_change",
    "new_category_rate",
    "psi",
    "size_grid",
    "threshold_search",
    "wasserstein",
]
