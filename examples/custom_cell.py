"""A new recurrent cell in one file: a peephole LSTM (Gers & Schmidhuber, 2000).

The peephole connections let the gates look at the cell state: one extra weight, ``peephole``
(3, u) = [p_i; p_f; p_o], besides Keras's kernel, recurrent_kernel and bias.  Everything else
(running over time, masks, go_backwards, dropout, initial and returned states, Bidirectional,
saving) comes from ``rnnlab.layers.RNN``.  One step, with z = x·W + h·U + b = [z_i z_f z_c z_o]::

    i = σ(z_i + p_i⊙C)    f = σ(z_f + p_f⊙C)    C̃ = tanh(z_c)
    C' = f⊙C + i⊙C̃        o = σ(z_o + p_o⊙C')    h' = o⊙tanh(C')

and its gradient, for g_h = dL/dh' (output and state) and g_c = dL/dC'::

    s = tanh(C')       da_o = σ'·(g_h⊙s)        dC = g_c + g_h⊙o⊙(1 - s²) + da_o⊙p_o
    da_i = σ'·(dC⊙C̃)   da_f = σ'·(dC⊙C)        dz_c = (1 - C̃²)⊙(dC⊙i)
    dp_i = Σ da_i⊙C    dp_f = Σ da_f⊙C         dp_o = Σ da_o⊙C'
    dC_prev = dC⊙f + da_i⊙p_i + da_f⊙p_f       dh_prev = dz·Uᵀ     dx = dz·Wᵀ

Run it: ``python examples/custom_cell.py`` checks the gradients against finite differences, then
trains the cell on a toy task (is the running sum of a padded sequence positive?) inside ``RNN``
and inside ``Bidirectional``, with padded, masked sequences.
"""
from __future__ import annotations

import numpy as np

from rnnlab import Sequential, config
from rnnlab.layers import RNN, Bidirectional, Cell, Dense, Masking
from rnnlab.optimizers import Adam
from rnnlab.registry import register_serializable
from rnnlab.testing import check_cell_over_time, check_gradients


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@register_serializable(package="examples")
class PeepholeLSTMCell(Cell):
    """An LSTM cell whose input, forget and output gates also see the cell state."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    @property
    def state_size(self):
        return (self.units, self.units)

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        u = self.units
        self.add_weight("kernel", (input_shape[-1], 4 * u), "glorot_uniform")
        self.add_weight("recurrent_kernel", (u, 4 * u), "orthogonal")
        self.add_weight("peephole", (3, u), "glorot_uniform")
        self.add_weight("bias", (4 * u,), "zeros")
        self.built = True

    def step(self, x, states, rec_mask=None):
        h, c = states
        u, p = self.units, self.params["peephole"]
        hd = h if rec_mask is None else h * rec_mask
        z = x @ self.params["kernel"] + hd @ self.params["recurrent_kernel"] + self.params["bias"]
        i = _sigmoid(z[:, :u] + p[0] * c)
        f = _sigmoid(z[:, u:2 * u] + p[1] * c)
        cc = np.tanh(z[:, 2 * u:3 * u])
        c_new = f * c + i * cc
        o = _sigmoid(z[:, 3 * u:] + p[2] * c_new)
        s = np.tanh(c_new)
        h_new = o * s
        return h_new, [h_new, c_new], (x, hd, c, i, f, cc, c_new, o, s, rec_mask)

    def step_backward(self, d_y, d_states, cache):
        x, hd, c, i, f, cc, c_new, o, s, rec_mask = cache
        p = self.params["peephole"]
        gh = d_y + d_states[0]
        da_o = o * (1 - o) * (gh * s)
        dc = d_states[1] + gh * o * (1 - s * s) + da_o * p[2]
        da_i = i * (1 - i) * (dc * cc)
        da_f = f * (1 - f) * (dc * c)
        dz = np.concatenate([da_i, da_f, (1 - cc * cc) * (dc * i), da_o], axis=1)
        grads = {
            "kernel": x.T @ dz,
            "recurrent_kernel": hd.T @ dz,
            "peephole": np.stack([(da_i * c).sum(0), (da_f * c).sum(0), (da_o * c_new).sum(0)]),
            "bias": dz.sum(0),
        }
        dh = dz @ self.params["recurrent_kernel"].T
        if rec_mask is not None:
            dh = dh * rec_mask
        dc_prev = dc * f + da_i * p[0] + da_f * p[1]
        return dz @ self.params["kernel"].T, [dh, dc_prev], grads

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def toy_data(n=512, t=12, seed=0):
    """Sequences of 2 features, zero-padded at the end to ``t`` steps; label: running sum of
    the first feature over the real steps is positive."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 2))
    lengths = rng.integers(3, t + 1, size=n)
    for k, length in enumerate(lengths):
        x[k, length:] = 0.0
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float64)[:, None]
    return x, y


def build_model(bidirectional: bool, units: int = 8, t: int = 12):
    rnn = RNN(PeepholeLSTMCell(units))
    return Sequential([Masking(0.0, input_shape=(t, 2)),
                       Bidirectional(rnn) if bidirectional else rnn,
                       Dense(1, activation="sigmoid")])


def main():
    config.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, h, c = rng.normal(size=(3, 5)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    step_err = check_gradients(PeepholeLSTMCell(4), [x, h, c])
    mask = np.ones((3, 6), dtype=bool)
    mask[0, 4:] = False
    bptt_err = check_cell_over_time(PeepholeLSTMCell(4), rng.normal(size=(3, 6, 5)), mask=mask)
    print(f"one step: max relative error {max(step_err.values()):.1e}; "
          f"over time with a mask: {max(bptt_err.values()):.1e}")
    x, y = toy_data()
    for bidirectional in (False, True):
        model = build_model(bidirectional)
        model.compile(optimizer=Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
        hist = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
        name = "Bidirectional(RNN(PeepholeLSTMCell))" if bidirectional else "RNN(PeepholeLSTMCell)"
        print(f"{name}: loss {hist.history['loss'][0]:.3f} -> {hist.history['loss'][-1]:.3f}, "
              f"accuracy {hist.history['accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
