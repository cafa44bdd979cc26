"""The layering holds: no import cycle between rnnlab's modules, no import hidden inside a function
(except the optional extras and the compiled kernels' lazy load), and the import contracts and
lint of pyproject.toml pass (import-linter, ruff)."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Imports that may sit inside a function: optional extras, imported only where used.
OPTIONAL = ("matplotlib", "h5py", "onnx", "onnxruntime", "sklearn", "dask", "pandas", "pyarrow",
            "tensorboardX", "statsmodels")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted((SRC / "rnnlab").rglob("*.py"))}


def _resolve(name: str, modules) -> str | None:
    """The rnnlab module an import of ``name`` loads (``pkg.mod.attr`` -> ``pkg.mod``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree, modules):
    """(imported module, inside a function?) for every import of an rnnlab module."""
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                out.extend((a.name, inner) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                out.extend((f"{child.module}.{a.name}", inner) for a in child.names)
            visit(child, inner)

    visit(tree, False)
    return out


def test_no_import_inside_a_function():
    modules = _modules()
    hidden = []
    for name, path in modules.items():
        for imported, inner in _imports(ast.parse(path.read_text()), modules):
            if inner and not imported.startswith(OPTIONAL):
                hidden.append(f"{name} imports {imported} inside a function")
    assert not hidden, "\n".join(hidden)


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imported, _ in _imports(ast.parse(path.read_text()), modules):
            target = _resolve(imported, modules) if imported.startswith("rnnlab") else None
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    # Tarjan's strongly connected components: any component of two or more modules is a cycle
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in graph:
        if v not in index:
            strong(v)
    assert not cycles, f"import cycles: {cycles}"


def _tool(name):
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' brings it")
    return exe


def test_import_contracts_hold():
    res = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_is_clean():
    res = subprocess.run([_tool("ruff"), "check", "src", "tests", "examples", "benchmarks"],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
