"""A rejected fit changes nothing: the data is checked before the first update, and a failure
after it puts the weights, the optimizer and the random state back (issue 15, item 1)."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlab import Sequential, config
from rnnlab.callbacks import Callback, LambdaCallback
from rnnlab.layers import LSTM, Dense, Embedding, SimpleRNN
from rnnlab.optimizers import Adam


def _state(model):
    """Everything a fit may change, copied."""
    opt = model.optimizer
    return ([w.copy() for w in model.get_weights()], opt.iterations, opt.learning_rate,
            {k: [s.copy() for s in v] for k, v in opt.state.items()},
            config.rng().bit_generator.state)


def _assert_same(before, after):
    wb, ib, lrb, sb, rb = before
    wa, ia, lra, sa, ra = after
    assert len(wb) == len(wa) and all(np.array_equal(a, b) for a, b in zip(wb, wa))
    assert (ib, lrb) == (ia, lra)
    assert sb.keys() == sa.keys()
    for k in sb:
        assert all(np.array_equal(a, b) for a, b in zip(sb[k], sa[k]))
    assert rb == ra


def _text_model(vocab=20, classes=None):
    model = Sequential([Embedding(vocab, 4), SimpleRNN(5),
                        Dense(classes or 1, activation="softmax" if classes else "sigmoid")])
    model.compile(Adam(0.01), "sparse_categorical_crossentropy" if classes
                  else "binary_crossentropy", metrics=["accuracy"])
    return model


def _ids(n=64, t=7, vocab=20, seed=0):
    return np.random.default_rng(seed).integers(1, vocab, size=(n, t))


def _trained(model, x, y):
    """One fit first, so that the optimizer has slots and iterations to lose."""
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return model


@pytest.mark.parametrize("bad, message", [(20, "token id 20 >= input_dim=20"),
                                          (-1, "negative token id -1"),
                                          (2.5, "non-integer value 2.5")])
def test_a_bad_id_in_a_late_batch_is_refused_before_any_update(bad, message):
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    x_bad = x.astype(np.float64)
    x_bad[50, 3] = bad                       # batch 4 of 4
    before = _state(model)
    with pytest.raises(ValueError, match=message):
        model.fit(x_bad, y, epochs=2, batch_size=16, verbose=0)
    _assert_same(before, _state(model))


def test_a_bad_label_in_the_validation_data_is_refused_before_any_update():
    x, y = _ids(), np.random.default_rng(1).integers(0, 3, 64)
    model = _trained(_text_model(classes=3), x, y)
    vy = y.copy()
    vy[-1] = 3
    before = _state(model)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\).*from 0 to 3"):
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x, vy))
    _assert_same(before, _state(model))
    with pytest.raises(ValueError, match="non-integer value 1.5"):
        model.fit(x, np.where(y == 1, 1.5, y), epochs=1, verbose=0)
    _assert_same(before, _state(model))


def test_a_failure_after_the_first_update_puts_everything_back():
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    before = _state(model)

    def fail(batch, logs):
        if batch == 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                  callbacks=[LambdaCallback(on_train_batch_end=fail)])
    _assert_same(before, _state(model))
    # and the model trains on from there
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model.optimizer.iterations == before[1] + 4


def test_a_learning_rate_changed_by_a_callback_is_put_back_too():
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    before = _state(model)

    class HalveThenFail(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate /= 2
            if epoch == 1:
                raise ValueError("stop")

    with pytest.raises(ValueError, match="stop"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[HalveThenFail()])
    _assert_same(before, _state(model))


def test_an_interrupt_keeps_the_epochs_done_as_keras_does():
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    before = _state(model)
    seen = []

    def interrupt(epoch, logs):
        seen.append(epoch)
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=4, batch_size=16, verbose=0,
                  callbacks=[LambdaCallback(on_epoch_end=interrupt)])
    assert seen == [0, 1]
    after = _state(model)
    assert after[1] == before[1] + 2 * 4                 # two epochs of four updates stayed
    assert not np.array_equal(after[0][0], before[0][0])


@pytest.mark.parametrize("what, kwargs, error, message", [
    ("complex x", {"x": 1j}, TypeError, "complex"),
    ("complex y", {"y": 1j}, TypeError, "complex"),
    ("x beyond float32", {"x": 1e39}, ValueError, "beyond the largest float32"),
    ("NaN y", {"y": np.nan}, ValueError, "non-finite"),
    ("negative sample_weight", {"sample_weight": -1.0}, ValueError, "sample_weight must be >= 0"),
    ("NaN sample_weight", {"sample_weight": np.nan}, ValueError, "non-finite"),
    ("complex sample_weight", {"sample_weight": 1j}, TypeError, "complex"),
])
def test_garbage_data_is_refused_and_nothing_changes(what, kwargs, error, message):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5, 2)), rng.normal(size=(32, 1))
    sw = np.ones(32)
    model = Sequential([LSTM(3, input_shape=(None, 2)), Dense(1)])
    model.compile(Adam(), "mse")
    model.fit(x, y, verbose=0)
    arrays = {"x": x.astype(np.complex128 if kwargs.get("x") == 1j else np.float64),
              "y": y.astype(np.complex128 if kwargs.get("y") == 1j else np.float64),
              "sample_weight": sw.astype(np.complex128 if kwargs.get("sample_weight") == 1j
                                         else np.float64)}
    for k, v in kwargs.items():
        arrays[k][-1] = v                                    # the last sample: the last batch
    before = _state(model)
    with pytest.raises(error, match=message):
        model.fit(arrays["x"], arrays["y"], sample_weight=arrays["sample_weight"], verbose=0,
                  batch_size=8)
    _assert_same(before, _state(model))


@pytest.mark.parametrize("class_weight, error, message", [
    ({0: 1.0, 1: np.nan}, ValueError, r"class_weight\[1\] must be finite and >= 0"),
    ({0: 1.0, 1: -2.0}, ValueError, r"class_weight\[1\] must be finite and >= 0"),
    ({0: 1.0, 1: "2"}, TypeError, "must be a real number"),
    ({0: 1.0, "1": 2.0}, TypeError, "keys must be integer class ids"),
    ({0: 1.0}, ValueError, r"no entry for class\(es\) \[1\]"),
    ([1.0, 2.0], TypeError, "must be a dict"),
])
def test_bad_class_weights_are_refused(class_weight, error, message):
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    before = _state(model)
    with pytest.raises(error, match=message):
        model.fit(x, y, class_weight=class_weight, verbose=0)
    _assert_same(before, _state(model))


def test_binary_crossentropy_targets_must_be_in_0_1():
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64).astype(float)
    model = _trained(_text_model(), x, y)
    before = _state(model)
    for bad in (2.0, -0.5):
        yb = y.copy()
        yb[-3] = bad
        with pytest.raises(ValueError, match=r"binary_crossentropy targets must be in \[0, 1\]"):
            model.fit(x, yb, verbose=0)
        with pytest.raises(ValueError, match=r"binary_crossentropy targets must be in \[0, 1\]"):
            model.evaluate(x, yb, verbose=0)
    _assert_same(before, _state(model))
    model.fit(x, np.full(64, 0.3), verbose=0)                # soft labels stay allowed


def test_set_weights_checks_every_array_before_replacing_any():
    model = _text_model()
    model.build((None, 7))
    before = model.get_weights()
    for bad, error, message in [(np.full(1, np.nan), ValueError, "non-finite"),
                                (np.full(1, 1 + 1j), TypeError, "real numbers"),
                                (np.full(1, 1e39), ValueError, "beyond the range of float32"),
                                (np.array(["a"]), TypeError, "real numbers"),
                                (np.zeros(2), ValueError, r"shape \(1,\)")]:
        new = [w + 1 for w in before[:-1]] + [bad]          # the last of 6 is bad
        with pytest.raises(error, match=message):
            model.set_weights(new)
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
        with pytest.raises(error, match=message):
            model.layers[-1].set_weights([before[-2] + 1, bad])
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("kwargs, message", [
    ({"initial_epoch": -1}, "initial_epoch"), ({"steps_per_epoch": 0}, "steps_per_epoch"),
    ({"steps_per_epoch": 2.5}, "steps_per_epoch"), ({"validation_steps": -3}, "validation_steps"),
    ({"validation_freq": 0}, "validation_freq"), ({"verbose": 3}, "verbose"),
    ({"validation_batch_size": 0}, "batch_size"), ({"validation_split": True}, "validation_split"),
])
def test_bad_fit_arguments_are_refused(kwargs, message):
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    before = _state(model)
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(x, y, epochs=2, verbose=0, **kwargs)
    _assert_same(before, _state(model))


def test_initial_epoch_at_or_past_epochs_trains_nothing():
    x, y = _ids(), np.random.default_rng(1).integers(0, 2, 64)
    model = _trained(_text_model(), x, y)
    before = _state(model)
    h = model.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert h.history == {}
    assert _state(model)[1] == before[1]


def _dense_pair():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(100, 4)), rng.normal(size=(100, 1))
    models = []
    for _ in range(2):
        m = Sequential([Dense(3, activation="tanh", input_shape=(4,)), Dense(1)])
        m.compile(Adam(0.01), "mse")
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    return x, y, models


def test_steps_per_epoch_continues_through_the_data_across_epochs():
    """Keras 3 with arrays: 3 batches per epoch, the next epoch continuing where the last
    stopped; the 4th epoch has one batch left and ends there with a warning.  With
    shuffle=False that is exactly one ordinary epoch over the 10 batches."""
    x, y, (a, b) = _dense_pair()
    with pytest.warns(UserWarning, match="ran out of data"):
        h = a.fit(x, y, batch_size=10, epochs=4, steps_per_epoch=3, shuffle=False, verbose=0)
    b.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    assert a.optimizer.iterations == b.optimizer.iterations == 10
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))
    assert len(h.history["loss"]) == 4 and h.params["steps"] == 3


def test_steps_per_epoch_matches_real_keras_iteration_counts():
    keras = pytest.importorskip("keras")
    x, y, (a, _) = _dense_pair()
    k = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    k.compile("adam", "mse")
    for steps, epochs in [(3, 4), (5, 3), (12, 2)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            before_k = int(k.optimizer.iterations.numpy() if hasattr(k.optimizer.iterations,
                                                                     "numpy")
                           else k.optimizer.iterations)
            k.fit(x, y, batch_size=10, epochs=epochs, steps_per_epoch=steps, verbose=0)
            after_k = k.optimizer.iterations
            after_k = int(after_k.numpy() if hasattr(after_k, "numpy") else after_k)
            before = a.optimizer.iterations
            a.fit(x, y, batch_size=10, epochs=epochs, steps_per_epoch=steps, verbose=0)
        assert a.optimizer.iterations - before == after_k - before_k, (steps, epochs)


def test_validation_steps_batch_size_and_freq():
    x, y, (a, b) = _dense_pair()
    h = a.fit(x[:60], y[:60], epochs=4, validation_data=(x[60:], y[60:]), validation_freq=2,
              validation_batch_size=7, validation_steps=2, shuffle=False, verbose=0)
    assert len(h.history["val_loss"]) == 2 and len(h.history["loss"]) == 4
    # validation_steps=2 of 7 samples: the loss of the first 14 validation samples
    b.set_weights(a.get_weights())
    assert h.history["val_loss"][-1] == pytest.approx(
        b.evaluate(x[60:74], y[60:74], verbose=0), rel=1e-6)
    assert b.evaluate(x[60:], y[60:], steps=2, batch_size=7, verbose=0) == pytest.approx(
        h.history["val_loss"][-1], rel=1e-6)
    assert b.predict(x, batch_size=16, steps=2, verbose=0).shape == (32, 1)


# ------------------------------------------------------------------ property-based
_garbage = st.sampled_from([None, "nan", "inf", "big", "complex", "id_high", "id_neg",
                            "id_frac", "label", "neg_weight"])


@given(kind=_garbage, where=st.integers(0, 47), epochs=st.integers(1, 2),
       batch=st.integers(1, 20))
def test_fit_either_trains_or_refuses_and_changes_nothing(kind, where, epochs, batch):
    config.set_random_seed(0)
    rng = np.random.default_rng(where)
    x = rng.integers(1, 10, size=(48, 5)).astype(np.float64)
    y = rng.integers(0, 2, 48).astype(np.float64)
    sw = np.ones(48)
    if kind == "complex":
        x = x.astype(np.complex128)
        x[where, 0] += 1j
    elif kind in ("nan", "inf", "big", "id_high", "id_neg", "id_frac"):
        x[where, where % 5] = {"nan": np.nan, "inf": np.inf, "big": 1e39, "id_high": 10,
                               "id_neg": -1, "id_frac": 0.5}[kind]
    elif kind == "label":
        y[where] = 2.0
    elif kind == "neg_weight":
        sw[where] = -0.1
    model = Sequential([Embedding(10, 3), LSTM(2), Dense(1, activation="sigmoid")])
    model.compile(Adam(0.01), "binary_crossentropy")
    model.fit(np.ones((8, 5)), np.ones(8), verbose=0)
    before = _state(model)
    try:
        model.fit(x, y, sample_weight=sw, epochs=epochs, batch_size=batch, verbose=0)
    except (ValueError, TypeError):
        assert kind is not None
        _assert_same(before, _state(model))
    else:
        assert kind is None
        assert model.optimizer.iterations == before[1] + epochs * -(-48 // batch)


def test_sequential_add_of_a_layer_that_does_not_fit_changes_nothing():
    model = Sequential([Dense(3, input_shape=(4,))])
    summary = []
    model.summary(print_fn=summary.append)
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        model.add(LSTM(2))
    assert len(model.layers) == 1
    after = []
    model.summary(print_fn=after.append)
    assert after == summary
    model.add(Dense(2))
    assert model.predict(np.ones((2, 4)), verbose=0).shape == (2, 2)
