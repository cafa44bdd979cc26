"""Compiled Conv1D: im2col and col2im loops around one BLAS matmul each way.

Same signatures and results as :func:`rnnlab.kernels.reference.conv.conv1d_forward` /
:func:`~rnnlab.kernels.reference.conv.conv1d_backward` (the math is there).  The compiled im2col
reads the windows straight from the unpadded input (zeros outside it), so no padded copy and no
fancy-index temporary are made; col2im adds each window's gradient back to the steps it read.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from rnnlab.kernels.compiled.blas import matmul
from rnnlab.kernels.reference.conv import Conv1DCache, Conv1DGeometry, conv1d_project, conv1d_steps


@njit(cache=True, error_model="numpy")
def _im2col(x, k, geom, out, cols):
    stride, dilation, pad_left, _ = geom
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
def _col2im(dcols, k, geom, out, dx):
    stride, dilation, pad_left, _ = geom
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


def conv1d_forward(x, kernel, bias=None, geometry: Conv1DGeometry = Conv1DGeometry()):
    """``z = im2col(x) · W.reshape(K·C, F) + b``; returns ``(z (N, out, F), cache)``."""
    n, _, c = x.shape
    k = kernel.shape[0]
    out = conv1d_steps(x.shape, kernel.shape, geometry)
    dt = np.result_type(x.dtype, kernel.dtype)
    cols = np.empty((n * out, k * c), dtype=dt)
    geom = Conv1DGeometry(*(int(v) for v in geometry))
    _im2col(np.ascontiguousarray(x, dtype=dt), k, geom, out, cols)
    z = conv1d_project(cols, kernel, bias, n, out)
    return z, Conv1DCache(cols, kernel, x.shape, geom, bias is not None)


def conv1d_backward(dz, cache: Conv1DCache):
    """``dW = colsᵀ·dz``, ``db = Σ dz``, ``dx = col2im(dz·Wᵀ)``; returns
    ``(dx, dkernel, dbias)``."""
    cols, kernel, (n, length, c), geom, has_bias = cache
    k, _, f = kernel.shape
    out = dz.shape[1]
    dz2 = np.ascontiguousarray(dz).reshape(n * out, f)
    dkernel = matmul(cols.T, dz2).reshape(k, c, f)
    dbias = dz2.sum(axis=0) if has_bias else None
    w2 = np.ascontiguousarray(kernel, dtype=dz2.dtype).reshape(k * c, f)
    dcols = matmul(dz2, w2.T)      # C-contiguous, as col2im reads it
    dx = np.zeros((n, length, c), dtype=dcols.dtype)
    _col2im(dcols, k, geom, out, dx)
    return dx, dkernel, dbias
