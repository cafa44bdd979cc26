"""Compiled whole-sequence forward/backward of SimpleRNN, LSTM and GRU (the "fast" kernels).

Same signatures, caches-in-spirit and results as the reference kernels in
:mod:`rnnlab.kernels.simple_rnn`, :mod:`~rnnlab.kernels.lstm` and :mod:`~rnnlab.kernels.gru`
(whose docstrings hold the equations and their gradients).  The split of the work:

* BLAS, outside the compiled code: ``xW = X·kernel (+ b)`` for all steps at once, and after the
  backward loop ``dkernel = Xᵀ·dZ``, ``dx = dZ·kernelᵀ``, ``drecurrent_kernel = H_{t-1}ᵀ·dZ`` (one
  matmul over all steps instead of one per step), ``dbias = Σ dZ``; the big products split over
  Numba's threads (:func:`rnnlab.kernels.fast.blas.matmul`).
* One compiled loop per sample (the samples' recurrences are independent and run in parallel
  with ``prange``; rnnlab.runtime.compute_scope keeps BLAS to one thread meanwhile) that fuses
  the per-step recurrent matvec ``h_{t-1}·U``, the gates and the nonlinearities, and in the
  backward pass produces ``dZ`` and the carried ``dL/dh`` (``dZ·Uᵀ``).  For large ``units`` the per-step product goes to BLAS instead (a Python loop over
  steps calling a compiled gate kernel), where a tuned GEMM beats a scalar matvec.

Arrays are batch-major (N, T, ·) throughout, so ``outputs`` needs no transpose.  Activations are
passed into the compiled code as integer codes (:mod:`rnnlab.kernels.fast.activations`).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from rnnlab.kernels.fast.activations import (LINEAR, SIGMOID, TANH, act_range, code,
                                             deriv_range, tanh32)
from rnnlab.kernels.fast.blas import matmul

#: units at or above which the per-step recurrent product uses BLAS (LSTM, SimpleRNN, GRU
#: reset_after=True); below it the whole recurrence runs in one compiled loop.
from rnnlab.runtime import BLAS_STEP_UNITS
_JIT = dict(cache=True, error_model="numpy", fastmath={"reassoc", "contract", "arcp", "nsz"})   # numpy's error model: no per-division checks


_DUMMIES: dict = {}     # read-only helper arrays, made once per shape and dtype


def _opt(arr, shape1, dtype):
    """(array, flag) for an optional per-sample array; a 1×n dummy of ones (made once, only ever
    read by the kernels) keeps one compiled signature."""
    if arr is None:
        key = (shape1, np.dtype(dtype))
        dummy = _DUMMIES.get(key)
        if dummy is None:
            dummy = _DUMMIES[key] = np.ones((1, shape1), dtype=dtype)
        return dummy, False
    return np.ascontiguousarray(arr, dtype=dtype), True


def _needs_pre(c):
    """Whether the backward pass needs an activation's input z, not just its output y (tanh,
    sigmoid and linear have derivatives in y; see activations.deriv); if not, the kernels store
    no pre-activations and pass the activations' outputs in their place."""
    return c not in (TANH, SIGMOID, LINEAR)


def _prep(x, kernel, bias_in, rec_mask, step_mask, u):
    dt = np.result_type(x.dtype, kernel.dtype)
    x = np.ascontiguousarray(x, dtype=dt)
    n, t, m = x.shape
    xw = matmul(x.reshape(n * t, m), np.asarray(kernel, dtype=dt)).reshape(n, t, -1)
    if bias_in is not None:
        xw += bias_in
    rho, has_rho = _opt(rec_mask, u, dt)
    sm, has_sm = _opt(step_mask, 1, np.bool_)
    return x, xw, rho, has_rho, sm, has_sm, dt


def _h_prev(out, h0, rho, has_rho):
    """(N, T, u) array of h_{t-1}⊙ρ for every step (h0 at t = 0)."""
    hp = np.empty_like(out)
    hp[:, 0] = h0
    hp[:, 1:] = out[:, :-1]
    if has_rho:
        hp *= rho[:, None, :]
    return hp


def _param_grads(x, dz, kernel):
    """dZ as (N·T, G), dkernel = Xᵀ·dZ and dx = dZ·kernelᵀ, each one BLAS call."""
    n, t, m = x.shape
    g = dz.shape[-1]
    dz2 = dz.reshape(n * t, g)
    d_kernel = matmul(x.reshape(n * t, m).T, dz2)
    dx = matmul(dz2, np.asarray(kernel, dtype=dz.dtype).T).reshape(n, t, m)
    return dz2, d_kernel, dx


def _weight_grads(x, dzs, kernel, out, h0, rho, has_rho, has_bias):
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


# =========================================================================== SimpleRNN
@njit(parallel=True, **_JIT)
def _srnn_fwd(xw, h0, U, rho, has_rho, sm, has_sm, c, fast, keep_pre, out, zs, ys):
    """The whole recurrence of each sample in one compiled loop, samples in parallel.  Z passes
    through the scratch ``z`` and is stored in ``zs`` only if the backward pass needs it."""
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


@njit(parallel=True, **_JIT)
def _srnn_bwd(d_out, g_last, zs, ys, U, rho, has_rho, sm, has_sm, c, dzs, g0, one):
    """BPTT of each sample in one compiled loop, samples in parallel; f' from the outputs where it
    can (see :func:`_needs_pre`), arithmetic in the arrays' dtype."""
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
        g0[n] = g


def simple_rnn_forward(x, h0, kernel, recurrent_kernel, bias, activation="tanh", rec_mask=None,
                       step_mask=None):
    """Run the whole sequence; return ``(outputs (N, T, u), h_T (N, u), cache)``."""
    u = recurrent_kernel.shape[0]
    x, xw, rho, has_rho, sm, has_sm, dt = _prep(x, kernel, bias, rec_mask, step_mask, u)
    n, t, _ = xw.shape
    h0 = np.ascontiguousarray(h0, dtype=dt)
    U = np.ascontiguousarray(recurrent_kernel, dtype=dt)
    c = code(activation)
    keep_pre = _needs_pre(c)
    out = np.empty_like(xw)
    ys = np.empty_like(xw)
    zs = np.empty_like(xw) if keep_pre else ys
    _srnn_fwd(xw, h0, U, rho, has_rho, sm, has_sm, c, dt == np.float32, keep_pre, out, zs, ys)
    cache = (x, h0, out, zs, ys, kernel, U, bias is not None, c, rho, has_rho, sm, has_sm)
    return out, out[:, -1].copy(), cache


def simple_rnn_backward(d_outputs, d_h_last, cache):
    """Return ``(dx, dh0, dkernel, drecurrent_kernel, dbias)``."""
    x, h0, out, zs, ys, kernel, U, has_bias, c, rho, has_rho, sm, has_sm = cache
    dt = zs.dtype
    n, t, u = zs.shape
    d_out = np.ascontiguousarray(d_outputs, dtype=dt)
    g_last = np.ascontiguousarray(d_h_last, dtype=dt)
    dzs = np.empty_like(zs)
    g0 = np.empty((n, u), dtype=dt)
    _srnn_bwd(d_out, g_last, zs, ys, U, rho, has_rho, sm, has_sm, c, dzs, g0, dt.type(1.0))
    dz2, d_kernel, dx = _param_grads(x, dzs, kernel)
    d_rec = matmul(_h_prev(out, h0, rho, has_rho).reshape(n * t, u).T, dz2)
    d_bias = dz2.sum(axis=0) if has_bias else None
    return dx, g0, d_kernel, d_rec, d_bias


# =========================================================================== LSTM
def _std_coefs(ca, cr, dt, u):
    """``(std, sc, off)`` for :func:`_std_gates`: std is True for float32 cells with sigmoid
    gates and a tanh or sigmoid activation (the lecture's last layer is LSTM(1, sigmoid)).
    Made once per (activations, dtype, units) and only ever read by the kernels."""
    key = (ca, cr, np.dtype(dt), u)
    coefs = _DUMMIES.get(key)
    if coefs is None:
        std = dt == np.float32 and ca in (TANH, SIGMOID) and cr == SIGMOID
        sc = np.full(4 * u, 0.5, dtype=dt)
        off = np.ones(4 * u, dtype=dt)
        if ca == TANH:
            sc[2 * u:3 * u] = 1.0
            off[2 * u:3 * u] = 0.0
        coefs = _DUMMIES[key] = (std, sc, off)
    return coefs


@njit(inline="always", **_JIT)
def _gate_acts(a, g, std, sc, off, c, rc, fast, u):
    """g = the LSTM gates' activations of the pre-activations a (4u,): σ for i, f, o (code rc) and
    act for C̃ (code c); one loop for the standard float32 cell (:func:`_std_gates`)."""
    if std:
        _std_gates(a, g, sc, off, 4 * u)
    else:
        act_range(rc, fast, a, g, 0, 2 * u)
        act_range(c, fast, a, g, 2 * u, 3 * u)
        act_range(rc, fast, a, g, 3 * u, 4 * u)


@njit(inline="always", **_JIT)
def _std_gates(a, g, sc, off, g4):
    """All 4u gates of a float32 tanh/sigmoid cell in one loop: g = sc·(off + tanh(sc·a)), with
    (sc, off) = (½, 1) for σ (i, f, o; σ(z) = ½(1 + tanh(z/2)), as the reference) and (1, 0) for
    a tanh C̃.
    Bit for bit :func:`act_range`'s result; one loop over 4u vectorises without the remainder
    loops that three segments of u (10 in the lecture) leave."""
    for j in range(g4):
        g[j] = sc[j] * (off[j] + tanh32(sc[j] * a[j]))


@njit(inline="always", **_JIT)
def _lstm_cell(n, t, a, g, cv, sv, hs, cst, keep, c, rc, fast, u, keep_pre, std, sc, off, pre,
               gates, cnew, snew, out, cs):
    """Gate math of sample n at step t from its complete pre-activations ``a`` (4u,) = xW + hU + b.

    i, f, o = σ(a_i, a_f, a_o); C̃ = act(a_c); C_t = f·C_{t-1} + i·C̃; h_t = o·act(C_t).  States
    ``hs``/``cst`` are (N, u) and are left unchanged at a masked step.  Inlined: no views, no call.
    ``a`` is stored in ``pre`` only if ``keep_pre`` (see :func:`_needs_pre`).
    """
    g4 = 4 * u
    if keep_pre:
        for j in range(g4):
            pre[n, t, j] = a[j]
    _gate_acts(a, g, std, sc, off, c, rc, fast, u)
    for j in range(g4):
        gates[n, t, j] = g[j]
    for j in range(u):
        cv[j] = g[u + j] * cst[n, j] + g[j] * g[2 * u + j]
        cnew[n, t, j] = cv[j]
    act_range(c, fast, cv, sv, 0, u)
    for j in range(u):
        snew[n, t, j] = sv[j]
        if keep:
            hs[n, j] = g[3 * u + j] * sv[j]
            cst[n, j] = cv[j]
        out[n, t, j] = hs[n, j]
        cs[n, t, j] = cst[n, j]


@njit(inline="always", **_JIT)
def _lstm_std_bwd(n, t, dz, gh, gc, keep, u, c0, gates, snew, cs, d_out, one, c_sig):
    """:func:`_lstm_cell_bwd` for sigmoid gates and a tanh (or, with ``c_sig``, sigmoid)
    activation in one pass: the derivatives σ' = σ(1 - σ) and tanh' = 1 - tanh² come from the
    stored outputs inline (``one`` is 1 in the arrays' dtype, so float32 stays float32)."""
    for j in range(u):
        gh[n, j] += d_out[n, t, j]
        c_prev = cs[n, t - 1, j] if t > 0 else c0[n, j]
        dh = gh[n, j] if keep else 0 * one
        dcj = gc[n, j] if keep else 0 * one
        ig = gates[n, t, j]
        fg = gates[n, t, u + j]
        cg = gates[n, t, 2 * u + j]
        og = gates[n, t, 3 * u + j]
        sv = snew[n, t, j]
        dcj = dcj + (dh * og) * (sv * (one - sv) if c_sig else one - sv * sv)
        dz[j] = (dcj * cg) * (ig * (one - ig))
        dz[u + j] = (dcj * c_prev) * (fg * (one - fg))
        dz[2 * u + j] = (dcj * ig) * (cg * (one - cg) if c_sig else one - cg * cg)
        dz[3 * u + j] = (dh * sv) * (og * (one - og))
        if keep:
            gc[n, j] = dcj * fg


@njit(inline="always", **_JIT)
def _lstm_gen_bwd(n, t, dz, gd, sd, gh, gc, keep, c, rc, u, c0, pre, gates, cnew, snew, cs,
                  d_out):
    """:func:`_lstm_cell_bwd` for any activations: their derivatives first into ``gd``/``sd``."""
    g4 = 4 * u
    deriv_range(rc, pre, gates, n, t, 0, 2 * u, gd, 0)
    deriv_range(c, pre, gates, n, t, 2 * u, 3 * u, gd, 0)
    deriv_range(rc, pre, gates, n, t, 3 * u, g4, gd, 0)
    deriv_range(c, cnew, snew, n, t, 0, u, sd, 0)
    for j in range(u):
        gh[n, j] += d_out[n, t, j]
        c_prev = cs[n, t - 1, j] if t > 0 else c0[n, j]
        dh = gh[n, j] if keep else 0.0
        dcj = gc[n, j] if keep else 0.0
        dcj = dcj + (dh * gates[n, t, 3 * u + j]) * sd[j]
        dz[j] = (dcj * gates[n, t, 2 * u + j]) * gd[j]
        dz[u + j] = (dcj * c_prev) * gd[u + j]
        dz[2 * u + j] = (dcj * gates[n, t, j]) * gd[2 * u + j]
        dz[3 * u + j] = (dh * snew[n, t, j]) * gd[3 * u + j]
        if keep:
            gc[n, j] = dcj * gates[n, t, u + j]


@njit(inline="always", **_JIT)
def _lstm_cell_bwd(n, t, dz, gd, sd, gh, gc, keep, c, rc, u, c0, pre, gates, cnew, snew, cs,
                   d_out, dzs, one):
    """dZ_t (4u,) of sample n into ``dz`` and ``dzs[n, t]``; adds d_out into gh and replaces gc by
    the carried cell gradient dC·f (unchanged at a masked step).  With dh = gh, dC = gc:
    dC += dh·o·act'(C_t); dz_i = dC·C̃·σ'; dz_f = dC·C_{t-1}·σ'; dz_c = dC·i·act'; dz_o = dh·act(C_t)·σ'.
    """
    g4 = 4 * u
    if (c == TANH or c == SIGMOID) and rc == SIGMOID:
        _lstm_std_bwd(n, t, dz, gh, gc, keep, u, c0, gates, snew, cs, d_out, one, c == SIGMOID)
    else:
        _lstm_gen_bwd(n, t, dz, gd, sd, gh, gc, keep, c, rc, u, c0, pre, gates, cnew, snew, cs,
                      d_out)
    for j in range(g4):
        dzs[n, t, j] = dz[j]


@njit(parallel=True, **_JIT)
def _lstm_fwd(xw, b, h0, c0, U, rho, has_rho, sm, has_sm, c, rc, fast, keep_pre, std, sc, off,
              pre, gates, cnew, snew, out, cs):
    """Small units: the whole recurrence of each sample in one compiled loop, samples in
    parallel; the recurrent matvec as axpys over rows of U."""
    n_, t_, g4 = xw.shape
    u = g4 // 4
    hs = h0.copy()
    cst = c0.copy()
    for n in prange(n_):
        a = np.empty(g4, dtype=xw.dtype)
        g = np.empty(g4, dtype=xw.dtype)
        cv = np.empty(u, dtype=xw.dtype)
        sv = np.empty(u, dtype=xw.dtype)
        for t in range(t_):
            for j in range(g4):
                a[j] = 0.0
            for k in range(u):
                hk = hs[n, k] * rho[n, k] if has_rho else hs[n, k]
                for j in range(g4):
                    a[j] += hk * U[k, j]
            for j in range(g4):
                a[j] = (xw[n, t, j] + b[j]) + a[j]
            keep = (not has_sm) or sm[n, t]
            _lstm_cell(n, t, a, g, cv, sv, hs, cst, keep, c, rc, fast, u, keep_pre, std, sc, off,
                       pre, gates, cnew, snew, out, cs)


@njit(parallel=True, **_JIT)
def _lstm_bwd(d_out, gh_last, gc_last, h0, c0, U, rho, has_rho, sm, has_sm, c, rc, pre, gates,
              cnew, snew, out, cs, dzs, gh0, gc0, d_rec_n, d_bias_n, one):
    """Small units: BPTT of each sample in one compiled loop, samples in parallel; the carried
    dL/dh = dZ·Uᵀ as one dot product over a row of U per unit.  Each sample's share of the
    recurrent kernel's and the bias's gradients, Σ_t (h_{t-1}⊙ρ)ᵀ·dZ_t and Σ_t dZ_t, is summed
    here into ``d_rec_n[n]`` (u, 4u) and ``d_bias_n[n]`` (4u,) while dZ_t is at hand (cheaper than
    a copy of all previous states for one product afterwards)."""
    n_, t_, g4 = pre.shape
    u = g4 // 4
    zero = one - one
    gh0[:] = gh_last
    gc0[:] = gc_last
    for n in prange(n_):
        dz = np.empty(g4, dtype=pre.dtype)
        gd = np.empty(g4, dtype=pre.dtype)
        sd = np.empty(u, dtype=pre.dtype)
        dr = d_rec_n[n]
        db = d_bias_n[n]
        dr[:] = zero
        db[:] = zero
        for t in range(t_ - 1, -1, -1):
            keep = (not has_sm) or sm[n, t]
            _lstm_cell_bwd(n, t, dz, gd, sd, gh0, gc0, keep, c, rc, u, c0, pre, gates, cnew, snew,
                           cs, d_out, dzs, one)
            for j in range(g4):
                db[j] += dz[j]
            for k in range(u):          # dL/dh_{t-1} = dZ_t·Uᵀ: one dot product of 4u per unit
                a_k = zero
                for j in range(g4):
                    a_k += dz[j] * U[k, j]
                hk = out[n, t - 1, k] if t > 0 else h0[n, k]
                if has_rho:
                    a_k *= rho[n, k]
                    hk *= rho[n, k]
                for j in range(g4):     # dU += (h_{t-1}⊙ρ)ᵀ·dZ_t
                    dr[k, j] += hk * dz[j]
                gh0[n, k] = a_k if keep else gh0[n, k] + a_k


@njit(parallel=True, **_JIT)
def _lstm_step_fwd(t, xw, b, hu, hcur, ccur, sm, has_sm, c, rc, fast, keep_pre, std, sc, off,
                   scratch, gates, cnew, snew, out, cs):
    """Large units: one step for the whole batch, from hu = (h_{t-1}⊙ρ)·U computed by BLAS.
    Same math as :func:`_lstm_cell`, written straight into the step's rows.  The pre-activations
    are kept, if needed, in ``xw`` itself (``xw[:, t] += hu``); otherwise they pass through the
    (N, 4u) ``scratch`` (a separate buffer: in-place activations would not vectorise)."""
    n_, _, g4 = xw.shape
    u = g4 // 4
    for n in prange(n_):
        g = gates[n, t]
        if keep_pre:
            a = xw[n, t]
            for j in range(g4):
                a[j] = (a[j] + b[j]) + hu[n, j]
        else:
            a = scratch[n]
            for j in range(g4):
                a[j] = (xw[n, t, j] + b[j]) + hu[n, j]
        _gate_acts(a, g, std, sc, off, c, rc, fast, u)
        cv = cnew[n, t]
        sv = snew[n, t]
        for j in range(u):
            cv[j] = g[u + j] * ccur[n, j] + g[j] * g[2 * u + j]
        act_range(c, fast, cv, sv, 0, u)
        keep = (not has_sm) or sm[n, t]
        if keep:
            for j in range(u):
                hcur[n, j] = g[3 * u + j] * sv[j]
                ccur[n, j] = cv[j]
        for j in range(u):
            out[n, t, j] = hcur[n, j]
            cs[n, t, j] = ccur[n, j]


@njit(parallel=True, **_JIT)
def _lstm_step_bwd(t, d_out, gh, gc, c0, sm, has_sm, c, rc, pre, gates, cnew, snew, cs, dzs,
                   gd, sd, one):
    """Large units: dZ_t for the whole batch; gh gets d_out added; gc becomes dC·f.  Same math
    as :func:`_lstm_cell_bwd`, dZ written straight into ``dzs[:, t]``; ``gd`` (N, 4u) and ``sd``
    (N, u) are scratch for the activations' derivatives."""
    n_, _, g4 = pre.shape
    u = g4 // 4
    for n in prange(n_):
        keep = (not has_sm) or sm[n, t]
        dz = dzs[n, t]
        if (c == TANH or c == SIGMOID) and rc == SIGMOID:
            _lstm_std_bwd(n, t, dz, gh, gc, keep, u, c0, gates, snew, cs, d_out, one,
                          c == SIGMOID)
        else:
            _lstm_gen_bwd(n, t, dz, gd[n], sd[n], gh, gc, keep, c, rc, u, c0, pre, gates, cnew,
                          snew, cs, d_out)


def lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias, activation="tanh",
                 recurrent_activation="sigmoid", rec_mask=None, step_mask=None):
    """Run the whole sequence; return ``(outputs (N, T, u), h_T, c_T, cache)``."""
    u = recurrent_kernel.shape[0]
    # the bias is added in the kernels' first pass over xW ((xW + b) + hU, as the reference)
    x, xw, rho, has_rho, sm, has_sm, dt = _prep(x, kernel, None, rec_mask, step_mask, u)
    b = (np.zeros(4 * u, dt) if bias is None
         else np.ascontiguousarray(np.asarray(bias).reshape(-1), dtype=dt))
    n, t, g4 = xw.shape
    h0 = np.ascontiguousarray(h0, dtype=dt)
    c0 = np.ascontiguousarray(c0, dtype=dt)
    U = np.ascontiguousarray(recurrent_kernel, dtype=dt)
    ca, cr = code(activation), code(recurrent_activation)
    fast = dt == np.float32
    keep_pre = _needs_pre(ca) or _needs_pre(cr)
    std, sc, off = _std_coefs(ca, cr, dt, u)
    gates = np.empty_like(xw)
    out, cs, snew = np.empty((n, t, u), dt), np.empty((n, t, u), dt), np.empty((n, t, u), dt)
    cnew = np.empty((n, t, u), dt) if has_sm else cs      # C_t before masking = C_t unmasked
    if u >= BLAS_STEP_UNITS:
        pre = xw if keep_pre else gates
        hcur, ccur = h0.copy(), c0.copy()
        hu, scratch = np.empty((n, g4), dt), np.empty((n, g4), dt)
        for s in range(t):
            hd = hcur * rho if has_rho else hcur
            np.matmul(hd, U, out=hu)
            _lstm_step_fwd(s, xw, b, hu, hcur, ccur, sm, has_sm, ca, cr, fast, keep_pre, std,
                           sc, off, scratch, gates, cnew, snew, out, cs)
    else:
        pre = np.empty_like(xw) if keep_pre else gates
        _lstm_fwd(xw, b, h0, c0, U, rho, has_rho, sm, has_sm, ca, cr, fast, keep_pre, std, sc,
                  off, pre, gates, cnew, snew, out, cs)
    cache = (x, h0, c0, out, cs, pre, gates, cnew, snew, kernel, U, bias is not None, ca, cr,
             rho, has_rho, sm, has_sm)
    return out, out[:, -1].copy(), cs[:, -1].copy(), cache


def lstm_backward(d_outputs, d_h_last, d_c_last, cache):
    """Return ``(dx, dh0, dc0, dkernel, drecurrent_kernel, dbias)``."""
    (x, h0, c0, out, cs, pre, gates, cnew, snew, kernel, U, has_bias, ca, cr, rho, has_rho, sm,
     has_sm) = cache
    dt = pre.dtype
    one = dt.type(1.0)
    n, t, g4 = pre.shape
    u = g4 // 4
    d_out = np.ascontiguousarray(d_outputs, dtype=dt)
    dzs = np.empty_like(pre)
    if u >= BLAS_STEP_UNITS:
        gh = np.array(d_h_last, dtype=dt)
        gc = np.array(d_c_last, dtype=dt)
        UT = np.ascontiguousarray(U.T)
        dhd = np.empty((n, u), dt)
        gd, sd = np.empty((n, g4), dt), np.empty((n, u), dt)
        for s in range(t - 1, -1, -1):
            _lstm_step_bwd(s, d_out, gh, gc, c0, sm, has_sm, ca, cr, pre, gates, cnew, snew, cs,
                           dzs, gd, sd, one)
            np.matmul(dzs[:, s], UT, out=dhd)
            if has_rho:
                dhd *= rho
            if has_sm:
                live = sm[:, s][:, None]
                gh = np.where(live, dhd, gh + dhd)
            else:
                gh, dhd = dhd, gh
        dx, d_kernel, d_rec, d_bias = _weight_grads(x, dzs, kernel, out, h0, rho, has_rho,
                                                    has_bias)
        return dx, gh, gc, d_kernel, d_rec, d_bias
    gh0, gc0 = np.empty((n, u), dt), np.empty((n, u), dt)
    d_rec_n, d_bias_n = np.empty((n, u, g4), dt), np.empty((n, g4), dt)
    _lstm_bwd(
        d_out, np.ascontiguousarray(d_h_last, dtype=dt), np.ascontiguousarray(d_c_last, dtype=dt),
        h0, c0, U, rho, has_rho, sm, has_sm, ca, cr, pre, gates, cnew, snew, out, cs, dzs, gh0,
        gc0, d_rec_n, d_bias_n, one)
    dz2, d_kernel, dx = _param_grads(x, dzs, kernel)
    d_bias = d_bias_n.sum(axis=0) if has_bias else None
    return dx, gh0, gc0, d_kernel, d_rec_n.sum(axis=0), d_bias


# =========================================================================== GRU
@njit(parallel=True, **_JIT)
def _gru_fwd(xw, h0, U, rbias, has_rb, reset_after, rho, has_rho, sm, has_sm, c, rc, fast,
             keep_pre, pre, gates, aux, out, one):
    """The whole recurrence of each sample in one compiled loop, samples in parallel.  The
    pre-activations pass through the scratch ``a`` and are stored in ``pre`` only if the backward
    pass needs them (see :func:`_needs_pre`); arithmetic stays in the arrays' dtype (``one``)."""
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


@njit(parallel=True, **_JIT)
def _gru_bwd(d_out, g_last, h0, out, U, reset_after, rho, has_rho, sm, has_sm, c, rc, pre,
             gates, aux, dxw, dhu, g0, one):
    """BPTT of each sample in one compiled loop, samples in parallel.  The activations'
    derivatives come from their outputs where they can (``pre`` is then the gates themselves, see
    :func:`_needs_pre`) into the scratch ``gd``; arithmetic stays in the arrays' dtype."""
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
        g0[n] = g


def gru_forward(x, h0, kernel, recurrent_kernel, bias, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True, rec_mask=None, step_mask=None):
    """Run the whole sequence; return ``(outputs (N, T, u), h_T, cache)``."""
    reset_after = bool(reset_after)
    u = recurrent_kernel.shape[0]
    in_bias = rec_bias = None
    if bias is not None:
        in_bias, rec_bias = (bias[0], bias[1]) if reset_after else (bias, None)
    x, xw, rho, has_rho, sm, has_sm, dt = _prep(x, kernel, in_bias, rec_mask, step_mask, u)
    n, t, g3 = xw.shape
    h0 = np.ascontiguousarray(h0, dtype=dt)
    U = np.ascontiguousarray(recurrent_kernel, dtype=dt)
    rb, has_rb = (np.zeros(g3, dt), False) if rec_bias is None else (
        np.ascontiguousarray(rec_bias, dtype=dt), True)
    ca, cr = code(activation), code(recurrent_activation)
    keep_pre = _needs_pre(ca) or _needs_pre(cr)
    gates = np.empty_like(xw)
    pre = np.empty_like(xw) if keep_pre else gates
    aux, out = np.empty((n, t, u), dt), np.empty((n, t, u), dt)
    _gru_fwd(xw, h0, U, rb, has_rb, reset_after, rho, has_rho, sm, has_sm, ca, cr,
             dt == np.float32, keep_pre, pre, gates, aux, out, dt.type(1.0))
    cache = (x, h0, out, pre, gates, aux, kernel, U, bias is not None, reset_after, ca, cr, rho,
             has_rho, sm, has_sm)
    return out, out[:, -1].copy(), cache


def gru_backward(d_outputs, d_h_last, cache):
    """Return ``(dx, dh0, dkernel, drecurrent_kernel, dbias)``; dbias has the shape of the bias."""
    (x, h0, out, pre, gates, aux, kernel, U, has_bias, reset_after, ca, cr, rho, has_rho, sm,
     has_sm) = cache
    dt = pre.dtype
    n, t, g3 = pre.shape
    u = g3 // 3
    d_out = np.ascontiguousarray(d_outputs, dtype=dt)
    dxw = np.empty_like(pre)
    dhu = np.empty_like(pre) if reset_after else np.empty((1, 1, 1), dt)
    g0 = np.empty((n, u), dt)
    _gru_bwd(
        d_out, np.ascontiguousarray(d_h_last, dtype=dt), h0, out, U, reset_after, rho, has_rho,
        sm, has_sm, ca, cr, pre, gates, aux, dxw, dhu, g0, dt.type(1.0))
    dz2, d_kernel, dx = _param_grads(x, dxw, kernel)
    hd = _h_prev(out, h0, rho, has_rho).reshape(n * t, u)
    if reset_after:
        dhu2 = dhu.reshape(n * t, g3)
        d_rec = matmul(hd.T, dhu2)
    else:
        d_rec = np.empty((u, g3), dt)
        d_rec[:, :2 * u] = hd.T @ dz2[:, :2 * u]
        d_rec[:, 2 * u:] = aux.reshape(n * t, u).T @ dz2[:, 2 * u:]
    d_bias = None
    if has_bias:      # column sums as matrix-vector products (faster than .sum(axis=0))
        ones = np.ones(n * t, dtype=dt)
        d_in_bias = ones @ dz2
        d_bias = np.stack([d_in_bias, ones @ dhu2]) if reset_after else d_in_bias
    return dx, g0, d_kernel, d_rec, d_bias
