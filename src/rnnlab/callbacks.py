"""Training callbacks with Keras's names, arguments and semantics.

A callback receives ``set_model(model)``, ``set_params(params)`` and the hooks
``on_train_begin/end``, ``on_epoch_begin/end(epoch, logs)`` and
``on_train_batch_begin/end(batch, logs)``.  Setting ``model.stop_training = True`` ends training
after the current epoch.
"""
from __future__ import annotations

import contextlib
import csv
import difflib
import inspect
import io
import json
import math
import os
import string
import time
import warnings

import numpy as np

from rnnlab import checks, config
from rnnlab import io as rio
from rnnlab.layers.base import walk


class Callback:
    #: The keys this callback adds to the epoch logs; None: not known (a user's callback may add
    #: any), so that a ModelCheckpoint filepath naming other keys is checked only when saving.
    _log_keys: tuple[str, ...] | None = None

    def __init__(self):
        self.model = None
        self.params = {}
        self._epoch_log_names = self._batch_log_names = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...


class History(Callback):
    """Records ``history[metric]`` per epoch; ``model.fit`` returns it, and ``model.history`` is
    it from the first epoch's end on (so an interrupted fit's epochs are there too, as Keras)."""

    _log_keys = ()

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []  # Keras keeps accumulating history across fit calls on the same object

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


def _monitor_mode(monitor: str, mode: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        mode = "max" if ("acc" in name or name.startswith("fmeasure") or name == "auc") else "min"
    return mode


class _Monitoring(Callback):
    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = monitor
        self.mode = _monitor_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: monitored metric {self.monitor!r} is not "
                          f"available; available: {sorted(logs or {})}", RuntimeWarning,
                          stacklevel=3)
        return value

    def _better(self, current, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta


class EarlyStopping(_Monitoring):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the weights of the best epoch are put back when training ends.
    """

    _log_keys = ()

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        if int(patience) < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.patience, self.verbose = int(patience), int(verbose)
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _format_fields(filepath: str, who: str) -> list[str]:
    """The names of ``filepath``'s replacement fields (``{epoch:02d}`` gives "epoch")."""
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as exc:
        raise ValueError(f"{who} filepath {filepath!r} is not a valid format string ({exc}); "
                         "write a literal brace as {{ or }}") from None
    names = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if not name or name.isdigit():
            raise ValueError(f"{who} filepath {filepath!r} has a positional field "
                             f"{{{field}}}: name a log key, such as {{epoch}} or {{val_loss}}")
        names.append(name)
    return names


def _checkpoint_record(members: dict) -> dict | None:
    """The ``{"monitor", "mode", "value", "epoch"}`` a ModelCheckpoint stored in a model file
    (config.json's "metadata") or a weights file (metadata.json); None if there is none."""
    try:
        if "metadata.json" in members:
            meta = json.loads(members["metadata.json"])
        else:
            meta = json.loads(members.get("config.json", b"{}")).get("metadata")
        record = meta.get("checkpoint")
    except (ValueError, AttributeError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


class _SaveFrequency:
    """Keras's ``save_freq``: "epoch", or a save every N training batches (counted across epoch
    boundaries from the start of each fit)."""

    def __init__(self, save_freq, who: str, hint: str = ""):
        if not (save_freq == "epoch" if isinstance(save_freq, str)
                else checks.is_int(save_freq) and save_freq > 0):
            raise ValueError(f"{who} save_freq must be 'epoch' or a positive number of batches, "
                             f"got {save_freq!r}{hint}")
        self.value = save_freq if isinstance(save_freq, str) else int(save_freq)
        self.by_epoch = self.value == "epoch"
        self._batches = 0

    def reset(self) -> None:
        self._batches = 0

    def batch_done(self) -> bool:
        """Count a finished batch; True when a save is due."""
        if self.by_epoch:
            return False
        self._batches += 1
        if self._batches >= self.value:
            self._batches = 0
            return True
        return False


class _SavesEvery:
    """``save_freq`` as set at construction (read-only: the schedule counts from it)."""

    @property
    def save_freq(self):
        return self._every.value


class ModelCheckpoint(_SavesEvery, _Monitoring):
    """Save the model (or its weights) after every epoch (or every ``save_freq`` batches), or
    only when ``monitor`` improves.

    ``filepath`` may contain ``{epoch}``, ``{batch}`` (with an integer ``save_freq``) and log
    keys, e.g. ``model-{epoch:02d}-{val_loss:.3f}.rnnlab``; a key that the fit will not log is an
    error when the fit starts, not after its first epoch.  Each file records the monitored value
    of the model it holds (``{"checkpoint": {"monitor", "mode", "value", "epoch"}}`` in its
    metadata), so with ``save_best_only`` a later fit writing the same file (a new callback, a new
    process) starts from that value and replaces the file only with a better model.
    ``initial_value_threshold`` (Keras's argument) is a value to beat from the start.  An existing
    file that is not an rnnlab model or weights file is never replaced.
    """

    _log_keys = ()

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode)
        self._every = _SaveFrequency(save_freq, "ModelCheckpoint")
        self.filepath = os.fspath(filepath)
        self._fields = _format_fields(self.filepath, "ModelCheckpoint")
        self.verbose, self.save_best_only = int(verbose), bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if initial_value_threshold is not None:
            initial_value_threshold = checks.number(initial_value_threshold,
                                                    "initial_value_threshold", "ModelCheckpoint")
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._epoch = 0

    # ------------------------------------------------------------------ start
    def on_train_begin(self, logs=None):
        self._check_filepath()
        self._every.reset()
        if not self._fields:
            self._resume_from(self.filepath)

    def _check_filepath(self):
        """Every field of ``filepath`` is a key the logs will have, and the folder exists."""
        fp = self.filepath
        by_batch = not self._every.by_epoch
        names = self._batch_log_names if by_batch else self._epoch_log_names
        folder = os.path.dirname(os.path.abspath(fp))
        if "{" not in os.path.dirname(fp) and not os.path.isdir(folder):
            raise FileNotFoundError(f"ModelCheckpoint cannot save to {fp!r}: folder {folder!r} "
                                    "does not exist")
        if names is None:   # a user's callback may add keys: checked when saving
            return
        allowed = {"epoch", *names} | ({"batch"} if by_batch else set())
        for field in self._fields:
            if field in allowed:
                continue
            close = ([n for n in sorted(allowed) if n.startswith(field)]   # acc: accuracy
                     or difflib.get_close_matches(field, sorted(allowed), n=1))
            if field == "batch":
                hint = " ({batch} is known only with an integer save_freq)"
            elif field.startswith("val_") and by_batch:
                hint = " (a save every save_freq batches has the training logs only)"
            elif field.startswith("val_") and not any(n.startswith("val_") for n in names):
                hint = " (val_ keys need validation_data or validation_split)"
            else:
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
            raise ValueError(f"ModelCheckpoint filepath {fp!r} uses {{{field}}}, which this "
                             f"fit does not log{hint}; it logs: {', '.join(sorted(allowed))}")
        try:
            fp.format(**{**dict.fromkeys(names, 0.0), "epoch": 1, "batch": 1})
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"ModelCheckpoint filepath {fp!r} cannot be filled in with the "
                             f"epoch (an int) and the logs (numbers): {exc}") from None

    def _resume_from(self, path):
        """An existing file at ``path`` must be an rnnlab archive (it is about to be replaced);
        with save_best_only its recorded value becomes the one to beat."""
        if not os.path.lexists(path):
            return
        if os.path.isdir(path):
            raise IsADirectoryError(f"ModelCheckpoint filepath {path!r} is a directory")
        try:
            members = rio.read_archive(path, "checkpoint")
        except (rio.ArchiveError, OSError) as exc:
            raise ValueError(f"ModelCheckpoint would replace {path!r}, which is not a readable "
                             f"rnnlab model or weights file ({exc}); move it away or choose "
                             "another filepath") from None
        if not self.save_best_only:
            return
        record = _checkpoint_record(members) or {}
        value = record.get("value")
        if (record.get("monitor"), record.get("mode")) != (self.monitor, self.mode) or not (
                checks.is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            what = (f"{record['monitor']!r} ({record.get('mode')})" if record.get("monitor")
                    else "no monitored value")
            warnings.warn(f"ModelCheckpoint: {path!r} records {what}, not {self.monitor!r} "
                          f"({self.mode}); the first epoch's model will replace it",
                          RuntimeWarning, stacklevel=3)
            return
        if self.best is None or self._better(value, self.best):
            self.best = float(value)
        # said every time: a new experiment written to an old file keeps the old model until
        # it does better, which should not go unnoticed
        warnings.warn(f"ModelCheckpoint: {path!r} holds a model with {self.monitor}={value} "
                      f"(epoch {record.get('epoch')}); only a model better than {self.best} will "
                      "replace it (another filepath starts afresh)", UserWarning, stacklevel=3)

    # ------------------------------------------------------------------ saving
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._every.batch_done():
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._every.by_epoch:
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs):
        values = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        try:
            return self.filepath.format(**values)
        except KeyError as exc:
            raise ValueError(f"ModelCheckpoint filepath {self.filepath!r} uses {{{exc.args[0]}}}"
                             f", which the logs lack; they have: {', '.join(sorted(values))}"
                             ) from None

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        current = logs.get(self.monitor)
        if self.save_best_only:
            current = self._current(logs)
            if current is None:
                return
            # NaN is never an improvement: it would stay the best, as nothing compares above it
            if math.isnan(current) or not self._better(current, self.best):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best} to "
                      f"{current}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        value = float(current) if _finite(current) else None
        meta = {"checkpoint": {"monitor": self.monitor, "mode": self.mode, "value": value,
                               "epoch": epoch + 1}}
        if self.save_weights_only:
            self.model.save_weights(path, metadata=meta)
        else:
            self.model.save(path, metadata=meta)


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _load_npz(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class BackupAndRestore(_SavesEvery, Callback):
    """Back up the training state so that a fit interrupted by a crash, an exception, Ctrl-C or
    a killed process resumes where it was (Keras 3's callback and arguments).

    At each epoch's end (or every ``save_freq`` batches) the weights, the optimizer's state (its
    slots, iterations and learning rate) and the random generators' states (rnnlab's global one,
    which shuffles and draws dropout masks, and any layer's own) are written atomically to one
    file in ``backup_dir``.  When a fit starts and a backup is there, they are restored and the
    fit resumes at the epoch after the backup: with ``save_freq="epoch"`` the resumed run ends
    with the same weights, bit for bit, as one never interrupted.  With an integer ``save_freq``
    the interrupted epoch runs again from its start with the last backup's weights, as in Keras.
    ``double_checkpoint`` keeps the previous backup too, used when the last cannot be read;
    ``delete_checkpoint`` removes the backup when a fit ends normally (the folder too if that
    leaves it empty; Keras removes the whole folder).  The model and optimizer must be the ones
    that made the backup (same architecture and optimizer class); a backup that does not fit is
    an error naming the file, and nothing is changed.
    """

    _log_keys = ()
    FORMAT = "rnnlab-training-backup"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore needs a backup_dir, got {backup_dir!r}")
        self._every = _SaveFrequency(save_freq, "BackupAndRestore",
                                     " (rnnlab has no preemption checkpointing, for which Keras "
                                     "takes False)")
        self.backup_dir = os.fspath(backup_dir)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = os.path.join(self.backup_dir, "latest.backup")
        self._prev_path = self._path + ".bkp"
        self._epoch = 0
        self._epoch_start_rngs = None

    # ------------------------------------------------------------------ state
    def _layer_rngs(self):
        """(index in the model's layers, own generator) for every layer with its own ``seed``."""
        return [(i, layer._rng) for i, layer in enumerate(walk(self.model.layers))
                if isinstance(getattr(layer, "_rng", None), np.random.Generator)]

    def _rng_states(self) -> dict:
        return {"rng": config.rng().bit_generator.state,
                "layer_rngs": {str(i): g.bit_generator.state for i, g in self._layer_rngs()}}

    def _backup_bytes(self, epoch: int, rngs: dict) -> bytes:
        model, opt = self.model, self.model.optimizer
        keys = [key for key, _, _ in model._param_items()]
        counts = {str(j): len(opt.state[key]) for j, key in enumerate(keys) if key in opt.state}
        slots = {f"{j}/{i}": s for j, key in enumerate(keys)
                 for i, s in enumerate(opt.state.get(key, ()))}
        state = {"format": self.FORMAT, "version": 1, "epoch": epoch,
                 "optimizer": type(opt).__name__, "iterations": int(opt.iterations),
                 "learning_rate": float(opt.learning_rate), "slot_counts": counts, **rngs}
        weights = {str(i): w for i, w in enumerate(model.get_weights())}
        return rio.archive_bytes({"weights.npz": _npz_bytes(weights),
                                  "optimizer.npz": _npz_bytes(slots),
                                  "state.json": json.dumps(state).encode()})

    def _save(self, epoch: int, rngs: dict):
        data = self._backup_bytes(epoch, rngs)
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._prev_path)
        rio.write_bytes(self._path, data)

    def _restorer(self, path):
        """Read and check the backup at ``path``; return a function that applies it (so that a
        backup that does not fit changes nothing)."""
        model, opt = self.model, self.model.optimizer
        try:
            members = rio.read_archive(path, "training backup")
            state = json.loads(members["state.json"])
            weights = _load_npz(members["weights.npz"])
            slots = _load_npz(members["optimizer.npz"])
            if state.get("format") != self.FORMAT:
                raise ValueError("not an rnnlab training backup")
            epoch = checks.non_negative_int(state["epoch"], "epoch")
            iterations = checks.non_negative_int(state["iterations"], "iterations")
            learning_rate = checks.number(state["learning_rate"], "learning_rate")
            counts = {int(j): checks.non_negative_int(n, "slot count")
                      for j, n in state["slot_counts"].items()}
        except (rio.ArchiveError, OSError, KeyError, TypeError, ValueError, AttributeError,
                RecursionError) as exc:
            raise ValueError(f"{path!r} cannot be read as a training backup: {exc}") from None
        ours = model.get_weights()
        if len(weights) != len(ours) or any(
                str(i) not in weights or weights[str(i)].shape != w.shape
                for i, w in enumerate(ours)):
            raise ValueError(f"{path!r} was made by another model: its weights have shapes "
                             f"{[w.shape for w in weights.values()]}, this model's "
                             f"{[w.shape for w in ours]}")
        if state.get("optimizer") != type(opt).__name__:
            raise ValueError(f"{path!r} was made with the optimizer {state.get('optimizer')}, "
                             f"this model has {type(opt).__name__}")
        items = list(model._param_items())
        new_state = {}
        for j, n in counts.items():
            if not 0 <= j < len(items):
                raise ValueError(f"{path!r} has optimizer state for a parameter this model "
                                 "does not have")
            key, layer, pname = items[j]
            arrs = [slots.get(f"{j}/{i}") for i in range(n)]
            if any(a is None or a.shape != layer.params[pname].shape for a in arrs):
                raise ValueError(f"{path!r}: the optimizer state of {key} does not fit")
            new_state[key] = arrs
        rngs = [(config.rng(), state.get("rng"))]
        layer_states = state.get("layer_rngs")
        own = self._layer_rngs()
        if not isinstance(layer_states, dict) or sorted(layer_states) != sorted(
                str(i) for i, _ in own):
            raise ValueError(f"{path!r} was made by another model (its layers' own random "
                             "generators differ)")
        rngs += [(g, layer_states[str(i)]) for i, g in own]
        for g, st in rngs:
            try:
                type(g.bit_generator)().state = st
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"{path!r}: a random generator state cannot be restored: "
                                 f"{exc}") from None

        def apply():
            model.set_weights([weights[str(i)] for i in range(len(ours))])
            opt.state = new_state
            opt.iterations = iterations
            if opt.learning_rate_schedule is None:   # a schedule follows the iterations
                opt.learning_rate = learning_rate
            for g, st in rngs:
                g.bit_generator.state = st
            model._initial_epoch = epoch
        return apply

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._every.reset()
        errors = []
        for path in (self._path, self._prev_path):
            if not os.path.exists(path):
                continue
            try:
                apply = self._restorer(path)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            apply()
            return
        if errors:
            raise ValueError(f"BackupAndRestore cannot resume from {self.backup_dir!r}: "
                             f"{'; '.join(errors)}. Remove the backup to start over.")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if not self._every.by_epoch:
            self._epoch_start_rngs = self._rng_states()

    def on_train_batch_end(self, batch, logs=None):
        if self._every.batch_done():
            self._save(self._epoch, self._epoch_start_rngs)

    def on_epoch_end(self, epoch, logs=None):
        if self._every.by_epoch:
            self._save(epoch + 1, self._rng_states())

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        for path in (self._path, self._prev_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        with contextlib.suppress(OSError):
            os.rmdir(self.backup_dir)     # only if nothing else is in it


class CSVLogger(Callback):
    """Write one CSV row per epoch: epoch then the logs' keys in sorted order."""

    _log_keys = ()

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self._keys = None

    def on_train_begin(self, logs=None):
        exists = (self.append and os.path.exists(self.filename)
                  and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._header_written = exists
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


class ReduceLROnPlateau(_Monitoring):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    _log_keys = ("learning_rate",)

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if not 0.0 < float(factor) < 1.0:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor}")
        self.factor, self.patience, self.verbose = float(factor), int(patience), int(verbose)
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter, self.best = 0, 0, None

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                opt = self.model.optimizer
                if opt.learning_rate > self.min_lr:
                    opt.learning_rate = max(opt.learning_rate * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                              f"{opt.learning_rate}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    _log_keys = ()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 on_batch_begin=None, on_batch_end=None):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin or on_batch_begin),
                         ("on_train_batch_end", on_train_batch_end or on_batch_end)):
            if fn is not None:
                setattr(self, name, fn)


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (``epoch`` from 0,
    ``lr`` the current rate; a ``schedule(epoch)`` of one argument is called so too, as Keras
    still allows), and log it as "learning_rate".  An optimizer whose learning rate is a
    LearningRateSchedule (which follows the step count) is refused when the fit starts, as
    Keras refuses to set such a rate."""

    _log_keys = ("learning_rate",)

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler schedule must be a function of (epoch, lr) "
                            f"returning the new learning rate, got {schedule!r}")
        self.schedule = schedule
        self.verbose = checks.non_negative_int(verbose, "verbose", "LearningRateScheduler")
        self._two_args = _takes_two_args(schedule)

    def on_train_begin(self, logs=None):
        sched = self.model.optimizer.learning_rate_schedule
        if sched is not None:
            raise TypeError(f"LearningRateScheduler cannot set the learning rate of "
                            f"{type(self.model.optimizer).__name__}: it was created with the "
                            f"schedule {sched!r} as its learning_rate (not settable, as in "
                            "Keras); use one or the other, e.g. a float learning_rate here")

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        current = float(opt.learning_rate)
        if self._two_args is None:          # signature unknown: Keras's way of telling
            try:
                value = self.schedule(epoch, current)
            except TypeError:
                value = self.schedule(epoch)
        else:
            value = self.schedule(epoch, current) if self._two_args else self.schedule(epoch)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, int, np.floating,
                                                                           np.integer)):
            raise ValueError("The output of the LearningRateScheduler schedule function should "
                             f"be a float, got {value!r} at epoch {epoch}")
        value = float(value)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError("LearningRateScheduler: the schedule gave the learning rate "
                             f"{value} at epoch {epoch}; it must be a finite number >= 0")
        opt.learning_rate = value
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{value}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _takes_two_args(fn) -> bool | None:
    """Whether ``fn`` can be called with two positional arguments (None: cannot tell)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(0, 0.0)
    except TypeError:
        return False
    return True


class TensorBoard(Callback):
    """Write event files for TensorBoard (``tensorboard --logdir <log_dir>``), as Keras 3 does:
    in ``log_dir/train`` the epoch logs as scalars "epoch_<name>" (with "epoch_learning_rate"),
    in ``log_dir/validation`` the ``val_`` logs without the prefix (and
    "evaluation_<name>_vs_iterations" at the optimizer's step count); with ``update_freq``
    "batch" or N, the batch logs "batch_<name>" every N batches; with ``histogram_freq`` N,
    every N epochs a histogram of each weight ("<layer>/<weight>/histogram").  rnnlab has no
    computation graph: ``write_graph`` writes the model's summary table as text (TEXT tab).

    Needs the optional ``tensorboardX`` writer (``pip install 'rnnlab[tensorboard]'``); no
    TensorFlow.  Keras's image, profiling and embedding options are refused unless left off."""

    _log_keys = ()

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        who = "TensorBoard"
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("The TensorBoard callback writes its event files with the optional "
                              "tensorboardX package: pip install 'rnnlab[tensorboard]' (or pip "
                              "install tensorboardX)") from None
        self._writer_class = SummaryWriter
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = checks.non_negative_int(histogram_freq, "histogram_freq", who)
        for arg, val in (("write_graph", write_graph),
                         ("write_steps_per_second", write_steps_per_second)):
            if not isinstance(val, (bool, np.bool_)):
                raise TypeError(f"{who} {arg} must be True or False, got {val!r}")
        self.write_graph, self.write_steps_per_second = bool(write_graph), bool(
            write_steps_per_second)
        if update_freq == "batch":
            update_freq = 1
        elif update_freq != "epoch":
            if not (checks.is_int(update_freq) and update_freq > 0):
                raise ValueError(f"{who} update_freq must be 'epoch', 'batch' or a positive "
                                 f"number of batches, got {update_freq!r}")
            update_freq = int(update_freq)
        self.update_freq = update_freq
        for arg, val, off in (("write_images", write_images, False),
                              ("profile_batch", profile_batch, 0),
                              ("embeddings_freq", embeddings_freq, 0),
                              ("embeddings_metadata", embeddings_metadata, None)):
            if val != off or (off is None and val is not None):
                raise ValueError(f"{who} {arg}={val!r} is not supported by rnnlab (leave it "
                                 f"{off!r})")
        self.write_images, self.profile_batch = False, 0
        self.embeddings_freq, self.embeddings_metadata = 0, None
        self._writers = {}
        self._global_train_batch = 0

    def _writer(self, which):
        """The "train" or "validation" writer, made when first written to (no empty files)."""
        w = self._writers.get(which)
        if w is None:
            w = self._writers[which] = self._writer_class(os.path.join(self.log_dir, which))
        return w

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._epoch_start = (time.perf_counter(), self.model.optimizer.iterations)
        if self.write_graph:
            lines = []
            self.model.summary(print_fn=lines.append)
            text = "\n".join("    " + line for line in "\n".join(lines).splitlines())
            self._writer("train").add_text("model_summary", text, 0)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        w = self._writer("train")
        for name, value in (logs or {}).items():
            if _is_scalar(value):
                w.add_scalar(f"batch_{name}", float(value), self._global_train_batch)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = (time.perf_counter(), self.model.optimizer.iterations)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        opt = self.model.optimizer
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train["learning_rate"] = float(opt.learning_rate)
        if self.write_steps_per_second:
            t0, it0 = self._epoch_start
            train["steps_per_second"] = (opt.iterations - it0) / max(
                time.perf_counter() - t0, 1e-9)
        w = self._writer("train")
        for name, value in train.items():
            if _is_scalar(value):
                w.add_scalar(f"epoch_{name}", float(value), epoch)
        if val:
            vw = self._writer("validation")
            for name, value in val.items():
                if _is_scalar(value):
                    vw.add_scalar(f"epoch_{name}", float(value), epoch)
                    vw.add_scalar(f"evaluation_{name}_vs_iterations", float(value),
                                  opt.iterations)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for layer in self.model._unique_layers():
                for pname, arr in layer.params.items():
                    if arr.size:
                        w.add_histogram(f"{layer.name}/{pname}/histogram",
                                        np.asarray(arr, dtype=np.float64), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _is_scalar(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


class CallbackList:
    """Dispatches each hook to every callback in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be rnnlab Callback instances, got {cb!r}")
            cb.set_model(model)

    def set_params(self, params, log_names=None):
        """Give every callback ``params`` (Keras's verbose, epochs, steps) and the keys its logs
        will have: ``_epoch_log_names``, ``log_names`` (the model's) plus those the callbacks
        before it add, and ``_batch_log_names``, the model's training ones; None for both when a
        callback before it may add keys unknown here."""
        names = None if log_names is None else list(log_names)
        batch = None if log_names is None else [k for k in log_names if not k.startswith("val_")]
        for cb in self.callbacks:
            cb.set_params(params)
            cb._epoch_log_names, cb._batch_log_names = names, batch
            if names is not None and cb._log_keys is None:
                names = batch = None
            elif names is not None:
                names = names + list(cb._log_keys)

    def __getattr__(self, hook):
        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call


def _finite(value) -> bool:
    return value is not None and np.isfinite(value)
