"""Helpers shared by the compiled recurrent kernels: Numba options, the BLAS products around the
recurrences, optional-array dummies and the weights/states of the cell contract.

The split of the work, the same for every cell:

* BLAS, outside the compiled code: ``xW = X·kernel (+ b)`` for all steps at once, and after the
  backward loop ``dkernel = Xᵀ·dZ``, ``dx = dZ·kernelᵀ``, ``drecurrent_kernel = H_{t-1}ᵀ·dZ`` (one
  matmul over all steps instead of one per step), ``dbias = Σ dZ``; the big products split over
  Numba's threads (:func:`rnnlab.kernels.compiled.blas.matmul`).
* One compiled loop per sample (the samples' recurrences are independent and run in parallel
  with ``prange``; rnnlab.runtime.compute_scope keeps BLAS to one thread meanwhile) that fuses
  the per-step recurrent matvec ``h_{t-1}·U``, the gates and the nonlinearities, and in the
  backward pass produces ``dZ`` and the carried ``dL/dh`` (``dZ·Uᵀ``).

Arrays are batch-major (N, T, ·) throughout, so ``outputs`` needs no transpose.  Activations are
passed into the compiled code as integer codes (:mod:`rnnlab.kernels.compiled.activations`).  The
compiled loops take their arguments bundled in module-level NamedTuples (inputs, options, buffers),
which Numba passes as tuples and caches with ``cache=True``.
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from rnnlab.kernels.compiled.activations import LINEAR, SIGMOID, TANH
from rnnlab.kernels.compiled.blas import matmul

# numpy's error model: no per-division checks
JIT = dict(cache=True, error_model="numpy", fastmath={"reassoc", "contract", "arcp", "nsz"})

_DUMMIES: dict = {}     # read-only helper arrays, made once per shape and dtype


def memo(key, make):
    """A read-only helper array (or tuple of them) made once per ``key``."""
    value = _DUMMIES.get(key)
    if value is None:
        value = _DUMMIES[key] = make()
    return value


def opt(arr, shape1, dtype):
    """(array, flag) for an optional per-sample array; a 1×n dummy of ones (made once, only ever
    read by the kernels) keeps one compiled signature."""
    if arr is None:
        return memo((shape1, np.dtype(dtype)), lambda: np.ones((1, shape1), dtype=dtype)), False
    return np.ascontiguousarray(arr, dtype=dtype), True


def empty3(dt):
    """A (1, 1, 1) placeholder of ``dt`` for a bundle's array that a pass does not need (keeps the
    bundle's type, frees the big array)."""
    return np.empty((1, 1, 1), dtype=dt)


def resolved(dispatcher, *args):
    """The machine code of the compiled ``dispatcher`` for these arguments' types, resolved once
    before a per-step loop: calling it skips Numba's typing of the NamedTuple arguments on every
    call (~7 µs; the large-units LSTM makes two calls a step).  Every later call must pass
    arguments of the same types (same dtypes, ranks and layouts)."""
    sig = tuple(numba.typeof(a) for a in args)
    dispatcher.compile(sig)           # from the on-disk cache, or compiled once
    return dispatcher.overloads[sig].entry_point


def needs_pre(c):
    """Whether the backward pass needs an activation's input z, not just its output y (tanh,
    sigmoid and linear have derivatives in y; see activations.deriv); if not, the kernels store
    no pre-activations and pass the activations' outputs in their place."""
    return c not in (TANH, SIGMOID, LINEAR)


def cell_args(states, weights, n_states, what):
    """``(states tuple, kernel, recurrent_kernel, bias)`` of the cell contract's arguments."""
    states = tuple(states)
    if len(states) != n_states:
        raise ValueError(f"{what} takes {n_states} state array(s), got {len(states)}")
    return states, weights["kernel"], weights["recurrent_kernel"], weights.get("bias")


def d_states(d_final_states, n_states, shape, dt, what):
    """The final states' gradients as C-contiguous arrays of ``dt`` (None counts as zeros)."""
    d = tuple(d_final_states)
    if len(d) != n_states:
        raise ValueError(f"{what} takes {n_states} state gradient(s), got {len(d)}")
    return tuple(np.zeros(shape, dt) if a is None else np.array(a, dtype=dt, order="C")
                 for a in d)


def grads_dict(d_kernel, d_rec, d_bias) -> dict:
    """``{"kernel", "recurrent_kernel"[, "bias"]}``: "bias" only if the cell had one."""
    grads = {"kernel": d_kernel, "recurrent_kernel": d_rec}
    if d_bias is not None:
        grads["bias"] = d_bias
    return grads


class Prepared(NamedTuple):
    """The forward's common start: inputs in the compute dtype, ``xW (+ b)`` and the masks."""
    x: np.ndarray
    xw: np.ndarray
    rho: np.ndarray
    has_rho: bool
    sm: np.ndarray
    has_sm: bool
    dt: np.dtype


def prep(x, kernel, bias_in, rec_mask, step_mask, u) -> Prepared:
    dt = np.result_type(x.dtype, kernel.dtype)
    x = np.ascontiguousarray(x, dtype=dt)
    n, t, m = x.shape
    xw = matmul(x.reshape(n * t, m), np.asarray(kernel, dtype=dt)).reshape(n, t, -1)
    if bias_in is not None:
        xw += bias_in
    rho, has_rho = opt(rec_mask, u, dt)
    sm, has_sm = opt(step_mask, 1, np.bool_)
    return Prepared(x, xw, rho, has_rho, sm, has_sm, dt)


def h_prev(out, h0, rho, has_rho):
    """(N, T, u) array of h_{t-1}⊙ρ for every step (h0 at t = 0)."""
    hp = np.empty_like(out)
    hp[:, 0] = h0
    hp[:, 1:] = out[:, :-1]
    if has_rho:
        hp *= rho[:, None, :]
    return hp


def param_grads(x, dz, kernel):
    """dZ as (N·T, G), dkernel = Xᵀ·dZ and dx = dZ·kernelᵀ, each one BLAS call."""
    n, t, m = x.shape
    g = dz.shape[-1]
    dz2 = dz.reshape(n * t, g)
    d_kernel = matmul(x.reshape(n * t, m).T, dz2)
    dx = matmul(dz2, np.asarray(kernel, dtype=dz.dtype).T).reshape(n, t, m)
    return dz2, d_kernel, dx


def weight_grads(x, dzs, kernel, out, h0, rho, has_rho, has_bias):
    """``(dx, dkernel, drecurrent_kernel, dbias)`` of a cell whose pre-activations are
    ``Z_t = X_t·kernel + (h_{t-1}⊙ρ)·U + b`` (SimpleRNN, LSTM), from dZ (N, T, G).

    ``[dkernel; dU] = [X, H_{t-1}⊙ρ]ᵀ·dZ`` is one BLAS call on the inputs and previous states
    side by side (faster than two), ``dbias = 1ᵀ·dZ`` a matrix-vector product (faster than a
    column sum), ``dx = dZ·kernelᵀ``."""
    n, t, m = x.shape
    u = out.shape[2]
    g = dzs.shape[-1]
    dz2 = dzs.reshape(n * t, g)
    xh = np.empty((n, t, m + u), dtype=dzs.dtype)
    xh[:, :, :m] = x
    xh[:, 0, m:] = h0
    xh[:, 1:, m:] = out[:, :-1]
    if has_rho:
        xh[:, :, m:] *= rho[:, None, :]
    both = matmul(xh.reshape(n * t, m + u).T, dz2)
    dx = matmul(dz2, np.asarray(kernel, dtype=dzs.dtype).T).reshape(n, t, m)
    d_bias = np.ones(n * t, dtype=dzs.dtype) @ dz2 if has_bias else None
    return dx, both[:m], both[m:], d_bias

# Inside the compiled loops the bundles are read field by field (``buf.out``), never unpacked
# (``out, zs, ys = buf``): in a ``parallel=True`` function Numba 0.60-0.68 loses the writes to
# arrays unpacked from a tuple (``a, b = t`` or ``a, b = t.a, t.b``): the parallel fused Adam wrote
# nothing (test_fused_adam_equals_reference caught it).
