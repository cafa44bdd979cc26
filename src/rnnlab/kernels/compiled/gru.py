"""Compiled whole-sequence forward/backward of the GRU (both ``reset_after`` variants): the same
contract and results as :mod:`rnnlab.kernels.reference.gru` (whose docstring holds the equations
and their gradient); the split of the work between BLAS and the compiled loops is in
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


class GRUIn(NamedTuple):
    """The recurrence's inputs: ``xw`` = X·kernel + b (N, T, 3u) (a placeholder in the cache),
    h0 (N, u), U (u, 3u), the recurrent bias rb (3u,) (zeros without one), ρ (N, u) and the step
    mask (N, T) (dummies when absent)."""
    xw: np.ndarray
    h0: np.ndarray
    U: np.ndarray
    rb: np.ndarray
    rho: np.ndarray
    sm: np.ndarray


class GRUOpts(NamedTuple):
    """Scalars of the compiled loops: recurrent bias and masks present, the variant, activation
    codes (c for h̃, rc for the gates), float32 fast tanh, pre-activations kept, 1 in the arrays'
    dtype."""
    has_rb: bool
    reset_after: bool
    has_rho: bool
    has_sm: bool
    c: int
    rc: int
    fast: bool
    keep_pre: bool
    one: np.floating


class GRUBuf(NamedTuple):
    """What the forward writes: pre-activations [a_z a_r a_h] (the gates themselves when not
    kept), gates [z r h̃], q = h_{t-1}U_h + rb_h (reset_after) or p = r⊙(h_{t-1}⊙ρ), and h_t."""
    pre: np.ndarray
    gates: np.ndarray
    aux: np.ndarray
    out: np.ndarray


class GRUCache(NamedTuple):
    x: np.ndarray
    kernel: np.ndarray
    has_bias: bool
    inp: GRUIn
    opts: GRUOpts
    buf: GRUBuf


@njit(parallel=True, **JIT)
def _gru_fwd(inp, o, buf):
    """The whole recurrence of each sample in one compiled loop, samples in parallel.  The
    pre-activations pass through the scratch ``a`` and are stored in ``pre`` only if the backward
    pass needs them (see :func:`~rnnlab.kernels.compiled.common.needs_pre`); arithmetic stays in
    the arrays' dtype (``one``)."""
    xw = inp.xw
    h0 = inp.h0
    U = inp.U
    rbias = inp.rb
    rho = inp.rho
    sm = inp.sm
    has_rb = o.has_rb
    reset_after = o.reset_after
    has_rho = o.has_rho
    has_sm = o.has_sm
    c = o.c
    rc = o.rc
    fast = o.fast
    keep_pre = o.keep_pre
    one = o.one
    pre = buf.pre
    gates = buf.gates
    aux = buf.aux
    out = buf.out
    n_, t_, g3 = xw.shape
    u = g3 // 3
    for n in prange(n_):        # samples are independent: one per thread
        hd = np.empty(u, dtype=xw.dtype)
        hu = np.empty(g3, dtype=xw.dtype)
        a = np.empty(g3, dtype=xw.dtype)
        g = np.empty(g3, dtype=xw.dtype)
        p = np.empty(u, dtype=xw.dtype)
        hp = h0[n].copy()
        for t in range(t_):
            for k in range(u):
                hd[k] = hp[k] * rho[n, k] if has_rho else hp[k]
            ncols = g3 if reset_after else 2 * u
            for j in range(ncols):
                hu[j] = 0.0
            for k in range(u):
                hk = hd[k]
                for j in range(ncols):
                    hu[j] += hk * U[k, j]
            if has_rb:
                for j in range(g3):
                    hu[j] += rbias[j]
            keep = (not has_sm) or sm[n, t]
            for j in range(2 * u):
                a[j] = xw[n, t, j] + hu[j]
            act_range(rc, fast, a, g, 0, 2 * u)
            if reset_after:
                for j in range(u):
                    q = hu[2 * u + j]
                    aux[n, t, j] = q
                    a[2 * u + j] = xw[n, t, 2 * u + j] + g[u + j] * q
            else:
                for k in range(u):
                    p[k] = g[u + k] * hd[k]
                    aux[n, t, k] = p[k]
                for j in range(u):
                    hu[2 * u + j] = 0.0
                for k in range(u):
                    pk = p[k]
                    for j in range(u):
                        hu[2 * u + j] += pk * U[k, 2 * u + j]
                for j in range(u):
                    a[2 * u + j] = xw[n, t, 2 * u + j] + hu[2 * u + j]
            act_range(c, fast, a, g, 2 * u, g3)
            if keep_pre:
                for j in range(g3):
                    pre[n, t, j] = a[j]
            for j in range(g3):
                gates[n, t, j] = g[j]
            for j in range(u):
                z = g[j]
                if keep:
                    hp[j] = z * hp[j] + (one - z) * g[2 * u + j]
                out[n, t, j] = hp[j]


@njit(parallel=True, **JIT)
def _gru_bwd(d_out, g_last, inp, o, buf, dxw, dhu, g0):
    """BPTT of each sample in one compiled loop, samples in parallel.  The activations'
    derivatives come from their outputs where they can (``pre`` is then the gates themselves)
    into the scratch ``gd``; arithmetic stays in the arrays' dtype."""
    h0 = inp.h0
    U = inp.U
    rho = inp.rho
    sm = inp.sm
    reset_after = o.reset_after
    has_rho = o.has_rho
    has_sm = o.has_sm
    c = o.c
    rc = o.rc
    one = o.one
    pre = buf.pre
    gates = buf.gates
    aux = buf.aux
    out = buf.out
    n_, t_, g3 = pre.shape
    u = g3 // 3
    zero = one - one
    for n in prange(n_):        # samples are independent: one per thread
        g = g_last[n].copy()
        dh = np.empty(u, dtype=pre.dtype)
        dah = np.empty(u, dtype=pre.dtype)
        dp = np.empty(u, dtype=pre.dtype)
        dhd = np.empty(u, dtype=pre.dtype)
        gd = np.empty(g3, dtype=pre.dtype)
        for t in range(t_ - 1, -1, -1):
            keep = (not has_sm) or sm[n, t]
            hp = out[n, t - 1] if t > 0 else h0[n]
            deriv_range(rc, pre, gates, n, t, 0, 2 * u, gd, 0)
            deriv_range(c, pre, gates, n, t, 2 * u, g3, gd, 0)
            for j in range(u):
                g[j] += d_out[n, t, j]
                dh[j] = g[j] if keep else zero
                z = gates[n, t, j]
                hh = gates[n, t, 2 * u + j]
                dz = dh[j] * (hp[j] - hh)
                dah[j] = (dh[j] * (one - z)) * gd[2 * u + j]
                dxw[n, t, j] = dz * gd[j]
                dxw[n, t, 2 * u + j] = dah[j]
            if reset_after:
                for j in range(u):
                    dxw[n, t, u + j] = (dah[j] * aux[n, t, j]) * gd[u + j]
                for j in range(2 * u):
                    dhu[n, t, j] = dxw[n, t, j]
                for j in range(u):
                    dhu[n, t, 2 * u + j] = dah[j] * gates[n, t, u + j]
                for k in range(u):
                    s = zero
                    for j in range(g3):
                        s += dhu[n, t, j] * U[k, j]
                    dhd[k] = s
            else:
                for k in range(u):
                    s = zero
                    for j in range(u):
                        s += dah[j] * U[k, 2 * u + j]
                    dp[k] = s
                for j in range(u):
                    hdj = hp[j] * rho[n, j] if has_rho else hp[j]
                    dxw[n, t, u + j] = (dp[j] * hdj) * gd[u + j]
                for k in range(u):
                    s = zero
                    for j in range(2 * u):
                        s += dxw[n, t, j] * U[k, j]
                    dhd[k] = s + dp[k] * gates[n, t, u + k]
            for k in range(u):
                v = dhd[k] * rho[n, k] if has_rho else dhd[k]
                v = v + dh[k] * gates[n, t, k]
                g[k] = v if keep else v + g[k]
        for k in range(u):      # element by element: a row assignment compiles a shape check
            g0[n, k] = g[k]     # whose error message alone takes seconds to compile


def gru_forward(x, states, weights, rec_mask=None, step_mask=None, *, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True):
    """Run the whole sequence; return ``(outputs (N, T, u), (h_T,), cache)``."""
    (h0,), kernel, recurrent_kernel, bias = cell_args(states, weights, 1, "gru_forward")
    reset_after = bool(reset_after)
    u = recurrent_kernel.shape[0]
    in_bias = rec_bias = None
    if bias is not None:
        in_bias, rec_bias = (bias[0], bias[1]) if reset_after else (bias, None)
    p = prep(x, kernel, in_bias, rec_mask, step_mask, u)
    dt = p.dt
    xw = p.xw
    n, t, g3 = xw.shape
    rb = np.zeros(g3, dt) if rec_bias is None else np.ascontiguousarray(rec_bias, dtype=dt)
    inp = GRUIn(xw, np.ascontiguousarray(h0, dtype=dt),
                np.ascontiguousarray(recurrent_kernel, dtype=dt), rb, p.rho, p.sm)
    ca, cr = code(activation), code(recurrent_activation)
    keep_pre = needs_pre(ca) or needs_pre(cr)
    o = GRUOpts(rec_bias is not None, reset_after, p.has_rho, p.has_sm, ca, cr,
                bool(dt == np.float32), keep_pre, dt.type(1.0))
    gates = np.empty_like(xw)
    buf = GRUBuf(np.empty_like(xw) if keep_pre else gates, gates, np.empty((n, t, u), dt),
                 np.empty((n, t, u), dt))
    _gru_fwd(inp, o, buf)
    cache = GRUCache(p.x, kernel, bias is not None, inp._replace(xw=empty3(dt)), o, buf)
    return buf.out, (buf.out[:, -1].copy(),), cache


def gru_backward(d_outputs, d_final_states, cache: GRUCache):
    """Return ``(dx, (dh0,), grads)``; ``grads["bias"]`` has the shape of the bias."""
    x, kernel, has_bias, inp, o, buf = cache
    pre = buf.pre
    dt = pre.dtype
    n, t, g3 = pre.shape
    u = g3 // 3
    (g_last,) = d_states(d_final_states, 1, (n, u), dt, "gru_backward")
    d_out = np.ascontiguousarray(d_outputs, dtype=dt)
    dxw = np.empty_like(pre)
    dhu = np.empty_like(pre) if o.reset_after else empty3(dt)
    g0 = np.empty((n, u), dt)
    _gru_bwd(d_out, g_last, inp, o, buf, dxw, dhu, g0)
    dz2, d_kernel, dx = param_grads(x, dxw, kernel)
    hd = h_prev(buf.out, inp.h0, inp.rho, o.has_rho).reshape(n * t, u)
    if o.reset_after:
        dhu2 = dhu.reshape(n * t, g3)
        d_rec = matmul(hd.T, dhu2)
    else:
        d_rec = np.empty((u, g3), dt)
        d_rec[:, :2 * u] = hd.T @ dz2[:, :2 * u]
        d_rec[:, 2 * u:] = buf.aux.reshape(n * t, u).T @ dz2[:, 2 * u:]
    d_bias = None
    if has_bias:      # column sums as matrix-vector products (faster than .sum(axis=0))
        ones = np.ones(n * t, dtype=dt)
        d_in_bias = ones @ dz2
        d_bias = np.stack([d_in_bias, ones @ dhu2]) if o.reset_after else d_in_bias
    return dx, (g0,), grads_dict(d_kernel, d_rec, d_bias)
