"""The lecture's notebooks (docs/notebooks) are well formed, stored without outputs, import only
rnnlab (and numpy, os), and are what make_notebooks.py writes.  CI runs them in a kernel in its
own step (docs/notebooks/run_all.py); they are not run here."""
import ast
import importlib.util
from pathlib import Path

import nbformat
import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
NOTEBOOKS = ("timeseries.ipynb", "text.ipynb")
ALLOWED = {"rnnlab", "numpy", "os"}


def _read(name):
    nb = nbformat.read(str(NB_DIR / name), as_version=4)
    nbformat.validate(nb)
    return nb


def _python(cell_source: str) -> str:
    """A cell's code without IPython's magics (%matplotlib inline)."""
    return "\n".join(line for line in cell_source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def _imported_modules(nb) -> set:
    mods = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_python(cell.source))):
            if isinstance(node, ast.Import):
                mods.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                mods.add(node.module)
    return mods


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_parses_and_has_no_outputs(name):
    nb = _read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 10
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_imports_only_rnnlab(name):
    mods = _imported_modules(_read(name))
    tops = {m.split(".")[0] for m in mods}
    assert tops <= ALLOWED, sorted(tops - ALLOWED)
    assert not {"tensorflow", "keras", "torch"} & tops
    assert any(m.startswith("rnnlab.") for m in mods)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_has_the_quick_switch_first_and_the_live_curve(name):
    nb = _read(name)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    assert "RNNLAB_NOTEBOOK_QUICK" in first and "%matplotlib inline" in first
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "LivePlot()" in source and ".summary()" in source and "verbose=1" in source


def test_notebooks_are_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("make_notebooks", NB_DIR / "make_notebooks.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, cells in (("timeseries.ipynb", gen.TIMESERIES), ("text.ipynb", gen.TEXT)):
        stored = [(c.cell_type, c.source) for c in _read(name).cells]
        assert stored == [(c.cell_type, c.source) for c in cells], name


def test_text_notebook_asks_what_he_says_next():
    nb = _read("text.ipynb")
    assert any("What is he going to say next?" in c.source for c in nb.cells
               if c.cell_type == "markdown")
    assert "rnnlab.generation" in _imported_modules(nb)
