"""Conv1D: a 1-D convolution over the time axis (Keras's cross-correlation, channels last)."""
from __future__ import annotations

from rnnlab import checks
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels import activations as _act
from rnnlab.kernels.ops import get_ops
from rnnlab.kernels.reference import conv as _k
from rnnlab.layers.base import Layer, unique_name


def _default_name(kwargs: dict, prefix: str) -> dict:
    """Keras's automatic name (``conv1d``, ``max_pooling1d``...) unless one is given."""
    if kwargs.get("name") is None:
        kwargs["name"] = unique_name(prefix)
    return kwargs


def _positive_int(value, what: str, layer: str) -> int:
    """An int, or a tuple/list holding one int (Keras accepts both for 1-D arguments)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{layer} {what} must be an integer or a tuple of one integer, "
                             f"got {value!r}")
        value = value[0]
    return checks.positive_int(value, what, who=layer)


def _padding(value, allowed, layer: str) -> str:
    p = value.lower() if isinstance(value, str) else value
    if p not in allowed:
        raise ValueError(f"{layer}: unknown padding {value!r}; expected one of {allowed}")
    return p


def _channels_last(data_format, layer: str) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: only data_format='channels_last' (N, T, C) is supported, "
                         f"got {data_format!r}")


class Conv1D(Layer):
    """``z[n, t, f] = b[f] + Σ_k Σ_c xp[n, t·strides + k·dilation_rate, c] · kernel[k, c, f]``,
    ``y = activation(z)``, with ``xp`` the input zero-padded per ``padding`` (Keras's split).

    Weights as Keras: ``kernel`` (kernel_size, in_channels, filters), ``bias`` (filters,).
    Gradients (im2col, see :mod:`rnnlab.kernels.reference.conv`): with ``dz = activation'·dy``,
    ``dkernel = colsᵀ dz``, ``dbias = Σ dz``, ``dx = col2im(dz · kernelᵀ)`` (a scatter-add of each
    window's share back to the steps it read).  ``strides > 1`` together with ``dilation_rate > 1``
    is rejected, as Keras does.  The layer does not pass on a mask.
    """

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate=1, activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**_default_name(kwargs, "conv1d"))
        where = f"Conv1D {self.name!r}"
        self.filters = _positive_int(filters, "filters", where)
        self.kernel_size = _positive_int(kernel_size, "kernel_size", where)
        self.strides = _positive_int(strides, "strides", where)
        self.dilation_rate = _positive_int(dilation_rate, "dilation_rate", where)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(f"{where}: strides > 1 is not supported together with "
                             f"dilation_rate > 1 (got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}), as in Keras")
        self.padding = _padding(padding, _k.PADDINGS, where)
        _channels_last(data_format, where)
        self.data_format = "channels_last"
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.kernel_constraint = _con.get(kernel_constraint)
        self.bias_constraint = _con.get(bias_constraint)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Conv1D layer {self.name!r} expects inputs of rank 3 "
                             f"(batch, steps, channels) with a known channel axis, got input "
                             f"shape {tuple(input_shape)}")
        self.add_weight("kernel", (self.kernel_size, input_shape[-1], self.filters),
                        self.kernel_initializer, self.kernel_regularizer,
                        constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                            constraint=self.bias_constraint)
        self.built = True

    def _out_length(self, length):
        if length is not None and length < 1:
            raise ValueError(f"Conv1D layer {self.name!r} got an input with no time steps")
        out = _k.conv_output_length(length, self.kernel_size, self.padding, self.strides,
                                    self.dilation_rate)
        if out is not None and out < 1:
            raise ValueError(
                f"Conv1D layer {self.name!r}: an input of {length} steps is too short for "
                f"padding='valid' with a kernel spanning "
                f"{_k.effective_size(self.kernel_size, self.dilation_rate)} steps")
        return out

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv1D layer {self.name!r} expects inputs of rank 3, got input "
                             f"shape {tuple(input_shape)}")
        return (input_shape[0], self._out_length(input_shape[1]), self.filters)

    def compute_mask(self, x, mask=None):
        return None

    def forward(self, x, training=False, mask=None):
        W = self.params["kernel"]
        x = self._float_input(x, ndim=3, last_dim=W.shape[1])
        self._out_length(x.shape[1])
        geometry = _k.conv1d_geometry(x.shape[1], self.kernel_size, self.padding, self.strides,
                                      self.dilation_rate)
        b = self.params["bias"] if self.use_bias else None
        ops = get_ops()
        z, cache = ops.conv1d_forward(x, W, b, geometry)
        act = self.activation
        y = act(z)

        def backward(dy):
            dz = act.backward(z, y, dy)
            dx, dW, db = ops.conv1d_backward(dz, cache)
            self.grads["kernel"] += dW
            if self.use_bias:
                self.grads["bias"] += db
            return dx

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                   padding=self.padding, data_format=self.data_format,
                   dilation_rate=self.dilation_rate, activation=self.activation.name,
                   use_bias=self.use_bias,
                   kernel_initializer=_init.serialize(self.kernel_initializer),
                   bias_initializer=_init.serialize(self.bias_initializer),
                   kernel_regularizer=_reg.serialize(self.kernel_regularizer),
                   bias_regularizer=_reg.serialize(self.bias_regularizer),
                   kernel_constraint=_con.serialize(self.kernel_constraint),
                   bias_constraint=_con.serialize(self.bias_constraint))
        return cfg


Convolution1D = Conv1D
