"""Where a training step's time goes, and what bounds it (the fast kernels).

For each model of ``train_throughput.py`` this trains with the real ``fit`` loop and times, per
batch (``time.perf_counter``, medians over ``--epochs`` epochs of 3,000 samples after a warm-up):

* every layer's forward and backward call (wrapping ``layer.forward`` and the closure it returns),
  the loss and the optimizer update; "rest" is what is left of the step (batch slicing,
  bookkeeping, callbacks, the functional graph's dispatch);

and, to show what bounds those phases, the same work in isolation:

* **BLAS**: the recurrent layers' three whole-sequence matrix products (``X·W``, ``dZ·Wᵀ`` and
  ``[X, H₋₁]ᵀ·dZ``) at their training shapes, on one BLAS thread, and (small units) split in row
  blocks over Numba's threads as in training (see ``rnnlab.runtime.compute_scope`` and
  ``rnnlab.kernels.compiled.blas``);
* **Adam on the embedding**: one fused pass over its 4 arrays of ``V × D`` floats (memory-bound),
  with the bandwidth it reaches;
* **fixed cost per step**: the same model with a vocabulary of 11, one sample of one time step,
  i.e. the step's Python and dispatch overhead, which does not shrink with the data.

    python benchmarks/profile_step.py [--models lstm,simplernn,gru,lstm128] [--epochs 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_throughput as tt  # noqa: E402

PC = time.perf_counter


def _instrument(model, log):
    """Wrap every layer's forward (and the backward closure it returns), the loss and the
    optimizer so that each call appends its seconds to ``log[name]``."""
    for layer in model._unique_layers():
        fwd = layer.forward
        units = getattr(layer, "units", None)
        label = type(layer).__name__ + (f"({units})" if units is not None else "")

        def timed_forward(x, training=False, mask=None, _f=fwd, _n=label):
            t = PC()
            out, back = _f(x, training=training, mask=mask)
            log[f"{_n} forward"].append(PC() - t)

            def timed_backward(d, _b=back):
                t0 = PC()
                r = _b(d)
                log[f"{_n} backward"].append(PC() - t0)
                return r
            return out, timed_backward
        layer.forward = timed_forward
    for obj, attr, name in ((model, "_losses_and_grads", "loss"),
                            (model.optimizer, "apply", "optimizer (Adam)")):
        fn = getattr(obj, attr)

        def timed(*a, _f=fn, _n=name, **k):
            t = PC()
            r = _f(*a, **k)
            log[_n].append(PC() - t)
            return r
        setattr(obj, attr, timed)


def phases(name, epochs):
    """(rows, step_ms): per-phase median ms per step inside fit, and the median step time."""
    from rnnlab import config
    config.set_kernels("fast")
    config.set_random_seed(0)
    model = tt.build_rnnlab(name)
    batch = tt.MODELS[name][3]
    x, y = tt.make_data(3000, name)
    model.fit(x[:600], y[:600], batch_size=batch, epochs=1, verbose=0)     # compile, warm up
    log = defaultdict(list)
    _instrument(model, log)
    steps = -(-len(x) // batch)
    epoch_s = []
    for _ in range(epochs):
        t = PC()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        epoch_s.append(PC() - t)
    step_ms = statistics.median(epoch_s) / steps * 1e3
    rows = [(k, statistics.median(v) * 1e3) for k, v in log.items()]
    rows.append(("rest of the step", step_ms - sum(ms for _, ms in rows)))
    return rows, step_ms


def _median_ms(fn, reps=200):
    fn()
    ts = []
    for _ in range(reps):
        t = PC()
        fn()
        ts.append(PC() - t)
    return statistics.median(ts) * 1e3


def bounds(name):
    """The step's floors measured in isolation, as (what, ms) rows."""
    from threadpoolctl import threadpool_limits

    from rnnlab import config
    from rnnlab.kernels.ops import get_ops
    from rnnlab.kernels.reference.optimizers import AdamStep
    cell, emb, units, batch, head = tt.MODELS[name]
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cell]
    r = np.random.default_rng(0)
    f = np.float32
    rows = []
    layers = [(emb, units)] + ([(units, 1)] if head == "recurrent" else [])
    blas = 0.0
    config.set_kernels("fast")
    from rnnlab.runtime import compute_scope
    matmul = get_ops().matmul
    for m, u in layers:
        n = batch * tt.SEQ_LEN
        x = r.standard_normal((n, m)).astype(f)
        xh = r.standard_normal((n, m + u)).astype(f)
        w = r.standard_normal((m, gates * u)).astype(f)
        dz = r.standard_normal((n, gates * u)).astype(f)
        what = f"BLAS products of a {cell}({u}) on ({batch}, {tt.SEQ_LEN}, {m})"
        with threadpool_limits(limits=1 if units < 64 else None, user_api="blas"):
            ms = (_median_ms(lambda: x @ w) + _median_ms(lambda: dz @ w.T)
                  + _median_ms(lambda: xh.T @ dz))
        rows.append((what + (", one BLAS thread" if units < 64 else ""), ms))
        if units < 64:      # as in training: row blocks over Numba's threads
            with compute_scope(units):
                ms = (_median_ms(lambda: matmul(x, w)) + _median_ms(lambda: matmul(dz, w.T))
                      + _median_ms(lambda: matmul(xh.T, dz)))
            rows.append((what + ", split over Numba's threads", ms))
        blas += ms
    from rnnlab.layers import recurrent
    X = getattr(recurrent, cell)
    with compute_scope(units):
        for m, u in layers:
            layer = X(u, return_sequences=True, **({} if u == units else {"activation": "sigmoid"}))
            layer.build((None, tt.SEQ_LEN, m))
            x = r.standard_normal((batch, tt.SEQ_LEN, m)).astype(f)
            d = r.standard_normal((batch, tt.SEQ_LEN, u)).astype(f)

            def fwd_bwd(layer=layer, x=x, d=d):
                layer.forward(x, training=True)[1](d)
            rows.append((f"{cell}({u}) forward + backward, alone (BLAS + compiled loops)",
                         _median_ms(fwd_bwd)))
    size = tt.VOCAB * emb
    p, g, mm, v = (r.standard_normal(size).astype(f) * 0.01 for _ in range(4))
    v = np.abs(v)
    step = AdamStep(np.float64(1e-3), 0.9, 0.999, 1e-7)
    ms = _median_ms(lambda: get_ops().adam_update(p, g, (mm, v), step, zero_grad=True))
    gbs = size * 4 * 7 / (ms * 1e-3) / 1e9          # read p, g, m, v; write p, g, m, v (g: zeros)
    rows.append((f"Adam over the embedding ({size:,} floats, {gbs:.1f} GB/s)", ms))
    rows.append(("fixed cost of a step (vocabulary 11, 1 sample, 1 time step)", fixed_cost(name)))
    return rows, blas


def fixed_cost(name, n=1500):
    import rnnlab
    from rnnlab.layers import recurrent
    from rnnlab.layers.core import Dense
    from rnnlab.layers.embedding import Embedding
    from rnnlab.optimizers import Adam
    cell, emb, units, _, head = tt.MODELS[name]
    X = getattr(recurrent, cell)
    tail = (X(1, activation="sigmoid") if head == "recurrent"
            else Dense(1, activation="sigmoid"))
    model = rnnlab.Sequential([Embedding(11, emb), X(units, return_sequences=head == "recurrent"),
                               tail])
    model.compile(optimizer=Adam(), loss="binary_crossentropy")
    r = np.random.default_rng(0)
    x = r.integers(1, 11, size=(n, 1))
    y = r.integers(0, 2, size=(n, 1)).astype(np.float32)
    model.fit(x[:100], y[:100], batch_size=1, epochs=1, verbose=0)
    t = PC()
    model.fit(x, y, batch_size=1, epochs=1, verbose=0)
    return (PC() - t) / n * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="lstm,simplernn,gru,lstm128")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    for name in args.models.split(","):
        rows, step_ms = phases(name, args.epochs)
        batch = tt.MODELS[name][3]
        print(f"\n## {name}: {step_ms:.2f} ms per step of {batch} samples "
              f"({batch / step_ms * 1e3:,.0f} samples/s)")
        print("| phase (inside fit) | ms/step | share |\n| --- | --- | --- |")
        for what, ms in rows:
            print(f"| {what} | {ms:.3f} | {ms / step_ms:.0%} |")
        floor_rows, _ = bounds(name)
        print("\n| the same work in isolation | ms |\n| --- | --- |")
        for what, ms in floor_rows:
            print(f"| {what} | {ms:.3f} |")


if __name__ == "__main__":
    main()
