"""Helpers shared by the reference recurrent kernels: time-major views and the weights mapping."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def time_major(a):
    """(N, T, ...) -> (T, N, ...) view, so that a[t] is one step for the whole batch."""
    return a.transpose(1, 0, *range(2, a.ndim))


def batch_major(a):
    """(T, N, ...) -> contiguous (N, T, ...)."""
    return np.ascontiguousarray(a.transpose(1, 0, *range(2, a.ndim)))


def unpack_weights(weights: Mapping):
    """``(kernel, recurrent_kernel, bias)`` of a cell's weights mapping (bias None if missing)."""
    return weights["kernel"], weights["recurrent_kernel"], weights.get("bias")


def unpack_states(states, n: int, what: str):
    """The ``n`` state arrays of a cell as a tuple; ValueError naming the cell otherwise."""
    states = tuple(states)
    if len(states) != n:
        raise ValueError(f"{what} takes {n} state array(s), got {len(states)}")
    return states


def grads_dict(d_kernel, d_rec, d_bias) -> dict:
    """``{"kernel", "recurrent_kernel"[, "bias"]}``: "bias" only if the cell had one."""
    grads = {"kernel": d_kernel, "recurrent_kernel": d_rec}
    if d_bias is not None:
        grads["bias"] = d_bias
    return grads


def zeros_for_none(d_states, like):
    """The gradients of the final states, None replaced by zeros shaped as ``like`` (N, u)."""
    return tuple(np.zeros(like.shape, dtype=like.dtype) if d is None else d for d in d_states)
