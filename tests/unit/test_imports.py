"""The package's import graph: every import resolves, and no two modules import each other
(also through lazy imports inside functions): the layering is one-way."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

from support import ROOT

PKG = ROOT / "toolchain"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    pkg = _module_name(path).split(".")
    if path.name != "__init__.py":
        pkg = pkg[:-1]
    base = pkg[: len(pkg) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path, top_level_only: bool):
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            yield node, _absolute(node, path)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name


MODULES = sorted(PKG.rglob("*.py"))


def test_every_import_in_the_package_resolves():
    missing = []
    for path in MODULES:
        for node, target in _imports(path, top_level_only=False):
            if not target.startswith("toolchain"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if importlib.util.find_spec(target) is None:
                missing.append(f"{where}: no module {target}")
                continue
            if isinstance(node, ast.ImportFrom):
                module = importlib.import_module(target)
                for alias in node.names:
                    if alias.name == "*" or hasattr(module, alias.name):
                        continue
                    if importlib.util.find_spec(f"{target}.{alias.name}") is None:
                        missing.append(f"{where}: {target} has no {alias.name}")
    assert missing == []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        name = _module_name(path)
        edges = graph.setdefault(name, set())
        for node, target in _imports(path, top_level_only=False):
            if target.startswith("toolchain") and target != name:
                if isinstance(node, ast.ImportFrom):
                    for alias in node.names:   # `from . import flags` imports a module
                        sub = f"{target}.{alias.name}"
                        edges.add(sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists()
                                  else target)
                else:
                    edges.add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_imports_have_no_cycle():
    # A package's __init__ importing its own modules is not a cycle of concern.
    graph = {k: {v for v in vs if not (k.count(".") and v == k.rsplit(".", 1)[0])}
             for k, vs in _graph().items()}
    assert [" -> ".join(c) for c in _cycles(graph)] == []


def test_the_cycle_check_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
