"""One spelling of a cohort value or category, whatever numeric type it came in.

pandas turns an integer column holding one null into floats: a batch of store ids
``1, 2, NaN`` arrives as ``1.0, 2.0, NaN``. Spelled as text the way the number came,
those are new cohort values and unseen categories in that batch only (a false incident,
and a cohort's line broken in two). driftline spells a whole number of a float or
decimal column as the integer it is, at ingest, in sources read in place on both
engines, and wherever the reference is read; a store and a profile written before are
respelled or refused with the fix.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import driftline
from driftline._catalog import value_text_sql
from driftline.errors import ProfileError

SPEC = {
    "scores": {"columns": {"a": "score_a", "b": "score_b"}},
    "cohorts": ["store"],
    "features": {"numeric": ["x"], "categorical": ["code"]},
}


def _frame(n: int, day: str, seed: int, *, floats: bool) -> pd.DataFrame:
    """``n`` predictions of ``day``; ``store`` and ``code`` are 1, 2 or 3, as floats with
    one null (as pandas holds an integer column with a gap) when ``floats``."""
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 4, n)
    df = pd.DataFrame(
        {
            "id": [f"{day}-{i}" for i in range(n)],
            "timestamp": pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86_400, n), "s"),
            "prediction": rng.choice(["a", "b"], n),
            "score_a": rng.random(n),
            "x": rng.normal(size=n),
            "store": values.astype(float) if floats else values,
            "code": values.astype(float) if floats else values,
        }
    )
    df["score_b"] = 1 - df["score_a"]
    if floats:
        df.loc[0, ["store", "code"]] = np.nan
    return df


def _spec(root: Path) -> Path:
    path = root / "driftline.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def _stored(mon: driftline.Monitor) -> dict[str, set[Any]]:
    rows = mon.store.con.execute("SELECT DISTINCT store, code FROM predictions").fetchall()
    return {"store": {r[0] for r in rows}, "code": {r[1] for r in rows}}


def _alerted(report: Any) -> set[tuple[str, str]]:
    return {(a.check, a.column) for a in report.alerts}


@pytest.mark.parametrize(
    "reference_floats", [False, True], ids=["int-reference", "float-reference"]
)
def test_integers_that_pandas_made_floats_are_the_same_cohort_values_and_categories(
    tmp_path: Path, reference_floats: bool
) -> None:
    """A batch whose cohort and categorical columns pandas upcast to floats (one null)
    stores ``1``, not ``1.0``: no new cohort values, no unseen categories, no incident;
    and the same when it is the reference that came as floats."""
    with driftline.connect(tmp_path / "s.duckdb", _spec(tmp_path)) as mon:
        mon.log_reference(_frame(3000, "2026-01-01", 0, floats=reference_floats))
        mon.log_predictions(_frame(1000, "2026-02-01", 1, floats=False))
        mon.log_predictions(_frame(1000, "2026-02-02", 2, floats=True))
        report = mon.check()
        assert _stored(mon) == {"store": {"1", "2", "3", None}, "code": {"1", "2", "3", None}}
        assert sorted(mon.profile.categories_["code"]) == ["1", "2", "3"]
        baselines = sorted((mon.profile.cohorts_ or {})["store"])
        assert baselines == ["(missing)"] * reference_floats + ["1", "2", "3"]
        scopes = {(r.cohort, r.cohort_value) for r in report.results}
        assert scopes == {(None, None), *(("store", v) for v in ("1", "2", "3", "(missing)"))}
        assert not {c for c, _ in _alerted(report)} & {"unseen_category", "feature_drift"}
        assert report.incidents == []


def test_value_spelling_matches_duckdb_text_and_keeps_fractions() -> None:
    """Whole numbers of float and decimal columns read as integers; fractions, huge
    numbers and infinities keep the text DuckDB gives them; NaN is missing (null), as in
    a numeric column; integer and string columns are cast as they were."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES "
        "(3.0::DOUBLE, 3.00::DECIMAL(9,2), 7::BIGINT, '3.0'), "
        "(-2.0, -2.50, -1, '2'), (1.5, 0.00, 0, 'x'), "
        "(1e16, 1.25, 12345678901234567, ''), ('nan'::DOUBLE, NULL, NULL, NULL), "
        "('inf'::DOUBLE, 10.10, 5, 'y'), (-0.0, 1.00, 2, 'z'), (NULL, 2.00, 3, 'w')"
        ") v(f, d, i, s)"
    )
    types = {"f": "DOUBLE", "d": "DECIMAL(9,2)", "i": "BIGINT", "s": "VARCHAR"}
    spelled = con.execute(
        "SELECT " + ", ".join(value_text_sql(c, t) for c, t in types.items()) + " FROM t"
    ).fetchall()
    assert [r[0] for r in spelled] == ["3", "-2", "1.5", "1e+16", None, "inf", "0", None]
    assert [r[1] for r in spelled] == ["3", "-2.5", "0", "1.25", None, "10.1", "1", "2"]
    assert [r[2] for r in spelled] == ["7", "-1", "0", "12345678901234567", None, "5", "2", "3"]
    assert [r[3] for r in spelled] == ["3.0", "2", "x", "", None, "y", "z", "w"]


def _parquet_days(root: Path) -> Path:
    days = root / "days"
    days.mkdir()
    for i, floats in enumerate((False, True)):
        frame = _frame(800, f"2026-02-0{i + 1}", i + 1, floats=floats)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), days / f"d{i}.parquet")
    return days


def _source_check(root: Path, spark: Any = None) -> tuple[list[tuple[Any, ...]], set[Any]]:
    with driftline.connect(root / "s.duckdb", _spec(root), spark=spark) as mon:
        mon.log_reference(_frame(3000, "2026-01-01", 0, floats=False))
        report = mon.check(predictions=_parquet_days(root))
        scopes = sorted({(r.cohort_value or "") for r in report.results if r.cohort})
        decided = sorted(
            (r.window_start, r.cohort_value or "", r.check, r.column or "", r.status)
            for r in report.results
        )
        return decided, {*scopes, *(a.check for a in report.alerts)}


def test_sources_read_in_place_spell_whole_numbers_as_integers(tmp_path: Path) -> None:
    decided, seen = _source_check(tmp_path)
    assert seen == {"1", "2", "3", "(missing)"}
    assert decided


@pytest.mark.spark
def test_sources_on_spark_spell_whole_numbers_as_duckdb_does(tmp_path: Path, spark: Any) -> None:
    (tmp_path / "duck").mkdir()
    (tmp_path / "spark").mkdir()
    on_duckdb = _source_check(tmp_path / "duck")
    on_spark = _source_check(tmp_path / "spark", spark)
    assert on_spark[1] == {"1", "2", "3", "(missing)"}
    assert on_spark == on_duckdb


def _old_store(root: Path) -> tuple[Path, list[tuple[Any, ...]]]:
    """A store as a driftline before this one left it: the float batch's values spelled
    ``1.0``, its summaries stored from them, no ``store_facts``. Returns its path and the
    results a fresh store gives the same batches."""
    spec = _spec(root)
    with driftline.connect(root / "fresh.duckdb", spec) as mon:
        mon.log_reference(_frame(3000, "2026-01-01", 0, floats=False))
        mon.log_predictions(_frame(1000, "2026-02-01", 1, floats=False))
        mon.log_predictions(_frame(1000, "2026-02-02", 2, floats=True))
        fresh = _decisions(mon.check())
    path = root / "old.duckdb"
    with driftline.connect(path, spec) as mon:
        mon.log_reference(_frame(3000, "2026-01-01", 0, floats=False))
        mon.log_predictions(_frame(1000, "2026-02-01", 1, floats=False))
        mon.log_predictions(_frame(1000, "2026-02-02", 2, floats=True))
        con = mon.store.con
        con.execute(
            "UPDATE predictions SET store = store || '.0', code = code || '.0' "
            "WHERE _batch = (SELECT max(_batch) FROM predictions)"
        )
        old = mon.check()
        assert "1.0" in {r.cohort_value for r in old.results}
        con.execute("DROP TABLE store_facts")
    return path, fresh


def _decisions(report: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (r.window_start, r.cohort_value or "", r.check, r.column or "", r.status, r.value)
        for r in report.results
    )


def test_an_older_store_is_respelled_once_and_checks_as_a_fresh_one(tmp_path: Path) -> None:
    path, fresh = _old_store(tmp_path)
    with driftline.connect(path, tmp_path / "driftline.yaml") as mon:
        assert _stored(mon) == {"store": {"1", "2", "3", None}, "code": {"1", "2", "3", None}}
        summaries = mon.store.con.execute("SELECT count(*) FROM summaries").fetchone()
        assert summaries == (0,)  # keyed by the old spelling: summarised again
        assert _decisions(mon.check()) == fresh
        stored = mon.store.con.execute(
            "SELECT DISTINCT cohort_value FROM results WHERE cohort_value IS NOT NULL"
        ).fetchall()
        assert {r[0] for r in stored} == {"1", "2", "3", "(missing)"}
    with driftline.connect(path, tmp_path / "driftline.yaml") as mon:  # once: nothing left
        assert mon.store.con.execute("SELECT count(*) FROM summaries").fetchone() != (0,)


def test_a_string_column_is_never_respelled(tmp_path: Path) -> None:
    """App versions ``2.0`` and ``2`` are two values: only values a batch brought as
    numbers are respelled."""
    spec = _spec(tmp_path)
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        mon.log_reference(_frame(500, "2026-01-01", 0, floats=False))
        texts = _frame(100, "2026-02-01", 1, floats=False)
        texts["store"] = ["2.0", "2"] * 50
        texts["code"] = texts["store"]
        mon.log_predictions(texts)
        mon.store.con.execute("DROP TABLE store_facts")
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        assert _stored(mon) == {"store": {"2.0", "2"}, "code": {"2.0", "2"}}


def _old_spelling(node: Any, under: str = "") -> Any:
    """``node`` as a driftline before profile version 4 wrote it from a float reference:
    the values of ``store`` and ``code`` (keys of the mappings under those names)
    spelled ``1.0``."""
    if isinstance(node, dict):
        respell = under in ("store", "code")
        return {
            (f"{k}.0" if respell and k in ("1", "2", "3") else k): _old_spelling(v, k)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_old_spelling(v) for v in node]
    return node


def test_a_profile_holding_the_old_spelling_is_refused_with_the_fix(tmp_path: Path) -> None:
    """A version-3 profile fitted on a float reference holds ``1.0``: served values now
    read ``1``, so the check refuses it and says to refit; a refit reads ``1``. A
    version-3 profile of an integer reference loads as it is."""
    spec = _spec(tmp_path)
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        mon.log_reference(_frame(3000, "2026-01-01", 0, floats=True))
        mon.log_predictions(_frame(500, "2026-02-01", 1, floats=False))
        path = mon.profile_path
    data = json.loads(Path(path).read_text())
    Path(path).write_text(json.dumps({**_old_spelling(data, "code"), "version": 3}))
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        with pytest.raises(
            ProfileError, match=r"column\(s\) 'store', 'code' as '3.0'.*driftline fit"
        ):
            mon.check()
        mon.fit_profile()
        assert sorted(mon.profile.categories_["code"]) == ["1", "2", "3"]
        assert mon.check().incidents == []
    Path(path).write_text(json.dumps({**data, "version": 3}))
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        assert mon.profile.version_ == 3  # its values read as served: nothing to refit


def test_a_cohort_added_to_the_spec_later_reads_its_raw_numbers_as_integers(
    tmp_path: Path,
) -> None:
    """A column the spec did not name is kept raw; naming it a cohort later fills it from
    there, spelled as logging would have spelled it."""
    spec = {**SPEC, "cohorts": [], "features": {"numeric": ["x"]}}
    path = tmp_path / "driftline.yaml"
    path.write_text(yaml.safe_dump(spec))
    frame = _frame(200, "2026-02-01", 1, floats=True)
    frame["big"] = 12345678901234567
    with driftline.connect(tmp_path / "s.duckdb", path) as mon:
        mon.log_reference(_frame(500, "2026-01-01", 0, floats=False))
        mon.log_predictions(frame)
    path.write_text(yaml.safe_dump({**SPEC, "cohorts": ["store", "big"]}))
    with driftline.connect(tmp_path / "s.duckdb", path) as mon:
        mon.store.ensure_predictions()
        rows = mon.store.con.execute("SELECT DISTINCT store, code, big FROM predictions").fetchall()
    assert {r[0] for r in rows} == {"1", "2", "3", None}
    assert {r[1] for r in rows} == {"1", "2", "3", None}
    assert {r[2] for r in rows} == {"12345678901234567"}


def test_decimal_reference_and_float_batch_agree(tmp_path: Path) -> None:
    """A reference whose cohort is DECIMAL (``3.00``) and a batch of floats (``3.0``) name
    the same cohort values."""
    ref = _frame(2000, "2026-01-01", 0, floats=False)
    ref["store"] = [Decimal(int(v)).quantize(Decimal("0.01")) for v in ref["store"]]
    with driftline.connect(tmp_path / "s.duckdb", _spec(tmp_path)) as mon:
        mon.log_reference(pa.Table.from_pandas(ref, preserve_index=False))
        mon.log_predictions(_frame(500, "2026-02-01", 1, floats=True))
        assert sorted((mon.profile.cohorts_ or {})["store"]) == ["1", "2", "3"]
        report = mon.check()
        assert {r.cohort_value for r in report.results if r.cohort} == {"1", "2", "3", "(missing)"}


def _nan_days(root: Path) -> tuple[Path, Path]:
    """A reference and a day whose float category column holds NaN (not null) and
    +-inf, written as Parquet doubles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(4)
    out = []
    for name, n, day in (("ref", 600, "2024-01-01"), ("day", 300, "2024-02-01")):
        frame = _frame(n, day, 1 if name == "ref" else 2, floats=True)
        codes = rng.choice([1.5, 2.0, np.nan, np.inf, -np.inf], n, p=[0.4, 0.3, 0.2, 0.05, 0.05])
        frame["code"] = codes
        path = root / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        out.append(path)
    return out[0], out[1]


def _nan_profile(root: Path, spark: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    ref = _nan_days(root)[0]
    with driftline.connect(root / "s.duckdb", _spec(root), spark=spark) as mon:
        mon.fit_profile(reference=ref)
        prof = mon.profile
        return prof.categories_["code"], prof.columns_["code"]


def test_nan_in_a_float_category_column_is_missing_on_both_engines(tmp_path: Path) -> None:
    """Spark counted a NaN both missing and a category (a negative 'other', then a check
    that failed); DuckDB made it the category 'nan'. It is missing on both, and the
    infinities are the categories 'inf' and '-inf'."""
    categories, column = _nan_profile(tmp_path)
    assert set(categories) == {"1.5", "2", "inf", "-inf"}
    assert column["other"] == 0
    ref = pd.read_parquet(tmp_path / "ref.parquet")["code"]
    assert column["missing_fraction"] == pytest.approx(ref.isna().mean())


@pytest.mark.spark
def test_nan_in_a_float_category_column_on_spark_equals_duckdb(tmp_path: Path, spark: Any) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "s").mkdir()
    assert _nan_profile(tmp_path / "d") == _nan_profile(tmp_path / "s", spark)
