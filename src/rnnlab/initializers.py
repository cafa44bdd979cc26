"""Weight initializers with Keras's names and formulas.

An initializer is called as ``init(shape, dtype, rng)`` and returns a new array.  Fans follow Keras:
for a kernel of shape (..., fan_in, fan_out) the leading axes form the receptive field.
"""
from __future__ import annotations

import numpy as np

from rnnlab.registry import Registry


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype, rng)``."""

    def get_config(self) -> dict:
        return {}

    def __call__(self, shape, dtype, rng):  # pragma: no cover - abstract
        raise NotImplementedError


class Zeros(Initializer):
    def __call__(self, shape, dtype, rng):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype, rng):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype, rng):
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype, rng):
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: glorot, he and lecun are its special cases."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Unknown VarianceScaling mode {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"Unknown VarianceScaling distribution {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype, rng):
        fan_in, fan_out = _fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            lim = np.sqrt(3.0 * var)
            return rng.uniform(-lim, lim, size=shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, np.sqrt(var), size=shape).astype(dtype)
        std = np.sqrt(var) / 0.87962566103423978  # std of a unit normal truncated at +-2
        out = rng.normal(0.0, std, size=shape)
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
            bad = np.abs(out) > 2 * std
        return out.astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al., 2014).
    """

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype, rng):
        rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        cols = shape[-1]
        flat = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype, rng):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


#: Every initializer class by name; Keras's lower-case names are aliases.
INITIALIZERS = Registry("initializer", Initializer)
for _cls in (Zeros, Ones, Constant, RandomUniform, RandomNormal, VarianceScaling, Orthogonal,
             Identity):
    INITIALIZERS.register(_cls)
for _name, _factory in {
    "zeros": lambda: Zeros(),
    "ones": lambda: Ones(),
    "constant": lambda: Constant(),
    "random_uniform": lambda: RandomUniform(),
    "uniform": lambda: RandomUniform(),
    "normal": lambda: RandomNormal(),
    "random_normal": lambda: RandomNormal(),
    "truncated_normal": lambda: VarianceScaling(1.0, "fan_in", "truncated_normal"),
    "glorot_uniform": lambda: VarianceScaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": lambda: VarianceScaling(1.0, "fan_avg", "truncated_normal"),
    "he_uniform": lambda: VarianceScaling(2.0, "fan_in", "uniform"),
    "he_normal": lambda: VarianceScaling(2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": lambda: VarianceScaling(1.0, "fan_in", "uniform"),
    "lecun_normal": lambda: VarianceScaling(1.0, "fan_in", "truncated_normal"),
    "orthogonal": lambda: Orthogonal(),
    "identity": lambda: Identity(),
}.items():
    INITIALIZERS.alias(_name, _factory)


def get(identifier) -> Initializer:
    """An initializer from an instance, a Keras name, or a config written by :func:`serialize`;
    ValueError naming unknown names."""
    return INITIALIZERS.get(identifier)


def serialize(init: Initializer) -> dict:
    """``{"class_name", "config"}``, which :func:`get` and :func:`deserialize` turn back into the
    initializer."""
    return INITIALIZERS.serialize(init)


def deserialize(spec) -> Initializer:
    return INITIALIZERS.get(spec)
