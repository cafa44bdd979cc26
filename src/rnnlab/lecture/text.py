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
from rnnlab.lecture.timeseries import serial_map
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
    """One of the lecture's text models, compiled as in the lecture (Adam, BCE, accuracy).  Its
    layers are named as in a fresh Keras session (embedding, dense, dense_1, ...) and the model
    after ``kind``, so its summary does not depend on what the process built before (a trial's
    summary is the same here and in a Dask worker)."""
    emb = lambda **kw: Embedding(max_features + 1, words_embed_dim, name="embedding",  # noqa: E731
                                 **kw)
    if kind == "mlp":
        layers = [emb(), Dense(n_cells, activation="relu", name="dense"),
                  Dense(1, activation="sigmoid", name="dense_1")]
    elif kind == "simple_rnn":
        layers = [emb(), SimpleRNN(n_cells, return_sequences=True, name="simple_rnn"),
                  SimpleRNN(1, activation="sigmoid", name="simple_rnn_1")]
    elif kind == "conv1d_rnn":
        layers = [emb(), Conv1D(filters=5, kernel_size=2, strides=1, name="conv1d"),
                  SimpleRNN(n_cells, return_sequences=True, name="simple_rnn"),
                  SimpleRNN(1, activation="sigmoid", name="simple_rnn_1")]
    elif kind in ("lstm", "lstm_masked"):
        layers = [emb(mask_zero=kind == "lstm_masked"),
                  LSTM(n_cells, return_sequences=True, name="lstm"),
                  LSTM(1, activation="sigmoid", name="lstm_1")]
    else:
        raise ValueError(f"Unknown text model {kind!r}: expected one of {ALL_MODELS}")
    model = Sequential(layers, name=kind)
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


def model_trial(kind, seed, X_train, y_train, X_test, y_test, options, settings=None) -> dict:
    """Train and evaluate one text model for one seed: its test accuracy and loss, history,
    epochs, summary and seconds.  A plain function of its arguments (``options``: max_features,
    batch_size, epochs, patience, verbose; ``settings``: the caller's (floatx, kernels)), so it
    runs in a Dask worker as well as here, with the same numbers."""
    old = (config.floatx(), config.kernels())
    if settings is not None:
        config.set_floatx(settings[0])
        config.set_kernels(settings[1])
    try:
        with config.seeded(seed):
            model = build_model(kind, options["max_features"])
            lines = []
            model.summary(print_fn=lines.append)
            t0 = time.perf_counter()
            hist = model.fit(X_train, y_train, validation_split=0.1,
                             batch_size=options["batch_size"], epochs=options["epochs"],
                             callbacks=[EarlyStopping(monitor="val_loss",
                                                      patience=options["patience"])],
                             verbose=options["verbose"])
            loss, acc = model.evaluate(X_test, y_test, batch_size=256, verbose=0)
            seconds = time.perf_counter() - t0
        return {"accuracy": float(acc), "loss": float(loss), "history": hist.history,
                "epochs": len(hist.history["loss"]), "summary": "\n".join(lines),
                "seconds": seconds}
    finally:
        config.set_floatx(old[0])
        config.set_kernels(old[1])


def run(dataset="imdb", path=None, models=ALL_MODELS, num_train=None, num_test=None,
        max_features=10000, seq_len=100, epochs=100, batch_size=30, patience=5, seed=0,
        verbose=0, progress=None, seeds=None, map_trials=serial_map) -> TextResult:
    """Train and evaluate the lecture's text models; rows compare with the lecture's accuracies.

    Each (model, seed) is one call of :func:`model_trial` through ``map_trials(fn, calls)``
    (here by default; as Dask tasks with ``rnnlab reproduce --workers``).  The reviews are
    tokenized and padded once, here; every call of a padding gets the same arrays (so a Dask
    map can send them once).  ``seeds`` (default: ``(seed,)``) with more than one seed reports
    each model's median test accuracy, the first seed's history and summary."""
    say = progress or (lambda msg: None)
    seeds = (seed,) if seeds is None else tuple(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    unknown = [k for k in models if k not in ALL_MODELS]
    if unknown:
        raise ValueError(f"Unknown text model {unknown[0]!r}: expected one of {ALL_MODELS}")
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
    options = {"max_features": max_features, "batch_size": batch_size, "epochs": epochs,
               "patience": patience, "verbose": verbose}
    settings = (config.floatx(), config.kernels())
    calls = []
    for kind in models:
        X_train, X_test = cache["pre" if kind == "lstm_masked" else "post"]
        calls += [(kind, s, X_train, ytr, X_test, yte, options, settings) for s in seeds]
    fn = model_trial
    if map_trials is serial_map:        # here, one model after the other: say which
        def fn(kind, s, *rest):
            say(f"{LABELS[kind]}, seed {s}: training on {len(ytr):,} reviews")
            return model_trial(kind, s, *rest)
    else:
        say(f"{len(calls)} trials ({len(models)} models x {len(seeds)} seeds) as tasks, "
            f"{len(ytr):,} training reviews")
    trials = iter(map_trials(fn, calls))
    for kind in models:
        results = [next(trials) for _ in seeds]
        first = results[0]
        accs = [r["accuracy"] for r in results]
        acc = float(np.median(accs))
        res.summaries[kind] = first["summary"]
        res.seconds[kind] = first["seconds"]
        res.histories[kind] = first["history"]
        res.accuracies[kind] = acc
        res.epochs[kind] = first["epochs"]
        lecture = fmt(LECTURE_YELP[kind], 3) + " (Yelp)" if kind in LECTURE_YELP else "-"
        keras = KERAS3_IMDB.get(kind)
        note = f"{res.epochs[kind]} epochs, {res.seconds[kind]:.0f}s"
        if len(seeds) > 1:
            note += f"; median of seeds {list(seeds)}: " + ", ".join(f"{a:.4f}" for a in accs)
        if dataset == "imdb" and not synthetic and keras is not None:
            note += f"; Keras 3 on IMDB: {keras:.3f}"
        extra = {"loss": first["loss"]}
        if len(seeds) > 1:
            extra.update(accuracies=accs, seeds=list(seeds))
        res.rows.append(Row(f"{LABELS[kind]}: test accuracy", lecture, fmt(acc, 4), note,
                            extra=extra))
    return res
