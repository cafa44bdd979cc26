"""CSV input and output of the command (the stdlib ``csv`` module; the first line is a header).

* ``forecast`` with ``column``: that column, top to bottom, is one numeric series.
* ``forecast`` without ``column`` (the lecture's file layout): each row is one series, left to
  right.  The first column is the row's name (e.g. ``Fortune500``, a ticker) when any of its cells
  is not a number; every other cell must be a number, except that trailing empty cells are allowed
  (series of different lengths).
* ``classify``: a text column and, for training, a label column with exactly two distinct values.
  Numbers map in numeric order (smaller → 0), anything else in alphabetical order ("neg" → 0,
  "pos" → 1); the names are kept, so predictions use the file's own label values.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.app.errors import AppError

__all__ = [
    "SeriesTable",
    "binary_labels",
    "column_index",
    "is_number",
    "read_csv",
    "read_series",
    "read_texts",
    "to_csv",
]


def read_csv(path) -> tuple[list[str], list[list[str]]]:
    """(header, data rows) of a CSV file; blank lines are skipped."""
    path = Path(path)
    if not path.exists():
        raise AppError(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise AppError(f"data file {str(path)!r} is not a file")
    csv.field_size_limit(1 << 30)  # long reviews are legitimate
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError as e:
        raise AppError(f"{str(path)!r} is not UTF-8 text: {e.reason} at byte {e.start}") \
            from None
    except csv.Error as e:
        raise AppError(f"{str(path)!r} is not a valid CSV file: {e}") from None
    except OSError as e:
        raise AppError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    if not rows:
        raise AppError(f"{str(path)!r} is empty: expected a header line and data rows")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if not body:
        raise AppError(f"{str(path)!r} has a header but no data rows")
    return header, body


def column_index(header, name, path, option) -> int:
    """Position of column ``name`` (given by command option ``option``) in ``header``."""
    if name not in header:
        shown = ", ".join(repr(h) for h in header[:10]) + (", ..." if len(header) > 10 else "")
        raise AppError(f"column {name!r} ({option}) not found in {str(path)!r}; its columns "
                       f"are {shown}")
    return header.index(name)


def _number(cell: str):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def is_number(cell: str) -> bool:
    """Whether a CSV cell holds a finite number."""
    return _number(cell.strip()) is not None


@dataclass
class SeriesTable:
    """Numeric series read from a CSV: ``series`` (list of 1-D float64), one name per output row."""
    series: list
    names: list
    name_header: str
    column: str | None


def read_series(path, column=None) -> SeriesTable:
    """The series of a forecast CSV under the rules in the module docstring."""
    header, body = read_csv(path)
    if column is not None:
        j = column_index(header, column, path, "--column")
        values = []
        for i, row in enumerate(body, start=2):
            cell = row[j].strip() if j < len(row) else ""
            v = _number(cell)
            if v is None:
                raise AppError(f"{str(path)!r} line {i}: column {column!r} holds {cell!r}, "
                               "not a number (the series must be numeric)")
            values.append(v)
        return SeriesTable([np.array(values)], [str(k) for k in range(1, len(body) + 1)], "row",
                           column)
    has_names = any(not is_number(r[0]) for r in body)
    first = 1 if has_names else 0
    series, names = [], []
    for i, row in enumerate(body, start=2):
        cells = [c.strip() for c in row[first:]]
        while cells and cells[-1] == "":
            cells.pop()
        values = []
        for k, cell in enumerate(cells, start=first):
            v = _number(cell)
            if v is None:
                col = header[k] if k < len(header) else f"#{k + 1}"
                raise AppError(f"{str(path)!r} line {i}, column {col!r}: {cell!r} is not a "
                               "number (each row must be a numeric series; use --column C "
                               "for a series in one column)")
            values.append(v)
        if not values:
            raise AppError(f"{str(path)!r} line {i}: the row holds no values")
        series.append(np.array(values))
        names.append(row[0].strip() if has_names else str(i - 1))
    name_header = (header[0] or "name") if has_names else "row"
    return SeriesTable(series, names, name_header, None)


def binary_labels(values, path, column):
    """(0/1 int array, [name of 0, name of 1]) for a column with exactly two distinct values."""
    distinct = sorted(set(values))
    if len(distinct) != 2:
        shown = ", ".join(repr(v) for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise AppError(f"labels in column {column!r} of {str(path)!r} are not binary: "
                       f"{len(distinct)} distinct value(s) ({shown}); a binary task needs "
                       "exactly two")
    if all(is_number(v) for v in distinct):
        distinct.sort(key=float)
    lookup = {v: k for k, v in enumerate(distinct)}
    return np.array([lookup[v] for v in values], dtype=np.int64), distinct


def read_texts(path, text_column, label_column=None, require_labels=True):
    """(texts, raw labels or None) of a classify CSV."""
    header, body = read_csv(path)
    jt = column_index(header, text_column, path, "--text-column")
    jl = None
    if label_column is not None and (require_labels or label_column in header):
        jl = column_index(header, label_column, path, "--label-column")
    texts, labels = [], []
    for i, row in enumerate(body, start=2):
        if jt >= len(row) or (jl is not None and jl >= len(row)):
            raise AppError(f"{str(path)!r} line {i}: {len(row)} fields, fewer than the "
                           f"header's {len(header)}")
        texts.append(row[jt])
        if jl is not None:
            labels.append(row[jl].strip())
    return texts, (labels if jl is not None else None)


def to_csv(header, rows) -> str:
    """``header`` and ``rows`` as CSV text (``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
