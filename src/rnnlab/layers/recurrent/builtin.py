"""What the built-in cells (SimpleRNNCell, LSTMCell, GRUCell) and their layers share.

:class:`DenseCell` holds the Keras weights ``kernel`` (m, G·u), ``recurrent_kernel`` (u, G·u) and
``bias`` with their initializers and regularizers, and runs the cell's fused whole-sequence kernel
from :mod:`rnnlab.kernels.ops` (reference or compiled, as ``rnnlab.config.kernels()`` says).
:class:`CellLayer` is the layer over such a cell (``SimpleRNN(units, ...)`` is
``RNN(SimpleRNNCell(units, ...))`` with a flat Keras config).
"""
from __future__ import annotations

from rnnlab import activations as _act
from rnnlab import checks
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels.ops import get_ops
from rnnlab.layers.base import Layer
from rnnlab.layers.recurrent.cell import Cell
from rnnlab.layers.recurrent.rnn import RNN


class DenseCell(Cell):
    """A cell whose pre-activations are ``x·kernel + (h_{t-1}⊙ρ)·recurrent_kernel + bias`` for
    ``gates`` gate blocks of ``units`` each.  Subclasses set ``gates``, ``kernel_name`` (the
    :mod:`rnnlab.kernels.ops` family: "simple_rnn", "lstm", "gru"), ``state_names`` and
    :meth:`kernel_options`, and write :meth:`step`/:meth:`step_backward`."""

    gates = 1
    kernel_name = ""

    @property
    def has_sequence_kernel(self) -> bool:
        """Whether the chosen Ops (``rnnlab.config.kernels()``) has a fused kernel for this cell
        (not with a user's activation: the kernels know rnnlab's by name; the step loop runs)."""
        acts = [self.activation, getattr(self, "recurrent_activation", self.activation)]
        return (all(_act.is_builtin(a) for a in acts)
                and get_ops().sequence_kernel(self.kernel_name) is not None)

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = checks.positive_int(units, "units", self._who())
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.recurrent_initializer = _init.get(recurrent_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.recurrent_regularizer = _reg.get(recurrent_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.kernel_constraint = _con.get(kernel_constraint)
        self.recurrent_constraint = _con.get(recurrent_constraint)
        self.bias_constraint = _con.get(bias_constraint)

    @property
    def state_size(self):
        return self.units if len(self.state_names) == 1 else (self.units,) * len(self.state_names)

    @property
    def output_size(self):
        return self.units

    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def init_bias(self, bias) -> None:
        """Adjust the freshly initialised bias (LSTM's unit_forget_bias)."""

    def build(self, input_shape):
        width = self.gates * self.units
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer,
                        self.kernel_regularizer, constraint=self.kernel_constraint)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                        self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            self.init_bias(self.add_weight("bias", self.bias_shape(), self.bias_initializer,
                                           self.bias_regularizer,
                                           constraint=self.bias_constraint))
        self.built = True

    def kernel_options(self) -> dict:
        return {"activation": self.activation.name}

    def dense_forward(self, x, hd):
        """The pre-activations ``z = x·W + hd·U + b`` of all gates (hd = h⊙ρ)."""
        z = x @ self.params["kernel"] + hd @ self.params["recurrent_kernel"]
        if self.use_bias:
            z += self.params["bias"]
        return z

    def dense_backward(self, x, hd, dz, rec_mask):
        """The gradients of ``z = x·W + hd·U + b`` (hd = h⊙ρ) from dz = dL/dz:
        ``(dx, dh, grads)`` with dx = dz·Wᵀ, dh = (dz·Uᵀ)⊙ρ, dW = xᵀ·dz, dU = hdᵀ·dz, db = Σ dz."""
        grads = {"kernel": x.T @ dz, "recurrent_kernel": hd.T @ dz}
        if self.use_bias:
            grads["bias"] = dz.sum(axis=0)
        dh = dz @ self.params["recurrent_kernel"].T
        if rec_mask is not None:
            dh = dh * rec_mask
        return dz @ self.params["kernel"].T, dh, grads

    def sequence_forward(self, x, states, rec_mask, step_mask):
        forward, backward = get_ops().sequence_kernel(self.kernel_name)
        outputs, finals, cache = forward(x, tuple(states), self.params, rec_mask, step_mask,
                                         **self.kernel_options())
        return outputs, finals, lambda d_out, d_fin: backward(d_out, tuple(d_fin), cache)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=_init.serialize(self.kernel_initializer),
                   recurrent_initializer=_init.serialize(self.recurrent_initializer),
                   bias_initializer=_init.serialize(self.bias_initializer),
                   kernel_regularizer=_reg.serialize(self.kernel_regularizer),
                   recurrent_regularizer=_reg.serialize(self.recurrent_regularizer),
                   bias_regularizer=_reg.serialize(self.bias_regularizer),
                   kernel_constraint=_con.serialize(self.kernel_constraint),
                   recurrent_constraint=_con.serialize(self.recurrent_constraint),
                   bias_constraint=_con.serialize(self.bias_constraint))
        return cfg


class GatedCell(DenseCell):
    """DenseCell plus ``recurrent_activation`` (the gates' squashing function).

    ``implementation`` (Keras 2's 1 or 2, 0 in old configs) is accepted and ignored, as Keras 3
    does for LSTM and GRU: it chose how the same math is batched, and is not saved."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 implementation: int = 2, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = _act.get(recurrent_activation)
        self.implementation = checks.integer(implementation, "implementation", low=0, high=2,
                                             who=self._who())

    def kernel_options(self):
        return {"activation": self.activation.name,
                "recurrent_activation": self.recurrent_activation.name}

    def get_config(self):
        cfg = super().get_config()
        cfg["recurrent_activation"] = self.recurrent_activation.name
        return cfg


_LAYER_KEYS = ("name", "trainable", "input_shape", "input_dim", "batch_input_shape", "dtype",
               "activity_regularizer")
_RNN_KEYS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask")


class CellLayer(RNN):
    """``RNN(cell_class(*args, **cell_arguments))`` taking the cell's and the layer's arguments in
    one flat list, as Keras's SimpleRNN/LSTM/GRU do; the cell's settings read as the layer's
    attributes (``layer.units``, ``layer.activation`` ...)."""

    cell_class: type = DenseCell

    def __init__(self, *args, **kwargs):
        layer_kw = {k: kwargs.pop(k) for k in _LAYER_KEYS + _RNN_KEYS if k in kwargs}
        if "dtype" in layer_kw:
            kwargs["dtype"] = layer_kw["dtype"]
        cell = self.cell_class(*args, **kwargs)
        super().__init__(cell, **layer_kw)

    def __getattr__(self, name):
        # only reached for names the layer itself lacks: the cell's public settings
        cell = self.__dict__.get("cell")
        if cell is None or name.startswith("_"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(cell, name)

    def get_config(self):
        cfg = Layer.get_config(self)              # flat, as Keras: no nested "cell"
        cell_cfg = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "batch_input_shape"):
            cell_cfg.pop(key, None)
        cfg.update(cell_cfg)
        cfg.update(self._rnn_config())
        return cfg
