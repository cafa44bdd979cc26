"""How a fit uses the machine: the BLAS/Numba thread split and the malloc policy (no math here).

:func:`compute_scope` wraps a whole training or inference loop.  The compiled kernels ask
:func:`split_threads` how many of Numba's threads they may split their big matrix products over,
and read :data:`BLAS_STEP_UNITS` to choose between a fused per-sample recurrence and per-step
GEMMs.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import platform
import sys

from threadpoolctl import ThreadpoolController, threadpool_limits

from rnnlab import checks, config

#: Recurrent units at or above which the LSTM's per-step product (h_{t-1}⊙ρ)·U is a GEMM of
#: NumPy's BLAS (called from the compiled kernels, one per block of the batch) rather than a
#: compiled scalar matvec per sample.
BLAS_STEP_UNITS = 64

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3      # glibc's mallopt parameter numbers
_MMAP_THRESHOLD = 32 << 20                          # glibc's largest allowed value
_TRIM_DEFAULT = 128 * 1024                          # glibc's default trim threshold
_libc = None                                        # glibc once found, False if not applicable
_depth = 0                                          # nesting of compute_scope (callbacks, ...)
_split_threads = 0                                  # see split_threads()
_controller = None                                  # see _blas_pools()


def split_threads() -> int:
    """Numba's thread count while a :func:`compute_scope` holds BLAS to one thread and leaves
    Numba its threads, else 0.  The compiled kernels then split their big matrix products and the
    embedding's gather and scatter over that many threads.  Read once per scope:
    ``numba.get_num_threads()`` costs ~10 µs per call."""
    return _split_threads


def _glibc():
    """The process's glibc with its malloc tuned for the training loop, or None.

    Every batch allocates and frees the same large arrays (an LSTM(128) step's gates: 13 MB).
    By default glibc serves such blocks with ``mmap`` or trims them off the heap when freed, so
    each batch page-faults its memory back in.  Here blocks up to 32 MB come from the heap (set
    once, the most glibc's own adaptive threshold reaches), and while the outermost
    :func:`compute_scope` runs, freed heap memory is kept for reuse; when it ends the memory is
    handed back (``malloc_trim``) and glibc's default trimming restored.  Set
    ``RNNLAB_MALLOC_TUNING=0`` to leave malloc alone.  A no-op off glibc.
    """
    global _libc
    if _libc is None:
        _libc = False
        if (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
                and os.environ.get("RNNLAB_MALLOC_TUNING", "1") != "0"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                if libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD):
                    _libc = libc
            except (OSError, AttributeError):
                pass
    return _libc or None


#: Batches of at most this many samples run serially (one Numba thread, no split products).
SERIAL_BATCH = 1


@contextlib.contextmanager
def compute_scope(max_units: int = 0, batch: int | None = None):
    """Context for a whole training or inference loop: who gets the cores, and memory reuse.

    ``batch``, when given, is the largest batch the loop will run: at ``SERIAL_BATCH`` or less
    (a single sequence served by ``predict`` or ``model(x)``) there is nothing to split over
    samples, and waking a second thread for every parallel kernel costs more than the work, so
    the kernels run on the calling thread alone and memory is left to malloc.

    With the compiled kernels, the recurrences run on Numba's threads (blocks of the batch in
    parallel) and two thread pools spinning on 2 cores starve each other, so Numba keeps its
    threads and BLAS is held to a single thread for the duration; the big products split their
    rows over Numba's threads instead (:func:`split_threads`), and a wide LSTM's per-step GEMMs
    run single-threaded inside each block's thread.  ``max_units``, the widest recurrence of the
    model, does not change that split (a wide LSTM was given BLAS's threads for its per-step
    products until its steps ran in one parallel region per sequence); it stays for the callers.
    The reference kernels keep both pools.  Either way freed memory is kept for the next batch
    and handed back at the end (:func:`_glibc`).
    """
    global _depth
    if batch is not None and batch <= SERIAL_BATCH and config.kernels() == "fast":
        with _serial():
            yield
        return
    libc = _glibc()
    if libc is not None and _depth == 0:
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)     # keep freed memory for the next batch
    _depth += 1
    try:
        if config.kernels() != "fast":
            yield
        else:
            with _share_cores(max_units):
                yield
    finally:
        _depth -= 1
        if libc is not None and _depth == 0:
            libc.malloc_trim(0)
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_DEFAULT)


def _blas_pools() -> ThreadpoolController:
    """The process's thread pools, found once.  ``threadpool_limits`` scans the loaded libraries
    (``/proc/self/maps``) on every call, ~1.5 ms: more than a whole single-sequence ``predict``.
    NumPy's BLAS, the one held here, is loaded before rnnlab, so one scan finds it."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def _serial():
    global _split_threads
    numba = importlib.import_module("numba")    # loaded only when the compiled kernels run
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    outer, _split_threads = _split_threads, 0
    try:
        yield
    finally:
        _split_threads = outer
        numba.set_num_threads(old)


@contextlib.contextmanager
def _share_cores(max_units):
    """Hold BLAS to one thread and give the compiled kernels Numba's threads (see
    :func:`compute_scope`; ``max_units`` is not used)."""
    global _split_threads
    numba = importlib.import_module("numba")    # loaded only when the compiled kernels run
    with _blas_pools().limit(limits=1, user_api="blas"):
        outer, _split_threads = _split_threads, numba.get_num_threads()
        try:
            yield
        finally:
            _split_threads = outer


@contextlib.contextmanager
def pinned_threads(threads: int):
    """Hold this process's BLAS and OpenMP pools and the calling thread's Numba pool to
    ``threads`` for a block, then put them back: one trial of several sharing a machine (two
    Dask workers on two cores) uses its share and no more.  Dask's nanny only sets
    ``OMP/MKL/OPENBLAS_NUM_THREADS=1`` in its workers; Numba still starts one thread per core,
    so without this each trial's compiled kernels would split their products over every core.
    :func:`compute_scope` inside the block only lowers these further."""
    threads = checks.positive_int(threads, "threads", "rnnlab.runtime.pinned_threads")
    numba = importlib.import_module("numba")
    old = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        numba.set_num_threads(old)


def call_pinned(threads: int, fn, *args):
    """``fn(*args)`` under :func:`pinned_threads` (``threads``): what a Dask trial task runs."""
    with pinned_threads(threads):
        return fn(*args)
