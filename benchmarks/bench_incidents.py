"""What grouping alerts into incidents costs, next to the check that raised them.

In one process, on stores with many alerts: the demo (60 days, 3 regions, 4 incidents,
~350 alerts) and the scenario suite's streams at a larger size (``--windows`` windows of
``--rows`` rows, drift from the middle on: every window after it alerts in every scope).
For each, ``Monitor.check(persist=False)`` (which groups the incidents at its end) and
``find_incidents(report, profile)`` alone, each ``--repeat`` times: medians, and the
share of the check the incidents take. Prints a Markdown table; ``--json`` writes it.

Usage::

    python benchmarks/bench_incidents.py
    python benchmarks/bench_incidents.py --rows 100000 --repeat 5 --json results/incidents.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import driftline
from driftline import scenarios as sc
from driftline.demo import run_demo
from driftline.incidents import find_incidents


def _measure(mon: Any, repeat: int) -> dict[str, Any]:
    checks, groups = [], []
    report = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = mon.check(persist=False)
        checks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = find_incidents(report, mon.profile)
        groups.append(time.perf_counter() - t0)
        assert [i.id for i in found] == [i.id for i in report.incidents]
    assert report is not None
    check_s, group_s = statistics.median(checks), statistics.median(groups)
    return {
        "results": len(report.results),
        "alerts": len(report.alerts),
        "incidents": len(report.incidents),
        "check_s": round(check_s, 4),
        "incidents_s": round(group_s, 4),
        "share": round(group_s / check_s, 4),
        "headlines": [i.headline for i in report.incidents],
    }


def demo(directory: Path, repeat: int) -> dict[str, Any]:
    result = run_demo(directory)
    with driftline.connect(directory / "driftline.duckdb", directory / "driftline.yaml") as mon:
        return {"name": "demo", "rows": sum(s.n for s in result.report.stats if not s.cohort)} | (
            _measure(mon, repeat)
        )


def scenario(directory: Path, scen: sc.Scenario, windows: int, rows: int, repeat: int) -> Any:
    scen = sc.Scenario(scen.name, scen.kind, scen.size, windows // 2, scen.cohort_value)
    mon = driftline.connect(directory / "s.duckdb", sc.spec(), profile=directory / "s.json")
    with mon:
        mon.log_reference(sc.reference(max(rows, 20_000), seed=100))
        for i in range(windows):
            mon.log_predictions(sc.window(scen, i, rows))
        return {"name": scen.name, "rows": windows * rows} | _measure(mon, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        out.append(demo(Path(tmp) / "demo", args.repeat))
        for i, scen in enumerate(sc.SCENARIOS):
            d = Path(tmp) / f"s{i}"
            d.mkdir()
            out.append(scenario(d, scen, args.windows, args.rows, args.repeat))
    print("| store | rows | results | alerts | incidents | check s | incidents s | share |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in out:
        print(
            f"| {r['name']} | {r['rows']:,} | {r['results']:,} | {r['alerts']:,} | "
            f"{r['incidents']} | {r['check_s']:.3f} | {r['incidents_s']:.4f} | "
            f"{r['share']:.2%} |"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
