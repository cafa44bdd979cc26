"""Activation functions with their derivatives.

Each activation is an :class:`ActivationFn` whose ``backward(z, y, dy)`` returns dL/dz given the
pre-activation ``z``, the output ``y = f(z)`` and the upstream gradient ``dy = dL/dy``.  For the
element-wise functions this is ``dy * f'(z)``; written in terms of ``y`` where that is cheaper
(tanh' = 1 - y², sigmoid' = y(1 - y)), as on the lecture's slides.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from rnnlab.registry import custom_object

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.frompyfunc(math.erf, 1, 1)


class ActivationFn:
    """A named activation: ``f(z)`` and its vector-Jacobian product ``backward(z, y, dy)``.

    A user's activation is one of these, e.g.
    ``ActivationFn("cube", lambda z: z ** 3, lambda z, y, dy: dy * 3 * z * z)``: layers take it
    as ``activation=``, save its name, and load it with ``custom_objects={"cube": cube}``."""

    def __init__(self, name: str, fn: Callable, backward: Callable):
        if not isinstance(name, str) or not name:
            raise TypeError(f"ActivationFn needs a non-empty name, got {name!r}")
        if not callable(fn) or not callable(backward):
            raise TypeError(f"ActivationFn {name!r} needs a function and its backward "
                            "(z, y, dy) -> dL/dz, both callable")
        self.name = name
        self._fn = fn
        self._backward = backward

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self._fn(z)

    def backward(self, z: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """dL/dz from dL/dy."""
        return self._backward(z, y, dy)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def _sigmoid(z):
    # 0.5(1 + tanh(z/2)) equals 1/(1+e^-z) and never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _hard_sigmoid(z):
    # Keras 3: relu6(z + 3) / 6
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(z, y, dy):
    # J^T dy for y = softmax(z): y * (dy - <dy, y>)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def _elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


def _selu(z):
    return _SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


def _gelu(z):
    # exact GELU (Keras's default approximate=False): z * Phi(z)
    return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)).astype(z.dtype))


def _gelu_backward(z, y, dy):
    cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2.0)).astype(z.dtype))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return dy * (cdf + z * pdf)


_REGISTRY: dict[str, ActivationFn] = {}


def _register(name, fn, backward):
    _REGISTRY[name] = ActivationFn(name, fn, backward)


_register("linear", lambda z: z, lambda z, y, dy: dy)
_register("tanh", np.tanh, lambda z, y, dy: dy * (1.0 - y * y))
_register("sigmoid", _sigmoid, lambda z, y, dy: dy * y * (1.0 - y))
_register("relu", lambda z: np.maximum(z, 0), lambda z, y, dy: dy * (z > 0))
_register("softmax", _softmax, _softmax_backward)
_register("hard_sigmoid", _hard_sigmoid,
          lambda z, y, dy: dy * ((z > -3.0) & (z < 3.0)) / 6.0)
_register("elu", _elu, lambda z, y, dy: dy * np.where(z > 0, 1.0, y + 1.0))
_register("selu", _selu,
          lambda z, y, dy: dy * np.where(z > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA))
_register("softplus", lambda z: np.logaddexp(0.0, z), lambda z, y, dy: dy * _sigmoid(z))
_register("gelu", _gelu, _gelu_backward)
_register("swish", lambda z: z * _sigmoid(z),
          lambda z, y, dy: dy * (_sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z)))))
_REGISTRY["silu"] = _REGISTRY["swish"]

#: Element-wise activations (everything except softmax), the ones a recurrent cell may use.
ELEMENTWISE = tuple(n for n in _REGISTRY if n != "softmax")


def is_builtin(fn: ActivationFn) -> bool:
    """Whether ``fn`` is one of rnnlab's own activations (the compiled kernels know those by
    name; a cell with a user's activation runs the step loop instead)."""
    return _REGISTRY.get(fn.name) is fn


def get(identifier) -> ActivationFn:
    """An activation from a Keras name (None means linear), one of rnnlab's activation objects
    (``rnnlab.activations.relu``, as Keras's ``keras.activations.relu``), or a user's
    :class:`ActivationFn` (found by name while a model loads with ``custom_objects``).

    Any other callable (``np.tanh``, a plain function) is refused: rnnlab needs the derivative
    of every activation, which ``ActivationFn(name, fn, backward)`` supplies."""
    if identifier is None:
        return _REGISTRY["linear"]
    if isinstance(identifier, ActivationFn):
        own = _REGISTRY.get(identifier.name)
        if own is not None and own is not identifier:
            raise ValueError(f"Activation name {identifier.name!r} is taken by rnnlab's own "
                             "activation; give yours another name")
        return identifier
    if isinstance(identifier, str):
        found = _REGISTRY.get(identifier.lower())
        if found is None:
            found = custom_object(identifier)
            if not isinstance(found, ActivationFn):
                raise ValueError(f"Unknown activation {identifier!r}: expected one of "
                                 f"{sorted(_REGISTRY)} (a user's ActivationFn is found by name "
                                 "when passed in custom_objects)")
        return found
    what = getattr(identifier, "__name__", type(identifier).__name__)
    raise TypeError(
        f"activation must be a name such as 'tanh', an rnnlab activation "
        f"(rnnlab.activations.tanh) or None, got {what!r}; rnnlab needs the derivative of "
        "every activation, so a plain callable is not accepted: wrap it as "
        "rnnlab.activations.ActivationFn(name, fn, backward) with backward(z, y, dy) -> dL/dz")


def names() -> list[str]:
    """All registered activation names."""
    return sorted(_REGISTRY)
