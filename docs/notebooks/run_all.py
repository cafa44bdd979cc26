"""Run the lecture's notebooks top to bottom in a Jupyter kernel; fail on any cell's error.

    RNNLAB_NOTEBOOK_QUICK=1 python docs/notebooks/run_all.py [--out DIR] [NOTEBOOK ...]

Needs the ``notebooks`` extra (``pip install -e ".[notebooks]"``: ipykernel brings the
``python3`` kernel).  The notebooks in the repository are never written to; ``--out DIR`` saves
the executed copies there (to export with ``jupyter nbconvert --to html``).  Prints each
notebook's time.  Exit status 1 when a cell raised, with the cell and its error.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("timeseries.ipynb", "text.ipynb")


def run(path: Path, out: Path | None, timeout: int) -> float:
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(out / path.name))
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=[HERE / n for n in NOTEBOOKS])
    parser.add_argument("--out", type=Path, default=None,
                        help="save the executed notebooks in this folder")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    failed = False
    for path in args.notebooks:
        try:
            seconds = run(path, args.out, args.timeout)
            print(f"{path.name}: ran in {seconds:.1f} s", flush=True)
        except CellExecutionError as e:
            print(f"{path.name}: FAILED\n{e}", file=sys.stderr, flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
