"""Compiled whole-sequence forward/backward of SimpleRNN: the same contract and results as
:mod:`rnnlab.kernels.reference.simple_rnn` (whose docstring holds the equations and their
gradient); the split of the work between BLAS and the compiled loops is in
:mod:`rnnlab.kernels.compiled.common`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from rnnlab.kernels.compiled.activations import act_range, code, deriv_range
from rnnlab.kernels.compiled.blas import matmul
from rnnlab.kernels.compiled.common import (
    JIT,
    cell_args,
    d_states,
    empty3,
    grads_dict,
    h_prev,
    needs_pre,
    param_grads,
    prep,
)


class SRNNIn(NamedTuple):
    """The recurrence's inputs: ``xw`` = X·kernel + b (N, T, u) (a placeholder in the cache),
    h0 (N, u), U (u, u), ρ (N, u) or a dummy, step mask (N, T) or a dummy."""
    xw: np.ndarray
    h0: np.ndarray
    U: np.ndarray
    rho: np.ndarray
    sm: np.ndarray


class SRNNOpts(NamedTuple):
    """Scalars of the compiled loops: masks present, activation code, float32 fast tanh, whether
    the pre-activations are kept (:func:`~rnnlab.kernels.compiled.common.needs_pre`), 1 in the
    arrays' dtype."""
    has_rho: bool
    has_sm: bool
    c: int
    fast: bool
    keep_pre: bool
    one: np.floating


class SRNNBuf(NamedTuple):
    """Outputs of the forward loop: h_t (N, T, u), pre-activations Z (``ys`` itself when not
    kept) and act(Z) before masking."""
    out: np.ndarray
    zs: np.ndarray
    ys: np.ndarray


class SimpleRNNCache(NamedTuple):
    x: np.ndarray
    kernel: np.ndarray
    has_bias: bool
    inp: SRNNIn
    opts: SRNNOpts
    buf: SRNNBuf


@njit(parallel=True, **JIT)
def _srnn_fwd(inp, o, buf):
    """The whole recurrence of each sample in one compiled loop, samples in parallel.  Z passes
    through the scratch ``z`` and is stored in ``zs`` only if the backward pass needs it."""
    xw = inp.xw
    h0 = inp.h0
    U = inp.U
    rho = inp.rho
    sm = inp.sm
    has_rho = o.has_rho
    has_sm = o.has_sm
    c = o.c
    fast = o.fast
    keep_pre = o.keep_pre
    out = buf.out
    zs = buf.zs
    ys = buf.ys
    n_, t_, u = xw.shape
    for n in prange(n_):        # samples are independent: one per thread
        hd = np.empty(u, dtype=xw.dtype)
        z = np.empty(u, dtype=xw.dtype)
        y = np.empty(u, dtype=xw.dtype)
        hp = h0[n].copy()
        for t in range(t_):
            for k in range(u):
                hd[k] = hp[k] * rho[n, k] if has_rho else hp[k]
            for j in range(u):
                z[j] = 0.0
            for k in range(u):
                hk = hd[k]
                for j in range(u):
                    z[j] += hk * U[k, j]
            keep = (not has_sm) or sm[n, t]
            for j in range(u):
                z[j] = xw[n, t, j] + z[j]
            act_range(c, fast, z, y, 0, u)
            if keep_pre:
                for j in range(u):
                    zs[n, t, j] = z[j]
            for j in range(u):
                ys[n, t, j] = y[j]
                if keep:
                    hp[j] = y[j]
                out[n, t, j] = hp[j]


@njit(parallel=True, **JIT)
def _srnn_bwd(d_out, g_last, inp, o, buf, dzs, g0):
    """BPTT of each sample in one compiled loop, samples in parallel; f' from the outputs where it
    can (see :func:`~rnnlab.kernels.compiled.common.needs_pre`), arithmetic in the arrays' dtype."""
    U = inp.U
    rho = inp.rho
    sm = inp.sm
    has_rho = o.has_rho
    has_sm = o.has_sm
    c = o.c
    one = o.one
    zs = buf.zs
    ys = buf.ys
    n_, t_, u = zs.shape
    zero = one - one
    for n in prange(n_):        # samples are independent: one per thread
        g = g_last[n].copy()
        dz = np.empty(u, dtype=zs.dtype)
        d = np.empty(u, dtype=zs.dtype)
        for t in range(t_ - 1, -1, -1):
            keep = (not has_sm) or sm[n, t]
            deriv_range(c, zs, ys, n, t, 0, u, d, 0)
            for j in range(u):
                g[j] += d_out[n, t, j]
                dz[j] = (g[j] * d[j]) if keep else zero
                dzs[n, t, j] = dz[j]
            for k in range(u):
                s = zero
                for j in range(u):
                    s += dz[j] * U[k, j]
                if has_rho:
                    s *= rho[n, k]
                g[k] = s if keep else g[k] + s
        for k in range(u):      # element by element: a row assignment compiles a shape check
            g0[n, k] = g[k]     # whose error message alone takes seconds to compile


def simple_rnn_forward(x, states, weights, rec_mask=None, step_mask=None, *, activation="tanh"):
    """Run the whole sequence; return ``(outputs (N, T, u), (h_T,), cache)``."""
    (h0,), kernel, recurrent_kernel, bias = cell_args(states, weights, 1, "simple_rnn_forward")
    u = recurrent_kernel.shape[0]
    p = prep(x, kernel, bias, rec_mask, step_mask, u)
    dt = p.dt
    xw = p.xw
    inp = SRNNIn(xw, np.ascontiguousarray(h0, dtype=dt),
                 np.ascontiguousarray(recurrent_kernel, dtype=dt), p.rho, p.sm)
    c = code(activation)
    keep_pre = needs_pre(c)
    o = SRNNOpts(p.has_rho, p.has_sm, c, bool(dt == np.float32), keep_pre, dt.type(1.0))
    out = np.empty_like(xw)
    ys = np.empty_like(xw)
    buf = SRNNBuf(out, np.empty_like(xw) if keep_pre else ys, ys)
    _srnn_fwd(inp, o, buf)
    cache = SimpleRNNCache(p.x, kernel, bias is not None, inp._replace(xw=empty3(dt)), o, buf)
    return out, (out[:, -1].copy(),), cache


def simple_rnn_backward(d_outputs, d_final_states, cache: SimpleRNNCache):
    """Return ``(dx, (dh0,), grads)``."""
    x, kernel, has_bias, inp, o, buf = cache
    zs = buf.zs
    dt = zs.dtype
    n, t, u = zs.shape
    (g_last,) = d_states(d_final_states, 1, (n, u), dt, "simple_rnn_backward")
    d_out = np.ascontiguousarray(d_outputs, dtype=dt)
    dzs = np.empty_like(zs)
    g0 = np.empty((n, u), dtype=dt)
    _srnn_bwd(d_out, g_last, inp, o, buf, dzs, g0)
    dz2, d_kernel, dx = param_grads(x, dzs, kernel)
    d_rec = matmul(h_prev(buf.out, inp.h0, inp.rho, o.has_rho).reshape(n * t, u).T, dz2)
    d_bias = dz2.sum(axis=0) if has_bias else None
    return dx, (g0,), grads_dict(d_kernel, d_rec, d_bias)
