"""Language-model training data from a token-id sequence.

* :func:`windows`: x = ``length`` consecutive ids, y = the id after them (for a model that reads
  a window and predicts one next token, ``return_sequences=False``);
* :func:`sequence_windows`: x = ``length`` ids, y = the same ids shifted by one (a next-token
  target at every step, for ``return_sequences=True`` and a sparse categorical loss);
* :func:`stateful_batches`: Keras-style contiguous batches for stateful training: the text is cut
  into ``batch_size`` parallel streams, and row i of batch k+1 continues row i of batch k, so
  ``fit(x, y, batch_size=batch_size, shuffle=False)`` carries each stream's state on.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks


def _ids(ids, who: str, need: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
        raise ValueError(f"{who} takes a 1-D sequence of integer token ids, got "
                         f"{ids.dtype} of shape {ids.shape}")
    if ids.size < need:
        raise ValueError(f"{who} needs at least {need} tokens, got {ids.size}")
    return ids.astype(np.int64, copy=False)


def windows(ids, length: int, step: int = 1):
    """``(x (N, length), y (N,))``: every window of ``length`` ids (every ``step``-th start) and
    the id that follows it."""
    who = "windows()"
    length = checks.positive_int(length, "length", who)
    step = checks.positive_int(step, "step", who)
    ids = _ids(ids, who, length + 1)
    starts = np.arange(0, ids.size - length, step)
    x = ids[starts[:, None] + np.arange(length)]
    return x, ids[starts + length]


def sequence_windows(ids, length: int, step: int | None = None):
    """``(x (N, length), y (N, length))`` with ``y[:, s] = x[:, s+1]`` in the text; windows start
    every ``step`` ids (``length`` by default: non-overlapping)."""
    who = "sequence_windows()"
    length = checks.positive_int(length, "length", who)
    step = checks.positive_int(length if step is None else step, "step", who)
    ids = _ids(ids, who, length + 1)
    starts = np.arange(0, ids.size - length, step)
    idx = starts[:, None] + np.arange(length)
    return ids[idx], ids[idx + 1]


def stateful_batches(ids, batch_size: int, length: int):
    """``(x, y)`` of shape (n_batches·batch_size, length) for stateful training.

    The ids are cut into ``batch_size`` streams of equal length (the remainder at the end is
    dropped); batch k holds, in row i, the k-th piece of ``length`` ids of stream i, and y the
    same pieces shifted by one id.  Rows ``k·batch_size … (k+1)·batch_size - 1`` are batch k, so
    feeding them in order with ``shuffle=False`` continues every stream from batch to batch.
    """
    who = "stateful_batches()"
    batch_size = checks.positive_int(batch_size, "batch_size", who)
    length = checks.positive_int(length, "length", who)
    ids = _ids(ids, who, batch_size * length + 1)
    per_stream = (ids.size - 1) // batch_size
    n_batches = per_stream // length
    streams = np.arange(batch_size)[:, None] * per_stream           # (b, 1) stream starts
    pos = np.arange(n_batches)[:, None, None] * length + streams[None] + np.arange(length)
    x = ids[pos].reshape(n_batches * batch_size, length)
    y = ids[pos + 1].reshape(n_batches * batch_size, length)
    return x, y
