"""Learning-rate schedules: values equal Keras 3's at every step, configs round-trip, optimizers
follow them step by step (as Keras's do), and they survive a model file."""
import json

import keras
import numpy as np
import pytest
import torch

from rnnlab import optimizers, schedules
from rnnlab.callbacks import BackupAndRestore, LambdaCallback, LearningRateScheduler
from rnnlab.layers import Dense
from rnnlab.models import Sequential, load_model

KS = keras.optimizers.schedules

# (rnnlab schedule, Keras's), the same arguments
CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5,
                              staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[5, 12, 20], values=[1.0, 0.5, 0.1, 0.01])),
    ("PiecewiseConstantDecay", dict(boundaries=[10], values=[0.3, 0.03])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=4, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=4, decay_rate=0.5,
                              staircase=True)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=15)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=15, end_learning_rate=0.01,
                             power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, end_learning_rate=0.01,
                             power=0.5, cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=20, alpha=0.05,
                         warmup_target=0.1, warmup_steps=8)),
    ("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=15, warmup_target=0.2,
                         warmup_steps=5)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=5)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4, t_mul=1.0,
                                 m_mul=0.5, alpha=0.1)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3, t_mul=1.5,
                                 m_mul=0.8)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
STEPS = range(0, 60)


def _keras_values(name, kwargs, dtype):
    """Keras's values at STEPS; with float64 its arithmetic is done in float64 (the learning
    rates given as float64 tensors), so that it can be compared to 1e-12, not just float32's."""
    kw = dict(kwargs)
    if dtype == "float64":
        for k in ("initial_learning_rate", "warmup_target"):
            if kw.get(k) is not None:
                kw[k] = torch.tensor(kw[k], dtype=torch.float64)
        if "values" in kw:
            kw["values"] = [torch.tensor(v, dtype=torch.float64) for v in kw["values"]]
    sched = getattr(KS, name)(**kw)
    return np.array([float(sched(torch.tensor(s))) for s in STEPS])


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_values_equal_keras(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    got = np.array([ours(s) for s in STEPS])
    np.testing.assert_allclose(got, _keras_values(name, kwargs, "float32"), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, _keras_values(name, kwargs, "float64"), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_config_round_trip(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    spec = json.loads(json.dumps(schedules.serialize(ours)))
    back = schedules.deserialize(spec)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    assert [back(s) for s in STEPS] == [ours(s) for s in STEPS]
    # Keras's own config (its argument names) builds ours, and ours builds Keras's
    theirs = getattr(KS, name)(**kwargs)
    assert getattr(schedules, name).from_config(theirs.get_config()).get_config() == \
        ours.get_config()
    assert getattr(KS, name).from_config(ours.get_config()).get_config() == theirs.get_config()


@pytest.mark.parametrize("make,match", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps must be a positive"),
    (lambda: schedules.ExponentialDecay(0.1, -3, 0.5), "decay_steps must be a positive"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_steps=-1), "warmup_steps"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), "1 less than"),
    (lambda: schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3]), "must increase"),
    (lambda: schedules.PolynomialDecay(0.1, 10, power=float("nan")), "power must be a finite"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0), "t_mul must be a positive"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="initial_learning_rate must be a number"):
        schedules.ExponentialDecay("0.1", 10, 0.5)
    with pytest.raises(TypeError, match="step must be a number"):
        schedules.ExponentialDecay(0.1, 10, 0.5)("three")


def _grads(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 2)) for _ in range(n)]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizer_follows_the_schedule_as_keras(opt_name):
    """Keras evaluates the schedule at optimizer.iterations before each update: the same
    trajectory here (float64 weights; Keras's schedule runs in float32, hence 1e-6)."""
    kw = dict(initial_learning_rate=0.05, decay_steps=3, decay_rate=0.5, staircase=True)
    ours = getattr(optimizers, opt_name)(learning_rate=schedules.ExponentialDecay(**kw))
    theirs = getattr(keras.optimizers, opt_name)(learning_rate=KS.ExponentialDecay(**kw))
    w0 = np.random.default_rng(1).normal(size=(3, 2))
    w, v = w0.copy(), keras.Variable(w0.copy(), dtype="float64")
    lrs = []
    for g in _grads(10):
        lrs.append(ours.learning_rate)
        assert lrs[-1] == pytest.approx(float(theirs.learning_rate), rel=1e-6)
        ours.apply([("w", w, g.copy())])
        theirs.apply([torch.tensor(g)], [v])
    np.testing.assert_allclose(w, v.numpy(), rtol=1e-6, atol=1e-7)
    assert lrs == [0.05 * 0.5 ** (i // 3) for i in range(10)]
    assert ours.iterations == 10


def test_schedule_learning_rate_cannot_be_set_to_a_number():
    opt = optimizers.Adam(learning_rate=schedules.InverseTimeDecay(0.1, 1, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01
    assert isinstance(opt.learning_rate_schedule, schedules.InverseTimeDecay)
    opt.learning_rate = schedules.ExponentialDecay(0.2, 1, 0.5)     # a new schedule is fine
    assert opt.learning_rate == 0.2


def test_optimizer_config_carries_the_schedule():
    sched = schedules.CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.01, warmup_steps=10)
    opt = optimizers.AdamW(learning_rate=sched, weight_decay=0.01)
    spec = json.loads(json.dumps(optimizers.serialize(opt)))
    assert spec["config"]["learning_rate"]["class_name"] == "CosineDecay"
    back = optimizers.deserialize(spec)
    assert back.learning_rate_schedule == sched and back.get_config() == opt.get_config()


def _model(opt):
    model = Sequential([Dense(4, activation="tanh", input_shape=(3,)), Dense(1)])
    model.compile(optimizer=opt, loss="mse")
    return model


def _lr_log():
    """A callback recording the learning rate before every batch."""
    seen = []
    cb = LambdaCallback(on_train_batch_begin=lambda b, logs: seen.append(
        cb.model.optimizer.learning_rate))
    return cb, seen


@pytest.mark.parametrize("use_ema", [False, True])
def test_schedule_survives_save_and_load(tmp_path, use_ema):
    """Trained 2 epochs, saved, loaded, trained 2 more: the same learning rates and weights as
    4 epochs in one go (the schedule and the step count come back with the model)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))

    def make():
        sched = schedules.PolynomialDecay(0.05, decay_steps=17, end_learning_rate=0.001,
                                          power=2.0)
        return _model(optimizers.Nadam(learning_rate=sched, use_ema=use_ema,
                                       ema_overwrite_frequency=7 if use_ema else None))

    whole = make()
    w0 = whole.get_weights()
    cb, lrs_whole = _lr_log()
    whole.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=[cb])

    part = make()
    part.set_weights(w0)
    cb, lrs_part = _lr_log()
    part.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    path = tmp_path / "m.rnnlab"
    part.save(path)
    loaded = load_model(path)
    assert loaded.optimizer.learning_rate_schedule == part.optimizer.learning_rate_schedule
    assert loaded.optimizer.iterations == 10
    cb, lrs_rest = _lr_log()
    loaded.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, shuffle=False, verbose=0,
               callbacks=[cb])
    assert lrs_part + lrs_rest == lrs_whole
    assert len(set(lrs_whole)) == 18     # steps 0..17 decay to the end value, which then stays
    if not use_ema:    # with EMA, fit's end swaps the averages in (so 2+2 epochs differ)
        for a, b in zip(loaded.get_weights(), whole.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ LearningRateScheduler
def _halve_after_first(epoch, lr):
    return lr if epoch < 1 else lr * 0.5


@pytest.mark.parametrize("schedule", [_halve_after_first, lambda epoch: 0.1 / (epoch + 1)])
def test_learning_rate_scheduler_as_keras(schedule):
    """The same model, data and schedule in Keras 3: the same learning rate each epoch (its
    logs' "learning_rate"), and so the same weights."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 3)).astype("float32")
    y = rng.normal(size=(24, 1)).astype("float32")
    ours = Sequential([Dense(1, input_shape=(3,))])
    ours.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    theirs.set_weights(ours.get_weights())
    seen = []
    probe = LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        ours.optimizer.learning_rate))
    h1 = ours.fit(x, y, batch_size=6, epochs=4, shuffle=False, verbose=0,
                  callbacks=[LearningRateScheduler(schedule), probe])
    h2 = theirs.fit(x, y, batch_size=6, epochs=4, shuffle=False, verbose=0,
                    callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
    np.testing.assert_allclose(h1.history["learning_rate"], h2.history["learning_rate"],
                               rtol=1e-6)
    assert seen == h1.history["learning_rate"]     # set at the epoch's start
    np.testing.assert_allclose(ours.get_weights()[0], theirs.get_weights()[0], rtol=1e-5,
                               atol=1e-6)


def test_learning_rate_scheduler_refuses_a_schedule_optimizer():
    model = _model(optimizers.Adam(learning_rate=schedules.ExponentialDecay(0.1, 5, 0.5)))
    x, y = np.ones((4, 3)), np.ones((4, 1))
    w = model.get_weights()
    with pytest.raises(TypeError, match="not settable"):
        model.fit(x, y, epochs=2, verbose=0,
                  callbacks=[LearningRateScheduler(lambda e, lr: lr * 0.5)])
    assert all(np.array_equal(a, b) for a, b in zip(w, model.get_weights()))
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("schedule,exc,match", [
    (lambda e, lr: "0.1", ValueError, "should be a float"),
    (lambda e, lr: None, ValueError, "should be a float"),
    (lambda e, lr: float("nan"), ValueError, "finite number >= 0"),
    (lambda e, lr: -0.1, ValueError, "finite number >= 0"),
])
def test_learning_rate_scheduler_bad_output(schedule, exc, match):
    model = _model(optimizers.SGD(0.1))
    with pytest.raises(exc, match=match):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0,
                  callbacks=[LearningRateScheduler(schedule)])
    assert model.optimizer.learning_rate == 0.1


def test_learning_rate_scheduler_change_is_rolled_back_with_a_failed_fit():
    model = _model(optimizers.SGD(0.1))

    def fail(epoch, logs):
        if epoch == 1:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=3, verbose=0,
                  callbacks=[LearningRateScheduler(lambda e, lr: lr / 10),
                             LambdaCallback(on_epoch_end=fail)])
    assert model.optimizer.learning_rate == 0.1 and model.optimizer.iterations == 0


def test_learning_rate_scheduler_arguments():
    with pytest.raises(TypeError, match="must be a function"):
        LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="verbose"):
        LearningRateScheduler(lambda e, lr: lr, verbose=-1)


def test_backup_and_restore_resumes_a_schedule(tmp_path):
    """A fit with a schedule interrupted by a crash resumes from its backup with the same
    learning rates and weights as one never interrupted."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))

    def make():
        return _model(optimizers.AdamW(learning_rate=schedules.InverseTimeDecay(0.05, 3, 0.5),
                                       use_ema=True, ema_momentum=0.9))

    whole = make()
    w0 = whole.get_weights()
    cb, lrs_whole = _lr_log()
    whole.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=[cb])

    def crash(epoch, logs):
        if epoch == 2:
            raise RuntimeError("crash")

    resumed = make()
    resumed.set_weights(w0)
    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="crash"):
        resumed.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                    callbacks=[BackupAndRestore(backup), LambdaCallback(on_epoch_end=crash)])
    cb, lrs = _lr_log()
    resumed.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                callbacks=[BackupAndRestore(backup), cb])
    assert lrs == lrs_whole[12:]     # the 3rd epoch was backed up before the crash: the 4th
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
