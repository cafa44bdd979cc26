"""Nothing is accepted and ignored (issue 16): every keyword a public layer, compile, fit,
evaluate, predict or the *_on_batch methods accept is walked from its signature
(inspect.signature, the keywords a class passes on through ``**kwargs`` included) and shown to
be honoured: a non-default value shows in the layer's config or changes what the call does, or
is refused with a clear error.  A new keyword without an entry here fails the walk; an unknown
keyword is a TypeError."""
import inspect

import numpy as np
import pytest

import rnnlab.layers as L
from rnnlab import Input, Model, Sequential, config
from rnnlab.callbacks import Callback
from rnnlab.layers.recurrent.builtin import CellLayer
from rnnlab.models import Functional
from rnnlab.optimizers import SGD, Adam


# ============================================================================ layers
def _double(x):
    return 2 * x


def _double_backward(x, dy):
    return 2 * dy


def _keep_mask(x, mask):
    return mask


#: The arguments each layer class needs (its required positional ones).
REQUIRED = {
    "Dense": dict(units=3), "Activation": dict(activation="tanh"), "Dropout": dict(rate=0.5),
    "SimpleRNN": dict(units=3), "LSTM": dict(units=3), "GRU": dict(units=3),
    "SimpleRNNCell": dict(units=3), "LSTMCell": dict(units=3), "GRUCell": dict(units=3),
    "RNN": dict(cell=L.LSTMCell(3)),
    "StackedRNNCells": dict(cells=[L.LSTMCell(3), L.GRUCell(2)]),
    "Embedding": dict(input_dim=10, output_dim=3),
    "Conv1D": dict(filters=2, kernel_size=3), "Convolution1D": dict(filters=2, kernel_size=3),
    "Permute": dict(dims=(2, 1)), "RepeatVector": dict(n=2), "Reshape": dict(target_shape=(6,)),
    "Bidirectional": dict(layer=L.LSTM(3)), "TimeDistributed": dict(layer=L.Dense(2)),
    "Dot": dict(axes=1),
    "GaussianDropout": dict(rate=0.5), "GaussianNoise": dict(stddev=0.5),
    "SpatialDropout1D": dict(rate=0.5), "Lambda": dict(function=_double),
    "MultiHeadAttention": dict(num_heads=2, key_dim=3),
}
#: Abstract bases, not layers a user constructs.
ABSTRACT = {"Layer", "Cell"}

#: A valid non-default value per keyword (a bool keyword is flipped without an entry).
VALUES = {
    "name": "custom_name", "dtype": "float64", "input_shape": (6, 3), "input_dim": 3,
    "batch_input_shape": (None, 6, 3),
    "units": 5, "activation": "relu", "recurrent_activation": "hard_sigmoid",
    "kernel_initializer": "ones", "recurrent_initializer": "glorot_uniform",
    "bias_initializer": "ones", "embeddings_initializer": "ones",
    "kernel_regularizer": "l2", "recurrent_regularizer": "l1", "bias_regularizer": "l2",
    "embeddings_regularizer": "l1", "dropout": 0.25, "recurrent_dropout": 0.25, "seed": 7,
    "rate": 0.25, "noise_shape": (None, 1, 3), "input_length": 6, "output_dim": 4,
    "filters": 4, "kernel_size": 2, "strides": 2, "padding": "same", "dilation_rate": 2,
    "data_format": "channels_first", "pool_size": 3, "axis": 1, "axes": 2,
    "cropping": (1, 2), "mask_value": 1.5, "dims": (1, 2), "n": 3, "target_shape": (3, 2),
    "merge_mode": "sum", "cell": L.GRUCell(2), "cells": [L.SimpleRNNCell(2)],
    "layer": L.GRU(2), "backward_layer": L.LSTM(3, go_backwards=True, name="back"),
    "implementation": 1,
    "activity_regularizer": "l2", "kernel_constraint": "non_neg",
    "recurrent_constraint": "unit_norm", "bias_constraint": "non_neg",
    "embeddings_constraint": "unit_norm", "beta_constraint": "non_neg",
    "gamma_constraint": "non_neg", "l1": 0.01, "l2": 0.02, "score_mode": "concat",
    "beta_initializer": "ones", "gamma_initializer": "zeros",
    "moving_mean_initializer": "ones", "moving_variance_initializer": "zeros",
    "beta_regularizer": "l2", "gamma_regularizer": "l1", "epsilon": 0.01, "momentum": 0.9,
    "stddev": 0.25, "function": _double_backward, "arguments": {"k": 2},
    "backward": _double_backward, "mask": _keep_mask, "value_dim": 4, "sliding_window": 2,
    "key_dim": 4, "num_heads": 3,
}
#: Values for one class where the general one is that class's default in effect.
CLASS_VALUES = {(pool, "strides"): 1 for pool in ("MaxPooling1D", "MaxPool1D", "AveragePooling1D",
                                                  "AvgPool1D")}
CLASS_VALUES["ZeroPadding1D", "padding"] = 2
CLASS_VALUES["Lambda", "output_shape"] = (4, 3)
CLASS_VALUES["MultiHeadAttention", "output_shape"] = (5,)
CLASS_VALUES["MultiHeadAttention", "kernel_initializer"] = "ones"
CLASS_VALUES["MultiHeadAttention", "bias_initializer"] = "ones"
#: Keywords whose config key has another name.
CONFIG_KEY = {"input_shape": "batch_input_shape", "input_dim": "batch_input_shape"}
#: Accepted for Keras compatibility and deliberately without effect (what Keras 3 does too).
KERAS_NO_OPS = {
    "implementation": "Keras 3 LSTM/GRU accept it and keep the same math (and do not save it)",
}
#: Valid non-default values that are refused with a clear error (not supported here).
REFUSED = {"data_format": (ValueError, "only data_format='channels_last'")}
#: The same, for one class.
CLASS_REFUSED = {("StackedRNNCells", kw): (ValueError, "set dropout and recurrent_dropout on "
                                                     "the stacked cells")
                 for kw in ("dropout", "recurrent_dropout")}
CLASS_REFUSED.update({
    ("ActivityRegularization", "activity_regularizer"): (TypeError, "give those instead"),
    ("MultiHeadAttention", "attention_axes"): (ValueError, "only attention_axes=None"),
    ("MultiHeadAttention", "flash_attention"): (ValueError, "flash_attention=True is not"),
    ("AdditiveAttention", "score_mode"): (TypeError, "AdditiveAttention takes no score_mode"),
    ("LayerNormalization", "rms_scaling"): (ValueError, "rms_scaling=True is deprecated"),
    ("SpatialDropout1D", "noise_shape"): (TypeError, "unexpected keyword argument 'noise_sh"),
    ("BatchNormalization", "renorm"): (ValueError, "renorm=True"),
    ("BatchNormalization", "synchronized"): (ValueError, "synchronized=True"),
})
CLASS_VALUES.update({("MultiHeadAttention", "attention_axes"): (1,),
                     ("MultiHeadAttention", "flash_attention"): True})


def _accepted(cls) -> dict:
    """Every keyword ``cls(...)`` accepts: its __init__'s and, while a **kwargs passes them on,
    its bases'; a CellLayer (SimpleRNN, LSTM, GRU) passes the rest to its cell class."""
    names = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                names.setdefault(p.name, p.default)
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    if issubclass(cls, CellLayer):
        names.pop("cell", None)
        names.update({k: v for k, v in _accepted(cls.cell_class).items() if k not in names})
    return names


def _layer_classes():
    return sorted(n for n in L.__all__ if isinstance(getattr(L, n), type)
                  and issubclass(getattr(L, n), L.Layer) and n not in ABSTRACT)


def _cases():
    for name in _layer_classes():
        for kw, default in _accepted(getattr(L, name)).items():
            yield name, kw, default


def _make(cls_name, **kw):
    args = {k: v for k, v in REQUIRED.get(cls_name, {}).items() if k not in kw}
    return getattr(L, cls_name)(**args, **kw)


@pytest.mark.parametrize("name, kw, default", list(_cases()))
def test_every_layer_keyword_is_honoured(name, kw, default):
    if name == "Bidirectional" and kw == "weights":
        return _bidirectional_weights()
    if name == "Embedding" and kw == "weights":
        return _embedding_weights()
    if (name, kw) in CLASS_VALUES:
        value = CLASS_VALUES[name, kw]
    elif kw in VALUES:
        value = VALUES[kw]
    elif isinstance(default, bool):
        value = not default
    else:
        pytest.fail(f"{name}({kw}=...) has no non-default value in VALUES: add one (and make "
                    "sure the layer honours it)")
    if kw in REFUSED or (name, kw) in CLASS_REFUSED:
        exc, match = CLASS_REFUSED.get((name, kw)) or REFUSED[kw]
        with pytest.raises(exc, match=match):
            _make(name, **{kw: value})
        return
    if kw in KERAS_NO_OPS:
        return _keras_no_op(name, kw, value)
    base = _make(name).get_config()
    changed = _make(name, **{kw: value}).get_config()
    key = kw if kw in REQUIRED.get(name, {}) else CONFIG_KEY.get(kw, kw)
    if kw in REQUIRED.get(name, {}) or isinstance(value, (L.Layer, list)):
        # a required argument or a nested layer: the config differs somewhere
        assert changed != {**base, "name": changed["name"]}, f"{name}({kw}=...) is ignored"
        return
    assert key in changed, f"{name}({kw}=...) does not show in get_config()"
    assert changed[key] != base.get(key), f"{name}({kw}={value!r}) does not change get_config()"


def _bidirectional_weights():
    ref = L.Bidirectional(L.LSTM(2))
    ref.build((None, 4, 3))
    given = [np.full_like(w, 0.1 * (i + 1)) for i, w in enumerate(ref.get_weights())]
    layer = L.Bidirectional(L.LSTM(2), weights=given)
    layer(np.zeros((1, 4, 3), "float32"))
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), given))


def _embedding_weights():
    given = np.arange(12, dtype="float32").reshape(4, 3)
    layer = L.Embedding(4, 3, weights=[given])
    assert np.array_equal(layer.get_weights()[0], given)
    assert np.array_equal(layer(np.array([[3, 0]]))[0], given[[3, 0]])


def _keras_no_op(name, kw, value):
    plain, other = _make(name), _make(name, **{kw: value})
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    if isinstance(plain, L.Cell):
        x = x[:, 0]
        plain.ensure_built((None, 3))
        other.ensure_built((None, 3))
        other.set_weights(plain.get_weights())
        states = plain.get_initial_state(2, x.dtype)
        assert np.array_equal(plain.step(x, states)[0], other.step(x, states)[0])
    else:
        y = plain(x)
        other.build((None, 4, 3))
        other.set_weights(plain.get_weights())
        assert np.array_equal(y, other(x))
    assert kw not in other.get_config()        # as Keras 3: not saved


@pytest.mark.parametrize("name", _layer_classes())
def test_an_unknown_layer_keyword_is_a_type_error(name):
    with pytest.raises(TypeError, match="unexpected keyword"):
        _make(name, no_such_argument=1)


def test_the_walk_sees_the_keywords_passed_on():
    lstm = _accepted(L.LSTM)
    for kw in ("units", "unit_forget_bias", "recurrent_dropout", "return_sequences", "name",
               "implementation", "zero_output_for_mask"):
        assert kw in lstm
    assert "cell" not in lstm and "trainable" in _accepted(L.Dense)


# ============================================================================ training API
class _Counter(L.Layer):
    """Identity that counts its forward calls (training and inference apart)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = {True: 0, False: 0}

    def forward(self, x, training=False, mask=None):
        self.calls[bool(training)] += 1
        return x, lambda d: d


class _Seen(Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def _model(loss="mse", metrics=None, **compile_kw):
    config.set_random_seed(0)
    counter = _Counter()
    model = Sequential([Input((4, 2)), L.SimpleRNN(3), counter, L.Dense(1)])
    model.compile(SGD(0.05), loss, metrics=metrics, **compile_kw)
    return model, counter


def _xy(n=12):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 4, 2)).astype("float32"),
            (rng.random(n) > 0.5).astype("float32")[:, None])


X, Y = _xy()


def _weights_after(**fit_kw):
    model, _ = _model()
    config.set_random_seed(1)
    model.fit(X, Y, verbose=0, **{"batch_size": 4, **fit_kw})
    return model.get_weights()


def _differs(a, b):
    return any(not np.array_equal(u, v) for u, v in zip(a, b))


def _fit_x_y():
    model, counter = _model()
    model.fit(X, Y, batch_size=4, verbose=0)
    assert counter.calls[True] == 3


def _fit_batch_size():
    model, counter = _model()
    model.fit(X, Y, batch_size=5, verbose=0)
    assert counter.calls[True] == 3                      # 5 + 5 + 2


def _fit_epochs():
    model, _ = _model()
    assert len(model.fit(X, Y, epochs=3, verbose=0).history["loss"]) == 3


def _fit_verbose(capsys):
    model, _ = _model()
    model.fit(X, Y, epochs=1, verbose=2)
    assert "Epoch 1/1" in capsys.readouterr().out
    model.fit(X, Y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def _fit_callbacks():
    model, _ = _model()
    seen = _Seen()
    model.fit(X, Y, batch_size=4, callbacks=[seen], verbose=0)
    assert seen.batches == 3


def _fit_validation_split():
    model, _ = _model()
    hist = model.fit(X, Y, batch_size=4, validation_split=0.25, verbose=0, shuffle=False)
    assert "val_loss" in hist.history
    assert hist.history["val_loss"][0] == model.evaluate(X[9:], Y[9:], verbose=0)


def _fit_validation_data():
    model, _ = _model()
    hist = model.fit(X, Y, validation_data=(X[:5], Y[:5]), verbose=0)
    assert hist.history["val_loss"][0] == model.evaluate(X[:5], Y[:5], verbose=0)


def _fit_shuffle():
    assert _differs(_weights_after(shuffle=True), _weights_after(shuffle=False))


def _fit_class_weight():
    assert _differs(_weights_after(class_weight={0: 1.0, 1: 3.0}), _weights_after())


def _fit_sample_weight():
    assert _differs(_weights_after(sample_weight=np.linspace(0, 1, 12)), _weights_after())


def _fit_initial_epoch():
    model, _ = _model()
    assert len(model.fit(X, Y, epochs=3, initial_epoch=2, verbose=0).history["loss"]) == 1


def _fit_steps_per_epoch():
    model, counter = _model()
    model.fit(X, Y, batch_size=2, steps_per_epoch=2, verbose=0)
    assert counter.calls[True] == 2


def _fit_validation_steps():
    model, counter = _model()
    model.fit(X, Y, batch_size=2, epochs=1, validation_data=(X, Y), validation_steps=2,
              verbose=0)
    assert counter.calls[False] == 2 + 2                  # data checks (train, val) + 2 steps


def _fit_validation_batch_size():
    model, counter = _model()
    model.fit(X, Y, batch_size=2, validation_data=(X, Y), validation_batch_size=4, verbose=0)
    assert counter.calls[False] == 2 + 3


def _fit_validation_freq():
    model, _ = _model()
    hist = model.fit(X, Y, epochs=4, validation_data=(X, Y), validation_freq=2, verbose=0)
    assert len(hist.history["val_loss"]) == 2 and len(hist.history["loss"]) == 4


FIT = {"x": _fit_x_y, "y": _fit_x_y, "batch_size": _fit_batch_size, "epochs": _fit_epochs,
       "verbose": _fit_verbose, "callbacks": _fit_callbacks,
       "validation_split": _fit_validation_split, "validation_data": _fit_validation_data,
       "shuffle": _fit_shuffle, "class_weight": _fit_class_weight,
       "sample_weight": _fit_sample_weight, "initial_epoch": _fit_initial_epoch,
       "steps_per_epoch": _fit_steps_per_epoch, "validation_steps": _fit_validation_steps,
       "validation_batch_size": _fit_validation_batch_size,
       "validation_freq": _fit_validation_freq}


def _trained():
    model, counter = _model(metrics=["mae"])
    model.fit(X, Y, epochs=2, verbose=0)
    counter.calls = {True: 0, False: 0}
    return model, counter


def _eval_x_y():
    model, _ = _trained()
    assert model.evaluate(X, Y, verbose=0) != model.evaluate(X, 1 - Y, verbose=0)


def _eval_batch_size():
    model, counter = _trained()
    model.evaluate(X, Y, batch_size=5, verbose=0)
    assert counter.calls[False] == 1 + 3


def _eval_verbose(capsys):
    model, _ = _trained()
    model.evaluate(X, Y, verbose=2)
    assert "loss:" in capsys.readouterr().out


def _eval_sample_weight():
    model, _ = _trained()
    assert model.evaluate(X, Y, sample_weight=np.linspace(0, 1, 12), verbose=0) != \
        model.evaluate(X, Y, verbose=0)


def _eval_steps():
    model, _ = _trained()
    assert model.evaluate(X, Y, batch_size=4, steps=1, verbose=0) == \
        model.evaluate(X[:4], Y[:4], verbose=0)


def _eval_return_dict():
    model, _ = _trained()
    assert list(model.evaluate(X, Y, return_dict=True, verbose=0)) == ["loss", "mae"]


EVALUATE = {"x": _eval_x_y, "y": _eval_x_y, "batch_size": _eval_batch_size,
            "verbose": _eval_verbose, "sample_weight": _eval_sample_weight,
            "steps": _eval_steps, "return_dict": _eval_return_dict}


def _predict_x():
    model, _ = _trained()
    assert model.predict(X, verbose=0).shape == (12, 1)


def _predict_batch_size():
    model, counter = _trained()
    model.predict(X, batch_size=5, verbose=0)
    assert counter.calls[False] == 3


def _predict_verbose(capsys):
    model, _ = _trained()
    model.predict(X, verbose=1)
    assert "step" in capsys.readouterr().out


def _predict_steps():
    model, _ = _trained()
    assert model.predict(X, batch_size=5, steps=2, verbose=0).shape == (10, 1)


PREDICT = {"x": _predict_x, "batch_size": _predict_batch_size, "verbose": _predict_verbose,
           "steps": _predict_steps}


def _compile_optimizer():
    model, _ = _model()
    model.compile(Adam(0.01), "mse")
    assert type(model.optimizer).__name__ == "Adam"


def _compile_loss():
    model, _ = _model()
    mse = model.evaluate(X, Y, verbose=0)
    model.compile(SGD(0.05), "mae")
    assert model.evaluate(X, Y, verbose=0) != mse


def _compile_metrics():
    model, _ = _model(metrics=["mae"])
    assert list(model.evaluate(X, Y, return_dict=True, verbose=0)) == ["loss", "mae"]


def _compile_loss_weights():
    model, _ = _model()
    mse = model.evaluate(X, Y, verbose=0)
    model.compile(SGD(0.05), "mse", loss_weights=[3.0])
    assert model.evaluate(X, Y, verbose=0) == pytest.approx(3 * mse)


def _compile_weighted_metrics():
    model, _ = _model(metrics=["mae"], weighted_metrics=["mae"])
    sw = np.linspace(0, 1, 12)
    logs = model.evaluate(X, Y, sample_weight=sw, return_dict=True, verbose=0)
    assert list(logs) == ["loss", "mae", "weighted_mae"]
    err = np.abs(model.predict(X, verbose=0) - Y)[:, 0]
    np.testing.assert_allclose([logs["mae"], logs["weighted_mae"]],
                               [err.mean(), np.average(err, weights=sw)], rtol=1e-6)


COMPILE = {"optimizer": _compile_optimizer, "loss": _compile_loss,
           "metrics": _compile_metrics, "loss_weights": _compile_loss_weights,
           "weighted_metrics": _compile_weighted_metrics}


def _tob_x_y():
    model, _ = _model()
    before = model.get_weights()
    model.train_on_batch(X, Y)
    assert _differs(before, model.get_weights())


def _tob_sample_weight():
    a, _ = _model()
    b, _ = _model()
    a.train_on_batch(X, Y, sample_weight=np.linspace(0, 1, 12))
    b.train_on_batch(X, Y)
    assert _differs(a.get_weights(), b.get_weights())


def _tob_class_weight():
    a, _ = _model()
    b, _ = _model()
    a.train_on_batch(X, Y, class_weight={0: 1.0, 1: 3.0})
    b.train_on_batch(X, Y)
    assert _differs(a.get_weights(), b.get_weights())


def _tob_return_dict():
    model, _ = _model(metrics=["mae"])
    assert list(model.train_on_batch(X, Y, return_dict=True)) == ["loss", "mae"]


TRAIN_ON_BATCH = {"x": _tob_x_y, "y": _tob_x_y, "sample_weight": _tob_sample_weight,
                  "class_weight": _tob_class_weight, "return_dict": _tob_return_dict}


def _teb_sample_weight():
    model, _ = _trained()
    assert model.test_on_batch(X, Y, sample_weight=np.linspace(0, 1, 12)) != \
        model.test_on_batch(X, Y)


TEST_ON_BATCH = {"x": _eval_x_y, "y": _eval_x_y, "sample_weight": _teb_sample_weight,
                 "return_dict": _eval_return_dict}
PREDICT_ON_BATCH = {"x": _predict_x}

METHODS = {"fit": FIT, "evaluate": EVALUATE, "predict": PREDICT, "compile": COMPILE,
           "train_on_batch": TRAIN_ON_BATCH, "test_on_batch": TEST_ON_BATCH,
           "predict_on_batch": PREDICT_ON_BATCH}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_training_keyword_has_a_check(method):
    params = [p for p in list(inspect.signature(getattr(Model, method)).parameters)[1:]]
    missing = sorted(set(params) - set(METHODS[method]))
    assert not missing, f"Model.{method} accepts {missing} without a check here: add one"
    assert not set(METHODS[method]) - set(params)


@pytest.mark.parametrize("method, kw", [(m, k) for m in sorted(METHODS) for k in METHODS[m]])
def test_every_training_keyword_is_honoured(method, kw, capsys):
    check = METHODS[method][kw]
    if "capsys" in inspect.signature(check).parameters:
        check(capsys)
    else:
        check()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_an_unknown_training_keyword_is_a_type_error(method):
    model, _ = _model()
    with pytest.raises(TypeError, match="unexpected keyword"):
        getattr(model, method)(X, no_such_argument=1)


def test_sequential_and_functional_share_the_signatures():
    for method in METHODS:
        base = inspect.signature(getattr(Model, method))
        for cls in (Sequential, Functional):
            assert inspect.signature(getattr(cls, method)) == base
