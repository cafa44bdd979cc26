"""LSTM over a whole sequence, as on the lecture's slides
(σ = recurrent_activation, tanh = activation):

    i_t = σ(W0i + X_t·W1i + Ŷ_{t-1}·W2i)      f_t = σ(W0f + X_t·W1f + Ŷ_{t-1}·W2f)
    C̃_t = tanh(W0c + X_t·W1c + Ŷ_{t-1}·W2c)   o_t = σ(W0o + X_t·W1o + Ŷ_{t-1}·W2o)
    C_t = f_t·C_{t-1} + i_t·C̃_t               Ŷ_t = o_t·tanh(C_t)

Keras layout: ``kernel`` (m, 4u), ``recurrent_kernel`` (u, 4u), ``bias`` (4u,), gate slices in the
order i, f, c, o.  Calling conventions (states, masks, cache) are those described in
:mod:`rnnlab.kernels.reference.simple_rnn`; the states are (h, c).

Backward.  With z = [z_i z_f z_c z_o] the pre-activations, s_t = tanh(C_t), and upstream gradients
g_h = dL/dŶ_t, g_c = dL/dC_t (carried from step t+1; at a masked step both pass straight through)::

    do   = g_h ⊙ s_t                       dC   = g_c + tanh'(C_t) ⊙ (g_h ⊙ o_t)
    di   = dC ⊙ C̃_t    df = dC ⊙ C_{t-1}    dC̃ = dC ⊙ i_t
    dz_* = σ'(z_*) ⊙ d*  (tanh' for z_c)     g_c(t-1) = dC ⊙ f_t
    dW2 += (Ŷ_{t-1}⊙ρ)^T dz                  g_h(t-1) = (dz W2^T) ⊙ ρ
    dW1 = Σ_t x_t^T dz_t,  dW0 = Σ_t dz_t,  dx_t = dz_t W1^T
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.kernels.reference import activations as _act
from rnnlab.kernels.reference.common import (
    batch_major,
    grads_dict,
    time_major,
    unpack_states,
    unpack_weights,
    zeros_for_none,
)


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` reads (time-major arrays; ``hs``/``cs`` hold the states before
    each step at [t] and the last ones at [T])."""
    xs: np.ndarray
    hs: np.ndarray
    cs: np.ndarray
    zs: np.ndarray                  # pre-activations [z_i z_f z_c z_o]
    gates: np.ndarray               # [i f C̃ o]
    c_new: np.ndarray               # f·C_{t-1} + i·C̃ before masking
    s_new: np.ndarray               # act of it
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    has_bias: bool
    activation: str
    recurrent_activation: str
    rec_mask: np.ndarray | None
    step_mask: np.ndarray | None    # (T, N, 1) bool


def lstm_forward(x, states, weights, rec_mask=None, step_mask=None, *, activation="tanh",
                 recurrent_activation="sigmoid"):
    """Run the whole sequence; return ``(outputs (N, T, u), (h_T, c_T), cache)``."""
    h0, c0 = unpack_states(states, 2, "lstm_forward")
    kernel, recurrent_kernel, bias = unpack_weights(weights)
    act, ract = _act.get(activation), _act.get(recurrent_activation)
    xs = time_major(x)
    T = xs.shape[0]
    u = recurrent_kernel.shape[0]
    xw = xs @ kernel                                     # X_t·W1 for all steps and gates at once
    if bias is not None:
        xw += bias
    sm = None if step_mask is None else np.asarray(step_mask, dtype=bool).T[:, :, None]
    dt = xw.dtype
    hs = np.empty((T + 1,) + h0.shape, dtype=dt)
    cs = np.empty((T + 1,) + c0.shape, dtype=dt)
    hs[0], cs[0] = h0, c0
    zs = np.empty_like(xw)                               # pre-activations [z_i z_f z_c z_o]
    gates = np.empty_like(xw)                            # [i f C̃ o]
    c_new = np.empty((T,) + c0.shape, dtype=dt)          # f·C_{t-1} + i·C̃ before masking
    s_new = np.empty_like(c_new)                         # tanh of it
    for t in range(T):
        h_prev, c_prev = hs[t], cs[t]
        hd = h_prev if rec_mask is None else h_prev * rec_mask
        z = xw[t] + hd @ recurrent_kernel
        i = ract(z[:, :u])
        f = ract(z[:, u:2 * u])
        cc = act(z[:, 2 * u:3 * u])
        o = ract(z[:, 3 * u:])
        c = f * c_prev + i * cc
        s = act(c)
        h = o * s
        zs[t] = z
        gates[t, :, :u], gates[t, :, u:2 * u] = i, f
        gates[t, :, 2 * u:3 * u], gates[t, :, 3 * u:] = cc, o
        c_new[t], s_new[t] = c, s
        if sm is None:
            hs[t + 1], cs[t + 1] = h, c
        else:
            hs[t + 1] = np.where(sm[t], h, h_prev)
            cs[t + 1] = np.where(sm[t], c, c_prev)
    cache = LSTMCache(xs, hs, cs, zs, gates, c_new, s_new, kernel, recurrent_kernel,
                      bias is not None, act.name, ract.name, rec_mask, sm)
    return batch_major(hs[1:]), (hs[T].copy(), cs[T].copy()), cache


def lstm_backward(d_outputs, d_final_states, cache: LSTMCache):
    """Return ``(dx, (dh0, dc0), grads)``."""
    (xs, hs, cs, zs, gates, c_new, s_new, kernel, recurrent_kernel, has_bias, act_name, ract_name,
     rec_mask, sm) = cache
    d_h_last, d_c_last = zeros_for_none(unpack_states(d_final_states, 2, "lstm_backward"), hs[0])
    act, ract = _act.get(act_name), _act.get(ract_name)
    T = zs.shape[0]
    u = recurrent_kernel.shape[0]
    d_seq = time_major(d_outputs)
    dzs = np.empty_like(zs)
    d_rec = np.zeros_like(recurrent_kernel)
    gh = np.array(d_h_last, dtype=zs.dtype)
    gc = np.array(d_c_last, dtype=zs.dtype)
    for t in reversed(range(T)):
        gh = gh + d_seq[t]
        if sm is None:
            dh, dc, gh_skip, gc_skip = gh, gc, 0.0, 0.0
        else:
            dh, dc = np.where(sm[t], gh, 0.0), np.where(sm[t], gc, 0.0)
            gh_skip, gc_skip = np.where(sm[t], 0.0, gh), np.where(sm[t], 0.0, gc)
        z, gt = zs[t], gates[t]
        i, f, cc, o = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:3 * u], gt[:, 3 * u:]
        s = s_new[t]
        do = dh * s
        dc = dc + act.backward(c_new[t], s, dh * o)
        dz = dzs[t]
        dz[:, :u] = ract.backward(z[:, :u], i, dc * cc)
        dz[:, u:2 * u] = ract.backward(z[:, u:2 * u], f, dc * cs[t])
        dz[:, 2 * u:3 * u] = act.backward(z[:, 2 * u:3 * u], cc, dc * i)
        dz[:, 3 * u:] = ract.backward(z[:, 3 * u:], o, do)
        hd = hs[t] if rec_mask is None else hs[t] * rec_mask
        d_rec += hd.T @ dz
        dhd = dz @ recurrent_kernel.T
        gh = (dhd if rec_mask is None else dhd * rec_mask) + gh_skip
        gc = dc * f + gc_skip
    dz2 = dzs.reshape(-1, 4 * u)
    d_kernel = xs.reshape(-1, xs.shape[-1]).T @ dz2
    d_bias = dz2.sum(axis=0) if has_bias else None
    dx = batch_major(dzs @ kernel.T)
    return dx, (gh, gc), grads_dict(d_kernel, d_rec, d_bias)
