"""toolchain/data by concern: no import cycle, no private name borrowed, no rich, and
every module importable on its own."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from support import ROOT

DATA = ROOT / "toolchain" / "data"
MODULES = sorted(p.stem for p in DATA.glob("*.py") if p.stem != "__init__")


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(data module imported, names taken from it, line) for every import in `module`,
    at any depth (function-level imports count too)."""
    tree = ast.parse((DATA / f"{module}.py").read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level == 1 and node.module:                  # from .x import a
                found.append((node.module.split(".")[0], names, node.lineno))
            elif node.level == 1:                                # from . import x
                found.extend((n, [], node.lineno) for n in names)
            elif node.level == 2 and node.module and node.module.startswith("data."):
                found.append((node.module.split(".")[1], names, node.lineno))
            elif node.level == 0 and node.module and node.module.startswith("toolchain.data."):
                found.append((node.module.split(".")[2], names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("toolchain.data."):
                    found.append((a.name.split(".")[2], [], node.lineno))
    return [f for f in found if f[0] in MODULES]


def _graph() -> dict[str, set[str]]:
    return {m: {dep for dep, _, _ in _imports(m)} for m in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path [a, b, ..., a], or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep]      # the open nodes are the path
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    assert _cycle({"a": {"a"}}) == ["a", "a"]


def test_data_modules_import_each_other_without_a_cycle():
    graph = _graph()
    assert {"binfmt", "formats", "preprocess", "sidecar"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_data_module_takes_another_ones_private_names():
    borrowed = [f"{m}.py:{line} takes {name} from {dep}"
                for m in MODULES for dep, names, line in _imports(m)
                for name in names if name.startswith("_")]
    assert borrowed == []


def test_data_modules_do_not_draw_progress_themselves():
    users = [m for m in MODULES for node in ast.walk(ast.parse((DATA / f"{m}.py").read_text()))
             if isinstance(node, (ast.Import, ast.ImportFrom))
             and any(n.startswith("rich") for n in
                     ([a.name for a in node.names] if isinstance(node, ast.Import)
                      else [node.module or ""]))]
    assert users == []


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module):
    proc = subprocess.run([sys.executable, "-c", f"import toolchain.data.{module}"],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_preprocess_run_never_imports_numpy(tmp_path):
    """Neither the parent nor the workers' image path import numpy: the import alone is
    0.2 s of a 16-core run's start-up, and its BLAS threads then spin a core's worth of CPU."""
    from PIL import Image

    data = tmp_path / "data"
    (data / "val").mkdir(parents=True)
    for i, size in enumerate([(300, 260), (260, 300), (400, 256)]):
        Image.new("RGB", size, (9 * i, 80, 200)).save(data / "val" / f"{i}.png")
    (data / "val_list.txt").write_text("".join(f"val/{i}.png {i}\n" for i in range(3)))
    code = ("import sys\n"
            "from toolchain.data.preprocess import preprocess_dataset, process_image\n"
            f"image = process_image({str(data / 'val' / '0.png')!r})\n"   # a worker's work
            "print(len(image), 'numpy' in sys.modules)\n"
            f"r = preprocess_dataset({str(data)!r}, None, {str(tmp_path / 'v.bin')!r}, jobs=2)\n"
            "print(r.count, r.jobs, 'numpy' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["602112", "False", "3", "2", "False"]
