"""``driftline.__all__`` lists exactly the public names of ``driftline/__init__.py``.

Pattern: httpx ``tests/test_exported_members.py``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import driftline


def _names_in_init() -> set[str]:
    """Names ``driftline/__init__.py`` binds: imports (also those under ``if
    TYPE_CHECKING:``, which name the lazily imported public API for type checkers),
    assignments, defs and classes."""
    tree = ast.parse(Path(driftline.__file__).read_text())
    names: set[str] = set()
    body = list(tree.body)
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            body += node.body
    for node in body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest."""
    if name.isupper():
        return 0, name
    if name[0].isupper():
        return 1, name
    return 2, name


def test_all_has_no_duplicates() -> None:
    assert len(driftline.__all__) == len(set(driftline.__all__))


def test_all_is_sorted() -> None:
    assert driftline.__all__ == sorted(driftline.__all__, key=_isort_key)


def test_all_lists_exactly_the_public_names_of_init() -> None:
    public = {n for n in _names_in_init() if not n.startswith("_") and n not in _PLUMBING}
    public = {n for n in public if not inspect.ismodule(getattr(driftline, n))}
    assert set(driftline.__all__) == public


#: What ``driftline/__init__.py`` imports to import the rest lazily.
_PLUMBING = {"TYPE_CHECKING", "Any", "annotations"}


def test_every_public_name_has_a_home() -> None:
    """The lazy import table (``_HOME``) and ``__all__`` name the same things, and each
    name is found in its home module."""
    assert set(driftline._HOME) == set(driftline.__all__)
    for name, home in driftline._HOME.items():
        assert getattr(importlib.import_module(home), name) is getattr(driftline, name)


def test_all_lists_every_public_attribute() -> None:
    public = {
        name
        for name in dir(driftline)
        if not name.startswith("_")
        and name not in _PLUMBING
        and not inspect.ismodule(getattr(driftline, name))
    }
    assert set(driftline.__all__) == public


def test_importing_driftline_loads_no_engine() -> None:
    """``import driftline`` and rendering a saved report need neither Ibis nor DuckDB (a
    renderer reads a JSON; the engine takes a second to import)."""
    code = (
        "import sys, driftline, driftline.report\n"
        "_ = driftline.CHECKS, driftline.ConfigError, driftline.render_report\n"
        "print(sorted(m for m in ('ibis', 'duckdb', 'pyspark', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "driftline" in sys.modules


def test_every_exported_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from driftline import *", namespace)
    for name in driftline.__all__:
        assert namespace[name] is getattr(driftline, name)
        assert getattr(driftline, name) is not None


def test_exported_classes_and_functions_come_from_driftline() -> None:
    for name in driftline.__all__:
        value = getattr(driftline, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("driftline."), name


def test_logging_predictions_loads_no_engine(
    tmp_path: Path,
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: Callable[..., Any],
) -> None:
    """Logging a batch needs the store (DuckDB) only: ``driftline log`` starts without
    Ibis, the checks or the profile (about a second of imports)."""
    batch = tmp_path / "batch.parquet"
    make_predictions().to_parquet(batch)
    spec = tmp_path / "driftline.yaml"
    spec.write_text(json.dumps(make_spec()))  # JSON is YAML
    code = (
        "import sys, driftline\n"
        f"with driftline.connect({str(tmp_path / 's.duckdb')!r}, {str(spec)!r}) as mon:\n"
        f"    assert mon.log_predictions({str(batch)!r}).rows == 20\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ibis'\n"
        "    or m in ('driftline.checks', 'driftline.profile', 'driftline.engine')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
