"""What a driftline command tunes in its own process: only its entry points call this,
never an import (an API user's process is theirs to tune)."""

from __future__ import annotations

import gc

#: The cycle collector's thresholds during a command (Python's defaults: 700, 10, 10).
COLLECTOR_THRESHOLDS = (50_000, 20, 10)


def tune_collector() -> None:
    """Run Python's cycle collector less often for the rest of the process.

    A command is one short process that allocates a few hundred thousand objects that
    live until it exits (the modules it imports, a check's summaries and results). At
    the default thresholds a next-day check ran the collector 429 times, 0.14-0.19 s of
    its ~2 s, each older-generation pass walking every object imported so far; at these
    it runs about five times (0.04-0.06 s). A long-running command (the collector, the
    dashboard) still collects: a young generation every 50,000 allocations, the oldest
    as Python decides."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
