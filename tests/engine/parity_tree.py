"""What the parity tests share: nested values compared with a tolerance, and two
engines' ``CheckReport``s compared whole (tests/engine/test_parity.py and
test_parity_edges.py; each passes its own float comparison)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from driftline.checks import CheckReport, CheckResult

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
