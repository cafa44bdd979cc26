"""A character-level LSTM(256) language model on ~10 MB of review text: rnnlab against PyTorch.

Both frameworks train the same network (Embedding(V, 32) → LSTM(256) → Dense(V) softmax, V the
characters seen at least 5 times in the training text plus one out-of-vocabulary symbol) from
the same initial weights (rnnlab's, copied into PyTorch: Keras's and PyTorch's LSTM gate orders
are both i, f, g/c, o), on the same non-overlapping windows of 100 characters in the same
shuffled order, batch 64, Adam(learning rate 0.002), for the same number of epochs.  Reported:
training samples (windows) per second of each, and held-out bits per character of each next to
the unigram and bigram baselines (add-one), all on the same held-out characters: the last 5%
of the text cut into 16 contiguous pieces, each read from a fresh state (its first character is
context only).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/char_lm.py \
        [--megabytes 10] [--epochs 1] [--units 256]
"""
from __future__ import annotations

import argparse
import gzip
import math
import os
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info

from rnnlab import config
from rnnlab.generation import BigramModel, CharVocabulary, UnigramModel, sequence_windows
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.lecture.language import OOV
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam

SEQ, BATCH, EMBED, LR, PIECES = 100, 64, 32, 0.002, 16


def review_text(megabytes: float) -> str:
    path = os.path.join(os.environ.get("RNNLAB_DATA_DIR", "../shared/data"), "imdb_train.csv.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read(int(megabytes * 1_000_000))


def pieces(ids):
    """(inputs (PIECES, P), targets (PIECES, P)): contiguous pieces overlapping by one id."""
    p = (len(ids) - 1) // PIECES
    starts = np.arange(PIECES) * p
    idx = starts[:, None] + np.arange(p)
    return ids[idx], ids[idx + 1]


def bits(probs_of_targets) -> float:
    return float(-np.mean(np.log(np.maximum(probs_of_targets, 1e-300))) / math.log(2))


def torch_model(rn, v, units):
    class CharLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(v, EMBED)
            self.lstm = torch.nn.LSTM(EMBED, units, batch_first=True)
            self.out = torch.nn.Linear(units, v)

        def forward(self, x):
            return self.out(self.lstm(self.emb(x))[0])

    m = CharLSTM()
    emb, kernel, recurrent, bias, dense_w, dense_b = rn.get_weights()
    with torch.no_grad():
        m.emb.weight.copy_(torch.from_numpy(emb))
        m.lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        m.lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        m.lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
        m.lstm.bias_hh_l0.zero_()
        m.out.weight.copy_(torch.from_numpy(dense_w.T.copy()))
        m.out.bias.copy_(torch.from_numpy(dense_b))
    m.lstm.bias_hh_l0.requires_grad_(False)     # one bias vector, as Keras's LSTM has
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megabytes", type=float, default=10.0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    blas = [(i.get("internal_api"), i.get("architecture")) for i in threadpool_info()
            if i.get("user_api") == "blas"]
    print(f"BLAS in use: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    text = review_text(args.megabytes)
    cut = int(len(text) * 0.95)
    vocab = CharVocabulary.from_text(text[:cut], oov_token=OOV, min_count=5)
    train_ids, held_ids = vocab.encode(text[:cut]), vocab.encode(text[cut:])
    v = len(vocab)
    x, y = sequence_windows(train_ids, SEQ)
    order = np.random.default_rng(args.seed).permutation(len(x))
    x, y = x[order], y[order]
    hx, hy = pieces(held_ids)
    print(f"{len(text):,} characters, {v} symbols, {len(x):,} training windows of {SEQ}, "
          f"{hy.size:,} held-out targets")
    uni = UnigramModel(train_ids, v).bits_per_token(held_ids)
    bi = BigramModel(train_ids, v).bits_per_token(held_ids)

    config.set_random_seed(args.seed)
    rn = Sequential([Embedding(v, EMBED), LSTM(args.units, return_sequences=True),
                     Dense(v, activation="softmax")])
    rn.compile(Adam(learning_rate=LR), "sparse_categorical_crossentropy")
    rn.build((None, None))
    tm = torch_model(rn, v, args.units)

    t0 = time.perf_counter()
    rn.fit(x, y, batch_size=BATCH, epochs=args.epochs, shuffle=False, verbose=0)
    rn_seconds = time.perf_counter() - t0
    probs = rn.predict(hx, batch_size=PIECES, verbose=0)
    rn_bits = bits(np.take_along_axis(probs, hy[..., None], axis=-1))

    opt = torch.optim.Adam([p for p in tm.parameters() if p.requires_grad], lr=LR, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        for i in range(0, len(xt), BATCH):
            opt.zero_grad()
            logits = tm(xt[i:i + BATCH])
            loss = loss_fn(logits.reshape(-1, v), yt[i:i + BATCH].reshape(-1))
            loss.backward()
            opt.step()
    t_seconds = time.perf_counter() - t0
    with torch.inference_mode():
        logp = torch.log_softmax(tm(torch.from_numpy(hx)), dim=-1).numpy()
    t_bits = float(-np.mean(np.take_along_axis(logp, hy[..., None], axis=-1)) / math.log(2))

    n = len(x) * args.epochs
    print(f"\n{'':<22}{'samples/s':>12}{'bits/char':>12}")
    print(f"{'rnnlab':<22}{n / rn_seconds:>12,.0f}{rn_bits:>12.4f}")
    print(f"{'PyTorch 2 threads':<22}{n / t_seconds:>12,.0f}{t_bits:>12.4f}")
    print(f"{'unigram (add-one)':<22}{'':>12}{uni:>12.4f}")
    print(f"{'bigram (add-one)':<22}{'':>12}{bi:>12.4f}")
    print(f"\nspeed ratio rnnlab/PyTorch {t_seconds / rn_seconds:.2f}; bits/char difference "
          f"{100 * (rn_bits - t_bits) / t_bits:+.2f}%")


if __name__ == "__main__":
    main()
