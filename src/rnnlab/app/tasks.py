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

Files are streamed (:mod:`rnnlab.app.csvfile`): training holds the values (or the padded
sequences) once, its windows are views of them where the layout allows; prediction holds a few
thousand rows at a time and hands each row to a CSV writer as soon as its forecast is made.
Predictions are made in groups of whole batches, so the batches are those of one
``model.predict`` over the whole file (and the numbers those of Keras's 32-sample batches: a
sample's output does not depend on its batch).
"""
from __future__ import annotations

from itertools import islice
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rnnlab import config
from rnnlab.app.csvfile import (
    CsvFile,
    binary_label_names,
    check_missing,
    column_values,
    has_name_column,
    row_series,
    text_rows,
)
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
from rnnlab.preprocessing.sequence import MinMaxScaler, pad_sequences
from rnnlab.preprocessing.text import Tokenizer, tokenizer_from_json

__all__ = [
    "EMBED_DIM",
    "MODELS",
    "ClassifyTask",
    "ForecastTask",
    "Task",
    "windows",
]

MODELS = ("simple_rnn", "lstm", "gru", "conv1d_rnn", "mlp")
EMBED_DIM = 50
_RNN = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
#: Values parsed into one NumPy chunk, and texts tokenized at a time.
CHUNK = 1 << 16
TEXT_CHUNK = 1 << 14
#: model.predict's batch size.  Each sample's output does not depend on the others in its batch
#: (checked equal to Keras's default of 32 for every model kind), and a large batch pays the
#: per-batch overhead 32 times less often: 3.5 million windows predict in minutes, not an hour.
PREDICT_BATCH = 1024
#: Rows predicted per call: whole batches, so the batches are those of one call over the file.
PREDICT_ROWS = 8 * PREDICT_BATCH


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
    #: the --missing choices the task understands (what a blank cell may become)
    missing_choices: ClassVar[tuple] = ("error",)
    missing = "error"

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

    def predict(self, model, data, writer) -> tuple[int, str]:
        """Write the predictions for the file ``data`` to the CSV ``writer`` (header first, one
        row per input row); return (rows written, note).

        ``note`` is a line for the console (e.g. the accuracy when the file has labels)."""
        raise NotImplementedError

    def use_missing(self, missing) -> None:
        """Set what a blank cell becomes (``--missing``; AppError if the task cannot)."""
        self.missing = check_missing(missing, self.missing_choices)


class InOrder:
    """Rows written in input order while their model inputs are predicted in groups.

    ``add(cells, x, tag)`` queues one output row; ``x`` (None: the row has no prediction) goes
    through ``run(list of x) -> outputs`` with the others of its group, then the row is written
    as ``fill(cells, output, tag)``.  Every group but the last holds ``size`` inputs."""

    def __init__(self, run, fill, writer, size=None):
        self.run, self.fill, self.writer = run, fill, writer
        self.size = size or PREDICT_ROWS
        self.queue: list = []
        self.inputs = 0
        self.written = 0

    def add(self, cells, x=None, tag=None) -> None:
        self.queue.append((cells, x, tag))
        if x is not None:
            self.inputs += 1
            if self.inputs == self.size:
                self.flush()

    def flush(self) -> None:
        xs = [x for _, x, _ in self.queue if x is not None]
        outs = iter(self.run(xs) if xs else ())
        self.writer.writerows(cells if x is None else self.fill(cells, next(outs), tag)
                              for cells, x, tag in self.queue)
        self.written += len(self.queue)
        self.queue, self.inputs = [], 0


def windows(series, window, horizon):
    """(X (n, window), y (n, horizon)): every ``window`` values and the ``horizon`` after them,
    as read-only views of ``series`` (no copy)."""
    series = np.asarray(series)
    n = len(series) - window - horizon + 1
    return (sliding_window_view(series, window)[:n],
            sliding_window_view(series[window:], horizon)[:n])


def _chunks(values):
    """float64 arrays of up to CHUNK values from an iterator of floats."""
    while len(chunk := np.fromiter(islice(values, CHUNK), np.float64)):
        yield chunk


def _scaled(scaler, chunks, n) -> np.ndarray:
    """The ``n`` values of ``chunks`` (emptied as it goes) scaled, as one float64 array."""
    out = np.empty(n)
    at = 0
    for i, c in enumerate(chunks):
        out[at:at + len(c)] = scaler.transform(c)
        at += len(c)
        chunks[i] = None
    return out


class ForecastTask(Task):
    """Predict the next ``horizon`` values of numeric series from ``window`` past values."""
    name = "forecast"
    defaults: ClassVar[dict] = {"model": "simple_rnn", "epochs": 20, "units": 16,
                                "learning_rate": 0.01}
    loss = "mse"
    metrics = None
    missing_choices: ClassVar[tuple] = ("error", "drop", "ffill")

    def __init__(self, column=None, window=None, horizon=1, scaler=None, series=None,
                 missing="error"):
        self.column = column
        self.window = window
        self.horizon = horizon
        self.scaler = scaler
        self.series = series
        self.missing = check_missing(missing, self.missing_choices)

    @classmethod
    def from_options(cls, column=None, window=None, horizon=None, text_column=None,
                     label_column=None, missing="error", **_):
        if text_column is not None or label_column is not None:
            raise AppError("--text-column/--label-column are for --task classify")
        return cls(column=column, window=window, horizon=1 if horizon is None else horizon,
                   missing=missing)

    @classmethod
    def from_config(cls, config):
        return cls(column=config["column"], window=config["window"], horizon=config["horizon"],
                   scaler=MinMaxScaler.from_config(config["scaler"]),
                   series=config.get("series"), missing=config.get("missing", "error"))

    def get_config(self):
        return {"window": self.window, "horizon": self.horizon, "column": self.column,
                "series": self.series, "scaler": self.scaler.get_config(),
                "missing": self.missing}

    def _check_sizes(self, window):
        self.window = option_int("--window", window)
        self.horizon = option_int("--horizon", self.horizon)
        return self.window, self.horizon, self.window + self.horizon

    def fit_data(self, data):
        if self.column is not None:
            return self._fit_column(data)
        return self._fit_rows(data)

    def _fit_column(self, data):
        """One series in a column: X and y are views of the scaled series (no windows copied)."""
        column = self.column
        if self.window is None:
            raise AppError("--task forecast needs --window W (the number of past values the "
                           "model sees)")
        chunks = []
        with CsvFile(data) as f:
            for c in _chunks(column_values(f, column, self.missing)):
                blank = np.isnan(c)
                chunks.append(c[~blank] if blank.any() else c)
        n = sum(len(c) for c in chunks)
        window, horizon, need = self._check_sizes(self.window)
        if n < need:
            raise AppError(f"column {column!r} has {n} values: too short for --window {window} "
                           f"+ --horizon {horizon} (needs at least {need})")
        lo = min(float(c.min()) for c in chunks if len(c))
        hi = max(float(c.max()) for c in chunks if len(c))
        scaler = MinMaxScaler(feature_range=(-1, 1), axis=None)  # one scale for all values
        scaler.fit(np.array([lo, hi]))                            # (depends on min and max only)
        X, y = windows(_scaled(scaler, chunks, n), window, horizon)
        self.scaler, self.series = scaler, 1
        return X[:, :, None], y

    def _fit_rows(self, data):
        """One series per row: the windows of every row, copied into one array (in the model's
        float type, which its first layer would cast them to; the targets keep float64, which
        the loss uses as given)."""
        series, names = [], []
        with CsvFile(data) as f:
            for _, name, s in row_series(f, has_name_column(data), self.missing):
                series.append(s)
                names.append(name)
        window = self.window
        if window is None:
            lengths = {len(s) for s in series}
            if len(lengths) != 1:
                raise AppError("--task forecast needs --window W (the number of past values "
                               "the model sees)")
            window = lengths.pop() - self.horizon  # the lecture's layout: all but the last
        window, horizon, need = self._check_sizes(window)
        for s, name in zip(series, names):
            if len(s) < need:
                raise AppError(f"series {name!r} has {len(s)} values: too short for --window "
                               f"{window} + --horizon {horizon} (needs at least {need})")
        scaler = MinMaxScaler(feature_range=(-1, 1), axis=None)  # one scale for all values
        scaler.fit(np.array([min(s.min() for s in series), max(s.max() for s in series)]))
        total = sum(len(s) - need + 1 for s in series)
        X = np.empty((total, window, 1), config.floatx())
        y = np.empty((total, horizon))
        at = 0
        for i, s in enumerate(series):
            xs, ys = windows(scaler.transform(s), window, horizon)
            X[at:at + len(xs), :, 0] = xs
            y[at:at + len(xs)] = ys
            at += len(xs)
            series[i] = None
        self.scaler, self.series = scaler, len(names)
        return X, y

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
        p = model.predict(scaled.reshape(len(xs), window, 1), batch_size=PREDICT_BATCH,
                          verbose=0)
        p = scaler.inverse_transform(np.asarray(p, dtype=np.float64).reshape(-1))
        return p.reshape(len(xs), horizon)

    def predict(self, model, data, writer):
        cols = [f"forecast_{k}" for k in range(1, self.horizon + 1)]
        order = InOrder(lambda xs: self._run(model, np.stack(xs)),
                        lambda cells, p, _: cells + [_fmt(x) for x in p], writer)
        if self.column is not None:
            writer.writerow(["row", self.column] + cols)
            self._predict_column(data, order)
        else:
            names = has_name_column(data)
            with CsvFile(data) as f:
                writer.writerow([(f.header[0] or "name") if names else "row"] + cols)
                for _, name, s in row_series(f, names, self.missing):
                    if len(s) < self.window:
                        raise AppError(f"series {name!r} of {str(data)!r} has {len(s)} values: "
                                       f"too short for the model's window of {self.window}")
                    order.add([name], s[-self.window:])
        order.flush()
        return order.written, ""

    def _predict_column(self, data, order):
        """Row i: the forecast from the ``window`` values ending at it (none before the
        ``window``-th value, nor on a blank row skipped by ``--missing drop``)."""
        window, column = self.window, self.column
        none = [""] * self.horizon
        tail = np.empty(0)                           # the last window-1 values seen
        row = seen = 0
        with CsvFile(data) as f:
            for c in _chunks(column_values(f, column, self.missing)):
                ext = np.concatenate([tail, c[~np.isnan(c)]])
                views = sliding_window_view(ext, window) if len(ext) >= window else None
                at = len(tail)                       # position in ext of the next value
                for v in c.tolist():
                    row += 1
                    if v != v:                       # NaN: a blank cell skipped
                        order.add([str(row), ""] + none)
                        continue
                    seen += 1
                    cells = [str(row), _fmt(v)]
                    if seen >= window:
                        order.add(cells, views[at - window + 1])
                    else:
                        order.add(cells + none)
                    at += 1
                tail = ext[len(ext) - window + 1:] if window > 1 else ext[:0]
        if seen < window:
            raise AppError(f"column {column!r} of {str(data)!r} has {seen} values: too short for "
                           f"the model's window of {window}")


class ClassifyTask(Task):
    """Binary text classification: a text column and a label column with two values."""
    name = "classify"
    defaults: ClassVar[dict] = {"model": "lstm", "epochs": 5, "units": 16,
                                "learning_rate": 0.005}
    loss = "binary_crossentropy"
    metrics: ClassVar[list] = ["accuracy"]
    missing_choices: ClassVar[tuple] = ("error", "drop")

    def __init__(self, text_column, label_column, max_features=10000, seq_len=100,
                 tokenizer=None, labels=None, missing="error"):
        self.text_column = text_column
        self.label_column = label_column
        self.max_features = max_features
        self.seq_len = seq_len
        self.tokenizer = tokenizer
        self.labels = labels
        self.missing = check_missing(missing, self.missing_choices)

    @classmethod
    def from_options(cls, text_column=None, label_column=None, max_features=10000,
                     seq_len=100, column=None, window=None, horizon=None, missing="error", **_):
        if window is not None or column is not None or horizon is not None:
            raise AppError("--window/--horizon/--column are for --task forecast")
        if text_column is None or label_column is None:
            raise AppError("--task classify needs --text-column and --label-column")
        if missing == "ffill":
            raise AppError("--missing ffill is for --task forecast (a text or a label is not "
                           "carried over from the row before); use --missing drop or error")
        return cls(text_column, label_column, option_int("--max-features", max_features),
                   option_int("--seq-len", seq_len), missing=missing)

    @classmethod
    def from_config(cls, config):
        return cls(config["text_column"], config["label_column"], config["max_features"],
                   config["seq_len"], tokenizer=tokenizer_from_json(config["tokenizer"]),
                   labels=config["labels"], missing=config.get("missing", "error"))

    def get_config(self):
        return {"text_column": self.text_column, "label_column": self.label_column,
                "labels": self.labels, "max_features": self.max_features,
                "seq_len": self.seq_len, "padding": "pre", "truncating": "pre",
                "tokenizer": self.tokenizer.to_json(), "missing": self.missing}

    def _pad(self, texts):
        return pad_sequences(self.tokenizer.texts_to_sequences(texts), maxlen=self.seq_len,
                             padding="pre", truncating="pre")

    def _texts(self, data, labels=False):
        """Yield lists of up to TEXT_CHUNK texts of the training rows (a second pass: the
        rows kept by the first); with ``labels``, (texts, labels) pairs."""
        with CsvFile(data) as f:
            rows = ((t, lab) for _, t, lab in text_rows(
                f, self.text_column, self.label_column, True, self.missing)
                if t is not None and lab is not None)
            while chunk := list(islice(rows, TEXT_CHUNK)):
                yield chunk if labels else [t for t, _ in chunk]

    def fit_data(self, data):
        """Two passes over the file: the labels and the vocabulary, then the sequences."""
        seen, ids = {}, bytearray()
        self.tokenizer = Tokenizer(num_words=self.max_features)
        with CsvFile(data) as f:
            for line, text, label in text_rows(f, self.text_column, self.label_column, True,
                                               self.missing):
                if text is None or label is None:
                    continue
                k = seen.get(label)
                if k is None:
                    if len(seen) == 2:
                        a, b = sorted(seen)
                        raise AppError(f"labels in column {self.label_column!r} of "
                                       f"{str(data)!r} are not binary: line {line} holds "
                                       f"{label!r}, a third value after {a!r} and {b!r}; a "
                                       "binary task needs exactly two")
                    k = seen[label] = len(seen)
                ids.append(k)
        self.labels = binary_label_names(seen, data, self.label_column)
        y = np.frombuffer(bytes(ids), np.uint8).astype(np.int64)
        if self.labels[0] != next(iter(seen)):          # first seen is not the label 0
            y = 1 - y
        del ids
        for texts in self._texts(data):
            self.tokenizer.fit_on_texts(texts)
            self.tokenizer.clear_cache()
        X = np.empty((len(y), self.seq_len), np.int32)
        at = 0
        for texts in self._texts(data):
            X[at:at + len(texts)] = self._pad(texts)
            at += len(texts)
        return X, y

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

    def predict(self, model, data, writer):
        names = self.labels
        known = [0, 0]                                   # labelled rows, correct ones

        def run(texts):
            p = model.predict(self._pad(texts), batch_size=PREDICT_BATCH, verbose=0)
            return np.asarray(p, dtype=np.float64).reshape(-1)

        def fill(cells, q, raw):
            label = names[int(q >= 0.5)]
            if raw in names:
                known[0] += 1
                known[1] += label == raw
            return cells + [_fmt(q), label]

        writer.writerow(["row", "probability", "label"])
        order = InOrder(run, fill, writer)
        with CsvFile(data) as f:
            for _, text, raw in text_rows(f, self.text_column, self.label_column, False,
                                          self.missing):
                row = str(f.rows_read)
                if text is None:
                    order.add([row, "", ""])
                else:
                    order.add([row], text, raw)
            has_labels = self.label_column in f.header
        order.flush()
        note = ""
        if has_labels and known[0]:
            note = (f"accuracy on the {known[0]:,} labelled rows (column "
                    f"{self.label_column!r}): {known[1] / known[0]:.3f}")
        return order.written, note
