"""The first fit of each lecture model on a fresh install: an empty Numba cache.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/first_fit.py [--models ...]

For each model, two fresh processes share an empty ``NUMBA_CACHE_DIR``.  Each builds the model
as the lecture does (``rnnlab.lecture``) and times two one-epoch fits.  With
``--compile-mode blocking`` the first process's first fit pays the compilation of every kernel
the model uses.  With ``background`` (the default, ``rnnlab.config.compile_mode()``) the first
fit runs on the reference kernels while a second process compiles; the first process then waits
until everything is compiled ("compiled after", from the start of the first fit) and prints
its whole wall time.  The second process's first fit shows what loading the kernels from the
on-disk cache costs.  Data: the Fortune 500 shape (502 series of 100 days) for the time-series
models, 1,000 reviews of 100 token ids for the text models.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from machine import blas_kernels
from workers import report, run_worker

MODELS = ("ts-simple_rnn", "ts-stack", "mlp", "simple_rnn", "conv1d_rnn", "lstm", "lstm_masked")


def worker(model, mode):
    t0 = time.perf_counter()
    import numpy as np

    from rnnlab import config
    from rnnlab.kernels import get_ops
    from rnnlab.lecture import text, timeseries
    config.set_compile_mode(mode)
    rng = np.random.default_rng(0)
    if model.startswith("ts-"):
        m = timeseries.simple_rnn_model(model == "ts-stack")
        x = rng.random((502, 100, 1)).astype("float32")
        y = rng.random((502, 1)).astype("float32")
    else:
        m = text.build_model(model)
        x = rng.integers(1, 10001, size=(1000, 100))
        y = rng.integers(0, 2, size=(1000, 1))
    build = time.perf_counter() - t0
    fits = []
    start = time.perf_counter()
    for _ in range(2):
        t1 = time.perf_counter()
        m.fit(x, y, epochs=1, verbose=0)
        fits.append(time.perf_counter() - t1)
    ops = get_ops()
    if hasattr(ops, "wait"):
        ops.wait()
    report({"build": build, "first": fits[0], "second": fits[1],
            "compiled": time.perf_counter() - start, "wall": time.perf_counter() - t0})




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--compile-mode", default="background", choices=("background", "blocking"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a.worker, a.compile_mode)
    print(f"BLAS: {blas_kernels()}; cores {os.cpu_count()}; compile mode {a.compile_mode}")
    print("seconds: import + build | fresh cache: first fit, second fit, compiled after, "
          "process wall | cache loaded: first fit")
    for model in a.models.split(","):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            args = ["--worker", model, "--compile-mode", a.compile_mode]
            one = run_worker(__file__, args, env)
            two = run_worker(__file__, args, env)
        print(f"  {model:14s} {one['build']:5.2f} | {one['first']:6.2f} {one['second']:6.2f} "
              f"{one['compiled']:6.2f} {one['wall']:6.2f} | {two['first']:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
