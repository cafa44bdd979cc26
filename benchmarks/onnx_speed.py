"""Inference speed of an exported model in ONNX Runtime next to rnnlab's ``predict`` and PyTorch
(the same weights), at batch 1 and 256 over 100-step token sequences.

    PYTHONPATH=src python benchmarks/onnx_speed.py

Models: the lecture's text LSTM (Embedding(10001, 50) -> LSTM(10) -> LSTM(1)) and
Embedding(10001, 128) -> LSTM(128) -> Dense(1).  Prints the median milliseconds per call and the
largest difference of each engine's output from rnnlab's.
"""
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import rnnlab
from rnnlab import layers as L
from rnnlab.lecture import text as lecture_text

T, VOCAB = 100, 10001


def _torch_lstm(layer):
    """torch.nn.LSTM with the Keras layer's weights (gates i, f, c, o in both; one bias)."""
    k, r, b = (np.asarray(layer.params[n]) for n in ("kernel", "recurrent_kernel", "bias"))
    lstm = torch.nn.LSTM(k.shape[0], r.shape[0], batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(k.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(r.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
    return lstm


def _torch_model(model):
    emb = torch.from_numpy(np.asarray(model.layers[0].params["embeddings"]))
    rest = model.layers[1:]

    def run(x):
        with torch.no_grad():
            h = emb[torch.from_numpy(x).long()]
            for layer in rest:
                if type(layer).__name__ == "LSTM":
                    lstm = layer._torch
                    seq, (last, _) = lstm(h)
                    h = seq if layer.return_sequences else last[0]
                else:
                    h = h @ torch.from_numpy(np.asarray(layer.params["kernel"])) + \
                        torch.from_numpy(np.asarray(layer.params["bias"]))
                    h = torch.sigmoid(h) if layer.activation.name == "sigmoid" else h
            return h.numpy()
    for layer in rest:
        if type(layer).__name__ == "LSTM":
            layer._torch = _torch_lstm(layer)
    return run


def _ms(fn, x, repeat):
    fn(x)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def bench(name, model, torch_ok=True):
    model.build((None, T))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32")
                       for w in model.get_weights()])
    path = Path(tempfile.mkdtemp()) / "m.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    torch_run = _torch_model(model) if torch_ok else None
    for batch, repeat in ((1, 50), (256, 5)):
        x = rng.integers(1, VOCAB, size=(batch, T)).astype("int32")
        ref = model.predict(x, batch_size=batch, verbose=0)
        ort_run = lambda x: session.run(None, {"input": x})[0]  # noqa: E731
        row = {"rnnlab": _ms(lambda x: model.predict(x, batch_size=batch, verbose=0), x, repeat),
               "onnxruntime": _ms(ort_run, x, repeat)}
        diff = {"onnxruntime": float(np.abs(ort_run(x) - ref).max())}
        if torch_run is not None:
            row["torch"] = _ms(torch_run, x, repeat)
            diff["torch"] = float(np.abs(torch_run(x) - ref).max())
        print(f"{name:40s} batch {batch:3d}: " + ", ".join(f"{k} {v:8.2f} ms" for k, v in
                                                          row.items())
              + "  | max diff vs rnnlab: " + ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))


if __name__ == "__main__":
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, torch threads "
          f"{torch.get_num_threads()}")
    bench("lecture LSTM (Emb 50 -> LSTM 10 -> LSTM 1)",
          lecture_text.build_model("lstm", max_features=VOCAB - 1),
          torch_ok=False)    # its LSTM(1, activation="sigmoid") has no torch.nn.LSTM form
    bench("Emb(10001,128) -> LSTM(128) -> Dense(1)",
          rnnlab.Sequential([L.Embedding(VOCAB, 128), L.LSTM(128), L.Dense(1)]))
