"""What the parity tests share: nested values compared with a tolerance, summary rows
compared with their oracle's (approximate quantiles by rank), and two engines'
``CheckReport``s compared whole (tests/engine/test_parity.py and test_parity_edges.py;
each passes its own float comparison and rank tolerance)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.checks import CheckReport, CheckResult
from driftline.engine.summaries import QUANTILES

#: Window stats from approximate quantiles: not compared across engines.
APPROXIMATE_STATS = frozenset({"conf_p10", "conf_p50", "conf_p90"})

Close = Callable[[Any, Any], bool]


def tree_diff(got: Any, want: Any, path: str, close: Close) -> list[str]:
    """Where two nested dicts/lists differ: floats not ``close``, anything else not equal."""
    if isinstance(want, dict) and isinstance(got, dict):
        if sorted(got) != sorted(want):
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        return [d for k in want for d in tree_diff(got[k], want[k], f"{path}.{k}", close)]
    if isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in tree_diff(g, w, f"{path}[{i}]", close)
        ]
    if isinstance(want, float) or isinstance(got, float):
        return [] if close(got, want) else [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def assert_tree_close(got: Any, want: Any, path: str, close: Close) -> None:
    diff = tree_diff(got, want, path, close)
    assert not diff, f"{len(diff)} differences:\n" + "\n".join(diff[:20])


def quantiles_within(
    got: Sequence[float | None] | None, values: npt.NDArray[np.float64], rank: float
) -> bool:
    """Each approximate q-quantile lies within the exact quantiles of ``values`` at
    q -/+ ``rank`` (the band rounded outward to whole observations)."""
    if len(values) == 0:
        return got is None or all(g is None for g in got)
    assert got is not None
    for q, g in zip(QUANTILES, got, strict=True):
        lo = np.quantile(values, max(q - rank, 0.0), method="lower")
        hi = np.quantile(values, min(q + rank, 1.0), method="higher")
        if g is None or not lo - 1e-12 <= g <= hi + 1e-12:
            return False
    return True


def row_diffs(
    got: Mapping[tuple[Any, ...], Mapping[str, Any]],
    want: Mapping[tuple[Any, ...], Mapping[str, Any]],
    what: str,
    *,
    is_close: Callable[[str], bool],
    close: Close,
    rank: float,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Where the rows of a summary (by group key; the same keys on both sides) differ
    from their oracle's: ``conf_q`` by ``rank`` (:func:`quantiles_within`), the fields
    ``is_close`` names by ``close``, the others equal; ``skip`` fields not compared."""
    bad = []
    for key, want_row in want.items():
        got_row = got[key]
        assert set(got_row) == set(want_row), (
            f"{what}: columns {sorted(got_row)} != {sorted(want_row)}"
        )
        for name, expected in want_row.items():
            if name in skip:
                continue
            actual = got_row[name]
            if name == "conf_q":
                ok = quantiles_within(actual, expected, rank)
            elif is_close(name):
                ok = close(actual, expected)
            else:
                ok = actual == expected
            if not ok:
                bad.append(f"{key} {name}: got {actual!r}, expected {expected!r}")
    return bad


def result_key(r: CheckResult) -> tuple[Any, ...]:
    return (r.window, r.cohort, r.cohort_value, r.check, r.column)


def assert_same_report(spark: CheckReport, duck: CheckReport, close: Close) -> None:
    """The same results in the same order (floats ``close``), the same alerts, window
    stats (approximate quantiles excepted) and drift summary."""
    assert [result_key(r) for r in spark.results] == [result_key(r) for r in duck.results]
    assert_tree_close(
        [asdict(r) for r in spark.results], [asdict(r) for r in duck.results], "results", close
    )
    assert_tree_close(
        [asdict(a) for a in spark.alerts], [asdict(a) for a in duck.alerts], "alerts", close
    )

    def stats(report: CheckReport) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in asdict(st).items() if k not in APPROXIMATE_STATS}
            for st in report.stats
        ]

    assert_tree_close(stats(spark), stats(duck), "stats", close)
    assert_tree_close(spark.drift, duck.drift, "drift", close)
