"""Keras ↔ torch.nn.RNN / LSTM / GRU parameter layouts, shared by the PyTorch parity tests.

Keras's kernel (m, k·u) is torch's weight_ih (k·u, m) transposed; Keras's single bias goes to
bias_ih with bias_hh = 0 (SimpleRNN, LSTM); the GRU's (2, 3u) bias rows are bias_ih and bias_hh.
Gate orders: LSTM i, f, c, o is torch's i, f, g, o; GRU z, r, h is torch's r, z, n reordered.
"""
from __future__ import annotations

import numpy as np
import torch

NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def gru_perm(u):
    """Columns taking Keras's [z r h] blocks to torch's [r z n] blocks (argsort goes back)."""
    return np.concatenate([np.arange(u, 2 * u), np.arange(0, u), np.arange(2 * u, 3 * u)])


def load_torch_rnn(mod, params, cell, suffix=""):
    """Copy a Keras cell's kernel, recurrent_kernel and bias into ``mod``'s ``suffix`` direction
    ("" or "_reverse"); ``cell`` is "rnn", "lstm" or "gru"."""
    W, U, b = params["kernel"], params["recurrent_kernel"], params["bias"]
    if cell == "gru":
        p = gru_perm(U.shape[0])
        vals = (W[:, p].T, U[:, p].T, b[0, p], b[1, p])
    else:
        vals = (W.T, U.T, b, np.zeros_like(b))
    with torch.no_grad():
        for name, v in zip(NAMES, vals):
            getattr(mod, name + suffix).copy_(torch.from_numpy(np.ascontiguousarray(v)))


def torch_rnn_grads(mod, cell, u, suffix=""):
    """torch's parameter gradients of one direction in Keras's layouts: kernel,
    recurrent_kernel, bias (for SimpleRNN/LSTM, bias_ih's: bias_hh's is the same)."""
    g = {n: getattr(mod, n + suffix).grad.numpy() for n in NAMES}
    if cell == "gru":
        inv = np.argsort(gru_perm(u))
        return {"kernel": g["weight_ih_l0"].T[:, inv],
                "recurrent_kernel": g["weight_hh_l0"].T[:, inv],
                "bias": np.stack([g["bias_ih_l0"][inv], g["bias_hh_l0"][inv]])}
    return {"kernel": g["weight_ih_l0"].T, "recurrent_kernel": g["weight_hh_l0"].T,
            "bias": g["bias_ih_l0"]}
