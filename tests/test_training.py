"""The Keras workflow: compile, fit, evaluate, predict, summary, callbacks, saving, bad input."""
import json
import zipfile

import numpy as np
import pytest

import rnnlab
from rnnlab import Sequential, callbacks, config
from rnnlab.layers import Dense
from rnnlab.models.saving import ModelFileError
from rnnlab.optimizers import SGD, Adam


def _regression(n=256, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 3))
    return X, (X @ np.array([1.0, -2.0, 0.5]) + 0.3)[:, None]


def _mlp(out=1, act=None, seed=0):
    config.set_random_seed(seed)
    return Sequential([Dense(16, activation="tanh", input_shape=(3,)), Dense(out, activation=act)])


@pytest.mark.parametrize("loss,target", [("mse", 0.01), ("mae", 0.1), ("huber", 0.01)])
def test_regression_losses_learn(loss, target):
    X, y = _regression()
    m = _mlp()
    m.compile(optimizer=Adam(0.02), loss=loss)
    h = m.fit(X, y, epochs=60, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < target
    assert h.history["loss"][-1] < h.history["loss"][0] / 5


def test_classification_losses_learn():
    r = np.random.default_rng(1)
    X = r.normal(size=(300, 3))
    yb = (X[:, 0] + X[:, 1] > 0).astype(int)
    m = _mlp(1, "sigmoid")
    m.compile(optimizer=Adam(0.02), loss="binary_crossentropy", metrics="accuracy")
    h = m.fit(X, yb, epochs=40, verbose=0)
    assert h.history["loss"][-1] < 0.15 and h.history["accuracy"][-1] > 0.95
    yc = np.digitize(X[:, 0], [-0.5, 0.5])
    for loss, target in (("sparse_categorical_crossentropy", yc),
                         ("categorical_crossentropy", np.eye(3)[yc])):
        m = _mlp(3, "softmax")
        m.compile(optimizer=Adam(0.02), loss=loss, metrics=["accuracy"])
        h = m.fit(X, target, epochs=40, verbose=0)
        assert h.history["loss"][-1] < 0.25 and h.history["accuracy"][-1] > 0.9
        loss_v, acc = m.evaluate(X, target, verbose=0)
        assert acc > 0.9 and loss_v == pytest.approx(h.history["loss"][-1], rel=0.5)


def test_same_seed_same_history():
    X, y = _regression()
    runs = []
    for _ in range(2):
        m = _mlp(seed=3)
        m.compile(optimizer="adam", loss="mse", metrics=["mae"])
        runs.append(m.fit(X, y, epochs=3, validation_split=0.25, verbose=0).history)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kernels", ["reference", "fast"])
@pytest.mark.parametrize("opt", [lambda: Adam(0.01), lambda: Adam(0.01, clipnorm=0.1),
                                 lambda: SGD(0.05, momentum=0.9)])
def test_steps_start_from_zero_grads(kernels, opt):
    """The optimizer clears the grads as it applies them, so a step inside fit starts from zero
    exactly as the first step of a new fit (which zeroes every grad itself), frozen weights'
    grads included; a fit leaves every grad at zero."""
    config.set_kernels(kernels)
    X, y = _regression(60)
    weights = []
    for per_batch in (False, True):
        config.set_random_seed(5)
        m = Sequential([Dense(8, activation="tanh", input_shape=(3,)),
                        Dense(8, activation="tanh", trainable=False), Dense(1)])
        m.compile(optimizer=opt(), loss="mse")
        for _ in range(2):
            if per_batch:          # one fit per batch: each step zeroes all grads first
                for i in range(0, 60, 20):
                    m.fit(X[i:i + 20], y[i:i + 20], batch_size=20, epochs=1, shuffle=False,
                          verbose=0)
            else:
                m.fit(X, y, batch_size=20, epochs=1, shuffle=False, verbose=0)
        assert all(not g.any() for layer in m.layers for g in layer.grads.values())
        weights.append(m.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_history_keys_validation_and_evaluate_matches_predict():
    X, y = _regression()
    m = _mlp()
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = m.fit(X, y, epochs=2, validation_data=(X[:50], y[:50]), verbose=0)
    assert list(h.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert all(len(v) == 2 for v in h.history.values())
    loss, mae = m.evaluate(X, y, verbose=0)
    pred = m.predict(X, verbose=0)
    assert pred.shape == (256, 1)
    assert loss == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)
    assert m.evaluate(X, y, verbose=0, return_dict=True).keys() == {"loss", "mae"}


def test_validation_split_takes_the_last_samples():
    X, y = _regression(100)
    m = _mlp()
    m.compile(optimizer=SGD(0.0), loss="mse")
    h = m.fit(X, y, epochs=1, validation_split=0.2, verbose=0)
    expected = float(np.mean((m.predict(X[80:], verbose=0) - y[80:]) ** 2))
    assert h.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_sample_and_class_weights():
    X, y = _regression(64)
    m = _mlp()
    m.compile(optimizer=SGD(0.0), loss="mse")
    w = np.r_[np.zeros(32), np.ones(32)]
    pred = m.predict(X, verbose=0)
    got = m.evaluate(X, y, sample_weight=w, verbose=0, batch_size=64)
    assert got == pytest.approx(np.sum(w[:, None] * (pred - y) ** 2) / 64, rel=1e-5)
    yb = (X[:, :1] > 0).astype(float)
    m2 = _mlp(1, "sigmoid")
    m2.compile(optimizer="adam", loss="binary_crossentropy")
    m2.fit(X, yb, class_weight={0: 1.0, 1: 2.0}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class_weight has no entry"):
        m2.fit(X, yb, class_weight={0: 1.0}, epochs=1, verbose=0)


def test_summary_counts_and_weights_order(capsys):
    m = _mlp()
    m.summary()
    out = capsys.readouterr().out
    assert "dense" in out and "(None, 16)" in out and "Total params: 81" in out
    assert m.count_params() == 3 * 16 + 16 + 16 + 1
    shapes = [w.shape for w in m.get_weights()]
    assert shapes == [(3, 16), (16,), (16, 1), (1,)]
    with pytest.raises(ValueError, match="expects 4 weight arrays"):
        m.set_weights(m.get_weights()[:3])


def test_verbose_modes(capsys):
    X, y = _regression(64)
    m = _mlp()
    m.compile(optimizer="adam", loss="mse")
    m.fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    m.fit(X, y, epochs=2, verbose=2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch")]
    assert len(lines) == 2 and "loss:" in lines[0]
    m.fit(X, y, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "2/2" in out  # tqdm's bar: steps done / total


# ---------------------------------------------------------------------- callbacks
class _Scripted(callbacks.Callback):
    """Replace val_loss by a scripted sequence and mark weights with the epoch number."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.model.layers[-1].params["bias"][...] = epoch


def test_early_stopping_scripted_and_restores_best():
    X, y = _regression(32)
    m = _mlp()
    m.compile(optimizer=SGD(0.0), loss="mse")
    script = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 1.0]
    es = callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    h = m.fit(X, y, epochs=8, verbose=0, callbacks=[_Scripted(script), es])
    # best at epoch index 2 (3.0); epochs 3, 4, 5 do not improve -> stop after epoch index 5
    assert len(h.history["loss"]) == 6 and es.stopped_epoch == 5 and es.best_epoch == 2
    assert m.layers[-1].params["bias"][0] == 2.0  # weights of the best epoch
    es2 = callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.6)
    h2 = m.fit(X, y, epochs=8, verbose=0, callbacks=[_Scripted(script), es2])
    assert len(h2.history["loss"]) == 4  # 4.0 and 3.0 improve by < 0.6... then stop


def test_model_checkpoint_best_only_and_csv_logger(tmp_path):
    X, y = _regression(64)
    m = _mlp()
    m.compile(optimizer="adam", loss="mse")
    path = tmp_path / "best.rnnlab"
    ck = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True)
    log = tmp_path / "log.csv"
    m.fit(X, y, epochs=3, verbose=0, callbacks=[ck, callbacks.CSVLogger(log)])
    loaded = rnnlab.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), m.predict(X, verbose=0))
    rows = log.read_text().splitlines()
    assert rows[0] == "epoch,loss" and len(rows) == 4


def test_reduce_lr_terminate_on_nan_and_lambda():
    X, y = _regression(32)
    m = _mlp()
    m.compile(optimizer=SGD(0.0), loss="mse")
    rl = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e-3)
    m.optimizer.learning_rate = 1e-9
    seen = []
    h = m.fit(X, y, epochs=4, verbose=0,
              callbacks=[rl, callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    assert seen == [0, 1, 2, 3]
    assert m.optimizer.learning_rate < 1e-9  # an unchanging loss is a plateau
    lrs = h.history["learning_rate"]  # the rate each epoch ran with, as Keras logs it
    assert (lrs[0] == 1e-9 and lrs == sorted(lrs, reverse=True)
            and lrs[-1] > m.optimizer.learning_rate)
    m2 = _mlp()
    m2.compile(optimizer=SGD(1e6), loss="mse")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = m2.fit(X * 1e3, y * 1e6, epochs=5, batch_size=4, verbose=0,
                   callbacks=[callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1


# ---------------------------------------------------------------------- saving
def test_save_load_predicts_identically_and_resumes(tmp_path):
    X, y = _regression()
    m = _mlp()
    m.compile(optimizer=Adam(0.01), loss="mse", metrics=["mae"])
    m.fit(X, y, epochs=2, verbose=0)
    path = tmp_path / "m.rnnlab"
    m.save(path)
    m2 = rnnlab.load_model(path)
    np.testing.assert_array_equal(m.predict(X, verbose=0), m2.predict(X, verbose=0))
    config.set_random_seed(9)
    h1 = m.fit(X, y, epochs=2, verbose=0)
    config.set_random_seed(9)
    h2 = m2.fit(X, y, epochs=2, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)


def _rewrite(path, mutate):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    mutate(members)
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)


def test_bad_model_files(tmp_path):
    X, y = _regression(32)
    m = _mlp()
    m.compile(optimizer="adam", loss="mse")
    m.fit(X, y, epochs=1, verbose=0)
    good = tmp_path / "m.rnnlab"
    m.save(good)
    data = good.read_bytes()
    trunc = tmp_path / "trunc.rnnlab"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        rnnlab.load_model(trunc)
    tampered = tmp_path / "tampered.rnnlab"
    tampered.write_bytes(data)

    def flip(members):
        w = bytearray(members["weights.npz"])
        w[-30] ^= 0xFF
        members["weights.npz"] = bytes(w)
    _rewrite(tampered, flip)
    with pytest.raises(ModelFileError, match="SHA-256"):
        rnnlab.load_model(tampered)
    newer = tmp_path / "newer.rnnlab"
    newer.write_bytes(data)

    def bump(members):
        import hashlib
        cfg = json.loads(members["config.json"])
        cfg["format_version"] = 99
        members["config.json"] = json.dumps(cfg).encode()
        man = json.loads(members["manifest.json"])
        man["config.json"] = hashlib.sha256(members["config.json"]).hexdigest()
        members["manifest.json"] = json.dumps(man).encode()
    _rewrite(newer, bump)
    with pytest.raises(ModelFileError, match="newer"):
        rnnlab.load_model(newer)
    with pytest.raises(FileNotFoundError):
        rnnlab.load_model(tmp_path / "missing.rnnlab")


# ---------------------------------------------------------------------- bad input
def _assert_unchanged(m, before):
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_input_leaves_model_unchanged():
    X, y = _regression(40)
    m = _mlp()
    before = m.get_weights()
    with pytest.raises(RuntimeError, match="compiled before fit"):
        m.fit(X, y, verbose=0)
    m.compile(optimizer="adam", loss="mse")
    cases = [
        (dict(x=X, y=y[:30]), ValueError, "same number of samples"),
        (dict(x=X, y=np.zeros((40, 3))), ValueError, "not compatible with model output"),
        (dict(x=np.where(X > 1, np.nan, X), y=y), ValueError, "non-finite"),
        (dict(x=X, y=np.where(y > 1, np.inf, y)), ValueError, "non-finite"),
        (dict(x=X, y=y, batch_size=0), ValueError, "batch_size"),
        (dict(x=X, y=y, validation_split=1.0), ValueError, "validation_split"),
        (dict(x=X, y=y, validation_split=-0.1), ValueError, "validation_split"),
        (dict(x=X[:, :2], y=y), ValueError, "expects arrays of shape"),
        (dict(x=[["a", "b", "c"]] * 40, y=y), TypeError, "numeric"),
    ]
    for kwargs, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            m.fit(epochs=1, verbose=0, **kwargs)
        _assert_unchanged(m, before)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        m.compile(optimizer="adamw2", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss"):
        m.compile(optimizer="adam", loss="mse2")
    with pytest.raises(ValueError, match="Unknown metric"):
        m.compile(optimizer="adam", loss="mse", metrics=["acc2"])
    _assert_unchanged(m, before)
