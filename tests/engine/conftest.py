"""Fixtures for the engine tests: one local Spark session for the whole test session.

Nothing here skips. A test that asks for ``spark`` without pyspark installed fails and
names the extra to install; deselect Spark tests explicitly with ``-m "not spark"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session (2 cores, UTC, no UI), stopped at the end of the session."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        pytest.fail(
            f"the Spark engine tests need pyspark, which is not importable ({exc}); "
            "install the extra with `pip install 'driftline[spark]'` (and Java 17), "
            'or deselect them with `-m "not spark"`.',
            pytrace=False,
        )
    session = (
        SparkSession.builder.master("local[2]")
        .appName("driftline-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
