"""Training throughput: rnnlab (fast and reference kernels) against PyTorch (and Keras if present).

Models (random integer "reviews" of 100 token ids in [1, 10001), random 0/1 labels, Adam,
binary cross-entropy)::

    lstm       Embedding(10001, 50) → LSTM(10, return_sequences) → LSTM(1, sigmoid)       batch 30
    simplernn  Embedding(10001, 50) → SimpleRNN(10, return_sequences) → SimpleRNN(1, sigmoid)
    gru        Embedding(10001, 50) → GRU(10, return_sequences) → GRU(1, sigmoid)         batch 30
    lstm128    Embedding(10001, 128) → LSTM(128) → Dense(1, sigmoid)                      batch 64
    charlm     Embedding(100, 32) → LSTM(256, return_sequences) → Dense(100, softmax),
               next-character ids as targets, sparse categorical cross-entropy           batch 64

The machine: the BLAS kernel in use (threadpoolctl) and NumPy's SGEMM GFLOP/s at each model's
largest product, ``[X_t, h_{t-1}]·[kernel; recurrent_kernel]`` over all N·T rows of a batch
((N·T) x (m+u) · (m+u) x G·u), measured in the same run; each model's training rate is also
given in GFLOP/s (3 x the forward pass's matrix-product FLOPs per sample: forward, and the
backward's two products) and as a fraction of that peak.  Run with the environment's OpenBLAS
overrides removed, as a user's NumPy runs: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE``.

Every (framework, model) pair runs in its own subprocess, so its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``: interpreter + libraries + data + training, the
number a user sees) is not mixed with another's.  In it: one warm-up epoch (compilation, caches,
allocator), then ``--repeats`` timed epochs; samples/s is ``n_samples / median(epoch seconds)``.
Timings on a small shared machine also move between processes (the same code gives ±15% from
one fresh process to the next, for every framework), so each (framework, model) runs in
``--rounds`` fresh subprocesses, the frameworks alternating, and the median over rounds is
reported with every round's number.
PyTorch is pinned to 2 threads (``torch.set_num_threads(2)``); its recurrent layers have no
``activation=`` argument, so its last recurrent layer keeps tanh and a sigmoid is applied to its
output (same shapes, same work).  For rnnlab the peak of NumPy's own allocations during one extra
epoch is also measured with ``tracemalloc`` (NumPy reports its buffers to it).

Compile time: two fresh subprocesses share an empty ``NUMBA_CACHE_DIR``; each times its first
and second training step.  The first process pays Numba's compilation; the second one shows
whether the on-disk cache (``cache=True``) removed it.

    python benchmarks/train_throughput.py [--quick] [--models lstm,gru] [--samples 3000]
                                          [--repeats 5] [--rounds 3] [--no-reference]
                                          [--no-compile-check] [--keras-python PATH]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from machine import blas_kernels, sgemm_gflops
from workers import report, run_worker

MODELS = {
    # name: (recurrent layer, embedding dim, units, batch size, head)
    "lstm": ("LSTM", 50, 10, 30, "recurrent"),
    "simplernn": ("SimpleRNN", 50, 10, 30, "recurrent"),
    "gru": ("GRU", 50, 10, 30, "recurrent"),
    "lstm128": ("LSTM", 128, 128, 64, "dense"),
    "charlm": ("LSTM", 32, 256, 64, "softmax"),
}
VOCAB, SEQ_LEN, CHARS = 10001, 100, 100
GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}
# PyTorch samples/s measured on this machine when the targets were set (from the issue).
TARGET_RATIO = {"lstm": 4.0, "simplernn": 10.0, "gru": 10.0, "lstm128": 1.5, "charlm": 1.3}
KERAS_TARGET_RATIO = {"lstm": 10.0, "simplernn": 10.0, "gru": 10.0}


def make_data(n, model, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    if MODELS[model][4] == "softmax":     # windows of a random character stream, shifted by one
        ids = rng.integers(0, CHARS, size=n * SEQ_LEN + 1).astype(np.int64)
        return ids[:-1].reshape(n, SEQ_LEN), ids[1:].reshape(n, SEQ_LEN)
    x = rng.integers(1, VOCAB, size=(n, SEQ_LEN)).astype(np.int64)
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float32)
    return x, y


def shapes(model):
    """(m, u, gates, head width): embedding dim, units, gate count, output width."""
    cell, emb, units, _, head = MODELS[model]
    return emb, units, GATES[cell], CHARS if head == "softmax" else 1


def train_flops(model) -> float:
    """Matrix-product FLOPs of one training sample: 3 x the forward pass's (the backward pass
    has two products per forward one).  The lecture's second recurrent layer (1 unit) counts."""
    cell, _, _, _, head = MODELS[model]
    m, u, g, out = shapes(model)
    fwd = 2 * SEQ_LEN * (m + u) * g * u
    if head == "recurrent":
        fwd += 2 * SEQ_LEN * (u + 1) * g
    elif head == "softmax":
        fwd += 2 * SEQ_LEN * u * out
    else:
        fwd += 2 * u * out
    return 3.0 * fwd


def peak_shape(model):
    """The model's largest product: (N·T) x (m+u) · (m+u) x G·u."""
    m, u, g, _ = shapes(model)
    return MODELS[model][3] * SEQ_LEN, m + u, g * u


# ------------------------------------------------------------------------------ rnnlab
def build_rnnlab(model):
    import rnnlab
    from rnnlab.layers import recurrent
    from rnnlab.layers.core import Dense
    from rnnlab.layers.embedding import Embedding
    from rnnlab.optimizers import Adam
    cell, emb, units, _, head = MODELS[model]
    X = getattr(recurrent, cell)
    if head == "recurrent":
        layers = [Embedding(VOCAB, emb), X(units, return_sequences=True),
                  X(1, activation="sigmoid")]
    elif head == "softmax":
        layers = [Embedding(CHARS, emb), X(units, return_sequences=True),
                  Dense(CHARS, activation="softmax")]
    else:
        layers = [Embedding(VOCAB, emb), X(units), Dense(1, activation="sigmoid")]
    m = rnnlab.Sequential(layers)
    m.compile(optimizer=Adam(), loss="sparse_categorical_crossentropy" if head == "softmax"
              else "binary_crossentropy")
    return m


def rnnlab_epoch_fn(model, kernels, x, y):
    from rnnlab import config
    config.set_kernels(kernels)
    config.set_random_seed(0)
    m = build_rnnlab(model)
    batch = MODELS[model][3]
    return lambda: m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)


# ------------------------------------------------------------------------------ PyTorch
def torch_epoch_fn(model, x, y):
    import torch
    from torch import nn
    torch.set_num_threads(2)
    torch.manual_seed(0)
    cell, emb, units, batch, head = MODELS[model]
    Rnn = {"LSTM": nn.LSTM, "SimpleRNN": nn.RNN, "GRU": nn.GRU}[cell]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(CHARS if head == "softmax" else VOCAB, emb)
            self.r1 = Rnn(emb, units, batch_first=True)
            self.r2 = Rnn(units, 1, batch_first=True) if head == "recurrent" else None
            self.dense = nn.Linear(units, 1) if head == "dense" else None
            self.logits = nn.Linear(units, CHARS) if head == "softmax" else None

        def forward(self, xb):
            h, _ = self.r1(self.emb(xb))
            if self.logits is not None:
                return self.logits(h).reshape(-1, CHARS)
            if self.r2 is not None:
                h, _ = self.r2(h)
                return torch.sigmoid(h[:, -1])
            return torch.sigmoid(self.dense(h[:, -1]))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss() if head == "softmax" else nn.BCELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if head == "softmax":
        yt = yt.reshape(yt.shape[0], -1)
    n = xt.shape[0]

    def epoch():
        order = torch.randperm(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            opt.zero_grad()
            target = yt[idx].reshape(-1) if head == "softmax" else yt[idx]
            loss = loss_fn(net(xt[idx]), target)
            loss.backward()
            opt.step()
    return epoch


# ------------------------------------------------------------------------------ Keras
def keras_epoch_fn(model, x, y):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:                                   # pin TensorFlow to 2 threads, like PyTorch
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(2)
    except ImportError:                    # another Keras backend
        pass
    import keras
    from keras import layers
    cell, emb, units, batch, head = MODELS[model]
    X = getattr(layers, cell)
    if head == "recurrent":
        stack = [layers.Embedding(VOCAB, emb), X(units, return_sequences=True),
                 X(1, activation="sigmoid")]
    elif head == "softmax":
        stack = [layers.Embedding(CHARS, emb), X(units, return_sequences=True),
                 layers.Dense(CHARS, activation="softmax")]
    else:
        stack = [layers.Embedding(VOCAB, emb), X(units), layers.Dense(1, activation="sigmoid")]
    m = keras.Sequential(stack)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy" if head == "softmax"
              else "binary_crossentropy")
    return lambda: m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)


def keras_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("keras") is not None


# ------------------------------------------------------------------------------ worker
def worker(framework, model, samples, repeats):
    """Run in a subprocess: warm-up, timed epochs, peak memory; print one JSON line."""
    import resource
    x, y = make_data(samples, model)
    if framework.startswith("rnnlab"):
        epoch = rnnlab_epoch_fn(model, framework.split("-")[1], x, y)
    elif framework == "torch":
        epoch = torch_epoch_fn(model, x, y)
    else:
        epoch = keras_epoch_fn(model, x, y)
    t0 = time.perf_counter()
    epoch()                                    # warm-up, excluded
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    res = {"times": times, "warmup": warm,
           "samples_per_s": samples / statistics.median(times),
           "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if framework.startswith("rnnlab"):
        import tracemalloc
        tracemalloc.start()
        epoch()
        res["numpy_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    report(res)


def compile_worker(model):
    """Time the first and the second training step of a fresh process (fast kernels)."""
    x, y = make_data(MODELS[model][3] * 2, model)
    t0 = time.perf_counter()
    from rnnlab import config
    config.set_kernels("fast")
    config.set_random_seed(0)
    m = build_rnnlab(model)
    from rnnlab.kernels.ops import get_ops
    get_ops("fast")   # loads the compiled kernels: import time counted in the build
    build = time.perf_counter() - t0
    b = MODELS[model][3]
    steps = []
    for i in range(2):
        t0 = time.perf_counter()
        m.fit(x[i * b:(i + 1) * b], y[i * b:(i + 1) * b], batch_size=b, epochs=1, verbose=0)
        steps.append(time.perf_counter() - t0)
    report({"import_build": build, "first_step": steps[0],
                                  "second_step": steps[1]})


def combine(results):
    """One framework's subprocess results over rounds: median samples/s, largest peak RSS."""
    first = results[0]
    out = {"samples_per_s": statistics.median(r["samples_per_s"] for r in results),
           "rounds": [r["samples_per_s"] for r in results], "times": first["times"],
           "warmup": first["warmup"], "maxrss_mb": max(r["maxrss_mb"] for r in results)}
    if "numpy_peak_mb" in first:
        out["numpy_peak_mb"] = max(r["numpy_peak_mb"] for r in results)
    return out




# ------------------------------------------------------------------------------ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="600 samples, 3 repeats (for iterating; not the reported numbers)")
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--samples", type=int, default=None, help="samples per epoch (default 3000)")
    ap.add_argument("--repeats", type=int, default=None, help="timed epochs (default 5)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="fresh subprocesses per framework and model, alternating frameworks; "
                         "samples/s is the median over rounds (default 3, --quick 1)")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip rnnlab's plain-NumPy reference kernels")
    ap.add_argument("--no-compile-check", action="store_true",
                    help="skip the compile-time / on-disk cache measurement")
    ap.add_argument("--keras-python", default=None,
                    help="a Python with keras (and its backend) installed, for the Keras runs "
                         "(default: this one if it can import keras); e.g. a venv with "
                         "tensorflow-cpu and keras, whose NumPy may differ from this one's")
    ap.add_argument("--no-keras", action="store_true", help="skip the Keras peer")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--compile-worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    samples = a.samples or (600 if a.quick else 3000)
    repeats = a.repeats or (3 if a.quick else 5)
    rounds = a.rounds or (1 if a.quick else 3)
    if a.worker:
        return worker(a.worker[0], a.worker[1], samples, repeats)
    if a.compile_worker:
        return compile_worker(a.compile_worker)
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")

    import numpy as np
    import torch
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__} "
          f"(2 threads), cores {os.cpu_count()}")
    print(f"BLAS: {blas_kernels()}")
    peaks = {}
    for model in models:
        shape = peak_shape(model)
        if shape not in peaks:
            peaks[shape] = sgemm_gflops(*shape)
            print(f"SGEMM ({shape[0]}x{shape[1]})·({shape[1]}x{shape[2]}) float32: "
                  f"{peaks[shape]:.0f} GFLOP/s")
    print(f"{samples} samples of {SEQ_LEN} steps, warm-up epoch excluded, median of {repeats} "
          f"epochs per subprocess; {rounds} round(s) of subprocesses alternating the frameworks "
          f"(the reference kernels: one), samples/s = median over rounds; peak RSS = the "
          f"largest of a (framework, model)'s subprocesses")
    frameworks = ["rnnlab-fast"] + ([] if a.no_reference else ["rnnlab-reference"]) + ["torch"]
    keras_python = None if a.no_keras else (
        a.keras_python or (sys.executable if keras_available() else None))
    has_keras = keras_python is not None
    if has_keras:
        frameworks.append("keras")
    rows = []
    for model in models:
        runs = {fw: [] for fw in frameworks}
        for rnd in range(rounds):
            for fw in frameworks:
                if fw == "rnnlab-reference" and rnd:
                    continue                      # slow and not a target: one round
                args = ["--worker", fw, model, "--samples", str(samples), "--repeats",
                        str(repeats)]
                runs[fw].append(run_worker(__file__, args,
                                           python=keras_python if fw == "keras" else None))
        res = {fw: combine(rs) for fw, rs in runs.items()}
        rows.append((model, res))
        peer = res["torch"]["samples_per_s"]
        peak = peaks[peak_shape(model)]
        print(f"\n== {model}: batch {MODELS[model][3]}, {train_flops(model) / 1e6:.2f} MFLOP per "
              f"training sample, SGEMM peak at its shape {peak:.0f} GFLOP/s")
        for fw in frameworks:
            r = res[fw]
            extra = (f", numpy peak {r['numpy_peak_mb']:.1f} MB (tracemalloc)"
                     if "numpy_peak_mb" in r else "")
            print(f"  {fw:17s} {r['samples_per_s']:9.0f} samples/s  "
                  f"(x{r['samples_per_s'] / peer:5.2f}"
                  f" vs torch)  rounds {', '.join(f'{v:.0f}' for v in r['rounds'])}; epochs of "
                  f"round 1 {', '.join(f'{t:.3f}' for t in r['times'])} s, warm-up "
                  f"{r['warmup']:.2f} s; peak RSS {r['maxrss_mb']:.0f} MB{extra}; "
                  f"{r['samples_per_s'] * train_flops(model) / 1e9:.1f} GFLOP/s = "
                  f"{r['samples_per_s'] * train_flops(model) / 1e9 / peak:.0%} of SGEMM peak")
        if not has_keras:
            print("  keras             not installed")
    print("\n== summary (rnnlab fast / torch; target)")
    for model, res in rows:
        ratio = res["rnnlab-fast"]["samples_per_s"] / res["torch"]["samples_per_s"]
        tgt = TARGET_RATIO[model]
        print(f"  {model:10s} {ratio:5.2f}  (target >= {tgt:.1f}: "
              f"{'met' if ratio >= tgt else 'NOT met'})")
    if has_keras:
        print("\n== summary (rnnlab fast / keras; target >= 10 for the three small models)")
        for model, res in rows:
            ratio = res["rnnlab-fast"]["samples_per_s"] / res["keras"]["samples_per_s"]
            tgt = KERAS_TARGET_RATIO.get(model)
            verdict = "no target" if tgt is None else ("met" if ratio >= tgt else "NOT met")
            print(f"  {model:10s} {ratio:5.2f}  ({verdict})")

    if not a.no_compile_check:
        print("\n== first-call compile time (fresh NUMBA_CACHE_DIR shared by two processes)")
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            for model in models:
                first = run_worker(__file__, ["--compile-worker", model], env=env)
                second = run_worker(__file__, ["--compile-worker", model], env=env)
                print(f"  {model:10s} process 1: first step {first['first_step']:.2f} s, second "
                      f"{first['second_step']:.3f} s | process 2 (cache): first step "
                      f"{second['first_step']:.2f} s, second {second['second_step']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
