"""Tables as lists of dicts (one dict a row) written to CSV through :func:`rnnlab.io.atomic_write`,
so a failed write leaves an existing file as it was.  The columns are the keys in the order they
first appear; arrays (e.g. conformal half-widths) are written space-separated."""
from __future__ import annotations

import csv

import numpy as np

from rnnlab.io import atomic_write

__all__ = ["columns", "write_csv"]


def columns(rows) -> list:
    seen = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, np.ndarray):
        return " ".join(repr(float(x)) for x in v.ravel())
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return v


def write_csv(rows, path) -> None:
    """Write ``rows`` (a non-empty list of dicts) as CSV with a header line."""
    rows = list(rows)
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("write_csv() rows must be a non-empty list of dicts")
    cols = columns(rows)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
