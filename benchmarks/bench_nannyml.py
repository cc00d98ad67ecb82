"""Detection on data we did not write: driftline and NannyML on NannyML's own data sets.

NannyML ships two synthetic data sets with documented drift (``load_synthetic_car_loan_
dataset`` and ``load_synthetic_multiclass_classification_dataset``): a reference period
and an analysis period of 50k / 60k rows. In the analysis period the drift starts at the
6th of 10 equal chunks (row 25,000 / 30,000): in the car-loan set four features drift
(``car_value``, ``salary_range``, ``loan_length``, ``repaid_loan_on_prev_car``), in the
multiclass set all seven. That is the ground truth: a (window, column) cell is *drifted*
when all its rows come after the change and the column drifts, *clean* when all its rows
come before the change or the column does not drift, and left out when the window
straddles the change. The benchmark also checks the ground truth against the data
itself: each column's rows after the change against the rows before it (scipy's
two-sample KS test for numbers, chi-squared for categories, all rows).

Two chunkings, the same for both tools:

- ``10 chunks``: NannyML ``chunk_number=10``; driftline ``window: 5000 rows`` /
  ``6000 rows`` (the same rows: the analysis set is in timestamp order).
- ``daily``: NannyML ``chunk_period="D"``; driftline ``window: 1d``.

NannyML runs with its defaults (``UnivariateDriftCalculator``: Jensen-Shannon for every
column, alert above the reference chunks' mean + 3 sd), in ``benchmarks/.venv-nannyml``
(``bash benchmarks/setup_nannyml.sh``). driftline runs with its defaults on the spec
below (the binary car-loan model's single probability column, the multiclass model's
``y_pred_proba_<class>`` columns), over the Python API, counting ``feature_drift``
results of the overall scope whose status is ``alert`` (by the usual rule, or confirmed:
``checks.confirm_quantile``, which ``--confirm-quantile`` sets).

Usage::

    bash benchmarks/setup_nannyml.sh
    python benchmarks/bench_nannyml.py            # prints a Markdown table
    python benchmarks/bench_nannyml.py --json benchmarks/results/nannyml.json
    python benchmarks/bench_nannyml.py --exact-sizes --numeric jensen_shannon  # alternatives
    python benchmarks/bench_nannyml.py --exact-sizes   # bounds at each window's own size
    python benchmarks/bench_nannyml.py --confirm-quantile off   # without confirmation
    python benchmarks/bench_nannyml.py --incident-windows 6h    # incidents at 6 hours too

Each driftline entry also holds its check's incidents (``incidents``): how many, how many
start before the change, and the change's incident (its start against the documented
one, its severity, the drifted columns its headline names); printed as a second table.

Each driftline entry also holds, per method, the smallest effect beyond its no-drift mean
of a drifted cell beyond its bound, and the largest of a clean cell: the evidence the
default floors are chosen from (``driftline._catalog.DEFAULT_FLOORS``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import driftline

HERE = Path(__file__).resolve().parent
NANNYML_PYTHON = HERE / ".venv-nannyml" / "bin" / "python"
RUNNER = HERE / "nannyml_runner.py"
DATA = HERE / "data" / "nannyml"


@dataclass(frozen=True)
class Dataset:
    name: str
    rows: int  # analysis rows
    change: int  # first analysis row after the change
    features: dict[str, str]  # column -> kind
    drifted: frozenset[str]
    spec: dict[str, Any]


CAR_LOAN_FEATURES = {
    "car_value": "numeric",
    "salary_range": "categorical",
    "debt_to_income_ratio": "numeric",
    "loan_length": "numeric",
    "repaid_loan_on_prev_car": "categorical",
    "size_of_downpayment": "categorical",
    "driver_tenure": "numeric",
}
MULTICLASS_FEATURES = {
    "acq_channel": "categorical",
    "app_behavioral_score": "numeric",
    "requested_credit_limit": "numeric",
    "app_channel": "categorical",
    "credit_bureau_score": "numeric",
    "stated_income": "numeric",
    "is_customer": "categorical",
}
CLASSES = ("prepaid_card", "highstreet_card", "upmarket_card")


def _features(kinds: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"numeric": [], "categorical": []}
    for col, kind in kinds.items():
        out[kind].append(col)
    return out


DATASETS = {
    "car_loan": Dataset(
        "car_loan",
        50_000,
        25_000,
        CAR_LOAN_FEATURES,
        frozenset({"car_value", "salary_range", "loan_length", "repaid_loan_on_prev_car"}),
        {
            "id": "id",
            "timestamp": "timestamp",
            "prediction": "y_pred",
            "label": "repaid",
            "scores": {"column": "y_pred_proba", "positive": 1, "negative": 0},
            "features": _features(CAR_LOAN_FEATURES),
        },
    ),
    "multiclass": Dataset(
        "multiclass",
        60_000,
        30_000,
        MULTICLASS_FEATURES,
        frozenset(MULTICLASS_FEATURES),
        {
            "id": "id",
            "timestamp": "timestamp",
            "prediction": "y_pred",
            "label": "y_true",
            "scores": {"columns": {c: f"y_pred_proba_{c}" for c in CLASSES}},
            "features": _features(MULTICLASS_FEATURES),
        },
    ),
}


@dataclass
class Cells:
    """Alerting (window, column) cells of one tool, scored against the ground truth."""

    alerts: set[tuple[int, str]] = field(default_factory=set)
    drifted: set[tuple[int, str]] = field(default_factory=set)
    clean: set[tuple[int, str]] = field(default_factory=set)
    #: driftline only: cells beyond the calibrated bound but below the floor
    warns: set[tuple[int, str]] = field(default_factory=set)

    @property
    def caught(self) -> int:
        return len(self.alerts & self.drifted)

    @property
    def false_alarms(self) -> int:
        return len(self.alerts & self.clean)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted_cells": len(self.drifted),
            "clean_cells": len(self.clean),
            "caught": self.caught,
            "false_alarms": self.false_alarms,
            "warned_drifted": len(self.warns & self.drifted),
            "warned_clean": len(self.warns & self.clean),
            "missed": sorted([list(c) for c in self.drifted - self.alerts]),
            "false_alarm_cells": sorted([list(c) for c in self.alerts & self.clean]),
        }


def _truth(
    ds: Dataset, windows: Iterable[tuple[int, int, int]]
) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    """``windows``: (key, first analysis row, last analysis row) -> drifted, clean cells."""
    drifted, clean = set(), set()
    for key, first, last in windows:
        after, before = first >= ds.change, last < ds.change
        for col in ds.features:
            if col in ds.drifted and after:
                drifted.add((key, col))
            elif col not in ds.drifted or before:
                clean.add((key, col))
    return drifted, clean


def ground_truth_check(ds: Dataset, analysis: pd.DataFrame) -> dict[str, float]:
    """p-value of each column's rows after the change against those before (all rows)."""
    before, after = analysis.iloc[: ds.change], analysis.iloc[ds.change :]
    out = {}
    for col, kind in ds.features.items():
        a, b = before[col].dropna(), after[col].dropna()
        if kind == "numeric":
            out[col] = float(stats.ks_2samp(a, b).pvalue)
        else:
            table = pd.crosstab(
                np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a.astype(str), b.astype(str)]
            )
            out[col] = float(stats.chi2_contingency(table)[1])
    return out


def nannyml(ds: Dataset, chunking: str) -> tuple[Cells, float]:
    arg = ["--chunks", "10"] if chunking == "10 chunks" else ["--period", "D"]
    proc = subprocess.run(
        [str(NANNYML_PYTHON), str(RUNNER), "drift", "--dataset", ds.name, *arg],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    seconds = json.loads(proc.stderr.strip().splitlines()[-1])["seconds"]
    windows = {(r["chunk"], r["start_index"], r["end_index"]) for r in rows}
    drifted, clean = _truth(ds, windows)
    alerts = {(r["chunk"], r["column"]) for r in rows if r["alert"]}
    return Cells(alerts, drifted, clean), seconds


def driftline_cells(
    ds: Dataset, chunking: str, analysis: pd.DataFrame, workdir: Path
) -> tuple[Cells, dict[str, Any]]:
    window = f"{ds.rows // 10} rows" if chunking == "10 chunks" else "1d"
    report = _check(ds, window, workdir)
    # each window's analysis rows: row windows by position, day windows by date
    day = analysis["timestamp"].dt.floor("D")
    windows = []
    keys = sorted({r.window for r in report.results})
    for key in keys:
        if chunking == "10 chunks":
            first, last = key * (ds.rows // 10), (key + 1) * (ds.rows // 10) - 1
        else:
            start = pd.Timestamp(datetime.fromtimestamp(key, tz=timezone.utc)).tz_localize(None)
            idx = np.flatnonzero((day == start).to_numpy())
            if not idx.size:
                continue
            first, last = int(idx[0]), int(idx[-1])
        windows.append((key, first, last))
    drifted, clean = _truth(ds, windows)
    alerts = {
        (r.window, str(r.column))
        for r in report.results
        if r.check == "feature_drift" and r.cohort is None and r.status == "alert"
    }
    warns = {
        (r.window, str(r.column))
        for r in report.results
        if r.check == "feature_drift" and r.cohort is None and r.status == "warn"
    }
    bounds = [
        r.bound
        for r in report.results
        if r.check == "feature_drift" and r.cohort is None and r.bound is not None
    ]
    info = {
        "window": window,
        "windows": len(windows),
        "plan": report.plan.get("drift", {}),
        "confirm_quantile": report.plan.get("confirm_quantile"),
        "floors": report.plan.get("floors", {}),
        "effects_beyond_no_drift_mean": _effects(report.results, drifted, clean),
    }
    if bounds:
        info["bounds"] = [float(min(bounds)), float(max(bounds))]
    info["incidents"] = _incidents(ds, report, analysis)
    return Cells(alerts, drifted, clean, warns), info


def incidents_at(ds: Dataset, window: str, analysis: pd.DataFrame, workdir: Path) -> dict[str, Any]:
    """The incidents of a driftline check at another ``window`` (``--incident-windows``:
    no NannyML run, no cells), e.g. 6-hour windows of ~40 rows."""
    return _incidents(ds, _check(ds, window, workdir, "incidents-"), analysis)


def _check(ds: Dataset, window: str, workdir: Path, tag: str = "") -> Any:
    """A not-persisted check of ``ds`` at ``window``, in a new store in ``workdir`` (its
    name tagged with ``tag``, so two callers at one window do not share a store)."""
    spec = {**ds.spec, "window": window}
    store = workdir / f"{ds.name}-{tag}{window.replace(' ', '')}.duckdb"
    with driftline.connect(store, spec, profile=store.with_suffix(".json")) as mon:
        mon.log_reference(DATA / f"{ds.name}_reference.parquet")
        mon.log_predictions(DATA / f"{ds.name}_analysis.parquet")
        return mon.check(persist=False)


def _incidents(ds: Dataset, report: Any, analysis: pd.DataFrame) -> dict[str, Any]:
    """What the check's incidents say against the documented drift: how many, how many
    start before the change, and of the incident holding the change's first window its
    start, severity and the columns its headline and root cause name."""
    change = pd.Timestamp(analysis["timestamp"].iloc[ds.change])
    if change.tzinfo is None:
        change = change.tz_localize("UTC")
    listed = []
    for inc in report.incidents:
        start = pd.Timestamp(inc.start)
        listed.append(
            {
                "id": inc.id,
                "start": inc.start,
                "status": inc.status,
                "severity": inc.severity,
                "windows": inc.windows,
                "before_change": bool(start < change - pd.Timedelta(days=1)),
                "columns": [c.column for c in inc.root_cause.columns],
                "headline": inc.headline,
            }
        )
    after = [i for i in listed if not i["before_change"]]
    main = max(after, key=lambda i: i["windows"], default=None)
    named = set()
    if main is not None:
        named = {c for c in ds.features if c in main["headline"]}
    return {
        "count": len(listed),
        "before_change": sum(i["before_change"] for i in listed),
        "documented_start": change.isoformat(),
        "change_incident": main,
        "drifted_named_in_headline": sorted(named & ds.drifted),
        "clean_named_in_headline": sorted(named - ds.drifted),
        "listed": listed,
    }


def _effects(
    results: Iterable[Any], drifted: set[tuple[int, str]], clean: set[tuple[int, str]]
) -> dict[str, dict[str, float]]:
    """Per method: the smallest effect beyond its no-drift mean of a drifted cell beyond
    its bound, and the largest of a clean cell, any and beyond its bound. The mean is
    read from the result's ``floor_how`` ("..., beyond the no-drift mean 0.00361")."""
    out: dict[str, dict[str, float]] = {}
    for r in results:
        if r.check != "feature_drift" or r.cohort is not None or r.effect is None:
            continue
        cell = (r.window, str(r.column))
        found = re.search(r"no-drift mean ([0-9.e+-]+)", r.floor_how or "")
        beyond_mean = abs(r.effect) - (float(found.group(1)) if found else 0.0)
        beyond_bound = abs(r.value) > r.bound
        m = out.setdefault(r.method, {})
        if cell in drifted and beyond_bound:
            m["drifted_min"] = round(min(m.get("drifted_min", math.inf), beyond_mean), 4)
        elif cell in clean:
            m["clean_max"] = round(max(m.get("clean_max", -math.inf), beyond_mean), 4)
            if beyond_bound:
                m["clean_beyond_bound_max"] = round(
                    max(m.get("clean_beyond_bound_max", -math.inf), beyond_mean), 4
                )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--exact-sizes",
        action="store_true",
        help="driftline calibrates each window at its own size, not at the size grid's "
        "point below it (measures what the grid's rounding costs at daily windows; "
        "not driftline's default)",
    )
    p.add_argument(
        "--numeric",
        help="driftline's drift method for numeric columns (spec drift.numeric; default: "
        "driftline's default). Measures the alternatives at daily windows",
    )
    p.add_argument("--bins", type=int, help="driftline's numeric bins (spec drift.bins)")
    p.add_argument(
        "--incident-windows",
        nargs="*",
        default=[],
        help="more driftline windows (e.g. 6h) whose incidents are counted too (driftline "
        "only: no cells, no NannyML run)",
    )
    p.add_argument(
        "--confirm-quantile",
        help="driftline's checks.confirm_quantile, or 'off' (default: driftline's default, "
        "0.995). Measures what confirmation within a window adds",
    )
    a = p.parse_args(argv)
    drift = {k: v for k, v in (("numeric", a.numeric), ("bins", a.bins)) if v is not None}
    checks: dict[str, Any] = {}
    if a.confirm_quantile is not None:
        off = a.confirm_quantile == "off"
        checks["confirm_quantile"] = None if off else float(a.confirm_quantile)
    for name, ds in DATASETS.items():
        extra = {**({"drift": drift} if drift else {}), **({"checks": checks} if checks else {})}
        DATASETS[name] = replace(ds, spec={**ds.spec, **extra})
    if a.exact_sizes:
        from driftline.checks._bounds import _Bounds

        _Bounds.grid = lambda self, n: n  # type: ignore[method-assign]
    if not NANNYML_PYTHON.exists():
        print("run `bash benchmarks/setup_nannyml.sh` first", file=sys.stderr)
        return 2
    if not (DATA / "car_loan_analysis.parquet").exists():
        subprocess.run([str(NANNYML_PYTHON), str(RUNNER), "export", "--out", str(DATA)], check=True)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for ds in DATASETS.values():
            analysis = pd.read_parquet(DATA / f"{ds.name}_analysis.parquet")
            pvalues = ground_truth_check(ds, analysis)
            for chunking in ("10 chunks", "daily"):
                nml_cells, nml_seconds = nannyml(ds, chunking)
                dl_cells, info = driftline_cells(ds, chunking, analysis, Path(tmp))
                out.append(
                    {
                        "dataset": ds.name,
                        "chunking": chunking,
                        "ground_truth_pvalues": pvalues,
                        "nannyml": {**nml_cells.to_dict(), "seconds": nml_seconds},
                        "driftline": {
                            **dl_cells.to_dict(),
                            **info,
                            "exact_sizes": a.exact_sizes,
                            "drift_overrides": drift,
                            "checks_overrides": checks,
                            "confirm_quantile": info["confirm_quantile"],
                        },
                    }
                )
            for window in a.incident_windows:
                inc = incidents_at(ds, window, analysis, Path(tmp))
                out.append(
                    {
                        "dataset": ds.name,
                        "chunking": window,
                        "driftline": {"incidents": inc, "window": window},
                    }
                )
    cells = [e for e in out if "nannyml" in e]
    print(
        "| data set | windows | drifted cells | NannyML caught | NannyML false alarms "
        "| driftline caught (alert) | driftline false alarms | driftline warn: drifted / clean |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for e in cells:
        n, d = e["nannyml"], e["driftline"]
        print(
            f"| {e['dataset']} | {e['chunking']} | {d['drifted_cells']} "
            f"(NannyML: {n['drifted_cells']}) | {n['caught']} | {n['false_alarms']} "
            f"| {d['caught']} | {d['false_alarms']} "
            f"| {d['warned_drifted']} / {d['warned_clean']} |"
        )
    print()
    print(
        "| data set | windows | incidents | starting before the change | the change's "
        "incident: start (documented), severity | drifted columns its headline names |"
    )
    print("|---|---|---:|---:|---|---|")
    for e in out:
        inc = e["driftline"]["incidents"]
        main = inc["change_incident"] or {}
        named = ", ".join(inc["drifted_named_in_headline"]) or "-"
        if inc["clean_named_in_headline"]:
            named += f" (and clean: {', '.join(inc['clean_named_in_headline'])})"
        print(
            f"| {e['dataset']} | {e['chunking']} | {inc['count']} | {inc['before_change']} "
            f"| {str(main.get('start', '-'))[:16]} ({inc['documented_start'][:16]}), "
            f"{main.get('severity', '-')} | {named} |"
        )
    for e in cells:
        dl = e["driftline"]
        worst = max(
            (
                v
                for c, v in e["ground_truth_pvalues"].items()
                if c in DATASETS[e["dataset"]].drifted
            ),
            default=None,
        )
        best_clean = min(
            (
                v
                for c, v in e["ground_truth_pvalues"].items()
                if c not in DATASETS[e["dataset"]].drifted
            ),
            default=None,
        )
        print(
            f"{e['dataset']} {e['chunking']}: ground truth p-values: drifted columns <= "
            f"{worst}, clean columns >= {best_clean}; driftline missed "
            f"{dl['missed'][:8]}, false alarms {dl['false_alarm_cells'][:8]}"
        )
    if a.json:
        a.json.write_text(
            json.dumps(
                {
                    "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "entries": out,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
