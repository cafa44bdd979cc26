"""Matrix products split over Numba's threads, each part one single-threaded BLAS call.

While the recurrences run on Numba's threads, :func:`rnnlab.runtime.compute_scope` holds
BLAS to one thread (two spinning thread pools on 2 cores starve each other), so the big
products around the recurrences (``X·kernel``, ``Xᵀ·dZ``, ``dZ·kernelᵀ``) would use one core.
:func:`matmul` instead splits the rows of the result into one block per Numba thread and calls
the GEMM of NumPy's own OpenBLAS on each block from inside a ``prange`` (measured, (3000, 50) ×
(50, 40) float32: 0.12 ms on one BLAS thread, 0.07 ms split over 2).  Each element of the
result is the same dot product over the same ``k`` as in one call, only its row block differs.

Which GEMM: a process may hold several OpenBLAS copies (SciPy's, loaded by SciPy, scikit-learn
or Keras, exports ``scipy_cblas_sgemm`` with 32-bit indices; NumPy's ``scipy_cblas_sgemm64_``),
listed in no fixed order.  So nothing is looked up by name in the process: :data:`BOUND` is the
OpenBLAS in which NumPy's own extension module resolves its GEMM (or, where the platform cannot
tell, the one inside NumPy's own directories), with the index width that library's
``openblas_get_config`` states, and the compiled code calls the *addresses* taken from that
library, passed in at run time (Numba's disk cache, shared by every process, holds no address,
library or symbol; the index width is part of its signature).  Where NumPy's OpenBLAS cannot be
told beyond doubt (another BLAS, a build without these symbols), or BLAS has its threads, or the
product is small, :func:`matmul` is ``np.matmul``.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from threadpoolctl import threadpool_info

from rnnlab.runtime import split_threads

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
#: CBLAS's flags for an operand as stored / transposed (for callers of :func:`gemm`)
NO_TRANS, TRANS = _NO_TRANS, _TRANS
#: products of fewer multiply-adds (m·n·k) stay in one np.matmul call: splitting costs a
#: parallel region (~10 µs)
SPLIT_MIN_MACS = 200_000

# (prefix, suffix) of OpenBLAS's symbol names: scipy-openblas64 (NumPy 2 wheels), openblas64_
# (NumPy 1.22-1.26 wheels), scipy-openblas32, a plain OpenBLAS (distributions, conda)
_NAMINGS = (("scipy_", "64_"), ("", "64_"), ("scipy_", ""), ("", ""))
# the extension module through which NumPy calls BLAS (numpy._core from NumPy 2 on)
_NUMPY_EXT = (sys.modules.get("numpy._core._multiarray_umath")
              or sys.modules.get("numpy.core._multiarray_umath"))


class Gemm(NamedTuple):
    """NumPy's OpenBLAS: its file, the addresses of its single and double GEMMs, its index type."""

    path: str
    sgemm: int
    dgemm: int
    index: type


def _address(lib, name):
    """The address of ``name`` as ``lib`` (a ctypes library handle) resolves it, or None."""
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _load(path):
    """A ctypes handle of an already-loaded library (no new copy), or None."""
    try:
        return ctypes.CDLL(path)
    except (OSError, TypeError):
        return None


def _inside_numpy(path):
    """Whether ``path`` lies in NumPy's package or its wheel's ``numpy.libs`` directory."""
    home = os.path.realpath(os.path.dirname(np.__file__))
    path = os.path.realpath(path)
    return any(os.path.commonpath([path, d]) == d for d in (home, home + ".libs"))


def _gemm_of(path, numpy_ext):
    """The :class:`Gemm` of the OpenBLAS at ``path`` if it is NumPy's, else None.

    It is NumPy's if NumPy's extension module resolves the GEMM's name to this very address (a
    handle's lookup searches the module and its own dependencies, not the process); where the
    module resolves no such name (Windows looks in the module alone), if the file lies in
    NumPy's own directories.  The index width is what the library's configuration says."""
    lib = _load(path)
    if lib is None:
        return None
    for prefix, suffix in _NAMINGS:
        s, d = (_address(lib, f"{prefix}cblas_{t}gemm{suffix}") for t in "sd")
        get_config = getattr(lib, f"{prefix}openblas_get_config{suffix}", None)
        if not (s and d and get_config):
            continue
        name = f"{prefix}cblas_sgemm{suffix}"
        via_numpy = None if numpy_ext is None else _address(numpy_ext, name)
        if not (via_numpy == s if via_numpy is not None else _inside_numpy(path)):
            return None
        get_config.restype = ctypes.c_char_p
        wide = b"USE64BITINT" in (get_config() or b"")
        if suffix == "64_" and not wide:
            return None                     # a 64_ name without 64-bit indices: not understood
        return Gemm(path, s, d, np.int64 if wide else np.int32)
    return None


def _numpy_gemm():
    """NumPy's own OpenBLAS GEMMs among the OpenBLAS libraries loaded, or None unless exactly one
    library qualifies."""
    numpy_ext = None if _NUMPY_EXT is None else _load(_NUMPY_EXT.__file__)
    paths = dict.fromkeys(i["filepath"] for i in threadpool_info()
                          if i.get("internal_api") == "openblas")
    found = {g.sgemm: g for g in (_gemm_of(p, numpy_ext) for p in paths) if g is not None}
    return next(iter(found.values())) if len(found) == 1 else None


#: NumPy's OpenBLAS GEMMs that :func:`matmul` calls, or None (then it is ``np.matmul``)
BOUND = _numpy_gemm()
AVAILABLE = BOUND is not None


@intrinsic
def _ptr(typingctx, addr):
    """An integer address as a ``void*`` for the GEMM's array arguments."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(addr), codegen


@intrinsic
def _call(typingctx, fn, order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Call the C function at the integer address ``fn`` with the other arguments, each passed
    as its own type (a CBLAS GEMM; no symbol name is involved)."""
    sig = types.void(fn, order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        arg_types = [context.get_value_type(t) for t in signature.args[1:]]
        target = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), arg_types).as_pointer())
        builder.call(target, args[1:])
        return context.get_dummy_value()
    return sig, codegen


def _gemm(gemm, ta, tb, m, n, k, a, a0, lda, b, ldb, c, c0):
    """Rows of C from element ``c0`` on = op(A from element ``a0``)·op(B), row-major, one call of
    the GEMM at address ``gemm`` (single or double by C's dtype, its index type that of ``lda``;
    compiled code only)."""
    raise NotImplementedError("_gemm runs inside compiled code only")


#: one single-threaded GEMM on rows of C, for compiled kernels that split their own work (the
#: wide LSTM's blocks of the batch)
gemm = _gemm


@overload(_gemm)
def _gemm_typed(gemm, ta, tb, m, n, k, a, a0, lda, b, ldb, c, c0):
    if lda not in (types.int32, types.int64) or ldb != lda:
        return None
    index = np.int64 if lda == types.int64 else np.int32
    real = np.float32 if c.dtype == types.float32 else np.float64
    size = 4 if c.dtype == types.float32 else 8

    def impl(gemm, ta, tb, m, n, k, a, a0, lda, b, ldb, c, c0):
        _call(gemm, np.int32(_ROW_MAJOR), np.int32(ta), np.int32(tb), index(m), index(n),
              index(k), real(1.0), _ptr(a.ctypes.data + a0 * size), lda, _ptr(b.ctypes.data), ldb,
              real(0.0), _ptr(c.ctypes.data + c0 * size), index(n))
    return impl


@njit(parallel=True, cache=True)
def _split(ta, a, lda, tb, b, ldb, c, m, n, k, parts, gemm):
    """C (m, n) in ``parts`` blocks of rows by the GEMM at address ``gemm``; rows [r0, r1) of C
    come from rows (or, transposed, columns) [r0, r1) of A's storage."""
    step = (m + parts - 1) // parts
    for p in prange(parts):
        r0 = p * step
        r1 = min(m, r0 + step)
        if r1 > r0:
            _gemm(gemm, ta, tb, r1 - r0, n, k, a, r0 * lda if ta == _NO_TRANS else r0, lda, b,
                  ldb, c, r0 * n)


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
    _split(ta, a_store, BOUND.index(lda), tb, b_store, BOUND.index(ldb), c, m, n, k, parts,
           BOUND.sgemm if dt == np.float32 else BOUND.dgemm)
    return c


def _operand(x):
    """(transpose flag, C-contiguous storage, leading dimension) of a GEMM operand, or
    (0, None, 0) if it is neither C-contiguous nor a transposed C-contiguous array."""
    if x.flags.c_contiguous:
        return _NO_TRANS, x, x.shape[1]
    if x.flags.f_contiguous:
        return _TRANS, x.T, x.shape[0]
    return 0, None, 0
