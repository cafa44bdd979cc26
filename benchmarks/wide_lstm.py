"""A/B of the wide LSTM's two compiled paths in one process, rounds alternating.

``sequence``: the whole recurrence in one parallel region per pass, the batch in one block of
rows per Numba thread, each block's per-step GEMM single-threaded from inside the kernel, BLAS
held to one thread (rnnlab.runtime.compute_scope).  ``step``: the earlier path, a Python loop
over steps with one multi-threaded BLAS GEMM and one compiled gate kernel per step, Numba on one
thread and BLAS on all (that thread policy is reproduced here for the A/B only).

Models (float32, Adam, random data): ``lstm128`` Embedding(10001, 128) → LSTM(128) → Dense(1,
sigmoid), batch 64, 100 steps; ``char`` Embedding(126, 32) → LSTM(256, return_sequences) →
Dense(126, softmax) with sparse categorical cross-entropy, batch 64, 100 steps.  With
``--torch``, each round also times the same network in PyTorch (2 threads), in its own
subprocess (a peer timed in rnnlab's process runs slower).  Prints the BLAS kernel in use
(threadpoolctl), the load average, each round's samples/s and the medians::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/wide_lstm.py [--rounds 5] \
        [--torch]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
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


def torch_rate(model, samples):
    """PyTorch's samples/s on one epoch of the same network (after a warm-up batch)."""
    import torch  # noqa: PLC0415 - the peer, only in its own subprocess
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    v, emb, units = (10001, 128, 128) if model == "lstm128" else (126, 32, 256)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(v, emb)
            self.lstm = torch.nn.LSTM(emb, units, batch_first=True)
            self.out = torch.nn.Linear(units, 1 if model == "lstm128" else v)

        def forward(self, xb):
            h = self.lstm(self.emb(xb))[0]
            return self.out(h[:, -1]) if model == "lstm128" else self.out(h)

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    if model == "lstm128":
        x = torch.from_numpy(rng.integers(1, v, size=(samples, T)))
        y = torch.from_numpy(rng.integers(0, 2, size=(samples, 1)).astype(np.float32))
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        x = torch.from_numpy(rng.integers(0, v, size=(samples, T)))
        y = torch.from_numpy(rng.integers(0, v, size=(samples, T)))
        ce = torch.nn.CrossEntropyLoss()

        def loss_fn(out, yb):
            return ce(out.reshape(-1, v), yb.reshape(-1))

    def run(n):
        for i in range(0, n, BATCH):
            opt.zero_grad()
            loss_fn(net(x[i:i + BATCH]), y[i:i + BATCH]).backward()
            opt.step()
    run(BATCH)
    t0 = time.perf_counter()
    run(samples)
    return samples / (time.perf_counter() - t0)


def torch_sub(model, samples):
    out = subprocess.run([sys.executable, __file__, "--torch-worker", model, "--samples",
                          str(samples)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=640)
    ap.add_argument("--models", default="lstm128,char")
    ap.add_argument("--torch", action="store_true", help="time PyTorch too (own subprocess)")
    ap.add_argument("--torch-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        print(torch_rate(args.torch_worker, args.samples))
        return
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
        if args.torch:
            rates["torch"] = []
        for r in range(args.rounds):
            for path in (("sequence", "step") if r % 2 == 0 else ("step", "sequence")):
                rates[path].append(epoch(m, x, y, path))
            if args.torch:
                rates["torch"].append(torch_sub(model, args.samples))
        med = {p: statistics.median(v) for p, v in rates.items()}
        for p, v in rates.items():
            print(f"{model:8s} {p:9s} median {med[p]:8.1f} samples/s  rounds "
                  + " ".join(f"{a:.0f}" for a in v))
        vs = f", sequence/torch {med['sequence'] / med['torch']:.2f}" if args.torch else ""
        print(f"{model:8s} sequence/step {med['sequence'] / med['step']:.2f}{vs}; load average "
              f"{' '.join(f'{a:.2f}' for a in os.getloadavg())}")


if __name__ == "__main__":
    main()
