"""Keras 3 files both ways, against real Keras 3.15.1 (PyTorch backend): a Keras-saved ``.keras``
loads into rnnlab and predicts as Keras does, an rnnlab-saved ``.keras`` loads into Keras and
predicts as rnnlab does (1e-5, float32); ``.weights.h5`` files move weights both ways; bad files
are refused with a clear error and nothing half-loaded."""
import io
import json
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
K = keras.layers

import rnnlab  # noqa: E402
from rnnlab import layers as L  # noqa: E402
from rnnlab.lecture import text as lecture_text  # noqa: E402
from rnnlab.lecture import timeseries as lecture_ts  # noqa: E402
from rnnlab.models.saving import ModelFileError  # noqa: E402

TOL = 1e-5


def _randomize(model, seed=0):
    """Every Keras weight drawn anew (so that biases, BN statistics... are not trivial)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = rng.normal(0.0, 0.4, size=tuple(w.shape))
        if "variance" in w.path:
            v = np.abs(v) + 0.5
        w.assign(v.astype("float32"))


def _predict(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)


def _close(got, expected):
    got, expected = (got, expected) if isinstance(got, list) else ([got], [expected])
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=TOL, rtol=0)


def _seq(n=4, t=7, d=3, seed=1):
    return np.random.default_rng(seed).normal(size=(n, t, d)).astype("float32")


def _tokens(n=4, t=8, vocab=20, seed=2, pad=True):
    x = np.random.default_rng(seed).integers(1, vocab, size=(n, t)).astype("int32")
    if pad:
        x[0, :3] = 0          # pre-padding (masked by mask_zero)
        x[1, -2:] = 0
    return x


def _keras_to_rnnlab_and_back(tmp_path, kmodel, x):
    """Keras saves -> rnnlab loads (== Keras) -> rnnlab saves -> Keras loads (== rnnlab)."""
    _randomize(kmodel)
    expected = _predict(kmodel, x)
    kmodel.save(tmp_path / "k.keras")
    model = rnnlab.load_model(tmp_path / "k.keras")
    got = _predict(model, x)
    _close(got, expected)
    model.save(tmp_path / "r.keras")
    back = keras.saving.load_model(tmp_path / "r.keras")
    _close(_predict(back, x), got)
    return model


def _seq_model(shape, *layers, dtype="float32"):
    return keras.Sequential([keras.Input(shape, dtype=dtype), *layers])


SEQUENTIAL_CASES = {
    "dense": (lambda: _seq_model((5,), K.Dense(4, activation="relu"), K.Dense(2)),
              lambda: np.random.default_rng(0).normal(size=(3, 5)).astype("float32")),
    "simple_rnn": (lambda: _seq_model((7, 3), K.SimpleRNN(4, return_sequences=True),
                                      K.SimpleRNN(2, go_backwards=True)), _seq),
    "lstm": (lambda: _seq_model((7, 3), K.LSTM(4, return_sequences=True, unit_forget_bias=False),
                                K.LSTM(3, use_bias=False, activation="relu")), _seq),
    "gru": (lambda: _seq_model((7, 3), K.GRU(4, return_sequences=True),
                               K.GRU(3, reset_after=False, go_backwards=True)), _seq),
    "embedding_mask_zero": (lambda: _seq_model((8,), K.Embedding(20, 5, mask_zero=True),
                                               K.LSTM(4, return_sequences=True), K.GRU(2),
                                               dtype="int32"), _tokens),
    "masking": (lambda: _seq_model((7, 3), K.Masking(0.0), K.SimpleRNN(3)),
                lambda: np.concatenate([np.zeros((4, 2, 3), "float32"), _seq(4, 5)], axis=1)),
    "conv_pool": (lambda: _seq_model((12, 3), K.Conv1D(4, 3, padding="same", activation="relu"),
                                     K.MaxPooling1D(2), K.Conv1D(3, 2, strides=2),
                                     K.AveragePooling1D(2, padding="same"),
                                     K.GlobalAveragePooling1D()),
                  lambda: _seq(4, 12)),
    "conv_dilated_global_max": (lambda: _seq_model((12, 3), K.Conv1D(2, 3, dilation_rate=2,
                                                                      padding="causal"),
                                                   K.GlobalMaxPooling1D()),
                                lambda: _seq(4, 12)),
    "bidirectional_concat": (lambda: _seq_model((7, 3), K.Bidirectional(
        K.LSTM(3, return_sequences=True)), K.Bidirectional(K.GRU(2), merge_mode="sum")), _seq),
    "bidirectional_ave_mul": (lambda: _seq_model((7, 3), K.Bidirectional(
        K.SimpleRNN(3, return_sequences=True), merge_mode="ave"),
        K.Bidirectional(K.LSTM(2), merge_mode="mul")), _seq),
    "time_distributed": (lambda: _seq_model((7, 3), K.TimeDistributed(K.Dense(4)),
                                            K.LSTM(2)), _seq),
    "dropout_noise": (lambda: _seq_model((7, 3), K.Dropout(0.3), K.SpatialDropout1D(0.2),
                                         K.GaussianNoise(0.1), K.GaussianDropout(0.1),
                                         K.SimpleRNN(2, dropout=0.1, recurrent_dropout=0.1)),
                      _seq),
    "reshaping": (lambda: _seq_model((6, 2), K.Reshape((3, 4)), K.Permute((2, 1)), K.Flatten(),
                                     K.RepeatVector(2), K.ZeroPadding1D(1), K.Cropping1D((0, 1)),
                                     K.Activation("tanh")),
                  lambda: _seq(3, 6, 2)),
    "normalization": (lambda: _seq_model((7, 3), K.LayerNormalization(),
                                         K.BatchNormalization(), K.GRU(2)), _seq),
    "rnn_of_cells": (lambda: _seq_model((7, 3), K.RNN(K.LSTMCell(3), return_sequences=True),
                                        K.RNN(K.GRUCell(2), return_sequences=True),
                                        K.RNN(K.SimpleRNNCell(2), go_backwards=True)), _seq),
    "frozen_constrained": (lambda: _seq_model((7, 3), K.LSTM(3, trainable=False),
                                              K.Dense(2, kernel_constraint="non_neg")), _seq),
    "regularized": (lambda: _seq_model((7, 3), K.LSTM(
        3, kernel_regularizer="l2", recurrent_constraint=keras.constraints.MaxNorm(2.0),
        kernel_initializer="he_normal")), _seq),
}


@pytest.mark.parametrize("case", sorted(SEQUENTIAL_CASES))
def test_sequential_layers_round_trip(tmp_path, case):
    build, data = SEQUENTIAL_CASES[case]
    kmodel = build()
    model = _keras_to_rnnlab_and_back(tmp_path, kmodel, data())
    assert [layer.trainable for layer in model.layers] == \
        [layer.trainable for layer in kmodel.layers]


def _functional_merges():
    a, b = keras.Input((5, 3)), keras.Input((5, 3))
    ra = K.LSTM(4, return_sequences=True)(a)
    rb = K.GRU(4, return_sequences=True)(b)
    outs = [K.Add()([ra, rb]), K.Subtract()([ra, rb]), K.Multiply()([ra, rb]),
            K.Average()([ra, rb]), K.Maximum()([ra, rb]), K.Minimum()([ra, rb])]
    c = K.Concatenate()(outs)
    d = K.Dot(axes=(2, 2))([ra, rb])
    return keras.Model([a, b], [K.GlobalAveragePooling1D()(c), K.Flatten()(d)])


def _functional_shared():
    """A Siamese model: one LSTM applied to two inputs (a layer with two nodes)."""
    a, b = keras.Input((6, 2)), keras.Input((6, 2))
    shared = K.LSTM(3)
    return keras.Model([a, b], K.Dense(1, activation="sigmoid")(
        K.Concatenate()([shared(a), shared(b)])))


def _functional_attention():
    i = keras.Input((8,), dtype="int32")
    e = K.Embedding(20, 4)(i)
    c = K.Conv1D(4, 3, padding="same")(e)
    q = K.MultiHeadAttention(2, 3)(c, c)
    at = K.Attention()([c, c])
    ad = K.AdditiveAttention()([c, e])
    return keras.Model(i, K.Dense(1)(K.GlobalMaxPooling1D()(K.Concatenate()([q, at, ad]))))


def _functional_masked():
    i = keras.Input((8,), dtype="int32")
    e = K.Embedding(20, 4, mask_zero=True)(i)
    s = K.SimpleRNN(3, return_sequences=True)(e)
    t = K.TimeDistributed(K.Dense(3))(e)
    return keras.Model(i, K.Bidirectional(K.LSTM(2))(K.Add()([s, t])))


def _two(a=(4, 5, 3)):
    rng = np.random.default_rng(3)
    return [rng.normal(size=a).astype("float32"), rng.normal(size=a).astype("float32")]


FUNCTIONAL_CASES = {
    "merges": (_functional_merges, _two),
    "shared_layer": (_functional_shared, lambda: _two((4, 6, 2))),
    "attention": (_functional_attention, lambda: _tokens(pad=False)),
    "masked": (_functional_masked, _tokens),
}


@pytest.mark.parametrize("case", sorted(FUNCTIONAL_CASES))
def test_functional_models_round_trip(tmp_path, case):
    build, data = FUNCTIONAL_CASES[case]
    _keras_to_rnnlab_and_back(tmp_path, build(), data())


# ------------------------------------------------------------------------------ the lecture
LECTURE = {
    "timeseries_simple_rnn": (lambda: lecture_ts.simple_rnn_model(False), lambda: _seq(5, 20, 1)),
    "timeseries_stacked": (lambda: lecture_ts.simple_rnn_model(True), lambda: _seq(5, 20, 1)),
    **{kind: (lambda kind=kind: lecture_text.build_model(kind, max_features=50),
              lambda: _tokens(5, 12, 51)) for kind in lecture_text.ALL_MODELS},
}


@pytest.mark.parametrize("case", sorted(LECTURE))
def test_lecture_models_round_trip(tmp_path, case):
    """rnnlab's lecture model -> .keras -> Keras (== rnnlab) -> .keras -> rnnlab (== Keras)."""
    build, data = LECTURE[case]
    model, x = build(), data()
    model.build((None,) + x.shape[1:])
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32")
                       for w in model.get_weights()])
    expected = _predict(model, x)
    model.save(tmp_path / "lecture.keras")
    kmodel = keras.saving.load_model(tmp_path / "lecture.keras")
    np.testing.assert_allclose(_predict(kmodel, x), expected, atol=TOL, rtol=0)
    kmodel.save(tmp_path / "again.keras")
    again = rnnlab.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(_predict(again, x), expected, atol=TOL, rtol=0)
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]


# ------------------------------------------------------------------------------ weights files
def test_weights_h5_both_ways(tmp_path):
    kmodel = _seq_model((7, 3), K.Bidirectional(K.LSTM(3, return_sequences=True)), K.GRU(2),
                        K.Dense(1))
    _randomize(kmodel)
    x = _seq()
    kmodel.save_weights(tmp_path / "k.weights.h5")
    model = rnnlab.Sequential([L.Bidirectional(L.LSTM(3, return_sequences=True)), L.GRU(2),
                               L.Dense(1)])
    model.build((None, 7, 3))
    model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(_predict(model, x), _predict(kmodel, x), atol=TOL, rtol=0)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    model.save_weights(tmp_path / "r.weights.h5")
    kmodel.load_weights(tmp_path / "r.weights.h5")
    np.testing.assert_allclose(_predict(kmodel, x), _predict(model, x), atol=TOL, rtol=0)


def test_weights_h5_that_does_not_fit_changes_nothing(tmp_path):
    kmodel = _seq_model((7, 3), K.LSTM(3), K.Dense(1))
    kmodel.save_weights(tmp_path / "k.weights.h5")
    model = rnnlab.Sequential([L.LSTM(3), L.Dense(2)])     # Dense(2): the last kernel differs
    model.build((None, 7, 3))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ModelFileError, match=r"weight kernel of layer 'dense\w*' has shape "
                                             r"\(3, 1\), expected \(3, 2\)"):
        model.load_weights(tmp_path / "k.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ bad files
def _keras_file(tmp_path):
    kmodel = _seq_model((7, 3), K.LSTM(3), K.Dense(1))
    kmodel.save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _edit_h5(data, edit):
    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


def test_missing_weight_is_refused(tmp_path):
    members = _keras_file(tmp_path)
    members["model.weights.h5"] = _edit_h5(members["model.weights.h5"],
                                           lambda f: f.__delitem__("layers/lstm/cell/vars/1"))
    with pytest.raises(ModelFileError, match=r"layer 'lstm\w*' has weights \['0', '2'\].*"
                                             r"expected 3 \(kernel, recurrent_kernel, bias\)"):
        rnnlab.load_model(_write(tmp_path / "bad.keras", members))


def test_wrong_shape_is_refused(tmp_path):
    members = _keras_file(tmp_path)

    def edit(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", data=np.zeros((4, 1), "float32"))
    members["model.weights.h5"] = _edit_h5(members["model.weights.h5"], edit)
    with pytest.raises(ModelFileError, match=r"weight kernel of layer 'dense\w*' has shape "
                                             r"\(4, 1\), expected \(3, 1\)"):
        rnnlab.load_model(_write(tmp_path / "bad.keras", members))


def test_unknown_layer_class_is_refused(tmp_path):
    members = _keras_file(tmp_path)
    cfg = json.loads(members["config.json"])
    cfg["config"]["layers"][1]["class_name"] = "ConvLSTM1D"
    members["config.json"] = json.dumps(cfg).encode()
    with pytest.raises(ModelFileError, match="Keras layer class 'ConvLSTM1D' is not supported"):
        rnnlab.load_model(_write(tmp_path / "bad.keras", members))


def test_unsupported_option_is_refused(tmp_path):
    members = _keras_file(tmp_path)
    cfg = json.loads(members["config.json"])
    cfg["config"]["layers"][1]["config"]["dtype"] = "mixed_float16"
    members["config.json"] = json.dumps(cfg).encode()
    with pytest.raises(ModelFileError, match="dtype policy 'mixed_float16' is not supported"):
        rnnlab.load_model(_write(tmp_path / "bad.keras", members))


def test_truncated_hdf5_is_refused(tmp_path):
    members = _keras_file(tmp_path)
    members["model.weights.h5"] = members["model.weights.h5"][:1500]
    with pytest.raises(ModelFileError, match="model.weights.h5 is not a readable HDF5 file"):
        rnnlab.load_model(_write(tmp_path / "bad.keras", members))


def test_truncated_archive_and_zip_bomb_are_refused(tmp_path):
    (tmp_path / "ok.keras").write_bytes(b"")
    members = _keras_file(tmp_path)
    data = (tmp_path / "ok.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable"):
        rnnlab.load_model(tmp_path / "cut.keras")
    members["model.weights.h5"] = members["model.weights.h5"] + b"\0" * (8 << 20)
    with pytest.raises(ModelFileError, match="would inflate to"):
        rnnlab.load_model(_write(tmp_path / "big.keras", members))


def test_saving_over_a_file_is_atomic_and_rnnlab_format_stays_default(tmp_path):
    model = rnnlab.Sequential([L.LSTM(2, input_shape=(4, 1))])
    model.save(tmp_path / "m.rnnlab")
    with zipfile.ZipFile(tmp_path / "m.rnnlab") as zf:
        assert "weights.npz" in zf.namelist()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(zf.read("metadata.json"))["keras_version"] == keras.__version__


# ------------------------------------------------------------------------------ tf.keras 2 .h5
# TensorFlow is not installed here, so these files are written by hand with h5py following
# tf.keras 2's documented HDF5 layout (legacy hdf5_format.save_model_to_hdf5): the root's
# ``model_config`` attribute (JSON of {"class_name", "config"}, layers' ``batch_input_shape``,
# inbound nodes as [[layer, node, tensor, kwargs], ...]) and a ``model_weights`` group whose
# ``layer_names`` list the layers, each layer a group whose ``weight_names`` (e.g.
# "lstm/lstm_cell/kernel:0") name its datasets in the layer's weight order.
_INIT = {"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
         "bias_initializer": {"class_name": "Zeros", "config": {}},
         "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
         "kernel_constraint": None, "bias_constraint": None}


def _tf2_rnn(kind, name, units, **kw):
    cfg = {"name": name, "trainable": True, "dtype": "float32", "return_sequences": False,
           "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
           "time_major": False, "units": units, "activation": "tanh", "use_bias": True, **_INIT,
           "recurrent_initializer": {"class_name": "Orthogonal",
                                     "config": {"gain": 1.0, "seed": None}},
           "recurrent_regularizer": None, "recurrent_constraint": None, "dropout": 0.0,
           "recurrent_dropout": 0.0}
    if kind != "SimpleRNN":
        cfg.update(recurrent_activation="sigmoid", implementation=2)
    if kind == "LSTM":
        cfg["unit_forget_bias"] = True
    if kind == "GRU":
        cfg["reset_after"] = True
    cfg.update(kw)
    return {"class_name": kind, "config": cfg}


def _tf2_dense(name, units, activation="linear"):
    return {"class_name": "Dense", "config": {"name": name, "trainable": True, "dtype": "float32",
                                              "units": units, "activation": activation,
                                              "use_bias": True, **_INIT}}


def _write_tf2_h5(path, model_config, kmodel, layer_names):
    """A tf.keras 2 full-model file with ``kmodel``'s (Keras 3) weights under tf.keras 2's names."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [n.encode("utf8") for n in layer_names]
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = b"2.15.0"
        by_name = {layer.name: layer for layer in kmodel.layers}
        for name in sorted(layer_names):
            g = mw.create_group(name)
            weights = by_name[name].weights if name in by_name else []
            names = [f"{name}/{w.path.split('/', 1)[-1]}:0".encode("utf8") for w in weights]
            g.attrs["weight_names"] = names
            for wname, w in zip(names, weights):
                g.create_dataset(wname.decode("utf8"), data=np.asarray(w.numpy()))


def test_tf_keras2_sequential_h5(tmp_path):
    kmodel = keras.Sequential([keras.Input((8,), dtype="int32"),
                               K.Embedding(20, 5, mask_zero=True, name="embedding"),
                               K.LSTM(4, return_sequences=True, name="lstm"),
                               K.Bidirectional(K.GRU(3), name="bidirectional"),
                               K.Dense(1, activation="sigmoid", name="dense")])
    _randomize(kmodel)
    emb = {"class_name": "Embedding", "config": {
        "name": "embedding", "trainable": True, "batch_input_shape": [None, 8],
        "dtype": "float32", "input_dim": 20, "output_dim": 5,
        "embeddings_initializer": {"class_name": "RandomUniform",
                                   "config": {"minval": -0.05, "maxval": 0.05, "seed": None}},
        "embeddings_regularizer": None, "activity_regularizer": None,
        "embeddings_constraint": None, "mask_zero": True, "input_length": 8}}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8], "dtype": "int32",
                                                "sparse": False, "ragged": False,
                                                "name": "embedding_input"}},
        emb, _tf2_rnn("LSTM", "lstm", 4, return_sequences=True),
        {"class_name": "Bidirectional", "config": {
            "name": "bidirectional", "trainable": True, "dtype": "float32",
            "layer": _tf2_rnn("GRU", "gru", 3), "merge_mode": "concat"}},
        _tf2_dense("dense", 1, "sigmoid")]}}
    _write_tf2_h5(tmp_path / "tf2.h5", config, kmodel,
                  ["embedding", "lstm", "bidirectional", "dense"])
    model = rnnlab.load_model(tmp_path / "tf2.h5")
    x = _tokens()
    np.testing.assert_allclose(_predict(model, x), _predict(kmodel, x), atol=TOL, rtol=0)
    # the weights alone, into a model built in rnnlab
    twin = rnnlab.Sequential([L.Embedding(20, 5, mask_zero=True, name="embedding"),
                              L.LSTM(4, return_sequences=True, name="lstm"),
                              L.Bidirectional(L.GRU(3), name="bidirectional"),
                              L.Dense(1, activation="sigmoid", name="dense")])
    twin.build((None, 8))
    twin.load_weights(tmp_path / "tf2.h5")
    np.testing.assert_allclose(_predict(twin, x), _predict(kmodel, x), atol=TOL, rtol=0)


def test_tf_keras2_functional_h5_with_a_shared_layer(tmp_path):
    a, b = keras.Input((6, 2), name="input_1"), keras.Input((6, 2), name="input_2")
    shared = K.LSTM(3, name="lstm")
    out = K.Dense(1, name="dense")(K.Concatenate(name="concatenate")([shared(a), shared(b)]))
    kmodel = keras.Model([a, b], out)
    _randomize(kmodel)
    inp = lambda n: {"class_name": "InputLayer", "name": n, "inbound_nodes": [],  # noqa: E731
                     "config": {"batch_input_shape": [None, 6, 2], "dtype": "float32",
                                "sparse": False, "ragged": False, "name": n}}
    config = {"class_name": "Functional", "config": {
        "name": "model", "layers": [
            inp("input_1"), inp("input_2"),
            {**_tf2_rnn("LSTM", "lstm", 3), "name": "lstm",
             "inbound_nodes": [[["input_1", 0, 0, {}]], [["input_2", 0, 0, {}]]]},
            {"class_name": "Concatenate", "name": "concatenate",
             "config": {"name": "concatenate", "trainable": True, "dtype": "float32", "axis": -1},
             "inbound_nodes": [[["lstm", 0, 0, {}], ["lstm", 1, 0, {}]]]},
            {**_tf2_dense("dense", 1), "name": "dense",
             "inbound_nodes": [[["concatenate", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
        "output_layers": [["dense", 0, 0]]}}
    _write_tf2_h5(tmp_path / "tf2.h5", config, kmodel,
                  ["input_1", "input_2", "lstm", "concatenate", "dense"])
    model = rnnlab.load_model(tmp_path / "tf2.h5")
    x = _two((4, 6, 2))
    np.testing.assert_allclose(_predict(model, x), _predict(kmodel, x), atol=TOL, rtol=0)


def test_tf_keras2_h5_with_a_missing_weight_is_refused(tmp_path):
    kmodel = _seq_model((7, 3), K.LSTM(3, name="lstm"), K.Dense(1, name="dense"))
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        _tf2_rnn("LSTM", "lstm", 3, batch_input_shape=[None, 7, 3]), _tf2_dense("dense", 1)]}}
    _write_tf2_h5(tmp_path / "tf2.h5", config, kmodel, ["lstm", "dense"])
    with h5py.File(tmp_path / "tf2.h5", "r+") as f:
        g = f["model_weights/lstm"]
        g.attrs["weight_names"] = list(g.attrs["weight_names"])[:2]
    with pytest.raises(ModelFileError, match="layer 'lstm' has 2 weights .* expected 3"):
        rnnlab.load_model(tmp_path / "tf2.h5")


def test_model_checkpoint_writes_keras_files(tmp_path):
    """ModelCheckpoint with Keras 3's file names writes Keras files (its record kept where
    Keras ignores it) that Keras loads."""
    x, y = _seq(16, 5, 2), np.random.default_rng(0).normal(size=(16, 1)).astype("float32")
    model = rnnlab.Sequential([L.GRU(3, input_shape=(5, 2)), L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        rnnlab.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss",
                                         save_best_only=True),
        rnnlab.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"),
                                         save_weights_only=True)])
    with zipfile.ZipFile(tmp_path / "best.keras") as zf:
        record = json.loads(zf.read("metadata.json"))["checkpoint"]
    assert record["monitor"] == "loss" and record["epoch"] in (1, 2)
    kmodel = keras.saving.load_model(tmp_path / "best.keras")
    kmodel.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(_predict(kmodel, x), _predict(model, x), atol=TOL, rtol=0)
