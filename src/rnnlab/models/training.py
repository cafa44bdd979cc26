"""Helpers of the training loop: turning user data into checked arrays, batching, progress output.
"""
from __future__ import annotations

import shutil
import sys

import numpy as np
from tqdm.auto import tqdm

from rnnlab import checks


def as_list(data, names, what: str) -> list:
    """Normalise x or y (an array, a list of arrays, or a dict keyed by input/output name)."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"{what} has unknown name(s) {unknown}; the model's are {list(names)}")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{what} is missing entries for {missing}")
        data = [data[n] for n in names]
    elif isinstance(data, (list, tuple)) and len(names) > 1:
        data = list(data)
    else:
        data = [data]
    if len(data) != len(names):
        raise ValueError(f"The model expects {len(names)} {what} arrays ({list(names)}), "
                         f"got {len(data)}")
    out = []
    for name, d in zip(names, data):
        if d is None:
            raise ValueError(f"{what} for {name!r} is None")
        arr = _to_array(d, f"{what} ({name})")
        out.append(arr)
    return out


def _to_array(d, what):
    if hasattr(d, "to_numpy"):  # pandas Series / DataFrame
        d = d.to_numpy()
    try:
        arr = np.asarray(d)
    except ValueError as exc:
        raise ValueError(f"{what} could not be turned into an array: {exc}") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be numeric (got an object array: ragged sequences or "
                            "strings?); pad sequences and tokenize texts first") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch axis, got a scalar")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{what} contains {bad} non-finite value(s) (NaN or inf)")
    return arr


def check_lengths(arrays_by_kind: dict[str, list[np.ndarray]]) -> int:
    """All arrays must share their first (sample) axis; return its length."""
    lengths = {f"{kind}[{i}]": a.shape[0] for kind, arrs in arrays_by_kind.items()
               for i, a in enumerate(arrs) if a is not None}
    values = set(lengths.values())
    if len(values) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise ValueError(f"Data cardinality is ambiguous: inputs and targets must have the same "
                         f"number of samples ({detail})")
    n = values.pop() if values else 0
    if n == 0:
        raise ValueError("No samples: the data arrays are empty")
    return n


def check_batch_size(batch_size) -> int:
    if batch_size is None:
        return 32
    return checks.positive_int(batch_size, "batch_size")


class MeanTracker:
    """Running means over every entry seen (samples × time steps), as Keras's Mean metrics."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}

    def add(self, name, total, count):
        self.sums[name] = self.sums.get(name, 0.0) + float(total)
        self.counts[name] = self.counts.get(name, 0.0) + float(count)

    def result(self) -> dict[str, float]:
        return {k: self.sums[k] / max(self.counts[k], 1e-300) for k in self.sums}


def progress_bar(total, desc, verbose):
    """A tqdm bar per epoch for verbose=1 (Keras's live bar), nothing otherwise."""
    if verbose != 1:
        return None
    width = shutil.get_terminal_size((100, 20)).columns or 100  # a pty may report 0 columns
    return tqdm(total=total, desc=desc, unit="step", file=sys.stdout, leave=True,
                ncols=min(width, 120), mininterval=0.2)


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
