"""The lecture's second half: reviews → padded integer sequences → four models.

MLP (Embedding→Dense→Dense), SimpleRNN 10→1, Conv1D+SimpleRNN and LSTM 10→1, with the lecture's
hyperparameters (max_features 10000, seq_len 100, post padding/truncating, embedding 50, 10 cells,
batch 30, Adam, EarlyStopping(val_loss, patience 5), validation_split 0.1); plus the LSTM with
Embedding(mask_zero=True) on pre-padded sequences (each review's last 100 tokens).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rnnlab import config
from rnnlab.callbacks import EarlyStopping
from rnnlab.datasets import DatasetNotFoundError, imdb, synthetic, yelp_polarity
from rnnlab.layers import LSTM, Conv1D, Dense, Embedding, SimpleRNN
from rnnlab.lecture.results import Row, fmt
from rnnlab.models import Sequential
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer

LECTURE_YELP = {"mlp": 0.587, "simple_rnn": 0.816, "conv1d_rnn": 0.826, "lstm": 0.923}
KERAS3_IMDB = {"mlp": 0.533, "simple_rnn": 0.675, "conv1d_rnn": 0.499, "lstm": 0.788,
               "lstm_masked": 0.837}
LABELS = {"mlp": "Embedding→Dense MLP", "simple_rnn": "SimpleRNN 10→1",
          "conv1d_rnn": "Conv1D + SimpleRNN 10→1", "lstm": "LSTM 10→1",
          "lstm_masked": "LSTM 10→1, mask_zero, pre-padded"}
ALL_MODELS = ("mlp", "simple_rnn", "conv1d_rnn", "lstm", "lstm_masked")


@dataclass
class TextResult:
    rows: list
    dataset: str
    synthetic: bool
    histories: dict = field(default_factory=dict)
    summaries: dict = field(default_factory=dict)
    accuracies: dict = field(default_factory=dict)
    epochs: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


def build_model(kind: str, max_features=10000, words_embed_dim=50, n_cells=10, optimizer="adam"):
    """One of the lecture's text models, compiled as in the lecture (Adam, BCE, accuracy)."""
    emb = lambda **kw: Embedding(max_features + 1, words_embed_dim, **kw)  # noqa: E731
    if kind == "mlp":
        layers = [emb(), Dense(n_cells, activation="relu"), Dense(1, activation="sigmoid")]
    elif kind == "simple_rnn":
        layers = [emb(), SimpleRNN(n_cells, return_sequences=True),
                  SimpleRNN(1, activation="sigmoid")]
    elif kind == "conv1d_rnn":
        layers = [emb(), Conv1D(filters=5, kernel_size=2, strides=1),
                  SimpleRNN(n_cells, return_sequences=True), SimpleRNN(1, activation="sigmoid")]
    elif kind in ("lstm", "lstm_masked"):
        layers = [emb(mask_zero=kind == "lstm_masked"), LSTM(n_cells, return_sequences=True),
                  LSTM(1, activation="sigmoid")]
    else:
        raise ValueError(f"Unknown text model {kind!r}: expected one of {ALL_MODELS}")
    model = Sequential(layers)
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics="accuracy")
    return model


def load(dataset="imdb", path=None, num_train=None, num_test=None, seed=0):
    """(train texts, train labels, test texts, test labels, name, synthetic?)."""
    loaders = {"imdb": imdb, "yelp": yelp_polarity}
    if dataset == "synthetic":
        texts, labels = synthetic.reviews(n=(num_train or 4000) + (num_test or 1000), seed=seed)
        k = num_train or 4000
        return texts[:k], labels[:k], texts[k:], labels[k:], "synthetic reviews", True
    if dataset not in loaders:
        raise ValueError(f"Unknown text dataset {dataset!r}: expected imdb, yelp or synthetic")
    try:
        (xtr, ytr), (xte, yte) = loaders[dataset].load_data(path=path, num_train=num_train,
                                                             num_test=num_test, seed=seed)
    except DatasetNotFoundError:
        t = load("synthetic", None, num_train, num_test, seed)
        return t[:4] + (f"synthetic reviews (no {dataset} files found)", True)
    if num_train is None:  # the full splits come sorted by label: shuffle once, reproducibly
        order = np.random.default_rng(seed).permutation(len(xtr))
        xtr, ytr = [xtr[i] for i in order], np.asarray(ytr)[order]
    return xtr, np.asarray(ytr), xte, np.asarray(yte), dataset, False


def sequences(tokenizer, texts, seq_len, padding="post", truncating="post"):
    return pad_sequences(tokenizer.texts_to_sequences(texts), padding=padding,
                                  truncating=truncating, maxlen=seq_len)


def run(dataset="imdb", path=None, models=ALL_MODELS, num_train=None, num_test=None,
        max_features=10000, seq_len=100, epochs=100, batch_size=30, patience=5, seed=0,
        verbose=0, progress=None) -> TextResult:
    """Train and evaluate the lecture's text models; rows compare with the lecture's accuracies."""
    say = progress or (lambda msg: None)
    say(f"loading {dataset} reviews")
    xtr, ytr, xte, yte, name, synthetic = load(dataset, path, num_train, num_test, seed)
    tokenizer = Tokenizer(num_words=max_features)
    tokenizer.fit_on_texts(xtr)
    res = TextResult(rows=[], dataset=name, synthetic=synthetic)
    cache = {}
    for kind in models:
        pad = "pre" if kind == "lstm_masked" else "post"
        if pad not in cache:
            cache[pad] = (sequences(tokenizer, xtr, seq_len, pad, pad),
                          sequences(tokenizer, xte, seq_len, pad, pad))
        X_train, X_test = cache[pad]
        say(f"{LABELS[kind]}: training on {len(X_train):,} reviews")
        config.set_random_seed(seed)
        model = build_model(kind, max_features)
        lines = []
        model.summary(print_fn=lines.append)
        res.summaries[kind] = "\n".join(lines)
        t0 = time.perf_counter()
        hist = model.fit(X_train, ytr, validation_split=0.1, batch_size=batch_size, epochs=epochs,
                         callbacks=[EarlyStopping(monitor="val_loss", patience=patience)],
                         verbose=verbose)
        loss, acc = model.evaluate(X_test, yte, batch_size=256, verbose=0)
        res.seconds[kind] = time.perf_counter() - t0
        res.histories[kind] = hist.history
        res.accuracies[kind] = acc
        res.epochs[kind] = len(hist.history["loss"])
        lecture = fmt(LECTURE_YELP[kind], 3) + " (Yelp)" if kind in LECTURE_YELP else "-"
        keras = KERAS3_IMDB.get(kind)
        note = f"{res.epochs[kind]} epochs, {res.seconds[kind]:.0f}s"
        if dataset == "imdb" and not synthetic and keras is not None:
            note += f"; Keras 3 on IMDB: {keras:.3f}"
        res.rows.append(Row(f"{LABELS[kind]}: test accuracy", lecture, fmt(acc, 4), note,
                            extra={"loss": loss}))
    return res
