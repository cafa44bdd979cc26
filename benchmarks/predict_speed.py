"""Inference speed: rnnlab's ``predict`` and ``model(x)`` against PyTorch (``inference_mode``) and
ONNX Runtime running the model rnnlab exports, with the same weights, over 100-step token
sequences.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/predict_speed.py [--rounds 3]

Models: the lecture's text LSTM, Embedding(10001, 50) -> LSTM(10, return_sequences) ->
LSTM(1, sigmoid) (PyTorch's LSTM has no ``activation=``: its last LSTM keeps tanh and a sigmoid
is applied to its output, the same work), and Embedding(10001, 128) -> LSTM(128) -> Dense(1).

Two regimes, in samples/s: ``batch 1``, one call per sequence over 300 sequences (the latency a
serving user sees: every call's fixed cost counts), and ``batch 256``, one call on 256 sequences
(median of several calls).  Every (engine, model) runs in its own subprocess, ``--rounds`` times
with the engines alternating; each number is the median over rounds.  The largest difference of
each engine's outputs from rnnlab's ``predict`` is printed as a check that all run the same model.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe
from workers import report, run_worker

T, VOCAB, SINGLE, BIG = 100, 10001, 300, 256
ENGINES = ("rnnlab-predict", "rnnlab-call", "torch", "onnxruntime")
MODELS = ("lecture-lstm", "lstm128")


def build(model):
    import rnnlab
    from rnnlab import layers as L
    from rnnlab.lecture import text as lecture_text
    if model == "lecture-lstm":
        m = lecture_text.build_model("lstm", max_features=VOCAB - 1)
    else:
        m = rnnlab.Sequential([L.Embedding(VOCAB, 128), L.LSTM(128), L.Dense(1)])
    m.build((None, T))
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in m.get_weights()])
    return m


def prepare(workdir: Path):
    """Each model's weights (.npz), its ONNX file, the inputs and rnnlab's outputs on them."""
    rng = np.random.default_rng(1)
    x = rng.integers(1, VOCAB, size=(max(SINGLE, BIG), T)).astype("int32")
    np.save(workdir / "x.npy", x)
    for model in MODELS:
        m = build(model)
        np.savez(workdir / f"{model}.npz", *m.get_weights())
        m.export(workdir / f"{model}.onnx", format="onnx")
        np.save(workdir / f"{model}.ref.npy", m.predict(x, batch_size=BIG, verbose=0))


def torch_runner(model, weights):
    import torch
    torch.set_num_threads(2)
    w = [torch.from_numpy(a) for a in weights]
    emb = w[0]

    def lstm(k, r, b):
        layer = torch.nn.LSTM(k.shape[0], r.shape[0], batch_first=True)
        with torch.no_grad():
            layer.weight_ih_l0.copy_(k.T)
            layer.weight_hh_l0.copy_(r.T)
            layer.bias_ih_l0.copy_(b)
            layer.bias_hh_l0.zero_()
        return layer

    if model == "lecture-lstm":
        l1, l2 = lstm(*w[1:4]), lstm(*w[4:7])

        def run(x):
            with torch.inference_mode():
                h, _ = l1(emb[torch.from_numpy(x).long()])
                h, _ = l2(h)
                return torch.sigmoid(h[:, -1]).numpy()
    else:
        l1 = lstm(*w[1:4])
        dk, db = w[4], w[5]

        def run(x):
            with torch.inference_mode():
                h, _ = l1(emb[torch.from_numpy(x).long()])
                return (h[:, -1] @ dk + db).numpy()
    return run


def runner(engine, model, workdir: Path):
    weights = list(np.load(workdir / f"{model}.npz").values())
    if engine.startswith("rnnlab"):
        m = build(model)
        m.set_weights(weights)
        if engine == "rnnlab-call":
            return m
        return lambda x: m.predict(x, batch_size=len(x), verbose=0)
    if engine == "torch":
        return torch_runner(model, weights)
    import onnxruntime as ort
    session = ort.InferenceSession(str(workdir / f"{model}.onnx"),
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def worker(engine, model, workdir: Path):
    x = np.load(workdir / "x.npy")
    ref = np.load(workdir / f"{model}.ref.npy")
    run = runner(engine, model, workdir)
    out = np.asarray(run(x[:BIG]))
    diff = float(np.abs(out.reshape(ref[:BIG].shape) - ref[:BIG]).max())
    for i in range(20):                          # warm-up of the single-sequence path
        run(x[i:i + 1])
    t0 = time.perf_counter()
    for i in range(SINGLE):
        run(x[i:i + 1])
    single = SINGLE / (time.perf_counter() - t0)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        run(x[:BIG])
        times.append(time.perf_counter() - t0)
    report({"single": single, "big": BIG / statistics.median(times),
                                  "diff": diff})




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a.worker[0], a.worker[1], Path(a.worker[2]))
    models = [m for m in a.models.split(",") if m]
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        prepare(workdir)
        for model in models:
            runs = {e: [] for e in ENGINES}
            for _ in range(a.rounds):
                for engine in ENGINES:
                    runs[engine].append(run_worker(__file__, ["--worker", engine, model,
                                                              str(workdir)]))
            med = {e: {k: statistics.median(r[k] for r in rs) for k in ("single", "big")}
                   for e, rs in runs.items()}
            print(f"\n== {model} (samples/s, median of {a.rounds} rounds; ratio to PyTorch)")
            for e in ENGINES:
                row = "  ".join(
                    f"batch {1 if k == 'single' else BIG}: {med[e][k]:8.0f} "
                    f"(x{med[e][k] / med['torch'][k]:4.2f}; rounds "
                    f"{', '.join(f'{r[k]:.0f}' for r in runs[e])})" for k in ("single", "big"))
                diff = max(r["diff"] for r in runs[e])
                same = not (e == "torch" and model == "lecture-lstm")
                print(f"  {e:15s} {row}  max diff "
                      + (f"{diff:.1e}" if same else "n/a (tanh LSTM(1) + sigmoid by design)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
