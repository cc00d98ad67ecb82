"""Ibis' SQL compilers load one dialect at a time (``driftline.engine._backend.lazy_package``):
a DuckDB engine imports DuckDB's compiler only, every other dialect still compiles when
asked for, and a package whose ``__init__`` does more than import is left as it is."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from driftline.engine._backend import lazy_package

PROBE = """
import sys
import duckdb
from driftline.engine import DuckDBEngine

engine = DuckDBEngine.from_connection(duckdb.connect())
engine.backend.con.execute("CREATE TABLE t AS SELECT 1 AS a, 'x' AS b")
t = engine.table("t")
assert engine.run(t.aggregate(n=t.count())).to_pylist() == [{"n": 1}]
loaded = sorted(m.rpartition(".")[2] for m in sys.modules
                if m.startswith("ibis.backends.sql.compilers."))
print(",".join(loaded))

import ibis
from ibis.backends.sql.compilers import PostgresCompiler, TrinoCompiler
import ibis.backends.sql.compilers as sc
assert sc.PostgresCompiler is PostgresCompiler and sc.trino.TrinoCompiler is TrinoCompiler
for dialect in ("postgres", "trino", "bigquery", "sqlite"):
    assert "t0" in ibis.to_sql(t.filter(t.a > 0).select("b"), dialect=dialect)
try:
    sc.NoSuchCompiler
except AttributeError:
    print("no such name: AttributeError")
"""


def test_a_duckdb_engine_imports_duckdbs_compiler_only() -> None:
    """In a fresh process (the module cache is per process): DuckDB's compiler and the
    shared base only; then other dialects' compilers by name, by submodule and through
    ``ibis.to_sql``; an unknown name is an AttributeError."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "_compat,base,duckdb"
    assert lines[1] == "no such name: AttributeError"


def _package(root: Path, name: str, init: str) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(init))
    (pkg / "one.py").write_text("LOADED = True\nclass One: ...\n")
    (pkg / "two.py").write_text("raise RuntimeError('two is imported')\nclass Two: ...\n")


def test_a_package_of_imports_loads_a_submodule_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(
        tmp_path,
        "dl_lazy_ok",
        '''
        """Doc."""
        from __future__ import annotations
        __all__ = ["One", "Two"]
        from dl_lazy_ok.one import One
        from dl_lazy_ok.two import Two
        ''',
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert lazy_package("dl_lazy_ok")
        assert not lazy_package("dl_lazy_ok")  # once
        import dl_lazy_ok  # type: ignore[import-not-found]

        assert dl_lazy_ok.__all__ == ["One", "Two"]
        assert "dl_lazy_ok.two" not in sys.modules
        assert dl_lazy_ok.One.__module__ == "dl_lazy_ok.one"
        assert dl_lazy_ok.one.LOADED
        with pytest.raises(RuntimeError, match="two is imported"):
            dl_lazy_ok.Two  # noqa: B018 - imported on first access, not before
    finally:
        for m in [m for m in sys.modules if m.startswith("dl_lazy_ok")]:
            del sys.modules[m]


def test_a_package_doing_more_than_import_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(
        tmp_path,
        "dl_lazy_more",
        """
        from dl_lazy_more.one import One
        REGISTRY = {"one": One}
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert not lazy_package("dl_lazy_more")
        assert "dl_lazy_more" not in sys.modules
        import dl_lazy_more  # type: ignore[import-not-found]

        assert dl_lazy_more.REGISTRY["one"] is dl_lazy_more.One
    finally:
        for m in [m for m in sys.modules if m.startswith("dl_lazy_more")]:
            del sys.modules[m]
