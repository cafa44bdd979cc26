"""AdamW, Nadam, Adamax, weight_decay and use_ema: step for step equal to Keras 3's optimizers
(and to PyTorch's where PyTorch computes the same thing) on identical weights and gradients;
Keras's argument names, defaults and configs; snapshot/restore (fit's rollback) covers the new
state."""
import json

import keras
import numpy as np
import pytest
import torch

from rnnlab import config, optimizers, schedules
from rnnlab.callbacks import LambdaCallback
from rnnlab.layers import Dense
from rnnlab.models import Sequential

SHAPES = [(4, 3), (3,)]
# 2**-6 and float32-exact weight decays / EMA momenta: Keras keeps the learning rate in a
# float32 variable (and rounds ema_momentum to float32), so with these the float64
# trajectories are identical to rounding, not merely close
LR = 2.0 ** -6


def _data(steps, seed=0):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]
    return w0, grads


def _ours(opt, w0, grads, dtype=np.float64):
    ws = [w.astype(dtype) for w in w0]
    for g in grads:
        opt.apply([(f"layer/p{i}", w, gi.astype(dtype)) for i, (w, gi) in enumerate(zip(ws, g))])
    return ws


def _keras(opt, w0, grads, dtype="float64"):
    vs = [keras.Variable(w.astype(dtype), dtype=dtype) for w in w0]
    for g in grads:
        opt.apply([torch.tensor(gi.astype(dtype)) for gi in g], vs)
    return vs


def _close(ours, vs, tol):
    for a, v in zip(ours, vs):
        b = v.numpy() if hasattr(v, "numpy") else v
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


KERAS_CASES = [
    ("AdamW", dict(weight_decay=2.0 ** -8)),
    ("AdamW", dict(weight_decay=0.125, amsgrad=True, beta_1=0.5)),
    ("Nadam", {}),
    ("Nadam", dict(beta_1=0.75, beta_2=0.5, epsilon=1e-3)),
    ("Adamax", {}),
    ("Adamax", dict(beta_1=0.5, beta_2=0.75, epsilon=1e-3)),
]


@pytest.mark.parametrize("steps", [1, 12])
@pytest.mark.parametrize("name,kw", KERAS_CASES)
def test_new_optimizers_equal_keras(name, kw, steps):
    w0, grads = _data(steps)
    kw = {"learning_rate": LR, **kw}
    ours = _ours(getattr(optimizers, name)(**kw), w0, grads)
    _close(ours, _keras(getattr(keras.optimizers, name)(**kw), w0, grads), 1e-12)


@pytest.mark.parametrize("name", ["AdamW", "Nadam", "Adamax"])
def test_new_optimizers_equal_keras_in_float32_with_defaults(name):
    w0, grads = _data(20, seed=1)
    ours = _ours(getattr(optimizers, name)(), w0, grads, np.float32)
    assert ours[0].dtype == np.float32
    _close(ours, _keras(getattr(keras.optimizers, name)(), w0, grads, "float32"), 1e-6)


# PyTorch: AdamW and Adamax put ε elsewhere (inside the bias correction, inside the max), so
# with a tiny ε they agree; NAdam with momentum_decay=1 has Keras's momentum schedule
# (0.96**t; PyTorch's default is 0.96**(0.004 t)) and the same ε placement.
TORCH_CASES = [
    (lambda: optimizers.AdamW(0.01, weight_decay=0.1, epsilon=1e-12),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-12)),
    (lambda: optimizers.AdamW(0.01, weight_decay=0.05, epsilon=1e-12, amsgrad=True),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, eps=1e-12, amsgrad=True)),
    (lambda: optimizers.Nadam(0.01),
     lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-7, momentum_decay=1.0)),
    (lambda: optimizers.Nadam(0.01, weight_decay=0.1),
     lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-7, momentum_decay=1.0, weight_decay=0.1,
                                 decoupled_weight_decay=True)),
    (lambda: optimizers.Adamax(0.01, epsilon=1e-12),
     lambda p: torch.optim.Adamax(p, lr=0.01, eps=1e-12)),
]


@pytest.mark.parametrize("steps", [1, 25])
@pytest.mark.parametrize("ours,theirs", TORCH_CASES)
def test_new_optimizers_equal_pytorch(ours, theirs, steps):
    w0, grads = _data(steps, seed=2)
    a = _ours(ours(), w0, grads)
    ps = [torch.tensor(w.copy(), requires_grad=True) for w in w0]
    opt = theirs(ps)
    for g in grads:
        for p, gi in zip(ps, g):
            p.grad = torch.tensor(gi)
        opt.step()
    _close(a, [p.detach().numpy() for p in ps], 1e-6)


WD_CASES = [
    ("SGD", dict(weight_decay=0.125)),
    ("SGD", dict(weight_decay=0.25, momentum=0.5, nesterov=True)),
    ("Adam", dict(weight_decay=0.125)),
    ("Adam", dict(weight_decay=0.25, amsgrad=True)),
    ("RMSprop", dict(weight_decay=0.125)),
    ("RMSprop", dict(weight_decay=0.125, momentum=0.5, centered=True)),
    ("Adagrad", dict(weight_decay=0.25)),
    ("Nadam", dict(weight_decay=0.125)),
    ("Adamax", dict(weight_decay=0.125)),
    ("Adam", dict(weight_decay=0.125, learning_rate=schedules.ExponentialDecay(
        0.5, decay_steps=2, decay_rate=0.5, staircase=True))),
]


@pytest.mark.parametrize("name,kw", WD_CASES)
def test_weight_decay_equals_keras(name, kw):
    w0, grads = _data(10, seed=3)
    theirs_kw = dict(kw)
    if "learning_rate" in kw:
        theirs_kw["learning_rate"] = keras.optimizers.schedules.deserialize(
            {"class_name": "ExponentialDecay", "config": kw["learning_rate"].get_config()})
    kw = {"learning_rate": LR, **kw}
    theirs_kw = {"learning_rate": LR, **theirs_kw}
    ours = _ours(getattr(optimizers, name)(**kw), w0, grads)
    _close(ours, _keras(getattr(keras.optimizers, name)(**theirs_kw), w0, grads), 1e-12)


def test_weight_decay_zero_grad_shrinks_weights_by_lr_times_wd():
    w = np.array([1.0, -2.0])
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.apply([("w", w, np.zeros(2))])
    np.testing.assert_allclose(w, [0.95, -1.9])


def test_exclude_from_weight_decay():
    w0, grads = _data(3)
    opt = optimizers.AdamW(LR, weight_decay=0.25)
    opt.exclude_from_weight_decay(var_names=["p1"])
    ours = _ours(opt, w0, grads)
    plain = _ours(optimizers.Adam(LR), w0, grads)
    decayed = _ours(optimizers.AdamW(LR, weight_decay=0.25), w0, grads)
    np.testing.assert_array_equal(ours[1], plain[1])       # layer/p1: excluded
    np.testing.assert_array_equal(ours[0], decayed[0])
    with pytest.raises(ValueError, match="before the optimizer's first step"):
        opt.exclude_from_weight_decay(var_names=["bias"])


EMA_CASES = [
    ("Adam", dict(use_ema=True, ema_momentum=0.75)),
    ("Adam", dict(use_ema=True, ema_momentum=0.875, ema_overwrite_frequency=3)),
    ("SGD", dict(use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=1)),
    ("AdamW", dict(use_ema=True, ema_momentum=0.75, ema_overwrite_frequency=4, amsgrad=True,
                    weight_decay=0.125)),
    ("Nadam", dict(use_ema=True, ema_momentum=0.75, weight_decay=0.125)),
    ("RMSprop", dict(use_ema=True, ema_momentum=0.75, momentum=0.5)),
]


@pytest.mark.parametrize("name,kw", EMA_CASES)
def test_ema_equals_keras(name, kw):
    """Over several steps: the weights (overwritten every ema_overwrite_frequency steps), the
    moving averages, then finalize_variable_values (what fit does at its end)."""
    w0, grads = _data(10, seed=4)
    kw = {"learning_rate": LR, **kw}
    opt = getattr(optimizers, name)(**kw)
    ours = _ours(opt, w0, grads)
    kopt = getattr(keras.optimizers, name)(**kw)
    vs = _keras(kopt, w0, grads)
    _close(ours, vs, 1e-12)
    _close([opt.state[f"layer/p{i}"][-1] for i in range(2)],
           kopt._model_variables_moving_average, 1e-12)
    opt.finalize_variable_values([(f"layer/p{i}", w) for i, w in enumerate(ours)])
    kopt.finalize_variable_values(vs)
    _close(ours, vs, 1e-12)


def test_ema_with_keras_default_momentum():
    w0, grads = _data(15, seed=5)
    opt = optimizers.Adam(use_ema=True, ema_overwrite_frequency=5)
    kopt = keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=5)
    _close(_ours(opt, w0, grads, np.float32), _keras(kopt, w0, grads, "float32"), 1e-6)


def test_fit_ends_with_the_moving_average_as_keras():
    """Keras's fit calls finalize_variable_values after the last epoch; so does rnnlab's."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    kw = dict(learning_rate=0.01, use_ema=True, ema_momentum=0.9)
    ours = Sequential([Dense(2, input_shape=(3,))])
    ours.compile(optimizer=optimizers.Adam(**kw), loss="mse")
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    theirs.compile(optimizer=keras.optimizers.Adam(**kw), loss="mse")
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    averages = [ours.optimizer.state[key][-1] for key, _, _ in ours._param_items()]
    for a, b in zip(ours.get_weights(), averages):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kernels", ["reference", "fast"])
def test_adam_kernels_agree_with_weight_decay_and_ema(kernels):
    """The compiled fused Adam update still runs (and gives the reference's numbers) with
    weight decay and EMA around it."""
    config.set_kernels(kernels)
    w0, grads = _data(6, seed=6)
    kw = dict(learning_rate=LR, weight_decay=0.125, use_ema=True, ema_momentum=0.75)
    ours = _ours(optimizers.AdamW(**kw), w0, grads, np.float32)
    _close(ours, _keras(keras.optimizers.AdamW(**kw), w0, grads, "float32"), 1e-6)


# ------------------------------------------------------------------ arguments and configs
ALL = ["SGD", "Adam", "RMSprop", "Adagrad", "AdamW", "Nadam", "Adamax"]


@pytest.mark.parametrize("name", ALL)
def test_defaults_and_config_keys_are_keras(name):
    ours = getattr(optimizers, name)().get_config()
    theirs = getattr(keras.optimizers, name)().get_config()
    assert sorted(ours) == sorted(theirs)
    for k, v in theirs.items():
        if k == "name":
            continue
        if isinstance(v, float):
            assert ours[k] == pytest.approx(v, rel=1e-6), k      # Keras's float32 variable
        else:
            assert ours[k] == v, k


@pytest.mark.parametrize("name", ALL)
def test_config_round_trips(name):
    kw = dict(learning_rate=schedules.CosineDecay(0.0, 50, warmup_target=0.01, warmup_steps=5),
              weight_decay=0.01, clipnorm=1.5, use_ema=True, ema_momentum=0.9,
              ema_overwrite_frequency=10, name="mine")
    opt = getattr(optimizers, name)(**kw)
    spec = json.loads(json.dumps(optimizers.serialize(opt)))
    back = optimizers.get(spec)
    assert type(back) is type(opt) and back.get_config() == opt.get_config()
    # a Keras optimizer's config (with its schedule's) builds the same rnnlab optimizer
    kopt = getattr(keras.optimizers, name)(**{
        **kw, "learning_rate": keras.optimizers.schedules.CosineDecay(
            0.0, 50, warmup_target=0.01, warmup_steps=5)})
    kcfg = kopt.get_config()
    kcfg["learning_rate"] = {"class_name": kcfg["learning_rate"]["class_name"],
                             "config": kcfg["learning_rate"]["config"]}
    assert getattr(optimizers, name).from_config(kcfg).get_config() == opt.get_config()


@pytest.mark.parametrize("name", ["adamw", "nadam", "adamax"])
def test_by_name(name):
    assert type(optimizers.get(name)).__name__.lower() == name


@pytest.mark.parametrize("make,exc,match", [
    (lambda: optimizers.AdamW(weight_decay=None), ValueError, "weight_decay must be a float"),
    (lambda: optimizers.Adam(weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
    (lambda: optimizers.Adam(weight_decay="0.1"), TypeError, "weight_decay must be a number"),
    (lambda: optimizers.Adam(use_ema=True, ema_momentum=1.5), ValueError, "ema_momentum"),
    (lambda: optimizers.Adam(use_ema=True, ema_overwrite_frequency=0), ValueError,
     "ema_overwrite_frequency must be a positive integer"),
    (lambda: optimizers.Adam(use_ema="yes"), TypeError, "use_ema must be True or False"),
    (lambda: optimizers.Adam(decay=0.01), ValueError, "InverseTimeDecay"),
    (lambda: optimizers.Adam(loss_scale_factor=128.0), ValueError, "loss_scale_factor"),
    (lambda: optimizers.Adam(gradient_accumulation_steps=4), ValueError,
     "gradient_accumulation_steps"),
    (lambda: optimizers.Adam(learning_rate=lambda: 0.01), TypeError, "LearningRateSchedule"),
    (lambda: optimizers.Adam(learning_rate=-1.0), ValueError, "learning_rate must be"),
    (lambda: optimizers.Nadam(beta_1="x"), TypeError, "Nadam beta_1 must be a number"),
    (lambda: optimizers.Adamax(foo=1), TypeError, "unexpected keyword"),
])
def test_bad_arguments_are_refused(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_state_of_other_settings_is_refused_before_any_change():
    w = np.ones(3)
    opt = optimizers.Adam(use_ema=True)
    opt.state = {"w": [np.zeros(3), np.zeros(3)]}          # Adam's slots without the average
    with pytest.raises(ValueError, match="has 2 slots, this optimizer keeps 3"):
        opt.apply([("w", w, np.ones(3))])
    assert opt.iterations == 0 and np.array_equal(w, np.ones(3))


# ------------------------------------------------------------------ snapshot / rollback
def test_snapshot_restore_covers_ema_and_schedule():
    w0, grads = _data(4)
    opt = optimizers.Nadam(learning_rate=schedules.ExponentialDecay(0.1, 2, 0.5),
                           use_ema=True, weight_decay=0.01)
    ws = _ours(opt, w0, grads[:2])
    snap = opt.snapshot()
    before = {k: [s.copy() for s in v] for k, v in opt.state.items()}
    lr = opt.learning_rate
    after_ref = _ours(opt, ws, grads[2:])     # two more steps from the snapshot
    opt.learning_rate = schedules.ExponentialDecay(1.0, 1, 0.1)     # a callback swaps it
    opt.restore(snap)
    assert opt.iterations == 2 and opt.learning_rate == lr
    assert opt.learning_rate_schedule == schedules.ExponentialDecay(0.1, 2, 0.5)
    for k, v in before.items():
        for a, b in zip(opt.state[k], v):
            np.testing.assert_array_equal(a, b)
    again = _ours(opt, ws, grads[2:])
    for a, b in zip(again, after_ref):
        np.testing.assert_array_equal(a, b)


def test_failed_fit_rolls_back_ema_slots_and_learning_rate():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 3)), rng.normal(size=(24, 1))
    model = Sequential([Dense(2, input_shape=(3,)), Dense(1)])
    model.compile(optimizer=optimizers.Adamax(0.01, use_ema=True, weight_decay=0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    opt = model.optimizer
    before = (opt.iterations, opt.learning_rate, {k: [s.copy() for s in v]
                                                  for k, v in opt.state.items()},
              model.get_weights())

    def fail(epoch, logs):
        opt.learning_rate = 0.5                 # as a callback may do, before failing
        if epoch == 1:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0,
                  callbacks=[LambdaCallback(on_epoch_end=fail)])
    assert opt.iterations == before[0] and opt.learning_rate == before[1]
    assert opt.state.keys() == before[2].keys()
    for k, v in before[2].items():
        assert len(opt.state[k]) == 3            # m, u and the moving average
        for a, b in zip(opt.state[k], v):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(model.get_weights(), before[3]):
        np.testing.assert_array_equal(a, b)
