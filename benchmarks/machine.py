"""What a benchmark reports about the machine it ran on: the BLAS library and kernel in use
(threadpoolctl) and the SGEMM rate NumPy's BLAS reaches at a given shape, measured in the same
run, so that a model's rate can be read as a fraction of what the hardware does.

Run the benchmarks with the environment's OpenBLAS overrides removed (what a user's NumPy does):
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/...``.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info


def blas_kernels() -> str:
    """e.g. ``openblas 0.3.29 SkylakeX (2 threads)``, one entry per BLAS library loaded."""
    libs = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
            f"({i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    overrides = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                 if k in os.environ}
    note = f"; overridden by {overrides}" if overrides else "; no OPENBLAS_* overrides"
    return (", ".join(libs) or "no BLAS found by threadpoolctl") + note


def sgemm_gflops(m: int, k: int, n: int, repeat: int = 15) -> float:
    """GFLOP/s of NumPy's float32 ``(m, k) @ (k, n)`` with BLAS's default threads: the median
    of ``repeat`` timed calls after two warm-up calls."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    for _ in range(2):
        np.matmul(a, b, out=c)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    return 2.0 * m * k * n / statistics.median(times) / 1e9


def describe() -> str:
    """The lines every benchmark prints first."""
    return (f"BLAS: {blas_kernels()}\n"
            f"SGEMM (6400x128)·(128x512), float32: {sgemm_gflops(6400, 128, 512):.0f} GFLOP/s")
