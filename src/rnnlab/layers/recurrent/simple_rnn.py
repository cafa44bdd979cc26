"""SimpleRNNCell and SimpleRNN: the lecture's neuron, ``h_t = act(x_t·W + h_{t-1}·U + b)``.

The slides' ``Ŷ_t = tanh(W0 + X_t·W1 + Ŷ_{t-1}·W2)`` with ``units`` neurons: ``kernel`` = W1,
``recurrent_kernel`` = W2, ``bias`` = W0.  One step, with ρ the recurrent-dropout mask::

    z = x·W + (h⊙ρ)·U + b,   y = h' = act(z)

and its gradient, for g = dL/dy + dL/dh' (the output is the new state)::

    dz = act'(z) ⊙ g       (the slides' (1 - Ŷ²) for tanh)
    dW = xᵀ·dz,   dU = (h⊙ρ)ᵀ·dz,   db = Σ_batch dz,   dx = dz·Wᵀ,   dh = (dz·Uᵀ) ⊙ ρ

The whole-sequence version of the same math (BPTT) is in :mod:`rnnlab.kernels.reference.simple_rnn`.
"""
from __future__ import annotations

from rnnlab.layers.recurrent.builtin import CellLayer, DenseCell


class SimpleRNNCell(DenseCell):
    """Keras's ``SimpleRNNCell(units, activation="tanh", use_bias=True, ...)``."""

    gates = 1
    kernel_name = "simple_rnn"
    state_names = ("h",)

    def step(self, x, states, rec_mask=None):
        h = states[0]
        hd = h if rec_mask is None else h * rec_mask
        z = self.dense_forward(x, hd)
        y = self.activation(z)
        return y, [y], (x, hd, z, y, rec_mask)

    def step_backward(self, d_y, d_states, cache):
        x, hd, z, y, rec_mask = cache
        dz = self.activation.backward(z, y, d_y + d_states[0])
        dx, dh, grads = self.dense_backward(x, hd, dz, rec_mask)
        return dx, [dh], grads


class SimpleRNN(CellLayer):
    """Fully connected recurrent layer, ``RNN(SimpleRNNCell(units, ...))`` (Keras's arguments)."""

    cell_class = SimpleRNNCell
