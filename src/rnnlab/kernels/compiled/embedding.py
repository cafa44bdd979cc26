"""Compiled row gather and scatter-add of the Embedding: ``Y_i = E[idx_i]`` and, for its
gradient, ``dE[idx_i] += dY_i`` over the ids of a batch.

Only the rows that occur are touched (the table may have 10,000+ rows).  Inside a training step
the table and its gradient are cold in cache (the optimizer's pass over the other arrays has
evicted them), so both loops wait on memory; they run on Numba's threads.  The scatter splits
the *table's rows* between threads (each thread scans all ids and adds those in its range), so
every row still receives its values in the order of the ids, and the sums equal
:func:`rnnlab.kernels.reference.embedding.embedding_scatter_add` (``np.add.at``) bit for bit.

The public functions return None for arrays they do not handle (not a C-contiguous 2-D table),
and :class:`~rnnlab.kernels.compiled.CompiledOps` then falls back to the reference.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from rnnlab.runtime import split_threads

#: batches of fewer ids than this stay on one thread (a parallel region costs ~10 µs)
PARALLEL_MIN_IDS = 512


@njit(cache=True, error_model="numpy")
def _scatter_add(target, idx, values):
    d = target.shape[1]
    for i in range(idx.shape[0]):
        r = idx[i]
        for j in range(d):
            target[r, j] += values[i, j]


@njit(cache=True, error_model="numpy", parallel=True)
def _scatter_add_par(target, idx, values, parts):
    """:func:`_scatter_add` with rows [lo, hi) of ``target`` per part: same order per row."""
    v, d = target.shape
    step = (v + parts - 1) // parts
    for p in prange(parts):
        lo = p * step
        hi = min(v, lo + step)
        for i in range(idx.shape[0]):
            r = idx[i]
            if lo <= r < hi:
                for j in range(d):
                    target[r, j] += values[i, j]


@njit(cache=True, error_model="numpy", parallel=True)
def _gather(table, idx, out):
    d = table.shape[1]
    for i in prange(idx.shape[0]):
        r = idx[i]
        for j in range(d):
            out[i, j] = table[r, j]


def embedding_gather(table, ids):
    """``table[ids]`` (shape ``ids.shape + (D,)``) for ids already checked to be in range; rows
    gathered on Numba's threads.  None if the batch is small or the table not a C-contiguous
    2-D array (the reference's ``np.take`` then does it)."""
    idx = np.ascontiguousarray(ids, dtype=np.int64)
    if table.ndim != 2 or not table.flags.c_contiguous or idx.size < PARALLEL_MIN_IDS:
        return None
    out = np.empty(idx.shape + (table.shape[1],), dtype=table.dtype)
    _gather(table, idx.ravel(), out.reshape(idx.size, table.shape[1]))
    return out


def embedding_scatter_add(target, ids, values):
    """``target[ids[i]] += values[i]`` (repeated ids add up), in place; returns ``target``, or
    None if ``target`` is not a C-contiguous 2-D array (the reference then does it)."""
    if target.ndim != 2 or not target.flags.c_contiguous:
        return None
    idx = np.ascontiguousarray(ids, dtype=np.int64).ravel()
    vals = np.ascontiguousarray(values, dtype=target.dtype).reshape(-1, target.shape[1])
    if vals.shape[0] != idx.shape[0]:
        raise ValueError(f"embedding_scatter_add: {idx.shape[0]} ids but {vals.shape[0]} rows of "
                         "values")
    if idx.size and (idx.min() < 0 or idx.max() >= target.shape[0]):
        raise IndexError(f"embedding_scatter_add: index out of range [0, {target.shape[0]})")
    parts = split_threads() or numba.get_num_threads()
    if idx.shape[0] < PARALLEL_MIN_IDS or parts < 2:
        _scatter_add(target, idx, vals)
    else:
        _scatter_add_par(target, idx, vals, parts)
    return target
