"""Bidirectional and TimeDistributed: finite differences, PyTorch parity, masks, weights, config.

Torch layouts (as in test_recurrent_torch): Keras kernel (m, k·u) is torch's weight_ih (k·u, m)
transposed; the LSTM's single bias is bias_ih with bias_hh = 0; the GRU's (2, 3u) bias rows are
bias_ih and bias_hh; GRU gate blocks z, r, h are torch's r, z, n reordered.  torch's
``bidirectional=True`` keeps the reverse direction's weights under the ``_reverse`` suffix and
returns its output sequence in input time order, concatenated after the forward one.
"""
import json

import numpy as np
import pytest
import torch

from gradcheck import check_layer, rel_error
from rnnlab import Sequential, config
from rnnlab.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnlab.layers.wrappers import Bidirectional, TimeDistributed
from rnnlab.optimizers import SGD
from torch_layout import load_torch_rnn, torch_rnn_grads

TOL = 1e-5
CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
N_STATES = {"rnn": 1, "lstm": 2, "gru": 1}


def _bidi(cell, u, m, seed=0, merge_mode="concat", **kw):
    """A built Bidirectional layer with random float64 weights (set through the wrapper's view)."""
    layer = Bidirectional(CELLS[cell](u, **kw), merge_mode=merge_mode)
    layer.ensure_built((None, None, m))
    r = np.random.default_rng(seed)
    for k in list(layer.params):
        layer.params[k] = r.normal(scale=0.5, size=layer.params[k].shape)
        layer.grads[k] = np.zeros_like(layer.params[k])
    return layer


def _post_mask(lengths, t):
    return np.arange(t)[None, :] < np.asarray(lengths)[:, None]


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradcheck_merge_modes(float64, cell, merge_mode, return_sequences):
    layer = _bidi(cell, 2, 3, seed=1, merge_mode=merge_mode, return_sequences=return_sequences)
    x = np.random.default_rng(2).normal(size=(2, 4, 3))
    errs = check_layer(layer, x)
    assert set(errs) == {"input0"} | set(layer.params)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("merge_mode", ["concat", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradcheck_masked_with_states(float64, cell, merge_mode, return_sequences):
    """Post-padded rows, a row of padding only, and a row with a hole; return_state on."""
    layer = _bidi(cell, 2, 3, seed=3, merge_mode=merge_mode, return_sequences=return_sequences,
                  return_state=True)
    x = np.random.default_rng(4).normal(size=(4, 5, 3))
    mask = _post_mask([5, 2, 0, 4], 5)
    mask[3, 1] = False
    check_layer(layer, x, mask=mask)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradcheck_initial_states(float64, cell):
    layer = _bidi(cell, 2, 3, seed=5, return_sequences=True, return_state=True)
    r = np.random.default_rng(6)
    x = r.normal(size=(3, 4, 3))
    states = [r.normal(size=(3, 2)) for _ in range(2 * N_STATES[cell])]
    errs = check_layer(layer, [x] + states, mask=_post_mask([4, 1, 3], 4))
    assert len([k for k in errs if k.startswith("input")]) == 1 + 2 * N_STATES[cell]


def test_gradcheck_time_distributed_dense(float64):
    layer = TimeDistributed(Dense(3, activation="tanh"))
    x = np.random.default_rng(7).normal(size=(2, 4, 5))
    check_layer(layer, x)
    x4 = np.random.default_rng(8).normal(size=(2, 3, 2, 5))     # (N, T, extra, features)
    check_layer(TimeDistributed(Dense(2, activation="sigmoid")), x4)


# --------------------------------------------------------------------------- masks
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_mask_equals_running_each_row_unpadded(float64, cell):
    """A masked padded batch gives, row by row, what the unmasked layer gives on the row's valid
    prefix (the backward direction must start at the row's last *valid* step); padded steps of the
    sequence output are zero and a padding-only row gives zeros, finite."""
    t, m, u = 6, 3, 2
    lengths = [6, 3, 0, 1]
    seq = _bidi(cell, u, m, seed=9, return_sequences=True, return_state=True)
    last = _bidi(cell, u, m, seed=9, return_state=True)
    r = np.random.default_rng(10)
    x = r.normal(size=(len(lengths), t, m))
    mask = _post_mask(lengths, t)
    ys, *states = seq.forward(x, mask=mask)[0]
    yl, *states_l = last.forward(x, mask=mask)[0]
    for i, L in enumerate(lengths):
        if L == 0:
            np.testing.assert_array_equal(ys[i], 0.0)
            np.testing.assert_array_equal(yl[i], 0.0)
            for s in states + states_l:
                np.testing.assert_array_equal(s[i], 0.0)
            continue
        xi = x[i:i + 1, :L]
        f, *fs = seq.forward_layer.forward(xi)[0]           # (1, L, u), processing = input order
        b, *bs = seq.backward_layer.forward(xi)[0]          # processing order = reversed input
        want_seq = np.concatenate([f, b[:, ::-1]], axis=-1)[0]
        np.testing.assert_allclose(ys[i, :L], want_seq, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(ys[i, L:], 0.0)
        np.testing.assert_allclose(yl[i], np.concatenate([f[0, -1], b[0, -1]]), rtol=1e-12,
                                   atol=1e-14)
        for s, w in zip(states, fs + bs):
            np.testing.assert_allclose(s[i], w[0], rtol=1e-12, atol=1e-14)
    assert all(np.isfinite(a).all() for a in [ys, yl] + states + states_l)


def test_all_ones_mask_is_the_unmasked_result(float64):
    layer = _bidi("lstm", 3, 2, seed=11, return_sequences=True, merge_mode="sum")
    x = np.random.default_rng(12).normal(size=(3, 5, 2))
    a = layer.forward(x)[0]
    b = layer.forward(x, mask=np.ones((3, 5), dtype=bool))[0]
    np.testing.assert_array_equal(a, b)


def test_output_mask(float64):
    x = np.zeros((2, 3, 4))
    mask = _post_mask([3, 1], 3)
    seq = Bidirectional(LSTM(2, return_sequences=True))
    assert seq.compute_mask(x, mask) is mask
    assert Bidirectional(LSTM(2, return_sequences=True), merge_mode=None).compute_mask(
        x, mask) == [mask, mask]
    assert Bidirectional(LSTM(2)).compute_mask(x, mask) is None
    assert Bidirectional(GRU(2, return_state=True)).compute_mask(x, mask) == [None] * 3
    assert Bidirectional(LSTM(2, return_sequences=True, return_state=True)).compute_mask(
        x, mask)[1:] == [None] * 4


# --------------------------------------------------------------------------- PyTorch parity
def _torch_bidi(cell, layer, m, u):
    """torch.nn.GRU/LSTM(bidirectional=True) holding the wrapper's forward and backward weights."""
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    mod = cls(m, u, batch_first=True, bidirectional=True, dtype=torch.float64)
    for sub, suffix in ((layer.forward_layer, ""), (layer.backward_layer, "_reverse")):
        load_torch_rnn(mod, sub.params, cell, suffix)
    return mod


def _check_param_grads(cell, layer, mod, u):
    for sub, suffix in ((layer.forward_layer, ""), (layer.backward_layer, "_reverse")):
        for k, g in torch_rnn_grads(mod, cell, u, suffix).items():
            assert rel_error(layer.grads[f"{sub.name}/{k}"], g) < TOL, (sub.name, k)


@pytest.mark.parametrize("masked", [False, True])
def test_bidirectional_gru_sequences_matches_torch(float64, masked):
    n, t, m, u = 4, 6, 3, 5
    layer = _bidi("gru", u, m, seed=13, return_sequences=True)
    mod = _torch_bidi("gru", layer, m, u)
    r = np.random.default_rng(14)
    x = r.normal(size=(n, t, m))
    lengths = np.array([6, 2, 4, 1]) if masked else np.full(n, t)
    mask = _post_mask(lengths, t) if masked else None
    y, back = layer.forward(x, mask=mask)
    R = r.normal(size=y.shape)
    layer.zero_grads()
    dx = back(R)

    xt = torch.tensor(x, requires_grad=True)
    if masked:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths),
                                                         batch_first=True, enforce_sorted=False)
        out, _ = mod(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
    else:
        out, _ = mod(xt)
    assert rel_error(y, out.detach().numpy()) < TOL
    (out * torch.from_numpy(R)).sum().backward()
    assert rel_error(dx, xt.grad.numpy()) < TOL
    _check_param_grads("gru", layer, mod, u)


@pytest.mark.parametrize("return_state", [False, True])
def test_bidirectional_lstm_matches_torch(float64, return_state):
    """Last output = [forward h_T, backward h after reading the whole reversed sequence], which
    are torch's h_n[0] and h_n[1]; the states follow as [h_f, c_f, h_b, c_b]."""
    n, t, m, u = 3, 7, 4, 3
    layer = _bidi("lstm", u, m, seed=15, return_state=return_state)
    mod = _torch_bidi("lstm", layer, m, u)
    r = np.random.default_rng(16)
    x = r.normal(size=(n, t, m))
    out, back = layer.forward(x)
    outs = out if return_state else [out]
    Rs = [r.normal(size=o.shape) for o in outs]
    layer.zero_grads()
    dx = back(Rs if return_state else Rs[0])

    xt = torch.tensor(x, requires_grad=True)
    seq, (h, c) = mod(xt)
    main = torch.cat([h[0], h[1]], dim=-1)
    assert rel_error(main.detach().numpy(),
                     torch.cat([seq[:, -1, :u], seq[:, 0, u:]], -1).detach().numpy()) < 1e-12
    t_outs = [main, h[0], c[0], h[1], c[1]] if return_state else [main]
    assert len(t_outs) == len(outs)
    for a, b in zip(outs, t_outs):
        assert rel_error(a, b.detach().numpy()) < TOL
    sum((o * torch.from_numpy(R)).sum() for o, R in zip(t_outs, Rs)).backward()
    assert rel_error(dx, xt.grad.numpy()) < TOL
    _check_param_grads("lstm", layer, mod, u)


# --------------------------------------------------------------------------- weights and names
def test_names_params_and_keras_counts():
    config.set_random_seed(0)
    inner = LSTM(64, name="lstm")
    b = Bidirectional(inner)
    b.ensure_built((None, None, 128))
    assert (b.forward_layer.name, b.backward_layer.name) == ("forward_lstm", "backward_lstm")
    assert not b.forward_layer.go_backwards and b.backward_layer.go_backwards
    assert b.compute_output_shape((None, 10, 128)) == (None, 128)
    # Keras: 2 directions × 4 gates × 64 × (128 inputs + 64 recurrent + 1 bias)
    assert b.count_params() == 2 * 4 * 64 * (128 + 64 + 1) == 98816
    keys = [f"{d}_lstm/{k}" for d in ("forward", "backward")
            for k in ("kernel", "recurrent_kernel", "bias")]
    assert list(b.params) == keys == list(b.grads) == b.trainable_param_names()
    ws = b.get_weights()
    fw, bw = b.forward_layer.get_weights(), b.backward_layer.get_weights()
    assert len(ws) == 6 and all(np.array_equal(a, c) for a, c in zip(ws, fw + bw))
    assert not np.array_equal(fw[0], bw[0])            # two independent initialisations
    assert b.compute_output_shape((None, 10, 128)) == (None, 128)
    assert Bidirectional(GRU(3, return_sequences=True), merge_mode="sum").compute_output_shape(
        (None, 5, 2)) == (None, 5, 3)
    assert Bidirectional(GRU(3, return_sequences=True, return_state=True),
                         merge_mode=None).compute_output_shape((None, 5, 2)) == \
        [(None, 5, 3), (None, 5, 3), (None, 3), (None, 3)]


def test_views_alias_the_inner_arrays():
    b = Bidirectional(SimpleRNN(2, name="simple_rnn"))
    b.ensure_built((None, None, 3))
    assert b.params["forward_simple_rnn/kernel"] is b.forward_layer.params["kernel"]
    assert b.grads["backward_simple_rnn/bias"] is b.backward_layer.grads["bias"]
    new = [np.full(w.shape, i + 1.0) for i, w in enumerate(b.get_weights())]
    b.set_weights(new)
    assert np.all(b.forward_layer.params["recurrent_kernel"] == 2.0)
    assert np.all(b.backward_layer.params["bias"] == 6.0)
    for g in b.grads.values():
        g += 1.0
    b.zero_grads()
    assert all(not g.any() for g in (b.forward_layer.grads | b.backward_layer.grads).values())
    b.params["forward_simple_rnn/kernel"] = np.zeros((3, 2))      # assignment replaces inside
    assert not b.forward_layer.params["kernel"].any()
    with pytest.raises(KeyError, match="no params entry 'forward_simple_rnn/nope'"):
        b.params["forward_simple_rnn/nope"] = np.zeros(1)
    with pytest.raises(ValueError, match="expects 6 weight arrays"):
        b.set_weights(new[:3])


def test_training_updates_the_inner_arrays(float64):
    """One SGD step of a Sequential model moves the inner layers' own arrays by -lr·grad."""
    config.set_random_seed(3)
    model = Sequential([Bidirectional(LSTM(3, return_sequences=True), input_shape=(5, 2)),
                        Bidirectional(GRU(2), merge_mode="ave"), Dense(1)])
    model.compile(optimizer=SGD(0.1), loss="mse")
    r = np.random.default_rng(4)
    x, y = r.normal(size=(6, 5, 2)), r.normal(size=(6, 1))
    for layer in model.layers:
        layer.zero_grads()
    outs, backward = model._forward_batch([x], training=True)
    backward([2.0 * (outs[0] - y) / y.size])
    bi = model.layers[0]
    expected = {k: bi.params[k] - 0.1 * bi.grads[k] for k in bi.params}
    inner_before = bi.forward_layer.params["kernel"]
    model.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    assert bi.forward_layer.params["kernel"] is inner_before
    for k, v in expected.items():
        np.testing.assert_allclose(bi.params[k], v, rtol=1e-12, atol=1e-14)
    assert sum(1 for _ in model._param_items()) == 6 + 6 + 2


def test_weights_argument_and_custom_backward_layer():
    config.set_random_seed(1)
    ref = Bidirectional(GRU(2))
    ref.ensure_built((None, None, 3))
    b = Bidirectional(GRU(2), weights=ref.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_array_equal(b(x), ref(x))

    back = SimpleRNN(4, go_backwards=True, name="mine")
    c = Bidirectional(SimpleRNN(3), backward_layer=back)
    assert c.backward_layer is back and c(x).shape == (2, 7)
    d = Bidirectional.from_config(json.loads(json.dumps(c.get_config())))
    assert d.backward_layer.name == "mine" and d.backward_layer.units == 4


def test_config_round_trip_predicts_identically():
    config.set_random_seed(2)
    b = Bidirectional(LSTM(3, return_sequences=True, kernel_regularizer="l2", name="lstm"),
                      merge_mode="mul",
                      name="bi")
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    y = b(x)
    cfg = json.loads(json.dumps(b.get_config()))
    c = Bidirectional.from_config(cfg)
    assert c.name == "bi" and c.merge_mode == "mul" and c.forward_layer.name == "forward_lstm"
    c(x)
    c.set_weights(b.get_weights())
    np.testing.assert_array_equal(c(x), y)
    assert list(c.regularizers) == ["forward_lstm/kernel", "backward_lstm/kernel"]

    t = TimeDistributed(Dense(2, activation="relu"), name="td")
    yt = t(x)
    t2 = TimeDistributed.from_config(json.loads(json.dumps(t.get_config())))
    t2(x)
    t2.set_weights(t.get_weights())
    np.testing.assert_array_equal(t2(x), yt)


def test_bad_arguments_name_the_problem():
    with pytest.raises(TypeError, match="recurrent layer"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards=True"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match="same return_sequences"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))
    b = Bidirectional(LSTM(2), name="bd")
    with pytest.raises(ValueError, match="'bd'.*rank 3"):
        b(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="'bd'.*mask must have shape"):
        b.forward(np.zeros((2, 3, 1)), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"'bd'.*\(5 arrays\)"):
        b.forward([np.zeros((2, 3, 1)), np.zeros((2, 2))])
    td = TimeDistributed(Dense(2), name="tdd")
    with pytest.raises(ValueError, match="'tdd'.*rank >= 3"):
        td(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="wraps an rnnlab layer"):
        TimeDistributed("dense")


# --------------------------------------------------------------------------- TimeDistributed
def test_time_distributed_is_the_layer_at_every_step(float64):
    config.set_random_seed(5)
    dense = Dense(4, activation="tanh")
    td = TimeDistributed(dense)
    x = np.random.default_rng(6).normal(size=(3, 5, 2))
    y = td(x)
    assert y.shape == (3, 5, 4) and td.compute_output_shape((None, 5, 2)) == (None, 5, 4)
    for t in range(5):
        np.testing.assert_allclose(y[:, t], dense(x[:, t]), rtol=1e-13)
    assert list(td.params) == ["kernel", "bias"] and td.params["kernel"] is dense.params["kernel"]
    mask = _post_mask([5, 2, 0], 5)
    assert td.compute_mask(x, mask) is mask


def test_time_distributed_embedding_mask():
    """An inner layer that makes a mask: (N, T, L) ids -> mask any() over L, as tf.keras."""
    td = TimeDistributed(Embedding(10, 3, mask_zero=True))
    ids = np.array([[[1, 0], [0, 0], [4, 5]]])
    assert td(ids).shape == (1, 3, 2, 3)
    np.testing.assert_array_equal(td.compute_mask(ids, None), [[True, False, True]])


def test_in_sequential_with_the_inner_layers_input_shape():
    """Keras's ``Bidirectional(LSTM(3, input_shape=(10, 2)))`` as a first layer builds at once."""
    model = Sequential([Bidirectional(LSTM(3, input_shape=(10, 2)), name="bi"), Dense(1)])
    assert model.count_params() == 2 * 4 * 3 * (2 + 3 + 1) + (6 + 1)
    lines = []
    model.summary(print_fn=lines.append)
    assert "bi (Bidirectional)" in lines[0] and "(None, 6)" in lines[0]
    td = TimeDistributed(Dense(2), input_shape=(4, 3))
    assert td.batch_input_shape == (None, 4, 3)
