"""Dense, Activation, Dropout and Flatten."""
from __future__ import annotations

import numpy as np

from rnnlab import checks, config
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels import activations as _act
from rnnlab.layers.base import Layer


class Dense(Layer):
    """``y = activation(x · kernel + bias)`` over the last axis of an input of any rank (as Keras).

    With ``z = x W + b`` and upstream ``dy``: ``dz = activation.backward(z, y, dy)``,
    ``dW = Σ x^T dz`` over every leading axis, ``db = Σ dz``, ``dx = dz W^T``.
    """

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = checks.positive_int(units, "units", who="Dense")
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense layer {self.name!r} needs a known last axis, got input shape "
                             f"{input_shape}")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False, mask=None):
        W = self.params["kernel"]
        x = self._float_input(x, min_ndim=2, last_dim=W.shape[0])
        z = x @ W
        if self.use_bias:
            z += self.params["bias"]
        act = self.activation
        y = act(z)

        def backward(dy):
            dz = act.backward(z, y, dy)
            dz2 = dz.reshape(-1, dz.shape[-1])
            self.grads["kernel"] += x.reshape(-1, x.shape[-1]).T @ dz2
            if self.use_bias:
                self.grads["bias"] += dz2.sum(axis=0)
            return dz @ W.T

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=_init.serialize(self.kernel_initializer),
                   bias_initializer=_init.serialize(self.bias_initializer),
                   kernel_regularizer=_reg.serialize(self.kernel_regularizer),
                   bias_regularizer=_reg.serialize(self.bias_regularizer))
        return cfg


class Activation(Layer):
    """Apply an activation function element-wise (softmax over the last axis)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _act.get(activation)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        act = self.activation
        y = act(x)
        return y, lambda dy: act.backward(x, y, dy)

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = self.activation.name
        return cfg


class Dropout(Layer):
    """Zero a fraction ``rate`` of inputs during training and scale the rest by 1/(1 - rate).

    ``noise_shape`` (with None for axes taken from the input) shares one mask along axes of size 1.
    """

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = checks.rate(rate, "rate", who="Dropout")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = checks.seed(seed, who="Dropout")
        self._rng = config.make_rng(seed) if seed is not None else None

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x)
        if not training or self.rate == 0.0:
            return x, lambda dy: dy
        shape = x.shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != x.ndim:
                raise ValueError(f"Dropout {self.name!r}: noise_shape {self.noise_shape} does not "
                                 f"match input rank {x.ndim}")
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape))
        rng = self._rng or config.rng()
        keep = (rng.random(shape) >= self.rate).astype(x.dtype) / (1.0 - self.rate)
        return x * keep, lambda dy: dy * keep

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return cfg


class Flatten(Layer):
    """Flatten every axis but the batch axis."""

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(s is None for s in rest) else int(np.prod(rest))
        return (input_shape[0], size)

    def forward(self, x, training=False, mask=None):
        x = self._float_input(x, min_ndim=1)
        shape = x.shape
        return x.reshape(shape[0], -1), lambda dy: dy.reshape(shape)

    def compute_mask(self, x, mask):
        return None
