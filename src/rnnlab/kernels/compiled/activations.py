"""Element-wise activations as compiled scalar functions selected by an integer code.

The recurrent kernels take the activation as a code (a string cannot be a compile-time constant
of a cached function), evaluate ``act(code, z)`` per element and, in the backward pass, the
derivative ``deriv(code, z, y)`` = f'(z) written in terms of ``y = f(z)`` where that is cheaper,
as in :mod:`rnnlab.kernels.reference.activations` (tanh' = 1 - y², sigmoid' = y(1 - y)).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from rnnlab.kernels.reference import activations as _ref

LINEAR, TANH, SIGMOID, RELU, HARD_SIGMOID, ELU, SELU, SOFTPLUS, GELU, SWISH = range(10)
CODES = {"linear": LINEAR, "tanh": TANH, "sigmoid": SIGMOID, "relu": RELU,
         "hard_sigmoid": HARD_SIGMOID, "elu": ELU, "selu": SELU, "softplus": SOFTPLUS,
         "gelu": GELU, "swish": SWISH, "silu": SWISH}

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@functools.lru_cache(maxsize=None)
def code(name: str) -> int:
    """The integer code of an element-wise activation name (ValueError for softmax/unknown)."""
    fn = _ref.get(name)
    if fn.name not in CODES:
        raise ValueError(f"activation {fn.name!r} is not element-wise; a recurrent cell needs one "
                         f"of {sorted(CODES)}")
    return CODES[fn.name]


@njit(cache=True, error_model="numpy")
def _sigmoid(z):
    return 0.5 * (1.0 + math.tanh(0.5 * z))


@njit(cache=True, error_model="numpy")
def act(c, z):
    """f(z) for activation code ``c`` (computed in float64)."""
    z = float(z)
    if c == TANH:
        return math.tanh(z)
    if c == SIGMOID:
        return 0.5 * (1.0 + math.tanh(0.5 * z))
    if c == LINEAR:
        return z
    if c == RELU:
        return z if z > 0.0 else 0.0
    if c == HARD_SIGMOID:
        return min(max(z / 6.0 + 0.5, 0.0), 1.0)
    if c == ELU:
        return z if z > 0.0 else math.expm1(z)
    if c == SELU:
        return _SELU_SCALE * (z if z > 0.0 else _SELU_ALPHA * math.expm1(z))
    if c == SOFTPLUS:
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    if c == GELU:
        return 0.5 * z * (1.0 + math.erf(z / _SQRT2))
    # SWISH
    return z * (0.5 * (1.0 + math.tanh(0.5 * z)))


@njit(cache=True, error_model="numpy")
def deriv(c, z, y):
    """f'(z) for activation code ``c`` given z and y = f(z)."""
    z = float(z)
    y = float(y)
    if c == TANH:
        return 1.0 - y * y
    if c == SIGMOID:
        return y * (1.0 - y)
    if c == LINEAR:
        return 1.0
    if c == RELU:
        return 1.0 if z > 0.0 else 0.0
    if c == HARD_SIGMOID:
        return 1.0 / 6.0 if (z > -3.0 and z < 3.0) else 0.0
    if c == ELU:
        return 1.0 if z > 0.0 else y + 1.0
    if c == SELU:
        return _SELU_SCALE if z > 0.0 else y + _SELU_SCALE * _SELU_ALPHA
    if c == SOFTPLUS:
        return 0.5 * (1.0 + math.tanh(0.5 * z))
    if c == GELU:
        return 0.5 * (1.0 + math.erf(z / _SQRT2)) + z * math.exp(-0.5 * z * z) * _INV_SQRT_2PI
    s = 0.5 * (1.0 + math.tanh(0.5 * z))
    return s * (1.0 + z * (1.0 - s))


# Eigen's rational approximation of tanh for float32 (max error ~3 ulp on the whole line); it
# vectorises, unlike libm's tanh, which dominated the recurrent forward pass.
_F32 = np.float32


@njit(cache=True, error_model="numpy")
def tanh32(x):
    """tanh in float32 to ~3e-7 relative (clamped at ±7.9053, where it is 1 in float32)."""
    xc = min(max(x, _F32(-7.90531110763549805)), _F32(7.90531110763549805))
    x2 = xc * xc
    p = x2 * _F32(-2.76076847742355e-16) + _F32(2.00018790482477e-13)
    p = x2 * p + _F32(-8.60467152213735e-11)
    p = x2 * p + _F32(5.12229709037114e-08)
    p = x2 * p + _F32(1.48572235717979e-05)
    p = x2 * p + _F32(6.37261928875436e-04)
    p = x2 * p + _F32(4.89352455891786e-03)
    q = x2 * _F32(1.19825839466702e-06) + _F32(1.18534705686654e-04)
    q = x2 * q + _F32(2.26843463243900e-03)
    q = x2 * q + _F32(4.89352518554385e-03)
    r = xc * p / q
    return x if abs(x) < _F32(0.0004) else r


@njit(cache=True, error_model="numpy", inline="always")
def act_range(c, fast, src, dst, lo, hi):
    """dst[j] = f(src[j]) for lo <= j < hi (bounds instead of slices: a view per call costs
    reference counting that dominates at a few units); inlined, so the branch leaves the loop.
    ``fast`` (float32 arrays) uses :func:`tanh32` for tanh and sigmoid (0.5(1 + tanh(z/2)), as
    the reference) so that the loop vectorises."""
    if fast and c == TANH:
        for j in range(lo, hi):
            dst[j] = tanh32(_F32(src[j]))
    elif fast and c == SIGMOID:
        for j in range(lo, hi):
            dst[j] = _F32(0.5) * (_F32(1.0) + tanh32(_F32(0.5) * _F32(src[j])))
    else:
        for j in range(lo, hi):
            dst[j] = act(c, src[j])


@njit(cache=True, error_model="numpy", inline="always")
def deriv_range(c, Z, Y, n, t, lo, hi, dst, off):
    """dst[j - off] = f'(Z[n, t, j]) (via Y = f(Z)) for lo <= j < hi, the branch out of the loop."""
    if c == TANH:
        for j in range(lo, hi):
            y = Y[n, t, j]
            dst[j - off] = 1.0 - y * y
    elif c == SIGMOID:
        for j in range(lo, hi):
            y = Y[n, t, j]
            dst[j - off] = y * (1.0 - y)
    else:
        for j in range(lo, hi):
            dst[j - off] = deriv(c, Z[n, t, j], Y[n, t, j])
