"""The command's tasks: what data each reads, how it builds its model, how it predicts.

A task is created from the command's options (:meth:`Task.from_options`) for training, fitted on
the training file (:meth:`Task.fit_data`: the arrays to fit, with the preprocessing learnt from
them), stored in the bundle as JSON (:meth:`Task.get_config`) and rebuilt from it
(:meth:`Task.from_config`) to predict.

* :class:`ForecastTask` (``forecast``): windows of ``window`` values -> the next ``horizon``
  values of numeric series.  Training uses every window of ``window`` values followed by
  ``horizon`` values.  With ``column``, ``predict`` writes one row per input row: the ``horizon``
  values forecast after that row from the ``window`` values ending at it (empty for the first
  ``window - 1`` rows); the last row holds the forecast after the series' end.  Without it (one
  series per row), one row per input row: the ``horizon`` values after the end of that row's
  series, from its last ``window`` values.  Values are scaled by a MinMaxScaler to [-1, 1] fitted
  on the training values (the lecture's scale) and scaled back on prediction.
* :class:`ClassifyTask` (``classify``): binary text classification.  Texts become integer
  sequences with the Tokenizer (``max_features`` most frequent words) padded/truncated at the
  front to ``seq_len`` (the lecture's masked-LSTM setup: a review's last words are kept and
  padding is masked); the output is the probability of the second label.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from rnnlab.app.csvfile import binary_labels, read_series, read_texts
from rnnlab.app.errors import AppError, option_int
from rnnlab.layers import (
    GRU,
    LSTM,
    Conv1D,
    Dense,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    SimpleRNN,
)
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import (
    MinMaxScaler,
    pad_sequences,
    timeseries_windows,
)
from rnnlab.preprocessing.text import Tokenizer, tokenizer_from_json

__all__ = [
    "EMBED_DIM",
    "MODELS",
    "TASKS",
    "ClassifyTask",
    "ForecastTask",
    "Task",
    "get_task",
    "windows",
]

MODELS = ("simple_rnn", "lstm", "gru", "conv1d_rnn", "mlp")
EMBED_DIM = 50
_RNN = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def _fmt(v) -> str:
    return format(float(v), ".7g")


def check_model(kind) -> str:
    if kind not in MODELS:
        raise AppError(f"unknown model {kind!r}: expected one of {', '.join(MODELS)}")
    return kind


class Task:
    """One kind of job the command trains for; subclasses set the class attributes."""
    name: ClassVar[str] = ""
    #: model, epochs, units and learning_rate when the options leave them out
    defaults: ClassVar[dict] = {}
    loss: ClassVar[str] = ""
    metrics: ClassVar[list | None] = None

    @classmethod
    def from_options(cls, **options) -> Task:
        """A task to train from the command's task options (AppError for misplaced ones)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> Task:
        """The fitted task stored in a bundle by :meth:`get_config`."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The fitted preprocessing and settings, JSON-able (the bundle's ``meta[name]``)."""
        raise NotImplementedError

    def fit_data(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Read the training file ``data`` and fit the preprocessing: ``(X, y)`` to fit on."""
        raise NotImplementedError

    def layers(self, kind: str, units: int) -> list:
        """The network's layers: an encoder of ``kind`` and the task's Dense head."""
        raise NotImplementedError

    def build_model(self, kind: str, units: int, learning_rate: float) -> Sequential:
        """The compiled network: :meth:`layers`, Adam(``learning_rate``), the task's loss."""
        model = Sequential(self.layers(check_model(kind), units))
        model.compile(optimizer=Adam(learning_rate=learning_rate), loss=self.loss,
                      metrics=self.metrics)
        return model

    def predict(self, model, data) -> tuple[list, list, str]:
        """(header, rows of strings, note) for the file ``data``: one row per input row.

        ``note`` is a line for the console (e.g. the accuracy when the file has labels)."""
        raise NotImplementedError


def windows(series, window, horizon):
    """(X (n, window), y (n, horizon)): every ``window`` values and the ``horizon`` after them."""
    X, y = timeseries_windows(np.asarray(series, dtype=np.float64), window, horizon)  # (n, w, 1)
    X = np.asarray(X, dtype=np.float64).reshape(len(X), window)
    y = np.asarray(y, dtype=np.float64).reshape(len(X), horizon)
    return X, y


class ForecastTask(Task):
    """Predict the next ``horizon`` values of numeric series from ``window`` past values."""
    name = "forecast"
    defaults: ClassVar[dict] = {"model": "simple_rnn", "epochs": 20, "units": 16,
                                "learning_rate": 0.01}
    loss = "mse"
    metrics = None

    def __init__(self, column=None, window=None, horizon=1, scaler=None, series=None):
        self.column = column
        self.window = window
        self.horizon = horizon
        self.scaler = scaler
        self.series = series

    @classmethod
    def from_options(cls, column=None, window=None, horizon=None, text_column=None,
                     label_column=None, **_):
        if text_column is not None or label_column is not None:
            raise AppError("--text-column/--label-column are for --task classify")
        return cls(column=column, window=window, horizon=1 if horizon is None else horizon)

    @classmethod
    def from_config(cls, config):
        return cls(column=config["column"], window=config["window"], horizon=config["horizon"],
                   scaler=MinMaxScaler.from_config(config["scaler"]),
                   series=config.get("series"))

    def get_config(self):
        return {"window": self.window, "horizon": self.horizon, "column": self.column,
                "series": self.series, "scaler": self.scaler.get_config()}

    def fit_data(self, data):
        column, window = self.column, self.window
        table = read_series(data, column)
        if window is None:
            lengths = {len(s) for s in table.series}
            if column is not None or len(lengths) != 1:
                raise AppError("--task forecast needs --window W (the number of past values "
                               "the model sees)")
            window = lengths.pop() - self.horizon  # the lecture's layout: all but the last
        window = self.window = option_int("--window", window)
        horizon = self.horizon = option_int("--horizon", self.horizon)
        need = window + horizon
        for s, name in zip(table.series, table.names):
            if len(s) < need:
                where = (f"column {column!r} has {len(s)} values" if column is not None
                         else f"series {name!r} has {len(s)} values")
                raise AppError(f"{where}: too short for --window {window} + --horizon "
                               f"{horizon} (needs at least {need})")
        scaler = MinMaxScaler(feature_range=(-1, 1), axis=None)  # one scale for all values
        scaler.fit(np.concatenate(table.series))
        xs, ys = [], []
        for s in table.series:
            X, y = windows(scaler.transform(s), window, horizon)
            xs.append(X)
            ys.append(y)
        self.scaler, self.series = scaler, len(table.series)
        return np.concatenate(xs)[:, :, None], np.concatenate(ys)

    def layers(self, kind, units):
        window = self.window
        shape = (window, 1)
        if kind in _RNN:
            layers = [_RNN[kind](units, input_shape=shape)]
        elif kind == "conv1d_rnn":
            layers = [Conv1D(units, kernel_size=min(3, window), activation="relu",
                             input_shape=shape), SimpleRNN(units)]
        else:
            layers = [Flatten(input_shape=shape), Dense(2 * units, activation="relu")]
        return layers + [Dense(self.horizon)]

    def _run(self, model, xs):
        """Forecasts (n, horizon) in the data's scale for windows ``xs`` (n, window)."""
        scaler, window, horizon = self.scaler, self.window, self.horizon
        scaled = scaler.transform(np.asarray(xs, dtype=np.float64).reshape(-1))
        p = model.predict(scaled.reshape(len(xs), window, 1), verbose=0)
        p = scaler.inverse_transform(np.asarray(p, dtype=np.float64).reshape(-1))
        return p.reshape(len(xs), horizon)

    def predict(self, model, data):
        window, horizon, column = self.window, self.horizon, self.column
        table = read_series(data, column)
        cols = [f"forecast_{k}" for k in range(1, horizon + 1)]
        if column is not None:
            s = table.series[0]
            if len(s) < window:
                raise AppError(f"column {column!r} of {str(data)!r} has {len(s)} values: too "
                               f"short for the model's window of {window}")
            starts = np.arange(len(s) - window + 1)
            preds = self._run(model, np.stack([s[i:i + window] for i in starts]))
            rows = [[str(i + 1), _fmt(v)] + ([""] * horizon) for i, v in enumerate(s)]
            for i, p in zip(starts, preds):
                rows[i + window - 1][2:] = [_fmt(x) for x in p]
            return ["row", column] + cols, rows, ""
        for s, name in zip(table.series, table.names):
            if len(s) < window:
                raise AppError(f"series {name!r} of {str(data)!r} has {len(s)} values: too "
                               f"short for the model's window of {window}")
        preds = self._run(model, np.stack([s[-window:] for s in table.series]))
        rows = [[name] + [_fmt(x) for x in p] for name, p in zip(table.names, preds)]
        return [table.name_header] + cols, rows, ""


class ClassifyTask(Task):
    """Binary text classification: a text column and a label column with two values."""
    name = "classify"
    defaults: ClassVar[dict] = {"model": "lstm", "epochs": 5, "units": 16,
                                "learning_rate": 0.005}
    loss = "binary_crossentropy"
    metrics: ClassVar[list] = ["accuracy"]

    def __init__(self, text_column, label_column, max_features=10000, seq_len=100,
                 tokenizer=None, labels=None):
        self.text_column = text_column
        self.label_column = label_column
        self.max_features = max_features
        self.seq_len = seq_len
        self.tokenizer = tokenizer
        self.labels = labels

    @classmethod
    def from_options(cls, text_column=None, label_column=None, max_features=10000,
                     seq_len=100, column=None, window=None, horizon=None, **_):
        if window is not None or column is not None or horizon is not None:
            raise AppError("--window/--horizon/--column are for --task forecast")
        if text_column is None or label_column is None:
            raise AppError("--task classify needs --text-column and --label-column")
        return cls(text_column, label_column, option_int("--max-features", max_features),
                   option_int("--seq-len", seq_len))

    @classmethod
    def from_config(cls, config):
        return cls(config["text_column"], config["label_column"], config["max_features"],
                   config["seq_len"], tokenizer=tokenizer_from_json(config["tokenizer"]),
                   labels=config["labels"])

    def get_config(self):
        return {"text_column": self.text_column, "label_column": self.label_column,
                "labels": self.labels, "max_features": self.max_features,
                "seq_len": self.seq_len, "padding": "pre", "truncating": "pre",
                "tokenizer": self.tokenizer.to_json()}

    def _pad(self, texts):
        return pad_sequences(self.tokenizer.texts_to_sequences(texts), maxlen=self.seq_len,
                             padding="pre", truncating="pre")

    def fit_data(self, data):
        texts, raw = read_texts(data, self.text_column, self.label_column)
        y, self.labels = binary_labels(raw, data, self.label_column)
        self.tokenizer = Tokenizer(num_words=self.max_features)
        self.tokenizer.fit_on_texts(texts)
        return self._pad(texts), y

    def layers(self, kind, units):
        # no larger an embedding than the vocabulary needs (indices stay < max_features)
        vocab = min(self.max_features, len(self.tokenizer.word_index))
        emb = Embedding(vocab + 1, EMBED_DIM, mask_zero=kind != "conv1d_rnn")
        if kind in _RNN:
            layers = [emb, _RNN[kind](units)]
        elif kind == "conv1d_rnn":
            layers = [emb, Conv1D(units, kernel_size=3, activation="relu"), SimpleRNN(units)]
        else:
            layers = [emb, GlobalAveragePooling1D(), Dense(units, activation="relu")]
        return layers + [Dense(1, activation="sigmoid")]

    def predict(self, model, data):
        texts, raw = read_texts(data, self.text_column, self.label_column, require_labels=False)
        p = np.asarray(model.predict(self._pad(texts), verbose=0), dtype=np.float64).reshape(-1)
        names = self.labels
        labels = (p >= 0.5).astype(int)
        rows = [[str(i + 1), _fmt(q), names[k]] for i, (q, k) in enumerate(zip(p, labels))]
        note = ""
        if raw is not None:
            known = [(k, r) for k, r in zip(labels, raw) if r in names]
            if known:
                acc = np.mean([names[k] == r for k, r in known])
                note = (f"accuracy on the {len(known):,} labelled rows (column "
                        f"{self.label_column!r}): {acc:.3f}")
        return ["row", "probability", "label"], rows, note


TASKS = {t.name: t for t in (ForecastTask, ClassifyTask)}


def get_task(name) -> type[Task]:
    """The task class called ``name``; AppError for an unknown one."""
    if name not in TASKS:
        raise AppError(f"unknown task {name!r}: expected one of {', '.join(TASKS)}")
    return TASKS[name]
