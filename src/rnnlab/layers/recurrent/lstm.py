"""LSTMCell and LSTM (Hochreiter & Schmidhuber, 1997), Keras's gate layout i, f, c, o.

One step, as on the lecture's slides (σ = recurrent_activation, act = activation, ρ the
recurrent-dropout mask), with z = x·W + (h⊙ρ)·U + b split into [z_i z_f z_c z_o]::

    i = σ(z_i)   f = σ(z_f)   C̃ = act(z_c)   o = σ(z_o)
    C' = f⊙C + i⊙C̃            h' = y = o⊙act(C')

Its gradient, for g_h = dL/dy + dL/dh' and g_c = dL/dC'::

    dC = g_c + act'(C') ⊙ (g_h⊙o)         do = g_h ⊙ act(C')
    di = dC⊙C̃   df = dC⊙C   dC̃ = dC⊙i    dz_* = σ'(z_*)⊙d*  (act' for z_c)
    dW = xᵀ·dz   dU = (h⊙ρ)ᵀ·dz   db = Σ dz   dx = dz·Wᵀ   dh = (dz·Uᵀ)⊙ρ   dC_prev = dC⊙f

The whole-sequence version (BPTT) is in :mod:`rnnlab.kernels.reference.lstm`.
"""
from __future__ import annotations

import numpy as np

from rnnlab.layers.recurrent.builtin import CellLayer, GatedCell


class LSTMCell(GatedCell):
    """Keras's ``LSTMCell(units, activation="tanh", recurrent_activation="sigmoid",
    unit_forget_bias=True, ...)``; ``unit_forget_bias`` starts the forget-gate bias at 1
    (Jozefowicz et al., 2015)."""

    gates = 4
    kernel_name = "lstm"
    state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def init_bias(self, bias):
        if self.unit_forget_bias:
            bias[self.units:2 * self.units] = 1.0

    def step(self, x, states, rec_mask=None):
        h, c = states
        u = self.units
        hd = h if rec_mask is None else h * rec_mask
        z = self.dense_forward(x, hd)
        sig, act = self.recurrent_activation, self.activation
        i, f, cc, o = sig(z[:, :u]), sig(z[:, u:2 * u]), act(z[:, 2 * u:3 * u]), sig(z[:, 3 * u:])
        c_new = f * c + i * cc
        s = act(c_new)
        y = o * s
        return y, [y, c_new], (x, hd, c, z, (i, f, cc, o), c_new, s, rec_mask)

    def step_backward(self, d_y, d_states, cache):
        x, hd, c, z, (i, f, cc, o), c_new, s, rec_mask = cache
        u = self.units
        sig, act = self.recurrent_activation, self.activation
        gh = d_y + d_states[0]
        dc = d_states[1] + act.backward(c_new, s, gh * o)
        dz = np.empty_like(z)
        dz[:, :u] = sig.backward(z[:, :u], i, dc * cc)
        dz[:, u:2 * u] = sig.backward(z[:, u:2 * u], f, dc * c)
        dz[:, 2 * u:3 * u] = act.backward(z[:, 2 * u:3 * u], cc, dc * i)
        dz[:, 3 * u:] = sig.backward(z[:, 3 * u:], o, gh * s)
        dx, dh, grads = self.dense_backward(x, hd, dz, rec_mask)
        return dx, [dh, dc * f], grads

    def get_config(self):
        cfg = super().get_config()
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class LSTM(CellLayer):
    """Long Short-Term Memory layer, ``RNN(LSTMCell(units, ...))`` (Keras's arguments)."""

    cell_class = LSTMCell
