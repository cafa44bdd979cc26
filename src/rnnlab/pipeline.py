"""Train on a CSV and predict from one saved file: the engine behind ``rnnlab train`` / ``predict``.

A *bundle* is one zip file (no pickle) holding everything ``predict`` needs:

* ``bundle.json``   format tag and version, the task, the model kind, the preprocessing (tokenizer
  JSON or MinMaxScaler config, window/horizon/column or text/label columns, label names) and a
  record of the training run;
* ``model.rnnlab``  the bytes of ``model.save(...)`` (itself a checked zip of config + weights);
* ``manifest.json`` the SHA-256 of both members, so a truncated or edited bundle is refused.

It is written atomically (temporary file in the destination folder, then ``os.replace``): an error
at any point leaves no partial file behind.

CSV rules (read with the stdlib ``csv`` module; the first line is always a header):

* ``forecast`` with ``column``: that column, top to bottom, is one numeric series.  Training uses
  every window of ``window`` values followed by ``horizon`` values.  ``predict`` writes one row per
  input row: the ``horizon`` values forecast after that row from the ``window`` values ending at it
  (empty for the first ``window - 1`` rows); the last row holds the forecast after the series' end.
* ``forecast`` without ``column`` (the lecture's file layout): each row is one series, left to
  right.  The first column is the row's name (e.g. ``Fortune500``, a ticker) when any of its cells
  is not a number; every other cell must be a number, except that trailing empty cells are allowed
  (series of different lengths).  ``predict`` writes one row per input row: the ``horizon`` values
  after the end of that row's series, from its last ``window`` values.
* ``classify``: a text column and, for training, a label column with exactly two distinct values.
  Numbers map in numeric order (smaller → 0), anything else in alphabetical order ("neg" → 0,
  "pos" → 1); the names are kept, so predictions use the file's own label values.

Values are scaled by a MinMaxScaler to [-1, 1] fitted on the training values (the lecture's scale)
and scaled back on prediction.  Texts become integer sequences with the Tokenizer (``max_features``
most frequent words) padded/truncated at the front to ``seq_len`` (the lecture's masked-LSTM
setup: a review's last words are kept and padding is masked).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "rnnlab-bundle"
FORMAT_VERSION = 1
TASKS = ("forecast", "classify")
MODELS = ("simple_rnn", "lstm", "gru", "conv1d_rnn", "mlp")
DEFAULTS = {
    "forecast": {"model": "simple_rnn", "epochs": 20, "units": 16, "learning_rate": 0.01},
    "classify": {"model": "lstm", "epochs": 5, "units": 16, "learning_rate": 0.005},
}
EMBED_DIM = 50


class PipelineError(ValueError):
    """Bad input for train/predict (file, column, values, options): the message says which."""


# ----------------------------------------------------------------------------- CSV input
def read_csv(path) -> tuple[list[str], list[list[str]]]:
    """(header, data rows) of a CSV file; blank lines are skipped."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise PipelineError(f"data file {str(path)!r} is not a file")
    csv.field_size_limit(1 << 30)  # long reviews are legitimate
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError as e:
        raise PipelineError(f"{str(path)!r} is not UTF-8 text: {e.reason} at byte {e.start}") \
            from None
    except csv.Error as e:
        raise PipelineError(f"{str(path)!r} is not a valid CSV file: {e}") from None
    except OSError as e:
        raise PipelineError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    if not rows:
        raise PipelineError(f"{str(path)!r} is empty: expected a header line and data rows")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if not body:
        raise PipelineError(f"{str(path)!r} has a header but no data rows")
    return header, body


def _column_index(header, name, path, option) -> int:
    if name not in header:
        shown = ", ".join(repr(h) for h in header[:10]) + (", ..." if len(header) > 10 else "")
        raise PipelineError(f"column {name!r} ({option}) not found in {str(path)!r}; its columns "
                            f"are {shown}")
    return header.index(name)


def _number(cell: str):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _is_number(cell: str) -> bool:
    return _number(cell.strip()) is not None


@dataclass
class SeriesTable:
    """Numeric series read from a CSV: ``series`` (list of 1-D float64), one name per output row."""
    series: list
    names: list
    name_header: str
    column: str | None


def read_series(path, column=None) -> SeriesTable:
    """The series of a forecast CSV under the rules in the module docstring."""
    header, body = read_csv(path)
    if column is not None:
        j = _column_index(header, column, path, "--column")
        values = []
        for i, row in enumerate(body, start=2):
            cell = row[j].strip() if j < len(row) else ""
            v = _number(cell)
            if v is None:
                raise PipelineError(f"{str(path)!r} line {i}: column {column!r} holds {cell!r}, "
                                    "not a number (the series must be numeric)")
            values.append(v)
        return SeriesTable([np.array(values)], [str(k) for k in range(1, len(body) + 1)], "row",
                           column)
    has_names = any(not _is_number(r[0]) for r in body)
    first = 1 if has_names else 0
    series, names = [], []
    for i, row in enumerate(body, start=2):
        cells = [c.strip() for c in row[first:]]
        while cells and cells[-1] == "":
            cells.pop()
        values = []
        for k, cell in enumerate(cells, start=first):
            v = _number(cell)
            if v is None:
                col = header[k] if k < len(header) else f"#{k + 1}"
                raise PipelineError(f"{str(path)!r} line {i}, column {col!r}: {cell!r} is not a "
                                    "number (each row must be a numeric series; use --column C "
                                    "for a series in one column)")
            values.append(v)
        if not values:
            raise PipelineError(f"{str(path)!r} line {i}: the row holds no values")
        series.append(np.array(values))
        names.append(row[0].strip() if has_names else str(i - 1))
    name_header = (header[0] or "name") if has_names else "row"
    return SeriesTable(series, names, name_header, None)


def binary_labels(values, path, column):
    """(0/1 int array, [name of 0, name of 1]) for a column with exactly two distinct values."""
    distinct = sorted(set(values))
    if len(distinct) != 2:
        shown = ", ".join(repr(v) for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise PipelineError(f"labels in column {column!r} of {str(path)!r} are not binary: "
                            f"{len(distinct)} distinct value(s) ({shown}); a binary task needs "
                            "exactly two")
    if all(_is_number(v) for v in distinct):
        distinct.sort(key=float)
    lookup = {v: k for k, v in enumerate(distinct)}
    return np.array([lookup[v] for v in values], dtype=np.int64), distinct


def read_texts(path, text_column, label_column=None, require_labels=True):
    """(texts, raw labels or None) of a classify CSV."""
    header, body = read_csv(path)
    jt = _column_index(header, text_column, path, "--text-column")
    jl = None
    if label_column is not None and (require_labels or label_column in header):
        jl = _column_index(header, label_column, path, "--label-column")
    texts, labels = [], []
    for i, row in enumerate(body, start=2):
        if jt >= len(row) or (jl is not None and jl >= len(row)):
            raise PipelineError(f"{str(path)!r} line {i}: {len(row)} fields, fewer than the "
                                f"header's {len(header)}")
        texts.append(row[jt])
        if jl is not None:
            labels.append(row[jl].strip())
    return texts, (labels if jl is not None else None)


# ----------------------------------------------------------------------------- models
def build_model(task, kind, units, learning_rate, window=None, horizon=1, max_features=None):
    """The network for a task: a recurrent (or Conv1D/MLP) encoder and a Dense head."""
    from rnnlab import Sequential
    from rnnlab.layers import (GRU, LSTM, Conv1D, Dense, Embedding, Flatten,
                               GlobalAveragePooling1D, SimpleRNN)
    from rnnlab.optimizers import Adam
    if kind not in MODELS:
        raise PipelineError(f"unknown model {kind!r}: expected one of {', '.join(MODELS)}")
    rnn = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
    if task == "forecast":
        shape = (window, 1)
        if kind in rnn:
            layers = [rnn[kind](units, input_shape=shape)]
        elif kind == "conv1d_rnn":
            layers = [Conv1D(units, kernel_size=min(3, window), activation="relu",
                             input_shape=shape), SimpleRNN(units)]
        else:
            layers = [Flatten(input_shape=shape), Dense(2 * units, activation="relu")]
        layers.append(Dense(horizon))
        loss = "mse"
        metrics = None
    else:
        emb = Embedding(max_features + 1, EMBED_DIM, mask_zero=kind != "conv1d_rnn")
        if kind in rnn:
            layers = [emb, rnn[kind](units)]
        elif kind == "conv1d_rnn":
            layers = [emb, Conv1D(units, kernel_size=3, activation="relu"), SimpleRNN(units)]
        else:
            layers = [emb, GlobalAveragePooling1D(), Dense(units, activation="relu")]
        layers.append(Dense(1, activation="sigmoid"))
        loss = "binary_crossentropy"
        metrics = ["accuracy"]
    model = Sequential(layers)
    model.compile(optimizer=Adam(learning_rate=learning_rate), loss=loss, metrics=metrics)
    return model


class _EpochLog:
    """A Keras callback that reports each epoch's logs through ``say(epoch, logs)``."""

    def __new__(cls, say, epochs):
        from rnnlab.callbacks import Callback

        class EpochLog(Callback):
            def on_epoch_end(self, epoch, logs=None):
                say(epoch + 1, epochs, dict(logs or {}))
        return EpochLog()


# ----------------------------------------------------------------------------- bundle file
def check_writable(out) -> Path:
    """Fail early (before training) when ``out`` cannot be written."""
    out = Path(out)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise PipelineError(f"output {str(out)!r} is a directory; give a file name")
    if not folder.is_dir():
        raise PipelineError(f"cannot write {str(out)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise PipelineError(f"cannot write {str(out)!r}: permission denied")
    return out


def write_atomic(out, data: bytes) -> None:
    """Write bytes to ``out`` atomically (temp file + rename); errors become PipelineError."""
    from rnnlab.io import write_bytes as _write
    out = check_writable(out)
    try:
        _write(out, data)
    except OSError as e:
        raise PipelineError(f"cannot write {str(out)!r}: {e.strerror or e}") from None


def save_bundle(out, model, meta: dict) -> None:
    """Write model + metadata as one bundle file (a zip with a SHA-256 manifest), atomically."""
    from rnnlab.io import archive_bytes
    from rnnlab.models.saving import model_bytes
    write_atomic(out, archive_bytes({"bundle.json": json.dumps(meta, indent=1).encode(),
                                     "model.rnnlab": model_bytes(model)}))


def load_bundle(path):
    """(model, metadata) from a bundle written by :func:`save_bundle`; PipelineError if invalid."""
    from rnnlab.io import read_archive
    from rnnlab.models.saving import ModelFileError, load_model
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"model file {str(path)!r} does not exist")
    try:
        members = read_archive(path, "model bundle")
        meta = json.loads(members["bundle.json"])
    except (ModelFileError, KeyError, ValueError):
        raise PipelineError(f"{str(path)!r} is not an rnnlab model bundle (write one with "
                            "`rnnlab train`)") from None
    if meta.get("format") != FORMAT or "model.rnnlab" not in members:
        raise PipelineError(f"{str(path)!r} is not an rnnlab model bundle")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > FORMAT_VERSION:
        raise PipelineError(f"{str(path)!r} has bundle format version "
                            f"{meta.get('format_version')}, newer than this rnnlab understands")
    try:
        model = load_model(members["model.rnnlab"])
    except ValueError as e:
        raise PipelineError(f"{str(path)!r}: the model inside cannot be loaded: {e}") from None
    return model, meta


# ----------------------------------------------------------------------------- train
@dataclass
class TrainSummary:
    task: str
    model: str
    samples: int
    epochs: int
    loss: float
    seconds: float
    extra: dict = field(default_factory=dict)


def _check_pos(name, value, low=1):
    if value is None or isinstance(value, bool) or int(value) != value or value < low:
        raise PipelineError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def train(data, task, out, model="", epochs=None, batch_size=32, seed=0, units=None,
          learning_rate=None, column=None, window=None, horizon=None, text_column=None,
          label_column=None, max_features=10000, seq_len=100, on_epoch=None) -> TrainSummary:
    """Read ``data``, fit the model for ``task`` and save the bundle to ``out`` (see module doc)."""
    from rnnlab import __version__, config
    if task not in TASKS:
        raise PipelineError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    d = DEFAULTS[task]
    kind = model or d["model"]
    if kind not in MODELS:
        raise PipelineError(f"unknown model {kind!r}: expected one of {', '.join(MODELS)}")
    epochs = _check_pos("--epochs", d["epochs"] if epochs is None else epochs)
    batch_size = _check_pos("--batch-size", batch_size)
    units = _check_pos("--units", d["units"] if units is None else units)
    lr = d["learning_rate"] if learning_rate is None else float(learning_rate)
    if not (lr > 0 and math.isfinite(lr)):
        raise PipelineError(f"--learning-rate must be a positive number, got {learning_rate!r}")
    seed = _check_pos("--seed", seed, 0)
    check_writable(out)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "rnnlab_version": __version__,
            "task": task, "model": kind}
    if task == "forecast":
        if text_column is not None or label_column is not None:
            raise PipelineError("--text-column/--label-column are for --task classify")
        horizon = 1 if horizon is None else horizon
        X, y, scaler, info = _forecast_xy(data, column, window, horizon)
        meta["forecast"] = {**info, "scaler": scaler.get_config()}
        build = dict(window=info["window"], horizon=info["horizon"])
    else:
        if window is not None or column is not None or horizon is not None:
            raise PipelineError("--window/--horizon/--column are for --task forecast")
        if text_column is None or label_column is None:
            raise PipelineError("--task classify needs --text-column and --label-column")
        max_features = _check_pos("--max-features", max_features)
        seq_len = _check_pos("--seq-len", seq_len)
        X, y, tokenizer, names = _classify_xy(data, text_column, label_column, max_features,
                                              seq_len)
        meta["classify"] = {"text_column": text_column, "label_column": label_column,
                            "labels": names, "max_features": max_features, "seq_len": seq_len,
                            "padding": "pre", "truncating": "pre",
                            "tokenizer": tokenizer.to_json()}
        # no larger an embedding than the vocabulary needs (indices stay < max_features)
        build = dict(max_features=min(max_features, len(tokenizer.word_index)))
    config.set_random_seed(seed)
    net = build_model(task, kind, units, lr, **build)
    cbs = [_EpochLog(on_epoch, epochs)] if on_epoch else None
    t0 = time.perf_counter()
    hist = net.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=cbs)
    seconds = time.perf_counter() - t0
    loss = float(hist.history["loss"][-1])
    if not math.isfinite(loss):
        raise PipelineError(f"training diverged (loss {loss}); try a smaller --learning-rate")
    meta["training"] = {"data": Path(data).name, "samples": int(len(X)), "epochs": epochs,
                        "batch_size": batch_size, "seed": seed, "units": units,
                        "learning_rate": lr, "final_loss": loss,
                        "history": {k: [float(v) for v in vs] for k, vs in hist.history.items()},
                        "seconds": round(seconds, 3)}
    save_bundle(out, net, meta)
    extra = {k: float(v[-1]) for k, v in hist.history.items() if k != "loss"}
    return TrainSummary(task, kind, int(len(X)), epochs, loss, seconds, extra)


def _forecast_xy(data, column, window, horizon):
    from rnnlab.preprocessing.sequence import MinMaxScaler
    table = read_series(data, column)
    if window is None:
        lengths = {len(s) for s in table.series}
        if column is not None or len(lengths) != 1:
            raise PipelineError("--task forecast needs --window W (the number of past values "
                                "the model sees)")
        window = lengths.pop() - horizon  # the lecture's layout: all but the last value(s)
    window = _check_pos("--window", window)
    horizon = _check_pos("--horizon", horizon)
    need = window + horizon
    for s, name in zip(table.series, table.names):
        if len(s) < need:
            where = (f"column {column!r} has {len(s)} values" if column is not None
                     else f"series {name!r} has {len(s)} values")
            raise PipelineError(f"{where}: too short for --window {window} + --horizon {horizon} "
                                f"(needs at least {need})")
    scaler = MinMaxScaler(feature_range=(-1, 1), axis=None)  # one scale for all values
    scaler.fit(np.concatenate(table.series))
    xs, ys = [], []
    for s in table.series:
        scaled = scaler.transform(s)
        X, y = windows(scaled, window, horizon)
        xs.append(X)
        ys.append(y)
    X = np.concatenate(xs)[:, :, None]
    y = np.concatenate(ys)
    info = {"window": window, "horizon": horizon, "column": column, "series": len(table.series)}
    return X, y, scaler, info


def windows(series, window, horizon):
    """(X (n, window), y (n, horizon)): every ``window`` values and the ``horizon`` after them."""
    from rnnlab.preprocessing.sequence import timeseries_windows
    X, y = timeseries_windows(np.asarray(series, dtype=np.float64), window, horizon)  # (n, w, 1)
    X = np.asarray(X, dtype=np.float64).reshape(len(X), window)
    y = np.asarray(y, dtype=np.float64).reshape(len(X), horizon)
    return X, y


def _classify_xy(data, text_column, label_column, max_features, seq_len):
    from rnnlab.preprocessing.text import Tokenizer
    texts, raw = read_texts(data, text_column, label_column)
    y, names = binary_labels(raw, data, label_column)
    tokenizer = Tokenizer(num_words=max_features)
    tokenizer.fit_on_texts(texts)
    return _pad(tokenizer, texts, seq_len), y, tokenizer, names


def _pad(tokenizer, texts, seq_len):
    from rnnlab.preprocessing.sequence import pad_sequences
    return pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=seq_len, padding="pre",
                         truncating="pre")


# ----------------------------------------------------------------------------- predict
def _fmt(v) -> str:
    return format(float(v), ".7g")


def predict(bundle, data):
    """(header, rows of strings, note) for ``data`` with the bundle's model: one row per input row.

    ``note`` is a line for the console (e.g. the accuracy when the file has the label column).
    """
    model, meta = load_bundle(bundle)
    if meta["task"] == "forecast":
        return _predict_forecast(model, meta["forecast"], data)
    if meta["task"] == "classify":
        return _predict_classify(model, meta["classify"], data)
    raise PipelineError(f"{str(bundle)!r}: unknown task {meta['task']!r}")


def _predict_forecast(model, info, data):
    from rnnlab.preprocessing.sequence import MinMaxScaler
    scaler = MinMaxScaler.from_config(info["scaler"])
    window, horizon, column = info["window"], info["horizon"], info["column"]
    table = read_series(data, column)
    cols = [f"forecast_{k}" for k in range(1, horizon + 1)]

    def run(xs):
        scaled = scaler.transform(np.asarray(xs, dtype=np.float64).reshape(-1))
        p = model.predict(scaled.reshape(len(xs), window, 1), verbose=0)
        p = scaler.inverse_transform(np.asarray(p, dtype=np.float64).reshape(-1))
        return p.reshape(len(xs), horizon)

    if column is not None:
        s = table.series[0]
        if len(s) < window:
            raise PipelineError(f"column {column!r} of {str(data)!r} has {len(s)} values: too "
                                f"short for the model's window of {window}")
        starts = np.arange(len(s) - window + 1)
        preds = run(np.stack([s[i:i + window] for i in starts]))
        rows = [[str(i + 1), _fmt(v)] + ([""] * horizon) for i, v in enumerate(s)]
        for i, p in zip(starts, preds):
            rows[i + window - 1][2:] = [_fmt(x) for x in p]
        return ["row", column] + cols, rows, ""
    for s, name in zip(table.series, table.names):
        if len(s) < window:
            raise PipelineError(f"series {name!r} of {str(data)!r} has {len(s)} values: too short "
                                f"for the model's window of {window}")
    preds = run(np.stack([s[-window:] for s in table.series]))
    rows = [[name] + [_fmt(x) for x in p] for name, p in zip(table.names, preds)]
    return [table.name_header] + cols, rows, ""


def _predict_classify(model, info, data):
    from rnnlab.preprocessing.text import tokenizer_from_json
    texts, raw = read_texts(data, info["text_column"], info["label_column"],
                            require_labels=False)
    tokenizer = tokenizer_from_json(info["tokenizer"])
    X = _pad(tokenizer, texts, info["seq_len"])
    p = np.asarray(model.predict(X, verbose=0), dtype=np.float64).reshape(-1)
    names = info["labels"]
    labels = (p >= 0.5).astype(int)
    rows = [[str(i + 1), _fmt(q), names[k]] for i, (q, k) in enumerate(zip(p, labels))]
    note = ""
    if raw is not None:
        known = [(k, r) for k, r in zip(labels, raw) if r in names]
        if known:
            acc = np.mean([names[k] == r for k, r in known])
            note = (f"accuracy on the {len(known):,} labelled rows (column "
                    f"{info['label_column']!r}): {acc:.3f}")
    return ["row", "probability", "label"], rows, note


def to_csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
