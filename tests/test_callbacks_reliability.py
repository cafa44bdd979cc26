"""Callbacks and saves that lose nothing: ModelCheckpoint keeps its best value across resumes,
its filepath is checked when fit starts, BackupAndRestore resumes an interrupted fit exactly,
Ctrl-C keeps the epochs done, and a killed save's temporary file is removed by the next save."""
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab import Sequential, callbacks, config
from rnnlab import io as rio
from rnnlab.layers import Dense, Dropout
from rnnlab.optimizers import SGD, Adam


def _data(n=48, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 3))
    return X, (X @ np.array([1.0, -2.0, 0.5]) + 0.3)[:, None]


def _mlp(seed=0, lr=0.05, dropout=False):
    config.set_random_seed(seed)
    layers = [Dense(8, activation="tanh", input_shape=(3,))]
    if dropout:   # one draws from the global generator, one from its own seeded one
        layers += [Dropout(0.3), Dense(8, activation="tanh"), Dropout(0.2, seed=7)]
    m = Sequential(layers + [Dense(1)])
    m.compile(optimizer=Adam(lr), loss="mse")
    return m


def _record(path):
    """The checkpoint record stored in a model file (config.json) or weights file."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if "metadata.json" in names:
            return json.loads(zf.read("metadata.json"))["checkpoint"]
        return json.loads(zf.read("config.json"))["metadata"]["checkpoint"]


class _Raise(callbacks.Callback):
    """Raises ``exc`` when epoch ``at`` begins (a crash or Ctrl-C in the middle of a fit)."""

    def __init__(self, at, exc):
        super().__init__()
        self.at, self.exc = at, exc

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise self.exc


# ---------------------------------------------------------------------- ModelCheckpoint
@pytest.mark.parametrize("weights_only", [False, True])
def test_checkpoint_keeps_its_best_across_a_resumed_run(tmp_path, weights_only):
    X, y = _data()
    path = tmp_path / ("best.weights" if weights_only else "best.rnnlab")
    ck = dict(monitor="loss", save_best_only=True, save_weights_only=weights_only)
    h = _mlp().fit(X, y, epochs=15, verbose=0,
                   callbacks=[callbacks.ModelCheckpoint(path, **ck)])
    best = min(h.history["loss"])
    rec = _record(path)
    assert rec == {"monitor": "loss", "mode": "min", "value": best,
                   "epoch": h.history["loss"].index(best) + 1}
    kept = path.read_bytes()
    # a new process resumes with a new callback and a worse model: the better file stays
    worse = _mlp(seed=5, lr=0.0)
    cb = callbacks.ModelCheckpoint(path, **ck)
    with pytest.warns(UserWarning, match=f"holds a model with loss={best} \\(epoch"):
        h2 = worse.fit(X, y, epochs=2, verbose=0, callbacks=[cb])
    assert min(h2.history["loss"]) > best and cb.best == best
    assert path.read_bytes() == kept
    # a better one replaces it, and records its own value
    better = _mlp(lr=0.05)
    with pytest.warns(UserWarning, match="only a model better than"):
        h3 = better.fit(X, y, epochs=40, verbose=0,
                        callbacks=[callbacks.ModelCheckpoint(path, **ck)])
    assert min(h3.history["loss"]) < best and _record(path)["value"] == min(h3.history["loss"])


def test_checkpoint_initial_value_threshold(tmp_path):
    X, y = _data()
    path = tmp_path / "m.rnnlab"
    cb = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                                   initial_value_threshold=1e-9)
    _mlp().fit(X, y, epochs=3, verbose=0, callbacks=[cb])
    assert not path.exists() and cb.best == 1e-9          # nothing beat the threshold
    cb = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                                   initial_value_threshold=1e9)
    h = _mlp().fit(X, y, epochs=3, verbose=0, callbacks=[cb])
    assert _record(path)["value"] == min(h.history["loss"])
    # with a file on disk, the stricter of the two is the value to beat
    kept = path.read_bytes()
    cb = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                                   initial_value_threshold=1e9)
    with pytest.warns(UserWarning, match="holds a model"):
        _mlp(seed=4, lr=0.0).fit(X, y, epochs=1, verbose=0, callbacks=[cb])
    assert path.read_bytes() == kept and cb.best == min(h.history["loss"])
    with pytest.raises(ValueError, match="initial_value_threshold"):
        callbacks.ModelCheckpoint(path, initial_value_threshold=float("nan"))


def test_checkpoint_file_without_a_record_or_for_another_monitor(tmp_path):
    X, y = _data()
    path = tmp_path / "m.rnnlab"
    _mlp().save(path)                                      # a plain save records nothing
    with pytest.warns(RuntimeWarning, match="records no monitored value"):
        _mlp().fit(X, y, epochs=1, verbose=0, callbacks=[
            callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True)])
    assert _record(path)["monitor"] == "loss"
    with pytest.warns(RuntimeWarning, match="records 'loss' \\(min\\), not 'val_loss'"):
        _mlp().fit(X, y, epochs=1, verbose=0, validation_data=(X, y), callbacks=[
            callbacks.ModelCheckpoint(path, save_best_only=True)])
    assert _record(path)["monitor"] == "val_loss"


def test_checkpoint_never_replaces_a_file_that_is_not_a_model(tmp_path):
    X, y = _data()
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    m = _mlp()
    before = m.get_weights()
    with pytest.raises(ValueError, match="not a readable rnnlab model"):
        m.fit(X, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(data)])
    assert data.read_text() == "a,b\n1,2\n"
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


def test_checkpoint_nan_is_never_the_best(tmp_path):
    X, y = _data()
    path = tmp_path / "m.rnnlab"
    cb = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True)
    cb.set_model(_mlp())
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": float("nan")})
    assert cb.best is None and not path.exists()
    cb.on_epoch_end(1, {"loss": 2.0})
    assert cb.best == 2.0 and _record(path)["value"] == 2.0


# ---------------------------------------------------------------------- filepath keys
@pytest.mark.parametrize("filepath,match", [
    ("m-{val_acc:.2f}.rnnlab", "uses \\{val_acc\\}.*val_ keys need validation_data"),
    ("m-{acc:.2f}.rnnlab", "uses \\{acc\\}.*did you mean \\{accuracy\\}"),
    ("m-{batch}.rnnlab", "integer save_freq"),
    ("m-{loss:d}.rnnlab", "cannot be filled in"),
])
def test_filepath_keys_the_logs_lack_fail_before_training(tmp_path, filepath, match):
    X, y = _data()
    m = _mlp()
    m.compile(optimizer=SGD(0.1), loss="mse", metrics=["accuracy"])
    before = m.get_weights()
    with pytest.raises(ValueError, match=match):
        m.fit(X, y, epochs=2, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(tmp_path / filepath)])
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))  # no epoch ran
    assert list(tmp_path.iterdir()) == []


def test_filepath_keys_that_the_fit_logs_work(tmp_path):
    X, y = _data()
    m = _mlp()
    m.compile(optimizer=SGD(0.1), loss="mse", metrics=["mae"])
    m.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_data=(X, y), callbacks=[
        callbacks.ModelCheckpoint(tmp_path / "e{epoch:02d}-{val_mae:.3f}-{loss:.1f}.rnnlab"),
        callbacks.ModelCheckpoint(tmp_path / "b{epoch}-{batch}.weights", save_freq=2,
                                  save_weights_only=True, monitor="loss"),
        callbacks.ReduceLROnPlateau(monitor="loss"),
        callbacks.ModelCheckpoint(tmp_path / "lr{learning_rate}.rnnlab", monitor="loss")])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if n.startswith("b")] == ["b1-2.weights", "b2-1.weights",
                                                       "b2-3.weights"]
    assert sum(n.startswith("e01-") for n in names) == 1
    assert sum(n.startswith("e02-") for n in names) == 1
    assert sum(n.startswith("lr") for n in names) == 1     # ReduceLROnPlateau logs learning_rate
    with pytest.raises(ValueError, match="training logs only"):
        m.fit(X, y, epochs=1, verbose=0, validation_data=(X, y), callbacks=[
            callbacks.ModelCheckpoint(tmp_path / "b-{val_mae}.rnnlab", save_freq=3)])
    with pytest.raises(ValueError, match="uses \\{learning_rate\\}"):   # ... after the save
        m.fit(X, y, epochs=1, verbose=0, callbacks=[
            callbacks.ModelCheckpoint(tmp_path / "lr{learning_rate}.rnnlab", monitor="loss"),
            callbacks.ReduceLROnPlateau(monitor="loss")])


def test_filepath_checks_that_cannot_wait(tmp_path):
    with pytest.raises(ValueError, match="positional field"):
        callbacks.ModelCheckpoint(tmp_path / "m-{}.rnnlab")
    with pytest.raises(ValueError, match="not a valid format string"):
        callbacks.ModelCheckpoint(tmp_path / "m-{loss.rnnlab")
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint(tmp_path / "m.rnnlab", save_freq=0)
    X, y = _data()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _mlp().fit(X, y, epochs=1, verbose=0,
                   callbacks=[callbacks.ModelCheckpoint(tmp_path / "no" / "m.rnnlab")])


def test_filepath_key_a_users_callback_may_add_is_checked_when_saving(tmp_path):
    X, y = _data()

    class F1(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["f1"] = 0.5

    _mlp().fit(X, y, epochs=1, verbose=0, callbacks=[
        F1(), callbacks.ModelCheckpoint(tmp_path / "m-{f1:.1f}.rnnlab")])
    assert (tmp_path / "m-0.5.rnnlab").exists()
    with pytest.raises(ValueError, match="uses \\{f2\\}, which the logs lack"):
        _mlp().fit(X, y, epochs=1, verbose=0, callbacks=[
            F1(), callbacks.ModelCheckpoint(tmp_path / "m-{f2:.1f}.rnnlab")])


# ---------------------------------------------------------------------- BackupAndRestore
def test_backup_and_restore_resumes_a_crashed_fit_bit_for_bit(tmp_path):
    X, y = _data(60)
    whole = _mlp(dropout=True)
    h = whole.fit(X, y, epochs=4, batch_size=8, verbose=0)
    expected = whole.get_weights()

    backup = tmp_path / "backup"
    first = _mlp(dropout=True)
    with pytest.raises(RuntimeError, match="crash"):
        first.fit(X, y, epochs=4, batch_size=8, verbose=0, callbacks=[
            callbacks.BackupAndRestore(backup), _Raise(2, RuntimeError("crash"))])
    assert (backup / "latest.backup").exists()
    # as in a new process: another seed, a new model and a new callback on the same folder
    resumed = _mlp(seed=99, dropout=True)
    config.rng().normal(size=7)
    h2 = resumed.fit(X, y, epochs=4, batch_size=8, verbose=0,
                     callbacks=[callbacks.BackupAndRestore(backup)])
    assert h2.epoch == [2, 3] and h2.history["loss"] == h.history["loss"][2:]
    for a, b in zip(expected, resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == whole.optimizer.iterations
    assert not backup.exists()                 # delete_checkpoint: removed at a normal end


def test_backup_and_restore_options(tmp_path):
    X, y = _data()
    backup = tmp_path / "b"
    backup.mkdir()
    (backup / "notes.txt").write_text("mine")
    m = _mlp()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, y, epochs=5, verbose=0, callbacks=[
            callbacks.BackupAndRestore(backup, double_checkpoint=True),
            _Raise(3, KeyboardInterrupt())])
    assert (backup / "latest.backup.bkp").exists()
    (backup / "latest.backup").write_bytes(b"garbage")      # the last one is unreadable
    h = _mlp().fit(X, y, epochs=5, verbose=0, callbacks=[
        callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
    assert h.epoch == [2, 3, 4]                             # from the previous backup
    assert (backup / "latest.backup").exists()
    h = _mlp().fit(X, y, epochs=5, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])
    assert h.epoch == []                                    # it had finished
    assert sorted(p.name for p in backup.iterdir()) == ["notes.txt"]   # only its own files go
    # every 2 batches: the interrupted epoch runs again from its start (as Keras)
    with pytest.raises(RuntimeError):
        _mlp().fit(X, y, epochs=3, batch_size=8, verbose=0, callbacks=[
            callbacks.BackupAndRestore(backup, save_freq=2), _Raise(2, RuntimeError())])
    h = _mlp().fit(X, y, epochs=3, batch_size=8, verbose=0,
                   callbacks=[callbacks.BackupAndRestore(backup, save_freq=2)])
    assert h.epoch == [1, 2]
    for bad in (False, 0, "batch"):
        with pytest.raises(ValueError, match="save_freq"):
            callbacks.BackupAndRestore(backup, save_freq=bad)
    with pytest.raises(ValueError, match="backup_dir"):
        callbacks.BackupAndRestore("")


def test_backup_of_another_model_is_refused_and_changes_nothing(tmp_path):
    X, y = _data()
    backup = tmp_path / "b"
    with pytest.raises(RuntimeError):
        _mlp().fit(X, y, epochs=3, verbose=0, callbacks=[
            callbacks.BackupAndRestore(backup), _Raise(1, RuntimeError())])
    config.set_random_seed(1)
    other = Sequential([Dense(4, input_shape=(3,)), Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    before, rng_before = other.get_weights(), config.rng().bit_generator.state
    with pytest.raises(ValueError, match="another model"):
        other.fit(X, y, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))
    assert config.rng().bit_generator.state == rng_before
    sgd = _mlp()
    sgd.compile(optimizer=SGD(0.1), loss="mse")
    with pytest.raises(ValueError, match="optimizer Adam"):
        sgd.fit(X, y, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])


# ---------------------------------------------------------------------- Ctrl-C
def test_keyboard_interrupt_keeps_the_epochs_done():
    X, y = _data()
    two = _mlp()
    h = two.fit(X, y, epochs=2, verbose=0)
    m = _mlp()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, y, epochs=4, verbose=0, callbacks=[_Raise(2, KeyboardInterrupt())])
    assert m.history.epoch == [0, 1] and m.history.history == h.history
    for a, b in zip(two.get_weights(), m.get_weights()):   # not rolled back, not further
        np.testing.assert_array_equal(a, b)
    assert m.optimizer.iterations == two.optimizer.iterations


# ---------------------------------------------------------------------- killed saves
_SAVER = """
import sys
import numpy as np
from rnnlab import Sequential
from rnnlab.layers import Embedding
model = Sequential([Embedding(20000, 64, input_shape=(5,))])
model(np.zeros((1, 5), dtype="int64"))
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""

_HOLDER = """
import sys
from rnnlab import io
with io.atomic_write(sys.argv[1]) as fh:
    fh.write(b"live writer")
    fh.flush()
    print("writing", flush=True)
    sys.stdin.readline()
"""


def _child(code, *args):
    env = {**os.environ, "PYTHONPATH": str(Path(rnnlab.__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def _kill_mid_save(target):
    """Start a process that saves a 5 MB model to ``target`` again and again, and SIGKILL it
    while a temporary file is there; its pid (None if every try missed the write)."""
    for _ in range(5):
        saver = _child(_SAVER, target)
        try:
            assert saver.stdout.readline() == b"ready\n"
            deadline = time.monotonic() + 60
            while not _temps(target.parent) and time.monotonic() < deadline:
                pass
            saver.send_signal(signal.SIGKILL)
        finally:
            saver.kill()
            saver.wait()
        if _temps(target.parent):
            return saver.pid
    return None


def test_a_killed_save_leaves_a_temp_file_that_the_next_save_removes(tmp_path):
    target = tmp_path / "big.rnnlab"
    pid = _kill_mid_save(target)
    left = _temps(tmp_path)
    assert pid is not None and left == [f".big.rnnlab.{pid}-{left[0][-13:-5]}.part"]
    # a live writer of the same target, and files that only look alike, are left alone
    holder = _child(_HOLDER, target)
    try:
        assert holder.stdout.readline() == b"writing\n"
        live = [n for n in _temps(tmp_path) if f".{holder.pid}-" in n]
        others = [".big.rnnlab.backup", ".big.rnnlab.part", ".big.rnnlab.x.1-abcd1234.part",
                  f".other.rnnlab.{pid}-abcd1234.part", ".big.rnnlab.recent00.part"]
        for name in others:
            (tmp_path / name).write_bytes(b"keep")
        old = tmp_path / ".big.rnnlab.legacy00.part"       # an older rnnlab's, a day untouched
        old.write_bytes(b"old")
        os.utime(old, (time.time() - 2 * rio.STALE_TEMP_AGE,) * 2)
        _mlp().save(target)
        assert _temps(tmp_path) == sorted(live + [n for n in others if n.endswith(".part")])
        assert rnnlab.load_model(target).count_params() == _mlp().count_params()
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
    assert target.read_bytes() == b"live writer"            # the live writer finished its write
    assert not any(f".{holder.pid}-" in n for n in _temps(tmp_path))
