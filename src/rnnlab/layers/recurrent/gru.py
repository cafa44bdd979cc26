"""GRUCell and GRU (Cho et al., 2014), Keras's gate layout z, r, h.

One step (σ = recurrent_activation, act = activation, ρ the recurrent-dropout mask, hd = h⊙ρ).
reset_after=True (Keras 3's default, as cuDNN and PyTorch), bias (2, 3u) = [b; rb]::

    a_zr = x·W_zr + b_zr + hd·U_zr + rb_zr      z, r = σ(a_z), σ(a_r)
    q = hd·U_h + rb_h                           h̃ = act(x·W_h + b_h + r⊙q)
    h' = y = z⊙h + (1 - z)⊙h̃

reset_after=False (the original GRU), bias (3u,): h̃ = act(x·W_h + b_h + (r⊙hd)·U_h).
Gradient, for g = dL/dy + dL/dh'::

    dz = g⊙(h - h̃)   dh̃ = g⊙(1 - z)   da_h = act'⊙dh̃   da_z = σ'⊙dz
    reset_after:  dr = da_h⊙q;  the recurrent side gets [da_z, da_r, da_h⊙r] (dU, drb, dh)
    before:       dp = da_h·U_hᵀ, dr = dp⊙hd, dU_h = (r⊙hd)ᵀ·da_h, hd receives dp⊙r
    dh = (recurrent side·Uᵀ)⊙ρ + g⊙z

The whole-sequence version (BPTT) is in :mod:`rnnlab.kernels.reference.gru`.
"""
from __future__ import annotations

import numpy as np

from rnnlab.layers.recurrent.builtin import CellLayer, GatedCell


class GRUCell(GatedCell):
    """Keras's ``GRUCell(units, activation="tanh", recurrent_activation="sigmoid",
    reset_after=True, ...)``."""

    gates = 3
    kernel_name = "gru"
    state_names = ("h",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         **kwargs)
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def kernel_options(self):
        return {**super().kernel_options(), "reset_after": self.reset_after}

    def _biases(self):
        if not self.use_bias:
            return None, None
        b = self.params["bias"]
        return (b[0], b[1]) if self.reset_after else (b, None)

    def step(self, x, states, rec_mask=None):
        h = states[0]
        u = self.units
        W, U = self.params["kernel"], self.params["recurrent_kernel"]
        b, rb = self._biases()
        hd = h if rec_mask is None else h * rec_mask
        xw = x @ W
        if b is not None:
            xw = xw + b
        sig, act = self.recurrent_activation, self.activation
        if self.reset_after:
            hu = hd @ U
            if rb is not None:
                hu = hu + rb
            a_zr = xw[:, :2 * u] + hu[:, :2 * u]
            aux = hu[:, 2 * u:]                               # q
            r = sig(a_zr[:, u:])
            a_h = xw[:, 2 * u:] + r * aux
        else:
            a_zr = xw[:, :2 * u] + hd @ U[:, :2 * u]
            r = sig(a_zr[:, u:])
            aux = r * hd                                      # p
            a_h = xw[:, 2 * u:] + aux @ U[:, 2 * u:]
        z = sig(a_zr[:, :u])
        hh = act(a_h)
        y = z * h + (1.0 - z) * hh
        return y, [y], (x, h, hd, a_zr, a_h, z, r, hh, aux, rec_mask)

    def step_backward(self, d_y, d_states, cache):
        x, h, hd, a_zr, a_h, z, r, hh, aux, rec_mask = cache
        u = self.units
        W, U = self.params["kernel"], self.params["recurrent_kernel"]
        sig, act = self.recurrent_activation, self.activation
        g = d_y + d_states[0]
        da_z = sig.backward(a_zr[:, :u], z, g * (h - hh))
        da_h = act.backward(a_h, hh, g * (1.0 - z))
        dxw = np.empty((x.shape[0], 3 * u), dtype=g.dtype)
        dxw[:, :u] = da_z
        dxw[:, 2 * u:] = da_h
        grads = {}
        if self.reset_after:
            dxw[:, u:2 * u] = sig.backward(a_zr[:, u:], r, da_h * aux)
            dhu = np.concatenate([dxw[:, :2 * u], da_h * r], axis=1)
            grads["recurrent_kernel"] = hd.T @ dhu
            dhd = dhu @ U.T
        else:
            dp = da_h @ U[:, 2 * u:].T
            dxw[:, u:2 * u] = sig.backward(a_zr[:, u:], r, dp * hd)
            d_rec = np.empty_like(U)
            d_rec[:, :2 * u] = hd.T @ dxw[:, :2 * u]
            d_rec[:, 2 * u:] = aux.T @ da_h
            grads["recurrent_kernel"] = d_rec
            dhd = dxw[:, :2 * u] @ U[:, :2 * u].T + dp * r
        grads["kernel"] = x.T @ dxw
        if self.use_bias:
            db = dxw.sum(axis=0)
            grads["bias"] = np.stack([db, dhu.sum(axis=0)]) if self.reset_after else db
        if rec_mask is not None:
            dhd = dhd * rec_mask
        return dxw @ W.T, [dhd + g * z], grads

    def get_config(self):
        cfg = super().get_config()
        cfg["reset_after"] = self.reset_after
        return cfg


class GRU(CellLayer):
    """Gated Recurrent Unit layer, ``RNN(GRUCell(units, ...))`` (Keras's arguments)."""

    cell_class = GRUCell
