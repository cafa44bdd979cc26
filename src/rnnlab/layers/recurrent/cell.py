"""The recurrent-cell contract: what a cell declares and computes for one time step.

A cell is a layer that maps one step's input and the previous states to an output and new
states.  :class:`rnnlab.layers.RNN` runs any cell over time (masks, ``go_backwards``, dropout,
initial and returned states are handled there once for all cells).  To write a cell, subclass
:class:`Cell` and give:

* ``state_size`` (an int, or a tuple for several states such as LSTM's (h, c)) and
  ``output_size``;
* ``build(input_shape)``: the weights, with :meth:`add_weight` (``input_shape`` is
  (batch, features));
* ``step(x, states, rec_mask=None) -> (y, new_states, cache)``: one step for the whole batch,
  ``x`` (N, m), ``states`` a list of (N, s) arrays; ``rec_mask`` is whatever
  :meth:`dropout_masks` returned for the recurrent side (None without recurrent dropout);
* ``step_backward(d_y, d_states, cache) -> (dx, d_prev_states, grads)``: the hand-written
  gradient of that step.  ``d_y`` is dL/dy and ``d_states`` the list dL/d(new_states); it returns
  dL/dx, the list dL/d(states) and a dict of the weights' gradients by weight name (the RNN adds
  them up over time).

A cell is also a layer on its own: ``cell.forward([x, *states])`` returns ``[y, *new_states]``
with a backward closure, so :func:`rnnlab.testing.check_gradients` checks a cell's one-step
backward directly.  Built-in cells also have a fused whole-sequence kernel
(``has_sequence_kernel = True`` and :meth:`sequence_forward`), which ``RNN`` uses instead of the
step loop; tests hold the two equal.
"""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config
from rnnlab.layers.base import Layer


class Cell(Layer):
    """Base class of recurrent cells (see the module documentation for the contract)."""

    #: True for cells that also implement :meth:`sequence_forward` (a fused whole-sequence kernel).
    has_sequence_kernel = False

    def __init__(self, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.dropout = checks.rate(dropout, "dropout", who)
        self.recurrent_dropout = checks.rate(recurrent_dropout, "recurrent_dropout", who)
        self.seed = checks.seed(seed, who)
        self._rng = None if self.seed is None else config.make_rng(self.seed)

    def _who(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    # ------------------------------------------------------------------ sizes
    state_size: int | tuple = 0
    output_size: int = 0

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """``state_size`` as a tuple of ints, one per state."""
        s = self.state_size
        return tuple(int(v) for v in s) if isinstance(s, (tuple, list)) else (int(s),)

    def get_initial_state(self, batch_size: int, dtype) -> list[np.ndarray]:
        """Zero states, as Keras."""
        return [np.zeros((batch_size, s), dtype=dtype) for s in self.state_sizes]

    def step_units(self) -> int:
        """Width of the per-step recurrent product (decides how the cores are shared)."""
        return max(self.state_sizes)

    # ------------------------------------------------------------------ dropout
    def _reseed_for_check(self, seed: int) -> None:
        """Make the next dropout draws deterministic (finite-difference checks re-run forward)."""
        self._rng = np.random.default_rng(seed)

    def dropout_masks(self, n: int, input_dim: int, dtype, training: bool):
        """``(input_mask (N, 1, m) or None, rec_mask (N, state_sizes[0]) or None)``: Keras 3's
        dropout, one mask per call shared by all steps, scaled by 1/keep (inverted dropout)."""
        rng = self._rng or config.rng()
        in_mask = rec_mask = None
        if training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            in_mask = ((rng.random((n, 1, input_dim)) < keep) / keep).astype(dtype)
        if training and self.recurrent_dropout > 0.0:
            keep = 1.0 - self.recurrent_dropout
            rec_mask = ((rng.random((n, self.state_sizes[0])) < keep) / keep).astype(dtype)
        return in_mask, rec_mask

    # ------------------------------------------------------------------ one step
    def step(self, x, states, rec_mask=None):
        """One step: ``(y, new_states, cache)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def step_backward(self, d_y, d_states, cache):
        """Gradient of one step: ``(dx, d_prev_states, grads by weight name)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement step_backward()")

    def sequence_forward(self, x, states, rec_mask, step_mask):
        """Fused whole-sequence pass: ``(outputs (N, T, u), final_states, backward)`` where
        ``backward(d_outputs, d_final_states) -> (dx, d_initial_states, grads)``."""
        raise NotImplementedError(f"{type(self).__name__} has no fused sequence kernel")

    # ------------------------------------------------------------------ as a layer
    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        n = shape[0]
        return [(n, self.output_size)] + [(n, s) for s in self.state_sizes]

    def compute_mask(self, x, mask):
        return None

    def ensure_built(self, input_shape) -> None:
        super().ensure_built(input_shape[0] if isinstance(input_shape, list) else input_shape)

    def forward(self, x, training=False, mask=None):
        """``[y, *new_states]`` for ``[x, *states]`` (zero states if only ``x`` is given)."""
        parts = list(x) if isinstance(x, (list, tuple)) else [x]
        xt = self._float_input(parts[0], ndim=2)
        n = xt.shape[0]
        if len(parts) == 1:
            states = self.get_initial_state(n, xt.dtype)
        elif len(parts) == 1 + len(self.state_sizes):
            states = [self._float_input(s, ndim=2, what=f"state {i}")
                      for i, s in enumerate(parts[1:])]
            for i, (s, size) in enumerate(zip(states, self.state_sizes)):
                if s.shape != (n, size):
                    raise ValueError(f"{self._who()} state {i} must have shape ({n}, {size}), "
                                     f"got {s.shape}")
        else:
            raise ValueError(f"{self._who()} takes [inputs, *states] "
                             f"({1 + len(self.state_sizes)} arrays), got {len(parts)}")
        in_mask, rec_mask = self.dropout_masks(n, xt.shape[1], xt.dtype, training)
        if in_mask is not None:
            in_mask = in_mask[:, 0]                     # (N, 1, m) -> (N, m) for one step
            xt = xt * in_mask
        y, new_states, cache = self.step(xt, states, rec_mask)

        def backward(d_out):
            d_y, *d_states = [np.zeros_like(a) if d is None else np.asarray(d, dtype=a.dtype)
                              for d, a in zip(d_out, [y, *new_states])]
            dx, d_prev, grads = self.step_backward(d_y, d_states, cache)
            if in_mask is not None:
                dx = dx * in_mask
            for name, g in grads.items():
                self.grads[name] += g
            return [dx, *d_prev] if len(parts) > 1 else dx

        return [y, *new_states], backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed)
        return cfg
