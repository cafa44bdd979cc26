"""Recurrent cells as a public API: the one-step forward/backward of every built-in cell against
finite differences, the generic step loop of RNN against each cell's fused kernels (reference and
compiled), StackedRNNCells against stacked layers, and a user's cell (examples/custom_cell.py)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab import Sequential, config, load_model
from rnnlab.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Cell,
    Dense,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
)
from rnnlab.layers.recurrent import run_steps
from rnnlab.optimizers import Adam
from rnnlab.testing import check_cell_over_time, check_gradients

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_cell.py"

CELLS = {
    "simple_rnn": lambda u, **kw: SimpleRNNCell(u, **kw),
    "simple_rnn_relu": lambda u, **kw: SimpleRNNCell(u, activation="relu", **kw),
    "lstm": lambda u, **kw: LSTMCell(u, **kw),
    "lstm_sigmoid": lambda u, **kw: LSTMCell(u, activation="sigmoid", **kw),
    "lstm_hard": lambda u, **kw: LSTMCell(u, recurrent_activation="hard_sigmoid", **kw),
    "gru": lambda u, **kw: GRUCell(u, **kw),
    "gru_before": lambda u, **kw: GRUCell(u, reset_after=False, **kw),
    "gru_elu": lambda u, **kw: GRUCell(u, activation="elu", **kw),
}


def _built(name, u, m, seed, **kw):
    cell = CELLS[name](u, **kw)
    cell.ensure_built((None, m))
    r = np.random.default_rng(seed)
    for k in cell.params:
        cell.params[k] = r.normal(scale=0.6, size=cell.params[k].shape)
        cell.grads[k] = np.zeros_like(cell.params[k])
    return cell


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("use_bias", [True, False])
def test_one_step_gradients(name, use_bias):
    r = np.random.default_rng(len(name))
    cell = _built(name, 4, 3, 7, use_bias=use_bias)
    x = r.normal(size=(5, 3))
    states = [r.normal(size=(5, 4)) for _ in cell.state_sizes]
    errors = check_gradients(cell, [x, *states])
    assert set(errors) >= {"input0", "input1", "kernel", "recurrent_kernel"}


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru", "gru_before"])
def test_one_step_gradients_with_recurrent_dropout(name):
    cell = _built(name, 3, 2, 3, recurrent_dropout=0.4)
    r = np.random.default_rng(0)
    states = [r.normal(size=(6, 3)) for _ in cell.state_sizes]
    check_gradients(cell, [r.normal(size=(6, 2)), *states], training=True, seed=5)


def _inputs(seed, n, t, m, cell, with_mask, with_rec, dtype=np.float64):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, t, m)).astype(dtype)
    states = [r.normal(size=(n, s)).astype(dtype) for s in cell.state_sizes]
    mask = (r.random((n, t)) < 0.7) if with_mask else None
    rec = ((r.random((n, cell.state_sizes[0])) < 0.6) / 0.6).astype(dtype) if with_rec else None
    d_out = r.normal(size=(n, t, cell.output_size)).astype(dtype)
    d_fin = [r.normal(size=(n, s)).astype(dtype) for s in cell.state_sizes]
    return x, states, mask, rec, d_out, d_fin


def _loop_vs_fused(cell, x, states, mask, rec, d_out, d_fin, tol):
    out_l, fin_l, back_l = run_steps(cell, x, states, rec, mask)
    out_f, fin_f, back_f = cell.sequence_forward(x, states, rec, mask)
    np.testing.assert_allclose(out_l, out_f, rtol=tol, atol=tol)
    for a, b in zip(fin_l, fin_f):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    dx_l, ds_l, g_l = back_l(d_out, d_fin)
    dx_f, ds_f, g_f = back_f(d_out, d_fin)
    np.testing.assert_allclose(dx_l, dx_f, rtol=tol, atol=tol)
    for a, b in zip(ds_l, ds_f):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert set(g_l) == set(g_f) == set(cell.params)
    for k in g_l:
        np.testing.assert_allclose(g_l[k], g_f[k], rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("kernels", ["reference", "fast"])
@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("with_rec", [False, True])
def test_step_loop_equals_fused_kernels(kernels, name, with_mask, with_rec):
    """The generic loop (any user's cell runs through it) gives the fused kernels' numbers."""
    config.set_kernels(kernels)
    cell = _built(name, 5, 3, 11)
    args = _inputs(len(name), 4, 6, 3, cell, with_mask, with_rec)
    _loop_vs_fused(cell, *args, tol=1e-9)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), t=st.integers(1, 7), m=st.integers(1, 4), u=st.integers(1, 5),
       name=st.sampled_from(sorted(CELLS)), with_mask=st.booleans(), with_rec=st.booleans(),
       kernels=st.sampled_from(["reference", "fast"]), seed=st.integers(0, 10**6))
def test_step_loop_equals_fused_kernels_any_shape(n, t, m, u, name, with_mask, with_rec, kernels,
                                                  seed):
    old = config.kernels()
    config.set_kernels(kernels)
    try:
        cell = _built(name, u, m, seed)
        _loop_vs_fused(cell, *_inputs(seed + 1, n, t, m, cell, with_mask, with_rec), tol=1e-9)
    finally:
        config.set_kernels(old)


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru", "gru_before"])
def test_cell_over_time_gradients_with_mask_and_dropout(name):
    cell = CELLS[name](3, dropout=0.3, recurrent_dropout=0.2)
    r = np.random.default_rng(2)
    mask = r.random((3, 5)) < 0.7
    check_cell_over_time(cell, r.normal(size=(3, 5, 2)), mask=mask, training=True, seed=4)
    check_cell_over_time(CELLS[name](3), r.normal(size=(3, 5, 2)), mask=mask, go_backwards=True)


def test_layers_are_rnn_over_their_cells():
    for layer, cell_type in ((SimpleRNN(3), SimpleRNNCell), (LSTM(3), LSTMCell), (GRU(3), GRUCell)):
        assert isinstance(layer, RNN) and type(layer.cell) is cell_type
        assert layer.units == 3 and layer.activation.name == "tanh"
    layer = LSTM(2, dropout=0.25, return_sequences=True, name="l")
    assert layer.cell.dropout == 0.25 and layer.return_sequences and layer.name == "l"
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    ref = RNN(LSTMCell(2), return_sequences=True)
    ref(x)
    layer(x)
    ref.set_weights(layer.get_weights())
    np.testing.assert_array_equal(ref(x), layer(x))


def test_stacked_cells_equal_stacked_layers(float64):
    r = np.random.default_rng(3)
    x = r.normal(size=(3, 5, 2))
    stacked = RNN([LSTMCell(4), GRUCell(3), SimpleRNNCell(2)], return_sequences=True)
    assert isinstance(stacked.cell, StackedRNNCells)
    stacked(x)
    layers = [LSTM(4, return_sequences=True), GRU(3, return_sequences=True),
              SimpleRNN(2, return_sequences=True)]
    y = x
    for layer in layers:
        y = layer(y)
    stacked.set_weights([w for layer in layers for w in layer.get_weights()])
    np.testing.assert_allclose(stacked(x), y, rtol=1e-12)
    assert stacked.cell.state_size == (4, 4, 3, 2)
    mask = r.random((3, 5)) < 0.7
    check_cell_over_time(StackedRNNCells([LSTMCell(3), GRUCell(2, dropout=0.3,
                                                              recurrent_dropout=0.2)]),
                         x, mask=mask, training=True, seed=1)


def test_a_cell_alone_applies_its_input_dropout():
    cell = _built("lstm", 3, 4, 1, dropout=0.5)
    r = np.random.default_rng(0)
    x, states = r.normal(size=(6, 4)), [r.normal(size=(6, 3)) for _ in range(2)]
    check_gradients(cell, [x, *states], training=True, seed=3)
    cell._reseed_for_check(3)
    in_mask, _ = cell.dropout_masks(6, 4, np.float64, True)
    cell._reseed_for_check(3)
    dropped = cell.forward([x, *states], training=True)[0]
    kept = cell.forward([x * in_mask[:, 0], *states])[0]
    for a, b in zip(dropped, kept):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_rnn_rejects_what_is_not_a_cell():
    with pytest.raises(TypeError, match="needs a recurrent cell"):
        RNN(Dense(3))
    with pytest.raises(TypeError, match="stateful must be True or False"):
        RNN(SimpleRNNCell(2), stateful="yes")
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LSTMCell(0)
    with pytest.raises(ValueError, match="dropout must be in"):
        GRUCell(2, dropout=1.5)
    with pytest.raises(ValueError, match="on the stacked cells themselves"):
        StackedRNNCells([GRUCell(2)], dropout=0.3)


class _Abstract(Cell):
    state_size = 2
    output_size = 2


def test_a_cell_without_step_says_what_to_write():
    layer = RNN(_Abstract())
    with pytest.raises(NotImplementedError, match="must implement step"):
        layer(np.ones((1, 2, 3)))


# ------------------------------------------------------------------------------ a user's cell
def _example():
    spec = importlib.util.spec_from_file_location("custom_cell_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_custom_cell_passes_the_public_gradient_check():
    ex = _example()
    r = np.random.default_rng(0)
    check_gradients(ex.PeepholeLSTMCell(4), [r.normal(size=(3, 5)), r.normal(size=(3, 4)),
                                             r.normal(size=(3, 4))])
    mask = r.random((3, 6)) < 0.7
    check_cell_over_time(ex.PeepholeLSTMCell(3, recurrent_dropout=0.3), r.normal(size=(3, 6, 2)),
                         mask=mask, training=True, seed=2)
    check_gradients(Bidirectional(RNN(ex.PeepholeLSTMCell(3), return_sequences=True)),
                    r.normal(size=(2, 4, 2)), mask=mask[:2, :4])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_custom_cell_trains_in_rnn_and_bidirectional_with_a_mask(tmp_path, bidirectional):
    ex = _example()
    config.set_random_seed(0)
    x, y = ex.toy_data(n=512)
    model = ex.build_model(bidirectional)
    model.compile(optimizer=Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[0]
    hist = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.3 * before
    assert hist.history["accuracy"][-1] > 0.9
    # masked steps change nothing: padding the sequences further gives the same predictions
    padded = np.concatenate([x, np.zeros((len(x), 3, 2))], axis=1)
    longer = ex.build_model(bidirectional, t=padded.shape[1])
    longer.set_weights(model.get_weights())
    np.testing.assert_allclose(longer.predict(padded, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    # a registered user's cell saves and loads like a built-in one
    model.save(tmp_path / "peephole.rnnlab")
    again = load_model(tmp_path / "peephole.rnnlab")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_sequential_of_cells_runs_through_the_loop_in_float32():
    model = Sequential([RNN(SimpleRNNCell(3), input_shape=(4, 2)), Dense(1)])
    out = model.predict(np.ones((2, 4, 2), np.float32), verbose=0)
    assert out.shape == (2, 1) and out.dtype == np.float32
