"""The masked LSTM on IMDB with and without bucketing by length (issue 18).

    python benchmarks/bucketing.py --train 10000 --test 5000 --epochs 1

Same tokenizer (10,000 words), reviews cut to 200 tokens, the same masked model
(Embedding(10000, 32, mask_zero=True) -> LSTM(32) -> Dense(1, sigmoid)), Adam(1e-3), batches
of 64, alternately in one process (``--repeats`` times, to even out a shared machine's load):

- ``padded``: every review padded to 200, ``fit(x, y, batch_size=64)`` (shuffled);
- ``bucketed``: the reviews shuffled each epoch, then ``bucket_by_sequence_length`` with
  boundaries 50/100/150 (batches of 64 padded to their own longest review).

Prints training samples/s (the bucketing and a streamed fit's per-batch checks included) and
accuracy on ``--test`` test reviews (padded to 200).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from rnnlab import Sequential, config
from rnnlab.data import bucket_by_sequence_length
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer

BATCH, MAXLEN, VOCAB = 64, 200, 10000


def read(split: str, n: int):
    path = Path(os.environ.get("RNNLAB_DATA_DIR", "../shared/data")) / f"imdb_{split}.csv.gz"
    table = pa_csv.read_csv(pa.input_stream(str(path), compression="detect"))
    order = np.random.default_rng(0).permutation(table.num_rows)[:n]   # both labels
    table = table.take(order)
    return table.column("text").to_pylist(), table.column("label").to_numpy()


class Shuffled:
    """(ids, label) samples in a new order each pass (each epoch)."""

    def __init__(self, seqs, labels):
        self.seqs, self.labels = seqs, labels

    def __iter__(self):
        for i in config.rng().permutation(len(self.seqs)):
            yield self.seqs[i], self.labels[i]


def prepare(n_train: int, n_test: int):
    texts, labels = read("train", n_train)
    tok = Tokenizer(num_words=VOCAB)
    tok.fit_on_texts(texts)
    seqs = [s[:MAXLEN] for s in tok.texts_to_sequences(texts)]
    test_texts, test_labels = read("test", n_test)
    xt = pad_sequences(tok.texts_to_sequences(test_texts), maxlen=MAXLEN, padding="post",
                       truncating="post")
    return seqs, labels, xt, test_labels


def run(mode: str, seqs, labels, xt, yt, epochs: int) -> dict:
    config.set_random_seed(0)
    model = Sequential([Embedding(VOCAB, 32, mask_zero=True), LSTM(32),
                        Dense(1, activation="sigmoid")])
    model.compile(Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    if mode == "padded":
        x = pad_sequences(seqs, maxlen=MAXLEN, padding="post", truncating="post")
        model.fit(x, labels, batch_size=BATCH, epochs=epochs, verbose=0)
    else:
        batches = bucket_by_sequence_length(Shuffled(seqs, labels), [50, 100, 150],
                                            [BATCH] * 4)
        model.fit(batches, epochs=epochs, shuffle=False, verbose=0)
    seconds = time.perf_counter() - t0
    _, acc = model.evaluate(xt, yt, batch_size=256, verbose=0)
    return {"samples_per_s": len(seqs) * epochs / seconds, "seconds": seconds,
            "test_accuracy": float(acc)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="alternate the two modes N times")
    a = p.parse_args()
    seqs, labels, xt, yt = prepare(a.train, a.test)
    print(f"{len(seqs)} training reviews, mean length {np.mean([len(s) for s in seqs]):.0f} "
          f"tokens (cut to {MAXLEN})")
    for mode in ("padded", "bucketed") * a.repeats:
        r = run(mode, seqs, labels, xt, yt, a.epochs)
        print(f"{mode:9s} {r['samples_per_s']:8.1f} samples/s  {r['seconds']:7.1f} s  "
              f"test accuracy {r['test_accuracy']:.4f}")


if __name__ == "__main__":
    main()
