"""Compiled whole-sequence forward/backward of the LSTM: the same contract and results as
:mod:`rnnlab.kernels.reference.lstm` (whose docstring holds the equations and their gradient);
the split of the work between BLAS and the compiled loops is in
:mod:`rnnlab.kernels.compiled.common`.

Small ``units``: the whole recurrence of each sample is one compiled loop, samples in parallel.
At or above :data:`rnnlab.runtime.BLAS_STEP_UNITS` the per-step product ``(h_{t-1}⊙ρ)·U`` is a
GEMM of NumPy's BLAS instead, where a tuned GEMM beats a scalar matvec: the batch is cut into
one block of rows per Numba thread and each block runs its whole recurrence, forward and
backward, on its own thread, calling the single-threaded GEMM from compiled code
(:data:`rnnlab.kernels.compiled.blas.gemm`) for its rows at every step; one parallel region per
pass, no Python and no cross-thread wait per step.  Where that GEMM cannot be called from
compiled code, a Python loop over steps calls ``np.matmul`` and a compiled gate kernel.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from rnnlab.kernels.compiled import blas
from rnnlab.kernels.compiled.activations import SIGMOID, TANH, act_range, code, deriv_range, tanh32
from rnnlab.kernels.compiled.blas import NO_TRANS, TRANS, gemm
from rnnlab.kernels.compiled.common import (
    JIT,
    cell_args,
    d_states,
    empty3,
    grads_dict,
    memo,
    needs_pre,
    param_grads,
    prep,
    resolved,
    weight_grads,
)

#: units at or above which the per-step recurrent product uses BLAS
from rnnlab.runtime import BLAS_STEP_UNITS, split_threads


class LSTMIn(NamedTuple):
    """The recurrence's inputs: ``xw`` = X·kernel (N, T, 4u) (a placeholder in the cache), the
    bias b (4u,) (zeros without one), h0, c0 (N, u), U (u, 4u), ρ (N, u) and the step mask (N, T)
    (dummies when absent)."""
    xw: np.ndarray
    b: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    U: np.ndarray
    rho: np.ndarray
    sm: np.ndarray


class LSTMOpts(NamedTuple):
    """Scalars and constants of the compiled loops: masks present, activation codes (c for C̃ and
    the cell output, rc for the gates), float32 fast tanh, pre-activations kept, the one-loop gate
    path of float32 tanh/sigmoid cells with its coefficients (:func:`_std_coefs`), 1 in the
    arrays' dtype."""
    has_rho: bool
    has_sm: bool
    c: int
    rc: int
    fast: bool
    keep_pre: bool
    std: bool
    sc: np.ndarray
    off: np.ndarray
    one: np.floating


class LSTMBuf(NamedTuple):
    """What the forward writes, per (sample, step): pre-activations (the gates themselves when not
    kept), gates [i f C̃ o], C_t before masking (``cs`` itself without a step mask) and its
    activation, h_t and C_t after masking."""
    pre: np.ndarray
    gates: np.ndarray
    cnew: np.ndarray
    snew: np.ndarray
    out: np.ndarray
    cs: np.ndarray


class LSTMGrad(NamedTuple):
    """The backward's running state: dL/dh and dL/dC carried (N, u), dL/d(outputs) and dZ."""
    gh: np.ndarray
    gc: np.ndarray
    d_out: np.ndarray
    dzs: np.ndarray


class LSTMScratch(NamedTuple):
    """One sample's scratch vectors: pre-activations a (4u,), gates g (4u,), C_t, act(C_t) (u,)."""
    a: np.ndarray
    g: np.ndarray
    cv: np.ndarray
    sv: np.ndarray


class LSTMBackScratch(NamedTuple):
    """One sample's backward scratch: dZ_t (4u,), the gates' derivatives (4u,), act'(C_t) (u,)."""
    dz: np.ndarray
    gd: np.ndarray
    sd: np.ndarray


class LSTMCache(NamedTuple):
    x: np.ndarray
    kernel: np.ndarray
    has_bias: bool
    inp: LSTMIn
    opts: LSTMOpts
    buf: LSTMBuf


def _std_coefs(ca, cr, dt, u):
    """``(std, sc, off)`` for :func:`_std_gates`: std is True for float32 cells with sigmoid
    gates and a tanh or sigmoid activation (the lecture's last layer is LSTM(1, sigmoid)).
    Made once per (activations, dtype, units) and only ever read by the kernels."""
    def make():
        std = bool(dt == np.float32 and ca in (TANH, SIGMOID) and cr == SIGMOID)
        sc = np.full(4 * u, 0.5, dtype=dt)
        off = np.ones(4 * u, dtype=dt)
        if ca == TANH:
            sc[2 * u:3 * u] = 1.0
            off[2 * u:3 * u] = 0.0
        return std, sc, off
    return memo((ca, cr, np.dtype(dt), u), make)


@njit(inline="always", **JIT)
def _gate_acts(a, g, o, u):
    """g = the LSTM gates' activations of the pre-activations a (4u,): σ for i, f, o (code rc) and
    act for C̃ (code c); one loop for the standard float32 cell (:func:`_std_gates`)."""
    if o.std:
        _std_gates(a, g, o.sc, o.off, 4 * u)
    else:
        act_range(o.rc, o.fast, a, g, 0, 2 * u)
        act_range(o.c, o.fast, a, g, 2 * u, 3 * u)
        act_range(o.rc, o.fast, a, g, 3 * u, 4 * u)


@njit(inline="always", **JIT)
def _std_gates(a, g, sc, off, g4):
    """All 4u gates of a float32 tanh/sigmoid cell in one loop: g = sc·(off + tanh(sc·a)), with
    (sc, off) = (½, 1) for σ (i, f, o; σ(z) = ½(1 + tanh(z/2)), as the reference) and (1, 0) for
    a tanh C̃.
    Bit for bit :func:`act_range`'s result; one loop over 4u vectorises without the remainder
    loops that three segments of u (10 in the lecture) leave."""
    for j in range(g4):
        g[j] = sc[j] * (off[j] + tanh32(sc[j] * a[j]))


@njit(inline="always", **JIT)
def _lstm_cell(n, t, w, hs, cst, keep, o, buf):
    """Gate math of sample n at step t from its complete pre-activations ``w.a`` (4u,) =
    xW + hU + b.

    i, f, o = σ(a_i, a_f, a_o); C̃ = act(a_c); C_t = f·C_{t-1} + i·C̃; h_t = o·act(C_t).  States
    ``hs``/``cst`` are (N, u) and are left unchanged at a masked step.  Inlined: no views, no call.
    ``a`` is stored in ``buf.pre`` only if ``keep_pre`` (see
    :func:`~rnnlab.kernels.compiled.common.needs_pre`).
    """
    a = w.a
    g = w.g
    cv = w.cv
    sv = w.sv
    pre = buf.pre
    gates = buf.gates
    cnew = buf.cnew
    snew = buf.snew
    out = buf.out
    cs = buf.cs
    u = cv.shape[0]
    g4 = 4 * u
    if o.keep_pre:
        for j in range(g4):
            pre[n, t, j] = a[j]
    _gate_acts(a, g, o, u)
    for j in range(g4):
        gates[n, t, j] = g[j]
    for j in range(u):
        cv[j] = g[u + j] * cst[n, j] + g[j] * g[2 * u + j]
        cnew[n, t, j] = cv[j]
    act_range(o.c, o.fast, cv, sv, 0, u)
    for j in range(u):
        snew[n, t, j] = sv[j]
        if keep:
            hs[n, j] = g[3 * u + j] * sv[j]
            cst[n, j] = cv[j]
        out[n, t, j] = hs[n, j]
        cs[n, t, j] = cst[n, j]


@njit(inline="always", **JIT)
def _lstm_std_bwd(n, t, dz, keep, gr, c0, o, buf):
    """:func:`_lstm_cell_bwd` for sigmoid gates and a tanh (or sigmoid) activation in one pass:
    the derivatives σ' = σ(1 - σ) and tanh' = 1 - tanh² come from the stored outputs inline
    (``one`` is 1 in the arrays' dtype, so float32 stays float32)."""
    gh = gr.gh
    gc = gr.gc
    d_out = gr.d_out
    gates = buf.gates
    snew = buf.snew
    cs = buf.cs
    one = o.one
    c_sig = o.c == SIGMOID
    u = gh.shape[1]
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


@njit(inline="always", **JIT)
def _lstm_gen_bwd(n, t, w, keep, gr, c0, o, buf):
    """:func:`_lstm_cell_bwd` for any activations: their derivatives first into ``w.gd`` and
    ``w.sd``."""
    dz = w.dz
    gd = w.gd
    sd = w.sd
    gh = gr.gh
    gc = gr.gc
    d_out = gr.d_out
    pre = buf.pre
    gates = buf.gates
    cnew = buf.cnew
    snew = buf.snew
    cs = buf.cs
    c = o.c
    rc = o.rc
    u = gh.shape[1]
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


@njit(inline="always", **JIT)
def _lstm_cell_bwd(n, t, w, keep, gr, c0, o, buf):
    """dZ_t (4u,) of sample n into ``w.dz`` and ``gr.dzs[n, t]``; adds d_out into gh and replaces
    gc by the carried cell gradient dC·f (unchanged at a masked step).  With dh = gh, dC = gc:
    dC += dh·o·act'(C_t); dz_i = dC·C̃·σ'; dz_f = dC·C_{t-1}·σ'; dz_c = dC·i·act';
    dz_o = dh·act(C_t)·σ'.
    """
    dz = w.dz
    if (o.c == TANH or o.c == SIGMOID) and o.rc == SIGMOID:
        _lstm_std_bwd(n, t, dz, keep, gr, c0, o, buf)
    else:
        _lstm_gen_bwd(n, t, w, keep, gr, c0, o, buf)
    dzs = gr.dzs
    for j in range(dz.shape[0]):
        dzs[n, t, j] = dz[j]


@njit(parallel=True, **JIT)
def _lstm_fwd(inp, o, buf):
    """Small units: the whole recurrence of each sample in one compiled loop, samples in
    parallel; the recurrent matvec as axpys over rows of U."""
    xw = inp.xw
    b = inp.b
    h0 = inp.h0
    c0 = inp.c0
    U = inp.U
    rho = inp.rho
    sm = inp.sm
    has_rho = o.has_rho
    has_sm = o.has_sm
    n_, t_, g4 = xw.shape
    u = g4 // 4
    hs = h0.copy()
    cst = c0.copy()
    for n in prange(n_):
        w = LSTMScratch(np.empty(g4, dtype=xw.dtype), np.empty(g4, dtype=xw.dtype),
                        np.empty(u, dtype=xw.dtype), np.empty(u, dtype=xw.dtype))
        a = w.a
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
            _lstm_cell(n, t, w, hs, cst, keep, o, buf)


@njit(parallel=True, **JIT)
def _lstm_bwd(gr, inp, o, buf, d_rec_n, d_bias_n):
    """Small units: BPTT of each sample in one compiled loop, samples in parallel; the carried
    dL/dh = dZ·Uᵀ as one dot product over a row of U per unit.  ``gr.gh``/``gr.gc`` hold dL/dh_T
    and dL/dC_T on entry and dL/dh0, dL/dC0 on exit.  Each sample's share of the recurrent
    kernel's and the bias's gradients, Σ_t (h_{t-1}⊙ρ)ᵀ·dZ_t and Σ_t dZ_t, is summed here into
    ``d_rec_n[n]`` (u, 4u) and ``d_bias_n[n]`` (4u,) while dZ_t is at hand (cheaper than a copy
    of all previous states for one product afterwards)."""
    h0 = inp.h0
    c0 = inp.c0
    U = inp.U
    rho = inp.rho
    sm = inp.sm
    has_rho = o.has_rho
    has_sm = o.has_sm
    out = buf.out
    gh0 = gr.gh
    n_, t_, g4 = buf.pre.shape
    u = g4 // 4
    zero = o.one - o.one
    for n in prange(n_):
        w = LSTMBackScratch(np.empty(g4, dtype=buf.pre.dtype), np.empty(g4, dtype=buf.pre.dtype),
                            np.empty(u, dtype=buf.pre.dtype))
        dz = w.dz
        dr = d_rec_n[n]
        db = d_bias_n[n]
        dr[:] = zero
        db[:] = zero
        for t in range(t_ - 1, -1, -1):
            keep = (not has_sm) or sm[n, t]
            _lstm_cell_bwd(n, t, w, keep, gr, c0, o, buf)
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


class LSTMStep(NamedTuple):
    """Large units: hu = (h_{t-1}⊙ρ)·U (N, 4u) from a GEMM, the current states (N, u), h_{t-1}⊙ρ
    (N, u) when there is a ρ, and an (N, 4u) scratch for the pre-activations when they are not
    kept."""
    hu: np.ndarray
    hcur: np.ndarray
    ccur: np.ndarray
    hd: np.ndarray
    scratch: np.ndarray


@njit(inline="always", **JIT)
def _step_row(n, t, inp, o, buf, st):
    """Large units: sample n at step t from ``st.hu[n]`` = (h_{t-1}⊙ρ)·U.  Same math as
    :func:`_lstm_cell`, written straight into the step's rows.  The pre-activations are kept, if
    needed, in ``xw`` itself (``xw[n, t] += hu[n]``); otherwise they pass through the (N, 4u)
    ``scratch`` (a separate buffer: in-place activations would not vectorise)."""
    xw = inp.xw
    b = inp.b
    hu = st.hu
    hcur = st.hcur
    ccur = st.ccur
    gates = buf.gates
    out = buf.out
    cs = buf.cs
    g4 = xw.shape[2]
    u = g4 // 4
    g = gates[n, t]
    if o.keep_pre:
        a = xw[n, t]
        for j in range(g4):
            a[j] = (a[j] + b[j]) + hu[n, j]
    else:
        a = st.scratch[n]
        for j in range(g4):
            a[j] = (xw[n, t, j] + b[j]) + hu[n, j]
    _gate_acts(a, g, o, u)
    cv = buf.cnew[n, t]
    sv = buf.snew[n, t]
    for j in range(u):
        cv[j] = g[u + j] * ccur[n, j] + g[j] * g[2 * u + j]
    act_range(o.c, o.fast, cv, sv, 0, u)
    keep = (not o.has_sm) or inp.sm[n, t]
    if keep:
        for j in range(u):
            hcur[n, j] = g[3 * u + j] * sv[j]
            ccur[n, j] = cv[j]
    for j in range(u):
        out[n, t, j] = hcur[n, j]
        cs[n, t, j] = ccur[n, j]


@njit(parallel=True, **JIT)
def _lstm_step_fwd(t, inp, o, buf, st):
    """Large units without the in-kernel GEMM: one step for the whole batch (:func:`_step_row`),
    ``st.hu`` computed by BLAS before the call."""
    for n in prange(inp.xw.shape[0]):
        _step_row(n, t, inp, o, buf, st)


@njit(inline="always", **JIT)
def _bwd_row(n, t, gr, inp, o, buf, gd, sd):
    """Large units: dZ_t of sample n straight into ``gr.dzs[n, t]``; gh[n] gets d_out added; gc[n]
    becomes dC·f.  Same math as :func:`_lstm_cell_bwd`; ``gd`` (N, 4u) and ``sd`` (N, u) are
    scratch for the activations' derivatives of cells other than the standard one."""
    keep = (not o.has_sm) or inp.sm[n, t]
    dz = gr.dzs[n, t]
    if (o.c == TANH or o.c == SIGMOID) and o.rc == SIGMOID:
        _lstm_std_bwd(n, t, dz, keep, gr, inp.c0, o, buf)
    else:
        _lstm_gen_bwd(n, t, LSTMBackScratch(dz, gd[n], sd[n]), keep, gr, inp.c0, o, buf)


@njit(parallel=True, **JIT)
def _lstm_step_bwd(t, gr, inp, o, buf, gd, sd):
    """Large units without the in-kernel GEMM: dZ_t for the whole batch (:func:`_bwd_row`)."""
    for n in prange(gr.dzs.shape[0]):
        _bwd_row(n, t, gr, inp, o, buf, gd, sd)


class SeqGemm(NamedTuple):
    """The in-kernel GEMM of the sequence kernels: its address, the number of row blocks, and the
    leading dimensions u, 4u and T·4u in the GEMM's index type."""
    fn: int
    parts: int
    lu: np.integer
    lg: np.integer
    ltg: np.integer


@njit(**JIT)
def _seq_fwd_rows(r0, r1, inp, o, buf, st, sg):
    """Large units: the whole recurrence of rows [r0, r1) of the batch on the calling thread:
    per step one single-threaded GEMM ``hu = (h_{t-1}⊙ρ)·U`` of the rows, then their gates
    (:func:`_step_row`)."""
    t_, g4 = inp.xw.shape[1], inp.xw.shape[2]
    u = g4 // 4
    hcur = st.hcur
    hd = st.hd
    rho = inp.rho
    for t in range(t_):
        if o.has_rho:
            for n in range(r0, r1):
                for j in range(u):
                    hd[n, j] = hcur[n, j] * rho[n, j]
            gemm(sg.fn, NO_TRANS, NO_TRANS, r1 - r0, g4, u, hd, r0 * u, sg.lu, inp.U, sg.lg,
                 st.hu, r0 * g4)
        else:
            gemm(sg.fn, NO_TRANS, NO_TRANS, r1 - r0, g4, u, hcur, r0 * u, sg.lu, inp.U, sg.lg,
                 st.hu, r0 * g4)
        for n in range(r0, r1):
            _step_row(n, t, inp, o, buf, st)


@njit(parallel=True, **JIT)
def _lstm_seq_fwd(inp, o, buf, st, sg):
    """Large units, the whole sequence in one parallel region: the batch in ``sg.parts`` blocks
    of rows, each block running its complete recurrence on its own thread
    (:func:`_seq_fwd_rows`).  The blocks share nothing, so no thread waits for another between
    steps (the per-step path pays a BLAS call and a parallel region per step)."""
    n_ = inp.xw.shape[0]
    parts = sg.parts
    size = (n_ + parts - 1) // parts
    for p in prange(parts):
        r0 = p * size
        r1 = min(n_, r0 + size)
        if r1 > r0:
            _seq_fwd_rows(r0, r1, inp, o, buf, st, sg)


@njit(**JIT)
def _seq_bwd_rows(r0, r1, gr, inp, o, buf, gd, sd, dhd, sg):
    """Large units: BPTT of rows [r0, r1) on the calling thread: per step dZ_t of the rows
    (:func:`_bwd_row`), then dL/dh_{t-1} = (dZ_t·Uᵀ)⊙ρ by one GEMM straight from ``dzs`` (rows
    T·4u apart) into ``dhd``; gh becomes it at a live step and gets it added at a masked one
    (h_{t-1} passed through)."""
    dzs = gr.dzs
    gh = gr.gh
    rho = inp.rho
    t_, g4 = dzs.shape[1], dzs.shape[2]
    u = g4 // 4
    for t in range(t_ - 1, -1, -1):
        for n in range(r0, r1):
            _bwd_row(n, t, gr, inp, o, buf, gd, sd)
        gemm(sg.fn, NO_TRANS, TRANS, r1 - r0, u, g4, dzs, r0 * t_ * g4 + t * g4, sg.ltg, inp.U,
             sg.lg, dhd, r0 * u)
        for n in range(r0, r1):
            keep = (not o.has_sm) or inp.sm[n, t]
            for j in range(u):
                d = dhd[n, j] * rho[n, j] if o.has_rho else dhd[n, j]
                gh[n, j] = d if keep else gh[n, j] + d


@njit(parallel=True, **JIT)
def _lstm_seq_bwd(gr, inp, o, buf, gd, sd, dhd, sg):
    """Large units, BPTT in one parallel region, the batch in blocks as in
    :func:`_lstm_seq_fwd` (:func:`_seq_bwd_rows`)."""
    n_ = gr.dzs.shape[0]
    parts = sg.parts
    size = (n_ + parts - 1) // parts
    for p in prange(parts):
        r0 = p * size
        r1 = min(n_, r0 + size)
        if r1 > r0:
            _seq_bwd_rows(r0, r1, gr, inp, o, buf, gd, sd, dhd, sg)


#: False makes the large-units LSTM take the per-step path (one BLAS call and one compiled step
#: a step) even where the in-kernel GEMM is available: for A/B timing only
SEQUENCE_KERNELS = True


def _seq_gemm(n, t, u, dt):
    """The :class:`SeqGemm` for a batch of n, or None for the per-step path (NumPy's GEMM cannot
    be called from compiled code).  One block per Numba thread inside a
    :func:`~rnnlab.runtime.compute_scope` (BLAS held to one thread); outside one (BLAS has its
    threads, and a GEMM inside Numba's threads would wake BLAS's own pool on the same cores) and
    for one sample, a single block on the calling thread."""
    if not (SEQUENCE_KERNELS and blas.AVAILABLE):
        return None
    parts = max(1, min(split_threads(), n))
    index = blas.BOUND.index
    fn = blas.BOUND.sgemm if dt == np.float32 else blas.BOUND.dgemm
    return SeqGemm(fn, parts, index(u), index(4 * u), index(t * 4 * u))


def lstm_forward(x, states, weights, rec_mask=None, step_mask=None, *, activation="tanh",
                 recurrent_activation="sigmoid"):
    """Run the whole sequence; return ``(outputs (N, T, u), (h_T, c_T), cache)``."""
    (h0, c0), kernel, recurrent_kernel, bias = cell_args(states, weights, 2, "lstm_forward")
    u = recurrent_kernel.shape[0]
    # the bias is added in the kernels' first pass over xW ((xW + b) + hU, as the reference)
    p = prep(x, kernel, None, rec_mask, step_mask, u)
    dt = p.dt
    xw = p.xw
    b = (np.zeros(4 * u, dt) if bias is None
         else np.ascontiguousarray(np.asarray(bias).reshape(-1), dtype=dt))
    n, t, g4 = xw.shape
    inp = LSTMIn(xw, b, np.ascontiguousarray(h0, dtype=dt), np.ascontiguousarray(c0, dtype=dt),
                 np.ascontiguousarray(recurrent_kernel, dtype=dt), p.rho, p.sm)
    ca, cr = code(activation), code(recurrent_activation)
    keep_pre = needs_pre(ca) or needs_pre(cr)
    std, sc, off = _std_coefs(ca, cr, dt, u)
    o = LSTMOpts(p.has_rho, p.has_sm, ca, cr, bool(dt == np.float32), keep_pre, std, sc, off,
                 dt.type(1.0))
    gates = np.empty_like(xw)
    out, cs, snew = np.empty((n, t, u), dt), np.empty((n, t, u), dt), np.empty((n, t, u), dt)
    cnew = np.empty((n, t, u), dt) if p.has_sm else cs    # C_t before masking = C_t unmasked
    if u >= BLAS_STEP_UNITS:
        buf = LSTMBuf(xw if keep_pre else gates, gates, cnew, snew, out, cs)
        st = LSTMStep(np.empty((n, g4), dt), inp.h0.copy(), inp.c0.copy(),
                      np.empty((n, u) if p.has_rho else (1, 1), dt),
                      np.empty((n, g4) if not keep_pre else (1, 1), dt))
        sg = _seq_gemm(n, t, u, dt)
        if sg is not None and sg.parts == 1:
            _seq_fwd_rows(0, n, inp, o, buf, st, sg)
        elif sg is not None:
            _lstm_seq_fwd(inp, o, buf, st, sg)
        else:
            step = resolved(_lstm_step_fwd, 0, inp, o, buf, st)
            for s in range(t):
                hd = np.multiply(st.hcur, p.rho, out=st.hd) if p.has_rho else st.hcur
                np.matmul(hd, inp.U, out=st.hu)
                step(s, inp, o, buf, st)
    else:
        buf = LSTMBuf(np.empty_like(xw) if keep_pre else gates, gates, cnew, snew, out, cs)
        _lstm_fwd(inp, o, buf)
    cache = LSTMCache(p.x, kernel, bias is not None, inp._replace(xw=empty3(dt)), o, buf)
    return out, (out[:, -1].copy(), cs[:, -1].copy()), cache


def lstm_backward(d_outputs, d_final_states, cache: LSTMCache):
    """Return ``(dx, (dh0, dc0), grads)``."""
    x, kernel, has_bias, inp, o, buf = cache
    pre = buf.pre
    dt = pre.dtype
    n, t, g4 = pre.shape
    u = g4 // 4
    gh, gc = d_states(d_final_states, 2, (n, u), dt, "lstm_backward")
    gr = LSTMGrad(gh, gc, np.ascontiguousarray(d_outputs, dtype=dt), np.empty_like(pre))
    if u >= BLAS_STEP_UNITS:
        dhd = np.empty((n, u), dt)
        std = (o.c == TANH or o.c == SIGMOID) and o.rc == SIGMOID
        gd, sd = (np.empty((1, 1), dt), np.empty((1, 1), dt)) if std else (
            np.empty((n, g4), dt), np.empty((n, u), dt))
        sg = _seq_gemm(n, t, u, dt)
        if sg is not None:
            if sg.parts == 1:
                _seq_bwd_rows(0, n, gr, inp, o, buf, gd, sd, dhd, sg)
            else:
                _lstm_seq_bwd(gr, inp, o, buf, gd, sd, dhd, sg)
            return _wide_grads(x, gr, kernel, inp, o, buf, has_bias)
        UT = np.ascontiguousarray(inp.U.T)
        step = resolved(_lstm_step_bwd, 0, gr, inp, o, buf, gd, sd)
        for s in range(t - 1, -1, -1):
            step(s, gr, inp, o, buf, gd, sd)
            np.matmul(gr.dzs[:, s], UT, out=dhd)
            if o.has_rho:
                dhd *= inp.rho
            if o.has_sm:
                live = inp.sm[:, s][:, None]
                gr = gr._replace(gh=np.where(live, dhd, gr.gh + dhd))
            else:
                old = gr.gh
                gr = gr._replace(gh=dhd)
                dhd = old
        return _wide_grads(x, gr, kernel, inp, o, buf, has_bias)
    d_rec_n, d_bias_n = np.empty((n, u, g4), dt), np.empty((n, g4), dt)
    _lstm_bwd(gr, inp, o, buf, d_rec_n, d_bias_n)
    dz2, d_kernel, dx = param_grads(x, gr.dzs, kernel)
    d_bias = d_bias_n.sum(axis=0) if has_bias else None
    return dx, (gr.gh, gr.gc), grads_dict(d_kernel, d_rec_n.sum(axis=0), d_bias)


def _wide_grads(x, gr, kernel, inp, o, buf, has_bias):
    """The large-units backward's result: the weight gradients in one GEMM over all steps."""
    dx, d_kernel, d_rec, d_bias = weight_grads(x, gr.dzs, kernel, buf.out, inp.h0, inp.rho,
                                               o.has_rho, has_bias)
    return dx, (gr.gh, gr.gc), grads_dict(d_kernel, d_rec, d_bias)
