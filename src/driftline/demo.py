"""``driftline demo``: a real data set, a real model, 60 days of traffic, four incidents.

The data is scikit-learn's bundled digits (1,797 handwritten 8x8 images; nothing is
downloaded). Each image is pooled to 4x4 "ink" features (sums of 2x2 pixel blocks,
0-64). A logistic regression is trained on 40 % of the images, 30 % become the reference
(the labelled holdout scored by the model), and simulated serving traffic is drawn from
the 60 % the model never saw, in three regions (``eu``, ``us``, ``apac``), with a
capture-device feature.

Incidents, each starting on a known day and lasting five days:

- day 20, all regions: **class-mix shift** - a forms customer sends mostly 1s and 7s;
- day 30, ``apac`` only: **confidence drop** - a new scanner adds heavy noise to the images;
- day 40, all regions: **retyped column** - a logging release sends ``ink_r3c0`` as strings;
- day 50, ``eu`` only: **missing-value spike** - 40 % of ``ink_r1c1`` values arrive null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline.checks import CheckReport
from driftline.errors import ConfigError, missing_extra

__all__ = [
    "INCIDENTS",
    "DemoResult",
    "Incident",
    "make_demo_data",
    "report_caught",
    "run_demo",
]

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
REGIONS = ("eu", "us", "apac")
DEVICES = ("flatbed", "phone", "kiosk")
INCIDENT_DAYS = 5


@dataclass(frozen=True)
class Incident:
    name: str
    day: int
    check: str
    cohort: str | None
    cohort_value: str | None
    column: str | None

    @property
    def start(self) -> datetime:
        return START + timedelta(days=self.day)


INCIDENTS = (
    Incident("class-mix shift (mostly 1s and 7s)", 20, "class_mix", None, None, None),
    Incident("confidence drop (noisy scanner)", 30, "confidence_shift", "region", "apac", None),
    Incident("retyped column (ink_r3c0 as strings)", 40, "type_change", None, None, "ink_r3c0"),
    Incident("missing-value spike (ink_r1c1)", 50, "missing_fraction", "region", "eu", "ink_r1c1"),
)


@dataclass
class DemoData:
    reference: pd.DataFrame
    days: list[pd.DataFrame]
    spec: dict[str, Any]
    accuracy: float


@dataclass
class DemoResult:
    report: CheckReport
    report_path: Path
    caught: dict[str, str | None] = field(default_factory=dict)
    alerts_before_first: int = 0

    @property
    def all_caught(self) -> bool:
        return all(v is not None for v in self.caught.values()) and self.alerts_before_first == 0


def _features(images: np.ndarray) -> np.ndarray:
    """8x8 images -> 4x4 sums of 2x2 blocks, flattened (16 features, 0-64)."""
    x = images.reshape(-1, 4, 2, 4, 2).sum(axis=(2, 4))
    out: np.ndarray = x.reshape(len(images), 16).astype(float)
    return out


FEATURES = [f"ink_r{r}c{c}" for r in range(4) for c in range(4)]


def make_demo_data(days: int = 60, seed: int = 0, rows_per_region: int = 300) -> DemoData:
    """Train the model and build the reference and the per-day traffic tables."""
    if days < 60:
        raise ConfigError(
            f"the demo needs at least 60 days to show every incident; got --days {days}. "
            "Pass --days 60 or more."
        )
    try:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise missing_extra("the demo", "scikit-learn", "demo") from exc
    rng = np.random.default_rng(seed)
    digits = load_digits()
    x = _features(digits.images)
    y = digits.target.astype(str)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, train_size=0.4, stratify=y, random_state=seed
    )
    x_ref, x_pool, y_ref, y_pool = train_test_split(
        x_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_train, y_train)
    classes = [str(c) for c in model.classes_]

    def frame(xs: np.ndarray, labels: np.ndarray, ids: list[str], ts: Any) -> pd.DataFrame:
        proba = model.predict_proba(xs)
        df = pd.DataFrame(xs, columns=FEATURES)
        df.insert(0, "id", ids)
        df.insert(1, "ts", ts)
        df["prediction"] = np.asarray(classes)[proba.argmax(axis=1)]
        for i, c in enumerate(classes):
            df[f"score_{c}"] = proba[:, i]
        df["label"] = labels
        return df

    n_ref = len(x_ref)
    reference = frame(x_ref, y_ref, [f"ref-{i}" for i in range(n_ref)], pd.NaT)
    reference = reference.drop(columns=["ts"])
    reference["region"] = rng.choice(REGIONS, n_ref)
    reference["device"] = rng.choice(DEVICES, n_ref, p=[0.5, 0.3, 0.2])
    accuracy = float((reference["prediction"] == reference["label"]).mean())

    # Serving traffic is drawn from every image the model did not train on (the
    # reference is a sample of that population, as a holdout should be).
    x_pool = np.concatenate([x_ref, x_pool])
    y_pool = np.concatenate([y_ref, y_pool])
    by_class = {c: np.flatnonzero(y_pool == c) for c in classes}
    out = []
    for day in range(days):
        parts = []
        for region in REGIONS:
            n = int(rng.poisson(rows_per_region))
            idx = rng.integers(0, len(x_pool), n)
            if 20 <= day < 20 + INCIDENT_DAYS:  # class mix: 70 % ones and sevens
                k = int(0.7 * n)
                pick = np.concatenate([by_class["1"], by_class["7"]])
                idx[:k] = rng.choice(pick, k)
            xs = x_pool[idx].copy()
            if region == "apac" and 30 <= day < 30 + INCIDENT_DAYS:
                xs = np.clip(xs + rng.normal(0, 14, xs.shape), 0, 64)
            secs = np.sort(rng.uniform(0, 86400, n))
            ts = pd.to_datetime(START + timedelta(days=day)) + pd.to_timedelta(secs, unit="s")
            ids = [f"d{day:03d}-{region}-{i:05d}" for i in range(n)]
            df = frame(xs, y_pool[idx], ids, ts)
            df["region"] = region
            df["device"] = rng.choice(DEVICES, n, p=[0.5, 0.3, 0.2])
            if region == "eu" and 50 <= day < 50 + INCIDENT_DAYS:
                df.loc[rng.random(n) < 0.4, "ink_r1c1"] = np.nan
            parts.append(df)
        day_df = pd.concat(parts, ignore_index=True).drop(columns=["label"])
        if 40 <= day < 40 + INCIDENT_DAYS:
            day_df["ink_r3c0"] = day_df["ink_r3c0"].map(lambda v: f"{v:.1f}")
        out.append(day_df)
    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "prediction",
        "scores": {"columns": {c: f"score_{c}" for c in classes}},
        "label": "label",
        "cohorts": ["region"],
        "features": {"numeric": FEATURES, "categorical": ["device"]},
        "window": "1d",
    }
    return DemoData(reference, out, spec, accuracy)


def run_demo(
    directory: str | Path = "driftline-demo",
    *,
    days: int = 60,
    seed: int = 0,
    console: Any = None,
    engine: str = "duckdb",
    spark: Any = None,
) -> DemoResult:
    """Write the demo's files, log everything, check, and say what was caught when.

    ``engine="spark"`` runs the checks as Spark jobs instead, on the files where they lie,
    as a team whose prediction log is in a lake would: each day's batch is written as
    one Parquet file under ``<directory>/lake/predictions`` (the retyped day's
    ``ink_r3c0`` as strings, as the logging release wrote it), the profile is fitted on
    ``reference.parquet`` and the check reads the directory, one batch per file, with
    the DuckDB store keeping only what a check remembers. ``spark`` is the session to
    use (default: :func:`driftline.engine.spark.spark_session`, local mode)."""
    from driftline.monitor import connect
    from driftline.spec import load_spec

    say = console.print if console is not None else (lambda *a, **k: None)
    if engine not in ("duckdb", "spark"):
        raise ConfigError(f"--engine {engine!r} is not an engine; use duckdb or spark.")
    if engine == "spark" and spark is None:  # first: without pyspark or Java, say so now
        from driftline.engine.spark import spark_session

        say("starting a local Spark session")
        spark = spark_session()
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    data = make_demo_data(days=days, seed=seed)
    spec = load_spec(data.spec)
    spec_path = spec.save(root / "driftline.yaml")
    data.reference.to_parquet(root / "reference.parquet", index=False)
    store_path = root / "driftline.duckdb"
    for stale in (store_path, root / "driftline.duckdb.wal"):
        stale.unlink(missing_ok=True)
    say(
        f"digits: model accuracy on the holdout {data.accuracy:.1%}; "
        f"{sum(len(d) for d in data.days):,} predictions over {days} days in {len(REGIONS)} regions"
    )
    if engine == "spark":
        report = _check_on_spark(root, data, spec_path, store_path, spark, say)
    else:
        with connect(store_path, spec_path) as mon:
            mon.log_reference(root / "reference.parquet")
            for day, df in enumerate(data.days):
                mon.log_predictions(df, batch_id=f"day-{day:03d}")
            report = mon.check()
    return report_caught(report, root, INCIDENTS, say, store_path=store_path, spec_path=spec_path)


def _check_on_spark(
    root: Path, data: DemoData, spec_path: Path, store_path: Path, spark: Any, say: Any
) -> CheckReport:
    """Write each day as one Parquet file, fit the profile on the reference file and
    check the directory on Spark (see :func:`run_demo`)."""
    import shutil

    from driftline.monitor import connect

    lake = root / "lake" / "predictions"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    for day, df in enumerate(data.days):
        # as pandas writes it: nanosecond timestamps, which Spark reads only through
        # driftline.engine.spark.read_parquet
        df.to_parquet(lake / f"day-{day:03d}.parquet", index=False)
    say(f"checking {lake} on Spark {spark.version}")
    with connect(store_path, spec_path, spark=spark) as mon:
        mon.fit_profile(reference=root / "reference.parquet")
        return mon.check(predictions=lake)


def report_caught(
    report: CheckReport,
    root: Path,
    incidents: tuple[Incident, ...],
    say: Any,
    *,
    store_path: Path,
    spec_path: Path,
    explanations: Any = None,
    robustness: Any = None,
) -> DemoResult:
    """Write the report and say, per injected incident, whether its check alerted in its
    scope (and column) on its first day and not between the end of the incident before
    it and that day; count the alerts before the first incident."""
    from driftline.report import render_report

    first = incidents[0].start.isoformat().replace("+00:00", "Z")
    before = [a for a in report.alerts if a.window_start < first]
    html = render_report(
        report, root / "report.html", explanations=explanations, robustness=robustness
    )
    result = DemoResult(report=report, report_path=html, alerts_before_first=len(before))
    for inc in incidents:
        start = inc.start.isoformat().replace("+00:00", "Z")
        ended = [
            o.start + timedelta(days=INCIDENT_DAYS)
            for o in incidents
            if o.start + timedelta(days=INCIDENT_DAYS) <= inc.start
        ]
        since = max(ended).isoformat().replace("+00:00", "Z") if ended else first
        # an alert of this kind while an earlier incident ran (its own, or a side effect
        # such as typos raising the out-of-vocabulary share) does not count for this one
        hit = [
            a
            for a in report.alerts
            if a.window_start >= since
            and a.check == inc.check
            and a.cohort == inc.cohort
            and a.cohort_value == inc.cohort_value
            and (inc.column is None or a.column == inc.column)
        ]
        first_hit = min((a.window_start for a in hit), default=None)
        result.caught[inc.name] = first_hit if first_hit == start else None
        where = "overall" if inc.cohort is None else f"{inc.cohort}={inc.cohort_value}"
        status = "caught" if first_hit == start else f"MISSED (first alert {first_hit})"
        say(f"  day {inc.day:2d} {start[:10]}  {inc.name:<40} {where:<12} {status}")
    say(f"alerts before the first incident: {len(before)}")
    say(f"{len(report.alerts)} alerts in {len(report.incidents)} incidents, newest first:")
    for found in report.incidents:
        say(f"  {found.id} {found.severity:<8} {found.headline}")
    say(f"store {store_path}, spec {spec_path}")
    say(f"report: {html} (open it in a browser; it works offline)")
    return result
