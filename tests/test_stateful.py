"""Stateful recurrent layers (issue 17, item 1): Keras 3's ``stateful=True``.

Checked against real Keras 3 (torch backend) with identical weights, against the same model
trained by hand with the states carried between batches (rnnlab's own non-stateful layers fed
``initial_state=``, and an independent PyTorch LSTM), and for the fixed batch size, resets,
saving and the rule that a rejected call changes nothing."""
import keras
import numpy as np
import pytest
import torch

import rnnlab.layers as L
from rnnlab import Input, Model, Sequential, config, initializers
from rnnlab.callbacks import Callback
from rnnlab.models import load_model
from rnnlab.optimizers import SGD

RNNS = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}


def _constant(kind):
    return dict(kernel_initializer=kind.Constant(0.01), recurrent_initializer=kind.Constant(0.02),
                bias_initializer=kind.Constant(0.03))


# ============================================================================ Keras's own cases
#: keras/src/layers/rnn/*_test.py ``test_statefulness``: the second call's output.
KERAS_NUMBERS = {
    "SimpleRNN": [[0.40559256] * 4, [0.7361247] * 4],
    "LSTM": [[0.3124785] * 4, [0.6863672] * 4],
    "GRU": [[0.29542392] * 4, [0.5885018] * 4],
}


@pytest.mark.parametrize("name", sorted(RNNS))
def test_keras_statefulness_cases(name):
    seq = np.arange(24).reshape((2, 3, 4)).astype("float32")
    ours = RNNS[name](4, stateful=True, **_constant(initializers))
    theirs = getattr(keras.layers, name)(4, stateful=True, **_constant(keras.initializers))
    for _ in range(2):               # two successive calls, then the same after a reset
        ours(seq)
        theirs(seq)
        a, b = ours(seq), keras.ops.convert_to_numpy(theirs(seq))
        np.testing.assert_allclose(a, b, atol=1e-6)
        np.testing.assert_allclose(a, KERAS_NUMBERS[name], atol=1e-5)
        ours.reset_states()
        theirs.reset_state()
    assert all(not s.any() for s in ours.states)


def test_keras_bidirectional_statefulness_case():
    seq = np.arange(24).reshape((2, 4, 3)).astype("float32")
    ours = L.Bidirectional(L.LSTM(2, stateful=True, **_constant(initializers)))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(2, stateful=True,
                                                          **_constant(keras.initializers)))
    for _ in range(2):
        ours(seq)
        theirs(seq)
        a, b = ours(seq), keras.ops.convert_to_numpy(theirs(seq))
        np.testing.assert_allclose(a, b, atol=1e-6)
        np.testing.assert_allclose(a, [[0.26234663, 0.26234663, 0.16959146, 0.16959146],
                                       [0.6137073, 0.6137073, 0.5381646, 0.5381646]], atol=1e-5)
        ours.reset_state()
        theirs.reset_state()


def _random_weights(layer, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.4, size=w.shape).astype("float32") for w in layer.get_weights()]


@pytest.mark.parametrize("name", sorted(RNNS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_stateful_calls_equal_keras_with_masks_and_go_backwards(name, go_backwards, masked):
    """Three calls with random weights (and a mask with steps dropped at both ends) carry the
    same states as Keras 3 does; the outputs after each call agree to 1e-6."""
    rng = np.random.default_rng(1)
    kw = dict(stateful=True, return_sequences=True, go_backwards=go_backwards)
    ours = RNNS[name](3, **kw)
    theirs = getattr(keras.layers, name)(3, **kw)
    xs = [rng.normal(size=(2, 5, 4)).astype("float32") for _ in range(3)]
    ours(xs[0])
    theirs(xs[0])
    weights = _random_weights(ours, 2)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ours.reset_states()
    theirs.reset_state()
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], dtype=bool) if masked else None
    for x in xs:
        a = ours(x, mask=mask)
        b = theirs(x, mask=None if mask is None else torch.tensor(mask))
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), atol=1e-6)
    for s, t in zip(ours.states, theirs.states):
        np.testing.assert_allclose(s, keras.ops.convert_to_numpy(t), atol=1e-6)


@pytest.mark.parametrize("name", sorted(RNNS))
def test_stateful_bidirectional_equals_keras(name):
    rng = np.random.default_rng(3)
    ours = L.Bidirectional(RNNS[name](3, stateful=True, return_sequences=True))
    theirs = keras.layers.Bidirectional(getattr(keras.layers, name)(3, stateful=True,
                                                                    return_sequences=True))
    xs = [rng.normal(size=(2, 4, 3)).astype("float32") for _ in range(3)]
    ours(xs[0])
    theirs(xs[0])
    weights = _random_weights(ours, 4)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ours.reset_states()
    theirs.reset_state()
    for x in xs:
        np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x)), atol=1e-6)
    for s, t in zip(ours.states, theirs.states):
        np.testing.assert_allclose(s, keras.ops.convert_to_numpy(t), atol=1e-6)


# ============================================================================ training
B, T, M, U = 4, 5, 3, 6


def _stream(n_batches=4, seed=0):
    """Contiguous batches: sample i of batch k+1 continues sample i of batch k."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_batches * B, T, M)).astype("float32")
    y = rng.normal(size=(n_batches * B, 1)).astype("float32")
    return x, y


class _WeightsPerBatch(Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.model.get_weights())


def _stateful_model(name, seed=0):
    config.set_random_seed(seed)
    model = Sequential([Input((T, M), batch_size=B), RNNS[name](U, stateful=True), L.Dense(1)])
    model.compile(SGD(0.1), "mse")
    return model


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_fit_equals_training_by_hand_with_states_carried(name):
    """fit(shuffle=False) on a stateful model, weight for weight after every batch, equals a
    non-stateful copy trained batch by batch with ``initial_state=`` the previous batch's final
    states (computed with the weights of that batch, before its update): the carried state is a
    constant input, backpropagation stops at the batch boundary."""
    x, y = _stream()
    model = _stateful_model(name)
    start = model.get_weights()
    seen = _WeightsPerBatch()
    model.fit(x, y, epochs=2, shuffle=False, verbose=0, callbacks=[seen])

    n_states = 2 if name == "LSTM" else 1
    inp = Input((T, M), batch_size=B)
    s_in = [Input((U,), batch_size=B) for _ in range(n_states)]
    rnn = RNNS[name](U, return_state=True)
    out, *finals = rnn(inp, initial_state=s_in)
    dense = L.Dense(1)
    train = Model([inp] + s_in, dense(out))
    carry = Model([inp] + s_in, finals)
    train.set_weights(start)
    train.compile(SGD(0.1), "mse")
    states = [np.zeros((B, U), "float32") for _ in range(n_states)]
    k = 0
    for _ in range(2):
        for b in range(len(x) // B):
            xb, yb = x[b * B:(b + 1) * B], y[b * B:(b + 1) * B]
            new = carry.predict([xb] + states, verbose=0)
            train.train_on_batch([xb] + states, yb)
            states = new if isinstance(new, list) else [new]
            for a, w in zip(seen.seen[k], train.get_weights()):
                np.testing.assert_allclose(a, w, atol=1e-6)
            k += 1
    assert k == len(seen.seen) == 8
    for s, h in zip(model.layers[0].states, states):
        np.testing.assert_allclose(s, h, atol=1e-6)


def test_fit_equals_pytorch_with_detached_states():
    """The same run, independently: a PyTorch LSTM (Keras's gate order i, f, g, o), SGD on the
    mean squared error, the state carried between batches with ``detach()``."""
    x, y = _stream(seed=5)
    model = _stateful_model("LSTM", seed=5)
    kernel, rec, bias, dk, db = [w.astype("float64") for w in model.get_weights()]
    seen = _WeightsPerBatch()
    model.fit(x, y, epochs=2, shuffle=False, verbose=0, callbacks=[seen])

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(M, U, batch_first=True, dtype=torch.float64)
    dense = torch.nn.Linear(U, 1, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(kernel.T))
        lstm.weight_hh_l0.copy_(torch.tensor(rec.T))
        lstm.bias_ih_l0.copy_(torch.tensor(bias))
        lstm.bias_hh_l0.zero_()
        dense.weight.copy_(torch.tensor(dk.T))
        dense.bias.copy_(torch.tensor(db))
    lstm.bias_hh_l0.requires_grad_(False)
    params = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, dense.weight, dense.bias]
    opt = torch.optim.SGD(params, lr=0.1)
    h = c = torch.zeros(1, B, U, dtype=torch.float64)
    k = 0
    for _ in range(2):
        for b in range(len(x) // B):
            xb = torch.tensor(x[b * B:(b + 1) * B], dtype=torch.float64)
            yb = torch.tensor(y[b * B:(b + 1) * B], dtype=torch.float64)
            out, (h, c) = lstm(xb, (h.detach(), c.detach()))
            loss = ((dense(out[:, -1]) - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            got = seen.seen[k]
            np.testing.assert_allclose(got[0], lstm.weight_ih_l0.detach().numpy().T, atol=1e-5)
            np.testing.assert_allclose(got[1], lstm.weight_hh_l0.detach().numpy().T, atol=1e-5)
            np.testing.assert_allclose(got[2], lstm.bias_ih_l0.detach().numpy(), atol=1e-5)
            np.testing.assert_allclose(got[3], dense.weight.detach().numpy().T, atol=1e-5)
            k += 1
    states = model.layers[0].states
    np.testing.assert_allclose(states[0], h[0].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(states[1], c[0].detach().numpy(), atol=1e-5)


def test_predict_carries_states_from_batch_to_batch_and_call_to_call():
    x, _ = _stream(n_batches=3)
    model = _stateful_model("GRU")
    whole = model.predict(x, verbose=0)
    model.reset_states()
    parts = [model.predict(x[b * B:(b + 1) * B], verbose=0) for b in range(3)]
    np.testing.assert_allclose(whole, np.concatenate(parts), atol=1e-6)
    model.reset_states()
    calls = [model(x[b * B:(b + 1) * B]) for b in range(3)]
    np.testing.assert_allclose(whole, np.concatenate(calls), atol=1e-6)
    # the same numbers as one long sequence per stream (the batches are its pieces)
    long = np.concatenate([x[b * B:(b + 1) * B] for b in range(3)], axis=1)
    ref = L.GRU(U, return_sequences=True)
    ref.build((None, 3 * T, M))
    ref.set_weights(model.layers[0].get_weights())
    h = ref(long)
    dense_w, dense_b = model.layers[1].get_weights()
    for b in range(3):
        np.testing.assert_allclose(parts[b], h[:, (b + 1) * T - 1] @ dense_w + dense_b,
                                   atol=1e-5)


def test_reset_states_really_resets():
    x, y = _stream()
    model = _stateful_model("LSTM")
    fresh = model.predict(x[:B], verbose=0)
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert all(np.abs(s).sum() > 0 for s in model.layers[0].states)
    after_fit = model.predict(x[:B], verbose=0)
    model.reset_states()
    assert all(not s.any() for s in model.layers[0].states)
    np.testing.assert_allclose(model.predict(x[:B], verbose=0),
                               model.layers[1](_plain(model, x[:B])), atol=1e-6)
    assert not np.allclose(after_fit, model.predict(x[:B], verbose=0))
    assert fresh.shape == after_fit.shape


def _plain(model, xb):
    """The same layer without state: the output from zero states."""
    rnn = model.layers[0]
    ref = type(rnn)(U)
    ref.build((None, T, M))
    ref.set_weights(rnn.get_weights())
    return ref(xb)


def test_reset_states_to_given_values_and_bad_ones_change_nothing():
    rng = np.random.default_rng(7)
    layer = L.LSTM(3, stateful=True)
    x = rng.normal(size=(2, 4, 5)).astype("float32")
    layer(x)
    h0, c0 = rng.normal(size=(2, 2, 3)).astype("float32")
    layer.reset_states([h0, c0])
    got = layer(x)
    ref = L.LSTM(3)
    ref.build((None, 4, 5))
    ref.set_weights(layer.get_weights())
    np.testing.assert_allclose(got, ref(x, initial_state=[h0, c0]), atol=1e-6)
    before = [s.copy() for s in layer.states]
    with pytest.raises(ValueError, match=r"state c0 has shape \(2, 3\)"):
        layer.reset_states([h0, np.zeros((3, 3))])
    with pytest.raises(ValueError, match="takes 2 array"):
        layer.reset_states([h0])
    with pytest.raises(ValueError, match="non-finite"):
        layer.reset_states([h0, np.full((2, 3), np.nan)])
    assert all(np.array_equal(a, b) for a, b in zip(before, layer.states))
    with pytest.raises(AttributeError, match="not stateful"):
        L.LSTM(3).reset_states([h0, c0])
    with pytest.raises(AttributeError, match="not stateful"):
        L.Bidirectional(L.LSTM(3)).reset_states()


def test_model_reset_states_reaches_nested_layers():
    inner = Sequential([Input((T, M), batch_size=B), L.GRU(U, stateful=True,
                                                           return_sequences=True)])
    inp = Input((T, M), batch_size=B)
    z = L.Bidirectional(L.LSTM(2, stateful=True))(inner(inp))
    model = Model(inp, z)
    model(np.ones((B, T, M), "float32"))
    arrays = model._state_arrays()
    assert len(arrays) == 1 + 4 and all(np.abs(a).sum() > 0 for a in arrays)
    model.reset_states()
    assert all(not a.any() for a in arrays)


def test_fit_does_not_reset_between_batches_and_the_probe_leaves_states_alone():
    """Keras 3 resets nothing by itself: a second fit starts from the states the first left;
    fit's check of the data on one sample before training does not touch them."""
    x, y = _stream()
    a, b = _stateful_model("GRU"), _stateful_model("GRU")
    a.fit(x, y, epochs=2, shuffle=False, verbose=0, batch_size=B)
    b.fit(x, y, epochs=1, shuffle=False, verbose=0)
    b.fit(x, y, epochs=1, shuffle=False, verbose=0)
    for u, v in zip(a.get_weights() + a._state_arrays(), b.get_weights() + b._state_arrays()):
        np.testing.assert_allclose(u, v, atol=1e-6)


# ============================================================================ errors
def test_a_stateful_layer_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match=r"stateful.*fixed batch size.*batch_size=B"):
        Sequential([Input((T, M)), L.LSTM(U, stateful=True)])
    with pytest.raises(ValueError, match="fixed batch size"):
        Sequential([L.LSTM(U, stateful=True, input_shape=(T, M))])
    model = Sequential([L.SimpleRNN(U, stateful=True), L.Dense(1)])   # built by fit: no batch
    model.compile("sgd", "mse")
    x, y = _stream()
    with pytest.raises(ValueError, match="fixed batch size"):
        model.fit(x, y, verbose=0)
    for given in (Sequential([L.LSTM(U, stateful=True, batch_input_shape=(B, T, M))]),
                  Sequential([Input(batch_shape=(B, T, M)), L.LSTM(U, stateful=True)])):
        assert given.layers[0].states[0].shape == (B, U)


def test_input_batch_size_is_checked():
    assert Input((T, M), batch_size=3).shape == (3, T, M)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Input((T, M), batch_size=0)
    with pytest.raises(ValueError, match="not both"):
        Input((T, M), batch_shape=(2, T, M))
    with pytest.raises(ValueError, match=r"batch size \(batch_shape\[0\]\)"):
        Input(batch_shape=(-1, T, M))


def test_a_batch_of_another_size_is_refused_and_changes_nothing():
    x, y = _stream()
    model = _stateful_model("LSTM")
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    weights, states = model.get_weights(), [s.copy() for s in model._state_arrays()]
    with pytest.raises(ValueError, match="batch_size=2 must be 4"):
        model.fit(x, y, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match="the last batch would hold 2"):
        model.predict(x[:6], verbose=0)
    with pytest.raises(ValueError, match="the last batch would hold 3"):
        model.evaluate(x[:7], y[:7], verbose=0)
    with pytest.raises(ValueError, match="the validation data has 6 samples"):
        model.fit(x, y, validation_data=(x[:6], y[:6]), shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="built for batches of 4"):
        model.train_on_batch(x[:3], y[:3])
    with pytest.raises(ValueError, match="built for batches of 4; got a batch of 2"):
        model(x[:2])
    layer = L.GRU(2, stateful=True)
    layer(x[:B])
    with pytest.raises(ValueError, match="built for batches of 4; got a batch of 3"):
        layer(x[:3])
    for a, b in zip(model.get_weights() + model._state_arrays(), weights + states):
        np.testing.assert_array_equal(a, b)
    assert model.predict(x[:8], steps=1, verbose=0).shape == (4, 1)   # one full batch is fine


def test_a_rejected_call_leaves_the_states_as_they_were():
    """A failure after some batches ran (a callback, a layer refusing a late batch) puts the
    carried states back, with the weights (fit) or alone (predict, evaluate)."""
    x, y = _stream()
    model = _stateful_model("LSTM")
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    states, weights = [s.copy() for s in model._state_arrays()], model.get_weights()

    class Boom(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, y, epochs=1, shuffle=False, verbose=0, callbacks=[Boom()])
    for a, b in zip(model._state_arrays() + model.get_weights(), states + weights):
        np.testing.assert_array_equal(a, b)

    def refuse_late(z):
        if z.max() > 50:
            raise ValueError("late batch refused")
        return z

    config.set_random_seed(0)
    inp = Input((T, M), batch_size=B)
    rnn = L.LSTM(U, stateful=True)
    guarded = Model(inp, L.Lambda(refuse_late)(rnn(L.Lambda(refuse_late)(inp))))
    guarded.compile("sgd", "mse")
    guarded.predict(x[:B], verbose=0)
    before = [s.copy() for s in rnn.states]
    bad = x.copy()
    bad[-1] = 100.0           # the second batch's rows: the first Lambda fails after batch 1 ran
    with pytest.raises(ValueError, match="late batch refused"):
        guarded.predict(bad, verbose=0)
    with pytest.raises(ValueError, match="late batch refused"):
        guarded.evaluate(bad, np.zeros((len(x), U)), verbose=0)
    for a, b in zip(rnn.states, before):
        np.testing.assert_array_equal(a, b)


# ============================================================================ saving
def test_save_and_load_keep_statefulness_and_optionally_the_states(tmp_path):
    x, y = _stream()
    inp = Input((T, M), batch_size=B)
    z = L.Bidirectional(L.GRU(3, stateful=True, return_sequences=True))(inp)
    model = Model(inp, L.Dense(1)(L.SimpleRNN(2, stateful=True)(z)))
    model.compile(SGD(0.05), "mse")
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "plain.model")
    model.save(tmp_path / "states.model", include_states=True)
    plain, kept = load_model(tmp_path / "plain.model"), load_model(tmp_path / "states.model")
    for loaded in (plain, kept):
        rnns = loaded._stateful_rnns()
        assert len(rnns) == 3 and all(r.get_config()["stateful"] is True for r in rnns)
        assert loaded.layers[1].stateful and loaded.inputs[0].shape == (B, T, M)
    assert all(not s.any() for s in plain._state_arrays())
    for a, b in zip(kept._state_arrays(), model._state_arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(kept.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    with pytest.raises(ValueError, match="no stateful layer"):
        Sequential([Input((T, M)), L.Dense(1)]).save(tmp_path / "x.model", include_states=True)
    assert not (tmp_path / "x.model").exists()
