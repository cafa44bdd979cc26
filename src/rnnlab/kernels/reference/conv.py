"""Window kernels: 1-D convolution (im2col) and 1-D pooling, with Keras's padding arithmetic.

Both read windows of a sequence through index arrays (a gather) in the forward pass and put
gradients back with a scatter-add in the backward pass.  Arrays are channels-last: ``x`` is
(N, T, C).  Plain NumPy functions of arrays; nothing here knows layers.

Padding follows Keras/TensorFlow exactly:

* ``valid``: no padding, ``out = ceil((T - K_eff + 1) / stride)``;
* ``same``: ``out = ceil(T / stride)``, total padding ``max((out - 1)·stride + K_eff - T, 0)``
  split as ``left = total // 2`` and the rest on the right;
* ``causal``: ``K_eff - 1`` zeros on the left only, ``out = ceil(T / stride)``;

where ``K_eff = K + (K - 1)(dilation - 1)`` is the dilated kernel's span.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

PADDINGS = ("valid", "same", "causal")


def effective_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``K + (K - 1)(dilation - 1)``."""
    return kernel_size + (kernel_size - 1) * (dilation - 1)


def conv_output_length(length, kernel_size: int, padding: str, stride: int, dilation: int = 1):
    """Keras's ``conv_output_length``: output steps for ``length`` input steps (None stays None).

    May be <= 0 for a ``valid`` window longer than the input; callers turn that into an error.
    """
    if length is None:
        return None
    if padding in ("same", "causal"):
        out = length
    elif padding == "valid":
        out = length - effective_size(kernel_size, dilation) + 1
    else:
        raise ValueError(f"Unknown padding {padding!r}: expected one of {PADDINGS}")
    return (out + stride - 1) // stride


def pads_1d(length: int, kernel_size: int, padding: str, stride: int, dilation: int = 1):
    """(pad_left, pad_right, out_length) for Keras/TF padding of a sequence of ``length`` steps."""
    k_eff = effective_size(kernel_size, dilation)
    out = conv_output_length(length, kernel_size, padding, stride, dilation)
    if padding == "valid":
        return 0, 0, out
    if padding == "causal":
        return k_eff - 1, 0, out
    total = max((out - 1) * stride + k_eff - length, 0)
    return total // 2, total - total // 2, out


def window_indices(out_length: int, kernel_size: int, stride: int, dilation: int = 1) -> np.ndarray:
    """(out, K) positions ``t·stride + k·dilation`` read by each output step (padded input)."""
    return (np.arange(out_length)[:, None] * stride
            + np.arange(kernel_size)[None, :] * dilation)


# ---------------------------------------------------------------------------- Conv1D
class Conv1DGeometry(NamedTuple):
    """Where a Conv1D's windows are: step between windows, between taps, and the zero padding."""
    stride: int = 1
    dilation: int = 1
    pad_left: int = 0
    pad_right: int = 0


def conv1d_geometry(length: int, kernel_size: int, padding: str, stride: int = 1,
                    dilation: int = 1) -> Conv1DGeometry:
    """The :class:`Conv1DGeometry` of Keras/TF ``padding`` for a sequence of ``length`` steps."""
    left, right, _ = pads_1d(length, kernel_size, padding, stride, dilation)
    return Conv1DGeometry(stride, dilation, left, right)


class Conv1DCache(NamedTuple):
    """What :func:`conv1d_backward` reads: the gathered windows and the forward's arguments."""
    cols: np.ndarray                # (N·out, K·C)
    kernel: np.ndarray              # (K, C, F)
    x_shape: tuple
    geometry: Conv1DGeometry
    has_bias: bool


def conv1d_forward(x, kernel, bias=None, geometry: Conv1DGeometry = Conv1DGeometry()):
    """Cross-correlation (as Keras) by im2col and a single matmul.

    ``z[n, t, f] = b[f] + Σ_k Σ_c xp[n, t·s + k·d, c] · W[k, c, f]`` with ``xp`` the zero-padded
    input, ``W`` of shape (K, C, F).  The windows are gathered into ``cols`` (N·out, K·C) so that
    ``z = cols · W.reshape(K·C, F)``.  Returns ``(z, cache)``, ``cols`` kept in the cache for the
    backward pass.
    """
    stride, dilation, pad_left, pad_right = geometry
    n, _, c = x.shape
    k = kernel.shape[0]
    out = conv1d_steps(x.shape, kernel.shape, geometry)
    xp = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0))) if pad_left or pad_right else x
    idx = window_indices(out, k, stride, dilation)
    cols = xp[:, idx, :].reshape(n * out, k * c)          # (N·out, K·C), order (k, c) as W
    z = conv1d_project(cols, kernel, bias, n, out)
    return z, Conv1DCache(cols, kernel, x.shape, geometry, bias is not None)


def conv1d_steps(x_shape, kernel_shape, geometry: Conv1DGeometry) -> int:
    """Output length of a conv1d over a padded input; ValueError for mismatched channels or an
    input too short for the kernel.  Shared by the reference and the compiled path."""
    _, length, c = x_shape
    k, c_w, _ = kernel_shape
    if c_w != c:
        raise ValueError(f"conv1d: input has {c} channels, kernel expects {c_w}")
    span = effective_size(k, geometry.dilation)
    out = (length + geometry.pad_left + geometry.pad_right - span) // geometry.stride + 1
    if out < 1:
        raise ValueError(f"conv1d: input of {length} steps is too short for a kernel spanning "
                         f"{span} steps")
    return out


def conv1d_project(cols, kernel, bias, n, out):
    """``z = cols · W.reshape(K·C, F) + b`` as (N, out, F): the one matmul of the convolution."""
    k, c, f = kernel.shape
    z = cols @ kernel.reshape(k * c, f)
    if bias is not None:
        z += bias
    return z.reshape(n, out, f)


def conv1d_backward(dz, cache: Conv1DCache):
    """Gradients of :func:`conv1d_forward` given ``dz = dL/dz`` of shape (N, out, F).

    ``dW = colsᵀ · dz`` (reshaped to (K, C, F)), ``db = Σ_{n,t} dz``, and ``dcols = dz · Wᵀ``
    scattered back onto the padded input (col2im): window tap ``k`` of output step ``t`` came from
    ``xp[t·s + k·d]``, so ``dxp[k·d + t·s] += dcols[:, t, k]``.  For a fixed ``k`` those positions
    are distinct, so each tap is one strided slice addition; the padding is cut off at the end.
    Returns ``(dx, dkernel, dbias)`` (dbias None without bias).
    """
    cols, kernel, (n, length, c), geometry, has_bias = cache
    stride, dilation, pad_left, pad_right = geometry
    k, _, f = kernel.shape
    out = dz.shape[1]
    dz2 = dz.reshape(n * out, f)
    dkernel = (cols.T @ dz2).reshape(k, c, f)
    dbias = dz2.sum(axis=0) if has_bias else None
    dcols = (dz2 @ kernel.reshape(k * c, f).T).reshape(n, out, k, c)
    dxp = np.zeros((n, length + pad_left + pad_right, c), dtype=dz.dtype)
    last = stride * (out - 1) + 1
    for tap in range(k):
        start = tap * dilation
        dxp[:, start:start + last:stride, :] += dcols[:, :, tap, :]
    dx = dxp[:, pad_left:pad_left + length, :]
    return dx, dkernel, dbias


# ---------------------------------------------------------------------------- pooling
def _pool_windows(length, pool, stride, pad_left, pad_right):
    """(out, P) window positions in the padded input and whether each is a real (unpadded) step."""
    out = (length + pad_left + pad_right - pool) // stride + 1
    if out < 1:
        raise ValueError(f"pool1d: input of {length} steps is too short for a pool of {pool}")
    pos = window_indices(out, pool, stride)
    inside = (pos >= pad_left) & (pos < pad_left + length)
    return pos, inside


def max_pool1d_forward(x, pool, stride, pad_left=0, pad_right=0):
    """Max over each window (padding is -inf, so it never wins, as in TF).  Returns ``(y, src)``.

    ``src`` (N, out, C) holds the input step that produced each maximum (the first one on ties),
    which is where the backward pass routes the gradient.
    """
    pad = ((0, 0), (pad_left, pad_right), (0, 0))
    xp = np.pad(x, pad, constant_values=-np.inf) if pad_left or pad_right else x
    pos, _ = _pool_windows(x.shape[1], pool, stride, pad_left, pad_right)
    win = xp[:, pos, :]                                            # (N, out, P, C)
    arg = np.argmax(win, axis=2)                                   # first maximum on ties
    y = np.take_along_axis(win, arg[:, :, None, :], axis=2)[:, :, 0, :]
    src = pos[np.arange(pos.shape[0])[None, :, None], arg] - pad_left   # (N, out, C)
    return y, src


def max_pool1d_backward(dy, src, x_shape):
    """Route each window's gradient to its argmax; overlapping windows add up (a bincount)."""
    n, length, c = x_shape
    flat = (np.arange(n)[:, None, None] * length + src) * c + np.arange(c)[None, None, :]
    dx = np.bincount(flat.ravel(), weights=dy.ravel(), minlength=n * length * c)
    return dx.reshape(x_shape).astype(dy.dtype, copy=False)


def avg_pool1d_forward(x, pool, stride, pad_left=0, pad_right=0):
    """Mean over each window's real steps (padding is not counted, as in TF).

    ``y[t] = Σ_p w[t, p] · xp[t·s + p]`` with ``w[t, p] = inside[t, p] / Σ_p inside[t, p]``.
    Returns ``(y, cache)``.
    """
    xp = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0))) if pad_left or pad_right else x
    pos, inside = _pool_windows(x.shape[1], pool, stride, pad_left, pad_right)
    weight = (inside / inside.sum(axis=1, keepdims=True)).astype(x.dtype)   # (out, P)
    y = np.einsum("ntpc,tp->ntc", xp[:, pos, :], weight)
    return y, (weight, stride, pad_left, pad_right)


def avg_pool1d_backward(dy, cache, x_shape):
    """``dxp[t·s + p] += w[t, p] · dy[t]``: per tap ``p`` the positions are distinct (one strided
    slice), then the padding is cut off."""
    weight, stride, pad_left, pad_right = cache
    n, length, c = x_shape
    out, pool = weight.shape
    dxp = np.zeros((n, length + pad_left + pad_right, c), dtype=dy.dtype)
    last = stride * (out - 1) + 1
    for p in range(pool):
        dxp[:, p:p + last:stride, :] += dy * weight[:, p].astype(dy.dtype)[None, :, None]
    return dxp[:, pad_left:pad_left + length, :]
