"""LayerNormalization and BatchNormalization: outputs and gradients against PyTorch (nn.LayerNorm,
nn.BatchNorm1d) with identical weights, the moving statistics against Keras 3 (PyTorch keeps the
unbiased variance and the other momentum convention), finite differences, training vs inference,
masks, fit's rollback, saving."""
import keras
import numpy as np
import pytest
import torch

import rnnlab
from rnnlab import config
from rnnlab.callbacks import Callback
from rnnlab.layers import LSTM, BatchNormalization, Dense, Embedding, LayerNormalization
from rnnlab.testing import check_gradients, rel_error

TOL = 1e-9                       # float64 against PyTorch


def _torch_grads(module, x, dy, transpose=False):
    """PyTorch's output and gradients (input, weight, bias) for upstream dy."""
    xt = torch.tensor(x, requires_grad=True)
    inp = xt.transpose(1, 2) if transpose else xt
    out = module(inp)
    if transpose:
        out = out.transpose(1, 2)
    out.backward(torch.tensor(dy))
    return (out.detach().numpy(), xt.grad.numpy(), module.weight.grad.numpy(),
            module.bias.grad.numpy())


# ------------------------------------------------------------------------------ LayerNormalization
@pytest.mark.parametrize("shape,axis", [((5, 7), -1), ((4, 6, 3), -1), ((4, 6, 3), [1, 2]),
                                        ((3, 2, 4, 5), [-2, -1])])
def test_layer_normalization_equals_torch(float64, shape, axis):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape) * 3 + 1
    layer = LayerNormalization(axis=axis)
    layer.ensure_built((None,) + shape[1:])
    norm_shape = layer.params["gamma"].shape
    gamma, beta = rng.normal(size=norm_shape), rng.normal(size=norm_shape)
    layer.set_weights([gamma, beta])
    ref = torch.nn.LayerNorm(norm_shape, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(gamma))
        ref.bias.copy_(torch.tensor(beta))
    dy = rng.normal(size=shape)
    y, backward = layer.forward(x)
    dx = backward(dy)
    ty, tdx, tdg, tdb = _torch_grads(ref, x, dy)
    for a, b in ((y, ty), (dx, tdx), (layer.grads["gamma"], tdg), (layer.grads["beta"], tdb)):
        assert rel_error(a, b) < TOL


@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"center": False}, {"scale": False},
                                    {"axis": 1, "epsilon": 0.1}])
def test_layer_normalization_finite_differences(kwargs):
    x = np.random.default_rng(1).normal(size=(3, 4, 5))
    errors = check_gradients(LayerNormalization(**kwargs), x)
    assert set(errors) >= {"input0"}


def test_layer_normalization_float32_equals_keras():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    ours, ref = LayerNormalization(), keras.layers.LayerNormalization()
    ours.ensure_built((None, 6, 3))
    ref.build((None, 6, 3))
    w = [rng.normal(size=3).astype("float32") for _ in range(2)]
    ours.set_weights(w)
    ref.set_weights(w)
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(ref(x)), rtol=1e-5, atol=1e-5)


def test_layer_normalization_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rms_scaling"):
        LayerNormalization(rms_scaling=True)
    with pytest.raises(ValueError, match="epsilon"):
        LayerNormalization(epsilon=0)
    with pytest.raises(ValueError, match="batch axis"):
        LayerNormalization(axis=0).ensure_built((None, 3))
    with pytest.raises(ValueError, match="out of bounds"):
        LayerNormalization(axis=3).ensure_built((None, 4, 3))


# ------------------------------------------------------------------------------ BatchNormalization
def _bn_pair(rng, c, momentum=0.99):
    ours = BatchNormalization(momentum=momentum)
    ref = torch.nn.BatchNorm1d(c, eps=1e-3, momentum=1 - momentum, dtype=torch.float64)
    return ours, ref


@pytest.mark.parametrize("shape", [(8, 3), (5, 6, 4)])
def test_batch_normalization_training_equals_torch(float64, shape):
    rng = np.random.default_rng(shape[-1])
    c = shape[-1]
    ours, ref = _bn_pair(rng, c)
    ours.ensure_built((None,) + shape[1:])
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    ours.set_weights([gamma, beta, np.zeros(c), np.ones(c)])
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(gamma))
        ref.bias.copy_(torch.tensor(beta))
    ref.train()
    x = rng.normal(size=shape) * 2 + 0.5
    dy = rng.normal(size=shape)
    y, backward = ours.forward(x, training=True)
    dx = backward(dy)
    ty, tdx, tdg, tdb = _torch_grads(ref, x, dy, transpose=len(shape) == 3)
    for a, b in ((y, ty), (dx, tdx), (ours.grads["gamma"], tdg), (ours.grads["beta"], tdb)):
        assert rel_error(a, b) < TOL
    # the moving mean follows the same average (PyTorch's momentum is 1 - Keras's)
    assert rel_error(ours.params["moving_mean"], ref.running_mean.numpy()) < TOL


@pytest.mark.parametrize("shape", [(8, 3), (5, 6, 4)])
def test_batch_normalization_inference_equals_torch(float64, shape):
    rng = np.random.default_rng(10 + shape[-1])
    c = shape[-1]
    ours, ref = _bn_pair(rng, c)
    ours.ensure_built((None,) + shape[1:])
    gamma, beta, mean, var = (rng.normal(size=c), rng.normal(size=c), rng.normal(size=c),
                              rng.uniform(0.5, 2.0, size=c))
    ours.set_weights([gamma, beta, mean, var])
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(gamma))
        ref.bias.copy_(torch.tensor(beta))
        ref.running_mean.copy_(torch.tensor(mean))
        ref.running_var.copy_(torch.tensor(var))
    ref.eval()
    x = rng.normal(size=shape)
    dy = rng.normal(size=shape)
    y, backward = ours.forward(x, training=False)
    dx = backward(dy)
    ty, tdx, tdg, tdb = _torch_grads(ref, x, dy, transpose=len(shape) == 3)
    for a, b in ((y, ty), (dx, tdx), (ours.grads["gamma"], tdg), (ours.grads["beta"], tdb)):
        assert rel_error(a, b) < TOL
    np.testing.assert_array_equal(ours.params["moving_mean"], mean)   # inference: no update


def test_moving_statistics_equal_keras_over_several_batches():
    """Keras 3 keeps the biased batch variance in moving_variance (PyTorch the unbiased one)."""
    rng = np.random.default_rng(3)
    ours = BatchNormalization(momentum=0.9)
    ref = keras.layers.BatchNormalization(momentum=0.9)
    ours.ensure_built((None, 5, 4))
    ref.build((None, 5, 4))
    for _ in range(4):
        x = (rng.normal(size=(6, 5, 4)) * 3 + 1).astype("float32")
        y = ours(x, training=True)
        ky = keras.ops.convert_to_numpy(ref(x, training=True))
        np.testing.assert_allclose(y, ky, rtol=1e-4, atol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):     # gamma, beta, mean, variance
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(ref(x, training=False)),
                               rtol=1e-5, atol=1e-5)


def test_masked_batch_statistics_equal_keras():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    mask = rng.random((4, 6)) > 0.4
    ours, ref = BatchNormalization(momentum=0.5), keras.layers.BatchNormalization(momentum=0.5)
    ours.ensure_built((None, 6, 3))
    ref.build((None, 6, 3))
    y = ours.forward(x, training=True, mask=mask)[0]
    ky = keras.ops.convert_to_numpy(ref(x, training=True, mask=mask))
    np.testing.assert_allclose(y, ky, rtol=1e-4, atol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the masked entries do not enter the statistics: changing them changes nothing kept
    x2 = np.where(mask[..., None], x, 100.0).astype("float32")
    y2 = BatchNormalization()(x2, training=True, mask=mask)
    y1 = BatchNormalization()(x, training=True, mask=mask)
    np.testing.assert_allclose(y1[mask], y2[mask], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="mask must have the input's shape"):
        ours.forward(x, training=True, mask=mask[:, :3])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"center": False, "scale": False}])
def test_batch_normalization_finite_differences(training, kwargs):
    x = np.random.default_rng(5).normal(size=(4, 3, 5))
    layer = BatchNormalization(**kwargs, moving_variance_initializer="ones")
    check_gradients(layer, x, training=training)


def test_batch_normalization_masked_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 5, 3))
    mask = rng.random((4, 5)) > 0.3
    check_gradients(BatchNormalization(), x, training=True, mask=mask)


def _bn_model():
    config.set_random_seed(7)
    model = rnnlab.Sequential([Dense(4, input_shape=(3,)), BatchNormalization(momentum=0.8),
                               Dense(1)])
    model.compile("sgd", "mse")
    return model


def _data():
    rng = np.random.default_rng(8)
    return (rng.normal(size=(40, 3)).astype("float32") * 2 + 1,
            rng.normal(size=(40, 1)).astype("float32"))


def test_fit_updates_the_moving_statistics_and_predict_does_not():
    model, (x, y) = _bn_model(), _data()
    bn = model.layers[1]
    assert [w.shape for w in bn.get_weights()] == [(4,)] * 4
    start = bn.get_weights()
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    for a, b in zip(start, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    after = bn.get_weights()
    assert not np.allclose(after[2], start[2]) and not np.allclose(after[3], start[3])
    # trainable: 4 + 4 (kernel, bias) ... gamma, beta; moving statistics are not
    names = [k for k, _, _ in model._param_items()]
    assert "batch_normalization/moving_mean" not in str(names) and len(names) == 6


def test_a_frozen_batch_normalization_runs_in_inference_mode_and_keeps_its_statistics():
    model, (x, y) = _bn_model(), _data()
    bn = model.layers[1]
    bn.trainable = False
    start = bn.get_weights()
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    for a, b in zip(start, bn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_failed_fit_puts_the_moving_statistics_back():
    model, (x, y) = _bn_model(), _data()
    start = model.get_weights()

    class FailLate(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise RuntimeError("late failure")

    with pytest.raises(RuntimeError, match="late failure"):
        model.fit(x, y, epochs=1, batch_size=10, verbose=0, callbacks=[FailLate()])
    for a, b in zip(start, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_saved_models_with_normalization_predict_identically(tmp_path):
    config.set_random_seed(9)
    inp = rnnlab.Input((6,), dtype="int32")
    h = Embedding(20, 5, mask_zero=True)(inp)
    h = BatchNormalization(gamma_initializer="random_normal")(h)
    h = LSTM(4, return_sequences=True)(h)
    h = LayerNormalization(beta_initializer="random_normal")(h)
    model = rnnlab.Model(inp, Dense(1)(LSTM(3)(h)))
    model.compile("adam", "mse")
    rng = np.random.default_rng(9)
    x = rng.integers(0, 20, size=(16, 6))
    x[:, :2] = 0
    model.fit(x, rng.normal(size=(16, 1)), epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "m.rnnlab")
    back = rnnlab.load_model(tmp_path / "m.rnnlab")
    np.testing.assert_array_equal(model.predict(x, verbose=0), back.predict(x, verbose=0))
    for layer in (BatchNormalization(axis=1, momentum=0.5, epsilon=0.01, center=False),
                  LayerNormalization(axis=[1, 2], scale=False, gamma_regularizer="l2")):
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg


def test_batch_normalization_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="renorm"):
        BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="synchronized"):
        BatchNormalization(synchronized=True)
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="batch axis"):
        BatchNormalization(axis=0).ensure_built((None, 3))
