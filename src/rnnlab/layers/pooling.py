"""1-D pooling over the time axis, channels last: windowed and global, Max and Average."""
from __future__ import annotations

import numpy as np

from rnnlab.kernels.ops import get_ops
from rnnlab.kernels.reference import conv as _k
from rnnlab.layers.base import Layer
from rnnlab.layers.conv import _channels_last, _default_name, _padding, _positive_int


class _Pooling1D(Layer):
    """Shared arguments, shapes and checks of MaxPooling1D and AveragePooling1D."""

    _prefix = ""

    def __init__(self, pool_size=2, strides=None, padding: str = "valid",
                 data_format: str = "channels_last", **kwargs):
        super().__init__(**_default_name(kwargs, self._prefix))
        where = f"{type(self).__name__} {self.name!r}"
        self.pool_size = _positive_int(pool_size, "pool_size", where)
        self.strides = self.pool_size if strides is None else _positive_int(strides, "strides",
                                                                             where)
        self.padding = _padding(padding, ("valid", "same"), where)
        _channels_last(data_format, where)
        self.data_format = "channels_last"

    def _out_length(self, length):
        if length is not None and length < 1:
            raise ValueError(f"{type(self).__name__} layer {self.name!r} got an input with no "
                             f"time steps")
        out = _k.conv_output_length(length, self.pool_size, self.padding, self.strides)
        if out is not None and out < 1:
            raise ValueError(f"{type(self).__name__} layer {self.name!r}: an input of {length} "
                             f"steps is too short for pool_size={self.pool_size} with "
                             f"padding='valid'")
        return out

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} layer {self.name!r} expects inputs of rank 3 "
                             f"(batch, steps, channels), got input shape {tuple(input_shape)}")
        return (input_shape[0], self._out_length(input_shape[1]), input_shape[2])

    def compute_mask(self, x, mask=None):
        return None

    def _prepare(self, x):
        x = self._float_input(x, ndim=3)
        self._out_length(x.shape[1])
        left, right, _ = _k.pads_1d(x.shape[1], self.pool_size, self.padding, self.strides)
        return x, left, right

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                   data_format=self.data_format)
        return cfg


class MaxPooling1D(_Pooling1D):
    """Maximum over windows of ``pool_size`` steps every ``strides`` steps (default: pool_size).

    ``y[t] = max_p x[t·s + p]``; the gradient goes to the step that was the maximum (the first one
    on ties), and overlapping windows add up.  Padding ('same', TF's split) never wins a maximum.
    """

    _prefix = "max_pooling1d"

    def forward(self, x, training=False, mask=None):
        x, left, right = self._prepare(x)
        ops = get_ops()
        y, src = ops.max_pool1d_forward(x, self.pool_size, self.strides, left, right)
        shape = x.shape
        return y, lambda dy: ops.max_pool1d_backward(np.asarray(dy, dtype=x.dtype), src, shape)


class AveragePooling1D(_Pooling1D):
    """Mean over windows of ``pool_size`` steps every ``strides`` steps (default: pool_size).

    ``y[t] = Σ_p x[t·s + p] / n_t`` with ``n_t`` the window's real (unpadded) steps, as TF does
    for 'same'; hence ``dx[t·s + p] += dy[t] / n_t``.
    """

    _prefix = "average_pooling1d"

    def forward(self, x, training=False, mask=None):
        x, left, right = self._prepare(x)
        ops = get_ops()
        y, cache = ops.avg_pool1d_forward(x, self.pool_size, self.strides, left, right)
        shape = x.shape
        return y, lambda dy: ops.avg_pool1d_backward(np.asarray(dy, dtype=x.dtype), cache, shape)


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D


class _GlobalPooling1D(Layer):
    """Shared arguments and mask checks of the global poolings (reduce the time axis)."""

    _prefix = ""

    def __init__(self, data_format: str = "channels_last", keepdims: bool = False, **kwargs):
        super().__init__(**_default_name(kwargs, self._prefix))
        _channels_last(data_format, f"{type(self).__name__} {self.name!r}")
        self.data_format = "channels_last"
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} layer {self.name!r} expects inputs of rank 3 "
                             f"(batch, steps, channels), got input shape {tuple(input_shape)}")
        if self.keepdims:
            return (input_shape[0], 1, input_shape[2])
        return (input_shape[0], input_shape[2])

    def compute_mask(self, x, mask=None):
        return None

    def _prepare(self, x, mask):
        x = self._float_input(x, ndim=3)
        if x.shape[1] < 1:
            raise ValueError(f"{type(self).__name__} layer {self.name!r} got an input with no "
                             f"time steps")
        if mask is None:
            return x, None
        m = np.asarray(mask)
        if m.shape != x.shape[:2]:
            raise ValueError(f"{type(self).__name__} layer {self.name!r}: mask of shape {m.shape} "
                             f"does not match the input's (batch, steps) {x.shape[:2]}")
        if m.dtype != bool:
            if not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
                raise ValueError(f"{type(self).__name__} layer {self.name!r}: mask must be "
                                 f"boolean (or 0/1), got dtype {m.dtype}")
            m = m.astype(bool)
        return x, m

    def _shape_out(self, y):
        return y[:, None, :] if self.keepdims else y

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format, keepdims=self.keepdims)
        return cfg


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over time, per channel: ``y[n, c] = max_{t unmasked} x[n, t, c]``.

    The gradient goes to the arg-max step (the first one on ties).  Masked steps never win; a row
    with every step masked gives 0 and no gradient.  (Keras ignores the mask here; rnnlab honours
    it so that padding cannot leak into the result.)
    """

    _prefix = "global_max_pooling1d"

    def forward(self, x, training=False, mask=None):
        x, m = self._prepare(x, mask)
        n, length, c = x.shape
        xm = x if m is None else np.where(m[:, :, None], x, -np.inf)
        arg = np.argmax(xm, axis=1)                                  # (N, C), first on ties
        y = np.take_along_axis(x, arg[:, None, :], axis=1)[:, 0, :]
        live = None
        if m is not None:
            live = m.any(axis=1)                                     # rows with a real step
            y = np.where(live[:, None], y, 0.0).astype(x.dtype)

        def backward(dy):
            dy = np.asarray(dy, dtype=x.dtype).reshape(n, c)
            if live is not None:
                dy = dy * live[:, None]
            dx = np.zeros_like(x)
            np.put_along_axis(dx, arg[:, None, :], dy[:, None, :], axis=1)
            return dx

        return self._shape_out(y), backward


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over time, per channel; with a mask, over the unmasked steps only (as Keras).

    ``y[n, c] = Σ_t w[n, t] x[n, t, c]`` with ``w = m / Σ_t m`` (``1/T`` without a mask), so
    ``dx[n, t, c] = w[n, t] · dy[n, c]``.  A row with every step masked gives 0 (Keras: NaN).
    """

    _prefix = "global_average_pooling1d"

    def forward(self, x, training=False, mask=None):
        x, m = self._prepare(x, mask)
        n, length, c = x.shape
        if m is None:
            w = np.full((n, length), 1.0 / length, dtype=x.dtype)
        else:
            count = m.sum(axis=1, keepdims=True)
            w = (m / np.maximum(count, 1)).astype(x.dtype)
        y = np.einsum("ntc,nt->nc", x, w)

        def backward(dy):
            dy = np.asarray(dy, dtype=x.dtype).reshape(n, c)
            return w[:, :, None] * dy[:, None, :]

        return self._shape_out(y), backward


GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
