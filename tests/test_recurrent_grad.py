"""SimpleRNN/LSTM/GRU: finite-difference gradients for every option; semantics, shapes, errors."""
import json

import numpy as np
import pytest

from gradcheck import check_layer
from rnnlab import config
from rnnlab.kernels import activations as A
from rnnlab.kernels import ops as ops_mod
from rnnlab.kernels.ops import ReferenceOps, get_ops
from rnnlab.kernels.reference import gru as gru_k
from rnnlab.kernels.reference import lstm as lstm_k
from rnnlab.kernels.reference import simple_rnn as rnn_k
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN

CELLS = {
    "simple_rnn": lambda u, **kw: SimpleRNN(u, **kw),
    "lstm": lambda u, **kw: LSTM(u, **kw),
    "gru": lambda u, **kw: GRU(u, **kw),
    "gru_before": lambda u, **kw: GRU(u, reset_after=False, **kw),
}
N_STATES = {"simple_rnn": 1, "lstm": 2, "gru": 1, "gru_before": 1}


def _shapes(seed):
    r = np.random.default_rng(seed)
    return (int(r.integers(1, 5)), int(r.integers(1, 8)), int(r.integers(1, 4)),
            int(r.integers(1, 5)))


def _make(cell, seed, **kw):
    """A built float64 layer with random (not default) weights, and a random input."""
    n, t, m, u = _shapes(seed)
    r = np.random.default_rng(seed + 1000)
    layer = CELLS[cell](u, **kw)
    x = r.normal(size=(n, t, m))
    layer.ensure_built((None, t, m))
    for k in layer.params:
        layer.params[k] = r.normal(scale=0.6, size=layer.params[k].shape)
        layer.grads[k] = np.zeros_like(layer.params[k])
    return layer, x, r


OPTIONS = [
    {},
    {"return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True, "return_state": True},
    {"use_bias": False},
    {"use_bias": False, "return_sequences": True},
]


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("opt", range(len(OPTIONS)))
def test_gradients_every_option(float64, cell, opt):
    layer, x, _ = _make(cell, 10 * opt + len(cell), **OPTIONS[opt])
    check_layer(layer, x)
    if not OPTIONS[opt].get("use_bias", True):
        assert "bias" not in layer.params


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("act", A.ELEMENTWISE)
def test_gradients_every_activation(float64, cell, act):
    layer, x, _ = _make(cell, len(act) + 3, activation=act, return_sequences=True)
    check_layer(layer, x)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_before"])
@pytest.mark.parametrize("ract", ["hard_sigmoid", "tanh", "linear", "softplus"])
def test_gradients_recurrent_activation(float64, cell, ract):
    layer, x, _ = _make(cell, 7, recurrent_activation=ract, return_state=True)
    check_layer(layer, x)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [{"return_sequences": True}, {"return_state": True,
                                                              "go_backwards": True}])
def test_gradients_dropout_training(float64, cell, kw):
    layer, x, _ = _make(cell, 21, dropout=0.4, recurrent_dropout=0.3, **kw)
    check_layer(layer, x, training=True, seed=3)


@pytest.mark.parametrize("cell", list(CELLS))
def test_dropout_masks_shared_over_time_and_inactive_at_inference(float64, cell):
    n, t, m, u = 16, 5, 3, 4
    rng = np.random.default_rng(0)
    drop = CELLS[cell](u, dropout=0.5, recurrent_dropout=0.5, return_sequences=True, seed=1)
    plain = CELLS[cell](u, return_sequences=True)
    x = rng.normal(size=(n, t, m))
    drop.ensure_built((None, t, m))
    plain.ensure_built((None, t, m))
    plain.set_weights(drop.get_weights())
    np.testing.assert_array_equal(drop(x), plain(x))             # inference: no dropout
    y_train = drop(x, training=True)
    assert not np.allclose(y_train, plain(x))
    # One input mask (N, 1, m) over time: dx is zero on the same features at every step.
    drop2 = CELLS[cell](u, dropout=0.5, return_sequences=True, seed=4)
    drop2.ensure_built((None, t, m))
    out, back = drop2.forward(x, training=True)
    dx = back(np.ones_like(out))
    zero = np.isclose(dx, 0.0).all(axis=1)                         # (n, m): dropped features
    assert zero.any() and not zero.all()
    np.testing.assert_array_equal(np.isclose(dx, 0.0), np.broadcast_to(zero[:, None], dx.shape))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [{"return_state": True}, {"return_sequences": True,
                                                          "go_backwards": True}])
def test_gradients_initial_state(float64, cell, kw):
    layer, x, r = _make(cell, 31, **kw)
    states = [r.normal(size=(x.shape[0], layer.units)) for _ in range(N_STATES[cell])]
    check_layer(layer, [x] + states)
    # The returned gradient list has one entry per input.
    out, back = layer.forward([x] + states)
    grads = back(out)
    assert isinstance(grads, list) and len(grads) == 1 + N_STATES[cell]


def _step_mask(n, t, rng):
    mask = rng.random((n, t)) > 0.4
    mask[0] = False                      # an all-masked row
    if n > 1:
        mask[-1] = True
    return mask


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("kw", [{"return_sequences": True}, {"return_state": True},
                                {"return_sequences": True, "go_backwards": True}])
def test_gradients_step_mask(float64, cell, kw):
    layer, x, r = _make(cell, 41, **kw)
    mask = _step_mask(x.shape[0], x.shape[1], r)
    check_layer(layer, x, mask=mask)


@pytest.mark.parametrize("cell", list(CELLS))
def test_gradients_everything_at_once(float64, cell):
    layer, x, r = _make(cell, 51, dropout=0.2, recurrent_dropout=0.25, return_sequences=True,
                        return_state=True, go_backwards=True)
    states = [r.normal(size=(x.shape[0], layer.units)) for _ in range(N_STATES[cell])]
    check_layer(layer, [x] + states, training=True, seed=9, mask=_step_mask(*x.shape[:2], r))


@pytest.mark.parametrize("cell", list(CELLS))
def test_step_mask_semantics(float64, cell):
    """Masked steps are skipped: same result as deleting them; outputs repeat the last one."""
    n, t, m, u = 4, 6, 3, 3
    r = np.random.default_rng(5)
    layer = CELLS[cell](u, return_sequences=True, return_state=True)
    x = r.normal(size=(n, t, m))
    layer.ensure_built((None, t, m))
    mask = np.array([[0, 0, 0, 0, 0, 0], [1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 0],
                     [1, 1, 1, 1, 1, 1]], dtype=bool)
    seq, *finals = layer(x, mask=mask)
    # all-ones mask gives exactly the unmasked result
    ref_seq, *ref_finals = layer(x)
    full = layer(x, mask=np.ones((n, t), bool))
    for a, b in zip(full, [ref_seq] + ref_finals):
        np.testing.assert_array_equal(a, b)
    # all-masked row: states never leave the (zero) initial state
    np.testing.assert_array_equal(seq[0], 0.0)
    for f in finals:
        np.testing.assert_array_equal(f[0], 0.0)
    for i in (1, 2):
        kept = np.flatnonzero(mask[i])
        sub_seq, *sub_finals = layer(x[i:i + 1, kept])
        for f, sf in zip(finals, sub_finals):
            np.testing.assert_allclose(f[i], sf[0], rtol=1e-12, atol=1e-14)
        # output at each step = output after the last unmasked step so far (zeros before any)
        for s in range(t):
            done = np.count_nonzero(mask[i, :s + 1])
            expect = np.zeros(u) if done == 0 else sub_seq[0, done - 1]
            np.testing.assert_allclose(seq[i, s], expect, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", list(CELLS))
def test_go_backwards_equals_reversed_input(float64, cell):
    r = np.random.default_rng(2)
    x = r.normal(size=(3, 5, 2))
    fwd = CELLS[cell](3, return_sequences=True)
    fwd.ensure_built((None, 5, 2))
    bwd = CELLS[cell](3, return_sequences=True, go_backwards=True)
    bwd.ensure_built((None, 5, 2))
    bwd.set_weights(fwd.get_weights())
    # Keras returns the sequence in processing order, i.e. the forward layer on x[:, ::-1].
    np.testing.assert_allclose(bwd(x), fwd(x[:, ::-1]), rtol=1e-12)


def test_simple_rnn_one_unit_is_the_lecture_neuron(float64):
    """SimpleRNN(1) with kernel w1, recurrent w2, bias w0 is the slides' single neuron."""
    w = np.array([-0.07161043, 1.15476269, 0.25800392])
    X = np.random.default_rng(0).uniform(-1, 1, size=(6, 9))
    y_pred = np.zeros(6)                     # the lecture's forward(), written out
    for t in range(X.shape[1]):
        y_pred = np.tanh(w[0] + X[:, t] * w[1] + y_pred * w[2])
    layer = SimpleRNN(1, input_shape=(None, 1))
    layer.ensure_built((None, None, 1))
    layer.set_weights([[[w[1]]], [[w[2]]], [w[0]]])
    np.testing.assert_allclose(layer(X[:, :, None])[:, 0], y_pred, rtol=1e-12)


def test_parameter_counts_match_the_lecture():
    def count(layer, m):
        layer.ensure_built((None, None, m))
        return layer.count_params()

    assert [count(SimpleRNN(10, return_sequences=True, input_shape=(None, 1)), 1),
            count(SimpleRNN(5, return_sequences=True), 10), count(SimpleRNN(1), 5)] == [120, 80, 7]
    assert count(SimpleRNN(10, return_sequences=True), 50) == 610
    assert count(SimpleRNN(1, activation="sigmoid"), 10) == 12
    assert count(SimpleRNN(10), 5) == 160
    assert count(LSTM(10, return_sequences=True), 50) == 2440
    assert count(LSTM(1, activation="sigmoid"), 10) == 48
    assert count(GRU(10), 50) == 3 * (50 * 10 + 10 * 10 + 2 * 10)
    assert count(GRU(10, reset_after=False), 50) == 3 * (50 * 10 + 10 * 10 + 10)


def test_weight_layouts_and_forget_bias():
    lstm = LSTM(3)
    lstm.ensure_built((None, 4, 2))
    assert [p.shape for p in lstm.get_weights()] == [(2, 12), (3, 12), (12,)]
    np.testing.assert_array_equal(lstm.params["bias"], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    lstm0 = LSTM(3, unit_forget_bias=False)
    lstm0.ensure_built((None, 4, 2))
    np.testing.assert_array_equal(lstm0.params["bias"], 0.0)
    gru = GRU(3)
    gru.ensure_built((None, 4, 2))
    assert [p.shape for p in gru.get_weights()] == [(2, 9), (3, 9), (2, 9)]
    rnn = SimpleRNN(3, use_bias=False)
    rnn.ensure_built((None, 4, 2))
    assert list(rnn.params) == ["kernel", "recurrent_kernel"]
    u = rnn.params["recurrent_kernel"]                # orthogonal initializer
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-5)


def test_float32_default_and_first_layer_input_shape():
    layer = SimpleRNN(10, return_sequences=True, input_shape=(None, 1))
    assert layer.batch_input_shape == (None, None, 1)
    y = layer(np.random.default_rng(0).normal(size=(2, 7, 1)))
    assert y.shape == (2, 7, 10) and y.dtype == np.float32
    for L in (LSTM(2, return_state=True), GRU(2, return_state=True)):
        outs = L(np.ones((3, 4, 5)))
        assert all(o.dtype == np.float32 for o in outs)


@pytest.mark.parametrize("cell", list(CELLS))
def test_output_shapes_and_masks(cell):
    ns = N_STATES[cell]
    layer = CELLS[cell](4)
    assert layer.compute_output_shape((None, None, 3)) == (None, 4)
    assert layer(np.ones((2, 5, 3))).shape == (2, 4)
    seq = CELLS[cell](4, return_sequences=True, return_state=True)
    assert seq.compute_output_shape((None, 7, 3)) == [(None, 7, 4)] + [(None, 4)] * ns
    outs = seq(np.ones((2, 7, 3)))
    assert [o.shape for o in outs] == [(2, 7, 4)] + [(2, 4)] * ns
    mask = np.ones((2, 7), bool)
    assert layer.compute_mask(None, mask) is None
    assert CELLS[cell](4, return_sequences=True).compute_mask(None, mask) is mask
    assert seq.compute_mask(None, mask) == [mask] + [None] * ns


@pytest.mark.parametrize("cell", list(CELLS))
def test_config_roundtrip(cell):
    layer = CELLS[cell](3, activation="relu", use_bias=False, dropout=0.1, recurrent_dropout=0.2,
                        return_sequences=True, return_state=True, go_backwards=True, seed=7,
                        kernel_regularizer="l2", recurrent_initializer="glorot_normal",
                        input_shape=(None, 2), name=f"my_{cell}")
    cfg = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == layer.get_config()
    assert clone.name == f"my_{cell}" and clone.activation.name == "relu"
    assert clone.kernel_regularizer.l2 == pytest.approx(0.01)
    if cell == "gru_before":
        assert clone.reset_after is False


def test_backward_with_return_state_accepts_none_entries(float64):
    layer, x, r = _make("lstm", 3, return_state=True)
    out, back = layer.forward(x)
    R = r.normal(size=out[2].shape)
    layer.zero_grads()
    dx_c = back([None, None, R])                   # only c_T is used
    g_c = {k: v.copy() for k, v in layer.grads.items()}
    layer.zero_grads()
    dx_full = back([np.zeros_like(out[0]), np.zeros_like(out[1]), R])
    np.testing.assert_array_equal(dx_c, dx_full)
    for k in g_c:
        np.testing.assert_array_equal(g_c[k], layer.grads[k])
    with pytest.raises(ValueError, match="list of 3 gradients"):
        back(np.ones_like(out[0]))


def test_bad_inputs():
    layer = SimpleRNN(2, name="rnn_x")
    layer(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"'rnn_x'.*rank 3"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"'rnn_x'.*last axis of size 4"):
        layer.forward(np.ones((2, 3, 5)))
    bad = np.ones((2, 3, 4))
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"'rnn_x'.*non-finite"):
        layer(bad)                                   # user-facing calls check finiteness
    with pytest.raises(ValueError, match=r"'rnn_x'.*mask must have shape"):
        layer.forward(np.ones((2, 3, 4)), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"'rnn_x'.*at least one time step"):
        layer.forward(np.ones((2, 0, 4)))
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'"):
        SimpleRNN(2, activation="tanhh")
    with pytest.raises(ValueError, match="Unknown activation"):
        LSTM(2, recurrent_activation="sigmoidd")
    with pytest.raises(ValueError, match="rank 3"):
        GRU(2, name="g").ensure_built((None, 4))
    with pytest.raises(ValueError, match="stateful.*fixed batch size"):
        LSTM(2, stateful=True).ensure_built((None, 3, 4))   # tests/test_stateful.py: the rest
    with pytest.raises(ValueError, match="units"):
        GRU(0)
    with pytest.raises(ValueError, match="dropout"):
        SimpleRNN(2, dropout=1.0)
    lstm = LSTM(2, name="lstm_x")
    lstm(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"'lstm_x'.*3 arrays"):
        lstm.forward([np.ones((2, 3, 4)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"'lstm_x'.*initial state c0 must have shape \(2, 2\)"):
        lstm.forward([np.ones((2, 3, 4)), np.zeros((2, 2)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"'lstm_x'.*non-finite"):
        lstm([np.ones((2, 3, 4)), np.zeros((2, 2)), np.full((2, 2), np.inf)])


def test_kernel_dispatch_hook(float64, monkeypatch):
    """The layers take their kernels from get_ops(config.kernels()); another Ops (here a spy
    subclass of ReferenceOps) can stand for "fast"."""
    ref = get_ops("reference")
    assert (ref.simple_rnn_forward, ref.simple_rnn_backward) == (rnn_k.simple_rnn_forward,
                                                                 rnn_k.simple_rnn_backward)
    assert (ref.lstm_forward, ref.lstm_backward) == (lstm_k.lstm_forward, lstm_k.lstm_backward)
    assert (ref.gru_forward, ref.gru_backward) == (gru_k.gru_forward, gru_k.gru_backward)
    calls = []

    class SpyOps(ReferenceOps):
        def gru_forward(self, *a, **kw):
            calls.append("f")
            return gru_k.gru_forward(*a, **kw)

        def gru_backward(self, *a):
            calls.append("b")
            return gru_k.gru_backward(*a)

    monkeypatch.setitem(ops_mod._OPS, ("fast", config.compile_mode()), SpyOps())
    config.set_kernels("fast")
    layer, x, _ = _make("gru", 2)
    check_layer(layer, x)
    assert calls[:2] == ["f", "b"] and set(calls) == {"f", "b"}
