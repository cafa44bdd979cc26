"""The lecture's classification setting: will day 101 close above day 100?

Each Fortune 500 series gives one example: its first 100 scaled closes as input and the label
1 if day 101 > day 100 (a tie is "not above").  The tickers are split once at random into a
training and a held-out part; on the held-out part the lecture's recurrent models with a sigmoid
head are scored (accuracy at 0.5 and ROC AUC) next to two baselines that need no training:
the majority class of the training labels, and "same as yesterday's move" (up if day 100 > day 99,
scored by the size of that move).
"""
from __future__ import annotations

import time

import numpy as np

from rnnlab import checks, config
from rnnlab.datasets import fortune500
from rnnlab.layers import Dense, SimpleRNN
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam

__all__ = ["direction_labels", "roc_auc", "accuracy", "direction_models", "direction_table"]


def direction_labels(X, y) -> np.ndarray:
    """1 where the next value ``y`` closes above the last input day ``X[:, -1]``, else 0."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return (y > X[:, -1]).astype(np.int64)


def roc_auc(labels, scores) -> float:
    """Exact ROC AUC: the Mann-Whitney probability that a positive outscores a negative (ties
    count one half), from average ranks."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"roc_auc() labels and scores differ in length: {labels.size} vs "
                         f"{scores.size}")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc() needs both classes among the labels")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    i = 0
    while i < scores.size:                       # average rank over each run of ties
        j = i
        while j + 1 < scores.size and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def accuracy(labels, predicted) -> float:
    return float(np.mean(np.asarray(labels).ravel() == np.asarray(predicted).ravel()))


def direction_models():
    """The lecture's two recurrent models with a sigmoid head instead of the linear output."""
    def single():
        return Sequential([SimpleRNN(1, input_shape=(None, 1)), Dense(1, activation="sigmoid")])

    def stack():
        return Sequential([SimpleRNN(10, return_sequences=True, input_shape=(None, 1)),
                           SimpleRNN(5), Dense(1, activation="sigmoid")])

    return {"SimpleRNN(1) → Dense(1, sigmoid)": single,
            "SimpleRNN 10→5 → Dense(1, sigmoid)": stack}


def _row(name, labels, predicted, scores, seconds):
    return {"model": name, "accuracy": accuracy(labels, predicted),
            "auc": roc_auc(labels, scores), "seconds": seconds}


def direction_table(path=None, test_fraction: float = 0.2, seed: int = 0, epochs: int = 30,
                    learning_rate: float = 0.01, models=None, data=None) -> list:
    """Accuracy and AUC on the held-out tickers, one dict per approach (baselines first).

    ``data`` = (X, y) replaces the lecture's file (``path`` or ``$RNNLAB_DATA_DIR``)."""
    who = "direction_table()"
    frac = checks.number(test_fraction, "test_fraction", who)
    if not 0.0 < frac < 1.0:
        raise ValueError(f"{who} test_fraction must be in (0, 1), got {test_fraction!r}")
    seed = checks.non_negative_int(seed, "seed", who=who)
    epochs = checks.positive_int(epochs, "epochs", who=who)
    learning_rate = checks.positive_number(learning_rate, "learning_rate", who=who)
    if data is None:
        d = fortune500.load_data(path)
        X, y = d.X, d.y
    else:
        X, y = (np.asarray(a, dtype=np.float64) for a in data)
    if X.ndim != 2 or X.shape[1] < 2 or y.shape != (X.shape[0],):
        raise ValueError(f"{who} data must be X (n, T >= 2) and y (n,), got {X.shape}, {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"{who} the series hold missing values (NaN)")
    labels = direction_labels(X, y)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, int(round(frac * len(y))))
    test, train = perm[:n_test], perm[n_test:]
    if len(train) == 0:
        raise ValueError(f"{who} test_fraction={frac} leaves no training series")
    lt, lv = labels[train], labels[test]
    rows = []
    majority = int(lt.mean() >= 0.5)
    rows.append(_row(f"majority class of training ({'up' if majority else 'not up'})", lv,
                     np.full(len(test), majority), np.zeros(len(test)), 0.0))
    move = X[test, -1] - X[test, -2]
    rows.append(_row("same as yesterday's move", lv, (move > 0).astype(int), move, 0.0))
    X3 = X[:, :, None].astype(np.float32)
    for name, build in (models or direction_models()).items():
        config.set_random_seed(seed)
        t0 = time.perf_counter()
        model = build()
        model.compile(optimizer=Adam(learning_rate=learning_rate), loss="binary_crossentropy")
        model.fit(X3[train], lt[:, None].astype(np.float32), epochs=epochs, verbose=0)
        p = np.asarray(model.predict(X3[test], verbose=0)).ravel()
        rows.append(_row(name, lv, (p > 0.5).astype(int), p, time.perf_counter() - t0))
    for r in rows:
        r.update(train_series=len(train), test_series=len(test), test_up_share=float(lv.mean()))
    return rows
