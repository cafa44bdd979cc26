"""IMDB sentiment with the Keras features a user reaches for after the lecture.

Stage 1 learns word vectors the cheap way (Embedding → masked average → Dense, a few epochs) and
keeps the matrix, as one would keep pretrained vectors.  Stage 2 freezes them
(``Embedding(weights=[matrix], trainable=False, mask_zero=True)``) under a Bidirectional LSTM,
LayerNormalization and self-attention pooling (``Attention()([h, h])`` then a masked average over
the steps), trained with AdamW on a cosine schedule with warmup, reported by AUC and F1, with
TensorBoard logs written.  The lecture's plain LSTM (Embedding → LSTM(10) → LSTM(1)) is trained on
the same sequences for comparison; both are scored by test-set AUC.

    python examples/imdb_attention.py [--num-train N --num-test N] [--epochs 4] [--seed 0]
                                      [--logdir runs/imdb_attention] [--dataset imdb|synthetic]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from rnnlab import Input, Model, Sequential, config
from rnnlab.callbacks import TensorBoard
from rnnlab.layers import (
    LSTM,
    Attention,
    Bidirectional,
    Dense,
    Embedding,
    GlobalAveragePooling1D,
    LayerNormalization,
)
from rnnlab.lecture import text
from rnnlab.metrics import AUC, F1Score
from rnnlab.optimizers import Adam, AdamW
from rnnlab.preprocessing.text import Tokenizer
from rnnlab.schedules import CosineDecay


def scores():
    """Test-time scores: ROC AUC over 200 thresholds, and F1 of the positive class at 0.5."""
    return [AUC(name="auc"), F1Score(average="micro", threshold=0.5, name="f1")]


def pretrain_embeddings(x, y, vocab, dim, epochs=2, batch_size=64):
    """Stage 1: word vectors from a bag-of-embeddings classifier (the matrix, vocab × dim)."""
    emb = Embedding(vocab, dim, mask_zero=True)
    model = Sequential([Input((x.shape[1],)), emb, GlobalAveragePooling1D(),
                        Dense(1, activation="sigmoid")])
    model.compile(Adam(0.005), "binary_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return emb.get_weights()[0]


def attention_model(matrix, seq_len, units=32, learning_rate=2e-3, decay_steps=1000,
                    warmup_steps=100, weight_decay=0.004):
    """Stage 2: frozen embeddings → BiLSTM → LayerNorm → self-attention → masked mean → sigmoid."""
    tokens = Input((seq_len,), name="tokens")
    x = Embedding(matrix.shape[0], matrix.shape[1], weights=[matrix], trainable=False,
                  mask_zero=True, name="frozen_embedding")(tokens)
    h = Bidirectional(LSTM(units, return_sequences=True), name="bilstm")(x)
    h = LayerNormalization(name="norm")(h)
    context = Attention(use_scale=True, name="self_attention")([h, h])
    pooled = GlobalAveragePooling1D(name="pool")(context)
    out = Dense(1, activation="sigmoid", name="sentiment")(pooled)
    model = Model(tokens, out, name="bilstm_attention")
    schedule = CosineDecay(0.0, decay_steps, warmup_target=learning_rate,
                           warmup_steps=warmup_steps)
    model.compile(AdamW(learning_rate=schedule, weight_decay=weight_decay),
                  "binary_crossentropy", metrics=scores())
    return model


def plain_lstm(vocab, dim):
    """The lecture's LSTM (Embedding → LSTM(10) → LSTM(1, sigmoid)), scored the same way."""
    model = text.build_model("lstm_masked", max_features=vocab - 1, words_embed_dim=dim)
    model.compile(Adam(), "binary_crossentropy", metrics=scores())
    return model


def run(dataset="imdb", num_train=None, num_test=None, epochs=4, seed=0, max_features=10000,
        seq_len=100, dim=50, units=32, batch_size=64, logdir=None, verbose=0, say=print):
    """Train both models; returns {model name: {"auc", "f1", "seconds"}} on the test split."""
    xtr, ytr, xte, yte, name, synthetic = text.load(dataset, None, num_train, num_test, seed)
    say(f"data: {name} ({len(xtr):,} train / {len(xte):,} test reviews)")
    tokenizer = Tokenizer(num_words=max_features)
    tokenizer.fit_on_texts(xtr)
    Xtr = text.sequences(tokenizer, xtr, seq_len, "pre", "pre")
    Xte = text.sequences(tokenizer, xte, seq_len, "pre", "pre")
    ytr, yte = ytr.astype("float32")[:, None], yte.astype("float32")[:, None]
    vocab = max_features + 1
    results = {}

    config.set_random_seed(seed)
    t0 = time.perf_counter()
    matrix = pretrain_embeddings(Xtr, ytr, vocab, dim, batch_size=batch_size)
    steps = epochs * -(-len(Xtr) // batch_size)
    model = attention_model(matrix, seq_len, units, decay_steps=steps,
                            warmup_steps=max(1, steps // 10))
    callbacks = [TensorBoard(log_dir=logdir)] if logdir else []
    model.fit(Xtr, ytr, epochs=epochs, batch_size=batch_size, callbacks=callbacks,
              verbose=verbose)
    scores = model.evaluate(Xte, yte, batch_size=256, return_dict=True, verbose=0)
    results[model.name] = {"auc": scores["auc"], "f1": scores["f1"],
                           "seconds": time.perf_counter() - t0}

    config.set_random_seed(seed)
    t0 = time.perf_counter()
    lstm = plain_lstm(vocab, dim)
    lstm.fit(Xtr, ytr, epochs=epochs, batch_size=batch_size, verbose=verbose)
    scores = lstm.evaluate(Xte, yte, batch_size=256, return_dict=True, verbose=0)
    results["plain_lstm"] = {"auc": scores["auc"], "f1": scores["f1"],
                             "seconds": time.perf_counter() - t0}
    for key, r in results.items():
        say(f"{key:>18}: test AUC {r['auc']:.4f}  F1 {r['f1']:.4f}  ({r['seconds']:.0f}s)")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="imdb", choices=["imdb", "synthetic"])
    ap.add_argument("--num-train", type=int, default=None)
    ap.add_argument("--num-test", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--logdir", default="runs/imdb_attention",
                    help="TensorBoard log directory ('' for none)")
    ap.add_argument("--verbose", type=int, default=0, choices=[0, 1, 2])
    args = ap.parse_args(argv)
    return run(args.dataset, args.num_train, args.num_test, args.epochs, args.seed,
               logdir=args.logdir or None, verbose=args.verbose)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
