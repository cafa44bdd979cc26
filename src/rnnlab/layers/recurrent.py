"""SimpleRNN, LSTM and GRU layers (Keras 3 arguments, weights and call semantics).

The numeric work is done by whole-sequence kernel pairs in :mod:`rnnlab.kernels` (chosen through
``rnnlab.config.kernels()``); this module handles what is common to the three layers in
:class:`RNNBase`: argument checks, weights, initial states, dropout masks, step masks,
``go_backwards``, ``return_sequences``/``return_state`` and routing the gradients.
"""
from __future__ import annotations

import numpy as np

from rnnlab import config
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels import activations as _act
from rnnlab.kernels.ops import get_ops
from rnnlab.layers.base import Layer, _is_multi


def _rate(value, what, layer):
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{layer} {what} must be in [0, 1), got {value!r}")
    return v


class RNNBase(Layer):
    """What SimpleRNN, LSTM and GRU share.  Subclasses set:

    ``_kernels`` (the cell's name in the Ops: ``<name>_forward``/``<name>_backward``),
    ``_n_gates`` (kernel width in units),
    ``_state_names`` (("h",) or ("h", "c")), and ``_cell_kwargs()`` (extra keywords of the kernel).

    ``forward`` output: the last output (N, u), or the sequence (N, T, u) with ``return_sequences``,
    followed by the final states with ``return_state``.  ``x`` may be ``[x, *initial_states]``;
    then ``backward`` returns ``[dx, *d_initial_states]``.
    """

    _kernels = None
    _n_gates = 1
    _state_names: tuple[str, ...] = ("h",)

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{cls} units must be a positive integer, got {units!r}")
        if stateful:
            raise NotImplementedError(f"{cls}(stateful=True) is not supported by rnnlab; pass the "
                                      "final states back as initial states instead")
        self.units = int(units)
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.recurrent_initializer = _init.get(recurrent_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.recurrent_regularizer = _reg.get(recurrent_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.dropout = _rate(dropout, "dropout", cls)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", cls)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # accepted for Keras compatibility; the kernels always loop
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"{cls} seed must be a non-negative integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = config.make_rng(self.seed) if self.seed is not None else None

    # ------------------------------------------------------------------ hooks for subclasses
    def _cell_kwargs(self) -> dict:
        return {"activation": self.activation.name}

    def _bias_shape(self):
        return (self._n_gates * self.units,)

    def _init_bias(self, bias) -> None:
        """Adjust the freshly initialised bias (LSTM's unit_forget_bias)."""

    # ------------------------------------------------------------------ weights
    def build(self, input_shape):
        shape = input_shape[0] if _is_multi(input_shape) else input_shape
        if len(shape) != 3:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of "
                             f"rank 3 (batch, timesteps, features), got input shape "
                             f"{tuple(shape)}")
        if shape[-1] is None:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) needs a known last axis "
                             f"(features), got input shape {tuple(shape)}")
        width = self._n_gates * self.units
        self.add_weight("kernel", (shape[-1], width), self.kernel_initializer,
                        self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                        self.recurrent_regularizer)
        if self.use_bias:
            self._init_bias(self.add_weight("bias", self._bias_shape(), self.bias_initializer,
                                            self.bias_regularizer))
        self.built = True

    def _reseed_for_check(self, seed: int) -> None:
        """Make the next dropout draws deterministic (finite-difference checks re-run forward)."""
        self._rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ shapes and masks
    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if _is_multi(input_shape) else input_shape
        n = shape[0]
        out = (n, shape[1], self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [out] + [(n, self.units) for _ in self._state_names]
        return out

    def compute_mask(self, x, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self._state_names)
        return out

    # ------------------------------------------------------------------ computing
    def _who(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    def _split_inputs(self, x):
        if isinstance(x, (list, tuple)):
            n = len(self._state_names)
            if len(x) != 1 + n:
                raise ValueError(f"{self._who()} takes [inputs, {', '.join(self._state_names)}0] "
                                 f"({1 + n} arrays) when initial states are given, got {len(x)}")
            return x[0], list(x[1:]), True
        return x, None, False

    def _check_states(self, states, n):
        out = []
        for name, s in zip(self._state_names, states):
            s = self._float_input(s, ndim=2, what=f"initial state {name}0")
            if s.shape != (n, self.units):
                raise ValueError(f"{self._who()} initial state {name}0 must have shape "
                                 f"({n}, {self.units}), got {s.shape}")
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

    def _dropout_masks(self, training, n, m, dtype):
        rng = self._rng or config.rng()
        in_mask = rec_mask = None
        if training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            in_mask = ((rng.random((n, 1, m)) < keep) / keep).astype(dtype)
        if training and self.recurrent_dropout > 0.0:
            keep = 1.0 - self.recurrent_dropout
            rec_mask = ((rng.random((n, self.units)) < keep) / keep).astype(dtype)
        return in_mask, rec_mask

    def forward(self, x, training=False, mask=None):
        x, states, has_states = self._split_inputs(x)
        W = self.params["kernel"]
        U = self.params["recurrent_kernel"]
        b = self.params.get("bias")
        x = self._float_input(x, ndim=3, last_dim=W.shape[0])
        n, t, m = x.shape
        if t == 0:
            raise ValueError(f"{self._who()} needs at least one time step, got input shape "
                             f"{x.shape}")
        dtype = x.dtype
        if has_states:
            states = self._check_states(states, n)
        else:
            states = [np.zeros((n, self.units), dtype=dtype) for _ in self._state_names]
        step_mask = self._step_mask(mask, n, t)
        if self.go_backwards:
            x = x[:, ::-1]
            step_mask = None if step_mask is None else step_mask[:, ::-1]
        in_mask, rec_mask = self._dropout_masks(training, n, m, dtype)
        xin = x * in_mask if in_mask is not None else np.ascontiguousarray(x)
        ops = get_ops()
        seq, finals, cache = getattr(ops, self._kernels + "_forward")(
            xin, tuple(states), {"kernel": W, "recurrent_kernel": U, "bias": b}, rec_mask,
            step_mask, **self._cell_kwargs())
        finals = list(finals)
        main = seq if self.return_sequences else finals[0].copy()
        out = [main] + finals if self.return_state else main
        n_states = len(self._state_names)

        def backward(d_out):
            if self.return_state:
                if not isinstance(d_out, (list, tuple)) or len(d_out) != 1 + n_states:
                    raise ValueError(f"{self._who()} returns {1 + n_states} arrays (return_state); "
                                     f"backward needs a list of {1 + n_states} gradients "
                                     "(None for unused ones)")
                d_main, d_fin = d_out[0], list(d_out[1:])
            else:
                d_main, d_fin = d_out, [None] * n_states
            d_fin = [np.zeros((n, self.units), dtype=dtype) if d is None
                     else np.asarray(d, dtype=dtype) for d in d_fin]
            if self.return_sequences:
                d_seq = (np.zeros((n, t, self.units), dtype=dtype) if d_main is None
                         else np.asarray(d_main, dtype=dtype))
            else:
                d_seq = np.zeros((n, t, self.units), dtype=dtype)
                if d_main is not None:  # the last output is h_T
                    d_fin[0] = d_fin[0] + d_main
            dx, d_states, grads = getattr(ops, self._kernels + "_backward")(d_seq, tuple(d_fin),
                                                                            cache)
            d_states = list(d_states)
            self.grads["kernel"] += grads["kernel"]
            self.grads["recurrent_kernel"] += grads["recurrent_kernel"]
            if self.use_bias:
                self.grads["bias"] += grads["bias"]
            if in_mask is not None:
                dx = dx * in_mask
            if self.go_backwards:
                dx = np.ascontiguousarray(dx[:, ::-1])
            return [dx] + d_states if has_states else dx

        return out, backward

    # ------------------------------------------------------------------ config
    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=_init.serialize(self.kernel_initializer),
                   recurrent_initializer=_init.serialize(self.recurrent_initializer),
                   bias_initializer=_init.serialize(self.bias_initializer),
                   kernel_regularizer=_reg.serialize(self.kernel_regularizer),
                   recurrent_regularizer=_reg.serialize(self.recurrent_regularizer),
                   bias_regularizer=_reg.serialize(self.bias_regularizer),
                   dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                   return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                   seed=self.seed)
        return cfg

    @classmethod
    def from_config(cls, cfg):
        cfg = dict(cfg)
        for key in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            if key in cfg:
                cfg[key] = _init.deserialize(cfg[key])
        return cls(**cfg)


class SimpleRNN(RNNBase):
    """Fully connected recurrent layer:
    ``h_t = activation(x_t·kernel + h_{t-1}·recurrent_kernel + bias)``.

    The lecture's ``Ŷ_t = tanh(W0 + X_t·W1 + Ŷ_{t-1}·W2)`` with ``units`` neurons; the math and its
    gradient are in :mod:`rnnlab.kernels.reference.simple_rnn`.
    """

    _kernels = "simple_rnn"
    _n_gates = 1
    _state_names = ("h",)


class _GatedRNN(RNNBase):
    """RNNBase plus ``recurrent_activation`` (the gates' squashing function)."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = _act.get(recurrent_activation)

    def _cell_kwargs(self):
        return {"activation": self.activation.name,
                "recurrent_activation": self.recurrent_activation.name}

    def get_config(self):
        cfg = super().get_config()
        cfg["recurrent_activation"] = self.recurrent_activation.name
        return cfg


class LSTM(_GatedRNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997) with Keras's i, f, c, o gate layout.

    ``unit_forget_bias=True`` starts the forget-gate bias at 1 (Jozefowicz et al., 2015).  The
    equations and their gradient are in :mod:`rnnlab.kernels.reference.lstm`.
    """

    _kernels = "lstm"
    _n_gates = 4
    _state_names = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _init_bias(self, bias):
        if self.unit_forget_bias:
            bias[self.units:2 * self.units] = 1.0

    def get_config(self):
        cfg = super().get_config()
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class GRU(_GatedRNN):
    """Gated Recurrent Unit (Cho et al., 2014), Keras's z, r, h layout.

    ``reset_after=True`` (default, as Keras 3 and PyTorch) applies the reset gate after the
    recurrent matmul and has a (2, 3·units) bias; ``reset_after=False`` is the original variant
    with a (3·units,) bias.  The equations and their gradient are in
    :mod:`rnnlab.kernels.reference.gru`.
    """

    _kernels = "gru"
    _n_gates = 3
    _state_names = ("h",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _cell_kwargs(self):
        kw = super()._cell_kwargs()
        kw["reset_after"] = self.reset_after
        return kw

    def get_config(self):
        cfg = super().get_config()
        cfg["reset_after"] = self.reset_after
        return cfg
