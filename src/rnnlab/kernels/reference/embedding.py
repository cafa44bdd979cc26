"""The Embedding's kernels: a row gather ``Y_i = E[idx_i]`` and, for its gradient, the
scatter-add ``dE[idx_i] += dY_i`` (repeated ids add up)."""
from __future__ import annotations

import numpy as np


def embedding_gather(table, ids):
    """Rows of ``table`` (V, D) at integer ``ids`` of any shape: ``ids.shape + (D,)``."""
    return np.take(table, ids, axis=0)  # faster than table[ids] for a row gather


def embedding_scatter_add(target, ids, values):
    """``target[ids[i]] += values[i]`` with repeated ids adding up (in place).

    The gradient of a row gather: ``dTable[v] = Σ_{i: idx_i = v} dOut_i``.  ``ids`` of any
    shape, ``values`` of shape ``ids.shape + (D,)``.  Returns ``target``.
    """
    np.add.at(target, np.asarray(ids).ravel(), values.reshape(-1, target.shape[-1]))
    return target
