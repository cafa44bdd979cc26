"""ONNX export: ``model.export(path, format="onnx")`` gives a file that ``onnx.checker`` accepts,
whose recurrent layers are ONNX's own LSTM/GRU/RNN operators, and that ONNX Runtime runs to
rnnlab's predictions (1e-5; 1e-4 over 100 steps) at any batch size and sequence length; masks
become ``sequence_lens`` whatever the padding; ``rnnlab export`` writes ONNX or .keras files."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import rnnlab  # noqa: E402
from rnnlab import layers as L  # noqa: E402
from rnnlab.cli import main  # noqa: E402
from rnnlab.datasets import synthetic  # noqa: E402
from rnnlab.lecture import text as lecture_text  # noqa: E402
from rnnlab.lecture import timeseries as lecture_ts  # noqa: E402
from rnnlab.models.onnx_export import ExportError, onnx_model  # noqa: E402


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def _floats(n, t, d, seed=1):
    return np.random.default_rng(seed).normal(size=(n, t, d)).astype("float32")


def _ints(n, t, vocab, seed=2):
    return np.random.default_rng(seed).integers(0, vocab, size=(n, t)).astype("int32")


def _export_and_compare(tmp_path, model, inputs, tol=1e-5):
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "batch"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in inputs:
        got = session.run(None, {"input": x})[0]
        want = model.predict(x, verbose=0)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    return proto


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


CASES = {
    "lstm": (lambda: [L.LSTM(5, return_sequences=True, input_shape=(None, 3)),
                      L.LSTM(3, use_bias=False)], "LSTM"),
    "lstm_backwards_relu": (lambda: [L.LSTM(4, go_backwards=True, return_sequences=True,
                                            activation="relu", input_shape=(None, 3)),
                                     L.LSTM(2, go_backwards=True)], "LSTM"),
    "gru_reset_after": (lambda: [L.GRU(4, return_sequences=True, input_shape=(None, 3)),
                                 L.GRU(2, go_backwards=True)], "GRU"),
    "gru_reset_before": (lambda: [L.GRU(4, reset_after=False, return_sequences=True,
                                        go_backwards=True, input_shape=(None, 3)),
                                  L.GRU(2, reset_after=False)], "GRU"),
    "simple_rnn": (lambda: [L.SimpleRNN(4, return_sequences=True, input_shape=(None, 3)),
                            L.SimpleRNN(2, activation="relu", go_backwards=True)], "RNN"),
    "bidirectional": (lambda: [L.Bidirectional(L.LSTM(3, return_sequences=True),
                                               input_shape=(None, 3)),
                               L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="sum"),
                               L.Bidirectional(L.SimpleRNN(2), merge_mode="ave")], "LSTM"),
    "bidirectional_mul": (lambda: [L.Bidirectional(L.GRU(3), merge_mode="mul",
                                                   input_shape=(None, 3))], "GRU"),
    "dense_dropout": (lambda: [L.Dropout(0.5, input_shape=(None, 3)), L.Dense(4, activation="tanh"),
                               L.GaussianNoise(0.1), L.Dense(2, activation="softmax")], "MatMul"),
    "conv_pool": (lambda: [L.Conv1D(4, 3, padding="same", activation="relu",
                                    input_shape=(None, 3)),
                           L.MaxPooling1D(2, padding="same"), L.Conv1D(3, 2, dilation_rate=2,
                                                                       padding="causal"),
                           L.AveragePooling1D(2), L.LSTM(2, return_sequences=True),
                           L.GlobalMaxPooling1D()], "Conv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layers_export_and_run(tmp_path, case):
    build, op = CASES[case]
    model = _randomize(rnnlab.Sequential(build()))
    proto = _export_and_compare(tmp_path, model, [_floats(4, 12, 3), _floats(1, 9, 3, 5),
                                                  _floats(7, 20, 3, 6)])
    assert op in _ops(proto)


@given(kind=st.sampled_from(["LSTM", "GRU", "SimpleRNN"]), units=st.integers(1, 6),
       features=st.integers(1, 4), go_backwards=st.booleans(), return_sequences=st.booleans(),
       use_bias=st.booleans(), reset_after=st.booleans(), bidirectional=st.booleans(),
       n=st.integers(1, 4), t=st.integers(1, 15), seed=st.integers(0, 2 ** 16))
def test_any_recurrent_layer_matches(kind, units, features, go_backwards, return_sequences,
                                     use_bias, reset_after, bidirectional, n, t, seed):
    """Every size and option of the three recurrent layers: ONNX Runtime equals rnnlab."""
    options = dict(return_sequences=return_sequences, use_bias=use_bias)
    if kind == "GRU":
        options["reset_after"] = reset_after
    if bidirectional:
        layer = L.Bidirectional(getattr(L, kind)(units, **options), input_shape=(None, features))
    else:
        layer = getattr(L, kind)(units, go_backwards=go_backwards, input_shape=(None, features),
                                 **options)
    model = _randomize(rnnlab.Sequential([layer]), seed)
    session = ort.InferenceSession(onnx_model(model).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = _floats(n, t, features, seed)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x, verbose=0),
                               atol=1e-5, rtol=0)


def test_flatten_and_activation(tmp_path):
    model = _randomize(rnnlab.Sequential([L.LSTM(3, return_sequences=True, input_shape=(12, 3)),
                                          L.Flatten(), L.Activation("softmax")]))
    proto = _export_and_compare(tmp_path, model, [_floats(4, 12, 3), _floats(1, 12, 3, 5)])
    assert "Flatten" in _ops(proto) and "Softmax" in _ops(proto)


def test_normalization_and_reshaping_layers(tmp_path):
    model = rnnlab.Sequential([
        L.LayerNormalization(input_shape=(None, 3)), L.BatchNormalization(),
        L.TimeDistributed(L.Dense(4, activation="relu")), L.LSTM(3), L.RepeatVector(4),
        L.GRU(2, return_sequences=True), L.Permute((2, 1)), L.Reshape((8,)),
        L.LayerNormalization(center=False)])
    _randomize(model)
    bn = model.layers[1].params
    bn["moving_variance"][...] = np.abs(bn["moving_variance"]) + 0.5
    proto = _export_and_compare(tmp_path, model, [_floats(5, 7, 3), _floats(1, 11, 3, 4)])
    assert {"LayerNormalization", "Tile", "Reshape"} <= set(_ops(proto))


def test_embedding_lstm_over_100_steps(tmp_path):
    model = _randomize(rnnlab.Sequential([L.Embedding(101, 8, input_shape=(None,)),
                                          L.LSTM(16), L.Dense(1, activation="sigmoid")]))
    proto = _export_and_compare(tmp_path, model, [_ints(3, 100, 101), _ints(8, 10, 101, 4)],
                                tol=1e-4)
    assert _ops(proto).count("LSTM") == 1 and "Gather" in _ops(proto)
    assert "Loop" not in _ops(proto) and "Scan" not in _ops(proto)


LECTURE = {
    "timeseries_simple_rnn": (lambda: lecture_ts.simple_rnn_model(False), 1),
    "timeseries_stacked": (lambda: lecture_ts.simple_rnn_model(True), 1),
    **{kind: (lambda kind=kind: lecture_text.build_model(kind, max_features=50), None)
       for kind in lecture_text.ALL_MODELS},
}


@pytest.mark.parametrize("case", sorted(LECTURE))
def test_lecture_models_export(tmp_path, case):
    build, features = LECTURE[case]
    model = build()
    if features:
        model.build((None, None, features))
        xs = [_floats(5, 20, 1), _floats(2, 100, 1, 7)]
    else:
        model.build((None, None))
        xs = [_ints(5, 12, 51), _ints(2, 100, 51, 7)]
        for x in xs:         # pre-padding, as the lecture's masked LSTM is fed
            x[0, :5] = 0
    _randomize(model)
    _export_and_compare(tmp_path, model, xs, tol=1e-4)


def test_functional_merges_and_a_shared_layer(tmp_path):
    a, b = rnnlab.Input((None, 3), name="a"), rnnlab.Input((None, 3), name="b")
    ra, rb = L.LSTM(4, return_sequences=True)(a), L.GRU(4, return_sequences=True)(b)
    merged = L.Concatenate()([L.Add()([ra, rb]), L.Subtract()([ra, rb]), L.Multiply()([ra, rb]),
                              L.Average()([ra, rb, ra]), L.Maximum()([ra, rb]),
                              L.Minimum()([ra, rb])])
    shared = L.SimpleRNN(2)
    model = _randomize(rnnlab.Model([a, b], [
        L.GlobalAveragePooling1D()(merged),
        L.Activation("sigmoid")(L.Concatenate()([shared(ra), shared(rb)]))]))
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n, t in ((3, 7), (1, 12)):
        x = [_floats(n, t, 3, 1), _floats(n, t, 3, 2)]
        got = session.run(None, {"a": x[0], "b": x[1]})
        for g, w in zip(got, model.predict(x, verbose=0)):
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)


def test_functional_token_input(tmp_path):
    i = rnnlab.Input((None,), dtype="int32", name="tokens")
    e = L.Embedding(30, 4)(i)
    model = _randomize(rnnlab.Model(i, L.Dense(1)(L.Concatenate()([
        L.Bidirectional(L.LSTM(3))(e), L.GlobalMaxPooling1D()(L.Conv1D(2, 3)(e))]))))
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in (_ints(4, 9, 30), _ints(2, 30, 30, 5)):
        np.testing.assert_allclose(session.run(None, {"tokens": x})[0],
                                   model.predict(x, verbose=0), atol=1e-5, rtol=0)


def _padded(seed=3):
    x = _ints(6, 10, 30, seed)
    x[x == 0] = 1
    x[0, :4] = 0             # pre-padding
    x[1, -3:] = 0            # post-padding
    x[2, 3:5] = 0            # a hole
    x[3, 1::2] = 0           # every other step
    x[4] = 0                 # nothing at all: the initial state
    return x


MASKED = {
    "lstm_stack": lambda: [L.Embedding(30, 4, mask_zero=True, input_shape=(None,)),
                           L.LSTM(3, return_sequences=True), L.LSTM(1, activation="sigmoid")],
    "dense_between_gru_backwards": lambda: [
        L.Embedding(30, 4, mask_zero=True, input_shape=(None,)), L.Dropout(0.1),
        L.Dense(5, activation="tanh"), L.GRU(3, go_backwards=True)],
    "bidirectional": lambda: [L.Embedding(30, 4, mask_zero=True, input_shape=(None,)),
                              L.Bidirectional(L.SimpleRNN(3, return_sequences=True)),
                              L.Bidirectional(L.LSTM(2), merge_mode="ave")],
    "gru_without_bias": lambda: [L.Embedding(30, 4, mask_zero=True, input_shape=(None,)),
                                 L.GRU(3, use_bias=False, reset_after=False)],
}


@pytest.mark.parametrize("case", sorted(MASKED))
def test_masks_become_sequence_lens_whatever_the_padding(tmp_path, case):
    model = _randomize(rnnlab.Sequential(MASKED[case]()))
    proto = _export_and_compare(tmp_path, model, [_padded(), _padded(4)[:3, :7]])
    assert "TopK" in _ops(proto)


def test_masking_layer(tmp_path):
    x = _floats(5, 8, 2)
    x[0, :3] = 0
    x[1, 5:] = 0
    x[2, 2] = 0
    model = _randomize(rnnlab.Sequential([L.Masking(0.0, input_shape=(None, 2)),
                                          L.LSTM(3, return_sequences=True), L.GRU(2)]))
    _export_and_compare(tmp_path, model, [x])


def test_masks_that_cannot_be_exported_are_refused_and_nothing_is_written(tmp_path):
    emb = lambda: L.Embedding(30, 4, mask_zero=True, input_shape=(None,))  # noqa: E731
    cases = [
        ([emb(), L.LSTM(3, return_sequences=True)], "its output is a masked sequence"),
        ([emb(), L.Conv1D(2, 3), L.LSTM(2)],
         r"layer 'conv1d\w*' \(Conv1D\) is not exported on a masked input"),
        ([emb(), L.LSTM(2, go_backwards=True, return_sequences=True), L.LSTM(1)],
         "go_backwards with return_sequences on a masked input"),
    ]
    for layers, message in cases:
        model = rnnlab.Sequential(layers)
        with pytest.raises(ExportError, match=message):
            model.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unsupported_layer_format_and_model_are_refused(tmp_path):
    model = rnnlab.Sequential([L.LSTM(2, return_sequences=True, input_shape=(None, 3)),
                               L.GlobalAveragePooling1D(keepdims=True), L.ZeroPadding1D()])
    with pytest.raises(ExportError, match=r"layer 'zero_padding1d\w*' "
                                          r"\(ZeroPadding1D\) has no ONNX export"):
        model.export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(ValueError, match="format must be one of \\['onnx'\\]"):
        model.export(tmp_path / "m.onnx", format="tf_saved_model")
    x = rnnlab.Input((None,), dtype="int32")
    functional = rnnlab.Model(x, L.LSTM(2)(L.Embedding(9, 2, mask_zero=True)(x)))
    with pytest.raises(ExportError, match="masks are exported in Sequential models only"):
        functional.export(tmp_path / "m.onnx", format="onnx")
    hard = rnnlab.Sequential([L.LSTM(2, recurrent_activation="hard_sigmoid",
                                     input_shape=(None, 3))])
    with pytest.raises(ExportError, match="activation 'hard_sigmoid' has no ONNX form"):
        hard.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()


# ------------------------------------------------------------------------------ rnnlab export
def _cli(args):
    return CliRunner().invoke(main, args)


def test_cli_export_of_a_bundle_and_a_model_file(tmp_path):
    d = synthetic.time_series(n_series=12, n_steps=25, seed=3)
    with open(tmp_path / "series.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["Fortune500", *d.dates],
                                 *[[t, *x, y] for t, x, y in zip(d.tickers, d.X, d.y)]])
    bundle = tmp_path / "s.model"
    res = _cli(["train", "--data", str(tmp_path / "series.csv"), "--task", "forecast",
                "--window", "8", "--epochs", "1", "--out", str(bundle)])
    assert res.exit_code == 0, res.output
    res = _cli(["export", "--model", str(bundle), "--out", str(tmp_path / "s.onnx")])
    assert res.exit_code == 0, res.output
    model = rnnlab.app.load_bundle(bundle)[0]
    x = _floats(3, 8, 1)
    session = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x, verbose=0),
                               atol=1e-5, rtol=0)
    # an rnnlab model file, to a .keras archive and from it to ONNX
    model.save(tmp_path / "m.rnnlab")
    res = _cli(["export", "--model", str(tmp_path / "m.rnnlab"), "--out", str(tmp_path / "m.x"),
                "--format", "keras"])
    assert res.exit_code == 0, res.output
    (tmp_path / "m.x").rename(tmp_path / "m.keras")
    res = _cli(["export", "--model", str(tmp_path / "m.keras"), "--out", str(tmp_path / "k.onnx")])
    assert res.exit_code == 0, res.output
    session = ort.InferenceSession(str(tmp_path / "k.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x, verbose=0),
                               atol=1e-5, rtol=0)


def test_cli_export_errors_write_nothing(tmp_path):
    model = rnnlab.Sequential([L.Embedding(9, 2, mask_zero=True, input_shape=(None,)),
                               L.LSTM(2, return_sequences=True)])
    model.save(tmp_path / "m.rnnlab")
    (tmp_path / "junk.bin").write_bytes(b"not a model")
    cases = [
        (["--model", str(tmp_path / "m.rnnlab"), "--out", str(tmp_path / "o.onnx")],
         "its output is a masked sequence"),
        (["--model", str(tmp_path / "m.rnnlab"), "--out", str(tmp_path / "o.txt")],
         "cannot tell the format"),
        (["--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "o.onnx")],
         "does not exist"),
        (["--model", str(tmp_path / "junk.bin"), "--out", str(tmp_path / "o.onnx")],
         "is neither a model bundle nor a model file"),
        (["--model", str(tmp_path / "m.rnnlab"), "--out", str(tmp_path / "m.rnnlab"),
          "--format", "onnx"], "never writes over one of its inputs"),
    ]
    for args, needle in cases:
        res = _cli(["export", *args])
        assert res.exit_code == 1 and needle in res.output, res.output
        assert "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.bin", "m.rnnlab"]
