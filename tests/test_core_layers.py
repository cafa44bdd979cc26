import numpy as np
import pytest

from gradcheck import check_layer, numeric_grad, rel_error
from rnnlab import config
from rnnlab.kernels import activations as A
from rnnlab.layers import Activation, Dense, Dropout, Flatten


@pytest.mark.parametrize("act", [n for n in A.names() if n != "silu"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (1, 2, 2, 4)])
def test_dense_gradients_every_activation_any_rank(float64, act, shape):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)
    check_layer(Dense(3, activation=act), x)


def test_dense_without_bias(float64):
    layer = Dense(2, use_bias=False)
    check_layer(layer, np.random.default_rng(0).normal(size=(3, 5)))
    assert list(layer.params) == ["kernel"]


@pytest.mark.parametrize("act", A.ELEMENTWISE + ("softmax",))
def test_activation_layer_gradients(float64, act):
    x = np.random.default_rng(3).normal(size=(2, 3, 4)) * 2
    check_layer(Activation(act), x)


def test_activation_values():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 4.0])
    np.testing.assert_allclose(A.get("sigmoid")(z), 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(A.get("hard_sigmoid")(z), np.clip(z / 6 + 0.5, 0, 1))
    np.testing.assert_allclose(A.get("softplus")(z), np.log1p(np.exp(z)), rtol=1e-12)
    np.testing.assert_allclose(A.get("swish")(z), z / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(A.get("softmax")(z).sum(), 1.0)


def test_dropout_training_gradient_and_inference(float64):
    layer = Dropout(0.4, seed=3)
    x = np.random.default_rng(0).normal(size=(50, 20))
    y = layer(x)
    np.testing.assert_array_equal(y, x)  # inference: identity
    out, back = layer.forward(x, training=True)
    kept = out != 0
    assert 0.45 < kept.mean() < 0.75
    np.testing.assert_allclose(out[kept], x[kept] / 0.6)
    np.testing.assert_allclose(back(np.ones_like(x)), kept / 0.6)


def test_flatten_roundtrip(float64):
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    check_layer(Flatten(), x)
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)


def test_dense_bad_input():
    layer = Dense(2)
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match="last axis of size 3"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="rank"):
        layer(np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        layer(np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'"):
        Dense(2, activation="tanhh")
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        Dense(2, kernel_initializer="glorot")
    with pytest.raises(TypeError, match="unexpected keyword"):
        Dense(2, unitz=3)


def test_seed_reproduces_weights():
    config.set_random_seed(42)
    a = Dense(4)
    a(np.ones((1, 3)))
    config.set_random_seed(42)
    b = Dense(4)
    b(np.ones((1, 3)))
    np.testing.assert_array_equal(a.params["kernel"], b.params["kernel"])
    assert a.params["kernel"].dtype == np.float32


def test_numeric_grad_helper_is_right():
    # d/dv sum(v**3) = 3 v**2: the checker itself must be trustworthy
    v = np.array([0.5, -1.0, 2.0])
    g = numeric_grad(lambda: float(np.sum(v ** 3)), v)
    assert rel_error(g, 3 * v ** 2) < 1e-8
