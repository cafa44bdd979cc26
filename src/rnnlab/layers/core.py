"""Dense, Activation, Dropout, Flatten and Lambda."""
from __future__ import annotations

import inspect

import numpy as np

from rnnlab import checks, config, registry
from rnnlab import constraints as _con
from rnnlab import initializers as _init
from rnnlab import regularizers as _reg
from rnnlab.kernels import activations as _act
from rnnlab.kernels.ops import get_ops
from rnnlab.layers.base import Layer


class Dense(Layer):
    """``y = activation(x · kernel + bias)`` over the last axis of an input of any rank (as Keras).

    With ``z = x W + b`` and upstream ``dy``: ``dz = activation.backward(z, y, dy)``,
    ``dW = Σ x^T dz`` over every leading axis, ``db = Σ dz``, ``dx = dz W^T``.
    """

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = checks.positive_int(units, "units", who="Dense")
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.kernel_constraint = _con.get(kernel_constraint)
        self.bias_constraint = _con.get(bias_constraint)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense layer {self.name!r} needs a known last axis, got input shape "
                             f"{input_shape}")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                            constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False, mask=None):
        W = self.params["kernel"]
        x = self._float_input(x, min_ndim=2, last_dim=W.shape[0])
        # all leading axes as rows of one product (a (N, T, m) input is one GEMM over N·T rows,
        # split over the compiled kernels' threads while BLAS is held to one: Ops.matmul)
        mm = get_ops().matmul
        x2 = x.reshape(-1, x.shape[-1])
        z = mm(x2, W).reshape(x.shape[:-1] + (W.shape[1],))
        if self.use_bias:
            z += self.params["bias"]
        act = self.activation
        y = act(z)

        def backward(dy):
            dz = act.backward(z, y, dy)
            dz2 = dz.reshape(-1, dz.shape[-1])
            self.grads["kernel"] += mm(x2.T, dz2)
            if self.use_bias:
                self.grads["bias"] += dz2.sum(axis=0)
            return mm(dz2, W.T).reshape(x.shape)

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=_init.serialize(self.kernel_initializer),
                   bias_initializer=_init.serialize(self.bias_initializer),
                   kernel_regularizer=_reg.serialize(self.kernel_regularizer),
                   bias_regularizer=_reg.serialize(self.bias_regularizer),
                   kernel_constraint=_con.serialize(self.kernel_constraint),
                   bias_constraint=_con.serialize(self.bias_constraint))
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


def _function_name(fn, what: str, layer) -> str | None:
    """The name a Lambda saves for ``fn`` (None for None); a Python lambda cannot be saved."""
    if fn is None:
        return None
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str) or name == "<lambda>":
        raise ValueError(f"Layer {layer.name!r} (Lambda): its {what} is a Python lambda (or has "
                         "no name), which rnnlab cannot save: it saves names, never code. Define "
                         "it with def, then load with custom_objects={name: function}")
    return name


def _resolve_function(spec, what: str, who: str):
    """A callable given as itself or as the name a saved config holds (looked up in the
    custom_objects of the load)."""
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str):
        fn = registry.custom_object(spec)
        if fn is None or not callable(fn):
            raise ValueError(f"{who}: its {what} {spec!r} is not known here; pass it when "
                             f"loading, load_model(..., custom_objects={{{spec!r}: {spec}}})")
        return fn
    raise TypeError(f"{who} {what} must be a function, got {spec!r}")


class Lambda(Layer):
    """Wrap a NumPy function as a layer: ``y = function(x, **arguments)`` (Keras's ``Lambda``).

    rnnlab differentiates nothing automatically, so training through a Lambda needs
    ``backward(x, dy, **arguments) -> dx``, the vector-Jacobian product written by hand (a list
    for a list of inputs); :func:`rnnlab.testing.check_gradients` checks it.  Without one the
    layer predicts, and ``fit`` refuses the model at its start, naming the layer.

    As in Keras, ``function`` receives ``mask=`` and ``training=`` when it takes them, and the
    layer passes on ``mask(inputs, mask)`` (None without ``mask``).  ``output_shape`` (without
    the batch axis) may be given; otherwise it is found by running ``function`` on zeros.  A
    saved Lambda stores the functions' names (never code): load it with
    ``custom_objects={"name": function, ...}``; a Python ``lambda`` cannot be saved.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, backward=None,
                 **kwargs):
        super().__init__(**kwargs)
        who = f"Layer {self.name!r} (Lambda)"
        self.function = _resolve_function(function, "function", who)
        if self.function is None:
            raise TypeError(f"{who} needs a function")
        self.backward = _resolve_function(backward, "backward", who)
        self.mask = _resolve_function(mask, "mask", who)
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"{who} arguments must be a dict of keyword arguments, got "
                            f"{arguments!r}")
        self.arguments = dict(arguments or {})
        if output_shape is not None and not callable(output_shape):
            try:
                output_shape = tuple(None if s is None else int(s) for s in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"{who} output_shape must be a tuple of sizes (without the "
                                 f"batch axis) or a function, got {output_shape!r}") from None
        self.output_shape = output_shape
        params = _parameters(self.function)
        self._takes_mask, self._takes_training = "mask" in params, "training" in params

    def check_backward(self):
        if self.backward is None:
            raise TypeError(f"Layer {self.name!r} (Lambda) has no backward function, so a model "
                            "holding it cannot be trained: pass Lambda(function, "
                            "backward=lambda x, dy: ...) returning dL/dx (predict works without)")

    def _call(self, x, training=False, mask=None):
        kwargs = dict(self.arguments)
        if self._takes_mask:
            kwargs["mask"] = mask
        if self._takes_training:
            kwargs["training"] = training
        return self.function(x, **kwargs)

    def forward(self, x, training=False, mask=None):
        y = self._call(x, training, mask)
        if isinstance(y, (list, tuple)):
            raise TypeError(f"Layer {self.name!r} (Lambda): the function must return one array, "
                            f"got a {type(y).__name__}")
        y = np.asarray(y)

        def backward(dy):
            self.check_backward()
            return self.backward(x, dy, **self.arguments)

        return y, backward

    def compute_mask(self, x, mask):
        return self.mask(x, mask) if self.mask is not None else None

    def compute_output_shape(self, input_shape):
        multi = isinstance(input_shape, list)
        batch = (input_shape[0] if multi else input_shape)[0]
        if callable(self.output_shape):
            return self.output_shape(input_shape)
        if self.output_shape is not None:
            return (batch,) + self.output_shape
        # probe with zeros at two sizes of every unknown axis: the axes that follow are unknown
        probes = []
        for size in (2, 3):
            def zeros(shape, size=size):
                return np.zeros([size if s is None else s for s in shape], self.compute_dtype)
            x = [zeros(s) for s in input_shape] if multi else zeros(input_shape)
            try:
                with np.errstate(all="ignore"):
                    probes.append(np.shape(self._call(x)))
            except Exception as exc:
                raise ValueError(f"Layer {self.name!r} (Lambda): its output shape could not be "
                                 f"found by running the function on zeros ({exc}); pass "
                                 "output_shape=") from None
        a, b = probes
        if len(a) != len(b) or not a:
            raise ValueError(f"Layer {self.name!r} (Lambda): pass output_shape= (the output's "
                             "rank depends on the input's sizes)")
        return (batch,) + tuple(s if s == t else None for s, t in zip(a[1:], b[1:]))

    def get_config(self):
        cfg = super().get_config()
        shape = self.output_shape
        cfg.update(function=_function_name(self.function, "function", self),
                   backward=_function_name(self.backward, "backward", self),
                   mask=_function_name(self.mask, "mask", self),
                   output_shape=(_function_name(shape, "output_shape", self) if callable(shape)
                                 else None if shape is None else list(shape)),
                   arguments=self.arguments)
        return cfg

    @classmethod
    def from_config(cls, cfg):
        cfg = dict(cfg)
        if isinstance(cfg.get("output_shape"), str):
            cfg["output_shape"] = _resolve_function(cfg["output_shape"], "output_shape",
                                                    f"Layer {cfg.get('name')!r} (Lambda)")
        return cls(**cfg)


def _parameters(fn) -> set:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):       # some builtins have no signature
        return set()
