"""A/B of the wide LSTM's two compiled paths in one process, rounds alternating.

``sequence``: the whole recurrence in one parallel region per pass, the batch in one block of
rows per Numba thread, each block's per-step GEMM single-threaded from inside the kernel, BLAS
held to one thread (rnnlab.runtime.compute_scope).  ``step``: the earlier path, a Python loop
over steps with one multi-threaded BLAS GEMM and one compiled gate kernel per step, Numba on one
thread and BLAS on all (that thread policy is reproduced here for the A/B only).

Models (float32, Adam, random data): ``lstm128`` Embedding(10001, 128) → LSTM(128) → Dense(1,
sigmoid), batch 64, 100 steps; ``char`` Embedding(126, 32) → LSTM(256, return_sequences) →
Dense(126, softmax) with sparse categorical cross-entropy, batch 64, 100 steps.  Prints the BLAS
kernel in use (threadpoolctl), the load average, each round's samples/s and the medians::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/wide_lstm.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import numba
import numpy as np
from threadpoolctl import threadpool_info

from rnnlab import config, runtime
from rnnlab.kernels.compiled import lstm as fast_lstm
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam

T, BATCH = 100, 64


@contextlib.contextmanager
def _step_policy(max_units):
    """The thread split the per-step path ran under: BLAS keeps its threads, Numba gets one."""
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def build(model, samples, rng):
    if model == "lstm128":
        m = Sequential([Embedding(10001, 128), LSTM(128), Dense(1, activation="sigmoid")])
        m.compile(Adam(), "binary_crossentropy")
        x = rng.integers(1, 10001, size=(samples, T))
        y = rng.integers(0, 2, size=(samples, 1)).astype(np.float32)
    else:
        v = 126
        m = Sequential([Embedding(v, 32), LSTM(256, return_sequences=True),
                        Dense(v, activation="softmax")])
        m.compile(Adam(learning_rate=0.002), "sparse_categorical_crossentropy")
        x = rng.integers(0, v, size=(samples, T))
        y = rng.integers(0, v, size=(samples, T))
    return m, x, y


def epoch(m, x, y, path):
    fast_lstm.SEQUENCE_KERNELS = path == "sequence"
    share = runtime._share_cores
    if path == "step":
        runtime._share_cores = _step_policy
    try:
        t0 = time.perf_counter()
        m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return len(x) / (time.perf_counter() - t0)
    finally:
        runtime._share_cores = share
        fast_lstm.SEQUENCE_KERNELS = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=640)
    ap.add_argument("--models", default="lstm128,char")
    args = ap.parse_args()
    config.set_kernels("fast")
    config.set_random_seed(0)
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            print(f"BLAS: {lib['internal_api']} {lib.get('version')} kernel "
                  f"{lib.get('architecture')}, {lib['num_threads']} threads")
    print(f"Numba threads {numba.get_num_threads()}; load average "
          f"{' '.join(f'{a:.2f}' for a in os.getloadavg())}")
    rng = np.random.default_rng(0)
    for model in args.models.split(","):
        m, x, y = build(model, args.samples, rng)
        for path in ("sequence", "step"):       # warm-up: compilation, cache loading
            epoch(m, x[:BATCH], y[:BATCH], path)
        rates = {"sequence": [], "step": []}
        for r in range(args.rounds):
            for path in (("sequence", "step") if r % 2 == 0 else ("step", "sequence")):
                rates[path].append(epoch(m, x, y, path))
        med = {p: statistics.median(v) for p, v in rates.items()}
        for p, v in rates.items():
            print(f"{model:8s} {p:9s} median {med[p]:8.1f} samples/s  rounds "
                  + " ".join(f"{a:.0f}" for a in v))
        print(f"{model:8s} sequence/step {med['sequence'] / med['step']:.2f}; load average "
              f"{' '.join(f'{a:.2f}' for a in os.getloadavg())}")


if __name__ == "__main__":
    main()
