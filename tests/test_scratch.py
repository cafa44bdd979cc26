"""The lecture's single-neuron RNN against its published numbers, its own code, finite differences
and PyTorch autograd."""
import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gradcheck import rel_error
from rnnlab.scratch import (
    backward,
    backward_bptt,
    backward_t,
    forward,
    gradient_descent,
    optimize,
    single_rnn,
)


@pytest.fixture(scope="module")
def fortune():
    """X (502, 100), y (502,) read directly from the CSV (first column: ticker)."""
    path = Path(os.environ["RNNLAB_DATA_DIR"]) / "fortune500_100_days.csv"   # set in conftest
    if not path.is_file():
        pytest.fail(f"shared data not found at {path}")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    assert header[0] == "Fortune500" and len(header) == 102
    values = np.array([[float(v) for v in row[1:]] for row in rows])
    assert values.shape == (502, 101)
    return values[:, :100], values[:, 100]


@pytest.fixture(scope="module")
def trained(fortune):
    X, y = fortune
    return single_rnn(X, y, epochs=1000, alpha=0.01)


# --------------------------------------------------------------- the lecture's code, verbatim
# (Copied from the slides as the independent reference; only ``w`` is a parameter of single_rnn.)
def lec_single_rnn(X, y, epochs, alpha, w=np.array([1, 1, 1])):
    ls = np.zeros(epochs)
    for i in range(epochs):
        l, w = lec_optimize(X, y, alpha, w)
        ls[i] = l
    return ls, w


def lec_optimize(X, y, alpha, w):
    y_pred_arr, l = lec_forward(X, y, w)
    grad = lec_backward(X, y, y_pred_arr, w)
    w = lec_gradient_descent(alpha, w, grad)
    return l, w


def lec_gradient_descent(alpha, w, grad):
    return w - alpha * grad


def lec_forward(X, y, w):
    N, T = X.shape
    y_pred_arr = np.zeros((N, T + 1))
    y_pred = np.zeros(N)
    y_pred_arr[:, 0] = y_pred
    for t in range(T):
        y_pred = np.tanh(w[0] + X[:, t] * w[1] + y_pred * w[2])
        y_pred_arr[:, t + 1] = y_pred
    l = np.mean((y - y_pred)**2)
    return y_pred_arr, l


def lec_backward_t(X, y_pred_arr, w, grads, t, N):
    y_t = y_pred_arr[:, t]
    if t == 0:
        grads_w0 = np.ones((N, ))
        grads_w1 = X[:, t]
        grads_w2 = y_t
    else:
        dot_dyprev = w[2]
        dyprev_doprev = 1 - y_t ** 2
        grads_w0 = np.ones(N) + dot_dyprev * dyprev_doprev * grads[:, 0]
        grads_w1 = X[:, t] + dot_dyprev * dyprev_doprev * grads[:, 1]
        grads_w2 = y_t + dot_dyprev * dyprev_doprev * grads[:, 2]
    return np.stack([grads_w0, grads_w1, grads_w2], axis=1)


def lec_backward(X, y, y_pred_arr, w):
    N, T = X.shape
    y_pred = y_pred_arr[:, -1]
    dl_dypred = -2 * (y - y_pred) / N
    dypred_dot = 1 - y_pred ** 2
    grads = np.zeros((N, 3))
    for t in range(T):
        grads = lec_backward_t(X, y_pred_arr, w, grads, t, N)
    for j in range(3):
        grads[:, j] *= dl_dypred * dypred_dot
    final_grads = grads.sum(axis=0)
    return final_grads


WS = [np.array([1.0, 1.0, 1.0]), np.array([-0.07161043, 1.15476269, 0.25800392]),
      np.array([0.3, -0.8, 1.4]), np.array([-0.5, 0.2, -0.9])]


# --------------------------------------------------------------- the lecture's published numbers
def test_reproduces_lecture_weights_and_mse(fortune, trained):
    X, y = fortune
    losses, w = trained
    np.testing.assert_allclose(w, [-0.07161043, 1.15476269, 0.25800392], rtol=0, atol=1e-7)
    y_pred_arr, mse = forward(X, y, w)
    assert mse == pytest.approx(0.03900926352398098, abs=1e-7)
    assert y_pred_arr.shape == (502, 101)
    np.testing.assert_array_equal(y_pred_arr[:, 0], 0.0)
    assert np.mean((y - y_pred_arr[:, -1]) ** 2) == pytest.approx(mse, rel=1e-14)


def test_loss_curve(fortune, trained):
    X, y = fortune
    losses, w = trained
    assert losses.shape == (1000,)
    # losses[i] is the MSE before step i: the first one is the MSE at w = (1, 1, 1)
    assert losses[0] == pytest.approx(forward(X, y, [1, 1, 1])[1], rel=1e-14)
    assert losses[-1] > forward(X, y, w)[1]
    assert losses[-1] < 0.1 * losses[0]
    assert np.mean(np.diff(losses) <= 0) > 0.95
    # worse than the naive "tomorrow = today" baseline (the lecture's 0.0333), better than the mean
    assert np.mean((y - X[:, -1]) ** 2) < losses[-1] < np.mean((y - y.mean()) ** 2)


def test_bit_for_bit_with_lecture_code(fortune):
    X, y = fortune
    for w in WS:
        arr, l = forward(X, y, w)
        arr_ref, l_ref = lec_forward(X, y, w)
        np.testing.assert_array_equal(arr, arr_ref)
        assert l == l_ref
        np.testing.assert_array_equal(backward(X, y, arr, w), lec_backward(X, y, arr_ref, w))
    losses, w = single_rnn(X, y, epochs=20, alpha=0.01)
    losses_ref, w_ref = lec_single_rnn(X, y, epochs=20, alpha=0.01)
    np.testing.assert_array_equal(losses, losses_ref)
    np.testing.assert_array_equal(w, w_ref)
    l, w1 = optimize(X, y, 0.01, WS[2])
    l_ref, w1_ref = lec_optimize(X, y, 0.01, WS[2])
    assert l == l_ref
    np.testing.assert_array_equal(w1, w1_ref)


def test_backward_t_matches_lecture_step(fortune):
    X, y = fortune
    w = WS[2]
    arr, _ = forward(X, y, w)
    N = X.shape[0]
    g = np.zeros((N, 3))
    g_ref = np.zeros((N, 3))
    for t in range(X.shape[1]):
        g = backward_t(X, arr, w, g, t)
        g_ref = lec_backward_t(X, arr, w, g_ref, t, N)
        np.testing.assert_array_equal(g, g_ref)
    # t = 0 is ∂o_1/∂w = (1, x_1, ŷ_0 = 0)
    g0 = backward_t(X, arr, w, None, 0, N)   # the lecture's call passes N
    np.testing.assert_array_equal(g0, np.stack([np.ones(N), X[:, 0], np.zeros(N)], axis=1))
    with pytest.raises(ValueError, match="N=3 does not match"):
        backward_t(X, arr, w, g, 1, 3)


# --------------------------------------------------------------- gradients
def numeric_grad(X, y, w, eps=1e-6):
    g = np.zeros(3)
    for k in range(3):
        wp, wm = w.copy(), w.copy()
        wp[k] += eps
        wm[k] -= eps
        g[k] = (forward(X, y, wp)[1] - forward(X, y, wm)[1]) / (2 * eps)
    return g


def torch_grad(X, y, w):
    Xt, yt = torch.tensor(X), torch.tensor(y)
    wt = torch.tensor(w, requires_grad=True)
    h = torch.zeros(X.shape[0], dtype=torch.float64)
    for t in range(X.shape[1]):
        h = torch.tanh(wt[0] + wt[1] * Xt[:, t] + wt[2] * h)
    loss = torch.mean((yt - h) ** 2)
    loss.backward()
    return loss.item(), wt.grad.numpy()


@pytest.mark.parametrize("k", range(len(WS)))
def test_lecture_and_bptt_gradients_agree_and_are_exact(fortune, k):
    X, y = fortune
    w = WS[k]
    arr, loss = forward(X, y, w)
    g_lec = backward(X, y, arr, w)
    g_bptt = backward_bptt(X, y, arr, w)
    np.testing.assert_allclose(g_lec, g_bptt, rtol=0, atol=1e-10)
    g_num = numeric_grad(X, y, w)
    assert rel_error(g_lec, g_num) < 1e-6
    assert rel_error(g_bptt, g_num) < 1e-6
    loss_t, g_t = torch_grad(X, y, w)
    assert loss == pytest.approx(loss_t, rel=1e-12)
    assert rel_error(g_bptt, g_t) < 1e-12


def test_gradients_on_small_random_problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(9, 13))
    y = rng.uniform(-1, 1, size=9)
    w = np.array([0.2, -0.6, 0.9])
    arr, _ = forward(X, y, w)
    g_lec, g_bptt = backward(X, y, arr, w), backward_bptt(X, y, arr, w)
    np.testing.assert_allclose(g_lec, g_bptt, rtol=0, atol=1e-12)
    assert rel_error(g_lec, numeric_grad(X, y, w)) < 1e-6
    np.testing.assert_allclose(g_bptt, torch_grad(X, y, w)[1], rtol=1e-12, atol=1e-15)
    # a single time step: ∂L/∂w = mean(-2 (y - ŷ)(1 - ŷ²) · (1, x_1, 0))
    X1 = X[:, :1]
    arr1, _ = forward(X1, y, w)
    yh = arr1[:, 1]
    d = -2 * (y - yh) * (1 - yh ** 2) / len(y)
    expected = np.array([d.sum(), (d * X1[:, 0]).sum(), 0.0])
    np.testing.assert_allclose(backward(X1, y, arr1, w), expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(backward_bptt(X1, y, arr1, w), expected, rtol=1e-13, atol=1e-16)


def test_bptt_training_follows_the_same_path(fortune):
    X, y = fortune
    l_lec, w_lec = single_rnn(X, y, epochs=100, alpha=0.01)
    l_bptt, w_bptt = single_rnn(X, y, epochs=100, alpha=0.01, gradient="bptt")
    np.testing.assert_allclose(w_bptt, w_lec, rtol=0, atol=1e-12)
    np.testing.assert_allclose(l_bptt, l_lec, rtol=1e-12)


def test_custom_start_and_keras_shaped_targets(fortune):
    X, y = fortune
    X, y = X[:50], y[:50]
    l1, w1 = single_rnn(X, y, epochs=5, alpha=0.05, w0=[0.1, 0.5, -0.2])
    l2, w2 = lec_single_rnn(X, y, epochs=5, alpha=0.05, w=np.array([0.1, 0.5, -0.2]))
    np.testing.assert_array_equal(w1, w2)
    l3, w3 = single_rnn(X, y[:, None], epochs=5, alpha=0.05, w0=[0.1, 0.5, -0.2])
    np.testing.assert_array_equal(w3, w1)
    np.testing.assert_array_equal(gradient_descent(0.5, [1.0, 2.0, 3.0], [2.0, 2.0, -2.0]),
                                  [0.0, 1.0, 4.0])


# --------------------------------------------------------------- bad input
def test_bad_inputs():
    X = np.zeros((4, 5))
    y = np.zeros(4)
    with pytest.raises(ValueError, match="2-D"):
        forward(np.zeros(5), y, [1, 1, 1])
    with pytest.raises(ValueError, match="2-D"):
        single_rnn(np.zeros((4, 5, 1)), y, 1, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        forward(np.zeros((4, 0)), y, [1, 1, 1])
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        single_rnn(bad, y, 1, 0.1)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        forward(bad, y, [1, 1, 1])
    with pytest.raises(TypeError, match="X must be a numeric"):
        forward([["a", "b"]], [1.0], [1, 1, 1])
    with pytest.raises(ValueError, match="length 4"):
        single_rnn(X, np.zeros(3), 1, 0.1)
    with pytest.raises(ValueError, match="length 4"):
        forward(X, np.zeros((4, 2)), [1, 1, 1])
    with pytest.raises(ValueError, match="y contains NaN"):
        single_rnn(X, np.array([0, np.nan, 0, 0]), 1, 0.1)
    for epochs in (0, -3, 1.5, True, "10"):
        with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
            single_rnn(X, y, epochs, 0.1)
    for alpha in (0, -0.1, np.nan, "0.1"):
        with pytest.raises(ValueError, match="alpha"):
            single_rnn(X, y, 1, alpha)
    with pytest.raises(ValueError, match="gradient must be one of"):
        single_rnn(X, y, 1, 0.1, gradient="adam")
    with pytest.raises(ValueError, match="w must be 3 numbers"):
        single_rnn(X, y, 1, 0.1, w0=[1, 1])
    with pytest.raises(ValueError, match="w must be finite"):
        forward(X, y, [1, np.nan, 1])
    with pytest.raises(ValueError, match=r"y_pred_arr must have shape \(N, T\+1\)"):
        backward(X, y, np.zeros((4, 5)), [1, 1, 1])
    with pytest.raises(ValueError, match=r"y_pred_arr must have shape"):
        backward_bptt(X, y, np.zeros((3, 6)), [1, 1, 1])


def test_divergence_is_reported():
    # from w = 0 the first step is -α·(-2·1000, ...) which overflows to infinity
    X = np.full((3, 4), 1000.0)
    y = np.ones(3)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(FloatingPointError, match="diverged at epoch 0"):
            single_rnn(X, y, 5, 1e307, w0=(0, 0, 0))


def test_scratch_stands_alone():
    """The from-scratch code imports nothing from rnnlab outside rnnlab.scratch (no layers,
    models or kernels) and no matplotlib: only NumPy and the standard library."""
    import ast

    import rnnlab.scratch

    for path in Path(rnnlab.scratch.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in ("numpy", "numbers", "__future__") or \
                    name.startswith("rnnlab.scratch"), f"{path.name} imports {name}"
