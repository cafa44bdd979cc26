"""``RNN(cell)``: any recurrent cell run over time, with Keras 3's call semantics.

What is common to every recurrent layer lives here once: argument checks, initial states (given
as ``[x, *states]`` or ``initial_state=``, on arrays or in a graph), step masks, ``go_backwards``,
dropout masks, ``return_sequences``/``return_state`` and routing the gradients.  A cell with a
fused whole-sequence kernel (the built-in SimpleRNN, LSTM and GRU cells) runs through it;
any other cell runs through :func:`run_steps`, the step loop below.

Masking (Keras's default ``zero_output_for_mask=False``): at a masked step the states are carried
unchanged and the output repeats the previous output, zeros before a sample's first kept step
(with ``zero_output_for_mask=True`` the returned outputs are zeros at every masked step).  The
step loop's backward pass, with g_y(t) the gradient reaching output t (from the loss and from
later masked steps) and g_s(t) the gradient of the states after step t, for a kept step::

    (dx_t, g_s(t-1), dW_t) = cell.step_backward(g_y(t), g_s(t), cache_t),   dW = Σ_t dW_t

and for a masked step dx_t = 0, g_s(t-1) = g_s(t), and g_y(t) passes on to output t-1.

Statefulness (Keras 3's ``stateful=True``): the layer is built for one fixed batch size B and
keeps its final states (``layer.states``, arrays of shape (B, state size)); each call starts from
them (unless given ``initial_state``) and writes its final states back, so sample i of a batch
continues sample i of the previous batch.  The carried states enter a call as constants: the
gradient stops at the batch boundary (truncated backpropagation through time, as Keras).  With a
mask the carried state is the one after the last kept step; with ``go_backwards`` it is the state
after the sequence was read backwards (after its first step), as Keras.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from rnnlab import checks
from rnnlab.layers.base import (
    LAYERS,
    Layer,
    _is_multi,
    _symbolic_in,
    refuse_inner_activity_regularizer,
)
from rnnlab.layers.recurrent.cell import Cell
from rnnlab.layers.recurrent.stacked import StackedRNNCells


def run_steps(cell, x, states, rec_mask, step_mask):
    """The step loop: ``(outputs (N, T, out), final_states, backward)`` for any cell, with
    ``backward(d_outputs, d_final_states) -> (dx, d_initial_states, grads)``."""
    n, t, m = x.shape
    keep = None if step_mask is None else step_mask[:, :, None]
    out_size = cell.output_size
    # the "previous output" before step 0 (repeated by a masked first step): h0 when the output
    # is the first state (every built-in cell), zeros otherwise
    carries_h0 = out_size == cell.state_sizes[0]
    prev = states[0] if carries_h0 else np.zeros((n, out_size), dtype=x.dtype)
    outputs = np.empty((n, t, out_size), dtype=x.dtype)
    caches = []
    states = list(states)
    for s in range(t):
        y, new, cache = cell.step(x[:, s], states, rec_mask)
        if keep is not None:
            k = keep[:, s]
            y = np.where(k, y, prev)
            new = [np.where(k, a, b) for a, b in zip(new, states)]
        outputs[:, s] = y
        prev, states = y, list(new)
        caches.append(cache)

    def backward(d_outputs, d_finals):
        g_states = [np.asarray(d, dtype=x.dtype) for d in d_finals]
        g_prev = np.zeros((n, out_size), dtype=x.dtype)
        dx = np.zeros((n, t, m), dtype=x.dtype)
        grads: dict = {}
        for s in reversed(range(t)):
            g_y = d_outputs[:, s] + g_prev
            skip = None
            if keep is not None:
                k = keep[:, s]
                g_prev = np.where(k, 0.0, g_y).astype(x.dtype)
                g_y = np.where(k, g_y, 0.0).astype(x.dtype)
                skip = [np.where(k, 0.0, g) for g in g_states]
                g_states = [np.where(k, g, 0.0).astype(x.dtype) for g in g_states]
            dx_s, d_prev, step_grads = cell.step_backward(g_y, g_states, caches[s])
            dx[:, s] = dx_s
            for name, g in step_grads.items():
                grads[name] = g if name not in grads else grads[name] + g
            g_states = list(d_prev) if skip is None else [a + b for a, b in zip(d_prev, skip)]
        if carries_h0 and keep is not None:
            g_states[0] = g_states[0] + g_prev
        return dx, g_states, grads

    return outputs, states, backward


_PROBING: contextvars.ContextVar[bool] = contextvars.ContextVar("rnnlab_state_probe",
                                                               default=False)


@contextlib.contextmanager
def state_probe():
    """Within the block stateful layers neither read nor write their carried states (they start
    from zeros and accept any batch size): a model probing its output shapes on one sample before
    it trains does not disturb them."""
    token = _PROBING.set(True)
    try:
        yield
    finally:
        _PROBING.reset(token)


def build_for_call(layer, x) -> None:
    """Build a stateful layer called eagerly on arrays for their batch size (as Keras 3 does:
    the first call fixes B), not for the free batch axis ``Layer.__call__`` builds for."""
    if layer.built or not getattr(layer, "stateful", False) or _symbolic_in(x) is not None:
        return
    if isinstance(x, (list, tuple)):
        layer.ensure_built([tuple(np.shape(v)) for v in x])
    else:
        layer.ensure_built(tuple(np.shape(x)))


def fixed_batch_error(who: str, shape) -> ValueError:
    return ValueError(f"{who} is stateful (stateful=True) and needs a fixed batch size, got "
                      f"input shape {tuple(shape)}: give the model one with "
                      "Input(shape, batch_size=B) or Input(batch_shape=(B, ...)), or "
                      "batch_input_shape=(B, ...) on the first layer")


class RNN(Layer):
    """Keras's ``RNN(cell, return_sequences=False, return_state=False, go_backwards=False, ...)``.

    ``cell`` is a :class:`~rnnlab.layers.recurrent.cell.Cell` or a list of cells (stacked with
    :class:`StackedRNNCells`).  Output: the last output (N, out), or every step's (N, T, out)
    with ``return_sequences``, followed by the final states with ``return_state``.  The input may
    be ``[x, *initial_states]``; then the backward pass returns ``[dx, *d_initial_states]``.
    The layer's weights are the cell's (same arrays, same names).
    """

    def __init__(self, cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs):
        if isinstance(cell, dict):                      # a config written by get_config
            cell = LAYERS.deserialize(cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not isinstance(cell, Cell):
            raise TypeError(f"{type(self).__name__} needs a recurrent cell (an rnnlab "
                            f"rnnlab.layers.Cell subclass, e.g. LSTMCell(4)), got {cell!r}")
        refuse_inner_activity_regularizer(type(self).__name__, [cell])
        super().__init__(**kwargs)
        self.cell = cell
        who = f"Layer {self.name!r} ({type(self).__name__})"
        self.return_sequences = checks.flag(return_sequences, "return_sequences", who)
        self.return_state = checks.flag(return_state, "return_state", who)
        self.go_backwards = checks.flag(go_backwards, "go_backwards", who)
        self.stateful = checks.flag(stateful, "stateful", who)
        #: the carried states of a stateful layer (arrays (B, size), B fixed at build), else None
        self.states = None
        # unroll: accepted for Keras compatibility; the kernels always loop
        self.unroll = checks.flag(unroll, "unroll", who)
        self.zero_output_for_mask = checks.flag(zero_output_for_mask, "zero_output_for_mask",
                                                who)
        # the layer's weights are the cell's: the same dicts, so nothing is copied
        self.params, self.grads = cell.params, cell.grads
        self.regularizers, self.non_trainable = cell.regularizers, cell.non_trainable
        self.constraints = cell.constraints
        self._input_dim = None

    def _who(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    def sublayers(self) -> list:
        return [self.cell]

    def step_units(self) -> int:
        return self.cell.step_units()

    @property
    def n_states(self) -> int:
        return len(self.cell.state_sizes)

    def _reseed_for_check(self, seed: int) -> None:
        self.cell._reseed_for_check(seed)

    def __call__(self, x, training=False, mask=None, initial_state=None, **kwargs):
        """Keras's call: ``layer(x, initial_state=[h0, ...])`` is ``layer([x, h0, ...])``,
        on arrays and on symbolic tensors alike."""
        if initial_state is not None:
            if isinstance(x, (list, tuple)):
                raise ValueError(f"{self._who()} got initial states twice: as extra inputs and as "
                                 "initial_state=; give them one way")
            states = (list(initial_state) if isinstance(initial_state, (list, tuple))
                      else [initial_state])
            if len(states) != self.n_states:
                raise ValueError(f"{self._who()} initial_state takes {self.n_states} array(s) "
                                 f"[{', '.join(self._state_labels())}], got {len(states)}")
            x = [x] + states
        build_for_call(self, x)
        return super().__call__(x, training=training, mask=mask, **kwargs)

    # ------------------------------------------------------------------ carried states
    def reset_states(self, states=None) -> None:
        """Set the carried states to zeros, or to ``states`` (one array per state, shape
        (B, size), as Keras 2's ``reset_states(states)``); every array is checked before any is
        set.  A layer that is not stateful has nothing to reset (as Keras 3)."""
        who = self._who()
        if not self.stateful or self.states is None:
            if states is not None:
                raise (AttributeError(f"{who} is not stateful: it keeps no states to set")
                       if not self.stateful else
                       ValueError(f"{who} is not built yet: call it or build the model before "
                                  "setting its states"))
            return
        if states is None:
            for s in self.states:
                s[...] = 0
            return
        given = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(given) != self.n_states:
            raise ValueError(f"{who} reset_states(states=...) takes {self.n_states} array(s) "
                             f"[{', '.join(self._state_labels())}], got {len(given)}")
        new = []
        for label, s, v in zip(self._state_labels(), self.states, given):
            v = self._float_input(v, ndim=2, what=f"state {label}")
            if v.shape != s.shape:
                raise ValueError(f"{who} state {label} has shape {s.shape} (batch size, "
                                 f"units), got {v.shape}")
            if not np.isfinite(v).all():
                raise ValueError(f"{who} state {label} has non-finite values (NaN or inf)")
            new.append(v)
        for s, v in zip(self.states, new):
            s[...] = v

    reset_state = reset_states     # Keras 3's name

    def _check_batch(self, n: int) -> None:
        expected = self.states[0].shape[0]
        if n != expected:
            raise ValueError(f"{self._who()} is stateful and was built for batches of "
                             f"{expected}; got a batch of {n} (the batch size must stay the same "
                             "from batch to batch: fit/evaluate/predict with "
                             f"batch_size={expected} and a number of samples that is a multiple "
                             "of it)")

    # ------------------------------------------------------------------ building and shapes
    def build(self, input_shape):
        shape = input_shape[0] if _is_multi(input_shape) else input_shape
        if len(shape) != 3:
            raise ValueError(f"{self._who()} expects inputs of rank 3 (batch, timesteps, "
                             f"features), got input shape {tuple(shape)}")
        if shape[-1] is None:
            raise ValueError(f"{self._who()} needs a known last axis (features), got input "
                             f"shape {tuple(shape)}")
        if self.stateful:
            if shape[0] is None:
                raise fixed_batch_error(self._who(), shape)
            batch = checks.positive_int(shape[0], "batch size", self._who())
        self.cell.ensure_built((shape[0], shape[-1]))
        self._input_dim = int(shape[-1])
        if self.stateful:
            for size in self.cell.state_sizes:
                self._weight_shape("states", (batch, size))     # refuses absurd sizes
            self.states = [np.asarray(s, dtype=self.compute_dtype)
                           for s in self.cell.get_initial_state(batch, self.compute_dtype)]
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if _is_multi(input_shape) else input_shape
        n, out = shape[0], self.cell.output_size
        main = (n, shape[1], out) if self.return_sequences else (n, out)
        if self.return_state:
            return [main] + [(n, s) for s in self.cell.state_sizes]
        return main

    def compute_mask(self, x, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * self.n_states
        return out

    # ------------------------------------------------------------------ inputs
    def _state_labels(self) -> list[str]:
        names = getattr(self.cell, "state_names", None)
        if names is None or len(names) != self.n_states:
            return [str(i) for i in range(self.n_states)]
        return [f"{name}0" for name in names]

    def _split_inputs(self, x):
        if isinstance(x, (list, tuple)):
            if len(x) != 1 + self.n_states:
                raise ValueError(f"{self._who()} takes [inputs, {', '.join(self._state_labels())}] "
                                 f"({1 + self.n_states} arrays) when initial states are given, "
                                 f"got {len(x)}")
            return x[0], list(x[1:]), True
        return x, None, False

    def _check_states(self, states, n):
        out = []
        for label, s, size in zip(self._state_labels(), states, self.cell.state_sizes):
            s = self._float_input(s, ndim=2, what=f"initial state {label}")
            if s.shape != (n, size):
                raise ValueError(f"{self._who()} initial state {label} must have shape "
                                 f"({n}, {size}), got {s.shape}")
            out.append(s)
        return out

    def _step_mask(self, mask, n, t):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.shape != (n, t):
            raise ValueError(f"{self._who()} mask must have shape (batch, timesteps) = ({n}, {t}), "
                             f"got {mask.shape}")
        return mask.astype(bool)

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False, mask=None):
        x, states, has_states = self._split_inputs(x)
        x = self._float_input(x, ndim=3, last_dim=self._input_dim)
        n, t, m = x.shape
        if t == 0:
            raise ValueError(f"{self._who()} needs at least one time step, got input shape "
                             f"{x.shape}")
        dtype = x.dtype
        cell = self.cell
        carry = self.stateful and self.states is not None and not _PROBING.get()
        if carry:
            self._check_batch(n)
        if has_states:
            states = self._check_states(states, n)
        elif carry:          # constants: the gradient stops at the batch boundary
            states = [s.astype(dtype, copy=True) for s in self.states]
        else:
            states = cell.get_initial_state(n, dtype)
        step_mask = self._step_mask(mask, n, t)
        if self.go_backwards:
            x = x[:, ::-1]
            step_mask = None if step_mask is None else step_mask[:, ::-1]
        in_mask, rec_mask = cell.dropout_masks(n, m, dtype, training)
        xin = x * in_mask if in_mask is not None else np.ascontiguousarray(x)
        fused = cell.has_sequence_kernel
        run = cell.sequence_forward if fused else (
            lambda *a: run_steps(cell, *a))                            # noqa: E731
        seq, finals, seq_backward = run(xin, states, rec_mask, step_mask)
        finals = list(finals)
        # zero_output_for_mask: masked steps output zeros.  Otherwise, as Keras's backend rnn,
        # the steps masked before a sample's first kept step output zeros too (the "previous
        # output" there is zero, not the initial state, which a stateful layer carries)
        zero = None
        if step_mask is not None:
            if self.zero_output_for_mask:
                zero = step_mask[:, :, None].astype(dtype)
            else:
                seen = np.logical_or.accumulate(step_mask, axis=1)
                if not seen.all():
                    zero = seen[:, :, None].astype(dtype)
            if zero is not None:
                seq = seq * zero
        # the last output: for the fused cells the final h itself (the same values), so that its
        # gradient joins dL/dh_T as before; for the step loop the last step's output
        main = seq if self.return_sequences else (
            seq[:, -1] if zero is not None or not fused else finals[0]).copy()
        out = [main] + finals if self.return_state else main
        n_states = self.n_states
        if carry:
            for s, f in zip(self.states, finals):
                s[...] = f

        def backward(d_out):
            if self.return_state:
                if not isinstance(d_out, (list, tuple)) or len(d_out) != 1 + n_states:
                    raise ValueError(f"{self._who()} returns {1 + n_states} arrays (return_state); "
                                     f"backward needs a list of {1 + n_states} gradients "
                                     "(None for unused ones)")
                d_main, d_fin = d_out[0], list(d_out[1:])
            else:
                d_main, d_fin = d_out, [None] * n_states
            d_fin = [np.zeros_like(f) if d is None else np.asarray(d, dtype=dtype)
                     for d, f in zip(d_fin, finals)]
            if self.return_sequences:
                d_seq = (np.zeros_like(seq) if d_main is None
                         else np.asarray(d_main, dtype=dtype))
            else:
                d_seq = np.zeros_like(seq)
                if d_main is not None:
                    if fused and zero is None:
                        d_fin[0] = d_fin[0] + d_main
                    else:
                        d_seq[:, -1] = d_main
            if zero is not None:
                d_seq = d_seq * zero
            dx, d_states, grads = seq_backward(d_seq, d_fin)
            for name, g in grads.items():
                self.grads[name] += g
            if in_mask is not None:
                dx = dx * in_mask
            if self.go_backwards:
                dx = np.ascontiguousarray(dx[:, ::-1])
            return [dx] + list(d_states) if has_states else dx

        return out, backward

    # ------------------------------------------------------------------ config
    def get_config(self):
        cfg = super().get_config()
        cfg["cell"] = LAYERS.serialize(self.cell)
        cfg.update(self._rnn_config())
        return cfg

    def _rnn_config(self) -> dict:
        return dict(return_sequences=self.return_sequences, return_state=self.return_state,
                    go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                    zero_output_for_mask=self.zero_output_for_mask)
