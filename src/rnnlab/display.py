"""Rich output in a Jupyter kernel, without importing IPython.

``model.summary()`` prints a table in a terminal and shows an HTML table in a notebook, as
Keras's does.  The engine may not import IPython (an optional extra), so this module only looks
at what the running process has already loaded: a Jupyter kernel has imported IPython and its
display machinery before any cell runs; a terminal or a test has not.
"""
from __future__ import annotations

import sys

__all__ = ["kernel_display", "in_notebook", "show"]


def kernel_display():
    """IPython's ``display`` function when this process is a Jupyter (ipykernel) kernel, else
    None (a terminal, a script, the IPython console, a test)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    if shell is None or getattr(shell, "kernel", None) is None:  # only ipykernel's shell has one
        return None
    for name in ("IPython.display", "IPython.core.display_functions"):
        display = getattr(sys.modules.get(name), "display", None)
        if callable(display):
            return display
    return None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where rich objects render as HTML or images)."""
    return kernel_display() is not None


def show(obj) -> bool:
    """Display ``obj`` (an object with ``_repr_html_``, an image...) in the kernel; False, and
    nothing shown, outside one."""
    display = kernel_display()
    if display is None:
        return False
    display(obj)
    return True
