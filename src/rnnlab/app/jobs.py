"""The command's jobs: train a model on a CSV and save its bundle; predict from a bundle."""
from __future__ import annotations

import csv
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rnnlab import __version__, config
from rnnlab.app.bundle import FORMAT, FORMAT_VERSION, load_bundle, save_bundle
from rnnlab.app.catalog import TASKS, get_task
from rnnlab.app.errors import AppError, option_int, option_positive
from rnnlab.app.langmodel import LanguageModelTask, continuation
from rnnlab.app.output import check_not_input, check_writable, open_output
from rnnlab.app.tasks import check_model
from rnnlab.callbacks import Callback

__all__ = ["Prediction", "TrainProgress", "TrainSummary", "generate", "predict", "train"]

#: Predictions for standard output stay in memory up to this size, then spill to a temporary
#: file: they are printed only once all are made, so an error prints nothing.
SPOOL_BYTES = 8 << 20


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


class TrainProgress(Callback):
    """A tqdm bar over all the training batches of a fit, on standard error (tqdm hides it when
    ``disable`` is None and standard error is not a terminal)."""

    def __init__(self, disable=None):
        super().__init__()
        self.disable, self.bar = disable, None

    def on_train_begin(self, logs=None):
        total = (self.params.get("epochs") or 0) * (self.params.get("steps") or 0)
        self.bar = tqdm(total=total or None, unit="batch", file=sys.stderr, leave=False,
                        disable=self.disable, desc="training")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_train_end(self, logs=None):
        self.bar.close()


def train(data, task, out, *, model="", epochs=None, batch_size=32, seed=0, units=None,
          learning_rate=None, column=None, window=None, horizon=None, text_column=None,
          label_column=None, max_features=10000, seq_len=100, missing="error", level=None,
          on_epoch=None, progress=None) -> TrainSummary:
    """Read ``data``, fit the model for ``task`` and save the bundle to ``out``.

    See :mod:`rnnlab.app.tasks` for what each task reads and builds, and
    :mod:`rnnlab.app.csvfile` for ``missing`` (what a blank cell becomes); ``on_epoch(epoch,
    epochs, logs)`` is called after each epoch, and ``progress`` (a Callback, e.g. a progress
    bar) is added to the fit.  AppError for any bad input (``out`` naming the data file too);
    nothing is written then."""
    cls = get_task(task)
    if level is not None and cls is not LanguageModelTask:
        raise AppError("--level is for --task language-model")
    d = cls.defaults
    kind = check_model(model or d["model"])
    epochs = option_int("--epochs", d["epochs"] if epochs is None else epochs)
    batch_size = option_int("--batch-size", batch_size)
    units = option_int("--units", d["units"] if units is None else units)
    lr = option_positive("--learning-rate",
                         d["learning_rate"] if learning_rate is None else learning_rate)
    seed = option_int("--seed", seed, 0)
    check_writable(out)
    check_not_input(out, "--out", {"--data": data})
    job = cls.from_options(column=column, window=window, horizon=horizon,
                           text_column=text_column, label_column=label_column,
                           max_features=max_features, seq_len=seq_len, missing=missing,
                           level=level)
    X, y = job.fit_data(data)
    config.set_random_seed(seed)
    net = job.build_model(kind, units, lr)
    cbs = [EpochLog(on_epoch, epochs)] if on_epoch else []
    cbs += [progress] if progress is not None else []
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
    """What ``predict`` made: the number of CSV ``rows`` written (after the header), a console
    ``note`` (e.g. the accuracy on labelled rows) and the file written (None: standard
    output)."""
    rows: int
    note: str
    out: Path | None = None


def predict(bundle, data, out=None, *, missing=None, echo=None) -> Prediction:
    """Predict ``data`` with the bundle's model, one row per input row, written as CSV to ``out``
    atomically, or (``out`` None) to ``echo(text)`` (default: standard output) once all rows
    are made.  ``missing`` overrides the model's setting for blank cells.

    ``out`` is checked before any work, and may be neither ``bundle`` nor ``data``.  The file
    is read and the predictions written as a stream: a few thousand rows in memory at a time."""
    if out is not None:
        out = check_writable(out)
        check_not_input(out, "--out", {"--model": bundle, "--data": data})
    model, meta = load_bundle(bundle)
    task = meta.get("task")
    if not isinstance(task, str) or task not in TASKS:
        raise AppError(f"{str(bundle)!r}: unknown task {task!r}")
    try:
        job = TASKS[task].from_config(meta[task])
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise AppError(f"{str(bundle)!r}: the {task} settings in the bundle are not valid "
                       f"({type(e).__name__}: {e})") from None
    if missing is not None:
        job.use_missing(missing)
    if out is not None:
        with open_output(out) as fh:
            rows, note = job.predict(model, data, csv.writer(fh, lineterminator="\n"))
        return Prediction(rows, note, out)
    echo = echo or sys.stdout.write
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="utf-8", newline="") as fh:
        rows, note = job.predict(model, data, csv.writer(fh, lineterminator="\n"))
        fh.seek(0)
        while text := fh.read(1 << 16):
            echo(text)
    return Prediction(rows, note, None)


def generate(bundle, prompt, length, *, temperature=1.0, top_k=None, top_p=None, greedy=False,
             seed=None):
    """An iterator over ``length`` tokens continuing ``prompt``, from a language-model bundle
    (``rnnlab train --task language-model``); AppError, before any token, for another kind of
    bundle or a bad argument (an unseen character in the prompt, temperature <= 0, top_p
    outside (0, 1], ...)."""
    model, meta = load_bundle(bundle)
    task = meta.get("task")
    if task != LanguageModelTask.name:
        raise AppError(f"{str(bundle)!r} is a {task!r} model, not a language model: train one "
                       "with `rnnlab train --task language-model`")
    try:
        job = LanguageModelTask.from_config(meta[task])
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise AppError(f"{str(bundle)!r}: the language-model settings in the bundle are not "
                       f"valid ({type(e).__name__}: {e})") from None
    return continuation(model, job, prompt, length, temperature=temperature, top_k=top_k,
                        top_p=top_p, greedy=greedy, seed=seed)
