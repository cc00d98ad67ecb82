"""The package's layers: each module imports only from its own layer or the ones below,
and no two modules import each other at import time.

Read from the source with ``ast`` (nothing is imported): every ``import driftline...``
at module level and inside functions (a lazy import upward is a cycle waiting for the
first caller), except under ``if TYPE_CHECKING:``. The leaf, :mod:`driftline._catalog`,
holds what lower layers need to name things of the upper ones (the check table, the
type families, sentinels), so the spec validates check names without importing the
checks and a renderer reads a saved result without the engine.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "driftline"

#: Lowest first. A module belongs to the first layer with an entry it equals or lies under.
LAYERS: list[tuple[str, ...]] = [
    ("_catalog", "errors", "_process"),
    ("_io", "methods", "scenarios", "robustness", "explain", "text_embeddings"),
    ("spec",),
    ("engine",),
    ("_ingest", "store", "sources", "profile", "thresholds", "performance", "embeddings"),
    ("checks",),
    ("incidents", "queues"),
    ("report", "monitor", "demo", "demo_text"),
    ("integrations", "demo_torch"),
    ("cli", "__main__", ""),  # "" is the package itself: the public API imports everything
]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    for level, names in enumerate(LAYERS):
        for name in names:
            if name and (module == name or module.startswith(name + ".")):
                return level
    if module == "":
        return len(LAYERS) - 1
    raise AssertionError(f"driftline.{module} is in no layer: add it to LAYERS")


def _imports(tree: ast.AST) -> Iterator[tuple[str, bool]]:
    """``(module, at import time)`` of each driftline import, skipping TYPE_CHECKING blocks."""

    def visit(node: ast.AST, top: bool) -> Iterator[tuple[str, bool]]:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (i for child in node.orelse for i in visit(child, top))
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "driftline" or node.module.startswith("driftline."):
                yield node.module.removeprefix("driftline").removeprefix("."), top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "driftline" or alias.name.startswith("driftline."):
                    yield alias.name.removeprefix("driftline").removeprefix("."), top
        inner = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, True)


GRAPH = {
    _module(p): list(_imports(ast.parse(p.read_text(encoding="utf-8"))))
    for p in sorted(ROOT.rglob("*.py"))
}


@pytest.mark.parametrize("module", sorted(GRAPH), ids=lambda m: m or "driftline")
def test_imports_come_from_the_same_layer_or_below(module: str) -> None:
    upward = [
        f"driftline.{target} (layer {_layer(target)})"
        for target, _ in GRAPH[module]
        if _layer(target) > _layer(module)
    ]
    assert upward == [], f"driftline.{module} (layer {_layer(module)}) imports {upward}"


def test_no_import_cycles() -> None:
    """At import time (module level), the modules form no cycle."""
    edges = {
        m: {t for t, top in targets if top and t in GRAPH and t != m}
        for m, targets in GRAPH.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycles.append([*stack[stack.index(t) :], t])
            elif t not in state:
                walk(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
    assert cycles == [], [" -> ".join(c) for c in cycles]


def test_the_layer_table_covers_every_module() -> None:
    for module in GRAPH:
        _layer(module)  # raises for a module in no layer
    assert len(GRAPH) > 30
