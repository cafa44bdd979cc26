"""GRU over a whole sequence (Keras 3 equations; σ = recurrent_activation, act = activation).

reset_after=True (Keras 3 default, cuDNN/PyTorch convention), bias (2, 3u) = [input bias b;
recurrent bias rb], gate slices in the order z, r, h::

    z_t = σ(x_t W_z + b_z + h_{t-1} U_z + rb_z)
    r_t = σ(x_t W_r + b_r + h_{t-1} U_r + rb_r)
    h̃_t = act(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + rb_h))
    h_t = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h̃_t

reset_after=False (original GRU), bias (3u,): h̃_t = act(x_t W_h + b_h + (r_t ⊙ h_{t-1}) U_h), and
no recurrent bias.  Recurrent dropout ρ multiplies h_{t-1} where it enters the recurrent matmuls
(and the product r ⊙ h_{t-1} of reset_after=False), not the carry z ⊙ h_{t-1}.  Calling
conventions are those of :mod:`rnnlab.kernels.reference.simple_rnn`, with the extra keyword
``reset_after``.

Backward, for g = dL/dh_t (reset_after=True, q = h_{t-1}U_h + rb_h)::

    dz  = g ⊙ (h_{t-1} - h̃_t)      dh̃ = g ⊙ (1 - z)      g(t-1) ∋ g ⊙ z
    da_h = act'(a_h) ⊙ dh̃         dr = da_h ⊙ q
    da_z = σ'(a_z) ⊙ dz           da_r = σ'(a_r) ⊙ dr
    dx-side  [da_z da_r da_h]       (→ dW, db, dx after the loop)
    dh-side  [da_z da_r da_h⊙r]    (→ dU += (h_{t-1}⊙ρ)^T ·, drb += Σ ·, g(t-1) += (· U^T)⊙ρ)

For reset_after=False the h-gate goes through the product p = r ⊙ (h_{t-1}⊙ρ):
dp = da_h U_h^T, dU_h += p^T da_h, dr = dp ⊙ (h_{t-1}⊙ρ), and (h_{t-1}⊙ρ) receives dp ⊙ r.
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


class GRUCache(NamedTuple):
    """What :func:`gru_backward` reads (time-major arrays; ``hs[t]`` is h_{t-1})."""
    xs: np.ndarray
    hs: np.ndarray
    pre: np.ndarray                 # [a_z a_r a_h]
    gates: np.ndarray               # [z r h̃]
    aux: np.ndarray                 # q (reset_after) or p = r ⊙ h (before)
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    has_bias: bool
    reset_after: bool
    activation: str
    recurrent_activation: str
    rec_mask: np.ndarray | None
    step_mask: np.ndarray | None    # (T, N, 1) bool


def _split_bias(bias, reset_after):
    if bias is None:
        return None, None
    if reset_after:
        return bias[0], bias[1]
    return bias, None


def gru_forward(x, states, weights, rec_mask=None, step_mask=None, *, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True):
    """Run the whole sequence; return ``(outputs (N, T, u), (h_T,), cache)``."""
    (h0,) = unpack_states(states, 1, "gru_forward")
    kernel, recurrent_kernel, bias = unpack_weights(weights)
    act, ract = _act.get(activation), _act.get(recurrent_activation)
    reset_after = bool(reset_after)
    in_bias, rec_bias = _split_bias(bias, reset_after)
    xs = time_major(x)
    T = xs.shape[0]
    u = recurrent_kernel.shape[0]
    xw = xs @ kernel                                     # x_t W for all steps and gates at once
    if in_bias is not None:
        xw += in_bias
    sm = None if step_mask is None else np.asarray(step_mask, dtype=bool).T[:, :, None]
    dt = xw.dtype
    hs = np.empty((T + 1,) + h0.shape, dtype=dt)
    hs[0] = h0
    pre = np.empty_like(xw)                              # [a_z a_r a_h]
    gates = np.empty_like(xw)                            # [z r h̃]
    aux = np.empty((T,) + h0.shape, dtype=dt)            # q (reset_after) or p = r ⊙ h (before)
    Uzr, Uh = recurrent_kernel[:, :2 * u], recurrent_kernel[:, 2 * u:]
    for t in range(T):
        h_prev = hs[t]
        hd = h_prev if rec_mask is None else h_prev * rec_mask
        if reset_after:
            hu = hd @ recurrent_kernel
            if rec_bias is not None:
                hu += rec_bias
            a_zr = xw[t, :, :2 * u] + hu[:, :2 * u]
        else:
            a_zr = xw[t, :, :2 * u] + hd @ Uzr
        z = ract(a_zr[:, :u])
        r = ract(a_zr[:, u:])
        if reset_after:
            q = hu[:, 2 * u:]
            a_h = xw[t, :, 2 * u:] + r * q
            aux[t] = q
        else:
            p = r * hd
            a_h = xw[t, :, 2 * u:] + p @ Uh
            aux[t] = p
        hh = act(a_h)
        h = z * h_prev + (1.0 - z) * hh
        pre[t, :, :2 * u], pre[t, :, 2 * u:] = a_zr, a_h
        gates[t, :, :u], gates[t, :, u:2 * u], gates[t, :, 2 * u:] = z, r, hh
        hs[t + 1] = h if sm is None else np.where(sm[t], h, h_prev)
    cache = GRUCache(xs, hs, pre, gates, aux, kernel, recurrent_kernel, bias is not None,
                     reset_after, act.name, ract.name, rec_mask, sm)
    return batch_major(hs[1:]), (hs[T].copy(),), cache


def gru_backward(d_outputs, d_final_states, cache: GRUCache):
    """Return ``(dx, (dh0,), grads)``; ``grads["bias"]`` has the shape of the bias."""
    (xs, hs, pre, gates, aux, kernel, recurrent_kernel, has_bias, reset_after, act_name, ract_name,
     rec_mask, sm) = cache
    (d_h_last,) = zeros_for_none(unpack_states(d_final_states, 1, "gru_backward"), hs[0])
    act, ract = _act.get(act_name), _act.get(ract_name)
    T = pre.shape[0]
    u = recurrent_kernel.shape[0]
    Uzr, Uh = recurrent_kernel[:, :2 * u], recurrent_kernel[:, 2 * u:]
    d_seq = time_major(d_outputs)
    dxw = np.empty_like(pre)                             # gradient of x_t W + b, per step
    d_rec = np.zeros_like(recurrent_kernel)
    d_rec_bias = np.zeros(3 * u, dtype=pre.dtype)
    g = np.array(d_h_last, dtype=pre.dtype)
    for t in reversed(range(T)):
        g = g + d_seq[t]
        if sm is None:
            dh, g_skip = g, 0.0
        else:
            dh, g_skip = np.where(sm[t], g, 0.0), np.where(sm[t], 0.0, g)
        h_prev = hs[t]
        hd = h_prev if rec_mask is None else h_prev * rec_mask
        a, gt = pre[t], gates[t]
        z, r, hh = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:]
        dz = dh * (h_prev - hh)
        da_h = act.backward(a[:, 2 * u:], hh, dh * (1.0 - z))
        if reset_after:
            dr = da_h * aux[t]
        else:
            dp = da_h @ Uh.T
            dr = dp * hd
        d = dxw[t]
        d[:, :u] = ract.backward(a[:, :u], z, dz)
        d[:, u:2 * u] = ract.backward(a[:, u:2 * u], r, dr)
        d[:, 2 * u:] = da_h
        if reset_after:
            dhu = np.concatenate([d[:, :2 * u], da_h * r], axis=1)
            d_rec += hd.T @ dhu
            d_rec_bias += dhu.sum(axis=0)
            dhd = dhu @ recurrent_kernel.T
        else:
            d_rec[:, :2 * u] += hd.T @ d[:, :2 * u]
            d_rec[:, 2 * u:] += aux[t].T @ da_h
            dhd = d[:, :2 * u] @ Uzr.T + dp * r
        g = (dhd if rec_mask is None else dhd * rec_mask) + dh * z + g_skip
    d2 = dxw.reshape(-1, 3 * u)
    d_kernel = xs.reshape(-1, xs.shape[-1]).T @ d2
    d_bias = None
    if has_bias:
        d_in_bias = d2.sum(axis=0)
        d_bias = np.stack([d_in_bias, d_rec_bias]) if reset_after else d_in_bias
    dx = batch_major(dxw @ kernel.T)
    return dx, (g,), grads_dict(d_kernel, d_rec, d_bias)
