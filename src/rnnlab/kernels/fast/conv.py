"""Compiled Conv1D: im2col and col2im loops around one BLAS matmul each way.

Same signatures and results as :func:`rnnlab.kernels.conv.conv1d_forward` /
:func:`~rnnlab.kernels.conv.conv1d_backward` (the math is there).  The compiled im2col reads the
windows straight from the unpadded input (zeros outside it), so no padded copy and no fancy-index
temporary are made; col2im adds each window's gradient back to the steps it read.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from rnnlab.kernels.conv import conv1d_project, conv1d_steps
from rnnlab.kernels.fast.blas import matmul


@njit(cache=True, error_model="numpy")
def _im2col(x, k, stride, dilation, pad_left, out, cols):
    n_, length, c = x.shape
    for n in range(n_):
        for t in range(out):
            row = n * out + t
            for tap in range(k):
                src = t * stride + tap * dilation - pad_left
                base = tap * c
                if 0 <= src < length:
                    for ch in range(c):
                        cols[row, base + ch] = x[n, src, ch]
                else:
                    for ch in range(c):
                        cols[row, base + ch] = 0.0


@njit(cache=True, error_model="numpy")
def _col2im(dcols, k, stride, dilation, pad_left, out, dx):
    n_, length, c = dx.shape
    for n in range(n_):
        for tap in range(k):
            for t in range(out):
                src = t * stride + tap * dilation - pad_left
                if 0 <= src < length:
                    row = n * out + t
                    base = tap * c
                    for ch in range(c):
                        dx[n, src, ch] += dcols[row, base + ch]


def conv1d_forward(x, kernel, bias, stride=1, dilation=1, pad_left=0, pad_right=0):
    """``z = im2col(x) · W.reshape(K·C, F) + b``; returns ``(z (N, out, F), cols)``."""
    n, _, c = x.shape
    k = kernel.shape[0]
    out = conv1d_steps(x.shape, kernel.shape, stride, dilation, pad_left, pad_right)
    dt = np.result_type(x.dtype, kernel.dtype)
    cols = np.empty((n * out, k * c), dtype=dt)
    _im2col(np.ascontiguousarray(x, dtype=dt), k, stride, dilation, pad_left, out, cols)
    return conv1d_project(cols, kernel, bias, n, out), cols


def conv1d_backward(dz, cols, kernel, x_shape, stride=1, dilation=1, pad_left=0, pad_right=0,
                    use_bias=True):
    """``dW = colsᵀ·dz``, ``db = Σ dz``, ``dx = col2im(dz·Wᵀ)``; returns ``(dx, dkernel, dbias)``."""
    n, length, c = x_shape
    k, _, f = kernel.shape
    out = dz.shape[1]
    dz2 = np.ascontiguousarray(dz).reshape(n * out, f)
    dkernel = matmul(cols.T, dz2).reshape(k, c, f)
    dbias = dz2.sum(axis=0) if use_bias else None
    w2 = np.ascontiguousarray(kernel, dtype=dz2.dtype).reshape(k * c, f)
    dcols = matmul(dz2, w2.T)      # C-contiguous, as col2im reads it
    dx = np.zeros((n, length, c), dtype=dcols.dtype)
    _col2im(dcols, k, stride, dilation, pad_left, out, dx)
    return dx, dkernel, dbias
