"""Matrix products split over Numba's threads, each part one single-threaded BLAS call.

While the small recurrences run on Numba's threads, :func:`rnnlab.runtime.compute_scope` holds
BLAS to one thread (two spinning thread pools on 2 cores starve each other), so the big
products around the recurrences (``X·kernel``, ``Xᵀ·dZ``, ``dZ·kernelᵀ``) would use one core.
:func:`matmul` instead splits the rows of the result into one block per Numba thread and calls
the GEMM of NumPy's own OpenBLAS on each block from inside a ``prange`` (measured, (3000, 50) ×
(50, 40) float32: 0.23 ms on one BLAS thread, 0.12 ms split over 2).  Each element of the
result is the same dot product over the same ``k`` as in one call, only its row block differs.

The GEMM is found by name in the OpenBLAS that NumPy loaded (``scipy_cblas_sgemm64_`` in
NumPy's wheels); where there is none (another BLAS, or a build without the symbols), or BLAS
has its threads, or the product is small, :func:`matmul` is ``np.matmul``.
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llb
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from threadpoolctl import threadpool_info

from rnnlab.runtime import split_threads

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
#: products of fewer multiply-adds (m·n·k) stay in one np.matmul call: splitting costs a
#: parallel region (~10 µs)
SPLIT_MIN_MACS = 200_000

# (single, double, int type) symbol names of CBLAS GEMMs, in the libraries NumPy ships with
_CANDIDATES = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", types.int64),
               ("cblas_sgemm64_", "cblas_dgemm64_", types.int64),
               ("scipy_cblas_sgemm", "scipy_cblas_dgemm", types.int32))


def _find_gemm():
    """(sgemm name, dgemm name, int type) of the OpenBLAS NumPy uses, after loading it so that
    compiled code can link to it by name; None if there is none."""
    for info in threadpool_info():
        if info.get("internal_api") != "openblas":
            continue
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            continue
        for s, d, ityp in _CANDIDATES:
            if hasattr(lib, s) and hasattr(lib, d):
                llb.load_library_permanently(info["filepath"])
                return s, d, ityp
    return None


_FOUND = _find_gemm()
AVAILABLE = _FOUND is not None
_S, _D, _I = _FOUND if AVAILABLE else ("cblas_sgemm", "cblas_dgemm", types.int32)


def _gemm_type(real):
    ptr = types.voidptr
    return types.void(types.int32, types.int32, types.int32, _I, _I, _I, real, ptr, _I, ptr,
                      _I, real, ptr, _I)


_sgemm = types.ExternalFunction(_S, _gemm_type(types.float32))
_dgemm = types.ExternalFunction(_D, _gemm_type(types.float64))


@intrinsic
def _ptr(typingctx, addr):
    """An integer address as a ``void*`` for the GEMM's array arguments."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(addr), codegen


def _gemm(ta, tb, m, n, k, a, a0, lda, b, ldb, c, c0):
    """Rows of C from element ``c0`` on = op(A from element ``a0``)·op(B), row-major, one BLAS
    call (the single- or double-precision GEMM by C's dtype; compiled code only)."""
    raise NotImplementedError("_gemm runs inside compiled code only")


@overload(_gemm)
def _gemm_typed(ta, tb, m, n, k, a, a0, lda, b, ldb, c, c0):
    single = c.dtype == types.float32
    gemm = _sgemm if single else _dgemm
    real = np.float32 if single else np.float64
    size = 4 if single else 8

    def impl(ta, tb, m, n, k, a, a0, lda, b, ldb, c, c0):
        gemm(_ROW_MAJOR, ta, tb, m, n, k, real(1.0), _ptr(a.ctypes.data + a0 * size), lda,
             _ptr(b.ctypes.data), ldb, real(0.0), _ptr(c.ctypes.data + c0 * size), n)
    return impl


@njit(parallel=True, cache=True)
def _split(ta, a, lda, tb, b, ldb, c, m, n, k, parts):
    """C (m, n) in ``parts`` blocks of rows; rows [r0, r1) of C come from rows (or, transposed,
    columns) [r0, r1) of A's storage."""
    step = (m + parts - 1) // parts
    for p in prange(parts):
        r0 = p * step
        r1 = min(m, r0 + step)
        if r1 > r0:
            _gemm(ta, tb, r1 - r0, n, k, a, r0 * lda if ta == _NO_TRANS else r0, lda, b, ldb, c,
                  r0 * n)


def matmul(a, b):
    """``a @ b`` for 2-D float arrays, split over Numba's threads when BLAS is held to one
    thread (:func:`rnnlab.runtime.split_threads`) and the product is big enough.

    Each operand may be C-contiguous or the transpose of a C-contiguous array (``x.T``, passed to
    the GEMM as a transposed operand, not copied); anything else goes to ``np.matmul``.
    """
    parts = split_threads()
    if not (AVAILABLE and parts > 1) or a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b)
    m, k = a.shape
    n = b.shape[1]
    dt = a.dtype
    if (m * n * k < SPLIT_MIN_MACS or b.shape[0] != k or b.dtype != dt
            or dt not in (np.float32, np.float64)):
        return np.matmul(a, b)
    ta, a_store, lda = _operand(a)
    tb, b_store, ldb = _operand(b)
    if a_store is None or b_store is None:
        return np.matmul(a, b)
    c = np.empty((m, n), dtype=dt)
    _split(ta, a_store, lda, tb, b_store, ldb, c, m, n, k, parts)
    return c


def _operand(x):
    """(transpose flag, C-contiguous storage, leading dimension) of a GEMM operand, or
    (0, None, 0) if it is neither C-contiguous nor a transposed C-contiguous array."""
    if x.flags.c_contiguous:
        return _NO_TRANS, x, x.shape[1]
    if x.flags.f_contiguous:
        return _TRANS, x.T, x.shape[0]
    return 0, None, 0
