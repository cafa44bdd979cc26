"""A character-level RNN language model from scratch, in plain NumPy (after Karpathy's
``min-char-rnn.py``): one-hot characters in, a tanh hidden layer fed back, softmax over the next
character, backpropagation through time written out by hand, and Adagrad.

With one-hot inputs x_t (V,), hidden state h_t (H,) and weights Wxh (H, V), Whh (H, H),
Why (V, H), bh (H,), by (V,)::

    h_0 = hprev
    h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh)
    y_t = Why·h_t + by
    p_t = softmax(y_t)
    L   = -Σ_t ln p_t[c_t]                  (c_t the character after x_t; a sum, not a mean)

BPTT, from the last step back (dh_next = 0 after the last step)::

    dy_t    = p_t - onehot(c_t)             (softmax and cross-entropy together)
    dWhy   += dy_t·h_tᵀ        dby += dy_t
    dh_t    = Whyᵀ·dy_t + dh_next
    draw_t  = (1 - h_t²) ⊙ dh_t             (tanh' = 1 - tanh²)
    dWxh   += draw_t·x_tᵀ      dWhh += draw_t·h_{t-1}ᵀ      dbh += draw_t
    dh_next = Whhᵀ·draw_t

Adagrad, per weight: m += g²;  w -= η·g / √(m + 1e-8); the training loop clips every gradient
to [-5, 5] first, as min-char-rnn does, against exploding gradients.

The same network is ``Input((None, V)) → SimpleRNN(H, return_sequences=True) → Dense(V,
softmax)`` in rnnlab with kernel = Wxhᵀ, recurrent_kernel = Whhᵀ, bias = bh, and the Dense
kernel = Whyᵀ, bias = by; rnnlab's loss is this L divided by the number of steps (a mean).
"""
from __future__ import annotations

import numpy as np

__all__ = ["init_params", "loss_and_gradients", "adagrad_update", "sample", "train",
           "to_keras_weights"]

NAMES = ("Wxh", "Whh", "Why", "bh", "by")


def init_params(vocab_size: int, hidden_size: int, seed: int = 0) -> dict:
    """min-char-rnn's start: small Gaussian weights (σ = 0.01), zero biases."""
    for name, v in (("vocab_size", vocab_size), ("hidden_size", hidden_size)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    rng = np.random.default_rng(seed)
    return {"Wxh": rng.standard_normal((hidden_size, vocab_size)) * 0.01,
            "Whh": rng.standard_normal((hidden_size, hidden_size)) * 0.01,
            "Why": rng.standard_normal((vocab_size, hidden_size)) * 0.01,
            "bh": np.zeros(hidden_size), "by": np.zeros(vocab_size)}


def loss_and_gradients(inputs, targets, hprev, params):
    """Forward and BPTT over one chunk: ``(loss, grads by weight name, h_T)``.

    ``inputs`` and ``targets`` are lists of character ids of the same length (targets[t] follows
    inputs[t]); ``hprev`` the hidden state before the chunk (zeros to start)."""
    Wxh, Whh, Why, bh, by = (params[k] for k in NAMES)
    if len(inputs) != len(targets) or len(inputs) == 0:
        raise ValueError(f"inputs and targets must be non-empty and of one length, got "
                         f"{len(inputs)} and {len(targets)}")
    V = Wxh.shape[1]
    xs, hs, ps = {}, {-1: np.array(hprev, dtype=np.float64)}, {}
    loss = 0.0
    # forward pass
    for t in range(len(inputs)):
        xs[t] = np.zeros(V)
        xs[t][inputs[t]] = 1.0
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        e = np.exp(y - y.max())
        ps[t] = e / e.sum()
        loss += -np.log(ps[t][targets[t]])
    # backward pass: backpropagation through time
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1.0
        dWhy += np.outer(dy, hs[t])
        dby += dy
        dh = Why.T @ dy + dh_next
        draw = (1.0 - hs[t] * hs[t]) * dh
        dbh += draw
        dWxh += np.outer(draw, xs[t])
        dWhh += np.outer(draw, hs[t - 1])
        dh_next = Whh.T @ draw
    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
    return float(loss), grads, hs[len(inputs) - 1]


def adagrad_update(params, grads, memory, learning_rate: float = 0.1, clip: float = 5.0):
    """One Adagrad step in place (gradients clipped to [-clip, clip] first)."""
    for k in NAMES:
        g = np.clip(grads[k], -clip, clip)
        memory[k] += g * g
        params[k] -= learning_rate * g / np.sqrt(memory[k] + 1e-8)


def sample(params, h, seed_id: int, n: int, rng) -> list[int]:
    """``n`` character ids drawn one after another, starting from ``seed_id`` and state ``h``."""
    Wxh, Whh, Why, bh, by = (params[k] for k in NAMES)
    x = np.zeros(Wxh.shape[1])
    x[seed_id] = 1.0
    out = []
    for _ in range(n):
        h = np.tanh(Wxh @ x + Whh @ h + bh)
        y = Why @ h + by
        p = np.exp(y - y.max())
        p /= p.sum()
        ix = int(rng.choice(len(p), p=p))
        x = np.zeros_like(x)
        x[ix] = 1.0
        out.append(ix)
    return out


def train(text: str, hidden_size: int = 100, seq_length: int = 25, learning_rate: float = 0.1,
          iterations: int = 1000, seed: int = 0):
    """min-char-rnn's loop: slide over ``text`` in chunks of ``seq_length``, carrying the hidden
    state from chunk to chunk (reset at the start of the text), one Adagrad step per chunk.
    Returns ``(params, chars, smooth_losses)``: the ids are the sorted distinct characters, and
    the smoothed loss (0.999·old + 0.001·new, from the uniform ``-ln(1/V)·seq_length``) per step.
    """
    chars = sorted(set(text))
    if len(chars) < 2 or len(text) < seq_length + 1:
        raise ValueError(f"train needs text with at least two distinct characters and "
                         f"seq_length + 1 = {seq_length + 1} characters, got {len(text)}")
    index = {c: i for i, c in enumerate(chars)}
    data = [index[c] for c in text]
    V = len(chars)
    params = init_params(V, hidden_size, seed)
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    smooth = -np.log(1.0 / V) * seq_length
    losses = []
    p, h = 0, np.zeros(hidden_size)
    for _ in range(iterations):
        if p + seq_length + 1 > len(data):
            p, h = 0, np.zeros(hidden_size)
        inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        loss, grads, h = loss_and_gradients(inputs, targets, h, params)
        adagrad_update(params, grads, memory, learning_rate)
        smooth = smooth * 0.999 + loss * 0.001
        losses.append(smooth)
        p += seq_length
    return params, chars, losses


def to_keras_weights(params) -> list[np.ndarray]:
    """The weights of ``SimpleRNN(H) → Dense(V)`` in Keras order: [kernel, recurrent_kernel,
    bias] of the SimpleRNN, then [kernel, bias] of the Dense."""
    return [params["Wxh"].T, params["Whh"].T, params["bh"], params["Why"].T, params["by"]]
