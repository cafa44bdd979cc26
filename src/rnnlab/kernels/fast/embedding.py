"""Compiled scatter-add of embedding gradients: ``dE[idx_i] += dY_i`` over the ids of a batch.

Only the rows that occur are touched (the table may have 10,000+ rows), in the order of the ids,
so the sums equal :func:`rnnlab.kernels.conv.scatter_add_rows` (``np.add.at``) bit for bit.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from rnnlab.kernels import conv as _ref


@njit(cache=True, error_model="numpy")
def _scatter_add(target, idx, values):
    d = target.shape[1]
    for i in range(idx.shape[0]):
        r = idx[i]
        for j in range(d):
            target[r, j] += values[i, j]


def scatter_add_rows(target, indices, values):
    """``target[indices[i]] += values[i]`` (repeated ids add up), in place; returns ``target``."""
    if target.ndim != 2 or not target.flags.c_contiguous:
        return _ref.scatter_add_rows(target, indices, values)
    idx = np.ascontiguousarray(indices, dtype=np.int64).ravel()
    vals = np.ascontiguousarray(values, dtype=target.dtype).reshape(-1, target.shape[1])
    if vals.shape[0] != idx.shape[0]:
        raise ValueError(f"scatter_add_rows: {idx.shape[0]} indices but {vals.shape[0]} rows of "
                         "values")
    if idx.size and (idx.min() < 0 or idx.max() >= target.shape[0]):
        raise IndexError(f"scatter_add_rows: index out of range [0, {target.shape[0]})")
    _scatter_add(target, idx, vals)
    return target
