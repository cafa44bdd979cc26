"""SimpleRNN over a whole sequence: the lecture's neuron, vectorised over a batch and ``u`` units.

    Ŷ_t = act(W0 + X_t·W1 + Ŷ_{t-1}·W2)    (slides: w0 bias, w1 input weight, w2 recurrent weight)

Keras layout: ``kernel`` = W1 (m, u), ``recurrent_kernel`` = W2 (u, u), ``bias`` = W0 (u,) or None.

The recurrent-cell kernel contract, shared by every cell here and in :mod:`rnnlab.kernels.compiled`
(so that the compiled kernels replace these one-to-one; both are reached through
:mod:`rnnlab.kernels.ops`):

* ``<cell>_forward(x, states, weights, rec_mask=None, step_mask=None, *, <cell keywords>)`` with
  ``x`` (N, T, m), ``states`` a tuple of (N, u) arrays ((h,) here and for GRU, (h, c) for LSTM),
  ``weights`` a mapping with "kernel", "recurrent_kernel" and optionally "bias" (missing or None:
  no bias); returns ``(outputs, final_states, cache)``: ``outputs`` is (N, T, u) in processing
  order (``outputs[:, t]`` is h_t), ``final_states`` a tuple, ``cache`` a NamedTuple.
* ``<cell>_backward(d_outputs, d_final_states, cache)`` returns ``(dx, d_initial_states, grads)``
  with ``grads`` a dict keyed "kernel", "recurrent_kernel", and "bias" iff a bias was given
  (a None in ``d_final_states`` counts as zeros).
* ``rec_mask`` (N, u) multiplies h_{t-1} where it enters the recurrent matmul, at every step
  (recurrent dropout, one mask for all steps and gates as in Keras 3).
* ``step_mask`` (N, T) bool: at a False step the states are carried unchanged (h_t = h_{t-1}), so
  that step's output is the previous output (Keras's ``zero_output_for_mask=False``).
* Activations are passed by name; the cache is only read by the matching backward.

Backward (BPTT).  With z_t = x_t W1 + W0 + (h_{t-1}⊙ρ) W2 (ρ the recurrent mask), h̃_t = act(z_t),
h_t = m_t ? h̃_t : h_{t-1} and g_t = dL/dh_t accumulated from the output at t and from step t+1::

    dz_t      = act'(z_t) ⊙ (m_t · g_t)              (the slides' (1 - Ŷ_t²) for tanh)
    dW2      += (h_{t-1}⊙ρ)^T dz_t
    g_{t-1}  += (dz_t W2^T)⊙ρ + (1 - m_t) · g_t
    dW1 = Σ_t x_t^T dz_t,  dW0 = Σ_t dz_t,  dx_t = dz_t W1^T   (one matmul each, after the loop)
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


class SimpleRNNCache(NamedTuple):
    """What :func:`simple_rnn_backward` reads: the time-major inputs, states, pre-activations and
    outputs, the weights and the forward's options."""
    xs: np.ndarray                  # (T, N, m) view of x
    hs: np.ndarray                  # (T + 1, N, u): hs[t] is h_{t-1}
    zs: np.ndarray                  # (T, N, u) pre-activations
    ys: np.ndarray                  # (T, N, u) act(z) before masking
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    has_bias: bool
    activation: str
    rec_mask: np.ndarray | None
    step_mask: np.ndarray | None    # (T, N, 1) bool, time-major


def simple_rnn_forward(x, states, weights, rec_mask=None, step_mask=None, *, activation="tanh"):
    """Run the whole sequence; return ``(outputs (N, T, u), (h_T,), cache)``."""
    (h0,) = unpack_states(states, 1, "simple_rnn_forward")
    kernel, recurrent_kernel, bias = unpack_weights(weights)
    act = _act.get(activation)
    xs = time_major(x)                                   # (T, N, m)
    T = xs.shape[0]
    xw = xs @ kernel                                     # X_t·W1 for every step in one matmul
    if bias is not None:
        xw += bias                                       # + W0
    sm = None if step_mask is None else np.asarray(step_mask, dtype=bool).T[:, :, None]
    hs = np.empty((T + 1,) + h0.shape, dtype=xw.dtype)   # hs[t] is h_{t-1}; hs[0] = h0
    hs[0] = h0
    zs = np.empty_like(xw)
    ys = np.empty_like(xw)
    for t in range(T):
        h_prev = hs[t]
        hd = h_prev if rec_mask is None else h_prev * rec_mask
        z = xw[t] + hd @ recurrent_kernel                # W0 + X_t·W1 + Ŷ_{t-1}·W2
        y = act(z)
        zs[t], ys[t] = z, y
        hs[t + 1] = y if sm is None else np.where(sm[t], y, h_prev)
    cache = SimpleRNNCache(xs, hs, zs, ys, kernel, recurrent_kernel, bias is not None, act.name,
                           rec_mask, sm)
    return batch_major(hs[1:]), (hs[T].copy(),), cache


def simple_rnn_backward(d_outputs, d_final_states, cache: SimpleRNNCache):
    """Return ``(dx, (dh0,), grads)`` from dL/d(outputs) and dL/dh_T."""
    xs, hs, zs, ys, kernel, recurrent_kernel, has_bias, act_name, rec_mask, sm = cache
    (d_h_last,) = zeros_for_none(unpack_states(d_final_states, 1, "simple_rnn_backward"), hs[0])
    act = _act.get(act_name)
    T = zs.shape[0]
    d_seq = time_major(d_outputs)
    dzs = np.empty_like(zs)
    d_rec = np.zeros_like(recurrent_kernel)
    g = np.array(d_h_last, dtype=zs.dtype)               # dL/dh_t, carried backwards
    for t in reversed(range(T)):
        g = g + d_seq[t]
        if sm is None:
            dy, g_skip = g, 0.0
        else:
            dy, g_skip = np.where(sm[t], g, 0.0), np.where(sm[t], 0.0, g)
        dz = act.backward(zs[t], ys[t], dy)
        dzs[t] = dz
        hd = hs[t] if rec_mask is None else hs[t] * rec_mask
        d_rec += hd.T @ dz
        dhd = dz @ recurrent_kernel.T
        g = (dhd if rec_mask is None else dhd * rec_mask) + g_skip
    u = zs.shape[-1]
    dz2 = dzs.reshape(-1, u)
    d_kernel = xs.reshape(-1, xs.shape[-1]).T @ dz2
    d_bias = dz2.sum(axis=0) if has_bias else None
    dx = batch_major(dzs @ kernel.T)
    return dx, (g,), grads_dict(d_kernel, d_rec, d_bias)
