"""CSV input and output of the command, read as a stream (the stdlib ``csv`` module; the first
line is a header).

* ``forecast`` with ``column``: that column, top to bottom, is one numeric series.
* ``forecast`` without ``column`` (the lecture's file layout): each row is one series, left to
  right.  The first column is the row's name (e.g. ``Fortune500``, a ticker) when any of its cells
  is not a number; every other cell must be a number, except that trailing empty cells are allowed
  (series of different lengths).
* ``classify``: a text column and, for training, a label column with exactly two distinct values.
  Numbers map in numeric order (smaller → 0), anything else in alphabetical order ("neg" → 0,
  "pos" → 1); the names are kept, so predictions use the file's own label values.

Every data row is kept.  A blank cell where a value belongs is a missing value: an error naming
its line and column unless ``missing`` says what to do (:data:`MISSING`: ``"drop"`` skips it,
``"ffill"`` repeats the series' previous value).  Empty lines are not rows (as in pandas) except
in a one-column file, where an empty line before the last data row is how a blank cell looks.
Line numbers in messages are the file's physical lines (counting empty lines and the lines of
quoted multi-line fields).  Duplicate column names are refused: a name must say which column.

Files are read row by row, never whole: values go straight into NumPy float64 chunks.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from rnnlab.app.errors import AppError

__all__ = [
    "MISSING",
    "CsvFile",
    "binary_label_names",
    "check_missing",
    "column_index",
    "column_values",
    "has_name_column",
    "is_number",
    "row_series",
    "text_rows",
]

#: What a blank cell may become: an error (the default), skipped, or the previous value.
MISSING = ("error", "drop", "ffill")
#: The longest field read (a review of 32 MiB is not a review; a hostile file is refused cheaply).
FIELD_LIMIT = 32 << 20
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def check_missing(missing, allowed=MISSING) -> str:
    """``missing`` if it is one of ``allowed``, else AppError naming the option."""
    if missing not in allowed:
        raise AppError(f"--missing must be one of {', '.join(allowed)}, got {missing!r}")
    return missing


def _number(cell: str):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def is_number(cell: str) -> bool:
    """Whether a CSV cell holds a finite number."""
    return _number(cell.strip()) is not None


def _first_bad_utf8(path) -> tuple[int, int]:
    """(physical line, byte offset) of the first bytes of ``path`` that are not UTF-8."""
    line, offset, carry = 1, 0, b""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 16)
            data = carry + block
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as e:
                if not (block and e.reason == "unexpected end of data"):
                    return line + data[:e.start].count(b"\n"), offset + e.start
                good = e.start                     # a character cut by the end of the block
            line += data[:good].count(b"\n")
            offset += good
            carry = data[good:]
            if not block:
                return line, offset


class CsvFile:
    """One pass over a CSV file (a context manager): its ``header``, then :meth:`rows`.

    Errors (missing file, not UTF-8, broken quoting, no header, no data row, duplicate column
    names) are AppError naming the file and the physical line; the first three checks are made
    on entering (which reads up to the first data row)."""

    def __init__(self, path):
        path = Path(path)
        if not path.exists():
            raise AppError(f"data file {str(path)!r} does not exist")
        if not path.is_file():
            raise AppError(f"data file {str(path)!r} is not a file")
        self.path = path
        self.name = repr(str(path))
        self.header: list[str] = []
        self.header_line = 0
        self.rows_read = 0
        self._fh = None
        self._reader = None
        self._rows = self._first = None
        self._end = 0           # the last physical line of the record read last

    def __enter__(self) -> CsvFile:
        csv.field_size_limit(FIELD_LIMIT)
        try:
            self._fh = open(self.path, newline="", encoding="utf-8-sig")
        except OSError as e:
            raise AppError(f"cannot read {self.name}: {e.strerror or e}") from None
        try:
            self._reader = csv.reader(self._fh)
            while (rec := self._next()) is not None and _blank(rec[1]):
                pass
            if rec is None:
                raise AppError(f"{self.name} is empty: expected a header line and data rows")
            self.header_line = rec[0]
            self.header = [h.strip() for h in rec[1]]
            self._rows = self._data_rows()
            self._first = next(self._rows, None)
            if self._first is None:
                raise AppError(f"{self.name} has a header but no data rows")
            self._check_header()
        except BaseException:
            self._fh.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def _check_header(self) -> None:
        seen = {}
        for k, h in enumerate(self.header, start=1):
            if h and h in seen:
                raise AppError(f"{self.name} line {self.header_line}: column name {h!r} appears "
                               f"twice (columns {seen[h]} and {k}); rename one, so that a name "
                               "says which column")
            seen.setdefault(h, k)

    def _next(self):
        """(first physical line, fields) of the next record, or None at the end of the file."""
        try:
            fields = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as e:
            why = (f"a field longer than the limit of {FIELD_LIMIT:,} characters"
                   if "field limit" in str(e) else f"not valid CSV ({e})")
            raise AppError(f"{self.name} line {self._reader.line_num}: {why}") from None
        except UnicodeDecodeError as e:
            line, offset = _first_bad_utf8(self.path)
            raise AppError(f"{self.name} is not UTF-8 text: line {line} (byte {offset}): "
                           f"{e.reason}") from None
        except OSError as e:
            raise AppError(f"cannot read {self.name}: {e.strerror or e}") from None
        start, self._end = self._end + 1, self._reader.line_num
        return start, fields

    def rows(self):
        """Yield ``(line, fields)`` for each data row, ``line`` its first physical line.

        Empty lines are skipped, except in a one-column file, where one before the last data
        row is a row with a blank cell."""
        first, self._first = self._first, None
        if first is not None:
            self.rows_read += 1
            yield first
        for rec in self._rows:
            self.rows_read += 1
            yield rec

    def _data_rows(self):
        one_column = len(self.header) == 1
        pending = []                       # empty lines of a one-column file, not yet placed
        while (rec := self._next()) is not None:
            line, fields = rec
            if one_column and not fields:
                pending.append(line)
                continue
            if not one_column and _blank(fields):
                continue
            for p in pending:
                yield p, [""]
            pending.clear()
            yield line, fields

    def column(self, k: int) -> str:
        """The header's name of column ``k`` (from 0), or ``#k+1`` past the header."""
        return repr(self.header[k]) if k < len(self.header) else f"#{k + 1}"

    @staticmethod
    def field_line(line: int, fields, k: int) -> int:
        """The physical line where field ``k`` of a record starting at ``line`` starts."""
        return line + sum(len(_LINE_BREAK.findall(f)) for f in fields[:k])

    def where(self, line, fields, k) -> str:
        """``'file' line L, column 'c'`` for field ``k`` of the record at ``line``."""
        return f"{self.name} line {self.field_line(line, fields, k)}, column {self.column(k)}"


def _blank(fields) -> bool:
    """An empty or whitespace-only line (which is not a data row of a multi-column file)."""
    return len(fields) <= 1 and not "".join(fields).strip()


def column_index(header, name, path, option) -> int:
    """Position of column ``name`` (given by command option ``option``) in ``header``."""
    if name not in header:
        shown = ", ".join(repr(h) for h in header[:10]) + (", ..." if len(header) > 10 else "")
        raise AppError(f"column {name!r} ({option}) not found in {str(path)!r}; its columns "
                       f"are {shown}")
    return header.index(name)


def _blank_error(where: str, missing: str, first: bool = False, series: bool = True):
    if missing == "ffill" and first:
        return AppError(f"{where} is blank and no earlier value can fill it (--missing ffill "
                        "repeats the previous value); fill it in, or use --missing drop")
    if not series:
        return AppError(f"{where} is blank (a missing value); fill it in, or skip such rows "
                        "with --missing drop")
    return AppError(f"{where} is blank (a missing value); fill it in, or choose what to do with "
                    "blank cells: --missing drop (skip them) or --missing ffill (repeat the "
                    "previous value)")


def column_values(f: CsvFile, column: str, missing: str = "error"):
    """Yield the value of ``column`` in each data row of ``f`` (float; NaN for a blank cell
    skipped by ``missing="drop"``, the previous value for ``"ffill"``)."""
    j = column_index(f.header, column, f.path, "--column")
    last = None
    for line, fields in f.rows():
        cell = fields[j].strip() if j < len(fields) else ""
        if not cell:
            if missing == "drop":
                yield math.nan
                continue
            if missing == "ffill" and last is not None:
                yield last
                continue
            raise _blank_error(f.where(line, fields, j), missing, last is None)
        v = _number(cell)
        if v is None:
            raise AppError(f"{f.where(line, fields, j)} holds {cell!r}, not a number (the "
                           "series must be numeric)")
        last = v
        yield v


def has_name_column(path) -> bool:
    """Whether the first column of a one-series-per-row file holds names: whether any of its
    cells is not a number (a pass that stops at the first such cell)."""
    with CsvFile(path) as f:
        return any(not is_number(fields[0]) for _, fields in f.rows())


def row_series(f: CsvFile, names: bool, missing: str = "error"):
    """Yield ``(line, name, values)`` for each row of a one-series-per-row file: ``values`` a
    float64 array of the row's numbers (after ``names``' first column, trailing blanks cut)."""
    first = 1 if names else 0
    for line, fields in f.rows():
        cells = [c.strip() for c in fields[first:]]
        while cells and not cells[-1]:
            cells.pop()
        values, last = [], None
        for k, cell in enumerate(cells, start=first):
            if not cell:
                if missing == "drop":
                    continue
                if missing == "ffill" and last is not None:
                    values.append(last)
                    continue
                raise _blank_error(f.where(line, fields, k), missing, last is None)
            v = _number(cell)
            if v is None:
                raise AppError(f"{f.where(line, fields, k)}: {cell!r} is not a number (each row "
                               "must be a numeric series; use --column C for a series in one "
                               "column)")
            values.append(v)
            last = v
        if not values:
            raise AppError(f"{f.name} line {line}: the row holds no values")
        yield line, (fields[0].strip() if names else str(f.rows_read)), np.array(values)


def text_rows(f: CsvFile, text_column, label_column=None, require_labels=True,
              missing="error"):
    """Yield ``(line, text, label)`` for each data row of a classify file.

    ``label`` is None without a label column (allowed when not ``require_labels``) and for a
    blank label when labels are optional.  A blank text (or a blank label when required) is an
    error naming its line, unless ``missing="drop"``: then it is None (the caller skips it)."""
    jt = column_index(f.header, text_column, f.path, "--text-column")
    jl = None
    if label_column is not None and (require_labels or label_column in f.header):
        jl = column_index(f.header, label_column, f.path, "--label-column")
    width = len(f.header)
    for line, fields in f.rows():
        if jt >= len(fields) or (jl is not None and jl >= len(fields)):
            raise AppError(f"{f.name} line {line}: {len(fields)} fields, fewer than the "
                           f"header's {width}")
        text = fields[jt]
        label = None if jl is None else fields[jl].strip()
        if not text.strip():
            if missing != "drop":
                raise _blank_error(f.where(line, fields, jt), missing, series=False)
            text = None
        if jl is not None and not label:
            if require_labels and missing != "drop":
                raise _blank_error(f.where(line, fields, jl), missing, series=False)
            label = None
        yield line, text, label


def binary_label_names(distinct, path, column):
    """[name of 0, name of 1] for the distinct values of a label column (exactly two)."""
    distinct = sorted(distinct)
    if len(distinct) != 2:
        shown = ", ".join(repr(v) for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise AppError(f"labels in column {column!r} of {str(path)!r} are not binary: "
                       f"{len(distinct)} distinct value(s) ({shown}); a binary task needs "
                       "exactly two")
    if all(is_number(v) for v in distinct):
        distinct.sort(key=float)
    return distinct
