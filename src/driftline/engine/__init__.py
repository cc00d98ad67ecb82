"""Where the data lives: Ibis expressions over DuckDB (default) or Spark.

The engine returns *summaries* - counts, moments, histogram counts on the profile's bin
edges, category counts - as Arrow tables with one fixed schema per summary, whatever the
backend; the wide window summary is read into typed records by
:mod:`driftline.engine.records`. Methods turn summaries into statistics; they never see
a table.
"""

from driftline.engine._backend import DuckDBEngine, Engine, SparkEngine
from driftline.engine.summaries import (
    MISSING_COHORT,
    OVERALL,
    category_counts,
    class_counts,
    feature_stats,
    histograms,
    prediction_stats,
    window_key,
)

__all__ = [
    "MISSING_COHORT",
    "OVERALL",
    "DuckDBEngine",
    "Engine",
    "SparkEngine",
    "category_counts",
    "class_counts",
    "feature_stats",
    "histograms",
    "prediction_stats",
    "window_key",
]
