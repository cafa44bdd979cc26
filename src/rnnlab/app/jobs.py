"""The command's jobs: train a model on a CSV and save its bundle; predict from a bundle."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab import __version__, config
from rnnlab.app.bundle import FORMAT, FORMAT_VERSION, load_bundle, save_bundle
from rnnlab.app.csvfile import to_csv
from rnnlab.app.errors import AppError, option_int, option_positive
from rnnlab.app.output import check_writable, write_file
from rnnlab.app.tasks import TASKS, check_model, get_task
from rnnlab.callbacks import Callback

__all__ = ["Prediction", "TrainSummary", "predict", "train"]


@dataclass
class TrainSummary:
    task: str
    model: str
    samples: int
    epochs: int
    loss: float
    seconds: float
    extra: dict = field(default_factory=dict)


class EpochLog(Callback):
    """Reports each epoch's logs through ``say(epoch, epochs, logs)`` (epochs counted from 1)."""

    def __init__(self, say, epochs):
        super().__init__()
        self.say = say
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        self.say(epoch + 1, self.epochs, dict(logs or {}))


def train(data, task, out, *, model="", epochs=None, batch_size=32, seed=0, units=None,
          learning_rate=None, column=None, window=None, horizon=None, text_column=None,
          label_column=None, max_features=10000, seq_len=100, on_epoch=None) -> TrainSummary:
    """Read ``data``, fit the model for ``task`` and save the bundle to ``out``.

    See :mod:`rnnlab.app.tasks` for what each task reads and builds; ``on_epoch(epoch, epochs,
    logs)`` is called after each epoch.  AppError for any bad input; nothing is written then."""
    cls = get_task(task)
    d = cls.defaults
    kind = check_model(model or d["model"])
    epochs = option_int("--epochs", d["epochs"] if epochs is None else epochs)
    batch_size = option_int("--batch-size", batch_size)
    units = option_int("--units", d["units"] if units is None else units)
    lr = option_positive("--learning-rate",
                         d["learning_rate"] if learning_rate is None else learning_rate)
    seed = option_int("--seed", seed, 0)
    check_writable(out)
    job = cls.from_options(column=column, window=window, horizon=horizon,
                           text_column=text_column, label_column=label_column,
                           max_features=max_features, seq_len=seq_len)
    X, y = job.fit_data(data)
    config.set_random_seed(seed)
    net = job.build_model(kind, units, lr)
    cbs = [EpochLog(on_epoch, epochs)] if on_epoch else None
    t0 = time.perf_counter()
    hist = net.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=cbs)
    seconds = time.perf_counter() - t0
    loss = float(hist.history["loss"][-1])
    if not math.isfinite(loss):
        raise AppError(f"training diverged (loss {loss}); try a smaller --learning-rate")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "rnnlab_version": __version__,
            "task": task, "model": kind, task: job.get_config(),
            "training": {"data": Path(data).name, "samples": len(X), "epochs": epochs,
                         "batch_size": batch_size, "seed": seed, "units": units,
                         "learning_rate": lr, "final_loss": loss,
                         "history": {k: [float(v) for v in vs]
                                     for k, vs in hist.history.items()},
                         "seconds": round(seconds, 3)}}
    save_bundle(out, net, meta)
    extra = {k: float(v[-1]) for k, v in hist.history.items() if k != "loss"}
    return TrainSummary(task, kind, len(X), epochs, loss, seconds, extra)


@dataclass
class Prediction:
    """What ``predict`` made: the CSV ``header``/``rows`` (and their ``text``), a console
    ``note`` (e.g. the accuracy on labelled rows) and the file written (None: not written)."""
    header: list
    rows: list
    note: str
    text: str
    out: Path | None = None


def predict(bundle, data, out=None) -> Prediction:
    """Predict ``data`` with the bundle's model, one row per input row; write the CSV to ``out``
    atomically when given (checked before any work)."""
    if out is not None:
        out = check_writable(out)
    model, meta = load_bundle(bundle)
    task = meta.get("task")
    if task not in TASKS:
        raise AppError(f"{str(bundle)!r}: unknown task {task!r}")
    header, rows, note = TASKS[task].from_config(meta[task]).predict(model, data)
    text = to_csv(header, rows)
    if out is not None:
        write_file(out, text.encode())
    return Prediction(header, rows, note, text, out)
