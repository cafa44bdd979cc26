"""The lecture's Fortune 500 half with rnnlab: baselines, the neuron as a layer, Keras models."""
import numpy as np
import pytest

from rnnlab import Sequential, config, scratch
from rnnlab.datasets import fortune500
from rnnlab.layers import SimpleRNN
from rnnlab.optimizers import SGD, Adam


@pytest.fixture(scope="module")
def data():
    d = fortune500.load_data()
    return d.X, d.y


def test_baselines_are_the_lectures(data):
    X, y = data
    assert abs(np.mean((y - y.mean()) ** 2) - 0.3516210190443937) < 1e-9
    assert abs(np.mean((y - X[:, -1]) ** 2) - 0.033289150367058463) < 1e-9


def test_simple_rnn_layer_follows_the_from_scratch_neuron(data, float64):
    """'At a high level nothing changes': SimpleRNN(1) with kernel=w1, recurrent=w2, bias=w0,
    trained full-batch by SGD on MSE, walks the lecture's from-scratch trajectory."""
    X, y = data
    alpha, epochs = 0.01, 50
    _, w = scratch.single_rnn(X, y, epochs=epochs, alpha=alpha)
    model = Sequential([SimpleRNN(1, input_shape=(None, 1))])
    model.set_weights([np.array([[1.0]]), np.array([[1.0]]), np.array([1.0])])
    model.compile(optimizer=SGD(learning_rate=alpha), loss="mse")
    model.fit(X[:, :, None], y[:, None], epochs=epochs, batch_size=len(X), shuffle=False, verbose=0)
    kernel, recurrent, bias = model.get_weights()
    got = np.array([bias[0], kernel[0, 0], recurrent[0, 0]])
    np.testing.assert_allclose(got, w, rtol=0, atol=1e-8)
    assert abs(got - np.array([1.0, 1.0, 1.0])).max() > 0.05  # it really moved


def _train(seed, X, y, stack, epochs):
    config.set_random_seed(seed)
    if stack:
        model = Sequential([SimpleRNN(10, return_sequences=True, input_shape=[None, 1]),
                            SimpleRNN(5, return_sequences=True), SimpleRNN(1)])
    else:
        model = Sequential([SimpleRNN(1, input_shape=(None, 1))])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="mse")
    model.fit(X, y, epochs=epochs, verbose=0)
    return float(np.mean((y - model.predict(X, verbose=0)) ** 2)), model


def test_keras_simple_rnn_reaches_the_lectures_mse(data, capsys):
    X, y = data
    X, y = X[:, :, np.newaxis], y[:, np.newaxis]
    assert X.shape == (502, 100, 1) and y.shape == (502, 1)
    mse, model = _train(0, X, y, stack=False, epochs=50)
    assert mse < 0.05  # lecture: 0.0438
    model.summary()
    assert "Total params: 3" in capsys.readouterr().out  # the neuron's w0, w1, w2


# Real Keras 3.15.1 (PyTorch backend), the same models, data and training (Adam(0.01), MSE, batch
# 32, shuffled; keras.utils.set_random_seed(seed)), measured on the development machine on
# 2026-11-29, training MSE per seed 0-14:
#   stack 10->5->1, 30 epochs: 0.02548 0.03866 0.03054 0.02455 0.02569 0.02951 0.02597 0.03315
#                              0.02657 0.03448 0.02829 0.02547 0.03066 0.03134 0.02761
#     median 0.0283, quartiles 0.0258 / 0.0310; 13 of 15 seeds beat "tomorrow = today" (0.03329)
#   SimpleRNN(1), 50 epochs: median 0.0344 (4 of 15 seeds above the lecture's 0.0438)
# The lecture's 0.0262 and 0.0438 are single runs from these distributions.  Which seed lands
# where depends on floating-point rounding (the BLAS kernels of the CPU), for Keras as for rnnlab,
# so the check is on the distribution over 15 seeds: its median within Keras's interquartile
# range, and as large a share of seeds beating the naive forecast as Keras's (less one seed).
STACK_SEEDS = range(15)
KERAS_STACK_Q75 = 0.0310


def test_median_over_seeds_matches_keras_and_the_lecture(data):
    X, y = data
    X, y = X[:, :, None], y[:, None]
    single = [_train(s, X, y, stack=False, epochs=50)[0] for s in range(5)]
    stack = np.array([_train(s, X, y, stack=True, epochs=30)[0] for s in STACK_SEEDS])
    assert np.median(single) <= 0.0438, single
    assert np.median(stack) <= KERAS_STACK_Q75, stack
    assert np.median(stack) < np.median(single), (stack, single)  # stacking helps, as the lecture
    beats_naive = int((stack < 0.0332891504).sum())          # "tomorrow = today"
    assert beats_naive >= 12, stack                           # Keras: 13 of 15


def test_stack_summary_is_the_lectures(capsys):
    model = Sequential([SimpleRNN(10, return_sequences=True, input_shape=[None, 1]),
                        SimpleRNN(5, return_sequences=True), SimpleRNN(1)])
    model.summary()
    out = capsys.readouterr().out
    for shape, params in (("(None, None, 10)", "120"), ("(None, None, 5)", "80"),
                          ("(None, 1)", "7")):
        assert any(shape in line and line.rstrip().endswith(params) for line in out.splitlines())
    assert "Total params: 207" in out
