"""Shared vocabulary: sentinels and reserved names every layer agrees on.

A leaf module: it imports nothing from driftline, so the spec, the store, the engine and
the renderers can all validate against it without importing one another.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "INTERNAL_PREFIX",
    "MISSING_COHORT",
    "ON_DUPLICATE",
    "OTHER",
    "OVERALL",
    "STORE_COLUMNS",
    "OnDuplicate",
]

#: Cohort value of the overall scope (every row of a window).
OVERALL = "__all__"
#: Category that pools values outside the reference's categories.
OTHER = "__other__"
#: Cohort value shown for rows whose cohort column is null.
MISSING_COHORT = "(missing)"

#: Prefix of every column driftline adds inside a query (window keys, bins, tokens, ...).
#: No user column may start with it, so no user column can be shadowed by one of ours.
INTERNAL_PREFIX = "__dl_"

#: Columns the store adds to the predictions table; a spec or a batch may not use these
#: names (compared case-insensitively: DuckDB identifiers are).
STORE_COLUMNS = frozenset({"confidence", "ingested_at", "_batch", "_raw"})

#: What logging predictions does with a prediction id the store already holds: refuse
#: the batch whole (the default: a file logged twice would count twice), or skip those
#: rows and store the new ones. The CLI's ``--on-duplicate`` choices and the API check.
OnDuplicate = Literal["refuse", "skip"]
ON_DUPLICATE: tuple[str, ...] = get_args(OnDuplicate)
