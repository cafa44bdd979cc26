"""The Model API of issue 16, item 3: train/test/predict_on_batch, get_layer, to_json and
model_from_json, model.trainable, a model used as a layer inside another, users' classes by
registration, per-timestep sample weights, and initial_state= on a recurrent layer's call.

References: a flattened rnnlab model with the same weights (nested models), real Keras 3 on the
PyTorch backend with identical weights (sample weights, initial states, trainable counts)."""
import json
import re

import keras
import numpy as np
import pytest

import rnnlab
from rnnlab import Input, Model, Sequential, config
from rnnlab.layers import (
    GRU,
    LSTM,
    Dense,
    Dropout,
    Embedding,
    Layer,
    SimpleRNN,
    Subtract,
)
from rnnlab.losses import Loss
from rnnlab.metrics import MeanMetricWrapper, Metric
from rnnlab.models import model_from_json
from rnnlab.optimizers import SGD, Adam
from rnnlab.registry import register_serializable


def _data(n=12, t=5, m=3, out=1, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, t, m)).astype("float32"),
            rng.normal(size=(n, out)).astype("float32"))


def _state(model):
    """Everything a training call may change, copied."""
    opt = model.optimizer
    return ([w.copy() for w in model.get_weights()], opt.iterations,
            {k: [s.copy() for s in v] for k, v in opt.state.items()},
            config.rng().bit_generator.state)


def _assert_same_state(a, b):
    assert len(a[0]) == len(b[0]) and all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))
    assert a[1] == b[1] and a[2].keys() == b[2].keys() and a[3] == b[3]
    for k in a[2]:
        assert all(np.array_equal(x, y) for x, y in zip(a[2][k], b[2][k]))


def _twins(make):
    """Two models from ``make()`` with identical weights."""
    a, b = make(), make()
    b.set_weights(a.get_weights())
    return a, b


def _lstm_dropout_model():
    model = Sequential([Input((5, 3)), LSTM(4, dropout=0.2), Dropout(0.3), Dense(1)])
    model.compile(Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    return model


# ============================================================================ *_on_batch
def test_train_on_batch_is_one_fit_step_bit_for_bit():
    x, _ = _data()
    y = (np.arange(12) % 2).astype("float32")
    a, b = _twins(_lstm_dropout_model)
    for _ in range(2):               # the second step runs on the optimizer's slots
        config.set_random_seed(3)
        hist = a.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
        config.set_random_seed(3)
        loss, acc = b.train_on_batch(x, y)
        assert [loss, acc] == [hist.history["loss"][0], hist.history["accuracy"][0]]
        assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
        assert a.optimizer.iterations == b.optimizer.iterations
    assert b.history is None                    # a batch is not an epoch of a History


def test_train_on_batch_return_forms_and_refusals():
    x, y = _data()
    model = Sequential([Input((5, 3)), SimpleRNN(2), Dense(1)])
    with pytest.raises(RuntimeError, match="compiled before train_on_batch"):
        model.train_on_batch(x, y)
    model.compile(SGD(0.01), "mse")
    assert isinstance(model.train_on_batch(x, y), float)
    assert list(model.train_on_batch(x, y, return_dict=True)) == ["loss"]
    model.compile(SGD(0.01), "mse", metrics=["mae"])
    logs = model.train_on_batch(x, y, return_dict=True)
    assert list(logs) == ["loss", "mae"]
    with pytest.raises(ValueError, match="sample_weight or class_weight, not both"):
        model.train_on_batch(x, y, sample_weight=np.ones(12), class_weight={0: 1.0})


def test_a_rejected_train_on_batch_changes_nothing():
    x, _ = _data()
    y = (np.arange(12) % 2).astype("float32")
    model = _lstm_dropout_model()
    model.train_on_batch(x, y)
    before = _state(model)
    with pytest.raises(ValueError, match="targets must be in"):
        model.train_on_batch(x, y * 3)
    _assert_same_state(before, _state(model))


class _FailingOnce(Layer):
    """Identity whose backward pass fails once: a failure after the loss was computed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fail = True

    def forward(self, x, training=False, mask=None):
        def backward(d):
            if self.fail:
                self.fail = False
                raise RuntimeError("backward failed")
            return d
        return x, backward


def test_train_on_batch_failing_half_way_puts_everything_back():
    x, _ = _data()
    y = (np.arange(12) % 2).astype("float32")
    make = lambda: Sequential([Input((5, 3)), LSTM(4, dropout=0.5), _FailingOnce(),  # noqa: E731
                               Dense(1, activation="sigmoid")])
    a, b = _twins(make)
    for m in (a, b):
        m.compile(Adam(0.01), "binary_crossentropy")
        m.layers[1].fail = False
        config.set_random_seed(5)
        m.train_on_batch(x, y)
    a.layers[1].fail = True
    before = _state(a)
    with pytest.raises(RuntimeError, match="backward failed"):
        a.train_on_batch(x, y)                 # dropout drew from the generator, then failed
    _assert_same_state(before, _state(a))
    config.rng().bit_generator.state = before[3]
    la = a.train_on_batch(x, y)
    config.rng().bit_generator.state = before[3]
    assert la == b.train_on_batch(x, y)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_test_and_predict_on_batch_equal_evaluate_and_predict():
    x, _ = _data(n=10)
    y = (np.arange(10) % 2).astype("float32")
    model = _lstm_dropout_model()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    w = np.linspace(0, 2, 10)
    assert model.test_on_batch(x, y) == model.evaluate(x, y, batch_size=10, verbose=0)
    assert model.test_on_batch(x, y, sample_weight=w, return_dict=True) == model.evaluate(
        x, y, batch_size=10, verbose=0, sample_weight=w, return_dict=True)
    assert np.array_equal(model.predict_on_batch(x), model.predict(x, batch_size=10, verbose=0))
    weights = model.get_weights()
    model.test_on_batch(x, y)
    assert all(np.array_equal(u, v) for u, v in zip(weights, model.get_weights()))


# ============================================================================ get_layer, JSON
def test_get_layer_by_name_and_index():
    inp = Input((5, 3))
    lstm, dense = LSTM(4, name="enc"), Dense(1, name="head")
    model = Model(inp, dense(lstm(inp)))
    assert model.get_layer("enc") is lstm and model.get_layer(name="head") is dense
    assert model.get_layer(index=0) is lstm and model.get_layer(index=-1) is dense
    with pytest.raises(ValueError, match=r"No such layer: 'nope'.*\['enc', 'head'\]"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="index 2, but model .* has 2 layers"):
        model.get_layer(index=2)
    with pytest.raises(ValueError, match="not both"):
        model.get_layer("enc", 0)
    with pytest.raises(ValueError, match="needs a layer name or index"):
        model.get_layer()
    with pytest.raises(ValueError, match="index must be an integer"):
        model.get_layer(index=1.0)


@register_serializable(package="ModelAPITest")
class Scale(Layer):
    """A user's layer with an argument: y = factor · x."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def forward(self, x, training=False, mask=None):
        return x * self.factor, lambda d: d * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Unregistered(Scale):
    pass


def _nested_functional():
    inp = Input((5, 3), name="inner_in")
    inner = Model(inp, Dense(2, name="inner_dense")(LSTM(4, return_sequences=True,
                                                         name="inner_lstm")(inp)),
                  name="inner")
    x = Input((5, 3), name="outer_in")
    h = inner(x)
    return Model(x, Dense(1, name="outer_dense")(LSTM(3, name="outer_lstm")(Scale(3.0)(h))),
                 name="outer")


def test_to_json_model_from_json_round_trip():
    model = _nested_functional()
    text = model.to_json()
    spec = json.loads(text)
    assert spec["class_name"] == "Functional"
    assert spec["config"]["layers"][0]["class_name"] == "Functional"   # the nested config
    rebuilt = model_from_json(text)
    assert rebuilt.to_json() == text
    assert json.loads(model.to_json(indent=2)) == spec
    x, _ = _data()
    assert not np.allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    rebuilt.set_weights(model.get_weights())
    assert np.array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    seq = Sequential([Input((5, 3)), GRU(2), Dense(1)])
    assert model_from_json(seq.to_json()).to_json() == seq.to_json()


def test_model_from_json_custom_objects_and_errors():
    inp = Input((4,))
    model = Model(inp, Unregistered(0.5, name="u")(inp))
    with pytest.raises(ValueError, match="not a registered layer class"):
        model.to_json()
    text = json.dumps({"class_name": "Functional", "config": {
        **json.loads(Model(inp, Scale(0.5, name="u")(inp)).to_json())["config"]}})
    text = text.replace("ModelAPITest>Scale", "Mine")
    with pytest.raises(ValueError, match="Unknown layer class 'Mine'"):
        model_from_json(text)
    rebuilt = model_from_json(text, custom_objects={"Mine": Scale})
    assert rebuilt.get_layer("u").factor == 0.5
    with pytest.raises(ValueError, match="not valid JSON"):
        model_from_json("{oops")
    with pytest.raises(ValueError, match="'class_name' and 'config'"):
        model_from_json("[1, 2]")
    with pytest.raises(TypeError, match="needs a JSON string"):
        model_from_json({"class_name": "Functional"})


# ============================================================================ users' classes
@register_serializable(package="ModelAPITest")
class CubeLoss(Loss):
    """L = mean |p - y|³;  dL/dp = 3 (p - y)|p - y| / D."""
    name = "cube_loss"

    def _values_and_grad(self, y, p):
        d = p - y
        return np.mean(np.abs(d) ** 3, axis=-1), 3.0 * d * np.abs(d) / p.shape[-1]


def within_tol(y_true, y_pred, tol=0.5):
    """1 where the prediction is within ``tol`` of the target."""
    return (np.abs(y_pred - y_true) <= tol).astype(np.float64)


@register_serializable(package="ModelAPITest")
class WithinTol(MeanMetricWrapper):
    """The fraction of predictions within ``tol`` of the target."""

    def __init__(self, tol=0.5, name="within"):
        super().__init__(within_tol, name=name, tol=float(tol))
        self.tol = float(tol)

    def get_config(self):
        return {"tol": self.tol, "name": self.name}


class UnregisteredMetric(WithinTol):
    pass


def test_registered_layer_loss_and_metric_save_and_load(tmp_path):
    x, y = _data()
    model = Sequential([Input((5, 3)), SimpleRNN(3), Scale(0.5), Dense(1)])
    model.compile(Adam(0.01), CubeLoss(), metrics=[WithinTol(0.25), UnregisteredMetric(1.0,
                                                                                       "wide")])
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    path = tmp_path / "m.rnnlab"
    # as with layers, a class that could not be found again is refused before anything is written
    with pytest.raises(ValueError, match="UnregisteredMetric is not a registered metric class"):
        model.save(path)
    assert list(tmp_path.iterdir()) == []
    model.compile(model.optimizer, model.loss, metrics=[WithinTol(0.25)])
    model.save(path)
    loaded = rnnlab.load_model(path)
    assert isinstance(loaded.loss, CubeLoss) and loaded.get_layer(index=1).factor == 0.5
    assert isinstance(loaded.compiled_metrics[0][1], WithinTol)
    assert loaded.evaluate(x, y, return_dict=True, verbose=0) == model.evaluate(
        x, y, return_dict=True, verbose=0)
    assert list(loaded.evaluate(x, y, return_dict=True, verbose=0)) == ["loss", "within"]
    # custom_objects stands in for the registered class under its saved name
    loaded = rnnlab.load_model(path, custom_objects={"ModelAPITest>WithinTol": UnregisteredMetric})
    assert type(loaded.compiled_metrics[0][1]) is UnregisteredMetric


def test_an_incomplete_metric_subclass_is_refused_before_training():
    class Half(Metric):          # no update_state / result / reset_state
        pass

    x, y = _data()
    model = Sequential([Input((5, 3)), SimpleRNN(3), Dense(1)])
    model.compile(Adam(0.01), "mse", metrics=[Half()])
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="'half' .*does not implement reset_state"):
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations == 0


# ============================================================================ model.trainable
def test_a_frozen_model_gets_no_updates_and_counts_follow():
    x, y = _data()
    model = Sequential([Input((5, 3)), LSTM(4), Dense(1)])
    model.compile(Adam(0.05), "mse")
    n = model.count_params()
    model.trainable = False
    assert all(not layer.trainable for layer in model.layers)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 5
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Trainable params: 0\nNon-trainable params: {n:,}" in lines[0]
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.train_on_batch(x, y)
    assert all(np.array_equal(u, v) for u, v in zip(before, model.get_weights()))
    # nothing to update is no optimizer step (so no schedule advance), as in Keras 3
    ref = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    ref.compile(keras.optimizers.Adam(0.05), "mse")
    ref.trainable = False
    ref.fit(x, y, epochs=2, batch_size=4, verbose=0)
    ref.train_on_batch(x, y)
    assert model.optimizer.iterations == int(ref.optimizer.iterations) == 0
    model.trainable = True
    assert len(model.trainable_weights) == 5 and model.non_trainable_weights == []
    assert model.trainable_weights[0] is model.layers[0].params["kernel"]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])
    with pytest.raises(TypeError, match="trainable must be True or False"):
        model.trainable = "no"


def test_a_frozen_inner_model_inside_another_like_keras(tmp_path):
    x, y = _data()
    inner = Sequential([Input((5, 3)), LSTM(4), Dense(2)], name="base")
    outer = Sequential([inner, Dense(1, name="head")])
    inner.trainable = False
    k_inner = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4),
                                keras.layers.Dense(2)])
    k_outer = keras.Sequential([k_inner, keras.layers.Dense(1)])
    k_inner.trainable = False
    assert len(outer.trainable_weights) == len(k_outer.trainable_weights) == 2
    assert len(outer.non_trainable_weights) == len(k_outer.non_trainable_weights) == 5
    lines = []
    outer.summary(print_fn=lines.append)
    assert "Trainable params: 3\n" in lines[0] and "base (Sequential)" in lines[0]
    outer.compile(Adam(0.05), "mse")
    frozen, head = inner.get_weights(), outer.get_layer("head").get_weights()
    outer.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(frozen, inner.get_weights()))
    assert not np.array_equal(head[0], outer.get_layer("head").get_weights()[0])
    outer.save(tmp_path / "m.rnnlab")
    loaded = rnnlab.load_model(tmp_path / "m.rnnlab")
    assert loaded.get_layer("base").trainable is False
    assert len(loaded.trainable_weights) == 2


# ============================================================================ nested models
def _flat_equivalent(nested):
    """``_nested_functional``'s graph without the inner model (same layer types)."""
    x = Input((5, 3))
    h = Dense(2)(LSTM(4, return_sequences=True)(x))
    flat = Model(x, Dense(1)(LSTM(3)(Scale(3.0)(h))))
    flat.set_weights(nested.get_weights())
    return flat


def _grads(model, x, d_out):
    for layer in model._unique_layers():
        layer.zero_grads()
    outs, backward = model._forward_batch([x], training=False)
    d_in = backward([d_out])
    return outs[0], d_in[0], [layer.grads[p].copy() for _, layer, p in model._param_items()]


def test_a_nested_functional_model_equals_the_flat_one():
    nested = _nested_functional()
    flat = _flat_equivalent(nested)
    assert nested.count_params() == flat.count_params() > 0
    x, y = _data(seed=1)
    d_out = np.random.default_rng(2).normal(size=(12, 1)).astype("float32")
    out_n, dx_n, g_n = _grads(nested, x, d_out)
    out_f, dx_f, g_f = _grads(flat, x, d_out)
    assert np.array_equal(out_n, out_f) and np.array_equal(dx_n, dx_f)
    assert len(g_n) == len(g_f) == 10 and all(np.array_equal(a, b) for a, b in zip(g_n, g_f))
    assert [k for k, _, _ in nested._param_items()][:2] == ["inner/inner_lstm/kernel",
                                                            "inner/inner_lstm/recurrent_kernel"]
    for m in (nested, flat):
        m.compile(Adam(0.01), "mse")
    hn = nested.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hf = flat.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    assert hn == hf and hn[-1] < hn[0]
    assert all(np.array_equal(a, b) for a, b in zip(nested.get_weights(), flat.get_weights()))


def test_a_nested_model_saves_and_loads_exactly(tmp_path):
    nested = _nested_functional()
    x, y = _data(seed=3)
    nested.compile(Adam(0.01), "mse")
    nested.fit(x, y, epochs=2, batch_size=4, verbose=0)
    nested.save(tmp_path / "n.rnnlab")
    loaded = rnnlab.load_model(tmp_path / "n.rnnlab")
    assert loaded.get_layer("inner").get_layer("inner_lstm").units == 4
    assert np.array_equal(loaded.predict(x, verbose=0), nested.predict(x, verbose=0))
    for m in (nested, loaded):        # the optimizer's slots came back too
        m.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(nested.get_weights(), loaded.get_weights()))
    nested.save_weights(tmp_path / "w.rnnlab")
    fresh = _nested_functional()
    fresh.load_weights(tmp_path / "w.rnnlab")
    assert np.array_equal(fresh.predict(x, verbose=0), nested.predict(x, verbose=0))


def test_sequential_inside_sequential_built_late_and_one_summary_row():
    x, y = _data(seed=4)
    inner = Sequential([SimpleRNN(4, return_sequences=True), SimpleRNN(3)], name="enc")
    outer = Sequential([inner, Dense(1)], name="whole")
    outer.compile(Adam(0.01), "mse")
    hist = outer.fit(x, y, epochs=3, batch_size=4, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    flat = Sequential([Input((5, 3)), SimpleRNN(4, return_sequences=True), SimpleRNN(3),
                       Dense(1)])
    flat.set_weights(outer.get_weights())
    assert np.array_equal(outer.predict(x, verbose=0), flat.predict(x, verbose=0))
    lines = []
    outer.summary(print_fn=lines.append)
    assert re.search(rf"^enc \(Sequential\)\s+\(None, 3\)\s+{inner.count_params()}$", lines[0],
                     re.M)
    assert "simple_rnn" not in lines[0]
    assert len(outer.layers) == 2 and outer.layers[0] is inner
    loaded = model_from_json(outer.to_json())
    loaded.set_weights(outer.get_weights())
    assert np.array_equal(loaded.predict(x, verbose=0), flat.predict(x, verbose=0))


def test_masks_flow_into_and_out_of_a_nested_model():
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0], [6, 7, 8, 9, 1]])
    # mask from the outer Embedding into the inner LSTM
    inner = Sequential([LSTM(4)])
    nested = Sequential([Input((5,)), Embedding(10, 3, mask_zero=True), inner, Dense(1)])
    flat = Sequential([Input((5,)), Embedding(10, 3, mask_zero=True), LSTM(4), Dense(1)])
    flat.set_weights(nested.get_weights())
    assert np.array_equal(nested.predict(ids, verbose=0), flat.predict(ids, verbose=0))
    # mask made inside the inner model, read by the outer LSTM
    i = Input((5,))
    enc = Model(i, LSTM(4, return_sequences=True)(Embedding(10, 3, mask_zero=True)(i)))
    o = Input((5,))
    nested2 = Model(o, GRU(2)(enc(o)))
    f = Input((5,))
    flat2 = Model(f, GRU(2)(LSTM(4, return_sequences=True)(Embedding(10, 3,
                                                                    mask_zero=True)(f))))
    flat2.set_weights(nested2.get_weights())
    assert np.array_equal(nested2.predict(ids, verbose=0), flat2.predict(ids, verbose=0))
    unmasked = Model(f, GRU(2)(LSTM(4, return_sequences=True)(Embedding(10, 3)(f))))
    unmasked.set_weights(nested2.get_weights())
    assert not np.allclose(unmasked.predict(ids, verbose=0), nested2.predict(ids, verbose=0))


def test_a_shared_inner_model_adds_the_gradients_of_both_calls():
    i = Input((5, 3))
    enc = Model(i, SimpleRNN(3)(i), name="enc")
    a, b = Input((5, 3)), Input((5, 3))
    siamese = Model([a, b], Dense(1)(Subtract()([enc(a), enc(b)])))
    rnn = SimpleRNN(3)
    fa, fb = Input((5, 3)), Input((5, 3))
    flat = Model([fa, fb], Dense(1)(Subtract()([rnn(fa), rnn(fb)])))
    flat.set_weights(siamese.get_weights())
    xa, _ = _data(n=6, seed=5)
    xb, y = _data(n=6, seed=6)
    for m in (siamese, flat):
        m.compile(SGD(0.1), "mse")
        m.train_on_batch([xa, xb], y)
    assert len(siamese.get_weights()) == 5
    assert all(np.array_equal(u, v) for u, v in zip(siamese.get_weights(), flat.get_weights()))


def test_nested_model_errors_name_the_problem():
    i = Input((5, 3))
    enc = Model(i, SimpleRNN(3)(i), name="enc")
    with pytest.raises(ValueError, match=r"Model 'enc' input .* expects shape \(None, 5, 3\), "
                                         r"got \(None, 5, 4\)"):
        enc(Input((5, 4)))
    with pytest.raises(TypeError, match="unexpected call argument"):
        enc(Input((5, 3)), mask_zero=True)


# ============================================================================ sample weights
def _seq_models(optimizer):
    ours = Sequential([Input((5, 3)), SimpleRNN(4, return_sequences=True), Dense(2)])
    ref = keras.Sequential([keras.Input((5, 3)), keras.layers.SimpleRNN(4, return_sequences=True),
                            keras.layers.Dense(2)])
    ref.set_weights(ours.get_weights())
    ours.compile(optimizer[0], "mse")
    ref.compile(optimizer[1], "mse")
    return ours, ref


def test_per_timestep_sample_weights_equal_keras():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 5, 3)).astype("float32")
    y = rng.normal(size=(6, 5, 2)).astype("float32")
    sw = rng.uniform(0, 2, size=(6, 5)).astype("float32")
    sw[:, 3:] = 0.0                                    # padded steps weigh nothing
    ours, ref = _seq_models((SGD(0.1), keras.optimizers.SGD(0.1)))
    close = dict(rtol=1e-5, atol=1e-6)
    for w in (sw, None):
        np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=w, verbose=0),
                                   ref.evaluate(x, y, sample_weight=w, verbose=0), **close)
    np.testing.assert_allclose(ours.train_on_batch(x, y, sample_weight=sw),
                               ref.train_on_batch(x, y, sample_weight=sw), **close)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, **close)
    ho = ours.fit(x, y, sample_weight=sw, batch_size=3, epochs=2, shuffle=False, verbose=0)
    hr = ref.fit(x, y, sample_weight=sw, batch_size=3, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ho.history["loss"], hr.history["loss"], **close)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, **close)


def test_per_timestep_sample_weights_are_checked_before_any_update():
    x, _ = _data(n=6)
    y3 = np.zeros((6, 5, 2), "float32")
    ours, _ = _seq_models((Adam(0.1), keras.optimizers.SGD(0.1)))
    ours.train_on_batch(x, y3)
    before = _state(ours)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(6, 4\) weighs each time "
                                         r"step.*\(batch,\) \+ \(5,\)"):
        ours.fit(x, y3, sample_weight=np.ones((6, 4)), verbose=0)
    with pytest.raises(ValueError, match=r"\(6,\) .* or \(6, timesteps\)"):
        ours.train_on_batch(x, y3, sample_weight=np.ones((6, 5, 1, 1)))
    with pytest.raises(ValueError, match="must be >= 0"):
        ours.fit(x, y3, sample_weight=-np.ones((6, 5)), verbose=0)
    _assert_same_state(before, _state(ours))
    flat = Sequential([Input((5, 3)), SimpleRNN(2), Dense(1)])
    flat.compile("sgd", "mse")
    with pytest.raises(ValueError, match="weighs each time step"):
        flat.evaluate(x, np.zeros((6, 1)), sample_weight=np.ones((6, 5)), verbose=0)


# ============================================================================ initial_state=
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_initial_state_keyword_equals_positional_and_keras(kind):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    ours_cls, k_cls = {"lstm": (LSTM, keras.layers.LSTM), "gru": (GRU, keras.layers.GRU),
                       "simple_rnn": (SimpleRNN, keras.layers.SimpleRNN)}[kind]
    states = [rng.normal(size=(3, 4)).astype("float32")
              for _ in range(2 if kind == "lstm" else 1)]
    ref = k_cls(4, return_sequences=True)
    expected = keras.ops.convert_to_numpy(ref(x, initial_state=states))
    layer = ours_cls(4, return_sequences=True)
    layer.build((None, 6, 2))
    layer.set_weights(ref.get_weights())
    by_keyword = layer(x, initial_state=states)
    assert np.array_equal(by_keyword, layer([x, *states]))
    np.testing.assert_allclose(by_keyword, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(by_keyword, layer(x))
    xi, si = Input((6, 2)), [Input((4,)) for _ in states]
    model = Model([xi, *si], layer(xi, initial_state=si if len(si) > 1 else si[0]))
    assert np.array_equal(model.predict([x, *states], verbose=0), by_keyword)
    with pytest.raises(ValueError, match=r"initial_state takes \d array"):
        layer(x, initial_state=states + states)
    with pytest.raises(ValueError, match="initial states twice"):
        layer([x, *states], initial_state=states)


def test_legacy_implementation_argument_loads_as_in_keras():
    """keras/src/layers/rnn/gru_test.py::test_legacy_implementation_argument (numbers verbatim)."""
    seq = np.arange(72).reshape((3, 6, 4)).astype("float32")
    layer = GRU(3, kernel_initializer=rnnlab.initializers.Constant(0.01),
                recurrent_initializer=rnnlab.initializers.Constant(0.02),
                bias_initializer=rnnlab.initializers.Constant(0.03))
    cfg = layer.get_config()
    assert "implementation" not in cfg
    cfg["implementation"] = 0
    out = GRU.from_config(cfg)(seq)
    np.testing.assert_allclose(out, [[0.5217289] * 3, [0.6371659] * 3, [0.39384964] * 3],
                               atol=1e-6, rtol=1e-6)
    assert LSTM(2, implementation=1)(seq).shape == (3, 2)
    with pytest.raises(ValueError, match=r"implementation must be an integer in \[0, 2\]"):
        LSTM(2, implementation=3)


def test_weighted_metrics_match_keras_with_sample_and_class_weights(tmp_path):
    """compile(weighted_metrics=...) as Keras 3: plain metrics ignore the weights, weighted ones
    use them (class_weight included), a repeated name becomes weighted_<name>; saved and
    loaded."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 4)).astype("float32")
    y = (rng.random((20, 1)) > 0.5).astype("float32")
    sw = rng.random(20).astype("float32")
    model = Sequential([Input((4,)), Dense(1, activation="sigmoid")])
    model.compile(SGD(0.1), "binary_crossentropy", metrics=["mae", "accuracy"],
                  weighted_metrics=["mae", "accuracy", "mse"])
    ref = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    ref.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["mae", "accuracy"],
                weighted_metrics=["mae", "accuracy", "mse"])
    ref.set_weights(model.get_weights())
    ours = model.evaluate(x, y, sample_weight=sw, batch_size=7, return_dict=True, verbose=0)
    theirs = ref.evaluate(x, y, sample_weight=sw, batch_size=7, return_dict=True, verbose=0)
    assert list(ours) == ["loss", "mae", "accuracy", "weighted_mae", "weighted_accuracy", "mse"]
    assert set(theirs) == set(ours)          # (Keras lists them sorted)
    np.testing.assert_allclose([ours[k] for k in ours], [theirs[k] for k in ours], rtol=1e-5)
    cw = {0: 0.3, 1: 2.0}
    ours = model.fit(x, y, class_weight=cw, batch_size=7, epochs=1, shuffle=False,
                     verbose=0).history
    theirs = ref.fit(x, y, class_weight=cw, batch_size=7, epochs=1, shuffle=False,
                     verbose=0).history
    np.testing.assert_allclose([ours[k][0] for k in ours], [theirs[k][0] for k in ours],
                               rtol=1e-5)
    path = tmp_path / "m.rnnlab"
    model.save(path)
    loaded = rnnlab.load_model(path)
    assert loaded.evaluate(x, y, sample_weight=sw, return_dict=True, verbose=0) == \
        model.evaluate(x, y, sample_weight=sw, return_dict=True, verbose=0)
