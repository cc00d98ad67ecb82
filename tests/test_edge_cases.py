"""Nothing a user logs can break a check: an edge-case matrix through ``run_checks``.

One store per cohort layout (no cohort, one, two), each holding one daily window per
incident a monitor exists for, logged batch by batch through the real store:

========================  ==============================================================
``baseline``              ordinary traffic
``null_group``            every feature null (NaN for numbers) in the rows of cohort c1=u
``null_every``            every feature null or NaN in every row of the window
``dropped``               a batch without the feature columns
``retyped``               a batch whose numbers are text that does not parse, whose
                          categories and texts are integers
``inf``                   +inf and -inf among the numbers
``single_row``            a window of one row whose features are all missing
``cohort_absent``         only c1=v, c2=p rows: the other cohort values have none
``null_cohort``           rows whose cohort values are null
``unseen_cohort``         cohort values the reference never had (c1=w, c2=z)
``out_of_era``            one row dated 1999 (before the reference) and one dated 2200
========================  ==============================================================

For every scenario x feature kind (numeric, categorical, text) x cohort layout, on
DuckDB and on Spark (a temp view of the same stored rows, as Arrow), the check runs and
gives the specific result the incident calls for (a missing fraction of 1.0, a
``missing_column`` or ``type_change`` alert, the non-finite count of an ``out_of_range``
result, ...), every missing fraction and out-of-range count equals a pandas computation on
the rows, and both engines give the same results. Then features and cohorts with names
that collide with driftline's own (``window``, ``cohort_value``, ``n``, ``_b0``, ...) or
are merely odd (quotes, spaces, unicode, ``a AS b``) give the results their plain-named
twins give, on both engines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

import driftline
from driftline._catalog import MISSING_COHORT
from driftline.checks import CheckReport, CheckResult, run_checks
from driftline.engine import DuckDBEngine, Engine, SparkEngine, numeric
from driftline.profile import Profile
from driftline.spec import Spec

if TYPE_CHECKING:
    from conftest import RunCli

CLASSES = ("a", "b", "c")
COLORS = ("red", "green", "blue")
WORDS = ("order", "late", "refund", "thanks", "damaged", "package")
START = datetime(2024, 3, 1)
NOW = datetime(2024, 3, 20)  # the time the checks run at
ROWS = 24  # rows per window: c1 alternates u, v; c2 is p or q
SCENARIOS = (
    "baseline",
    "null_group",
    "null_every",
    "dropped",
    "retyped",
    "inf",
    "single_row",
    "cohort_absent",
    "null_cohort",
    "unseen_cohort",
    "out_of_era",
)
DAY = {name: i for i, name in enumerate(SCENARIOS)}
FEATURE = {"numeric": "num", "categorical": "cat", "text": "txt"}
LAYOUTS = {"none": [], "one": ["c1"], "two": ["c1", "c2"]}
ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]
REL = 1e-9


# -- data ----------------------------------------------------------------------------------
def _rows(day: int, n: int, rng: np.random.Generator) -> dict[str, list[Any]]:
    """Ordinary rows of one day: every column as a list of Python values."""
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=n)
    ts = [START + timedelta(days=day, seconds=int(s)) for s in np.sort(rng.integers(0, 86_400, n))]
    return {
        "id": [f"d{day}-{i}" for i in range(n)],
        "ts": ts,
        "pred": [CLASSES[k] for k in probs.argmax(axis=1)],
        **{f"score_{c}": probs[:, j].tolist() for j, c in enumerate(CLASSES)},
        "c1": ["u" if i % 2 == 0 else "v" for i in range(n)],
        "c2": [str(rng.choice(["p", "q"])) for _ in range(n)],
        "num": rng.normal(0.0, 1.0, n).tolist(),
        "cat": [str(rng.choice(COLORS)) for _ in range(n)],
        "txt": [" ".join(rng.choice(WORDS, rng.integers(1, 6))) for _ in range(n)],
    }


def _missing_number(i: int) -> float | None:
    """Null and NaN alternate: both are missing."""
    return None if i % 2 else math.nan


def _batch(name: str, rng: np.random.Generator) -> dict[str, list[Any]]:
    day = DAY[name]
    cols = _rows(day, 1 if name == "single_row" else ROWS, rng)
    n = len(cols["id"])
    if name == "null_group":
        for i in range(n):
            if cols["c1"][i] == "u":
                cols["num"][i], cols["cat"][i], cols["txt"][i] = _missing_number(i), None, None
    elif name in ("null_every", "single_row"):
        cols["num"] = [_missing_number(i) for i in range(n)]
        cols["cat"] = [None] * n
        cols["txt"] = [None] * n
    elif name == "dropped":
        for col in FEATURE.values():
            del cols[col]
    elif name == "retyped":
        cols["num"] = ["oops" if i % 3 else "n/a" for i in range(n)]
        cols["cat"] = [i % 2 for i in range(n)]
        cols["txt"] = [100 + i for i in range(n)]
    elif name == "inf":
        cols["num"][0], cols["num"][1], cols["num"][2] = math.inf, math.inf, -math.inf
        cols["num"][3] = math.nan
    elif name == "cohort_absent":
        cols["c1"] = ["v"] * n
        cols["c2"] = ["p"] * n
    elif name == "null_cohort":
        cols["c1"] = [None if i % 4 == 0 else v for i, v in enumerate(cols["c1"])]
        cols["c2"] = [None if i % 3 == 0 else v for i, v in enumerate(cols["c2"])]
    elif name == "out_of_era":
        cols["ts"][0] = datetime(1999, 5, 1, 12)
        cols["ts"][-1] = datetime(2200, 1, 1)
    elif name == "unseen_cohort":
        cols["c1"] = ["w" if i % 3 == 0 else v for i, v in enumerate(cols["c1"])]
        cols["c2"] = ["z" if i % 3 == 1 else v for i, v in enumerate(cols["c2"])]
    return cols


def _table(cols: dict[str, list[Any]], cohorts: Sequence[str]) -> pa.Table:
    """The batch as Arrow (NaN stays NaN, None is null); unconfigured cohorts dropped."""
    types = {"ts": pa.timestamp("us"), "num": pa.float64()}
    keep = {k: v for k, v in cols.items() if k not in ("c1", "c2") or k in cohorts}
    arrays = {}
    for k, v in keep.items():
        typ = types.get(k)
        if k == "num" and isinstance(v[0], str):
            typ = pa.string()
        arrays[k] = pa.array(v, typ)
    return pa.table(arrays)


def _reference(rng: np.random.Generator) -> pa.Table:
    cols = _rows(-60, 300, rng)
    cols["ts"] = [t.replace(month=1) for t in cols["ts"]]
    return pa.table(
        {k: pa.array(v, pa.timestamp("us") if k == "ts" else None) for k, v in cols.items()}
    )


def _spec(cohorts: Sequence[str], features: dict[str, list[str]] | None = None) -> Spec:
    return driftline.load_spec(
        {
            "id": "id",
            "timestamp": "ts",
            "prediction": "pred",
            "scores": {"columns": {c: f"score_{c}" for c in CLASSES}},
            "cohorts": list(cohorts),
            "features": features or {"numeric": ["num"], "categorical": ["cat"], "text": ["txt"]},
            "window": "1d",
            # every group is evaluated, however small: the single-row window too
            "checks": {"min_rows": 1, "calibration_reps": 100},
        }
    )


def _stored_view(cols: dict[str, list[Any]], name: str) -> pd.DataFrame:
    """What the store holds for a batch, in pandas: missing feature values as None/NaN,
    retyped numbers that do not parse as missing, retyped categories as text."""
    df = pd.DataFrame({k: cols[k] for k in ("id", "c1", "c2")})
    df["day"] = [(t - START).days for t in cols["ts"]]  # the day of the row's window
    n = len(df)
    df["num"] = (
        pd.Series([np.nan] * n)
        if name in ("dropped", "retyped")
        else pd.Series(cols["num"], dtype=float)
    )
    for col in ("cat", "txt"):
        values = cols.get(col, [None] * n)
        df[col] = [None if v is None else str(v) for v in values]
    return df


@dataclass
class Built:
    layout: str
    spec: Spec
    profile: Profile
    frame: pd.DataFrame  # every stored row, as pandas (the oracle's input)
    reports: dict[str, CheckReport]


def _build(layout: str, root: Path) -> tuple[Built, pa.Table, list[dict[str, Any]]]:
    cohorts = LAYOUTS[layout]
    rng = np.random.default_rng(20261129)
    spec = _spec(cohorts)
    mon = driftline.connect(root / f"{layout}.duckdb", spec, profile=root / f"{layout}.json")
    try:
        mon.log_reference(_reference(rng))
        frames = []
        for name in SCENARIOS:
            cols = _batch(name, rng)
            mon.log_predictions(_table(cols, cohorts), batch_id=name)
            frames.append(_stored_view(cols, name))
        batches = mon.store.batches().to_pylist()
        report = run_checks(
            mon.engine,
            mon.engine.table("predictions"),
            spec,
            mon.profile,
            batches=batches,
            now=NOW,
        )
        stored = mon.store.con.execute("SELECT * FROM predictions").to_arrow_table()
        profile = mon.profile
    finally:
        mon.close()
    # JSON (the raw values) as plain text: what a Spark table holds
    stored = stored.set_column(
        stored.schema.get_field_index("_raw"), "_raw", stored["_raw"].cast(pa.string())
    )
    built = Built(layout, spec, profile, pd.concat(frames, ignore_index=True), {"duckdb": report})
    return built, stored, batches


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("edge")
    return {layout: _build(layout, root) for layout in LAYOUTS}


def _report(
    request: pytest.FixtureRequest, stores: dict[str, Any], layout: str, engine: str
) -> Built:
    built, stored, batches = stores[layout]
    if engine not in built.reports:
        spark = request.getfixturevalue("spark")
        view = f"edge_{layout}"
        spark.createDataFrame(stored).createOrReplaceTempView(view)
        eng = SparkEngine(spark)
        built.reports[engine] = run_checks(
            eng, eng.table(view), built.spec, built.profile, batches=batches, now=NOW
        )
    return built


# -- oracle ----------------------------------------------------------------------------------
def _scope_rows(frame: pd.DataFrame, r: CheckResult | Any) -> pd.DataFrame:
    start = datetime.fromisoformat(r.window_start.replace("Z", ""))
    rows = frame[frame["day"] == (start - START).days]
    if r.cohort is None:
        return rows
    values = rows[r.cohort].fillna(MISSING_COHORT)
    return rows[values == r.cohort_value]


def _results(built: Built, engine: str, scenario: str) -> list[CheckResult]:
    day = (START + timedelta(days=DAY[scenario])).isoformat()
    return [r for r in built.reports[engine].results if r.window_start.startswith(day)]


def _one(
    results: Sequence[CheckResult], check: str, column: str, cohort: str | None, value: str | None
) -> CheckResult:
    found = [
        r
        for r in results
        if (r.check, r.column, r.cohort, r.cohort_value) == (check, column, cohort, value)
    ]
    assert len(found) == 1, f"{check} {column} {cohort}={value}: {len(found)} results"
    return found[0]


def _scopes(built: Built) -> list[tuple[str | None, str | None]]:
    """Every scope the report holds (overall first)."""
    seen = {(st.cohort, st.cohort_value) for st in built.reports["duckdb"].stats}
    return sorted(seen, key=lambda s: (s[0] is not None, s[0] or "", s[1] or ""))


def _assert_matches_rows(built: Built, engine: str, scenario: str, kind: str) -> None:
    """Every missing fraction, out-of-range count and unseen count of the feature in the
    window equals pandas on the stored rows; every scope with rows has them."""
    col = FEATURE[kind]
    results = _results(built, engine, scenario)
    lo, hi = built.profile.ranges()["num"]
    cats = set(built.profile.categories_["cat"])
    checked = 0
    for r in results:
        if r.column != col:
            continue
        rows = _scope_rows(built.frame, r)
        values = rows[col]
        missing = values.isna()
        if r.check == "missing_fraction":
            assert r.details["current_fraction"] == pytest.approx(missing.mean(), abs=1e-12)
            checked += 1
        elif r.check == "out_of_range":
            v = values[~missing].to_numpy(dtype=float)
            assert r.details["below"] == int((v < lo).sum())
            assert r.details["above"] == int((v > hi).sum())
            assert r.details["non_finite"] == int((~np.isfinite(v)).sum())
            assert r.value == pytest.approx(((v < lo) | (v > hi)).mean(), abs=1e-12)
        elif r.check == "unseen_category":
            present = values[~missing]
            assert r.details["unseen"] == int((~present.isin(cats)).sum())
    with_rows = [
        s for s in _scopes(built) if len(_scope_rows(built.frame, _Where(scenario, *s))) > 0
    ]
    assert checked == len(with_rows), f"{scenario} {col}: {checked} of {len(with_rows)} scopes"


@dataclass
class _Where:
    scenario: str
    cohort: str | None
    cohort_value: str | None

    @property
    def window_start(self) -> str:
        return (START + timedelta(days=DAY[self.scenario])).isoformat()


# -- the matrix ------------------------------------------------------------------------------
CASES = [
    (scenario, kind)
    for scenario in SCENARIOS
    for kind in FEATURE
    if scenario != "inf" or kind == "numeric"
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(("scenario", "kind"), CASES)
def test_edge_case(
    request: pytest.FixtureRequest,
    stores: dict[str, Any],
    engine: str,
    layout: str,
    scenario: str,
    kind: str,
) -> None:
    built = _report(request, stores, layout, engine)
    col = FEATURE[kind]
    results = _results(built, engine, scenario)
    assert results, f"no results for the {scenario} window"
    _assert_matches_rows(built, engine, scenario, kind)
    cohorts = LAYOUTS[layout]
    overall = [r for r in results if r.cohort is None]
    stats = [
        st
        for st in built.reports[engine].stats
        if st.window_start.startswith((START + timedelta(days=DAY[scenario])).isoformat())
    ]

    def fraction(cohort: str | None, value: str | None) -> float:
        r = _one(results, "missing_fraction", col, cohort, value)
        return float(r.details["current_fraction"])

    if scenario == "null_group":
        assert fraction(None, None) == 0.5  # c1 alternates u, v
        if cohorts:
            assert fraction("c1", "u") == 1.0
            assert fraction("c1", "v") == 0.0
            drift = "text_drift" if kind == "text" else "feature_drift"
            u = [r for r in results if r.check == drift and r.cohort_value == "u"]
            assert u
            assert all(r.status == "insufficient" and r.n == 0 for r in u)
            if kind == "numeric":
                assert not [
                    r for r in results if r.check == "out_of_range" and r.cohort_value == "u"
                ]
    elif scenario in ("null_every", "single_row"):
        for cohort, value in _scopes(built):
            if any(st.cohort == cohort and st.cohort_value == value and st.n for st in stats):
                assert fraction(cohort, value) == 1.0
        if scenario == "single_row":
            assert [st.n for st in stats if st.cohort is None] == [1]
    elif scenario == "dropped":
        for r in results:
            if r.check == "missing_column" and r.column == col:
                assert (r.value, r.status, r.details["rows"]) == (1.0, "alert", r.n)
        assert len([r for r in results if r.check == "missing_column" and r.column == col]) == len(
            [st for st in stats if st.n]
        )
        assert fraction(None, None) == 1.0
    elif scenario == "retyped":
        changed = [r for r in results if r.check == "type_change" and r.column == col]
        assert changed
        assert all(r.value == 1.0 and r.status == "alert" for r in changed)
        if kind == "numeric":
            assert fraction(None, None) == 1.0
        else:
            assert fraction(None, None) == 0.0
        if kind == "categorical":
            unseen = _one(results, "unseen_category", col, None, None)
            assert (unseen.value, unseen.status) == (1.0, "alert")
    elif scenario == "inf":
        r = _one(results, "out_of_range", col, None, None)
        assert (r.details["non_finite"], r.details["above"] >= 2, r.details["below"] >= 1) == (
            3,
            True,
            True,
        )
        assert r.details["non_finite_share"] == pytest.approx(3 / (ROWS - 1))
        assert r.status == "alert"
        drift = _one(results, "feature_drift", col, None, None)
        assert drift.value is not None
        assert math.isfinite(drift.value)
        st = next(st for st in stats if st.cohort is None)
        assert st.n == ROWS
    elif scenario == "cohort_absent":
        if cohorts:
            u = [st for st in stats if st.cohort == "c1" and st.cohort_value == "u"]
            assert [st.n for st in u] == [0]
            absent = [r for r in results if r.cohort_value == "u"]
            assert absent
            assert all(r.status == "no_data" for r in absent)
            assert fraction("c1", "v") == 0.0
        else:
            assert [st.n for st in stats] == [ROWS]
    elif scenario == "null_cohort":
        if cohorts:
            nulls = [st for st in stats if st.cohort_value == MISSING_COHORT]
            assert {st.cohort for st in nulls} == set(cohorts)
            assert all(st.n > 0 for st in nulls)
            assert fraction("c1", MISSING_COHORT) == 0.0
    elif scenario == "out_of_era":
        report = built.reports[engine]
        era = {r.window_start[:4]: r for r in report.results_for("timestamp_era")}
        assert (era["1999"].status, era["1999"].details["before_reference"]) == ("alert", 1)
        assert (era["2200"].status, era["2200"].details["beyond_now"]) == ("alert", 1)
        assert era["1999"].details["ids"] == ["'d10-0'"]
        assert era["2200"].details["ids"] == [f"'d10-{ROWS - 1}'"]
        assert era["2024"].status == "ok"
        assert [(g["start"], g["windows"]) for g in report.gaps] == [
            ("1999-05-02T00:00:00Z", (START - datetime(1999, 5, 2)).days),
            ("2024-03-12T00:00:00Z", (datetime(2200, 1, 1) - datetime(2024, 3, 12)).days),
        ]
        # only windows holding rows are checked: 11 days and the two stray rows' days
        assert len({r.window for r in report.results}) == len(SCENARIOS) + 2
    elif scenario == "unseen_cohort" and cohorts:
        w = _one(results, "missing_fraction", col, "c1", "w")
        assert w.n == ROWS // 3
    for r in overall:
        assert r.n == next(st.n for st in stats if st.cohort is None) or r.check in (
            "feature_drift",
            "text_drift",
        )


def _close(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _close(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return [] if a is b else [f"{path}: {a!r} != {b!r}"]
        if math.isclose(a, b, rel_tol=REL, abs_tol=REL):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.spark
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_edge_case_spark_equals_duckdb(
    request: pytest.FixtureRequest, stores: dict[str, Any], layout: str, scenario: str
) -> None:
    built = _report(request, stores, layout, "spark")
    duck, spark = (
        [asdict(r) for r in _results(built, engine, scenario)] for engine in ("duckdb", "spark")
    )
    diff = _close(spark, duck, f"{layout} {scenario}")
    assert not diff, "\n".join(diff[:10])


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_edge_cases_same_with_the_numeric_kernel(
    stores: dict[str, Any], layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole edge-case matrix with DuckDB counting the numeric feature by the kernel
    (the path of tables of ``MIN_FEATURES`` numeric features or more) gives the same
    results as by the summary query: all null in a group, dropped, retyped, +-inf,
    single-row windows, absent, null and unseen cohort values."""
    built, stored, batches = stores[layout]
    con = duckdb.connect()
    try:
        con.register("stored", stored)
        con.execute("CREATE TABLE predictions AS SELECT * FROM stored")
        engine = DuckDBEngine.from_connection(con)
        monkeypatch.setattr(numeric, "MIN_FEATURES", 1)
        assert numeric.uses_kernel(engine, 1)
        report = run_checks(
            engine, engine.table("predictions"), built.spec, built.profile, batches=batches, now=NOW
        )
    finally:
        con.close()
    query = [asdict(r) for r in built.reports["duckdb"].results]
    diff = _close([asdict(r) for r in report.results], query, layout)
    assert not diff, "\n".join(diff[:10])


# -- names that collide with driftline's own ----------------------------------------------------
#: Feature names that are (or were) driftline's internal or output column names, and odd
#: cohort names; each run against its plain-named twin.
ODD_NUMERIC = ["window", "cohort_value", "n", "value", "bin", "_b0", "x0", "m0"]
ODD_CATEGORICAL = ["cohort", "column", "_tok"]
ODD_COHORTS = ["window id", 'a"b', "a AS b", "régión ✓"]


def _renamed(names: Sequence[str], prefix: str) -> dict[str, str]:
    return {name: f"{prefix}{i}" for i, name in enumerate(names)}


def _odd_tables(rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """Reference and current rows with the odd names (see the lists above)."""

    def rows(day: int, n: int) -> dict[str, Any]:
        cols = _rows(day, n, rng)
        out = {k: cols[k] for k in ("id", "ts", "pred", *[f"score_{c}" for c in CLASSES])}
        for i, name in enumerate(ODD_NUMERIC):
            v = rng.normal(i, 1.0 + 0.3 * (day >= 3), n)
            v[rng.random(n) < 0.1] = np.nan
            out[name] = v.tolist()
        for name in ODD_CATEGORICAL:
            out[name] = [
                str(rng.choice([*COLORS, "violet" if day >= 3 else "red"])) for _ in range(n)
            ]
        for k, name in enumerate(ODD_COHORTS):
            out[name] = [str(rng.choice(["x", "y", f"z{k}"])) for _ in range(n)]
        # a cohort value with no rows of the numeric features: the empty-group case
        for name in ODD_NUMERIC:
            out[name] = [
                None if c == "z0" else v
                for c, v in zip(out[ODD_COHORTS[0]], out[name], strict=True)
            ]
        return out

    ref = rows(-30, 300)
    ref["ts"] = [t.replace(month=1) for t in ref["ts"]]
    cur: dict[str, list[Any]] = {}
    for day in range(6):
        for k, v in rows(day, 40).items():
            cur.setdefault(k, []).extend(v)
    cur["id"] = [f"i{i}" for i in range(len(cur["id"]))]

    def table(cols: dict[str, Any]) -> pa.Table:
        return pa.table(
            {k: pa.array(v, pa.timestamp("us") if k == "ts" else None) for k, v in cols.items()}
        )

    return table(ref), table(cur)


def _odd_spec(names: dict[str, str]) -> Spec:
    return _spec(
        [names[c] for c in ODD_COHORTS],
        {
            "numeric": [names[c] for c in ODD_NUMERIC],
            "categorical": [names[c] for c in ODD_CATEGORICAL],
        },
    )


def _stored(t: pa.Table, spec: Spec) -> pa.Table:
    """``t`` shaped as the store writes it (confidence, _batch; no _raw values)."""
    conf = np.max(np.column_stack([t[f"score_{c}"].to_numpy() for c in CLASSES]), axis=1)
    return t.append_column("confidence", pa.array(conf)).append_column(
        "_batch", pa.array([1] * len(t), pa.int64())
    )


def _odd_reports(engine: Engine, register: Any) -> dict[str, CheckReport]:
    rng = np.random.default_rng(7)
    ref, cur = _odd_tables(rng)
    out = {}
    for label, names in (
        ("odd", {n: n for n in [*ODD_NUMERIC, *ODD_CATEGORICAL, *ODD_COHORTS]}),
        (
            "plain",
            {
                **_renamed(ODD_NUMERIC, "f"),
                **_renamed(ODD_CATEGORICAL, "g"),
                **_renamed(ODD_COHORTS, "k"),
            },
        ),
    ):
        spec = _odd_spec(names)
        r = ref.rename_columns([names.get(c, c) for c in ref.column_names])
        c = _stored(cur.rename_columns([names.get(x, x) for x in cur.column_names]), spec)
        ref_t, cur_t = register(f"{label}_ref", r), register(f"{label}_cur", c)
        profile = Profile(spec).fit(engine, ref_t)
        batches = [
            {
                "seq": 1,
                "source_columns": "{}",
                "missing_features": "[]",
                "extra_columns": "[]",
            }
        ]
        out[label] = run_checks(engine, cur_t, spec, profile, batches=batches, now=NOW)
        out[label + "_names"] = names  # type: ignore[assignment]
    return out


def _normalised(report: CheckReport, names: dict[str, str]) -> list[dict[str, Any]]:
    back = {v: k for k, v in names.items()}
    out = []
    for r in report.results:
        d = asdict(r)
        d["column"] = back.get(d["column"], d["column"])
        d["cohort"] = back.get(d["cohort"], d["cohort"])
        d["details"].pop("summary", None)
        if "edges_of" in d["details"]:
            d["details"]["edges_of"] = back.get(d["details"]["edges_of"])
        d.pop("bound_how")
        out.append(d)
    return sorted(
        out,
        key=lambda d: (
            d["window"],
            str(d["cohort"]),
            str(d["cohort_value"]),
            d["check"],
            str(d["column"]),
        ),
    )


def _assert_names_do_not_matter(reports: dict[str, Any]) -> None:
    odd = _normalised(reports["odd"], reports["odd_names"])
    plain = _normalised(reports["plain"], reports["plain_names"])
    assert len(odd) == len(plain)
    diff = _close(odd, plain, "results")
    assert not diff, "\n".join(diff[:10])
    # the odd-named numeric features were judged on their own values, not driftline's
    checks = {(r["check"], r["column"]) for r in odd}
    for name in ODD_NUMERIC:
        assert ("out_of_range", name) in checks
        assert ("feature_drift", name) in checks


@pytest.mark.slow
def test_internal_names_cannot_shadow_user_columns_duckdb(tmp_path: Path) -> None:
    import ibis

    con = ibis.duckdb.connect()

    def register(name: str, table: pa.Table) -> Any:
        return con.create_table(name, table)

    _assert_names_do_not_matter(_odd_reports(DuckDBEngine(con), register))


@pytest.mark.spark
def test_internal_names_cannot_shadow_user_columns_spark(spark: Any) -> None:
    engine = SparkEngine(spark)

    def register(name: str, table: pa.Table) -> Any:
        spark.createDataFrame(table).createOrReplaceTempView(f"names_{name}")
        return engine.table(f"names_{name}")

    _assert_names_do_not_matter(_odd_reports(engine, register))


# -- the timestamp role moves -------------------------------------------------------------------
MOVED_SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "at",
    "prediction": "pred",
    "scores": {"columns": {c: f"p_{c}" for c in CLASSES}},
    "cohorts": ["region"],
    "features": {"numeric": ["x"]},
    "window": "1d",
}


def _timed_frame(rng: np.random.Generator, n: int, start: datetime, prefix: str) -> pd.DataFrame:
    p = rng.dirichlet([2.0, 2.0, 2.0], n)
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "at": [start + timedelta(minutes=int(m)) for m in np.sort(rng.integers(0, 1440, n))],
            "pred": np.asarray(CLASSES)[p.argmax(axis=1)],
            **{f"p_{c}": p[:, i] for i, c in enumerate(CLASSES)},
            "region": rng.choice(["eu", "us"], n),
            "x": rng.normal(0, 1, n),
        }
    )


@pytest.fixture(scope="module")
def moved_role(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store whose spec's timestamp role moved from ``at`` to ``event_time``: day 0's
    batch brought ``event_time`` (a day after ``at``) as a column the spec did not name,
    day 1's did not bring it at all, day 3's (logged after the move) has it."""
    tmp = tmp_path_factory.mktemp("moved")
    rng = np.random.default_rng(41)

    def later(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(event_time=frame["at"] + timedelta(days=1))

    ref = later(_timed_frame(rng, 1500, START - timedelta(days=20), "ref-"))
    day0 = later(_timed_frame(rng, 90, START, "d0-"))
    day1 = _timed_frame(rng, 70, START + timedelta(days=1), "d1-")
    path, profile = tmp / "m.duckdb", tmp / "m.json"
    with driftline.connect(path, MOVED_SPEC, profile=profile) as mon:
        mon.log_reference(ref)
        mon.log_predictions(day0)
        mon.log_predictions(day1)
        mon.check()
    moved = {**MOVED_SPEC, "timestamp": "event_time"}
    (tmp / "spec.yaml").write_text(yaml.safe_dump(moved))
    # fitted again on the new spec, where the CLI looks for it
    with driftline.connect(path, tmp / "spec.yaml") as mon:
        mon.fit_profile()
        mon.log_predictions(later(_timed_frame(rng, 80, START + timedelta(days=2), "d3-")))
        first = mon.check()
        again = mon.check()  # incremental: nothing new
        stored = mon.store.con.execute("SELECT * FROM predictions").to_arrow_table()
        batches = mon.store.batches().to_pylist()
        prof = mon.profile
    return {
        "tmp": tmp,
        "first": first,
        "again": again,
        "stored": stored,
        "batches": batches,
        "spec": Spec.model_validate(moved),
        "profile": prof,
    }


def _days(report: CheckReport) -> list[str]:
    return sorted({r.window_start[:10] for r in report.results})


def test_a_moved_timestamp_role_reads_what_the_batches_brought_and_leaves_out_the_rest(
    moved_role: dict[str, Any],
) -> None:
    """Moving the timestamp role to another column breaks no check: rows whose batch
    brought that column unnamed are windowed by the values logging kept (nothing stored
    is lost), rows whose batch never had it are left out of every window and counted."""
    first, again = moved_role["first"], moved_role["again"]
    assert first.untimed == again.untimed == 70  # day 1's rows
    # day 0's rows by their event_time (a day later), day 3's by theirs
    assert _days(first) == _days(again) == ["2024-03-02", "2024-03-04"]
    n = {s.window_start[:10]: s.n for s in first.stats if s.cohort is None}
    assert n == {"2024-03-02": 90, "2024-03-04": 80}
    # event_time is named now: no longer reported as unknown; ``at``, which the spec no
    # longer names, is unknown wherever a batch brought it (days 0 and 3), as in a store
    # logged under the new spec
    unknown = {(r.window_start[:10], r.column) for r in first.results_for("extra_column")}
    assert unknown == {("2024-03-02", "at"), ("2024-03-04", "at")}
    fields = ("window", "cohort_value", "check", "column", "value", "status")

    def rows(rep: CheckReport) -> list[str]:
        return sorted(repr([getattr(r, f) for f in fields]) for r in rep.results)

    assert rows(first) == rows(again)


@pytest.mark.spark
def test_a_moved_timestamp_role_spark_equals_duckdb(
    request: pytest.FixtureRequest, moved_role: dict[str, Any]
) -> None:
    spark = request.getfixturevalue("spark")
    spark.createDataFrame(moved_role["stored"].to_pandas()).createOrReplaceTempView("moved")
    eng = SparkEngine(spark)
    report = run_checks(
        eng,
        eng.table("moved"),
        moved_role["spec"],
        moved_role["profile"],
        batches=moved_role["batches"],
        now=datetime.fromisoformat(moved_role["first"].created_at.replace("Z", "")),
    )
    duck = moved_role["first"]
    assert report.untimed == duck.untimed == 70
    diff = _close([asdict(r) for r in report.results], [asdict(r) for r in duck.results], "moved")
    assert not diff, "\n".join(diff[:10])


def test_a_moved_timestamp_role_is_said_by_the_cli(
    moved_role: dict[str, Any], run_cli: RunCli
) -> None:
    tmp = moved_role["tmp"]
    args = ["--spec", str(tmp / "spec.yaml"), "--store", str(tmp / "m.duckdb")]
    done = run_cli("check", *args)
    assert done.code in (0, 1), done.err
    assert "70 stored prediction(s) have no value in the timestamp column" in done.out
    assert "left out of every window" in done.out
    page = driftline.render_report(moved_role["first"], tmp / "moved.html").read_text()
    assert "70 stored prediction(s) have no value in the timestamp column" in page


def test_a_moved_prediction_role_leaves_old_windows_undecided_not_broken(
    tmp_path: Path,
) -> None:
    """The prediction role moved to a column the earlier batches never had: their
    windows have no predicted class, so the class-mix checks say so there (``no_data``)
    instead of failing the check, and decide the windows logged since."""
    rng = np.random.default_rng(43)

    def relabelled(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(served=frame["pred"])

    path, profile = tmp_path / "p.duckdb", tmp_path / "p.json"
    ref = relabelled(_timed_frame(rng, 1500, START - timedelta(days=20), "ref-"))
    with driftline.connect(path, MOVED_SPEC, profile=profile) as mon:
        mon.log_reference(ref)
        mon.log_predictions(_timed_frame(rng, 90, START, "d0-"))
        mon.check()
    profile.unlink()
    moved = {**MOVED_SPEC, "prediction": "served"}
    with driftline.connect(path, moved, profile=profile) as mon:
        mon.fit_profile()
        mon.log_predictions(relabelled(_timed_frame(rng, 90, START + timedelta(days=1), "d1-")))
        report = mon.check()
    mix = {r.window_start[:10]: r for r in report.results_for("class_mix") if r.cohort is None}
    assert mix["2024-03-01"].status == "no_data"
    assert "no row of this window has a predicted class" in mix["2024-03-01"].bound_how
    assert mix["2024-03-02"].status in ("ok", "warn", "alert")
